//! Evaluating a filter against a rendered resource, following the schema (RFC 7644 §3.4.2.2):
//! `caseExact` decides string comparison, `dateTime` values compare as instants, ordering
//! operators on booleans and complex attributes are rejected (400 `invalidFilter`), a
//! multi-valued attribute matches if any of its values matches, and `pr` is false for
//! null, empty strings, empty arrays and empty objects. Unknown attributes are a 400, never a
//! silent "no match": a filter the server cannot evaluate must not answer as if it could.

use std::cmp::Ordering;

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::ast::{AttrPath, CompValue, CompareOp, Filter};
use crate::error::ScimError;
use crate::schema::{AttrType, AttributeDef, ResourceTypeDef, common_attribute, fold_case};

/// Whether `resource` (its SCIM JSON representation) matches `filter`.
pub fn matches(filter: &Filter, rt: &ResourceTypeDef, resource: &Value) -> Result<bool, ScimError> {
    let empty = Map::new();
    matches_object(filter, rt, resource.as_object().unwrap_or(&empty))
}

/// [`matches`] over the members of a resource's JSON object: its representation, or its
/// stored attributes when the filter names only attributes that are shown as stored (see
/// `ops::find::plan::attributes_suffice`), which saves rendering every resource a scan
/// examines.
pub fn matches_object(
    filter: &Filter,
    rt: &ResourceTypeDef,
    resource: &Map<String, Value>,
) -> Result<bool, ScimError> {
    eval(
        filter,
        &Scope::Resource {
            rt,
            value: resource,
        },
    )
}

/// Whether one element of a multi-valued (or complex) attribute `def` matches a value filter
/// (the filter's paths name `def`'s sub-attributes), as in a PATCH `emails[type eq "work"]`.
pub fn matches_element(
    filter: &Filter,
    def: &'static AttributeDef,
    element: &Value,
) -> Result<bool, ScimError> {
    eval(
        filter,
        &Scope::Element {
            def,
            value: element,
        },
    )
}

/// Checks that every attribute the filter names exists and every comparison is allowed,
/// without a resource (so an invalid filter fails even when there is nothing to match).
pub fn validate(filter: &Filter, rt: &ResourceTypeDef) -> Result<(), ScimError> {
    matches(filter, rt, &Value::Object(serde_json::Map::new())).map(|_| ())
}

/// A JSON object: a resource, an extension's attributes, an element of a complex attribute.
type Object = Map<String, Value>;

/// Where attribute paths are resolved: the resource, or one element of a value path.
enum Scope<'a> {
    Resource {
        rt: &'a ResourceTypeDef,
        value: &'a Map<String, Value>,
    },
    Element {
        def: &'static AttributeDef,
        value: &'a Value,
    },
}

fn invalid(msg: String) -> ScimError {
    ScimError::InvalidFilter(msg)
}

