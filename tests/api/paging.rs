//! Index paging (`startIndex`/`count`) through a whole directory: every resource once, in
//! order, reading O(N) items in all even when consecutive pages land on different server
//! instances (as on different Lambda containers), and no cap for unfiltered lists.

use std::sync::Arc;

use reqwest::StatusCode;
use scimlet::domain::ResourceKind;
use scimlet::ops::write;
use scimlet::store::dynamo::CallCounter;
use scimlet::store::{Directory, ResourceStore};
use scimlet::{App, Config};
use serde_json::{Map, json};

use crate::both_stores;
use crate::helpers::{Backend, TestApp, serve_on_port_0, spawn_app_for, spawn_counted_app};

both_stores!(walking_by_start_index_visits_everyone_once_in_order);

const N: usize = 160;
const PAGE: usize = 40;

/// Creates `n` users straight through the store (as the server would; faster than HTTP).
async fn seed(store: &dyn ResourceStore, app: &TestApp, n: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let id = uuid::Uuid::now_v7().to_string();
        let name = format!("walker{i}@example.com");
        let mut attributes = Map::new();
        attributes.insert("userName".into(), json!(name));
        let guard = scimlet::domain::UniqueValue {
            attr: "userName",
            normalized: name,
        };
        let w = write::create(
            ResourceKind::User,
            write::NewResource {
                id: id.clone(),
                attributes,
                password_hash: None,
                guards: vec![guard],
                lookups: Vec::new(),
            },
            Vec::new(),
            "2026-01-01T00:00:00.000Z",
        );
        store.apply(&app.tenant, &w).await.expect("seed");
        ids.push(id);
    }
    ids.sort();
    ids
}

async fn page(app: &TestApp, start: usize) -> (usize, Vec<String>) {
    let body = app
        .list_users(&[
            ("startIndex", &start.to_string()),
            ("count", &PAGE.to_string()),
            ("excludedAttributes", "groups"),
        ])
        .await;
    let ids = body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    (body["totalResults"].as_u64().unwrap() as usize, ids)
}

async fn walk(apps: &[&TestApp]) -> Vec<String> {
    let mut seen = Vec::new();
    let mut start = 1;
    for turn in 0.. {
        let (total, ids) = page(apps[turn % apps.len()], start).await;
        assert_eq!(total, N);
        if ids.is_empty() {
            break;
        }
        start += ids.len();
        seen.extend(ids);
    }
    seen
}

async fn walking_by_start_index_visits_everyone_once_in_order(backend: Backend) {
    // A scan cap far below the directory's size: unfiltered lists are not capped by it.
    let config = Config {
        max_scan: 100,
        ..Config::default()
    };
    let app = spawn_app_for(backend, config, Default::default()).await;
    let ids = seed(app.stores.resources.as_ref(), &app, N).await;
    assert_eq!(walk(&[&app]).await, ids);
    // A jump far past any page served is refused with a hint rather than read in full.
    let far = app
        .request(
            reqwest::Method::GET,
            &format!("/Users?startIndex=1000000&count={PAGE}"),
            None,
        )
        .await;
    assert_eq!(far.status, StatusCode::OK, "beyond the end: an empty page");
    let fresh = spawn_app_for(
        backend,
        Config {
            max_scan: 100,
            ..Config::default()
        },
        Default::default(),
    )
    .await;
    seed(fresh.stores.resources.as_ref(), &fresh, 120).await;
    fresh
        .request(reqwest::Method::GET, "/Users?startIndex=115&count=5", None)
        .await
        .assert_error(400, Some("tooMany"));
}

/// A second server instance on the same table, tenant and token as `app`, with its calls
/// counted.
async fn twin(app: &TestApp, counter: Arc<CallCounter>) -> TestApp {
    let store = crate::helpers::dynamo_store().await.counted(counter);
    let stores = crate::helpers::Stores {
        resources: Arc::new(store.clone()),
        directory: Arc::new(store.clone()) as Arc<dyn Directory>,
        admin: app.stores.admin.clone(),
    };
    let server = App::new(
        Config::default(),
        stores.resources.clone(),
        stores.directory.clone(),
    );
    let (base, shutdown) = serve_on_port_0(server).await;
    TestApp::new_for_test(
        base,
        app.token.clone(),
        app.tenant.clone(),
        stores,
        shutdown,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_walk_alternating_between_two_instances_reads_o_of_n_items() {
    let (first, first_counter) = spawn_counted_app(Config::default()).await;
    let second_counter = Arc::new(CallCounter::default());
    let second = twin(&first, second_counter.clone()).await;
    let ids = seed(first.stores.resources.as_ref(), &first, N).await;
    // Warm both instances' tokens, then count.
    page(&first, 1).await;
    page(&second, 1).await;
    first_counter.reset();
    second_counter.reset();
    assert_eq!(walk(&[&first, &second]).await, ids);
    let read = first_counter.snapshot().items_read + second_counter.snapshot().items_read;
    let pages = (N / PAGE + 2) as u64;
    // Each page: the count's shards, the anchor, the page itself (and one look-ahead item).
    assert!(
        read <= 2 * N as u64 + 25 * pages,
        "a full walk of {N} read {read} items"
    );
}
