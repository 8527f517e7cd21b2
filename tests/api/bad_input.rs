//! Security suite, bad input: each malformed request is a clear 4xx SCIM error (never a 5xx),
//! and the stored state is unchanged afterwards (read back and compared), on both stores.

use reqwest::Method;
use serde_json::{Value, json};

use crate::both_stores;
use crate::helpers::{Backend, SCIM, USER_SCHEMA, spawn_app};

both_stores!(bad_input_is_refused_and_changes_nothing);

async fn bad_input_is_refused_and_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app
        .create_user("kept@example.com", json!({"title": "t"}))
        .await;
    let path = format!("/Users/{}", user["id"].as_str().unwrap());
    let before = app.request(Method::GET, &path, None).await.body;
    let url = |p: &str| format!("{}{p}", app.base);
    let is_scim_4xx = |status: u16, body: &Value| {
        (400..500).contains(&status)
            && body["schemas"][0] == "urn:ietf:params:scim:api:messages:2.0:Error"
    };

    // Bodies: invalid UTF-8, a byte-order mark, NUL bytes, deep nesting, a huge number.
    let bodies: Vec<Vec<u8>> = vec![
        b"{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"userName\":\"\xff\xfe\"}"
            .to_vec(),
        b"\xef\xbb\xbf{\"userName\": \"bom\"}".to_vec(),
        b"{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"userName\":\"a\x00b\",\0}"
            .to_vec(),
        format!("{}1{}", "{\"a\":".repeat(5000), "}".repeat(5000)).into_bytes(),
        format!(
            r#"{{"schemas":["{USER_SCHEMA}"],"userName":"n","x-number":1{}}}"#,
            "0".repeat(400)
        )
        .into_bytes(),
    ];
    for (method, target) in [(Method::POST, url("/Users")), (Method::PUT, url(&path))] {
        for body in &bodies {
            let r = app
                .client
                .request(method.clone(), &target)
                .bearer_auth(&app.token)
                .header("content-type", SCIM)
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let reply: Value = r.json().await.unwrap_or(Value::Null);
            assert!(is_scim_4xx(status, &reply), "{method} {status} {reply}");
        }
    }

    // Query parameters far out of range, and malformed ones.
    for query in [
        "count=99999999999999999999999",
        "count=-1",
        "startIndex=99999999999999999999999",
        "startIndex=0&count=0",
        "count=abc",
        "sortBy=%00",
        "attributes=%ff%fe",
        "filter=userName%20eq%20%22%ff%22",
        "cursor=%00%01",
    ] {
        let r = app
            .client
            .get(url(&format!("/Users?{query}")))
            .bearer_auth(&app.token)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let reply: Value = r.json().await.unwrap_or(Value::Null);
        assert!(
            status == 200 || is_scim_4xx(status, &reply),
            "{query}: {status} {reply}"
        );
    }

    // Headers: preconditions that match nothing (one with a non-ASCII byte), an odd
    // content type with a PATCH that changes nothing, an over-long token.
    let patch = |title: &str| {
        format!(
            r#"{{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{{"op":"replace","path":"title","value":"{title}"}}]}}"#
        )
    };
    for (name, value, title) in [
        ("if-match", &b"W/\"1\xff\""[..], "changed"),
        ("if-match", &b"W/\"zz\", W/\"0\""[..], "changed"),
        (
            "content-type",
            &b"application/scim+json; charset=latin1; x=\"\\\""[..],
            "t",
        ),
    ] {
        let value = reqwest::header::HeaderValue::from_bytes(value).unwrap();
        let r = app
            .client
            .patch(url(&path))
            .bearer_auth(&app.token)
            .header("content-type", SCIM)
            .header(name, value)
            .body(patch(title))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let reply: Value = r.json().await.unwrap_or(Value::Null);
        let refused = is_scim_4xx(status, &reply);
        match name {
            "if-match" => assert!(refused, "{name}: {status} {reply}"),
            _ => assert!(status == 200 || refused, "{name}: {status} {reply}"),
        }
    }
    let long = format!("scimlet_{}_{}", "a".repeat(16), "b".repeat(100_000));
    let r = app
        .client
        .get(url("/Users"))
        .bearer_auth(long)
        .send()
        .await
        .unwrap();
    assert!((400..500).contains(&r.status().as_u16()), "{}", r.status());

    // Nothing of it was stored: the one user, exactly as it was.
    let after = app.request(Method::GET, &path, None).await.body;
    assert_eq!(after, before);
    assert_eq!(app.list_users(&[]).await["totalResults"], 1);
}
