//! Parsing a PATCH request (RFC 7644 §3.5.2): the message, its operations, their paths.
//! Operation names are matched in any case (Entra sends `"Replace"`); a path that is an
//! extension schema URN addresses that extension's whole object.

use serde_json::{Map, Value};

use crate::error::ScimError;
use crate::filter::{self, PatchPath};
use crate::schema::message::check_schemas;

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
