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
use crate::schema::output::{render, render_linked};
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
    let (items, last_shown) = render_page(ctx, &params.projection, page.items, &mut budget).await?;
    if params.cursor.is_some() {
        // A page the budget cut short continues after its last resource shown.
        let next = match (budget.exhausted, last_shown) {
            (true, Some(id)) => Some(find::cursor_after(ctx, rt, &params, &id)),
            _ => page.next,
        };
        return Ok(cursor_response(page.total, next, items));
    }
    Ok(list_response(
        page.total.unwrap_or(0),
        params.start_index,
        items,
    ))
}

/// A cursor-paged ListResponse: `nextCursor` while there may be more; no `startIndex`;
/// `totalResults` when known without a full scan.
fn cursor_response(total: Option<usize>, next: Option<String>, items: Vec<Value>) -> Reply {
    let mut body = serde_json::Map::new();
    body.insert("schemas".into(), json!([LIST_RESPONSE_SCHEMA]));
    if let Some(total) = total {
        body.insert("totalResults".into(), json!(total));
    }
    body.insert("itemsPerPage".into(), json!(items.len()));
    if let Some(next) = next {
        body.insert("nextCursor".into(), json!(next));
    }
    body.insert("Resources".into(), Value::Array(items));
    Reply::ok(Value::Object(body))
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
            found.rendered.get_or_insert_with(|| {
                crate::schema::output::render(&found.resource, rt, ctx.base_url)
            });
        }
        all = sort.sort(all, |(f, _)| f.rendered.as_ref().unwrap_or(&Value::Null));
    }
    let page: Vec<_> = all.into_iter().skip(start_index - 1).take(count).collect();
    let mut items = Vec::with_capacity(page.len());
    let mut budget = Budget::new(ctx.config.max_response_bytes);
    for (found, projection) in page {
        let (rendered, _) = render_page(ctx, &projection, vec![found], &mut budget).await?;
        items.extend(rendered);
        if budget.exhausted {
            break;
        }
    }
    Ok(list_response(total, start_index, items))
}

fn list_response(total: usize, start_index: usize, items: Vec<Value>) -> Reply {
    Reply::ok(json!({
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": items.len(),
        "Resources": items,
    }))
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

    /// The body of a single resource, if it fits the budget.
    pub fn fits(mut self, body: Value) -> Result<Value, ScimError> {
        self.take(&body, true)?;
        Ok(body)
    }

    /// Takes room for `item` if there is some; the first item must fit.
    fn take(&mut self, item: &Value, first: bool) -> Result<bool, ScimError> {
        let size = json_len(item);
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

/// The length of a value's compact JSON, counted without building the text.
fn json_len(value: &Value) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    match serde_json::to_writer(&mut counter, value) {
        Ok(()) => counter.0,
        Err(_) => usize::MAX,
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
/// applies the projection, and stops when the response budget is used up. Returns the items
/// and the id of the last one shown.
async fn render_page(
    ctx: &Ctx<'_>,
    projection: &Projection,
    found: Vec<find::Found>,
    budget: &mut Budget,
) -> Result<(Vec<Value>, Option<String>), ScimError> {
    let mut items = Vec::with_capacity(found.len());
    let mut last = None;
    for chunk in found.chunks(RENDER_CHUNK) {
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
            let rt = ctx.config.registry.resource_type(f.resource.kind);
            let plain = || {
                f.rendered
                    .clone()
                    .unwrap_or_else(|| render(&f.resource, rt, ctx.base_url))
            };
            let rendered = if f.linked || !projection.wants(link_attribute(f.resource.kind)) {
                plain()
            } else {
                match linked.next().flatten() {
                    Some((resource, links)) => {
                        render_linked(&resource, rt, Some(&links), ctx.base_url)
                    }
                    // Deleted since it was listed: show it as it was.
                    None => plain(),
                }
            };
            let item = projection.apply(rt, rendered);
            if !budget.take(&item, items.is_empty())? {
                return Ok((items, last));
            }
            last = Some(f.resource.id.clone());
            items.push(item);
        }
    }
    Ok((items, last))
}
