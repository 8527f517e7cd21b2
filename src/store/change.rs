//! [`Change`]: one change of what a tenant holds, as a store records it — the input of the
//! change events (the `events` module). The DynamoDB store's changes are read from the table's
//! stream (`dynamo::stream`); the memory store hands its changes to a channel as it applies
//! each write ([`super::memory::MemoryStore::with_changes`]). Both describe the same thing in
//! the same terms, so one pure function turns either into events.
//!
//! What is a change: a resource's state before and after (created, updated, soft-deleted,
//! restored, deleted), and a membership added to or removed from a group. Removing a resource
//! removes the memberships it had *as a member* (each a [`ChangeKind::Member`] removal); a
//! deleted group's own member list is not reported member by member (its deletion implies
//! it). Nothing else a store keeps (tokens, guards, counters, index entries, activity) is a
//! change.

use crate::domain::{MemberRef, Resource, TenantId};

/// One change of one tenant's resources or memberships.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Unique to the change and the same each time it is delivered again (DynamoDB: the
    /// stream record's `eventID`), so that consumers can deduplicate.
    pub id: String,
    /// The tenant.
    pub tenant: TenantId,
    /// When the store recorded it (RFC 3339), if it says.
    pub at: Option<String>,
    /// What changed.
    pub kind: ChangeKind,
}

/// What a [`Change`] changed.
#[derive(Debug, Clone, PartialEq)]
pub enum ChangeKind {
    /// A resource's state: `None` before when created, `None` after when deleted.
    Resource {
        /// Before the change.
        before: Option<Box<Stored>>,
        /// After the change.
        after: Option<Box<Stored>>,
    },
    /// A membership of a group.
    Member {
        /// The group's id.
        group: String,
        /// The member.
        member: MemberRef,
        /// Added (true) or removed (false).
        added: bool,
    },
}

/// A resource as stored: its state, and whether it is soft-deleted.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// The resource (its password hash, if any, is never part of an event).
    pub resource: Resource,
    /// When it was soft-deleted (RFC 3339), if it is.
    pub deleted_at: Option<String>,
}

impl Stored {
    /// A live resource.
    pub fn live(resource: Resource) -> Box<Self> {
        Box::new(Stored {
            resource,
            deleted_at: None,
        })
    }
}
