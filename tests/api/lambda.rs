//! The Lambda adapter, driven by recorded API Gateway HTTP API (payload 2.0) events in
//! `tests/fixtures/apigw-v2/`, parsed by `lambda_http` as the runtime does.

use std::sync::Arc;

use lambda_http::Body;
use scimlet::store::memory::MemoryStore;
use scimlet::{App, Config, admin};
use serde_json::Value;

use crate::helpers::{SCIM, fresh_tenant_id};

async fn app_and_token() -> (App, String) {
    let (app, _, _, token) = app_with(Config::default()).await;
    (app, token)
}

/// An app with `config` over a memory store with one tenant and its token.
async fn app_with(config: Config) -> (App, MemoryStore, scimlet::domain::TenantId, String) {
    let store = MemoryStore::new();
    let tenant = fresh_tenant_id();
    admin::create_tenant(&store, &tenant).await.unwrap();
    let token = admin::issue(&store, &tenant, None, None)
        .await
        .unwrap()
        .token;
    let app = App::new(config, Arc::new(store.clone()), Arc::new(store.clone()));
    (app, store, tenant, token)
}

fn event(name: &str, token: &str) -> lambda_http::Request {
    let path = format!(
        "{}/tests/fixtures/apigw-v2/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    lambda_http::request::from_str(&text.replace("{{TOKEN}}", token))
        .unwrap_or_else(|e| panic!("{name} is not an API Gateway event: {e}"))
}

async fn send(app: &App, name: &str, token: &str) -> (u16, lambda_http::http::HeaderMap, Value) {
    let response = scimlet::http::lambda::handle(app, event(name, token)).await;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = match response.into_body() {
        Body::Text(text) => serde_json::from_str(&text).unwrap(),
        Body::Empty => Value::Null,
        other => panic!("unexpected body {other:?}"),
    };
    (status, headers, body)
}

#[tokio::test]
async fn api_gateway_events_are_routed_with_and_without_a_stage() {
    let (app, token) = app_and_token().await;
    let (status, headers, user) = send(&app, "create_user_default_stage.json", &token).await;
    assert_eq!(status, 201, "{user}");
    assert_eq!(headers["content-type"], SCIM);
    let id = user["id"].as_str().unwrap();
    let location = format!("https://abc123.execute-api.eu-west-1.amazonaws.com/scim/v2/Users/{id}");
    assert_eq!(headers["location"], location.as_str());
    assert_eq!(user["meta"]["location"], location.as_str());
    assert_eq!(user["name"]["familyName"], "Bda");

    let (status, _, list) = send(&app, "list_users_filter_named_stage.json", &token).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["totalResults"], 1);
    assert_eq!(list["Resources"][0]["id"], id);
    // The stage seen in the path is kept in generated URLs.
    assert_eq!(
        list["Resources"][0]["meta"]["location"],
        format!("https://abc123.execute-api.eu-west-1.amazonaws.com/prod/scim/v2/Users/{id}")
            .as_str()
    );
}

#[tokio::test]
async fn base64_bodies_are_decoded() {
    let (app, token) = app_and_token().await;
    let (status, _, user) = send(&app, "create_user_base64_body.json", &token).await;
    assert_eq!(status, 201, "{user}");
    assert_eq!(user["userName"], "lambda64@example.com");
}

#[tokio::test]
async fn errors_are_scim_responses() {
    let (app, token) = app_and_token().await;
    let (status, headers, body) = send(&app, "list_users_no_token.json", &token).await;
    assert_eq!(status, 401);
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    assert_eq!(body["status"], "401");
    let (status, headers, body) = send(&app, "get_unknown_user.json", &token).await;
    assert_eq!(status, 404);
    assert_eq!(headers["content-type"], SCIM);
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
}

#[tokio::test]
async fn lambda_and_api_gateway_request_ids_reach_the_core_request() {
    use lambda_http::RequestExt;
    let mut context = lambda_http::Context::default();
    context.request_id = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef".into();
    let request = event("get_unknown_user.json", "t").with_lambda_context(context);
    let core = scimlet::http::lambda::into_core_request(request);
    let ids = core
        .extensions()
        .get::<scimlet::http::RequestIds>()
        .expect("ids");
    assert_eq!(
        ids.lambda.as_deref(),
        Some("c6af9ac6-7b61-11e6-9a41-93e8deadbeef")
    );
    assert_eq!(ids.api.as_deref(), Some("Jx3k2gS0DoEEMbQ="));
}

#[tokio::test]
async fn the_admin_api_in_aws_is_served_only_to_what_api_gateway_authorised_with_iam() {
    let (app, _, tenant, _) = app_with(Config {
        admin: scimlet::config::AdminAccess::Iam,
        ..Config::default()
    })
    .await;
    let (status, headers, body) = send(&app, "admin_list_tenants_iam.json", "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["content-type"], "application/json");
    let ids: Vec<&str> = body["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    assert!(ids.contains(&tenant.as_str()), "{body}");
    let (status, _, body) = send(&app, "admin_list_tenants_no_iam.json", "").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "unauthorized");
    // With the admin API off, the path is no endpoint at all.
    let (app, _) = app_and_token().await;
    let (status, _, _) = send(&app, "admin_list_tenants_iam.json", "").await;
    assert_eq!(status, 404);
}

/// The event the template's schedule (TenantDeletionSweep) sends, read from template.yaml.
fn sweep_event() -> lambda_http::Request {
    let template = include_str!("../../template.yaml");
    let input = template
        .lines()
        .find_map(|l| l.trim().strip_prefix("Input: '"))
        .and_then(|l| l.strip_suffix('\''))
        .expect("the schedule's Input in template.yaml");
    lambda_http::request::from_str(input).expect("an API Gateway event")
}

#[tokio::test]
async fn the_schedule_finishes_tenant_deletions_in_the_background() {
    let (app, store, tenant, _) = app_with(Config {
        admin: scimlet::config::AdminAccess::Iam,
        ..Config::default()
    })
    .await;
    // A deletion that was started (tokens gone, record marked) and not finished.
    scimlet::store::Directory::begin_tenant_deletion(&store, &tenant)
        .await
        .unwrap();
    let response = scimlet::http::lambda::handle(&app, sweep_event()).await;
    assert_eq!(response.status(), 200);
    let body: Value = match response.into_body() {
        Body::Text(text) => serde_json::from_str(&text).unwrap(),
        other => panic!("unexpected body {other:?}"),
    };
    assert!(
        body["continued"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["tenant"] == tenant.as_str() && c["done"] == true),
        "{body}"
    );
    assert!(
        scimlet::store::Directory::get_tenant(&store, &tenant)
            .await
            .unwrap()
            .is_none()
    );
}
