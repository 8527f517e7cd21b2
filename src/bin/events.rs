//! The events function (`events`): the enrichment step of the EventBridge pipe that reads the
//! table's stream (template.yaml, `ChangeEventsPipe`). Pipes hands it a batch of stream
//! records (already filtered to resource and membership items) as a JSON array; it answers the
//! array of change events (`scimlet::events`, at most one per record) that the pipe then puts
//! on the event bus. A record it cannot read fails the batch: the pipe retries it, splits it,
//! and after its retry limit sends it to the dead-letter queue.

use scimlet::Config;
use scimlet::events::pipe::enrich;
use serde_json::Value;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    scimlet::logging::init_lambda_json();
    let config = Config::from_env()?;
    let registry = config.registry;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<Value>| async move {
            match enrich(&event.payload, registry) {
                Ok(events) => {
                    tracing::info!(events = events.len(), "stream batch");
                    Ok(events)
                }
                Err(e) => {
                    // The record's position and type tags only: never its values.
                    tracing::error!(error = %e, "stream batch failed");
                    Err(Error::from(e))
                }
            }
        },
    ))
    .await
}
