//! Conversion between domain types and DynamoDB items (the documented item format).
//!
//! Resource items hold their SCIM attributes as a native DynamoDB map under `data`, so a
//! stream consumer reads them without parsing JSON strings. Numbers travel as DynamoDB
//! numbers (their decimal text), `null` as NULL.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Number, Value};

use super::super::{StoreError, keys};
use crate::domain::ResourceKind;
use crate::domain::{
    ActivityEntry, Resource, SetupLink, Tenant, TenantId, TenantSettings, TokenRecord, UniqueValue,
    Version,
};

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// `S` attribute.
pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// `N` attribute.
pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// Converts a JSON value to an attribute value.
pub fn to_attr(value: &Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(num) => AttributeValue::N(num.to_string()),
        Value::String(text) => AttributeValue::S(text.clone()),
        Value::Array(items) => AttributeValue::L(items.iter().map(to_attr).collect()),
        Value::Object(map) => {
            AttributeValue::M(map.iter().map(|(k, v)| (k.clone(), to_attr(v))).collect())
        }
    }
}

/// Converts an attribute value back to JSON.
pub fn from_attr(attr: &AttributeValue) -> Result<Value, StoreError> {
    Ok(match attr {
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::N(text) => Value::Number(
            text.parse::<Number>()
                .map_err(|_| corrupt("a number attribute is not a JSON number"))?,
        ),
        AttributeValue::S(text) => Value::String(text.clone()),
        AttributeValue::L(items) => {
            Value::Array(items.iter().map(from_attr).collect::<Result<_, _>>()?)
        }
        AttributeValue::M(map) => Value::Object(map_from_attrs(map)?),
        _ => return Err(corrupt("unsupported attribute type in a resource")),
    })
}

fn map_from_attrs(map: &HashMap<String, AttributeValue>) -> Result<Map<String, Value>, StoreError> {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    let mut out = Map::new();
    for k in keys {
        out.insert(k.clone(), from_attr(&map[k])?);
    }
    Ok(out)
}

fn corrupt(what: &'static str) -> StoreError {
    StoreError::backend(what)
}

/// Reads a string attribute.
pub fn get_s<'a>(item: &'a Item, name: &'static str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        _ => Err(StoreError::backend(format!(
            "item lacks string attribute '{name}'"
        ))),
    }
}

fn get_opt_s(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    }
}

/// Reads a non-negative integer attribute.
pub fn get_u64(item: &Item, name: &'static str) -> Result<u64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v
            .parse()
            .map_err(|_| StoreError::backend(format!("attribute '{name}' is not an integer"))),
        _ => Err(StoreError::backend(format!(
            "item lacks number attribute '{name}'"
        ))),
    }
}

fn get_opt_i64(item: &Item, name: &str) -> Option<i64> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().ok(),
        _ => None,
    }
}

/// The primary key of a resource.
pub fn resource_key(tenant: &TenantId, kind: ResourceKind, id: &str) -> Item {
    HashMap::from([
        ("PK".into(), s(keys::resource_pk(tenant, kind, id))),
        ("SK".into(), s(keys::resource_sk(kind))),
    ])
}

/// The full item of a resource. `mpending` is the number of membership changes in progress
/// (0 for a resource written whole).
pub fn resource_item(tenant: &TenantId, r: &Resource, mpending: u64) -> Item {
    let mut item = resource_key(tenant, r.kind, &r.id);
    item.insert("GSI1PK".into(), s(keys::resources_gsi(tenant, r.kind)));
    item.insert("GSI1SK".into(), s(r.id.clone()));
    item.insert("v".into(), n(keys::FORMAT_VERSION));
    item.insert("type".into(), s(r.kind.name()));
    item.insert("tenant".into(), s(tenant.as_str()));
    item.insert("id".into(), s(r.id.clone()));
    item.insert("version".into(), n(r.version.attributes));
    item.insert("mseq".into(), n(r.version.members));
    item.insert("mpending".into(), n(mpending));
    item.insert("memberCount".into(), n(r.member_count));
    item.insert("created".into(), s(r.created.clone()));
    item.insert("lastModified".into(), s(r.last_modified.clone()));
    item.insert("data".into(), data_attr(r));
    item.insert(
        "guards".into(),
        guards_attr(r.guards.as_deref().unwrap_or(&[])),
    );
    if let Some(hash) = &r.password_hash {
        item.insert("passwordHash".into(), s(hash.clone()));
    }
    item
}

/// The `data` map of a resource item.
pub fn data_attr(r: &Resource) -> AttributeValue {
    AttributeValue::M(
        r.attributes
            .iter()
            .map(|(k, v)| (k.clone(), to_attr(v)))
            .collect(),
    )
}

