//! `POST /Bulk` over HTTP, on both stores.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_stores;
use crate::helpers::{Backend, Reply, TestApp, USER_SCHEMA, spawn_app};

const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

both_stores!(
    bulk_creates_with_bulk_id_references_in_any_order,
    bulk_runs_put_patch_delete_with_versions,
    fail_on_errors_stops_processing,
    circular_and_unknown_references_fail_alone,
    bulk_limits_are_enforced_and_announced,
);

async fn bulk(app: &TestApp, operations: Value, extra: Value) -> Reply {
    let mut body = json!({"schemas": [BULK], "Operations": operations});
    if let (Some(map), Value::Object(extra)) = (body.as_object_mut(), extra) {
        map.extend(extra);
    }
    app.request(Method::POST, "/Bulk", Some(body)).await
}

fn statuses(reply: &Reply) -> Vec<&str> {
    reply.body["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect()
}

async fn bulk_creates_with_bulk_id_references_in_any_order(backend: Backend) {
    let app = spawn_app(backend).await;
    // The group comes first but refers to users created later in the request.
    let reply = bulk(&app, json!([
        {"method": "POST", "path": "/Groups", "bulkId": "g",
         "data": {"schemas": [GROUP], "displayName": "Bulk Group",
                  "members": [{"type": "User", "value": "bulkId:u1"}, {"type": "User", "value": "bulkId:u2"}]}},
        {"method": "POST", "path": "/Users", "bulkId": "u1",
         "data": {"schemas": [USER_SCHEMA], "userName": "bulk.one"}},
        {"method": "POST", "path": "/Users", "bulkId": "u2",
         "data": {"schemas": [USER_SCHEMA], "userName": "bulk.two"}}
    ]), json!({})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        reply.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:BulkResponse"])
    );
    assert_eq!(statuses(&reply), ["201", "201", "201"]);
    let ops = reply.body["Operations"].as_array().unwrap();
    assert_eq!(ops[0]["bulkId"], "g");
    assert_eq!(ops[0]["method"], "POST");
    assert_eq!(ops[0]["version"], "W/\"1\"");
    let group_location = ops[0]["location"].as_str().unwrap();
    assert!(group_location.starts_with(&format!("{}/Groups/", app.base)));
    let group_path = group_location.trim_start_matches(&app.base).to_owned();
    let group = app.request(Method::GET, &group_path, None).await.body;
    let mut members: Vec<&str> = group["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["display"].as_str().unwrap())
        .collect();
    members.sort();
    assert_eq!(members, ["bulk.one", "bulk.two"]);
}

async fn bulk_runs_put_patch_delete_with_versions(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.create_user("b.a", json!({})).await;
    let b = app.create_user("b.b", json!({})).await;
    let (pa, pb) = (
        format!("/Users/{}", a["id"].as_str().unwrap()),
        format!("/Users/{}", b["id"].as_str().unwrap()),
    );
    let reply = bulk(&app, json!([
        {"method": "PUT", "path": pa, "version": "W/\"1\"",
         "data": {"schemas": [USER_SCHEMA], "userName": "b.a", "title": "put"}},
        {"method": "PATCH", "path": pb,
         "data": {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "patched"}]}},
        {"method": "PATCH", "path": pa, "version": "W/\"1\"",
         "data": {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "stale"}]}},
        {"method": "DELETE", "path": pb},
        {"method": "DELETE", "path": "/Users/00000000-0000-7000-8000-000000000000"}
    ]), json!({})).await;
    assert_eq!(statuses(&reply), ["200", "200", "412", "204", "404"]);
    let ops = reply.body["Operations"].as_array().unwrap();
    assert_eq!(ops[0]["version"], "W/\"2\"");
    assert_eq!(ops[2]["response"]["status"], "412");
    assert_eq!(
        ops[4]["response"]["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert_eq!(
        app.request(Method::GET, &pa, None).await.body["title"],
        "put"
    );
    app.request(Method::GET, &pb, None)
        .await
        .assert_error(404, None);
}

