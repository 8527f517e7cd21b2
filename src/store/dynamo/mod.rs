//! `DynamoStore`: both store traits over one DynamoDB table (layout in [`super::keys`]).
//!
//! This module (with the binaries) is the only code that names `aws_sdk_*` types; it converts
//! SDK types to domain types and SDK failures to [`StoreError`]. Multi-item writes are single
//! `TransactWriteItems` calls whose cancellation reasons are read by position: a failed guard
//! `Put` is a uniqueness conflict, a failed version condition a lost race. Transaction
//! One retry policy (see `retry_config`): the SDK's standard retries handle throttling and
//! transient failures; this module retries only what the SDK does not (transactions cancelled
//! by a conflicting transaction, unprocessed batch items), and reports what outlasts both as
//! [`StoreError::Throttled`] (429 + `Retry-After` to the client).

mod counting;
mod directory;
mod edges;
mod item;
mod resources;
pub mod stream;
mod table;

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, DeleteRequest, KeysAndAttributes, Put, TransactWriteItem, Update,
    WriteRequest,
};

pub use counting::{CallCounter, Counts};
pub use table::{GSI1, TableCreation, create_table};

use self::item::{Item, n, s};
use super::{SetupProblem, StoreError, keys};
use crate::domain::ResourceKind;
use crate::domain::TenantId;
use crate::domain::UniqueValue;

/// How many times a write that lost to a concurrent transaction (or a batch with unprocessed
/// items) is attempted before giving up.
const MAX_ATTEMPTS: u32 = 6;

/// The DynamoDB store. Cheap to clone (the SDK client is a handle).
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

/// Why a transaction was cancelled, by action position.
struct Cancelled {
    /// `ConditionalCheckFailed` flags, one per action.
    failed: Vec<bool>,
}

impl Cancelled {
    fn first_failed(&self) -> Option<usize> {
        self.failed.iter().position(|f| *f)
    }
}

/// A transaction (or an item write) that lost to a concurrent transaction on the same item.
fn is_conflict_code(code: &str) -> bool {
    matches!(
        code,
        "TransactionConflict" | "TransactionConflictException" | "TransactionInProgressException"
    )
}

/// Throttling that outlasted the SDK's own retries: the request becomes 429 `Retry-After`.
fn is_throttling_code(code: &str) -> bool {
    matches!(
        code,
        "ThrottlingError"
            | "ThrottlingException"
            | "ProvisionedThroughputExceeded"
            | "ProvisionedThroughputExceededException"
            | "RequestLimitExceeded"
    )
}

/// Maps an SDK failure of a single-item call.
fn sdk_error<E>(err: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if err.code().is_some_and(is_throttling_code) {
        StoreError::Throttled
    } else {
        opaque(&err)
    }
}

/// A backend error for the logs: a service error keeps only its code (DynamoDB messages may
/// quote request contents, and keys contain user names); transport failures keep their text.
/// Problems of set-up (missing table, denied action, missing or rejected credentials) become
/// [`StoreError::Setup`], so that the CLI can say what to do.
fn opaque<E>(err: &SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if let Some(problem) = setup_problem(err) {
        return StoreError::Setup(problem);
    }
    match err {
        SdkError::ServiceError(_) => StoreError::backend(format!(
            "DynamoDB service error {}",
            err.code().unwrap_or("(no code)")
        )),
        other => StoreError::backend(format!(
            "DynamoDB request failed: {}",
            aws_sdk_dynamodb::error::DisplayErrorContext(other)
        )),
    }
}

fn setup_problem<E>(err: &SdkError<E, HttpResponse>) -> Option<SetupProblem>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match err.code() {
        Some("ResourceNotFoundException") => return Some(SetupProblem::TableMissing),
        Some("AccessDeniedException") => return Some(SetupProblem::AccessDenied),
        Some(
            "UnrecognizedClientException"
            | "InvalidSignatureException"
            | "ExpiredTokenException"
            | "MissingAuthenticationTokenException",
        ) => return Some(SetupProblem::InvalidCredentials),
        _ => {}
    }
    // The SDK reports a credential chain that found nothing as a dispatch failure whose
    // text names it; there is no typed variant to match.
    let text = aws_sdk_dynamodb::error::DisplayErrorContext(err).to_string();
    (text.contains("no providers in chain provided credentials")
        || text.contains("the credential provider was not enabled")
        || text.contains("failed to load credentials"))
    .then_some(SetupProblem::NoCredentials)
}

