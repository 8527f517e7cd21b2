//! The domain types every layer shares: tenants and their settings and tokens, resources and
//! their kinds, membership links, unique values. They depend on nothing else in the crate, so
//! `schema`, `ops` and `store` can all use them without depending on each other.

mod resource;
mod tenant;

pub use resource::{
    Link, MemberRef, Resource, ResourceKind, UniqueValue, Version, is_resource_id, new_resource_id,
};
pub use tenant::{
    ActivityEntry, InvalidTenantId, SETUP_LINK_GRACE_SECS, SetupLink, TOKEN_GRACE_SECS, Tenant,
    TenantId, TenantSettings, TokenRecord,
};
