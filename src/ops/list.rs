//! Listing, filtering, sorting and projection (RFC 7644 §3.4.2, §3.4.3): `filter`,
//! `startIndex`, `count`, `sortBy`, `sortOrder`, `attributes`, `excludedAttributes`, from the
//! query string (`GET /Users`) or a SearchRequest body (`POST /Users/.search`).
//!
//! The request is parsed and validated in [`super::request`]; how the matches are found is
//! [`super::find`]'s business; this module pages and renders.

use serde_json::{Value, json};

use super::groups::link_attribute;
use super::request::{ListParams, SearchRequest};
use super::resources::links_for_many;
use super::{Ctx, Reply, find};
use crate::domain::MemberRef;
use crate::domain::ResourceKind;
use crate::error::ScimError;
use crate::schema::LIST_RESPONSE_SCHEMA;
use crate::schema::output::{render, render_linked_shared, render_shared, text_with_links};
use crate::schema::projection::Projection;
use crate::schema::registry::SERVED;

/// `GET /Users`, `GET /Groups`, and `POST …/.search` for one resource type.
pub async fn list(
    ctx: &Ctx<'_>,
    kind: ResourceKind,
    req: &SearchRequest,
) -> Result<Reply, ScimError> {
    let rt = ctx.config.registry.resource_type(kind);
    let params = ListParams::new(req, rt, ctx.config)?;
    let page = find::matches(ctx, rt, &params).await?;
    let mut budget = Budget::new(ctx.config.max_response_bytes);
    let mut items = Items::default();
    render_page(ctx, &params.projection, page.items, &mut budget, &mut items).await?;
    if params.cursor.is_some() {
        // A page the budget cut short continues after its last resource shown.
        let next = match (budget.exhausted, &items.last) {
            (true, Some(id)) => Some(find::cursor_after(ctx, rt, &params, id)),
            _ => page.next,
        };
        return cursor_response(page.total, next, items);
    }
    list_response(page.total.unwrap_or(0), params.start_index, items)
}

/// A cursor-paged ListResponse: `nextCursor` while there may be more; no `startIndex`;
/// `totalResults` when known without a full scan.
fn cursor_response(
    total: Option<usize>,
    next: Option<String>,
    items: Items,
) -> Result<Reply, ScimError> {
    let mut head = serde_json::Map::new();
    head.insert("schemas".into(), json!([LIST_RESPONSE_SCHEMA]));
    if let Some(total) = total {
        head.insert("totalResults".into(), json!(total));
    }
    head.insert("itemsPerPage".into(), json!(items.count));
    if let Some(next) = next {
        head.insert("nextCursor".into(), json!(next));
    }
    page_response(head, items)
}

/// `POST /.search`: the same request over every resource type. A filter naming an attribute
/// one type lacks simply matches nothing of that type; it is an error only if it fits no type.
/// Results are Users then Groups unless sorted.
pub async fn search_all(ctx: &Ctx<'_>, req: &SearchRequest) -> Result<Reply, ScimError> {
    if req.cursor.is_some() {
        return Err(ScimError::InvalidValue(
            "cursor paging is per resource type: search /Users/.search or /Groups/.search".into(),
        ));
    }
    let mut per_kind = Vec::new();
    let mut first_error = None;
    for kind in SERVED {
        let rt = ctx.config.registry.resource_type(kind);
        match ListParams::new(req, rt, ctx.config) {
            Ok(params) => per_kind.push((rt, params)),
            Err(err) => first_error = first_error.or(Some(err)),
        }
    }
    let Some((_, first)) = per_kind.first() else {
        return Err(first_error.unwrap_or_else(|| ScimError::internal("no resource types")));
    };
    let (start_index, count, sort) = (first.start_index, first.count, first.sort);
    let mut total = 0;
    let mut all = Vec::new();
    for (rt, mut params) in per_kind {
        // Collect every match of each type (bounded by max_scan), then page the union.
        params.start_index = 1;
        params.count = ctx.config.max_scan;
        params.sort = None;
        let page = find::matches(ctx, rt, &params).await?;
        total += page.total.unwrap_or(0);
        all.extend(
            page.items
                .into_iter()
                .map(|f| (f, params.projection.clone())),
        );
    }
    if let Some(sort) = sort {
        for (found, _) in &mut all {
            let rt = ctx.config.registry.resource_type(found.resource.kind);
            found
                .rendered
                .get_or_insert_with(|| render(&found.resource, rt, ctx.base_url));
        }
        all = sort.sort(all, |(f, _)| f.rendered.as_ref().unwrap_or(&Value::Null));
    }
    let page: Vec<_> = all.into_iter().skip(start_index - 1).take(count).collect();
    let mut items = Items::default();
    let mut budget = Budget::new(ctx.config.max_response_bytes);
    for (found, projection) in page {
        render_page(ctx, &projection, vec![found], &mut budget, &mut items).await?;
        if budget.exhausted {
            break;
        }
    }
    list_response(total, start_index, items)
}

/// An index-paged ListResponse.
fn list_response(total: usize, start_index: usize, items: Items) -> Result<Reply, ScimError> {
    let mut head = serde_json::Map::new();
    head.insert("schemas".into(), json!([LIST_RESPONSE_SCHEMA]));
    head.insert("totalResults".into(), json!(total));
    head.insert("startIndex".into(), json!(start_index));
    head.insert("itemsPerPage".into(), json!(items.count));
    page_response(head, items)
}

