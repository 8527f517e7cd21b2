//! HTTP: routing, query strings, responses, and the two front doors (the local hyper server
//! and the Lambda adapter). Everything below this module sees an `http::Request<Bytes>` and
//! answers an `http::Response<Bytes>`; nothing below it knows which front door was used.

pub mod lambda;
pub mod query;
pub mod response;
pub mod route;
pub mod serve;

use http::HeaderMap;
use http::header::{CONTENT_TYPE, HOST};

use crate::error::ScimError;

/// Accepts `application/scim+json` and `application/json` (any parameters, any case), or no
/// `Content-Type` at all; anything else is a 415.
pub fn check_content_type(headers: &HeaderMap) -> Result<(), ScimError> {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Ok(());
    };
    let media = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media == "application/scim+json" || media == "application/json" {
        Ok(())
    } else {
        Err(ScimError::UnsupportedMediaType(
            "send the body as application/scim+json or application/json".into(),
        ))
    }
}

/// The public SCIM base URL of a request: the configured one, or `scheme://host` + the path
/// prefix seen before the base path (an API Gateway stage) + the base path.
pub fn base_url(
    configured: Option<&str>,
    headers: &HeaderMap,
    prefix: &str,
    base_path: &str,
) -> String {
    if let Some(url) = configured {
        return url.to_owned();
    }
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|p| *p == "https" || *p == "http")
        .unwrap_or("http");
    format!("{scheme}://{host}{prefix}{base_path}")
}

/// Where this server answers, without the SCIM base path (`https://host[/stage]`): the
/// configured public URL without its base path, else the request's scheme, host and prefix.
pub fn origin(
    configured: Option<&str>,
    headers: &HeaderMap,
    prefix: &str,
    base_path: &str,
) -> String {
    match configured {
        Some(url) => url.strip_suffix(base_path).unwrap_or(url).to_owned(),
        None => base_url(None, headers, prefix, ""),
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn content_types() {
        let mut h = HeaderMap::new();
        assert!(check_content_type(&h).is_ok());
        for ok in [
            "application/scim+json",
            "application/json; charset=utf-8",
            "Application/SCIM+JSON",
        ] {
            h.insert(CONTENT_TYPE, HeaderValue::from_static(ok));
            assert!(check_content_type(&h).is_ok(), "{ok}");
        }
        h.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert_eq!(
            check_content_type(&h).unwrap_err().status(),
            http::StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
    }

    #[test]
    fn base_urls() {
        let mut h = HeaderMap::new();
        h.insert(HOST, HeaderValue::from_static("abc.execute-api.example"));
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert_eq!(
            base_url(None, &h, "/prod", "/scim/v2"),
            "https://abc.execute-api.example/prod/scim/v2"
        );
        assert_eq!(
            base_url(Some("https://id.example/scim/v2"), &h, "/prod", "/scim/v2"),
            "https://id.example/scim/v2"
        );
    }
}

/// The IAM principal API Gateway authorised a request for (its ARN), set by the Lambda adapter
/// when the route uses IAM authorisation (the admin API's, in AWS); absent otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamCaller(pub String);

/// Ids that let one request be followed across logs: the Lambda invocation's request id and
/// API Gateway's (the access log's). Set by the Lambda adapter as a request extension; absent
/// locally.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestIds {
    /// Lambda's request id.
    pub lambda: Option<String>,
    /// API Gateway's request id.
    pub api: Option<String>,
}
