//! `/Users` and `/Groups`: create, read, replace, patch and delete (RFC 7644 §3.3, §3.4.1,
//! §3.5, §3.6), for either resource type.
//!
//! Writes are optimistic: read the current version (with its membership edges), compute the
//! new item, its uniqueness guards and its membership change, and write conditionally on that
//! version. A lost race without `If-Match` is re-read and retried (bounded); with `If-Match`
//! it is a 412. A group's `members` and a user's `groups` live in edge items, not in the
//! resource: they are read with one query, and skipped entirely when the response excludes
//! them (`excludedAttributes=members`).

use http::StatusCode;
use serde_json::{Map, Value};

use super::groups::{self, Requested, link_attribute, shown_links};
use super::{Ctx, Reply, now_rfc3339, parse_json, store_error};
use crate::auth::hash_secret_blocking;
use crate::domain::ResourceKind;
use crate::domain::{Link, MemberRef, Resource};
use crate::error::ScimError;
use crate::schema::ResourceTypeDef;
use crate::schema::input::{NormalizedBody, UnknownAttributes, check_immutable, normalize_body};
use crate::schema::output::{etag, location, render_linked};
use crate::schema::projection::Projection;
use crate::store::{GuardChange, Linked, MemberChange, StoreError};

/// How often a write that lost a version race is re-read and retried.
const MAX_WRITE_ATTEMPTS: usize = 5;

fn not_found(kind: ResourceKind) -> ScimError {
    ScimError::NotFound(format!("no such {}", kind.name()))
}

/// `attributes` / `excludedAttributes` of the request, for one resource type.
pub fn projection(ctx: &Ctx<'_>, rt: &ResourceTypeDef) -> Projection {
    ctx.shape.projection(rt)
}

/// The reply carrying a resource: body (shaped by `attributes`/`excludedAttributes`),
/// `Location` and `ETag`.
fn resource_reply(
    ctx: &Ctx<'_>,
    status: StatusCode,
    resource: &Resource,
    links: Option<&[Link]>,
) -> Reply {
    let rt = ctx.config.registry.resource_type(resource.kind);
    let body = projection(ctx, rt).apply(rt, render_linked(resource, rt, links, ctx.base_url));
    Reply {
        status,
        body: Some(body),
        location: Some(location(ctx.base_url, resource)),
        etag: Some(etag(resource.version)),
    }
}

