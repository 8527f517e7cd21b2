//! Tenants, their settings and their tokens.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ResourceKind;

/// A tenant identifier: 1–63 characters of `a-z`, `0-9` and `-`, starting with a letter or
/// digit. It appears in every key of the tenant's items, so `#` and other separators are
/// impossible by construction.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

impl TenantId {
    /// Validates a tenant id.
    pub fn new(id: impl Into<String>) -> Result<Self, InvalidTenantId> {
        let id = id.into();
        let valid = !id.is_empty()
            && id.len() <= 63
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !id.starts_with('-');
        if valid {
            Ok(TenantId(id))
        } else {
            Err(InvalidTenantId)
        }
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for TenantId {
    type Error = InvalidTenantId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        TenantId::new(value)
    }
}

impl From<TenantId> for String {
    fn from(value: TenantId) -> Self {
        value.0
    }
}

/// A tenant id that is not 1–63 characters of `a-z`, `0-9`, `-`.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error(
    "a tenant id is 1-63 characters of lowercase letters, digits and '-', not starting with '-'"
)]
pub struct InvalidTenantId;

/// Per-tenant behaviour switches, for identity providers that want different things. The
/// defaults are the safe, RFC-faithful choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantSettings {
    /// Reject attributes that no schema defines (400 `invalidValue`) instead of ignoring them.
    pub strict_attributes: bool,
    /// Keep group `displayName` unique (case-insensitively) within the tenant. Entra matches
    /// groups by it, so it is on by default.
    pub unique_group_names: bool,
    /// DELETE marks resources deleted (404 everywhere, names released, restorable with
    /// `scimlet restore`) instead of removing them.
    pub soft_delete: bool,
    /// A group PATCH always answers 204 (RFC 7644 §3.5.2 allows it; Entra recommends it for
    /// groups), whatever the group's size.
    pub group_patch_no_content: bool,
    /// Incoming passwords are dropped unread, like an unknown attribute (no argon2id hash is
    /// computed; `changePassword.supported` is then false), for identity providers that send
    /// passwords nobody uses (Okta sends a random one with every create).
    pub ignore_passwords: bool,
    /// Keep `externalId` unique within the tenant and resource type. RFC 7643 §3.1 scopes it
    /// to the provisioning client and asks no uniqueness, and a tenant may have two clients
    /// (an IdP migration), so it is off by default; `externalId eq` is then answered from the
    /// lookup index.
    pub unique_external_ids: bool,
    /// Whether every resource's `externalId` is in the lookup index: true for tenants created
    /// since the index exists, and for older ones once `scimlet migrate external-id-index`
    /// has run. Until then the tenant keeps `externalId` unique (its guards answer lookups).
    pub external_id_index: bool,
}

impl TenantSettings {
    /// Whether this tenant enforces the uniqueness that the schema declares for attribute
    /// `attr` of `kind` (group `displayName` uniqueness can be switched off).
    pub fn enforces(&self, kind: ResourceKind, attr: &str) -> bool {
        match attr {
            "displayName" if kind == ResourceKind::Group => self.unique_group_names,
            // Without the index, the guards are the only consistent lookup there is.
            "externalId" => self.unique_external_ids || !self.external_id_index,
            _ => true,
        }
    }
}

impl Default for TenantSettings {
    fn default() -> Self {
        TenantSettings {
            strict_attributes: false,
            unique_group_names: true,
            soft_delete: false,
            group_patch_no_content: false,
            ignore_passwords: false,
            unique_external_ids: false,
            external_id_index: true,
        }
    }
}

/// A tenant's record.
#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    /// Its id.
    pub id: TenantId,
    /// RFC 3339 creation time.
    pub created: String,
    /// Behaviour switches.
    pub settings: TenantSettings,
    /// Being deleted: its tokens and setup links are gone and its resources are being purged;
    /// the record goes last, so the deletion can be resumed.
    pub deleting: bool,
}

/// A stored bearer token (only its hash; the secret is shown once, at issue time).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    /// The public token id (16 lowercase hex characters).
    pub id: String,
    /// The tenant it authenticates.
    pub tenant: TenantId,
    /// argon2id PHC string of the secret.
    pub hash: String,
    /// A SHA-256 digest of the token (hex), checked instead of the argon2id hash while its
    /// id is being guessed at, so that guesses cost no argon2 and the right secret still gets
    /// in. The secret has 256 random bits: this digest gives an attacker no more than the
    /// argon2id hash does. `None` on tokens issued before it existed (they keep the slowed
    /// argon2id path).
    pub check: Option<String>,
    /// RFC 3339 issue time.
    pub created: String,
    /// Expiry as Unix seconds, if any. An expired token stays listed (marked) until it is
    /// pruned, or until [`TOKEN_GRACE_SECS`] after its expiry, when the table's TTL removes it.
    pub expires_at: Option<i64>,
    /// A free-text label chosen by the operator (e.g. "okta-prod").
    pub label: Option<String>,
    /// When it last authenticated a request (Unix seconds), recorded at most once an hour.
    pub last_used: Option<i64>,
}

/// One request as a tenant's recent activity shows it: what was done and how it ended, never
/// values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityEntry {
    /// RFC 3339 time.
    pub at: String,
    /// The route's name (`users.create`, …).
    pub route: String,
    /// The HTTP method.
    pub method: String,
    /// The response status.
    pub status: u16,
    /// For an error: its `scimType`, if any.
    pub scim_type: Option<String>,
    /// For an error: its category.
    pub reason: Option<String>,
    /// For a 4xx about one attribute: its name (never a value).
    pub attribute: Option<String>,
    /// The token that authenticated it.
    pub token_id: Option<String>,
}

impl ActivityEntry {
    /// Whether it records an error (4xx or 5xx).
    pub fn is_error(&self) -> bool {
        self.status >= 400
    }
}

impl TokenRecord {
    /// Whether it has expired by `now` (Unix seconds).
    pub fn expired_at(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|exp| exp <= now)
    }
}

/// A setup link: an expiring URL that lets a customer's IT admin connect their identity
/// provider to one tenant (the setup page). Only a SHA-256 of its secret is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupLink {
    /// The public id (16 lowercase hex characters).
    pub id: String,
    /// The tenant it sets up.
    pub tenant: TenantId,
    /// Hex SHA-256 of the link's secret.
    pub hash: String,
    /// RFC 3339 creation time.
    pub created: String,
    /// Expiry (Unix seconds).
    pub expires_at: i64,
    /// When it was revoked (Unix seconds), if it was.
    pub revoked_at: Option<i64>,
}

/// How long an expired or revoked setup link stays in the table (its page then says so)
/// before the table's TTL deletes it: 30 days.
pub const SETUP_LINK_GRACE_SECS: i64 = 30 * 86_400;

/// How long an expired token stays in the table (listed as expired) before the table's TTL
/// deletes it: 90 days.
pub const TOKEN_GRACE_SECS: i64 = 90 * 86_400;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_are_restricted() {
        assert!(TenantId::new("acme-01").is_ok());
        for bad in ["", "-acme", "Acme", "a#b", "a_b", &"x".repeat(64)] {
            assert!(TenantId::new(bad).is_err(), "{bad:?}");
        }
    }
}
