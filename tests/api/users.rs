//! `/Users` over HTTP, on both stores.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_stores;
use crate::helpers::{Backend, SCIM, USER_SCHEMA, spawn_app, spawn_app_for};

both_stores!(
    create_returns_the_user_with_meta_location_and_etag,
    get_replace_and_delete_round_trip,
    duplicate_user_name_in_any_case_is_a_uniqueness_conflict,
    renaming_releases_the_old_user_name,
    external_ids_may_be_shared_and_are_found_at_once,
    tenants_can_keep_external_ids_unique,
    filter_by_user_name_is_case_insensitive_and_consistent,
    unknown_filter_values_give_an_empty_list,
    other_filters_are_evaluated_and_invalid_ones_rejected,
    paging_with_start_index_and_count,
    unknown_ids_are_404,
    tokens_of_another_tenant_see_nothing,
    missing_or_wrong_tokens_are_401,
    malformed_and_invalid_bodies_are_400,
    conditional_requests_use_the_weak_etag,
    concurrent_creates_of_one_user_name_yield_one_user,
    concurrent_creates_of_distinct_users_all_land,
    passwords_are_hashed_and_never_returned,
    unimplemented_endpoints_answer_501,
    entra_and_okta_input_is_tolerated,
);

async fn create_returns_the_user_with_meta_location_and_etag(backend: Backend) {
    let app = spawn_app(backend).await;
    let reply = app
        .request(
            Method::POST,
            "/Users",
            Some(json!({
                "schemas": [USER_SCHEMA],
                "userName": "bjensen@example.com",
                "name": {"givenName": "Barbara", "familyName": "Jensen"},
                "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
                "active": true
            })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.header("content-type"), Some(SCIM));
    let user = &reply.body;
    let id = user["id"].as_str().expect("id");
    assert!(uuid::Uuid::parse_str(id).is_ok());
    assert_eq!(user["schemas"], json!([USER_SCHEMA]));
    assert_eq!(user["userName"], "bjensen@example.com");
    assert_eq!(user["name"]["familyName"], "Jensen");
    let meta = &user["meta"];
    assert_eq!(meta["resourceType"], "User");
    assert_eq!(meta["version"], "W/\"1\"");
    assert_eq!(meta["created"], meta["lastModified"]);
    let location = format!("{}/Users/{id}", app.base);
    assert_eq!(meta["location"], location.as_str());
    assert_eq!(reply.header("location"), Some(location.as_str()));
    assert_eq!(reply.header("etag"), Some("W/\"1\""));
}

async fn get_replace_and_delete_round_trip(backend: Backend) {
    let app = spawn_app(backend).await;
    let created = app
        .create_user(
            "alice",
            json!({"displayName": "Alice", "title": "Engineer"}),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/Users/{id}");

    let got = app.request(Method::GET, &path, None).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body, created);

    // PUT replaces: attributes left out are removed, the version moves on.
    let put = app
        .request(
            Method::PUT,
            &path,
            Some(
                json!({"schemas": [USER_SCHEMA], "userName": "alice", "displayName": "Alice L.",
                        "id": "ignored", "meta": {"version": "ignored"}}),
            ),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!(put.body["id"], id);
    assert_eq!(put.body["displayName"], "Alice L.");
    assert!(put.body.get("title").is_none());
    assert_eq!(put.body["meta"]["version"], "W/\"2\"");
    assert_eq!(put.body["meta"]["created"], created["meta"]["created"]);
    assert_eq!(put.header("etag"), Some("W/\"2\""));
    let got = app.request(Method::GET, &path, None).await;
    assert_eq!(got.body, put.body);

    let deleted = app.request(Method::DELETE, &path, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(deleted.body, Value::Null);
    app.request(Method::GET, &path, None)
        .await
        .assert_error(404, None);
    app.request(Method::DELETE, &path, None)
        .await
        .assert_error(404, None);
    let list = app.list_users(&[]).await;
    assert_eq!(list["totalResults"], 0);
}

async fn duplicate_user_name_in_any_case_is_a_uniqueness_conflict(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_user("Dup.User@Example.com", json!({})).await;
    for name in [
        "Dup.User@Example.com",
        "dup.user@example.com",
        "DUP.USER@EXAMPLE.COM",
    ] {
        let reply = app
            .request(
                Method::POST,
                "/Users",
                Some(json!({"schemas": [USER_SCHEMA], "userName": name})),
            )
            .await;
        reply.assert_error(409, Some("uniqueness"));
        assert!(!reply.body["detail"].as_str().unwrap().contains(name));
    }
    assert_eq!(app.list_users(&[]).await["totalResults"], 1);
}

async fn renaming_releases_the_old_user_name(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.create_user("first", json!({})).await;
    let b = app.create_user("second", json!({})).await;
    let a_path = format!("/Users/{}", a["id"].as_str().unwrap());
    // Renaming onto a taken name fails and changes nothing.
    app.request(
        Method::PUT,
        &a_path,
        Some(json!({"schemas": [USER_SCHEMA], "userName": "SECOND"})),
    )
    .await
    .assert_error(409, Some("uniqueness"));
    assert_eq!(
        app.request(Method::GET, &a_path, None).await.body["meta"]["version"],
        "W/\"1\""
    );
    // A change of case only keeps the same guard.
    let renamed = app
        .request(
            Method::PUT,
            &a_path,
            Some(json!({"schemas": [USER_SCHEMA], "userName": "FIRST"})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    // A real rename frees the old name for others.
    let renamed = app
        .request(
            Method::PUT,
            &a_path,
            Some(json!({"schemas": [USER_SCHEMA], "userName": "third"})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    app.create_user("first", json!({})).await;
    let found = app.list_users(&[("filter", "userName eq \"third\"")]).await;
    assert_eq!(found["Resources"][0]["id"], a["id"]);
    // Deleting frees the name too.
    let b_path = format!("/Users/{}", b["id"].as_str().unwrap());
    assert_eq!(
        app.request(Method::DELETE, &b_path, None).await.status,
        StatusCode::NO_CONTENT
    );
    app.create_user("second", json!({})).await;
}

/// Okta's documented create body, sent for three people who share an `externalId` (RFC 7643
/// §3.1 scopes it to the provisioning client and asks no uniqueness): all are created, and
/// `externalId eq` finds every one of them at once, case-exactly, as they change.
async fn external_ids_may_be_shared_and_are_found_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let okta = |user_name: &str| {
        json!({"schemas": [USER_SCHEMA], "userName": user_name,
            "name": {"givenName": "Test", "familyName": "User"},
            "emails": [{"primary": true, "value": user_name, "type": "work"}],
            "displayName": "Test User", "locale": "en-US",
            "externalId": "00ujl29u0le5T6Aj10h7", "groups": [], "password": "1mz050nq",
            "active": true})
    };
    let mut ids = Vec::new();
    for name in ["a@example.com", "b@example.com", "c@example.com"] {
        let r = app.request(Method::POST, "/Users", Some(okta(name))).await;
        assert_eq!(r.status.as_u16(), 201, "{}", r.body);
        ids.push(r.body["id"].as_str().unwrap().to_owned());
        // Okta creates, then filters at once: the lookup sees the write.
        let found = app
            .list_users(&[("filter", "externalId eq \"00ujl29u0le5T6Aj10h7\"")])
            .await;
        assert_eq!(found["totalResults"], ids.len(), "{found}");
    }
    ids.sort();
    let found = app
        .list_users(&[("filter", "externalId eq \"00ujl29u0le5T6Aj10h7\"")])
        .await;
    let got: Vec<&str> = found["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, ids, "in id order");
    // Case-exact, paged and sorted like any list.
    let none = app
        .list_users(&[("filter", "externalId eq \"00UJL29U0LE5T6AJ10H7\"")])
        .await;
    assert_eq!(none["totalResults"], 0);
    let page = app
        .list_users(&[
            ("filter", "externalId eq \"00ujl29u0le5T6Aj10h7\""),
            ("sortBy", "userName"),
            ("sortOrder", "descending"),
            ("startIndex", "2"),
            ("count", "1"),
        ])
        .await;
    assert_eq!(page["totalResults"], 3);
    assert_eq!(page["Resources"][0]["userName"], "b@example.com");
    let and = app
        .list_users(&[(
            "filter",
            "externalId eq \"00ujl29u0le5T6Aj10h7\" and userName eq \"c@example.com\"",
        )])
        .await;
    assert_eq!(and["totalResults"], 1);
    // A changed externalId moves its user from one value to the other.
    let moved = &ids[0];
    let r = app
        .request(
            Method::PATCH,
            &format!("/Users/{moved}"),
            Some(
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "externalId", "value": "other"}]}),
            ),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.body);
    let count = |v: &'static str| {
        let app = &app;
        async move {
            app.list_users(&[("filter", &format!("externalId eq \"{v}\""))])
                .await["totalResults"]
                .as_u64()
                .unwrap()
        }
    };
    assert_eq!(count("00ujl29u0le5T6Aj10h7").await, 2);
    assert_eq!(count("other").await, 1);
    // Removed with the attribute and with the user.
    let r = app
        .request(
            Method::PATCH,
            &format!("/Users/{moved}"),
            Some(
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "remove", "path": "externalId"}]}),
            ),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.body);
    assert_eq!(count("other").await, 0);
    let r = app
        .request(Method::DELETE, &format!("/Users/{}", ids[1]), None)
        .await;
    assert_eq!(r.status.as_u16(), 204);
    assert_eq!(count("00ujl29u0le5T6Aj10h7").await, 1);
    // Groups too.
    for name in ["G1", "G2"] {
        let r = app
            .request(
                Method::POST,
                "/Groups",
                Some(
                    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": name, "externalId": "shared-group"}),
                ),
            )
            .await;
        assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    }
    let groups = app
        .list_groups(&[("filter", "externalId eq \"shared-group\"")])
        .await;
    assert_eq!(groups["totalResults"], 2);
}

