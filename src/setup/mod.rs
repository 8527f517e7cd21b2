//! The setup page (`/setup/<id>.<secret>`): what a customer's IT admin opens from the setup
//! link the SaaS team's backend created (admin API). For that one tenant it shows the SCIM
//! base URL, issues, rotates and revokes tokens (a new secret shown once), the identity
//! providers' guides (`docs/idp/`), the tenant's recent activity (refreshed by a small script;
//! the page works without it) and its settings, read-only.
//!
//! Served only where the admin API is (`Config::admin` not off). Security: the link's secret
//! is checked on every request (a SHA-256 compared in constant time; unknown or forged: 404,
//! expired or revoked: 410, with a page saying so); state changes are POSTs carrying a CSRF
//! value that must equal the `SameSite=Strict` cookie set with the page, from the same origin;
//! responses carry a strict Content-Security-Policy (no inline script or style, no third-party
//! anything), `Referrer-Policy: same-origin` (the secret is in the URL: no other site is told it; same-origin form posts keep their `Origin`), `no-store` and
//! `frame-ancestors 'none'`. The holder of a link can do nothing outside its tenant: every
//! action names the link's tenant, and token actions check the token is that tenant's.

pub mod guides;
pub mod page;

use bytes::Bytes;
use http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, LOCATION, REFERRER_POLICY,
    SET_COOKIE, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use serde_json::json;

use crate::admin::links::{self, Refused};
use crate::admin::{self, AdminError};
use crate::domain::{SetupLink, Tenant, TenantId};
use crate::store::{Directory, ResourceStore};

/// The setup pages' path prefix.
pub const PREFIX: &str = "/setup";

const CSRF_COOKIE: &str = "scimlet_setup_csrf";
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                      connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// What a setup request is served with.
pub struct SetupCtx<'a> {
    /// Tenants, tokens and links.
    pub directory: &'a dyn Directory,
    /// Activity.
    pub store: &'a dyn ResourceStore,
    /// The tenant's SCIM base URL as identity providers must use it.
    pub scim_base: &'a str,
    /// `[/stage]/setup`.
    pub root: &'a str,
    /// `scheme://host`, for the same-origin check of POSTs.
    pub origin: &'a str,
}

