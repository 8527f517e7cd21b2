//! Cursor pagination (RFC 9865) over HTTP, on both stores.

use reqwest::Method;
use serde_json::{Value, json};

use crate::both_stores;
use crate::helpers::{Backend, TestApp, spawn_app};

both_stores!(
    cursor_pages_walk_every_resource_once,
    filtered_cursor_pages_read_on_from_the_cursor,
    bad_cursors_and_mixed_paging_are_rejected,
);

fn ids(list: &Value) -> Vec<String> {
    list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Follows `nextCursor` from an empty cursor; returns the pages.
async fn walk(app: &TestApp, query: &[(&str, &str)]) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut cursor = String::new();
    loop {
        let mut q: Vec<(&str, &str)> = query.to_vec();
        q.push(("cursor", &cursor));
        let page = app.list_users(&q).await;
        assert!(page.get("startIndex").is_none(), "{page}");
        let next = page
            .get("nextCursor")
            .and_then(Value::as_str)
            .map(str::to_owned);
        pages.push(page);
        match next {
            Some(n) => cursor = n,
            None => return pages,
        }
        assert!(pages.len() < 50, "cursor paging does not end");
    }
}

async fn cursor_pages_walk_every_resource_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut all = Vec::new();
    for i in 0..7 {
        all.push(
            app.create_user(&format!("c{i}"), json!({})).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let pages = walk(&app, &[("count", "3")]).await;
    assert_eq!(pages.len(), 3);
    let seen: Vec<String> = pages.iter().flat_map(ids).collect();
    assert_eq!(seen, all);
    for page in &pages {
        assert_eq!(page["totalResults"], 7);
    }
    assert_eq!(pages[2]["itemsPerPage"], 1);
    let spc = app
        .request(Method::GET, "/ServiceProviderConfig", None)
        .await
        .body;
    assert_eq!(spc["pagination"]["cursor"], true);
    assert_eq!(spc["pagination"]["index"], true);
    assert_eq!(spc["pagination"]["defaultPageSize"], 100);
}

async fn filtered_cursor_pages_read_on_from_the_cursor(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut titled = Vec::new();
    for i in 0..9 {
        let extra = if i % 2 == 0 {
            json!({"title": "t"})
        } else {
            json!({})
        };
        let id = app.create_user(&format!("f{i}"), extra).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        if i % 2 == 0 {
            titled.push(id);
        }
    }
    let pages = walk(&app, &[("count", "2"), ("filter", "title pr")]).await;
    let seen: Vec<String> = pages.iter().flat_map(ids).collect();
    assert_eq!(seen, titled);
    // A POST search pages the same way.
    let reply = app
        .request(
            Method::POST,
            "/Users/.search",
            Some(json!({"filter": "title pr", "count": 4, "cursor": ""})),
        )
        .await;
    assert_eq!(ids(&reply.body), titled[..4].to_vec());
    assert!(reply.body["nextCursor"].is_string());
    // A direct lookup is one page, without a next cursor.
    let one = app
        .list_users(&[("filter", "userName eq \"f3\""), ("cursor", "")])
        .await;
    assert_eq!(one["totalResults"], 1);
    assert!(one.get("nextCursor").is_none());
}

async fn bad_cursors_and_mixed_paging_are_rejected(backend: Backend) {
    let app = spawn_app(backend).await;
    for i in 0..3 {
        app.create_user(&format!("b{i}"), json!({"title": "x"}))
            .await;
    }
    let first = app
        .list_users(&[("count", "1"), ("cursor", ""), ("filter", "title pr")])
        .await;
    let next = first["nextCursor"].as_str().unwrap().to_owned();
    for query in [
        "cursor=garbage".to_owned(),
        "cursor=1.AAAA.0000000000000000".to_owned(),
        // A cursor of one query replayed with another filter.
        format!("cursor={next}&filter=userName%20pr"),
    ] {
        app.request(Method::GET, &format!("/Users?{query}"), None)
            .await
            .assert_error(400, Some("invalidCursor"));
    }
    // Another tenant cannot use it either.
    let other = app.other_tenant().await;
    other
        .request(
            Method::GET,
            &format!("/Users?filter=title%20pr&cursor={next}"),
            None,
        )
        .await
        .assert_error(400, Some("invalidCursor"));
    for query in ["cursor=&startIndex=2", "cursor=&sortBy=userName"] {
        app.request(Method::GET, &format!("/Users?{query}"), None)
            .await
            .assert_error(400, Some("invalidValue"));
    }
}
