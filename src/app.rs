//! `App`: the SCIM core's entry point. `App::handle` turns one request into one response:
//! route → authenticate → check the body → operate on the store → render. It never fails and
//! never panics outward: errors become RFC 7644 §3.12 bodies, and a panic inside a request
//! becomes a logged 500 (invariant 3).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures_util::FutureExt;
use http::header::{AUTHORIZATION, IF_MATCH, IF_NONE_MATCH};
use http::{HeaderMap, Method, Request, Response};
use serde_json::json;

use sha2::{Digest, Sha256};

use crate::activity::Sampler;
use crate::admin::{
    self,
    api::{AdminReply, AdminRoute},
};
use crate::auth::Authenticator;
use crate::config::AdminAccess;
use crate::config::Config;
use crate::domain::{ActivityEntry, TenantId};
use crate::error::ScimError;
use crate::http::query::QueryParams;
use crate::http::response::{admin_response, error_response, reply_response};
use crate::http::route::{Route, is_health_check, strip_base};
use crate::http::{IamCaller, RequestIds, base_url, check_content_type, origin};
use crate::ops::request::{SearchRequest, Shape};
use crate::ops::{self, Ctx, Preconditions, Reply};
use crate::request_log::{self, RequestRecord};
use crate::setup;
use crate::store::{Directory, ResourceStore};

/// The SCIM service: configuration, stores and the authenticator. Cheap to clone.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    store: Arc<dyn ResourceStore>,
    directory: Arc<dyn Directory>,
    auth: Authenticator,
    activity: Sampler,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// What the request log line records: never ids of people, tokens, bodies or query strings.
#[derive(Default)]
struct RequestLog {
    route: Option<&'static str>,
    tenant: Option<TenantId>,
    token_id: Option<String>,
}

