//! The schema registry: the resource types served and their schemas, as one value that the
//! application carries (not a global), so a deployment can add its own extension schemas.
//!
//! Custom extensions are read once at start-up from an RFC 7643 §7 schema document per
//! extension, wrapped in `{"extensions": [{"resourceType": "User", "schema": {…}}]}`, and
//! then validated, searched, sorted, patched and announced exactly like the built-in ones.
//! They live for the whole process, so their definitions are leaked into `'static` once.

use serde::Deserialize;

use super::{
    AttrType, AttributeDef, ENTERPRISE_USER, GROUP, GROUP_TYPE, Mutability, ResourceTypeDef,
    Returned, SchemaDef, USER, USER_TYPE, Uniqueness,
};
use crate::domain::ResourceKind;

/// The resource types served, with their extensions.
#[derive(Debug)]
pub struct Registry {
    user: &'static ResourceTypeDef,
    group: &'static ResourceTypeDef,
}

/// The built-in registry: core User (with the enterprise extension) and Group.
pub static STANDARD: Registry = Registry {
    user: &USER_TYPE,
    group: &GROUP_TYPE,
};

/// The resource types a registry serves, in announcement order.
pub const SERVED: [ResourceKind; 2] = [ResourceKind::User, ResourceKind::Group];

impl Registry {
    /// The definition of a resource type.
    pub fn resource_type(&self, kind: ResourceKind) -> &'static ResourceTypeDef {
        match kind {
            ResourceKind::User => self.user,
            ResourceKind::Group => self.group,
        }
    }

    /// Every served resource type.
    pub fn resource_types(&self) -> impl Iterator<Item = &'static ResourceTypeDef> + '_ {
        SERVED.iter().map(|k| self.resource_type(*k))
    }

    /// Every schema: core schemas first, then extensions.
    pub fn schemas(&self) -> Vec<&'static SchemaDef> {
        let mut out: Vec<&'static SchemaDef> = self.resource_types().map(|rt| rt.core).collect();
        for rt in self.resource_types() {
            out.extend(rt.extensions.iter().copied());
        }
        out
    }

    /// Builds a registry with custom extensions (from a JSON document, see the module docs).
    /// Called once at start-up; the definitions live as long as the process.
    pub fn with_extensions(document: &str) -> Result<&'static Registry, SchemaConfigError> {
        let doc: ExtensionsDoc = serde_json::from_str(document)
            .map_err(|e| SchemaConfigError(format!("not a valid extensions document: {e}")))?;
        let mut user_ext: Vec<&'static SchemaDef> = vec![&ENTERPRISE_USER];
        let mut group_ext: Vec<&'static SchemaDef> = Vec::new();
        let mut seen: Vec<String> =
            vec![USER.id.into(), GROUP.id.into(), ENTERPRISE_USER.id.into()];
        for ext in doc.extensions {
            let schema = leak_schema(ext.schema, &mut seen)?;
            match ext.resource_type.as_str() {
                "User" => user_ext.push(schema),
                "Group" => group_ext.push(schema),
                other => {
                    return Err(SchemaConfigError(format!(
                        "resourceType '{other}' is not served (User or Group)"
                    )));
                }
            }
        }
        let user = Box::leak(Box::new(ResourceTypeDef {
            kind: ResourceKind::User,
            core: &USER,
            extensions: Box::leak(user_ext.into_boxed_slice()),
        }));
        let group = Box::leak(Box::new(ResourceTypeDef {
            kind: ResourceKind::Group,
            core: &GROUP,
            extensions: Box::leak(group_ext.into_boxed_slice()),
        }));
        Ok(Box::leak(Box::new(Registry { user, group })))
    }
}

