//! Per-tenant compatibility switches over HTTP, on both stores.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use scimlet::domain::TenantSettings;
use scimlet::{Config, admin};
use serde_json::{Value, json};

use crate::both_stores;
use crate::helpers::{Backend, USER_SCHEMA, spawn_app_for};

const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

both_stores!(
    strict_tenants_reject_unknown_attributes,
    group_name_uniqueness_can_be_switched_off_and_on,
    duplicates_never_release_a_guard_they_do_not_hold,
    tenants_can_ignore_passwords,
    soft_delete_hides_and_restore_brings_back,
);

/// A configuration under which setting changes are seen at once (no token cache).
fn uncached() -> Config {
    Config {
        token_cache_ttl: Duration::ZERO,
        ..Config::default()
    }
}

async fn strict_tenants_reject_unknown_attributes(backend: Backend) {
    let strict = TenantSettings {
        strict_attributes: true,
        ..TenantSettings::default()
    };
    let app = spawn_app_for(backend, uncached(), strict).await;
    app.request(
        Method::POST,
        "/Users",
        Some(json!({"schemas": [USER_SCHEMA], "userName": "x", "favouriteColour": "red"})),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    let user = app
        .create_user("strict.user", json!({"title": "known"}))
        .await;
    let path = format!("/Users/{}", user["id"].as_str().unwrap());
    app.request(
        Method::PATCH,
        &path,
        Some(
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "value": {"title": "t", "shoeSize": 44}}]}),
        ),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    assert_eq!(
        app.request(Method::GET, &path, None).await.body["title"],
        "known"
    );
    // Turning it off makes the same request succeed, ignoring the unknown attribute.
    admin::update_settings(app.stores.admin.as_ref(), &app.tenant, |s| {
        s.strict_attributes = false
    })
    .await
    .unwrap();
    let reply = app
        .request(
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER_SCHEMA], "userName": "x", "favouriteColour": "red"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert!(reply.body.get("favouriteColour").is_none());
}

