//! The setup page as a person uses it: headless Chromium (the distribution's `chromium` and
//! `chromium-driver` packages; `.ci/run` installs them, nothing is downloaded at test time),
//! driven over the W3C WebDriver protocol, against a server with the admin API on. Without a
//! browser the test fails and says why; it never skips.

use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use scimlet::Config;
use scimlet::config::AdminAccess;
use scimlet::domain::TenantSettings;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::helpers::{Backend, USER_SCHEMA, fresh_tenant_id, spawn_app_for};

const KEY: &str = "a-setup-page-test-admin-key-0123456789";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A WebDriver session on a headless Chromium, ended (and the driver killed) on drop.
struct Browser {
    http: reqwest::Client,
    base: String,
    _driver: Child,
}

impl Browser {
    async fn start() -> Browser {
        let driver_path = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect(
                "chromedriver is not installed: install the distribution's chromium and \
                 chromium-driver packages (.ci/run does)",
            );
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
            l.local_addr().expect("addr").port()
        };
        let driver = Command::new(driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start chromedriver");
        let http = reqwest::Client::new();
        let root = format!("http://127.0.0.1:{port}");
        let mut ready = false;
        for _ in 0..100 {
            if let Ok(r) = http.get(format!("{root}/status")).send().await
                && r.status().is_success()
            {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(ready, "chromedriver did not start");
        let binary = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect("chromium is not installed (the distribution's chromium package)");
        let session: Value = http
            .post(format!("{root}/session"))
            .json(&json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {"binary": binary, "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1100,1800", "--no-first-run", "--disable-extensions",
                    "--disable-background-networking", "--disable-sync", "--metrics-recording-only",
                    "--disable-default-apps", "--disable-component-update"
                ]}
            }}}))
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("session json");
        let id = session["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {session}"))
            .to_owned();
        Browser {
            http,
            base: format!("{root}/session/{id}"),
            _driver: driver,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let value: Value = req
            .send()
            .await
            .expect("webdriver")
            .json()
            .await
            .expect("json");
        value["value"].clone()
    }

    async fn go(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    async fn title(&self) -> String {
        self.call(reqwest::Method::GET, "/title", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn find(&self, css: &str) -> Option<String> {
        let found = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        found[ELEMENT].as_str().map(str::to_owned)
    }

    async fn text(&self, css: &str) -> String {
        let Some(id) = self.find(css).await else {
            return String::new();
        };
        self.call(reqwest::Method::GET, &format!("/element/{id}/text"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn click(&self, css: &str) {
        let id = self
            .find(css)
            .await
            .unwrap_or_else(|| panic!("no element {css}"));
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Waits (up to 20 s) until the element's text contains `needle`.
    async fn wait_for_text(&self, css: &str, needle: &str) -> String {
        let mut last = String::new();
        for _ in 0..80 {
            last = self.text(css).await;
            if last.contains(needle) {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("'{needle}' never appeared in {css}: {last}");
    }

    async fn screenshot(&self) -> Vec<u8> {
        let b64 = self.call(reqwest::Method::GET, "/screenshot", None).await;
        base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            b64.as_str().expect("png"),
        )
        .expect("base64")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The driver is killed with its process handle; the session goes with it.
    }
}

async fn admin(
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> (StatusCode, Value) {
    let root = base.trim_end_matches("/scim/v2");
    let resp = reqwest::Client::new()
        .request(method, format!("{root}/admin/v1{path}"))
        .bearer_auth(KEY)
        .json(&body)
        .send()
        .await
        .expect("admin");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_it_admin_connects_their_identity_provider_on_the_setup_page() {
    let config = Config {
        admin: AdminAccess::key(KEY),
        token_cache_ttl: Duration::ZERO,
        record_activity: true,
        ..Config::default()
    };
    let app = spawn_app_for(Backend::Memory, config, TenantSettings::default()).await;
    let base = app.base.clone();
    // The SaaS backend: a tenant and a setup link, through the admin API.
    let tenant = fresh_tenant_id();
    let (status, _) = admin(
        &base,
        reqwest::Method::POST,
        "/tenants",
        json!({"id": tenant.as_str()}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, link) = admin(
        &base,
        reqwest::Method::POST,
        &format!("/tenants/{tenant}/setup-links"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{link}");
    let url = link["url"].as_str().expect("url").to_owned();
    let link_id = link["id"].as_str().expect("id").to_owned();

    // The IT admin opens it.
    let browser = Browser::start().await;
    browser.go(&url).await;
    assert_eq!(browser.title().await, "Identity provider setup");
    let heading = browser.text("h1").await;
    assert!(heading.contains(tenant.as_str()), "{heading}");
    assert_eq!(browser.text("#scim-base-url").await, base);
    assert!(browser.find("#guide-okta summary").await.is_some());
    assert!(browser.find("#guide-entra summary").await.is_some());
    browser.click("#guide-entra summary").await;
    let guide = browser.text("#guide-entra").await;
    assert!(
        guide.contains("Tenant URL") || guide.contains("tenant URL"),
        "{guide}"
    );

    // Issues a token on the page: shown once.
    browser
        .click("section[aria-labelledby=\"token\"] > form button")
        .await;
    let token = browser
        .wait_for_text("#new-token", "scimlet_")
        .await
        .trim()
        .to_owned();
    assert!(token.starts_with("scimlet_"));

    // Their identity provider uses it.
    let client = reqwest::Client::new();
    let created = client
        .post(format!("{base}/Users"))
        .bearer_auth(&token)
        .json(&json!({"schemas": [USER_SCHEMA], "userName": "idp-test@example.com"}))
        .send()
        .await
        .expect("create");
    assert_eq!(created.status(), StatusCode::CREATED);
    let bad = client
        .post(format!("{base}/Users"))
        .bearer_auth(&token)
        .json(&json!({"schemas": [USER_SCHEMA], "userName": "x", "active": "perhaps"}))
        .send()
        .await
        .expect("bad create");
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    // The page's activity list shows both, refreshed by itself, with the error's cause.
    let rows = browser
        .wait_for_text("#activity-rows", "users.create")
        .await;
    assert!(rows.contains("201"), "{rows}");
    let rows = browser
        .wait_for_text("#activity-rows", "invalid_value")
        .await;
    assert!(rows.contains("400") && rows.contains("active"), "{rows}");
    assert!(
        !rows.contains("perhaps") && !rows.contains("idp-test"),
        "no values: {rows}"
    );

    let png = browser.screenshot().await;
    assert!(png.starts_with(b"\x89PNG"));
    let shot = concat!(env!("CARGO_MANIFEST_DIR"), "/target/setup-page.png");
    std::fs::write(shot, &png).expect("write the screenshot");

    // Revokes the token on the page: SCIM answers 401 to it.
    let token_id = token.split('_').nth(1).expect("id").to_owned();
    browser
        .click(&format!(
            "tr[data-token=\"{token_id}\"] form[action$=\"/revoke\"] button"
        ))
        .await;
    browser.wait_for_text("#tokens", "No token yet").await;
    let after = client
        .get(format!("{base}/Users"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("list");
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);

    // A forged link, and the link once revoked: clear pages, 404 and 410, no tenant data.
    let forged = format!("{}{}", &url[..url.len() - 4], "AAAA");
    browser.go(&forged).await;
    assert_eq!(browser.title().await, "Setup link not found");
    assert!(!browser.text("main").await.contains(tenant.as_str()));
    assert_eq!(
        client.get(&forged).send().await.expect("get").status(),
        StatusCode::NOT_FOUND
    );
    let (status, _) = admin(
        &base,
        reqwest::Method::DELETE,
        &format!("/tenants/{tenant}/setup-links/{link_id}"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    browser.go(&url).await;
    assert_eq!(browser.title().await, "Setup link revoked");
    assert_eq!(
        client.get(&url).send().await.expect("get").status(),
        StatusCode::GONE
    );
}

/// The page's protections, without a browser: state changes need the page's CSRF value and
/// this origin; expired links are gone; another tenant's token cannot be touched.
#[tokio::test]
async fn the_setup_page_refuses_forged_posts_expired_links_and_other_tenants_tokens() {
    let config = Config {
        admin: AdminAccess::key(KEY),
        ..Config::default()
    };
    let app = spawn_app_for(Backend::Memory, config, TenantSettings::default()).await;
    let base = app.base.clone();
    let (_, link) = admin(
        &base,
        reqwest::Method::POST,
        &format!("/tenants/{}/setup-links", app.tenant),
        json!({"validDays": 1}),
    )
    .await;
    let url = link["url"].as_str().expect("url").to_owned();
    let client = reqwest::Client::new();
    let page = client.get(&url).send().await.expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    let headers = page.headers().clone();
    let csp = headers["content-security-policy"].to_str().expect("csp");
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(headers["x-frame-options"], "DENY");
    let cookie = headers["set-cookie"].to_str().expect("cookie").to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let value = cookie.split(';').next().expect("pair").to_owned();
    let csrf = value.split_once('=').expect("=").1.to_owned();
    let html = page.text().await.expect("html");
    assert!(
        !html.contains("<script>") && !html.contains("style="),
        "no inline script or style"
    );
    let post = |path: String, cookie: Option<String>, origin: &str, form: String| {
        let client = client.clone();
        let origin = origin.to_owned();
        async move {
            let mut req = client
                .post(path)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("origin", origin)
                .body(form);
            if let Some(c) = cookie {
                req = req.header("cookie", c);
            }
            req.send().await.expect("post").status()
        }
    };
    let origin = base.trim_end_matches("/scim/v2").to_owned();
    let tokens = format!("{url}/tokens");
    // No cookie, a wrong value, another origin: refused, nothing issued.
    assert_eq!(
        post(tokens.clone(), None, &origin, format!("csrf={csrf}")).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(
            tokens.clone(),
            Some(value.clone()),
            &origin,
            "csrf=0000".into()
        )
        .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(
            tokens.clone(),
            Some(value.clone()),
            "https://evil.example",
            format!("csrf={csrf}")
        )
        .await,
        StatusCode::FORBIDDEN
    );
    let (_, listed) = admin(
        &base,
        reqwest::Method::GET,
        &format!("/tenants/{}/tokens", app.tenant),
        json!({}),
    )
    .await;
    assert_eq!(
        listed["tokens"].as_array().map(Vec::len),
        Some(1),
        "nothing was issued"
    );
    // With both: issued.
    assert_eq!(
        post(tokens, Some(value.clone()), &origin, format!("csrf={csrf}")).await,
        StatusCode::OK
    );
    // Another tenant's token cannot be revoked through this link.
    let other = app.other_tenant().await;
    let other_id = other.token.split('_').nth(1).expect("id").to_owned();
    let revoke = format!("{url}/tokens/{other_id}/revoke");
    assert_eq!(
        post(revoke, Some(value), &origin, format!("csrf={csrf}")).await,
        StatusCode::NOT_FOUND
    );
    let still = client
        .get(format!("{}/Users", other.base))
        .bearer_auth(&other.token)
        .send()
        .await
        .expect("get");
    assert_eq!(still.status(), StatusCode::OK);
    // An expired link is gone.
    let id = link["id"].as_str().expect("id");
    let mut stored = app
        .stores
        .admin
        .get_setup_link(id)
        .await
        .expect("read")
        .expect("link");
    stored.expires_at = scimlet::clock::now_unix() - 1;
    app.stores
        .admin
        .put_setup_link(&stored)
        .await
        .expect("expire it");
    let gone = client.get(&url).send().await.expect("get");
    assert_eq!(gone.status(), StatusCode::GONE);
    assert!(gone.text().await.expect("html").contains("expired"));
    // Links are kept hashed: the stored record does not contain the secret.
    let secret = url.rsplit('.').next().expect("secret");
    assert!(!format!("{stored:?}").contains(secret));
}
