//! `/Users` and `/Groups`: create, read, replace, patch and delete (RFC 7644 §3.3, §3.4.1,
//! §3.5, §3.6), for either resource type. Each is a short list of steps: read what the change
//! depends on, compute the [`crate::store::Write`] ([`super::write`]), apply it, render.
//!
//! Writes are optimistic: computed from a read and applied only if that read still holds (the
//! version; for membership, the edges named). A lost race without `If-Match` is re-read and
//! retried (bounded); with `If-Match` it is a 412. A group's membership changes without
//! `If-Match` commute with each other, so they never lose such races to each other.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use http::StatusCode;
use serde_json::{Map, Value};

use super::groups::{self, Requested, link_attribute};
use super::members::{self, MAX_MEMBERS_READ};
use super::write::{self, Change};
use super::{Ctx, Reply, now_rfc3339, parse_json, store_error};
use crate::auth::hash_secret_blocking;
use crate::domain::{
    Link, MemberRef, Resource, ResourceKind, UniqueValue, is_resource_id, new_resource_id,
};
use crate::error::ScimError;
use crate::schema::ResourceTypeDef;
use crate::schema::input::{
    NormalizedBody, UnknownAttributes, check_immutable, lookup_values, normalize_body,
};
use crate::schema::output::{etag, location, render, render_linked, text_with_links};
use crate::schema::projection::Projection;
use crate::store::{Applied, Linked, LookupDelta, MemberDelta, StoreError, Write};

/// How often a write that lost a race is re-read and retried.
const MAX_WRITE_ATTEMPTS: usize = 5;

fn not_found(kind: ResourceKind) -> ScimError {
    ScimError::NotFound(format!("no such {}", kind.name()))
}

