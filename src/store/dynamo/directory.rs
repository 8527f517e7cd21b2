//! `Directory` over the table: tenants and tokens.

use async_trait::async_trait;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{ConditionCheck, TransactWriteItem};

use super::item::{self, n, s};
use super::{Cond, DynamoStore, sdk_error};
use crate::domain::{SetupLink, Tenant, TenantId, TokenRecord};
use crate::store::{Directory, StoreError, keys};

impl DynamoStore {
    /// Writes a tenant record under a condition; `on_condition` is the error when it fails.
    async fn put_tenant(
        &self,
        tenant: &Tenant,
        cond: Cond,
        on_condition: StoreError,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item::tenant_item(tenant)))
            .condition_expression(cond.expr)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if err.code() == Some("ConditionalCheckFailedException") => Err(on_condition),
            Err(err) => Err(sdk_error(err)),
        }
    }
}

impl DynamoStore {
    /// Deletes a tenant's tokens and setup links.
    async fn delete_credentials(&self, id: &TenantId) -> Result<(), StoreError> {
        let (tokens, _) = self
            .query_gsi(&keys::tokens_gsi(id), None, usize::MAX)
            .await?;
        let (links, _) = self
            .query_gsi(&keys::setup_links_gsi(id), None, usize::MAX)
            .await?;
        self.batch_delete(tokens.iter().chain(&links).map(Self::key_of).collect())
            .await
    }
}

#[async_trait]
impl Directory for DynamoStore {
    async fn create_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        self.put_tenant(tenant, Cond::absent(), StoreError::AlreadyExists)
            .await
    }

    async fn get_tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        self.get_item(item::tenant_key(id))
            .await?
            .map(|it| item::tenant_from_item(&it))
            .transpose()
    }

    async fn update_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        self.put_tenant(tenant, Cond::present(), StoreError::NotFound)
            .await
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
        self.delete_credentials(id).await
    }

    async fn begin_tenant_deletion(&self, id: &TenantId) -> Result<(), StoreError> {
        let mut expr = super::Expr::default();
        let update = format!(
            "SET deleting = {}",
            expr.value(":t", aws_sdk_dynamodb::types::AttributeValue::Bool(true))
        );
        let marked = self
            .update_item(
                item::tenant_key(id),
                &update,
                Some(&Cond::present().expr),
                &expr,
            )
            .await?;
        if matches!(marked, super::Conditional::Failed) {
            return Err(StoreError::NotFound);
        }
        self.delete_credentials(id).await
    }

    async fn put_setup_link(&self, link: &SetupLink) -> Result<(), StoreError> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(item::tenant_key(&link.tenant)))
            .condition_expression(Cond::present().expr)
            .build()
            .map_err(StoreError::backend)?;
        let put = aws_sdk_dynamodb::types::Put::builder()
            .table_name(&self.table)
            .set_item(Some(item::setup_link_item(link)))
            .build()
            .map_err(StoreError::backend)?;
        let actions = vec![
            TransactWriteItem::builder().condition_check(check).build(),
            TransactWriteItem::builder().put(put).build(),
        ];
        match self.transact(actions).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(StoreError::NotFound),
        }
    }

    async fn get_setup_link(&self, id: &str) -> Result<Option<SetupLink>, StoreError> {
        self.get_item(item::setup_link_key(id))
            .await?
            .map(|it| item::setup_link_from_item(&it))
            .transpose()
    }

    async fn list_setup_links(&self, tenant: &TenantId) -> Result<Vec<SetupLink>, StoreError> {
        let (items, _) = self
            .query_gsi(&keys::setup_links_gsi(tenant), None, usize::MAX)
            .await?;
        items.iter().map(item::setup_link_from_item).collect()
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

    async fn set_token_expiry(
        &self,
        tenant: &TenantId,
        id: &str,
        expires_at: Option<i64>,
    ) -> Result<(), StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item::token_key(id)))
            .condition_expression("#t = :t")
            .expression_attribute_names("#t", "tenant")
            .expression_attribute_values(":t", s(tenant.as_str()));
        let update = match expires_at {
            Some(exp) => update
                .update_expression("SET expires = :e, expiresAt = :ttl")
                .expression_attribute_values(":e", n(exp))
                .expression_attribute_values(
                    ":ttl",
                    n(exp.saturating_add(crate::domain::TOKEN_GRACE_SECS)),
                ),
            None => update.update_expression("REMOVE expires, expiresAt"),
        };
        match update.send().await {
            Ok(_) => Ok(()),
            Err(err) if err.code() == Some("ConditionalCheckFailedException") => {
                Err(StoreError::NotFound)
            }
            Err(err) => Err(sdk_error(err)),
        }
    }

    async fn touch_token(&self, id: &str, now: i64, not_before: i64) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item::token_key(id)))
            .update_expression("SET lastUsed = :now")
            .condition_expression(
                "attribute_exists(PK) AND (attribute_not_exists(lastUsed) OR lastUsed < :nb)",
            )
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":nb", n(not_before))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if err.code() == Some("ConditionalCheckFailedException") => Ok(false),
            Err(err) => Err(sdk_error(err)),
        }
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
