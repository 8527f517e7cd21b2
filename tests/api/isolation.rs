//! Security suite, tenant isolation: random sequences of operations (creates, Bulk, PATCHes of
//! membership, deletes, lists, `/.search`, cursor pages, member references) for two tenants on
//! one server, on both stores. Every response of a tenant is checked against a model of that
//! tenant alone, so that no count or id of the other can leak in unnoticed, and every request
//! for the other tenant's ids is a 404 (or, in member references, a 400 naming the id).

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestRunner};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_stores;
use crate::helpers::{Backend, TestApp, USER_SCHEMA, spawn_app};

const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

both_stores!(tenants_never_see_each_other);

/// One step, for tenant `0` or `1`.
#[derive(Debug, Clone)]
enum Op {
    CreateUser(u8),
    BulkCreateUser(u8),
    CreateGroup(u8),
    AddMember { group: u8, user: u8 },
    DeleteUser(u8),
    List,
    Search,
    CursorPage,
    TouchOther(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..6).prop_map(Op::CreateUser),
        (0u8..6).prop_map(Op::BulkCreateUser),
        (0u8..3).prop_map(Op::CreateGroup),
        (0u8..3, 0u8..6).prop_map(|(group, user)| Op::AddMember { group, user }),
        (0u8..6).prop_map(Op::DeleteUser),
        Just(Op::List),
        Just(Op::Search),
        Just(Op::CursorPage),
        (0u8..6).prop_map(Op::TouchOther),
    ]
}

/// What one tenant holds: users by name, groups by name with their members' names.
#[derive(Debug, Default)]
struct Model {
    users: BTreeMap<String, String>,
    groups: BTreeMap<String, (String, BTreeSet<String>)>,
}

