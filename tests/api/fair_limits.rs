//! Fair limits: one tenant's burst is answered 429 with `Retry-After` by its own per-tenant
//! limit, counted in the store (so every container sees the same count), while other tenants
//! on the same server are served; without a limit configured nothing is counted.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use scimlet::Config;
use scimlet::domain::TenantSettings;

use crate::both_stores;
use crate::helpers::{Backend, spawn_app_for};

both_stores!(one_tenants_burst_does_not_throttle_another);

async fn one_tenants_burst_does_not_throttle_another(backend: Backend) {
    // A window of an hour, so that the test does not depend on when a second begins.
    let config = Config {
        tenant_rate_limit: Some(3),
        tenant_rate_window: Duration::from_secs(3600),
        ..Config::default()
    };
    let busy = spawn_app_for(backend, config, TenantSettings::default()).await;
    let quiet = busy.other_tenant().await;
    for _ in 0..3 {
        let r = busy.request(Method::GET, "/Users", None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let refused = busy.request(Method::GET, "/Users", None).await;
    refused.assert_error(429, None);
    let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry), "{retry}");
    // The other tenant has its own count.
    for _ in 0..3 {
        let r = quiet.request(Method::GET, "/Users", None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    // Unauthenticated requests are not counted against anyone.
    let r = busy
        .client
        .get(format!("{}/Users", busy.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}
