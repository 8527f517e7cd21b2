//! `DynamoStore`: both store traits over one DynamoDB table (layout in [`super::keys`]).
//!
//! This module (with the binaries) is the only code that names `aws_sdk_*` types; it converts
//! SDK types to domain types and SDK failures to [`StoreError`]. Multi-item writes are single
//! `TransactWriteItems` calls whose cancellation reasons are read by position: a failed guard
//! `Put` is a uniqueness conflict, a failed version condition a lost race. Transaction
//! conflicts and throttling are retried here with backoff, then reported as
//! [`StoreError::Throttled`] (429 + `Retry-After` to the client).

mod item;
mod table;

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, DeleteRequest, Put, TransactWriteItem, Update,
    WriteRequest,
};

pub use table::{GSI1, TableCreation, create_table};

use self::item::{Item, n, s};
use super::{
    Directory, GuardChange, Resource, ResourcePage, ResourceStore, StoreError, Tenant, TenantId,
    TokenRecord, keys,
};
use crate::schema::ResourceKind;
use crate::schema::input::UniqueValue;

/// How many times a throttled or conflicting write is attempted before giving up.
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

fn is_retryable_code(code: &str) -> bool {
    matches!(
        code,
        "TransactionConflict"
            | "TransactionConflictException"
            | "TransactionInProgressException"
            | "ThrottlingError"
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
    if err.code().is_some_and(is_retryable_code) {
        StoreError::Throttled
    } else {
        opaque(&err)
    }
}

/// A backend error for the logs: a service error keeps only its code (DynamoDB messages may
/// quote request contents, and keys contain user names); transport failures keep their text.
fn opaque<E>(err: &SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
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

fn backoff(attempt: u32) -> Duration {
    // 25, 50, 100, 200, 400 ms, plus up to 25 ms of jitter from the clock.
    let base = 25u64 << attempt.min(5);
    let jitter = u64::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
            % 25_000_000,
    ) / 1_000_000;
    Duration::from_millis(base + jitter)
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

    /// The item's `version` must be `expected` (false if the item is absent).
    fn version(expected: u64) -> Self {
        Cond {
            expr: "#ver = :expected".into(),
            names: Some(HashMap::from([("#ver".into(), "version".into())])),
            values: Some(HashMap::from([(":expected".into(), n(expected))])),
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

fn counter_key(tenant: &TenantId, kind: ResourceKind) -> Item {
    HashMap::from([
        ("PK".into(), s(keys::counter_pk(tenant))),
        ("SK".into(), s(keys::counter_sk(kind))),
    ])
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

    fn counter_update(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        delta: i64,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(counter_key(tenant, kind)))
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

    /// Runs a transaction, retrying conflicts and throttling. `Ok(Err(..))` is a cancellation
    /// caused by failed conditions, for the caller to interpret by position.
    async fn transact(
        &self,
        actions: Vec<TransactWriteItem>,
    ) -> Result<Result<(), Cancelled>, StoreError> {
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(actions.clone()))
                .client_request_token(uuid::Uuid::new_v4().to_string())
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
                    .any(|r| r.code().is_some_and(is_retryable_code))
                {
                    continue;
                }
                return Err(opaque(&err));
            }
            if err.code().is_some_and(is_retryable_code) {
                continue;
            }
            return Err(opaque(&err));
        }
        Err(StoreError::Throttled)
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
        for chunk in keys_to_delete.chunks(25) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|key| {
                    DeleteRequest::builder()
                        .set_key(Some(key.clone()))
                        .build()
                        .map(|d| WriteRequest::builder().delete_request(d).build())
                        .map_err(StoreError::backend)
                })
                .collect::<Result<_, _>>()?;
            for attempt in 0..MAX_ATTEMPTS {
                if requests.is_empty() {
                    break;
                }
                if attempt > 0 {
                    tokio::time::sleep(backoff(attempt)).await;
                }
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests.clone())
                    .send()
                    .await
                    .map_err(sdk_error)?;
                requests = out
                    .unprocessed_items
                    .and_then(|mut m| m.remove(&self.table))
                    .unwrap_or_default();
            }
            if !requests.is_empty() {
                return Err(StoreError::Throttled);
            }
        }
        Ok(())
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
            .is_some();
        Ok(if exists {
            StoreError::VersionMismatch
        } else {
            StoreError::NotFound
        })
    }
}

