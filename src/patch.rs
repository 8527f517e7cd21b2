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

use serde_json::{Map, Value};

use crate::error::ScimError;
use crate::filter::{self, CompValue, CompareOp, Filter, PatchPath};
use crate::schema::input::{UnknownAttributes, normalize_single, normalize_value};
use crate::schema::message::check_schemas;
use crate::schema::{AttrType, AttributeDef, Mutability, ResourceTypeDef, SchemaDef, resolve_path};

/// URN of the PATCH request message.
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Most operations one PATCH request may carry.
pub const MAX_OPERATIONS: usize = 1000;

/// The operation kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// `add`
    Add,
    /// `remove`
    Remove,
    /// `replace`
    Replace,
}

/// One parsed operation.
#[derive(Debug, Clone)]
pub struct Operation {
    /// What to do.
    pub kind: OpKind,
    /// Where (raw text, for messages, and parsed).
    pub path: Option<(String, PatchTarget)>,
    /// The value, if given.
    pub value: Option<Value>,
}

/// A parsed `path`: a whole extension object, or an attribute path.
#[derive(Debug, Clone)]
pub enum PatchTarget {
    /// The path is an extension schema URN: the value is that extension's attributes.
    Extension(String),
    /// An attribute path.
    Attribute(PatchPath),
}

/// Parses and checks a PATCH request body (the operations are applied later, per version).
pub fn parse_request(body: Value) -> Result<Vec<Operation>, ScimError> {
    let Value::Object(mut map) = body else {
        return Err(ScimError::InvalidSyntax(
            "the PATCH body must be a JSON object".into(),
        ));
    };
    check_schemas(&map, PATCH_OP_SCHEMA, false)?;
    let key = map
        .keys()
        .find(|k| k.eq_ignore_ascii_case("Operations"))
        .cloned();
    let Some(Value::Array(raw_ops)) = key.and_then(|k| map.remove(&k)) else {
        return Err(ScimError::InvalidValue(
            "'Operations' must be an array of operations".into(),
        ));
    };
    if raw_ops.is_empty() {
        return Err(ScimError::InvalidValue("'Operations' is empty".into()));
    }
    if raw_ops.len() > MAX_OPERATIONS {
        return Err(ScimError::InvalidValue(format!(
            "a PATCH request may carry at most {MAX_OPERATIONS} operations"
        )));
    }
    raw_ops.into_iter().map(parse_operation).collect()
}

fn field(map: &mut Map<String, Value>, name: &str) -> Option<Value> {
    let key = map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()?;
    map.remove(&key)
}

fn parse_operation(raw: Value) -> Result<Operation, ScimError> {
    let Value::Object(mut map) = raw else {
        return Err(ScimError::InvalidValue(
            "each operation must be an object".into(),
        ));
    };
    let kind = match field(&mut map, "op") {
        Some(Value::String(op)) if op.eq_ignore_ascii_case("add") => OpKind::Add,
        Some(Value::String(op)) if op.eq_ignore_ascii_case("remove") => OpKind::Remove,
        Some(Value::String(op)) if op.eq_ignore_ascii_case("replace") => OpKind::Replace,
        _ => {
            return Err(ScimError::InvalidValue(
                "'op' must be \"add\", \"remove\" or \"replace\"".into(),
            ));
        }
    };
    let path = match field(&mut map, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.trim().is_empty() => None,
        Some(Value::String(p)) => {
            let target = parse_target(&p)?;
            Some((p, target))
        }
        Some(_) => return Err(ScimError::InvalidPath("'path' must be a string".into())),
    };
    let value = field(&mut map, "value").filter(|v| !v.is_null());
    match (kind, &path, &value) {
        (OpKind::Remove, None, _) => Err(ScimError::NoTarget(
            "a remove operation needs a 'path'".into(),
        )),
        (OpKind::Add | OpKind::Replace, _, None) => Err(ScimError::InvalidValue(
            "add and replace operations need a 'value'".into(),
        )),
        (OpKind::Add | OpKind::Replace, None, Some(v)) if !v.is_object() => {
            Err(ScimError::InvalidValue(
                "without a 'path', the 'value' must be an object of attributes".into(),
            ))
        }
        _ => Ok(Operation { kind, path, value }),
    }
}

