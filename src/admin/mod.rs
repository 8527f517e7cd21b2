//! Tenant and token administration, shared by the `scimlet` CLI, the admin API ([`api`]),
//! `scimlet serve` and the tests: every administrative action is implemented once, here.

pub mod api;
pub mod json;
pub mod links;

use crate::auth::{IssuedToken, issue_token};
use crate::clock::now_unix;
use crate::domain::ResourceKind;
use crate::domain::{Resource, Tenant, TenantId, TenantSettings, TokenRecord};
use crate::error::ScimError;
use crate::ops::now_rfc3339;
use crate::schema::input::{lookup_values, unique_values};
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
    /// The setup link does not exist or belongs to another tenant.
    #[error("setup link '{0}' does not exist for this tenant")]
    NoSuchLink(String),
    /// The token does not exist or belongs to another tenant.
    #[error("token '{0}' does not exist for this tenant")]
    NoSuchToken(String),
    /// `unique-external-ids` cannot be switched off before the tenant's lookup index exists.
    #[error(
        "tenant '{0}' was created before the externalId lookup index existed: run \
         `scimlet migrate external-id-index {0}` before switching unique-external-ids off"
    )]
    NoExternalIdIndex(TenantId),
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
        deleting: false,
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
    let indexed = tenant.settings.external_id_index;
    change(&mut tenant.settings);
    // Only the migration below builds the index; no setting can claim it.
    tenant.settings.external_id_index = indexed;
    if !indexed && !tenant.settings.unique_external_ids {
        return Err(AdminError::NoExternalIdIndex(id.clone()));
    }
    match directory.update_tenant(&tenant).await {
        Ok(()) => Ok(tenant),
        Err(StoreError::NotFound) => Err(AdminError::NoSuchTenant(id.clone())),
        Err(err) => Err(err.into()),
    }
}

/// How long a token is valid when nobody says (two years: a long default, as Entra quarantines
/// a provisioning job whose token expires, and RFC 7644 §7.4 asks tokens to expire).
pub const DEFAULT_TOKEN_DAYS: u32 = 730;

/// Resources purged per step of a tenant deletion (a step stays well inside a request's time).
pub const PURGE_STEP: usize = 500;

/// Deletes a tenant to the end (the CLI): see [`delete_tenant_step`].
pub async fn delete_tenant(
    directory: &dyn Directory,
    store: &dyn ResourceStore,
    id: &TenantId,
) -> Result<(), AdminError> {
    while !delete_tenant_step(directory, store, id, PURGE_STEP).await? {}
    Ok(())
}

/// Goes on with every tenant being deleted (one step of `budget` resources each): what the
/// template's schedule calls every few minutes, so that deletions finish in the background.
/// Returns each tenant with whether it is now gone.
pub async fn continue_deletions(
    directory: &dyn Directory,
    store: &dyn ResourceStore,
    budget: usize,
) -> Result<Vec<(TenantId, bool)>, AdminError> {
    let mut out = Vec::new();
    for tenant in directory.list_tenants().await? {
        if tenant.deleting {
            let done = match delete_tenant_step(directory, store, &tenant.id, budget).await {
                Ok(done) => done,
                Err(AdminError::NoSuchTenant(_)) => true,
                Err(err) => return Err(err),
            };
            out.push((tenant.id, done));
        }
    }
    Ok(out)
}

/// One step of deleting a tenant, resumable: the first marks it deleting and deletes its
/// tokens and setup links (nothing authenticates as it any more, beyond the token cache's
/// TTL); each step then purges up to `budget` of its resources; the step that finds nothing
/// left deletes its record. Whether the tenant is gone.
pub async fn delete_tenant_step(
    directory: &dyn Directory,
    store: &dyn ResourceStore,
    id: &TenantId,
    budget: usize,
) -> Result<bool, AdminError> {
    let tenant = directory
        .get_tenant(id)
        .await?
        .ok_or_else(|| AdminError::NoSuchTenant(id.clone()))?;
    if !tenant.deleting {
        match directory.begin_tenant_deletion(id).await {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Err(AdminError::NoSuchTenant(id.clone())),
            Err(err) => return Err(err.into()),
        }
    }
    if !store.purge(id, budget).await? {
        return Ok(false);
    }
    match directory.delete_tenant(id).await {
        Ok(()) | Err(StoreError::NotFound) => Ok(true),
        Err(err) => Err(err.into()),
    }
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
    let lookups = lookup_values(rt, &deleted.attributes)?;
    let write = crate::ops::write::restore(&deleted, guards, lookups, &now_rfc3339());
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

/// What [`migrate_external_id_index`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexReport {
    /// Resources examined.
    pub examined: u64,
    /// Resources with an `externalId`, now in the index.
    pub indexed: u64,
}

