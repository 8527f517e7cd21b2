//! Routing: the request's method and path, parsed once into a closed [`Route`] enum.
//!
//! Paths are matched after the configured base path (`/scim/v2`). One leading segment before
//! the base path is tolerated and kept as a prefix for building URLs: API Gateway puts the
//! stage name there (`/prod/scim/v2/Users`) unless the stage is `$default`.

use http::Method;

use crate::domain::ResourceKind;
use crate::error::ScimError;

/// Every SCIM endpoint and method this server distinguishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /Users`, `GET /Groups`
    List(ResourceKind),
    /// `POST /Users`, `POST /Groups`
    Create(ResourceKind),
    /// `GET /Users/{id}`
    Get(ResourceKind, String),
    /// `PUT /Users/{id}`
    Replace(ResourceKind, String),
    /// `PATCH /Users/{id}`
    Patch(ResourceKind, String),
    /// `DELETE /Users/{id}`
    Delete(ResourceKind, String),
    /// `POST /.search` (`None`) or `POST /Users/.search`
    Search(Option<ResourceKind>),
    /// `POST /Bulk`
    Bulk,
    /// Anything under `/Me`
    Me,
    /// `GET /ServiceProviderConfig`
    ServiceProviderConfig,
    /// `GET /ResourceTypes[/{name}]`
    ResourceTypes(Option<String>),
    /// `GET /Schemas[/{urn}]`
    Schemas(Option<String>),
}

impl Route {
    /// A short static name for logs and metrics (never includes ids or query data).
    pub fn name(&self) -> &'static str {
        match self {
            Route::List(ResourceKind::User) => "users.list",
            Route::List(ResourceKind::Group) => "groups.list",
            Route::Create(ResourceKind::User) => "users.create",
            Route::Create(ResourceKind::Group) => "groups.create",
            Route::Get(ResourceKind::User, _) => "users.get",
            Route::Get(ResourceKind::Group, _) => "groups.get",
            Route::Replace(ResourceKind::User, _) => "users.replace",
            Route::Replace(ResourceKind::Group, _) => "groups.replace",
            Route::Patch(ResourceKind::User, _) => "users.patch",
            Route::Patch(ResourceKind::Group, _) => "groups.patch",
            Route::Delete(ResourceKind::User, _) => "users.delete",
            Route::Delete(ResourceKind::Group, _) => "groups.delete",
            Route::Search(None) => "search",
            Route::Search(Some(ResourceKind::User)) => "users.search",
            Route::Search(Some(ResourceKind::Group)) => "groups.search",
            Route::Bulk => "bulk",
            Route::Me => "me",
            Route::ServiceProviderConfig => "service_provider_config",
            Route::ResourceTypes(_) => "resource_types",
            Route::Schemas(_) => "schemas",
        }
    }

    /// Parses a method and a path relative to the base path (`/Users/123`).
    pub fn parse(method: &Method, path: &str) -> Result<Route, ScimError> {
        let trimmed = path.trim_matches('/');
        let segments: Vec<String> = if trimmed.is_empty() {
            Vec::new()
        } else {
            trimmed.split('/').map(percent_decode).collect()
        };
        let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
        let not_found = || ScimError::NotFound(format!("no SCIM endpoint at '{path}'"));
        let Some((first, rest)) = segs.split_first() else {
            return Err(not_found());
        };
        let endpoint = Endpoint::from_segment(first).ok_or_else(not_found)?;
        let allowed = |allowed: &'static str| {
            ScimError::MethodNotAllowed(format!("{method} is not allowed here; allowed: {allowed}"))
        };
        let route = match (endpoint, rest) {
            (Endpoint::Resources(kind), []) => match *method {
                Method::GET => Route::List(kind),
                Method::POST => Route::Create(kind),
                _ => return Err(allowed("GET, POST")),
            },
            (Endpoint::Resources(kind), [".search"]) => match *method {
                Method::POST => Route::Search(Some(kind)),
                _ => return Err(allowed("POST")),
            },
            (Endpoint::Resources(kind), [id]) => {
                let id = (*id).to_owned();
                match *method {
                    Method::GET => Route::Get(kind, id),
                    Method::PUT => Route::Replace(kind, id),
                    Method::PATCH => Route::Patch(kind, id),
                    Method::DELETE => Route::Delete(kind, id),
                    _ => return Err(allowed("GET, PUT, PATCH, DELETE")),
                }
            }
            (Endpoint::Search, []) => match *method {
                Method::POST => Route::Search(None),
                _ => return Err(allowed("POST")),
            },
            (Endpoint::Bulk, []) => match *method {
                Method::POST => Route::Bulk,
                _ => return Err(allowed("POST")),
            },
            (Endpoint::Me, _) => Route::Me,
            (Endpoint::ServiceProviderConfig, []) => {
                get_only(method, Route::ServiceProviderConfig)?
            }
            (Endpoint::ResourceTypes, []) => get_only(method, Route::ResourceTypes(None))?,
            (Endpoint::ResourceTypes, [id]) => {
                get_only(method, Route::ResourceTypes(Some((*id).to_owned())))?
            }
            (Endpoint::Schemas, []) => get_only(method, Route::Schemas(None))?,
            (Endpoint::Schemas, [id]) => get_only(method, Route::Schemas(Some((*id).to_owned())))?,
            _ => return Err(not_found()),
        };
        Ok(route)
    }
}