/// With `unique-external-ids`, a second resource with the same value is a conflict.
async fn tenants_can_keep_external_ids_unique(backend: Backend) {
    let unique = scimlet::domain::TenantSettings {
        unique_external_ids: true,
        ..Default::default()
    };
    let app = spawn_app_for(backend, scimlet::Config::default(), unique).await;
    let u = app.create_user("one", json!({"externalId": "EXT-1"})).await;
    app.create_user("two", json!({"externalId": "ext-1"})).await;
    app.request(
        Method::POST,
        "/Users",
        Some(json!({"schemas": [USER_SCHEMA], "userName": "three", "externalId": "EXT-1"})),
    )
    .await
    .assert_error(409, Some("uniqueness"));
    let found = app
        .list_users(&[("filter", "externalId eq \"EXT-1\"")])
        .await;
    assert_eq!(found["totalResults"], 1);
    assert_eq!(found["Resources"][0]["id"], u["id"]);
}

async fn filter_by_user_name_is_case_insensitive_and_consistent(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_user("someone.else@example.com", json!({})).await;
    // Okta creates, then filters at once: the lookup must see the write.
    let created = app
        .create_user("Okta.User+tag@Example.com", json!({}))
        .await;
    let list = app
        .list_users(&[
            ("filter", "userName eq \"okta.user+tag@example.com\""),
            ("startIndex", "1"),
            ("count", "100"),
        ])
        .await;
    assert_eq!(
        list["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
    );
    assert_eq!(list["totalResults"], 1);
    assert_eq!(list["itemsPerPage"], 1);
    assert_eq!(list["startIndex"], 1);
    assert_eq!(list["Resources"][0], created);
    // '+' in a raw query is a space; "%2B" is a plus.
    let raw = app
        .request(
            Method::GET,
            "/Users?filter=userName+eq+%22okta.user%2Btag%40example.com%22",
            None,
        )
        .await;
    assert_eq!(raw.body["totalResults"], 1, "{}", raw.body);
}

async fn unknown_filter_values_give_an_empty_list(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_user("present", json!({})).await;
    // Entra's "Test Connection" filters on a random GUID.
    let guid = uuid::Uuid::new_v4().to_string();
    for filter in [
        format!("userName eq \"{guid}\""),
        format!("externalId eq \"{guid}\""),
        format!("id eq \"{guid}\""),
    ] {
        let list = app.list_users(&[("filter", &filter)]).await;
        assert_eq!(list["totalResults"], 0, "{filter}");
        assert_eq!(list["itemsPerPage"], 0);
        assert_eq!(list["Resources"], json!([]));
    }
    // And with Entra's query flag present.
    let reply = app
        .request(
            Method::GET,
            &format!("/Users?aadOptscim062020&filter=userName%20eq%20%22{guid}%22"),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["totalResults"], 0);
}

async fn other_filters_are_evaluated_and_invalid_ones_rejected(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_user(
        "ann",
        json!({"title": "Engineer", "active": true,
        "emails": [{"value": "ann@work.example", "type": "work"}]}),
    )
    .await;
    app.create_user("bob", json!({"title": "Manager", "active": false}))
        .await;
    app.create_user("cid", json!({"active": true})).await;
    let names = |list: &Value| -> Vec<String> {
        list["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["userName"].as_str().unwrap().to_owned())
            .collect()
    };
    let cases = [
        ("active eq true", vec!["ann", "cid"]),
        ("title pr", vec!["ann", "bob"]),
        ("title sw \"eng\" or active eq false", vec!["ann", "bob"]),
        ("not (title pr)", vec!["cid"]),
        (
            "emails[type eq \"work\" and value ew \"@work.example\"]",
            vec!["ann"],
        ),
        ("userName gt \"b\"", vec!["bob", "cid"]),
    ];
    for (filter, want) in cases {
        let list = app.list_users(&[("filter", filter)]).await;
        assert_eq!(names(&list), want, "{filter}");
        assert_eq!(list["totalResults"], want.len(), "{filter}");
    }
    for filter in [
        "userName eq",
        "nosuchattr eq 1",
        "active gt true",
        "(title pr",
        "",
    ] {
        app.request(
            Method::GET,
            &format!("/Users?filter={}", urlencode(filter)),
            None,
        )
        .await
        .assert_error(400, Some("invalidFilter"));
    }
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn paging_with_start_index_and_count(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(app.create_user(&format!("page{i}"), json!({})).await["id"].clone());
    }
    let page = app.list_users(&[("startIndex", "2"), ("count", "2")]).await;
    assert_eq!(page["totalResults"], 5);
    assert_eq!(page["startIndex"], 2);
    assert_eq!(page["itemsPerPage"], 2);
    let got: Vec<Value> = page["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].clone())
        .collect();
    assert_eq!(got, ids[1..3].to_vec());
    let tail = app
        .list_users(&[("startIndex", "5"), ("count", "10")])
        .await;
    assert_eq!(tail["itemsPerPage"], 1);
    assert_eq!(tail["Resources"][0]["id"], ids[4]);
    let past = app.list_users(&[("startIndex", "6")]).await;
    assert_eq!(past["itemsPerPage"], 0);
    assert_eq!(past["totalResults"], 5);
    let zero = app.list_users(&[("count", "0")]).await;
    assert_eq!(
        (zero["totalResults"].clone(), zero["itemsPerPage"].clone()),
        (json!(5), json!(0))
    );
    // startIndex below 1 counts as 1; negative count as 0.
    let first = app
        .list_users(&[("startIndex", "-3"), ("count", "1")])
        .await;
    assert_eq!(first["Resources"][0]["id"], ids[0]);
    assert_eq!(first["startIndex"], 1);
    let none = app.list_users(&[("count", "-1")]).await;
    assert_eq!(none["itemsPerPage"], 0);
    // Filtered paging counts matches, not scanned items.
    let filtered = app
        .list_users(&[
            ("filter", "userName sw \"page\""),
            ("startIndex", "4"),
            ("count", "5"),
        ])
        .await;
    assert_eq!(filtered["totalResults"], 5);
    assert_eq!(filtered["itemsPerPage"], 2);
    app.request(Method::GET, "/Users?count=ten", None)
        .await
        .assert_error(400, Some("invalidValue"));
}

async fn unknown_ids_are_404(backend: Backend) {
    let app = spawn_app(backend).await;
    for method in [Method::GET, Method::DELETE] {
        app.request(method, "/Users/00000000-0000-7000-8000-000000000000", None)
            .await
            .assert_error(404, None);
    }
    app.request(
        Method::PUT,
        "/Users/not-a-uuid",
        Some(json!({"schemas": [USER_SCHEMA], "userName": "x"})),
    )
    .await
    .assert_error(404, None);
    app.request(Method::GET, "/Nothing", None)
        .await
        .assert_error(404, None);
}

async fn tokens_of_another_tenant_see_nothing(backend: Backend) {
    let a = spawn_app(backend).await;
    let user = a
        .create_user("shared.name", json!({"externalId": "x1"}))
        .await;
    let path = format!("/Users/{}", user["id"].as_str().unwrap());
    // Tenant B on the same server and store: never sees A's data (404, not 403).
    let b = a.other_tenant().await;
    b.request(Method::GET, &path, None)
        .await
        .assert_error(404, None);
    b.request(Method::DELETE, &path, None)
        .await
        .assert_error(404, None);
    b.request(
        Method::PUT,
        &path,
        Some(json!({"schemas": [USER_SCHEMA], "userName": "hijack"})),
    )
    .await
    .assert_error(404, None);
    for filter in [
        "userName eq \"shared.name\"",
        "externalId eq \"x1\"",
        "userName pr",
    ] {
        assert_eq!(
            b.list_users(&[("filter", filter)]).await["totalResults"],
            0,
            "{filter}"
        );
    }
    assert_eq!(b.list_users(&[]).await["totalResults"], 0);
    // Names are unique per tenant, not globally.
    b.create_user("shared.name", json!({"externalId": "x1"}))
        .await;
    let still = a.request(Method::GET, &path, None).await;
    assert_eq!(still.status, StatusCode::OK);
    assert_eq!(still.body["meta"]["version"], "W/\"1\"");
}

async fn missing_or_wrong_tokens_are_401(backend: Backend) {
    let app = spawn_app(backend).await;
    let url = format!("{}/Users", app.base);
    let bad_secret = {
        let mut parts: Vec<&str> = app.token.splitn(3, '_').collect();
        parts[2] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        parts.join("_")
    };
    let cases: Vec<Option<String>> = vec![
        None,
        Some("Bearer".into()),
        Some("Bearer nonsense".into()),
        Some(format!("Basic {}", app.token)),
        Some(format!("Bearer {bad_secret}")),
        Some("Bearer scimlet_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into()),
    ];
    for auth in cases {
        let mut req = app.client.get(&url);
        if let Some(auth) = &auth {
            req = req.header("authorization", auth);
        }
        let reply = crate::helpers::read(req.send().await.unwrap()).await;
        reply.assert_error(401, None);
        assert!(
            reply
                .header("www-authenticate")
                .unwrap()
                .starts_with("Bearer"),
            "{auth:?}"
        );
    }
}

async fn malformed_and_invalid_bodies_are_400(backend: Backend) {
    let app = spawn_app(backend).await;
    let url = format!("{}/Users", app.base);
    let send = |body: &'static str, content_type: &'static str| {
        app.client
            .post(&url)
            .bearer_auth(&app.token)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    for body in ["{", "", "not json", "{\"schemas\": [}"] {
        crate::helpers::read(send(body, SCIM).await.unwrap())
            .await
            .assert_error(400, Some("invalidSyntax"));
    }
    crate::helpers::read(send("[1, 2]", SCIM).await.unwrap())
        .await
        .assert_error(400, Some("invalidSyntax"));
    for body in [
        r#"{"userName": "no-schemas"}"#,
        r#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "userName": "x"}"#,
        r#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]}"#,
        r#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": 42}"#,
        r#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x", "emails": "x@y"}"#,
    ] {
        crate::helpers::read(send(body, "application/json").await.unwrap())
            .await
            .assert_error(400, Some("invalidValue"));
    }
    crate::helpers::read(send(r#"{"a": 1}"#, "text/plain").await.unwrap())
        .await
        .assert_error(415, None);
    // Deep nesting is a 400, not a crash.
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let reply = app
        .client
        .post(&url)
        .bearer_auth(&app.token)
        .header("content-type", SCIM)
        .body(deep)
        .send()
        .await
        .unwrap();
    crate::helpers::read(reply)
        .await
        .assert_error(400, Some("invalidSyntax"));
    // Over the body limit: 413.
    let huge = format!(
        r#"{{"schemas": ["{USER_SCHEMA}"], "userName": "big", "displayName": "{}"}}"#,
        "x".repeat(1024 * 1024)
    );
    let reply = app
        .client
        .post(&url)
        .bearer_auth(&app.token)
        .header("content-type", SCIM)
        .body(huge)
        .send()
        .await
        .unwrap();
    crate::helpers::read(reply).await.assert_error(413, None);
    // A userName too long for a key.
    app.request(
        Method::POST,
        "/Users",
        Some(json!({"schemas": [USER_SCHEMA], "userName": "x".repeat(1025)})),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    assert_eq!(app.list_users(&[]).await["totalResults"], 0);
}

async fn conditional_requests_use_the_weak_etag(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.create_user("etag.user", json!({})).await;
    let path = format!("/Users/{}", user["id"].as_str().unwrap());
    let body = json!({"schemas": [USER_SCHEMA], "userName": "etag.user", "title": "x"});
    let not_modified = app
        .request_with(Method::GET, &path, None, &[("if-none-match", "W/\"1\"")])
        .await;
    assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED);
    assert_eq!(not_modified.header("etag"), Some("W/\"1\""));
    let stale = app
        .request_with(
            Method::PUT,
            &path,
            Some(body.clone()),
            &[("if-match", "W/\"7\"")],
        )
        .await;
    stale.assert_error(412, None);
    let fresh = app
        .request_with(Method::PUT, &path, Some(body), &[("if-match", "W/\"1\"")])
        .await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.body);
    app.request_with(Method::DELETE, &path, None, &[("if-match", "W/\"1\"")])
        .await
        .assert_error(412, None);
    let gone = app
        .request_with(Method::DELETE, &path, None, &[("if-match", "W/\"2\"")])
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
}

async fn concurrent_creates_of_one_user_name_yield_one_user(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let client = app.client.clone();
        let url = format!("{}/Users", app.base);
        let token = app.token.clone();
        let name = if i % 2 == 0 {
            "Race@Example.com"
        } else {
            "race@example.com"
        };
        tasks.push(tokio::spawn(async move {
            let body = json!({"schemas": [USER_SCHEMA], "userName": name});
            client
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let conflicts = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    let throttled = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(created, 1, "{statuses:?}");
    assert_eq!(created + conflicts + throttled, 12, "{statuses:?}");
    let list = app.list_users(&[]).await;
    assert_eq!(list["totalResults"], 1);
    assert_eq!(list["itemsPerPage"], 1);
}

async fn concurrent_creates_of_distinct_users_all_land(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let client = app.client.clone();
        let url = format!("{}/Users", app.base);
        let token = app.token.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({"schemas": [USER_SCHEMA], "userName": format!("burst{i}")});
            // Like an IdP, retry on 429 after Retry-After.
            loop {
                let r = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                if r.status() != StatusCode::TOO_MANY_REQUESTS {
                    return r.status();
                }
                let wait: u64 = r.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
            }
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::CREATED);
    }
    let list = app.list_users(&[("count", "100")]).await;
    assert_eq!(list["totalResults"], 16);
    assert_eq!(list["itemsPerPage"], 16);
}

async fn passwords_are_hashed_and_never_returned(backend: Backend) {
    let app = spawn_app(backend).await;
    let created = app
        .create_user("pw.user", json!({"password": "t1meMachine!"}))
        .await;
    assert!(created.get("password").is_none());
    let id = created["id"].as_str().unwrap();
    let stored = app
        .stores
        .resources
        .get(&app.tenant, scimlet::domain::ResourceKind::User, id)
        .await
        .unwrap()
        .unwrap();
    let hash = stored.password_hash.clone().expect("hash stored");
    assert!(hash.starts_with("$argon2id$"));
    assert!(scimlet::auth::verify_secret("t1meMachine!", &hash));
    assert!(!stored.attributes.contains_key("password"));
    // PUT without a password keeps it; the body never shows it.
    let put = app
        .request(
            Method::PUT,
            &format!("/Users/{id}"),
            Some(json!({"schemas": [USER_SCHEMA], "userName": "pw.user"})),
        )
        .await;
    assert!(put.body.get("password").is_none());
    let stored = app
        .stores
        .resources
        .get(&app.tenant, scimlet::domain::ResourceKind::User, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.password_hash, Some(hash));
    let listed = app.list_users(&[]).await;
    assert!(listed["Resources"][0].get("password").is_none());
}

async fn unimplemented_endpoints_answer_501(backend: Backend) {
    let app = spawn_app(backend).await;
    for (method, path) in [(Method::GET, "/Me"), (Method::PUT, "/Me")] {
        app.request(method, path, None)
            .await
            .assert_error(501, None);
    }
    app.request(Method::DELETE, "/Users", None)
        .await
        .assert_error(405, None);
}

async fn entra_and_okta_input_is_tolerated(backend: Backend) {
    let app = spawn_app(backend).await;
    // Entra: string booleans, extra schema URIs without attributes, read-only meta on input.
    let reply = app
        .request(
            Method::POST,
            "/Users",
            Some(json!({
                "schemas": [USER_SCHEMA,
                            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
                            "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/User"],
                "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
                "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
                "active": "True",
                "displayName": "BobIsAmazing",
                "meta": {"resourceType": "User"},
                "name": {"formatted": "Ryan Leenay", "familyName": "Leenay", "givenName": "Ryan"},
                "emails": [{"Primary": "true", "type": "work", "value": "Test_User_fd0ea19b@testuser.com"}],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"Department": "some department"}
            })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["active"], true);
    assert_eq!(reply.body["emails"][0]["primary"], true);
    assert_eq!(
        reply.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "some department"
    );
    assert_eq!(
        reply.body["schemas"],
        json!([
            USER_SCHEMA,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ])
    );
    // Okta: application/json, PUT with the full resource including id and active=false.
    let okta = app
        .client
        .post(format!("{}/Users", app.base))
        .bearer_auth(&app.token)
        .header("content-type", "application/json; charset=utf-8")
        .body(
            json!({"schemas": [USER_SCHEMA], "userName": "okta@example.com", "active": true,
                     "password": "Secret123!"})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    let okta = crate::helpers::read(okta).await;
    assert_eq!(okta.status, StatusCode::CREATED);
    let mut full = okta.body.clone();
    full["active"] = json!(false);
    let path = format!("/Users/{}", okta.body["id"].as_str().unwrap());
    let put = app.request(Method::PUT, &path, Some(full)).await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!(put.body["active"], false);
    // Deactivated users stay readable and filterable.
    let list = app
        .list_users(&[("filter", "userName eq \"okta@example.com\"")])
        .await;
    assert_eq!(list["Resources"][0]["active"], false);
}
