//! `ResourceStore` over the table: resources, uniqueness guards, counters and membership edges.
//!
//! A write is one `TransactWriteItems` when it fits DynamoDB's 100-action limit: the resource
//! (conditional on its version), its guards, the counter, and for each added member a
//! `ConditionCheck` that the member exists plus the two edge items. A larger membership change
//! first checks the members exist (consistent `BatchGetItem`), then commits the resource,
//! guards and version in one transaction (so a uniqueness conflict or a lost race changes
//! nothing), then writes the edges in idempotent batches; a retry of the same request
//! converges. Deletes remove every edge of the resource, then sweep its partition once more,
//! so that a member added while the delete ran is not left behind.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{ConditionCheck, TransactWriteItem};

use super::edges::{self, Edge};
use super::item::{self, Item};
use super::{Cancelled, Cond, DynamoStore};
use crate::domain::ResourceKind;
use crate::domain::UniqueValue;
use crate::domain::{Link, MemberRef, Resource, TenantId};
use crate::store::{
    GuardChange, Linked, MemberChange, ResourcePage, ResourceStore, StoreError, keys,
};

/// The most actions DynamoDB accepts in one transaction.
const MAX_TRANSACTION_ACTIONS: usize = 100;

/// What a transaction action stands for, to interpret a cancellation by position.
#[derive(Debug, Clone)]
enum Meaning {
    /// The resource item itself (its condition: absent, or at the expected version).
    Resource,
    /// A guard being taken.
    Guard(&'static str),
    /// A member that must exist.
    Member(String),
    /// Anything whose condition cannot fail in normal operation.
    Plain,
}

/// A transaction being assembled, with the meaning of each action.
#[derive(Default)]
struct Plan {
    actions: Vec<TransactWriteItem>,
    meanings: Vec<Meaning>,
}

impl Plan {
    fn push(&mut self, action: TransactWriteItem, meaning: Meaning) {
        self.actions.push(action);
        self.meanings.push(meaning);
    }