impl App {
    /// Builds the service over a resource store and a directory (often the same object).
    pub fn new(
        config: Config,
        store: Arc<dyn ResourceStore>,
        directory: Arc<dyn Directory>,
    ) -> Self {
        let auth = Authenticator::new(directory.clone(), config.token_cache_ttl);
        App {
            inner: Arc::new(Inner {
                config,
                store,
                directory,
                auth,
                activity: Sampler::default(),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Handles one request.
    pub async fn handle(&self, request: Request<Bytes>) -> Response<Bytes> {
        let started = Instant::now();
        let ids = request.extensions().get::<RequestIds>().cloned();
        let mut log = RequestLog::default();
        let outcome = AssertUnwindSafe(self.process(&request, &mut log))
            .catch_unwind()
            .await;
        let result = outcome
            .unwrap_or_else(|_| Err(ScimError::internal("panic while handling the request")));
        let mut failure = None;
        let response = match result {
            Ok(Answer::Scim(reply)) => reply_response(reply),
            Ok(Answer::Admin(reply)) => admin_response(reply),
            Ok(Answer::Raw(response)) => response,
            Err(err) => {
                let attribute = err
                    .status()
                    .is_client_error()
                    .then(|| err.attribute().map(str::to_owned))
                    .flatten();
                failure = Some((err.scim_type().map(|t| t.as_str()), err.reason(), attribute));
                if err.status().is_server_error() {
                    tracing::error!(
                        route = log.route.unwrap_or("unrouted"),
                        tenant = log.tenant.as_ref().map(TenantId::as_str),
                        request_id = ids.as_ref().and_then(|i| i.lambda.as_deref()),
                        api_request_id = ids.as_ref().and_then(|i| i.api.as_deref()),
                        error = %err.chain(),
                        "request failed"
                    );
                }
                error_response(&err)
            }
        };
        let record = RequestRecord {
            route: log.route.unwrap_or("unrouted"),
            method: request.method().as_str(),
            tenant: log.tenant.as_ref().map(TenantId::as_str),
            token_id: log.token_id.as_deref(),
            request_id: ids.as_ref().and_then(|i| i.lambda.as_deref()),
            api_request_id: ids.as_ref().and_then(|i| i.api.as_deref()),
            status: response.status().as_u16(),
            scim_type: failure.as_ref().and_then(|(t, _, _)| *t),
            reason: failure.as_ref().map(|(_, r, _)| *r),
            attribute: failure.as_ref().and_then(|(_, _, a)| a.as_deref()),
            latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        };
        request_log::write(&self.inner.config.log_format, &record);
        self.keep_activity(&record).await;
        response
    }

    /// Adds the request to its tenant's recent activity if the sampler keeps it. A failure is
    /// logged and never affects the response.
    async fn keep_activity(&self, record: &RequestRecord<'_>) {
        let Some(tenant) = record.tenant.and_then(|t| TenantId::new(t).ok()) else {
            return;
        };
        // A tenant's activity is its identity provider's traffic, not its administration.
        if record.route.starts_with("admin.") {
            return;
        }
        if !self.inner.config.record_activity {
            return;
        }
        let minute = u64::try_from(crate::clock::now_unix() / 60).unwrap_or(0);
        if !self
            .inner
            .activity
            .admit(&tenant, record.route, record.status >= 400, minute)
        {
            return;
        }
        let entry = ActivityEntry {
            at: crate::clock::now_rfc3339(),
            route: record.route.to_owned(),
            method: record.method.to_owned(),
            status: record.status,
            scim_type: record.scim_type.map(str::to_owned),
            reason: record.reason.map(str::to_owned),
            attribute: record.attribute.map(str::to_owned),
            token_id: record.token_id.map(str::to_owned),
        };
        if let Err(err) = self.inner.store.record_activity(&tenant, &entry).await {
            tracing::debug!(error = %err, "could not keep a tenant activity entry");
        }
    }

    /// The per-tenant rate limit (`Config::tenant_rate_limit`): one conditional write per
    /// request, shared by every container. If the store cannot count, the request goes ahead
    /// (the limit protects other tenants; it must not become an outage of its own).
    async fn take_request_slot(&self, tenant: &TenantId) -> Result<(), ScimError> {
        let config = &self.inner.config;
        let Some(limit) = config.tenant_rate_limit else {
            return Ok(());
        };
        let window_secs = config.tenant_rate_window.as_secs().max(1);
        let now = u64::try_from(crate::clock::now_unix()).unwrap_or(0);
        let window = i64::try_from(now / window_secs).unwrap_or(i64::MAX);
        match self
            .inner
            .store
            .take_request_slot(tenant, window, limit)
            .await
        {
            Ok(true) => Ok(()),
            Ok(false) => Err(ScimError::Throttled {
                retry_after_secs: u32::try_from(window_secs - now % window_secs).unwrap_or(1),
            }),
            Err(err) => {
                tracing::warn!(error = %err, "could not count a request for the tenant rate limit");
                Ok(())
            }
        }
    }

    async fn process(
        &self,
        request: &Request<Bytes>,
        log: &mut RequestLog,
    ) -> Result<Answer, ScimError> {
        let config = &self.inner.config;
        let path = request.uri().path();
        if is_health_check(request.method(), path) {
            // For load balancers and uptime checks: no token, no store call, no data.
            log.route = Some("health");
            return Ok(Answer::Scim(Reply::ok(json!({"status": "ok"}))));
        }
        if config.admin != AdminAccess::Off
            && let Some((prefix, relative)) = strip_base(path, admin::api::PREFIX)
        {
            return Ok(Answer::Admin(
                self.admin(request, prefix, relative, log).await,
            ));
        }
        if config.admin != AdminAccess::Off
            && let Some((prefix, relative)) = strip_base(path, setup::PREFIX)
        {
            log.route = Some("setup");
            let headers = request.headers();
            let scim_base = base_url(
                config.public_url.as_deref(),
                headers,
                prefix,
                &config.base_path,
            );
            let origin = origin(
                config.public_url.as_deref(),
                headers,
                prefix,
                &config.base_path,
            );
            let root = format!("{prefix}{}", setup::PREFIX);
            let ctx = setup::SetupCtx {
                directory: self.inner.directory.as_ref(),
                store: self.inner.store.as_ref(),
                scim_base: &scim_base,
                root: &root,
                origin: &origin,
            };
            if request.body().len() > config.max_body_bytes {
                return Err(ScimError::PayloadTooLarge(
                    "the request body is too large".into(),
                ));
            }
            let response =
                setup::handle(&ctx, request.method(), relative, headers, request.body()).await;
            return Ok(Answer::Raw(response));
        }
        let (prefix, relative) = strip_base(path, &config.base_path).ok_or_else(|| {
            ScimError::NotFound(format!("SCIM endpoints are under '{}'", config.base_path))
        })?;
        let route = Route::parse(request.method(), relative)?;
        log.route = Some(route.name());
        let headers = request.headers();
        let principal = self
            .inner
            .auth
            .authenticate(header(headers, AUTHORIZATION.as_str()))
            .await?;
        log.tenant = Some(principal.tenant.clone());
        log.token_id = Some(principal.token_id.clone());
        self.take_request_slot(&principal.tenant).await?;
        let body = request.body();
        if body.len() > config.max_body_bytes {
            return Err(ScimError::PayloadTooLarge(format!(
                "the request body exceeds {} bytes",
                config.max_body_bytes
            )));
        }
        if matches!(
            *request.method(),
            Method::POST | Method::PUT | Method::PATCH
        ) {
            check_content_type(headers)?;
        }
        let base = base_url(
            config.public_url.as_deref(),
            headers,
            prefix,
            &config.base_path,
        );
        let query = QueryParams::parse(request.uri().query());
        let ctx = Ctx {
            tenant: &principal.tenant,
            settings: &principal.settings,
            store: self.inner.store.as_ref(),
            config,
            base_url: &base,
            shape: Shape::from_query(|name| query.get(name)),
            preconditions: Preconditions {
                if_match: precondition(headers, IF_MATCH.as_str())?,
                if_none_match: precondition(headers, IF_NONE_MATCH.as_str())?,
            },
        };
        dispatch(&ctx, route, &query, body).await.map(Answer::Scim)
    }

    /// An admin API request (`/admin/v1/…`): authorised by IAM (API Gateway's, seen in the
    /// request context) or by the admin key, never by a SCIM token.
    async fn admin(
        &self,
        request: &Request<Bytes>,
        prefix: &str,
        relative: &str,
        log: &mut RequestLog,
    ) -> AdminReply {
        let Some(route) = AdminRoute::parse(relative) else {
            log.route = Some("admin.unknown");
            return AdminReply::error(
                http::StatusCode::NOT_FOUND,
                "not_found",
                "no admin endpoint here (see docs/admin-api.openapi.json)",
            );
        };
        log.route = Some(route.name());
        let allowed = match &self.inner.config.admin {
            AdminAccess::Off => false,
            AdminAccess::Iam => request.extensions().get::<IamCaller>().is_some(),
            AdminAccess::Key(digest) => header(request.headers(), AUTHORIZATION.as_str())
                .and_then(|h| h.split_once(' '))
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .is_some_and(|(_, key)| {
                    crate::secret::same(&Sha256::digest(key.trim().as_bytes()), digest)
                }),
        };
        if !allowed {
            return AdminReply::error(
                http::StatusCode::UNAUTHORIZED,
                "unauthorized",
                "the admin API needs the admin key (or, in AWS, IAM authorisation)",
            );
        }
        if request.body().len() > self.inner.config.max_body_bytes {
            return AdminReply::error(
                http::StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is too large",
            );
        }
        let config = &self.inner.config;
        let origin = origin(
            config.public_url.as_deref(),
            request.headers(),
            prefix,
            &config.base_path,
        );
        let ctx = admin::api::AdminCtx {
            directory: self.inner.directory.as_ref(),
            store: self.inner.store.as_ref(),
            origin: &origin,
        };
        admin::api::handle(
            &ctx,
            request.method(),
            &route,
            request.uri().query(),
            request.body(),
        )
        .await
    }
}

/// What a request is answered with: a SCIM reply, an admin API one, or a page.
enum Answer {
    Scim(Reply),
    Admin(AdminReply),
    Raw(Response<Bytes>),
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A precondition header as sent: one that cannot be read is refused, never ignored (an
/// ignored `If-Match` would let the write through unconditionally).
fn precondition(headers: &HeaderMap, name: &str) -> Result<Option<String>, ScimError> {
    headers
        .get(name)
        .map(|v| {
            v.to_str().map(str::to_owned).map_err(|_| {
                ScimError::BadRequest(format!("the {name} header is not a list of entity tags"))
            })
        })
        .transpose()
}

async fn dispatch(
    ctx: &Ctx<'_>,
    route: Route,
    query: &QueryParams,
    body: &[u8],
) -> Result<Reply, ScimError> {
    use ops::resources;
    let filtered = query.get("filter").is_some();
    match route {
        Route::List(kind) => {
            let req = SearchRequest::from_query(|name| query.get(name))?;
            ops::list::list(ctx, kind, &req).await
        }
        Route::Search(Some(kind)) => {
            let req = SearchRequest::from_body(body)?;
            ops::list::list(ctx, kind, &req).await
        }
        Route::Search(None) => {
            let req = SearchRequest::from_body(body)?;
            ops::list::search_all(ctx, &req).await
        }
        Route::Create(kind) => resources::create(ctx, kind, body).await,
        Route::Get(kind, id) => resources::get(ctx, kind, &id).await,
        Route::Replace(kind, id) => resources::replace(ctx, kind, &id, body).await,
        Route::Patch(kind, id) => resources::patch(ctx, kind, &id, body).await,
        Route::Delete(kind, id) => resources::delete(ctx, kind, &id).await,
        Route::ServiceProviderConfig => ops::discovery::service_provider(ctx, filtered),
        Route::ResourceTypes(name) => {
            ops::discovery::resource_type_docs(ctx, filtered, name.as_deref())
        }
        Route::Schemas(urn) => ops::discovery::schema_docs(ctx, filtered, urn.as_deref()),
        Route::Me => Err(ScimError::NotImplemented(
            "/Me is not supported: tokens authenticate identity providers, not users".into(),
        )),
        Route::Bulk => ops::bulk::bulk(ctx, body).await,
    }
}
