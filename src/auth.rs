//! Bearer tokens: format, issuing, argon2id verification, and a warm in-process cache.
//!
//! A token is `scimlet_<id>_<secret>`: `id` is 16 lowercase hex characters (random, not
//! secret, the directory key), `secret` is 32 random bytes in unpadded base64url (which may
//! itself contain `_`, so parsing splits at the first two `_` only). Only an argon2id hash of
//! the secret is stored.
//!
//! Verification costs one consistent `GetItem` and, for a known id, one argon2id verification
//! on a blocking thread. An unknown id is rejected right after the lookup without hashing:
//! ids are random and not secret, so there is no oracle to protect, and floods of garbage
//! tokens cannot make the server burn CPU and memory. Failures per token id are counted and
//! slowed down; past a few within a minute, the secret is checked against the token's SHA-256
//! check digest instead of argon2id: guesses are answered 429 for the price of one SHA-256,
//! and the right secret is never refused because others guessed (the secret's 256 random bits
//! make the digest as safe to store as the argon2id hash). A verified token is cached by the SHA-256 of the whole token for a short TTL;
//! revocation is honoured within that TTL. When the TTL has passed, the token's record is read
//! again (one `GetItem`, plus the tenant's for its settings) and, if its stored hash, tenant and
//! expiry are unchanged, the entry is renewed without running argon2 again: a warm Lambda pays
//! the hash once per token, not once per TTL. At most one argon2id verification per core runs
//! at once. On a verification or renewal, a token's last use is recorded (at most once an hour)
//! and a token expiring within 30 days is warned about, by tenant and token id.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use sha2::{Digest, Sha256};

use crate::clock::now_unix;
use crate::domain::{TenantId, TenantSettings, TokenRecord};
use crate::error::ScimError;
use crate::store::{Directory, StoreError};

/// The fixed first part of every token.
pub const TOKEN_PREFIX: &str = "scimlet";
/// Bytes of randomness in a token secret (256 bits).
pub const SECRET_BYTES: usize = crate::secret::SECRET_BYTES;
/// argon2id memory cost in KiB (OWASP: 19 MiB).
pub const ARGON2_M_KIB: u32 = 19 * 1024;
/// argon2id iterations (OWASP: 2).
pub const ARGON2_T: u32 = 2;
/// argon2id parallelism (OWASP: 1).
pub const ARGON2_P: u32 = 1;

/// Failures of one token id within [`FAILURE_WINDOW`] before answers are slowed down.
const FREE_FAILURES: u32 = 5;
const FAILURE_WINDOW: Duration = Duration::from_secs(60);
const MAX_FAILURE_DELAY: Duration = Duration::from_secs(2);
/// How often a token's use is recorded (and its coming expiry warned about), at most.
const USE_RECORD_INTERVAL: Duration = Duration::from_secs(3600);
/// A token used this close to its expiry is warned about.
const EXPIRY_WARNING: Duration = Duration::from_secs(30 * 86_400);
/// Entries kept in each in-process map before it is cleared (bounds memory).
const MAX_ENTRIES: usize = 10_000;

/// The argon2id hasher with the parameters spelled out (never the crate's defaults, which may
/// change). Verification reads the parameters from the stored PHC string, so hashes made with
/// older parameters keep verifying.
pub fn hasher() -> Result<Argon2<'static>, ScimError> {
    let params =
        Params::new(ARGON2_M_KIB, ARGON2_T, ARGON2_P, None).map_err(ScimError::internal)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a secret (a token secret or a user password) to an argon2id PHC string.
/// CPU- and memory-heavy: call it from a blocking thread.
pub fn hash_secret(secret: &str) -> Result<String, ScimError> {
    let hash = hasher()?
        .hash_password(secret.as_bytes())
        .map_err(|e| ScimError::internal(e.to_string()))?;
    Ok(hash.to_string())
}

/// Checks a secret against a PHC string. CPU- and memory-heavy: call it from a blocking thread.
pub fn verify_secret(secret: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    hasher().is_ok_and(|h| h.verify_password(secret.as_bytes(), &parsed).is_ok())
}

