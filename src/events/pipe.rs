//! The enrichment step of the change-event pipe in AWS (`src/bin/events.rs` runs it): a batch
//! of the table's stream records in, the batch of events out, fitted to one `PutEvents` call.

use serde_json::Value;

use super::{Event, fit_batch, from_change};
use crate::schema::registry::Registry;
use crate::store::dynamo::stream::{RecordError, change_of};

/// Why a batch could not be turned into events (the pipe retries it, splits it, and after its
/// retry limit sends the failing record to the dead-letter queue).
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// The payload is not a batch of stream records.
    #[error("the event is neither an array of stream records nor {{\"Records\": [...]}}")]
    NotABatch,
    /// One record could not be read.
    #[error(transparent)]
    Record(#[from] RecordError),
}

/// The events of a batch: a JSON array of stream records (EventBridge Pipes), or
/// `{"Records": [...]}` (a Lambda event source mapping, should the function be attached to
/// the stream directly). At most one event per record.
pub fn enrich(payload: &Value, registry: &Registry) -> Result<Vec<Event>, BatchError> {
    let records = match payload {
        Value::Array(records) => records,
        Value::Object(map) => match map.get("Records") {
            Some(Value::Array(records)) => records,
            _ => return Err(BatchError::NotABatch),
        },
        _ => return Err(BatchError::NotABatch),
    };
    let mut events = Vec::with_capacity(records.len());
    for record in records {
        if let Some(change) = change_of(record)? {
            events.extend(from_change(&change, registry));
        }
    }
    fit_batch(&mut events);
    Ok(events)
}
