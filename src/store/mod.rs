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

pub mod dynamo;
pub mod keys;
pub mod memory;

use async_trait::async_trait;

use crate::domain::{
    Link, MemberRef, Resource, ResourceKind, Tenant, TenantId, TokenRecord, UniqueValue,
};

/// A page of resources in id order.
#[derive(Debug, Default)]
pub struct ResourcePage {
    /// The resources, in ascending id order.
    pub items: Vec<Resource>,
    /// The id to continue after, if there may be more.
    pub next_after: Option<String>,
}

/// What a write that changes a resource's attributes must do to its uniqueness guards.
#[derive(Debug, Clone)]
pub struct GuardChange<'a> {
    /// Guards the resource holds now.
    pub old: &'a [UniqueValue],
    /// Guards it must hold after the write.
    pub new: &'a [UniqueValue],
}

impl GuardChange<'_> {
    /// Guards to create (in `new` but not in `old`).
    pub fn added(&self) -> impl Iterator<Item = &UniqueValue> {
        self.new.iter().filter(|v| !self.old.contains(v))
    }

    /// Guards to release (in `old` but not in `new`).
    pub fn removed(&self) -> impl Iterator<Item = &UniqueValue> {
        self.old.iter().filter(|v| !self.new.contains(v))
    }
}

/// A membership change of a group: members to add and to remove (direct membership).
#[derive(Debug, Clone, Copy, Default)]
pub struct MemberChange<'a> {
    /// Members to add (with the display copied onto the edges).
    pub add: &'a [Link],
    /// Members to remove.
    pub remove: &'a [MemberRef],
}

impl MemberChange<'_> {
    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }
}

/// A resource with its membership edges.
#[derive(Debug, Clone, PartialEq)]
pub struct Linked {
    /// The resource.
    pub resource: Resource,
    /// For a group: its direct members, in member order (kind, then id).
    pub members: Vec<Link>,
    /// The groups it is a direct member of, in id order.
    pub groups: Vec<Link>,
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

/// Tenant-scoped storage of Users and Groups, with group membership as edges.
#[async_trait]
pub trait ResourceStore: Send + Sync {
    /// Creates a resource, its uniqueness guards and (for a group) its membership edges
    /// atomically; bumps the tenant's counter. [`StoreError::Conflict`] if a guard is taken,
    /// [`StoreError::MissingMember`] if a member does not exist.
    async fn create(
        &self,
        tenant: &TenantId,
        resource: &Resource,
        unique: &[UniqueValue],
        members: &[Link],
    ) -> Result<(), StoreError>;

    /// Reads a resource without its edges (strongly consistent).
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

    /// Reads a resource with its edges (strongly consistent; one query in DynamoDB).
    async fn get_linked(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
    ) -> Result<Option<Linked>, StoreError>;

    /// Replaces a resource whose stored version is `expected_version`, moving its guards and
    /// (for a group) changing its membership. [`StoreError::VersionMismatch`] if the version
    /// changed meanwhile, [`StoreError::NotFound`] if it is gone, [`StoreError::Conflict`] if
    /// a new guard is taken, [`StoreError::MissingMember`] if an added member does not exist.
    async fn replace(
        &self,
        tenant: &TenantId,
        resource: &Resource,
        expected_version: u64,
        guards: GuardChange<'_>,
        members: MemberChange<'_>,
    ) -> Result<(), StoreError>;

    /// Deletes a resource at `expected_version` with its guards and every membership edge
    /// it has (as a group and as a member); decrements the counter.
    async fn delete(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        expected_version: u64,
        unique: &[UniqueValue],
    ) -> Result<(), StoreError>;

    /// Soft-deletes a resource at `expected_version`: the item stays, marked deleted and out
    /// of every read, lookup and list (404 everywhere); its guards are released, its
    /// membership edges removed and the counter decremented. [`ResourceStore::restore`] brings
    /// it back.
    async fn soft_delete(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        expected_version: u64,
        unique: &[UniqueValue],
    ) -> Result<(), StoreError>;

    /// Reads a soft-deleted resource (`None` if there is none with this id).
    async fn get_deleted(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
    ) -> Result<Option<Resource>, StoreError>;

    /// Restores a soft-deleted resource as `resource` (its next version), re-claiming its
    /// guards: [`StoreError::Conflict`] if a value was taken meanwhile, [`StoreError::NotFound`]
    /// if it is not soft-deleted, [`StoreError::VersionMismatch`] if it changed.
    async fn restore(
        &self,
        tenant: &TenantId,
        resource: &Resource,
        expected_version: u64,
        unique: &[UniqueValue],
    ) -> Result<(), StoreError>;

    /// Rewrites the display copies of a resource on the other side of its edges (after a
    /// rename), so that reading a group's members or a user's groups stays one query.
    async fn refresh_display(
        &self,
        tenant: &TenantId,
        member: &MemberRef,
        display: Option<&str>,
    ) -> Result<(), StoreError>;

    /// The id of the resource holding a uniqueness guard (strongly consistent).
    async fn find_unique(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        value: &UniqueValue,
    ) -> Result<Option<String>, StoreError>;

    /// Lists resources in id order, starting after `after`, at most `limit` of them.
    async fn list(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ResourcePage, StoreError>;

    /// How many resources of this kind the tenant has.
    async fn count(&self, tenant: &TenantId, kind: ResourceKind) -> Result<u64, StoreError>;

    /// Removes every item of the tenant (resources, edges, guards, counters).
    async fn purge(&self, tenant: &TenantId) -> Result<(), StoreError>;
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
}