/// 404 at once for an id in a path that this server never issues (no store call is made, and
/// no such value becomes part of a key).
fn issued(kind: ResourceKind, id: &str) -> Result<(), ScimError> {
    if is_resource_id(id) {
        Ok(())
    } else {
        Err(not_found(kind))
    }
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
) -> Result<Reply, ScimError> {
    let rt = ctx.config.registry.resource_type(resource.kind);
    let projection = projection(ctx, rt);
    let text = match links.filter(|l| !l.is_empty()) {
        // Links shown whole are written straight to text (a group may have thousands).
        Some(links) if projection.wants_whole(link_attribute(resource.kind)) => {
            let body = projection.apply(rt, render(resource, rt, ctx.base_url));
            text_with_links(body, resource.kind, links, ctx.base_url)
        }
        _ => serde_json::to_vec(
            &projection.apply(rt, render_linked(resource, rt, links, ctx.base_url)),
        ),
    }
    .map_err(|e| ScimError::internal(format!("serializing a resource: {e}")))?;
    let text = super::list::Budget::new(ctx.config.max_response_bytes).fits(text)?;
    Ok(Reply {
        status,
        body: Some(super::Body::Text(text)),
        location: Some(location(ctx.base_url, resource)),
        etag: Some(etag(resource.version)),
    })
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

/// Hashes the password off the async workers, if one was sent; a tenant that ignores
/// passwords drops it unread, like an unknown attribute (logged by name).
async fn password_hash(
    ctx: &Ctx<'_>,
    normalized: &mut NormalizedBody,
) -> Result<Option<String>, ScimError> {
    match normalized.password.take() {
        Some(_) if ctx.settings.ignore_passwords => {
            tracing::info!(ignored = ?["password"], "ignored unknown attributes");
            Ok(None)
        }
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

/// The guards a stored resource holds: as recorded on it, or, for a resource written before
/// guards were recorded, those of its unique values that name it as their owner.
async fn held_guards(
    ctx: &Ctx<'_>,
    rt: &ResourceTypeDef,
    resource: &Resource,
) -> Result<Vec<UniqueValue>, ScimError> {
    if let Some(guards) = &resource.guards {
        return Ok(guards.clone());
    }
    let mut held = Vec::new();
    for candidate in ctx.releasable_guards(rt, &resource.attributes)? {
        let owner = ctx
            .store
            .find_unique(ctx.tenant, resource.kind, &candidate)
            .await
            .map_err(store_error)?;
        if owner.as_deref() == Some(resource.id.as_str()) {
            held.push(candidate);
        }
    }
    Ok(held)
}

/// A user's groups with their current names (read from the groups; groups that no longer
/// exist are left out).
pub async fn named_groups(ctx: &Ctx<'_>, links: &[Link]) -> Result<Vec<Link>, ScimError> {
    let names = group_names(ctx, links.iter()).await?;
    Ok(name_links(&names, links.to_vec()))
}

/// The current names of the groups `links` point to, from one batch read (groups that no
/// longer exist are absent).
async fn group_names(
    ctx: &Ctx<'_>,
    links: impl Iterator<Item = &Link>,
) -> Result<HashMap<String, Option<String>>, ScimError> {
    let refs: BTreeSet<&MemberRef> = links.map(|l| &l.target).collect();
    if refs.is_empty() {
        return Ok(HashMap::new());
    }
    let refs: Vec<MemberRef> = refs.into_iter().cloned().collect();
    let found = ctx
        .store
        .get_many(ctx.tenant, &refs)
        .await
        .map_err(store_error)?;
    Ok(found
        .into_iter()
        .map(|g| {
            let name = write::display_of(ResourceKind::Group, &g.attributes);
            (g.id, name)
        })
        .collect())
}

/// A user's group links with the names found (links to groups not found are left out).
fn name_links(names: &HashMap<String, Option<String>>, links: Vec<Link>) -> Vec<Link> {
    links
        .into_iter()
        .filter_map(|l| {
            names.get(&l.target.id).map(|name| Link {
                display: name.clone(),
                target: l.target,
            })
        })
        .collect()
}

/// The links a response shows (a group's members, a user's named groups), read only if the
/// response shows them; a group with more members than one response may carry is refused
/// with a hint.
pub async fn links_for(
    ctx: &Ctx<'_>,
    kind: ResourceKind,
    id: &str,
) -> Result<Option<(Resource, Vec<Link>)>, ScimError> {
    let one = MemberRef {
        kind,
        id: id.to_owned(),
    };
    let mut read = links_for_many(ctx, std::slice::from_ref(&one)).await?;
    Ok(read
        .pop()
        .flatten()
        .map(|(resource, links)| (Arc::unwrap_or_clone(resource), links)))
}

/// How many resources' links are read at once.
const LINK_READS_IN_FLIGHT: usize = 16;

/// [`links_for`] of several resources (`None` for one deleted meanwhile), in their order: their
/// partitions are read concurrently, and the groups of every user among them are named from
/// one batch read.
pub async fn links_for_many(
    ctx: &Ctx<'_>,
    resources: &[MemberRef],
) -> Result<Vec<Option<(Arc<Resource>, Vec<Link>)>>, ScimError> {
    let mut read = Vec::with_capacity(resources.len());
    for chunk in resources.chunks(LINK_READS_IN_FLIGHT) {
        let reads = chunk.iter().map(|r| {
            ctx.store
                .get_linked(ctx.tenant, r.kind, &r.id, groups::MAX_MEMBERS_SHOWN)
        });
        for linked in futures_util::future::join_all(reads).await {
            let linked = linked.map_err(store_error)?;
            if linked.as_ref().is_some_and(|l| !l.complete) {
                return Err(groups::too_many_members());
            }
            read.push(linked);
        }
    }
    let user_links = read
        .iter()
        .flatten()
        .filter(|l| l.resource.kind == ResourceKind::User)
        .flat_map(|l| l.links.iter());
    let names = group_names(ctx, user_links).await?;
    Ok(read
        .into_iter()
        .map(|linked| {
            linked.map(
                |Linked {
                     resource, links, ..
                 }| {
                    let links = match resource.kind {
                        ResourceKind::Group => links,
                        ResourceKind::User => name_links(&names, links),
                    };
                    (resource, links)
                },
            )
        })
        .collect())
}

/// `POST /Users`, `POST /Groups`
pub async fn create(ctx: &Ctx<'_>, kind: ResourceKind, body: &[u8]) -> Result<Reply, ScimError> {
    let rt = ctx.config.registry.resource_type(kind);
    let mut normalized = normalize(ctx, rt, parse_json(body)?)?;
    let requested = take_members(kind, &mut normalized.attributes)?;
    let guards = ctx.guards(rt, &normalized.attributes)?;
    let id = new_resource_id();
    let links = groups::resolve(ctx, &id, &requested, &[]).await?;
    let password_hash = password_hash(ctx, &mut normalized).await?;
    let lookups = lookup_values(rt, &normalized.attributes)?;
    let now = now_rfc3339();
    let new = write::NewResource {
        id,
        attributes: normalized.attributes,
        password_hash,
        guards,
        lookups,
    };
    let write = write::create(kind, new, links.clone(), &now);
    let applied = apply(ctx, &write).await?;
    let crate::store::WriteOp::Create { mut resource, .. } = write.op else {
        return Err(ScimError::internal("a create write is not a create"));
    };
    resource.version = applied.version;
    resource.member_count = applied.member_count;
    resource_reply(ctx, StatusCode::CREATED, &resource, Some(&links))
}

async fn apply(ctx: &Ctx<'_>, write: &Write) -> Result<Applied, ScimError> {
    ctx.store
        .apply(ctx.tenant, write)
        .await
        .map_err(store_error)
}

/// `GET /Users/{id}`, `GET /Groups/{id}` (304 when `If-None-Match` names the current
/// version). Membership is read only if the response will show it.
pub async fn get(ctx: &Ctx<'_>, kind: ResourceKind, id: &str) -> Result<Reply, ScimError> {
    issued(kind, id)?;
    let wants_links =
        projection(ctx, ctx.config.registry.resource_type(kind)).wants(link_attribute(kind));
    let (resource, links) = if wants_links {
        let (resource, links) = links_for(ctx, kind, id)
            .await?
            .ok_or_else(|| not_found(kind))?;
        (resource, Some(links))
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
    resource_reply(ctx, StatusCode::OK, &resource, links.as_deref())
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

/// How an attempt at a write ended.
enum Attempt {
    /// Done: the reply.
    Done(Reply),
    /// Another write won; read again and recompute.
    Lost,
}

/// Applies a computed write, mapping lost races to [`Attempt::Lost`] (or 412 under
/// `If-Match`).
async fn try_apply(ctx: &Ctx<'_>, write: &Write) -> Result<Option<Applied>, ScimError> {
    match ctx.store.apply(ctx.tenant, write).await {
        Ok(applied) => Ok(Some(applied)),
        Err(StoreError::VersionMismatch) if ctx.preconditions.if_match.is_some() => Err(
            ScimError::PreconditionFailed("the resource was changed by another request".into()),
        ),
        Err(StoreError::VersionMismatch | StoreError::Raced) => Ok(None),
        Err(StoreError::NotFound) => Err(not_found(write.kind)),
        Err(err) => Err(store_error(err)),
    }
}

/// Runs `step` until its write lands (bounded), or fails.
macro_rules! retry_on_race {
    (|| $step:expr) => {{
        for _ in 0..MAX_WRITE_ATTEMPTS {
            if let Attempt::Done(reply) = $step {
                return Ok(reply);
            }
        }
        Err(ScimError::Throttled {
            retry_after_secs: 1,
        })
    }};
}

/// The reply after a write: the resource as written, with the links the response shows (a
/// user's groups as read before the write, which a user's own write does not change; a
/// group's members read again).
async fn written_reply(
    ctx: &Ctx<'_>,
    kind: ResourceKind,
    id: &str,
    written: Resource,
    user_groups: &[Link],
) -> Result<Reply, ScimError> {
    let rt = ctx.config.registry.resource_type(kind);
    if !projection(ctx, rt).wants(link_attribute(kind)) {
        return resource_reply(ctx, StatusCode::OK, &written, None);
    }
    if kind == ResourceKind::User {
        let groups = named_groups(ctx, user_groups).await?;
        return resource_reply(ctx, StatusCode::OK, &written, Some(&groups));
    }
    if kind == ResourceKind::Group
        && (ctx.settings.group_patch_no_content
            || written.member_count > ctx.config.group_response_max_members)
    {
        // RFC 7644 §3.5.2: a PATCH may answer 204; a large group is not rendered.
        return Ok(Reply::empty(StatusCode::NO_CONTENT));
    }
    let (resource, links) = links_for(ctx, kind, id)
        .await?
        .ok_or_else(|| not_found(kind))?;
    resource_reply(ctx, StatusCode::OK, &resource, Some(&links))
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
    issued(kind, id)?;
    let rt = ctx.config.registry.resource_type(kind);
    let mut normalized = normalize(ctx, rt, parse_json(body)?)?;
    let requested = take_members(kind, &mut normalized.attributes)?;
    let guards = ctx.guards(rt, &normalized.attributes)?;
    let new_password = password_hash(ctx, &mut normalized).await?;
    let with_links = kind == ResourceKind::Group || wants_links(ctx, kind);
    retry_on_race!(|| {
        let (current, current_links) = read_for_change(ctx, kind, id, with_links).await?;
        check_if_match(ctx, &current)?;
        let delta = match kind {
            ResourceKind::Group => {
                let desired = groups::resolve(ctx, id, &requested, &current_links).await?;
                groups::diff(&current_links, &desired)
            }
            ResourceKind::User => MemberDelta::default(),
        };
        let change = Change {
            attributes: normalized.attributes.clone(),
            password_hash: new_password.clone(),
            guards: guards.clone(),
            members: delta,
            lookups: LookupDelta::default(),
        };
        let read = with_links.then_some(current_links.as_slice());
        commit(ctx, rt, current, change, read).await?
    })
}

/// Whether the response shows the resource's links.
fn wants_links(ctx: &Ctx<'_>, kind: ResourceKind) -> bool {
    projection(ctx, ctx.config.registry.resource_type(kind)).wants(link_attribute(kind))
}

/// Reads the current resource, with all its links when `with_links` (a group's members, at
/// most [`MAX_MEMBERS_READ`]; a user's groups, read in the same query as the user).
async fn read_for_change(
    ctx: &Ctx<'_>,
    kind: ResourceKind,
    id: &str,
    with_links: bool,
) -> Result<(Resource, Vec<Link>), ScimError> {
    if !with_links {
        let current = ctx
            .store
            .get(ctx.tenant, kind, id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| not_found(kind))?;
        return Ok((current, Vec::new()));
    }
    let Linked {
        resource,
        links,
        complete,
    } = ctx
        .store
        .get_linked(ctx.tenant, kind, id, MAX_MEMBERS_READ)
        .await
        .map_err(store_error)?
        .ok_or_else(|| not_found(kind))?;
    if !complete {
        return Err(ScimError::TooMany(format!(
            "this group has more than {MAX_MEMBERS_READ} members: change them with PATCH \
             operations that name them (add members, remove members[value eq \"<id>\"])"
        )));
    }
    Ok((std::sync::Arc::unwrap_or_clone(resource), links))
}

/// Computes and applies `change` over `current`: nothing when it changes nothing.
/// `links` are the links read with `current`, if they were (a user's groups, for the reply).
async fn commit(
    ctx: &Ctx<'_>,
    rt: &ResourceTypeDef,
    current: Resource,
    change: Change,
    links: Option<&[Link]>,
) -> Result<Attempt, ScimError> {
    let read_links = links;
    let links = links.unwrap_or(&[]);
    check_immutable(rt, &current.attributes, &change.attributes)?;
    let change = Change {
        lookups: LookupDelta::between(
            &lookup_values(rt, &current.attributes)?,
            &lookup_values(rt, &change.attributes)?,
        ),
        ..change
    };
    let held = held_guards(ctx, rt, &current).await?;
    let memberships = if write::renames(&current, &change) {
        memberships_of(ctx, &current, read_links).await?
    } else {
        Vec::new()
    };
    let if_match = ctx.preconditions.if_match.is_some();
    let (kind, id) = (current.kind, current.id.clone());
    let Some(write) = write::update(
        &current,
        &held,
        &memberships,
        change,
        if_match,
        &now_rfc3339(),
    ) else {
        return written_reply(ctx, kind, &id, current, links)
            .await
            .map(Attempt::Done);
    };
    let Some(applied) = try_apply(ctx, &write).await? else {
        return Ok(Attempt::Lost);
    };
    let written = written_resource(current, write, applied);
    written_reply(ctx, kind, &id, written, links)
        .await
        .map(Attempt::Done)
}

/// The groups a resource belongs to (whose edges carry a copy of its name): a user's as read
/// with it, if they were, else from its edges.
async fn memberships_of(
    ctx: &Ctx<'_>,
    resource: &Resource,
    links: Option<&[Link]>,
) -> Result<Vec<String>, ScimError> {
    if let (ResourceKind::User, Some(links)) = (resource.kind, links) {
        return Ok(links.iter().map(|l| l.target.id.clone()).collect());
    }
    let me = MemberRef {
        kind: resource.kind,
        id: resource.id.clone(),
    };
    let groups = ctx
        .store
        .groups_of(ctx.tenant, &me)
        .await
        .map_err(store_error)?;
    Ok(groups.into_iter().map(|g| g.id).collect())
}

/// The resource as a write left it.
fn written_resource(current: Resource, write: Write, applied: Applied) -> Resource {
    let mut written = match write.op {
        crate::store::WriteOp::Update { resource, .. } => resource,
        crate::store::WriteOp::Members { last_modified, .. } => Resource {
            last_modified,
            ..current
        },
        _ => current,
    };
    written.version = applied.version;
    written.member_count = applied.member_count;
    written
}

/// `PATCH /Users/{id}`, `PATCH /Groups/{id}` (RFC 7644 §3.5.2): the operations are applied to
/// the current version and the result is checked like a PUT body, then written conditionally
/// on that version. A group's membership operations that name their members are applied
/// without reading the group's other members (see [`members`]). A PATCH that changes nothing
/// writes nothing and keeps the version.
pub async fn patch(
    ctx: &Ctx<'_>,
    kind: ResourceKind,
    id: &str,
    body: &[u8],
) -> Result<Reply, ScimError> {
    issued(kind, id)?;
    let rt = ctx.config.registry.resource_type(kind);
    let operations = crate::patch::parse_request(parse_json(body)?)?;
    let split = match kind {
        ResourceKind::Group => members::split(rt, operations),
        ResourceKind::User => members::Split {
            attributes: operations,
            members: Vec::new(),
            targeted: true,
        },
    };
    let targeted = if split.targeted {
        Some(members::net_effect(&split.members)?)
    } else {
        None
    };
    let mut known_edges: Option<Vec<Link>> = None;
    let with_links = match kind {
        ResourceKind::Group => targeted.is_none(),
        ResourceKind::User => wants_links(ctx, kind),
    };
    retry_on_race!(|| {
        let (current, links) = read_for_change(ctx, kind, id, with_links).await?;
        check_if_match(ctx, &current)?;
        let mut doc = current.attributes.clone();
        crate::patch::apply(rt, &mut doc, &split.attributes, ctx.unknown_attributes())?;
        let mut normalized = renormalize(rt, doc)?;
        let password_hash = password_hash(ctx, &mut normalized).await?;
        let delta = match &targeted {
            Some(effect) => targeted_delta(ctx, id, effect, known_edges.as_deref()).await?,
            None => whole_list_delta(ctx, rt, id, &split.members, &links).await?,
        };
        let guards = ctx.guards(rt, &normalized.attributes)?;
        let change = Change {
            attributes: normalized.attributes,
            password_hash,
            guards,
            members: delta,
            lookups: LookupDelta::default(),
        };
        let read = with_links.then_some(links.as_slice());
        let attempt = commit(ctx, rt, current, change, read).await?;
        if matches!(attempt, Attempt::Lost) && targeted.is_some() {
            // Maybe a member named here was added or removed meanwhile: read those edges.
            known_edges = Some(named_edges(ctx, id, targeted.as_ref()).await?);
        }
        attempt
    })
}

/// The edges that exist now between the group and the members a targeted PATCH names.
async fn named_edges(
    ctx: &Ctx<'_>,
    group: &str,
    effect: Option<&members::Targeted>,
) -> Result<Vec<Link>, ScimError> {
    let Some(effect) = effect else {
        return Ok(Vec::new());
    };
    let named: Vec<MemberRef> = effect
        .add
        .iter()
        .map(|r| r.id.as_str())
        .chain(effect.remove.iter().map(String::as_str))
        .flat_map(|id| {
            [ResourceKind::User, ResourceKind::Group].map(|kind| MemberRef {
                kind,
                id: id.to_owned(),
            })
        })
        .collect();
    ctx.store
        .memberships(ctx.tenant, group, &named)
        .await
        .map_err(store_error)
}

/// The delta of targeted operations. First assumed from the request alone (named additions
/// are new, named removals are members); once a write found otherwise, from `known` edges.
async fn targeted_delta(
    ctx: &Ctx<'_>,
    group: &str,
    effect: &members::Targeted,
    known: Option<&[Link]>,
) -> Result<MemberDelta, ScimError> {
    let is_member = |id: &str| known.map(|k| k.iter().any(|l| l.target.id == id));
    let to_add: Vec<Requested> = effect
        .add
        .iter()
        .filter(|r| is_member(&r.id) != Some(true))
        .cloned()
        .collect();
    let add = groups::resolve(ctx, group, &to_add, &[]).await?;
    // An id this server never issued is no member: removing it changes nothing.
    let remove = effect
        .remove
        .iter()
        .filter(|id| is_resource_id(id))
        .filter_map(|id| match known {
            Some(k) => k
                .iter()
                .find(|l| l.target.id == *id)
                .map(|l| l.target.clone()),
            // Unknown kind until read: a user id is assumed (ids are UUIDs; the write checks).
            None => Some(MemberRef {
                kind: ResourceKind::User,
                id: id.clone(),
            }),
        })
        .collect();
    Ok(MemberDelta { add, remove })
}

/// The delta of whole-list operations, run through the PATCH engine over all members.
async fn whole_list_delta(
    ctx: &Ctx<'_>,
    rt: &ResourceTypeDef,
    group: &str,
    operations: &[crate::patch::Operation],
    current: &[Link],
) -> Result<MemberDelta, ScimError> {
    let mut doc = Map::new();
    if !current.is_empty() {
        doc.insert(
            link_attribute(ResourceKind::Group).into(),
            groups::members_value(current),
        );
    }
    crate::patch::apply(rt, &mut doc, operations, ctx.unknown_attributes())?;
    let requested = groups::take_members(&mut doc)?;
    let desired = groups::resolve(ctx, group, &requested, current).await?;
    Ok(groups::diff(current, &desired))
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
    issued(kind, id)?;
    let rt = ctx.config.registry.resource_type(kind);
    retry_on_race!(|| {
        let (current, _) = read_for_change(ctx, kind, id, false).await?;
        check_if_match(ctx, &current)?;
        let held = held_guards(ctx, rt, &current).await?;
        let lookups = lookup_values(rt, &current.attributes)?;
        let soft = ctx.settings.soft_delete;
        let write = write::retire(&current, held, lookups, soft, &now_rfc3339());
        match try_apply(ctx, &write).await? {
            Some(_) => Attempt::Done(Reply::empty(StatusCode::NO_CONTENT)),
            None => Attempt::Lost,
        }
    })
}
