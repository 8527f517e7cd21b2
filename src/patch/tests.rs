//! Unit tests of the PATCH engine: each RFC case and each dialect, with the document
//! before and after.

use serde_json::json;

use super::*;
use crate::error::ScimType;
use crate::schema::USER_TYPE;

fn run(before: Value, ops: Value) -> Result<Value, ScimError> {
    let operations = parse_request(json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops}))?;
    let Value::Object(mut doc) = before else {
        panic!("before must be an object")
    };
    apply(&USER_TYPE, &mut doc, &operations, UnknownAttributes::Ignore)?;
    Ok(Value::Object(doc))
}

/// Applies `ops` to `before` and expects `after`.
#[track_caller]
fn check(before: Value, ops: Value, after: Value) {
    let got = run(before, ops.clone()).unwrap_or_else(|e| panic!("{ops}: {e}"));
    assert_eq!(got, after, "{ops}");
}

/// Expects `ops` to fail with `scim_type`.
#[track_caller]
fn check_err(before: Value, ops: Value, scim_type: ScimType) {
    let err = run(before, ops.clone()).expect_err(&ops.to_string());
    assert_eq!(err.scim_type(), Some(scim_type), "{ops}: {err}");
}

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn user() -> Value {
    json!({
        "userName": "bjensen",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [
            {"value": "b@work.example", "type": "work", "primary": true},
            {"value": "b@home.example", "type": "home"}
        ],
        "active": true
    })
}

#[test]
fn adds_replaces_and_removes_simple_attributes() {
    check(
        json!({"userName": "a"}),
        json!([{"op": "add", "path": "title", "value": "Boss"}]),
        json!({"userName": "a", "title": "Boss"}),
    );
    check(
        json!({"userName": "a", "title": "x"}),
        json!([{"op": "replace", "path": "TITLE", "value": "y"}]),
        json!({"userName": "a", "title": "y"}),
    );
    check(
        json!({"userName": "a", "title": "x"}),
        json!([{"op": "remove", "path": "title"}]),
        json!({"userName": "a"}),
    );
    check(
        json!({"userName": "a"}),
        json!([{"op": "remove", "path": "title"}]),
        json!({"userName": "a"}),
    );
}

#[test]
fn complex_values_merge_their_sub_attributes() {
    check(
        user(),
        json!([{"op": "replace", "path": "name", "value": {"givenName": "Babs"}}]),
        json!({"userName": "bjensen", "name": {"givenName": "Babs", "familyName": "Jensen"},
                 "emails": user()["emails"], "active": true}),
    );
    check(
        json!({"userName": "a"}),
        json!([{"op": "add", "path": "name.familyName", "value": "J"}]),
        json!({"userName": "a", "name": {"familyName": "J"}}),
    );
    check(
        user(),
        json!([{"op": "remove", "path": "name.givenName"}]),
        json!({"userName": "bjensen", "name": {"familyName": "Jensen"}, "emails": user()["emails"], "active": true}),
    );
}

#[test]
fn multi_valued_add_appends_replace_replaces_and_primary_stays_unique() {
    let after = run(
        user(),
        json!([{"op": "add", "path": "emails",
        "value": [{"value": "new@x.example", "type": "other", "primary": true}]}]),
    )
    .unwrap();
    let emails = after["emails"].as_array().unwrap();
    assert_eq!(emails.len(), 3);
    assert_eq!(emails[0]["primary"], false);
    assert_eq!(emails[2]["primary"], true);
    // Adding an identical value again changes nothing.
    let again = run(
        after.clone(),
        json!([{"op": "add", "path": "emails",
        "value": [{"value": "new@x.example", "type": "other", "primary": true}]}]),
    )
    .unwrap();
    assert_eq!(again, after);
    check(
        user(),
        json!([{"op": "replace", "path": "emails", "value": [{"value": "only@x"}]}]),
        json!({"userName": "bjensen", "name": user()["name"], "emails": [{"value": "only@x"}], "active": true}),
    );
}

#[test]
fn value_filter_paths() {
    let after = run(user(), json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "nb@work.example"}])).unwrap();
    assert_eq!(after["emails"][0]["value"], "nb@work.example");
    assert_eq!(after["emails"][1]["value"], "b@home.example");
    let after = run(
        user(),
        json!([{"op": "remove", "path": "emails[type eq \"home\"]"}]),
    )
    .unwrap();
    assert_eq!(after["emails"].as_array().unwrap().len(), 1);
    let after = run(user(), json!([{"op": "replace", "path": "emails[type eq \"home\"]", "value": {"value": "h2@x", "type": "home"}}])).unwrap();
    assert_eq!(after["emails"][1], json!({"value": "h2@x", "type": "home"}));
    // Entra: add through a filter that matches nothing creates the element.
    let after = run(
        json!({"userName": "a"}),
        json!([
            {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "a@work.example"},
            {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555"},
            {"op": "Add", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Main St"}
        ]),
    )
    .unwrap();
    assert_eq!(
        after["emails"],
        json!([{"type": "work", "value": "a@work.example"}])
    );
    assert_eq!(
        after["phoneNumbers"],
        json!([{"type": "mobile", "value": "+1 555"}])
    );
    assert_eq!(
        after["addresses"],
        json!([{"type": "work", "streetAddress": "1 Main St"}])
    );
    // replace through a filter that matches nothing: noTarget.
    check_err(
        json!({"userName": "a"}),
        json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "x"}]),
        ScimType::NoTarget,
    );
    // Removing a value that is not there succeeds.
    check(
        json!({"userName": "a"}),
        json!([{"op": "remove", "path": "emails[type eq \"work\"]"}]),
        json!({"userName": "a"}),
    );
}