async fn fail_on_errors_stops_processing(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_user("taken", json!({})).await;
    let reply = bulk(&app, json!([
        {"method": "POST", "path": "/Users", "bulkId": "1", "data": {"schemas": [USER_SCHEMA], "userName": "taken"}},
        {"method": "POST", "path": "/Users", "bulkId": "2", "data": {"schemas": [USER_SCHEMA], "userName": "x"}},
        {"method": "POST", "path": "/Users", "bulkId": "3", "data": {"schemas": [USER_SCHEMA], "userName": "z"}}
    ]), json!({"failOnErrors": 2})).await;
    // One error is below the threshold of two: everything runs.
    assert_eq!(statuses(&reply), ["409", "201", "201"]);
    let reply = bulk(&app, json!([
        {"method": "POST", "path": "/Users", "bulkId": "1", "data": {"schemas": [USER_SCHEMA], "userName": "taken"}},
        {"method": "POST", "path": "/Users", "bulkId": "2", "data": {"schemas": [USER_SCHEMA], "userName": "y"}}
    ]), json!({"failOnErrors": 1})).await;
    // The first error reaches the threshold of one: the rest is not processed.
    assert_eq!(statuses(&reply), ["409"]);
    assert_eq!(
        reply.body["Operations"][0]["response"]["scimType"],
        "uniqueness"
    );
    assert_eq!(
        app.list_users(&[("filter", "userName eq \"y\"")]).await["totalResults"],
        0
    );
}

async fn circular_and_unknown_references_fail_alone(backend: Backend) {
    let app = spawn_app(backend).await;
    let reply = bulk(&app, json!([
        {"method": "POST", "path": "/Groups", "bulkId": "a",
         "data": {"schemas": [GROUP], "displayName": "A", "members": [{"value": "bulkId:b"}]}},
        {"method": "POST", "path": "/Groups", "bulkId": "b",
         "data": {"schemas": [GROUP], "displayName": "B", "members": [{"value": "bulkId:a"}]}},
        {"method": "POST", "path": "/Groups", "bulkId": "c",
         "data": {"schemas": [GROUP], "displayName": "C", "members": [{"value": "bulkId:nope"}]}},
        {"method": "POST", "path": "/Users", "bulkId": "d", "data": {"schemas": [USER_SCHEMA], "userName": "fine"}}
    ]), json!({})).await;
    assert_eq!(statuses(&reply), ["409", "409", "400", "201"]);
    assert_eq!(app.list_groups(&[]).await["totalResults"], 0);
}

async fn bulk_limits_are_enforced_and_announced(backend: Backend) {
    let app = spawn_app(backend).await;
    let spc = app
        .request(Method::GET, "/ServiceProviderConfig", None)
        .await
        .body;
    assert_eq!(
        spc["bulk"],
        json!({"supported": true, "maxOperations": 100, "maxPayloadSize": 1048576})
    );
    let too_many: Vec<Value> = (0..101)
        .map(|i| {
            json!({"method": "POST", "path": "/Users", "bulkId": i.to_string(),
                        "data": {"schemas": [USER_SCHEMA], "userName": format!("u{i}")}})
        })
        .collect();
    bulk(&app, Value::Array(too_many), json!({}))
        .await
        .assert_error(413, None);
    let passwords: Vec<Value> = (0..21)
        .map(|i| json!({"method": "POST", "path": "/Users", "bulkId": i.to_string(),
                        "data": {"schemas": [USER_SCHEMA], "userName": format!("p{i}"), "password": "x"}}))
        .collect();
    bulk(&app, Value::Array(passwords), json!({}))
        .await
        .assert_error(413, None);
    for (body, scim_type) in [
        (json!({"Operations": []}), Some("invalidValue")),
        (
            json!({"schemas": [BULK], "Operations": [{"method": "GET", "path": "/Users"}]}),
            Some("invalidValue"),
        ),
        (
            json!({"schemas": [BULK], "Operations": [{"method": "POST", "path": "/Users", "data": {}}]}),
            Some("invalidValue"),
        ),
        (
            json!({"schemas": [BULK], "failOnErrors": 0, "Operations": []}),
            Some("invalidValue"),
        ),
    ] {
        app.request(Method::POST, "/Bulk", Some(body))
            .await
            .assert_error(400, scim_type);
    }
    assert_eq!(app.list_users(&[]).await["totalResults"], 0);
}
