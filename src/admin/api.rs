//! The admin API (`/admin/v1/…`, described by `docs/admin-api.openapi.json`): the SaaS
//! team's backend manages tenants, tokens and reads activity over JSON, through the same
//! actions as the `scimlet` CLI (this module only translates JSON to them and back).
//!
//! Who may call it is decided before a request gets here (`App`): in AWS, API Gateway's IAM
//! authorisation on the admin route; elsewhere, the admin key (`SCIMLET_ADMIN_KEY`, printed by
//! `scimlet serve`). SCIM tokens never authorise anything here.

use http::{Method, StatusCode};
use serde_json::{Value, json};

use super::{AdminError, json as shapes};
use crate::domain::{TenantId, TenantSettings};
use crate::store::{Directory, ResourceStore};

/// The path prefix of the admin API.
pub const PREFIX: &str = "/admin/v1";

/// An admin endpoint (the method is matched by [`handle`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminRoute {
    /// `/tenants`
    Tenants,
    /// `/tenants/{id}`
    Tenant(String),
    /// `/tenants/{id}/tokens`
    Tokens(String),
    /// `/tenants/{id}/tokens/{token}`
    Token(String, String),
    /// `/tenants/{id}/tokens/{token}/rotate`
    Rotate(String, String),
    /// `/tenants/{id}/activity`
    Activity(String),
    /// `/tenants/{id}/setup-links`
    SetupLinks(String),
    /// `/tenants/{id}/setup-links/{link}`
    SetupLink(String, String),
    /// `/tenant-deletions`: go on with the deletions in progress (the template's schedule).
    Deletions,
}

impl AdminRoute {
    /// Parses a path relative to [`PREFIX`]; `None` if it names no admin endpoint.
    pub fn parse(path: &str) -> Option<AdminRoute> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let owned = |s: &&str| (*s).to_owned();
        Some(match segments.as_slice() {
            ["tenants"] => AdminRoute::Tenants,
            ["tenant-deletions"] => AdminRoute::Deletions,
            ["tenants", id] => AdminRoute::Tenant(owned(id)),
            ["tenants", id, "tokens"] => AdminRoute::Tokens(owned(id)),
            ["tenants", id, "tokens", token] => AdminRoute::Token(owned(id), owned(token)),
            ["tenants", id, "tokens", token, "rotate"] => {
                AdminRoute::Rotate(owned(id), owned(token))
            }
            ["tenants", id, "activity"] => AdminRoute::Activity(owned(id)),
            ["tenants", id, "setup-links"] => AdminRoute::SetupLinks(owned(id)),
            ["tenants", id, "setup-links", link] => AdminRoute::SetupLink(owned(id), owned(link)),
            _ => return None,
        })
    }

    /// The route's name in logs (`admin.tenants`, …; never ids).
    pub fn name(&self) -> &'static str {
        match self {
            AdminRoute::Tenants => "admin.tenants",
            AdminRoute::Tenant(_) => "admin.tenant",
            AdminRoute::Tokens(_) => "admin.tokens",
            AdminRoute::Token(..) => "admin.token",
            AdminRoute::Rotate(..) => "admin.token_rotate",
            AdminRoute::Activity(_) => "admin.activity",
            AdminRoute::SetupLinks(_) => "admin.setup_links",
            AdminRoute::SetupLink(..) => "admin.setup_link",
            AdminRoute::Deletions => "admin.tenant_deletions",
        }
    }
}

/// An admin API answer: status and JSON body (`None`: no body).
#[derive(Debug)]
pub struct AdminReply {
    /// The status.
    pub status: StatusCode,
    /// The body.
    pub body: Option<Value>,
}

impl AdminReply {
    fn ok(body: Value) -> Self {
        AdminReply {
            status: StatusCode::OK,
            body: Some(body),
        }
    }

    fn created(body: Value) -> Self {
        AdminReply {
            status: StatusCode::CREATED,
            body: Some(body),
        }
    }

    fn no_content() -> Self {
        AdminReply {
            status: StatusCode::NO_CONTENT,
            body: None,
        }
    }

