//! `PATCH /Users/{id}` over HTTP, on both stores: Okta's and Entra's request shapes, errors,
//! atomicity and conditional requests.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_stores;
use crate::helpers::{Backend, TestApp, spawn_app};

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

both_stores!(
    okta_deactivates_and_reactivates,
    entra_default_mode_replaces_path_by_path,
    entra_rfc_mode_replaces_without_paths,
    renaming_by_patch_moves_the_uniqueness_guard,
    failed_patches_change_nothing,
    noop_patches_keep_the_version_and_if_match_is_honoured,
    passwords_set_by_patch_are_hashed,
);

fn ops(operations: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": operations})
}

async fn patch(app: &TestApp, id: &Value, operations: Value) -> crate::helpers::Reply {
    let path = format!("/Users/{}", id.as_str().unwrap());
    app.request(Method::PATCH, &path, Some(ops(operations)))
        .await
}

async fn get(app: &TestApp, id: &Value) -> Value {
    let reply = app
        .request(
            Method::GET,
            &format!("/Users/{}", id.as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    reply.body
}

async fn okta_deactivates_and_reactivates(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app
        .create_user("okta.patch@example.com", json!({"active": true}))
        .await;
    let id = &user["id"];
    let reply = patch(
        &app,
        id,
        json!([{"op": "replace", "value": {"active": false}}]),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["active"], false);
    assert_eq!(reply.body["meta"]["version"], "W/\"2\"");
    assert_eq!(reply.header("etag"), Some("W/\"2\""));
    assert_eq!(get(&app, id).await["active"], false);
    // Deactivated users stay filterable, and come back.
    let found = app
        .list_users(&[("filter", "userName eq \"okta.patch@example.com\"")])
        .await;
    assert_eq!(found["Resources"][0]["active"], false);
    let reply = patch(
        &app,
        id,
        json!([{"op": "replace", "value": {"active": true}}]),
    )
    .await;
    assert_eq!(reply.body["active"], true);
}

async fn entra_default_mode_replaces_path_by_path(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app
        .create_user(
            "entra.user@contoso.example",
            json!({"externalId": "e-1", "active": true,
            "emails": [{"value": "old@contoso.example", "type": "work", "primary": true}]}),
        )
        .await;
    let manager = app.create_user("boss@contoso.example", json!({})).await;
    let id = &user["id"];
    // Entra: capitalised ops, string booleans, one Replace per path, filter paths.
    let reply = patch(&app, id, json!([
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@contoso.example"},
        {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0100"},
        {"op": "Add", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Microsoft Way"},
        {"op": "Replace", "path": "displayName", "value": "Entra User"},
        {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
         "value": manager["id"]},
        {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
         "value": "Finance"}
    ])).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let got = get(&app, id).await;
    assert_eq!(got, reply.body);
    assert_eq!(got["active"], false);
    assert_eq!(
        got["emails"],
        json!([{"value": "new@contoso.example", "type": "work", "primary": true}])
    );
    assert_eq!(
        got["phoneNumbers"],
        json!([{"type": "mobile", "value": "+1 555 0100"}])
    );
    assert_eq!(got["addresses"][0]["streetAddress"], "1 Microsoft Way");
    assert_eq!(got[ENT]["manager"]["value"], manager["id"]);
    assert_eq!(got[ENT]["department"], "Finance");
    assert_eq!(
        got["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:User", ENT])
    );
    assert_eq!(got["meta"]["version"], "W/\"2\"", "one PATCH, one version");
    // Entra removes the manager.
    let reply = patch(
        &app,
        id,
        json!([{"op": "Remove",
        "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body[ENT].get("manager").is_none(), "{}", reply.body);
    // Its externalId lookup still finds the user.
    let found = app.list_users(&[("filter", "externalId eq \"e-1\"")]).await;
    assert_eq!(found["totalResults"], 1);
}

async fn entra_rfc_mode_replaces_without_paths(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app
        .create_user(
            "rfc.mode@contoso.example",
            json!({"name": {"familyName": "Mode"}}),
        )
        .await;
    let path = format!("/Users/{}?aadOptscim062020", user["id"].as_str().unwrap());
    let reply = app
        .request(
            Method::PATCH,
            &path,
            Some(ops(json!([{"op": "replace", "value": {
                "name.givenName": "Rfc",
                "displayName": "Rfc Mode",
                "active": false,
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "4711"
            }}]))),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        reply.body["name"],
        json!({"familyName": "Mode", "givenName": "Rfc"})
    );
    assert_eq!(reply.body["active"], false);
    assert_eq!(reply.body[ENT]["employeeNumber"], "4711");
}

async fn renaming_by_patch_moves_the_uniqueness_guard(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.create_user("alpha", json!({})).await;
    app.create_user("beta", json!({})).await;
    patch(
        &app,
        &a["id"],
        json!([{"op": "replace", "path": "userName", "value": "BETA"}]),
    )
    .await
    .assert_error(409, Some("uniqueness"));
    let reply = patch(
        &app,
        &a["id"],
        json!([{"op": "replace", "path": "userName", "value": "gamma"}]),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    app.create_user("alpha", json!({})).await;
    let found = app.list_users(&[("filter", "userName eq \"GAMMA\"")]).await;
    assert_eq!(found["Resources"][0]["id"], a["id"]);
}

async fn failed_patches_change_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.create_user("atomic", json!({"title": "Before"})).await;
    let id = &user["id"];
    let cases = [
        (
            json!([{"op": "replace", "path": "title", "value": "After"},
                {"op": "add", "path": "nosuch", "value": 1}]),
            "invalidPath",
        ),
        (
            json!([{"op": "replace", "path": "title", "value": "After"},
                {"op": "replace", "path": "id", "value": "x"}]),
            "mutability",
        ),
        (
            json!([{"op": "replace", "path": "title", "value": "After"},
                {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "x"}]),
            "noTarget",
        ),
        (
            json!([{"op": "replace", "path": "title", "value": "After"},
                {"op": "remove", "path": "userName"}]),
            "invalidValue",
        ),
        (
            json!([{"op": "replace", "path": "title", "value": 7}]),
            "invalidValue",
        ),
    ];
    for (operations, scim_type) in cases {
        patch(&app, id, operations)
            .await
            .assert_error(400, Some(scim_type));
    }
    let got = get(&app, id).await;
    assert_eq!(got, user);
    app.request(
        Method::PATCH,
        "/Users/00000000-0000-7000-8000-000000000000",
        Some(ops(
            json!([{"op": "replace", "path": "title", "value": "x"}]),
        )),
    )
    .await
    .assert_error(404, None);
    app.request(
        Method::PATCH,
        &format!("/Users/{}", id.as_str().unwrap()),
        Some(json!({"Operations": "x"})),
    )
    .await
    .assert_error(400, Some("invalidValue"));
}

async fn noop_patches_keep_the_version_and_if_match_is_honoured(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.create_user("steady", json!({"title": "Same"})).await;
    let id = &user["id"];
    let reply = patch(
        &app,
        id,
        json!([{"op": "replace", "path": "title", "value": "Same"},
                                       {"op": "remove", "path": "emails[type eq \"work\"]"}]),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["meta"]["version"], "W/\"1\"");
    let path = format!("/Users/{}", id.as_str().unwrap());
    let body = ops(json!([{"op": "replace", "path": "title", "value": "New"}]));
    app.request_with(
        Method::PATCH,
        &path,
        Some(body.clone()),
        &[("if-match", "W/\"9\"")],
    )
    .await
    .assert_error(412, None);
    let ok = app
        .request_with(Method::PATCH, &path, Some(body), &[("if-match", "W/\"1\"")])
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.body["title"], "New");
}

async fn passwords_set_by_patch_are_hashed(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.create_user("pw.patch", json!({})).await;
    let reply = patch(
        &app,
        &user["id"],
        json!([{"op": "replace", "path": "password", "value": "N3w-secret"}]),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body.get("password").is_none());
    assert_eq!(reply.body["meta"]["version"], "W/\"2\"");
    let stored = app
        .stores
        .resources
        .get(
            &app.tenant,
            scimlet::domain::ResourceKind::User,
            user["id"].as_str().unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(scimlet::auth::verify_secret(
        "N3w-secret",
        stored.password_hash.as_deref().unwrap()
    ));
    assert!(!stored.attributes.contains_key("password"));
}
