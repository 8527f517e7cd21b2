//! Store failures and bugs become SCIM errors: throttling → 429 with `Retry-After`, an outage
//! → an opaque 500, a panic inside a request → a 500 (and the server keeps serving).

use std::sync::Arc;

use crate::helpers::{Stores, TestApp, USER_SCHEMA, fresh_tenant_id, serve_on_port_0};
use async_trait::async_trait;
use reqwest::Method;
use scimlet::domain::ResourceKind;
use scimlet::domain::UniqueValue;
use scimlet::domain::{Link, MemberRef, Resource, TenantId};
use scimlet::store::memory::MemoryStore;
use scimlet::store::{
    Applied, Directory, Linked, PageAnchor, ResourcePage, ResourceStore, StoreError, Write,
};
use scimlet::{App, Config, admin};
use serde_json::json;

/// How the broken store fails.
#[derive(Clone, Copy)]
enum Failure {
    Throttle,
    Outage,
    Panic,
}

/// A resource store whose every call fails in one way.
struct BrokenStore(Failure);

impl BrokenStore {
    fn fail<T>(&self) -> Result<T, StoreError> {
        match self.0 {
            Failure::Throttle => Err(StoreError::Throttled),
            Failure::Outage => Err(StoreError::backend("connection reset by peer")),
            Failure::Panic => panic!("a bug in the store"),
        }
    }
}

#[async_trait]
impl ResourceStore for BrokenStore {
    async fn get(
        &self,
        _: &TenantId,
        _: ResourceKind,
        _: &str,
    ) -> Result<Option<Resource>, StoreError> {
        self.fail()
    }
    async fn get_many(&self, _: &TenantId, _: &[MemberRef]) -> Result<Vec<Resource>, StoreError> {
        self.fail()
    }
    async fn get_linked(
        &self,
        _: &TenantId,
        _: ResourceKind,
        _: &str,
        _: usize,
    ) -> Result<Option<Linked>, StoreError> {
        self.fail()
    }
    async fn memberships(
        &self,
        _: &TenantId,
        _: &str,
        _: &[MemberRef],
    ) -> Result<Vec<Link>, StoreError> {
        self.fail()
    }
    async fn groups_of(&self, _: &TenantId, _: &MemberRef) -> Result<Vec<MemberRef>, StoreError> {
        self.fail()
    }
    async fn apply(&self, _: &TenantId, _: &Write) -> Result<Applied, StoreError> {
        self.fail()
    }
    async fn get_deleted(
        &self,
        _: &TenantId,
        _: ResourceKind,
        _: &str,
    ) -> Result<Option<Resource>, StoreError> {
        self.fail()
    }
    async fn page_anchor(
        &self,
        _: &TenantId,
        _: ResourceKind,
        _: &str,
        _: u64,
    ) -> Result<Option<PageAnchor>, StoreError> {
        self.fail()
    }
    async fn put_page_anchor(
        &self,
        _: &TenantId,
        _: ResourceKind,
        _: &str,
        _: &PageAnchor,
    ) -> Result<(), StoreError> {
        self.fail()
    }
    async fn find_unique(
        &self,
        _: &TenantId,
        _: ResourceKind,
        _: &UniqueValue,
    ) -> Result<Option<String>, StoreError> {
        self.fail()
    }
    async fn list(
        &self,
        _: &TenantId,
        _: ResourceKind,
        _: Option<&str>,
        _: usize,
    ) -> Result<ResourcePage, StoreError> {
        self.fail()
    }
    async fn find_indexed(
        &self,
        _: &TenantId,
        _: ResourceKind,
        _: &UniqueValue,
        _: usize,
    ) -> Result<Vec<String>, StoreError> {
        self.fail()
    }
    async fn index_lookups(
        &self,
        _: &TenantId,
        _: ResourceKind,
        _: &str,
        _: scimlet::domain::Version,
        _: &[UniqueValue],
    ) -> Result<(), StoreError> {
        self.fail()
    }
    async fn record_activity(
        &self,
        _: &TenantId,
        _: &scimlet::domain::ActivityEntry,
    ) -> Result<(), StoreError> {
        self.fail()
    }
    async fn recent_activity(
        &self,
        _: &TenantId,
        _: usize,
    ) -> Result<Vec<scimlet::domain::ActivityEntry>, StoreError> {
        self.fail()
    }
    async fn take_request_slot(&self, _: &TenantId, _: i64, _: u32) -> Result<bool, StoreError> {
        self.fail()
    }
    async fn count(&self, _: &TenantId, _: ResourceKind) -> Result<u64, StoreError> {
        self.fail()
    }
    async fn purge(&self, _: &TenantId, _: usize) -> Result<bool, StoreError> {
        self.fail()
    }
}