/// The wait before retry `attempt` (1-based) of a conflicting transaction or of unprocessed
/// batch items: "full jitter", a random time up to an exponentially growing cap (50 ms,
/// 100 ms, … 800 ms), so that writers that collided do not collide again in step.
fn backoff(attempt: u32) -> Duration {
    let cap_ms = 25u64 << attempt.clamp(1, 5);
    let mut random = [0u8; 8];
    let draw = getrandom::fill(&mut random)
        .map(|()| u64::from_le_bytes(random))
        .unwrap_or(cap_ms / 2);
    Duration::from_millis(draw % (cap_ms + 1))
}

/// The one retry policy for throttling and transient failures: the SDK's standard retries
/// (exponential backoff with full jitter, 4 attempts, at most 1 s apart; about 2 s of waiting
/// in all, well inside the function's 29 s). Nothing above retries them again: the store
/// retries only what the SDK cannot (transactions cancelled by a conflicting transaction,
/// unprocessed batch items), and the operations layer only lost version races; persistent
/// throttling becomes 429 with `Retry-After`.
fn retry_config() -> aws_sdk_dynamodb::config::retry::RetryConfig {
    aws_sdk_dynamodb::config::retry::RetryConfig::standard()
        .with_max_attempts(4)
        .with_initial_backoff(Duration::from_millis(50))
        .with_max_backoff(Duration::from_secs(1))
}

/// A condition expression with its names and values.
struct Cond {
    expr: String,
    names: Option<HashMap<String, String>>,
    values: Option<HashMap<String, AttributeValue>>,
}

impl Cond {
    /// The item must not exist yet.
    fn absent() -> Self {
        Cond {
            expr: "attribute_not_exists(PK)".into(),
            names: None,
            values: None,
        }
    }

    /// The item must exist.
    fn present() -> Self {
        Cond {
            expr: "attribute_exists(PK)".into(),
            names: None,
            values: None,
        }
    }

    /// A guard that is free, or already held by `owner`.
    fn free_or_owned_by(owner: &str) -> Self {
        Cond {
            expr: "attribute_not_exists(PK) OR #owner = :owner".into(),
            names: Some(HashMap::from([("#owner".into(), "owner".into())])),
            values: Some(HashMap::from([(":owner".into(), s(owner))])),
        }
    }
}

fn counter_key(tenant: &TenantId, sk: String) -> Item {
    HashMap::from([
        ("PK".into(), s(keys::counter_pk(tenant))),
        ("SK".into(), s(sk)),
    ])
}

/// An update (or condition) expression with its attribute names and values.
#[derive(Default)]
struct Expr {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expr {
    /// Registers `#placeholder` for an attribute name; returns the placeholder.
    fn name(&mut self, placeholder: &str, attribute: &str) -> String {
        self.names
            .insert(placeholder.to_owned(), attribute.to_owned());
        placeholder.to_owned()
    }

    /// Registers `:placeholder` for a value; returns the placeholder.
    fn value(&mut self, placeholder: &str, value: AttributeValue) -> String {
        self.values.insert(placeholder.to_owned(), value);
        placeholder.to_owned()
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

/// How a single-item conditional write ended.
enum Conditional {
    /// Written; the item after the write.
    Done(Item),
    /// The condition failed.
    Failed,
}

impl DynamoStore {
    /// A store over `table` (which must exist; see [`create_table`]).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
        }
    }

    /// The SDK client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The region the client sends requests to, if one is configured.
    pub fn region(&self) -> Option<String> {
        self.client.config().region().map(ToString::to_string)
    }

    /// Checks that the table can be reached with the configured credentials and region: one
    /// strongly consistent `GetItem` of a key no item has (an action every principal of the
    /// template holds). A missing table, a denied action and missing or rejected credentials
    /// come back as [`StoreError::Setup`].
    pub async fn probe(&self) -> Result<(), StoreError> {
        let key = HashMap::from([("PK".into(), s("PROBE")), ("SK".into(), s("PROBE"))]);
        self.get_item(key).await.map(|_| ())
    }

