//! Sorting, projection and `POST /.search`, over HTTP on both stores.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_stores;
use crate::helpers::{Backend, TestApp, USER_SCHEMA, spawn_app};

const SEARCH: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

both_stores!(
    lists_sort_by_any_singular_attribute,
    projection_applies_to_reads_lists_and_writes,
    search_posts_take_the_same_parameters,
);

async fn seed(app: &TestApp) {
    app.create_user(
        "carol",
        json!({"name": {"familyName": "Zeta"}, "title": "b"}),
    )
    .await;
    app.create_user("Alice", json!({"name": {"familyName": "beta"}}))
        .await;
    app.create_user(
        "bob",
        json!({"name": {"familyName": "Alpha"}, "title": "a",
        ENT: {"department": "Ops"}}),
    )
    .await;
}

fn user_names(list: &Value) -> Vec<&str> {
    list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap())
        .collect()
}

async fn lists_sort_by_any_singular_attribute(backend: Backend) {
    let app = spawn_app(backend).await;
    seed(&app).await;
    type Case<'a> = (&'a [(&'a str, &'a str)], [&'a str; 3]);
    let cases: [Case; 5] = [
        (&[("sortBy", "userName")], ["Alice", "bob", "carol"]),
        (
            &[("sortBy", "userName"), ("sortOrder", "descending")],
            ["carol", "bob", "Alice"],
        ),
        (&[("sortBy", "name.familyName")], ["bob", "Alice", "carol"]),
        (&[("sortBy", "title")], ["bob", "carol", "Alice"]),
        (
            &[("sortBy", "title"), ("sortOrder", "descending")],
            ["Alice", "carol", "bob"],
        ),
    ];
    for (query, want) in cases {
        assert_eq!(user_names(&app.list_users(query).await), want, "{query:?}");
    }
    // Sorting applies before paging, and to filtered lists.
    let page = app
        .list_users(&[("sortBy", "userName"), ("startIndex", "2"), ("count", "1")])
        .await;
    assert_eq!(user_names(&page), ["bob"]);
    assert_eq!(page["totalResults"], 3);
    let filtered = app
        .list_users(&[
            ("filter", "userName ne \"bob\""),
            ("sortBy", "userName"),
            ("sortOrder", "descending"),
        ])
        .await;
    assert_eq!(user_names(&filtered), ["carol", "Alice"]);
    for bad in [
        "sortBy=nosuch",
        "sortBy=name",
        "sortBy=userName&sortOrder=sideways",
    ] {
        app.request(Method::GET, &format!("/Users?{bad}"), None)
            .await
            .assert_error(400, Some("invalidValue"));
    }
}

async fn projection_applies_to_reads_lists_and_writes(backend: Backend) {
    let app = spawn_app(backend).await;
    seed(&app).await;
    let list = app
        .list_users(&[
            ("filter", "userName eq \"bob\""),
            ("attributes", "userName,name.familyName"),
        ])
        .await;
    let bob = &list["Resources"][0];
    assert_eq!(bob["schemas"], json!([USER_SCHEMA]));
    assert!(bob["id"].is_string());
    assert_eq!(bob["userName"], "bob");
    assert_eq!(bob["name"], json!({"familyName": "Alpha"}));
    assert!(bob.get("title").is_none() && bob.get("meta").is_none() && bob.get(ENT).is_none());
    let path = format!("/Users/{}", bob["id"].as_str().unwrap());

    let got = app
        .request(
            Method::GET,
            &format!("{path}?excludedAttributes=name,meta,{ENT}"),
            None,
        )
        .await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body["title"], "a");
    assert!(got.body.get("name").is_none() && got.body.get("meta").is_none());
    assert_eq!(got.body["schemas"], json!([USER_SCHEMA]));
    let ext_only = app
        .request(
            Method::GET,
            &format!("{path}?attributes={ENT}:department"),
            None,
        )
        .await;
    assert_eq!(ext_only.body[ENT], json!({"department": "Ops"}));
    assert_eq!(ext_only.body["schemas"], json!([USER_SCHEMA, ENT]));

    // Writes honour the projection of their response too.
    let created = app
        .request(
            Method::POST,
            "/Users?attributes=userName",
            Some(json!({"schemas": [USER_SCHEMA], "userName": "dave", "title": "x"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert!(created.body.get("title").is_none() && created.body["id"].is_string());
    let patched = app
        .request(
            Method::PATCH,
            &format!("{path}?excludedAttributes=title"),
            Some(
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "replace", "path": "title", "value": "z"}]}),
            ),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK);
    assert!(patched.body.get("title").is_none());
    assert_eq!(patched.body["userName"], "bob");
}

async fn search_posts_take_the_same_parameters(backend: Backend) {
    let app = spawn_app(backend).await;
    seed(&app).await;
    for path in ["/Users/.search", "/.search"] {
        let reply = app
            .request(
                Method::POST,
                path,
                Some(json!({
                    "schemas": [SEARCH],
                    "filter": "title pr",
                    "sortBy": "userName",
                    "sortOrder": "descending",
                    "attributes": ["userName"],
                    "startIndex": 1,
                    "count": 10
                })),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
        assert_eq!(
            reply.body["schemas"],
            json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
        );
        assert_eq!(user_names(&reply.body), ["carol", "bob"], "{path}");
        assert!(reply.body["Resources"][0].get("title").is_none());
    }
    let all = app
        .request(
            Method::POST,
            "/Users/.search",
            Some(json!({"schemas": [SEARCH]})),
        )
        .await;
    assert_eq!(all.body["totalResults"], 3);
    let bad = [
        (
            json!({"schemas": [SEARCH], "filter": "title eq"}),
            "invalidFilter",
        ),
        (
            json!({"schemas": [SEARCH], "count": "many"}),
            "invalidValue",
        ),
        (json!({"schemas": ["urn:wrong"]}), "invalidValue"),
        (
            json!({"schemas": [SEARCH], "attributes": [1]}),
            "invalidValue",
        ),
    ];
    for (body, scim_type) in bad {
        app.request(Method::POST, "/Users/.search", Some(body))
            .await
            .assert_error(400, Some(scim_type));
    }
    app.request(Method::GET, "/Users/.search", None)
        .await
        .assert_error(405, None);
}
