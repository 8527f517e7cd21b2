//! Test harness: a real `scimlet` server on port 0 over either store, with a fresh tenant and
//! token per test, and helpers that make tests read as intent.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use scimlet::admin;
use scimlet::domain::{TenantId, TenantSettings};
use scimlet::store::dynamo::{CallCounter, DynamoStore, connect_local, create_table};
use scimlet::store::memory::MemoryStore;
use scimlet::store::{Directory, ResourceStore};
use scimlet::{App, Config};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// The SCIM media type.
pub const SCIM: &str = "application/scim+json";
/// The core User schema URN.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The table the tests share on DynamoDB Local.
pub const TEST_TABLE: &str = "scimlet-test";

/// Which store a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded store.
    Memory,
    /// DynamoDB Local, at `SCIMLET_DYNAMODB_ENDPOINT`.
    Dynamo,
}

/// Runs the listed `async fn name(backend: Backend)` tests once per store, as
/// `memory::name` and `dynamo::name`.
#[macro_export]
macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Memory).await
                }
            )*
        }
        mod dynamo {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Dynamo).await
                }
            )*
        }
    };
}

/// The stores a test needs: both traits as the server sees them, and the directory as an
/// operator sees it (for setting up tenants and tokens).
pub struct Stores {
    /// Tenant-scoped resources (the function's principal on DynamoDB).
    pub resources: Arc<dyn ResourceStore>,
    /// Tenants and tokens, as the server reads them (the function's principal).
    pub directory: Arc<dyn Directory>,
    /// Tenants and tokens, as the CLI administers them (the operator's principal).
    pub admin: Arc<dyn Directory>,
}

/// The principals of the test run's IAM proxy (see ARCHITECTURE.md, "IAM in the test run").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    /// The Lambda function's role, from `template.yaml`.
    Function,
    /// The template's `OperatorPolicy` (the CLI's commands).
    Operator,
    /// The deployer: may do anything (creates tables).
    Admin,
    /// The change-event pipe's role, from `template.yaml` (reads the table's stream).
    Pipe,
    /// May do nothing (for tests that prove denials).
    Nobody,
}

impl Principal {
    /// The access key id naming this principal acting on `table`.
    pub fn access_key(self, table: &str) -> String {
        let name = match self {
            Principal::Function => "function",
            Principal::Operator => "operator",
            Principal::Admin => "admin",
            Principal::Pipe => "pipe",
            Principal::Nobody => "nobody",
        };
        format!("{name}.{table}")
    }
}

/// Endpoint of DynamoDB Local behind the IAM proxy. Tests never skip: without it, they fail
/// and say why.
pub fn dynamodb_endpoint() -> String {
    let hint = "run the tests with infra/test.sh, which starts DynamoDB Local behind the IAM \
                proxy that enforces template.yaml's policies";
    let endpoint = std::env::var("SCIMLET_DYNAMODB_ENDPOINT")
        .unwrap_or_else(|_| panic!("SCIMLET_DYNAMODB_ENDPOINT is not set: {hint}"));
    assert!(
        std::env::var_os("SCIMLET_TEST_IAM_PROXY").is_some(),
        "SCIMLET_DYNAMODB_ENDPOINT is not the IAM proxy: {hint}"
    );
    endpoint
}

/// A DynamoDB store on `table` acting as `principal`.
pub async fn dynamo_store_as(principal: Principal, table: &str) -> DynamoStore {
    let client = connect_local(&dynamodb_endpoint(), &principal.access_key(table)).await;
    DynamoStore::new(client, table)
}

/// Creates `table` (as the deployer) if it does not exist yet.
pub async fn ensure_table(table: &str) {
    let admin = dynamo_store_as(Principal::Admin, table).await;
    create_table(admin.client(), table)
        .await
        .expect("create the test table on DynamoDB Local");
}

