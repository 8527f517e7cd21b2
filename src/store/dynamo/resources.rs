//! `ResourceStore` over the table: resources, uniqueness guards, counter shards and
//! membership edges, and how each [`Write`] is applied.
//!
//! - **One transaction when it fits** (100 actions): the resource (conditional on its
//!   version), its guards, its counter shard, and for a membership change the edges (each add
//!   checks that the member exists and that the edge does not; each removal that it does) with
//!   the group's membership counter.
//! - **Membership changes that commute** (no `If-Match`, or too large for one transaction):
//!   the group item is not part of the edge transactions, so concurrent changes of different
//!   members never conflict. A single `UpdateItem` first marks a change in progress
//!   (`ADD mpending 1`), the edges follow in transactions, and a final `UpdateItem` marks it
//!   done (`ADD mpending -1, mseq 1, memberCount d`). A reader that sees `mpending > 0`, or a
//!   different version after reading the edges, reports the version as settling. A change
//!   whose function died leaves `mpending` up: a read that finds it older than
//!   [`STALE_CHANGE`] with nothing started since sets it back to 0.
//! - **Deletes** remove the resource, its guards and its count in one transaction, then its
//!   edges (in that transaction if they fit, else in batches, at most [`RETIRE_EDGE_BUDGET`] of
//!   them synchronously); a member's edges added meanwhile are swept once more. Edges that
//!   point at a deleted group are ignored by readers. A deleted group's own member edges are
//!   retired rather than deleted (kept with a marker, removed by the TTL; see
//!   [`edges::RETIRED`]), so that its stream shows one deletion and no member removals; a
//!   restore deletes them first.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    ConditionCheck, DeleteRequest, PutRequest, TransactWriteItem, WriteRequest,
};

use super::edges::{self, Edge};
use super::item::{self, Item, n, s};
use super::{Cancelled, Cond, Conditional, DynamoStore, Expr};
use crate::domain::{
    ActivityEntry, Link, MemberRef, Resource, ResourceKind, TenantId, UniqueValue, Version,
};
use crate::store::{
    Applied, DisplayRefresh, Linked, LookupDelta, MemberDelta, PageAnchor, ResourcePage,
    ResourceStore, Retirement, StoreError, Write, WriteOp, keys,
};

/// The most actions DynamoDB accepts in one transaction.
const MAX_TRANSACTION_ACTIONS: usize = 100;

/// The most membership edges a delete removes before answering; the rest of a very large
/// group's edges stay, ignored by readers (they point at a group that no longer exists).
pub const RETIRE_EDGE_BUDGET: usize = 10_000;

/// The most edges of one resource a purge step deletes (a larger group is purged over several
/// steps, its item last).
const PURGE_EDGE_STEP: usize = 5_000;

/// How long a membership change may look in progress, with no other started since, before a
/// reader takes its function for dead (Lambda's limit is 15 minutes; the template sets 29 s).
pub const STALE_CHANGE: Duration = Duration::from_secs(20 * 60);

