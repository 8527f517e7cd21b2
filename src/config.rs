//! Server configuration, read from the environment (or the CLI) and validated once at start.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `SCIMLET_PUBLIC_URL` | – | public SCIM base URL used in `meta.location`, `Location` and `$ref` (e.g. `https://id.example.com/scim/v2`); without it, the request's Host and path prefix are used |
//! | `SCIMLET_BASE_PATH` | `/scim/v2` | path prefix of the SCIM endpoints |
//! | `SCIMLET_MAX_BODY_BYTES` | `1048576` | request body limit (413 beyond it) |
//! | `SCIMLET_TOKEN_CACHE_SECONDS` | `60` | how long a verified token is trusted without re-checking the directory |
//! | `SCIMLET_MAX_PAGE_SIZE` | `1000` | the largest `count` a list returns (larger requests are capped) |
//! | `SCIMLET_DEFAULT_PAGE_SIZE` | `100` | the page size when a list request has no `count` |
//! | `SCIMLET_MAX_SCAN` | `10000` | items a list request may examine before failing with `tooMany` |
//! | `SCIMLET_BULK_MAX_OPERATIONS` | `100` | operations one `/Bulk` request may carry (413 beyond) |
//! | `SCIMLET_SCHEMA_EXTENSIONS` | – | custom extension schemas, as JSON (see [`crate::schema::registry`]) |
//! | `SCIMLET_SCHEMA_EXTENSIONS_FILE` | – | the same, read from a file |
//! | `SCIMLET_MAX_RESPONSE_BYTES` | `5242880` | bytes of resources one response carries (Lambda answers at most 6 MB): a list page ends early beyond it, a single larger resource is 400 `tooMany` |
//! | `SCIMLET_GROUP_RESPONSE_MAX_MEMBERS` | `1000` | a group PATCH or PUT answers 200 with the group up to this many members, 204 beyond (RFC 7644 §3.5.2) |
//! | `SCIMLET_TENANT_RATE_LIMIT` | `0` (off) | requests per second one tenant may make, counted across every container (429 with `Retry-After` beyond), so one tenant's initial sync cannot use up the stage's shared limit |
//! | `SCIMLET_ACTIVITY` | on | `off`: keep no per-tenant activity (errors and sampled successes, shown by `scimlet tenant activity`) |
//! | `SCIMLET_LOG_FORMAT` | `tracing` | `emf`: the request log line is a CloudWatch embedded metric format document (the template sets it for Lambda; see [`crate::request_log`]) |

use std::time::Duration;

use crate::request_log::LogFormat;
use crate::schema::registry::{Registry, STANDARD};

/// Validated server configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The resource types and schemas served (built-in, plus custom extensions).
    pub registry: &'static Registry,
    /// Public base URL of the SCIM API, without a trailing `/`.
    pub public_url: Option<String>,
    /// Path prefix of the SCIM endpoints, starting with `/`, without a trailing `/`.
    pub base_path: String,
    /// Request body limit in bytes.
    pub max_body_bytes: usize,
    /// How long a verified token is cached.
    pub token_cache_ttl: Duration,
    /// The largest page a list returns.
    pub max_page_size: usize,
    /// The page size when a request has no `count`.
    pub default_page_size: usize,
    /// The most items one list request may examine.
    pub max_scan: usize,
    /// The most operations one Bulk request may carry.
    pub bulk_max_operations: usize,
    /// How the request log line is written.
    pub log_format: LogFormat,
    /// Up to how many members a group PATCH or PUT answers with the group (204 beyond).
    pub group_response_max_members: u64,
    /// Bytes of resources one response may carry.
    pub max_response_bytes: usize,
    /// Requests one tenant may make per window (`None`: no per-tenant limit), counted in the
    /// store so that every container sees the same count.
    pub tenant_rate_limit: Option<u32>,
    /// The window of `tenant_rate_limit`.
    pub tenant_rate_window: Duration,
    /// Whether each tenant's recent activity is kept (errors, and sampled successes; see
    /// [`crate::activity`]). On when read from the environment; off in `Config::default()`,
    /// so that tests count only the calls that serve a request.
    pub record_activity: bool,
    /// Who may call the admin API (`/admin/v1`); off unless configured.
    pub admin: AdminAccess,
}

/// How the admin API is authorised.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum AdminAccess {
    /// There is no admin API: its paths answer 404.
    #[default]
    Off,
    /// API Gateway's IAM authorisation (`SCIMLET_ADMIN_API=iam`, set by the template when
    /// `AdminApi` is on): only requests that API Gateway authorised with IAM are served.
    Iam,
    /// A bearer key (`SCIMLET_ADMIN_KEY`; `scimlet serve` makes one): the SHA-256 of the key.
    Key([u8; 32]),
}

impl std::fmt::Debug for AdminAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key's digest.
        f.write_str(match self {
            AdminAccess::Off => "Off",
            AdminAccess::Iam => "Iam",
            AdminAccess::Key(_) => "Key",
        })
    }
}

