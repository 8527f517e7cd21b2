//! Resources, their kinds, membership links and unique values.

use serde_json::{Map, Value};

/// The kinds of resource this server stores. A closed set: no string comparisons elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceKind {
    /// `/Users`
    User,
    /// `/Groups`
    Group,
}

impl ResourceKind {
    /// The resource type name (`meta.resourceType`).
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }

    /// The endpoint path segment (`Users`, `Groups`).
    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceKind::User => "Users",
            ResourceKind::Group => "Groups",
        }
    }

    /// The kind served at an endpoint path segment, matched case-insensitively (clients
    /// differ in spelling).
    pub fn from_endpoint(segment: &str) -> Option<Self> {
        [ResourceKind::User, ResourceKind::Group]
            .into_iter()
            .find(|k| k.endpoint().eq_ignore_ascii_case(segment))
    }
}

/// A new resource id: a UUIDv7 (time-ordered, so id order is roughly creation order and
/// new items spread over DynamoDB partitions), in its lowercase hyphenated form.
pub fn new_resource_id() -> String {
    uuid::Uuid::now_v7().hyphenated().to_string()
}

/// Whether `id` has the form of the ids [`new_resource_id`] issues: 36 characters, lowercase
/// hexadecimal digits in groups of 8-4-4-4-12 separated by hyphens. Anything else names no
/// resource of this server, so it is answered (404, an empty list, 400 naming the member)
/// without asking a store, and never becomes part of a key.
pub fn is_resource_id(id: &str) -> bool {
    id.len() == 36
        && id.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}

/// A resource's version: what `meta.version` (a weak ETag) is made of.
///
/// A group's membership changes without `If-Match` commute, so they cannot all rewrite the
/// group item inside their transactions (DynamoDB cancels concurrent transactions that touch
/// one item). Its version therefore has two parts: `attributes` counts changes of the
/// resource's attributes (conditional writes of the item), `members` counts completed
/// membership changes (an atomic counter on the item, bumped after the change's edges are
/// written). A membership change in progress makes the version `settling`: such a version is
/// shown with a unique suffix and never satisfies `If-Match`, so no reader can see two member
/// sets under one version number. Users' `members` part stays 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Version {
    /// Changes of the resource's attributes (1 at creation).
    pub attributes: u64,
    /// Completed membership changes (groups).
    pub members: u64,
    /// Whether a membership change is in progress.
    pub settling: bool,
}

impl Version {
    /// The version of a new resource.
    pub fn first() -> Self {
        Version {
            attributes: 1,
            members: 0,
            settling: false,
        }
    }

    /// The number `meta.version` shows (it grows with every change of either part).
    pub fn number(&self) -> u64 {
        self.attributes.saturating_add(self.members)
    }

    /// The version after an attribute change.
    pub fn next_attributes(&self) -> Self {
        Version {
            attributes: self.attributes + 1,
            ..*self
        }
    }

    /// The version after a membership change applied in the same write as the attributes.
    pub fn next_members(&self) -> Self {
        Version {
            members: self.members + 1,
            ..*self
        }
    }
}

/// A stored SCIM resource: canonical attributes plus server-kept metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// User or Group.
    pub kind: ResourceKind,
    /// Server-assigned id (a UUIDv7 string).
    pub id: String,
    /// Its version (`meta.version`).
    pub version: Version,
    /// RFC 3339 creation time.
    pub created: String,
    /// RFC 3339 time of the last change.
    pub last_modified: String,
    /// Canonical attributes (no `id`, `meta`, `schemas` or `password`).
    pub attributes: Map<String, Value>,
    /// argon2id PHC string of the user's password, if one was set. Never returned.
    pub password_hash: Option<String>,
    /// The uniqueness guards this resource holds, so that a write releases exactly those
    /// (`None`: written before the item recorded them; see `ops` for how those are found).
    pub guards: Option<Vec<UniqueValue>>,
    /// How many direct members a group has (maintained with membership changes; decides how a
    /// group PATCH answers, never what it shows). 0 for users.
    pub member_count: u64,
}

/// One side of a membership edge: a resource, by kind and id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MemberRef {
    /// User or Group.
    pub kind: ResourceKind,
    /// Its id.
    pub id: String,
}

/// A membership edge seen from one side: the other side and a copy of its display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The resource at the other end.
    pub target: MemberRef,
    /// Its display name when the edge was written or last refreshed.
    pub display: Option<String>,
}

/// One value that must be unique within a tenant and resource type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UniqueValue {
    /// Canonical attribute name (`userName`, `externalId`, `displayName`).
    pub attr: &'static str,
    /// The value as compared: lowercased unless the attribute is case-exact.
    pub normalized: String,
}

/// The attributes whose values can be unique (`uniqueness: server` in RFC 7643's core
/// schemas): what a stored guard may name.
const UNIQUE_ATTRIBUTES: [&str; 3] = ["userName", "externalId", "displayName"];

impl UniqueValue {
    /// A guard read back from storage; `None` for an attribute that cannot be unique.
    pub fn from_stored(attr: &str, normalized: impl Into<String>) -> Option<Self> {
        UNIQUE_ATTRIBUTES
            .into_iter()
            .find(|a| *a == attr)
            .map(|attr| UniqueValue {
                attr,
                normalized: normalized.into(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_ids_are_recognised_and_nothing_else() {
        for _ in 0..100 {
            let id = new_resource_id();
            assert!(is_resource_id(&id), "{id}");
        }
        for not_id in [
            "",
            "u1",
            "0190c5a2-7b3e-7c1d-9f00-12345678901", // 35 characters
            "0190c5a2-7b3e-7c1d-9f00-1234567890123", // 37
            "0190C5A2-7B3E-7C1D-9F00-123456789012", // upper case: another id
            "0190c5a2+7b3e-7c1d-9f00-123456789012",
            "0190c5a27b3e7c1d9f00123456789012abcd",
            "0190c5a2-7b3e-7c1d-9f00-12345678901g",
            "0190c5a2-7b3e-7c1d-9f00-12345678901é",
        ] {
            assert!(!is_resource_id(not_id), "{not_id}");
        }
        assert!(is_resource_id("0190c5a2-7b3e-7c1d-9f00-123456789012"));
    }
}
