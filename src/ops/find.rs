//! Finding the resources a list request matches, by the cheapest route that is exact:
//!
//! - `userName eq`, `externalId eq`, `displayName eq` (when unique) and `id eq`: one strongly
//!   consistent lookup (the uniqueness guard or the item), so a client that creates a user and
//!   at once filters for it always finds it;
//! - `members.value eq "<id>"` / `members[value eq "<id>"]` on Groups and `groups.value eq
//!   "<id>"` on Users (alone, or joined by `and` with other conditions): from the membership
//!   edges of that one resource; any other use of `members`/`groups` in a filter is a 400;
//! - no filter and no sort: the counter for `totalResults` and a page of ids;
//! - anything else: the tenant's resources in id order, evaluated in memory, at most
//!   `max_scan` of them (beyond that: 400 `tooMany` with a hint), never a silent partial answer.

use serde_json::Value;

use super::groups::{link_attribute, shown_links};
use super::request::ListParams;
use super::{Ctx, store_error};
use crate::domain::Resource;
use crate::domain::ResourceKind;
use crate::domain::UniqueValue;
use crate::error::ScimError;
use crate::filter::{self, CompValue, CompareOp, Filter};
use crate::schema::output::{render, render_linked};
use crate::schema::{ResourceTypeDef, fold_case};

/// Resources read per store call while scanning.
const SCAN_PAGE: usize = 200;

/// A matched resource, rendered (with its links if they were read).
#[derive(Debug)]
pub struct Found {
    /// The SCIM representation, before projection.
    pub rendered: Value,
    /// The stored resource.
    pub resource: Resource,
    /// Whether `rendered` already shows the membership links.
    pub linked: bool,
}

impl Found {
    fn plain(rendered: Value, resource: Resource) -> Self {
        Found {
            rendered,
            resource,
            linked: false,
        }
    }
}

/// One page of matches.
#[derive(Debug, Default)]
pub struct Page {
    /// How many resources match in all, when it is known without a full scan (always for
    /// index paging; for cursor paging of a scanned filter it is not computed).
    pub total: Option<usize>,
    /// The page.
    pub items: Vec<Found>,
    /// Cursor paging: the cursor of the next page, if there may be one.
    pub next: Option<String>,
}

/// The requested page of matches (index or cursor paging).
pub async fn matches(
    ctx: &Ctx<'_>,
    rt: &ResourceTypeDef,
    params: &ListParams,
) -> Result<Page, ScimError> {
    if let Some(raw) = &params.cursor {
        let after = cursor::decode(ctx, rt, params, raw)?;
        let page = cursor_page(ctx, rt, params, after.as_deref()).await?;
        let next = page
            .next
            .as_deref()
            .map(|id| cursor::encode(ctx, rt, params, id));
        return Ok(Page { next, ..page });
    }
    let (total, items) = match &params.filter {
        None if params.sort.is_none() => unfiltered_page(ctx, rt, params).await?,
        None => scan(ctx, rt, None, params).await?,
        Some(f) => {
            let all = match (link_lookup(f, rt)?, direct_lookup(ctx, f, rt)) {
                (Some(target), _) => linked_all(ctx, rt, f, &target, params).await?,
                (None, Some(lookup)) => lookup_all(ctx, rt, f, lookup).await?,
                (None, None) => return scan(ctx, rt, Some(f), params).await.map(index_page),
            };
            (all.len(), window(all, params))
        }
    };
    Ok(index_page((total, items)))
}

fn index_page((total, items): (usize, Vec<Found>)) -> Page {
    Page {
        total: Some(total),
        items,
        next: None,
    }
}

