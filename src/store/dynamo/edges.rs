//! Membership edge items. A membership is two items, one under each partition, so that a
//! group's members and a user's groups are each one `Query`:
//! - under the group: SK `MEMBER#<U|G>#<member id>`, `type: "Member"`, `display` = the member's
//!   (rewritten when the member is renamed: a member belongs to few groups);
//! - under the member: SK `GROUP#<group id>`, `type: "Membership"`, no display copy (a group
//!   of 100,000 members is renamed by rewriting one item; its name is read from the group).
//!   Format 1 items carried one; it is ignored.
//!
//! Both carry `group`, `member` and `memberType`, so either can be rebuilt from the other.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::item::{Item, get_s, n, s};
use crate::domain::ResourceKind;
use crate::domain::{Link, MemberRef, TenantId};
use crate::store::{StoreError, keys};

/// One membership: group id, member, and the member's display copy.
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    /// The group.
    pub group: String,
    /// The member.
    pub member: MemberRef,
    /// The member's display name (kept on the group's side).
    pub member_display: Option<String>,
}

fn kind_from_name(name: &str) -> Result<ResourceKind, StoreError> {
    match name {
        "User" => Ok(ResourceKind::User),
        "Group" => Ok(ResourceKind::Group),
        _ => Err(StoreError::backend("edge with an unknown memberType")),
    }
}

fn common(tenant: &TenantId, edge: &Edge, item: &mut Item, kind: &str, display: &Option<String>) {
    item.insert("v".into(), n(keys::FORMAT_VERSION));
    item.insert("type".into(), s(kind));
    item.insert("tenant".into(), s(tenant.as_str()));
    item.insert("group".into(), s(edge.group.clone()));
    item.insert("member".into(), s(edge.member.id.clone()));
    item.insert("memberType".into(), s(edge.member.kind.name()));
    if let Some(d) = display {
        item.insert("display".into(), s(d.clone()));
    }
}

/// Key of the edge under the group.
pub fn member_key(tenant: &TenantId, group: &str, member: &MemberRef) -> Item {
    HashMap::from([
        (
            "PK".into(),
            s(keys::resource_pk(tenant, ResourceKind::Group, group)),
        ),
        ("SK".into(), s(keys::member_sk(member.kind, &member.id))),
    ])
}

/// Key of the edge under the member.
pub fn membership_key(tenant: &TenantId, group: &str, member: &MemberRef) -> Item {
    HashMap::from([
        (
            "PK".into(),
            s(keys::resource_pk(tenant, member.kind, &member.id)),
        ),
        ("SK".into(), s(keys::group_edge_sk(group))),
    ])
}

/// Both items of an edge: (under the group, under the member).
pub fn items(tenant: &TenantId, edge: &Edge) -> (Item, Item) {
    let mut under_group = member_key(tenant, &edge.group, &edge.member);
    common(
        tenant,
        edge,
        &mut under_group,
        "Member",
        &edge.member_display,
    );
    let mut under_member = membership_key(tenant, &edge.group, &edge.member);
    common(tenant, edge, &mut under_member, "Membership", &None);
    (under_group, under_member)
}

/// The attribute marking a retired edge: the group-side item of a member of a deleted group,
/// kept (with `expiresAt` set, so the table's TTL removes it) instead of deleted, so that
/// the stream shows the group's deletion and not one member removal per member (change
/// events: the group's deletion implies them). Readers never meet one: a restored group's
/// retired edges are deleted before it is restored, and a deleted group is not read.
pub const RETIRED: &str = "retired";

/// The group-side item of `edge`, retired at `now` (Unix seconds).
pub fn retired_member_item(tenant: &TenantId, edge: &Edge, now: i64) -> Item {
    let (mut under_group, _) = items(tenant, edge);
    under_group.insert(RETIRED.into(), n(now));
    under_group.insert("expiresAt".into(), n(now));
    under_group
}

/// Whether an edge item is retired (see [`RETIRED`]).
pub fn is_retired(item: &Item) -> bool {
    item.contains_key(RETIRED)
}

/// Reads an edge item of either side. Only the display on the side read is known.
pub fn from_item(item: &Item) -> Result<Edge, StoreError> {
    let display = match item.get("display") {
        Some(AttributeValue::S(d)) => Some(d.clone()),
        _ => None,
    };
    let member_side = get_s(item, "type")? == "Membership";
    Ok(Edge {
        group: get_s(item, "group")?.to_owned(),
        member: MemberRef {
            kind: kind_from_name(get_s(item, "memberType")?)?,
            id: get_s(item, "member")?.to_owned(),
        },
        member_display: if member_side { None } else { display },
    })
}

/// The link seen from the group (a member).
pub fn member_link(edge: &Edge) -> Link {
    Link {
        target: edge.member.clone(),
        display: edge.member_display.clone(),
    }
}

/// The link seen from the member (a group, without display name).
pub fn group_link(edge: &Edge) -> Link {
    Link {
        target: MemberRef {
            kind: ResourceKind::Group,
            id: edge.group.clone(),
        },
        display: None,
    }
}
