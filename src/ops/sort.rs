//! `sortBy` / `sortOrder` (RFC 7644 §3.4.2.3): a singular attribute or sub-attribute; a
//! multi-valued attribute sorts by its primary value, else its first. Strings compare
//! case-insensitively unless the attribute is case-exact, dateTimes as instants, numbers as
//! numbers. Resources without a value sort last when ascending and first when descending.

use std::cmp::Ordering;

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::ScimError;
use crate::filter::parse_attr_path;
use crate::schema::{AttrType, AttributeDef, ResourceTypeDef, fold_case, resolve_path};

/// A validated sort request.
#[derive(Debug, Clone, Copy)]
pub struct SortSpec {
    ext: Option<&'static str>,
    def: &'static AttributeDef,
    sub: Option<&'static AttributeDef>,
    descending: bool,
}

/// A comparable sort key.
#[derive(Debug, Clone, PartialEq)]
enum Key {
    Bool(bool),
    Number(f64),
    Time(OffsetDateTime),
    Text(String),
}

impl SortSpec {
    /// Parses `sortBy` and `sortOrder` for a resource type.
    pub fn parse(
        rt: &ResourceTypeDef,
        sort_by: &str,
        sort_order: Option<&str>,
    ) -> Result<Self, ScimError> {
        let unknown =
            || ScimError::InvalidValue(format!("cannot sort by '{sort_by}': no such attribute"));
        let path = parse_attr_path(sort_by).ok_or_else(unknown)?;
        let resolved = resolve_path(rt, &path).ok_or_else(unknown)?;
        let (ext, def) = (resolved.ext.map(|e| e.id), resolved.def);
        let sub = match resolved.sub {
            Some(sub) => Some(sub),
            None if def.ty == AttrType::Complex && def.multi_valued => def.sub_attribute("value"),
            None if def.ty == AttrType::Complex => {
                return Err(ScimError::InvalidValue(format!(
                    "cannot sort by the complex attribute '{sort_by}': name a sub-attribute"
                )));
            }
            None => None,
        };
        let descending = match sort_order {
            None => false,
            Some(o) if o.eq_ignore_ascii_case("ascending") => false,
            Some(o) if o.eq_ignore_ascii_case("descending") => true,
            Some(_) => {
                return Err(ScimError::InvalidValue(
                    "'sortOrder' must be \"ascending\" or \"descending\"".into(),
                ));
            }
        };
        Ok(SortSpec {
            ext,
            def,
            sub,
            descending,
        })
    }

    fn key(&self, resource: &Value) -> Option<Key> {
        let container = match self.ext {
            Some(ext) => resource.get(ext)?,
            None => resource,
        };
        let raw = container.get(self.def.name)?;
        let element = match raw {
            Value::Array(items) => items
                .iter()
                .find(|e| e.get("primary") == Some(&Value::Bool(true)))
                .or_else(|| items.first())?,
            other => other,
        };
        let (leaf_def, leaf) = match self.sub {
            Some(sub) => (sub, element.get(sub.name)?),
            None => (self.def, element),
        };
        match (leaf_def.ty, leaf) {
            (_, Value::Bool(b)) => Some(Key::Bool(*b)),
            (_, Value::Number(n)) => n.as_f64().map(Key::Number),
            (AttrType::DateTime, Value::String(s)) => OffsetDateTime::parse(s, &Rfc3339)
                .ok()
                .map(Key::Time)
                .or_else(|| Some(Key::Text(s.clone()))),
            (_, Value::String(s)) if leaf_def.case_exact => Some(Key::Text(s.clone())),
            (_, Value::String(s)) => Some(Key::Text(fold_case(s))),
            _ => None,
        }
    }

    /// Sorts items by the rendered resource `value` gives for each (stable: equal keys keep
    /// their order).
    pub fn sort<T>(&self, items: Vec<T>, value: impl Fn(&T) -> &Value) -> Vec<T> {
        let mut keyed: Vec<(Option<Key>, T)> = items
            .into_iter()
            .map(|item| (self.key(value(&item)), item))
            .collect();
        keyed.sort_by(|(a, _), (b, _)| {
            let ord = match (a, b) {
                (None, None) => Ordering::Equal,
                // Missing values: last when ascending, first when descending (after reversal).
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => compare(a, b),
            };
            if self.descending { ord.reverse() } else { ord }
        });
        keyed.into_iter().map(|(_, item)| item).collect()
    }
}

fn compare(a: &Key, b: &Key) -> Ordering {
    match (a, b) {
        (Key::Bool(a), Key::Bool(b)) => a.cmp(b),
        (Key::Number(a), Key::Number(b)) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
        (Key::Time(a), Key::Time(b)) => a.cmp(b),
        (Key::Text(a), Key::Text(b)) => a.cmp(b),
        _ => rank(a).cmp(&rank(b)),
    }
}

fn rank(k: &Key) -> u8 {
    match k {
        Key::Bool(_) => 0,
        Key::Number(_) => 1,
        Key::Time(_) => 2,
        Key::Text(_) => 3,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::schema::USER_TYPE;

    fn names(items: &[(Value, ())]) -> Vec<String> {
        items
            .iter()
            .map(|(v, _)| v["userName"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn sorts_by_type_with_missing_values_at_the_end() {
        let users = vec![
            (
                json!({"userName": "b", "name": {"familyName": "zed"}, "meta": {"created": "2026-01-02T00:00:00Z"}}),
                (),
            ),
            (
                json!({"userName": "A", "meta": {"created": "2026-01-02T03:00:00+05:00"}}),
                (),
            ),
            (
                json!({"userName": "c", "name": {"familyName": "Alpha"}, "meta": {"created": "2026-01-01T00:00:00Z"},
                    "emails": [{"value": "z@x"}, {"value": "a@x", "primary": true}]}),
                (),
            ),
        ];
        let sorted = |by: &str, order: Option<&str>| {
            names(
                &SortSpec::parse(&USER_TYPE, by, order)
                    .unwrap()
                    .sort(users.clone(), |(v, _)| v),
            )
        };
        assert_eq!(sorted("userName", None), ["A", "b", "c"]);
        assert_eq!(sorted("USERNAME", Some("Descending")), ["c", "b", "A"]);
        assert_eq!(sorted("name.familyName", None), ["c", "b", "A"]);
        assert_eq!(
            sorted("name.familyName", Some("descending")),
            ["A", "b", "c"]
        );
        assert_eq!(sorted("meta.created", None), ["c", "A", "b"]);
        assert_eq!(sorted("emails", None), ["c", "b", "A"]);
    }

    #[test]
    fn rejects_unknown_or_complex_attributes_and_bad_orders() {
        for (by, order) in [
            ("nosuch", None),
            ("name", None),
            ("name.nope", None),
            ("userName", Some("up")),
        ] {
            let err = SortSpec::parse(&USER_TYPE, by, order).unwrap_err();
            assert_eq!(
                err.scim_type(),
                Some(crate::error::ScimType::InvalidValue),
                "{by}"
            );
        }
    }
}
