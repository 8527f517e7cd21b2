//! Change events: the same provisioning story, told by the memory store's change feed (what
//! `scimlet serve --events` delivers) and by DynamoDB Local's stream read as the pipe reads
//! it in AWS (as principal `pipe`, through the IAM proxy) — the same events either way.

use std::collections::BTreeMap;
use std::sync::Arc;

use reqwest::{Method, StatusCode};
use scimlet::Config;
use scimlet::domain::{ResourceKind, TenantSettings};
use scimlet::events::pipe::{BatchError, enrich};
use scimlet::events::{Event, from_change};
use scimlet::store::Change;
use scimlet::store::dynamo::stream::change_of;
use scimlet::store::memory::MemoryStore;
use serde_json::{Value, json};

use crate::helpers::{
    Principal, Stores, TestApp, dynamo_store_as, dynamodb_endpoint, ensure_table, spawn_on,
};

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// A table of its own, so that its stream carries this test's writes only.
const EVENTS_TABLE: &str = "scimlet-events-test";

/// An event as compared: type, resource id, member id, changed attributes, soft.
type Seen = (String, String, Option<String>, Vec<String>, Option<bool>);

fn seen(e: &Event) -> Seen {
    (
        e.event_type.clone(),
        e.resource_id.clone(),
        e.member.as_ref().map(|m| m.value.clone()),
        e.changed_attributes.clone(),
        e.soft,
    )
}

fn ev(t: &str, id: &str, member: Option<&str>, changed: &[&str], soft: Option<bool>) -> Seen {
    (
        t.to_owned(),
        id.to_owned(),
        member.map(str::to_owned),
        changed.iter().map(|s| (*s).to_owned()).collect(),
        soft,
    )
}

async fn patch(app: &TestApp, path: &str, ops: Value) {
    let reply = app
        .request(
            Method::PATCH,
            path,
            Some(json!({"schemas": [PATCH], "Operations": ops})),
        )
        .await;
    assert!(reply.status.is_success(), "{path}: {:?}", reply.body);
}

/// The provisioning story (on a tenant that soft-deletes), and the events it must produce,
/// in order.
async fn provision(app: &TestApp) -> Vec<Seen> {
    let stores = &app.stores;
    let ann = app
        .create_user(
            "ann",
            json!({"active": true, "password": "Corr3ct-Horse!", "name": {"givenName": "Ann"}}),
        )
        .await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let bob = app.create_user("bob", json!({})).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let created = app
        .request(
            Method::POST,
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "eng", "members": [{"value": ann}]})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let eng = created.body["id"].as_str().expect("id").to_owned();
    let g = format!("/Groups/{eng}");
    let u = format!("/Users/{ann}");
    patch(
        app,
        &g,
        json!([{"op": "add", "path": "members", "value": [{"value": bob}]}]),
    )
    .await;
    patch(
        app,
        &u,
        json!([{"op": "replace", "path": "active", "value": false}]),
    )
    .await;
    patch(
        app,
        &u,
        json!([{"op": "replace", "path": "active", "value": true}]),
    )
    .await;
    patch(
        app,
        &u,
        json!([{"op": "replace", "path": "name.givenName", "value": "Anna"}]),
    )
    .await;
    patch(
        app,
        &g,
        json!([{"op": "remove", "path": format!("members[value eq \"{bob}\"]")}]),
    )
    .await;
    // Removing a non-member changes nothing: no event.
    patch(
        app,
        &g,
        json!([{"op": "remove", "path": format!("members[value eq \"{bob}\"]")}]),
    )
    .await;
    // Deleting a member reports its memberships as removed, then its deletion.
    assert_eq!(
        app.request(Method::DELETE, &u, None).await.status,
        StatusCode::NO_CONTENT
    );
    patch(
        app,
        &g,
        json!([{"op": "add", "path": "members", "value": [{"value": bob}]}]),
    )
    .await;
    // Deleting a group is one event: it implies its members' removal.
    assert_eq!(
        app.request(Method::DELETE, &g, None).await.status,
        StatusCode::NO_CONTENT
    );
    scimlet::admin::restore(
        stores.admin.as_ref(),
        stores.resources.as_ref(),
        Config::default().registry,
        &app.tenant,
        ResourceKind::Group,
        &eng,
    )
    .await
    .expect("restore the group");
    let restored = app.request(Method::GET, &g, None).await;
    assert_eq!(restored.status, StatusCode::OK);
    assert!(
        restored.body.get("members").is_none_or(|m| m == &json!([])),
        "a restored group has no members: {:?}",
        restored.body
    );
    let user_attrs = ["active", "name.givenName", "userName"];
    vec![
        ev("user.created", &ann, None, &user_attrs, None),
        ev("user.created", &bob, None, &["userName"], None),
        ev("group.created", &eng, None, &["displayName"], None),
        ev("group.member_added", &eng, Some(&ann), &["members"], None),
        ev("group.member_added", &eng, Some(&bob), &["members"], None),
        ev("user.deactivated", &ann, None, &["active"], None),
        ev("user.reactivated", &ann, None, &["active"], None),
        ev("user.updated", &ann, None, &["name.givenName"], None),
        ev("group.member_removed", &eng, Some(&bob), &["members"], None),
        ev("group.member_removed", &eng, Some(&ann), &["members"], None),
        ev("user.deleted", &ann, None, &[], Some(true)),
        ev("group.member_added", &eng, Some(&bob), &["members"], None),
        ev("group.deleted", &eng, None, &[], Some(true)),
        ev("group.restored", &eng, None, &["displayName"], None),
    ]
}