async fn spawn_broken(failure: Failure) -> TestApp {
    let directory = MemoryStore::new();
    let tenant = fresh_tenant_id();
    admin::create_tenant(&directory, &tenant).await.unwrap();
    let token = admin::issue(&directory, &tenant, None, None)
        .await
        .unwrap()
        .token;
    let broken: Arc<dyn ResourceStore> = Arc::new(BrokenStore(failure));
    let directory: Arc<dyn Directory> = Arc::new(directory);
    let app = App::new(Config::default(), broken.clone(), directory.clone());
    let (base, shutdown) = serve_on_port_0(app).await;
    let stores = Stores {
        resources: broken,
        directory: directory.clone(),
        admin: directory,
    };
    TestApp::new_for_test(base, token, tenant, stores, shutdown)
}

#[tokio::test]
async fn throttling_becomes_429_with_retry_after() {
    let app = spawn_broken(Failure::Throttle).await;
    let reply = app
        .request(
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER_SCHEMA], "userName": "x"})),
        )
        .await;
    reply.assert_error(429, None);
    assert_eq!(reply.header("retry-after"), Some("1"));
    app.request(Method::GET, "/Users", None)
        .await
        .assert_error(429, None);
}

#[tokio::test]
async fn outages_become_opaque_500s() {
    let app = spawn_broken(Failure::Outage).await;
    let reply = app
        .request(
            Method::GET,
            "/Users/0190c5a2-7b3e-7c1d-9f00-123456789012",
            None,
        )
        .await;
    reply.assert_error(500, None);
    assert_eq!(reply.body["detail"], "internal server error");
}

#[tokio::test]
async fn a_panic_in_a_request_is_a_500_and_the_server_lives_on() {
    let app = spawn_broken(Failure::Panic).await;
    for _ in 0..2 {
        let reply = app
            .request(
                Method::GET,
                "/Users/0190c5a2-7b3e-7c1d-9f00-123456789012",
                None,
            )
            .await;
        reply.assert_error(500, None);
    }
    // Authentication (the directory) still works: a bad token is still a 401.
    let unauthenticated = app
        .client
        .get(format!("{}/Users", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
}

/// Log lines written by the process, for the tests that check what is logged.
fn captured_logs() -> Arc<std::sync::Mutex<Vec<u8>>> {
    static LOGS: std::sync::OnceLock<Arc<std::sync::Mutex<Vec<u8>>>> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = Arc::clone(&logs);
        // As verbose as an operator can make the binaries (`SCIMLET_LOG=trace`), through the
        // same filter they install.
        use tracing_subscriber::layer::SubscriberExt;
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(move || LogSink(Arc::clone(&sink)));
        let subscriber =
            tracing_subscriber::registry().with(tracing_subscriber::Layer::with_filter(
                layer,
                scimlet::logging::filter(Some("trace"), "trace"),
            ));
        tracing::subscriber::set_global_default(subscriber).expect("no other subscriber");
        logs
    })
    .clone()
}

struct LogSink(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_500_inside_bulk_is_logged_like_a_500_outside_it() {
    let logs = captured_logs();
    let app = spawn_broken(Failure::Outage).await;
    let reply = app
        .request(
            Method::POST,
            "/Bulk",
            Some(
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                "Operations": [{"method": "POST", "path": "/Users", "bulkId": "a",
                    "data": {"schemas": [USER_SCHEMA], "userName": "secret-person@example.com"}}]}),
            ),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    assert_eq!(
        reply.body["Operations"][0]["status"], "500",
        "{}",
        reply.body
    );
    let text = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("bulk operation failed") && l.contains(app.tenant.as_str()))
        .unwrap_or_else(|| panic!("no log line for the failed operation in:\n{text}"));
    assert!(line.contains("ERROR"), "{line}");
    assert!(line.contains("connection reset by peer"), "{line}");
    assert!(line.contains("operation=0"), "{line}");
    // Names and causes, never the people's values.
    assert!(!text.contains("secret-person"), "{text}");
}

