//! Discovery documents (RFC 7644 §4, RFC 7643 §5–7): `/ServiceProviderConfig`,
//! `/ResourceTypes` and `/Schemas`, generated from the same definitions that drive
//! validation, so they cannot disagree with what the server does.

use serde_json::{Map, Value, json};

use super::registry::Registry;
use super::{AttrType, AttributeDef, Mutability, ResourceTypeDef, Returned, SchemaDef, Uniqueness};
use crate::config::Config;
use crate::domain::TenantSettings;

/// URN of the ServiceProviderConfig schema.
pub const SERVICE_PROVIDER_CONFIG_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
/// URN of the ResourceType schema.
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
/// URN of the Schema schema.
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// `/ServiceProviderConfig`: what is supported, truthfully, for a tenant with `settings`.
pub fn service_provider_config(
    config: &Config,
    settings: &TenantSettings,
    base_url: &str,
) -> Value {
    json!({
        "schemas": [SERVICE_PROVIDER_CONFIG_SCHEMA],
        "patch": {"supported": true},
        "bulk": {
            "supported": true,
            "maxOperations": config.bulk_max_operations,
            "maxPayloadSize": config.max_body_bytes
        },
        "filter": {"supported": true, "maxResults": config.max_page_size},
        "changePassword": {"supported": !settings.ignore_passwords},
        "sort": {"supported": true},
        "pagination": {
            "cursor": true,
            "index": true,
            "defaultPaginationMethod": "index",
            "defaultPageSize": config.default_page_size,
            "maxPageSize": config.max_page_size
        },
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "A per-tenant bearer token (scimlet_<id>_<secret>) in the \
                            Authorization header, issued with `scimlet token issue`.",
            "primary": true
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base_url}/ServiceProviderConfig")
        }
    })
}

/// One `/ResourceTypes` entry.
pub fn resource_type_doc(rt: &ResourceTypeDef, base_url: &str) -> Value {
    let name = rt.kind.name();
    let extensions: Vec<Value> = rt
        .extensions
        .iter()
        .map(|ext| json!({"schema": ext.id, "required": false}))
        .collect();
    let mut doc = json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": name,
        "name": name,
        "endpoint": format!("/{}", rt.kind.endpoint()),
        "description": rt.core.description,
        "schema": rt.core.id,
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{base_url}/ResourceTypes/{name}")
        }
    });
    if let (false, Some(map)) = (extensions.is_empty(), doc.as_object_mut()) {
        map.insert("schemaExtensions".into(), Value::Array(extensions));
    }
    doc
}

/// Every served resource type.
pub fn resource_types(registry: &Registry, base_url: &str) -> Vec<Value> {
    registry
        .resource_types()
        .map(|rt| resource_type_doc(rt, base_url))
        .collect()
}

/// Finds a served resource type by name (case-insensitive).
pub fn find_resource_type(registry: &Registry, name: &str) -> Option<&'static ResourceTypeDef> {
    registry
        .resource_types()
        .find(|rt| rt.kind.name().eq_ignore_ascii_case(name))
}

/// The served resource type a schema belongs to (as its core schema or an extension).
pub fn owner_of(registry: &Registry, schema: &SchemaDef) -> Option<&'static ResourceTypeDef> {
    registry
        .resource_types()
        .find(|rt| rt.core.id == schema.id || rt.extension(schema.id).is_some())
}

/// Finds a served schema by URN (case-insensitive).
pub fn find_schema(registry: &Registry, urn: &str) -> Option<&'static SchemaDef> {
    registry
        .schemas()
        .into_iter()
        .find(|s| s.id.eq_ignore_ascii_case(urn))
}

