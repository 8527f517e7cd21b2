//! The JSON shapes of administration, shared by `scimlet … --output json` and the admin API
//! (`docs/admin-api.openapi.json`): tenants with their settings named as the CLI's flags,
//! token records (never secret material), activity entries, and a settings change read from
//! JSON.

use serde_json::{Map, Value, json};

use crate::clock::now_unix;
use crate::domain::{ActivityEntry, Tenant, TenantSettings, TokenRecord};

/// The settings' names, as flags and JSON keys, with their accessors.
type Accessor = (
    &'static str,
    fn(&TenantSettings) -> bool,
    fn(&mut TenantSettings, bool),
);

/// Every setting that can be changed, by name.
const SETTINGS: [Accessor; 6] = [
    (
        "strict-attributes",
        |s| s.strict_attributes,
        |s, v| s.strict_attributes = v,
    ),
    (
        "unique-group-names",
        |s| s.unique_group_names,
        |s, v| s.unique_group_names = v,
    ),
    ("soft-delete", |s| s.soft_delete, |s, v| s.soft_delete = v),
    (
        "group-patch-no-content",
        |s| s.group_patch_no_content,
        |s, v| s.group_patch_no_content = v,
    ),
    (
        "ignore-passwords",
        |s| s.ignore_passwords,
        |s, v| s.ignore_passwords = v,
    ),
    (
        "unique-external-ids",
        |s| s.unique_external_ids,
        |s, v| s.unique_external_ids = v,
    ),
];

/// A tenant's settings as JSON (the read-only `external-id-index` included).
pub fn settings(s: &TenantSettings) -> Value {
    let mut map = Map::new();
    for (name, get, _) in SETTINGS {
        map.insert(name.to_owned(), Value::Bool(get(s)));
    }
    map.insert("external-id-index".into(), Value::Bool(s.external_id_index));
    Value::Object(map)
}

/// A tenant as JSON.
pub fn tenant(t: &Tenant) -> Value {
    json!({
        "id": t.id.as_str(),
        "created": t.created,
        "settings": settings(&t.settings),
        "deleting": t.deleting,
    })
}

/// A token record as JSON: metadata only (the secret is shown once, when issued).
pub fn token(t: &TokenRecord) -> Value {
    json!({
        "id": t.id,
        "tenant": t.tenant.as_str(),
        "label": t.label,
        "created": t.created,
        "expires": t.expires_at.map(rfc3339),
        "expired": t.expired_at(now_unix()),
        "lastUsed": t.last_used.map(rfc3339),
    })
}

/// An activity entry as JSON.
pub fn activity(e: &ActivityEntry) -> Value {
    json!({
        "at": e.at, "method": e.method, "route": e.route, "status": e.status,
        "scimType": e.scim_type, "reason": e.reason, "attribute": e.attribute,
        "tokenId": e.token_id,
    })
}

/// Unix seconds as RFC 3339 (the number itself if out of range).
pub fn rfc3339(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| secs.to_string())
}

/// Why a settings document was refused.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A name that is no setting (or a read-only one).
    #[error("'{0}' is not a setting that can be changed; settings: {1}")]
    Unknown(String, String),
    /// A value that is not a boolean.
    #[error("setting '{0}' must be true or false")]
    NotBoolean(String),
    /// Not a JSON object.
    #[error("settings must be a JSON object of setting names to true or false")]
    NotAnObject,
}

/// Reads a settings change (`{"soft-delete": true, …}`) and applies it to `settings`;
/// names not given keep their value.
pub fn apply_settings(change: &Value, settings: &mut TenantSettings) -> Result<(), SettingsError> {
    let Value::Object(map) = change else {
        return Err(SettingsError::NotAnObject);
    };
    let mut updated = *settings;
    for (name, value) in map {
        let Some((_, _, set)) = SETTINGS.iter().find(|(n, _, _)| n == name) else {
            let names: Vec<&str> = SETTINGS.iter().map(|(n, _, _)| *n).collect();
            return Err(SettingsError::Unknown(
                crate::error::attribute_name(name),
                names.join(", "),
            ));
        };
        let Value::Bool(v) = value else {
            return Err(SettingsError::NotBoolean(name.clone()));
        };
        set(&mut updated, *v);
    }
    *settings = updated;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_read_and_written_by_the_same_names() {
        let mut s = TenantSettings::default();
        apply_settings(
            &json!({"soft-delete": true, "unique-group-names": false}),
            &mut s,
        )
        .unwrap();
        assert!(s.soft_delete && !s.unique_group_names);
        let shown = settings(&s);
        assert_eq!(shown["soft-delete"], true);
        assert_eq!(shown["unique-group-names"], false);
        assert!(apply_settings(&json!({"external-id-index": true}), &mut s).is_err());
        assert!(apply_settings(&json!({"soft-delete": "yes"}), &mut s).is_err());
        assert!(apply_settings(&json!(["soft-delete"]), &mut s).is_err());
        // A refused change changes nothing.
        let before = s;
        assert!(apply_settings(&json!({"strict-attributes": true, "nope": true}), &mut s).is_err());
        assert_eq!(s, before);
    }
}