#[async_trait]
impl ResourceStore for DynamoStore {
    async fn create(
        &self,
        tenant: &TenantId,
        resource: &Resource,
        unique: &[UniqueValue],
    ) -> Result<(), StoreError> {
        let mut actions = vec![self.put(item::resource_item(tenant, resource), Cond::absent())?];
        for v in unique {
            actions.push(self.guard_put(tenant, resource.kind, v, &resource.id)?);
        }
        actions.push(self.counter_update(tenant, resource.kind, 1)?);
        match self.transact(actions).await? {
            Ok(()) => Ok(()),
            Err(c) => Err(match c.first_failed() {
                Some(0) => StoreError::AlreadyExists,
                Some(i) if i <= unique.len() => StoreError::Conflict {
                    attr: unique[i - 1].attr,
                },
                _ => StoreError::backend("unexpected transaction cancellation on create"),
            }),
        }
    }

    async fn get(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
    ) -> Result<Option<Resource>, StoreError> {
        self.get_item(item::resource_key(tenant, kind, id))
            .await?
            .map(|it| item::resource_from_item(kind, &it))
            .transpose()
    }

    async fn replace(
        &self,
        tenant: &TenantId,
        resource: &Resource,
        expected_version: u64,
        guards: GuardChange<'_>,
    ) -> Result<(), StoreError> {
        let mut actions = vec![self.put(
            item::resource_item(tenant, resource),
            Cond::version(expected_version),
        )?];
        let added: Vec<&UniqueValue> = guards.added().collect();
        for v in &added {
            actions.push(self.guard_put(tenant, resource.kind, v, &resource.id)?);
        }
        for v in guards.removed() {
            actions.push(self.guard_delete(tenant, resource.kind, v, &resource.id)?);
        }
        match self.transact(actions).await? {
            Ok(()) => Ok(()),
            Err(c) => match c.first_failed() {
                Some(0) => Err(self
                    .version_failure(tenant, resource.kind, &resource.id)
                    .await?),
                Some(i) if i <= added.len() => Err(StoreError::Conflict {
                    attr: added[i - 1].attr,
                }),
                _ => Err(StoreError::backend(
                    "a uniqueness guard is held by another resource",
                )),
            },
        }
    }

    async fn delete(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        expected_version: u64,
        unique: &[UniqueValue],
    ) -> Result<(), StoreError> {
        let mut actions = vec![self.delete_action(
            item::resource_key(tenant, kind, id),
            Cond::version(expected_version),
        )?];
        for v in unique {
            actions.push(self.guard_delete(tenant, kind, v, id)?);
        }
        actions.push(self.counter_update(tenant, kind, -1)?);
        match self.transact(actions).await? {
            Ok(()) => Ok(()),
            Err(c) => match c.first_failed() {
                Some(0) => Err(self.version_failure(tenant, kind, id).await?),
                _ => Err(StoreError::backend(
                    "a uniqueness guard is held by another resource",
                )),
            },
        }
    }

    async fn find_unique(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        value: &UniqueValue,
    ) -> Result<Option<String>, StoreError> {
        match self.get_item(Self::guard_key(tenant, kind, value)).await? {
            Some(it) => Ok(Some(item::get_s(&it, "owner")?.to_owned())),
            None => Ok(None),
        }
    }

