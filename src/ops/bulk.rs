//! `POST /Bulk` (RFC 7644 §3.7): many resource operations in one request.
//!
//! Each operation runs through the same code as its own request would (`resources::*`), with
//! `version` as its `If-Match`. `bulkId:<id>` references in paths and in data are replaced by
//! the id of the resource created by the operation with that `bulkId`; an operation whose
//! references are created later in the request runs after them. References that form a cycle
//! are answered 409 (RFC 7644 §3.7.1 allows a service provider to stop there), a reference to
//! an unknown or failed `bulkId` 400. `failOnErrors` stops processing after that many
//! errors. Operations, payload size and passwords (each costs an argon2id hash) are capped, so
//! a Bulk request finishes well inside API Gateway's 30 s.

use std::collections::{BTreeMap, BTreeSet};

use http::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::request::Shape;
use super::{Ctx, Preconditions, Reply, parse_json, resources};
use crate::domain::ResourceKind;
use crate::error::ScimError;
use crate::schema::message::{check_schemas, member};

/// URN of the BulkRequest message.
pub const BULK_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
/// URN of the BulkResponse message.
pub const BULK_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
/// Most operations per Bulk request that set a password (each costs an argon2id hash).
pub const MAX_PASSWORDS: usize = 20;

const BULK_ID_PREFIX: &str = "bulkId:";

/// One operation as sent.
#[derive(Debug, Clone)]
struct Operation {
    method: Method,
    path: String,
    bulk_id: Option<String>,
    version: Option<String>,
    data: Option<Value>,
}

/// The outcome of one operation.
#[derive(Debug, Clone)]
struct Outcome {
    status: StatusCode,
    location: Option<String>,
    version: Option<String>,
    /// The created or changed resource's id (to resolve `bulkId` references).
    id: Option<String>,
    error: Option<Value>,
}

impl Outcome {
    fn failed(err: &ScimError) -> Self {
        Outcome {
            status: err.status(),
            location: None,
            version: None,
            id: None,
            error: Some(err.to_body()),
        }
    }
}

/// `POST /Bulk`
///
/// The payload limit (`bulk.maxPayloadSize`) is the request body limit, enforced for every
/// request before it gets here.
pub async fn bulk(ctx: &Ctx<'_>, body: &[u8]) -> Result<Reply, ScimError> {
    let (operations, fail_on_errors) = parse_request(
        parse_json(body)?,
        ctx.config.bulk_max_operations,
        !ctx.settings.ignore_passwords,
    )?;
    let mut run = Run {
        ctx,
        operations: &operations,
        defined: defined_bulk_ids(&operations),
        outcomes: BTreeMap::new(),
        errors: 0,
        fail_on_errors,
    };
    for index in 0..operations.len() {
        if run.stopped() {
            break;
        }
        run.execute(index).await;
    }
    let results: Vec<Value> = run
        .outcomes
        .iter()
        .map(|(i, outcome)| render(&operations[*i], outcome))
        .collect();
    Ok(Reply::ok(json!({
        "schemas": [BULK_RESPONSE_SCHEMA],
        "Operations": results,
    })))
}

fn invalid(msg: impl Into<String>) -> ScimError {
    ScimError::InvalidValue(msg.into())
}

/// `count_passwords`: whether passwords are hashed (and so capped); a tenant that ignores them
/// pays nothing for them.
fn parse_request(
    body: Value,
    max_operations: usize,
    count_passwords: bool,
) -> Result<(Vec<Operation>, Option<usize>), ScimError> {
    let Value::Object(map) = body else {
        return Err(ScimError::InvalidSyntax(
            "a Bulk request must be a JSON object".into(),
        ));
    };
    check_schemas(&map, BULK_REQUEST_SCHEMA, true)?;
    let get = |name: &str| member(&map, name);
    let fail_on_errors = match get("failOnErrors") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|n| *n > 0)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| invalid("'failOnErrors' must be a positive integer"))?,
        ),
    };
    let Some(Value::Array(raw)) = get("Operations") else {
        return Err(invalid("'Operations' must be an array"));
    };
    if raw.len() > max_operations {
        return Err(ScimError::PayloadTooLarge(format!(
            "a Bulk request may carry at most {max_operations} operations"
        )));
    }
    let operations = raw
        .iter()
        .map(parse_operation)
        .collect::<Result<Vec<_>, _>>()?;
    let passwords = operations
        .iter()
        .filter(|op| op.data.as_ref().is_some_and(sets_password))
        .count();
    if count_passwords && passwords > MAX_PASSWORDS {
        return Err(ScimError::PayloadTooLarge(format!(
            "a Bulk request may set at most {MAX_PASSWORDS} passwords"
        )));
    }
    Ok((operations, fail_on_errors))
}