    /// An error: `{"status": 404, "error": "no_such_tenant", "detail": "…"}`.
    pub fn error(status: StatusCode, error: &str, detail: impl Into<String>) -> Self {
        AdminReply {
            status,
            body: Some(json!({
                "status": status.as_u16(),
                "error": error,
                "detail": detail.into(),
            })),
        }
    }
}

fn bad_request(detail: impl Into<String>) -> AdminReply {
    AdminReply::error(StatusCode::BAD_REQUEST, "bad_request", detail)
}

fn from_admin(err: AdminError) -> AdminReply {
    let (status, code) = match &err {
        AdminError::TenantExists(_) => (StatusCode::CONFLICT, "tenant_exists"),
        AdminError::NoSuchTenant(_) => (StatusCode::NOT_FOUND, "no_such_tenant"),
        AdminError::NoSuchToken(_) => (StatusCode::NOT_FOUND, "no_such_token"),
        AdminError::NoSuchLink(_) => (StatusCode::NOT_FOUND, "no_such_link"),
        AdminError::NotDeleted(..) => (StatusCode::NOT_FOUND, "not_deleted"),
        AdminError::ValueTaken(_) => (StatusCode::CONFLICT, "value_taken"),
        AdminError::NoExternalIdIndex(_) => (StatusCode::CONFLICT, "no_external_id_index"),
        AdminError::Store(crate::store::StoreError::Throttled) => {
            (StatusCode::TOO_MANY_REQUESTS, "throttled")
        }
        AdminError::Store(_) | AdminError::Scim(_) => {
            tracing::error!(error = %err, "admin request failed");
            return AdminReply::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal server error",
            );
        }
    };
    AdminReply::error(status, code, err.to_string())
}

fn tenant_id(raw: &str) -> Result<TenantId, AdminReply> {
    TenantId::new(raw).map_err(|_| {
        bad_request(
            "a tenant id is 1 to 63 lowercase letters, digits and '-', not starting with '-'",
        )
    })
}

fn body_json(body: &[u8]) -> Result<Value, AdminReply> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|_| bad_request("the body must be a JSON object"))
}

fn days(value: &Value, name: &str) -> Result<Option<u32>, AdminReply> {
    match value.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|d| u32::try_from(d).ok())
            .filter(|d| (1..=36_500).contains(d))
            .map(Some)
            .ok_or_else(|| bad_request(format!("'{name}' must be a number of days (1 to 36500)"))),
    }
}

fn method_not_allowed(allowed: &str) -> AdminReply {
    AdminReply::error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("allowed: {allowed}"),
    )
}

/// What an admin request is served with.
pub struct AdminCtx<'a> {
    /// Tenants and tokens.
    pub directory: &'a dyn Directory,
    /// Resources (activity).
    pub store: &'a dyn ResourceStore,
    /// Where this server answers (`https://host`, no trailing `/`): setup links are URLs
    /// under it.
    pub origin: &'a str,
}

/// Serves one admin request. `query` is the raw query string.
pub async fn handle(
    ctx: &AdminCtx<'_>,
    method: &Method,
    route: &AdminRoute,
    query: Option<&str>,
    body: &[u8],
) -> AdminReply {
    match serve(ctx, method, route, query, body).await {
        Ok(reply) | Err(reply) => reply,
    }
}

fn link_json(link: &crate::domain::SetupLink) -> Value {
    json!({
        "id": link.id,
        "tenant": link.tenant.as_str(),
        "created": link.created,
        "expires": shapes::rfc3339(link.expires_at),
        "revoked": link.revoked_at.map(shapes::rfc3339),
    })
}

