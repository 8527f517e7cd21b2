//! `ScimError`: every way a request can fail, and its RFC 7644 §3.12 rendering.
//!
//! The HTTP status and the `scimType` of each failure are decided in exactly one place
//! ([`ScimError::status`] and [`ScimError::scim_type`], both exhaustive matches), so a new
//! variant cannot silently become a generic error. `detail` texts are written for the client
//! and never echo attribute values back (they may be personal data); the cause of an
//! [`ScimError::Internal`] is logged, never sent.

use std::fmt;

use http::StatusCode;
use serde_json::{Value, json};

/// The URN of the SCIM error message schema (RFC 7644 §3.12).
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// A failed SCIM request. `Display` is the `detail` sent to the client.
#[derive(Debug, thiserror::Error)]
pub enum ScimError {
    /// The request body is not valid JSON or not the expected JSON shape (400 `invalidSyntax`).
    #[error("{0}")]
    InvalidSyntax(String),
    /// An attribute value has the wrong type or is otherwise unacceptable (400 `invalidValue`).
    #[error("{0}")]
    InvalidValue(String),
    /// The `filter` cannot be parsed or evaluated (400 `invalidFilter`).
    #[error("{0}")]
    InvalidFilter(String),
    /// A pagination cursor this server did not issue for this query (400 `invalidCursor`,
    /// RFC 9865).
    #[error("{0}")]
    InvalidCursor(String),
    /// A PATCH path or attribute path names nothing the resource has (400 `invalidPath`).
    #[error("{0}")]
    InvalidPath(String),
    /// A PATCH path with a value filter matched nothing (400 `noTarget`).
    #[error("{0}")]
    NoTarget(String),
    /// An attempt to change a read-only or immutable attribute (400 `mutability`).
    #[error("{0}")]
    Mutability(String),
    /// The request would need more work than the server allows (400 `tooMany`).
    #[error("{0}")]
    TooMany(String),
    /// A query parameter or header is malformed (400, no `scimType`).
    #[error("{0}")]
    BadRequest(String),
    /// Missing, malformed, unknown, expired or revoked bearer token (401).
    #[error("{0}")]
    Unauthorized(String),
    /// The request is understood but refused (403), e.g. a filter on a discovery endpoint.
    #[error("{0}")]
    Forbidden(String),
    /// No such resource in this tenant, or no such endpoint (404).
    #[error("{0}")]
    NotFound(String),
    /// The endpoint exists but not with this HTTP method (405).
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The request conflicts with itself or the resource state in a way RFC 7644 gives no
    /// `scimType` for, e.g. circular `bulkId` references (409).
    #[error("{0}")]
    Conflict(String),
    /// A unique attribute value is already taken (409 `uniqueness`).
    #[error("{0}")]
    Uniqueness(String),
    /// `If-Match` did not match the current version (412, no `scimType`: RFC 7644 has none).
    #[error("{0}")]
    PreconditionFailed(String),
    /// The request body is larger than the configured limit (413).
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The request body is not JSON (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The store is throttling or contended even after retries (429 with `Retry-After`).
    #[error("the service is busy; retry after {retry_after_secs} s")]
    Throttled {
        /// Seconds the client should wait, sent as `Retry-After`.
        retry_after_secs: u32,
    },
    /// A SCIM feature this server does not implement (501).
    #[error("{0}")]
    NotImplemented(String),
    /// A bug or an outage. The cause is logged by the handler; the client sees a generic text.
    #[error("internal server error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// `error`, about the attribute named (see [`ScimError::about`]): the name travels with the
    /// error as a value of its own, so logs and per-tenant views can show which attribute
    /// failed without parsing messages (which may quote values).
    #[error("{error}")]
    About {
        /// The attribute's name or path, sanitised ([`attribute_name`]).
        attribute: String,
        /// The failure.
        error: Box<ScimError>,
    },
}

/// The most characters of an attribute name kept with an error.
const MAX_ATTRIBUTE_NAME: usize = 100;

/// An attribute name or path as it may be logged: cut at the first character that cannot be
/// part of a name (a value filter `[…]`, a space, a quote: what follows may be a value) and
/// at [`MAX_ATTRIBUTE_NAME`] characters.
pub fn attribute_name(raw: &str) -> String {
    raw.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '_' | '-' | '$'))
        .take(MAX_ATTRIBUTE_NAME)
        .collect()
}

