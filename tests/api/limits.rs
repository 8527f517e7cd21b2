//! Values no store can hold, and ids this server never issued, get the same 4xx SCIM error on
//! both stores (never a 500 from DynamoDB and a 201 from memory): too-long ids in paths, in
//! filters and in member references, unique values longer than a key may be, resources larger
//! than an item, and decimals outside DynamoDB's range.

use reqwest::{Method, StatusCode};
use scimlet::Config;
use scimlet::schema::input::MAX_RESOURCE_BYTES;
use scimlet::schema::registry::Registry;
use serde_json::{Value, json};

use crate::both_stores;
use crate::helpers::{Backend, USER_SCHEMA, spawn_app, spawn_app_with};

const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ACME: &str = "urn:example:params:scim:schemas:extension:acme:2.0:User";

both_stores!(
    ids_never_issued_name_nothing,
    resources_larger_than_an_item_are_refused,
    numbers_outside_the_stored_range_are_refused,
);

async fn ids_never_issued_name_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.create_user("ids@example.com", json!({})).await;
    let user_id = user["id"].as_str().unwrap().to_owned();
    let long = "x".repeat(3000);
    let not_ids = [
        "not-an-id".to_owned(),
        user_id.to_uppercase(),
        format!("{user_id}0"),
        long.clone(),
    ];
    let replacement = json!({"schemas": [USER_SCHEMA], "userName": "ids@example.com"});
    let patch = json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "path": "title", "value": "x"}
    ]});
    for id in &not_ids {
        for (method, body) in [
            (Method::GET, None),
            (Method::PUT, Some(replacement.clone())),
            (Method::PATCH, Some(patch.clone())),
            (Method::DELETE, None),
        ] {
            for endpoint in ["Users", "Groups"] {
                app.request(method.clone(), &format!("/{endpoint}/{id}"), body.clone())
                    .await
                    .assert_error(404, None);
            }
        }
        let q = format!("id eq \"{id}\"");
        assert_eq!(app.list_users(&[("filter", &q)]).await["totalResults"], 0);
        let q = format!("groups.value eq \"{id}\"");
        assert_eq!(app.list_users(&[("filter", &q)]).await["totalResults"], 0);
        let q = format!("members[value eq \"{id}\"]");
        assert_eq!(app.list_groups(&[("filter", &q)]).await["totalResults"], 0);
    }
    // The user is still there, under its own id.
    let q = format!("id eq \"{user_id}\"");
    assert_eq!(app.list_users(&[("filter", &q)]).await["totalResults"], 1);

    // A unique value longer than any stored one matches nothing.
    let q = format!("userName eq \"{long}\"");
    assert_eq!(app.list_users(&[("filter", &q)]).await["totalResults"], 0);
    let q = format!("displayName eq \"{long}\"");
    assert_eq!(app.list_groups(&[("filter", &q)]).await["totalResults"], 0);

    // Member references: 400 naming the member, and nothing is written.
    for id in ["not-an-id", &long] {
        let reply = app
            .request(
                Method::POST,
                "/Groups",
                Some(json!({"schemas": [GROUP_SCHEMA], "displayName": "Refused",
                    "members": [{"value": user_id}, {"value": id}]})),
            )
            .await;
        reply.assert_error(400, Some("invalidValue"));
        assert!(
            reply.body["detail"].as_str().unwrap().contains(id),
            "{}",
            reply.body
        );
    }
    assert_eq!(
        app.list_groups(&[("filter", "displayName eq \"Refused\"")])
            .await["totalResults"],
        0
    );
    let group = app
        .request(
            Method::POST,
            "/Groups",
            Some(json!({"schemas": [GROUP_SCHEMA], "displayName": "Kept",
                "members": [{"value": user_id}]})),
        )
        .await;
    assert_eq!(group.status, StatusCode::CREATED, "{}", group.body);
    let group_id = group.body["id"].as_str().unwrap();
    let add = json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": long}]}
    ]});
    app.request(Method::PATCH, &format!("/Groups/{group_id}"), Some(add))
        .await
        .assert_error(400, Some("invalidValue"));
    // Removing what was never a member changes nothing.
    let remove = json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "remove", "path": format!("members[value eq \"{long}\"]")}
    ]});
    let reply = app
        .request(Method::PATCH, &format!("/Groups/{group_id}"), Some(remove))
        .await;
    assert!(reply.status.is_success(), "{} {}", reply.status, reply.body);
    let read = app
        .request(Method::GET, &format!("/Groups/{group_id}"), None)
        .await;
    assert_eq!(read.body["members"][0]["value"], user_id.as_str());
    assert_eq!(read.body["members"].as_array().unwrap().len(), 1);
}