/// A ListResponse's text: the `head` members, then `Resources` (written already).
fn page_response(head: serde_json::Map<String, Value>, items: Items) -> Result<Reply, ScimError> {
    let mut text = serde_json::to_vec(&head)
        .map_err(|e| ScimError::internal(format!("serializing a list response: {e}")))?;
    if text.pop() != Some(b'}') {
        return Err(ScimError::internal("a list response head is not an object"));
    }
    text.reserve(items.text.len() + 16);
    text.extend_from_slice(b",\"Resources\":[");
    text.extend_from_slice(&items.text);
    text.extend_from_slice(b"]}");
    Ok(Reply::ok_text(text))
}

/// A page's resources as JSON text (the elements of `Resources`, comma-separated), written
/// one by one so that the response budget is checked on the text itself.
#[derive(Default)]
struct Items {
    text: Vec<u8>,
    /// How many are written.
    count: usize,
    /// The id of the last one written.
    last: Option<String>,
}

impl Items {
    /// Adds an item's `text` (the resource `id`) if the budget has room; false when it has
    /// not.
    fn push(&mut self, text: &[u8], id: String, budget: &mut Budget) -> Result<bool, ScimError> {
        let comma = usize::from(self.count > 0);
        if !budget.take(text.len() + comma, self.count == 0)? {
            return Ok(false);
        }
        if comma > 0 {
            self.text.push(b',');
        }
        self.text.extend_from_slice(text);
        self.count += 1;
        self.last = Some(id);
        Ok(true)
    }
}

/// How many resources of a page are read and rendered before the budget is checked.
const RENDER_CHUNK: usize = 100;

/// The bytes of resources a response may still carry. Lambda answers at most 6 MB, so a page
/// ends early (fewer `itemsPerPage`, the same `totalResults`) rather than fail at the front
/// door; a single resource larger than the whole budget is a 400 `tooMany` with a hint.
pub struct Budget {
    left: usize,
    /// Whether a resource was left out for lack of room.
    pub exhausted: bool,
}

impl Budget {
    /// A budget of `bytes`.
    pub fn new(bytes: usize) -> Self {
        Budget {
            left: bytes,
            exhausted: false,
        }
    }

    /// The text of a single resource's body, if it fits the budget.
    pub fn fits(mut self, text: Vec<u8>) -> Result<Vec<u8>, ScimError> {
        self.take(text.len(), true)?;
        Ok(text)
    }

    /// Takes `size` bytes if there is room; the first item must fit.
    fn take(&mut self, size: usize, first: bool) -> Result<bool, ScimError> {
        if size <= self.left {
            self.left -= size;
            return Ok(true);
        }
        self.exhausted = true;
        if first {
            return Err(too_large());
        }
        Ok(false)
    }
}

/// The error for one resource larger than a response may be.
pub fn too_large() -> ScimError {
    ScimError::TooMany(
        "this resource is larger than one response may be: read it with \
         excludedAttributes=members (or attributes=...) and test membership with \
         filter=members.value eq \"<id>\""
            .into(),
    )
}

/// Renders a page: reads membership links where the projection shows them (see
/// [`links_for_many`]: concurrent partition reads, one batch read of group names per chunk),
/// applies the projection, and writes them to `items` until the response budget is used up.
async fn render_page(
    ctx: &Ctx<'_>,
    projection: &Projection,
    found: Vec<find::Found>,
    budget: &mut Budget,
    items: &mut Items,
) -> Result<(), ScimError> {
    let mut found = found.into_iter().peekable();
    while found.peek().is_some() {
        let chunk: Vec<find::Found> = found.by_ref().take(RENDER_CHUNK).collect();
        let wanted: Vec<MemberRef> = chunk
            .iter()
            .filter(|f| !f.linked && projection.wants(link_attribute(f.resource.kind)))
            .map(|f| MemberRef {
                kind: f.resource.kind,
                id: f.resource.id.clone(),
            })
            .collect();
        let mut linked = links_for_many(ctx, &wanted).await?.into_iter();
        for f in chunk {
            let kind = f.resource.kind;
            let id = f.resource.id.clone();
            let rt = ctx.config.registry.resource_type(kind);
            let plain = |f: find::Found| match f.rendered {
                Some(rendered) => rendered,
                None => render_shared(f.resource, rt, ctx.base_url),
            };
            let whole = projection.wants_whole(link_attribute(kind));
            let text = if f.linked || !projection.wants(link_attribute(kind)) {
                serde_json::to_vec(&projection.apply(rt, plain(f)))
            } else {
                match linked.next().flatten() {
                    // Links shown whole are written straight to text.
                    Some((resource, links)) if whole => {
                        let rendered =
                            projection.apply(rt, render_shared(resource, rt, ctx.base_url));
                        text_with_links(rendered, kind, &links, ctx.base_url)
                    }
                    Some((resource, links)) => serde_json::to_vec(&projection.apply(
                        rt,
                        render_linked_shared(resource, rt, Some(&links), ctx.base_url),
                    )),
                    // Deleted since it was listed: show it as it was.
                    None => serde_json::to_vec(&projection.apply(rt, plain(f))),
                }
            }
            .map_err(|e| ScimError::internal(format!("serializing a resource: {e}")))?;
            if !items.push(&text, id, budget)? {
                return Ok(());
            }
        }
    }
    Ok(())
}