fn soft_deleting() -> TenantSettings {
    TenantSettings {
        soft_delete: true,
        ..TenantSettings::default()
    }
}

/// What every event must be, whatever the store.
fn check_envelope(e: &Event) {
    let text = serde_json::to_string(e).expect("json");
    assert!(!text.contains("argon2"), "no password hash: {text}");
    assert!(!text.contains("Corr3ct"), "no password: {text}");
    assert!(!text.contains("passwordHash") && !text.contains("\"password\""));
    assert_eq!(e.version, 1);
    assert!(
        e.rfc9967
            .event
            .starts_with("urn:ietf:params:scim:event:prov:")
    );
    match e.event_type.as_str() {
        t if t.ends_with(".deleted") || t.contains("member_") => {
            assert!(e.resource.is_none(), "{t} carries no state")
        }
        t => {
            let r = e.resource.as_ref().expect("new state");
            assert_eq!(r["id"], json!(e.resource_id), "{t}");
            assert_eq!(
                r["meta"]["version"].as_str(),
                e.resource_version.as_deref(),
                "{t}"
            );
        }
    }
}

#[tokio::test]
async fn the_memory_store_reports_each_change_in_order() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Change>();
    let store = MemoryStore::with_changes(tx);
    let stores = Stores {
        resources: Arc::new(store.clone()),
        directory: Arc::new(store.clone()),
        admin: Arc::new(store),
    };
    let app = spawn_on(stores, Config::default(), soft_deleting()).await;
    let expected = provision(&app).await;
    let registry = Config::default().registry;
    let mut events = Vec::new();
    while let Ok(change) = rx.try_recv() {
        events.extend(from_change(&change, registry));
    }
    for e in &events {
        check_envelope(e);
        assert_eq!(e.tenant, app.tenant.as_str());
    }
    let got: Vec<Seen> = events.iter().map(seen).collect();
    assert_eq!(got, expected);
    let mut ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), events.len(), "event ids are unique");
}

/// Calls the DynamoDB Streams API of DynamoDB Local through the IAM proxy, as `principal`.
async fn streams(client: &reqwest::Client, principal: Principal, op: &str, body: Value) -> Value {
    let credential = principal.access_key(EVENTS_TABLE);
    let reply = client
        .post(dynamodb_endpoint())
        .header("x-amz-target", format!("DynamoDBStreams_20120810.{op}"))
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-date", "20261202T000000Z")
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={credential}/20261202/us-east-1/dynamodb/aws4_request, \
                 SignedHeaders=host;x-amz-date, Signature=00"
            ),
        )
        .body(body.to_string())
        .send()
        .await
        .expect("reach the streams API");
    let status = reply.status();
    let value: Value = reply.json().await.expect("a JSON answer");
    assert!(status.is_success(), "{op} as {principal:?}: {value}");
    value
}

