//! Checking and normalising resource bodies (POST, PUT) against the schema.
//!
//! The result holds attributes under their canonical names, with values of the declared type:
//! read-only attributes are dropped (RFC 7644 §3.3: ignored on input), `null` and empty values
//! are unassigned (RFC 7643 §2.5), Entra's `"True"`/`"False"` strings become booleans, and
//! extension attributes sit under their schema URN. Error details name attributes, never
//! values (values may be personal data).

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{
    AttrType, AttributeDef, Mutability, ResourceTypeDef, SchemaDef, Uniqueness, common_attribute,
    fold_case,
};
use crate::domain::UniqueValue;
use crate::error::ScimError;

/// The largest normalised value, in bytes, of an attribute used in a uniqueness key.
pub const MAX_KEY_VALUE_BYTES: usize = 1024;

/// The largest resource, in bytes as DynamoDB measures stored data (see [`stored_size`]). A
/// DynamoDB item holds at most 400 KB, key and bookkeeping attributes included; the rest of
/// the room is for those. Every store enforces the same limit, because the check is made
/// here, before any store sees the resource. Members are not part of a group's attributes
/// (they are separate items), so this does not limit a group's size.
pub const MAX_RESOURCE_BYTES: usize = 300 * 1024;

/// The largest magnitude of a decimal DynamoDB can store (its numbers have 38 digits of
/// precision and exponents from -130 to +125; more than any SCIM attribute needs).
const MAX_DECIMAL: f64 = 9.999_999_999_999_998e125;
/// The smallest nonzero magnitude of a decimal DynamoDB can store.
const MIN_DECIMAL: f64 = 1e-130;

/// A resource body after normalisation.
#[derive(Debug, Default)]
pub struct NormalizedBody {
    /// Canonical attributes (without `id`, `meta`, `schemas` and the write-only `password`).
    pub attributes: Map<String, Value>,
    /// The cleartext password, if one was sent (the caller hashes it and drops it).
    pub password: Option<String>,
    /// Names of attributes that were not recognised and were ignored (for logs).
    pub ignored: Vec<String>,
}

/// How to treat attributes that no schema of the resource type defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownAttributes {
    /// Ignore them (the default; names are reported in [`NormalizedBody::ignored`]).
    #[default]
    Ignore,
    /// Reject the request with 400 `invalidValue`.
    Reject,
}

/// Normalises a full resource body (POST or PUT).
pub fn normalize_body(
    rt: &ResourceTypeDef,
    body: Value,
    unknown: UnknownAttributes,
) -> Result<NormalizedBody, ScimError> {
    let Value::Object(map) = body else {
        return Err(ScimError::InvalidSyntax(
            "the request body must be a JSON object".into(),
        ));
    };
    check_schemas(rt, map.get("schemas"))?;
    let mut out = NormalizedBody::default();
    for (key, value) in map {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if let Some(def) = common_attribute(&key) {
            insert(&mut out.attributes, def, value)?;
        } else if let Some(def) = rt.core.attribute(&key) {
            if def.name == "password" {
                out.password =
                    normalize_value(def, value)?.and_then(|v| v.as_str().map(str::to_owned));
            } else {
                insert(&mut out.attributes, def, value)?;
            }
        } else if let Some(ext) = rt.extension(&key) {
            let normalized = normalize_extension(ext, value, unknown, &mut out.ignored)?;
            if !normalized.is_empty() {
                out.attributes
                    .insert(ext.id.to_owned(), Value::Object(normalized));
            }
        } else {
            unknown_attribute(unknown, &key, &mut out.ignored)?;
        }
    }
    check_required(rt.core, &out.attributes, out.password.is_some())?;
    check_size(&out.attributes)?;
    Ok(out)
}

