//! Counting the DynamoDB calls a store makes and the items they read, by an interceptor on the
//! SDK client: what the tests' round-trip budgets and the benchmark measure (every attempt of
//! a retried call counts).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::AfterDeserializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemOutput;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemOutput;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsOutput;
use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;

use super::DynamoStore;

/// What a counted client did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Calls per operation name (`GetItem`, `Query`, …; `Failed` for calls that answered an
    /// error).
    pub calls: BTreeMap<&'static str, u64>,
    /// Items read (returned by `GetItem`, `BatchGetItem`, and examined by `Query`).
    pub items_read: u64,
}

impl Counts {
    /// Calls of one operation.
    pub fn of(&self, operation: &str) -> u64 {
        self.calls.get(operation).copied().unwrap_or(0)
    }

    /// All calls.
    pub fn total(&self) -> u64 {
        self.calls.values().sum()
    }
}

/// A shared tally of a client's calls (see [`DynamoStore::counted`]).
#[derive(Debug, Default)]
pub struct CallCounter {
    counts: Mutex<Counts>,
}

impl CallCounter {
    /// What was counted so far.
    pub fn snapshot(&self) -> Counts {
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Forgets what was counted.
    pub fn reset(&self) {
        *self.counts.lock().unwrap_or_else(|p| p.into_inner()) = Counts::default();
    }

    fn record(&self, operation: &'static str, items: u64) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        *counts.calls.entry(operation).or_default() += 1;
        counts.items_read += items;
    }
}

#[derive(Debug)]
struct Counting(Arc<CallCounter>);

fn len_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl Intercept for Counting {
    fn name(&self) -> &'static str {
        "scimlet-call-counter"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Ok(output) = context.output_or_error() else {
            self.0.record("Failed", 0);
            return Ok(());
        };
        let (operation, items) = if let Some(out) = output.downcast_ref::<GetItemOutput>() {
            ("GetItem", u64::from(out.item.is_some()))
        } else if let Some(out) = output.downcast_ref::<BatchGetItemOutput>() {
            let n = out
                .responses
                .as_ref()
                .map_or(0, |r| r.values().map(Vec::len).sum());
            ("BatchGetItem", len_u64(n))
        } else if let Some(out) = output.downcast_ref::<QueryOutput>() {
            ("Query", u64::try_from(out.scanned_count).unwrap_or(0))
        } else if output.downcast_ref::<TransactWriteItemsOutput>().is_some() {
            ("TransactWriteItems", 0)
        } else if output.downcast_ref::<UpdateItemOutput>().is_some() {
            ("UpdateItem", 0)
        } else if output.downcast_ref::<PutItemOutput>().is_some() {
            ("PutItem", 0)
        } else if output.downcast_ref::<DeleteItemOutput>().is_some() {
            ("DeleteItem", 0)
        } else if output.downcast_ref::<BatchWriteItemOutput>().is_some() {
            ("BatchWriteItem", 0)
        } else {
            ("Other", 0)
        };
        self.0.record(operation, items);
        Ok(())
    }
}

impl DynamoStore {
    /// The same store, with its calls counted in `counter`.
    pub fn counted(&self, counter: Arc<CallCounter>) -> DynamoStore {
        let config = self
            .client
            .config()
            .to_builder()
            .interceptor(Counting(counter))
            .build();
        DynamoStore::new(
            aws_sdk_dynamodb::Client::from_conf(config),
            self.table.clone(),
        )
    }
}