/// Every record of the table's stream so far, shard by shard, in each shard's order.
async fn read_stream(stream_arn: &str) -> Vec<Value> {
    let client = reqwest::Client::new();
    let described = streams(
        &client,
        Principal::Pipe,
        "DescribeStream",
        json!({"StreamArn": stream_arn}),
    )
    .await;
    let shards = described["StreamDescription"]["Shards"]
        .as_array()
        .expect("shards")
        .clone();
    let mut records = Vec::new();
    for shard in shards {
        let iterator = streams(
            &client,
            Principal::Pipe,
            "GetShardIterator",
            json!({"StreamArn": stream_arn, "ShardId": shard["ShardId"], "ShardIteratorType": "TRIM_HORIZON"}),
        )
        .await;
        let mut next = iterator["ShardIterator"].as_str().map(str::to_owned);
        let mut empty = 0;
        while let Some(it) = next.take() {
            let page = streams(
                &client,
                Principal::Pipe,
                "GetRecords",
                json!({"ShardIterator": it}),
            )
            .await;
            let got = page["Records"].as_array().cloned().unwrap_or_default();
            if got.is_empty() {
                empty += 1;
                if empty >= 2 {
                    break;
                }
            }
            records.extend(got);
            next = page["NextShardIterator"].as_str().map(str::to_owned);
        }
    }
    records
}

#[tokio::test]
async fn the_table_stream_carries_the_same_events() {
    ensure_table(EVENTS_TABLE).await;
    let function = dynamo_store_as(Principal::Function, EVENTS_TABLE).await;
    let stores = Stores {
        resources: Arc::new(function.clone()),
        directory: Arc::new(function),
        admin: Arc::new(dynamo_store_as(Principal::Operator, EVENTS_TABLE).await),
    };
    let app = spawn_on(stores, Config::default(), soft_deleting()).await;
    let expected = provision(&app).await;

    let admin = dynamo_store_as(Principal::Admin, EVENTS_TABLE).await;
    let table = admin
        .client()
        .describe_table()
        .table_name(EVENTS_TABLE)
        .send()
        .await
        .expect("describe the table");
    let stream_arn = table
        .table
        .and_then(|t| t.latest_stream_arn)
        .expect("the table has a stream");
    // A principal without the pipe's grant is refused the stream (that the function's role
    // lacks it is checked by infra/test_iam_policy.py; a denial here would fail the run).
    let denied = reqwest::Client::new()
        .post(dynamodb_endpoint())
        .header("x-amz-target", "DynamoDBStreams_20120810.DescribeStream")
        .header("content-type", "application/x-amz-json-1.0")
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={}/20261202/us-east-1/dynamodb/aws4_request, \
                 SignedHeaders=host, Signature=00",
                Principal::Nobody.access_key(EVENTS_TABLE)
            ),
        )
        .body(json!({"StreamArn": stream_arn}).to_string())
        .send()
        .await
        .expect("reach the proxy");
    assert_eq!(denied.status(), StatusCode::BAD_REQUEST);

    let registry = Config::default().registry;
    let mut events = Vec::new();
    let mut others = 0;
    let records = read_stream(&stream_arn).await;
    if let Ok(path) = std::env::var("SCIMLET_RECORD_STREAM_FIXTURE") {
        // Re-recording tests/fixtures/stream/provisioning.json: this tenant's records, and its
        // token's (one record that is no change).
        let mine: Vec<&Value> = records
            .iter()
            .filter(|r| r.to_string().contains(app.tenant.as_str()))
            .collect();
        std::fs::write(path, serde_json::to_string_pretty(&mine).expect("json")).expect("write");
    }
    for record in records {
        match change_of(&record).expect("every record of the table is readable") {
            Some(change) if change.tenant == app.tenant => {
                events.extend(from_change(&change, registry));
            }
            _ => others += 1,
        }
    }
    assert!(
        others > 0,
        "tokens, guards and counters are in the stream too"
    );
    for e in &events {
        check_envelope(e);
    }
    // The stream orders the records of one item, not of different items: compare the events
    // of each item in order, and all of them as a whole.
    let per_item = |list: &[Seen]| {
        let mut by: BTreeMap<(String, Option<String>), Vec<Seen>> = BTreeMap::new();
        for s in list {
            by.entry((s.1.clone(), s.2.clone()))
                .or_default()
                .push(s.clone());
        }
        by
    };
    let got: Vec<Seen> = events.iter().map(seen).collect();
    let (mut got_sorted, mut expected_sorted) = (got.clone(), expected.clone());
    got_sorted.sort();
    expected_sorted.sort();
    assert_eq!(got_sorted, expected_sorted);
    let (got_items, expected_items) = (per_item(&got), per_item(&expected));
    for (item, list) in &expected_items {
        let mine: Vec<&Seen> = list.iter().filter(|s| !s.0.contains("member_")).collect();
        let theirs: Vec<&Seen> = got_items[item]
            .iter()
            .filter(|s| !s.0.contains("member_"))
            .collect();
        assert_eq!(theirs, mine, "the resource's own events in order");
    }
    // Redelivered records give the same event ids (consumers deduplicate on them).
    let again: Vec<String> = read_stream(&stream_arn)
        .await
        .iter()
        .filter_map(|r| change_of(r).ok().flatten())
        .filter(|c| c.tenant == app.tenant)
        .filter_map(|c| from_change(&c, registry))
        .map(|e| e.id)
        .collect();
    let first: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
    assert_eq!(again, first);
}