/// A cursor page: id order, starting after `after`.
async fn cursor_page(
    ctx: &Ctx<'_>,
    rt: &ResourceTypeDef,
    params: &ListParams,
    after: Option<&str>,
) -> Result<Page, ScimError> {
    let Some(f) = &params.filter else {
        let total = count(ctx, rt.kind).await?;
        let page = ctx
            .store
            .list(ctx.tenant, rt.kind, after, params.count)
            .await
            .map_err(store_error)?;
        let items = page
            .items
            .into_iter()
            .map(|r| Found::plain(render(&r, rt, ctx.base_url), r))
            .collect();
        return Ok(Page {
            total: Some(total),
            items,
            next: page.next_after,
        });
    };
    let all = match (link_lookup(f, rt)?, direct_lookup(ctx, f, rt)) {
        (Some(target), _) => linked_all(ctx, rt, f, &target, params).await?,
        (None, Some(lookup)) => lookup_all(ctx, rt, f, lookup).await?,
        (None, None) => return scan_from(ctx, rt, f, after, params.count).await,
    };
    let total = all.len();
    let mut rest: Vec<Found> = all
        .into_iter()
        .filter(|found| after.is_none_or(|a| found.resource.id.as_str() > a))
        .collect();
    let next = (rest.len() > params.count)
        .then(|| {
            rest.get(params.count.saturating_sub(1))
                .map(|f| f.resource.id.clone())
        })
        .flatten();
    rest.truncate(params.count);
    Ok(Page {
        total: Some(total),
        items: rest,
        next,
    })
}