#[test]
fn no_path_values_with_dotted_and_urn_keys() {
    check(
        user(),
        json!([{"op": "replace", "value": {"active": false}}]),
        json!({"userName": "bjensen", "name": user()["name"], "emails": user()["emails"], "active": false}),
    );
    let after = run(
        json!({"userName": "a"}),
        json!([{"op": "Replace", "value": {
            "name.givenName": "Ann",
            "active": "False",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "R&D",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"costCenter": "42"},
            "id": "ignored-read-only",
            "meta": {"version": "ignored"},
            "unknownThing": "ignored"
        }}]),
    )
    .unwrap();
    assert_eq!(
        after,
        json!({"userName": "a", "name": {"givenName": "Ann"}, "active": false,
                             ENT: {"department": "R&D", "costCenter": "42"}})
    );
}

#[test]
fn entra_manager_and_string_booleans() {
    let after = run(json!({"userName": "a"}), json!([
        {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "mgr-id"},
        {"op": "Replace", "path": "active", "value": "False"}
    ])).unwrap();
    assert_eq!(after[ENT]["manager"], json!({"value": "mgr-id"}));
    assert_eq!(after["active"], false);
    let removed = run(after, json!([{"op": "Remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}])).unwrap();
    assert!(removed.get(ENT).is_none(), "{removed}");
}

#[test]
fn removing_listed_values_keeps_the_others() {
    let before =
        json!({"userName": "a", "roles": [{"value": "r1"}, {"value": "r2"}, {"value": "r3"}]});
    check(
        before.clone(),
        json!([{"op": "Remove", "path": "roles", "value": [{"value": "r1"}, {"value": "r3"}]}]),
        json!({"userName": "a", "roles": [{"value": "r2"}]}),
    );
    check(
        before,
        json!([{"op": "remove", "path": "roles"}]),
        json!({"userName": "a"}),
    );
}

#[test]
fn bad_operations_are_rejected_with_the_right_type() {
    let u = user();
    check_err(
        u.clone(),
        json!([{"op": "add", "path": "favouriteColour", "value": "red"}]),
        ScimType::InvalidPath,
    );
    check_err(
        u.clone(),
        json!([{"op": "add", "path": "name.nickname", "value": "x"}]),
        ScimType::InvalidPath,
    );
    check_err(
        u.clone(),
        json!([{"op": "add", "path": "urn:example:ext:1.0:User:x", "value": "x"}]),
        ScimType::InvalidPath,
    );
    check_err(
        u.clone(),
        json!([{"op": "add", "path": "emails[type eq", "value": "x"}]),
        ScimType::InvalidPath,
    );
    check_err(
        u.clone(),
        json!([{"op": "add", "path": "title[value eq \"x\"]", "value": "x"}]),
        ScimType::InvalidPath,
    );
    check_err(
        u.clone(),
        json!([{"op": "replace", "path": "id", "value": "x"}]),
        ScimType::Mutability,
    );
    check_err(
        u.clone(),
        json!([{"op": "replace", "path": "meta.version", "value": "x"}]),
        ScimType::Mutability,
    );
    check_err(
        u.clone(),
        json!([{"op": "add", "path": "groups", "value": [{"value": "g"}]}]),
        ScimType::Mutability,
    );
    check_err(u.clone(), json!([{"op": "remove"}]), ScimType::NoTarget);
    check_err(
        u.clone(),
        json!([{"op": "move", "path": "title"}]),
        ScimType::InvalidValue,
    );
    check_err(
        u.clone(),
        json!([{"op": "add", "path": "title"}]),
        ScimType::InvalidValue,
    );
    check_err(
        u.clone(),
        json!([{"op": "add", "value": "not an object"}]),
        ScimType::InvalidValue,
    );
    check_err(
        u.clone(),
        json!([{"op": "replace", "path": "active", "value": "maybe"}]),
        ScimType::InvalidValue,
    );
    check_err(
        u.clone(),
        json!([{"op": "replace", "path": "emails[bogus eq 1].value", "value": "x"}]),
        ScimType::InvalidFilter,
    );
    check_err(u, json!([]), ScimType::InvalidValue);
    let too_many: Vec<Value> = (0..=MAX_OPERATIONS)
        .map(|_| json!({"op": "add", "path": "title", "value": "x"}))
        .collect();
    check_err(json!({}), Value::Array(too_many), ScimType::InvalidValue);
    let err = parse_request(json!({"schemas": ["urn:wrong"], "Operations": []})).unwrap_err();
    assert_eq!(err.scim_type(), Some(ScimType::InvalidValue));
    assert!(parse_request(json!([1])).is_err());
}
