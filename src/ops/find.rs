//! Finding the resources a list request matches, by the cheapest route that is exact:
//!
//! - `userName eq`, `externalId eq`, `displayName eq` (when unique) and `id eq`: one strongly
//!   consistent lookup (the uniqueness guard or the item), so a client that creates a user and
//!   at once filters for it always finds it;
//! - `members.value eq "<id>"` / `members[value eq "<id>"]` on Groups and `groups.value eq
//!   "<id>"` on Users (alone, or joined by `and` with other conditions): from the membership
//!   edges of that one resource; any other use of `members`/`groups` in a filter is a 400;
//! - no filter and no sort: the counter for `totalResults` and a page in id order, started
//!   from the page anchor the previous page stored (index paging) or the cursor, so that a
//!   walk through N resources reads O(N) items, without a cap;
//! - anything else: the tenant's resources in id order, evaluated in memory, at most
//!   `max_scan` of them (beyond that: 400 `tooMany` with a hint), never a silent partial answer.

use serde_json::Value;

use super::groups::link_attribute;
use super::request::ListParams;
use super::{Ctx, store_error};
use crate::domain::{MemberRef, Resource, ResourceKind, UniqueValue, is_resource_id};
use crate::error::ScimError;
use crate::filter::{self, CompValue, CompareOp, Filter};
use crate::schema::input::MAX_KEY_VALUE_BYTES;
use crate::schema::output::{render, render_linked};
use crate::schema::{ResourceTypeDef, fold_case};
use crate::store::PageAnchor;

/// Resources read per store call while scanning.
const SCAN_PAGE: usize = 200;

/// A matched resource, rendered if finding it needed the rendering (filters and sorts look at
/// it); pages found without one are rendered once, when the response is built.
#[derive(Debug)]
pub struct Found {
    /// The SCIM representation, before projection.
    pub rendered: Option<Value>,
    /// The stored resource.
    pub resource: Resource,
    /// Whether `rendered` already shows the membership links.
    pub linked: bool,
}

impl Found {
    /// A resource found without looking at its rendering.
    fn unrendered(resource: Resource) -> Self {
        Found {
            rendered: None,
            resource,
            linked: false,
        }
    }

    /// Its rendering, made now if it was not yet.
    fn view(&mut self, rt: &ResourceTypeDef, base_url: &str) -> &Value {
        self.rendered
            .get_or_insert_with(|| render(&self.resource, rt, base_url))
    }

