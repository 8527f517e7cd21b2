//! Rendering stored resources as SCIM JSON: `schemas` listing the extensions present, `id`
//! first, attributes in their canonical spelling, `returned: never` attributes left out, and
//! `meta` built from the stored metadata and the public base URL.

use serde_json::{Map, Value};

use super::{AttributeDef, Mutability, ResourceTypeDef, Returned};
use crate::domain::ResourceKind;
use crate::domain::{Link, Resource, Version};

/// Formats a version as the weak ETag used for `meta.version` and the `ETag` header. A
/// settling version (a membership change in progress) gets a suffix no request can repeat,
/// so it never satisfies `If-Match` and never names two different member sets.
pub fn etag(version: Version) -> String {
    if version.settling {
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        format!("W/\"{}-{}\"", version.number(), &nonce[..12])
    } else {
        format!("W/\"{}\"", version.number())
    }
}

/// The URL of a resource under the public base URL (which has no trailing `/`).
pub fn location(base_url: &str, resource: &Resource) -> String {
    format!("{base_url}/{}/{}", resource.kind.endpoint(), resource.id)
}

/// Renders a resource with its membership: a group's `members` or a user's `groups`
/// (`None`: the links were not read, so the attribute is left out).
pub fn render_linked(
    resource: &Resource,
    rt: &ResourceTypeDef,
    links: Option<&[Link]>,
    base_url: &str,
) -> Value {
    let mut value = render(resource, rt, base_url);
    let Some(links) = links.filter(|l| !l.is_empty()) else {
        return value;
    };
    let (name, items): (&str, Vec<Value>) = match resource.kind {
        ResourceKind::Group => (
            "members",
            links
                .iter()
                .map(|l| link_value(l, base_url, l.target.kind.name()))
                .collect(),
        ),
        ResourceKind::User => (
            "groups",
            links
                .iter()
                .map(|l| link_value(l, base_url, "direct"))
                .collect(),
        ),
    };
    if let Value::Object(map) = &mut value {
        let meta = map.shift_remove("meta");
        map.insert(name.into(), Value::Array(items));
        if let Some(meta) = meta {
            map.insert("meta".into(), meta);
        }
    }
    value
}

fn link_value(link: &Link, base_url: &str, ty: &str) -> Value {
    let mut out = Map::new();
    out.insert("value".into(), Value::from(link.target.id.clone()));
    out.insert(
        "$ref".into(),
        Value::from(format!(
            "{base_url}/{}/{}",
            link.target.kind.endpoint(),
            link.target.id
        )),
    );
    if let Some(display) = &link.display {
        out.insert("display".into(), Value::from(display.clone()));
    }
    out.insert("type".into(), Value::from(ty));
    Value::Object(out)
}

/// Never returned: `returned: never`, and write-only attributes whatever their `returned`.
/// Whether an attribute is never shown (`returned: never`, or write-only): rendering leaves
/// it out even when it is stored.
pub fn hidden(def: &AttributeDef) -> bool {
    def.returned == Returned::Never || def.mutability == Mutability::WriteOnly
}

/// Renders a resource as its SCIM representation (without membership), with the schemas of
/// its resource type `rt`.
pub fn render(resource: &Resource, rt: &ResourceTypeDef, base_url: &str) -> Value {
    let mut schemas = vec![Value::from(rt.core.id)];
    let mut out = Map::new();
    out.insert("schemas".into(), Value::Null); // placeholder keeps `schemas` first
    out.insert("id".into(), Value::from(resource.id.clone()));
    for (name, value) in &resource.attributes {
        if let Some(ext) = rt.extension(name) {
            let Value::Object(attrs) = value else {
                continue;
            };
            let shown: Map<String, Value> = attrs
                .iter()
                .filter(|(k, _)| ext.attribute(k).is_none_or(|d| !hidden(d)))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if !shown.is_empty() {
                schemas.push(Value::from(ext.id));
                out.insert(name.clone(), Value::Object(shown));
            }
            continue;
        }
        if rt.core.attribute(name).is_none_or(|d| !hidden(d)) {
            out.insert(name.clone(), value.clone());
        }
    }
    out.insert("schemas".into(), Value::Array(schemas));
    let mut meta = Map::new();
    meta.insert("resourceType".into(), Value::from(resource.kind.name()));
    meta.insert("created".into(), Value::from(resource.created.clone()));
    meta.insert(
        "lastModified".into(),
        Value::from(resource.last_modified.clone()),
    );
    meta.insert("location".into(), Value::from(location(base_url, resource)));
    meta.insert("version".into(), Value::from(etag(resource.version)));
    out.insert("meta".into(), Value::Object(meta));
    Value::Object(out)
}
