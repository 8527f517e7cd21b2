//! The scale benchmark (not a timed test): `scimlet serve`'s request handling, in process, over
//! HTTP, on the memory store or DynamoDB Local, at two directory sizes. Results go in
//! BENCHMARKS.md.
//!
//! ```sh
//! cargo bench --bench scale -- --store memory --small 1000 --large 100000
//! cargo bench --bench scale -- --store dynamodb --small 200 --large 2000   # DynamoDB Local
//! cargo bench --bench scale -- --store dynamodb --limits ...   # with what AWS runs with
//! (`--rate-limit` or `--activity` alone: one of the two)
//! ```
//!
//! `--limits` turns on what the deployed function does per request beside the operation (off
//! by default, so the per-operation figures stay comparable): the per-tenant rate limit (one
//! conditional write per request; set high enough never to refuse) and the recent-activity
//! entries (one write per error, and per operation and minute).
//!
//! The server runs on its own runtime, whose threads (workers and blocking pool) are named
//! `scimlet-serve`: their CPU time, read from `/proc/self/task/*/schedstat`, divided by the
//! requests of a step is the server's CPU per request, apart from the client's. On DynamoDB
//! the store's calls and items read are counted by an interceptor on its client. Per step:
//! requests/s, p50/p99 latency, CPU per request, DynamoDB calls and items read per request.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Client, Method, StatusCode};
use scimlet::domain::TenantId;
use scimlet::store::dynamo::{CallCounter, DynamoStore, connect_local, create_table};
use scimlet::store::memory::MemoryStore;
use scimlet::store::{Directory, ResourceStore};
use scimlet::{App, Config, admin};
use serde_json::{Value, json};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

struct Options {
    store: String,
    small: usize,
    large: usize,
    rounds: usize,
    endpoint: Option<String>,
    /// The per-tenant rate limit on.
    rate_limit: bool,
    /// Recent-activity entries on.
    activity: bool,
}

fn options() -> Options {
    let mut o = Options {
        store: "memory".into(),
        small: 1000,
        large: 100_000,
        rounds: 20,
        endpoint: std::env::var("SCIMLET_DYNAMODB_ENDPOINT").ok(),
        rate_limit: false,
        activity: false,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().cloned().unwrap_or_default();
        match arg.as_str() {
            "--store" => o.store = value(),
            "--small" => o.small = value().parse().expect("--small N"),
            "--large" => o.large = value().parse().expect("--large N"),
            "--rounds" => o.rounds = value().parse().expect("--rounds N"),
            "--dynamodb-endpoint" => o.endpoint = Some(value()),
            "--limits" => {
                o.rate_limit = true;
                o.activity = true;
            }
            "--rate-limit" => o.rate_limit = true,
            "--activity" => o.activity = true,
            _ => {} // cargo bench passes its own flags (--bench)
        }
    }
    o
}

/// CPU time of the server's threads so far.
fn server_cpu() -> Duration {
    let mut total = 0u64;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            if !comm.starts_with("scimlet-serve") {
                continue;
            }
            if let Ok(stat) = std::fs::read_to_string(task.path().join("schedstat")) {
                total += stat
                    .split_whitespace()
                    .next()
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
    }
    Duration::from_nanos(total)
}

struct Bench {
    client: Client,
    base: String,
    token: String,
    counter: Option<Arc<CallCounter>>,
    rows: Vec<String>,
}

struct Step {
    name: String,
    latencies: Vec<Duration>,
    started: Instant,
    cpu: Duration,
}