fn display_name_uniqueness(schema: &Value) -> &str {
    schema["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "displayName")
        .unwrap()["uniqueness"]
        .as_str()
        .unwrap()
}

async fn group_name_uniqueness_can_be_switched_off_and_on(backend: Backend) {
    let off = TenantSettings {
        unique_group_names: false,
        ..TenantSettings::default()
    };
    let app = spawn_app_for(backend, uncached(), off).await;
    let body = json!({"schemas": [GROUP], "displayName": "Team"});
    let first = app
        .request(Method::POST, "/Groups", Some(body.clone()))
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let second = app
        .request(Method::POST, "/Groups", Some(body.clone()))
        .await;
    assert_eq!(second.status, StatusCode::CREATED);
    // /Schemas tells the truth, and displayName lookups still find every match.
    let schema = app
        .request(Method::GET, &format!("/Schemas/{GROUP}"), None)
        .await
        .body;
    assert_eq!(display_name_uniqueness(&schema), "none");
    let found = app
        .list_groups(&[("filter", "displayName eq \"team\"")])
        .await;
    assert_eq!(found["totalResults"], 2);

    admin::update_settings(app.stores.admin.as_ref(), &app.tenant, |s| {
        s.unique_group_names = true
    })
    .await
    .unwrap();
    let schema = app
        .request(Method::GET, &format!("/Schemas/{GROUP}"), None)
        .await
        .body;
    assert_eq!(display_name_uniqueness(&schema), "server");
    // The next write of a group claims its name; then the name is taken.
    let path = format!("/Groups/{}", first.body["id"].as_str().unwrap());
    let renamed = app
        .request(
            Method::PUT,
            &path,
            Some(json!({"schemas": [GROUP], "displayName": "Team A"})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    app.request(
        Method::POST,
        "/Groups",
        Some(json!({"schemas": [GROUP], "displayName": "TEAM A"})),
    )
    .await
    .assert_error(409, Some("uniqueness"));
}

/// Two groups share a name while uniqueness is off; the one that holds the name's guard keeps
/// it through every write and delete of the other, and only its own delete frees the name.
async fn duplicates_never_release_a_guard_they_do_not_hold(backend: Backend) {
    let app = spawn_app_for(backend, uncached(), TenantSettings::default()).await;
    let switch = |on: bool| {
        let app = &app;
        async move {
            admin::update_settings(app.stores.admin.as_ref(), &app.tenant, |s| {
                s.unique_group_names = on
            })
            .await
            .unwrap();
        }
    };
    let team = json!({"schemas": [GROUP], "displayName": "Team"});
    let holder = app
        .request(Method::POST, "/Groups", Some(team.clone()))
        .await;
    assert_eq!(holder.status, StatusCode::CREATED, "{}", holder.body);
    let holder = format!("/Groups/{}", holder.body["id"].as_str().unwrap());
    switch(false).await;
    let mut duplicates = Vec::new();
    for _ in 0..2 {
        let dup = app
            .request(Method::POST, "/Groups", Some(team.clone()))
            .await;
        assert_eq!(dup.status, StatusCode::CREATED, "{}", dup.body);
        duplicates.push(format!("/Groups/{}", dup.body["id"].as_str().unwrap()));
    }
    // Update each duplicate (same name, then a new one and back), then delete it.
    for (i, dup) in duplicates.iter().enumerate() {
        for name in ["Team", "Other", "team"] {
            let r = app
                .request(
                    Method::PUT,
                    dup,
                    Some(json!({"schemas": [GROUP], "displayName": name})),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        }
        let r = app
            .request(
                Method::PATCH,
                dup,
                Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "displayName", "value": format!("Team {i}")}]})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let r = app
            .request(
                Method::PUT,
                dup,
                Some(json!({"schemas": [GROUP], "displayName": "Team"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(
            app.request(Method::DELETE, dup, None).await.status,
            StatusCode::NO_CONTENT
        );
    }
    // The holder is untouched and still holds the name once uniqueness is back on.
    switch(true).await;
    assert_eq!(
        app.request(Method::GET, &holder, None).await.body["displayName"],
        "Team"
    );
    app.request(Method::POST, "/Groups", Some(team.clone()))
        .await
        .assert_error(409, Some("uniqueness"));
    let r = app
        .request(
            Method::PUT,
            &holder,
            Some(json!({"schemas": [GROUP], "displayName": "TEAM"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Its own delete frees the name.
    assert_eq!(
        app.request(Method::DELETE, &holder, None).await.status,
        StatusCode::NO_CONTENT
    );
    let again = app.request(Method::POST, "/Groups", Some(team)).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
}

/// The stored password hash of a user.
async fn stored_hash(app: &crate::helpers::TestApp, id: &str) -> Option<String> {
    app.stores
        .resources
        .get(&app.tenant, scimlet::domain::ResourceKind::User, id)
        .await
        .unwrap()
        .unwrap()
        .password_hash
}

/// `/ServiceProviderConfig`'s `changePassword.supported`.
async fn change_password_supported(app: &crate::helpers::TestApp) -> Value {
    app.request(Method::GET, "/ServiceProviderConfig", None)
        .await
        .body["changePassword"]["supported"]
        .clone()
}

async fn tenants_can_ignore_passwords(backend: Backend) {
    let app = spawn_app_for(backend, uncached(), TenantSettings::default()).await;
    // By default passwords are hashed and stored.
    assert_eq!(change_password_supported(&app).await, true);
    let hashed = app
        .create_user("hashed@example.com", json!({"password": "Tr0ub4dor&3"}))
        .await;
    let hashed = hashed["id"].as_str().unwrap().to_owned();
    let before = stored_hash(&app, &hashed).await;
    assert!(
        before
            .as_deref()
            .is_some_and(|h| h.starts_with("$argon2id$"))
    );

    admin::update_settings(app.stores.admin.as_ref(), &app.tenant, |s| {
        s.ignore_passwords = true
    })
    .await
    .unwrap();
    assert_eq!(change_password_supported(&app).await, false);
    // POST, PUT and PATCH succeed and store no password.
    let user = app
        .create_user(
            "ignored@example.com",
            json!({"password": "random-from-okta"}),
        )
        .await;
    let id = user["id"].as_str().unwrap().to_owned();
    assert_eq!(stored_hash(&app, &id).await, None);
    let r = app
        .request(
            Method::PUT,
            &format!("/Users/{id}"),
            Some(
                json!({"schemas": [USER_SCHEMA], "userName": "ignored@example.com",
                "password": "another"}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    for path in [format!("/Users/{id}"), format!("/Users/{hashed}")] {
        let r = app
            .request(
                Method::PATCH,
                &path,
                Some(
                    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "password", "value": "new-one"}]}),
                ),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(r.body.get("password").is_none());
    }
    assert_eq!(stored_hash(&app, &id).await, None);
    // A hash stored before the switch is left as it was.
    assert_eq!(stored_hash(&app, &hashed).await, before);
    // Bulk: more passwords than a hashing tenant may send in one request, all dropped.
    let operations: Vec<Value> = (0..25)
        .map(|i| {
            json!({"method": "POST", "path": "/Users", "bulkId": format!("b{i}"),
                "data": {"schemas": [USER_SCHEMA], "userName": format!("bulk{i}@example.com"),
                    "password": format!("pw-{i}")}})
        })
        .collect();
    let r = app
        .request(
            Method::POST,
            "/Bulk",
            Some(
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                "Operations": operations}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    for op in r.body["Operations"].as_array().unwrap() {
        assert_eq!(op["status"], "201", "{}", r.body);
        let id = op["location"].as_str().unwrap().rsplit('/').next().unwrap();
        assert_eq!(stored_hash(&app, id).await, None);
    }
}

async fn soft_delete_hides_and_restore_brings_back(backend: Backend) {
    let soft = TenantSettings {
        soft_delete: true,
        ..TenantSettings::default()
    };
    let app = spawn_app_for(backend, uncached(), soft).await;
    let user = app
        .create_user("leaver@example.com", json!({"externalId": "x-9"}))
        .await;
    let id = user["id"].as_str().unwrap().to_owned();
    let path = format!("/Users/{id}");
    let group = app
        .request(
            Method::POST,
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "G",
            "members": [{"value": id}]})),
        )
        .await
        .body;
    assert_eq!(
        app.request(Method::DELETE, &path, None).await.status,
        StatusCode::NO_CONTENT
    );
    // 404 everywhere, out of lists and lookups, the names free again.
    app.request(Method::GET, &path, None)
        .await
        .assert_error(404, None);
    app.request(Method::DELETE, &path, None)
        .await
        .assert_error(404, None);
    assert_eq!(
        app.list_users(&[("filter", "userName eq \"leaver@example.com\"")])
            .await["totalResults"],
        0
    );
    assert_eq!(
        app.list_users(&[("filter", "externalId eq \"x-9\"")]).await["totalResults"],
        0
    );
    assert_eq!(app.list_users(&[]).await["totalResults"], 0);
    let gpath = format!("/Groups/{}", group["id"].as_str().unwrap());
    assert!(
        app.request(Method::GET, &gpath, None)
            .await
            .body
            .get("members")
            .is_none()
    );
    let taken = app.create_user("leaver@example.com", json!({})).await;
    // Restoring while the name is taken fails; after it is freed, it works.
    let registry = &scimlet::schema::registry::STANDARD;
    let restore = || {
        admin::restore(
            app.stores.admin.as_ref(),
            app.stores.resources.as_ref(),
            registry,
            &app.tenant,
            scimlet::domain::ResourceKind::User,
            &id,
        )
    };
    assert!(matches!(
        restore().await,
        Err(admin::AdminError::ValueTaken("userName"))
    ));
    let taken_path = format!("/Users/{}", taken["id"].as_str().unwrap());
    assert_eq!(
        app.request(Method::DELETE, &taken_path, None).await.status,
        StatusCode::NO_CONTENT
    );
    let restored = restore().await.unwrap();
    assert_eq!(restored.version.number(), 3);
    let back = app.request(Method::GET, &path, None).await;
    assert_eq!(back.status, StatusCode::OK);
    assert_eq!(back.body["externalId"], "x-9");
    assert_eq!(back.body["meta"]["version"], "W/\"3\"");
    assert_eq!(
        app.list_users(&[("filter", "externalId eq \"x-9\"")]).await["totalResults"],
        1
    );
}