/// How many argon2id verifications run at once: one per core this process may use.
pub fn argon2_concurrency() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// Hashes on tokio's blocking pool so the async workers keep serving.
pub async fn hash_secret_blocking(secret: String) -> Result<String, ScimError> {
    tokio::task::spawn_blocking(move || hash_secret(&secret))
        .await
        .map_err(ScimError::internal)?
}

/// A parsed token. `Debug` never shows the secret.
pub struct ParsedToken<'a> {
    /// The public id.
    pub id: &'a str,
    /// The secret part.
    pub secret: &'a str,
}

impl fmt::Debug for ParsedToken<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedToken")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Splits `scimlet_<id>_<secret>`; `None` if it is not of that form.
pub fn parse_token(token: &str) -> Option<ParsedToken<'_>> {
    let mut parts = token.splitn(3, '_');
    let (prefix, id, secret) = (parts.next()?, parts.next()?, parts.next()?);
    let id_ok = crate::secret::is_id(id);
    let secret_ok = (32..=128).contains(&secret.len())
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (prefix == TOKEN_PREFIX && id_ok && secret_ok).then_some(ParsedToken { id, secret })
}

/// A freshly issued token: the record to store and the full token to show once.
pub struct IssuedToken {
    /// What the directory stores (hash only).
    pub record: TokenRecord,
    /// The full bearer token. Shown to the operator once; never logged.
    pub token: String,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("record", &self.record.id)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// Makes a new token for `tenant` (random id and secret, argon2id hash). Blocking: hashes.
pub fn issue_token(
    tenant: &TenantId,
    label: Option<String>,
    expires_at: Option<i64>,
    created: String,
) -> Result<IssuedToken, ScimError> {
    let random = |e: getrandom::Error| ScimError::internal(e.to_string());
    let id = crate::secret::new_id().map_err(random)?;
    let secret = crate::secret::new_secret().map_err(random)?;
    let hash = hash_secret(&secret)?;
    Ok(IssuedToken {
        token: format!("{TOKEN_PREFIX}_{id}_{secret}"),
        record: TokenRecord {
            check: Some(check_digest(&id, &secret)),
            id,
            tenant: tenant.clone(),
            hash,
            created,
            expires_at,
            label,
            last_used: None,
        },
    })
}

/// The digest kept beside the argon2id hash ([`TokenRecord::check`]): SHA-256 over a label,
/// the id and the secret, in hex.
pub fn check_digest(id: &str, secret: &str) -> String {
    crate::secret::sha256_hex(&[
        b"scimlet-token-check\0",
        id.as_bytes(),
        b"\0",
        secret.as_bytes(),
    ])
}

/// Who a verified request acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The tenant whose resources the request may see.
    pub tenant: TenantId,
    /// The token id (safe to log).
    pub token_id: String,
    /// The tenant's settings, as read when the token was verified.
    pub settings: TenantSettings,
}

#[derive(Debug, Clone)]
struct CacheEntry {
    principal: Principal,
    /// The stored hash the secret was verified against.
    hash: String,
    expires_at: Option<i64>,
    cached_at: Instant,
}

/// What the cache knows of a token.
enum Cached {
    /// Verified within the TTL.
    Fresh(Principal),
    /// Verified before, against this hash; to be re-checked with a read.
    Stale { hash: String },
    /// Never verified (or evicted).
    Unknown,
}

/// Verifies bearer tokens against the directory, with a warm cache.
#[derive(Clone)]
pub struct Authenticator {
    directory: Arc<dyn Directory>,
    ttl: Duration,
    cache: Arc<Mutex<HashMap<[u8; 32], CacheEntry>>>,
    failures: Arc<Mutex<HashMap<String, (u32, Instant)>>>,
    /// When each token's use was last noted by this container.
    noted: Arc<Mutex<HashMap<String, Instant>>>,
    verifications: Arc<AtomicU64>,
    /// One permit per core: argon2id verifications running at once.
    argon2_slots: Arc<tokio::sync::Semaphore>,
    argon2_running: Arc<AtomicUsize>,
    argon2_peak: Arc<AtomicUsize>,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

fn unauthorized(detail: &str) -> ScimError {
    ScimError::Unauthorized(detail.to_owned())
}

impl Authenticator {
    /// An authenticator whose cache keeps verified tokens for `ttl`.
    pub fn new(directory: Arc<dyn Directory>, ttl: Duration) -> Self {
        Authenticator {
            directory,
            ttl,
            cache: Arc::default(),
            failures: Arc::default(),
            noted: Arc::default(),
            verifications: Arc::default(),
            argon2_slots: Arc::new(tokio::sync::Semaphore::new(argon2_concurrency())),
            argon2_running: Arc::default(),
            argon2_peak: Arc::default(),
        }
    }