/// The function's DynamoDB store on the shared test table, created if needed.
pub async fn dynamo_store() -> DynamoStore {
    ensure_table(TEST_TABLE).await;
    dynamo_store_as(Principal::Function, TEST_TABLE).await
}

/// Fresh stores for a backend.
pub async fn stores(backend: Backend) -> Stores {
    match backend {
        Backend::Memory => {
            let s = MemoryStore::new();
            Stores {
                resources: Arc::new(s.clone()),
                directory: Arc::new(s.clone()),
                admin: Arc::new(s),
            }
        }
        Backend::Dynamo => {
            let s = dynamo_store().await;
            let operator = dynamo_store_as(Principal::Operator, TEST_TABLE).await;
            Stores {
                resources: Arc::new(s.clone()),
                directory: Arc::new(s),
                admin: Arc::new(operator),
            }
        }
    }
}

/// A unique tenant id for one test.
pub fn fresh_tenant_id() -> TenantId {
    let id = uuid::Uuid::new_v4().simple().to_string();
    TenantId::new(format!("t-{}", &id[..16])).expect("valid tenant id")
}

/// A running server with one tenant and its token.
pub struct TestApp {
    /// `http://127.0.0.1:<port>/scim/v2`
    pub base: String,
    /// A valid bearer token of `tenant`.
    pub token: String,
    /// The tenant of `token`.
    pub tenant: TenantId,
    /// The stores behind the server.
    pub stores: Stores,
    /// HTTP client.
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Starts a server on `backend` with the default configuration.
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, Config::default()).await
}

/// Starts a server on `backend` with `config`.
pub async fn spawn_app_with(backend: Backend, config: Config) -> TestApp {
    spawn_app_for(backend, config, TenantSettings::default()).await
}

/// Starts a server on `backend` with `config`, for a tenant with `settings`.
pub async fn spawn_app_for(backend: Backend, config: Config, settings: TenantSettings) -> TestApp {
    spawn_on(stores(backend).await, config, settings).await
}

/// Starts a server on DynamoDB Local whose calls are counted (warm its token before counting:
/// the first request reads the token and the tenant).
pub async fn spawn_counted_app(config: Config) -> (TestApp, Arc<CallCounter>) {
    let counter = Arc::new(CallCounter::default());
    let counted = dynamo_store().await.counted(counter.clone());
    let stores = Stores {
        resources: Arc::new(counted.clone()),
        directory: Arc::new(counted),
        admin: Arc::new(dynamo_store_as(Principal::Operator, TEST_TABLE).await),
    };
    (
        spawn_on(stores, config, TenantSettings::default()).await,
        counter,
    )
}

/// Starts a server over `stores` with a fresh tenant and token.
pub async fn spawn_on(stores: Stores, config: Config, settings: TenantSettings) -> TestApp {
    let tenant = fresh_tenant_id();
    admin::create_tenant_with(stores.admin.as_ref(), &tenant, settings)
        .await
        .expect("create tenant");
    let token = admin::issue(stores.admin.as_ref(), &tenant, None, Some(1))
        .await
        .expect("issue token")
        .token;
    let app = App::new(config, stores.resources.clone(), stores.directory.clone());
    let (base, shutdown) = serve_on_port_0(app).await;
    TestApp {
        base,
        token,
        tenant,
        stores,
        client: reqwest::Client::new(),
        shutdown: Some(shutdown),
    }
}

/// Serves `app` on a free loopback port; returns its SCIM base URL and the shutdown switch.
pub async fn serve_on_port_0(app: App) -> (String, oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(scimlet::http::serve::serve(listener, app, async {
        let _ = rx.await;
    }));
    (format!("http://127.0.0.1:{port}/scim/v2"), tx)
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// Body parsed as JSON (`Value::Null` when empty).
    pub body: Value,
}

