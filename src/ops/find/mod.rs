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
//!
//! A filter naming an id this server never issues, or a unique value longer than any stored
//! one, matches nothing without a store call.
//!
//! The parts: [`plan`] decides the route (a pure function of the filter), `exec` carries it
//! out, `cursor` makes and checks the cursors of cursor paging.

mod cursor;
mod exec;
pub mod plan;

use std::sync::Arc;

use serde_json::Value;

use self::exec::{count, linked, lookup_all, scan, scan_from, unfiltered_page, window};
use self::plan::Plan;
use super::request::ListParams;
use super::{Ctx, store_error};
use crate::domain::Resource;
use crate::error::ScimError;
use crate::schema::ResourceTypeDef;
use crate::schema::output::render;

/// A matched resource, rendered if finding it needed the rendering (filters and sorts look at
/// it); pages found without one are rendered once, when the response is built.
#[derive(Debug)]
pub struct Found {
    /// The SCIM representation, before projection.
    pub rendered: Option<Value>,
    /// The stored resource (shared with the store's page it came from).
    pub resource: Arc<Resource>,
    /// Whether `rendered` already shows the membership links.
    pub linked: bool,
}

impl Found {
    /// A resource found without looking at its rendering.
    pub(super) fn unrendered(resource: impl Into<Arc<Resource>>) -> Self {
        Found {
            rendered: None,
            resource: resource.into(),
            linked: false,
        }
    }

    /// Its rendering, made now if it was not yet.
    fn view(&mut self, rt: &ResourceTypeDef, base_url: &str) -> &Value {
        self.rendered
            .get_or_insert_with(|| render(&self.resource, rt, base_url))
    }

    /// A resource found with its rendering.
    pub(super) fn plain(rendered: Value, resource: impl Into<Arc<Resource>>) -> Self {
        Found {
            rendered: Some(rendered),
            resource: resource.into(),
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
    let plan = plan::plan(params.filter.as_ref(), rt, |d| ctx.enforces(rt, d))?;
    if let Some(raw) = &params.cursor {
        let after = cursor::decode(ctx, rt, params, raw)?;
        let page = cursor_page(ctx, rt, params, plan, after.as_deref()).await?;
        let next = page
            .next
            .as_deref()
            .map(|id| cursor::encode(ctx, rt, params, id));
        return Ok(Page { next, ..page });
    }
    let (total, items) = match plan {
        Plan::All if params.sort.is_none() => unfiltered_page(ctx, rt, params).await?,
        Plan::All => scan(ctx, rt, None, params).await?,
        Plan::Scan(f) => scan(ctx, rt, Some(f), params).await?,
        Plan::Nothing => (0, Vec::new()),
        Plan::Linked { target, rest } => {
            let (total, page, _) = linked(ctx, rt, &target, rest.as_ref(), params, None).await?;
            (total, page)
        }
        Plan::Lookup { lookup, filter } => {
            let mut all = lookup_all(ctx, rt, filter, lookup, params).await?;
            if let Some(sort) = &params.sort {
                // Several resources may share an indexed value.
                all = sort.sort(all, |f| f.rendered.as_ref().unwrap_or(&Value::Null));
            }
            (all.len(), window(all, params))
        }
    };
    Ok(Page {
        total: Some(total),
        items,
        next: None,
    })
}

/// A cursor page: id order, starting after `after`.
async fn cursor_page(
    ctx: &Ctx<'_>,
    rt: &ResourceTypeDef,
    params: &ListParams,
    plan: Plan<'_>,
    after: Option<&str>,
) -> Result<Page, ScimError> {
    let all = match plan {
        Plan::All => {
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
        }
        Plan::Scan(f) => return scan_from(ctx, rt, f, after, params.count).await,
        Plan::Nothing => Vec::new(),
        Plan::Linked { target, rest } => {
            let (total, items, next) =
                linked(ctx, rt, &target, rest.as_ref(), params, after).await?;
            return Ok(Page {
                total: Some(total),
                items,
                next,
            });
        }
        Plan::Lookup { lookup, filter } => lookup_all(ctx, rt, filter, lookup, params).await?,
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

/// The cursor of the page after resource `id` (for a page the response budget cut short).
pub fn cursor_after(ctx: &Ctx<'_>, rt: &ResourceTypeDef, params: &ListParams, id: &str) -> String {
    cursor::encode(ctx, rt, params, id)
}