    /// Authenticates an `Authorization` header value.
    pub async fn authenticate(&self, header: Option<&str>) -> Result<Principal, ScimError> {
        let header = header.ok_or_else(|| unauthorized("a bearer token is required"))?;
        let token = header
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim())
            .ok_or_else(|| unauthorized("the Authorization header must use the Bearer scheme"))?;
        let parsed = parse_token(token).ok_or_else(|| unauthorized("malformed bearer token"))?;
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let verified_hash = match self.cached(&digest) {
            Cached::Fresh(principal) => return Ok(principal),
            Cached::Stale { hash } => Some(hash),
            Cached::Unknown => None,
        };
        let record = self
            .directory
            .get_token(parsed.id)
            .await
            .map_err(store_to_scim)?
            .ok_or_else(|| unauthorized("unknown or revoked bearer token"))?;
        if record.expired_at(now_unix()) {
            return Err(unauthorized("the bearer token has expired"));
        }
        // The secret was verified against this very hash before: the record is unchanged, so
        // the verification still holds (the cache key is the whole token's digest).
        if verified_hash.as_deref() != Some(record.hash.as_str()) {
            self.verify(&parsed, &record).await?;
        }
        // The tenant's settings ride along in the cache; a deleted tenant has no tokens, but
        // a record read in between must not authenticate.
        let tenant = self
            .directory
            .get_tenant(&record.tenant)
            .await
            .map_err(store_to_scim)?
            .filter(|t| !t.deleting)
            .ok_or_else(|| unauthorized("unknown or revoked bearer token"))?;
        let principal = Principal {
            tenant: record.tenant.clone(),
            token_id: record.id.clone(),
            settings: tenant.settings,
        };
        self.note_use(&record).await;
        self.remember(digest, &principal, record.hash, record.expires_at);
        Ok(principal)
    }

    /// At most once an hour per token (per container, and by a conditional write for the
    /// table): records the token's last use, and warns when it expires within
    /// [`EXPIRY_WARNING`]. Never fails the request it describes.
    async fn note_use(&self, record: &TokenRecord) {
        {
            let mut noted = self.noted.lock().unwrap_or_else(|p| p.into_inner());
            if noted
                .get(&record.id)
                .is_some_and(|at| at.elapsed() < USE_RECORD_INTERVAL)
            {
                return;
            }
            if noted.len() >= MAX_ENTRIES {
                noted.clear();
            }
            noted.insert(record.id.clone(), Instant::now());
        }
        let now = now_unix();
        let interval = i64::try_from(USE_RECORD_INTERVAL.as_secs()).unwrap_or(i64::MAX);
        if let Err(err) = self
            .directory
            .touch_token(&record.id, now, now.saturating_sub(interval))
            .await
        {
            tracing::debug!(error = %err, "could not record a token's use");
        }
        let warn_before = i64::try_from(EXPIRY_WARNING.as_secs()).unwrap_or(i64::MAX);
        if let Some(exp) = record.expires_at.filter(|exp| exp - now <= warn_before) {
            tracing::warn!(
                tenant = record.tenant.as_str(),
                token_id = record.id.as_str(),
                expires_in_days = (exp - now) / 86_400,
                "a bearer token in use expires soon: rotate it (scimlet token rotate)"
            );
        }
    }