async fn serve(
    ctx: &AdminCtx<'_>,
    method: &Method,
    route: &AdminRoute,
    query: Option<&str>,
    body: &[u8],
) -> Result<AdminReply, AdminReply> {
    let (directory, store) = (ctx.directory, ctx.store);
    Ok(match (route, method.clone()) {
        (AdminRoute::Tenants, Method::GET) => {
            let tenants = directory
                .list_tenants()
                .await
                .map_err(|e| from_admin(e.into()))?;
            AdminReply::ok(
                json!({"tenants": tenants.iter().map(shapes::tenant).collect::<Vec<_>>()}),
            )
        }
        (AdminRoute::Tenants, Method::POST) => {
            let doc = body_json(body)?;
            let id = doc
                .get("id")
                .and_then(Value::as_str)
                .ok_or_else(|| bad_request("'id' (the tenant id) is required"))?;
            let id = tenant_id(id)?;
            let mut settings = TenantSettings::default();
            if let Some(change) = doc.get("settings") {
                shapes::apply_settings(change, &mut settings)
                    .map_err(|e| bad_request(e.to_string()))?;
            }
            let tenant = super::create_tenant_with(directory, &id, settings)
                .await
                .map_err(from_admin)?;
            AdminReply::created(shapes::tenant(&tenant))
        }
        (AdminRoute::Tenants, _) => return Err(method_not_allowed("GET, POST")),
        (AdminRoute::Tenant(id), Method::GET) => {
            let id = tenant_id(id)?;
            let tenant = directory
                .get_tenant(&id)
                .await
                .map_err(|e| from_admin(e.into()))?
                .ok_or_else(|| from_admin(AdminError::NoSuchTenant(id.clone())))?;
            let tokens = directory
                .list_tokens(&id)
                .await
                .map_err(|e| from_admin(e.into()))?;
            let mut shown = shapes::tenant(&tenant);
            shown["tokens"] = tokens.iter().map(shapes::token).collect();
            AdminReply::ok(shown)
        }
        (AdminRoute::Tenant(id), Method::PATCH) => {
            let id = tenant_id(id)?;
            let doc = body_json(body)?;
            let change = doc.get("settings").cloned().unwrap_or(json!({}));
            // Checked before anything is read, so a bad document changes nothing.
            shapes::apply_settings(&change, &mut TenantSettings::default())
                .map_err(|e| bad_request(e.to_string()))?;
            let tenant = super::update_settings(directory, &id, |s| {
                // Already checked above: cannot fail.
                let _ = shapes::apply_settings(&change, s);
            })
            .await
            .map_err(from_admin)?;
            AdminReply::ok(shapes::tenant(&tenant))
        }
        (AdminRoute::Tenant(id), Method::DELETE) => {
            let id = tenant_id(id)?;
            let done = super::delete_tenant_step(directory, store, &id, super::PURGE_STEP)
                .await
                .map_err(from_admin)?;
            if done {
                AdminReply::no_content()
            } else {
                AdminReply {
                    status: StatusCode::ACCEPTED,
                    body: Some(json!({
                        "status": "deleting",
                        "detail": "its tokens and setup links are gone; its resources are being \
                                   purged: send DELETE again until it answers 204",
                    })),
                }
            }
        }
        (AdminRoute::Tenant(_), _) => return Err(method_not_allowed("GET, PATCH, DELETE")),
        (AdminRoute::Tokens(id), Method::GET) => {
            let id = tenant_id(id)?;
            let tokens = super::list_tokens(directory, &id)
                .await
                .map_err(from_admin)?;
            AdminReply::ok(json!({"tokens": tokens.iter().map(shapes::token).collect::<Vec<_>>()}))
        }
        (AdminRoute::Tokens(id), Method::POST) => {
            let id = tenant_id(id)?;
            let doc = body_json(body)?;
            let label = match doc.get("label") {
                None | Some(Value::Null) => None,
                Some(Value::String(l)) if l.len() <= 100 => Some(l.clone()),
                Some(_) => {
                    return Err(bad_request(
                        "'label' must be a string of at most 100 characters",
                    ));
                }
            };
            let valid_days = days(&doc, "validDays")?.unwrap_or(super::DEFAULT_TOKEN_DAYS);
            let issued = super::issue(directory, &id, label, Some(valid_days))
                .await
                .map_err(from_admin)?;
            let mut shown = shapes::token(&issued.record);
            shown["token"] = Value::String(issued.token);
            AdminReply::created(shown)
        }
        (AdminRoute::Tokens(_), _) => return Err(method_not_allowed("GET, POST")),
        (AdminRoute::Token(id, token), Method::DELETE) => {
            let id = tenant_id(id)?;
            super::revoke(directory, &id, token)
                .await
                .map_err(from_admin)?;
            AdminReply::no_content()
        }
        (AdminRoute::Token(..), _) => return Err(method_not_allowed("DELETE")),
        (AdminRoute::Rotate(id, token), Method::POST) => {
            let id = tenant_id(id)?;
            let doc = body_json(body)?;
            let overlap_days = days(&doc, "overlapDays")?.unwrap_or(7);
            let valid_days = Some(days(&doc, "validDays")?.unwrap_or(super::DEFAULT_TOKEN_DAYS));
            let (successor, old) = super::rotate(
                directory,
                &id,
                token,
                i64::from(overlap_days) * 86_400,
                valid_days,
            )
            .await
            .map_err(from_admin)?;
            let mut shown = shapes::token(&successor.record);
            shown["token"] = Value::String(successor.token);
            AdminReply::created(json!({"successor": shown, "previous": shapes::token(&old)}))
        }
        (AdminRoute::Rotate(..), _) => return Err(method_not_allowed("POST")),
        (AdminRoute::Activity(id), Method::GET) => {
            let id = tenant_id(id)?;
            let params: Vec<(String, String)> =
                form_urlencoded::parse(query.unwrap_or("").as_bytes())
                    .into_owned()
                    .collect();
            let param = |name: &str| {
                params
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.as_str())
            };
            let errors = match param("errors") {
                None | Some("false") => false,
                Some("true") => true,
                Some(_) => return Err(bad_request("'errors' must be true or false")),
            };
            let limit = match param("limit") {
                None => 50,
                Some(raw) => raw
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| bad_request("'limit' must be 1 to 1000"))?,
            };
            let entries = super::recent_activity(directory, store, &id, limit, errors)
                .await
                .map_err(from_admin)?;
            AdminReply::ok(
                json!({"activity": entries.iter().map(shapes::activity).collect::<Vec<_>>()}),
            )
        }
        (AdminRoute::Activity(_), _) => return Err(method_not_allowed("GET")),
        (AdminRoute::SetupLinks(id), Method::POST) => {
            let id = tenant_id(id)?;
            let doc = body_json(body)?;
            let valid_days = days(&doc, "validDays")?.unwrap_or(super::links::DEFAULT_VALID_DAYS);
            let issued = super::links::create(directory, &id, valid_days)
                .await
                .map_err(from_admin)?;
            let mut shown = link_json(&issued.link);
            shown["url"] = Value::String(format!("{}/setup/{}", ctx.origin, issued.path));
            AdminReply::created(shown)
        }
        (AdminRoute::SetupLinks(id), Method::GET) => {
            let id = tenant_id(id)?;
            if directory
                .get_tenant(&id)
                .await
                .map_err(|e| from_admin(e.into()))?
                .is_none()
            {
                return Err(from_admin(AdminError::NoSuchTenant(id)));
            }
            let links = directory
                .list_setup_links(&id)
                .await
                .map_err(|e| from_admin(e.into()))?;
            AdminReply::ok(json!({"setupLinks": links.iter().map(link_json).collect::<Vec<_>>()}))
        }
        (AdminRoute::SetupLinks(_), _) => return Err(method_not_allowed("GET, POST")),
        (AdminRoute::SetupLink(id, link), Method::DELETE) => {
            let id = tenant_id(id)?;
            super::links::revoke(directory, &id, link)
                .await
                .map_err(from_admin)?;
            AdminReply::no_content()
        }
        (AdminRoute::SetupLink(..), _) => return Err(method_not_allowed("DELETE")),
        (AdminRoute::Deletions, Method::POST) => {
            let continued = super::continue_deletions(directory, store, super::PURGE_STEP)
                .await
                .map_err(from_admin)?;
            let list: Vec<Value> = continued
                .iter()
                .map(|(id, done)| json!({"tenant": id.as_str(), "done": done}))
                .collect();
            AdminReply::ok(json!({"continued": list}))
        }
        (AdminRoute::Deletions, _) => return Err(method_not_allowed("POST")),
    })
}
