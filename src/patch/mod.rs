//! The PATCH engine (RFC 7644 §3.5.2): `add`, `replace` and `remove`, with and without a
//! `path`, applied in order to a copy of the resource's attributes. Either every operation
//! applies or the request fails and nothing is written.
//!
//! Paths are parsed with the filter grammar (`attrPath` / `valuePath [subAttr]`) and resolved
//! against the schema: a path naming no attribute is 400 `invalidPath`, one naming a
//! read-only attribute 400 `mutability`. Identity-provider dialects are accepted:
//! - operation names in any case (Entra's `"Replace"`), booleans as `"True"`/`"False"`;
//! - no-path values whose keys are dotted (`"name.givenName"`) or URN-prefixed
//!   (`"urn:…:enterprise:2.0:User:department"`), or extension objects;
//! - `add` on a value-filter path that matches nothing creates the element from the filter's
//!   `eq` terms (Entra's `emails[type eq "work"].value`); `replace` on one is 400 `noTarget`;
//! - `remove` on a multi-valued attribute with a `value` list removes just those values
//!   (Entra's member removal), never the whole attribute;
//! - a bare string for a complex attribute with a `value` sub-attribute (Entra's manager).
//!
//! The parts: `request` parses the message, `target` resolves paths, `multi` edits
//! multi-valued and complex values, `dialects` holds the identity providers' variants.

mod dialects;
mod multi;
mod request;
mod target;

use serde_json::{Map, Value};

use self::dialects::{apply_extension, apply_without_path, element_from_filter};
use self::multi::{elements, keep_one_primary, matching, merge, remove, set_sub};
pub use self::request::{
    MAX_OPERATIONS, OpKind, Operation, PATCH_OP_SCHEMA, PatchTarget, parse_request,
};
use self::target::{Target, check_writable, holder, invalid_path, normalize_for, resolve};
use crate::error::ScimError;
use crate::schema::input::UnknownAttributes;
use crate::schema::{AttrType, ResourceTypeDef};

/// Applies the operations in order to `doc` (canonical attributes: core at the top level,
/// extensions under their URN). On error `doc` may be partly changed: apply to a copy.
pub fn apply(
    rt: &ResourceTypeDef,
    doc: &mut Map<String, Value>,
    ops: &[Operation],
    unknown: UnknownAttributes,
) -> Result<(), ScimError> {
    for op in ops {
        match &op.path {
            Some((raw, PatchTarget::Attribute(path))) => {
                let target = resolve(rt, raw, path)?;
                check_writable(&target, raw)?;
                apply_at(op.kind, &target, op.value.clone(), raw, doc)?;
            }
            Some((raw, PatchTarget::Extension(urn))) => {
                let ext = rt.extension(urn).ok_or_else(|| invalid_path(raw))?;
                apply_extension(rt, op.kind, ext, op.value.clone(), raw, doc, unknown)?;
            }
            None => {
                let Some(Value::Object(values)) = op.value.clone() else {
                    return Err(ScimError::InvalidValue(
                        "without a 'path', the 'value' must be an object".into(),
                    ));
                };
                apply_without_path(rt, op.kind, values, doc, unknown)?;
            }
        }
    }
    prune(doc);
    Ok(())
}

fn apply_at(
    kind: OpKind,
    target: &Target<'_>,
    value: Option<Value>,
    raw: &str,
    doc: &mut Map<String, Value>,
) -> Result<(), ScimError> {
    let def = target.def;
    let slot = holder(doc, target.ext)?;
    if kind == OpKind::Remove {
        remove(target, value, slot);
        return Ok(());
    }
    let value = value.unwrap_or(Value::Null);
    if !def.multi_valued {
        let normalized = normalize_for(target, value, raw, true)?;
        set_single(target, normalized, slot);
        return Ok(());
    }
    match (target.filter, target.sub) {
        (None, None) => {
            let normalized = normalize_for(target, value, raw, true)?;
            let items = match normalized {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            };
            let list = elements(slot, def.name)?;
            if kind == OpKind::Replace {
                list.clear();
            }
            let mut written = Vec::new();
            for item in items {
                if let Some(i) = list.iter().position(|existing| *existing == item) {
                    written.push(i);
                } else {
                    list.push(item);
                    written.push(list.len() - 1);
                }
            }
            keep_one_primary(list, &written);
        }
        (None, Some(sub)) => {
            let normalized = normalize_for(target, value, raw, false)?;
            let list = elements(slot, def.name)?;
            if list.is_empty() {
                list.push(Value::Object(Map::new()));
            }
            for element in list.iter_mut() {
                set_sub(element, sub, normalized.clone());
            }
        }
        (Some(filter), sub) => {
            let normalized = normalize_for(target, value, raw, false)?;
            let list = elements(slot, def.name)?;
            let matched = matching(filter, def, list)?;
            let written = if matched.is_empty() {
                if kind == OpKind::Replace {
                    return Err(ScimError::NoTarget(format!("'{raw}' matches no value")).about(raw));
                }
                let mut element = element_from_filter(filter, def).ok_or_else(|| {
                    ScimError::NoTarget(format!(
                        "'{raw}' matches no value, and no value can be made from its filter"
                    ))
                    .about(raw)
                })?;
                match sub {
                    Some(sub) => set_sub(&mut element, sub, normalized),
                    None => merge(&mut element, normalized),
                }
                list.push(element);
                vec![list.len() - 1]
            } else {
                for &i in &matched {
                    match (sub, kind) {
                        (Some(sub), _) => set_sub(&mut list[i], sub, normalized.clone()),
                        (None, OpKind::Add) => merge(&mut list[i], normalized.clone()),
                        (None, _) => list[i] = normalized.clone().unwrap_or(Value::Null),
                    }
                }
                matched
            };
            keep_one_primary(list, &written);
        }
    }
    Ok(())
}

/// `add`/`replace` on a single-valued attribute: complex values merge their sub-attributes
/// (RFC 7644 §3.5.2.1 and §3.5.2.3: unspecified sub-attributes are left unchanged).
fn set_single(target: &Target<'_>, value: Option<Value>, slot: &mut Map<String, Value>) {
    let name = target.def.name;
    match target.sub {
        Some(sub) => {
            let entry = slot
                .entry(name.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            set_sub(entry, sub, value);
        }
        None if target.def.ty == AttrType::Complex => {
            let entry = slot
                .entry(name.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            merge(entry, value);
        }
        None => match value {
            Some(v) => {
                slot.insert(name.to_owned(), v);
            }
            None => {
                slot.remove(name);
            }
        },
    }
}

/// Drops nulls, empty arrays and empty objects left behind by the operations.
fn prune(doc: &mut Map<String, Value>) {
    doc.retain(|_, v| {
        prune_value(v);
        !is_empty(v)
    });
}

fn prune_value(v: &mut Value) {
    match v {
        Value::Object(map) => map.retain(|_, inner| {
            prune_value(inner);
            !is_empty(inner)
        }),
        Value::Array(items) => items.retain_mut(|inner| {
            prune_value(inner);
            !is_empty(inner)
        }),
        _ => {}
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;