    /// Checks the secret. Normally by argon2id on the blocking pool. While this token id is
    /// being guessed at (more than [`FREE_FAILURES`] failures within [`FAILURE_WINDOW`]), by
    /// the token's check digest instead: a wrong secret is answered 429 at the cost of one
    /// SHA-256, and the right one gets in at once, however many guesses others made. A token
    /// without a check digest (issued before it existed) keeps argon2id, slowed down.
    async fn verify(
        &self,
        parsed: &ParsedToken<'_>,
        record: &TokenRecord,
    ) -> Result<(), ScimError> {
        if let Some(check) = &record.check
            && self.recent_failures(parsed.id) > FREE_FAILURES
        {
            if crate::secret::same(
                check_digest(parsed.id, parsed.secret).as_bytes(),
                check.as_bytes(),
            ) {
                return Ok(());
            }
            self.record_failure(parsed.id);
            return Err(ScimError::Throttled {
                retry_after_secs: u32::try_from(FAILURE_WINDOW.as_secs()).unwrap_or(60),
            });
        }
        self.delay_after_failures(parsed.id).await;
        let secret = parsed.secret.to_owned();
        let phc = record.hash.clone();
        // At most one verification per core at a time: each takes a core and 19 MiB, and a
        // burst of new tokens (or guesses) must not take the whole machine.
        let _slot = self
            .argon2_slots
            .acquire()
            .await
            .map_err(ScimError::internal)?;
        self.verifications.fetch_add(1, Ordering::Relaxed);
        let running = self.argon2_running.fetch_add(1, Ordering::SeqCst) + 1;
        self.argon2_peak.fetch_max(running, Ordering::SeqCst);
        let ok = tokio::task::spawn_blocking(move || verify_secret(&secret, &phc)).await;
        self.argon2_running.fetch_sub(1, Ordering::SeqCst);
        let ok = ok.map_err(ScimError::internal)?;
        if ok {
            Ok(())
        } else {
            self.record_failure(parsed.id);
            Err(unauthorized("unknown or revoked bearer token"))
        }
    }

    fn cached(&self, digest: &[u8; 32]) -> Cached {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let Some(entry) = cache.get(digest) else {
            return Cached::Unknown;
        };
        if entry.expires_at.is_some_and(|exp| exp <= now_unix()) {
            cache.remove(digest);
            Cached::Unknown
        } else if entry.cached_at.elapsed() < self.ttl {
            Cached::Fresh(entry.principal.clone())
        } else {
            Cached::Stale {
                hash: entry.hash.clone(),
            }
        }
    }

    fn remember(
        &self,
        digest: [u8; 32],
        principal: &Principal,
        hash: String,
        expires_at: Option<i64>,
    ) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= MAX_ENTRIES {
            cache.clear();
        }
        cache.insert(
            digest,
            CacheEntry {
                principal: principal.clone(),
                hash,
                expires_at,
                cached_at: Instant::now(),
            },
        );
    }

    /// Sleeps in proportion to the recent failures of this token id (beyond a few free ones).
    async fn delay_after_failures(&self, token_id: &str) {
        let recent = self.recent_failures(token_id);
        if recent > FREE_FAILURES {
            let delay = Duration::from_millis(200 * u64::from(recent - FREE_FAILURES));
            tokio::time::sleep(delay.min(MAX_FAILURE_DELAY)).await;
        }
    }

    fn record_failure(&self, token_id: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() >= MAX_ENTRIES {
            failures.clear();
        }
        let entry = failures
            .entry(token_id.to_owned())
            .or_insert((0, Instant::now()));
        if entry.1.elapsed() >= FAILURE_WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    /// The most argon2id verifications that ran at once (for tests and diagnostics); at most
    /// [`argon2_concurrency`].
    pub fn argon2_peak(&self) -> usize {
        self.argon2_peak.load(Ordering::SeqCst)
    }

    /// How many argon2id verifications this authenticator has run (for tests and diagnostics).
    pub fn argon2_verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    /// How many recent failures are recorded for a token id (for tests and diagnostics).
    pub fn recent_failures(&self, token_id: &str) -> u32 {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures
            .get(token_id)
            .filter(|(_, since)| since.elapsed() < FAILURE_WINDOW)
            .map(|(n, _)| *n)
            .unwrap_or(0)
    }
}