/// Builds the `externalId` lookup index of a tenant created before it existed, then marks
/// the tenant indexed (after which `unique-external-ids` may be switched off). Resumable and
/// safe while the server runs: each entry is added only if its resource is still at the
/// version read (a resource changed meanwhile is read again), writes made by the server keep
/// the index themselves, and running it again re-adds the same entries.
pub async fn migrate_external_id_index(
    directory: &dyn Directory,
    store: &dyn ResourceStore,
    registry: &Registry,
    tenant: &TenantId,
    mut progress: impl FnMut(&IndexReport),
) -> Result<IndexReport, AdminError> {
    if directory.get_tenant(tenant).await?.is_none() {
        return Err(AdminError::NoSuchTenant(tenant.clone()));
    }
    let mut report = IndexReport::default();
    for kind in [ResourceKind::User, ResourceKind::Group] {
        let rt = registry.resource_type(kind);
        let mut after: Option<String> = None;
        loop {
            let page = store.list(tenant, kind, after.as_deref(), 200).await?;
            for listed in &page.items {
                report.examined += 1;
                let mut current = Resource::clone(listed);
                loop {
                    let values = lookup_values(rt, &current.attributes)?;
                    if values.is_empty() {
                        break;
                    }
                    match store
                        .index_lookups(tenant, kind, &current.id, current.version, &values)
                        .await
                    {
                        Ok(()) => {
                            report.indexed += 1;
                            break;
                        }
                        Err(StoreError::VersionMismatch) => {
                            match store.get(tenant, kind, &current.id).await? {
                                Some(fresh) => current = fresh,
                                None => break,
                            }
                        }
                        Err(StoreError::NotFound) => break,
                        Err(err) => return Err(err.into()),
                    }
                }
            }
            progress(&report);
            match page.next_after {
                Some(next) => after = Some(next),
                None => break,
            }
        }
    }
    let mut record = directory
        .get_tenant(tenant)
        .await?
        .ok_or_else(|| AdminError::NoSuchTenant(tenant.clone()))?;
    record.settings.external_id_index = true;
    match directory.update_tenant(&record).await {
        Ok(()) => Ok(report),
        Err(StoreError::NotFound) => Err(AdminError::NoSuchTenant(tenant.clone())),
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
    let expires_at = valid_days.map(|days| now_unix() + i64::from(days) * 86_400);
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

/// Rotates a token with no gap: issues its successor (same label, valid for `valid_days`) and
/// makes the old one expire `overlap_secs` from now (or keeps its expiry, if sooner), so the
/// identity provider can be switched over while both work. Returns the successor and the
/// old token as it now is.
pub async fn rotate(
    directory: &dyn Directory,
    tenant: &TenantId,
    token_id: &str,
    overlap_secs: i64,
    valid_days: Option<u32>,
) -> Result<(IssuedToken, TokenRecord), AdminError> {
    let mut old = directory
        .get_token(token_id)
        .await?
        .filter(|t| &t.tenant == tenant)
        .ok_or_else(|| AdminError::NoSuchToken(token_id.to_owned()))?;
    let successor = issue(directory, tenant, old.label.clone(), valid_days).await?;
    let until = now_unix().saturating_add(overlap_secs.max(0));
    let expires = old.expires_at.map_or(until, |exp| exp.min(until));
    match directory
        .set_token_expiry(tenant, token_id, Some(expires))
        .await
    {
        Ok(()) => {}
        Err(StoreError::NotFound) => return Err(AdminError::NoSuchToken(token_id.to_owned())),
        Err(err) => return Err(err.into()),
    }
    old.expires_at = Some(expires);
    Ok((successor, old))
}

/// Deletes a tenant's expired tokens (they stay listed, marked expired, until then or until
/// the grace period after their expiry ends); returns the ids deleted.
pub async fn prune(
    directory: &dyn Directory,
    tenant: &TenantId,
) -> Result<Vec<String>, AdminError> {
    let now = now_unix();
    let mut pruned = Vec::new();
    for t in list_tokens(directory, tenant).await? {
        if t.expired_at(now) {
            match directory.delete_token(tenant, &t.id).await {
                Ok(()) | Err(StoreError::NotFound) => pruned.push(t.id),
                Err(err) => return Err(err.into()),
            }
        }
    }
    Ok(pruned)
}

/// A tenant's recent activity, newest first (only errors with `errors_only`), at most `limit`
/// entries.
pub async fn recent_activity(
    directory: &dyn Directory,
    store: &dyn ResourceStore,
    tenant: &TenantId,
    limit: usize,
    errors_only: bool,
) -> Result<Vec<crate::domain::ActivityEntry>, AdminError> {
    if directory.get_tenant(tenant).await?.is_none() {
        return Err(AdminError::NoSuchTenant(tenant.clone()));
    }
    // Read more than asked when filtering, so that errors among recent successes are found.
    let read = if errors_only {
        limit.saturating_mul(4)
    } else {
        limit
    };
    let mut entries = store.recent_activity(tenant, read).await?;
    if errors_only {
        entries.retain(crate::domain::ActivityEntry::is_error);
    }
    entries.truncate(limit);
    Ok(entries)
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
