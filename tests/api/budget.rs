//! Round-trip budgets: how many DynamoDB calls each SCIM operation makes (counted by an
//! interceptor on the server's client, with a warm token), and that membership changes cost
//! the same whatever the group's size. Not timed: calls and items read are what Lambda and
//! DynamoDB bill, and they do not vary between runs.

use reqwest::{Method, StatusCode};
use scimlet::Config;
use scimlet::store::dynamo::Counts;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_counted_app};

const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Runs `request` and returns what it cost.
async fn cost(
    app: &TestApp,
    counter: &scimlet::store::dynamo::CallCounter,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Counts) {
    counter.reset();
    let reply = app.request(method, path, body).await;
    assert!(
        reply.status.is_success(),
        "{path}: {} {}",
        reply.status,
        reply.body
    );
    (reply.status, counter.snapshot())
}

async fn warm(app: &TestApp) {
    app.request(Method::GET, "/ServiceProviderConfig", None)
        .await;
}

async fn create_group(app: &TestApp, name: &str, members: &[String]) -> String {
    let members: Vec<Value> = members.iter().map(|id| json!({"value": id})).collect();
    let reply = app
        .request(
            Method::POST,
            "/Groups",
            Some(json!({"schemas": [GROUP_SCHEMA], "displayName": name, "members": members})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["id"].as_str().unwrap().to_owned()
}

fn add_member(id: &str) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": id}]}
    ]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_and_creates_stay_within_their_budgets() {
    let (app, counter) = spawn_counted_app(Config::default()).await;
    warm(&app).await;
    let (_, c) = cost(
        &app,
        &counter,
        Method::POST,
        "/Users",
        Some(
            json!({"schemas": [crate::helpers::USER_SCHEMA], "userName": "budget@example.com",
            "externalId": "okta-00u1"}),
        ),
    )
    .await;
    assert_eq!((c.of("TransactWriteItems"), c.total()), (1, 1), "{c:?}");
    let user = app
        .list_users(&[("filter", "userName eq \"budget@example.com\"")])
        .await;
    let id = user["Resources"][0]["id"].as_str().unwrap().to_owned();

    // GET by id: one read (the user's partition: the user and its group edges).
    let (_, c) = cost(&app, &counter, Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!(c.total(), 1, "{c:?}");
    // userName eq: the uniqueness guard, then that read.
    let (_, c) = cost(
        &app,
        &counter,
        Method::GET,
        "/Users?filter=userName%20eq%20%22BUDGET%40example.com%22",
        None,
    )
    .await;
    assert!(c.total() <= 2, "{c:?}");
    // externalId eq (not unique): one consistent query of its index entries, then the read;
    // never a scan (which would read the other users too).
    for i in 0..5 {
        app.create_user(&format!("other{i}@example.com"), json!({}))
            .await;
    }
    let (_, c) = cost(
        &app,
        &counter,
        Method::GET,
        "/Users?filter=externalId%20eq%20%22okta-00u1%22",
        None,
    )
    .await;
    assert!(c.total() <= 2 && c.items_read <= 2, "{c:?}");
    assert_eq!(c.of("Query") + c.of("GetItem"), c.total(), "{c:?}");
    let found = app
        .list_users(&[("filter", "externalId eq \"okta-00u1\"")])
        .await;
    assert_eq!(found["Resources"][0]["id"], id.as_str());
    let (_, c) = cost(
        &app,
        &counter,
        Method::GET,
        &format!("/Users?filter=id%20eq%20%22{id}%22"),
        None,
    )
    .await;
    assert!(c.total() <= 2, "{c:?}");
    // Ids this server never issues are answered without a call.
    for (path, status) in [
        ("/Users/not-an-id", StatusCode::NOT_FOUND),
        ("/Groups/NOT-AN-ID", StatusCode::NOT_FOUND),
        ("/Users?filter=id%20eq%20%22nope%22", StatusCode::OK),
        (
            "/Groups?filter=members.value%20eq%20%22nope%22",
            StatusCode::OK,
        ),
    ] {
        counter.reset();
        let reply = app.request(Method::GET, path, None).await;
        assert_eq!(reply.status, status, "{path}: {}", reply.body);
        assert_eq!(counter.snapshot().total(), 0, "{path}");
    }
    // PATCH user: its read and one transaction.
    let patch = json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "path": "displayName", "value": "Budget B."}
    ]});
    let (_, c) = cost(
        &app,
        &counter,
        Method::PATCH,
        &format!("/Users/{id}"),
        Some(patch),
    )
    .await;
    assert!(c.total() <= 2 && c.of("TransactWriteItems") == 1, "{c:?}");

    // A group with members: one batch read of the members, one transaction.
    let members = app.create_users("budget-m", 3).await;
    counter.reset();
    let group = create_group(&app, "Budget Team", &members).await;
    let c = counter.snapshot();
    assert_eq!(
        (c.of("BatchGetItem"), c.of("TransactWriteItems"), c.total()),
        (1, 1, 2),
        "{c:?}"
    );
    // A group without its members: one read.
    let (_, c) = cost(
        &app,
        &counter,
        Method::GET,
        &format!("/Groups/{group}?excludedAttributes=members"),
        None,
    )
    .await;
    assert_eq!(c.total(), 1, "{c:?}");
    let (_, c) = cost(
        &app,
        &counter,
        Method::GET,
        "/Groups?filter=displayName%20eq%20%22budget%20team%22&excludedAttributes=members",
        None,
    )
    .await;
    assert!(c.total() <= 2, "{c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_membership_change_costs_the_same_in_a_small_and_a_large_group() {
    let (app, counter) = spawn_counted_app(Config::default()).await;
    warm(&app).await;
    let many = app.create_users("crowd", 120).await;
    let newcomers = app.create_users("newcomer", 2).await;
    let small = create_group(&app, "Small", &[]).await;
    let large = create_group(&app, "Large", &many[..32]).await;
    for chunk in many[32..].chunks(40) {
        let values: Vec<Value> = chunk.iter().map(|id| json!({"value": id})).collect();
        let body = json!({"schemas": [PATCH_OP], "Operations": [
            {"op": "add", "path": "members", "value": values}
        ]});
        let reply = app
            .request(Method::PATCH, &format!("/Groups/{large}"), Some(body))
            .await;
        assert!(reply.status.is_success(), "{}", reply.body);
    }
    let path = |g: &str| format!("/Groups/{g}?excludedAttributes=members");
    let (_, in_small) = cost(
        &app,
        &counter,
        Method::PATCH,
        &path(&small),
        Some(add_member(&newcomers[0])),
    )
    .await;
    let (_, in_large) = cost(
        &app,
        &counter,
        Method::PATCH,
        &path(&large),
        Some(add_member(&newcomers[1])),
    )
    .await;
    assert_eq!(
        in_small, in_large,
        "the group's size must not show in the work"
    );
    // The group item, one batch read of the named member, the edges' transaction, and the
    // two single-item updates that let concurrent changes commute.
    assert_eq!(in_large.of("GetItem"), 1, "{in_large:?}");
    assert_eq!(in_large.of("BatchGetItem"), 1, "{in_large:?}");
    assert_eq!(in_large.of("TransactWriteItems"), 1, "{in_large:?}");
    assert_eq!(in_large.of("UpdateItem"), 2, "{in_large:?}");
    assert_eq!(
        in_large.of("Query"),
        0,
        "no read of the members: {in_large:?}"
    );
    assert!(in_large.items_read <= 2, "{in_large:?}");
    let group = app
        .request(
            Method::GET,
            &format!("/Groups/{large}?attributes=displayName"),
            None,
        )
        .await;
    assert_eq!(group.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_member_costs_in_proportion_to_its_groups() {
    let (app, counter) = spawn_counted_app(Config::default()).await;
    warm(&app).await;
    let member = app.create_users("leaver", 1).await.remove(0);
    for name in ["A", "B", "C"] {
        create_group(&app, name, std::slice::from_ref(&member)).await;
    }
    let (status, c) = cost(
        &app,
        &counter,
        Method::DELETE,
        &format!("/Users/{member}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // Its read, its edges, one transaction (item, guard, count shard, 3 memberships), and the
    // sweep for memberships added meanwhile.
    assert!(c.total() <= 4 && c.of("TransactWriteItems") == 1, "{c:?}");
    assert_eq!(c.of("BatchWriteItem"), 0, "{c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_showing_groups_names_them_in_one_batch() {
    let (app, counter) = spawn_counted_app(Config::default()).await;
    warm(&app).await;
    let members = app.create_users("paged", 30).await;
    create_group(
        &app,
        "Evens",
        &members.iter().step_by(2).cloned().collect::<Vec<_>>(),
    )
    .await;
    create_group(
        &app,
        "Thirds",
        &members.iter().step_by(3).cloned().collect::<Vec<_>>(),
    )
    .await;
    create_group(&app, "Empty", &[]).await;
    let (_, c) = cost(&app, &counter, Method::GET, "/Users?count=30", None).await;
    // The counter shards and the page (GSI1), one partition read per user (users and their
    // group edges, concurrently), then the names of all their groups in one batch read, and
    // the anchor of the next page: never one read of names per user.
    assert_eq!(c.of("Query"), 31, "{c:?}");
    assert_eq!(c.of("BatchGetItem"), 2, "{c:?}");
    assert!(c.total() <= 34, "{c:?}");
    let page = app.list_users(&[("count", "30")]).await;
    let with_groups = page["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["groups"].is_array())
        .count();
    // Members of Evens or Thirds: 15 + 10 - 5 of the 30.
    assert_eq!(with_groups, 20, "{page}");
    let named = page["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|u| u["groups"].as_array().cloned().unwrap_or_default())
        .all(|g| matches!(g["display"].as_str(), Some("Evens" | "Thirds")));
    assert!(named, "{page}");
}
