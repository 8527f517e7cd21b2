//! The single-table key layout (a public contract: SaaS teams read the table and its stream).
//!
//! | item | PK | SK | GSI1PK / GSI1SK |
//! |---|---|---|---|
//! | tenant | `T#<tid>#META` | `TENANT` | `TENANTS` / `<tid>` |
//! | token | `TOKEN#<token-id>` | `TOKEN` | `TOKENS#<tid>` / `<token-id>` |
//! | setup link | `SETUP#<link-id>` | `SETUP` | `SETUPS#<tid>` / `<link-id>` |
//! | user | `T#<tid>#U#<uid>` | `USER` | `T#<tid>#USERS` / `<uid>` |
//! | group | `T#<tid>#G#<gid>` | `GROUP` | `T#<tid>#GROUPS` / `<gid>` |
//! | uniqueness guard | `T#<tid>#UNIQ#<User or Group>.<attr>#<normalised value>` | `UNIQ` | `T#<tid>#GUARDS` / its PK |
//! | lookup-index entry (`externalId`; values may be shared) | `T#<tid>#LOOKUP#<User or Group>.<attr>#<value>` | `ID#<id>` | `T#<tid>#GUARDS` / its PK `#` id |
//! | counter shard | `T#<tid>#COUNT` | `USERS#<00-15>` / `GROUPS#<00-15>` (format 1: `USERS` / `GROUPS`) | – |
//! | activity entry | `T#<tid>#ACTIVITY` | `<RFC 3339 time>#<random>` | – |
//! | request count (rate limit) | `T#<tid>#RATE` | `<window number>` | – |
//! | page anchor | `T#<tid>#ANCHORS#<USERS or GROUPS>#<listing>` | `<position, 20 digits>` | – |
//! | group→member edge (kept `retired`, with a TTL, when its group is deleted) | `T#<tid>#G#<gid>` | `MEMBER#<U or G>#<id>` | – |
//! | member→group edge | `T#<tid>#<U or G>#<id>` | `GROUP#<gid>` | – |
//!
//! Every key of a tenant's items (GSI keys included) starts with `T#<tid>#`, so IAM
//! `dynamodb:LeadingKeys` can confine a session to one tenant. Tenant ids cannot contain `#`.

use super::TenantId;
use crate::domain::ResourceKind;
use crate::domain::UniqueValue;

/// Item format version stored in every item's `v` attribute. Version 2 added, on resource
/// items, the membership counters (`mseq`, `mpending`, `mstartedAt`), `memberCount` and the
/// held `guards`, and split the tenant's counters into shards; version 1 items are still read.
pub const FORMAT_VERSION: u32 = 2;

/// How many shards a tenant's count of one resource kind is spread over, so that no single
/// item is written by every create and delete.
pub const COUNTER_SHARDS: u32 = 16;

/// Sort key of a tenant record.
pub const TENANT_SK: &str = "TENANT";
/// GSI1 partition listing every tenant.
pub const TENANTS_GSI: &str = "TENANTS";
/// Sort key of a token record.
pub const TOKEN_SK: &str = "TOKEN";
/// Sort key of a uniqueness guard.
pub const GUARD_SK: &str = "UNIQ";

/// Prefix of every key of a tenant's items.
pub fn tenant_prefix(tenant: &TenantId) -> String {
    format!("T#{tenant}#")
}

/// Partition key of a tenant record.
pub fn tenant_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#META")
}

/// Partition key of a token.
pub fn token_pk(token_id: &str) -> String {
    format!("TOKEN#{token_id}")
}

/// Partition key of a setup link.
pub fn setup_link_pk(link_id: &str) -> String {
    format!("SETUP#{link_id}")
}

/// Sort key of a setup link.
pub const SETUP_LINK_SK: &str = "SETUP";

/// GSI1 partition listing a tenant's setup links.
pub fn setup_links_gsi(tenant: &TenantId) -> String {
    format!("SETUPS#{tenant}")
}

/// GSI1 partition listing a tenant's tokens.
pub fn tokens_gsi(tenant: &TenantId) -> String {
    format!("TOKENS#{tenant}")
}

fn kind_letter(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "U",
        ResourceKind::Group => "G",
    }
}

/// Partition key of a resource.
pub fn resource_pk(tenant: &TenantId, kind: ResourceKind, id: &str) -> String {
    format!("T#{tenant}#{}#{id}", kind_letter(kind))
}

/// Sort key of a resource item.
pub fn resource_sk(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "USER",
        ResourceKind::Group => "GROUP",
    }
}

/// GSI1 partition listing a tenant's resources of one kind.
pub fn resources_gsi(tenant: &TenantId, kind: ResourceKind) -> String {
    format!("T#{tenant}#{}", counter_sk(kind))
}