fn eval(filter: &Filter, scope: &Scope<'_>) -> Result<bool, ScimError> {
    match filter {
        Filter::And(items) => {
            // Evaluate every operand so an invalid one fails regardless of data.
            let mut all = true;
            for item in items {
                all &= eval(item, scope)?;
            }
            Ok(all)
        }
        Filter::Or(items) => {
            let mut any = false;
            for item in items {
                any |= eval(item, scope)?;
            }
            Ok(any)
        }
        Filter::Not(inner) => Ok(!eval(inner, scope)?),
        Filter::Present(path) => {
            let (_, values) = resolve(path, scope)?;
            Ok(values.iter().any(|v| is_present(v)))
        }
        Filter::Compare { path, op, value } => {
            let (leaf, values) = resolve(path, scope)?;
            check_comparable(leaf, *op, value, path)?;
            if values.is_empty() {
                return Ok(matches!(
                    (op, value),
                    (CompareOp::Eq, CompValue::Null) | (CompareOp::Ne, _)
                ));
            }
            for v in values {
                if compare(leaf, *op, v, value)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        Filter::ValuePath { path, filter } => {
            let Scope::Resource { .. } = scope else {
                return Err(invalid("a value path cannot be nested".into()));
            };
            if path.sub.is_some() {
                return Err(invalid(format!(
                    "'{path}[...]': a value filter applies to an attribute, not a sub-attribute"
                )));
            }
            let (def, container) = top_level(path, scope)?;
            if def.ty != AttrType::Complex {
                return Err(invalid(format!("'{path}' is not a complex attribute")));
            }
            let elements: Vec<&Value> = match container.and_then(|c| c.get(def.name)) {
                Some(Value::Array(items)) => items.iter().collect(),
                Some(v @ Value::Object(_)) => vec![v],
                _ => Vec::new(),
            };
            // Validate the inner filter even when there are no elements.
            let empty = Value::Object(serde_json::Map::new());
            let mut any = eval(filter, &Scope::Element { def, value: &empty }).map(|_| false)?;
            for element in elements {
                any |= eval(
                    filter,
                    &Scope::Element {
                        def,
                        value: element,
                    },
                )?;
            }
            Ok(any)
        }
    }
}

/// Finds the definition of a path's attribute and the JSON object that holds it.
fn top_level<'a>(
    path: &AttrPath,
    scope: &Scope<'a>,
) -> Result<(&'static AttributeDef, Option<&'a Object>), ScimError> {
    let unknown = || invalid(format!("unknown attribute '{path}' in filter"));
    match scope {
        Scope::Element { def, value } => {
            if path.urn.is_some() || path.sub.is_some() {
                return Err(unknown());
            }
            let sub = def.sub_attribute(&path.name).ok_or_else(unknown)?;
            Ok((sub, value.as_object()))
        }
        Scope::Resource { rt, value } => match &path.urn {
            None => {
                let def = common_attribute(&path.name)
                    .or_else(|| rt.core.attribute(&path.name))
                    .ok_or_else(unknown)?;
                Ok((def, Some(*value)))
            }
            Some(urn) if urn.eq_ignore_ascii_case(rt.core.id) => {
                let def = rt.core.attribute(&path.name).ok_or_else(unknown)?;
                Ok((def, Some(*value)))
            }
            Some(urn) => {
                let ext = rt.extension(urn).ok_or_else(unknown)?;
                let def = ext.attribute(&path.name).ok_or_else(unknown)?;
                Ok((def, value.get(ext.id).and_then(Value::as_object)))
            }
        },
    }
}

/// Resolves a path to the definition of the compared values and the values themselves.
fn resolve<'a>(
    path: &AttrPath,
    scope: &Scope<'a>,
) -> Result<(&'static AttributeDef, Vec<&'a Value>), ScimError> {
    let (def, container) = top_level(path, scope)?;
    let sub_def = match &path.sub {
        Some(sub) => Some(
            def.sub_attribute(sub)
                .ok_or_else(|| invalid(format!("unknown attribute '{path}' in filter")))?,
        ),
        // A complex multi-valued attribute without a sub-attribute compares its `value`.
        None if def.ty == AttrType::Complex && def.multi_valued => def.sub_attribute("value"),
        None => None,
    };
    let raw = container.and_then(|c| c.get(def.name));
    let elements: Vec<&Value> = match raw {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(Value::Null) | None => Vec::new(),
        Some(v) => vec![v],
    };
    let values = match sub_def {
        Some(sub) => elements
            .into_iter()
            .filter_map(|e| e.get(sub.name))
            .filter(|v| !v.is_null())
            .collect(),
        None => elements,
    };
    Ok((sub_def.unwrap_or(def), values))
}

fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

/// Rejects comparisons the attribute's type does not allow, before looking at data.
fn check_comparable(
    def: &AttributeDef,
    op: CompareOp,
    value: &CompValue,
    path: &AttrPath,
) -> Result<(), ScimError> {
    let ordering = matches!(
        op,
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
    );
    let substring = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
    let op_name = op.as_str();
    if matches!(value, CompValue::Null) {
        return if matches!(op, CompareOp::Eq | CompareOp::Ne) {
            Ok(())
        } else {
            Err(invalid(format!("'{op_name}' cannot compare with null")))
        };
    }
    let ok = match def.ty {
        AttrType::Complex => false,
        AttrType::Boolean => {
            !ordering && !substring && matches!(value, CompValue::Bool(_) | CompValue::String(_))
        }
        AttrType::Binary => {
            matches!(op, CompareOp::Eq | CompareOp::Ne) && matches!(value, CompValue::String(_))
        }
        AttrType::String | AttrType::Reference | AttrType::DateTime => {
            matches!(value, CompValue::String(_))
        }
        AttrType::Integer | AttrType::Decimal => {
            !substring && matches!(value, CompValue::Number(_))
        }
    };
    if !ok {
        return Err(invalid(format!(
            "'{path}' cannot be compared with '{op_name}' and a value of that type"
        )));
    }
    if def.ty == AttrType::DateTime
        && ordering
        && let CompValue::String(s) = value
        && OffsetDateTime::parse(s, &Rfc3339).is_err()
    {
        return Err(invalid(format!(
            "'{path}' needs an RFC 3339 date-time to compare with"
        )));
    }
    Ok(())
}

