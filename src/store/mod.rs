//! Persistence behind two traits, so that the SCIM core never sees a database type.
//!
//! - [`ResourceStore`] is tenant-scoped: every method takes a [`TenantId`], and every key it
//!   reads or writes starts with that tenant's prefix (see [`keys`]). There is no way to reach
//!   a tenant's resources without naming the tenant.
//! - [`Directory`] holds tenants and tokens: what authentication and the CLI need.
//!
//! Two implementations pass the same contract tests: [`memory::MemoryStore`] (the embedded
//! default and the fast test backend) and [`dynamo::DynamoStore`] (the single-table DynamoDB
//! layout). Uniqueness is enforced by the store inside the write itself, never by a
//! read-then-write in the caller.

pub mod change;
pub mod dynamo;
pub mod keys;
pub mod memory;
mod write;

pub use change::{Change, ChangeKind, Stored};
pub use write::{Applied, DisplayRefresh, LookupDelta, MemberDelta, Retirement, Write, WriteOp};

use async_trait::async_trait;

use crate::domain::{
    ActivityEntry, Link, MemberRef, Resource, ResourceKind, SetupLink, Tenant, TenantId,
    TokenRecord, UniqueValue, Version,
};

/// How long a tenant's activity entries are kept.
pub const ACTIVITY_TTL: std::time::Duration = std::time::Duration::from_secs(7 * 86_400);

/// A page of resources in id order.
#[derive(Debug, Default)]
pub struct ResourcePage {
    /// The resources, in ascending id order; shared, so that a store holding them in memory
    /// hands them out without copying (a scan examines many and keeps few).
    pub items: Vec<std::sync::Arc<Resource>>,
    /// The id to continue after, if there may be more.
    pub next_after: Option<String>,
}

/// How long a page anchor is kept: index paging of one listing that pauses longer starts
/// over from the nearest anchor left (or the beginning).
pub const PAGE_ANCHOR_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

/// Where index paging of a listing left off: position `index` (1-based) starts after the
/// resource `after`. DynamoDB has no offsets; anchors let page k+1 start where page k ended,
/// on any server instance, so that walking N resources reads O(N) items in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageAnchor {
    /// The 1-based position.
    pub index: u64,
    /// The id of the resource just before it.
    pub after: String,
}

/// A resource with its membership links: a group's direct members (with their display
/// copies, in member order), or the groups a user belongs to directly (in id order, without
/// display names: those are read from the groups).
#[derive(Debug, Clone, PartialEq)]
pub struct Linked {
    /// The resource (shared with the store where it is held in memory). Its version is
    /// `settling` if a membership change ran during the read.
    pub resource: std::sync::Arc<Resource>,
    /// The links read.
    pub links: Vec<Link>,
    /// Whether `links` is all of them (reads stop at a limit).
    pub complete: bool,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The item does not exist.
    #[error("not found")]
    NotFound,
    /// The item already exists (tenant create).
    #[error("already exists")]
    AlreadyExists,
    /// A uniqueness guard is held by another resource.
    #[error("the value of '{attr}' is already taken")]
    Conflict {
        /// The attribute whose value is taken.
        attr: &'static str,
    },
    /// A member to add does not exist in the tenant.
    #[error("member '{id}' does not exist")]
    MissingMember {
        /// The id of the missing member.
        id: String,
    },
    /// The stored version is not the expected one (a concurrent write won).
    #[error("version mismatch")]
    VersionMismatch,
    /// A membership edge that a write expected absent (or present) is not: a concurrent
    /// change touched the same member; recompute the write.
    #[error("a concurrent membership change touched the same member")]
    Raced,
    /// Throttling or transaction conflicts persisted through the store's retries.
    #[error("throttled")]
    Throttled,
    /// The store cannot be used as configured (see [`SetupProblem`]).
    #[error("the store is not usable as configured: {0}")]
    Setup(SetupProblem),
    /// Anything else: an outage, or a bug.
    #[error("store backend error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Why a store cannot be used as configured: what an operator must fix, not a passing fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SetupProblem {
    /// The table does not exist (in this region, at this endpoint).
    #[error("the table does not exist")]
    TableMissing,
    /// The caller's IAM policy does not allow an action the store needs.
    #[error("access denied (the IAM policy lacks an action the store needs)")]
    AccessDenied,
    /// No credentials were found.
    #[error("no AWS credentials were found")]
    NoCredentials,
    /// Credentials were found but were rejected (invalid, expired, or of another account).
    #[error("the AWS credentials were rejected")]
    InvalidCredentials,
}