/// What a transaction action stands for, to interpret a cancellation by position.
#[derive(Debug, Clone)]
enum Meaning {
    /// The resource item itself (its condition: absent, or at the expected version).
    Resource,
    /// A guard being taken.
    Guard(&'static str),
    /// A member that must exist.
    Member(String),
    /// An edge that must be absent (added) or present (removed).
    Edge,
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

    fn append(&mut self, other: Plan) {
        self.actions.extend(other.actions);
        self.meanings.extend(other.meanings);
    }
}

fn resource_key_of(tenant: &TenantId, member: &MemberRef) -> Item {
    item::resource_key(tenant, member.kind, &member.id)
}

/// Actions per added member (exists check, two edges) and per removed one (two edges).
const ADD_ACTIONS: usize = 3;
const REMOVE_ACTIONS: usize = 2;

fn delta_actions(delta: &MemberDelta) -> usize {
    delta.add.len() * ADD_ACTIONS + delta.remove.len() * REMOVE_ACTIONS
}

/// The condition that the stored version is `expected` (and no membership change is in
/// progress, and the item is live). Format 1 items have no membership counters: absent is 0.
fn version_condition(expected: Version, expr: &mut Expr) -> String {
    let ver = expr.name("#ver", "version");
    let ms = expr.name("#ms", "mseq");
    let mp = expr.name("#mp", "mpending");
    let del = expr.name("#del", "deletedAt");
    let va = expr.value(":expectedVersion", n(expected.attributes));
    let zero = expr.value(":zero", n(0));
    let members = if expected.members == 0 {
        format!("(attribute_not_exists({ms}) OR {ms} = {zero})")
    } else {
        let m = expr.value(":expectedMembers", n(expected.members));
        format!("{ms} = {m}")
    };
    format!(
        "{ver} = {va} AND {members} AND (attribute_not_exists({mp}) OR {mp} = {zero}) \
         AND attribute_not_exists({del})"
    )
}

fn deleted_version_condition(expected: Version, expr: &mut Expr) -> String {
    let ver = expr.name("#ver", "version");
    let del = expr.name("#del", "deletedAt");
    let va = expr.value(":expectedVersion", n(expected.attributes));
    format!("{ver} = {va} AND attribute_exists({del})")
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
                    Some(Meaning::Edge) => StoreError::Raced,
                    Some(Meaning::Plain) | None => {
                        StoreError::backend("a transaction condition failed unexpectedly")
                    }
                })
            }
        }
    }

    fn plain_put(&self, it: Item, cond: Option<Cond>) -> Result<TransactWriteItem, StoreError> {
        match cond {
            Some(cond) => self.put(it, cond),
            None => {
                let put = aws_sdk_dynamodb::types::Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(it))
                    .build()
                    .map_err(StoreError::backend)?;
                Ok(TransactWriteItem::builder().put(put).build())
            }
        }
    }

    fn delete_edge_action(
        &self,
        key: Item,
        must_exist: bool,
    ) -> Result<TransactWriteItem, StoreError> {
        if must_exist {
            return self.delete_action(key, Cond::present());
        }
        let delete = aws_sdk_dynamodb::types::Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .build()
            .map_err(StoreError::backend)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    fn member_exists_check(
        &self,
        tenant: &TenantId,
        member: &MemberRef,
    ) -> Result<TransactWriteItem, StoreError> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(resource_key_of(tenant, member)))
            .condition_expression("attribute_exists(PK) AND attribute_not_exists(deletedAt)")
            .build()
            .map_err(StoreError::backend)?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    /// The actions of one membership change, one small plan per member (so that a large
    /// change is cut into transactions without splitting a member's actions).
    fn delta_plans(
        &self,
        tenant: &TenantId,
        group: &str,
        delta: &MemberDelta,
    ) -> Result<Vec<Plan>, StoreError> {
        let mut plans = Vec::with_capacity(delta.add.len() + delta.remove.len());
        for gone in &delta.remove {
            let mut plan = Plan::default();
            plan.push(
                self.delete_edge_action(edges::member_key(tenant, group, gone), true)?,
                Meaning::Edge,
            );
            plan.push(
                self.delete_edge_action(edges::membership_key(tenant, group, gone), false)?,
                Meaning::Plain,
            );
            plans.push(plan);
        }
        for link in &delta.add {
            let edge = Edge {
                group: group.to_owned(),
                member: link.target.clone(),
                member_display: link.display.clone(),
            };
            let (under_group, under_member) = edges::items(tenant, &edge);
            let mut plan = Plan::default();
            plan.push(
                self.member_exists_check(tenant, &link.target)?,
                Meaning::Member(link.target.id.clone()),
            );
            plan.push(
                self.plain_put(under_group, Some(Cond::absent()))?,
                Meaning::Edge,
            );
            plan.push(self.plain_put(under_member, None)?, Meaning::Plain);
            plans.push(plan);
        }
        Ok(plans)
    }

    /// An `Update` of a resource item's attributes (keeping its membership counters), under
    /// `condition`; with `members` set, also counting one membership change of that size.
    fn resource_update(
        &self,
        tenant: &TenantId,
        resource: &Resource,
        mut expr: Expr,
        condition: String,
        members: Option<i64>,
    ) -> Result<TransactWriteItem, StoreError> {
        let data = expr.name("#data", "data");
        let lm = expr.name("#lm", "lastModified");
        let g = expr.name("#g", "guards");
        let fmt = expr.name("#v", "v");
        let ver = expr.name("#ver", "version");
        let ph = expr.name("#ph", "passwordHash");
        let mut set = vec![
            format!(
                "{ver} = {}",
                expr.value(":version", n(resource.version.attributes))
            ),
            format!(
                "{data} = {}",
                expr.value(":data", item::data_attr(resource))
            ),
            format!(
                "{lm} = {}",
                expr.value(":lm", s(resource.last_modified.clone()))
            ),
            format!(
                "{g} = {}",
                expr.value(
                    ":guards",
                    item::guards_attr(resource.guards.as_deref().unwrap_or(&[]))
                )
            ),
            format!("{fmt} = {}", expr.value(":fmt", n(keys::FORMAT_VERSION))),
        ];
        let mut remove = Vec::new();
        match &resource.password_hash {
            Some(hash) => set.push(format!("{ph} = {}", expr.value(":ph", s(hash.clone())))),
            None => remove.push(ph),
        }
        let mut update = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            update.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        if let Some(delta) = members {
            let ms = expr.name("#ms", "mseq");
            let mc = expr.name("#mc", "memberCount");
            let one = expr.value(":one", n(1));
            let d = expr.value(":countChange", n(delta));
            update.push_str(&format!(" ADD {ms} {one}, {mc} {d}"));
        }
        self.update_action(
            item::resource_key(tenant, resource.kind, &resource.id),
            update,
            Some(condition),
            &expr,
        )
    }

    /// The puts and deletes of a change of lookup-index entries (unconditional: each entry is
    /// the resource's own item, written only inside the resource's own transactions).
    fn lookup_actions(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        lookups: &LookupDelta,
        plan: &mut Plan,
    ) -> Result<(), StoreError> {
        for v in &lookups.add {
            plan.push(
                self.plain_put(Self::lookup_item(tenant, kind, v, id), None)?,
                Meaning::Plain,
            );
        }
        for v in &lookups.remove {
            plan.push(
                self.delete_edge_action(Self::lookup_key(tenant, kind, v, id), false)?,
                Meaning::Plain,
            );
        }
        Ok(())
    }

    fn guard_actions(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        claim: &[UniqueValue],
        release: &[UniqueValue],
        plan: &mut Plan,
    ) -> Result<(), StoreError> {
        for v in claim {
            plan.push(self.guard_put(tenant, kind, v, id)?, Meaning::Guard(v.attr));
        }
        for v in release {
            plan.push(self.guard_delete(tenant, kind, v, id)?, Meaning::Plain);
        }
        Ok(())
    }

    async fn create(
        &self,
        tenant: &TenantId,
        resource: &Resource,
        members: &[Link],
        lookups: &LookupDelta,
    ) -> Result<Applied, StoreError> {
        let guards = resource.guards.clone().unwrap_or_default();
        let delta = MemberDelta {
            add: members.to_vec(),
            remove: Vec::new(),
        };
        let fits =
            2 + guards.len() + lookups.len() + delta_actions(&delta) <= MAX_TRANSACTION_ACTIONS;
        let mut stored = resource.clone();
        stored.member_count = if fits { members.len() as u64 } else { 0 };
        let pending = u64::from(!fits);
        let mut plan = Plan::default();
        plan.push(
            self.put(
                item::resource_item(tenant, &stored, pending),
                Cond::absent(),
            )?,
            Meaning::Resource,
        );
        self.guard_actions(tenant, resource.kind, &resource.id, &guards, &[], &mut plan)?;
        self.lookup_actions(tenant, resource.kind, &resource.id, lookups, &mut plan)?;
        plan.push(
            self.counter_update(tenant, resource.kind, &resource.id, 1)?,
            Meaning::Plain,
        );
        if fits {
            for p in self.delta_plans(tenant, &resource.id, &delta)? {
                plan.append(p);
            }
            self.run(plan, StoreError::AlreadyExists).await?;
            return Ok(Applied {
                version: stored.version,
                member_count: stored.member_count,
            });
        }
        // A large group: created first (its membership change in progress), then its edges.
        self.run(plan, StoreError::AlreadyExists).await?;
        let outcome = self.write_edges(tenant, &resource.id, &delta).await;
        self.finish_members(tenant, &resource.id, outcome, &resource.last_modified)
            .await
    }

    async fn update(&self, tenant: &TenantId, write: &Write) -> Result<Applied, StoreError> {
        let WriteOp::Update {
            resource,
            expected,
            claim,
            release,
            members: delta,
            ..
        } = &write.op
        else {
            return Err(StoreError::backend("not an update"));
        };
        let expected = *expected;
        let mut expr = Expr::default();
        let condition = version_condition(expected, &mut expr);
        let together = !delta.is_empty()
            && 1 + claim.len() + release.len() + write.lookups.len() + delta_actions(delta)
                <= MAX_TRANSACTION_ACTIONS;
        let count_change = together.then(|| delta.count_change());
        let mut plan = Plan::default();
        plan.push(
            self.resource_update(tenant, resource, expr, condition, count_change)?,
            Meaning::Resource,
        );
        self.guard_actions(tenant, write.kind, &write.id, claim, release, &mut plan)?;
        self.lookup_actions(tenant, write.kind, &write.id, &write.lookups, &mut plan)?;
        if together {
            for p in self.delta_plans(tenant, &write.id, delta)? {
                plan.append(p);
            }
        }
        match self.run(plan, StoreError::VersionMismatch).await {
            Err(StoreError::VersionMismatch) => {
                return Err(self.version_failure(tenant, write.kind, &write.id).await?);
            }
            other => other?,
        }
        if !delta.is_empty() && !together {
            // Too large for one transaction: the membership follows as its own change.
            return self
                .change_members(tenant, &write.id, delta, None, &resource.last_modified)
                .await;
        }
        let mut version = resource.version;
        version.members = expected.members + u64::from(together);
        Ok(Applied {
            version,
            member_count: resource
                .member_count
                .saturating_add_signed(count_change.unwrap_or(0)),
        })
    }

    /// Writes the edges of a membership change in transactions; returns how far it got.
    async fn write_edges(
        &self,
        tenant: &TenantId,
        group: &str,
        delta: &MemberDelta,
    ) -> EdgeOutcome {
        let plans = match self.delta_plans(tenant, group, delta) {
            Ok(plans) => plans,
            Err(err) => return EdgeOutcome::failed(0, err),
        };
        let mut batch = Plan::default();
        let mut in_batch = 0i64;
        let mut committed = 0i64;
        let sign = |i: usize| if i < delta.remove.len() { -1 } else { 1 };
        for (i, plan) in plans.into_iter().enumerate() {
            if batch.len() + plan.len() > MAX_TRANSACTION_ACTIONS {
                if let Err(err) = self
                    .run(std::mem::take(&mut batch), StoreError::Raced)
                    .await
                {
                    return EdgeOutcome::failed(committed, err);
                }
                committed += in_batch;
                in_batch = 0;
            }
            batch.append(plan);
            in_batch += sign(i);
        }
        if batch.len() > 0 {
            if let Err(err) = self.run(batch, StoreError::Raced).await {
                return EdgeOutcome::failed(committed, err);
            }
            committed += in_batch;
        }
        EdgeOutcome {
            committed,
            any: true,
            error: None,
        }
    }

    /// Marks a membership change done: counted in `mseq` (if anything was written) and in
    /// `memberCount`, `lastModified` set, `mpending` back down.
    async fn finish_members(
        &self,
        tenant: &TenantId,
        group: &str,
        outcome: EdgeOutcome,
        last_modified: &str,
    ) -> Result<Applied, StoreError> {
        let mut expr = Expr::default();
        let mp = expr.name("#mp", "mpending");
        let minus = expr.value(":minusOne", n(-1));
        let mut update = format!("ADD {mp} {minus}");
        if outcome.any {
            let ms = expr.name("#ms", "mseq");
            let mc = expr.name("#mc", "memberCount");
            let lm = expr.name("#lm", "lastModified");
            let one = expr.value(":one", n(1));
            let d = expr.value(":countChange", n(outcome.committed));
            let at = expr.value(":lm", s(last_modified));
            update = format!("ADD {mp} {minus}, {ms} {one}, {mc} {d} SET {lm} = {at}");
        }
        let key = item::resource_key(tenant, ResourceKind::Group, group);
        let after = match self.update_item(key, &update, None, &expr).await? {
            Conditional::Done(it) => it,
            Conditional::Failed => return Err(StoreError::backend("unconditional update failed")),
        };
        if let Some(err) = outcome.error {
            return Err(err);
        }
        let resource = item::resource_from_item(ResourceKind::Group, &after)?;
        Ok(Applied {
            version: resource.version,
            member_count: resource.member_count,
        })
    }

    /// A membership change that commutes with others (see the module docs).
    async fn change_members(
        &self,
        tenant: &TenantId,
        group: &str,
        delta: &MemberDelta,
        expected: Option<Version>,
        last_modified: &str,
    ) -> Result<Applied, StoreError> {
        let mut expr = Expr::default();
        let mp = expr.name("#mp", "mpending");
        let msa = expr.name("#msa", "mstartedAt");
        let one = expr.value(":one", n(1));
        let now = expr.value(":now", s(crate::clock::now_rfc3339()));
        let condition = match expected {
            Some(v) => version_condition(v, &mut expr),
            None => "attribute_exists(PK) AND attribute_not_exists(deletedAt)".to_owned(),
        };
        let key = item::resource_key(tenant, ResourceKind::Group, group);
        let update = format!("ADD {mp} {one} SET {msa} = {now}");
        if let Conditional::Failed = self
            .update_item(key, &update, Some(&condition), &expr)
            .await?
        {
            return Err(match expected {
                Some(_) => {
                    self.version_failure(tenant, ResourceKind::Group, group)
                        .await?
                }
                None => StoreError::NotFound,
            });
        }
        let outcome = self.write_edges(tenant, group, delta).await;
        self.finish_members(tenant, group, outcome, last_modified)
            .await
    }

    #[allow(clippy::too_many_arguments)] // the parts of a retirement, as the write holds them
    async fn retire(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        expected: Version,
        release: &[UniqueValue],
        lookups: &LookupDelta,
        how: &Retirement,
    ) -> Result<Applied, StoreError> {
        let found = self.edges_of(tenant, kind, id, RETIRE_EDGE_BUDGET).await?;
        let mut expr = Expr::default();
        let condition = version_condition(expected, &mut expr);
        let cond = Cond {
            expr: condition,
            names: expr.names(),
            values: expr.values(),
        };
        let (first, applied) = match how {
            Retirement::Delete => (
                self.delete_action(item::resource_key(tenant, kind, id), cond)?,
                Applied {
                    version: expected,
                    member_count: 0,
                },
            ),
            Retirement::SoftDelete { at, resource } => (
                self.put(item::deleted_resource_item(tenant, resource, at), cond)?,
                Applied {
                    version: resource.version,
                    member_count: 0,
                },
            ),
        };
        let mut plan = Plan::default();
        plan.push(first, Meaning::Resource);
        self.guard_actions(tenant, kind, id, &[], release, &mut plan)?;
        self.lookup_actions(tenant, kind, id, lookups, &mut plan)?;
        plan.push(self.counter_update(tenant, kind, id, -1)?, Meaning::Plain);
        let together = plan.len() + found.len() * 2 <= MAX_TRANSACTION_ACTIONS;
        let now = crate::clock::now_unix();
        if together {
            for edge in &found {
                let under_group = if edge.group == id {
                    self.plain_put(edges::retired_member_item(tenant, edge, now), None)?
                } else {
                    self.delete_edge_action(
                        edges::member_key(tenant, &edge.group, &edge.member),
                        false,
                    )?
                };
                plan.push(under_group, Meaning::Plain);
                plan.push(
                    self.delete_edge_action(
                        edges::membership_key(tenant, &edge.group, &edge.member),
                        false,
                    )?,
                    Meaning::Plain,
                );
            }
        }
        match self.run(plan, StoreError::VersionMismatch).await {
            Err(StoreError::VersionMismatch) => {
                return Err(self.version_failure(tenant, kind, id).await?);
            }
            other => other?,
        }
        if !together {
            let (own, others): (Vec<Edge>, Vec<Edge>) =
                found.into_iter().partition(|edge| edge.group == id);
            self.delete_edges(tenant, &others).await?;
            self.retire_member_edges(tenant, &own, now).await?;
        }
        // Memberships added while this ran left edges under it: remove them too.
        let late = self
            .edges_of_member(tenant, kind, id, RETIRE_EDGE_BUDGET)
            .await?;
        self.delete_edges(tenant, &late).await?;
        Ok(applied)
    }

    async fn restore(
        &self,
        tenant: &TenantId,
        resource: &Resource,
        expected: Version,
        lookups: &LookupDelta,
    ) -> Result<Applied, StoreError> {
        let mut expr = Expr::default();
        let condition = deleted_version_condition(expected, &mut expr);
        let cond = Cond {
            expr: condition,
            names: expr.names(),
            values: expr.values(),
        };
        if resource.kind == ResourceKind::Group {
            self.clear_retired_edges(tenant, &resource.id).await?;
        }
        let mut stored = resource.clone();
        stored.member_count = 0;
        let mut plan = Plan::default();
        plan.push(
            self.put(item::resource_item(tenant, &stored, 0), cond)?,
            Meaning::Resource,
        );
        let guards = resource.guards.clone().unwrap_or_default();
        self.guard_actions(tenant, resource.kind, &resource.id, &guards, &[], &mut plan)?;
        self.lookup_actions(tenant, resource.kind, &resource.id, lookups, &mut plan)?;
        plan.push(
            self.counter_update(tenant, resource.kind, &resource.id, 1)?,
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
            Err(other) => Err(other),
            Ok(()) => Ok(Applied {
                version: stored.version,
                member_count: 0,
            }),
        }
    }

    /// Rewrites the display copy of `member` on the edges of the groups named, each only if
    /// that edge still exists (so a concurrent removal is never undone).
    async fn refresh_display(
        &self,
        tenant: &TenantId,
        member: &MemberRef,
        refresh: &DisplayRefresh,
    ) -> Result<(), StoreError> {
        let display = refresh.display.as_deref();
        for chunk in refresh.groups.chunks(16) {
            let updates = chunk.iter().map(|group| {
                let mut expr = Expr::default();
                let d = expr.name("#d", "display");
                let update = match display {
                    Some(text) => format!("SET {d} = {}", expr.value(":d", s(text))),
                    None => format!("REMOVE {d}"),
                };
                let key = edges::member_key(tenant, group, member);
                async move {
                    self.update_item(key, &update, Some("attribute_exists(PK)"), &expr)
                        .await
                }
            });
            for result in futures_util::future::join_all(updates).await {
                result?;
            }
        }
        Ok(())
    }

    /// Retires the edges of a deleted group's members, in batches: the group-side item is kept
    /// as retired (see [`edges::RETIRED`]), the member-side item deleted.
    async fn retire_member_edges(
        &self,
        tenant: &TenantId,
        found: &[Edge],
        now: i64,
    ) -> Result<(), StoreError> {
        let mut requests = Vec::with_capacity(found.len() * 2);
        for edge in found {
            let put = PutRequest::builder()
                .set_item(Some(edges::retired_member_item(tenant, edge, now)))
                .build()
                .map_err(StoreError::backend)?;
            requests.push(WriteRequest::builder().put_request(put).build());
            let delete = DeleteRequest::builder()
                .set_key(Some(edges::membership_key(
                    tenant,
                    &edge.group,
                    &edge.member,
                )))
                .build()
                .map_err(StoreError::backend)?;
            requests.push(WriteRequest::builder().delete_request(delete).build());
        }
        self.batch_write(requests).await
    }

    /// Deletes the retired member edges a soft-deleted group left under its partition (before
    /// it is restored, so that no reader of a live group meets one).
    async fn clear_retired_edges(&self, tenant: &TenantId, group: &str) -> Result<(), StoreError> {
        let pk = keys::resource_pk(tenant, ResourceKind::Group, group);
        let (items, _) = self
            .query_prefix(&pk, keys::MEMBER_PREFIX, RETIRE_EDGE_BUDGET)
            .await?;
        let retired = items
            .iter()
            .filter(|it| edges::is_retired(it))
            .map(|it| {
                let mut key = Item::new();
                for name in ["PK", "SK"] {
                    if let Some(v) = it.get(name) {
                        key.insert(name.to_owned(), v.clone());
                    }
                }
                key
            })
            .collect();
        self.batch_delete(retired).await
    }

    /// Deletes both items of each edge, in batches.
    async fn delete_edges(&self, tenant: &TenantId, found: &[Edge]) -> Result<(), StoreError> {
        let mut keys = Vec::with_capacity(found.len() * 2);
        for edge in found {
            keys.push(edges::member_key(tenant, &edge.group, &edge.member));
            keys.push(edges::membership_key(tenant, &edge.group, &edge.member));
        }
        self.batch_delete(keys).await
    }

    /// The edges of a resource as a member (its groups), at most `limit`.
    async fn edges_of_member(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        limit: usize,
    ) -> Result<Vec<Edge>, StoreError> {
        let pk = keys::resource_pk(tenant, kind, id);
        let (items, _) = self
            .query_prefix(&pk, keys::GROUP_EDGE_PREFIX, limit)
            .await?;
        items.iter().map(edges::from_item).collect()
    }

    /// Every edge of a resource (as a group: its members; as a member: its groups), at most
    /// `limit` of each.
    async fn edges_of(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        limit: usize,
    ) -> Result<Vec<Edge>, StoreError> {
        let mut found = self.edges_of_member(tenant, kind, id, limit).await?;
        if kind == ResourceKind::Group {
            let pk = keys::resource_pk(tenant, kind, id);
            let (items, _) = self.query_prefix(&pk, keys::MEMBER_PREFIX, limit).await?;
            for it in &items {
                found.push(edges::from_item(it)?);
            }
        }
        Ok(found)
    }

    /// One consistent `Query` of a resource's partition: its item, and its links (a group's
    /// members, a user's groups), at most `limit`; the flag says whether that is all of them.
    async fn read_partition(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        limit: usize,
    ) -> Result<(Option<Item>, Vec<Link>, bool), StoreError> {
        let pk = keys::resource_pk(tenant, kind, id);
        let (prefix, link): (&str, fn(&Edge) -> Link) = match kind {
            ResourceKind::Group => (keys::MEMBER_PREFIX, edges::member_link),
            ResourceKind::User => (keys::GROUP_EDGE_PREFIX, edges::group_link),
        };
        let mut resource = None;
        let mut links = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk")
                .expression_attribute_values(":pk", s(&pk))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(super::sdk_error)?;
            for it in out.items.unwrap_or_default() {
                let sk = item::get_s(&it, "SK")?;
                if sk == keys::resource_sk(kind) {
                    resource = Some(it);
                } else if sk.starts_with(prefix) {
                    if links.len() == limit {
                        return Ok((resource, links, false));
                    }
                    links.push(link(&edges::from_item(&it)?));
                }
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok((resource, links, true)),
            }
        }
    }

    /// Decodes a live resource item, first settling a membership change whose function died.
    async fn live(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        it: Item,
    ) -> Result<Option<Resource>, StoreError> {
        if item::is_deleted(&it) {
            return Ok(None);
        }
        let resource = item::resource_from_item(kind, &it)?;
        if resource.version.settling && self.is_stale(&it) {
            self.settle(tenant, kind, &resource.id, &it).await?;
            return match self
                .get_item(item::resource_key(tenant, kind, &resource.id))
                .await?
            {
                Some(fresh) if !item::is_deleted(&fresh) => {
                    Ok(Some(item::resource_from_item(kind, &fresh)?))
                }
                _ => Ok(None),
            };
        }
        Ok(Some(resource))
    }

    fn is_stale(&self, it: &Item) -> bool {
        let Some(started) = item::members_started_at(it) else {
            return true;
        };
        let Ok(started) =
            time::OffsetDateTime::parse(&started, &time::format_description::well_known::Rfc3339)
        else {
            return true;
        };
        let age = time::OffsetDateTime::now_utc() - started;
        age > time::Duration::try_from(STALE_CHANGE).unwrap_or(time::Duration::MAX)
    }

    /// Declares the in-progress membership changes of an item dead, if nothing changed since
    /// it was read.
    async fn settle(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        seen: &Item,
    ) -> Result<(), StoreError> {
        let mut expr = Expr::default();
        let mp = expr.name("#mp", "mpending");
        let zero = expr.value(":zero", n(0));
        let mut condition = match seen.get("mpending") {
            Some(pending) => format!("{mp} = {}", expr.value(":seenPending", pending.clone())),
            None => return Ok(()),
        };
        let msa = expr.name("#msa", "mstartedAt");
        match seen.get("mstartedAt") {
            Some(at) => condition.push_str(&format!(
                " AND {msa} = {}",
                expr.value(":seenStart", at.clone())
            )),
            None => condition.push_str(&format!(" AND attribute_not_exists({msa})")),
        }
        let update = format!("SET {mp} = {zero}");
        self.update_item(
            item::resource_key(tenant, kind, id),
            &update,
            Some(&condition),
            &expr,
        )
        .await
        .map(|_| ())
    }
}

