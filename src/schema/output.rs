//! Rendering stored resources as SCIM JSON: `schemas` listing the extensions present, `id`
//! first, attributes in their canonical spelling, `returned: never` attributes left out, and
//! `meta` built from the stored metadata and the public base URL.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Map, Value};

use super::{AttributeDef, Mutability, ResourceTypeDef, Returned};
use crate::domain::ResourceKind;
use crate::domain::{Link, MemberRef, Resource, Version};

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
    with_links(
        render(resource, rt, base_url),
        resource.kind,
        links,
        base_url,
    )
}

/// [`render_linked`] of a resource shared with a store's read: moved when this was its last
/// holder.
pub fn render_linked_shared(
    resource: std::sync::Arc<Resource>,
    rt: &ResourceTypeDef,
    links: Option<&[Link]>,
    base_url: &str,
) -> Value {
    let kind = resource.kind;
    with_links(render_shared(resource, rt, base_url), kind, links, base_url)
}

/// Adds the membership attribute to a rendering, before `meta`.
fn with_links(
    mut value: Value,
    kind: ResourceKind,
    links: Option<&[Link]>,
    base_url: &str,
) -> Value {
    let Some(links) = links.filter(|l| !l.is_empty()) else {
        return value;
    };
    let (name, items): (&str, Vec<Value>) = match kind {
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

/// The JSON text of `rendered` (a resource rendered and projected, without its membership)
/// with the membership attribute of a `kind` resource inserted before `meta`, written
/// straight from `links`: a group's thousand members are not built as values first.
pub fn text_with_links(
    mut rendered: Value,
    kind: ResourceKind,
    links: &[Link],
    base_url: &str,
) -> serde_json::Result<Vec<u8>> {
    let Value::Object(map) = &mut rendered else {
        return serde_json::to_vec(&rendered);
    };
    if links.is_empty() {
        // As in `render_linked`: no links, no attribute.
        return serde_json::to_vec(&rendered);
    }
    let meta = map.shift_remove("meta");
    let mut text = serde_json::to_vec(&rendered)?;
    text.pop(); // the closing brace
    if text.len() > 1 {
        text.push(b',');
    }
    let (name, ty) = match kind {
        ResourceKind::Group => ("members", None),
        ResourceKind::User => ("groups", Some("direct")),
    };
    serde_json::to_writer(&mut text, name)?;
    text.push(b':');
    serde_json::to_writer(
        &mut text,
        &LinksText {
            links,
            base_url,
            ty,
        },
    )?;
    if let Some(meta) = meta {
        text.extend_from_slice(b",\"meta\":");
        serde_json::to_writer(&mut text, &meta)?;
    }
    text.push(b'}');
    Ok(text)
}

/// Links serialized as a multi-valued attribute's values, as [`link_value`] renders each.
struct LinksText<'a> {
    links: &'a [Link],
    base_url: &'a str,
    /// The `type` of every value (`None`: each link's target kind).
    ty: Option<&'a str>,
}

impl Serialize for LinksText<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.links.len()))?;
        for link in self.links {
            seq.serialize_element(&LinkText {
                link,
                base_url: self.base_url,
                ty: self.ty.unwrap_or(link.target.kind.name()),
            })?;
        }
        seq.end()
    }
}

struct LinkText<'a> {
    link: &'a Link,
    base_url: &'a str,
    ty: &'a str,
}

impl Serialize for LinkText<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let target = &self.link.target;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("value", &target.id)?;
        map.serialize_entry(
            "$ref",
            &RefText {
                base_url: self.base_url,
                target,
            },
        )?;
        if let Some(display) = &self.link.display {
            map.serialize_entry("display", display)?;
        }
        map.serialize_entry("type", self.ty)?;
        map.end()
    }
}

/// A member's `$ref`, written without building the URL first.
struct RefText<'a> {
    base_url: &'a str,
    target: &'a MemberRef,
}

impl Serialize for RefText<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!(
            "{}/{}/{}",
            self.base_url,
            self.target.kind.endpoint(),
            self.target.id
        ))
    }
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
    let attributes = resource
        .attributes
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()));
    build(resource, attributes, rt, base_url)
}

/// [`render`] of a resource that is not needed afterwards: its attributes are moved into the
/// rendering rather than copied (a page renders each resource once).
pub fn render_owned(mut resource: Resource, rt: &ResourceTypeDef, base_url: &str) -> Value {
    let attributes = std::mem::take(&mut resource.attributes);
    build(&resource, attributes.into_iter(), rt, base_url)
}

/// [`render`] of a resource shared with a store's page: moved when this was its last holder.
pub fn render_shared(
    resource: std::sync::Arc<Resource>,
    rt: &ResourceTypeDef,
    base_url: &str,
) -> Value {
    match std::sync::Arc::try_unwrap(resource) {
        Ok(owned) => render_owned(owned, rt, base_url),
        Err(shared) => render(&shared, rt, base_url),
    }
}