/// The `guards` list of a resource item: `{attr, value}` maps.
pub fn guards_attr(guards: &[UniqueValue]) -> AttributeValue {
    AttributeValue::L(
        guards
            .iter()
            .map(|g| {
                AttributeValue::M(HashMap::from([
                    ("attr".into(), s(g.attr)),
                    ("value".into(), s(g.normalized.clone())),
                ]))
            })
            .collect(),
    )
}

fn guards_from(item: &Item) -> Option<Vec<UniqueValue>> {
    let Some(AttributeValue::L(list)) = item.get("guards") else {
        return None;
    };
    Some(
        list.iter()
            .filter_map(|g| match g {
                AttributeValue::M(m) => match (m.get("attr"), m.get("value")) {
                    (Some(AttributeValue::S(a)), Some(AttributeValue::S(v))) => {
                        UniqueValue::from_stored(a, v.clone())
                    }
                    _ => None,
                },
                _ => None,
            })
            .collect(),
    )
}

/// The item of a soft-deleted resource: marked with `deletedAt` and listed in the tenant's
/// deleted partition of GSI1 instead of the live one.
pub fn deleted_resource_item(tenant: &TenantId, r: &Resource, deleted_at: &str) -> Item {
    let mut item = resource_item(tenant, r, 0);
    item.insert("GSI1PK".into(), s(keys::deleted_gsi(tenant, r.kind)));
    item.insert("deletedAt".into(), s(deleted_at));
    item
}

/// Whether a resource item is soft-deleted.
pub fn is_deleted(item: &Item) -> bool {
    item.contains_key("deletedAt")
}

/// Decodes a resource item.
pub fn resource_from_item(kind: ResourceKind, item: &Item) -> Result<Resource, StoreError> {
    let attributes = match item.get("data") {
        Some(AttributeValue::M(map)) => map_from_attrs(map)?,
        _ => return Err(corrupt("resource item lacks its 'data' map")),
    };
    Ok(Resource {
        kind,
        id: get_s(item, "id")?.to_owned(),
        version: version_from(item)?,
        created: get_s(item, "created")?.to_owned(),
        last_modified: get_s(item, "lastModified")?.to_owned(),
        attributes,
        password_hash: get_opt_s(item, "passwordHash"),
        guards: guards_from(item),
        member_count: get_opt_u64(item, "memberCount").unwrap_or(0),
    })
}

/// The version of a resource item (format 1 items have neither membership counter: 0).
pub fn version_from(item: &Item) -> Result<Version, StoreError> {
    Ok(Version {
        attributes: get_u64(item, "version")?,
        members: get_opt_u64(item, "mseq").unwrap_or(0),
        settling: get_opt_u64(item, "mpending").unwrap_or(0) > 0,
    })
}

/// When the last membership change of a resource item started (RFC 3339), if one did.
pub fn members_started_at(item: &Item) -> Option<String> {
    get_opt_s(item, "mstartedAt")
}

fn get_opt_u64(item: &Item, name: &str) -> Option<u64> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().ok(),
        _ => None,
    }
}

/// The key of a tenant record.
pub fn tenant_key(id: &TenantId) -> Item {
    HashMap::from([
        ("PK".into(), s(keys::tenant_pk(id))),
        ("SK".into(), s(keys::TENANT_SK)),
    ])
}

/// The item of a tenant record.
pub fn tenant_item(t: &Tenant) -> Item {
    let mut item = tenant_key(&t.id);
    item.insert("GSI1PK".into(), s(keys::TENANTS_GSI));
    item.insert("GSI1SK".into(), s(t.id.as_str()));
    item.insert("v".into(), n(keys::FORMAT_VERSION));
    item.insert("type".into(), s("Tenant"));
    item.insert("tenant".into(), s(t.id.as_str()));
    item.insert("created".into(), s(t.created.clone()));
    let settings = &t.settings;
    for (name, value) in [
        ("strictAttributes", settings.strict_attributes),
        ("uniqueGroupNames", settings.unique_group_names),
        ("softDelete", settings.soft_delete),
        ("groupPatchNoContent", settings.group_patch_no_content),
        ("ignorePasswords", settings.ignore_passwords),
        ("uniqueExternalIds", settings.unique_external_ids),
        ("externalIdIndex", settings.external_id_index),
    ] {
        item.insert(name.into(), AttributeValue::Bool(value));
    }
    if t.deleting {
        item.insert("deleting".into(), AttributeValue::Bool(true));
    }
    item
}

fn get_bool(item: &Item, name: &str, default: bool) -> bool {
    match item.get(name) {
        Some(AttributeValue::Bool(b)) => *b,
        _ => default,
    }
}

