//! Data-driven filter tests: strings → canonical print or error (kind + offset), round trips,
//! evaluation over a sample user, and the nesting limit on a small stack.

use serde_json::{Value, json};

use super::*;
use crate::schema::USER_TYPE;

/// Parses `input` and checks its canonical printing.
#[track_caller]
fn check(input: &str, canonical: &str) {
    let filter = parse(input).unwrap_or_else(|e| panic!("{input:?} failed: {e}"));
    assert_eq!(filter.to_string(), canonical, "{input:?}");
    let reparsed = parse(canonical).unwrap_or_else(|e| panic!("reparse {canonical:?}: {e}"));
    assert_eq!(reparsed, filter, "round trip of {input:?}");
}

/// Checks that `input` fails with `kind` at `offset`.
#[track_caller]
fn check_err(input: &str, kind: FilterErrorKind, offset: usize) {
    let err = parse(input).expect_err(input);
    assert_eq!(
        (err.kind.clone(), err.offset),
        (kind, offset),
        "{input:?}: {err}"
    );
}

fn expected(what: &str) -> FilterErrorKind {
    FilterErrorKind::Expected(what.into())
}

#[test]
fn parses_the_rfc_examples() {
    let cases = [
        (r#"userName Eq "john""#, r#"userName eq "john""#),
        (
            r#"name.familyName co "O'Malley""#,
            r#"name.familyName co "O'Malley""#,
        ),
        (r#"userName sw "J""#, r#"userName sw "J""#),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
        ),
        ("title pr", "title pr"),
        (
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
        ),
        (
            r#"title pr and userType eq "Employee""#,
            r#"title pr and userType eq "Employee""#,
        ),
        (
            r#"title pr or userType eq "Intern""#,
            r#"title pr or userType eq "Intern""#,
        ),
        (
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
        ),
        (
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
        ),
        (
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
        ),
        (
            r#"userType eq "Employee" and (emails.type eq "work")"#,
            r#"userType eq "Employee" and emails.type eq "work""#,
        ),
        (
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
        ),
        (
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
        ),
    ];
    for (input, canonical) in cases {
        check(input, canonical);
    }
}

#[test]
fn parses_literals_keywords_and_precedence() {
    let cases = [
        ("active eq TRUE", "active eq true"),
        ("x eq null", "x eq null"),
        ("x gt -1.5e3", "x gt -1500.0"),
        ("x le 10", "x le 10"),
        (r#"x eq "a\"b\\c\u00e9""#, r#"x eq "a\"b\\cé""#),
        ("a pr AND b pr OR c pr", "a pr and b pr or c pr"),
        ("a pr or b pr and c pr", "a pr or b pr and c pr"),
        ("(a pr or b pr) and c pr", "(a pr or b pr) and c pr"),
        ("NOT(a pr)", "not (a pr)"),
        ("  a pr  ", "a pr"),
        ("a pr   and    b pr", "a pr and b pr"),
        ("members[value eq \"1\"]", "members[value eq \"1\"]"),
        ("manager.$ref pr", "manager.$ref pr"),
        ("notes pr", "notes pr"),
        ("((a pr))", "a pr"),
    ];
    for (input, canonical) in cases {
        check(input, canonical);
    }
    // `and` binds tighter than `or`.
    let f = parse("a pr or b pr and c pr").unwrap();
    assert!(matches!(&f, Filter::Or(items) if matches!(items[1], Filter::And(_))));
}

#[test]
fn value_paths_with_a_sub_attribute_test_some_matching_element() {
    // Microsoft Entra ID's form: some element matching the bracket filter passes the test.
    let cases = [
        (
            r#"emails[type eq "work"].value eq "a@example.com""#,
            r#"emails[type eq "work" and value eq "a@example.com"]"#,
        ),
        (
            r#"emails[type eq "work" and primary eq true].value sw "a""#,
            r#"emails[type eq "work" and primary eq true and value sw "a"]"#,
        ),
        (
            r#"emails[type eq "work" or type eq "home"].value pr"#,
            r#"emails[(type eq "work" or type eq "home") and value pr]"#,
        ),
        (
            r#"emails[not (type eq "work")].value co "x" and userName pr"#,
            r#"emails[not (type eq "work") and value co "x"] and userName pr"#,
        ),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:emails[TYPE eq "work"].Value EQ "x""#,
            r#"urn:ietf:params:scim:schemas:core:2.0:User:emails[TYPE eq "work" and Value eq "x"]"#,
        ),
    ];
    for (input, canonical) in cases {
        check(input, canonical);
    }
    check_err(
        r#"emails[type eq "work"]."#,
        expected("a sub-attribute name"),
        23,
    );
    check_err(r#"emails[type eq "work"].value"#, expected("` `"), 28);
    check_err(r#"emails[type eq "work"].value eq"#, expected("` `"), 31);
    check_err(
        r#"emails[type eq "work"].value.x eq "a""#,
        expected("` `"),
        28,
    );
}

#[test]
fn rejects_bad_filters_with_kind_and_offset() {
    check_err("", FilterErrorKind::Empty, 0);
    check_err("   ", FilterErrorKind::Empty, 0);
    check_err("userName", expected("` `"), 8);
    check_err(
        "userName xx \"a\"",
        expected("an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)"),
        9,
    );
    check_err("userName eq", expected("` `"), 11);
    check_err(
        "userName eq \"unterminated",
        expected("a closing quote"),
        25,
    );
    check_err(
        "userName eq bob",
        expected("a value (a quoted string, a number, true, false or null)"),
        12,
    );
    check_err("(a pr", expected("`)`"), 5);
    check_err("emails[type eq \"w\"", expected("`]`"), 18);
    check_err(
        "a pr b pr",
        expected("\"and\", \"or\" or the end of the filter"),
        5,
    );
    check_err(
        "a pr and",
        expected("an attribute path, \"not (\" or \"(\""),
        8,
    );
    check_err(
        "1abc pr",
        expected("an attribute path, \"not (\" or \"(\""),
        0,
    );
    check_err(
        "emails[members[value pr]]",
        FilterErrorKind::NestedValuePath,
        15,
    );
    check_err(
        &"x".repeat(MAX_FILTER_BYTES + 1),
        FilterErrorKind::TooLong(MAX_FILTER_BYTES),
        MAX_FILTER_BYTES,
    );
}

#[test]
fn nesting_limit_is_enforced_while_parsing() {
    let ok = format!("{}a pr{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    parse(&ok).unwrap();
    let deep = format!(
        "{}a pr{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    check_err(&deep, FilterErrorKind::TooDeep(MAX_DEPTH), MAX_DEPTH + 1);
    let nots = format!("{}a pr{}", "not (".repeat(1000), ")".repeat(1000));
    assert_eq!(
        parse(&nots).unwrap_err().kind,
        FilterErrorKind::TooDeep(MAX_DEPTH)
    );
}

#[test]
fn error_display_points_at_the_offset() {
    let err = parse("userName eq bob").unwrap_err();
    let text = err.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[1], "userName eq bob");
    assert_eq!(lines[2], "            ^");
}

#[test]
fn long_flat_chains_are_wide_not_deep() {
    let chain = vec!["a eq 1"; 700].join(" and ");
    let f = parse(&chain).unwrap();
    assert!(matches!(&f, Filter::And(items) if items.len() == 700));
}

#[test]
fn the_deepest_filter_parses_on_a_small_stack() {
    // 512 KiB: a quarter of a tokio worker's default stack, in an unoptimised build.
    let handle = std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(|| {
            let deepest = format!(
                "{}emails[not (type eq \"w\")]{}",
                "not (".repeat(MAX_DEPTH - 2),
                ")".repeat(MAX_DEPTH - 2)
            );
            drop(parse(&deepest).unwrap());
            let too_deep = format!("{}a pr{}", "not (".repeat(1000), ")".repeat(1000));
            assert!(parse(&too_deep).is_err());
        })
        .unwrap();
    handle.join().unwrap();
}

#[test]
fn dropping_a_very_deep_tree_uses_constant_stack() {
    let handle = std::thread::Builder::new()
        .stack_size(32 * 1024)
        .spawn(|| {
            // Far deeper than the parser allows, built by hand.
            let mut f = Filter::Present(AttrPath {
                urn: None,
                name: "a".into(),
                sub: None,
            });
            for i in 0..100_000 {
                f = if i % 2 == 0 {
                    Filter::Not(Box::new(f))
                } else {
                    Filter::And(vec![
                        f,
                        Filter::Present(AttrPath {
                            urn: None,
                            name: "b".into(),
                            sub: None,
                        }),
                    ])
                };
            }
            drop(f);
        })
        .unwrap();
    handle.join().unwrap();
}

fn alice() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "2819c223",
        "userName": "Alice@Example.com",
        "externalId": "Ext-1",
        "active": true,
        "name": {"familyName": "O'Malley", "givenName": "Alice"},
        "title": "",
        "emails": [
            {"value": "alice@example.com", "type": "work", "primary": true},
            {"value": "alice@home.example.org", "type": "home"}
        ],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701984"},
        "meta": {"resourceType": "User", "created": "2026-01-01T00:00:00Z",
                 "lastModified": "2026-02-01T10:00:00+01:00", "version": "W/\"1\""}
    })
}

#[test]
fn evaluates_over_a_user() {
    let user = alice();
    let cases = [
        (r#"userName eq "alice@example.com""#, true),
        (r#"externalId eq "ext-1""#, false),
        (r#"externalId eq "Ext-1""#, true),
        (r#"id eq "2819c223""#, true),
        ("active eq true", true),
        (r#"active eq "True""#, true),
        ("active ne true", false),
        (r#"name.familyName co "malley""#, true),
        (r#"userName sw "ALICE""#, true),
        (r#"userName ew ".com""#, true),
        ("title pr", false),
        ("nickName pr", false),
        ("emails pr", true),
        (r#"nickName ne "x""#, true),
        ("nickName eq null", true),
        (r#"emails co "home.example""#, true),
        (r#"emails.type eq "home""#, true),
        (
            r#"emails[type eq "work" and value co "@example.com"]"#,
            true,
        ),
        (r#"emails[type eq "home" and primary eq true]"#, false),
        (r#"emails[not (type eq "work")]"#, true),
        (
            r#"emails[type eq "work"].value eq "ALICE@example.com""#,
            true,
        ),
        (
            r#"emails[type eq "home"].value eq "alice@example.com""#,
            false,
        ),
        (r#"emails[type eq "work"].primary eq true"#, true),
        (r#"emails[type eq "home"].primary pr"#, false),
        (r#"emails[type eq "home"].value ew ".org""#, true),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
            true,
        ),
        (r#"meta.lastModified gt "2026-02-01T08:59:59Z""#, true),
        (r#"meta.lastModified lt "2026-02-01T09:00:00Z""#, false),
        (r#"meta.lastModified ge "2026-02-01T09:00:00Z""#, true),
        (r#"userName eq "bob" or not (active eq false)"#, true),
        (r#"userName gt "alice""#, true),
    ];
    for (filter, want) in cases {
        let f = parse(filter).unwrap();
        assert_eq!(
            eval::matches(&f, &USER_TYPE, &user).unwrap(),
            want,
            "{filter}"
        );
    }
}

#[test]
fn rejects_filters_that_cannot_be_evaluated() {
    let user = alice();
    for filter in [
        "favouriteColour eq \"red\"",
        "name.nickname pr",
        "urn:example:unknown:thing eq 1",
        "active gt true",
        "name gt \"x\"",
        "userName eq 5",
        "active co \"t\"",
        "meta.created gt \"yesterday\"",
        "emails[nope eq 1]",
        "userName[value eq \"x\"]",
    ] {
        let f = parse(filter).unwrap();
        let err = eval::matches(&f, &USER_TYPE, &user).expect_err(filter);
        assert_eq!(
            err.scim_type(),
            Some(crate::error::ScimType::InvalidFilter),
            "{filter}"
        );
        assert!(eval::validate(&f, &USER_TYPE).is_err(), "{filter}");
    }
    let empty: Value = json!({});
    assert!(!eval::matches(&parse("userName eq \"x\"").unwrap(), &USER_TYPE, &empty).unwrap());
}

mod properties {
    //! Property tests over arbitrary input: the parser never panics, and what it accepts
    //! prints to a form that parses back to the same tree.

    use proptest::prelude::*;

    use super::*;

    fn attr_name() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("userName".to_owned()),
            Just("title".to_owned()),
            Just("emails".to_owned()),
            "[a-zA-Z][a-zA-Z0-9_-]{0,8}",
        ]
    }

    fn attr_path() -> impl Strategy<Value = AttrPath> {
        (
            prop::option::of(Just(
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".to_owned(),
            )),
            attr_name(),
            prop::option::of(attr_name()),
        )
            .prop_map(|(urn, name, sub)| AttrPath { urn, name, sub })
    }

    fn comp_value() -> impl Strategy<Value = CompValue> {
        prop_oneof![
            Just(CompValue::Null),
            any::<bool>().prop_map(CompValue::Bool),
            any::<i64>().prop_map(|n| CompValue::Number(n.into())),
            ".{0,12}".prop_map(CompValue::String),
        ]
    }

    fn leaf() -> impl Strategy<Value = Filter> {
        prop_oneof![
            attr_path().prop_map(Filter::Present),
            (attr_path(), 0..CompareOp::ALL.len(), comp_value()).prop_map(|(path, op, value)| {
                Filter::Compare {
                    path,
                    op: CompareOp::ALL[op],
                    value,
                }
            }),
        ]
    }

    /// One e-mail value with some of its sub-attributes.
    fn email() -> impl Strategy<Value = Value> {
        (
            prop::option::of(prop_oneof![Just("work"), Just("home"), Just("other")]),
            prop::option::of("[ab]@[xy]\\.example"),
            prop::option::of(any::<bool>()),
        )
            .prop_map(|(ty, value, primary)| {
                let mut e = serde_json::Map::new();
                if let Some(ty) = ty {
                    e.insert("type".into(), json!(ty));
                }
                if let Some(value) = value {
                    e.insert("value".into(), json!(value));
                }
                if let Some(primary) = primary {
                    e.insert("primary".into(), json!(primary));
                }
                Value::Object(e)
            })
    }

    /// A test on one e-mail sub-attribute (`type eq "work"`, `value sw "a"`, `primary pr`).
    fn email_test() -> impl Strategy<Value = String> {
        prop_oneof![
            prop_oneof![Just("work"), Just("home")].prop_map(|t| format!("type eq \"{t}\"")),
            (
                prop_oneof![Just("eq"), Just("sw"), Just("co"), Just("ne")],
                "[abxy@.]{1,3}"
            )
                .prop_map(|(op, v)| format!("value {op} \"{v}\"")),
            any::<bool>().prop_map(|b| format!("primary eq {b}")),
            prop_oneof![Just("type"), Just("value"), Just("primary")]
                .prop_map(|a| format!("{a} pr")),
        ]
    }

    fn filter() -> impl Strategy<Value = Filter> {
        leaf().prop_recursive(6, 48, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 2..4).prop_map(Filter::And),
                prop::collection::vec(inner.clone(), 2..4).prop_map(Filter::Or),
                inner.clone().prop_map(|f| Filter::Not(Box::new(f))),
                (attr_name(), leaf()).prop_map(|(name, f)| Filter::ValuePath {
                    path: AttrPath {
                        urn: None,
                        name,
                        sub: None
                    },
                    filter: Box::new(f),
                }),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_text_never_panics(input in ".{0,200}") {
            if let Ok(f) = parse(&input) {
                let printed = f.to_string();
                prop_assert_eq!(parse(&printed).ok(), Some(f));
            }
            let _ = parse_patch_path(&input);
        }

        #[test]
        fn filter_shaped_text_never_panics(input in r#"[a-z ()\[\]"'.:\\0-9]{0,120}"#) {
            if let Ok(f) = parse(&input) {
                prop_assert_eq!(parse(&f.to_string()).ok(), Some(f));
            }
        }

        #[test]
        fn printed_filters_parse_back_to_the_same_tree(f in filter()) {
            let printed = f.to_string();
            prop_assert_eq!(parse(&printed).ok(), Some(f), "{}", printed);
        }

        #[test]
        fn evaluation_never_panics(f in filter()) {
            let _ = eval::matches(&f, &USER_TYPE, &alice());
        }

        /// `emails[L].sub op v` holds exactly when one e-mail, alone, passes both `emails[L]`
        /// and `emails.sub op v`; and it prints to a form that parses back to the same tree.
        #[test]
        fn a_value_path_test_holds_when_one_element_passes_both(
            emails in prop::collection::vec(email(), 0..4),
            bracket in email_test(),
            sub in email_test(),
        ) {
            let text = format!("emails[{bracket}].{sub}");
            let f = parse(&text).unwrap();
            prop_assert_eq!(parse(&f.to_string()).ok(), Some(f.clone()));
            let user = |emails: Vec<Value>| json!({"userName": "u", "emails": emails});
            let holds = |filter: &str, u: &Value| {
                eval::matches(&parse(filter).unwrap(), &USER_TYPE, u).unwrap()
            };
            let want = emails.iter().any(|e| {
                let alone = user(vec![e.clone()]);
                holds(&format!("emails[{bracket}]"), &alone)
                    && holds(&format!("emails.{sub}"), &alone)
            });
            prop_assert_eq!(
                eval::matches(&f, &USER_TYPE, &user(emails)).unwrap(),
                want,
                "{}",
                text
            );
        }
    }
}
