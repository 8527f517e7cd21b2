//! `/Users`: create, read, replace and delete (RFC 7644 §3.3, §3.4.1, §3.5.1, §3.6).
//!
//! Writes are optimistic: read the current version, compute the new item and its uniqueness
//! guards, and write conditionally on that version. A lost race without `If-Match` is re-read
//! and retried (bounded); with `If-Match` it is a 412.

use http::StatusCode;
use serde_json::Value;

use super::list::split_names;
use super::{Ctx, Reply, now_rfc3339, parse_json, store_error};
use crate::auth::hash_secret_blocking;
use crate::error::ScimError;
use crate::schema::input::{NormalizedBody, UnknownAttributes, normalize_body, unique_values};
use crate::schema::output::{etag, location, render};
use crate::schema::projection::Projection;
use crate::schema::{ResourceKind, USER_TYPE};
use crate::store::{GuardChange, Resource, StoreError};

/// How often a write that lost a version race is re-read and retried.
const MAX_WRITE_ATTEMPTS: usize = 5;

fn not_found() -> ScimError {
    ScimError::NotFound("no such User".into())
}

/// Normalises a User body, logging (by name only) the attributes it ignored.
fn normalize_user(body: &[u8]) -> Result<NormalizedBody, ScimError> {
    let normalized = normalize_body(&USER_TYPE, parse_json(body)?, UnknownAttributes::Ignore)?;
    if !normalized.ignored.is_empty() {
        tracing::info!(ignored = ?normalized.ignored, "ignored unknown attributes");
    }
    Ok(normalized)
}

/// Hashes the password off the async workers, if one was sent.
async fn password_hash(normalized: &mut NormalizedBody) -> Result<Option<String>, ScimError> {
    match normalized.password.take() {
        Some(password) => Ok(Some(hash_secret_blocking(password).await?)),
        None => Ok(None),
    }
}

/// The reply carrying a resource: body (shaped by `attributes`/`excludedAttributes`),
/// `Location` and `ETag`.
pub fn resource_reply(ctx: &Ctx<'_>, status: StatusCode, resource: &Resource) -> Reply {
    let rt = crate::schema::resource_type(resource.kind);
    let projection = Projection::new(
        rt,
        split_names(ctx.query.get("attributes"))
            .iter()
            .map(String::as_str),
        split_names(ctx.query.get("excludedAttributes"))
            .iter()
            .map(String::as_str),
    );
    Reply {
        status,
        body: Some(projection.apply(rt, render(resource, ctx.base_url))),
        location: Some(location(ctx.base_url, resource)),
        etag: Some(etag(resource.version)),
    }
}

/// `POST /Users`
pub async fn create(ctx: &Ctx<'_>, body: &[u8]) -> Result<Reply, ScimError> {
    let mut normalized = normalize_user(body)?;
    let unique = unique_values(&USER_TYPE, &normalized.attributes)?;
    let password_hash = password_hash(&mut normalized).await?;
    let now = now_rfc3339();
    let resource = Resource {
        kind: ResourceKind::User,
        id: uuid::Uuid::now_v7().to_string(),
        version: 1,
        created: now.clone(),
        last_modified: now,
        attributes: normalized.attributes,
        password_hash,
    };
    ctx.store
        .create(ctx.tenant, &resource, &unique)
        .await
        .map_err(store_error)?;
    Ok(resource_reply(ctx, StatusCode::CREATED, &resource))
}

/// Reads a User or answers 404.
pub async fn load(ctx: &Ctx<'_>, id: &str) -> Result<Resource, ScimError> {
    ctx.store
        .get(ctx.tenant, ResourceKind::User, id)
        .await
        .map_err(store_error)?
        .ok_or_else(not_found)
}

/// `GET /Users/{id}` (304 when `If-None-Match` names the current version).
pub async fn get(ctx: &Ctx<'_>, id: &str) -> Result<Reply, ScimError> {
    let resource = load(ctx, id).await?;
    let tag = etag(resource.version);
    if ctx.preconditions.not_modified(&tag) {
        let mut reply = Reply::empty(StatusCode::NOT_MODIFIED);
        reply.etag = Some(tag);
        return Ok(reply);
    }
    Ok(resource_reply(ctx, StatusCode::OK, &resource))
}

fn check_if_match(ctx: &Ctx<'_>, current: &Resource) -> Result<(), ScimError> {
    if ctx.preconditions.if_match_ok(&etag(current.version)) {
        Ok(())
    } else {
        Err(ScimError::PreconditionFailed(
            "If-Match does not match the current version".into(),
        ))
    }
}