impl Bench {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(serde_json::to_vec(&body).expect("json"));
        }
        let resp = req.send().await.expect("send");
        let status = resp.status();
        let bytes = resp.bytes().await.expect("body");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    fn start(&self, name: impl Into<String>) -> Step {
        if let Some(c) = &self.counter {
            c.reset();
        }
        Step {
            name: name.into(),
            latencies: Vec::new(),
            started: Instant::now(),
            cpu: server_cpu(),
        }
    }

    async fn timed(
        &self,
        step: &mut Step,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let t = Instant::now();
        let (status, value) = self.call(method, path, body).await;
        step.latencies.push(t.elapsed());
        assert!(
            status.is_success(),
            "{}: {path}: {status} {value}",
            step.name
        );
        value
    }

    fn finish(&mut self, mut step: Step) {
        let n = step.latencies.len().max(1);
        let wall = step.started.elapsed();
        let cpu = server_cpu().saturating_sub(step.cpu);
        step.latencies.sort();
        let pct = |p: f64| step.latencies[((n as f64 - 1.0) * p) as usize];
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let (calls, items) = match &self.counter {
            Some(c) => {
                let s = c.snapshot();
                (
                    format!("{:.1}", s.total() as f64 / n as f64),
                    format!("{:.1}", s.items_read as f64 / n as f64),
                )
            }
            None => ("–".into(), "–".into()),
        };
        let row = format!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {:.3} | {} | {} |",
            step.name,
            step.latencies.len(),
            n as f64 / wall.as_secs_f64(),
            ms(pct(0.5)),
            ms(pct(0.99)),
            ms(cpu) / n as f64,
            calls,
            items
        );
        println!("{row}");
        self.rows.push(row);
    }

    /// Creates users through `/Bulk` (100 a request), untimed; returns their ids.
    async fn seed_users(&self, prefix: &str, n: usize) -> Vec<String> {
        let mut ids = Vec::with_capacity(n);
        for start in (0..n).step_by(100) {
            let ops: Vec<Value> = (start..(start + 100).min(n))
                .map(|i| {
                    json!({"method": "POST", "path": "/Users", "bulkId": format!("b{i}"),
                        "data": {"schemas": [USER], "userName": format!("{prefix}{i}@example.com"),
                            "emails": [{"value": format!("{prefix}{i}@example.com"), "type": "work"}]}})
                })
                .collect();
            let (status, body) = self
                .call(
                    Method::POST,
                    "/Bulk",
                    Some(json!({"schemas": [BULK], "Operations": ops})),
                )
                .await;
            assert!(status.is_success(), "bulk: {status} {body}");
            for op in body["Operations"].as_array().expect("operations") {
                let location = op["location"].as_str().expect("created");
                ids.push(location.rsplit('/').next().expect("id").to_owned());
            }
        }
        ids
    }

    async fn group_with(&self, name: &str, members: &[String]) -> String {
        let (status, body) = self
            .call(
                Method::POST,
                "/Groups",
                Some(json!({"schemas": [GROUP], "displayName": name})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let id = body["id"].as_str().expect("id").to_owned();
        for chunk in members.chunks(1000) {
            let values: Vec<Value> = chunk.iter().map(|m| json!({"value": m})).collect();
            let (status, body) = self
                .call(
                    Method::PATCH,
                    &format!("/Groups/{id}?excludedAttributes=members"),
                    Some(add_members(values)),
                )
                .await;
            assert!(status.is_success(), "{body}");
        }
        id
    }
}

fn add_members(values: Vec<Value>) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": values}]})
}