/// How far the edges of a membership change got.
struct EdgeOutcome {
    /// The member count change of the transactions that committed.
    committed: i64,
    /// Whether any edge transaction may have committed (then the change is counted).
    any: bool,
    /// Why it stopped, if it did.
    error: Option<StoreError>,
}

impl EdgeOutcome {
    fn failed(committed: i64, error: StoreError) -> Self {
        EdgeOutcome {
            committed,
            any: committed != 0,
            error: Some(error),
        }
    }
}

#[async_trait]
impl ResourceStore for DynamoStore {
    async fn get(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
    ) -> Result<Option<Resource>, StoreError> {
        match self.get_item(item::resource_key(tenant, kind, id)).await? {
            Some(it) => self.live(tenant, kind, it).await,
            None => Ok(None),
        }
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
        limit: usize,
    ) -> Result<Option<Linked>, StoreError> {
        let (found, mut links, complete) = self.read_partition(tenant, kind, id, limit).await?;
        // The resource item sorts after a user's edges: a truncated read may not have met it.
        let resource = match found {
            Some(it) => self.live(tenant, kind, it).await?,
            None if !complete => self.get(tenant, kind, id).await?,
            None => None,
        };
        let Some(mut resource) = resource else {
            return Ok(None);
        };
        // Member order (kind, then id), as the memory store keeps them.
        links.sort_by(|a, b| a.target.cmp(&b.target));
        if kind == ResourceKind::Group {
            // The version must be the same, and settled, after the edges were read.
            let Some(after) = self.get(tenant, kind, id).await? else {
                return Ok(None);
            };
            let moved = after.version != resource.version;
            resource = after;
            resource.version.settling |= moved;
        }
        Ok(Some(Linked {
            resource: std::sync::Arc::new(resource),
            links,
            complete,
        }))
    }