fn ids(list: &Value) -> BTreeSet<String> {
    list["Resources"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|x| x["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn step(apps: &[TestApp; 2], models: &mut [Model; 2], who: usize, op: &Op) {
    let (app, other) = (&apps[who], &apps[1 - who]);
    let name = |n: u8| format!("u{n}@example.com");
    match op {
        Op::CreateUser(n) | Op::BulkCreateUser(n) => {
            let body = json!({"schemas": [USER_SCHEMA], "userName": name(*n)});
            let (status, id) = if matches!(op, Op::CreateUser(_)) {
                let r = app.request(Method::POST, "/Users", Some(body)).await;
                (r.status, r.body["id"].as_str().map(str::to_owned))
            } else {
                let r = app
                    .request(
                        Method::POST,
                        "/Bulk",
                        Some(json!({"schemas": [BULK], "Operations": [
                            {"method": "POST", "path": "/Users", "bulkId": "b", "data": body}]})),
                    )
                    .await;
                assert_eq!(r.status, StatusCode::OK, "{}", r.body);
                let o = &r.body["Operations"][0];
                let status = o["status"].as_str().unwrap().parse::<u16>().unwrap();
                let id = o["location"]
                    .as_str()
                    .and_then(|l| l.rsplit('/').next())
                    .map(str::to_owned);
                (StatusCode::from_u16(status).unwrap(), id)
            };
            // The other tenant's users never make a name taken here.
            let taken = models[who].users.contains_key(&name(*n));
            if taken {
                assert_eq!(status, StatusCode::CONFLICT);
            } else {
                assert_eq!(status, StatusCode::CREATED);
                models[who].users.insert(name(*n), id.unwrap());
            }
        }
        Op::CreateGroup(g) => {
            let gname = format!("g{g}");
            let r = app
                .request(
                    Method::POST,
                    "/Groups",
                    Some(json!({"schemas": [GROUP_SCHEMA], "displayName": gname})),
                )
                .await;
            match models[who].groups.entry(gname) {
                std::collections::btree_map::Entry::Occupied(_) => {
                    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
                }
                std::collections::btree_map::Entry::Vacant(slot) => {
                    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
                    let id = r.body["id"].as_str().unwrap().to_owned();
                    slot.insert((id, BTreeSet::new()));
                }
            }
        }
        Op::AddMember { group, user } => {
            let gname = format!("g{group}");
            let Some((gid, _)) = models[who].groups.get(&gname).cloned() else {
                return;
            };
            // A member reference to the other tenant's user is refused, naming it.
            if let Some(foreign) = models[1 - who].users.get(&name(*user)) {
                let r = app
                    .request(
                        Method::PATCH,
                        &format!("/Groups/{gid}"),
                        Some(json!({"schemas": [PATCH_OP], "Operations": [
                            {"op": "add", "path": "members", "value": [{"value": foreign}]}]})),
                    )
                    .await;
                r.assert_error(400, Some("invalidValue"));
            }
            let Some(uid) = models[who].users.get(&name(*user)).cloned() else {
                return;
            };
            let r = app
                .request(
                    Method::PATCH,
                    &format!("/Groups/{gid}?excludedAttributes=members"),
                    Some(json!({"schemas": [PATCH_OP], "Operations": [
                        {"op": "add", "path": "members", "value": [{"value": uid}]}]})),
                )
                .await;
            assert!(r.status.is_success(), "{}", r.body);
            if let Some(entry) = models[who].groups.get_mut(&gname) {
                entry.1.insert(name(*user));
            }
        }
        Op::DeleteUser(n) => {
            let Some(id) = models[who].users.remove(&name(*n)) else {
                return;
            };
            let r = app
                .request(Method::DELETE, &format!("/Users/{id}"), None)
                .await;
            assert_eq!(r.status, StatusCode::NO_CONTENT);
            for (_, members) in models[who].groups.values_mut() {
                members.remove(&name(*n));
            }
        }
        Op::List => {
            let users = app.list_users(&[("count", "100")]).await;
            let want: BTreeSet<String> = models[who].users.values().cloned().collect();
            assert_eq!(users["totalResults"], want.len());
            assert_eq!(ids(&users), want);
            let groups = app.list_groups(&[("count", "100")]).await;
            assert_eq!(groups["totalResults"], models[who].groups.len());
            for g in groups["Resources"].as_array().unwrap() {
                let (_, members) = &models[who].groups[g["displayName"].as_str().unwrap()];
                let shown = g["members"].as_array().map_or(0, Vec::len);
                assert_eq!(shown, members.len(), "{g}");
            }
        }
        Op::Search => {
            let r = app
                .request(
                    Method::POST,
                    "/.search",
                    Some(
                        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                        "filter": "id pr", "count": 100}),
                    ),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            let m = &models[who];
            assert_eq!(r.body["totalResults"], m.users.len() + m.groups.len());
            let want: BTreeSet<String> = m
                .users
                .values()
                .cloned()
                .chain(m.groups.values().map(|(id, _)| id.clone()))
                .collect();
            assert_eq!(ids(&r.body), want);
        }
        Op::CursorPage => {
            let mut seen = BTreeSet::new();
            let mut cursor = String::new();
            loop {
                let page = app
                    .list_users(&[("cursor", cursor.as_str()), ("count", "2")])
                    .await;
                seen.extend(ids(&page));
                match page["nextCursor"].as_str() {
                    Some(next) => cursor = next.to_owned(),
                    None => break,
                }
            }
            let want: BTreeSet<String> = models[who].users.values().cloned().collect();
            assert_eq!(seen, want);
        }
        Op::TouchOther(n) => {
            // The other tenant's resources do not exist here, whatever the method.
            let Some(id) = models[1 - who].users.get(&name(*n)).cloned() else {
                return;
            };
            let path = format!("/Users/{id}");
            for (method, body) in [
                (Method::GET, None),
                (
                    Method::PATCH,
                    Some(json!({"schemas": [PATCH_OP], "Operations": [
                        {"op": "replace", "path": "title", "value": "x"}]})),
                ),
                (Method::DELETE, None),
            ] {
                app.request(method, &path, body)
                    .await
                    .assert_error(404, None);
            }
            let found = app
                .list_users(&[("filter", &format!("id eq \"{id}\""))])
                .await;
            assert_eq!(found["totalResults"], 0);
            // ... and is untouched for its owner.
            let r = other.request(Method::GET, &path, None).await;
            assert_eq!(r.status, StatusCode::OK);
            assert!(r.body.get("title").is_none());
        }
    }
}

async fn tenants_never_see_each_other(backend: Backend) {
    let cases = match backend {
        Backend::Memory => 24,
        Backend::Dynamo => 8,
    };
    let mut runner = TestRunner::new(RunnerConfig {
        cases,
        failure_persistence: None,
        ..RunnerConfig::default()
    });
    let sequence = prop::collection::vec((any::<bool>(), op()), 5..30);
    let handle = tokio::runtime::Handle::current();
    let result = runner.run(&sequence, |steps| {
        tokio::task::block_in_place(|| {
            handle.block_on(async {
                let first = spawn_app(backend).await;
                let second = first.other_tenant().await;
                let apps = [first, second];
                let mut models = [Model::default(), Model::default()];
                for (which, op) in &steps {
                    step(&apps, &mut models, usize::from(*which), op).await;
                }
                // Finally both views, side by side.
                for who in 0..2 {
                    step(&apps, &mut models, who, &Op::List).await;
                    step(&apps, &mut models, who, &Op::Search).await;
                }
            });
        });
        Ok(())
    });
    if let Err(err) = result {
        panic!("{err}");
    }
}
