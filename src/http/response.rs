//! Building HTTP responses: SCIM JSON bodies with `application/scim+json`, `Location`,
//! `ETag`, `WWW-Authenticate` on 401 and `Retry-After` on 429.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, ETAG, HeaderValue, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{Response, StatusCode};
use serde_json::Value;

use crate::error::ScimError;
use crate::ops::{Body, Reply};

/// The SCIM media type (RFC 7644 §8.1).
pub const SCIM_JSON: &str = "application/scim+json";

/// Renders an admin API answer (`application/json`).
pub fn admin_response(reply: crate::admin::api::AdminReply) -> Response<Bytes> {
    let bytes = reply
        .body
        .map(|b| serde_json::to_vec(&b).unwrap_or_default())
        .unwrap_or_default();
    let mut response = Response::new(Bytes::from(bytes));
    *response.status_mut() = reply.status;
    if !response.body().is_empty() {
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    response
}

fn json_response(status: StatusCode, body: &Value) -> Response<Bytes> {
    // Serialising a `Value` cannot fail; fall back to an empty body rather than panic.
    text_response(status, serde_json::to_vec(body).unwrap_or_default())
}

fn text_response(status: StatusCode, bytes: Vec<u8>) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(bytes));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    response
}

fn empty_response(status: StatusCode) -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = status;
    response
}

/// Renders a successful operation.
pub fn reply_response(reply: Reply) -> Response<Bytes> {
    let mut response = match reply.body {
        Some(Body::Json(body)) => json_response(reply.status, &body),
        Some(Body::Text(text)) => text_response(reply.status, text),
        None => empty_response(reply.status),
    };
    let headers = response.headers_mut();
    if let Some(location) = reply.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        headers.insert(LOCATION, location);
    }
    if let Some(etag) = reply.etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
        headers.insert(ETAG, etag);
    }
    response
}

/// Renders an error as an RFC 7644 §3.12 body.
pub fn error_response(err: &ScimError) -> Response<Bytes> {
    let mut response = json_response(err.status(), &err.to_body());
    let headers = response.headers_mut();
    match err.kind() {
        ScimError::Unauthorized(_) => {
            headers.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"scimlet\""),
            );
        }
        ScimError::Throttled { retry_after_secs } => {
            headers.insert(RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        _ => {}
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_their_headers() {
        let r = error_response(&ScimError::Unauthorized("no".into()));
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(
            r.headers()[WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        assert_eq!(r.headers()[CONTENT_TYPE], SCIM_JSON);
        let r = error_response(&ScimError::Throttled {
            retry_after_secs: 2,
        });
        assert_eq!(r.headers()[RETRY_AFTER], "2");
    }
}
