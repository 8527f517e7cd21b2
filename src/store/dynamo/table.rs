//! Creating the table (for DynamoDB Local, tests and deployments without SAM). The definition
//! matches `template.yaml`: `PK`/`SK` strings, `GSI1` (`GSI1PK`/`GSI1SK`, projection ALL),
//! on-demand billing, streams with new and old images, TTL on `expiresAt`.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType, TableStatus,
    TimeToLiveSpecification,
};

use super::super::StoreError;

/// Name of the one global secondary index.
pub const GSI1: &str = "GSI1";

fn key(name: &str, ty: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(ty)
        .build()
        .map_err(StoreError::backend)
}

fn string_attr(name: &str) -> Result<AttributeDefinition, StoreError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(StoreError::backend)
}

/// Whether the table was created by this call or already existed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableCreation {
    /// Created now.
    Created,
    /// It was there already (left unchanged).
    AlreadyExisted,
}

/// Creates the table if it does not exist and waits until it is active.
pub async fn create_table(client: &Client, table: &str) -> Result<TableCreation, StoreError> {
    let gsi = GlobalSecondaryIndex::builder()
        .index_name(GSI1)
        .key_schema(key("GSI1PK", KeyType::Hash)?)
        .key_schema(key("GSI1SK", KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(StoreError::backend)?;
    let streams = StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(StreamViewType::NewAndOldImages)
        .build()
        .map_err(StoreError::backend)?;
    let result = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(string_attr("PK")?)
        .attribute_definitions(string_attr("SK")?)
        .attribute_definitions(string_attr("GSI1PK")?)
        .attribute_definitions(string_attr("GSI1SK")?)
        .key_schema(key("PK", KeyType::Hash)?)
        .key_schema(key("SK", KeyType::Range)?)
        .global_secondary_indexes(gsi)
        .stream_specification(streams)
        .send()
        .await;
    let creation = match result {
        Ok(_) => TableCreation::Created,
        Err(err) if err.code() == Some("ResourceInUseException") => TableCreation::AlreadyExisted,
        Err(err) => return Err(super::opaque(&err)),
    };
    wait_active(client, table).await?;
    if creation == TableCreation::Created {
        let ttl = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name("expiresAt")
            .build()
            .map_err(StoreError::backend)?;
        client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(ttl)
            .send()
            .await
            .map_err(|e| super::opaque(&e))?;
    }
    Ok(creation)
}

async fn wait_active(client: &Client, table: &str) -> Result<(), StoreError> {
    for _ in 0..600 {
        let out = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| super::opaque(&e))?;
        let table_active = out
            .table()
            .and_then(|t| t.table_status())
            .is_some_and(|s| *s == TableStatus::Active);
        if table_active {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(StoreError::backend(
        "the table did not become active in 5 minutes",
    ))
}