/// The rendering of `resource`'s metadata with `attributes` (its own, copied or moved).
fn build(
    resource: &Resource,
    attributes: impl Iterator<Item = (String, Value)>,
    rt: &ResourceTypeDef,
    base_url: &str,
) -> Value {
    let mut schemas = vec![Value::from(rt.core.id)];
    let mut out = Map::new();
    out.insert("schemas".into(), Value::Null); // placeholder keeps `schemas` first
    out.insert("id".into(), Value::from(resource.id.clone()));
    for (name, value) in attributes {
        if let Some(ext) = rt.extension(&name) {
            let Value::Object(attrs) = value else {
                continue;
            };
            let shown: Map<String, Value> = attrs
                .into_iter()
                .filter(|(k, _)| ext.attribute(k).is_none_or(|d| !hidden(d)))
                .collect();
            if !shown.is_empty() {
                schemas.push(Value::from(ext.id));
                out.insert(name, Value::Object(shown));
            }
            continue;
        }
        if rt.core.attribute(&name).is_none_or(|d| !hidden(d)) {
            out.insert(name, value);
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::schema::registry::STANDARD;

    fn resource(kind: ResourceKind, attributes: Value) -> Resource {
        Resource {
            kind,
            id: "0190c2a4-0000-7000-8000-000000000001".into(),
            version: Version {
                attributes: 2,
                members: 5,
                settling: false,
            },
            created: "2026-01-01T00:00:00Z".into(),
            last_modified: "2026-01-02T00:00:00Z".into(),
            attributes: attributes.as_object().cloned().unwrap(),
            password_hash: Some("$argon2id$secret".into()),
            guards: None,
            member_count: 2,
        }
    }

    fn link(kind: ResourceKind, id: &str, display: Option<&str>) -> Link {
        Link {
            target: MemberRef {
                kind,
                id: id.into(),
            },
            display: display.map(str::to_owned),
        }
    }

    const BASE: &str = "https://scim.example.com/t/acme/scim/v2";

    #[test]
    fn links_written_as_text_read_back_as_the_rendered_value() {
        let group = resource(ResourceKind::Group, json!({"displayName": "Ops \"East\""}));
        let user = resource(
            ResourceKind::User,
            json!({"userName": "ada", "password": "never shown"}),
        );
        let members = [
            link(ResourceKind::User, "u1", Some("Ada \\ Lovelace")),
            link(ResourceKind::Group, "g2", None),
        ];
        let groups = [link(ResourceKind::Group, "g3", Some("Admins"))];
        for (resource, links) in [(&group, &members[..]), (&user, &groups[..])] {
            let rt = STANDARD.resource_type(resource.kind);
            let want = render_linked(resource, rt, Some(links), BASE);
            let text =
                text_with_links(render(resource, rt, BASE), resource.kind, links, BASE).unwrap();
            let got: Value = serde_json::from_slice(&text).unwrap();
            assert_eq!(got, want);
            // The same order too: the membership attribute comes just before `meta`.
            let keys: Vec<&String> = got.as_object().unwrap().keys().collect();
            let want_keys: Vec<&String> = want.as_object().unwrap().keys().collect();
            assert_eq!(keys, want_keys);
            assert!(!String::from_utf8(text).unwrap().contains("never shown"));
        }
    }

    #[test]
    fn no_links_no_attribute() {
        let user = resource(ResourceKind::User, json!({"userName": "ada"}));
        let rt = STANDARD.resource_type(ResourceKind::User);
        let text = text_with_links(render(&user, rt, BASE), ResourceKind::User, &[], BASE).unwrap();
        let got: Value = serde_json::from_slice(&text).unwrap();
        assert_eq!(got, render_linked(&user, rt, Some(&[]), BASE));
        assert!(got.get("groups").is_none());
    }

    #[test]
    fn links_written_as_text_without_meta() {
        let group = resource(ResourceKind::Group, json!({"displayName": "Ops"}));
        let rt = STANDARD.resource_type(ResourceKind::Group);
        let mut plain = render(&group, rt, BASE);
        plain.as_object_mut().unwrap().shift_remove("meta");
        let members = [link(ResourceKind::User, "u1", None)];
        let text = text_with_links(plain, ResourceKind::Group, &members, BASE).unwrap();
        let got: Value = serde_json::from_slice(&text).unwrap();
        assert_eq!(got["members"][0]["$ref"], format!("{BASE}/Users/u1"));
        assert_eq!(got["members"][0]["type"], "User");
        assert!(got.get("meta").is_none());
    }

    #[test]
    fn owned_and_shared_renderings_equal_the_borrowed_one() {
        let user = resource(
            ResourceKind::User,
            json!({"userName": "ada", "active": true}),
        );
        let rt = STANDARD.resource_type(ResourceKind::User);
        let want = render(&user, rt, BASE);
        assert_eq!(render_owned(user.clone(), rt, BASE), want);
        let shared = std::sync::Arc::new(user);
        let also_held = std::sync::Arc::clone(&shared);
        assert_eq!(render_shared(shared, rt, BASE), want);
        assert_eq!(render_shared(also_held, rt, BASE), want);
    }
}