    fn put(&self, item: Item, cond: Cond) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(cond.expr)
            .set_expression_attribute_names(cond.names)
            .set_expression_attribute_values(cond.values)
            .build()
            .map_err(StoreError::backend)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn delete_action(&self, key: Item, cond: Cond) -> Result<TransactWriteItem, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .condition_expression(cond.expr)
            .set_expression_attribute_names(cond.names)
            .set_expression_attribute_values(cond.values)
            .build()
            .map_err(StoreError::backend)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// Adds `delta` to the counter shard the resource `id` counts in.
    fn counter_update(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        delta: i64,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(counter_key(tenant, keys::counter_shard_sk(kind, id))))
            .update_expression("ADD #n :d SET #v = :v, #t = :t, #ty = :ty")
            .expression_attribute_names("#n", "count")
            .expression_attribute_names("#v", "v")
            .expression_attribute_names("#t", "tenant")
            .expression_attribute_names("#ty", "type")
            .expression_attribute_values(":ty", s("Counter"))
            .expression_attribute_values(":d", n(delta))
            .expression_attribute_values(":v", n(keys::FORMAT_VERSION))
            .expression_attribute_values(":t", s(tenant.as_str()))
            .build()
            .map_err(StoreError::backend)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    fn guard_key(tenant: &TenantId, kind: ResourceKind, value: &UniqueValue) -> Item {
        HashMap::from([
            ("PK".into(), s(keys::guard_pk(tenant, kind, value))),
            ("SK".into(), s(keys::GUARD_SK)),
        ])
    }

    fn guard_put(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        value: &UniqueValue,
        owner: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut it = Self::guard_key(tenant, kind, value);
        it.insert("GSI1PK".into(), s(keys::guards_gsi(tenant)));
        it.insert("GSI1SK".into(), s(keys::guard_pk(tenant, kind, value)));
        it.insert("v".into(), n(keys::FORMAT_VERSION));
        it.insert("type".into(), s("Guard"));
        it.insert("tenant".into(), s(tenant.as_str()));
        it.insert("owner".into(), s(owner));
        self.put(it, Cond::free_or_owned_by(owner))
    }

    fn guard_delete(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        value: &UniqueValue,
        owner: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        self.delete_action(
            Self::guard_key(tenant, kind, value),
            Cond::free_or_owned_by(owner),
        )
    }

    fn lookup_key(tenant: &TenantId, kind: ResourceKind, value: &UniqueValue, id: &str) -> Item {
        HashMap::from([
            ("PK".into(), s(keys::lookup_pk(tenant, kind, value))),
            ("SK".into(), s(keys::lookup_sk(id))),
        ])
    }

    /// The lookup-index entry of resource `id` under `value` (one item per resource, so
    /// resources sharing a value never write the same item).
    fn lookup_item(tenant: &TenantId, kind: ResourceKind, value: &UniqueValue, id: &str) -> Item {
        let mut it = Self::lookup_key(tenant, kind, value, id);
        it.insert("GSI1PK".into(), s(keys::guards_gsi(tenant)));
        it.insert(
            "GSI1SK".into(),
            s(format!("{}#{id}", keys::lookup_pk(tenant, kind, value))),
        );
        it.insert("v".into(), n(keys::FORMAT_VERSION));
        it.insert("type".into(), s("Lookup"));
        it.insert("tenant".into(), s(tenant.as_str()));
        it.insert("id".into(), s(id));
        it
    }