impl AdminAccess {
    /// Access by this key.
    pub fn key(key: &str) -> Self {
        use sha2::Digest;
        AdminAccess::Key(sha2::Sha256::digest(key.as_bytes()).into())
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            registry: &STANDARD,
            public_url: None,
            base_path: "/scim/v2".into(),
            max_body_bytes: 1024 * 1024,
            token_cache_ttl: Duration::from_secs(60),
            max_page_size: 1000,
            default_page_size: 100,
            max_scan: 10_000,
            bulk_max_operations: 100,
            log_format: LogFormat::Tracing,
            group_response_max_members: 1000,
            max_response_bytes: 5 * 1024 * 1024,
            tenant_rate_limit: None,
            tenant_rate_window: Duration::from_secs(1),
            record_activity: false,
            admin: AdminAccess::Off,
        }
    }
}

/// A configuration value that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {name}: {reason}")]
pub struct ConfigError {
    /// The variable or option.
    pub name: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

fn invalid(name: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        name,
        reason: reason.into(),
    }
}

impl Config {
    /// Reads the `SCIMLET_*` variables (see the module docs) over the defaults.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut config = Config {
            record_activity: !matches!(lookup("SCIMLET_ACTIVITY").as_deref(), Some("off")),
            ..Config::default()
        };
        if let Some(url) = lookup("SCIMLET_PUBLIC_URL").filter(|v| !v.is_empty()) {
            config.public_url = Some(url);
        }
        if let Some(path) = lookup("SCIMLET_BASE_PATH") {
            config.base_path = path;
        }
        let number = |name: &'static str| -> Result<Option<u64>, ConfigError> {
            lookup(name)
                .map(|v| {
                    v.parse::<u64>()
                        .map_err(|_| invalid(name, "not a whole number"))
                })
                .transpose()
        };
        if let Some(n) = number("SCIMLET_MAX_BODY_BYTES")? {
            config.max_body_bytes =
                usize::try_from(n).map_err(|_| invalid("SCIMLET_MAX_BODY_BYTES", "too large"))?;
        }
        if let Some(n) = number("SCIMLET_TOKEN_CACHE_SECONDS")? {
            config.token_cache_ttl = Duration::from_secs(n);
        }
        if let Some(n) = number("SCIMLET_MAX_PAGE_SIZE")? {
            config.max_page_size =
                usize::try_from(n).map_err(|_| invalid("SCIMLET_MAX_PAGE_SIZE", "too large"))?;
        }
        let extensions = match (
            lookup("SCIMLET_SCHEMA_EXTENSIONS").filter(|v| !v.trim().is_empty()),
            lookup("SCIMLET_SCHEMA_EXTENSIONS_FILE").filter(|v| !v.is_empty()),
        ) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "SCIMLET_SCHEMA_EXTENSIONS",
                    "set it or SCIMLET_SCHEMA_EXTENSIONS_FILE, not both",
                ));
            }
            (Some(inline), None) => Some(inline),
            (None, Some(path)) => Some(std::fs::read_to_string(&path).map_err(|e| {
                invalid(
                    "SCIMLET_SCHEMA_EXTENSIONS_FILE",
                    format!("cannot read '{path}': {e}"),
                )
            })?),
            (None, None) => None,
        };
        if let Some(document) = extensions {
            config.registry = Registry::with_extensions(&document)
                .map_err(|e| invalid("SCIMLET_SCHEMA_EXTENSIONS", e.to_string()))?;
        }
        match lookup("SCIMLET_LOG_FORMAT").as_deref() {
            None | Some("" | "tracing") => {}
            Some("emf") => {
                config.log_format = LogFormat::Emf {
                    function_name: lookup("AWS_LAMBDA_FUNCTION_NAME")
                        .unwrap_or_else(|| "scimlet".into()),
                };
            }
            Some(_) => return Err(invalid("SCIMLET_LOG_FORMAT", "expected 'tracing' or 'emf'")),
        }
        if let Some(n) = number("SCIMLET_MAX_RESPONSE_BYTES")? {
            config.max_response_bytes = usize::try_from(n)
                .map_err(|_| invalid("SCIMLET_MAX_RESPONSE_BYTES", "too large"))?;
        }
        if let Some(n) = number("SCIMLET_GROUP_RESPONSE_MAX_MEMBERS")? {
            config.group_response_max_members = n;
        }
        if let Some(n) = number("SCIMLET_BULK_MAX_OPERATIONS")? {
            config.bulk_max_operations = usize::try_from(n)
                .map_err(|_| invalid("SCIMLET_BULK_MAX_OPERATIONS", "too large"))?;
        }
        if let Some(n) = number("SCIMLET_DEFAULT_PAGE_SIZE")? {
            config.default_page_size = usize::try_from(n)
                .map_err(|_| invalid("SCIMLET_DEFAULT_PAGE_SIZE", "too large"))?;
        }
        if let Some(n) = number("SCIMLET_TENANT_RATE_LIMIT")? {
            let n =
                u32::try_from(n).map_err(|_| invalid("SCIMLET_TENANT_RATE_LIMIT", "too large"))?;
            config.tenant_rate_limit = (n > 0).then_some(n);
        }
        match (
            lookup("SCIMLET_ADMIN_API")
                .filter(|v| !v.is_empty())
                .as_deref(),
            lookup("SCIMLET_ADMIN_KEY").filter(|v| !v.is_empty()),
        ) {
            (None, None) => {}
            (Some("iam"), None) => config.admin = AdminAccess::Iam,
            (None, Some(key)) if key.len() >= 32 => config.admin = AdminAccess::key(&key),
            (None, Some(_)) => {
                return Err(invalid("SCIMLET_ADMIN_KEY", "at least 32 characters"));
            }
            (Some("iam"), Some(_)) => {
                return Err(invalid(
                    "SCIMLET_ADMIN_KEY",
                    "not with SCIMLET_ADMIN_API=iam (IAM authorises the admin API in AWS)",
                ));
            }
            (Some(_), _) => return Err(invalid("SCIMLET_ADMIN_API", "expected 'iam'")),
        }
        if let Some(n) = number("SCIMLET_MAX_SCAN")? {
            config.max_scan =
                usize::try_from(n).map_err(|_| invalid("SCIMLET_MAX_SCAN", "too large"))?;
        }
        config.validate()
    }

    /// Checks and normalises the values.
    pub fn validate(mut self) -> Result<Self, ConfigError> {
        if let Some(url) = &self.public_url {
            let trimmed = url.trim_end_matches('/');
            if !(trimmed.starts_with("https://") || trimmed.starts_with("http://")) {
                return Err(invalid(
                    "SCIMLET_PUBLIC_URL",
                    "must start with https:// or http://",
                ));
            }
            self.public_url = Some(trimmed.to_owned());
        }
        let path = self.base_path.trim_end_matches('/').to_owned();
        if !path.is_empty() && !path.starts_with('/') {
            return Err(invalid("SCIMLET_BASE_PATH", "must start with '/'"));
        }
        self.base_path = path;
        if self.max_body_bytes == 0 {
            return Err(invalid("SCIMLET_MAX_BODY_BYTES", "must be positive"));
        }
        if self.max_page_size == 0 {
            return Err(invalid("SCIMLET_MAX_PAGE_SIZE", "must be positive"));
        }
        if self.default_page_size == 0 || self.default_page_size > self.max_page_size {
            return Err(invalid(
                "SCIMLET_DEFAULT_PAGE_SIZE",
                "must be between 1 and SCIMLET_MAX_PAGE_SIZE",
            ));
        }
        if self.max_scan < self.max_page_size {
            return Err(invalid(
                "SCIMLET_MAX_SCAN",
                "must be at least SCIMLET_MAX_PAGE_SIZE",
            ));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn from(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_and_overrides() {
        let defaults = from(&[]).unwrap();
        assert_eq!(defaults.max_body_bytes, Config::default().max_body_bytes);
        assert!(std::ptr::eq(defaults.registry, &STANDARD));
        let c = from(&[
            ("SCIMLET_PUBLIC_URL", "https://x.example/scim/v2/"),
            ("SCIMLET_BASE_PATH", "/api/scim/"),
            ("SCIMLET_MAX_BODY_BYTES", "2048"),
        ])
        .unwrap();
        assert_eq!(c.public_url.as_deref(), Some("https://x.example/scim/v2"));
        assert_eq!(c.base_path, "/api/scim");
        assert_eq!(c.max_body_bytes, 2048);
        assert_eq!(defaults.tenant_rate_limit, None);
        let limited = from(&[("SCIMLET_TENANT_RATE_LIMIT", "50")]).unwrap();
        assert_eq!(limited.tenant_rate_limit, Some(50));
        let off = from(&[("SCIMLET_TENANT_RATE_LIMIT", "0")]).unwrap();
        assert_eq!(off.tenant_rate_limit, None);
        assert!(from(&[("SCIMLET_TENANT_RATE_LIMIT", "-1")]).is_err());
    }

    #[test]
    fn reads_extension_schemas() {
        let doc = r#"{"extensions": [{"resourceType": "Group", "schema": {
            "id": "urn:example:ext:1.0:Group", "attributes": [{"name": "costCode", "type": "string"}]}}]}"#;
        let c = from(&[("SCIMLET_SCHEMA_EXTENSIONS", doc)]).unwrap();
        let group = c.registry.resource_type(crate::domain::ResourceKind::Group);
        assert!(group.extension("urn:example:ext:1.0:Group").is_some());
        assert!(from(&[("SCIMLET_SCHEMA_EXTENSIONS", "{")]).is_err());
        assert!(
            from(&[(
                "SCIMLET_SCHEMA_EXTENSIONS_FILE",
                "/nonexistent/scimlet.json"
            )])
            .is_err()
        );
    }

    #[test]
    fn rejects_bad_values() {
        assert!(from(&[("SCIMLET_PUBLIC_URL", "ftp://x")]).is_err());
        assert!(from(&[("SCIMLET_BASE_PATH", "scim")]).is_err());
        assert!(from(&[("SCIMLET_MAX_BODY_BYTES", "lots")]).is_err());
        assert!(from(&[("SCIMLET_MAX_PAGE_SIZE", "0")]).is_err());
    }
}