/// GSI1 partition listing a tenant's soft-deleted resources of one kind.
pub fn deleted_gsi(tenant: &TenantId, kind: ResourceKind) -> String {
    format!("T#{tenant}#DELETED#{}", counter_sk(kind))
}

/// Partition key of a uniqueness guard.
pub fn guard_pk(tenant: &TenantId, kind: ResourceKind, value: &UniqueValue) -> String {
    format!(
        "T#{tenant}#UNIQ#{}.{}#{}",
        kind.name(),
        value.attr,
        value.normalized
    )
}

/// Partition key of the lookup-index entries of one value (several resources may share it;
/// each has its own item, sort key [`lookup_sk`]).
pub fn lookup_pk(tenant: &TenantId, kind: ResourceKind, value: &UniqueValue) -> String {
    format!(
        "T#{tenant}#LOOKUP#{}.{}#{}",
        kind.name(),
        value.attr,
        value.normalized
    )
}

/// Sort-key prefix of lookup-index entries.
pub const LOOKUP_PREFIX: &str = "ID#";

/// Sort key of the lookup-index entry of resource `id`.
pub fn lookup_sk(id: &str) -> String {
    format!("{LOOKUP_PREFIX}{id}")
}

/// Partition key of a tenant's recent activity (sort key: time, then a random suffix).
pub fn activity_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#ACTIVITY")
}

/// Partition key of a tenant's request counts (per-tenant rate limit), one item per window.
pub fn rate_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#RATE")
}

/// Sort-key prefix of a group's member edges.
pub const MEMBER_PREFIX: &str = "MEMBER#";
/// Sort-key prefix of a resource's group edges.
pub const GROUP_EDGE_PREFIX: &str = "GROUP#";

/// Sort key of a member edge (under the group's partition).
pub fn member_sk(kind: ResourceKind, id: &str) -> String {
    format!("{MEMBER_PREFIX}{}#{id}", kind_letter(kind))
}

/// Sort key of a group edge (under the member's partition).
pub fn group_edge_sk(group_id: &str) -> String {
    format!("{GROUP_EDGE_PREFIX}{group_id}")
}

/// GSI1 partition listing a tenant's uniqueness guards (so a tenant can be purged by queries).
pub fn guards_gsi(tenant: &TenantId) -> String {
    format!("T#{tenant}#GUARDS")
}

/// Partition key of the page anchors of one listing (`listing` is `all`, or a digest of the
/// filter and sort).
pub fn anchors_pk(tenant: &TenantId, kind: ResourceKind, listing: &str) -> String {
    format!("T#{tenant}#ANCHORS#{}#{listing}", counter_sk(kind))
}

/// Sort key of a page anchor: its position, zero-padded so that the order is numeric.
pub fn anchor_sk(index: u64) -> String {
    format!("{index:020}")
}

/// Partition key of the tenant's counters.
pub fn counter_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#COUNT")
}

/// Sort key of one shard of a counter (`USERS#07`). A resource always counts in the same
/// shard (a hash of its id).
pub fn counter_shard_sk(kind: ResourceKind, id: &str) -> String {
    let hash = id.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    format!("{}#{:02}", counter_sk(kind), hash % COUNTER_SHARDS)
}

/// Sort keys of every shard of a counter.
pub fn counter_shard_sks(kind: ResourceKind) -> impl Iterator<Item = String> {
    (0..COUNTER_SHARDS).map(move |n| format!("{}#{n:02}", counter_sk(kind)))
}

/// Sort key of a counter (the unsharded one of format version 1, still read).
pub fn counter_sk(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "USERS",
        ResourceKind::Group => "GROUPS",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tenant_key_starts_with_the_tenant_prefix() {
        let t = TenantId::new("acme").unwrap();
        let v = UniqueValue {
            attr: "userName",
            normalized: "bob".into(),
        };
        let prefix = tenant_prefix(&t);
        for key in [
            tenant_pk(&t),
            resource_pk(&t, ResourceKind::User, "u1"),
            resources_gsi(&t, ResourceKind::Group),
            deleted_gsi(&t, ResourceKind::User),
            guard_pk(&t, ResourceKind::User, &v),
            lookup_pk(&t, ResourceKind::User, &v),
            counter_pk(&t),
        ] {
            assert!(key.starts_with(&prefix), "{key}");
        }
        assert_eq!(
            guard_pk(&t, ResourceKind::User, &v),
            "T#acme#UNIQ#User.userName#bob"
        );
        assert_eq!(resources_gsi(&t, ResourceKind::User), "T#acme#USERS");
    }
}