fn respond(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Bytes> {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn html(status: StatusCode, body: String) -> Response<Bytes> {
    respond(status, "text/html; charset=utf-8", body)
}

fn refusal(ctx: &SetupCtx<'_>, refused: Refused) -> Response<Bytes> {
    let (status, title, text) = match refused {
        Refused::Unknown => (
            StatusCode::NOT_FOUND,
            "Setup link not found",
            "This setup link does not exist: it may be mistyped, or was replaced.",
        ),
        Refused::Expired => (
            StatusCode::GONE,
            "Setup link expired",
            "This setup link has expired.",
        ),
        Refused::Revoked => (
            StatusCode::GONE,
            "Setup link revoked",
            "This setup link was revoked.",
        ),
    };
    html(status, page::refusal(ctx.root, title, text))
}

fn failure(ctx: &SetupCtx<'_>, err: &AdminError) -> Response<Bytes> {
    let status = match err {
        AdminError::NoSuchToken(_) | AdminError::NoSuchTenant(_) => StatusCode::NOT_FOUND,
        _ => {
            tracing::error!(error = %err, "setup page request failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    let text = match status {
        StatusCode::NOT_FOUND => "No such token for this tenant.",
        _ => "Something went wrong; try again in a moment.",
    };
    html(status, page::refusal(ctx.root, "Not done", text))
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn new_csrf() -> String {
    // Without randomness, an empty value: every POST is then refused (fail closed).
    crate::secret::random_bytes(16)
        .map(|b| crate::secret::hex(&b))
        .unwrap_or_default()
}

/// Whether a POST carries the page's CSRF value (form field equal to the cookie) and comes
/// from this origin (when the browser says where from).
fn csrf_ok(ctx: &SetupCtx<'_>, headers: &HeaderMap, body: &[u8]) -> bool {
    let field = form_urlencoded::parse(body)
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.into_owned());
    let same = match (field, cookie(headers, CSRF_COOKIE)) {
        (Some(f), Some(c)) => !f.is_empty() && f.len() == c.len() && f == c,
        _ => false,
    };
    let origin_ok = headers
        .get(http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|o| o == ctx.origin || ctx.origin.starts_with(&format!("{o}/")));
    same && origin_ok
}

/// Serves a request under [`PREFIX`]; `relative` is the path after it.
pub async fn handle(
    ctx: &SetupCtx<'_>,
    method: &Method,
    relative: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Response<Bytes> {
    let segments: Vec<&str> = relative.trim_matches('/').split('/').collect();
    match (method.clone(), segments.as_slice()) {
        (Method::GET, ["assets", "setup.css"]) => {
            return respond(
                StatusCode::OK,
                "text/css; charset=utf-8",
                include_str!("assets/setup.css"),
            );
        }
        (Method::GET, ["assets", "setup.js"]) => {
            return respond(
                StatusCode::OK,
                "text/javascript; charset=utf-8",
                include_str!("assets/setup.js"),
            );
        }
        _ => {}
    }
    let Some((raw, rest)) = segments.split_first() else {
        return refusal(ctx, Refused::Unknown);
    };
    let (link, tenant) = match links::open(ctx.directory, raw).await {
        Ok(Ok(opened)) => opened,
        Ok(Err(refused)) => return refusal(ctx, refused),
        Err(err) => return failure(ctx, &err.into()),
    };
    let path = format!("{}/{raw}", ctx.root);
    match (method.clone(), rest) {
        (Method::GET, []) => render(ctx, &link, &tenant, &path, headers, None).await,
        (Method::GET, ["activity"]) => activity_json(ctx, &tenant.id).await,
        (Method::POST, action) => {
            if !csrf_ok(ctx, headers, body) {
                return html(
                    StatusCode::FORBIDDEN,
                    page::refusal(
                        ctx.root,
                        "Refused",
                        "The form was not sent from this page: reload it and try again.",
                    ),
                );
            }
            let id = &tenant.id;
            match action {
                ["tokens"] => {
                    let days = Some(admin::DEFAULT_TOKEN_DAYS);
                    match admin::issue(ctx.directory, id, Some("setup page".into()), days).await {
                        Ok(issued) => {
                            render(ctx, &link, &tenant, &path, headers, Some(&issued.token)).await
                        }
                        Err(err) => failure(ctx, &err),
                    }
                }
                ["tokens", token, "rotate"] => {
                    let days = Some(admin::DEFAULT_TOKEN_DAYS);
                    match admin::rotate(ctx.directory, id, token, 7 * 86_400, days).await {
                        Ok((successor, _)) => {
                            let shown = Some(successor.token.as_str());
                            render(ctx, &link, &tenant, &path, headers, shown).await
                        }
                        Err(err) => failure(ctx, &err),
                    }
                }
                ["tokens", token, "revoke"] => {
                    match admin::revoke(ctx.directory, id, token).await {
                        Ok(()) => {
                            let mut response =
                                respond(StatusCode::SEE_OTHER, "text/plain; charset=utf-8", "");
                            if let Ok(location) = HeaderValue::from_str(&path) {
                                response.headers_mut().insert(LOCATION, location);
                            }
                            response
                        }
                        Err(err) => failure(ctx, &err),
                    }
                }
                _ => refusal(ctx, Refused::Unknown),
            }
        }
        _ => refusal(ctx, Refused::Unknown),
    }
}

/// Recent activity entries the page shows.
const ACTIVITY_SHOWN: usize = 20;

async fn render(
    ctx: &SetupCtx<'_>,
    link: &SetupLink,
    tenant: &Tenant,
    path: &str,
    headers: &HeaderMap,
    new_token: Option<&str>,
) -> Response<Bytes> {
    let tokens = match ctx.directory.list_tokens(&tenant.id).await {
        Ok(t) => t,
        Err(err) => return failure(ctx, &err.into()),
    };
    let activity = ctx
        .store
        .recent_activity(&tenant.id, ACTIVITY_SHOWN)
        .await
        .unwrap_or_default();
    let csrf = cookie(headers, CSRF_COOKIE)
        .filter(|c| c.len() == 32 && c.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or_else(new_csrf);
    let body = page::page(&page::PageData {
        link,
        root: ctx.root,
        path,
        scim_base: ctx.scim_base,
        settings: &tenant.settings,
        tokens: &tokens,
        activity: &activity,
        new_token,
        csrf: &csrf,
    });
    let mut response = html(StatusCode::OK, body);
    let secure = if ctx.origin.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let value = format!(
        "{CSRF_COOKIE}={csrf}; Path={}; HttpOnly; SameSite=Strict{secure}",
        ctx.root
    );
    if let Ok(v) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(SET_COOKIE, v);
    }
    response
}

async fn activity_json(ctx: &SetupCtx<'_>, tenant: &TenantId) -> Response<Bytes> {
    let entries = ctx
        .store
        .recent_activity(tenant, ACTIVITY_SHOWN)
        .await
        .unwrap_or_default();
    let list: Vec<_> = entries
        .iter()
        .map(|e| {
            json!({
                "at": e.at, "operation": page::operation(e), "status": e.status,
                "reason": e.reason, "attribute": e.attribute,
            })
        })
        .collect();
    respond(
        StatusCode::OK,
        "application/json",
        serde_json::to_vec(&json!({"activity": list})).unwrap_or_default(),
    )
}