/// Maps a directory failure during authentication (an outage is a 5xx/429, never a 401).
fn store_to_scim(err: StoreError) -> ScimError {
    match err {
        StoreError::Throttled => ScimError::Throttled {
            retry_after_secs: 1,
        },
        other => ScimError::internal(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Tenant;
    use crate::store::Directory;
    use crate::store::memory::MemoryStore;

    #[test]
    fn parses_only_well_formed_tokens() {
        let secret = "A".repeat(43);
        let good = format!("scimlet_0123456789abcdef_{secret}");
        let parsed = parse_token(&good).unwrap();
        assert_eq!(parsed.id, "0123456789abcdef");
        assert_eq!(parsed.secret, secret);
        let with_underscore = format!("scimlet_0123456789abcdef_ab_{secret}");
        assert_eq!(
            parse_token(&with_underscore).unwrap().secret,
            format!("ab_{secret}")
        );
        for bad in [
            format!("scimlet_0123456789ABCDEF_{secret}"),
            format!("scimlet_0123456789abcde_{secret}"),
            format!("other_0123456789abcdef_{secret}"),
            "scimlet_0123456789abcdef_short".to_owned(),
            format!("scimlet_0123456789abcdef_{secret}!"),
            String::new(),
        ] {
            assert!(parse_token(&bad).is_none(), "{bad}");
        }
        assert!(!format!("{parsed:?}").contains(&secret));
    }

    #[test]
    fn hashes_with_owasp_argon2id_parameters() {
        let phc = hash_secret("hunter2").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_secret("hunter2", &phc));
        assert!(!verify_secret("hunter3", &phc));
        assert!(!verify_secret("hunter2", "not a phc string"));
    }

    async fn setup() -> (MemoryStore, Authenticator, IssuedToken) {
        let store = MemoryStore::new();
        let tenant = TenantId::new("acme").unwrap();
        store
            .create_tenant(&Tenant {
                id: tenant.clone(),
                created: "now".into(),
                settings: TenantSettings::default(),
                deleting: false,
            })
            .await
            .unwrap();
        let issued = issue_token(&tenant, None, None, "now".into()).unwrap();
        store.put_token(&issued.record).await.unwrap();
        let auth = Authenticator::new(Arc::new(store.clone()), Duration::from_secs(60));
        (store, auth, issued)
    }

    #[tokio::test]
    async fn verifies_issued_tokens_and_rejects_others() {
        let (_, auth, issued) = setup().await;
        let header = format!("Bearer {}", issued.token);
        let p = auth.authenticate(Some(&header)).await.unwrap();
        assert_eq!(p.tenant.as_str(), "acme");
        // Scheme is case-insensitive.
        auth.authenticate(Some(&format!("bearer {}", issued.token)))
            .await
            .unwrap();
        let wrong = format!("Bearer scimlet_{}_{}", issued.record.id, "B".repeat(43));
        let err = auth.authenticate(Some(&wrong)).await.unwrap_err();
        assert_eq!(err.status(), http::StatusCode::UNAUTHORIZED);
        assert_eq!(auth.recent_failures(&issued.record.id), 1);
        let unknown = format!("Bearer scimlet_ffffffffffffffff_{}", "B".repeat(43));
        assert_eq!(
            auth.authenticate(Some(&unknown))
                .await
                .unwrap_err()
                .status(),
            http::StatusCode::UNAUTHORIZED
        );
        assert!(auth.authenticate(None).await.is_err());
        assert!(auth.authenticate(Some("Basic abc")).await.is_err());
    }

    #[tokio::test]
    async fn guesses_of_a_known_id_soon_cost_no_argon2_and_never_lock_out_its_secret() {
        let (store, auth, issued) = setup().await;
        let id = &issued.record.id;
        let wrong = format!("Bearer scimlet_{id}_{}", "B".repeat(43));
        for _ in 0..=FREE_FAILURES {
            let err = auth.authenticate(Some(&wrong)).await.unwrap_err();
            assert_eq!(err.status(), http::StatusCode::UNAUTHORIZED);
        }
        let before = auth.argon2_verifications();
        for _ in 0..50 {
            let err = auth.authenticate(Some(&wrong)).await.unwrap_err();
            assert_eq!(err.status(), http::StatusCode::TOO_MANY_REQUESTS);
        }
        assert_eq!(auth.argon2_verifications(), before, "no argon2 for guesses");
        // The right secret gets in at once, without argon2 either.
        let right = format!("Bearer {}", issued.token);
        assert_eq!(auth.authenticate(Some(&right)).await.unwrap().token_id, *id);
        assert_eq!(auth.argon2_verifications(), before);
        // A token issued before check digests existed keeps argon2id (slowed down).
        let tenant = TenantId::new("acme").unwrap();
        let mut legacy = issue_token(&tenant, None, None, "now".into()).unwrap();
        legacy.record.check = None;
        store.put_token(&legacy.record).await.unwrap();
        let legacy_wrong = format!("Bearer scimlet_{}_{}", legacy.record.id, "C".repeat(43));
        for _ in 0..=FREE_FAILURES + 1 {
            let err = auth.authenticate(Some(&legacy_wrong)).await.unwrap_err();
            assert_eq!(err.status(), http::StatusCode::UNAUTHORIZED);
        }
        let header = format!("Bearer {}", legacy.token);
        auth.authenticate(Some(&header)).await.unwrap();
        assert!(auth.argon2_verifications() > before);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn argon2_verifications_run_at_most_one_per_core_at_once() {
        let (store, auth, _) = setup().await;
        let tenant = TenantId::new("acme").unwrap();
        let mut headers = Vec::new();
        for _ in 0..(3 * argon2_concurrency() + 2) {
            let issued = issue_token(&tenant, None, None, "now".into()).unwrap();
            store.put_token(&issued.record).await.unwrap();
            headers.push(format!("Bearer {}", issued.token));
        }
        let auth = Arc::new(auth);
        let tasks: Vec<_> = headers
            .into_iter()
            .map(|h| {
                let auth = Arc::clone(&auth);
                tokio::spawn(async move { auth.authenticate(Some(&h)).await.map(|_| ()) })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert!(auth.argon2_peak() >= 1);
        assert!(
            auth.argon2_peak() <= argon2_concurrency(),
            "{}",
            auth.argon2_peak()
        );
    }

    #[tokio::test]
    async fn revocation_is_seen_once_the_cache_expires() {
        let (store, _, issued) = setup().await;
        let auth = Authenticator::new(Arc::new(store.clone()), Duration::ZERO);
        let header = format!("Bearer {}", issued.token);
        auth.authenticate(Some(&header)).await.unwrap();
        store
            .delete_token(&issued.record.tenant, &issued.record.id)
            .await
            .unwrap();
        assert!(auth.authenticate(Some(&header)).await.is_err());
    }

    #[tokio::test]
    async fn a_stale_cache_entry_is_renewed_by_a_read_without_argon2() {
        let (store, _, issued) = setup().await;
        let auth = Authenticator::new(Arc::new(store.clone()), Duration::ZERO);
        let header = format!("Bearer {}", issued.token);
        for _ in 0..3 {
            auth.authenticate(Some(&header)).await.unwrap();
        }
        assert_eq!(auth.argon2_verifications(), 1);
        // A wrong secret for the same id is never served from the entry.
        let wrong = format!("Bearer scimlet_{}_{}", issued.record.id, "Z".repeat(43));
        assert!(auth.authenticate(Some(&wrong)).await.is_err());
        assert_eq!(auth.argon2_verifications(), 2);
        // A revoked token fails at the re-check.
        store
            .delete_token(&issued.record.tenant, &issued.record.id)
            .await
            .unwrap();
        assert!(auth.authenticate(Some(&header)).await.is_err());
        assert_eq!(auth.argon2_verifications(), 2);
    }

    #[tokio::test]
    async fn expired_tokens_are_rejected() {
        let (store, auth, _) = setup().await;
        let tenant = TenantId::new("acme").unwrap();
        let issued = issue_token(&tenant, None, Some(now_unix() - 1), "now".into()).unwrap();
        store.put_token(&issued.record).await.unwrap();
        let err = auth
            .authenticate(Some(&format!("Bearer {}", issued.token)))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("expired"));
    }
}