/// Decodes a tenant record.
pub fn tenant_from_item(item: &Item) -> Result<Tenant, StoreError> {
    Ok(Tenant {
        id: TenantId::new(get_s(item, "tenant")?).map_err(StoreError::backend)?,
        created: get_s(item, "created")?.to_owned(),
        deleting: get_bool(item, "deleting", false),
        settings: {
            let defaults = TenantSettings::default();
            TenantSettings {
                strict_attributes: get_bool(item, "strictAttributes", defaults.strict_attributes),
                unique_group_names: get_bool(item, "uniqueGroupNames", defaults.unique_group_names),
                soft_delete: get_bool(item, "softDelete", defaults.soft_delete),
                group_patch_no_content: get_bool(
                    item,
                    "groupPatchNoContent",
                    defaults.group_patch_no_content,
                ),
                ignore_passwords: get_bool(item, "ignorePasswords", defaults.ignore_passwords),
                // A tenant written before the lookup index existed keeps unique externalIds
                // (its guards) until `scimlet migrate external-id-index` builds its index.
                unique_external_ids: get_bool(item, "uniqueExternalIds", true),
                external_id_index: get_bool(item, "externalIdIndex", false),
            }
        },
    })
}

/// The key of a token record.
pub fn token_key(id: &str) -> Item {
    HashMap::from([
        ("PK".into(), s(keys::token_pk(id))),
        ("SK".into(), s(keys::TOKEN_SK)),
    ])
}

/// The item of a token record. `expiresAt` doubles as the table's TTL attribute.
pub fn token_item(t: &TokenRecord) -> Item {
    let mut item = token_key(&t.id);
    item.insert("GSI1PK".into(), s(keys::tokens_gsi(&t.tenant)));
    item.insert("GSI1SK".into(), s(t.id.clone()));
    item.insert("v".into(), n(keys::FORMAT_VERSION));
    item.insert("type".into(), s("Token"));
    item.insert("tokenId".into(), s(t.id.clone()));
    item.insert("tenant".into(), s(t.tenant.as_str()));
    item.insert("hash".into(), s(t.hash.clone()));
    if let Some(check) = &t.check {
        item.insert("check".into(), s(check.clone()));
    }
    item.insert("created".into(), s(t.created.clone()));
    if let Some(exp) = t.expires_at {
        // The expiry has its own attribute; the TTL attribute removes the token only after
        // the grace period, so expired tokens stay listed (marked) until pruned.
        item.insert("expires".into(), n(exp));
        item.insert(
            "expiresAt".into(),
            n(exp.saturating_add(crate::domain::TOKEN_GRACE_SECS)),
        );
    }
    if let Some(used) = t.last_used {
        item.insert("lastUsed".into(), n(used));
    }
    if let Some(label) = &t.label {
        item.insert("label".into(), s(label.clone()));
    }
    item
}

/// Decodes a token record.
pub fn token_from_item(item: &Item) -> Result<TokenRecord, StoreError> {
    Ok(TokenRecord {
        id: get_s(item, "tokenId")?.to_owned(),
        tenant: TenantId::new(get_s(item, "tenant")?).map_err(StoreError::backend)?,
        hash: get_s(item, "hash")?.to_owned(),
        check: get_opt_s(item, "check"),
        created: get_s(item, "created")?.to_owned(),
        // Tokens written before the expiry had its own attribute kept it in the TTL one.
        expires_at: get_opt_i64(item, "expires").or_else(|| get_opt_i64(item, "expiresAt")),
        label: get_opt_s(item, "label"),
        last_used: get_opt_i64(item, "lastUsed"),
    })
}

/// The key of a setup link.
pub fn setup_link_key(id: &str) -> Item {
    HashMap::from([
        ("PK".into(), s(keys::setup_link_pk(id))),
        ("SK".into(), s(keys::SETUP_LINK_SK)),
    ])
}

/// The item of a setup link; the TTL removes it a grace period after it expires.
pub fn setup_link_item(l: &SetupLink) -> Item {
    let mut item = setup_link_key(&l.id);
    item.insert("GSI1PK".into(), s(keys::setup_links_gsi(&l.tenant)));
    item.insert("GSI1SK".into(), s(l.id.clone()));
    item.insert("v".into(), n(keys::FORMAT_VERSION));
    item.insert("type".into(), s("SetupLink"));
    item.insert("linkId".into(), s(l.id.clone()));
    item.insert("tenant".into(), s(l.tenant.as_str()));
    item.insert("hash".into(), s(l.hash.clone()));
    item.insert("created".into(), s(l.created.clone()));
    item.insert("expires".into(), n(l.expires_at));
    item.insert(
        "expiresAt".into(),
        n(l.expires_at
            .saturating_add(crate::domain::SETUP_LINK_GRACE_SECS)),
    );
    if let Some(at) = l.revoked_at {
        item.insert("revoked".into(), n(at));
    }
    item
}

