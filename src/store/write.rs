//! [`Write`]: one change of one resource, computed in full by `ops` (the resource at its next
//! version with its timestamps, the guards to claim and release, the membership edges to add
//! and remove with their display copies, the precondition), so that a store has no SCIM
//! semantics of its own: it only applies the value, atomically in its own way.

use crate::domain::{Link, MemberRef, Resource, ResourceKind, UniqueValue, Version};

/// A change of one resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    /// The resource's kind.
    pub kind: ResourceKind,
    /// The resource's id.
    pub id: String,
    /// What changes.
    pub op: WriteOp,
    /// Entries of the lookup index (values several resources may share, such as
    /// `externalId`, found by one consistent read) to add and remove, in the same atomic
    /// step as the resource.
    pub lookups: LookupDelta,
}

/// A change of a resource's entries in the lookup index.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LookupDelta {
    /// Values the resource is found under from now on.
    pub add: Vec<UniqueValue>,
    /// Values it is no longer found under.
    pub remove: Vec<UniqueValue>,
}

impl LookupDelta {
    /// The change from the values `before` to the values `after`.
    pub fn between(before: &[UniqueValue], after: &[UniqueValue]) -> Self {
        LookupDelta {
            add: after
                .iter()
                .filter(|v| !before.contains(v))
                .cloned()
                .collect(),
            remove: before
                .iter()
                .filter(|v| !after.contains(v))
                .cloned()
                .collect(),
        }
    }

    /// How many index entries the change writes.
    pub fn len(&self) -> usize {
        self.add.len() + self.remove.len()
    }

    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A membership change of a group, as computed from the edges that exist now: `add` lists
/// members that are not members yet (with the display copied onto the edge), `remove`
/// members that are. A store applies it only while that is still true, and answers
/// [`super::StoreError::Raced`] otherwise, so the change is recomputed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemberDelta {
    /// New members.
    pub add: Vec<Link>,
    /// Members to remove.
    pub remove: Vec<MemberRef>,
}

impl MemberDelta {
    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }

    /// The change of the member count.
    pub fn count_change(&self) -> i64 {
        i64::try_from(self.add.len()).unwrap_or(i64::MAX)
            - i64::try_from(self.remove.len()).unwrap_or(i64::MAX)
    }
}

/// A new display name to copy onto the edges of the groups a resource belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct DisplayRefresh {
    /// The name (`None`: the resource has none now).
    pub display: Option<String>,
    /// The ids of the groups whose edges carry a copy.
    pub groups: Vec<String>,
}

/// How a resource leaves the live set.
#[derive(Debug, Clone, PartialEq)]
pub enum Retirement {
    /// The item is deleted.
    Delete,
    /// The item stays, marked deleted at this time (RFC 3339), at its next version; it is
    /// absent from every read until restored.
    SoftDelete {
        /// When.
        at: String,
        /// The resource as it is kept (its next version, its guards released).
        resource: Box<Resource>,
    },
}

/// What a [`Write`] does.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOp {
    /// A new resource at its first version: it claims `resource.guards`, gets `members`
    /// (groups), and counts once in its tenant.
    Create {
        /// The resource.
        resource: Resource,
        /// Its members (groups).
        members: Vec<Link>,
    },
    /// New attributes at the next version, if the stored version is still `expected`: guards
    /// claimed and released, and possibly a membership change in the same write. When the
    /// resource's display name changed, the copies of it on the edges of the groups it belongs
    /// to are rewritten (`refresh_display`), never re-creating an edge removed meanwhile.
    Update {
        /// The resource at its next version (`resource.guards` are the guards it holds after).
        resource: Resource,
        /// The version the change was computed from.
        expected: Version,
        /// Guards to take.
        claim: Vec<UniqueValue>,
        /// Guards to give up (only ones it holds).
        release: Vec<UniqueValue>,
        /// Membership change (groups).
        members: MemberDelta,
        /// The new display name to copy onto its memberships, when it changed.
        refresh_display: Option<DisplayRefresh>,
    },
    /// A membership change alone. Without `expected` it commutes with every other such
    /// change (each adds or removes different edges, and none rewrites the group item inside
    /// its transaction); with `expected` (`If-Match`) it applies only to that version.
    Members {
        /// The change.
        delta: MemberDelta,
        /// `If-Match`: the version the change applies to.
        expected: Option<Version>,
        /// The group's new `lastModified`.
        last_modified: String,
    },
    /// Delete or soft-delete, if the stored version is still `expected`: guards released,
    /// every membership edge of the resource removed, counted out of its tenant.
    Retire {
        /// The version the decision was made on.
        expected: Version,
        /// The guards it holds.
        release: Vec<UniqueValue>,
        /// How it leaves.
        how: Retirement,
    },
    /// A soft-deleted resource back at its next version, re-claiming its guards.
    Restore {
        /// The resource at its next version.
        resource: Resource,
        /// The version it was deleted at.
        expected: Version,
    },
}

impl Write {
    /// How the write changes the tenant's count of resources of its kind.
    pub fn count_delta(&self) -> i64 {
        match &self.op {
            WriteOp::Create { .. } | WriteOp::Restore { .. } => 1,
            WriteOp::Retire { .. } => -1,
            WriteOp::Update { .. } | WriteOp::Members { .. } => 0,
        }
    }
}

/// What a store reports after applying a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// The resource's version after the write.
    pub version: Version,
    /// Its member count after the write (groups).
    pub member_count: u64,
}