#[tokio::test]
async fn a_4xx_log_line_names_the_attribute_but_never_the_value() {
    let logs = captured_logs();
    let (_store, tenant, issued, base, _shutdown) = serve_memory(None).await;
    let client = reqwest::Client::new();
    let created = client
        .post(format!("{base}/Users"))
        .bearer_auth(&issued.token)
        .json(
            &json!({"schemas": [USER_SCHEMA], "userName": "someone@example.com",
            "emails": [{"value": "someone@example.com", "type": "work"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);
    let id = created.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A replace through a value filter that matches nothing: 400 noTarget about `emails`; the
    // filter's value must not reach the log.
    let reply = client
        .patch(format!("{base}/Users/{id}"))
        .bearer_auth(&issued.token)
        .json(&json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "emails[value eq \"hidden-value@example.com\"].type",
                "value": "home"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status().as_u16(), 400);
    let text = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    let line = text
        .lines()
        .find(|l| {
            l.contains("users.patch") && l.contains(tenant.as_str()) && l.contains("status=400")
        })
        .unwrap_or_else(|| panic!("no request line in:\n{text}"));
    assert!(line.contains("scim_type=\"noTarget\""), "{line}");
    assert!(line.contains("attribute=\"emails\""), "{line}");
    assert!(!text.contains("hidden-value"), "{text}");
}

/// A server on a fresh memory store with one tenant and a token valid for `valid_days`.
async fn serve_memory(
    valid_days: Option<u32>,
) -> (
    Arc<MemoryStore>,
    TenantId,
    scimlet::auth::IssuedToken,
    String,
    tokio::sync::oneshot::Sender<()>,
) {
    let store = Arc::new(MemoryStore::new());
    let tenant = fresh_tenant_id();
    admin::create_tenant(store.as_ref(), &tenant).await.unwrap();
    let issued = admin::issue(store.as_ref(), &tenant, None, valid_days)
        .await
        .unwrap();
    let app = App::new(Config::default(), store.clone(), store.clone());
    let (base, shutdown) = serve_on_port_0(app).await;
    (store, tenant, issued, base, shutdown)
}

#[tokio::test]
async fn a_token_used_close_to_its_expiry_is_warned_about_and_its_use_recorded() {
    let logs = captured_logs();
    let (store, tenant, issued, base, _shutdown) = serve_memory(Some(10)).await;
    let client = reqwest::Client::new();
    for _ in 0..2 {
        let r = client
            .get(format!("{base}/Users"))
            .bearer_auth(&issued.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let record = store.get_token(&issued.record.id).await.unwrap().unwrap();
    assert!(record.last_used.is_some());
    let text = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    let warnings: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("expires soon") && l.contains(&issued.record.id))
        .collect();
    // Once (not per request), naming tenant and token id, never the secret.
    assert_eq!(warnings.len(), 1, "{text}");
    assert!(warnings[0].contains("WARN") && warnings[0].contains(tenant.as_str()));
    assert!(!text.contains(&issued.token), "{text}");
}

#[tokio::test]
async fn the_request_line_names_the_token_and_the_reason_but_no_values() {
    let logs = captured_logs();
    let (_, tenant, issued, base, _shutdown) = serve_memory(None).await;
    let r = reqwest::Client::new()
        .post(format!("{base}/Users"))
        .bearer_auth(&issued.token)
        .header("content-type", "application/scim+json")
        .body(r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"  "}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let text = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("request") && l.contains(tenant.as_str()) && l.contains("400"))
        .unwrap_or_else(|| panic!("no request line in:\n{text}"));
    for expected in [
        issued.record.id.as_str(),
        "users.create",
        "invalidValue",
        "invalid_value",
    ] {
        assert!(line.contains(expected), "{expected} in {line}");
    }
    assert!(!text.contains(&issued.token), "{text}");
}

/// Everything a request carries that identifies a person or grants access stays out of the
/// logs, at the most verbose level, on DynamoDB (whose SDK logs too): tokens and secrets,
/// passwords, attribute values, filter values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_secret_or_personal_is_logged_at_any_level() {
    let logs = captured_logs();
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Dynamo).await;
    let secret = app.token.rsplit('_').next().unwrap().to_owned();
    let forged = app
        .token
        .replace(&secret, "WRONG-SECRET-guess-0000000000000000000000");
    let client = reqwest::Client::new();
    for token in [forged.as_str(), "scimlet_0000000000000000_nope", "garbage"] {
        let r = client
            .get(format!("{}/Users", app.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let user = app
        .create_user(
            "alice.private@example.com",
            json!({"password": "Sup3r-Secret-Pw!", "externalId": "ext-PRIVATE-42",
                "name": {"familyName": "Privatesurname"}}),
        )
        .await;
    let path = format!("/Users/{}", user["id"].as_str().unwrap());
    app.list_users(&[(
        "filter",
        "userName eq \"alice.private@example.com\" or emails co \"FILTER-PRIVATE\"",
    )])
    .await;
    app.request(
        Method::PATCH,
        &path,
        Some(
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "emails[value eq \"PATCH-PRIVATE\"].value",
                "value": "new-PRIVATE@example.com"}]}),
        ),
    )
    .await
    .assert_error(400, Some("noTarget"));
    app.request(
        Method::PATCH,
        &path,
        Some(
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "userName", "value": "  "}]}),
        ),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    let text = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("request"),
        "the request lines were captured:\n{text}"
    );
    for private in [
        app.token.as_str(),
        secret.as_str(),
        "WRONG-SECRET",
        "Sup3r-Secret-Pw!",
        "alice.private",
        "ext-PRIVATE-42",
        "Privatesurname",
        "FILTER-PRIVATE",
        "PATCH-PRIVATE",
        "new-PRIVATE",
    ] {
        assert!(
            !text.contains(private),
            "'{private}' is in the logs:\n{text}"
        );
    }
}