    fn len(&self) -> usize {
        self.actions.len()
    }
}

/// The display name copied onto edges that point at a group.
fn group_display(group: &Resource) -> Option<String> {
    group
        .attributes
        .get("displayName")
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

fn resource_key_of(tenant: &TenantId, member: &MemberRef) -> Item {
    item::resource_key(tenant, member.kind, &member.id)
}

impl DynamoStore {
    /// Runs a plan; a failed condition becomes the error its action stands for.
    async fn run(&self, plan: Plan, on_resource: StoreError) -> Result<(), StoreError> {
        match self.transact(plan.actions).await? {
            Ok(()) => Ok(()),
            Err(Cancelled { failed }) => {
                let failed_at = failed.iter().position(|f| *f);
                Err(match failed_at.and_then(|i| plan.meanings.get(i)) {
                    Some(Meaning::Resource) => on_resource,
                    Some(Meaning::Guard(attr)) => StoreError::Conflict { attr },
                    Some(Meaning::Member(id)) => StoreError::MissingMember { id: id.clone() },
                    Some(Meaning::Plain) | None => {
                        StoreError::backend("a transaction condition failed unexpectedly")
                    }
                })
            }
        }
    }

    fn member_exists_check(
        &self,
        tenant: &TenantId,
        member: &MemberRef,
    ) -> Result<TransactWriteItem, StoreError> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(resource_key_of(tenant, member)))
            .condition_expression(Cond::present().expr)
            .build()
            .map_err(StoreError::backend)?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    fn plain_put(&self, it: Item) -> Result<TransactWriteItem, StoreError> {
        let put = aws_sdk_dynamodb::types::Put::builder()
            .table_name(&self.table)
            .set_item(Some(it))
            .build()
            .map_err(StoreError::backend)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn plain_delete(&self, key: Item) -> Result<TransactWriteItem, StoreError> {
        let delete = aws_sdk_dynamodb::types::Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .build()
            .map_err(StoreError::backend)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// Fails with [`StoreError::MissingMember`] unless every member exists.
    async fn check_members_exist(
        &self,
        tenant: &TenantId,
        members: &[&MemberRef],
    ) -> Result<(), StoreError> {
        let keys: Vec<Item> = members.iter().map(|m| resource_key_of(tenant, m)).collect();
        let found = self.existing(keys, Some("PK, SK")).await?;
        let present = |m: &MemberRef| {
            let pk = keys::resource_pk(tenant, m.kind, &m.id);
            found
                .iter()
                .any(|it| item::get_s(it, "PK").is_ok_and(|p| p == pk))
        };
        match members.iter().find(|m| !present(m)) {
            Some(missing) => Err(StoreError::MissingMember {
                id: missing.id.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Commits `core` with the edge writes in one transaction if they fit, else `core` first
    /// and the edges in batches after checking that the added members exist.
    async fn commit_with_edges(
        &self,
        tenant: &TenantId,
        mut core: Plan,
        on_resource: StoreError,
        added: &[Edge],
        removed: &[Edge],
    ) -> Result<(), StoreError> {
        if core.len() + added.len() * 3 + removed.len() * 2 <= MAX_TRANSACTION_ACTIONS {
            for edge in added {
                core.push(
                    self.member_exists_check(tenant, &edge.member)?,
                    Meaning::Member(edge.member.id.clone()),
                );
                let (under_group, under_member) = edges::items(tenant, edge);
                core.push(self.plain_put(under_group)?, Meaning::Plain);
                core.push(self.plain_put(under_member)?, Meaning::Plain);
            }
            for edge in removed {
                core.push(
                    self.plain_delete(edges::member_key(tenant, &edge.group, &edge.member))?,
                    Meaning::Plain,
                );
                core.push(
                    self.plain_delete(edges::membership_key(tenant, &edge.group, &edge.member))?,
                    Meaning::Plain,
                );
            }
            return self.run(core, on_resource).await;
        }
        let members: Vec<&MemberRef> = added.iter().map(|e| &e.member).collect();
        self.check_members_exist(tenant, &members).await?;
        self.run(core, on_resource).await?;
        let mut puts = Vec::with_capacity(added.len() * 2);
        for edge in added {
            let (a, b) = edges::items(tenant, edge);
            puts.push(a);
            puts.push(b);
        }
        self.batch_put(puts).await?;
        let mut deletes = Vec::with_capacity(removed.len() * 2);
        for edge in removed {
            deletes.push(edges::member_key(tenant, &edge.group, &edge.member));
            deletes.push(edges::membership_key(tenant, &edge.group, &edge.member));
        }
        self.batch_delete(deletes).await
    }

    /// Deletes every edge under a resource's partition, and the twin of each.
    async fn delete_edges(&self, tenant: &TenantId, found: &[Edge]) -> Result<(), StoreError> {
        let mut keys = Vec::with_capacity(found.len() * 2);
        for edge in found {
            keys.push(edges::member_key(tenant, &edge.group, &edge.member));
            keys.push(edges::membership_key(tenant, &edge.group, &edge.member));
        }
        self.batch_delete(keys).await
    }

    /// Reads a partition: the resource item and its edges.
    async fn read_partition(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
    ) -> Result<(Option<Resource>, Vec<Edge>), StoreError> {
        let items = self
            .query_partition(&keys::resource_pk(tenant, kind, id))
            .await?;
        let mut resource = None;
        let mut found = Vec::new();
        for it in &items {
            let sk = item::get_s(it, "SK")?;
            if sk == keys::resource_sk(kind) {
                if !item::is_deleted(it) {
                    resource = Some(item::resource_from_item(kind, it)?);
                }
            } else if sk.starts_with(keys::MEMBER_PREFIX) || sk.starts_with(keys::GROUP_EDGE_PREFIX)
            {
                found.push(edges::from_item(it)?);
            }
        }
        Ok((resource, found))
    }
}

/// How a resource leaves the live set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retirement {
    /// The item is deleted.
    Delete,
    /// The item stays, marked deleted (soft delete).
    MarkDeleted,
}

impl DynamoStore {
    /// Deletes or soft-deletes a resource at `expected_version`: the resource action, its
    /// guards released, the counter decremented and every edge removed, in one transaction if
    /// it fits; then the partition is swept for edges added while this ran.
    async fn retire(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        expected_version: u64,
        unique: &[UniqueValue],
        how: Retirement,
    ) -> Result<(), StoreError> {
        let (resource, found) = self.read_partition(tenant, kind, id).await?;
        let mut resource = match resource {
            None => return Err(StoreError::NotFound),
            Some(r) if r.version != expected_version => return Err(StoreError::VersionMismatch),
            Some(r) => r,
        };
        let first = match how {
            Retirement::Delete => self.delete_action(
                item::resource_key(tenant, kind, id),
                Cond::version(expected_version),
            )?,
            Retirement::MarkDeleted => {
                resource.version += 1;
                let deleted_at = crate::clock::now_rfc3339();
                self.put(
                    item::deleted_resource_item(tenant, &resource, &deleted_at),
                    Cond::version(expected_version),
                )?
            }
        };
        let mut core = Plan::default();
        core.push(first, Meaning::Resource);
        for v in unique {
            core.push(self.guard_delete(tenant, kind, v, id)?, Meaning::Plain);
        }
        core.push(self.counter_update(tenant, kind, -1)?, Meaning::Plain);
        match self
            .commit_with_edges(tenant, core, StoreError::VersionMismatch, &[], &found)
            .await
        {
            Err(StoreError::VersionMismatch) => {
                return Err(self.version_failure(tenant, kind, id).await?);
            }
            other => other?,
        }
        // Members added between the read and this write left edges here: remove them too.
        let (_, late) = self.read_partition(tenant, kind, id).await?;
        self.delete_edges(tenant, &late).await
    }
}

fn edge_for(group: &Resource, link: &Link) -> Edge {
    Edge {
        group: group.id.clone(),
        member: link.target.clone(),
        member_display: link.display.clone(),
        group_display: group_display(group),
    }
}

#[async_trait]
impl ResourceStore for DynamoStore {
    async fn create(
        &self,
        tenant: &TenantId,
        resource: &Resource,
        unique: &[UniqueValue],
        members: &[Link],
    ) -> Result<(), StoreError> {
        let mut core = Plan::default();
        core.push(
            self.put(item::resource_item(tenant, resource), Cond::absent())?,
            Meaning::Resource,
        );
        for v in unique {
            core.push(
                self.guard_put(tenant, resource.kind, v, &resource.id)?,
                Meaning::Guard(v.attr),
            );
        }
        core.push(
            self.counter_update(tenant, resource.kind, 1)?,
            Meaning::Plain,
        );
        let added: Vec<Edge> = members.iter().map(|l| edge_for(resource, l)).collect();
        self.commit_with_edges(tenant, core, StoreError::AlreadyExists, &added, &[])
            .await
    }

    async fn get(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
    ) -> Result<Option<Resource>, StoreError> {
        self.get_item(item::resource_key(tenant, kind, id))
            .await?
            .filter(|it| !item::is_deleted(it))
            .map(|it| item::resource_from_item(kind, &it))
            .transpose()
    }

    async fn get_many(
        &self,
        tenant: &TenantId,
        refs: &[MemberRef],
    ) -> Result<Vec<Resource>, StoreError> {
        let keys = refs.iter().map(|r| resource_key_of(tenant, r)).collect();
        let items = self.existing(keys, None).await?;
        items
            .iter()
            .filter(|it| !item::is_deleted(it))
            .map(|it| {
                let kind = match item::get_s(it, "type")? {
                    "Group" => ResourceKind::Group,
                    _ => ResourceKind::User,
                };
                item::resource_from_item(kind, it)
            })
            .collect()
    }

    async fn get_linked(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
    ) -> Result<Option<Linked>, StoreError> {
        let (resource, found) = self.read_partition(tenant, kind, id).await?;
        let Some(resource) = resource else {
            return Ok(None);
        };
        let mut members = Vec::new();
        let mut groups = Vec::new();
        for edge in &found {
            if kind == ResourceKind::Group && edge.group == id {
                members.push(edges::member_link(edge));
            } else {
                groups.push(edges::group_link(edge));
            }
        }
        members.sort_by(|a, b| a.target.cmp(&b.target));
        groups.sort_by(|a, b| a.target.cmp(&b.target));
        Ok(Some(Linked {
            resource,
            members,
            groups,
        }))
    }

    async fn replace(
        &self,
        tenant: &TenantId,
        resource: &Resource,
        expected_version: u64,
        guards: GuardChange<'_>,
        members: MemberChange<'_>,
    ) -> Result<(), StoreError> {
        let mut core = Plan::default();
        core.push(
            self.put(
                item::resource_item(tenant, resource),
                Cond::version(expected_version),
            )?,
            Meaning::Resource,
        );
        for v in guards.added() {
            core.push(
                self.guard_put(tenant, resource.kind, v, &resource.id)?,
                Meaning::Guard(v.attr),
            );
        }
        for v in guards.removed() {
            core.push(
                self.guard_delete(tenant, resource.kind, v, &resource.id)?,
                Meaning::Plain,
            );
        }
        let added: Vec<Edge> = members.add.iter().map(|l| edge_for(resource, l)).collect();
        let removed: Vec<Edge> = members
            .remove
            .iter()
            .map(|m| Edge {
                group: resource.id.clone(),
                member: m.clone(),
                member_display: None,
                group_display: None,
            })
            .collect();
        // Which error a failed version condition means is only known after a read.
        match self
            .commit_with_edges(tenant, core, StoreError::VersionMismatch, &added, &removed)
            .await
        {
            Err(StoreError::VersionMismatch) => Err(self
                .version_failure(tenant, resource.kind, &resource.id)
                .await?),
            other => other,
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
        self.retire(
            tenant,
            kind,
            id,
            expected_version,
            unique,
            Retirement::Delete,
        )
        .await
    }

    async fn soft_delete(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        expected_version: u64,
        unique: &[UniqueValue],
    ) -> Result<(), StoreError> {
        self.retire(
            tenant,
            kind,
            id,
            expected_version,
            unique,
            Retirement::MarkDeleted,
        )
        .await
    }

    async fn get_deleted(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
    ) -> Result<Option<Resource>, StoreError> {
        self.get_item(item::resource_key(tenant, kind, id))
            .await?
            .filter(item::is_deleted)
            .map(|it| item::resource_from_item(kind, &it))
            .transpose()
    }

    async fn restore(
        &self,
        tenant: &TenantId,
        resource: &Resource,
        expected_version: u64,
        unique: &[UniqueValue],
    ) -> Result<(), StoreError> {
        let mut plan = Plan::default();
        let mut cond = Cond::version(expected_version);
        cond.expr = format!("{} AND attribute_exists(deletedAt)", cond.expr);
        plan.push(
            self.put(item::resource_item(tenant, resource), cond)?,
            Meaning::Resource,
        );
        for v in unique {
            plan.push(
                self.guard_put(tenant, resource.kind, v, &resource.id)?,
                Meaning::Guard(v.attr),
            );
        }
        plan.push(
            self.counter_update(tenant, resource.kind, 1)?,
            Meaning::Plain,
        );
        match self.run(plan, StoreError::VersionMismatch).await {
            Err(StoreError::VersionMismatch) => Err(
                match self
                    .get_deleted(tenant, resource.kind, &resource.id)
                    .await?
                {
                    Some(_) => StoreError::VersionMismatch,
                    None => StoreError::NotFound,
                },
            ),
            other => other,
        }
    }

    async fn refresh_display(
        &self,
        tenant: &TenantId,
        member: &MemberRef,
        display: Option<&str>,
    ) -> Result<(), StoreError> {
        let (_, found) = self.read_partition(tenant, member.kind, &member.id).await?;
        let mut puts = Vec::new();
        for mut edge in found {
            if edge.member == *member {
                // `member` belongs to `edge.group`: rewrite the copy under the group.
                edge.member_display = display.map(str::to_owned);
                puts.push(edges::items(tenant, &edge).0);
            } else {
                // `member` is the group here: rewrite the copy under its member.
                edge.group_display = display.map(str::to_owned);
                puts.push(edges::items(tenant, &edge).1);
            }
        }
        self.batch_put(puts).await
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
        match self.get_item(super::counter_key(tenant, kind)).await? {
            Some(it) => item::get_u64(&it, "count"),
            None => Ok(0),
        }
    }

    async fn purge(&self, tenant: &TenantId) -> Result<(), StoreError> {
        let partitions = [ResourceKind::User, ResourceKind::Group]
            .into_iter()
            .flat_map(|kind| {
                [
                    (kind, keys::resources_gsi(tenant, kind)),
                    (kind, keys::deleted_gsi(tenant, kind)),
                ]
            });
        for (kind, partition) in partitions {
            loop {
                let (items, more) = self.query_gsi(&partition, None, 200).await?;
                for it in &items {
                    // The resource's edges (both twins), then the resource item itself.
                    let id = item::get_s(it, "id")?;
                    let (_, found) = self.read_partition(tenant, kind, id).await?;
                    self.delete_edges(tenant, &found).await?;
                    self.batch_delete(vec![item::resource_key(tenant, kind, id)])
                        .await?;
                }
                if !more {
                    break;
                }
            }
        }
        loop {
            let (guards, more) = self.query_gsi(&keys::guards_gsi(tenant), None, 500).await?;
            self.batch_delete(guards.iter().map(Self::key_of).collect())
                .await?;
            if !more {
                break;
            }
        }
        let counters = [ResourceKind::User, ResourceKind::Group]
            .into_iter()
            .map(|k| super::counter_key(tenant, k))
            .collect();
        self.batch_delete(counters).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_display_comes_from_display_name() {
        let mut attributes = serde_json::Map::new();
        attributes.insert("displayName".into(), serde_json::json!("Admins"));
        let r = Resource {
            kind: ResourceKind::Group,
            id: "g".into(),
            version: 1,
            created: String::new(),
            last_modified: String::new(),
            attributes,
            password_hash: None,
        };
        assert_eq!(group_display(&r).as_deref(), Some("Admins"));
    }
}
