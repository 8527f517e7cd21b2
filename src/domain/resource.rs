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

/// A stored SCIM resource: canonical attributes plus server-kept metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// User or Group.
    pub kind: ResourceKind,
    /// Server-assigned id (a UUIDv7 string).
    pub id: String,
    /// Incremented on every change; `meta.version` is its weak ETag.
    pub version: u64,
    /// RFC 3339 creation time.
    pub created: String,
    /// RFC 3339 time of the last change.
    pub last_modified: String,
    /// Canonical attributes (no `id`, `meta`, `schemas` or `password`).
    pub attributes: Map<String, Value>,
    /// argon2id PHC string of the user's password, if one was set. Never returned.
    pub password_hash: Option<String>,
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
