//! Group membership in requests: reading `members` out of bodies and patched documents,
//! resolving each member's kind and display name, and computing the change to store.
//!
//! Membership is direct only (nothing is expanded transitively); a group cannot contain
//! itself; a member that does not exist is a 400 naming it; adding a member twice or
//! removing a non-member changes nothing.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::{Ctx, store_error, write};
use crate::domain::ResourceKind;
use crate::domain::{Link, MemberRef, is_resource_id};
use crate::error::ScimError;
use crate::store::MemberDelta;

/// The most members one request may set or change (bounds the work of one request well
/// inside API Gateway's 30 s and Lambda's limits).
pub const MAX_MEMBERS_PER_REQUEST: usize = 1000;

/// The most members a read shows (about 2 MB of JSON, well inside Lambda's 6 MB response
/// limit). Larger groups are read with `excludedAttributes=members` and queried with
/// `filter=members.value eq "<id>"`.
pub const MAX_MEMBERS_SHOWN: usize = 10_000;

/// The error for a group too large to show whole.
pub fn too_many_members() -> ScimError {
    ScimError::TooMany(format!(
        "this group has more than {MAX_MEMBERS_SHOWN} members; read it with \
         excludedAttributes=members and test membership with filter=members.value eq \"<id>\""
    ))
}

/// A member as a request names it: an id, and the kind if the request says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requested {
    /// The member's id.
    pub id: String,
    /// `User` or `Group`, when the request gave a `type`.
    pub kind: Option<ResourceKind>,
}

/// Removes `members` from normalised group attributes and reads it (deduplicated by id).
pub fn take_members(attributes: &mut Map<String, Value>) -> Result<Vec<Requested>, ScimError> {
    let Some(raw) = attributes.remove("members") else {
        return Ok(Vec::new());
    };
    let items = match raw {
        Value::Array(items) => items,
        _ => return Err(member_error("'members' must be an array".into())),
    };
    if items.len() > MAX_MEMBERS_PER_REQUEST {
        return Err(member_error(format!(
            "a request may set at most {MAX_MEMBERS_PER_REQUEST} members; add the rest with PATCH"
        )));
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let id = item
            .get("value")
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| member_error("each member needs a 'value' (its id)".into()))?
            .to_owned();
        let kind = match item.get("type").and_then(Value::as_str) {
            None => None,
            Some(t) if t.eq_ignore_ascii_case("User") => Some(ResourceKind::User),
            Some(t) if t.eq_ignore_ascii_case("Group") => Some(ResourceKind::Group),
            Some(_) => {
                return Err(member_error(
                    "a member's 'type' must be \"User\" or \"Group\"".into(),
                ));
            }
        };
        if seen.insert(id.clone()) {
            out.push(Requested { id, kind });
        }
    }
    Ok(out)
}

/// Members as a patchable value (`[{value, type}]`), so PATCH can work on them like on any
/// multi-valued attribute.
pub fn members_value(links: &[Link]) -> Value {
    Value::Array(
        links
            .iter()
            .map(|l| {
                let mut m = Map::new();
                m.insert("value".into(), Value::from(l.target.id.clone()));
                m.insert("type".into(), Value::from(l.target.kind.name()));
                Value::Object(m)
            })
            .collect(),
    )
}

/// The attribute that shows a resource's membership links.
pub fn link_attribute(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::Group => "members",
        ResourceKind::User => "groups",
    }
}