/// Normalises a body, logging (by name only) the attributes it ignored.
fn normalize(
    ctx: &Ctx<'_>,
    rt: &ResourceTypeDef,
    body: Value,
) -> Result<NormalizedBody, ScimError> {
    let normalized = normalize_body(rt, body, ctx.unknown_attributes())?;
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

/// Takes a group's requested members out of its attributes (users have none to take).
fn take_members(
    kind: ResourceKind,
    attributes: &mut Map<String, Value>,
) -> Result<Vec<Requested>, ScimError> {
    match kind {
        ResourceKind::Group => groups::take_members(attributes),
        ResourceKind::User => Ok(Vec::new()),
    }
}

/// `POST /Users`, `POST /Groups`
pub async fn create(ctx: &Ctx<'_>, kind: ResourceKind, body: &[u8]) -> Result<Reply, ScimError> {
    let rt = ctx.config.registry.resource_type(kind);
    let mut normalized = normalize(ctx, rt, parse_json(body)?)?;
    let requested = take_members(kind, &mut normalized.attributes)?;
    let unique = ctx.guards(rt, &normalized.attributes)?;
    let id = uuid::Uuid::now_v7().to_string();
    let links = groups::resolve(ctx, &id, &requested, &[]).await?;
    let password_hash = password_hash(&mut normalized).await?;
    let now = now_rfc3339();
    let resource = Resource {
        kind,
        id,
        version: 1,
        created: now.clone(),
        last_modified: now,
        attributes: normalized.attributes,
        password_hash,
    };
    ctx.store
        .create(ctx.tenant, &resource, &unique, &links)
        .await
        .map_err(store_error)?;
    Ok(resource_reply(
        ctx,
        StatusCode::CREATED,
        &resource,
        Some(&links),
    ))
}

/// Reads a resource with its links, or answers 404.
async fn load(ctx: &Ctx<'_>, kind: ResourceKind, id: &str) -> Result<Linked, ScimError> {
    ctx.store
        .get_linked(ctx.tenant, kind, id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| not_found(kind))
}

/// `GET /Users/{id}`, `GET /Groups/{id}` (304 when `If-None-Match` names the current
/// version). Membership is read only if the response will show it.
pub async fn get(ctx: &Ctx<'_>, kind: ResourceKind, id: &str) -> Result<Reply, ScimError> {
    let wants_links =
        projection(ctx, ctx.config.registry.resource_type(kind)).wants(link_attribute(kind));
    let (resource, links) = if wants_links {
        let linked = load(ctx, kind, id).await?;
        let links = shown_links(&linked).to_vec();
        groups::check_shown(&links)?;
        (linked.resource, Some(links))
    } else {
        let resource = ctx
            .store
            .get(ctx.tenant, kind, id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| not_found(kind))?;
        (resource, None)
    };
    let tag = etag(resource.version);
    if ctx.preconditions.not_modified(&tag) {
        let mut reply = Reply::empty(StatusCode::NOT_MODIFIED);
        reply.etag = Some(tag);
        return Ok(reply);
    }
    Ok(resource_reply(
        ctx,
        StatusCode::OK,
        &resource,
        links.as_deref(),
    ))
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

/// The outcome of computing a write from the current state.
struct Change {
    attributes: Map<String, Value>,
    password_hash: Option<String>,
    /// The membership wanted after the write (groups only; users keep their groups).
    links: Vec<Link>,
}

/// Writes `change` over `current` unless it changes nothing; refreshes display copies after a
/// rename. Returns the reply, or `None` when another write won the race.
async fn commit(
    ctx: &Ctx<'_>,
    current: Linked,
    change: Change,
) -> Result<Option<Reply>, ScimError> {
    let rt = ctx.config.registry.resource_type(current.resource.kind);
    let shown = shown_links(&current).to_vec();
    let (add, remove) = match current.resource.kind {
        ResourceKind::Group => groups::diff(&shown, &change.links),
        ResourceKind::User => (Vec::new(), Vec::new()),
    };
    let resource = &current.resource;
    check_immutable(rt, &resource.attributes, &change.attributes)?;
    if change.attributes == resource.attributes
        && change.password_hash.is_none()
        && add.is_empty()
        && remove.is_empty()
    {
        return Ok(Some(resource_reply(
            ctx,
            StatusCode::OK,
            resource,
            Some(&shown),
        )));
    }
    // Every guard the tenant enforces is (re)claimed, so a name written while a switch was
    // off gets its guard once the switch is on; the others are released.
    let new_unique = ctx.guards(rt, &change.attributes)?;
    let old_unique: Vec<_> = ctx
        .releasable_guards(rt, &resource.attributes)?
        .into_iter()
        .filter(|g| !new_unique.contains(g))
        .collect();
    let updated = Resource {
        version: resource.version + 1,
        last_modified: now_rfc3339(),
        attributes: change.attributes,
        password_hash: change.password_hash.or(resource.password_hash.clone()),
        ..resource.clone()
    };
    let guards = GuardChange {
        old: &old_unique,
        new: &new_unique,
    };
    let members = MemberChange {
        add: &add,
        remove: &remove,
    };
    match ctx
        .store
        .replace(ctx.tenant, &updated, resource.version, guards, members)
        .await
    {
        Ok(()) => {}
        Err(StoreError::VersionMismatch) => return Ok(None),
        Err(StoreError::NotFound) => return Err(not_found(resource.kind)),
        Err(err) => return Err(store_error(err)),
    }
    let new_display = groups::display_of(&updated);
    if new_display != groups::display_of(resource) {
        let me = MemberRef {
            kind: updated.kind,
            id: updated.id.clone(),
        };
        if let Err(err) = ctx
            .store
            .refresh_display(ctx.tenant, &me, new_display.as_deref())
            .await
        {
            // The write itself succeeded; stale display copies are cosmetic.
            tracing::warn!(error = %err, "could not refresh display copies after a rename");
        }
    }
    let links = match updated.kind {
        ResourceKind::Group => change.links,
        ResourceKind::User => shown,
    };
    Ok(Some(resource_reply(
        ctx,
        StatusCode::OK,
        &updated,
        Some(&links),
    )))
}

/// Runs `step` on fresh reads until its write lands (bounded), or fails.
macro_rules! retry_on_race {
    ($ctx:expr, $kind:expr, $id:expr, |$current:ident| $step:expr) => {{
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let $current = load($ctx, $kind, $id).await?;
            check_if_match($ctx, &$current.resource)?;
            if let Some(reply) = $step {
                return Ok(reply);
            }
        }
        Err(ScimError::Throttled {
            retry_after_secs: 1,
        })
    }};
}

/// `PUT /Users/{id}`, `PUT /Groups/{id}`: replaces every writable attribute (and a group's
/// members); a user's password is kept unless a new one is sent (it is write-only, so clients
/// cannot send it back).
pub async fn replace(
    ctx: &Ctx<'_>,
    kind: ResourceKind,
    id: &str,
    body: &[u8],
) -> Result<Reply, ScimError> {
    let rt = ctx.config.registry.resource_type(kind);
    let mut normalized = normalize(ctx, rt, parse_json(body)?)?;
    let requested = take_members(kind, &mut normalized.attributes)?;
    ctx.guards(rt, &normalized.attributes)?;
    let new_password = password_hash(&mut normalized).await?;
    retry_on_race!(ctx, kind, id, |current| {
        let links = groups::resolve(ctx, id, &requested, shown_links(&current)).await?;
        let change = Change {
            attributes: normalized.attributes.clone(),
            password_hash: new_password.clone(),
            links,
        };
        commit(ctx, current, change).await?
    })
}

/// `PATCH /Users/{id}`, `PATCH /Groups/{id}` (RFC 7644 §3.5.2): the operations are applied to
/// the current version (a group's members included) and the result is checked like a PUT
/// body, then written conditionally on that version. A PATCH that changes nothing writes
/// nothing and keeps the version. Answers 200 with the resource.
pub async fn patch(
    ctx: &Ctx<'_>,
    kind: ResourceKind,
    id: &str,
    body: &[u8],
) -> Result<Reply, ScimError> {
    let rt = ctx.config.registry.resource_type(kind);
    let operations = crate::patch::parse_request(parse_json(body)?)?;
    retry_on_race!(ctx, kind, id, |current| {
        let mut doc = current.resource.attributes.clone();
        if kind == ResourceKind::Group && !current.members.is_empty() {
            doc.insert("members".into(), groups::members_value(&current.members));
        }
        crate::patch::apply(rt, &mut doc, &operations, ctx.unknown_attributes())?;
        let mut normalized = renormalize(rt, doc)?;
        let requested = take_members(kind, &mut normalized.attributes)?;
        let links = groups::resolve(ctx, id, &requested, shown_links(&current)).await?;
        let password_hash = password_hash(&mut normalized).await?;
        let change = Change {
            attributes: normalized.attributes,
            password_hash,
            links,
        };
        commit(ctx, current, change).await?
    })
}

/// Checks patched attributes as a full body (types, required attributes), so a PATCH can
/// never store what a PUT could not.
fn renormalize(
    rt: &ResourceTypeDef,
    attributes: Map<String, Value>,
) -> Result<NormalizedBody, ScimError> {
    let mut body = Map::new();
    body.insert("schemas".into(), Value::from(vec![rt.core.id]));
    body.extend(attributes);
    normalize_body(rt, Value::Object(body), UnknownAttributes::Ignore)
}

/// `DELETE /Users/{id}`, `DELETE /Groups/{id}`: removes the resource (or, for a tenant with
/// soft delete, marks it deleted), releases its uniqueness guards and removes every
/// membership it is part of. Either way it answers 404 from then on.
pub async fn delete(ctx: &Ctx<'_>, kind: ResourceKind, id: &str) -> Result<Reply, ScimError> {
    let rt = ctx.config.registry.resource_type(kind);
    for _ in 0..MAX_WRITE_ATTEMPTS {
        let current = ctx
            .store
            .get(ctx.tenant, kind, id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| not_found(kind))?;
        check_if_match(ctx, &current)?;
        let unique = ctx.releasable_guards(rt, &current.attributes)?;
        let deleted = if ctx.settings.soft_delete {
            ctx.store
                .soft_delete(ctx.tenant, kind, id, current.version, &unique)
                .await
        } else {
            ctx.store
                .delete(ctx.tenant, kind, id, current.version, &unique)
                .await
        };
        match deleted {
            Ok(()) => return Ok(Reply::empty(StatusCode::NO_CONTENT)),
            Err(StoreError::VersionMismatch) => continue,
            Err(StoreError::NotFound) => return Err(not_found(kind)),
            Err(err) => return Err(store_error(err)),
        }
    }
    Err(ScimError::Throttled {
        retry_after_secs: 1,
    })
}
