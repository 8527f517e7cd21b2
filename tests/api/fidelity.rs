//! What real identity-provider traffic sends that a strict reading of the RFCs must still
//! answer well: empty required values, errors inside Bulk operations.

use reqwest::Method;
use serde_json::{Value, json};

use crate::both_stores;
use crate::helpers::{Backend, USER_SCHEMA, spawn_app};

const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

both_stores!(empty_required_values_are_missing_values);

/// The error names the attribute and says why.
fn names(body: &Value, attribute: &str) -> bool {
    body["detail"]
        .as_str()
        .is_some_and(|d| d.contains(&format!("'{attribute}'")) && d.contains("empty"))
}

async fn empty_required_values_are_missing_values(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.create_user("kept@example.com", json!({})).await;
    let user_id = user["id"].as_str().unwrap().to_owned();
    let group = app
        .request(
            Method::POST,
            "/Groups",
            Some(json!({"schemas": [GROUP_SCHEMA], "displayName": "Kept"})),
        )
        .await;
    let group_id = group.body["id"].as_str().unwrap().to_owned();
    let users = format!("/Users/{user_id}");
    let groups = format!("/Groups/{group_id}");
    for blank in ["", "   ", "\t\n"] {
        let user_body = json!({"schemas": [USER_SCHEMA], "userName": blank});
        let group_body = json!({"schemas": [GROUP_SCHEMA], "displayName": blank});
        let patch = |ops: Value| json!({"schemas": [PATCH_OP], "Operations": ops});
        let cases = [
            (Method::POST, "/Users", user_body.clone(), "userName"),
            (Method::POST, "/Groups", group_body.clone(), "displayName"),
            (Method::PUT, users.as_str(), user_body, "userName"),
            (Method::PUT, groups.as_str(), group_body, "displayName"),
            (
                Method::PATCH,
                users.as_str(),
                patch(json!([{"op": "replace", "path": "userName", "value": blank}])),
                "userName",
            ),
            (
                Method::PATCH,
                users.as_str(),
                patch(json!([{"op": "replace", "value": {"userName": blank}}])),
                "userName",
            ),
            (
                Method::PATCH,
                groups.as_str(),
                patch(json!([{"op": "replace", "path": "displayName", "value": blank}])),
                "displayName",
            ),
        ];
        for (method, path, body, attribute) in cases {
            let r = app.request(method.clone(), path, Some(body)).await;
            r.assert_error(400, Some("invalidValue"));
            assert!(names(&r.body, attribute), "{method} {path}: {}", r.body);
        }
        // Bulk: each operation fails on its own, with the same error.
        let r = app
            .request(
                Method::POST,
                "/Bulk",
                Some(json!({"schemas": [BULK], "Operations": [
                    {"method": "POST", "path": "/Users", "bulkId": "u",
                     "data": {"schemas": [USER_SCHEMA], "userName": blank}},
                    {"method": "PATCH", "path": format!("/Groups/{group_id}"),
                     "data": {"schemas": [PATCH_OP], "Operations": [
                        {"op": "replace", "path": "displayName", "value": blank}]}}
                ]})),
            )
            .await;
        assert_eq!(r.status.as_u16(), 200, "{}", r.body);
        for op in r.body["Operations"].as_array().unwrap() {
            assert_eq!(op["status"], "400", "{}", r.body);
            assert_eq!(op["response"]["scimType"], "invalidValue", "{}", r.body);
        }
    }
    // Nothing changed.
    let r = app
        .request(Method::GET, &format!("/Users/{user_id}"), None)
        .await;
    assert_eq!(r.body["userName"], "kept@example.com");
    let r = app
        .request(Method::GET, &format!("/Groups/{group_id}"), None)
        .await;
    assert_eq!(r.body["displayName"], "Kept");
    assert_eq!(app.list_users(&[]).await["totalResults"], 1);
}