/// Resolves requested members to links: known members keep their link; the others are read
/// (one batch) to learn their kind and display name. A missing member is a 400 naming it.
pub async fn resolve(
    ctx: &Ctx<'_>,
    group_id: &str,
    requested: &[Requested],
    known: &[Link],
) -> Result<Vec<Link>, ScimError> {
    if requested.iter().any(|r| r.id == group_id) {
        return Err(member_error("a group cannot be a member of itself".into()));
    }
    if let Some(r) = requested.iter().find(|r| !is_resource_id(&r.id)) {
        return Err(member_error(format!(
            "member '{}' does not exist (it is not an id this server issues)",
            r.id
        )));
    }
    let known_by_id: BTreeMap<&str, &Link> =
        known.iter().map(|l| (l.target.id.as_str(), l)).collect();
    let unknown: Vec<&Requested> = requested
        .iter()
        .filter(|r| {
            known_by_id
                .get(r.id.as_str())
                .is_none_or(|l| r.kind.is_some_and(|k| k != l.target.kind))
        })
        .collect();
    let mut candidates = Vec::new();
    for r in &unknown {
        let kinds = match r.kind {
            Some(k) => vec![k],
            None => vec![ResourceKind::User, ResourceKind::Group],
        };
        candidates.extend(kinds.into_iter().map(|kind| MemberRef {
            kind,
            id: r.id.clone(),
        }));
    }
    let found = if candidates.is_empty() {
        Vec::new()
    } else {
        ctx.store
            .get_many(ctx.tenant, &candidates)
            .await
            .map_err(store_error)?
    };
    let mut links = Vec::with_capacity(requested.len());
    for r in requested {
        if let Some(link) = known_by_id.get(r.id.as_str())
            && r.kind.is_none_or(|k| k == link.target.kind)
        {
            links.push((*link).clone());
            continue;
        }
        // Without a type, a user of that id wins over a group (ids are UUIDs: no clash).
        let hit = [ResourceKind::User, ResourceKind::Group]
            .into_iter()
            .filter(|k| r.kind.is_none_or(|want| want == *k))
            .find_map(|k| found.iter().find(|res| res.kind == k && res.id == r.id));
        match hit {
            Some(resource) => links.push(Link {
                target: MemberRef {
                    kind: resource.kind,
                    id: resource.id.clone(),
                },
                display: write::display_of(resource.kind, &resource.attributes),
            }),
            None => {
                return Err(member_error(format!("member '{}' does not exist", r.id)));
            }
        }
    }
    Ok(links)
}

/// The change from `current` to `desired`: links to add, members to remove.
pub fn diff(current: &[Link], desired: &[Link]) -> MemberDelta {
    let now: BTreeSet<&MemberRef> = current.iter().map(|l| &l.target).collect();
    let want: BTreeSet<&MemberRef> = desired.iter().map(|l| &l.target).collect();
    let add = desired
        .iter()
        .filter(|l| !now.contains(&l.target))
        .cloned()
        .collect();
    let remove = current
        .iter()
        .filter(|l| !want.contains(&l.target))
        .map(|l| l.target.clone())
        .collect();
    MemberDelta { add, remove }
}

/// A 400 `invalidValue` about a group's `members`.
fn member_error(message: String) -> ScimError {
    ScimError::InvalidValue(message).about("members")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn link(kind: ResourceKind, id: &str) -> Link {
        Link {
            target: MemberRef {
                kind,
                id: id.into(),
            },
            display: None,
        }
    }

    #[test]
    fn reads_members_and_rejects_bad_ones() {
        let mut attrs = json!({"displayName": "g", "members": [
            {"value": "u1"}, {"value": "g2", "type": "group"}, {"value": "u1", "type": "User"}
        ]})
        .as_object()
        .cloned()
        .unwrap();
        let members = take_members(&mut attrs).unwrap();
        assert_eq!(
            members,
            vec![
                Requested {
                    id: "u1".into(),
                    kind: None
                },
                Requested {
                    id: "g2".into(),
                    kind: Some(ResourceKind::Group)
                },
            ]
        );
        assert!(!attrs.contains_key("members"));
        for bad in [
            json!([{"type": "User"}]),
            json!([{"value": "x", "type": "Robot"}]),
            json!({"value": "x"}),
        ] {
            let mut attrs = Map::new();
            attrs.insert("members".into(), bad.clone());
            assert!(take_members(&mut attrs).is_err(), "{bad}");
        }
    }

    #[test]
    fn diff_adds_and_removes_only_what_changed() {
        let current = [link(ResourceKind::User, "a"), link(ResourceKind::User, "b")];
        let desired = [
            link(ResourceKind::User, "b"),
            link(ResourceKind::Group, "c"),
        ];
        let delta = diff(&current, &desired);
        assert_eq!(delta.add, vec![link(ResourceKind::Group, "c")]);
        assert_eq!(
            delta.remove,
            vec![MemberRef {
                kind: ResourceKind::User,
                id: "a".into()
            }]
        );
        assert!(diff(&current, &current).is_empty());
    }
}
