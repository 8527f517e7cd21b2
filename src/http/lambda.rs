//! The Lambda front door: API Gateway HTTP API (payload v2) events, via `lambda_http`.
//!
//! This module and `src/bin/lambda.rs` are the only code that names `lambda_http`. The
//! adapter reads the request's path and raw query from its URI, which `lambda_http` rebuilds
//! from the event's `rawPath` and `rawQueryString` (its pre-parsed query map re-encodes values
//! and is not used). With a non-`$default` stage, `lambda_http` puts `/{stage}` in front of
//! the path unless `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` is set; the router accepts both.

use bytes::Bytes;
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};

use super::{IamCaller, RequestIds};

use crate::app::App;

/// Converts a `lambda_http` request into the core's request type.
pub fn into_core_request(request: lambda_http::Request) -> http::Request<Bytes> {
    let ids = request_ids(&request);
    let caller = iam_caller(&request);
    let (mut parts, body) = request.into_parts();
    parts.extensions.insert(ids);
    if let Some(caller) = caller {
        parts.extensions.insert(caller);
    }
    let bytes = match body {
        Body::Empty => Bytes::new(),
        Body::Text(text) => Bytes::from(text),
        Body::Binary(data) => Bytes::from(data),
        // `Body` is non-exhaustive; any other variant still derefs to its bytes.
        other => Bytes::copy_from_slice(other.as_ref()),
    };
    http::Request::from_parts(parts, bytes)
}

/// Lambda's and API Gateway's ids of a request.
pub fn request_ids(request: &lambda_http::Request) -> RequestIds {
    let api = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.clone(),
        #[allow(unreachable_patterns)] // other event sources, when their features are on
        _ => None,
    };
    RequestIds {
        lambda: request
            .lambda_context_ref()
            .map(|context| context.request_id.clone())
            .filter(|id| !id.is_empty()),
        api,
    }
}

/// The IAM principal API Gateway authorised the request for, if the route uses IAM
/// authorisation.
pub fn iam_caller(request: &lambda_http::Request) -> Option<IamCaller> {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .authorizer
            .as_ref()
            .and_then(|a| a.iam.as_ref())
            .map(|iam| {
                IamCaller(
                    iam.user_arn
                        .clone()
                        .or_else(|| iam.caller_id.clone())
                        .unwrap_or_default(),
                )
            }),
        #[allow(unreachable_patterns)] // other event sources, when their features are on
        _ => None,
    }
}

/// Converts the core's response into a `lambda_http` response (text body: SCIM is JSON).
pub fn into_lambda_response(response: http::Response<Bytes>) -> lambda_http::Response<Body> {
    let (parts, body) = response.into_parts();
    let body = if body.is_empty() {
        Body::Empty
    } else {
        match String::from_utf8(body.to_vec()) {
            Ok(text) => Body::Text(text),
            Err(e) => Body::Binary(e.into_bytes()),
        }
    };
    lambda_http::Response::from_parts(parts, body)
}

/// Handles one Lambda event. Never fails: every error is a SCIM error response.
pub async fn handle(app: &App, request: lambda_http::Request) -> lambda_http::Response<Body> {
    into_lambda_response(app.handle(into_core_request(request)).await)
}