impl StoreError {
    /// Wraps a backend failure.
    pub fn backend(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        StoreError::Backend(cause.into())
    }
}

/// Tenant-scoped storage of Users and Groups, with group membership as edges: reads, plus
/// [`ResourceStore::apply`] of a [`Write`] that `ops` computed in full.
#[async_trait]
pub trait ResourceStore: Send + Sync {
    /// Reads a resource without its links (strongly consistent).
    async fn get(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
    ) -> Result<Option<Resource>, StoreError>;

    /// Reads several resources at once (strongly consistent); missing ones are left out.
    async fn get_many(
        &self,
        tenant: &TenantId,
        refs: &[MemberRef],
    ) -> Result<Vec<Resource>, StoreError>;

    /// Reads a resource with at most `limit` of its links (strongly consistent). A group's
    /// version is checked around the read: if a membership change ran meanwhile, the version
    /// comes back `settling`.
    async fn get_linked(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        limit: usize,
    ) -> Result<Option<Linked>, StoreError>;

    /// Which of `members` are direct members of `group` now, with their edges' display
    /// copies (one read of those edges, whatever the group's size).
    async fn memberships(
        &self,
        tenant: &TenantId,
        group: &str,
        members: &[MemberRef],
    ) -> Result<Vec<Link>, StoreError>;

    /// The groups `member` belongs to directly (its edges; display names not included).
    async fn groups_of(
        &self,
        tenant: &TenantId,
        member: &MemberRef,
    ) -> Result<Vec<MemberRef>, StoreError>;

    /// Applies a write: atomically for the resource, its guards and its count, and for its
    /// membership edges as each store documents. Errors: [`StoreError::VersionMismatch`] (the
    /// expected version is gone), [`StoreError::NotFound`], [`StoreError::AlreadyExists`],
    /// [`StoreError::Conflict`] (a guard is held by another resource),
    /// [`StoreError::MissingMember`], [`StoreError::Raced`] (edges changed since they were
    /// read: recompute the write).
    async fn apply(&self, tenant: &TenantId, write: &Write) -> Result<Applied, StoreError>;

    /// Reads a soft-deleted resource (`None` if there is none with this id).
    async fn get_deleted(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
    ) -> Result<Option<Resource>, StoreError>;

    /// The id of the resource holding a uniqueness guard (strongly consistent).
    async fn find_unique(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        value: &UniqueValue,
    ) -> Result<Option<String>, StoreError>;

    /// The ids of the resources indexed under `value` in the lookup index (strongly
    /// consistent), in id order, at most `limit` of them.
    async fn find_indexed(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        value: &UniqueValue,
        limit: usize,
    ) -> Result<Vec<String>, StoreError>;

    /// Adds a resource's lookup-index entries, if it is still at version `expected`
    /// ([`StoreError::VersionMismatch`] if it changed, [`StoreError::NotFound`] if it is
    /// gone): how an index is built for resources written before it existed.
    async fn index_lookups(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        expected: Version,
        values: &[UniqueValue],
    ) -> Result<(), StoreError>;

    /// Counts one request of the tenant in the window `window` (a number that grows with
    /// time), unless `limit` requests were counted in it already: whether this one fits. One
    /// conditional write; the window's count expires by itself.
    async fn take_request_slot(
        &self,
        tenant: &TenantId,
        window: i64,
        limit: u32,
    ) -> Result<bool, StoreError>;

