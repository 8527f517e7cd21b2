//! Carrying out a [`Plan`](super::plan::Plan): index paging from page anchors, scans in id
//! order bounded by `max_scan`, membership filters from one resource's edges, and single
//! lookups. Every route is exact; none returns a silent partial answer.

use std::sync::Arc;

use serde_json::Value;

use super::super::groups::link_attribute;
use super::super::request::ListParams;
use super::super::{Ctx, store_error};
use super::plan::{Lookup, attributes_suffice};
use super::{Found, Page};
use crate::domain::{MemberRef, Resource, ResourceKind};
use crate::error::ScimError;
use crate::filter::{self, Filter};
use crate::schema::ResourceTypeDef;
use crate::schema::output::{render, render_linked};
use crate::store::PageAnchor;

/// Resources read per store call while scanning.
pub(super) const SCAN_PAGE: usize = 200;

pub(super) async fn count(ctx: &Ctx<'_>, kind: ResourceKind) -> Result<usize, ScimError> {
    let n = ctx
        .store
        .count(ctx.tenant, kind)
        .await
        .map_err(store_error)?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// Scans in id order from `after` until `count` matches or `max_scan` resources examined; a
/// short page with a next cursor is fine (the end is the absence of a next cursor).
pub(super) async fn scan_from(
    ctx: &Ctx<'_>,
    rt: &ResourceTypeDef,
    f: &Filter,
    after: Option<&str>,
    count: usize,
) -> Result<Page, ScimError> {
    let mut kept = Vec::new();
    let mut examined = 0usize;
    let mut position = after.map(str::to_owned);
    if count == 0 {
        return Ok(Page::default());
    }
    loop {
        let page = ctx
            .store
            .list(ctx.tenant, rt.kind, position.as_deref(), SCAN_PAGE)
            .await
            .map_err(store_error)?;
        let in_page = page.items.len();
        for (i, resource) in page.items.into_iter().enumerate() {
            examined += 1;
            let id = resource.id.clone();
            if let Some(found) = matched(ctx, rt, f, resource, false)? {
                kept.push(found);
            }
            if kept.len() == count || examined >= ctx.config.max_scan {
                let more = i + 1 < in_page || page.next_after.is_some();
                return Ok(Page {
                    total: None,
                    items: kept,
                    next: more.then_some(id),
                });
            }
        }
        match page.next_after {
            Some(next) => position = Some(next),
            None => {
                return Ok(Page {
                    total: None,
                    items: kept,
                    next: None,
                });
            }
        }
    }
}

/// Examines the tenant's resources in id order (at most `max_scan`), keeping matches. Without
/// a sort, only the requested window is kept; with one, every match is kept and sorted.
pub(super) async fn scan(
    ctx: &Ctx<'_>,
    rt: &ResourceTypeDef,
    f: Option<&Filter>,
    params: &ListParams,
) -> Result<(usize, Vec<Found>), ScimError> {
    let mut total = 0usize;
    let mut examined = 0usize;
    let mut kept = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = ctx
            .store
            .list(ctx.tenant, rt.kind, after.as_deref(), SCAN_PAGE)
            .await
            .map_err(store_error)?;
        for resource in page.items {
            examined += 1;
            if examined > ctx.config.max_scan {
                return Err(too_many(ctx.config.max_scan));
            }
            let sorted = params.sort.is_some();
            let found = match f {
                Some(f) => match matched(ctx, rt, f, resource, sorted)? {
                    Some(found) => found,
                    None => continue,
                },
                None if sorted => Found::plain(render(&resource, rt, ctx.base_url), resource),
                None => Found::unrendered(resource),
            };
            total += 1;
            let in_window = total >= params.start_index && kept.len() < params.count;
            if sorted || in_window {
                kept.push(found);
            }
        }
        match page.next_after {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    Ok(match &params.sort {
        Some(sort) => (
            total,
            window(
                sort.sort(kept, |f| f.rendered.as_ref().unwrap_or(&Value::Null)),
                params,
            ),
        ),
        None => (total, kept),
    })
}

/// The listing key of unfiltered, unsorted index paging (see [`crate::store::PageAnchor`]).
pub(super) const ALL: &str = "all";

/// An unfiltered, unsorted page by index. DynamoDB has no offsets: the page starts from the
/// anchor the previous page stored for this position (or the nearest one before it, then
/// reading forward), so that walking N resources page by page reads O(N) items in all, on any
/// server instance. Jumping further than `max_scan` past every anchor is refused with a hint.
pub(super) async fn unfiltered_page(
    ctx: &Ctx<'_>,
    rt: &ResourceTypeDef,
    params: &ListParams,
) -> Result<(usize, Vec<Found>), ScimError> {
    let kind = rt.kind;
    let total = count(ctx, kind).await?;
    if params.count == 0 || params.start_index > total {
        return Ok((total, Vec::new()));
    }
    let start = u64::try_from(params.start_index).unwrap_or(u64::MAX);
    let (mut position, mut after) = if start == 1 {
        (1, None)
    } else {
        match ctx
            .store
            .page_anchor(ctx.tenant, kind, ALL, start)
            .await
            .map_err(store_error)?
        {
            Some(anchor) => (anchor.index, Some(anchor.after)),
            None => (1, None),
        }
    };
    if usize::try_from(start - position).unwrap_or(usize::MAX) > ctx.config.max_scan {
        return Err(ScimError::TooMany(format!(
            "startIndex {start} is more than {} resources past any page served recently: page \
             in order (each startIndex the previous one plus its count) or use cursors",
            ctx.config.max_scan
        )));
    }
    while position < start {
        let want = usize::try_from(start - position)
            .unwrap_or(usize::MAX)
            .min(SCAN_PAGE);
        let skipped = ctx
            .store
            .list(ctx.tenant, kind, after.as_deref(), want)
            .await
            .map_err(store_error)?;
        match skipped.items.last() {
            Some(last) => after = Some(last.id.clone()),
            None => return Ok((total, Vec::new())),
        }
        position += u64::try_from(skipped.items.len()).unwrap_or(u64::MAX);
    }
    let page = ctx
        .store
        .list(ctx.tenant, kind, after.as_deref(), params.count)
        .await
        .map_err(store_error)?;
    if let (Some(last), true) = (page.items.last(), page.items.len() == params.count) {
        let next = PageAnchor {
            index: start + u64::try_from(params.count).unwrap_or(u64::MAX),
            after: last.id.clone(),
        };
        ctx.store
            .put_page_anchor(ctx.tenant, kind, ALL, &next)
            .await
            .map_err(store_error)?;
    }
    let items = page.items.into_iter().map(Found::unrendered).collect();
    Ok((total, items))
}

/// The ids a membership filter's edges give, in id order: the groups `target` belongs to
/// (on Groups), or the users among `target`'s members (on Users).
pub(super) async fn link_candidates(
    ctx: &Ctx<'_>,
    rt: &ResourceTypeDef,
    target: &str,
) -> Result<Vec<String>, ScimError> {
    let mut ids: Vec<String> = match rt.kind {
        ResourceKind::Group => {
            let mut ids = Vec::new();
            for kind in [ResourceKind::User, ResourceKind::Group] {
                let member = MemberRef {
                    kind,
                    id: target.to_owned(),
                };
                let groups = ctx
                    .store
                    .groups_of(ctx.tenant, &member)
                    .await
                    .map_err(store_error)?;
                ids.extend(groups.into_iter().map(|g| g.id));
            }
            ids
        }
        ResourceKind::User => {
            let linked = ctx
                .store
                .get_linked(ctx.tenant, ResourceKind::Group, target, ctx.config.max_scan)
                .await
                .map_err(store_error)?;
            match linked {
                Some(l) if !l.complete => return Err(too_many(ctx.config.max_scan)),
                Some(l) => l
                    .links
                    .into_iter()
                    .filter(|m| m.target.kind == ResourceKind::User)
                    .map(|m| m.target.id)
                    .collect(),
                None => Vec::new(),
            }
        }
    };
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// References to resources of one kind.
fn refs_of(kind: ResourceKind, ids: &[String]) -> Vec<MemberRef> {
    ids.iter()
        .map(|id| MemberRef {
            kind,
            id: id.clone(),
        })
        .collect()
}

/// Reads resources by id (batched), unrendered, in id order; ids that no longer exist are
/// left out.
pub(super) async fn read_candidates(
    ctx: &Ctx<'_>,
    rt: &ResourceTypeDef,
    ids: &[String],
) -> Result<Vec<Found>, ScimError> {
    let refs = refs_of(rt.kind, ids);
    let mut found = ctx
        .store
        .get_many(ctx.tenant, &refs)
        .await
        .map_err(store_error)?;
    found.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(found.into_iter().map(Found::unrendered).collect())
}

/// Answers a membership filter from the edges of the one resource it names. With nothing
/// else to check or sort by, only the ids are needed for the total and only the page window
/// is read; otherwise every candidate is read (at most `max_scan`).
pub(super) async fn linked(
    ctx: &Ctx<'_>,
    rt: &ResourceTypeDef,
    target: &str,
    rest: Option<&Filter>,
    params: &ListParams,
    after: Option<&str>,
) -> Result<(usize, Vec<Found>, Option<String>), ScimError> {
    let ids = link_candidates(ctx, rt, target).await?;
    if rest.is_none() && params.sort.is_none() {
        let total = ids.len();
        let (window, next) = window_ids(&ids, params, after);
        return Ok((total, read_candidates(ctx, rt, &window).await?, next));
    }
    if ids.len() > ctx.config.max_scan {
        return Err(too_many(ctx.config.max_scan));
    }
    let mut matched = Vec::new();
    for mut found in read_candidates(ctx, rt, &ids).await? {
        let keep = match rest {
            Some(rest) => filter::eval::matches(rest, rt, found.view(rt, ctx.base_url))?,
            None => true,
        };
        if keep {
            matched.push(found);
        }
    }
    if let Some(sort) = &params.sort {
        for found in &mut matched {
            found.view(rt, ctx.base_url);
        }
        matched = sort.sort(matched, |f| f.rendered.as_ref().unwrap_or(&Value::Null));
    }
    let total = matched.len();
    let (page, next) = window_found(matched, params, after);
    Ok((total, page, next))
}

/// The page of `ids` (index paging: `startIndex`/`count`; cursor paging: after `after`), and
/// the id to continue after.
pub(super) fn window_ids(
    ids: &[String],
    params: &ListParams,
    after: Option<&str>,
) -> (Vec<String>, Option<String>) {
    let rest: Vec<&String> = match (&params.cursor, after) {
        (Some(_), Some(a)) => ids.iter().filter(|id| id.as_str() > a).collect(),
        (Some(_), None) => ids.iter().collect(),
        (None, _) => ids.iter().skip(params.start_index - 1).collect(),
    };
    let page: Vec<String> = rest
        .iter()
        .take(params.count)
        .map(|s| (*s).clone())
        .collect();
    let next = (params.cursor.is_some() && rest.len() > params.count)
        .then(|| page.last().cloned())
        .flatten();
    (page, next)
}

pub(super) fn window_found(
    items: Vec<Found>,
    params: &ListParams,
    after: Option<&str>,
) -> (Vec<Found>, Option<String>) {
    if params.cursor.is_none() {
        return (window(items, params), None);
    }
    let mut rest: Vec<Found> = items
        .into_iter()
        .filter(|f| after.is_none_or(|a| f.resource.id.as_str() > a))
        .collect();
    let more = rest.len() > params.count;
    rest.truncate(params.count);
    let next = more
        .then(|| rest.last().map(|f| f.resource.id.clone()))
        .flatten();
    (rest, next)
}

/// Every resource a lookup names, in id order, each checked against the whole filter (the
/// guard or index entry may be the only part of it that matched). An indexed value shared by
/// more than `max_scan` resources is refused rather than read in part.
pub(super) async fn lookup_all(
    ctx: &Ctx<'_>,
    rt: &ResourceTypeDef,
    f: &Filter,
    lookup: Lookup,
    params: &ListParams,
) -> Result<Vec<Found>, ScimError> {
    let mut ids: Vec<String> = match lookup {
        Lookup::Id(id) => vec![id],
        Lookup::Unique(value) => ctx
            .store
            .find_unique(ctx.tenant, rt.kind, &value)
            .await
            .map_err(store_error)?
            .into_iter()
            .collect(),
        Lookup::Indexed(value) => {
            let limit = ctx.config.max_scan;
            let ids = ctx
                .store
                .find_indexed(ctx.tenant, rt.kind, &value, limit.saturating_add(1))
                .await
                .map_err(store_error)?;
            if ids.len() > limit {
                return Err(too_many(limit));
            }
            ids
        }
    };
    ids.sort();
    let mut found = Vec::with_capacity(ids.len());
    // One read per resource (concurrent, for several), with its links when the response
    // shows them.
    if params.projection.wants(link_attribute(rt.kind)) {
        let refs = refs_of(rt.kind, &ids);
        let read = super::super::resources::links_for_many(ctx, &refs).await?;
        for (resource, links) in read.into_iter().flatten() {
            if filter::eval::matches(f, rt, &render(&resource, rt, ctx.base_url))? {
                found.push(Found {
                    rendered: Some(render_linked(&resource, rt, Some(&links), ctx.base_url)),
                    resource,
                    linked: true,
                });
            }
        }
        return Ok(found);
    }
    let resources = match ids.as_slice() {
        [] => Vec::new(),
        [id] => ctx
            .store
            .get(ctx.tenant, rt.kind, id)
            .await
            .map_err(store_error)?
            .map(Found::unrendered)
            .into_iter()
            .collect(),
        _ => read_candidates(ctx, rt, &ids).await?,
    };
    for candidate in resources {
        let plain = render(&candidate.resource, rt, ctx.base_url);
        if filter::eval::matches(f, rt, &plain)? {
            found.push(Found::plain(plain, candidate.resource));
        }
    }
    Ok(found)
}

pub(super) fn window(items: Vec<Found>, params: &ListParams) -> Vec<Found> {
    items
        .into_iter()
        .skip(params.start_index - 1)
        .take(params.count)
        .collect()
}

pub(super) fn too_many(max: usize) -> ScimError {
    ScimError::TooMany(format!(
        "this request would examine more than {max} resources; filter with 'userName eq', \
         'externalId eq' or 'id eq', or page with a smaller startIndex"
    ))
}

/// `resource` if it matches `f`. The filter is evaluated on the stored attributes when they
/// suffice (see [`attributes_suffice`]), so a scan renders only what it keeps; a match is
/// rendered at once only when `render_match` (a sort will read it).
fn matched(
    ctx: &Ctx<'_>,
    rt: &ResourceTypeDef,
    f: &Filter,
    resource: Arc<Resource>,
    render_match: bool,
) -> Result<Option<Found>, ScimError> {
    if attributes_suffice(f, rt) {
        if !filter::eval::matches_object(f, rt, &resource.attributes)? {
            return Ok(None);
        }
        return Ok(Some(if render_match {
            Found::plain(render(&resource, rt, ctx.base_url), resource)
        } else {
            Found::unrendered(resource)
        }));
    }
    let rendered = render(&resource, rt, ctx.base_url);
    Ok(filter::eval::matches(f, rt, &rendered)?.then(|| Found::plain(rendered, resource)))
}
