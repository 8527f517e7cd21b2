//! Listing, filtering, sorting and projection (RFC 7644 §3.4.2, §3.4.3): `filter`,
//! `startIndex`, `count`, `sortBy`, `sortOrder`, `attributes`, `excludedAttributes`, from the
//! query string (`GET /Users`) or a SearchRequest body (`POST /Users/.search`).
//!
//! `userName eq`, `externalId eq` and `id eq` are answered by one strongly consistent lookup
//! (the uniqueness guard or the item itself), so a client that creates a user and at once
//! filters for it always finds it. Other filters are evaluated in memory over the tenant's
//! resources in id order, examining at most `max_scan` of them (beyond that: 400 `tooMany`
//! with a hint), never silently returning a partial answer.

use serde_json::{Value, json};

use super::sort::SortSpec;
use super::{Ctx, Reply, parse_json, store_error};
use crate::config::Config;
use crate::error::ScimError;
use crate::filter::{self, CompValue, CompareOp, Filter};
use crate::http::query::QueryParams;
use crate::schema::input::UniqueValue;
use crate::schema::output::render;
use crate::schema::projection::Projection;
use crate::schema::{
    LIST_RESPONSE_SCHEMA, ResourceKind, ResourceTypeDef, fold_case, resource_type,
};
use crate::store::Resource;

/// Page size when the client sends no `count`.
pub const DEFAULT_COUNT: usize = 100;
/// Resources read per store call while scanning.
const SCAN_PAGE: usize = 200;

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
        })
    }

    /// Reads a SearchRequest body (RFC 7644 §3.4.3). Member names are case-insensitive.
    pub fn from_body(body: &[u8]) -> Result<Self, ScimError> {
        let Value::Object(map) = parse_json(body)? else {
            return Err(ScimError::InvalidSyntax(
                "a search request must be a JSON object".into(),
            ));
        };
        let get = |name: &str| {
            map.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        };
        if let Some(schemas) = get("schemas") {
            let ok = schemas.as_array().is_some_and(|l| {
                l.iter().any(|s| {
                    s.as_str()
                        .is_some_and(|s| s.eq_ignore_ascii_case(SEARCH_REQUEST_SCHEMA))
                })
            });
            if !ok {
                return Err(ScimError::InvalidValue(format!(
                    "'schemas' must include \"{SEARCH_REQUEST_SCHEMA}\""
                )));
            }
        }
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
            .map_or(DEFAULT_COUNT, |c| {
                usize::try_from(c.max(0)).unwrap_or(usize::MAX)
            })
            .min(config.max_page_size);
        let sort = req
            .sort_by
            .as_deref()
            .map(|by| SortSpec::parse(rt, by, req.sort_order.as_deref()))
            .transpose()?;
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
        })
    }
}

/// `GET /Users` and `POST /Users/.search`.
pub async fn list(
    ctx: &Ctx<'_>,
    kind: ResourceKind,
    req: &SearchRequest,
) -> Result<Reply, ScimError> {
    let rt = resource_type(kind);
    let params = ListParams::new(req, rt, ctx.config)?;
    let (total, resources) = match (&params.filter, &params.sort) {
        (Some(f), _) if direct_lookup(f, rt).is_some() => {
            let lookup =
                direct_lookup(f, rt).ok_or_else(|| ScimError::internal("lookup vanished"))?;
            lookup_page(ctx, rt, f, lookup, &params).await?
        }
        (None, None) => unfiltered_page(ctx, kind, &params).await?,
        (filter, _) => scan(ctx, rt, filter.as_ref(), &params).await?,
    };
    let items: Vec<Value> = resources
        .into_iter()
        .map(|(rendered, _)| params.projection.apply(rt, rendered))
        .collect();
    Ok(Reply::ok(json!({
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": total,
        "startIndex": params.start_index,
        "itemsPerPage": items.len(),
        "Resources": items,
    })))
}

/// A filter answerable by one consistent lookup.
enum Lookup {
    /// `id eq "…"`
    Id(String),
    /// `userName eq "…"`, `externalId eq "…"` (a uniqueness guard).
    Unique(UniqueValue),
}

/// Recognises `attr eq "value"` on `id` or a unique attribute of the core schema.
fn direct_lookup(f: &Filter, rt: &ResourceTypeDef) -> Option<Lookup> {
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
    if def.uniqueness != crate::schema::Uniqueness::Server || def.name == "id" {
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

async fn lookup_page(
    ctx: &Ctx<'_>,
    rt: &ResourceTypeDef,
    f: &Filter,
    lookup: Lookup,
    params: &ListParams,
) -> Result<(usize, Vec<Found>), ScimError> {
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
        let rendered = render(&resource, ctx.base_url);
        if filter::eval::matches(f, rt, &rendered)? {
            matched.push((rendered, resource));
        }
    }
    let total = matched.len();
    Ok((total, window(matched, params)))
}

/// A rendered resource with its stored form.
type Found = (Value, Resource);

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
            let rendered = render(&resource, ctx.base_url);
            if let Some(f) = f
                && !filter::eval::matches(f, rt, &rendered)?
            {
                continue;
            }
            total += 1;
            let in_window = total >= params.start_index && kept.len() < params.count;
            if params.sort.is_some() || in_window {
                kept.push((rendered, resource));
            }
        }
        match page.next_after {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    Ok(match &params.sort {
        Some(sort) => (total, window(sort.sort(kept), params)),
        None => (total, kept),
    })
}

async fn unfiltered_page(
    ctx: &Ctx<'_>,
    kind: ResourceKind,
    params: &ListParams,
) -> Result<(usize, Vec<Found>), ScimError> {
    let total = usize::try_from(
        ctx.store
            .count(ctx.tenant, kind)
            .await
            .map_err(store_error)?,
    )
    .unwrap_or(usize::MAX);
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
                items.push((render(&resource, ctx.base_url), resource));
            }
        }
        match page.next_after {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    Ok((total, items))
}