/// The mapping alone, over stream records recorded from DynamoDB Local (the provisioning
/// story above; re-record with SCIMLET_RECORD_STREAM_FIXTURE=<path> on the stream test).
#[test]
fn recorded_stream_records_map_to_their_events() {
    let text = include_str!("../fixtures/stream/provisioning.json");
    let records: Vec<Value> = serde_json::from_str(text).expect("fixture");
    let registry = Config::default().registry;
    let mut types = Vec::new();
    for record in &records {
        let sk = record["dynamodb"]["Keys"]["SK"]["S"].as_str().expect("SK");
        let change = change_of(record).expect("readable");
        let event = change.as_ref().and_then(|c| from_change(c, registry));
        // Only resource items and group-side edges can be changes.
        if !(sk == "USER" || sk == "GROUP" || sk.starts_with("MEMBER#")) {
            assert!(change.is_none(), "{sk} is no change");
        }
        if let Some(e) = &event {
            check_envelope(e);
            assert_eq!(
                e.id,
                record["eventID"].as_str().expect("eventID"),
                "the record's id"
            );
        }
        types.push(event.map(|e| e.event_type));
    }
    // The user was created with a password: the record has its hash, the event does not.
    assert!(text.contains("passwordHash"));
    let got: Vec<&str> = types.iter().flatten().map(String::as_str).collect();
    assert_eq!(
        got,
        [
            "user.created",
            "user.created",
            "group.created",
            "group.member_added",
            "group.member_added",
            "user.deactivated",
            "user.reactivated",
            "user.updated",
            "group.member_removed",
            // One transaction: the user's soft deletion and its membership's removal.
            "user.deleted",
            "group.member_removed",
            "group.member_added",
            "group.deleted",
            "group.restored",
        ]
    );
    // The deleted group's member edge was retired (a MODIFY) and, at the restore, deleted (a
    // REMOVE): neither is an event.
    let retired: Vec<usize> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| r.to_string().contains("\"retired\""))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(retired.len(), 2, "retired, then cleared");
    for i in retired {
        assert!(types[i].is_none());
    }
    // A record that is not readable is an error (the pipe retries it, then dead-letters it).
    let mut broken = records[3].clone();
    broken["dynamodb"]["NewImage"]["data"] = json!({"Q": "?"});
    assert!(change_of(&broken).is_err());

    // The events function's batch: what Pipes sends (an array), or a Lambda event source
    // mapping's {"Records": [...]}; the same events either way.
    let batch = enrich(&Value::Array(records.clone()), registry).expect("a batch");
    let batch_types: Vec<&str> = batch.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(batch_types, got);
    let wrapped = enrich(&json!({"Records": records}), registry).expect("a batch");
    assert_eq!(wrapped, batch);
    assert!(matches!(
        enrich(&json!({"detail": {}}), registry),
        Err(BatchError::NotABatch)
    ));
    assert!(matches!(
        enrich(&json!([records[0], broken]), registry),
        Err(BatchError::Record(_))
    ));
}