    async fn list(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ResourcePage, StoreError> {
        let partition = keys::resources_gsi(tenant, kind);
        let (raw, _) = self
            .query_gsi(&partition, after, limit.saturating_add(1))
            .await?;
        let mut items = raw
            .iter()
            .map(|it| item::resource_from_item(kind, it))
            .collect::<Result<Vec<_>, _>>()?;
        let next_after = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|r| r.id.clone())
        } else {
            None
        };
        Ok(ResourcePage { items, next_after })
    }

    async fn count(&self, tenant: &TenantId, kind: ResourceKind) -> Result<u64, StoreError> {
        match self.get_item(counter_key(tenant, kind)).await? {
            Some(it) => item::get_u64(&it, "count"),
            None => Ok(0),
        }
    }

    async fn purge(&self, tenant: &TenantId) -> Result<(), StoreError> {
        let partitions = [
            keys::resources_gsi(tenant, ResourceKind::User),
            keys::resources_gsi(tenant, ResourceKind::Group),
            keys::guards_gsi(tenant),
        ];
        for partition in partitions {
            loop {
                let (items, more) = self.query_gsi(&partition, None, 500).await?;
                let batch: Vec<Item> = items.iter().map(Self::key_of).collect();
                // Resources may own further items under their partition key (edges, later).
                self.batch_delete(batch).await?;
                if !more {
                    break;
                }
            }
        }
        let counters = [ResourceKind::User, ResourceKind::Group]
            .into_iter()
            .map(|k| counter_key(tenant, k))
            .collect();
        self.batch_delete(counters).await
    }
}

#[async_trait]
impl Directory for DynamoStore {
    async fn create_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item::tenant_item(tenant)))
            .condition_expression(Cond::absent().expr)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if err.code() == Some("ConditionalCheckFailedException") => {
                Err(StoreError::AlreadyExists)
            }
            Err(err) => Err(sdk_error(err)),
        }
    }

    async fn get_tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        self.get_item(item::tenant_key(id))
            .await?
            .map(|it| item::tenant_from_item(&it))
            .transpose()
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        let (items, _) = self.query_gsi(keys::TENANTS_GSI, None, usize::MAX).await?;
        items.iter().map(item::tenant_from_item).collect()
    }

    async fn delete_tenant(&self, id: &TenantId) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(item::tenant_key(id)))
            .condition_expression(Cond::present().expr)
            .send()
            .await;
        match result {
            Ok(_) => {}
            Err(err) if err.code() == Some("ConditionalCheckFailedException") => {
                return Err(StoreError::NotFound);
            }
            Err(err) => return Err(sdk_error(err)),
        }
        let (tokens, _) = self
            .query_gsi(&keys::tokens_gsi(id), None, usize::MAX)
            .await?;
        self.batch_delete(tokens.iter().map(Self::key_of).collect())
            .await
    }

    async fn put_token(&self, token: &TokenRecord) -> Result<(), StoreError> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(item::tenant_key(&token.tenant)))
            .condition_expression(Cond::present().expr)
            .build()
            .map_err(StoreError::backend)?;
        let actions = vec![
            TransactWriteItem::builder().condition_check(check).build(),
            self.put(item::token_item(token), Cond::absent())?,
        ];
        match self.transact(actions).await? {
            Ok(()) => Ok(()),
            Err(c) => Err(match c.first_failed() {
                Some(0) => StoreError::NotFound,
                _ => StoreError::AlreadyExists,
            }),
        }
    }

    async fn get_token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.get_item(item::token_key(id))
            .await?
            .map(|it| item::token_from_item(&it))
            .transpose()
    }

    async fn list_tokens(&self, tenant: &TenantId) -> Result<Vec<TokenRecord>, StoreError> {
        let (items, _) = self
            .query_gsi(&keys::tokens_gsi(tenant), None, usize::MAX)
            .await?;
        items.iter().map(item::token_from_item).collect()
    }

    async fn delete_token(&self, tenant: &TenantId, id: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(item::token_key(id)))
            .condition_expression("#t = :t")
            .expression_attribute_names("#t", "tenant")
            .expression_attribute_values(":t", s(tenant.as_str()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if err.code() == Some("ConditionalCheckFailedException") => {
                Err(StoreError::NotFound)
            }
            Err(err) => Err(sdk_error(err)),
        }
    }
}

/// Builds a DynamoDB client from the standard AWS configuration chain. With an explicit
/// `endpoint` (DynamoDB Local) and no `AWS_ACCESS_KEY_ID` in the environment, static dummy
/// credentials are used, so the chain never reaches for instance metadata.
pub async fn connect(endpoint: Option<&str>, region: Option<&str>) -> Client {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
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