/// A custom schema document that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid schema extensions: {0}")]
pub struct SchemaConfigError(pub String);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExtensionsDoc {
    extensions: Vec<ExtensionEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ExtensionEntry {
    resource_type: String,
    schema: SchemaDoc,
}

/// An RFC 7643 §7 schema representation (the parts that define behaviour).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SchemaDoc {
    id: String,
    name: Option<String>,
    description: Option<String>,
    attributes: Vec<AttributeDoc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AttributeDoc {
    name: String,
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    multi_valued: bool,
    description: Option<String>,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    case_exact: bool,
    mutability: Option<String>,
    returned: Option<String>,
    uniqueness: Option<String>,
    #[serde(default)]
    sub_attributes: Vec<AttributeDoc>,
    #[serde(default)]
    reference_types: Vec<String>,
}

fn leak_str(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn bad(msg: String) -> SchemaConfigError {
    SchemaConfigError(msg)
}

fn leak_schema(
    doc: SchemaDoc,
    seen: &mut Vec<String>,
) -> Result<&'static SchemaDef, SchemaConfigError> {
    if !doc.id.starts_with("urn:") || doc.id.contains(['[', ']', ' ', '"']) {
        return Err(bad(format!("schema id '{}' must be a URN", doc.id)));
    }
    if seen.iter().any(|s| s.eq_ignore_ascii_case(&doc.id)) {
        return Err(bad(format!("schema '{}' is defined twice", doc.id)));
    }
    seen.push(doc.id.clone());
    let attributes = doc
        .attributes
        .into_iter()
        .map(|a| convert(a, &doc.id, 0))
        .collect::<Result<Vec<_>, _>>()?;
    check_unique_names(&attributes, &doc.id)?;
    let name = doc
        .name
        .unwrap_or_else(|| doc.id.rsplit(':').next().unwrap_or("").to_owned());
    Ok(Box::leak(Box::new(SchemaDef {
        id: leak_str(doc.id),
        name: leak_str(name),
        description: leak_str(doc.description.unwrap_or_default()),
        attributes: Box::leak(attributes.into_boxed_slice()),
    })))
}

fn check_unique_names(attrs: &[AttributeDef], schema: &str) -> Result<(), SchemaConfigError> {
    for (i, a) in attrs.iter().enumerate() {
        if attrs[..i]
            .iter()
            .any(|b| b.name.eq_ignore_ascii_case(a.name))
        {
            return Err(bad(format!("'{schema}' defines '{}' twice", a.name)));
        }
    }
    Ok(())
}

fn convert(
    doc: AttributeDoc,
    schema: &str,
    depth: usize,
) -> Result<AttributeDef, SchemaConfigError> {
    let where_ = format!("'{schema}' attribute '{}'", doc.name);
    let mut chars = doc.name.chars();
    let valid_name = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid_name {
        return Err(bad(format!("{where_}: not a valid attribute name")));
    }
    let ty = match doc.ty.as_str() {
        "string" => AttrType::String,
        "boolean" => AttrType::Boolean,
        "decimal" => AttrType::Decimal,
        "integer" => AttrType::Integer,
        "dateTime" => AttrType::DateTime,
        "binary" => AttrType::Binary,
        "reference" => AttrType::Reference,
        "complex" => AttrType::Complex,
        other => return Err(bad(format!("{where_}: unknown type '{other}'"))),
    };
    let mutability = match doc.mutability.as_deref() {
        None | Some("readWrite") => Mutability::ReadWrite,
        Some("readOnly") => Mutability::ReadOnly,
        Some("immutable") => Mutability::Immutable,
        Some("writeOnly") => Mutability::WriteOnly,
        Some(other) => return Err(bad(format!("{where_}: unknown mutability '{other}'"))),
    };
    let returned = match doc.returned.as_deref() {
        None | Some("default") => Returned::Default,
        Some("always") => Returned::Always,
        Some("never") => Returned::Never,
        Some("request") => Returned::Request,
        Some(other) => return Err(bad(format!("{where_}: unknown returned '{other}'"))),
    };
    match doc.uniqueness.as_deref() {
        None | Some("none") => {}
        Some(other) => {
            return Err(bad(format!(
                "{where_}: uniqueness '{other}' is not supported for extension attributes"
            )));
        }
    }
    if doc.required {
        return Err(bad(format!(
            "{where_}: required extension attributes are not supported (extensions are optional)"
        )));
    }
    if ty == AttrType::Complex && (depth > 0 || doc.sub_attributes.is_empty()) {
        return Err(bad(format!(
            "{where_}: a complex attribute needs sub-attributes, and cannot be nested"
        )));
    }
    if ty != AttrType::Complex && !doc.sub_attributes.is_empty() {
        return Err(bad(format!(
            "{where_}: only complex attributes have sub-attributes"
        )));
    }
    let subs = doc
        .sub_attributes
        .into_iter()
        .map(|s| convert(s, schema, depth + 1))
        .collect::<Result<Vec<_>, _>>()?;
    check_unique_names(&subs, schema)?;
    let refs: Vec<&'static str> = doc.reference_types.into_iter().map(leak_str).collect();
    let mut def = AttributeDef::new(leak_str(doc.name), ty);
    def.multi_valued = doc.multi_valued;
    def.case_exact = doc.case_exact;
    def.mutability = mutability;
    def.returned = returned;
    def.uniqueness = Uniqueness::None;
    def.sub_attributes = Box::leak(subs.into_boxed_slice());
    def.reference_types = Box::leak(refs.into_boxed_slice());
    def.description = leak_str(doc.description.unwrap_or_default());
    Ok(def)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{"extensions": [{"resourceType": "User", "schema": {
        "id": "urn:example:params:scim:schemas:extension:acme:2.0:User",
        "name": "AcmeUser",
        "attributes": [
            {"name": "badgeNumber", "type": "string", "mutability": "immutable"},
            {"name": "clearance", "type": "integer"},
            {"name": "sites", "type": "complex", "multiValued": true, "subAttributes": [
                {"name": "code", "type": "string", "caseExact": true},
                {"name": "primary", "type": "boolean"}
            ]}
        ]}}]}"#;

    #[test]
    fn loads_custom_extensions() {
        let registry = Registry::with_extensions(DOC).unwrap();
        let user = registry.resource_type(ResourceKind::User);
        assert_eq!(user.extensions.len(), 2);
        let acme = user
            .extension("urn:example:params:scim:schemas:extension:acme:2.0:User")
            .unwrap();
        assert_eq!(
            acme.attribute("BADGENUMBER").unwrap().mutability,
            Mutability::Immutable
        );
        assert!(
            acme.attribute("sites")
                .unwrap()
                .sub_attribute("code")
                .unwrap()
                .case_exact
        );
        assert_eq!(registry.schemas().len(), 4);
        assert!(
            registry
                .resource_type(ResourceKind::Group)
                .extensions
                .is_empty()
        );
    }

    #[test]
    fn rejects_unusable_documents() {
        let cases = [
            r#"{"extensions": [{"resourceType": "Device", "schema": {"id": "urn:x:1", "attributes": []}}]}"#,
            r#"{"extensions": [{"resourceType": "User", "schema": {"id": "not-a-urn", "attributes": []}}]}"#,
            r#"{"extensions": [{"resourceType": "User", "schema": {"id": "urn:ietf:params:scim:schemas:core:2.0:User", "attributes": []}}]}"#,
            r#"{"extensions": [{"resourceType": "User", "schema": {"id": "urn:x:1", "attributes": [{"name": "a", "type": "colour"}]}}]}"#,
            r#"{"extensions": [{"resourceType": "User", "schema": {"id": "urn:x:1", "attributes": [{"name": "a", "type": "string", "uniqueness": "server"}]}}]}"#,
            r#"{"extensions": [{"resourceType": "User", "schema": {"id": "urn:x:1", "attributes": [{"name": "a", "type": "string"}, {"name": "A", "type": "string"}]}}]}"#,
            r#"{"extensions": [{"resourceType": "User", "schema": {"id": "urn:x:1", "attributes": [{"name": "1a", "type": "string"}]}}]}"#,
            r#"{"extensions": [{"resourceType": "User", "schema": {"id": "urn:x:1", "attributes": [{"name": "c", "type": "complex"}]}}]}"#,
            r#"{"extensions": [{"resourceType": "User", "schema": {"id": "urn:x:1", "attributes": [{"name": "a", "type": "string", "required": true}]}}]}"#,
            r#"{"nope": []}"#,
        ];
        for doc in cases {
            assert!(Registry::with_extensions(doc).is_err(), "{doc}");
        }
    }
}
