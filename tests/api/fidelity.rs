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
    for blank in ["", "   ", "\t\n"] {
        // POST
        let r = app
            .request(
                Method::POST,
                "/Users",
                Some(json!({"schemas": [USER_SCHEMA], "userName": blank})),
            )
            .await;
        r.assert_error(400, Some("invalidValue"));
        assert!(names(&r.body, "userName"), "{}", r.body);
        let r = app
            .request(
                Method::POST,
                "/Groups",
                Some(json!({"schemas": [GROUP_SCHEMA], "displayName": blank})),
            )
            .await;
        r.assert_error(400, Some("invalidValue"));
        assert!(names(&r.body, "displayName"), "{}", r.body);
        // PUT
        let r = app
            .request(
                Method::PUT,
                &format!("/Users/{user_id}"),
                Some(json!({"schemas": [USER_SCHEMA], "userName": blank})),
            )
            .await;
        r.assert_error(400, Some("invalidValue"));
        assert!(names(&r.body, "userName"), "{}", r.body);
        let r = app
            .request(
                Method::PUT,
                &format!("/Groups/{group_id}"),
                Some(json!({"schemas": [GROUP_SCHEMA], "displayName": blank})),
            )
            .await;
        r.assert_error(400, Some("invalidValue"));
        // PATCH, with and without a path
        for ops in [
            json!([{"op": "replace", "path": "userName", "value": blank}]),
            json!([{"op": "replace", "value": {"userName": blank}}]),
        ] {
            let r = app
                .request(
                    Method::PATCH,
                    &format!("/Users/{user_id}"),
                    Some(json!({"schemas": [PATCH_OP], "Operations": ops})),
                )
                .await;
            r.assert_error(400, Some("invalidValue"));
            assert!(names(&r.body, "userName"), "{}", r.body);
        }
        let r = app
            .request(
                Method::PATCH,
                &format!("/Groups/{group_id}"),
                Some(json!({"schemas": [PATCH_OP], "Operations": [
                    {"op": "replace", "path": "displayName", "value": blank}]})),
            )
            .await;
        r.assert_error(400, Some("invalidValue"));
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