/// `PUT /Users/{id}`: replaces every writable attribute; the password is kept unless a new
/// one is sent (it is write-only, so clients cannot send it back).
pub async fn replace(ctx: &Ctx<'_>, id: &str, body: &[u8]) -> Result<Reply, ScimError> {
    let mut normalized = normalize_user(body)?;
    let new_unique = unique_values(&USER_TYPE, &normalized.attributes)?;
    let new_password = password_hash(&mut normalized).await?;
    for _ in 0..MAX_WRITE_ATTEMPTS {
        let current = load(ctx, id).await?;
        check_if_match(ctx, &current)?;
        let old_unique = unique_values(&USER_TYPE, &current.attributes)?;
        let updated = Resource {
            version: current.version + 1,
            last_modified: now_rfc3339(),
            attributes: normalized.attributes.clone(),
            password_hash: new_password.clone().or(current.password_hash.clone()),
            ..current.clone()
        };
        let guards = GuardChange {
            old: &old_unique,
            new: &new_unique,
        };
        match ctx
            .store
            .replace(ctx.tenant, &updated, current.version, guards)
            .await
        {
            Ok(()) => return Ok(resource_reply(ctx, StatusCode::OK, &updated)),
            Err(StoreError::VersionMismatch) => continue,
            Err(StoreError::NotFound) => return Err(not_found()),
            Err(err) => return Err(store_error(err)),
        }
    }
    Err(ScimError::Throttled {
        retry_after_secs: 1,
    })
}

/// `PATCH /Users/{id}` (RFC 7644 §3.5.2): the operations are applied to the current version
/// and the result is checked like a PUT body, then written conditionally on that version
/// (re-applied to a fresh read if another write won). A PATCH that changes nothing writes
/// nothing and keeps the version. Answers 200 with the resource.
pub async fn patch(ctx: &Ctx<'_>, id: &str, body: &[u8]) -> Result<Reply, ScimError> {
    let operations = crate::patch::parse_request(parse_json(body)?)?;
    for _ in 0..MAX_WRITE_ATTEMPTS {
        let current = load(ctx, id).await?;
        check_if_match(ctx, &current)?;
        let mut attributes = current.attributes.clone();
        crate::patch::apply(&USER_TYPE, &mut attributes, &operations)?;
        let mut normalized = renormalize(attributes)?;
        let new_password = password_hash(&mut normalized).await?;
        if normalized.attributes == current.attributes && new_password.is_none() {
            return Ok(resource_reply(ctx, StatusCode::OK, &current));
        }
        let old_unique = unique_values(&USER_TYPE, &current.attributes)?;
        let new_unique = unique_values(&USER_TYPE, &normalized.attributes)?;
        let updated = Resource {
            version: current.version + 1,
            last_modified: now_rfc3339(),
            attributes: normalized.attributes,
            password_hash: new_password.or(current.password_hash.clone()),
            ..current.clone()
        };
        let guards = GuardChange {
            old: &old_unique,
            new: &new_unique,
        };
        match ctx
            .store
            .replace(ctx.tenant, &updated, current.version, guards)
            .await
        {
            Ok(()) => return Ok(resource_reply(ctx, StatusCode::OK, &updated)),
            Err(StoreError::VersionMismatch) => continue,
            Err(StoreError::NotFound) => return Err(not_found()),
            Err(err) => return Err(store_error(err)),
        }
    }
    Err(ScimError::Throttled {
        retry_after_secs: 1,
    })
}

/// Checks patched attributes as a full body (types, required attributes), so a PATCH can
/// never store what a PUT could not.
fn renormalize(attributes: serde_json::Map<String, Value>) -> Result<NormalizedBody, ScimError> {
    let mut body = serde_json::Map::new();
    body.insert("schemas".into(), Value::from(vec![USER_TYPE.core.id]));
    body.extend(attributes);
    normalize_body(&USER_TYPE, Value::Object(body), UnknownAttributes::Ignore)
}

/// `DELETE /Users/{id}`: removes the user and releases its uniqueness guards.
pub async fn delete(ctx: &Ctx<'_>, id: &str) -> Result<Reply, ScimError> {
    for _ in 0..MAX_WRITE_ATTEMPTS {
        let current = load(ctx, id).await?;
        check_if_match(ctx, &current)?;
        let unique = unique_values(&USER_TYPE, &current.attributes)?;
        match ctx
            .store
            .delete(ctx.tenant, ResourceKind::User, id, current.version, &unique)
            .await
        {
            Ok(()) => return Ok(Reply::empty(StatusCode::NO_CONTENT)),
            Err(StoreError::VersionMismatch) => continue,
            Err(StoreError::NotFound) => return Err(not_found()),
            Err(err) => return Err(store_error(err)),
        }
    }
    Err(ScimError::Throttled {
        retry_after_secs: 1,
    })
}
