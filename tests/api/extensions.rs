//! Custom extension schemas from configuration, over HTTP on both stores: validated, stored,
//! filtered, sorted, patched, projected and announced like the built-in ones.

use reqwest::{Method, StatusCode};
use scimlet::Config;
use scimlet::schema::registry::Registry;
use serde_json::{Value, json};

use crate::both_stores;
use crate::helpers::{Backend, USER_SCHEMA, spawn_app_with};

const ACME: &str = "urn:example:params:scim:schemas:extension:acme:2.0:User";

both_stores!(custom_extensions_behave_like_built_in_ones);

fn config() -> Config {
    let doc = json!({"extensions": [{"resourceType": "User", "schema": {
    "id": ACME,
    "name": "AcmeUser",
    "description": "Acme's own user attributes",
    "attributes": [
        {"name": "badgeNumber", "type": "string", "mutability": "immutable", "caseExact": true},
        {"name": "clearance", "type": "integer"},
        {"name": "sites", "type": "complex", "multiValued": true, "subAttributes": [
            {"name": "code", "type": "string"}, {"name": "primary", "type": "boolean"}]}
    ]}}]});
    Config {
        registry: Registry::with_extensions(&doc.to_string()).expect("valid extensions"),
        ..Config::default()
    }
}

fn names(list: &Value) -> Vec<&str> {
    list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap())
        .collect()
}

async fn custom_extensions_behave_like_built_in_ones(backend: Backend) {
    let app = spawn_app_with(backend, config()).await;
    let reply = app
        .request(Method::POST, "/Users", Some(json!({
            "schemas": [USER_SCHEMA, ACME], "userName": "agent",
            ACME: {"BadgeNumber": "B-7", "clearance": 3, "sites": [{"code": "LON", "primary": "True"}]}
        })))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["schemas"], json!([USER_SCHEMA, ACME]));
    assert_eq!(
        reply.body[ACME],
        json!({"badgeNumber": "B-7", "clearance": 3, "sites": [{"code": "LON", "primary": true}]})
    );
    app.create_user("analyst", json!({ACME: {"clearance": 1}}))
        .await;
    app.request(
        Method::POST,
        "/Users",
        Some(json!({
            "schemas": [USER_SCHEMA, ACME], "userName": "bad", ACME: {"clearance": "high"}})),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    // Filters and sorting reach into it.
    let list = app
        .list_users(&[("filter", &format!("{ACME}:clearance gt 2"))])
        .await;
    assert_eq!(names(&list), ["agent"]);
    let list = app
        .list_users(&[("filter", &format!("{ACME}:sites[code eq \"lon\"]"))])
        .await;
    assert_eq!(names(&list), ["agent"]);
    let list = app
        .list_users(&[
            ("sortBy", &format!("{ACME}:clearance")),
            ("sortOrder", "descending"),
        ])
        .await;
    assert_eq!(names(&list), ["agent", "analyst"]);
    let list = app
        .list_users(&[
            ("filter", "userName eq \"agent\""),
            ("attributes", &format!("{ACME}:clearance")),
        ])
        .await;
    assert_eq!(list["Resources"][0][ACME], json!({"clearance": 3}));
    // PATCH reaches it; immutable attributes cannot change once set.
    let path = format!("/Users/{}", reply.body["id"].as_str().unwrap());
    let patch = |ops: Value| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
    let patched = app
        .request(
            Method::PATCH,
            &path,
            Some(patch(
                json!([{"op": "replace", "path": format!("{ACME}:clearance"), "value": 4}]),
            )),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.body[ACME]["clearance"], 4);
    app.request(
        Method::PATCH,
        &path,
        Some(patch(
            json!([{"op": "replace", "path": format!("{ACME}:badgeNumber"), "value": "B-8"}]),
        )),
    )
    .await
    .assert_error(400, Some("mutability"));
    app.request(
        Method::PUT,
        &path,
        Some(json!({"schemas": [USER_SCHEMA], "userName": "agent"})),
    )
    .await
    .assert_error(400, Some("mutability"));
    // Setting it the first time is allowed.
    let analyst = app
        .list_users(&[("filter", "userName eq \"analyst\"")])
        .await["Resources"][0]["id"]
        .clone();
    let set = app
        .request(
            Method::PATCH,
            &format!("/Users/{}", analyst.as_str().unwrap()),
            Some(patch(
                json!([{"op": "add", "path": format!("{ACME}:badgeNumber"), "value": "B-9"}]),
            )),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    // Discovery announces it.
    let user_type = app
        .request(Method::GET, "/ResourceTypes/User", None)
        .await
        .body;
    let extensions: Vec<&str> = user_type["schemaExtensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["schema"].as_str().unwrap())
        .collect();
    assert!(extensions.contains(&ACME));
    let schema = app
        .request(Method::GET, &format!("/Schemas/{ACME}"), None)
        .await;
    assert_eq!(schema.status, StatusCode::OK);
    assert_eq!(schema.body["attributes"][0]["mutability"], "immutable");
    assert_eq!(
        schema.body["attributes"][2]["subAttributes"][0]["name"],
        "code"
    );
}