impl Reply {
    /// A header as a string.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an RFC 7644 §3.12 error with this status and `scimType`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, scim_type: Option<&str>) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(
            self.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
            "{}",
            self.body
        );
        assert_eq!(self.body["status"], status.to_string(), "{}", self.body);
        assert_eq!(
            self.body.get("scimType").and_then(Value::as_str),
            scim_type,
            "{}",
            self.body
        );
        assert_eq!(self.header("content-type"), Some(SCIM));
    }
}

impl TestApp {
    /// A handle on a server started by the caller (see [`serve_on_port_0`]).
    pub fn new_for_test(
        base: String,
        token: String,
        tenant: TenantId,
        stores: Stores,
        shutdown: oneshot::Sender<()>,
    ) -> TestApp {
        TestApp {
            base,
            token,
            tenant,
            stores,
            client: reqwest::Client::new(),
            shutdown: Some(shutdown),
        }
    }

    /// The same server with a token of a second, new tenant.
    pub async fn other_tenant(&self) -> TestApp {
        let tenant = fresh_tenant_id();
        admin::create_tenant(self.stores.admin.as_ref(), &tenant)
            .await
            .expect("create tenant");
        let token = admin::issue(self.stores.admin.as_ref(), &tenant, None, Some(1))
            .await
            .expect("issue token")
            .token;
        TestApp {
            base: self.base.clone(),
            token,
            tenant,
            stores: Stores {
                resources: self.stores.resources.clone(),
                directory: self.stores.directory.clone(),
                admin: self.stores.admin.clone(),
            },
            client: self.client.clone(),
            shutdown: None,
        }
    }

    /// Sends a request with this app's token. `path` is relative to the SCIM base.
    pub async fn request(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.request_with(method, path, body, &[]).await
    }

    /// Sends a request with extra headers.
    pub async fn request_with(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req
                .header("content-type", SCIM)
                .body(serde_json::to_vec(&body).expect("json"));
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        read(req.send().await.expect("send")).await
    }

    /// `POST /Users` with a minimal body plus `extra` attributes; asserts 201.
    pub async fn create_user(&self, user_name: &str, extra: Value) -> Value {
        let mut body = json!({"schemas": [USER_SCHEMA], "userName": user_name});
        if let (Some(map), Value::Object(extra)) = (body.as_object_mut(), extra) {
            map.extend(extra);
        }
        let reply = self.request(Method::POST, "/Users", Some(body)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body
    }

    /// `GET /Users?…` (the query is form-encoded); asserts 200.
    /// Creates `n` users named `<prefix><i>@example.com`; returns their ids in order.
    pub async fn create_users(&self, prefix: &str, n: usize) -> Vec<String> {
        let mut ids = Vec::with_capacity(n);
        for i in 0..n {
            let user = self
                .create_user(&format!("{prefix}{i}@example.com"), json!({}))
                .await;
            ids.push(user["id"].as_str().expect("id").to_owned());
        }
        ids
    }

    pub async fn list_users(&self, query: &[(&str, &str)]) -> Value {
        self.list("/Users", query).await
    }

    /// `GET /Groups?…` (the query is form-encoded); asserts 200.
    pub async fn list_groups(&self, query: &[(&str, &str)]) -> Value {
        self.list("/Groups", query).await
    }

    async fn list(&self, endpoint: &str, query: &[(&str, &str)]) -> Value {
        let encoded: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query)
            .finish();
        let reply = self
            .request(Method::GET, &format!("{endpoint}?{encoded}"), None)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body
    }
}

/// Reads a response.
pub async fn read(response: reqwest::Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("response is not JSON: {}", String::from_utf8_lossy(&bytes)))
    };
    Reply {
        status,
        headers,
        body,
    }
}

/// The member ids a rendered group shows, sorted (none when it shows no `members`).
pub fn member_ids(group: &Value) -> Vec<String> {
    let mut ids: Vec<String> = group
        .get("members")
        .and_then(Value::as_array)
        .map(|m| {
            m.iter()
                .map(|x| x["value"].as_str().expect("value").to_owned())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}
