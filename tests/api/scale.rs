//! Customer sizes over HTTP, on both stores: concurrent membership changes of one group all
//! land, and groups beyond the response limit keep taking PATCHes (answered 204).

use reqwest::{Method, StatusCode};
use scimlet::Config;
use scimlet::domain::TenantSettings;
use serde_json::{Value, json};

use crate::both_stores;
use crate::helpers::{Backend, TestApp, spawn_app_for};

both_stores!(
    concurrent_member_adds_and_removals_of_one_group_all_land,
    groups_beyond_the_response_limit_answer_204_and_keep_working,
    a_tenant_can_have_every_group_patch_answer_204,
    responses_stay_within_the_response_budget,
);

const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

async fn group(app: &TestApp, name: &str) -> String {
    let reply = app
        .request(
            Method::POST,
            "/Groups",
            Some(json!({"schemas": [GROUP_SCHEMA], "displayName": name})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["id"].as_str().unwrap().to_owned()
}

fn op(kind: &str, path: &str, value: Option<Value>) -> Value {
    let mut operation = json!({"op": kind, "path": path});
    if let Some(v) = value {
        operation["value"] = v;
    }
    json!({"schemas": [PATCH_OP], "Operations": [operation]})
}

async fn member_ids(app: &TestApp, group: &str) -> Vec<String> {
    let reply = app
        .request(Method::GET, &format!("/Groups/{group}"), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    crate::helpers::member_ids(&reply.body)
}

/// Sends the bodies to one path all at once; every answer must be a success.
async fn all_at_once(app: &TestApp, path: &str, bodies: Vec<Value>) {
    let requests = bodies.into_iter().map(|body| {
        let client = app.client.clone();
        let url = format!("{}{path}", app.base);
        let token = app.token.clone();
        async move {
            client
                .patch(url)
                .bearer_auth(token)
                .header("content-type", crate::helpers::SCIM)
                .body(serde_json::to_vec(&body).unwrap())
                .send()
                .await
                .expect("send")
        }
    });
    let answers = futures_util::future::join_all(requests).await;
    let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 204),
        "concurrent membership changes commute; got {statuses:?}"
    );
}

async fn concurrent_member_adds_and_removals_of_one_group_all_land(backend: Backend) {
    let app = spawn_app_for(backend, Config::default(), TenantSettings::default()).await;
    let ids = app.create_users("crowd", 50).await;
    let g = group(&app, "Crowd").await;
    let path = format!("/Groups/{g}?excludedAttributes=members");
    let adds = ids
        .iter()
        .map(|id| op("add", "members", Some(json!([{"value": id}]))))
        .collect();
    all_at_once(&app, &path, adds).await;
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(member_ids(&app, &g).await, expected);
    let removals = ids
        .iter()
        .map(|id| op("remove", &format!("members[value eq \"{id}\"]"), None))
        .collect();
    all_at_once(&app, &path, removals).await;
    assert!(member_ids(&app, &g).await.is_empty());
}

async fn groups_beyond_the_response_limit_answer_204_and_keep_working(backend: Backend) {
    let config = Config {
        group_response_max_members: 5,
        ..Config::default()
    };
    let app = spawn_app_for(backend, config, TenantSettings::default()).await;
    let ids = app.create_users("big", 8).await;
    let g = group(&app, "Big").await;
    let values: Vec<Value> = ids.iter().map(|id| json!({"value": id})).collect();
    let added = app
        .request(
            Method::PATCH,
            &format!("/Groups/{g}"),
            Some(op("add", "members", Some(json!(values)))),
        )
        .await;
    assert_eq!(added.status, StatusCode::NO_CONTENT, "{}", added.body);
    // A rename of a group too large to show in a PATCH answer still works.
    let renamed = app
        .request(
            Method::PATCH,
            &format!("/Groups/{g}"),
            Some(op("replace", "displayName", Some(json!("Bigger")))),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::NO_CONTENT);
    // Without members in the answer, it answers 200 with the group.
    let lean = app
        .request(
            Method::PATCH,
            &format!("/Groups/{g}?excludedAttributes=members"),
            Some(op(
                "remove",
                &format!("members[value eq \"{}\"]", ids[0]),
                None,
            )),
        )
        .await;
    assert_eq!(lean.status, StatusCode::OK, "{}", lean.body);
    assert_eq!(lean.body["displayName"], "Bigger");
    assert!(lean.body.get("members").is_none());
    assert_eq!(member_ids(&app, &g).await.len(), 7);
}

async fn a_tenant_can_have_every_group_patch_answer_204(backend: Backend) {
    let settings = TenantSettings {
        group_patch_no_content: true,
        ..TenantSettings::default()
    };
    let app = spawn_app_for(backend, Config::default(), settings).await;
    let g = group(&app, "Quiet").await;
    let reply = app
        .request(
            Method::PATCH,
            &format!("/Groups/{g}"),
            Some(op("replace", "displayName", Some(json!("Quieter")))),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert!(reply.body.is_null());
}

async fn responses_stay_within_the_response_budget(backend: Backend) {
    let config = Config {
        max_response_bytes: 2_500,
        ..Config::default()
    };
    let app = spawn_app_for(backend, config, TenantSettings::default()).await;
    let ids = app.create_users("budgeted", 12).await;
    // A page ends early: fewer itemsPerPage, the same totalResults.
    let page = app.list_users(&[("count", "12")]).await;
    let shown = page["itemsPerPage"].as_u64().unwrap();
    assert!((1..12).contains(&shown), "{page}");
    assert_eq!(page["totalResults"], 12);
    // Cursor pages cut short continue after their last resource: every user once.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let body = app
            .list_users(&[("count", "12"), ("cursor", &cursor)])
            .await;
        for r in body["Resources"].as_array().unwrap() {
            seen.push(r["id"].as_str().unwrap().to_owned());
        }
        match body["nextCursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(seen, expected);
    // One resource larger than a whole response: a clear 400, and how to read it instead.
    let g = group(&app, "Too big to show").await;
    let values: Vec<Value> = ids.iter().map(|id| json!({"value": id})).collect();
    let added = app
        .request(
            Method::PATCH,
            &format!("/Groups/{g}?excludedAttributes=members"),
            Some(op("add", "members", Some(json!(values)))),
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    let whole = app
        .request(Method::GET, &format!("/Groups/{g}"), None)
        .await;
    whole.assert_error(400, Some("tooMany"));
    assert!(
        whole.body["detail"]
            .as_str()
            .unwrap()
            .contains("excludedAttributes=members")
    );
    let lean = app
        .request(
            Method::GET,
            &format!("/Groups/{g}?excludedAttributes=members"),
            None,
        )
        .await;
    assert_eq!(lean.status, StatusCode::OK);
}
