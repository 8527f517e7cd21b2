//! Tenant and token administration, shared by the `scimlet` CLI, `scimlet serve` and the tests.

use crate::auth::{IssuedToken, issue_token};
use crate::domain::ResourceKind;
use crate::domain::{Resource, Tenant, TenantId, TenantSettings, TokenRecord};
use crate::error::ScimError;
use crate::ops::now_rfc3339;
use crate::schema::input::unique_values;
use crate::schema::registry::Registry;
use crate::store::{Directory, ResourceStore, StoreError};

/// Why an administrative command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The tenant already exists.
    #[error("tenant '{0}' already exists")]
    TenantExists(TenantId),
    /// The tenant does not exist.
    #[error("tenant '{0}' does not exist")]
    NoSuchTenant(TenantId),
    /// No soft-deleted resource with this id.
    #[error("no deleted {0} '{1}' in this tenant")]
    NotDeleted(&'static str, String),
    /// A unique value of the resource was taken while it was deleted.
    #[error("cannot restore: the value of '{0}' is now in use by another resource")]
    ValueTaken(&'static str),
    /// The token does not exist or belongs to another tenant.
    #[error("token '{0}' does not exist for this tenant")]
    NoSuchToken(String),
    /// A store failure.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Hashing, randomness or a value check failed.
    #[error("{0}")]
    Scim(#[from] ScimError),
}

/// Creates a tenant with default settings.
pub async fn create_tenant(directory: &dyn Directory, id: &TenantId) -> Result<Tenant, AdminError> {
    create_tenant_with(directory, id, TenantSettings::default()).await
}

/// Creates a tenant with these settings.
pub async fn create_tenant_with(
    directory: &dyn Directory,
    id: &TenantId,
    settings: TenantSettings,
) -> Result<Tenant, AdminError> {
    let tenant = Tenant {
        id: id.clone(),
        created: now_rfc3339(),
        settings,
    };
    match directory.create_tenant(&tenant).await {
        Ok(()) => Ok(tenant),
        Err(StoreError::AlreadyExists) => Err(AdminError::TenantExists(id.clone())),
        Err(err) => Err(err.into()),
    }
}

/// Changes a tenant's settings; returns the tenant as stored. Running servers see the change
/// within their token cache TTL.
pub async fn update_settings(
    directory: &dyn Directory,
    id: &TenantId,
    change: impl FnOnce(&mut TenantSettings),
) -> Result<Tenant, AdminError> {
    let mut tenant = directory
        .get_tenant(id)
        .await?
        .ok_or_else(|| AdminError::NoSuchTenant(id.clone()))?;
    change(&mut tenant.settings);
    match directory.update_tenant(&tenant).await {
        Ok(()) => Ok(tenant),
        Err(StoreError::NotFound) => Err(AdminError::NoSuchTenant(id.clone())),
        Err(err) => Err(err.into()),
    }
}

/// Deletes a tenant: first its tokens and record (so it can no longer authenticate), then
/// every one of its resources.
pub async fn delete_tenant(
    directory: &dyn Directory,
    store: &dyn ResourceStore,
    id: &TenantId,
) -> Result<(), AdminError> {
    match directory.delete_tenant(id).await {
        Ok(()) => {}
        Err(StoreError::NotFound) => return Err(AdminError::NoSuchTenant(id.clone())),
        Err(err) => return Err(err.into()),
    }
    store.purge(id).await?;
    Ok(())
}

/// Restores a soft-deleted resource (see `TenantSettings::soft_delete`), re-claiming its
/// unique values. Its memberships are not restored (they were removed at deletion).
pub async fn restore(
    directory: &dyn Directory,
    store: &dyn ResourceStore,
    registry: &Registry,
    tenant: &TenantId,
    kind: ResourceKind,
    id: &str,
) -> Result<Resource, AdminError> {
    let settings = directory
        .get_tenant(tenant)
        .await?
        .ok_or_else(|| AdminError::NoSuchTenant(tenant.clone()))?
        .settings;
    let deleted = store
        .get_deleted(tenant, kind, id)
        .await?
        .ok_or_else(|| AdminError::NotDeleted(kind.name(), id.to_owned()))?;
    let rt = registry.resource_type(kind);
    let guards = unique_values(rt, &deleted.attributes, |d| {
        settings.enforces(rt.kind, d.name)
    })?;
    let write = crate::ops::write::restore(&deleted, guards, &now_rfc3339());
    match store.apply(tenant, &write).await {
        Ok(applied) => {
            let crate::store::WriteOp::Restore { mut resource, .. } = write.op else {
                return Err(AdminError::Scim(ScimError::internal("not a restore")));
            };
            resource.version = applied.version;
            Ok(resource)
        }
        Err(StoreError::Conflict { attr }) => Err(AdminError::ValueTaken(attr)),
        Err(StoreError::NotFound) => Err(AdminError::NotDeleted(kind.name(), id.to_owned())),
        Err(err) => Err(err.into()),
    }
}

/// Issues a token for an existing tenant, valid for `valid_days` (forever if `None`).
/// The returned token is the only copy of the secret.
pub async fn issue(
    directory: &dyn Directory,
    tenant: &TenantId,
    label: Option<String>,
    valid_days: Option<u32>,
) -> Result<IssuedToken, AdminError> {
    let expires_at = valid_days
        .map(|days| time::OffsetDateTime::now_utc().unix_timestamp() + i64::from(days) * 86_400);
    let owner = tenant.clone();
    let issued =
        tokio::task::spawn_blocking(move || issue_token(&owner, label, expires_at, now_rfc3339()))
            .await
            .map_err(|e| AdminError::Scim(ScimError::internal(e)))??;
    match directory.put_token(&issued.record).await {
        Ok(()) => Ok(issued),
        Err(StoreError::NotFound) => Err(AdminError::NoSuchTenant(tenant.clone())),
        Err(err) => Err(err.into()),
    }
}

/// Lists a tenant's tokens (ids and metadata; secrets are not stored).
pub async fn list_tokens(
    directory: &dyn Directory,
    tenant: &TenantId,
) -> Result<Vec<TokenRecord>, AdminError> {
    if directory.get_tenant(tenant).await?.is_none() {
        return Err(AdminError::NoSuchTenant(tenant.clone()));
    }
    Ok(directory.list_tokens(tenant).await?)
}

/// Revokes one of a tenant's tokens. Running servers stop accepting it within their token
/// cache TTL.
pub async fn revoke(
    directory: &dyn Directory,
    tenant: &TenantId,
    token_id: &str,
) -> Result<(), AdminError> {
    match directory.delete_token(tenant, token_id).await {
        Ok(()) => Ok(()),
        Err(StoreError::NotFound) => Err(AdminError::NoSuchToken(token_id.to_owned())),
        Err(err) => Err(err.into()),
    }
}
