//! `/Groups` and membership over HTTP, on both stores: CRUD, members as edges in both
//! directions, Okta's and Entra's membership requests, filters on members, display copies.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_stores;
use crate::helpers::{Backend, Reply, TestApp, member_ids, spawn_app};

const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

both_stores!(
    groups_hold_users_and_groups_and_users_show_their_groups,
    display_names_are_unique_and_members_must_exist,
    okta_membership_requests,
    entra_membership_requests,
    put_replaces_members_and_deletes_cascade,
    renames_refresh_display_copies,
    filters_on_membership_use_the_edges,
    large_membership_changes_apply_whole,
    root_search_spans_users_and_groups,
);

async fn create_group(app: &TestApp, name: &str, members: Value) -> Value {
    let reply = app
        .request(
            Method::POST,
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": name, "members": members})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body
}

async fn get(app: &TestApp, path: &str) -> Value {
    let reply = app.request(Method::GET, path, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
    reply.body
}

async fn patch(app: &TestApp, path: &str, operations: Value) -> Reply {
    app.request(
        Method::PATCH,
        path,
        Some(json!({"schemas": [PATCH_OP], "Operations": operations})),
    )
    .await
}

fn sorted(ids: &[&Value]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|i| i.as_str().unwrap().to_owned()).collect();
    v.sort();
    v
}

fn gpath(group: &Value) -> String {
    format!("/Groups/{}", group["id"].as_str().unwrap())
}

fn upath(user: &Value) -> String {
    format!("/Users/{}", user["id"].as_str().unwrap())
}

async fn groups_hold_users_and_groups_and_users_show_their_groups(backend: Backend) {
    let app = spawn_app(backend).await;
    let ann = app
        .create_user("ann", json!({"displayName": "Ann A."}))
        .await;
    let inner = create_group(&app, "Inner", json!([])).await;
    assert!(inner.get("members").is_none());
    let outer = create_group(
        &app,
        "Outer",
        json!([{"value": ann["id"]}, {"value": inner["id"], "type": "Group"}]),
    )
    .await;
    assert_eq!(outer["schemas"], json!([GROUP]));
    assert_eq!(outer["meta"]["resourceType"], "Group");
    let got = get(&app, &gpath(&outer)).await;
    assert_eq!(got, outer);
    let members = got["members"].as_array().unwrap();
    let ann_member = members.iter().find(|m| m["value"] == ann["id"]).unwrap();
    assert_eq!(ann_member["type"], "User");
    assert_eq!(ann_member["display"], "Ann A.");
    assert_eq!(
        ann_member["$ref"],
        format!("{}/Users/{}", app.base, ann["id"].as_str().unwrap()).as_str()
    );
    let inner_member = members.iter().find(|m| m["value"] == inner["id"]).unwrap();
    assert_eq!(inner_member["type"], "Group");
    assert_eq!(inner_member["display"], "Inner");
    // The user shows its direct groups, read-only and derived.
    let user = get(&app, &upath(&ann)).await;
    assert_eq!(
        user["groups"],
        json!([{
        "value": outer["id"], "$ref": format!("{}/Groups/{}", app.base, outer["id"].as_str().unwrap()),
        "display": "Outer", "type": "direct"}])
    );
    // Direct membership only: Inner's members are not expanded into Outer.
    let inner_user = app.create_user("deep", json!({})).await;
    patch(
        &app,
        &gpath(&inner),
        json!([{"op": "add", "path": "members", "value": [{"value": inner_user["id"]}]}]),
    )
    .await;
    assert_eq!(member_ids(&get(&app, &gpath(&outer)).await).len(), 2);
    assert_eq!(
        get(&app, &upath(&inner_user)).await["groups"][0]["value"],
        inner["id"]
    );
    // Lists show memberships too, unless excluded.
    let list = get(&app, "/Groups?filter=displayName%20eq%20%22outer%22").await;
    assert_eq!(list["totalResults"], 1);
    assert_eq!(member_ids(&list["Resources"][0]).len(), 2);
    let list = get(
        &app,
        "/Users?filter=userName%20eq%20%22ann%22&excludedAttributes=groups",
    )
    .await;
    assert!(list["Resources"][0].get("groups").is_none());
    // groups is read-only on users: ignored in bodies, an error as a PATCH path.
    let put = app
        .request(
            Method::PUT,
            &upath(&ann),
            Some(
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ann", "displayName": "Ann A.", "groups": [{"value": inner["id"]}]}),
            ),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK);
    assert_eq!(put.body["groups"][0]["value"], outer["id"]);
    patch(
        &app,
        &upath(&ann),
        json!([{"op": "add", "path": "groups", "value": [{"value": inner["id"]}]}]),
    )
    .await
    .assert_error(400, Some("mutability"));
}

async fn display_names_are_unique_and_members_must_exist(backend: Backend) {
    let app = spawn_app(backend).await;
    let g = create_group(&app, "Engineering", json!([])).await;
    app.request(
        Method::POST,
        "/Groups",
        Some(json!({"schemas": [GROUP], "displayName": "ENGINEERING"})),
    )
    .await
    .assert_error(409, Some("uniqueness"));
    app.request(Method::POST, "/Groups", Some(json!({"schemas": [GROUP]})))
        .await
        .assert_error(400, Some("invalidValue"));
    let missing = "00000000-0000-7000-8000-00000000beef";
    let reply = app
        .request(
            Method::POST,
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "X",
            "members": [{"value": missing}]})),
        )
        .await;
    reply.assert_error(400, Some("invalidValue"));
    assert!(reply.body["detail"].as_str().unwrap().contains(missing));
    patch(
        &app,
        &gpath(&g),
        json!([{"op": "add", "path": "members", "value": [{"value": missing}]}]),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    patch(
        &app,
        &gpath(&g),
        json!([{"op": "add", "path": "members", "value": [{"value": g["id"]}]}]),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    assert_eq!(get(&app, &gpath(&g)).await["meta"]["version"], "W/\"1\"");
    // A user id given as a Group member is not a Group.
    let u = app.create_user("typed", json!({})).await;
    patch(
        &app,
        &gpath(&g),
        json!([{"op": "add", "path": "members", "value": [{"value": u["id"], "type": "Group"}]}]),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    // Filtering by displayName is one consistent lookup.
    let list = get(&app, "/Groups?filter=displayName%20eq%20%22engineering%22").await;
    assert_eq!(list["Resources"][0]["id"], g["id"]);
}

async fn okta_membership_requests(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.create_user("okta.a", json!({})).await;
    let b = app.create_user("okta.b", json!({})).await;
    let c = app.create_user("okta.c", json!({})).await;
    let g = create_group(&app, "Okta Group", json!([])).await;
    let path = gpath(&g);
    // Add members.
    let reply = patch(&app, &path, json!([{"op": "add", "path": "members",
        "value": [{"value": a["id"], "display": "okta.a"}, {"value": b["id"], "display": "okta.b"}]}])).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(member_ids(&reply.body), sorted(&[&a["id"], &b["id"]]));
    // Adding an existing member again changes nothing.
    let again = patch(
        &app,
        &path,
        json!([{"op": "add", "path": "members", "value": [{"value": a["id"]}]}]),
    )
    .await;
    assert_eq!(again.body["meta"]["version"], reply.body["meta"]["version"]);
    // Remove one by value filter.
    let filter_path = format!("members[value eq \"{}\"]", a["id"].as_str().unwrap());
    let reply = patch(&app, &path, json!([{"op": "remove", "path": filter_path}])).await;
    assert_eq!(member_ids(&reply.body), sorted(&[&b["id"]]));
    // Removing a non-member succeeds.
    let reply = patch(&app, &path, json!([{"op": "remove", "path": filter_path}])).await;
    assert_eq!(reply.status, StatusCode::OK);
    // Replace displayName, and the whole members list.
    let reply = patch(
        &app,
        &path,
        json!([
            {"op": "replace", "value": {"id": g["id"], "displayName": "Okta Group 2"}},
            {"op": "replace", "path": "members", "value": [{"value": c["id"]}, {"value": a["id"]}]}
        ]),
    )
    .await;
    assert_eq!(reply.body["displayName"], "Okta Group 2");
    assert_eq!(member_ids(&reply.body), sorted(&[&c["id"], &a["id"]]));
    assert!(get(&app, &upath(&b)).await.get("groups").is_none());
    // Delete the group: its users have no groups left.
    assert_eq!(
        app.request(Method::DELETE, &path, None).await.status,
        StatusCode::NO_CONTENT
    );
    app.request(Method::GET, &path, None)
        .await
        .assert_error(404, None);
    assert!(get(&app, &upath(&a)).await.get("groups").is_none());
}

async fn entra_membership_requests(backend: Backend) {
    let app = spawn_app(backend).await;
    let users: Vec<Value> = {
        let mut v = Vec::new();
        for i in 0..4 {
            v.push(app.create_user(&format!("entra{i}"), json!({})).await);
        }
        v
    };
    // Entra's Create Group carries an extra schema URI and read-only meta.
    let reply = app
        .request(Method::POST, "/Groups", Some(json!({
            "schemas": [GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "Group1DisplayName",
            "meta": {"resourceType": "Group"}
        })))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let path = gpath(&reply.body);
    // Several membership changes in one PATCH, capitalised ops.
    let reply = patch(&app, &path, json!([
        {"op": "Add", "path": "members", "value": [{"value": users[0]["id"]}, {"value": users[1]["id"]}]},
        {"op": "Add", "path": "members", "value": [{"value": users[2]["id"]}, {"value": users[3]["id"]}]}
    ])).await;
    assert_eq!(member_ids(&reply.body).len(), 4);
    // Remove with a value list: exactly those members, never the whole list.
    let reply = patch(
        &app,
        &path,
        json!([{"op": "Remove", "path": "members",
        "value": [{"value": users[0]["id"]}, {"value": users[2]["id"]}]}]),
    )
    .await;
    assert_eq!(
        member_ids(&reply.body),
        sorted(&[&users[1]["id"], &users[3]["id"]])
    );
    // excludedAttributes=members leaves them out.
    let lean = get(&app, &format!("{path}?excludedAttributes=members")).await;
    assert!(lean.get("members").is_none());
    assert_eq!(lean["displayName"], "Group1DisplayName");
    // externalId and displayName lookups.
    let list = get(&app, "/Groups?excludedAttributes=members&filter=externalId%20eq%20%228aa1a0c0-c4c3-4bc0-b4a5-2ef676900159%22").await;
    assert_eq!(list["totalResults"], 1);
    assert!(list["Resources"][0].get("members").is_none());
    // RFC mode: replace displayName without a path.
    let reply = app
        .request(
            Method::PATCH,
            &format!("{path}?aadOptscim062020"),
            Some(json!({"schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "value": {"displayName": "Renamed"}}]})),
        )
        .await;
    assert_eq!(reply.body["displayName"], "Renamed");
    assert_eq!(member_ids(&reply.body).len(), 2);
}

async fn put_replaces_members_and_deletes_cascade(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.create_user("put.a", json!({})).await;
    let b = app.create_user("put.b", json!({})).await;
    let g = create_group(&app, "PutGroup", json!([{"value": a["id"]}])).await;
    let put = app
        .request(
            Method::PUT,
            &gpath(&g),
            Some(json!({"schemas": [GROUP], "displayName": "PutGroup",
            "members": [{"value": b["id"]}]})),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!(member_ids(&put.body), sorted(&[&b["id"]]));
    assert!(get(&app, &upath(&a)).await.get("groups").is_none());
    // Deleting a member removes it from the group.
    assert_eq!(
        app.request(Method::DELETE, &upath(&b), None).await.status,
        StatusCode::NO_CONTENT
    );
    assert!(get(&app, &gpath(&g)).await.get("members").is_none());
    // PUT without members empties the group.
    patch(
        &app,
        &gpath(&g),
        json!([{"op": "add", "path": "members", "value": [{"value": a["id"]}]}]),
    )
    .await;
    let put = app
        .request(
            Method::PUT,
            &gpath(&g),
            Some(json!({"schemas": [GROUP], "displayName": "PutGroup"})),
        )
        .await;
    assert!(put.body.get("members").is_none());
}

async fn renames_refresh_display_copies(backend: Backend) {
    let app = spawn_app(backend).await;
    let u = app.create_user("rename.me", json!({})).await;
    let g = create_group(&app, "Before", json!([{"value": u["id"]}])).await;
    assert_eq!(g["members"][0]["display"], "rename.me");
    patch(
        &app,
        &upath(&u),
        json!([{"op": "replace", "path": "displayName", "value": "Renamed User"}]),
    )
    .await;
    assert_eq!(
        get(&app, &gpath(&g)).await["members"][0]["display"],
        "Renamed User"
    );
    patch(
        &app,
        &gpath(&g),
        json!([{"op": "replace", "path": "displayName", "value": "After"}]),
    )
    .await;
    assert_eq!(get(&app, &upath(&u)).await["groups"][0]["display"], "After");
    // A rename changes the group's version, not the user's.
    assert_eq!(get(&app, &upath(&u)).await["meta"]["version"], "W/\"2\"");
}

async fn filters_on_membership_use_the_edges(backend: Backend) {
    let app = spawn_app(backend).await;
    let u = app.create_user("member.user", json!({})).await;
    let other = app.create_user("other.user", json!({})).await;
    let g1 = create_group(&app, "G1", json!([{"value": u["id"]}])).await;
    let g2 = create_group(
        &app,
        "G2",
        json!([{"value": u["id"]}, {"value": other["id"]}]),
    )
    .await;
    create_group(&app, "G3", json!([{"value": other["id"]}])).await;
    let uid = u["id"].as_str().unwrap();
    let ids = |list: &Value| -> Vec<String> {
        let mut v: Vec<String> = list["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect();
        v.sort();
        v
    };
    for filter in [
        format!("members.value eq \"{uid}\""),
        format!("members[value eq \"{uid}\"]"),
        format!("members[value eq \"{uid}\"] and displayName sw \"G\""),
    ] {
        let list = app
            .list_groups(&[("filter", &filter), ("excludedAttributes", "members")])
            .await;
        assert_eq!(ids(&list), sorted(&[&g1["id"], &g2["id"]]), "{filter}");
        assert!(list["Resources"][0].get("members").is_none());
    }
    let list = app
        .list_groups(&[(
            "filter",
            &format!("members.value eq \"{uid}\" and displayName eq \"G2\""),
        )])
        .await;
    assert_eq!(ids(&list), sorted(&[&g2["id"]]));
    let list = app
        .list_users(&[(
            "filter",
            &format!("groups.value eq \"{}\"", g2["id"].as_str().unwrap()),
        )])
        .await;
    assert_eq!(ids(&list), sorted(&[&u["id"], &other["id"]]));
    for bad in [
        format!("members.value co \"{uid}\""),
        "members pr".to_owned(),
        format!("members.value eq \"{uid}\" or displayName eq \"G3\""),
        "members.display eq \"x\"".to_owned(),
    ] {
        let encoded: String = form_urlencoded::byte_serialize(bad.as_bytes()).collect();
        app.request(Method::GET, &format!("/Groups?filter={encoded}"), None)
            .await
            .assert_error(400, Some("invalidFilter"));
    }
    app.request(Method::GET, "/Groups?sortBy=members", None)
        .await
        .assert_error(400, Some("invalidFilter"));
}

async fn large_membership_changes_apply_whole(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut members = Vec::new();
    for i in 0..45 {
        let u = app.create_user(&format!("bulk{i:02}"), json!({})).await;
        members.push(json!({"value": u["id"]}));
    }
    // 45 members need more than one transaction's 100 actions.
    let g = create_group(&app, "Big", Value::Array(members.clone())).await;
    assert_eq!(member_ids(&g).len(), 45);
    let reply = patch(
        &app,
        &gpath(&g),
        json!([{"op": "remove", "path": "members", "value": members[..40].to_vec()}]),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(member_ids(&get(&app, &gpath(&g)).await).len(), 5);
    let reply = patch(
        &app,
        &gpath(&g),
        json!([{"op": "replace", "path": "members", "value": members.clone()}]),
    )
    .await;
    assert_eq!(member_ids(&reply.body).len(), 45);
    assert_eq!(member_ids(&get(&app, &gpath(&g)).await).len(), 45);
    let last = members[44]["value"].as_str().unwrap();
    assert_eq!(
        get(&app, &format!("/Users/{last}")).await["groups"][0]["value"],
        g["id"]
    );
}

async fn root_search_spans_users_and_groups(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_user("search.user", json!({"displayName": "Zed"}))
        .await;
    app.create_user("plain.user", json!({})).await;
    create_group(&app, "Alpha Team", json!([])).await;
    let reply = app
        .request(
            Method::POST,
            "/.search",
            Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": "displayName pr", "sortBy": "displayName"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["totalResults"], 2);
    let types: Vec<&str> = reply.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["meta"]["resourceType"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["Group", "User"]);
    // userName exists only on Users: Groups simply do not match.
    let reply = app
        .request(
            Method::POST,
            "/.search",
            Some(json!({"filter": "userName sw \"search\""})),
        )
        .await;
    assert_eq!(reply.body["totalResults"], 1);
    app.request(
        Method::POST,
        "/.search",
        Some(json!({"filter": "nosuch eq 1"})),
    )
    .await
    .assert_error(400, Some("invalidFilter"));
}
