//! The test run's IAM proxy (infra/dynamodb_iam_proxy.py) answers what the stack's policies do
//! not allow the way AWS does, and the store reports it as a set-up problem, not as data.

use scimlet::store::dynamo::{DynamoStore, connect_local};
use scimlet::store::{Directory, SetupProblem, StoreError};

use crate::helpers::{
    Principal, dynamo_store, dynamo_store_as, dynamodb_endpoint, fresh_tenant_id,
};

/// The table every `dynamo_store()` test shares (created by it).
const TABLE: &str = "scimlet-test";

#[tokio::test]
async fn a_principal_without_the_action_is_denied_like_on_aws() {
    dynamo_store().await;
    let nobody = dynamo_store_as(Principal::Nobody, TABLE).await;
    let err = nobody
        .get_tenant(&fresh_tenant_id())
        .await
        .expect_err("nobody may read");
    assert!(
        matches!(err, StoreError::Setup(SetupProblem::AccessDenied)),
        "{err:?}"
    );
    // The function may, on its own stack's table only.
    let function = dynamo_store_as(Principal::Function, TABLE).await;
    assert_eq!(
        function.get_tenant(&fresh_tenant_id()).await.ok(),
        Some(None)
    );
    let client = connect_local(&dynamodb_endpoint(), &Principal::Function.access_key(TABLE)).await;
    let elsewhere = DynamoStore::new(client, "expect-denied-other-table");
    let err = elsewhere
        .get_tenant(&fresh_tenant_id())
        .await
        .expect_err("other table");
    assert!(
        matches!(err, StoreError::Setup(SetupProblem::AccessDenied)),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_unknown_access_key_is_rejected() {
    let client = connect_local(&dynamodb_endpoint(), "local").await;
    let store = DynamoStore::new(client, TABLE);
    let err = store
        .get_tenant(&fresh_tenant_id())
        .await
        .expect_err("unknown key");
    assert!(
        matches!(err, StoreError::Setup(SetupProblem::InvalidCredentials)),
        "{err:?}"
    );
}
