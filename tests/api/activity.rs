//! A tenant's recent activity: every error (bounded per minute) and one success per operation
//! and minute, kept in the store for `scimlet tenant activity`, never with values; on both
//! stores.

use reqwest::Method;
use scimlet::Config;
use scimlet::admin;
use scimlet::domain::TenantSettings;
use serde_json::json;

use crate::both_stores;
use crate::helpers::{Backend, USER_SCHEMA, spawn_app_for};

both_stores!(errors_and_sampled_successes_are_kept_per_tenant);

async fn errors_and_sampled_successes_are_kept_per_tenant(backend: Backend) {
    let config = Config {
        record_activity: true,
        ..Config::default()
    };
    let app = spawn_app_for(backend, config, TenantSettings::default()).await;
    let other = app.other_tenant().await;
    for _ in 0..3 {
        app.list_users(&[]).await;
    }
    for _ in 0..2 {
        app.request(
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER_SCHEMA], "userName": "u", "emails": "private-value"})),
        )
        .await
        .assert_error(400, Some("invalidValue"));
    }
    app.request(
        Method::GET,
        "/Users/0190c5a2-7b3e-7c1d-9f00-123456789012",
        None,
    )
    .await
    .assert_error(404, None);
    other.list_users(&[]).await;

    let all = admin::recent_activity(
        app.stores.admin.as_ref(),
        app.stores.resources.as_ref(),
        &app.tenant,
        50,
        false,
    )
    .await
    .unwrap();
    // Newest first: the three errors, then one of the three lists (two if a minute began
    // between them: one success per operation and minute).
    let (errors, successes) = all.split_at(3);
    let mut statuses: Vec<u16> = errors.iter().map(|e| e.status).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, vec![400, 400, 404], "{all:?}");
    assert!((1..=2).contains(&successes.len()), "{all:?}");
    assert!(
        successes
            .iter()
            .all(|e| e.status == 200 && e.route == "users.list")
    );
    let invalid = errors.iter().find(|e| e.status == 400).unwrap();
    assert_eq!(invalid.route, "users.create");
    assert_eq!(invalid.scim_type.as_deref(), Some("invalidValue"));
    assert_eq!(invalid.reason.as_deref(), Some("invalid_value"));
    // Which attribute was wrong, by name (the value stays out).
    assert_eq!(invalid.attribute.as_deref(), Some("emails"));
    let missing = errors.iter().find(|e| e.status == 404).unwrap();
    assert_eq!(missing.reason.as_deref(), Some("not_found"));
    assert_eq!(missing.attribute, None);
    let token_id = app.token.split('_').nth(1).unwrap();
    assert!(all.iter().all(|e| e.token_id.as_deref() == Some(token_id)));
    assert!(!format!("{all:?}").contains("private-value"));
    let errors = admin::recent_activity(
        app.stores.admin.as_ref(),
        app.stores.resources.as_ref(),
        &app.tenant,
        50,
        true,
    )
    .await
    .unwrap();
    assert_eq!(errors.len(), 3);
    // The other tenant's activity is its own.
    let theirs = admin::recent_activity(
        app.stores.admin.as_ref(),
        app.stores.resources.as_ref(),
        &other.tenant,
        50,
        false,
    )
    .await
    .unwrap();
    assert_eq!(theirs.len(), 1);
}
