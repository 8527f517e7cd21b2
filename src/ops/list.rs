//! Listing, filtering, sorting and projection (RFC 7644 §3.4.2, §3.4.3): `filter`,
//! `startIndex`, `count`, `sortBy`, `sortOrder`, `attributes`, `excludedAttributes`, from the
//! query string (`GET /Users`) or a SearchRequest body (`POST /Users/.search`).
//!
//! How the matches are found is [`super::find`]'s business; this module validates the request,
//! pages, and renders.

use serde_json::{Value, json};

use super::resources::{link_attribute, shown_links};
use super::sort::SortSpec;
use super::{Ctx, Reply, find, parse_json, store_error};
use crate::config::Config;
use crate::error::ScimError;
use crate::filter::{self, Filter};
use crate::http::query::QueryParams;
use crate::schema::message::{check_schemas, member};
use crate::schema::output::render_linked;
use crate::schema::projection::Projection;
use crate::schema::registry::SERVED;
use crate::schema::{LIST_RESPONSE_SCHEMA, ResourceKind, ResourceTypeDef};

/// URN of the SearchRequest message (`POST …/.search`).
pub const SEARCH_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// A list or search request as sent, before validation against a resource type.
#[derive(Debug, Default, Clone)]
pub struct SearchRequest {
    /// `filter`
    pub filter: Option<String>,
    /// `startIndex`
    pub start_index: Option<i64>,
    /// `count`
    pub count: Option<i64>,
    /// `sortBy`
    pub sort_by: Option<String>,
    /// `sortOrder`
    pub sort_order: Option<String>,
    /// `attributes`
    pub attributes: Vec<String>,
    /// `excludedAttributes`
    pub excluded_attributes: Vec<String>,
    /// `cursor` (RFC 9865): empty for the first page, then a `nextCursor` value.
    pub cursor: Option<String>,
}

fn parse_int(name: &str, raw: &str) -> Result<i64, ScimError> {
    raw.trim()
        .parse::<i64>()
        .map_err(|_| ScimError::InvalidValue(format!("'{name}' must be an integer")))
}

/// Splits a comma-separated attribute list.
pub fn split_names(raw: Option<&str>) -> Vec<String> {
    raw.map(|r| {
        r.split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

impl SearchRequest {
    /// Reads the parameters of a `GET` list from the query string.
    pub fn from_query(query: &QueryParams) -> Result<Self, ScimError> {
        Ok(SearchRequest {
            filter: query.get("filter").map(str::to_owned),
            start_index: query
                .get("startIndex")
                .map(|v| parse_int("startIndex", v))
                .transpose()?,
            count: query
                .get("count")
                .map(|v| parse_int("count", v))
                .transpose()?,
            sort_by: query.get("sortBy").map(str::to_owned),
            sort_order: query.get("sortOrder").map(str::to_owned),
            attributes: split_names(query.get("attributes")),
            excluded_attributes: split_names(query.get("excludedAttributes")),
            cursor: query.get("cursor").map(str::to_owned),
        })
    }

    /// Reads a SearchRequest body (RFC 7644 §3.4.3). Member names are case-insensitive.
    pub fn from_body(body: &[u8]) -> Result<Self, ScimError> {
        let Value::Object(map) = parse_json(body)? else {
            return Err(ScimError::InvalidSyntax(
                "a search request must be a JSON object".into(),
            ));
        };
        check_schemas(&map, SEARCH_REQUEST_SCHEMA, false)?;
        let get = |name: &str| member(&map, name);
        let string = |name: &str| -> Result<Option<String>, ScimError> {
            match get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(ScimError::InvalidValue(format!(
                    "'{name}' must be a string"
                ))),
            }
        };
        let int = |name: &str| -> Result<Option<i64>, ScimError> {
            match get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(n)) => n
                    .as_i64()
                    .map(Some)
                    .ok_or_else(|| ScimError::InvalidValue(format!("'{name}' must be an integer"))),
                Some(Value::String(s)) => parse_int(name, s).map(Some),
                Some(_) => Err(ScimError::InvalidValue(format!(
                    "'{name}' must be an integer"
                ))),
            }
        };
        let names = |name: &str| -> Result<Vec<String>, ScimError> {
            match get(name) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::String(s)) => Ok(split_names(Some(s))),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|v| {
                        v.as_str().map(str::to_owned).ok_or_else(|| {
                            ScimError::InvalidValue(format!("'{name}' must list strings"))
                        })
                    })
                    .collect(),
                Some(_) => Err(ScimError::InvalidValue(format!(
                    "'{name}' must be an array of strings"
                ))),
            }
        };
        Ok(SearchRequest {
            filter: string("filter")?,
            start_index: int("startIndex")?,
            count: int("count")?,
            sort_by: string("sortBy")?,
            sort_order: string("sortOrder")?,
            attributes: names("attributes")?,
            excluded_attributes: names("excludedAttributes")?,
            cursor: string("cursor")?,
        })
    }
}

