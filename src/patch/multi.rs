//! Editing the values of multi-valued and complex attributes: the elements a value filter
//! selects, sub-attribute writes, merges, removals (including Entra's removal of listed
//! values), and RFC 7643 §2.4's single `primary`.

use serde_json::{Map, Value};

use super::target::Target;
use crate::error::ScimError;
use crate::filter::{self, Filter};
use crate::schema::AttributeDef;

pub(super) fn remove(target: &Target<'_>, value: Option<Value>, slot: &mut Map<String, Value>) {
    let name = target.def.name;
    match (target.def.multi_valued, target.filter, target.sub) {
        (false, _, None) => {
            slot.remove(name);
        }
        (false, _, Some(sub)) => {
            if let Some(Value::Object(obj)) = slot.get_mut(name) {
                obj.remove(sub.name);
            }
        }
        (true, None, None) => match value {
            // Entra: remove just the listed values ({"value": "<id>"} or bare ids).
            Some(v) => {
                let listed: Vec<Value> = match v {
                    Value::Array(items) => items,
                    single => vec![single],
                };
                let wanted: Vec<Value> = listed
                    .into_iter()
                    .map(|item| match item {
                        Value::Object(mut m) => m.remove("value").unwrap_or(Value::Null),
                        other => other,
                    })
                    .collect();
                if let Some(Value::Array(items)) = slot.get_mut(name) {
                    items.retain(|e| !wanted.iter().any(|w| e.get("value") == Some(w)));
                }
            }
            None => {
                slot.remove(name);
            }
        },
        (true, None, Some(sub)) => {
            if let Some(Value::Array(items)) = slot.get_mut(name) {
                for e in items.iter_mut() {
                    if let Value::Object(obj) = e {
                        obj.remove(sub.name);
                    }
                }
            }
        }
        (true, Some(filter), sub) => {
            let def = target.def;
            if let Some(Value::Array(items)) = slot.get_mut(name) {
                let mut kept = Vec::with_capacity(items.len());
                for mut e in std::mem::take(items) {
                    // Evaluation errors were ruled out when the path was checked; an
                    // element that cannot be evaluated is kept.
                    let hit = filter::eval::matches_element(filter, def, &e).unwrap_or(false);
                    match (hit, sub) {
                        (true, None) => {}
                        (true, Some(sub)) => {
                            if let Value::Object(obj) = &mut e {
                                obj.remove(sub.name);
                            }
                            kept.push(e);
                        }
                        (false, _) => kept.push(e),
                    }
                }
                *items = kept;
            }
        }
    }
}

/// The elements of a multi-valued attribute, created empty if absent.
pub(super) fn elements<'m>(
    slot: &'m mut Map<String, Value>,
    name: &str,
) -> Result<&'m mut Vec<Value>, ScimError> {
    slot.entry(name.to_owned())
        .and_modify(|v| {
            if !v.is_array() {
                *v = Value::Array(Vec::new());
            }
        })
        .or_insert_with(|| Value::Array(Vec::new()))
        .as_array_mut()
        .ok_or_else(|| ScimError::internal("a multi-valued attribute is not an array"))
}

pub(super) fn matching(
    filter: &Filter,
    def: &'static AttributeDef,
    list: &[Value],
) -> Result<Vec<usize>, ScimError> {
    // Validate against an empty element first, so a bad filter fails even on an empty list.
    filter::eval::matches_element(filter, def, &Value::Object(Map::new()))?;
    let mut out = Vec::new();
    for (i, e) in list.iter().enumerate() {
        if filter::eval::matches_element(filter, def, e)? {
            out.push(i);
        }
    }
    Ok(out)
}

pub(super) fn set_sub(element: &mut Value, sub: &AttributeDef, value: Option<Value>) {
    if !element.is_object() {
        *element = Value::Object(Map::new());
    }
    if let Value::Object(obj) = element {
        match value {
            Some(v) => {
                obj.insert(sub.name.to_owned(), v);
            }
            None => {
                obj.remove(sub.name);
            }
        }
    }
}

pub(super) fn merge(element: &mut Value, value: Option<Value>) {
    match (element, value) {
        (Value::Object(existing), Some(Value::Object(new))) => existing.extend(new),
        (slot, Some(v)) => *slot = v,
        (_, None) => {}
    }
}

/// RFC 7643 §2.4: at most one value of a multi-valued attribute is `primary`. If a value just
/// written is primary, the flag is cleared on the others.
pub(super) fn keep_one_primary(list: &mut [Value], written: &[usize]) {
    let is_primary = |v: &Value| v.get("primary") == Some(&Value::Bool(true));
    let Some(&winner) = written
        .iter()
        .rev()
        .find(|&&i| list.get(i).is_some_and(is_primary))
    else {
        return;
    };
    for (i, v) in list.iter_mut().enumerate() {
        if i != winner
            && is_primary(v)
            && let Value::Object(obj) = v
        {
            obj.insert("primary".into(), Value::Bool(false));
        }
    }
}