    /// Runs a transaction, retrying conflicts and throttling. `Ok(Err(..))` is a cancellation
    /// caused by failed conditions, for the caller to interpret by position.
    async fn transact(
        &self,
        actions: Vec<TransactWriteItem>,
    ) -> Result<Result<(), Cancelled>, StoreError> {
        // One token for every attempt: if an attempt timed out after DynamoDB applied it, the
        // retry is recognised as the same transaction and not applied twice.
        let token = uuid::Uuid::new_v4().to_string();
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(actions.clone()))
                .client_request_token(&token)
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(Ok(())),
                Err(err) => err,
            };
            if let Some(TransactWriteItemsError::TransactionCanceledException(cancel)) =
                err.as_service_error()
            {
                let reasons = cancel.cancellation_reasons();
                let failed: Vec<bool> = reasons
                    .iter()
                    .map(|r| r.code() == Some("ConditionalCheckFailed"))
                    .collect();
                if failed.iter().any(|f| *f) {
                    return Ok(Err(Cancelled { failed }));
                }
                if reasons
                    .iter()
                    .any(|r| r.code().is_some_and(is_conflict_code))
                {
                    // Another transaction held an item: the SDK does not retry this.
                    continue;
                }
                if reasons
                    .iter()
                    .any(|r| r.code().is_some_and(is_throttling_code))
                {
                    return Err(StoreError::Throttled);
                }
                return Err(opaque(&err));
            }
            if err.code().is_some_and(is_conflict_code) {
                continue;
            }
            // Throttling reaches here only after the SDK's own retries.
            return Err(sdk_error(err));
        }
        Err(StoreError::Throttled)
    }

    /// An `Update` transaction action.
    fn update_action(
        &self,
        key: Item,
        update: String,
        condition: Option<String>,
        expr: &Expr,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(update)
            .set_condition_expression(condition)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .build()
            .map_err(StoreError::backend)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// One conditional `UpdateItem` returning the item after it, retried on throttling.
    async fn update_item(
        &self,
        key: Item,
        update: &str,
        condition: Option<&str>,
        expr: &Expr,
    ) -> Result<Conditional, StoreError> {
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key.clone()))
                .update_expression(update)
                .set_condition_expression(condition.map(str::to_owned))
                .set_expression_attribute_names(expr.names())
                .set_expression_attribute_values(expr.values())
                .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
                .send()
                .await;
            match result {
                Ok(out) => return Ok(Conditional::Done(out.attributes.unwrap_or_default())),
                Err(err) if err.code() == Some("ConditionalCheckFailedException") => {
                    return Ok(Conditional::Failed);
                }
                // An item held by a transaction in flight: the SDK does not retry this.
                Err(err) if err.code().is_some_and(is_conflict_code) => continue,
                Err(err) => return Err(sdk_error(err)),
            }
        }
        Err(StoreError::Throttled)
    }

    /// Items of one partition whose sort key starts with `prefix`, at most `limit`
    /// (strongly consistent); the flag says whether more exist.
    async fn query_prefix(
        &self,
        pk: &str,
        prefix: &str,
        limit: usize,
    ) -> Result<(Vec<Item>, bool), StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let remaining = limit.saturating_add(1).saturating_sub(items.len());
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
                .expression_attribute_values(":pk", s(pk))
                .expression_attribute_values(":prefix", s(prefix))
                .consistent_read(true)
                .limit(i32::try_from(remaining.min(1000)).unwrap_or(1000))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk_error)?;
            items.extend(out.items.unwrap_or_default());
            if items.len() > limit {
                items.truncate(limit);
                return Ok((items, true));
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok((items, false)),
            }
        }
    }

    async fn get_item(&self, key: Item) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(out.item)
    }

    /// Queries GSI1 for one partition, items with `GSI1SK > after`, up to `limit` items.
    async fn query_gsi(
        &self,
        partition: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Item>, bool), StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let remaining = limit.saturating_sub(items.len());
            if remaining == 0 {
                return Ok((items, true));
            }
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI1)
                .expression_attribute_values(":pk", s(partition))
                .limit(i32::try_from(remaining.min(1000)).unwrap_or(1000))
                .set_exclusive_start_key(start.take());
            q = match after {
                Some(a) => q
                    .key_condition_expression("GSI1PK = :pk AND GSI1SK > :after")
                    .expression_attribute_values(":after", s(a)),
                None => q.key_condition_expression("GSI1PK = :pk"),
            };
            let out = q.send().await.map_err(sdk_error)?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok((items, false)),
            }
        }
    }

    /// Deletes items by key in batches of 25, retrying unprocessed ones.
    async fn batch_delete(&self, keys_to_delete: Vec<Item>) -> Result<(), StoreError> {
        let requests = keys_to_delete
            .into_iter()
            .map(|key| {
                DeleteRequest::builder()
                    .set_key(Some(key))
                    .build()
                    .map(|d| WriteRequest::builder().delete_request(d).build())
                    .map_err(StoreError::backend)
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.batch_write(requests).await
    }

    /// Runs write requests in batches of 25 (idempotent puts and deletes), retrying
    /// unprocessed ones with backoff.
    async fn batch_write(&self, requests: Vec<WriteRequest>) -> Result<(), StoreError> {
        for chunk in requests.chunks(25) {
            let mut pending: Vec<WriteRequest> = chunk.to_vec();
            for attempt in 0..MAX_ATTEMPTS {
                if pending.is_empty() {
                    break;
                }
                if attempt > 0 {
                    tokio::time::sleep(backoff(attempt)).await;
                }
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending.clone())
                    .send()
                    .await
                    .map_err(sdk_error)?;
                pending = out
                    .unprocessed_items
                    .and_then(|mut m| m.remove(&self.table))
                    .unwrap_or_default();
            }
            if !pending.is_empty() {
                return Err(StoreError::Throttled);
            }
        }
        Ok(())
    }

    /// The items of these keys that exist (strongly consistent `BatchGetItem`, 100 keys a
    /// call), restricted to `projection` if given.
    async fn existing(
        &self,
        wanted: Vec<Item>,
        projection: Option<&str>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::new();
        for chunk in wanted.chunks(100) {
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.to_vec()))
                    .consistent_read(true)
                    .set_projection_expression(projection.map(str::to_owned))
                    .build()
                    .map_err(StoreError::backend)?,
            );
            let mut attempt = 0;
            while let Some(request) = pending.take() {
                if attempt > 0 {
                    tokio::time::sleep(backoff(attempt)).await;
                }
                attempt += 1;
                if attempt > MAX_ATTEMPTS {
                    return Err(StoreError::Throttled);
                }
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                if let Some(items) = out.responses.and_then(|mut r| r.remove(&self.table)) {
                    found.extend(items);
                }
                pending = out
                    .unprocessed_keys
                    .and_then(|mut m| m.remove(&self.table))
                    .filter(|k| !k.keys().is_empty());
            }
        }
        Ok(found)
    }

    fn key_of(it: &Item) -> Item {
        it.iter()
            .filter(|(k, _)| k.as_str() == "PK" || k.as_str() == "SK")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// After a failed version condition on action 0: gone (404) or changed (race)?
    async fn version_failure(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
    ) -> Result<StoreError, StoreError> {
        let exists = self
            .get_item(item::resource_key(tenant, kind, id))
            .await?
            .is_some_and(|it| !item::is_deleted(&it));
        Ok(if exists {
            StoreError::VersionMismatch
        } else {
            StoreError::NotFound
        })
    }
}