/// Rejects a resource larger than [`MAX_RESOURCE_BYTES`] with 400 `invalidValue`.
fn check_size(attributes: &Map<String, Value>) -> Result<(), ScimError> {
    let size: usize = attributes
        .iter()
        .map(|(name, value)| name.len() + stored_size(value))
        .sum();
    if size > MAX_RESOURCE_BYTES {
        return Err(ScimError::InvalidValue(format!(
            "the resource would take {size} bytes; a resource may take at most \
             {MAX_RESOURCE_BYTES} bytes (members of a group do not count)"
        )));
    }
    Ok(())
}

/// The size of a value as DynamoDB counts it (rounded up): strings by their UTF-8 bytes,
/// numbers one byte per two significant digits plus one, booleans and nulls one byte, lists
/// and maps three bytes plus one per element (and, in maps, each name's bytes). JSON text is
/// not a safe measure: a list of small numbers takes more room in DynamoDB than as JSON.
pub fn stored_size(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) => 1,
        Value::Number(n) => n.to_string().len().div_ceil(2) + 1,
        Value::String(text) => text.len(),
        Value::Array(items) => 3 + items.iter().map(|v| 1 + stored_size(v)).sum::<usize>(),
        Value::Object(map) => {
            3 + map
                .iter()
                .map(|(k, v)| 1 + k.len() + stored_size(v))
                .sum::<usize>()
        }
    }
}

/// Requires `schemas` to be an array of strings that includes the core schema.
fn check_schemas(rt: &ResourceTypeDef, schemas: Option<&Value>) -> Result<(), ScimError> {
    let core = rt.core.id;
    let Some(Value::Array(list)) = schemas else {
        return Err(ScimError::InvalidValue(format!(
            "'schemas' must be an array that includes \"{core}\""
        )));
    };
    let mut has_core = false;
    for item in list {
        let Some(urn) = item.as_str() else {
            return Err(ScimError::InvalidValue(
                "'schemas' must contain only strings".into(),
            ));
        };
        has_core |= urn.eq_ignore_ascii_case(core);
    }
    if has_core {
        Ok(())
    } else {
        Err(ScimError::InvalidValue(format!(
            "'schemas' must include \"{core}\""
        )))
    }
}

fn normalize_extension(
    ext: &SchemaDef,
    value: Value,
    unknown: UnknownAttributes,
    ignored: &mut Vec<String>,
) -> Result<Map<String, Value>, ScimError> {
    let Value::Object(map) = value else {
        if value.is_null() {
            return Ok(Map::new());
        }
        return Err(ScimError::InvalidValue(format!(
            "'{}' must be a JSON object",
            ext.id
        )));
    };
    let mut out = Map::new();
    for (key, value) in map {
        match ext.attribute(&key) {
            Some(def) => insert(&mut out, def, value)?,
            None => unknown_attribute(unknown, &format!("{}:{key}", ext.id), ignored)?,
        }
    }
    Ok(out)
}

fn unknown_attribute(
    unknown: UnknownAttributes,
    name: &str,
    ignored: &mut Vec<String>,
) -> Result<(), ScimError> {
    match unknown {
        UnknownAttributes::Ignore => {
            ignored.push(name.to_owned());
            Ok(())
        }
        UnknownAttributes::Reject => {
            Err(ScimError::InvalidValue(format!("unknown attribute '{name}'")).about(name))
        }
    }
}

fn check_required(
    core: &SchemaDef,
    attributes: &Map<String, Value>,
    has_password: bool,
) -> Result<(), ScimError> {
    for def in core.attributes.iter().filter(|d| d.required) {
        let present = match attributes.get(def.name) {
            // An empty or blank string is no value (RFC 7643 §2.5: unassigned).
            Some(Value::String(s)) => !s.trim().is_empty(),
            Some(_) => true,
            None => def.name == "password" && has_password,
        };
        if !present {
            return Err(ScimError::InvalidValue(format!(
                "'{}' is required and must not be empty",
                def.name
            ))
            .about(def.name));
        }
    }
    Ok(())
}