    async fn memberships(
        &self,
        tenant: &TenantId,
        group: &str,
        members: &[MemberRef],
    ) -> Result<Vec<Link>, StoreError> {
        if members.is_empty() {
            return Ok(Vec::new());
        }
        let keys = members
            .iter()
            .map(|m| edges::member_key(tenant, group, m))
            .collect();
        let items = self.existing(keys, None).await?;
        items
            .iter()
            .map(|it| edges::from_item(it).map(|e| edges::member_link(&e)))
            .collect()
    }

    async fn groups_of(
        &self,
        tenant: &TenantId,
        member: &MemberRef,
    ) -> Result<Vec<MemberRef>, StoreError> {
        let found = self
            .edges_of_member(tenant, member.kind, &member.id, usize::MAX)
            .await?;
        Ok(found
            .into_iter()
            .map(|e| MemberRef {
                kind: ResourceKind::Group,
                id: e.group,
            })
            .collect())
    }

    async fn apply(&self, tenant: &TenantId, write: &Write) -> Result<Applied, StoreError> {
        match &write.op {
            WriteOp::Create { resource, members } => {
                self.create(tenant, resource, members, &write.lookups).await
            }
            WriteOp::Update {
                refresh_display, ..
            } => {
                let applied = self.update(tenant, write).await?;
                if let Some(refresh) = refresh_display {
                    let me = MemberRef {
                        kind: write.kind,
                        id: write.id.clone(),
                    };
                    self.refresh_display(tenant, &me, refresh).await?;
                }
                Ok(applied)
            }
            WriteOp::Members {
                delta,
                expected,
                last_modified,
            } => {
                self.change_members(tenant, &write.id, delta, *expected, last_modified)
                    .await
            }
            WriteOp::Retire {
                expected,
                release,
                how,
            } => {
                let lookups = &write.lookups;
                self.retire(
                    tenant, write.kind, &write.id, *expected, release, lookups, how,
                )
                .await
            }
            WriteOp::Restore { resource, expected } => {
                self.restore(tenant, resource, *expected, &write.lookups)
                    .await
            }
        }
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

    async fn find_indexed(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        value: &UniqueValue,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let pk = keys::lookup_pk(tenant, kind, value);
        let (items, _) = self.query_prefix(&pk, keys::LOOKUP_PREFIX, limit).await?;
        items
            .iter()
            .map(|it| item::get_s(it, "id").map(str::to_owned))
            .collect()
    }

    async fn index_lookups(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        expected: Version,
        values: &[UniqueValue],
    ) -> Result<(), StoreError> {
        if values.is_empty() {
            return Ok(());
        }
        let mut expr = Expr::default();
        let condition = version_condition(expected, &mut expr);
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(item::resource_key(tenant, kind, id)))
            .condition_expression(condition)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .build()
            .map_err(StoreError::backend)?;
        let mut plan = Plan::default();
        plan.push(
            TransactWriteItem::builder().condition_check(check).build(),
            Meaning::Resource,
        );
        let add = LookupDelta {
            add: values.to_vec(),
            remove: Vec::new(),
        };
        self.lookup_actions(tenant, kind, id, &add, &mut plan)?;
        match self.run(plan, StoreError::VersionMismatch).await {
            Err(StoreError::VersionMismatch) => Err(self.version_failure(tenant, kind, id).await?),
            other => other,
        }
    }

