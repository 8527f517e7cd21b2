//! The Lambda function (`bootstrap`): configuration, the AWS client and the `App` are built
//! once per container; each API Gateway event is then handled by `App::handle`, which never
//! fails (errors are SCIM responses), so the runtime never sees an `Err`.

use std::convert::Infallible;
use std::sync::Arc;

use lambda_http::{Request, service_fn};
use scimlet::store::dynamo::{DynamoStore, connect_lambda};
use scimlet::{App, Config};

// One event at a time per container: a single-threaded runtime (argon2id still runs on the
// blocking pool) starts faster than a worker per core.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    scimlet::logging::init_lambda_json();
    let config = Config::from_env()?;
    let table =
        std::env::var("SCIMLET_TABLE").map_err(|_| "SCIMLET_TABLE must name the DynamoDB table")?;
    let endpoint = std::env::var("SCIMLET_DYNAMODB_ENDPOINT").ok();
    let store = DynamoStore::new(connect_lambda(endpoint.as_deref())?, table);
    let app = App::new(config, Arc::new(store.clone()), Arc::new(store));
    let app = &app;
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, Infallible>(scimlet::http::lambda::handle(app, request).await)
    }))
    .await
}