/// Normalises `value` for `def` and stores it under the canonical name, unless it is
/// read-only or unassigned.
fn insert(out: &mut Map<String, Value>, def: &AttributeDef, value: Value) -> Result<(), ScimError> {
    if let Some(v) = normalize_value(def, value)? {
        out.insert(def.name.to_owned(), v);
    }
    Ok(())
}

/// Normalises one attribute value. `Ok(None)` means "unassigned" (null, empty, or read-only).
pub fn normalize_value(def: &AttributeDef, value: Value) -> Result<Option<Value>, ScimError> {
    if def.mutability == Mutability::ReadOnly || value.is_null() {
        return Ok(None);
    }
    if !def.multi_valued {
        return normalize_single(def, value, def.name);
    }
    let Value::Array(items) = value else {
        return Err(ScimError::InvalidValue(format!(
            "'{}' is multi-valued and must be a JSON array",
            def.name
        ))
        .about(def.name));
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if let Some(v) = normalize_single(def, item, def.name)? {
            out.push(v);
        }
    }
    Ok((!out.is_empty()).then_some(Value::Array(out)))
}

/// Normalises one value of `def` (one element, for a multi-valued attribute). `path` names
/// the attribute in error messages. `Ok(None)` means "unassigned".
pub fn normalize_single(
    def: &AttributeDef,
    value: Value,
    path: &str,
) -> Result<Option<Value>, ScimError> {
    let wrong_type = || {
        ScimError::InvalidValue(format!("'{path}' must be of type {}", def.ty.name())).about(path)
    };
    let normalized = match (def.ty, value) {
        (_, Value::Null) => None,
        (AttrType::String | AttrType::Reference | AttrType::Binary, Value::String(s)) => {
            Some(Value::String(s))
        }
        (AttrType::DateTime, Value::String(s)) => {
            OffsetDateTime::parse(&s, &Rfc3339).map_err(|_| wrong_type())?;
            Some(Value::String(s))
        }
        (AttrType::Boolean, Value::Bool(b)) => Some(Value::Bool(b)),
        // Entra sends booleans as the strings "True" and "False".
        (AttrType::Boolean, Value::String(s)) => {
            Some(Value::Bool(parse_bool(&s).ok_or_else(wrong_type)?))
        }
        (AttrType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => Some(Value::Number(n)),
        (AttrType::Decimal, Value::Number(n)) => {
            let magnitude = n.as_f64().map_or(f64::INFINITY, f64::abs);
            if magnitude > MAX_DECIMAL || (magnitude != 0.0 && magnitude < MIN_DECIMAL) {
                return Err(ScimError::InvalidValue(format!(
                    "'{path}' is outside the range of decimals this server stores \
                     (magnitudes from 1e-130 to 9.99e125, or 0)"
                ))
                .about(path));
            }
            Some(Value::Number(n))
        }
        (AttrType::Complex, Value::Object(map)) => {
            let mut out = Map::new();
            for (key, v) in map {
                // Unknown sub-attributes are dropped: there is nowhere valid to keep them.
                let Some(sub) = def.sub_attribute(&key) else {
                    continue;
                };
                if sub.mutability == Mutability::ReadOnly {
                    continue;
                }
                if let Some(v) = normalize_single(sub, v, &format!("{path}.{}", sub.name))? {
                    out.insert(sub.name.to_owned(), v);
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        _ => return Err(wrong_type()),
    };
    Ok(normalized)
}

/// Parses `true`/`false` in any letter case.
pub fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Rejects a change to an `immutable` attribute that already had a value (RFC 7643 §7:
/// it may be set once, at creation or by a replacement that first sets it, never changed).
pub fn check_immutable(
    rt: &ResourceTypeDef,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> Result<(), ScimError> {
    let core = rt.core.attributes.iter().map(|d| (None, d));
    let extensions = rt
        .extensions
        .iter()
        .flat_map(|ext| ext.attributes.iter().map(move |d| (Some(ext.id), d)));
    for (container, def) in core.chain(extensions) {
        if def.mutability != Mutability::Immutable {
            continue;
        }
        let get = |doc: &Map<String, Value>| match container {
            None => doc.get(def.name).cloned(),
            Some(ext) => doc.get(ext).and_then(|e| e.get(def.name)).cloned(),
        };
        if let Some(old) = get(before)
            && get(after).as_ref() != Some(&old)
        {
            return Err(
                ScimError::Mutability(format!("'{}' is immutable once set", def.name))
                    .about(def.name),
            );
        }
    }
    Ok(())
}

/// Whether the lookup index holds this attribute's values: values several resources may
/// share (when the tenant does not enforce their uniqueness) and that clients look resources
/// up by, found by one consistent read. `externalId` (RFC 7643 §3.1 scopes it to the
/// provisioning client and asks no uniqueness of it).
pub fn indexed(def: &AttributeDef) -> bool {
    def.name == "externalId"
}

/// The values a resource is found under in the lookup index.
pub fn lookup_values(
    rt: &ResourceTypeDef,
    attributes: &Map<String, Value>,
) -> Result<Vec<UniqueValue>, ScimError> {
    unique_values(rt, attributes, indexed)
}

/// The unique values of a normalised resource, in a stable order, for the `uniqueness:
/// server` attributes that `enforced` keeps (a tenant may switch some off).
pub fn unique_values(
    rt: &ResourceTypeDef,
    attributes: &Map<String, Value>,
    enforced: impl Fn(&AttributeDef) -> bool,
) -> Result<Vec<UniqueValue>, ScimError> {
    let defs = super::COMMON.iter().chain(rt.core.attributes.iter());
    let mut out = Vec::new();
    for def in defs.filter(|d| d.uniqueness == Uniqueness::Server && d.name != "id" && enforced(d))
    {
        let Some(Value::String(raw)) = attributes.get(def.name) else {
            continue;
        };
        let normalized = if def.case_exact {
            raw.clone()
        } else {
            fold_case(raw)
        };
        if normalized.len() > MAX_KEY_VALUE_BYTES {
            return Err(ScimError::InvalidValue(format!(
                "'{}' is longer than {MAX_KEY_VALUE_BYTES} bytes",
                def.name
            ))
            .about(def.name));
        }
        out.push(UniqueValue {
            attr: def.name,
            normalized,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::schema::USER_TYPE;

    fn normalize(body: Value) -> Result<NormalizedBody, ScimError> {
        normalize_body(&USER_TYPE, body, UnknownAttributes::Ignore)
    }

    #[test]
    fn decimals_outside_what_dynamodb_stores_are_invalid_values() {
        let def = AttributeDef::new("weight", AttrType::Decimal);
        for ok in [
            json!(0.0),
            json!(1.5e125),
            json!(-2.5e-130),
            json!(12),
            json!(-7),
        ] {
            assert!(normalize_single(&def, ok.clone(), "weight").is_ok(), "{ok}");
        }
        for bad in [json!(1e126), json!(-1e200), json!(1e-131), json!(-5e-300)] {
            let err = normalize_single(&def, bad.clone(), "weight").unwrap_err();
            assert!(
                matches!(err.kind(), ScimError::InvalidValue(_)),
                "{bad}: {err:?}"
            );
            assert!(err.to_string().contains("'weight'"), "{err}");
        }
    }

    #[test]
    fn a_resource_larger_than_an_item_can_hold_is_an_invalid_value() {
        let body = |title_bytes: usize| {
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "alice",
                "title": "t".repeat(title_bytes),
            })
        };
        assert!(normalize(body(MAX_RESOURCE_BYTES - 100)).is_ok());
        let err = normalize(body(MAX_RESOURCE_BYTES)).unwrap_err();
        assert!(matches!(err.kind(), ScimError::InvalidValue(_)), "{err:?}");
        assert!(err.to_string().contains("at most"), "{err}");
    }

    #[test]
    fn canonicalises_names_and_drops_read_only() {
        let out = normalize(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "USERNAME": "alice",
            "id": "client-chosen",
            "meta": {"resourceType": "User"},
            "Name": {"GivenName": "Alice", "unknownSub": 1},
            "groups": [{"value": "g1"}],
        }))
        .unwrap();
        assert_eq!(
            Value::Object(out.attributes),
            json!({"userName": "alice", "name": {"givenName": "Alice"}})
        );
    }

    #[test]
    fn entra_string_booleans_become_booleans() {
        let out = normalize(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "a", "active": "False",
            "emails": [{"value": "a@example.com", "primary": "True"}],
        }))
        .unwrap();
        assert_eq!(out.attributes["active"], json!(false));
        assert_eq!(out.attributes["emails"][0]["primary"], json!(true));
    }

    #[test]
    fn rejects_missing_core_schema_and_wrong_types() {
        let cases = [
            (json!({"userName": "a"}), "no schemas"),
            (
                json!({"schemas": ["urn:x"], "userName": "a"}),
                "no core schema",
            ),
            (
                json!({"schemas": [USER_TYPE.core.id], "userName": 5}),
                "number as string",
            ),
            (
                json!({"schemas": [USER_TYPE.core.id], "userName": "a", "emails": {"value": "x"}}),
                "object for multi-valued",
            ),
            (
                json!({"schemas": [USER_TYPE.core.id], "userName": "a", "active": "maybe"}),
                "bad boolean",
            ),
            (json!({"schemas": [USER_TYPE.core.id]}), "missing userName"),
        ];
        for (body, why) in cases {
            let err = normalize(body).expect_err(why);
            assert_eq!(
                err.scim_type(),
                Some(crate::error::ScimType::InvalidValue),
                "{why}"
            );
        }
    }

    #[test]
    fn unknown_attributes_ignored_or_rejected() {
        let body =
            json!({"schemas": [USER_TYPE.core.id], "userName": "a", "favouriteColour": "red"});
        let out = normalize(body.clone()).unwrap();
        assert_eq!(out.ignored, vec!["favouriteColour".to_owned()]);
        let err = normalize_body(&USER_TYPE, body, UnknownAttributes::Reject).unwrap_err();
        assert_eq!(err.status(), http::StatusCode::BAD_REQUEST);
    }

    #[test]
    fn password_is_extracted_and_extension_kept_under_urn() {
        let out = normalize(json!({
            "schemas": [USER_TYPE.core.id, crate::schema::ENTERPRISE_USER_SCHEMA],
            "userName": "a", "password": "s3cret",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"EmployeeNumber": "42"},
        }))
        .unwrap();
        assert_eq!(out.password.as_deref(), Some("s3cret"));
        assert!(!out.attributes.contains_key("password"));
        assert_eq!(
            out.attributes[crate::schema::ENTERPRISE_USER_SCHEMA],
            json!({"employeeNumber": "42"})
        );
    }

    #[test]
    fn unique_values_fold_case_except_case_exact() {
        let out = normalize(json!({
            "schemas": [USER_TYPE.core.id], "userName": "ÄLICE", "externalId": "Ext-1",
        }))
        .unwrap();
        let keys = unique_values(&USER_TYPE, &out.attributes, |_| true).unwrap();
        assert_eq!(
            keys,
            vec![
                UniqueValue {
                    attr: "externalId",
                    normalized: "Ext-1".into()
                },
                UniqueValue {
                    attr: "userName",
                    normalized: "älice".into()
                },
            ]
        );
        let long = normalize(json!({"schemas": [USER_TYPE.core.id], "userName": "x".repeat(1025)}))
            .unwrap();
        assert!(unique_values(&USER_TYPE, &long.attributes, |_| true).is_err());
    }
}