/// One directory size: every step.
async fn run_size(b: &mut Bench, label: &str, n: usize) {
    println!("\n### {label}: {n} users\n");
    println!(
        "| step | requests | req/s | p50 ms | p99 ms | server CPU ms/req | DynamoDB calls/req | items read/req |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let creates = n.min(500);
    let mut step = b.start(format!("create user ({label})"));
    let mut ids = Vec::new();
    for i in 0..creates {
        let body = json!({"schemas": [USER], "userName": format!("{label}-c{i}@example.com"),
            "emails": [{"value": format!("{label}-c{i}@example.com"), "type": "work"}]});
        let v = b.timed(&mut step, Method::POST, "/Users", Some(body)).await;
        ids.push(v["id"].as_str().expect("id").to_owned());
    }
    b.finish(step);
    ids.extend(b.seed_users(&format!("{label}-s"), n - creates).await);
    let sample: Vec<String> = ids
        .iter()
        .step_by((n / 300).max(1))
        .take(300)
        .cloned()
        .collect();

    let mut step = b.start(format!("get user ({label})"));
    for id in &sample {
        b.timed(&mut step, Method::GET, &format!("/Users/{id}"), None)
            .await;
    }
    b.finish(step);

    let mut step = b.start(format!("userName eq ({label})"));
    for i in (0..creates).step_by((creates / 300).max(1)).take(300) {
        let q = format!("/Users?filter=userName%20eq%20%22{label}-c{i}%40example.com%22");
        b.timed(&mut step, Method::GET, &q, None).await;
    }
    b.finish(step);

    if n <= 10_000 {
        let mut step = b.start(format!("emails co (non-indexed, {label})"));
        for _ in 0..20 {
            let q = "/Users?filter=emails%20co%20%22-c7%40%22&count=10";
            b.timed(&mut step, Method::GET, q, None).await;
        }
        b.finish(step);
    }

    let mut step = b.start(format!(
        "list page of 100 by startIndex, full walk ({label})"
    ));
    let mut start = 1;
    loop {
        let q = format!("/Users?startIndex={start}&count=100&excludedAttributes=groups");
        let v = b.timed(&mut step, Method::GET, &q, None).await;
        let got = v["itemsPerPage"].as_u64().unwrap_or(0) as usize;
        if got == 0 {
            break;
        }
        start += got;
    }
    assert_eq!(start - 1, n, "the walk visits everyone");
    b.finish(step);

    let mut step = b.start(format!("PATCH user ({label})"));
    for (i, id) in sample.iter().enumerate() {
        let body = json!({"schemas": [PATCH_OP], "Operations": [
            {"op": "replace", "path": "displayName", "value": format!("Name {i}")}]});
        b.timed(
            &mut step,
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(body),
        )
        .await;
    }
    b.finish(step);

    // A group of (nearly) everyone, then single-member adds into it.
    let group_size = n - 200;
    let group = b
        .group_with(&format!("Everyone {label}"), &ids[..group_size])
        .await;
    // The last 20 adds of the small size (and 160 changes after them) answer with the whole
    // group (980 to 1,000 members).
    let shown = if n <= 1000 { 20 } else { 0 };
    let (quiet, loud) = ids[group_size..].split_at(ids.len() - group_size - shown);
    let mut step = b.start(format!(
        "PATCH group: add 1 member to a group of {group_size}"
    ));
    for id in quiet {
        let path = format!("/Groups/{group}?excludedAttributes=members");
        b.timed(
            &mut step,
            Method::PATCH,
            &path,
            Some(add_members(vec![json!({"value": id})])),
        )
        .await;
    }
    b.finish(step);
    if !loud.is_empty() {
        let mut step = b.start(format!(
            "PATCH group: add or remove 1 member, the answer shows all {} to {} members",
            n - shown,
            n
        ));
        // Adds, then 4 rounds of removing and adding the same 20 again.
        let path = format!("/Groups/{group}");
        for round in 0..9 {
            for id in loud {
                let body = if round % 2 == 0 {
                    add_members(vec![json!({"value": id})])
                } else {
                    json!({"schemas": [PATCH_OP], "Operations": [
                        {"op": "remove", "path": format!("members[value eq \"{id}\"]")}]})
                };
                let v = b.timed(&mut step, Method::PATCH, &path, Some(body)).await;
                assert!(v["members"].is_array(), "the answer shows the members");
            }
        }
        b.finish(step);
    }

    let mut step = b.start(format!("page of 100 users with their groups ({label})"));
    for _ in 0..100 {
        b.timed(&mut step, Method::GET, "/Users?count=100", None)
            .await;
    }
    b.finish(step);

    let mut step = b.start(format!("delete user ({label})"));
    for id in sample.iter().take(200) {
        b.timed(&mut step, Method::DELETE, &format!("/Users/{id}"), None)
            .await;
    }
    b.finish(step);
}

/// 50 concurrent single-member adds to one group, `rounds` times: every change must land.
async fn concurrency(b: &mut Bench, rounds: usize) {
    let members = b.seed_users("concurrent", 50).await;
    let mut all_landed = 0;
    let mut step = b.start(format!(
        "50 concurrent member adds to one group, {rounds} rounds"
    ));
    for round in 0..rounds {
        let group = b.group_with(&format!("Round {round}"), &[]).await;
        let path = format!("/Groups/{group}?excludedAttributes=members");
        let started = Instant::now();
        let adds = members.iter().map(|m| {
            let body = add_members(vec![json!({"value": m})]);
            b.call(Method::PATCH, &path, Some(body))
        });
        let results = futures_util::future::join_all(adds).await;
        let elapsed = started.elapsed();
        step.latencies.extend(std::iter::repeat_n(elapsed / 50, 50));
        let ok = results.iter().filter(|(s, _)| s.is_success()).count();
        let (_, group_body) = b.call(Method::GET, &format!("/Groups/{group}"), None).await;
        let shown = group_body["members"].as_array().map_or(0, Vec::len);
        if ok == 50 && shown == 50 {
            all_landed += 1;
        }
        println!("<!-- round {round}: {ok}/50 succeeded, {shown} members -->");
    }
    b.finish(step);
    println!(
        "\n{all_landed} of {rounds} rounds: all 50 concurrent adds succeeded and all 50 are members."
    );
}

async fn new_tenant(directory: &dyn Directory) -> (TenantId, String) {
    let tenant = TenantId::new(format!(
        "bench-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    ))
    .expect("tenant id");
    admin::create_tenant(directory, &tenant)
        .await
        .expect("tenant");
    let token = admin::issue(directory, &tenant, None, None)
        .await
        .expect("token")
        .token;
    (tenant, token)
}

fn main() {
    let o = options();
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("scimlet-serve")
        .enable_all()
        .build()
        .expect("server runtime");
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("bench-client")
        .enable_all()
        .build()
        .expect("client runtime");
    let counter = Arc::new(CallCounter::default());
    let (store, directory, counted): (Arc<dyn ResourceStore>, Arc<dyn Directory>, bool) =
        match o.store.as_str() {
            "memory" => {
                let m = MemoryStore::new();
                (Arc::new(m.clone()), Arc::new(m), false)
            }
            "dynamodb" => client_rt.block_on(async {
                let endpoint = o
                    .endpoint
                    .clone()
                    .expect("--dynamodb-endpoint or SCIMLET_DYNAMODB_ENDPOINT");
                let client = connect_local(&endpoint, "bench").await;
                let table = format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
                create_table(&client, &table).await.expect("table");
                let store = DynamoStore::new(client, table).counted(counter.clone());
                let r: Arc<dyn ResourceStore> = Arc::new(store.clone());
                let d: Arc<dyn Directory> = Arc::new(store);
                (r, d, true)
            }),
            other => panic!("--store memory|dynamodb, not {other}"),
        };
    let config = Config {
        max_scan: 10_000,
        bulk_max_operations: 100,
        tenant_rate_limit: o.rate_limit.then_some(1_000_000),
        record_activity: o.activity,
        ..Config::default()
    };
    let app = App::new(config, store, directory.clone());
    let listener = server_rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    server_rt.spawn(scimlet::http::serve::serve(
        listener,
        app,
        std::future::pending(),
    ));
    println!(
        "## scimlet scale benchmark, {} store{}",
        o.store,
        match (o.rate_limit, o.activity) {
            (true, true) => ", with the rate limit and activity entries",
            (true, false) => ", with the rate limit",
            (false, true) => ", with activity entries",
            (false, false) => "",
        }
    );
    client_rt.block_on(async {
        for (label, n) in [("small", o.small), ("large", o.large)] {
            let (_, token) = new_tenant(directory.as_ref()).await;
            let mut b = Bench {
                client: Client::new(),
                base: format!("http://127.0.0.1:{port}/scim/v2"),
                token,
                counter: counted.then(|| counter.clone()),
                rows: Vec::new(),
            };
            // Warm the token (its first use verifies it with argon2id).
            b.call(Method::GET, "/ServiceProviderConfig", None).await;
            run_size(&mut b, label, n).await;
            if label == "small" {
                println!();
                concurrency(&mut b, o.rounds).await;
            }
        }
    });
}
