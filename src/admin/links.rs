//! Setup links: `<id>.<secret>` in the path of the setup page (`/setup/<id>.<secret>`). The id
//! is public (16 hex characters, the directory key); the secret is 32 random bytes, unpadded
//! base64url, stored only as a SHA-256 (it has 256 random bits: no slow hash is needed). A
//! link expires (default 7 days) and can be revoked; either way its page says so (410), and an
//! unknown or forged one gets 404, never another tenant's data.

use super::AdminError;
use crate::clock::now_unix;
use crate::domain::{SetupLink, Tenant, TenantId};
use crate::error::ScimError;
use crate::ops::now_rfc3339;
use crate::store::{Directory, StoreError};

/// A setup link's default lifetime.
pub const DEFAULT_VALID_DAYS: u32 = 7;

/// A new link: its record and the path part (`<id>.<secret>`), the only copy of the secret.
#[derive(Debug)]
pub struct IssuedLink {
    /// As stored.
    pub link: SetupLink,
    /// `<id>.<secret>`, to put after `/setup/`.
    pub path: String,
}

fn digest(secret: &str) -> String {
    crate::secret::sha256_hex(&[secret.as_bytes()])
}

/// Creates a setup link for an existing tenant, valid for `valid_days`.
pub async fn create(
    directory: &dyn Directory,
    tenant: &TenantId,
    valid_days: u32,
) -> Result<IssuedLink, AdminError> {
    let random = |e: getrandom::Error| ScimError::internal(e.to_string());
    let id = crate::secret::new_id().map_err(random)?;
    let secret = crate::secret::new_secret().map_err(random)?;
    let link = SetupLink {
        id: id.clone(),
        tenant: tenant.clone(),
        hash: digest(&secret),
        created: now_rfc3339(),
        expires_at: now_unix().saturating_add(i64::from(valid_days) * 86_400),
        revoked_at: None,
    };
    match directory.put_setup_link(&link).await {
        Ok(()) => Ok(IssuedLink {
            link,
            path: format!("{id}.{secret}"),
        }),
        Err(StoreError::NotFound) => Err(AdminError::NoSuchTenant(tenant.clone())),
        Err(err) => Err(err.into()),
    }
}

/// Revokes one of a tenant's setup links (its page then says it was revoked).
pub async fn revoke(
    directory: &dyn Directory,
    tenant: &TenantId,
    id: &str,
) -> Result<SetupLink, AdminError> {
    let mut link = directory
        .get_setup_link(id)
        .await?
        .filter(|l| &l.tenant == tenant)
        .ok_or_else(|| AdminError::NoSuchLink(id.to_owned()))?;
    if link.revoked_at.is_none() {
        link.revoked_at = Some(now_unix());
        directory.put_setup_link(&link).await?;
    }
    Ok(link)
}

/// Why a setup link does not open its page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Unknown, forged, or malformed (404).
    Unknown,
    /// Past its expiry (410).
    Expired,
    /// Revoked (410).
    Revoked,
}

/// Checks a link's path part (`<id>.<secret>`): the link and its tenant, if it opens the page.
pub async fn open(
    directory: &dyn Directory,
    raw: &str,
) -> Result<Result<(SetupLink, Tenant), Refused>, StoreError> {
    let Some((id, secret)) = raw.split_once('.') else {
        return Ok(Err(Refused::Unknown));
    };
    if !crate::secret::is_id(id) || !crate::secret::is_secret(secret) {
        return Ok(Err(Refused::Unknown));
    }
    let Some(link) = directory.get_setup_link(id).await? else {
        return Ok(Err(Refused::Unknown));
    };
    if !crate::secret::same(digest(secret).as_bytes(), link.hash.as_bytes()) {
        return Ok(Err(Refused::Unknown));
    }
    if link.revoked_at.is_some() {
        return Ok(Err(Refused::Revoked));
    }
    if link.expires_at <= now_unix() {
        return Ok(Err(Refused::Expired));
    }
    // A deleted (or deleting) tenant's links open nothing.
    match directory.get_tenant(&link.tenant).await? {
        Some(tenant) if !tenant.deleting => Ok(Ok((link, tenant))),
        _ => Ok(Err(Refused::Unknown)),
    }
}