    async fn record_activity(
        &self,
        tenant: &TenantId,
        entry: &ActivityEntry,
    ) -> Result<(), StoreError> {
        let ttl = i64::try_from(crate::store::ACTIVITY_TTL.as_secs()).unwrap_or(i64::MAX);
        let expires = crate::clock::now_unix().saturating_add(ttl);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item::activity_item(tenant, entry, expires)))
            .send()
            .await
            .map(|_| ())
            .map_err(super::sdk_error)
    }

    async fn recent_activity(
        &self,
        tenant: &TenantId,
        limit: usize,
    ) -> Result<Vec<ActivityEntry>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", s(keys::activity_pk(tenant)))
            .scan_index_forward(false)
            .limit(i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000))
            .send()
            .await
            .map_err(super::sdk_error)?;
        out.items
            .unwrap_or_default()
            .iter()
            .map(item::activity_from_item)
            .collect()
    }

    async fn take_request_slot(
        &self,
        tenant: &TenantId,
        window: i64,
        limit: u32,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(keys::rate_pk(tenant)))
            .key("SK", s(window.to_string()))
            .update_expression("ADD #n :one SET expiresAt = if_not_exists(expiresAt, :ttl)")
            .condition_expression("attribute_not_exists(#n) OR #n < :limit")
            .expression_attribute_names("#n", "count")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(limit))
            // Gone (by TTL) well after its window: the window is a second or more, in seconds
            // since the epoch divided by the window length, so an hour of them at most.
            .expression_attribute_values(":ttl", n(crate::clock::now_unix() + 3600))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if err.code() == Some("ConditionalCheckFailedException") => Ok(false),
            Err(err) => Err(super::sdk_error(err)),
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
            .map(|it| item::resource_from_item(kind, it).map(std::sync::Arc::new))
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
        let keys = keys::counter_shard_sks(kind)
            .chain(std::iter::once(keys::counter_sk(kind).to_owned()))
            .map(|sk| super::counter_key(tenant, sk))
            .collect();
        let shards = self.existing(keys, None).await?;
        let mut total: i64 = 0;
        for it in &shards {
            if let Some(aws_sdk_dynamodb::types::AttributeValue::N(v)) = it.get("count") {
                total += v.parse::<i64>().map_err(StoreError::backend)?;
            }
        }
        Ok(u64::try_from(total.max(0)).unwrap_or(0))
    }

    async fn page_anchor(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        listing: &str,
        index: u64,
    ) -> Result<Option<PageAnchor>, StoreError> {
        let pk = keys::anchors_pk(tenant, kind, listing);
        let now = crate::clock::now_unix();
        // The nearest few at or before the position; TTL deletes expired ones only lazily.
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND SK <= :sk")
            .expression_attribute_values(":pk", s(&pk))
            .expression_attribute_values(":sk", s(keys::anchor_sk(index)))
            .scan_index_forward(false)
            .limit(4)
            .consistent_read(true)
            .send()
            .await
            .map_err(super::sdk_error)?;
        for it in out.items.unwrap_or_default() {
            let fresh = match it.get("expiresAt") {
                Some(aws_sdk_dynamodb::types::AttributeValue::N(v)) => {
                    v.parse::<i64>().is_ok_and(|exp| exp > now)
                }
                _ => false,
            };
            if fresh {
                let position = item::get_s(&it, "SK")?
                    .parse::<u64>()
                    .map_err(StoreError::backend)?;
                return Ok(Some(PageAnchor {
                    index: position,
                    after: item::get_s(&it, "after")?.to_owned(),
                }));
            }
        }
        Ok(None)
    }

    async fn put_page_anchor(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        listing: &str,
        anchor: &PageAnchor,
    ) -> Result<(), StoreError> {
        let expires = crate::clock::now_unix()
            + i64::try_from(crate::store::PAGE_ANCHOR_TTL.as_secs()).unwrap_or(3600);
        let it = std::collections::HashMap::from([
            ("PK".to_owned(), s(keys::anchors_pk(tenant, kind, listing))),
            ("SK".to_owned(), s(keys::anchor_sk(anchor.index))),
            ("v".to_owned(), n(keys::FORMAT_VERSION)),
            ("type".to_owned(), s("PageAnchor")),
            ("tenant".to_owned(), s(tenant.as_str())),
            ("after".to_owned(), s(anchor.after.clone())),
            ("expiresAt".to_owned(), n(expires)),
        ]);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(it))
            .send()
            .await
            .map_err(super::sdk_error)?;
        Ok(())
    }

    async fn purge(&self, tenant: &TenantId, budget: usize) -> Result<bool, StoreError> {
        let mut purged = 0usize;
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
                    if purged >= budget {
                        return Ok(false);
                    }
                    // Every item of the resource's partition (itself and its edges), and the
                    // twin of each edge; a very large group's edges over several calls, its
                    // item last.
                    let id = item::get_s(it, "id")?;
                    let found = self.edges_of(tenant, kind, id, PURGE_EDGE_STEP).await?;
                    self.delete_edges(tenant, &found).await?;
                    purged += 1 + found.len() / 100;
                    if found.len() >= PURGE_EDGE_STEP {
                        return Ok(false);
                    }
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
            .flat_map(|k| {
                keys::counter_shard_sks(k).chain(std::iter::once(keys::counter_sk(k).to_owned()))
            })
            .map(|sk| super::counter_key(tenant, sk))
            .collect();
        self.batch_delete(counters).await?;
        Ok(true)
    }
}
