//! Identity-provider dialects of PATCH that the RFC does not spell out: no-path values whose
//! keys are dotted (`"name.givenName"`), URN-prefixed or extension objects; extension URNs
//! as paths; and Entra's `add` through a value filter that matches nothing, which creates the
//! element from the filter's `eq` terms.

use serde_json::{Map, Value};

use super::apply_at;
use super::request::OpKind;
use super::target::{check_writable, resolve};
use crate::error::ScimError;
use crate::filter::{self, CompValue, CompareOp, Filter};
use crate::schema::input::UnknownAttributes;
use crate::schema::{AttributeDef, ResourceTypeDef, SchemaDef};

/// `path` is an extension URN: the value is an object of that extension's attributes.
pub(super) fn apply_extension(
    rt: &ResourceTypeDef,
    kind: OpKind,
    ext: &'static SchemaDef,
    value: Option<Value>,
    raw: &str,
    doc: &mut Map<String, Value>,
    unknown: UnknownAttributes,
) -> Result<(), ScimError> {
    match (kind, value) {
        (OpKind::Remove, _) => {
            doc.remove(ext.id);
            Ok(())
        }
        (_, Some(Value::Object(values))) => {
            let prefixed = values
                .into_iter()
                .map(|(k, v)| (format!("{}:{k}", ext.id), v))
                .collect();
            apply_without_path(rt, kind, prefixed, doc, unknown)
        }
        _ => Err(ScimError::InvalidValue(format!(
            "'{raw}' takes an object of attributes"
        ))),
    }
}

/// A no-path `add`/`replace`: each key is an attribute path (plain, dotted, URN-prefixed) or
/// an extension URN. Read-only attributes are ignored; unknown ones too unless the tenant is
/// strict, as in a PUT body.
pub(super) fn apply_without_path(
    rt: &ResourceTypeDef,
    kind: OpKind,
    values: Map<String, Value>,
    doc: &mut Map<String, Value>,
    unknown: UnknownAttributes,
) -> Result<(), ScimError> {
    for (key, value) in values {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if let Some(ext) = rt.extension(&key) {
            apply_extension(rt, kind, ext, Some(value), &key, doc, unknown)?;
            continue;
        }
        let Ok(path) = filter::parse_patch_path(&key) else {
            ignore_or_reject(unknown, &key)?;
            continue;
        };
        let Ok(target) = resolve(rt, &key, &path) else {
            ignore_or_reject(unknown, &key)?;
            continue;
        };
        if check_writable(&target, &key).is_err() {
            continue;
        }
        apply_at(kind, &target, Some(value), &key, doc)?;
    }
    Ok(())
}

/// An attribute no schema defines, in a no-path value: ignored (its name logged), or
/// rejected when the tenant is strict.
pub(super) fn ignore_or_reject(unknown: UnknownAttributes, key: &str) -> Result<(), ScimError> {
    match unknown {
        UnknownAttributes::Ignore => {
            tracing::info!(attribute = %key, "ignored unknown attribute in PATCH value");
            Ok(())
        }
        UnknownAttributes::Reject => Err(ScimError::InvalidValue(format!(
            "unknown attribute '{key}'"
        ))),
    }
}

/// Builds an element from a filter made only of `eq` comparisons on sub-attributes, joined by
/// `and` (`type eq "work"`), as Entra expects when it adds through a filter path.
pub(super) fn element_from_filter(filter: &Filter, def: &AttributeDef) -> Option<Value> {
    let mut out = Map::new();
    collect_eq(filter, def, &mut out)?;
    Some(Value::Object(out))
}

pub(super) fn collect_eq(
    filter: &Filter,
    def: &AttributeDef,
    out: &mut Map<String, Value>,
) -> Option<()> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.urn.is_none() && path.sub.is_none() => {
            let sub = def.sub_attribute(&path.name)?;
            let json = match value {
                CompValue::String(s) => Value::String(s.clone()),
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Number(n) => Value::Number(n.clone()),
                CompValue::Null => return None,
            };
            out.insert(sub.name.to_owned(), json);
            Some(())
        }
        Filter::And(items) => {
            for item in items {
                collect_eq(item, def, out)?;
            }
            Some(())
        }
        _ => None,
    }
}