/// Whether data (a resource body or a PatchOp) carries a password anywhere.
fn sets_password(data: &Value) -> bool {
    match data {
        Value::Object(map) => map.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case("password")
                || (k.eq_ignore_ascii_case("path")
                    && v.as_str()
                        .is_some_and(|p| p.eq_ignore_ascii_case("password")))
                || sets_password(v)
        }),
        Value::Array(items) => items.iter().any(sets_password),
        _ => false,
    }
}

fn parse_operation(raw: &Value) -> Result<Operation, ScimError> {
    let Value::Object(map) = raw else {
        return Err(invalid("each Bulk operation must be an object"));
    };
    let get = |name: &str| member(map, name);
    let text = |name: &str| get(name).and_then(Value::as_str).map(str::to_owned);
    let method = match text("method").map(|m| m.to_ascii_uppercase()).as_deref() {
        Some("POST") => Method::POST,
        Some("PUT") => Method::PUT,
        Some("PATCH") => Method::PATCH,
        Some("DELETE") => Method::DELETE,
        _ => {
            return Err(invalid(
                "a Bulk operation's 'method' must be POST, PUT, PATCH or DELETE",
            ));
        }
    };
    let path = text("path").ok_or_else(|| invalid("a Bulk operation needs a 'path'"))?;
    let bulk_id = text("bulkId");
    if method == Method::POST && bulk_id.is_none() {
        return Err(invalid("a POST in a Bulk request needs a 'bulkId'"));
    }
    Ok(Operation {
        method,
        path,
        bulk_id,
        version: text("version"),
        data: get("data").cloned(),
    })
}

/// Which operation defines each `bulkId` (POSTs only; a repeated `bulkId` defines nothing).
fn defined_bulk_ids(operations: &[Operation]) -> BTreeMap<String, Option<usize>> {
    let mut defined: BTreeMap<String, Option<usize>> = BTreeMap::new();
    for (i, op) in operations.iter().enumerate() {
        if op.method != Method::POST {
            continue;
        }
        if let Some(id) = &op.bulk_id {
            defined
                .entry(id.clone())
                .and_modify(|slot| *slot = None)
                .or_insert(Some(i));
        }
    }
    defined
}