/// The JSON Schema keywords docs/events.schema.json uses, checked: `type`, `required`,
/// `properties`, `additionalProperties: false`, `enum`, `const`, `items`, `minLength`. An
/// event with a field the schema does not declare, or without one it requires, fails.
fn conforms(value: &Value, schema: &Value, at: &str) -> Result<(), String> {
    let fail = |why: &str| Err(format!("{at}: {why}"));
    if let Some(c) = schema.get("const") {
        if value != c {
            return fail(&format!("{value} is not {c}"));
        }
    }
    if let Some(Value::Array(allowed)) = schema.get("enum") {
        if !allowed.contains(value) {
            return fail(&format!("{value} is not one of {allowed:?}"));
        }
    }
    let type_ok = match schema.get("type").and_then(Value::as_str) {
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("boolean") => value.is_boolean(),
        Some(other) => return fail(&format!("the checker knows no type {other}")),
        None => true,
    };
    if !type_ok {
        return fail(&format!("{value} is not of type {}", schema["type"]));
    }
    if let (Some(min), Some(text)) = (
        schema.get("minLength").and_then(Value::as_u64),
        value.as_str(),
    ) {
        if (text.len() as u64) < min {
            return fail("too short");
        }
    }
    if let Value::Object(map) = value {
        for name in schema["required"].as_array().into_iter().flatten() {
            if !map.contains_key(name.as_str().unwrap_or_default()) {
                return fail(&format!("lacks required {name}"));
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (key, v) in map {
            match properties.and_then(|p| p.get(key)) {
                Some(sub) => conforms(v, sub, &format!("{at}.{key}"))?,
                None if schema.get("additionalProperties") == Some(&json!(false)) => {
                    return fail(&format!("{key} is not declared"));
                }
                None => {}
            }
        }
    }
    if let (Value::Array(items), Some(each)) = (value, schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            conforms(item, each, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

#[test]
fn every_event_follows_the_documented_json_schema() {
    let schema: Value =
        serde_json::from_str(include_str!("../../docs/events.schema.json")).expect("schema");
    let records: Vec<Value> =
        serde_json::from_str(include_str!("../fixtures/stream/provisioning.json"))
            .expect("fixture");
    let registry = Config::default().registry;
    let mut types = std::collections::BTreeSet::new();
    for record in &records {
        if let Some(e) = change_of(record)
            .expect("readable")
            .and_then(|c| from_change(&c, registry))
        {
            let value = serde_json::to_value(&e).expect("json");
            conforms(&value, &schema, "event").unwrap_or_else(|why| panic!("{why}\n{value}"));
            types.insert(e.event_type);
        }
    }
    assert!(
        types.len() >= 8,
        "the fixture exercises most types: {types:?}"
    );
    // The checker is not a rubber stamp.
    let mut wrong = serde_json::to_value(
        change_of(&records[3])
            .expect("readable")
            .and_then(|c| from_change(&c, registry))
            .expect("event"),
    )
    .expect("json");
    wrong["surprise"] = json!(1);
    assert!(conforms(&wrong, &schema, "event").is_err());
    wrong.as_object_mut().expect("object").remove("surprise");
    wrong["type"] = json!("user.renamed");
    assert!(conforms(&wrong, &schema, "event").is_err());
}