/// The HTTPS client of every DynamoDB client: hyper 1 with rustls on ring (TLS roots from the
/// system, loaded when the first connection is made).
fn https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// Builds a DynamoDB client from the standard AWS configuration chain. With an explicit
/// `endpoint` (DynamoDB Local) and no `AWS_ACCESS_KEY_ID` in the environment, static dummy
/// credentials are used, so the chain never reaches for instance metadata.
pub async fn connect(endpoint: Option<&str>, region: Option<&str>) -> Client {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https_client())
        .retry_config(retry_config());
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region.to_owned()));
    }
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint);
        if region.is_none() && std::env::var_os("AWS_REGION").is_none() {
            loader = loader.region(aws_config::Region::from_static("us-east-1"));
        }
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "local",
                "local",
                None,
                None,
                "scimlet-local",
            ));
        }
    }
    Client::new(&loader.load().await)
}

/// The Lambda function's client, from the environment Lambda gives every function: the
/// region (`AWS_REGION`) and the execution role's credentials (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), plus `endpoint` if one is configured. It
/// does not run the default credential chain (profiles, SSO, IMDS, ...): nothing in Lambda
/// needs it, and leaving it out keeps it off the cold start and out of the binary.
pub fn connect_lambda(endpoint: Option<&str>) -> Result<Client, StoreError> {
    let region = std::env::var("AWS_REGION")
        .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
        .map_err(|_| StoreError::backend("AWS_REGION is not set (Lambda always sets it)"))?;
    let mut builder = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new(region))
        .credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        )
        .http_client(https_client())
        .retry_config(retry_config());
    builder.set_endpoint_url(endpoint.map(str::to_owned));
    let config = builder.build();
    Ok(Client::from_conf(config))
}

/// A client for a local endpoint (DynamoDB Local, or the test run's IAM proxy in front of it)
/// with static credentials. Behind the proxy, `access_key_id` names the principal and the
/// table it acts on (`function.<table>`, `operator.<table>`, `admin.<table>`; see
/// ARCHITECTURE.md, "IAM in the test run").
pub async fn connect_local(endpoint: &str, access_key_id: &str) -> Client {
    let credentials = aws_sdk_dynamodb::config::Credentials::new(
        access_key_id,
        "local",
        None,
        None,
        "scimlet-local",
    );
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https_client())
        .retry_config(retry_config())
        .endpoint_url(endpoint)
        .region(aws_config::Region::from_static("us-east-1"))
        .credentials_provider(credentials)
        .load()
        .await;
    Client::new(&config)
}