    fn plain(rendered: Value, resource: Resource) -> Self {
        Found {
            rendered: Some(rendered),
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
                (Some(target), _) => {
                    let (total, page, _) = linked(ctx, rt, f, &target, params, None).await?;
                    return Ok(index_page((total, page)));
                }
                (None, Some(lookup)) => lookup_all(ctx, rt, f, lookup, params).await?,
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
        let items = page.items.into_iter().map(Found::unrendered).collect();
        return Ok(Page {
            total: Some(total),
            items,
            next: page.next_after,
        });
    };
    let all = match (link_lookup(f, rt)?, direct_lookup(ctx, f, rt)) {
        (Some(target), _) => {
            let (total, items, next) = linked(ctx, rt, f, &target, params, after).await?;
            return Ok(Page {
                total: Some(total),
                items,
                next,
            });
        }
        (None, Some(lookup)) => lookup_all(ctx, rt, f, lookup, params).await?,
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

/// The cursor of the page after resource `id` (for a page the response budget cut short).
pub fn cursor_after(ctx: &Ctx<'_>, rt: &ResourceTypeDef, params: &ListParams, id: &str) -> String {
    cursor::encode(ctx, rt, params, id)
}

/// Opaque cursors (RFC 9865): the id to continue after, bound to the tenant, the resource type
/// and the filter, so a cursor cannot be replayed against another query.
mod cursor {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use sha2::{Digest, Sha256};

    use super::super::Ctx;
    use super::super::request::ListParams;
    use crate::domain::is_resource_id;
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
        if !is_resource_id(&after) || binding(ctx, rt, params, &after) != check {
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

/// The ids a membership filter's edges give, in id order: the groups `target` belongs to
/// (on Groups), or the users among `target`'s members (on Users).
async fn link_candidates(
    ctx: &Ctx<'_>,
    rt: &ResourceTypeDef,
    target: &str,
) -> Result<Vec<String>, ScimError> {
    if !is_resource_id(target) {
        return Ok(Vec::new());
    }
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

/// The rest of a membership filter once its membership term is known to hold: `None` when
/// the term was the whole filter.
fn without_link_term(f: &Filter, rt: &ResourceTypeDef) -> Option<Filter> {
    match f {
        Filter::And(items) => {
            let rest: Vec<Filter> = items
                .iter()
                .filter(|i| link_eq(i, rt).is_none())
                .cloned()
                .collect();
            match rest.len() {
                0 => None,
                1 => rest.into_iter().next(),
                _ => Some(Filter::And(rest)),
            }
        }
        _ => None,
    }
}

/// Reads resources by id (batched), rendered, in the order given; ids that no longer exist
/// are left out.
async fn read_candidates(
    ctx: &Ctx<'_>,
    rt: &ResourceTypeDef,
    ids: &[String],
) -> Result<Vec<Found>, ScimError> {
    let refs: Vec<MemberRef> = ids
        .iter()
        .map(|id| MemberRef {
            kind: rt.kind,
            id: id.clone(),
        })
        .collect();
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
async fn linked(
    ctx: &Ctx<'_>,
    rt: &ResourceTypeDef,
    f: &Filter,
    target: &str,
    params: &ListParams,
    after: Option<&str>,
) -> Result<(usize, Vec<Found>, Option<String>), ScimError> {
    let ids = link_candidates(ctx, rt, target).await?;
    let rest = without_link_term(f, rt);
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
        let keep = match &rest {
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
fn window_ids(
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

fn window_found(
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
    params: &ListParams,
) -> Result<Vec<Found>, ScimError> {
    let id = match lookup {
        // A value that is not an id, or too long to be a unique value, matches nothing.
        Lookup::Id(id) if !is_resource_id(&id) => None,
        Lookup::Unique(value) if value.normalized.len() > MAX_KEY_VALUE_BYTES => None,
        Lookup::Id(id) => Some(id),
        Lookup::Unique(value) => ctx
            .store
            .find_unique(ctx.tenant, rt.kind, &value)
            .await
            .map_err(store_error)?,
    };
    let Some(id) = id else {
        return Ok(Vec::new());
    };
    // One read of the resource, with its links when the response shows them.
    let (resource, links) = if params.projection.wants(link_attribute(rt.kind)) {
        match super::resources::links_for(ctx, rt.kind, &id).await? {
            Some((resource, links)) => (resource, Some(links)),
            None => return Ok(Vec::new()),
        }
    } else {
        match ctx
            .store
            .get(ctx.tenant, rt.kind, &id)
            .await
            .map_err(store_error)?
        {
            Some(resource) => (resource, None),
            None => return Ok(Vec::new()),
        }
    };
    // Re-check the filter on the resource itself (the guard may be the only thing that matched).
    let plain = render(&resource, rt, ctx.base_url);
    if !filter::eval::matches(f, rt, &plain)? {
        return Ok(Vec::new());
    }
    Ok(vec![match links {
        Some(links) => Found {
            rendered: Some(render_linked(&resource, rt, Some(&links), ctx.base_url)),
            resource,
            linked: true,
        },
        None => Found::plain(plain, resource),
    }])
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
const ALL: &str = "all";

/// An unfiltered, unsorted page by index. DynamoDB has no offsets: the page starts from the
/// anchor the previous page stored for this position (or the nearest one before it, then
/// reading forward), so that walking N resources page by page reads O(N) items in all, on any
/// server instance. Jumping further than `max_scan` past every anchor is refused with a hint.
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
