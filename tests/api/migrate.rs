//! A table written by the previous version: tenants created before the `externalId` lookup
//! index existed keep `externalId` unique (their guards answer lookups) until
//! `scimlet migrate external-id-index` builds the index; then the switch may be turned off.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::Method;
use scimlet::Config;
use scimlet::admin::{self, AdminError};
use scimlet::domain::{ResourceKind, TenantSettings, UniqueValue};
use scimlet::schema::registry::STANDARD;
use scimlet::store::keys;
use serde_json::json;

use crate::helpers::{
    Backend, Principal, TEST_TABLE, USER_SCHEMA, dynamo_store_as, spawn_on, stores,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_from_before_the_index_keep_unique_external_ids_until_migrated() {
    // What the previous version wrote: externalId guards for every user, no index entries,
    // and a tenant record without the two new settings.
    let before = TenantSettings {
        unique_external_ids: true,
        ..TenantSettings::default()
    };
    let uncached = Config {
        token_cache_ttl: Duration::ZERO,
        ..Config::default()
    };
    let app = spawn_on(stores(Backend::Dynamo).await, uncached, before).await;
    let mut ids = Vec::new();
    for (name, ext) in [("one", "X"), ("two", "Y")] {
        let u = app.create_user(name, json!({"externalId": ext})).await;
        ids.push(u["id"].as_str().unwrap().to_owned());
    }
    let raw = dynamo_store_as(Principal::Admin, TEST_TABLE).await;
    for (id, ext) in ids.iter().zip(["X", "Y"]) {
        let value = UniqueValue {
            attr: "externalId",
            normalized: ext.into(),
        };
        raw.client()
            .delete_item()
            .table_name(TEST_TABLE)
            .key(
                "PK",
                AttributeValue::S(keys::lookup_pk(&app.tenant, ResourceKind::User, &value)),
            )
            .key("SK", AttributeValue::S(keys::lookup_sk(id)))
            .send()
            .await
            .unwrap();
    }
    raw.client()
        .update_item()
        .table_name(TEST_TABLE)
        .key("PK", AttributeValue::S(keys::tenant_pk(&app.tenant)))
        .key("SK", AttributeValue::S(keys::TENANT_SK.into()))
        .update_expression("REMOVE uniqueExternalIds, externalIdIndex")
        .send()
        .await
        .unwrap();
    let settings = app
        .stores
        .directory
        .get_tenant(&app.tenant)
        .await
        .unwrap()
        .unwrap()
        .settings;
    assert!(settings.unique_external_ids && !settings.external_id_index);

    // Until migrated: unique, looked up by guard, and the switch cannot be turned off.
    let dup = json!({"schemas": [USER_SCHEMA], "userName": "three", "externalId": "X"});
    app.request(Method::POST, "/Users", Some(dup.clone()))
        .await
        .assert_error(409, Some("uniqueness"));
    let found = app.list_users(&[("filter", "externalId eq \"X\"")]).await;
    assert_eq!(found["totalResults"], 1);
    assert_eq!(found["Resources"][0]["id"], ids[0].as_str());
    let refused = admin::update_settings(app.stores.admin.as_ref(), &app.tenant, |s| {
        s.unique_external_ids = false
    })
    .await;
    assert!(
        matches!(refused, Err(AdminError::NoExternalIdIndex(_))),
        "{refused:?}"
    );

    // The migration, as the operator runs it (twice: it is safe to run again).
    let operator = dynamo_store_as(Principal::Operator, TEST_TABLE).await;
    for _ in 0..2 {
        let report =
            admin::migrate_external_id_index(&operator, &operator, &STANDARD, &app.tenant, |_| {})
                .await
                .unwrap();
        assert_eq!((report.examined, report.indexed), (2, 2));
    }
    admin::update_settings(app.stores.admin.as_ref(), &app.tenant, |s| {
        s.unique_external_ids = false
    })
    .await
    .unwrap();

    // Now shared values are allowed, and the lookup finds the old user and the new one.
    let r = app.request(Method::POST, "/Users", Some(dup)).await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    let found = app.list_users(&[("filter", "externalId eq \"X\"")]).await;
    assert_eq!(found["totalResults"], 2, "{found}");
    let found = app.list_users(&[("filter", "externalId eq \"Y\"")]).await;
    assert_eq!(found["totalResults"], 1, "{found}");
    // The old user's guard is released at its next write; the index follows its changes.
    let r = app
        .request(
            Method::PUT,
            &format!("/Users/{}", ids[0]),
            Some(json!({"schemas": [USER_SCHEMA], "userName": "one", "externalId": "Z"})),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.body);
    let found = app.list_users(&[("filter", "externalId eq \"X\"")]).await;
    assert_eq!(found["totalResults"], 1, "{found}");
    let found = app.list_users(&[("filter", "externalId eq \"Z\"")]).await;
    assert_eq!(found["totalResults"], 1, "{found}");
}
