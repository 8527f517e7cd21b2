//! The admin API (`/admin/v1`), as the SaaS team's backend uses it, on both stores (on
//! DynamoDB Local as the function's IAM principal: the function's policy must suffice), and
//! its OpenAPI description checked against the real routes.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use scimlet::Config;
use scimlet::config::AdminAccess;
use scimlet::domain::TenantSettings;
use serde_json::{Value, json};

use crate::both_stores;
use crate::helpers::{Backend, USER_SCHEMA, fresh_tenant_id, spawn_app_for};

const KEY: &str = "an-admin-key-of-at-least-32-characters";

fn config() -> Config {
    Config {
        admin: AdminAccess::key(KEY),
        // Revocation is seen at once.
        token_cache_ttl: Duration::ZERO,
        record_activity: true,
        ..Config::default()
    }
}

/// Calls the admin API of the server whose SCIM base is `base`.
async fn admin(
    base: &str,
    key: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let root = base.trim_end_matches("/scim/v2");
    let mut req = reqwest::Client::new().request(method, format!("{root}/admin/v1{path}"));
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.expect("send");
    let status = resp.status();
    let bytes = resp.bytes().await.expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The status of `GET /Users` with `token`.
async fn users_status(base: &str, token: &str) -> StatusCode {
    scim(base, token, Method::GET, "/Users", None).await
}

async fn scim(
    base: &str,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> StatusCode {
    let mut req = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .bearer_auth(token);
    if let Some(body) = body {
        req = req
            .header("content-type", "application/scim+json")
            .body(body.to_string());
    }
    req.send().await.expect("send").status()
}

both_stores!(
    a_backend_onboards_a_tenant_through_the_admin_api,
    a_tenant_is_deleted_in_resumable_steps
);

async fn a_backend_onboards_a_tenant_through_the_admin_api(backend: Backend) {
    let app = spawn_app_for(backend, config(), TenantSettings::default()).await;
    let base = app.base.clone();
    let k = Some(KEY);
    let id = fresh_tenant_id();
    let id = id.as_str();

    // Create, with a setting; creating again conflicts.
    let (status, tenant) = admin(
        &base,
        k,
        Method::POST,
        "/tenants",
        Some(json!({"id": id, "settings": {"soft-delete": true}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{tenant}");
    assert_eq!(tenant["id"], id);
    assert_eq!(tenant["settings"]["soft-delete"], true);
    assert_eq!(tenant["settings"]["unique-group-names"], true);
    let (status, err) = admin(&base, k, Method::POST, "/tenants", Some(json!({"id": id}))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(err["error"], "tenant_exists");
    // Bad input is a clear 400 and changes nothing.
    for bad in [
        json!({}),
        json!({"id": "Not Valid"}),
        json!({"id": "x", "settings": {"nope": true}}),
    ] {
        let (status, err) = admin(&base, k, Method::POST, "/tenants", Some(bad.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {err}");
        assert_eq!(err["status"], 400);
    }
    let (status, _) = admin(&base, k, Method::GET, "/tenants/x", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Change a setting; read it back.
    let (status, changed) = admin(
        &base,
        k,
        Method::PATCH,
        &format!("/tenants/{id}"),
        Some(json!({"settings": {"ignore-passwords": true}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["settings"]["ignore-passwords"], true);
    assert_eq!(changed["settings"]["soft-delete"], true);
    let (status, _) = admin(
        &base,
        k,
        Method::PATCH,
        &format!("/tenants/{id}"),
        Some(json!({"settings": {"soft-delete": "maybe"}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Issue a token: it works for SCIM, and only for this tenant.
    let (status, issued) = admin(
        &base,
        k,
        Method::POST,
        &format!("/tenants/{id}/tokens"),
        Some(json!({"label": "okta", "validDays": 365})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let token = issued["token"]
        .as_str()
        .expect("the secret, once")
        .to_owned();
    let token_id = issued["id"].as_str().expect("id").to_owned();
    assert_eq!(issued["label"], "okta");
    let user = json!({"schemas": [USER_SCHEMA], "userName": "first@example.com"});
    assert_eq!(
        scim(&base, &token, Method::POST, "/Users", Some(user)).await,
        StatusCode::CREATED
    );
    // The admin key is no SCIM token, and a SCIM token no admin key.
    assert_eq!(
        scim(&base, KEY, Method::GET, "/Users", None).await,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = admin(&base, Some(&token), Method::GET, "/tenants", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = admin(&base, None, Method::GET, "/tenants", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Listed without its secret; shown with the tenant.
    let (_, tokens) = admin(
        &base,
        k,
        Method::GET,
        &format!("/tenants/{id}/tokens"),
        None,
    )
    .await;
    assert_eq!(tokens["tokens"].as_array().map(Vec::len), Some(1));
    assert!(tokens["tokens"][0].get("token").is_none());
    assert!(
        !tokens
            .to_string()
            .contains(token.rsplit('_').next().expect("secret"))
    );
    let (_, shown) = admin(&base, k, Method::GET, &format!("/tenants/{id}"), None).await;
    assert_eq!(shown["tokens"][0]["id"], token_id.as_str());

    // The tenant's activity shows the SCIM traffic, not the administration.
    let (status, activity) = admin(
        &base,
        k,
        Method::GET,
        &format!("/tenants/{id}/activity"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let entries = activity["activity"].as_array().expect("entries");
    assert!(
        entries
            .iter()
            .any(|e| e["route"] == "users.create" && e["status"] == 201),
        "{activity}"
    );
    assert!(
        entries
            .iter()
            .all(|e| !e["route"].as_str().unwrap_or("").starts_with("admin."))
    );
    let (status, _) = admin(
        &base,
        k,
        Method::GET,
        &format!("/tenants/{id}/activity?limit=0"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Rotate: both work during the overlap.
    let (status, rotated) = admin(
        &base,
        k,
        Method::POST,
        &format!("/tenants/{id}/tokens/{token_id}/rotate"),
        Some(json!({"overlapDays": 2})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{rotated}");
    let successor = rotated["successor"]["token"]
        .as_str()
        .expect("successor")
        .to_owned();
    assert_eq!(rotated["successor"]["label"], "okta");
    assert!(rotated["previous"]["expires"].is_string());
    assert_eq!(users_status(&base, &successor).await, StatusCode::OK);
    assert_eq!(users_status(&base, &token).await, StatusCode::OK);

    // Revoke the old one: SCIM answers 401 to it, the successor still works.
    let (status, _) = admin(
        &base,
        k,
        Method::DELETE,
        &format!("/tenants/{id}/tokens/{token_id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(users_status(&base, &token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(users_status(&base, &successor).await, StatusCode::OK);
    let (status, err) = admin(
        &base,
        k,
        Method::DELETE,
        &format!("/tenants/{id}/tokens/{token_id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(err["error"], "no_such_token");
    // A setup link: created (its URL shown once), listed without it, its page served, revoked.
    let (status, link) = admin(
        &base,
        k,
        Method::POST,
        &format!("/tenants/{id}/setup-links"),
        Some(json!({"validDays": 3})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{link}");
    let url = link["url"].as_str().expect("url").to_owned();
    assert!(url.starts_with(base.trim_end_matches("/scim/v2")), "{url}");
    let (_, links) = admin(
        &base,
        k,
        Method::GET,
        &format!("/tenants/{id}/setup-links"),
        None,
    )
    .await;
    assert_eq!(links["setupLinks"].as_array().map(Vec::len), Some(1));
    assert!(links["setupLinks"][0].get("url").is_none());
    let page = reqwest::get(&url).await.expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    let link_id = link["id"].as_str().expect("id");
    let (status, _) = admin(
        &base,
        k,
        Method::DELETE,
        &format!("/tenants/{id}/setup-links/{link_id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        reqwest::get(&url).await.expect("page").status(),
        StatusCode::GONE
    );
    // Another tenant's token cannot be revoked through this tenant.
    let other_token = app.token.split('_').nth(1).expect("id").to_owned();
    let (status, _) = admin(
        &base,
        k,
        Method::DELETE,
        &format!("/tenants/{id}/tokens/{other_token}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        scim(&base, &app.token, Method::GET, "/Users", None).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn without_admin_access_configured_there_is_no_admin_api() {
    let app = spawn_app_for(
        Backend::Memory,
        Config::default(),
        TenantSettings::default(),
    )
    .await;
    let (status, body) = admin(&app.base, Some(KEY), Method::GET, "/tenants", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // The SCIM side is untouched.
    assert_eq!(
        scim(&app.base, &app.token, Method::GET, "/Users", None).await,
        StatusCode::OK
    );
}

/// Every path and method of docs/admin-api.openapi.json is served (never 404 or 405), and
/// every admin route the server has is described there.
#[tokio::test]
async fn the_openapi_description_matches_the_routes() {
    let spec: Value =
        serde_json::from_str(include_str!("../../docs/admin-api.openapi.json")).expect("spec");
    let app = spawn_app_for(Backend::Memory, config(), TenantSettings::default()).await;
    let tenant = app.tenant.as_str().to_owned();
    let token_id = app.token.split('_').nth(1).expect("id").to_owned();
    let mut described = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for method in item
            .as_object()
            .expect("item")
            .keys()
            .filter(|m| *m != "parameters")
        {
            described.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    described.sort();
    let served = [
        "DELETE /tenants/{tenant}",
        "DELETE /tenants/{tenant}/setup-links/{link}",
        "DELETE /tenants/{tenant}/tokens/{token}",
        "GET /tenants",
        "GET /tenants/{tenant}",
        "GET /tenants/{tenant}/activity",
        "GET /tenants/{tenant}/setup-links",
        "GET /tenants/{tenant}/tokens",
        "PATCH /tenants/{tenant}",
        "POST /tenant-deletions",
        "POST /tenants",
        "POST /tenants/{tenant}/setup-links",
        "POST /tenants/{tenant}/tokens",
        "POST /tenants/{tenant}/tokens/{token}/rotate",
    ];
    assert_eq!(described, served);
    // The deletions last (the tenant's the very last): the rotation needs the token; a link
    // must exist to be revoked.
    let mut order = served.to_vec();
    order.rotate_left(3);
    let first = order.len() - 3;
    order[first..].reverse();
    let link = scimlet::admin::links::create(app.stores.admin.as_ref(), &app.tenant, 1)
        .await
        .expect("a link")
        .link
        .id;
    for route in order {
        let (method, path) = route.split_once(' ').expect("route");
        let path = path
            .replace("{tenant}", &tenant)
            .replace("{token}", &token_id)
            .replace("{link}", &link);
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let body = (method == Method::POST || method == Method::PATCH).then(|| json!({}));
        let (status, reply) = admin(&app.base, Some(KEY), method.clone(), &path, body).await;
        assert!(
            status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
            "{route}: {status} {reply}"
        );
    }
    // And nothing else is served.
    let (status, _) = admin(&app.base, Some(KEY), Method::GET, "/nothing", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = admin(&app.base, Some(KEY), Method::PUT, "/tenants", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

async fn a_tenant_is_deleted_in_resumable_steps(backend: Backend) {
    let app = spawn_app_for(backend, config(), TenantSettings::default()).await;
    let users = app.create_users("gone", 7).await;
    let group = app
        .request(
            Method::POST,
            "/Groups",
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "everyone", "members": users.iter().map(|u| json!({"value": u})).collect::<Vec<_>>()})),
        )
        .await;
    assert_eq!(group.status, StatusCode::CREATED);
    let admin_dir = app.stores.admin.as_ref();
    let store = app.stores.resources.as_ref();
    // A step too small to finish: the tenant is marked deleting, its token no longer works.
    let done = scimlet::admin::delete_tenant_step(admin_dir, store, &app.tenant, 3)
        .await
        .expect("a step");
    let steps_needed = backend == Backend::Dynamo;
    assert_eq!(done, !steps_needed, "the memory store purges at once");
    assert_eq!(
        scim(&app.base, &app.token, Method::GET, "/Users", None).await,
        StatusCode::UNAUTHORIZED
    );
    if steps_needed {
        let (status, shown) = admin(
            &app.base,
            Some(KEY),
            Method::GET,
            &format!("/tenants/{}", app.tenant),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(shown["deleting"], true);
        assert_eq!(shown["tokens"], json!([]));
        // Resumed through the admin API until it answers 204.
        let mut rounds = 0;
        loop {
            let (status, body) = admin(
                &app.base,
                Some(KEY),
                Method::DELETE,
                &format!("/tenants/{}", app.tenant),
                None,
            )
            .await;
            rounds += 1;
            if status == StatusCode::NO_CONTENT {
                break;
            }
            assert_eq!(status, StatusCode::ACCEPTED, "{body}");
            assert_eq!(body["status"], "deleting");
            assert!(rounds < 20, "the purge makes progress");
        }
    }
    let (status, _) = admin(
        &app.base,
        Some(KEY),
        Method::GET,
        &format!("/tenants/{}", app.tenant),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Nothing of it is left to read, and the id can be used again from scratch.
    for kind in [
        scimlet::domain::ResourceKind::User,
        scimlet::domain::ResourceKind::Group,
    ] {
        assert_eq!(store.count(&app.tenant, kind).await.expect("count"), 0);
        let page = store.list(&app.tenant, kind, None, 10).await.expect("list");
        assert!(page.items.is_empty());
    }
    let (status, _) = admin(
        &app.base,
        Some(KEY),
        Method::POST,
        "/tenants",
        Some(json!({"id": app.tenant.as_str()})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
}
