//! The mapping's cases that the end-to-end story (tests/api/events.rs) does not reach.

use serde_json::{Map, Value, json};

use super::*;
use crate::schema::registry::STANDARD;

fn user(version: u64, attributes: Value) -> Resource {
    let Value::Object(attributes) = attributes else {
        panic!("an object");
    };
    Resource {
        kind: ResourceKind::User,
        id: "01a23535-ffb3-76e6-99aa-000000000001".into(),
        version: Version {
            attributes: version,
            members: 0,
            settling: version == 7,
        },
        created: "2026-12-02T00:00:00Z".into(),
        last_modified: format!("2026-12-02T00:00:0{version}Z"),
        attributes,
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
        guards: None,
        member_count: 0,
    }
}

fn change(before: Option<Resource>, after: Option<Resource>) -> Change {
    Change {
        id: "evt-1".into(),
        tenant: crate::domain::TenantId::new("acme").expect("tenant"),
        at: Some("2026-12-02T00:00:09Z".into()),
        kind: ChangeKind::Resource {
            before: before.map(Stored::live),
            after: after.map(Stored::live),
        },
    }
}

fn event(before: Option<Value>, after: Option<Value>) -> Option<Event> {
    let b = before.map(|a| user(1, a));
    let a = after.map(|a| user(2, a));
    from_change(&change(b, a), &STANDARD)
}

#[test]
fn deactivation_is_active_becoming_false_from_true_or_unset() {
    let e = event(
        Some(json!({"userName": "a"})),
        Some(json!({"userName": "a", "active": false})),
    )
    .expect("event");
    assert_eq!(e.event_type, "user.deactivated");
    assert_eq!(
        e.rfc9967.event,
        "urn:ietf:params:scim:event:prov:deactivate"
    );
    let e = event(
        Some(json!({"active": false})),
        Some(json!({"active": true})),
    )
    .expect("event");
    assert_eq!(e.event_type, "user.reactivated");
    // false to unset is an update, not a reactivation.
    let e = event(
        Some(json!({"active": false, "title": "x"})),
        Some(json!({"title": "x"})),
    )
    .expect("event");
    assert_eq!(e.event_type, "user.updated");
    assert_eq!(e.changed_attributes, ["active"]);
}

#[test]
fn a_write_that_changes_no_attribute_is_no_event() {
    let same = json!({"userName": "a", "name": {"givenName": "A"}});
    assert!(event(Some(same.clone()), Some(same)).is_none());
}

#[test]
fn changed_attributes_name_sub_attributes_and_extension_attributes() {
    let ext = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let e = event(
        Some(json!({"name": {"givenName": "A", "familyName": "B"}, ext: {"manager": {"value": "m1"}, "department": "d"}, "emails": [{"value": "a@x"}]})),
        Some(json!({"name": {"givenName": "A2", "familyName": "B"}, ext: {"manager": {"value": "m2"}, "department": "d"}, "emails": [{"value": "b@x"}], "title": "t"})),
    )
    .expect("event");
    assert_eq!(
        e.changed_attributes,
        [
            "emails",
            "name.givenName",
            "title",
            &format!("{ext}:manager")
        ]
    );
}

#[test]
fn the_new_state_is_scim_json_without_the_password_and_with_a_stable_version() {
    let mut settling = user(7, json!({"userName": "a"}));
    settling.version.settling = true;
    let e = from_change(&change(None, Some(settling)), &STANDARD).expect("event");
    let text = serde_json::to_string(&e).expect("json");
    assert!(!text.contains("argon2"));
    let r = e.resource.expect("state");
    assert_eq!(r["userName"], "a");
    assert_eq!(
        r["meta"]["location"],
        json!(format!("/Users/{}", e.resource_id))
    );
    // A version that is settling is reported without the nonce a response would carry.
    assert_eq!(e.resource_version.as_deref(), Some("W/\"7\""));
    assert_eq!(e.time, "2026-12-02T00:00:07Z");
}

#[test]
fn soft_deletion_and_restore() {
    let kept = user(3, json!({"userName": "a"}));
    let soft = Change {
        kind: ChangeKind::Resource {
            before: Some(Stored::live(user(2, json!({"userName": "a"})))),
            after: Some(Box::new(Stored {
                resource: kept.clone(),
                deleted_at: Some("2026-12-02T01:00:00Z".into()),
            })),
        },
        ..change(None, None)
    };
    let e = from_change(&soft, &STANDARD).expect("event");
    assert_eq!(
        (e.event_type.as_str(), e.soft),
        ("user.deleted", Some(true))
    );
    assert!(e.resource.is_none());
    assert_eq!(e.time, "2026-12-02T01:00:00Z");
    let hard = from_change(&change(Some(kept), None), &STANDARD).expect("event");
    assert_eq!(
        (hard.event_type.as_str(), hard.soft),
        ("user.deleted", Some(false))
    );
}

fn big_user(bytes: usize) -> Resource {
    let mut attrs = Map::new();
    attrs.insert("userName".into(), json!("big"));
    attrs.insert("nickName".into(), json!("x".repeat(bytes)));
    user(1, Value::Object(attrs))
}

#[test]
fn a_state_too_large_for_an_event_is_left_out_and_said_so() {
    let e = from_change(&change(None, Some(big_user(MAX_EVENT_BYTES))), &STANDARD).expect("event");
    assert!(e.resource.is_none());
    assert_eq!(e.resource_omitted, Some("tooLarge"));
    assert_eq!(e.changed_attributes, ["nickName", "userName"]);
    assert!(serde_json::to_vec(&e).expect("json").len() < 2048);
    let small = from_change(&change(None, Some(big_user(1000))), &STANDARD).expect("event");
    assert!(small.resource.is_some() && small.resource_omitted.is_none());
}

#[test]
fn a_batch_is_fitted_to_one_put_events_call_by_dropping_the_largest_states() {
    let mut batch: Vec<Event> = [62_000, 62_000, 62_000, 62_000, 62_000, 1000]
        .iter()
        .map(|&n| from_change(&change(None, Some(big_user(n))), &STANDARD).expect("event"))
        .collect();
    fit_batch(&mut batch);
    let total: usize = batch
        .iter()
        .map(|e| serde_json::to_vec(e).expect("json").len())
        .sum();
    assert!(total <= MAX_BATCH_BYTES, "{total}");
    let dropped = batch
        .iter()
        .filter(|e| e.resource_omitted.is_some())
        .count();
    assert_eq!(dropped, 2, "only as many as needed");
    assert!(batch[5].resource.is_some(), "the small one keeps its state");
}

#[test]
fn membership_events_name_the_member_and_the_rfc_notice() {
    let c = Change {
        kind: ChangeKind::Member {
            group: "g1".into(),
            member: MemberRef {
                kind: ResourceKind::Group,
                id: "g2".into(),
            },
            added: false,
        },
        ..change(None, None)
    };
    let e = from_change(&c, &STANDARD).expect("event");
    assert_eq!(e.event_type, "group.member_removed");
    assert_eq!(e.time, "2026-12-02T00:00:09Z");
    let m = e.member.expect("member");
    assert_eq!(
        (m.value.as_str(), m.kind, m.location.as_str()),
        ("g2", "Group", "/Groups/g2")
    );
    assert_eq!(
        e.rfc9967.event,
        "urn:ietf:params:scim:event:prov:patch:notice"
    );
    assert_eq!(e.rfc9967.sub_id.uri, "/Groups/g1");
}
