//! Where a PATCH path points: resolving it against the schema (400 `invalidPath` for a path
//! naming no attribute, `mutability` for a read-only one), the map that holds it, and the
//! normalisation of a value written there.

use serde_json::{Map, Value};

use crate::error::ScimError;
use crate::filter::{Filter, PatchPath};
use crate::schema::input::{normalize_single, normalize_value};
use crate::schema::{AttrType, AttributeDef, Mutability, ResourceTypeDef, SchemaDef, resolve_path};

/// Where a resolved path points.
pub(super) struct Target<'p> {
    /// The extension holding the attribute (`None`: the core schema or a common attribute).
    pub(super) ext: Option<&'static SchemaDef>,
    /// The top-level attribute.
    pub(super) def: &'static AttributeDef,
    /// A value filter on its elements.
    pub(super) filter: Option<&'p Filter>,
    /// A sub-attribute.
    pub(super) sub: Option<&'static AttributeDef>,
}

pub(super) fn invalid_path(path: &str) -> ScimError {
    ScimError::InvalidPath(format!("'{path}' names no attribute of this resource")).about(path)
}

/// Resolves an attribute path against the resource type.
pub(super) fn resolve<'p>(
    rt: &ResourceTypeDef,
    raw: &str,
    path: &'p PatchPath,
) -> Result<Target<'p>, ScimError> {
    if path.attr.sub.is_some() && path.sub.is_some() {
        return Err(invalid_path(raw));
    }
    let resolved = resolve_path(rt, &path.attr).ok_or_else(|| invalid_path(raw))?;
    let def = resolved.def;
    let sub = match (&path.sub, resolved.sub) {
        (Some(name), _) => Some(def.sub_attribute(name).ok_or_else(|| invalid_path(raw))?),
        (None, sub) => sub,
    };
    if path.filter.is_some() && !def.multi_valued {
        return Err(ScimError::InvalidPath(format!(
            "'{raw}': a value filter applies only to multi-valued attributes"
        ))
        .about(raw));
    }
    Ok(Target {
        ext: resolved.ext,
        def,
        filter: path.filter.as_ref(),
        sub,
    })
}

pub(super) fn check_writable(target: &Target<'_>, raw: &str) -> Result<(), ScimError> {
    let read_only = target.def.mutability == Mutability::ReadOnly
        || target
            .sub
            .is_some_and(|s| s.mutability == Mutability::ReadOnly);
    if read_only {
        return Err(ScimError::Mutability(format!("'{raw}' is read-only")).about(raw));
    }
    Ok(())
}

/// The map that holds the target's top-level attribute, created on demand.
pub(super) fn holder<'d>(
    doc: &'d mut Map<String, Value>,
    ext: Option<&SchemaDef>,
) -> Result<&'d mut Map<String, Value>, ScimError> {
    let Some(ext) = ext else {
        return Ok(doc);
    };
    let slot = doc
        .entry(ext.id.to_owned())
        .and_modify(|v| {
            if !v.is_object() {
                *v = Value::Object(Map::new());
            }
        })
        .or_insert_with(|| Value::Object(Map::new()));
    slot.as_object_mut()
        .ok_or_else(|| ScimError::internal("an extension slot is not an object"))
}

/// Tolerates a bare string for a complex attribute that has a `value` sub-attribute.
pub(super) fn wrap_bare_value(def: &AttributeDef, value: Value) -> Value {
    match value {
        Value::String(_) | Value::Bool(_) | Value::Number(_)
            if def.ty == AttrType::Complex && def.sub_attribute("value").is_some() =>
        {
            let mut map = Map::new();
            map.insert("value".into(), value);
            Value::Object(map)
        }
        other => other,
    }
}

/// Normalises a value written at `target` (one element, one sub-attribute, or the whole
/// attribute), returning `None` for "unassigned".
pub(super) fn normalize_for(
    target: &Target<'_>,
    value: Value,
    raw: &str,
    whole: bool,
) -> Result<Option<Value>, ScimError> {
    if let Some(sub) = target.sub {
        return normalize_single(sub, value, raw);
    }
    if whole && target.def.multi_valued {
        let list = match value {
            Value::Array(items) => Value::Array(
                items
                    .into_iter()
                    .map(|v| wrap_bare_value(target.def, v))
                    .collect(),
            ),
            single => Value::Array(vec![wrap_bare_value(target.def, single)]),
        };
        return normalize_value(target.def, list);
    }
    normalize_single(target.def, wrap_bare_value(target.def, value), raw)
}
