//! Listing and filtering (RFC 7644 §3.4.2): `filter`, `startIndex`, `count`.
//!
//! `userName eq`, `externalId eq` and `id eq` are answered by one strongly consistent lookup
//! (the uniqueness guard or the item itself), so a client that creates a user and at once
//! filters for it always finds it. Other filters are evaluated in memory over the tenant's
//! resources in id order, examining at most `max_scan` of them (beyond that: 400 `tooMany`
//! with a hint), never silently returning a partial answer.

use serde_json::{Value, json};

use super::{Ctx, Reply, store_error};
use crate::error::ScimError;
use crate::filter::{self, CompValue, CompareOp, Filter};
use crate::schema::input::UniqueValue;
use crate::schema::output::render;
use crate::schema::{
    LIST_RESPONSE_SCHEMA, ResourceKind, ResourceTypeDef, fold_case, resource_type,
};
use crate::store::Resource;

/// Page size when the client sends no `count`.
pub const DEFAULT_COUNT: usize = 100;
/// Resources read per store call while scanning.
const SCAN_PAGE: usize = 200;

/// The paging and filtering parameters of a list request.
#[derive(Debug)]
pub struct ListParams {
    /// The parsed filter.
    pub filter: Option<Filter>,
    /// 1-based index of the first result.
    pub start_index: usize,
    /// Most results to return.
    pub count: usize,
}

fn parse_int(name: &str, raw: &str) -> Result<i64, ScimError> {
    raw.trim()
        .parse::<i64>()
        .map_err(|_| ScimError::InvalidValue(format!("'{name}' must be an integer")))
}

impl ListParams {
    /// Reads `filter`, `startIndex` and `count` from the query. `startIndex` below 1 counts
    /// as 1 and a negative `count` as 0 (RFC 7644 §3.4.2.4); `count` is capped at the maximum.
    pub fn from_query(ctx: &Ctx<'_>) -> Result<Self, ScimError> {
        let filter = match ctx.query.get("filter") {
            Some(raw) => {
                Some(filter::parse(raw).map_err(|e| ScimError::InvalidFilter(e.to_string()))?)
            }
            None => None,
        };
        let start_index = match ctx.query.get("startIndex") {
            Some(raw) => {
                usize::try_from(parse_int("startIndex", raw)?.max(1)).unwrap_or(usize::MAX)
            }
            None => 1,
        };
        let count = match ctx.query.get("count") {
            Some(raw) => usize::try_from(parse_int("count", raw)?.max(0)).unwrap_or(usize::MAX),
            None => DEFAULT_COUNT,
        }
        .min(ctx.config.max_page_size);
        Ok(ListParams {
            filter,
            start_index,
            count,
        })
    }
}

/// `GET /Users` (and later `/Groups`).
pub async fn list(ctx: &Ctx<'_>, kind: ResourceKind) -> Result<Reply, ScimError> {
    let params = ListParams::from_query(ctx)?;
    let rt = resource_type(kind);
    let (total, resources) = match &params.filter {
        Some(f) => {
            filter::eval::validate(f, rt)?;
            match direct_lookup(f, rt) {
                Some(lookup) => lookup_page(ctx, rt, f, lookup, &params).await?,
                None => scan_filtered(ctx, rt, f, &params).await?,
            }
        }
        None => unfiltered_page(ctx, kind, &params).await?,
    };
    let items: Vec<Value> = resources.iter().map(|r| render(r, ctx.base_url)).collect();
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
) -> Result<(usize, Vec<Resource>), ScimError> {
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
    if let Some(resource) = found
        && filter::eval::matches(f, rt, &render(&resource, ctx.base_url))?
    {
        matched.push(resource);
    }
    let total = matched.len();
    Ok((total, window(matched, params)))
}

fn window(items: Vec<Resource>, params: &ListParams) -> Vec<Resource> {
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

async fn scan_filtered(
    ctx: &Ctx<'_>,
    rt: &ResourceTypeDef,
    f: &Filter,
    params: &ListParams,
) -> Result<(usize, Vec<Resource>), ScimError> {
    let mut total = 0usize;
    let mut examined = 0usize;
    let mut page_items = Vec::new();
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
            if filter::eval::matches(f, rt, &render(&resource, ctx.base_url))? {
                total += 1;
                if total >= params.start_index && page_items.len() < params.count {
                    page_items.push(resource);
                }
            }
        }
        match page.next_after {
            Some(next) => after = Some(next),
            None => return Ok((total, page_items)),
        }
    }
}

async fn unfiltered_page(
    ctx: &Ctx<'_>,
    kind: ResourceKind,
    params: &ListParams,
) -> Result<(usize, Vec<Resource>), ScimError> {
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
                items.push(resource);
            }
        }
        match page.next_after {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    Ok((total, items))
}