/// The `bulkId`s an operation refers to, in its path and anywhere in its data.
fn references(op: &Operation) -> BTreeSet<String> {
    fn walk(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::String(s) => {
                if let Some(id) = s.strip_prefix(BULK_ID_PREFIX) {
                    out.insert(id.to_owned());
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            Value::Object(map) => map.values().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    for segment in op.path.split('/') {
        if let Some(id) = segment.strip_prefix(BULK_ID_PREFIX) {
            out.insert(id.to_owned());
        }
    }
    if let Some(data) = &op.data {
        walk(data, &mut out);
    }
    out
}

/// Replaces `bulkId:<id>` strings by resolved ids.
fn substitute(v: &mut Value, resolved: &BTreeMap<String, String>) {
    match v {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix(BULK_ID_PREFIX).and_then(|b| resolved.get(b)) {
                *s = id.clone();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| substitute(i, resolved)),
        Value::Object(map) => map.values_mut().for_each(|i| substitute(i, resolved)),
        _ => {}
    }
}

struct Run<'a, 'c> {
    ctx: &'a Ctx<'c>,
    operations: &'a [Operation],
    defined: BTreeMap<String, Option<usize>>,
    outcomes: BTreeMap<usize, Outcome>,
    errors: usize,
    fail_on_errors: Option<usize>,
}

impl Run<'_, '_> {
    fn stopped(&self) -> bool {
        self.fail_on_errors.is_some_and(|max| self.errors >= max)
    }

    fn record(&mut self, index: usize, outcome: Outcome) {
        if outcome.error.is_some() {
            self.errors += 1;
        }
        self.outcomes.insert(index, outcome);
    }

    /// Runs operation `root` after the operations it refers to (depth-first, with an
    /// explicit stack). Operations on a reference cycle all fail with 409.
    async fn execute(&mut self, root: usize) {
        let mut stack = vec![root];
        while let Some(&current) = stack.last() {
            if self.outcomes.contains_key(&current) {
                stack.pop();
                continue;
            }
            if self.stopped() {
                return;
            }
            let refs = references(&self.operations[current]);
            let next = refs
                .iter()
                .filter_map(|r| self.defined.get(r).copied().flatten())
                .find(|dep| *dep != current && !self.outcomes.contains_key(dep));
            match next {
                Some(dep) if stack.contains(&dep) => {
                    let start = stack.iter().position(|i| *i == dep).unwrap_or(0);
                    for i in stack.split_off(start) {
                        self.record(i, conflict_outcome());
                    }
                }
                Some(dep) => stack.push(dep),
                None => {
                    let outcome = self.run_one(current, &refs).await;
                    self.record(current, outcome);
                    stack.pop();
                }
            }
        }
    }

    async fn run_one(&self, index: usize, refs: &BTreeSet<String>) -> Outcome {
        let mut resolved = BTreeMap::new();
        for r in refs {
            let id = match self.defined.get(r) {
                Some(Some(dep)) => self.outcomes.get(dep).and_then(|o| o.id.clone()),
                _ => None,
            };
            match id {
                Some(id) => {
                    resolved.insert(r.clone(), id);
                }
                None => {
                    return Outcome::failed(&invalid(format!(
                        "bulkId '{r}' does not refer to a resource created in this request"
                    )));
                }
            }
        }
        let op = &self.operations[index];
        match self.apply(op, &resolved).await {
            Ok(outcome) => outcome,
            Err(err) => {
                if err.status().is_server_error() {
                    // The Bulk request as a whole succeeds: log the failure as a single
                    // request's 500 would be, or an outage inside Bulk leaves no trace.
                    tracing::error!(
                        route = "bulk",
                        tenant = self.ctx.tenant.as_str(),
                        operation = index,
                        method = op.method.as_str(),
                        error = %err.chain(),
                        "bulk operation failed"
                    );
                }
                Outcome::failed(&err)
            }
        }
    }

    async fn apply(
        &self,
        op: &Operation,
        resolved: &BTreeMap<String, String>,
    ) -> Result<Outcome, ScimError> {
        let path: String = op
            .path
            .split('/')
            .map(|seg| {
                match seg
                    .strip_prefix(BULK_ID_PREFIX)
                    .and_then(|b| resolved.get(b))
                {
                    Some(id) => id.as_str(),
                    None => seg,
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let body = match &op.data {
            Some(data) => {
                let mut data = data.clone();
                substitute(&mut data, resolved);
                serde_json::to_vec(&data).map_err(ScimError::internal)?
            }
            None => Vec::new(),
        };
        let ctx = Ctx {
            tenant: self.ctx.tenant,
            settings: self.ctx.settings,
            store: self.ctx.store,
            config: self.ctx.config,
            base_url: self.ctx.base_url,
            shape: Shape::default(),
            preconditions: Preconditions {
                if_match: op.version.clone(),
                if_none_match: None,
            },
        };
        let not_an_operation = || {
            invalid(format!(
                "'{} {}' is not a resource operation",
                op.method, op.path
            ))
        };
        let (kind, id) = resource_path(&path).ok_or_else(not_an_operation)?;
        let reply = match (op.method.as_str(), id) {
            ("POST", None) => resources::create(&ctx, kind, &body).await?,
            ("PUT", Some(id)) => resources::replace(&ctx, kind, id, &body).await?,
            ("PATCH", Some(id)) => resources::patch(&ctx, kind, id, &body).await?,
            ("DELETE", Some(id)) => resources::delete(&ctx, kind, id).await?,
            _ => return Err(not_an_operation()),
        };
        // The resource's id ends its location (a 204 PATCH names none, and needs none).
        let id = reply
            .location
            .as_deref()
            .and_then(|l| l.rsplit('/').next())
            .map(str::to_owned);
        Ok(Outcome {
            status: reply.status,
            location: reply.location,
            version: reply.etag,
            id,
            error: None,
        })
    }
}

fn conflict_outcome() -> Outcome {
    let err =
        ScimError::Conflict("circular bulkId references between operations of this request".into());
    Outcome::failed(&err)
}

fn render(op: &Operation, outcome: &Outcome) -> Value {
    let mut out = Map::new();
    out.insert("method".into(), Value::from(op.method.as_str()));
    if let Some(bulk_id) = &op.bulk_id {
        out.insert("bulkId".into(), Value::from(bulk_id.clone()));
    }
    if let Some(version) = &outcome.version {
        out.insert("version".into(), Value::from(version.clone()));
    }
    if let Some(location) = &outcome.location {
        out.insert("location".into(), Value::from(location.clone()));
    }
    out.insert(
        "status".into(),
        Value::from(outcome.status.as_u16().to_string()),
    );
    if let Some(error) = &outcome.error {
        out.insert("response".into(), error.clone());
    }
    Value::Object(out)
}

/// The resource type and id a Bulk operation's `path` names: `/Users`, `/Groups/{id}`.
fn resource_path(path: &str) -> Option<(ResourceKind, Option<&str>)> {
    let mut segments = path.strip_prefix('/').unwrap_or(path).split('/');
    let kind = ResourceKind::from_endpoint(segments.next()?)?;
    let id = segments.next().filter(|id| !id.is_empty());
    segments.next().is_none().then_some((kind, id))
}