fn get_only(method: &Method, route: Route) -> Result<Route, ScimError> {
    if *method == Method::GET {
        Ok(route)
    } else {
        Err(ScimError::MethodNotAllowed(format!(
            "{method} is not allowed here; allowed: GET"
        )))
    }
}

#[derive(Debug, Clone, Copy)]
enum Endpoint {
    Resources(ResourceKind),
    Search,
    Bulk,
    Me,
    ServiceProviderConfig,
    ResourceTypes,
    Schemas,
}

impl Endpoint {
    /// Endpoint names are matched case-insensitively (clients differ in spelling).
    fn from_segment(segment: &str) -> Option<Endpoint> {
        const NAMES: [(&str, Endpoint); 8] = [
            ("Users", Endpoint::Resources(ResourceKind::User)),
            ("Groups", Endpoint::Resources(ResourceKind::Group)),
            (".search", Endpoint::Search),
            ("Bulk", Endpoint::Bulk),
            ("Me", Endpoint::Me),
            ("ServiceProviderConfig", Endpoint::ServiceProviderConfig),
            ("ResourceTypes", Endpoint::ResourceTypes),
            ("Schemas", Endpoint::Schemas),
        ];
        NAMES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(segment))
            .map(|(_, e)| *e)
    }
}

fn percent_decode(segment: &str) -> String {
    // form_urlencoded would turn '+' into ' '; in a path '+' is literal, so protect it.
    let protected = segment.replace('+', "%2B");
    form_urlencoded::parse(format!("x={protected}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Whether a request is the health check: `GET /health` (or `HEAD`), also behind one leading
/// segment (an API Gateway stage). It needs no token and returns no data.
pub fn is_health_check(method: &Method, path: &str) -> bool {
    if method != Method::GET && method != Method::HEAD {
        return false;
    }
    let path = path.trim_end_matches('/');
    path == HEALTH_PATH
        || path
            .get(1..)
            .and_then(|p| p.find('/'))
            .is_some_and(|i| &path[i + 1..] == HEALTH_PATH)
}

/// The health check's path.
pub const HEALTH_PATH: &str = "/health";

/// Splits a request path into (prefix before the base path, path after it).
/// `None` if the base path is not at the start or after one leading segment.
pub fn strip_base<'a>(path: &'a str, base: &str) -> Option<(&'a str, &'a str)> {
    fn after_base<'a>(path: &'a str, base: &str) -> Option<&'a str> {
        let rest = path.strip_prefix(base)?;
        (rest.is_empty() || rest.starts_with('/')).then_some(rest)
    }
    if let Some(rest) = after_base(path, base) {
        return Some(("", rest));
    }
    let second_slash = path.get(1..)?.find('/')? + 1;
    let (prefix, tail) = path.split_at(second_slash);
    after_base(tail, base).map(|rest| (prefix, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_health_check_is_get_or_head_of_health_at_the_root_or_under_a_stage() {
        for (method, path, want) in [
            (Method::GET, "/health", true),
            (Method::HEAD, "/health/", true),
            (Method::GET, "/prod/health", true),
            (Method::POST, "/health", false),
            (Method::GET, "/scim/v2/health", false),
            (Method::GET, "/a/b/health", false),
            (Method::GET, "/healthz", false),
            (Method::GET, "/", false),
        ] {
            assert_eq!(is_health_check(&method, path), want, "{method} {path}");
        }
    }

    #[test]
    fn routes_resources_and_discovery() {
        let cases = [
            (Method::GET, "/Users", Route::List(ResourceKind::User)),
            (Method::POST, "/users/", Route::Create(ResourceKind::User)),
            (
                Method::GET,
                "/Users/abc",
                Route::Get(ResourceKind::User, "abc".into()),
            ),
            (
                Method::PUT,
                "/Groups/g1",
                Route::Replace(ResourceKind::Group, "g1".into()),
            ),
            (
                Method::PATCH,
                "/Users/a%20b",
                Route::Patch(ResourceKind::User, "a b".into()),
            ),
            (
                Method::DELETE,
                "/Users/x+y",
                Route::Delete(ResourceKind::User, "x+y".into()),
            ),
            (
                Method::POST,
                "/Users/.search",
                Route::Search(Some(ResourceKind::User)),
            ),
            (Method::POST, "/.search", Route::Search(None)),
            (Method::POST, "/Bulk", Route::Bulk),
            (Method::GET, "/Me", Route::Me),
            (
                Method::GET,
                "/ServiceProviderConfig",
                Route::ServiceProviderConfig,
            ),
            (
                Method::GET,
                "/ResourceTypes/User",
                Route::ResourceTypes(Some("User".into())),
            ),
            (
                Method::GET,
                "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
                Route::Schemas(Some("urn:ietf:params:scim:schemas:core:2.0:User".into())),
            ),
        ];
        for (method, path, want) in cases {
            assert_eq!(
                Route::parse(&method, path).unwrap(),
                want,
                "{method} {path}"
            );
        }
    }

    #[test]
    fn unknown_paths_404_and_wrong_methods_405() {
        for path in ["/", "/Nope", "/Users/a/b"] {
            assert_eq!(
                Route::parse(&Method::GET, path).unwrap_err().status(),
                http::StatusCode::NOT_FOUND,
                "{path}"
            );
        }
        assert_eq!(
            Route::parse(&Method::DELETE, "/Users")
                .unwrap_err()
                .status(),
            http::StatusCode::METHOD_NOT_ALLOWED
        );
        assert_eq!(
            Route::parse(&Method::POST, "/Schemas")
                .unwrap_err()
                .status(),
            http::StatusCode::METHOD_NOT_ALLOWED
        );
    }

    #[test]
    fn strips_base_with_and_without_stage() {
        assert_eq!(
            strip_base("/scim/v2/Users", "/scim/v2"),
            Some(("", "/Users"))
        );
        assert_eq!(strip_base("/scim/v2", "/scim/v2"), Some(("", "")));
        assert_eq!(
            strip_base("/prod/scim/v2/Users/1", "/scim/v2"),
            Some(("/prod", "/Users/1"))
        );
        assert_eq!(strip_base("/scim/v22/Users", "/scim/v2"), None);
        assert_eq!(strip_base("/a/b/scim/v2/Users", "/scim/v2"), None);
        assert_eq!(strip_base("/Users", ""), Some(("", "/Users")));
    }
}
