//! The SCIM operations, applied to a tenant-scoped [`ResourceStore`]. Each takes the parsed
//! pieces of a request as typed values (a [`Ctx`], the body, a [`request::SearchRequest`])
//! and returns a [`Reply`] or a [`ScimError`]. HTTP concerns (routing, query strings,
//! headers, content types) stay in the HTTP layer, which this module never imports.

pub mod bulk;
pub mod discovery;
pub mod find;
pub mod groups;
pub mod list;
pub mod members;
pub mod request;
pub mod resources;
pub mod sort;
pub mod write;

use http::StatusCode;
use serde_json::Value;

use crate::config::Config;
use crate::domain::UniqueValue;
use crate::domain::{TenantId, TenantSettings};
use crate::error::ScimError;
use crate::schema::input::{UnknownAttributes, unique_values};
use crate::schema::{AttributeDef, ResourceTypeDef};
use crate::store::{ResourceStore, StoreError};

/// Everything an operation needs besides its body.
pub struct Ctx<'a> {
    /// The authenticated tenant.
    pub tenant: &'a TenantId,
    /// Its behaviour switches.
    pub settings: &'a TenantSettings,
    /// The tenant-scoped store.
    pub store: &'a dyn ResourceStore,
    /// Server configuration.
    pub config: &'a Config,
    /// Public SCIM base URL for this request, without a trailing `/`.
    pub base_url: &'a str,
    /// `attributes` / `excludedAttributes` of the request.
    pub shape: request::Shape,
    /// Conditional request headers.
    pub preconditions: Preconditions,
}

impl Ctx<'_> {
    /// Whether this tenant enforces the uniqueness `def` declares.
    pub fn enforces(&self, rt: &ResourceTypeDef, def: &AttributeDef) -> bool {
        self.settings.enforces(rt.kind, def.name)
    }

    /// The uniqueness guards a resource must hold in this tenant.
    pub fn guards(
        &self,
        rt: &ResourceTypeDef,
        attributes: &serde_json::Map<String, Value>,
    ) -> Result<Vec<UniqueValue>, ScimError> {
        unique_values(rt, attributes, |d| self.enforces(rt, d))
    }

    /// Every guard a resource may hold, whatever the tenant's switches were when it was
    /// written (releasing a guard it does not hold is harmless).
    pub fn releasable_guards(
        &self,
        rt: &ResourceTypeDef,
        attributes: &serde_json::Map<String, Value>,
    ) -> Result<Vec<UniqueValue>, ScimError> {
        unique_values(rt, attributes, |_| true)
    }

    /// How this tenant treats attributes no schema defines.
    pub fn unknown_attributes(&self) -> UnknownAttributes {
        if self.settings.strict_attributes {
            UnknownAttributes::Reject
        } else {
            UnknownAttributes::Ignore
        }
    }
}

/// `If-Match` / `If-None-Match` as sent.
#[derive(Debug, Clone, Default)]
pub struct Preconditions {
    /// `If-Match` header value.
    pub if_match: Option<String>,
    /// `If-None-Match` header value.
    pub if_none_match: Option<String>,
}

impl Preconditions {
    /// Whether `etag` satisfies `If-Match` (absent header: yes). Weak comparison: `W/` is
    /// ignored, as RFC 7644 §3.14 versions are weak.
    pub fn if_match_ok(&self, etag: &str) -> bool {
        self.if_match
            .as_deref()
            .is_none_or(|h| etag_list_contains(h, etag))
    }

    /// Whether `If-None-Match` lists `etag` (so a GET can answer 304).
    pub fn not_modified(&self, etag: &str) -> bool {
        self.if_none_match
            .as_deref()
            .is_some_and(|h| etag_list_contains(h, etag))
    }
}

fn etag_list_contains(header: &str, etag: &str) -> bool {
    let strip = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    let want = strip(etag);
    header
        .split(',')
        .any(|candidate| candidate.trim() == "*" || strip(candidate) == want)
}

/// A reply's JSON body.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// A value, serialized by the HTTP layer.
    Json(Value),
    /// JSON text, serialized already (a list page is written resource by resource, so that
    /// its size is known while it is built and nothing is serialized twice).
    Text(Vec<u8>),
}

/// A successful result, rendered by the HTTP layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// Status code.
    pub status: StatusCode,
    /// JSON body, if any.
    pub body: Option<Body>,
    /// `Location` header.
    pub location: Option<String>,
    /// `ETag` header.
    pub etag: Option<String>,
}

impl Reply {
    /// 200 with a body.
    pub fn ok(body: Value) -> Self {
        Reply {
            status: StatusCode::OK,
            body: Some(Body::Json(body)),
            location: None,
            etag: None,
        }
    }

    /// 200 with a body already serialized as JSON text.
    pub fn ok_text(text: Vec<u8>) -> Self {
        Reply {
            status: StatusCode::OK,
            body: Some(Body::Text(text)),
            location: None,
            etag: None,
        }
    }

    /// A status without a body (204, 304).
    pub fn empty(status: StatusCode) -> Self {
        Reply {
            status,
            body: None,
            location: None,
            etag: None,
        }
    }
}

pub use crate::clock::now_rfc3339;

/// Maps a store failure that the operation did not handle itself.
pub fn store_error(err: StoreError) -> ScimError {
    match err {
        StoreError::NotFound => ScimError::NotFound("resource not found".into()),
        StoreError::Conflict { attr } => {
            ScimError::Uniqueness(format!("the value of '{attr}' is already in use")).about(attr)
        }
        // A membership edge changed under a write that did not retry: try again shortly.
        StoreError::Throttled | StoreError::Raced => ScimError::Throttled {
            retry_after_secs: 1,
        },
        StoreError::VersionMismatch => {
            ScimError::PreconditionFailed("the resource was changed by another request".into())
        }
        StoreError::MissingMember { id } => {
            ScimError::InvalidValue(format!("member '{id}' does not exist"))
                .about(groups::link_attribute(crate::domain::ResourceKind::Group))
        }
        err @ (StoreError::AlreadyExists | StoreError::Setup(_) | StoreError::Backend(_)) => {
            ScimError::internal(err)
        }
    }
}

/// Parses a JSON request body.
pub fn parse_json(body: &[u8]) -> Result<Value, ScimError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ScimError::InvalidSyntax("the request body is empty".into()));
    }
    // serde_json's messages name the position, never the content; its recursion limit (128)
    // bounds nesting.
    serde_json::from_slice(body)
        .map_err(|e| ScimError::InvalidSyntax(format!("the request body is not valid JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_matching_is_weak_and_accepts_lists_and_star() {
        let p = Preconditions {
            if_match: Some("W/\"3\", \"4\"".into()),
            if_none_match: Some("*".into()),
        };
        assert!(p.if_match_ok("W/\"3\""));
        assert!(p.if_match_ok("W/\"4\""));
        assert!(!p.if_match_ok("W/\"5\""));
        assert!(p.not_modified("W/\"9\""));
        assert!(Preconditions::default().if_match_ok("W/\"1\""));
        assert!(!Preconditions::default().not_modified("W/\"1\""));
    }

    #[test]
    fn timestamps_are_rfc3339_utc_millis() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 24, "{t}");
        assert!(t.ends_with('Z'));
    }

    #[test]
    fn json_errors_are_invalid_syntax() {
        for body in [&b""[..], b"  ", b"{", b"{\"a\":}", &[b'['; 200]] {
            let err = parse_json(body).unwrap_err();
            assert_eq!(err.scim_type(), Some(crate::error::ScimType::InvalidSyntax));
        }
    }
}