    /// Lists resources in id order, starting after `after`, at most `limit` of them.
    async fn list(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ResourcePage, StoreError>;

    /// How many resources of this kind the tenant has (exact).
    async fn count(&self, tenant: &TenantId, kind: ResourceKind) -> Result<u64, StoreError>;

    /// The page anchor of `listing` closest at or before position `index` (1-based): the id
    /// that position follows. Anchors are kept for an hour (see [`PAGE_ANCHOR_TTL`]).
    async fn page_anchor(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        listing: &str,
        index: u64,
    ) -> Result<Option<PageAnchor>, StoreError>;

    /// Records that position `anchor.index` of `listing` follows id `anchor.after`.
    async fn put_page_anchor(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        listing: &str,
        anchor: &PageAnchor,
    ) -> Result<(), StoreError>;

    /// Removes the tenant's items (resources, edges, guards, counters), at most about `budget`
    /// resources (with their edges) per call: whether everything is gone. Call again to go on.
    async fn purge(&self, tenant: &TenantId, budget: usize) -> Result<bool, StoreError>;

    /// Keeps one entry of the tenant's recent activity (expiring after
    /// [`ACTIVITY_TTL`]).
    async fn record_activity(
        &self,
        tenant: &TenantId,
        entry: &ActivityEntry,
    ) -> Result<(), StoreError>;

    /// The tenant's most recent activity, newest first, at most `limit` entries.
    async fn recent_activity(
        &self,
        tenant: &TenantId,
        limit: usize,
    ) -> Result<Vec<ActivityEntry>, StoreError>;
}

/// Tenants and tokens: not tenant-scoped, used by authentication and the CLI.
#[async_trait]
pub trait Directory: Send + Sync {
    /// Creates a tenant; [`StoreError::AlreadyExists`] if the id is taken.
    async fn create_tenant(&self, tenant: &Tenant) -> Result<(), StoreError>;
    /// Reads a tenant (strongly consistent).
    async fn get_tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError>;
    /// Stores a tenant's changed settings ([`StoreError::NotFound`] if it does not exist).
    async fn update_tenant(&self, tenant: &Tenant) -> Result<(), StoreError>;
    /// All tenants, in id order.
    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError>;
    /// Deletes a tenant record and its tokens ([`StoreError::NotFound`] if absent).
    async fn delete_tenant(&self, id: &TenantId) -> Result<(), StoreError>;
    /// Stores a new token for an existing tenant ([`StoreError::NotFound`] if the tenant is absent).
    async fn put_token(&self, token: &TokenRecord) -> Result<(), StoreError>;
    /// Reads a token by id (strongly consistent, so revocation is seen at once).
    async fn get_token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError>;
    /// The tenant's tokens, in id order.
    async fn list_tokens(&self, tenant: &TenantId) -> Result<Vec<TokenRecord>, StoreError>;
    /// Deletes one of the tenant's tokens ([`StoreError::NotFound`] if it is not the tenant's).
    async fn delete_token(&self, tenant: &TenantId, id: &str) -> Result<(), StoreError>;
    /// Sets when one of the tenant's tokens expires ([`StoreError::NotFound`] if it is not the
    /// tenant's).
    async fn set_token_expiry(
        &self,
        tenant: &TenantId,
        id: &str,
        expires_at: Option<i64>,
    ) -> Result<(), StoreError>;
    /// Records that a token was used at `now` (Unix seconds), unless a use at or after
    /// `not_before` is recorded already: whether this call recorded it. One conditional write.
    async fn touch_token(&self, id: &str, now: i64, not_before: i64) -> Result<bool, StoreError>;
    /// Starts deleting a tenant: marks its record `deleting` and deletes its tokens and setup
    /// links, so that nothing authenticates as it any more ([`StoreError::NotFound`] if absent).
    async fn begin_tenant_deletion(&self, id: &TenantId) -> Result<(), StoreError>;
    /// Stores a setup link of an existing tenant, new or changed (revoked)
    /// ([`StoreError::NotFound`] if the tenant is absent).
    async fn put_setup_link(&self, link: &SetupLink) -> Result<(), StoreError>;
    /// Reads a setup link by id (strongly consistent).
    async fn get_setup_link(&self, id: &str) -> Result<Option<SetupLink>, StoreError>;
    /// The tenant's setup links, in id order.
    async fn list_setup_links(&self, tenant: &TenantId) -> Result<Vec<SetupLink>, StoreError>;
}