/// A validated list request for one resource type.
#[derive(Debug)]
pub struct ListParams {
    /// The parsed filter.
    pub filter: Option<Filter>,
    /// 1-based index of the first result.
    pub start_index: usize,
    /// Most results to return.
    pub count: usize,
    /// Requested order.
    pub sort: Option<SortSpec>,
    /// What each resource shows.
    pub projection: Projection,
    /// Cursor paging (RFC 9865): the raw cursor (empty for the first page).
    pub cursor: Option<String>,
}

impl ListParams {
    /// Validates a request for `rt`. `startIndex` below 1 counts as 1 and a negative `count`
    /// as 0 (RFC 7644 §3.4.2.4); `count` is capped at the configured maximum.
    pub fn new(
        req: &SearchRequest,
        rt: &ResourceTypeDef,
        config: &Config,
    ) -> Result<Self, ScimError> {
        let filter = match &req.filter {
            Some(raw) => {
                let f = filter::parse(raw).map_err(|e| ScimError::InvalidFilter(e.to_string()))?;
                filter::eval::validate(&f, rt)?;
                Some(f)
            }
            None => None,
        };
        let start_index =
            usize::try_from(req.start_index.unwrap_or(1).max(1)).unwrap_or(usize::MAX);
        let count = req
            .count
            .map_or(config.default_page_size, |c| {
                usize::try_from(c.max(0)).unwrap_or(usize::MAX)
            })
            .min(config.max_page_size);
        if let Some(by) = &req.sort_by {
            let attr = link_attribute(rt.kind);
            let named = by.trim().split('.').next().unwrap_or("");
            if named.eq_ignore_ascii_case(attr)
                || named.eq_ignore_ascii_case(&format!("{}:{attr}", rt.core.id))
            {
                return Err(ScimError::InvalidFilter(format!(
                    "sorting by '{attr}' is not supported"
                )));
            }
        }
        let sort = req
            .sort_by
            .as_deref()
            .map(|by| SortSpec::parse(rt, by, req.sort_order.as_deref()))
            .transpose()?;
        if req.cursor.is_some() && req.start_index.is_some() {
            return Err(ScimError::InvalidValue(
                "use either 'cursor' or 'startIndex', not both".into(),
            ));
        }
        if req.cursor.is_some() && req.sort_by.is_some() {
            return Err(ScimError::InvalidValue(
                "cursor pages follow the server's order; 'sortBy' needs index paging".into(),
            ));
        }
        let projection = Projection::new(
            rt,
            req.attributes.iter().map(String::as_str),
            req.excluded_attributes.iter().map(String::as_str),
        );
        Ok(ListParams {
            filter,
            start_index,
            count,
            sort,
            projection,
            cursor: req.cursor.clone(),
        })
    }
}

/// `GET /Users`, `GET /Groups`, and `POST …/.search` for one resource type.
pub async fn list(
    ctx: &Ctx<'_>,
    kind: ResourceKind,
    req: &SearchRequest,
) -> Result<Reply, ScimError> {
    let rt = ctx.config.registry.resource_type(kind);
    let params = ListParams::new(req, rt, ctx.config)?;
    let page = find::matches(ctx, rt, &params).await?;
    let items = render_page(ctx, &params.projection, page.items).await?;
    if params.cursor.is_some() {
        return Ok(cursor_response(page.total, page.next, items));
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
        all = sort.sort(all, |(f, _)| &f.rendered);
    }
    let page: Vec<_> = all.into_iter().skip(start_index - 1).take(count).collect();
    let mut items = Vec::with_capacity(page.len());
    for (found, projection) in page {
        items.extend(render_page(ctx, &projection, vec![found]).await?);
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

/// Renders a page: reads membership links where the projection shows them and they were not
/// read yet, then applies the projection.
async fn render_page(
    ctx: &Ctx<'_>,
    projection: &Projection,
    found: Vec<find::Found>,
) -> Result<Vec<Value>, ScimError> {
    let mut items = Vec::with_capacity(found.len());
    for f in found {
        let kind = f.resource.kind;
        let rt = ctx.config.registry.resource_type(kind);
        let rendered = if f.linked || !projection.wants(link_attribute(kind)) {
            f.rendered
        } else {
            match ctx
                .store
                .get_linked(ctx.tenant, kind, &f.resource.id)
                .await
                .map_err(store_error)?
            {
                Some(linked) => {
                    super::groups::check_shown(shown_links(&linked))?;
                    render_linked(
                        &linked.resource,
                        rt,
                        Some(shown_links(&linked)),
                        ctx.base_url,
                    )
                }
                // Deleted since it was listed: show it as it was.
                None => f.rendered,
            }
        };
        items.push(projection.apply(rt, rendered));
    }
    Ok(items)
}