/// Decodes a setup link.
pub fn setup_link_from_item(item: &Item) -> Result<SetupLink, StoreError> {
    Ok(SetupLink {
        id: get_s(item, "linkId")?.to_owned(),
        tenant: TenantId::new(get_s(item, "tenant")?).map_err(StoreError::backend)?,
        hash: get_s(item, "hash")?.to_owned(),
        created: get_s(item, "created")?.to_owned(),
        expires_at: get_opt_i64(item, "expires").unwrap_or(0),
        revoked_at: get_opt_i64(item, "revoked"),
    })
}

/// The item of one activity entry of a tenant.
pub fn activity_item(tenant: &TenantId, entry: &ActivityEntry, expires_at: i64) -> Item {
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let mut item = HashMap::from([
        ("PK".to_owned(), s(keys::activity_pk(tenant))),
        ("SK".to_owned(), s(format!("{}#{suffix}", entry.at))),
    ]);
    item.insert("v".into(), n(keys::FORMAT_VERSION));
    item.insert("type".into(), s("Activity"));
    item.insert("tenant".into(), s(tenant.as_str()));
    item.insert("at".into(), s(entry.at.clone()));
    item.insert("route".into(), s(entry.route.clone()));
    item.insert("method".into(), s(entry.method.clone()));
    item.insert("status".into(), n(entry.status));
    for (name, value) in [
        ("scimType", &entry.scim_type),
        ("reason", &entry.reason),
        ("attribute", &entry.attribute),
        ("tokenId", &entry.token_id),
    ] {
        if let Some(value) = value {
            item.insert(name.into(), s(value.clone()));
        }
    }
    item.insert("expiresAt".into(), n(expires_at));
    item
}

/// Decodes an activity entry.
pub fn activity_from_item(item: &Item) -> Result<ActivityEntry, StoreError> {
    Ok(ActivityEntry {
        at: get_s(item, "at")?.to_owned(),
        route: get_s(item, "route")?.to_owned(),
        method: get_s(item, "method")?.to_owned(),
        status: get_opt_i64(item, "status")
            .and_then(|v| u16::try_from(v).ok())
            .unwrap_or(0),
        scim_type: get_opt_s(item, "scimType"),
        reason: get_opt_s(item, "reason"),
        attribute: get_opt_s(item, "attribute"),
        token_id: get_opt_s(item, "tokenId"),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn json_round_trips_through_attribute_values() {
        let v = json!({"a": [1, 2.5, -3, "x", true, null, {"b": []}], "c": {}});
        assert_eq!(from_attr(&to_attr(&v)).unwrap(), v);
    }

    #[test]
    fn resource_round_trips_through_item() {
        let t = TenantId::new("acme").unwrap();
        let r = Resource {
            kind: ResourceKind::User,
            id: "u1".into(),
            version: Version {
                attributes: 3,
                members: 2,
                settling: false,
            },
            created: "2026-01-01T00:00:00Z".into(),
            last_modified: "2026-01-02T00:00:00Z".into(),
            attributes: json!({"userName": "bob", "emails": [{"value": "b@x"}]})
                .as_object()
                .cloned()
                .unwrap(),
            password_hash: Some("$argon2id$...".into()),
            guards: Some(vec![UniqueValue {
                attr: "userName",
                normalized: "bob".into(),
            }]),
            member_count: 4,
        };
        let item = resource_item(&t, &r, 0);
        assert_eq!(resource_from_item(ResourceKind::User, &item).unwrap(), r);
        // A change in progress shows as settling.
        let settling = resource_from_item(ResourceKind::User, &resource_item(&t, &r, 1)).unwrap();
        assert!(settling.version.settling);
    }

    #[test]
    fn format_1_items_read_as_version_0_of_membership_and_unknown_guards() {
        let t = TenantId::new("acme").unwrap();
        let mut item = resource_key(&t, ResourceKind::Group, "g1");
        item.insert("id".into(), s("g1"));
        item.insert("version".into(), n(5));
        item.insert("created".into(), s("c"));
        item.insert("lastModified".into(), s("m"));
        item.insert("data".into(), AttributeValue::M(HashMap::new()));
        let r = resource_from_item(ResourceKind::Group, &item).unwrap();
        assert_eq!(
            r.version,
            Version {
                attributes: 5,
                members: 0,
                settling: false
            }
        );
        assert_eq!((r.guards, r.member_count), (None, 0));
    }
}
