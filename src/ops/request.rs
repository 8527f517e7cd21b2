//! What a request asks for, as typed values: a list or search request ([`SearchRequest`],
//! from a query string or a SearchRequest body), validated for one resource type
//! ([`ListParams`]), and the shape of the resources in a response ([`Shape`]:
//! `attributes`/`excludedAttributes`). The HTTP layer reads query strings and hands them over
//! as lookups; nothing here knows about HTTP.

use serde_json::Value;

use super::groups;
use super::parse_json;
use super::sort::SortSpec;
use crate::config::Config;
use crate::error::ScimError;
use crate::filter::{self, Filter};
use crate::schema::ResourceTypeDef;
use crate::schema::message::{check_schemas, member};
use crate::schema::projection::Projection;

/// `attributes` and `excludedAttributes` of a request (RFC 7644 §3.9).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shape {
    /// `attributes`
    pub attributes: Vec<String>,
    /// `excludedAttributes`
    pub excluded_attributes: Vec<String>,
}

impl Shape {
    /// Reads them from a query-string lookup.
    pub fn from_query<'q>(query: impl Fn(&str) -> Option<&'q str>) -> Self {
        Shape {
            attributes: split_names(query("attributes")),
            excluded_attributes: split_names(query("excludedAttributes")),
        }
    }

    /// The projection these ask for, on resource type `rt`.
    pub fn projection(&self, rt: &ResourceTypeDef) -> Projection {
        Projection::new(
            rt,
            self.attributes.iter().map(String::as_str),
            self.excluded_attributes.iter().map(String::as_str),
        )
    }
}

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
    /// Reads the parameters of a `GET` list from the query string, given as a lookup of
    /// decoded parameters by (case-insensitive) name.
    pub fn from_query<'q>(query: impl Fn(&str) -> Option<&'q str>) -> Result<Self, ScimError> {
        Ok(SearchRequest {
            filter: query("filter").map(str::to_owned),
            start_index: query("startIndex")
                .map(|v| parse_int("startIndex", v))
                .transpose()?,
            count: query("count").map(|v| parse_int("count", v)).transpose()?,
            sort_by: query("sortBy").map(str::to_owned),
            sort_order: query("sortOrder").map(str::to_owned),
            attributes: split_names(query("attributes")),
            excluded_attributes: split_names(query("excludedAttributes")),
            cursor: query("cursor").map(str::to_owned),
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
            let attr = groups::link_attribute(rt.kind);
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