/// One `/Schemas` entry. `enforced` tells which declared uniqueness the tenant enforces
/// (a switched-off one is announced as `none`: /Schemas tells the truth either way).
pub fn schema_doc(
    schema: &SchemaDef,
    base_url: &str,
    enforced: impl Fn(&AttributeDef) -> bool,
) -> Value {
    let attributes: Vec<Value> = schema
        .attributes
        .iter()
        .map(|def| {
            let mut doc = attribute_doc(def);
            if def.uniqueness != Uniqueness::None
                && !enforced(def)
                && let Value::Object(map) = &mut doc
            {
                map.insert(
                    "uniqueness".into(),
                    json!(uniqueness_name(Uniqueness::None)),
                );
            }
            doc
        })
        .collect();
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": schema.id,
        "name": schema.name,
        "description": schema.description,
        "attributes": attributes,
        "meta": {
            "resourceType": "Schema",
            "location": format!("{base_url}/Schemas/{}", schema.id)
        }
    })
}

fn attribute_doc(def: &AttributeDef) -> Value {
    let mut doc = Map::new();
    doc.insert("name".into(), json!(def.name));
    doc.insert("type".into(), json!(def.ty.name()));
    doc.insert("multiValued".into(), json!(def.multi_valued));
    doc.insert("description".into(), json!(def.description));
    doc.insert("required".into(), json!(def.required));
    if def.ty != AttrType::Complex {
        doc.insert("caseExact".into(), json!(def.case_exact));
    }
    doc.insert("mutability".into(), json!(mutability_name(def.mutability)));
    doc.insert("returned".into(), json!(returned_name(def.returned)));
    if def.ty != AttrType::Complex {
        doc.insert("uniqueness".into(), json!(uniqueness_name(def.uniqueness)));
    }
    if def.ty == AttrType::Reference {
        doc.insert("referenceTypes".into(), json!(def.reference_types));
    }
    if !def.canonical_values.is_empty() {
        doc.insert("canonicalValues".into(), json!(def.canonical_values));
    }
    if def.ty == AttrType::Complex {
        doc.insert(
            "subAttributes".into(),
            Value::Array(def.sub_attributes.iter().map(attribute_doc).collect()),
        );
    }
    Value::Object(doc)
}

fn mutability_name(m: Mutability) -> &'static str {
    match m {
        Mutability::ReadOnly => "readOnly",
        Mutability::ReadWrite => "readWrite",
        Mutability::Immutable => "immutable",
        Mutability::WriteOnly => "writeOnly",
    }
}

fn returned_name(r: Returned) -> &'static str {
    match r {
        Returned::Always => "always",
        Returned::Never => "never",
        Returned::Default => "default",
        Returned::Request => "request",
    }
}

fn uniqueness_name(u: Uniqueness) -> &'static str {
    match u {
        Uniqueness::None => "none",
        Uniqueness::Server => "server",
        Uniqueness::Global => "global",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{ENTERPRISE_USER_SCHEMA, USER_SCHEMA};

    #[test]
    fn user_schema_tells_uniqueness_and_mutability() {
        let registry = &crate::schema::registry::STANDARD;
        let doc = schema_doc(
            find_schema(registry, USER_SCHEMA).unwrap(),
            "https://x/scim/v2",
            |_| true,
        );
        let attr = |name: &str| {
            doc["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["name"] == name)
                .cloned()
                .unwrap()
        };
        assert_eq!(attr("userName")["uniqueness"], "server");
        assert_eq!(attr("userName")["required"], true);
        assert_eq!(attr("userName")["caseExact"], false);
        assert_eq!(attr("password")["returned"], "never");
        assert_eq!(attr("password")["mutability"], "writeOnly");
        assert_eq!(attr("groups")["mutability"], "readOnly");
        assert_eq!(attr("emails")["subAttributes"].as_array().unwrap().len(), 4);
        assert_eq!(attr("profileUrl")["referenceTypes"], json!(["external"]));
        assert!(find_schema(registry, ENTERPRISE_USER_SCHEMA).is_some());
        assert_eq!(
            doc["meta"]["location"],
            format!("https://x/scim/v2/Schemas/{USER_SCHEMA}")
        );
    }
}