async fn resources_larger_than_an_item_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    // Just inside the limit: stored and read back whole (DynamoDB holds it).
    let big = "t".repeat(MAX_RESOURCE_BYTES - 200);
    let user = app
        .create_user("big@example.com", json!({"title": big}))
        .await;
    let id = user["id"].as_str().unwrap();
    let read = app
        .request(Method::GET, &format!("/Users/{id}"), None)
        .await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body["title"].as_str().map(str::len), Some(big.len()));

    // Beyond it: 400 on create, on replace and on a PATCH that grows the user; nothing changes.
    let too_big = "t".repeat(MAX_RESOURCE_BYTES + 1);
    let reply = app
        .request(
            Method::POST,
            "/Users",
            Some(
                json!({"schemas": [USER_SCHEMA], "userName": "huge@example.com",
                "title": too_big}),
            ),
        )
        .await;
    reply.assert_error(400, Some("invalidValue"));
    assert!(
        reply.body["detail"].as_str().unwrap().contains("at most"),
        "{}",
        reply.body
    );
    app.request(
        Method::PUT,
        &format!("/Users/{id}"),
        Some(
            json!({"schemas": [USER_SCHEMA], "userName": "big@example.com",
            "title": too_big}),
        ),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    let grow = json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "add", "path": "nickName", "value": "n".repeat(1000)}
    ]});
    app.request(Method::PATCH, &format!("/Users/{id}"), Some(grow))
        .await
        .assert_error(400, Some("invalidValue"));
    let after = app
        .request(Method::GET, &format!("/Users/{id}"), None)
        .await;
    assert_eq!(after.body["meta"]["version"], read.body["meta"]["version"]);
    assert!(after.body.get("nickName").is_none());
    assert_eq!(
        app.list_users(&[("filter", "userName eq \"huge@example.com\"")])
            .await["totalResults"],
        0
    );
}

fn measured_config() -> Config {
    let doc = json!({"extensions": [{"resourceType": "User", "schema": {
    "id": ACME,
    "name": "AcmeUser",
    "description": "Measurements",
    "attributes": [
        {"name": "weight", "type": "decimal"},
        {"name": "codes", "type": "integer", "multiValued": true}
    ]}}]});
    Config {
        registry: Registry::with_extensions(&doc.to_string()).expect("valid extensions"),
        ..Config::default()
    }
}

async fn numbers_outside_the_stored_range_are_refused(backend: Backend) {
    let app = spawn_app_with(backend, measured_config()).await;
    let body = |user_name: &str, ext: Value| json!({"schemas": [USER_SCHEMA, ACME], "userName": user_name, ACME: ext});
    for (i, weight) in [json!(1e126), json!(-1e300), json!(1e-131)]
        .iter()
        .enumerate()
    {
        app.request(
            Method::POST,
            "/Users",
            Some(body(
                &format!("w{i}@example.com"),
                json!({"weight": weight}),
            )),
        )
        .await
        .assert_error(400, Some("invalidValue"));
    }
    // Extremes DynamoDB does hold are stored and read back.
    let edge = app
        .request(
            Method::POST,
            "/Users",
            Some(body(
                "edge@example.com",
                json!({"weight": 9.9e125, "codes": [i64::MIN, u64::MAX, 0]}),
            )),
        )
        .await;
    assert_eq!(edge.status, StatusCode::CREATED, "{}", edge.body);
    let id = edge.body["id"].as_str().unwrap();
    let read = app
        .request(Method::GET, &format!("/Users/{id}"), None)
        .await;
    assert_eq!(read.body[ACME]["weight"], json!(9.9e125));
    assert_eq!(read.body[ACME]["codes"], json!([i64::MIN, u64::MAX, 0]));

    // A list of small numbers takes more room stored than as JSON: the limit counts stored bytes.
    let codes: Vec<u8> = vec![1; MAX_RESOURCE_BYTES / 3];
    app.request(
        Method::POST,
        "/Users",
        Some(body("codes@example.com", json!({"codes": codes}))),
    )
    .await
    .assert_error(400, Some("invalidValue"));
}