/// The `scimType` keywords of RFC 7644 §3.12 (and RFC 9865), as sent on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimType {
    /// `invalidFilter`
    InvalidFilter,
    /// `tooMany`
    TooMany,
    /// `uniqueness`
    Uniqueness,
    /// `mutability`
    Mutability,
    /// `invalidSyntax`
    InvalidSyntax,
    /// `invalidPath`
    InvalidPath,
    /// `noTarget`
    NoTarget,
    /// `invalidValue`
    InvalidValue,
    /// `invalidCursor` (RFC 9865)
    InvalidCursor,
}

impl ScimType {
    /// The keyword as it appears in the error body.
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidCursor => "invalidCursor",
        }
    }
}

impl fmt::Display for ScimType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ScimError {
    /// Wraps an unexpected failure (a bug or an outage) as a 500.
    pub fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        ScimError::Internal(cause.into())
    }

    /// This error, about `attribute` (a name or path; sanitised by [`attribute_name`]). An
    /// error already about an attribute keeps it (the innermost name is the most precise).
    pub fn about(self, attribute: &str) -> Self {
        match self {
            about @ ScimError::About { .. } => about,
            error => {
                let attribute = attribute_name(attribute);
                if attribute.is_empty() {
                    return error;
                }
                ScimError::About {
                    attribute,
                    error: Box::new(error),
                }
            }
        }
    }

    /// The attribute this error is about, if it says.
    pub fn attribute(&self) -> Option<&str> {
        match self {
            ScimError::About { attribute, .. } => Some(attribute),
            _ => None,
        }
    }

    /// The failure itself (without the attribute it is about).
    pub fn kind(&self) -> &ScimError {
        match self {
            ScimError::About { error, .. } => error.kind(),
            other => other,
        }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ScimError::InvalidSyntax(_)
            | ScimError::InvalidValue(_)
            | ScimError::InvalidFilter(_)
            | ScimError::InvalidCursor(_)
            | ScimError::InvalidPath(_)
            | ScimError::NoTarget(_)
            | ScimError::Mutability(_)
            | ScimError::TooMany(_)
            | ScimError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ScimError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ScimError::Forbidden(_) => StatusCode::FORBIDDEN,
            ScimError::NotFound(_) => StatusCode::NOT_FOUND,
            ScimError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ScimError::Uniqueness(_) | ScimError::Conflict(_) => StatusCode::CONFLICT,
            ScimError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ScimError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ScimError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ScimError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            ScimError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            ScimError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ScimError::About { error, .. } => error.status(),
        }
    }

    /// The RFC 7644 §3.12 `scimType`, where the RFC defines one for this failure.
    pub fn scim_type(&self) -> Option<ScimType> {
        match self {
            ScimError::InvalidSyntax(_) => Some(ScimType::InvalidSyntax),
            ScimError::InvalidValue(_) => Some(ScimType::InvalidValue),
            ScimError::InvalidFilter(_) => Some(ScimType::InvalidFilter),
            ScimError::InvalidCursor(_) => Some(ScimType::InvalidCursor),
            ScimError::InvalidPath(_) => Some(ScimType::InvalidPath),
            ScimError::NoTarget(_) => Some(ScimType::NoTarget),
            ScimError::Mutability(_) => Some(ScimType::Mutability),
            ScimError::TooMany(_) => Some(ScimType::TooMany),
            ScimError::Uniqueness(_) => Some(ScimType::Uniqueness),
            ScimError::BadRequest(_)
            | ScimError::Unauthorized(_)
            | ScimError::Forbidden(_)
            | ScimError::NotFound(_)
            | ScimError::MethodNotAllowed(_)
            | ScimError::Conflict(_)
            | ScimError::PreconditionFailed(_)
            | ScimError::PayloadTooLarge(_)
            | ScimError::UnsupportedMediaType(_)
            | ScimError::Throttled { .. }
            | ScimError::NotImplemented(_)
            | ScimError::Internal(_) => None,
            ScimError::About { error, .. } => error.scim_type(),
        }
    }

    /// A short category for logs and per-tenant views (`invalid_value`, `not_found`, …): what
    /// went wrong, without the message (which may quote the request).
    pub fn reason(&self) -> &'static str {
        match self {
            ScimError::InvalidSyntax(_) => "invalid_syntax",
            ScimError::InvalidValue(_) => "invalid_value",
            ScimError::InvalidFilter(_) => "invalid_filter",
            ScimError::InvalidCursor(_) => "invalid_cursor",
            ScimError::InvalidPath(_) => "invalid_path",
            ScimError::NoTarget(_) => "no_target",
            ScimError::Mutability(_) => "mutability",
            ScimError::TooMany(_) => "too_many",
            ScimError::Uniqueness(_) => "uniqueness",
            ScimError::BadRequest(_) => "bad_request",
            ScimError::Unauthorized(_) => "unauthorized",
            ScimError::Forbidden(_) => "forbidden",
            ScimError::NotFound(_) => "not_found",
            ScimError::MethodNotAllowed(_) => "method_not_allowed",
            ScimError::Conflict(_) => "conflict",
            ScimError::PreconditionFailed(_) => "precondition_failed",
            ScimError::PayloadTooLarge(_) => "payload_too_large",
            ScimError::UnsupportedMediaType(_) => "unsupported_media_type",
            ScimError::Throttled { .. } => "throttled",
            ScimError::NotImplemented(_) => "not_implemented",
            ScimError::Internal(_) => "internal",
            ScimError::About { error, .. } => error.reason(),
        }
    }

    /// The RFC 7644 §3.12 error body (`status` is a string, as the RFC's examples show).
    pub fn to_body(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status().as_u16().to_string(),
            "detail": self.to_string(),
        });
        if let (Some(scim_type), Some(map)) = (self.scim_type(), body.as_object_mut()) {
            map.insert("scimType".into(), Value::from(scim_type.as_str()));
        }
        body
    }

    /// Walks the error's `source()` chain into one line, for logs (never sent to clients).
    pub fn chain(&self) -> String {
        let mut out = String::new();
        let mut current: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(err) = current {
            if !out.is_empty() {
                out.push_str(": caused by: ");
            }
            out.push_str(&err.to_string());
            current = err.source();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_about_an_attribute_carries_its_name_not_its_value() {
        let err = ScimError::NoTarget("'emails[value eq \"a@b\"]' matches no value".into())
            .about("emails[value eq \"a@b\"].type");
        assert_eq!(err.attribute(), Some("emails"));
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        assert_eq!(err.scim_type(), Some(ScimType::NoTarget));
        assert_eq!(err.reason(), "no_target");
        assert!(matches!(err.kind(), ScimError::NoTarget(_)));
        // The client sees the same body as without the name.
        assert_eq!(err.to_body()["scimType"], "noTarget");
        assert!(err.to_string().starts_with("'emails["));
        // The innermost name stays; names are cut and bounded; nothing to name, no wrapper.
        let inner = ScimError::InvalidValue("x".into())
            .about("name.givenName")
            .about("name");
        assert_eq!(inner.attribute(), Some("name.givenName"));
        let urn = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";
        assert_eq!(
            ScimError::Mutability("x".into()).about(urn).attribute(),
            Some(urn)
        );
        assert_eq!(attribute_name(&"a".repeat(500)).len(), 100);
        assert_eq!(attribute_name("title\" or 1 eq 1"), "title");
        assert!(
            ScimError::InvalidValue("x".into())
                .about("\"quoted\"")
                .attribute()
                .is_none()
        );
    }

    #[test]
    fn uniqueness_renders_rfc_body() {
        let body = ScimError::Uniqueness("userName is already taken".into()).to_body();
        assert_eq!(body["schemas"][0], ERROR_SCHEMA);
        assert_eq!(body["status"], "409");
        assert_eq!(body["scimType"], "uniqueness");
        assert_eq!(body["detail"], "userName is already taken");
    }

    #[test]
    fn precondition_failed_has_no_scim_type() {
        let body = ScimError::PreconditionFailed("version mismatch".into()).to_body();
        assert_eq!(body["status"], "412");
        assert!(body.get("scimType").is_none());
    }

    #[test]
    fn internal_hides_its_cause_but_chain_keeps_it() {
        let err = ScimError::internal("disk on fire");
        assert_eq!(err.to_body()["detail"], "internal server error");
        assert!(err.chain().contains("disk on fire"));
        assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
