//! Property tests: arbitrary PATCH requests never panic, and whatever applies leaves a
//! document that the schema check accepts or rejects cleanly.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::schema::USER_TYPE;
use crate::schema::input::{UnknownAttributes, normalize_body};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|n| json!(n)),
        prop_oneof![
            Just("work".to_owned()),
            Just("True".to_owned()),
            ".{0,8}".prop_map(|s| s)
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("value".to_owned()),
                    Just("type".to_owned()),
                    Just("primary".to_owned()),
                    Just("givenName".to_owned()),
                    "[a-z]{1,6}"
                ],
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("title".to_owned()),
        Just("name.givenName".to_owned()),
        Just("emails".to_owned()),
        Just("emails[type eq \"work\"].value".to_owned()),
        Just("emails[type eq \"work\"]".to_owned()),
        Just("active".to_owned()),
        Just("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager".to_owned()),
        Just("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".to_owned()),
        Just("id".to_owned()),
        ".{0,30}",
    ]
}

fn operation() -> impl Strategy<Value = Value> {
    (
        prop_oneof![Just("add"), Just("Replace"), Just("remove"), Just("bogus")],
        prop::option::of(path()),
        prop::option::of(json_value()),
    )
        .prop_map(|(op, path, value)| {
            let mut m = serde_json::Map::new();
            m.insert("op".into(), json!(op));
            if let Some(p) = path {
                m.insert("path".into(), json!(p));
            }
            if let Some(v) = value {
                m.insert("value".into(), v);
            }
            Value::Object(m)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_patches_never_panic(ops in prop::collection::vec(operation(), 1..6)) {
        let body = json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops});
        let Ok(operations) = parse_request(body) else { return Ok(()) };
        let mut doc = json!({"userName": "u", "emails": [{"value": "a@x", "type": "work"}]})
            .as_object()
            .cloned()
            .unwrap_or_default();
        if apply(&USER_TYPE, &mut doc, &operations, UnknownAttributes::Ignore).is_ok() {
            let mut body = serde_json::Map::new();
            body.insert("schemas".into(), json!([USER_TYPE.core.id]));
            body.extend(doc);
            let _ = normalize_body(&USER_TYPE, Value::Object(body), UnknownAttributes::Ignore);
        }
    }
}