fn compare(
    def: &AttributeDef,
    op: CompareOp,
    actual: &Value,
    expected: &CompValue,
) -> Result<bool, ScimError> {
    Ok(match (def.ty, expected) {
        (_, CompValue::Null) => match op {
            CompareOp::Eq => actual.is_null(),
            _ => !actual.is_null(),
        },
        (AttrType::Boolean, CompValue::Bool(b)) => bool_match(op, actual, *b),
        (AttrType::Boolean, CompValue::String(s)) => match crate::schema::input::parse_bool(s) {
            Some(b) => bool_match(op, actual, b),
            None => {
                return Err(invalid(
                    "a boolean attribute compares with true or false".into(),
                ));
            }
        },
        (AttrType::Integer | AttrType::Decimal, CompValue::Number(n)) => {
            let (Some(a), Some(e)) = (actual.as_f64(), n.as_f64()) else {
                return Ok(false);
            };
            ordered(op, a.partial_cmp(&e))
        }
        (AttrType::DateTime, CompValue::String(s)) => {
            let Some(a) = actual.as_str() else {
                return Ok(false);
            };
            match (
                OffsetDateTime::parse(a, &Rfc3339),
                OffsetDateTime::parse(s, &Rfc3339),
            ) {
                (Ok(a), Ok(e)) if !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) => {
                    ordered(op, Some(a.cmp(&e)))
                }
                _ => string_match(op, a, s, true),
            }
        }
        (_, CompValue::String(s)) => {
            let Some(a) = actual.as_str() else {
                return Ok(false);
            };
            string_match(op, a, s, def.case_exact)
        }
        _ => false,
    })
}

fn bool_match(op: CompareOp, actual: &Value, expected: bool) -> bool {
    match (op, actual.as_bool()) {
        (CompareOp::Eq, Some(a)) => a == expected,
        (CompareOp::Ne, Some(a)) => a != expected,
        _ => false,
    }
}

fn string_match(op: CompareOp, actual: &str, expected: &str, case_exact: bool) -> bool {
    if case_exact {
        return str_match(op, actual, expected);
    }
    if actual.is_ascii() && expected.is_ascii() {
        // ASCII text folds byte by byte: no allocation per value compared.
        return ascii_fold_match(op, actual.as_bytes(), expected.as_bytes());
    }
    str_match(op, &fold_case(actual), &fold_case(expected))
}

fn str_match(op: CompareOp, a: &str, e: &str) -> bool {
    match op {
        CompareOp::Co => a.contains(e),
        CompareOp::Sw => a.starts_with(e),
        CompareOp::Ew => a.ends_with(e),
        _ => ordered(op, Some(a.cmp(e))),
    }
}

/// [`str_match`] of the ASCII-lowercased texts, without making them.
fn ascii_fold_match(op: CompareOp, a: &[u8], e: &[u8]) -> bool {
    match op {
        CompareOp::Co => e.is_empty() || a.windows(e.len()).any(|w| w.eq_ignore_ascii_case(e)),
        CompareOp::Sw => a.len() >= e.len() && a[..e.len()].eq_ignore_ascii_case(e),
        CompareOp::Ew => a.len() >= e.len() && a[a.len() - e.len()..].eq_ignore_ascii_case(e),
        _ => {
            let lower = |b: &u8| b.to_ascii_lowercase();
            ordered(op, Some(a.iter().map(lower).cmp(e.iter().map(lower))))
        }
    }
}

fn ordered(op: CompareOp, ord: Option<Ordering>) -> bool {
    let Some(ord) = ord else {
        return false;
    };
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}