/// Scans in id order from `after` until `count` matches or `max_scan` resources examined; a
/// short page with a next cursor is fine (the end is the absence of a next cursor).
async fn scan_from(
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
            let rendered = render(&resource, rt, ctx.base_url);
            if filter::eval::matches(f, rt, &rendered)? {
                kept.push(Found::plain(rendered, resource));
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

async fn count(ctx: &Ctx<'_>, kind: ResourceKind) -> Result<usize, ScimError> {
    let n = ctx
        .store
        .count(ctx.tenant, kind)
        .await
        .map_err(store_error)?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// Opaque cursors (RFC 9865): the id to continue after, bound to the tenant, the resource type
/// and the filter, so a cursor cannot be replayed against another query.
mod cursor {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use sha2::{Digest, Sha256};

    use super::super::Ctx;
    use super::super::request::ListParams;
    use crate::error::ScimError;
    use crate::schema::ResourceTypeDef;

    fn binding(ctx: &Ctx<'_>, rt: &ResourceTypeDef, params: &ListParams, after: &str) -> String {
        let filter = params
            .filter
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        let digest = Sha256::digest(
            format!("{}\n{}\n{filter}\n{after}", ctx.tenant, rt.kind.name()).as_bytes(),
        );
        digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }

    /// The cursor of the page after `after`.
    pub fn encode(ctx: &Ctx<'_>, rt: &ResourceTypeDef, params: &ListParams, after: &str) -> String {
        format!(
            "1.{}.{}",
            URL_SAFE_NO_PAD.encode(after),
            binding(ctx, rt, params, after)
        )
    }

    /// The id to continue after (`None` for the first page, an empty cursor).
    pub fn decode(
        ctx: &Ctx<'_>,
        rt: &ResourceTypeDef,
        params: &ListParams,
        raw: &str,
    ) -> Result<Option<String>, ScimError> {
        if raw.is_empty() {
            return Ok(None);
        }
        let invalid = || ScimError::InvalidCursor("the cursor is not one this query issued".into());
        let mut parts = raw.splitn(3, '.');
        let (Some("1"), Some(id), Some(check)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(invalid());
        };
        let after = URL_SAFE_NO_PAD
            .decode(id)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(invalid)?;
        if binding(ctx, rt, params, &after) != check {
            return Err(invalid());
        }
        Ok(Some(after))
    }
}

/// Whether a filter names the membership attribute of this resource type anywhere.
fn mentions_links(f: &Filter, rt: &ResourceTypeDef) -> bool {
    let attr = link_attribute(rt.kind);
    let names = |p: &filter::AttrPath| {
        p.name.eq_ignore_ascii_case(attr)
            && p.urn
                .as_deref()
                .is_none_or(|u| u.eq_ignore_ascii_case(rt.core.id))
    };
    match f {
        Filter::Compare { path, .. } | Filter::Present(path) => names(path),
        Filter::ValuePath { path, .. } => names(path),
        Filter::And(items) | Filter::Or(items) => items.iter().any(|i| mentions_links(i, rt)),
        Filter::Not(inner) => mentions_links(inner, rt),
    }
}

/// The id in `members.value eq "<id>"` or `members[value eq "<id>"]` (`groups` for Users).
fn link_eq(f: &Filter, rt: &ResourceTypeDef) -> Option<String> {
    let attr = link_attribute(rt.kind);
    let is_attr = |p: &filter::AttrPath| {
        p.name.eq_ignore_ascii_case(attr)
            && p.urn
                .as_deref()
                .is_none_or(|u| u.eq_ignore_ascii_case(rt.core.id))
    };
    match f {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::String(id),
        } if is_attr(path)
            && path
                .sub
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("value")) =>
        {
            Some(id.clone())
        }
        Filter::ValuePath { path, filter } if is_attr(path) && path.sub.is_none() => {
            match filter.as_ref() {
                Filter::Compare {
                    path: inner,
                    op: CompareOp::Eq,
                    value: CompValue::String(id),
                } if inner.urn.is_none()
                    && inner.sub.is_none()
                    && inner.name.eq_ignore_ascii_case("value") =>
                {
                    Some(id.clone())
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// For a filter on membership: the id whose edges answer it. Any other use is a 400.
fn link_lookup(f: &Filter, rt: &ResourceTypeDef) -> Result<Option<String>, ScimError> {
    if !mentions_links(f, rt) {
        return Ok(None);
    }
    if let Some(id) = link_eq(f, rt) {
        return Ok(Some(id));
    }
    if let Filter::And(items) = f {
        let mut eqs = items.iter().filter_map(|i| link_eq(i, rt));
        let others_clean = items
            .iter()
            .filter(|i| link_eq(i, rt).is_none())
            .all(|i| !mentions_links(i, rt));
        if let (Some(id), None, true) = (eqs.next(), eqs.next(), others_clean) {
            return Ok(Some(id));
        }
    }
    let attr = link_attribute(rt.kind);
    Err(ScimError::InvalidFilter(format!(
        "filters on '{attr}' support only '{attr}.value eq \"<id>\"' or \
         '{attr}[value eq \"<id>\"]', alone or joined with 'and'"
    )))
}

/// Answers a membership filter from the edges of the one resource it names.
async fn linked_all(
    ctx: &Ctx<'_>,
    rt: &ResourceTypeDef,
    f: &Filter,
    target: &str,
    params: &ListParams,
) -> Result<Vec<Found>, ScimError> {
    let candidates: Vec<String> = match rt.kind {
        // Groups having <target> as a member: the target's own group edges.
        ResourceKind::Group => {
            let mut linked = None;
            for kind in [ResourceKind::User, ResourceKind::Group] {
                linked = ctx
                    .store
                    .get_linked(ctx.tenant, kind, target)
                    .await
                    .map_err(store_error)?;
                if linked.is_some() {
                    break;
                }
            }
            linked
                .map(|l| l.groups.into_iter().map(|g| g.target.id).collect())
                .unwrap_or_default()
        }
        // Users in group <target>: the group's member edges.
        ResourceKind::User => ctx
            .store
            .get_linked(ctx.tenant, ResourceKind::Group, target)
            .await
            .map_err(store_error)?
            .map(|l| {
                l.members
                    .into_iter()
                    .filter(|m| m.target.kind == ResourceKind::User)
                    .map(|m| m.target.id)
                    .collect()
            })
            .unwrap_or_default(),
    };
    if candidates.len() > ctx.config.max_scan {
        return Err(too_many(ctx.config.max_scan));
    }
    let mut matched = Vec::new();
    for id in candidates {
        let Some(linked) = ctx
            .store
            .get_linked(ctx.tenant, rt.kind, &id)
            .await
            .map_err(store_error)?
        else {
            continue;
        };
        let rendered = render_linked(
            &linked.resource,
            rt,
            Some(shown_links(&linked)),
            ctx.base_url,
        );
        if filter::eval::matches(f, rt, &rendered)? {
            matched.push(Found {
                rendered,
                resource: linked.resource,
                linked: true,
            });
        }
    }
    Ok(match &params.sort {
        Some(sort) => sort.sort(matched, |f| &f.rendered),
        None => matched,
    })
}

/// A filter answerable by one consistent lookup.
enum Lookup {
    /// `id eq "…"`
    Id(String),
    /// `userName eq "…"`, `externalId eq "…"` (a uniqueness guard).
    Unique(UniqueValue),
}

/// Recognises `attr eq "value"` on `id` or on a unique attribute of the core schema whose
/// uniqueness this tenant enforces (only then does a guard exist to look up).
fn direct_lookup(ctx: &Ctx<'_>, f: &Filter, rt: &ResourceTypeDef) -> Option<Lookup> {
    let Filter::Compare {
        path,
        op: CompareOp::Eq,
        value: CompValue::String(value),
    } = f
    else {
        return None;
    };
    let core_or_none = path
        .urn
        .as_deref()
        .is_none_or(|u| u.eq_ignore_ascii_case(rt.core.id));
    if path.sub.is_some() || !core_or_none {
        return None;
    }
    if path.name.eq_ignore_ascii_case("id") && path.urn.is_none() {
        return Some(Lookup::Id(value.clone()));
    }
    let def =
        crate::schema::common_attribute(&path.name).or_else(|| rt.core.attribute(&path.name))?;
    if def.uniqueness != crate::schema::Uniqueness::Server
        || def.name == "id"
        || !ctx.enforces(rt, def)
    {
        return None;
    }
    let normalized = if def.case_exact {
        value.clone()
    } else {
        fold_case(value)
    };
    Some(Lookup::Unique(UniqueValue {
        attr: def.name,
        normalized,
    }))
}

async fn lookup_all(
    ctx: &Ctx<'_>,
    rt: &ResourceTypeDef,
    f: &Filter,
    lookup: Lookup,
) -> Result<Vec<Found>, ScimError> {
    let id = match lookup {
        Lookup::Id(id) => Some(id),
        Lookup::Unique(value) => ctx
            .store
            .find_unique(ctx.tenant, rt.kind, &value)
            .await
            .map_err(store_error)?,
    };
    let found = match id {
        Some(id) => ctx
            .store
            .get(ctx.tenant, rt.kind, &id)
            .await
            .map_err(store_error)?,
        None => None,
    };
    // Re-check the filter on the resource itself (the guard may be the only thing that matched).
    let mut matched = Vec::new();
    if let Some(resource) = found {
        let rendered = render(&resource, rt, ctx.base_url);
        if filter::eval::matches(f, rt, &rendered)? {
            matched.push(Found::plain(rendered, resource));
        }
    }
    Ok(matched)
}

fn window(items: Vec<Found>, params: &ListParams) -> Vec<Found> {
    items
        .into_iter()
        .skip(params.start_index - 1)
        .take(params.count)
        .collect()
}

fn too_many(max: usize) -> ScimError {
    ScimError::TooMany(format!(
        "this request would examine more than {max} resources; filter with 'userName eq', \
         'externalId eq' or 'id eq', or page with a smaller startIndex"
    ))
}

/// Examines the tenant's resources in id order (at most `max_scan`), keeping matches. Without
/// a sort, only the requested window is kept; with one, every match is kept and sorted.
async fn scan(
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
            let rendered = render(&resource, rt, ctx.base_url);
            if let Some(f) = f
                && !filter::eval::matches(f, rt, &rendered)?
            {
                continue;
            }
            total += 1;
            let in_window = total >= params.start_index && kept.len() < params.count;
            if params.sort.is_some() || in_window {
                kept.push(Found::plain(rendered, resource));
            }
        }
        match page.next_after {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    Ok(match &params.sort {
        Some(sort) => (total, window(sort.sort(kept, |f| &f.rendered), params)),
        None => (total, kept),
    })
}

async fn unfiltered_page(
    ctx: &Ctx<'_>,
    rt: &ResourceTypeDef,
    params: &ListParams,
) -> Result<(usize, Vec<Found>), ScimError> {
    let kind = rt.kind;
    let total = count(ctx, kind).await?;
    if params.count == 0 || params.start_index > total {
        return Ok((total, Vec::new()));
    }
    let skip = params.start_index - 1;
    if skip.saturating_add(params.count) > ctx.config.max_scan {
        return Err(too_many(ctx.config.max_scan));
    }
    let mut seen = 0usize;
    let mut items = Vec::new();
    let mut after: Option<String> = None;
    while items.len() < params.count {
        let want = (skip + params.count - seen).min(ctx.config.max_page_size.max(SCAN_PAGE));
        let page = ctx
            .store
            .list(ctx.tenant, kind, after.as_deref(), want)
            .await
            .map_err(store_error)?;
        for resource in page.items {
            seen += 1;
            if seen > skip && items.len() < params.count {
                items.push(Found::plain(render(&resource, rt, ctx.base_url), resource));
            }
        }
        match page.next_after {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    Ok((total, items))
}