fn parse_target(raw: &str) -> Result<PatchTarget, ScimError> {
    let trimmed = raw.trim();
    if trimmed.starts_with("urn:") && !trimmed.contains('[') && looks_like_schema_urn(trimmed) {
        return Ok(PatchTarget::Extension(trimmed.to_owned()));
    }
    filter::parse_patch_path(trimmed)
        .map(PatchTarget::Attribute)
        .map_err(|e| ScimError::InvalidPath(format!("invalid path: {e}")))
}

/// A schema URN ends in a capitalised resource name (`…:2.0:User`), an attribute in a
/// lower-case name; resolution decides for real, this only routes the two forms.
fn looks_like_schema_urn(path: &str) -> bool {
    path.rsplit(':').next().is_some_and(|last| {
        last.chars().next().is_some_and(|c| c.is_ascii_uppercase()) && !last.contains('.')
    })
}

/// Where a resolved path points.
struct Target<'p> {
    /// The extension holding the attribute (`None`: the core schema or a common attribute).
    ext: Option<&'static SchemaDef>,
    /// The top-level attribute.
    def: &'static AttributeDef,
    /// A value filter on its elements.
    filter: Option<&'p Filter>,
    /// A sub-attribute.
    sub: Option<&'static AttributeDef>,
}

fn invalid_path(path: &str) -> ScimError {
    ScimError::InvalidPath(format!("'{path}' names no attribute of this resource"))
}

/// Resolves an attribute path against the resource type.
fn resolve<'p>(
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
        )));
    }
    Ok(Target {
        ext: resolved.ext,
        def,
        filter: path.filter.as_ref(),
        sub,
    })
}

fn check_writable(target: &Target<'_>, raw: &str) -> Result<(), ScimError> {
    let read_only = target.def.mutability == Mutability::ReadOnly
        || target
            .sub
            .is_some_and(|s| s.mutability == Mutability::ReadOnly);
    if read_only {
        return Err(ScimError::Mutability(format!("'{raw}' is read-only")));
    }
    Ok(())
}

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

/// `path` is an extension URN: the value is an object of that extension's attributes.
fn apply_extension(
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
fn apply_without_path(
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
fn ignore_or_reject(unknown: UnknownAttributes, key: &str) -> Result<(), ScimError> {
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

/// The map that holds the target's top-level attribute, created on demand.
fn holder<'d>(
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
fn wrap_bare_value(def: &AttributeDef, value: Value) -> Value {
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
fn normalize_for(
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
                    return Err(ScimError::NoTarget(format!("'{raw}' matches no value")));
                }
                let mut element = element_from_filter(filter, def).ok_or_else(|| {
                    ScimError::NoTarget(format!(
                        "'{raw}' matches no value, and no value can be made from its filter"
                    ))
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

fn remove(target: &Target<'_>, value: Option<Value>, slot: &mut Map<String, Value>) {
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
fn elements<'m>(
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

fn matching(
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

fn set_sub(element: &mut Value, sub: &AttributeDef, value: Option<Value>) {
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

fn merge(element: &mut Value, value: Option<Value>) {
    match (element, value) {
        (Value::Object(existing), Some(Value::Object(new))) => existing.extend(new),
        (slot, Some(v)) => *slot = v,
        (_, None) => {}
    }
}

/// Builds an element from a filter made only of `eq` comparisons on sub-attributes, joined by
/// `and` (`type eq "work"`), as Entra expects when it adds through a filter path.
fn element_from_filter(filter: &Filter, def: &AttributeDef) -> Option<Value> {
    let mut out = Map::new();
    collect_eq(filter, def, &mut out)?;
    Some(Value::Object(out))
}

fn collect_eq(filter: &Filter, def: &AttributeDef, out: &mut Map<String, Value>) -> Option<()> {
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

/// RFC 7643 §2.4: at most one value of a multi-valued attribute is `primary`. If a value just
/// written is primary, the flag is cleared on the others.
fn keep_one_primary(list: &mut [Value], written: &[usize]) {
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
mod tests {
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
        let after = run(json!({"userName": "a"}), json!([
            {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "a@work.example"},
            {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555"},
            {"op": "Add", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Main St"}
        ])).unwrap();
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
}

#[cfg(test)]
mod properties {
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
}
