//! `MemoryStore`: the embedded store of `scimlet serve` and the fast test backend.
//!
//! A cheap-to-clone handle over one `std::sync::Mutex`. A std mutex, not a tokio one: no
//! `.await` happens while it is held and every critical section is a few map operations, so
//! each [`Write`] is applied in one lock scope, all its conditions checked before anything
//! changes. A membership change is therefore never seen half-done, and a group's version is
//! never `settling` here.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use async_trait::async_trait;
use tokio::sync::mpsc::UnboundedSender;

use super::change::{Change, ChangeKind, Stored};
use super::{
    Applied, Directory, DisplayRefresh, Linked, MemberDelta, PAGE_ANCHOR_TTL, PageAnchor,
    ResourcePage, ResourceStore, Retirement, StoreError, Write, WriteOp,
};
use crate::domain::{
    ActivityEntry, Link, MemberRef, Resource, ResourceKind, SetupLink, Tenant, TenantId,
    TokenRecord, UniqueValue, Version,
};

/// The in-memory store (both traits).
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    tenants: BTreeMap<TenantId, Tenant>,
    tokens: BTreeMap<String, TokenRecord>,
    setup_links: BTreeMap<String, SetupLink>,
    /// Keyed by (tenant, kind, id): a BTreeMap so listing is in id order.
    resources: BTreeMap<(TenantId, ResourceKind, String), Arc<Resource>>,
    /// Soft-deleted resources, out of every read (restorable).
    deleted: BTreeMap<(TenantId, ResourceKind, String), Resource>,
    /// Keyed by (tenant, kind, attr, normalised value); holds the owner's id.
    guards: HashMap<GuardKey, String>,
    /// The lookup index: (tenant, kind, attr, value) → the ids of the resources it names.
    lookups: HashMap<GuardKey, BTreeSet<String>>,
    /// A group's members: (tenant, group id) → member → the member's display copy.
    members: BTreeMap<(TenantId, String), BTreeMap<MemberRef, Option<String>>>,
    /// A resource's groups: (tenant, member) → group ids.
    memberships: BTreeMap<(TenantId, MemberRef), BTreeSet<String>>,
    /// Page anchors: (tenant, kind, listing) → position → (id it follows, when written).
    anchors: BTreeMap<ResourceKey, Anchors>,
    /// Each tenant's recent activity, oldest first, at most [`MAX_ACTIVITY`] entries.
    activity: HashMap<TenantId, std::collections::VecDeque<ActivityEntry>>,
    /// Requests counted per (tenant, window) for the per-tenant rate limit.
    request_counts: HashMap<(TenantId, i64), u32>,
    /// Live resources per (tenant, kind), kept with every write so counting is O(1).
    counts: HashMap<(TenantId, ResourceKind), u64>,
    /// Where applied writes are reported as [`Change`]s, in the order applied, if anyone
    /// listens ([`MemoryStore::with_changes`]).
    changes: Option<UnboundedSender<Change>>,
}

/// One listing's page anchors: position → (id it follows, when written).
type Anchors = BTreeMap<u64, (String, Instant)>;

/// Activity entries kept per tenant (the oldest go first; the table's TTL plays this part on
/// DynamoDB).
const MAX_ACTIVITY: usize = 1000;

/// Anchors kept per listing (the oldest positions go first).
const MAX_ANCHORS_PER_LISTING: usize = 10_000;

type GuardKey = (TenantId, ResourceKind, &'static str, String);
type ResourceKey = (TenantId, ResourceKind, String);

fn guard_key(tenant: &TenantId, kind: ResourceKind, v: &UniqueValue) -> GuardKey {
    (tenant.clone(), kind, v.attr, v.normalized.clone())
}

fn resource_key(tenant: &TenantId, kind: ResourceKind, id: &str) -> ResourceKey {
    (tenant.clone(), kind, id.to_owned())
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store that reports every write it applies as [`Change`]s on `changes`, in
    /// the order applied (what the DynamoDB store's stream carries, for `scimlet serve
    /// --events`). Sending never blocks a write; a closed channel is ignored.
    pub fn with_changes(changes: UnboundedSender<Change>) -> Self {
        let store = Self::default();
        store.lock().changes = Some(changes);
        store
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied write: every write checks
        // all its conditions before mutating anything. So a poisoned lock is safe to reuse.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl State {
    fn exists(&self, tenant: &TenantId, member: &MemberRef) -> bool {
        self.resources
            .contains_key(&resource_key(tenant, member.kind, &member.id))
    }

    fn is_member(&self, tenant: &TenantId, group: &str, member: &MemberRef) -> bool {
        self.members
            .get(&(tenant.clone(), group.to_owned()))
            .is_some_and(|m| m.contains_key(member))
    }

    fn current(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        expected: Option<Version>,
    ) -> Result<&Resource, StoreError> {
        let current = self
            .resources
            .get(&resource_key(tenant, kind, id))
            .ok_or(StoreError::NotFound)?;
        match expected {
            Some(v) if v != current.version => Err(StoreError::VersionMismatch),
            _ => Ok(current.as_ref()),
        }
    }

    fn check_guards_free<'a>(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        values: impl IntoIterator<Item = &'a UniqueValue>,
        owner: &str,
    ) -> Result<(), StoreError> {
        for v in values {
            if let Some(holder) = self.guards.get(&guard_key(tenant, kind, v))
                && holder != owner
            {
                return Err(StoreError::Conflict { attr: v.attr });
            }
        }
        Ok(())
    }

    /// Checks a membership change against the edges and resources as they are now.
    fn check_delta(
        &self,
        tenant: &TenantId,
        group: &str,
        delta: &MemberDelta,
    ) -> Result<(), StoreError> {
        for link in &delta.add {
            if !self.exists(tenant, &link.target) {
                return Err(StoreError::MissingMember {
                    id: link.target.id.clone(),
                });
            }
            if self.is_member(tenant, group, &link.target) {
                return Err(StoreError::Raced);
            }
        }
        if delta
            .remove
            .iter()
            .any(|m| !self.is_member(tenant, group, m))
        {
            return Err(StoreError::Raced);
        }
        Ok(())
    }

    fn claim(&mut self, tenant: &TenantId, kind: ResourceKind, values: &[UniqueValue], id: &str) {
        for v in values {
            self.guards
                .insert(guard_key(tenant, kind, v), id.to_owned());
        }
    }

    /// Gives up guards, only those `id` holds.
    fn release(&mut self, tenant: &TenantId, kind: ResourceKind, values: &[UniqueValue], id: &str) {
        for v in values {
            let key = guard_key(tenant, kind, v);
            if self.guards.get(&key).is_some_and(|owner| owner == id) {
                self.guards.remove(&key);
            }
        }
    }

    fn link(&mut self, tenant: &TenantId, group: &str, member: &Link) {
        self.members
            .entry((tenant.clone(), group.to_owned()))
            .or_default()
            .insert(member.target.clone(), member.display.clone());
        self.memberships
            .entry((tenant.clone(), member.target.clone()))
            .or_default()
            .insert(group.to_owned());
    }

    fn unlink(&mut self, tenant: &TenantId, group: &str, member: &MemberRef) {
        if let Some(m) = self.members.get_mut(&(tenant.clone(), group.to_owned())) {
            m.remove(member);
        }
        if let Some(g) = self.memberships.get_mut(&(tenant.clone(), member.clone())) {
            g.remove(group);
        }
    }

    fn apply_delta(&mut self, tenant: &TenantId, group: &str, delta: &MemberDelta) {
        for gone in &delta.remove {
            self.unlink(tenant, group, gone);
        }
        for member in &delta.add {
            self.link(tenant, group, member);
        }
    }

    /// Removes every edge of a resource, as a group and as a member.
    fn unlink_all(&mut self, tenant: &TenantId, kind: ResourceKind, id: &str) {
        let me = MemberRef {
            kind,
            id: id.to_owned(),
        };
        if let Some(members) = self.members.remove(&(tenant.clone(), id.to_owned())) {
            for member in members.keys() {
                if let Some(g) = self.memberships.get_mut(&(tenant.clone(), member.clone())) {
                    g.remove(id);
                }
            }
        }
        if let Some(groups) = self.memberships.remove(&(tenant.clone(), me.clone())) {
            for group in groups {
                if let Some(m) = self.members.get_mut(&(tenant.clone(), group)) {
                    m.remove(&me);
                }
            }
        }
    }

    /// Rewrites the display copies of `member` on the edges of the groups named, where the
    /// edge still exists.
    fn refresh_display(&mut self, tenant: &TenantId, member: &MemberRef, refresh: &DisplayRefresh) {
        for group in &refresh.groups {
            if let Some(entry) = self
                .members
                .get_mut(&(tenant.clone(), group.clone()))
                .and_then(|m| m.get_mut(member))
            {
                entry.clone_from(&refresh.display);
            }
        }
    }

    fn apply(&mut self, tenant: &TenantId, write: &Write) -> Result<Applied, StoreError> {
        let before = self.changes.as_ref().map(|_| self.before(tenant, write));
        let applied = self.apply_write(tenant, write)?;
        if let Some(before) = before {
            self.report(tenant, write, before);
        }
        let count = self.counts.entry((tenant.clone(), write.kind)).or_default();
        *count = count.saturating_add_signed(write.count_delta());
        for v in &write.lookups.remove {
            let key = guard_key(tenant, write.kind, v);
            if let Some(ids) = self.lookups.get_mut(&key) {
                ids.remove(&write.id);
                if ids.is_empty() {
                    self.lookups.remove(&key);
                }
            }
        }
        for v in &write.lookups.add {
            self.lookups
                .entry(guard_key(tenant, write.kind, v))
                .or_default()
                .insert(write.id.clone());
        }
        Ok(applied)
    }

    fn apply_write(&mut self, tenant: &TenantId, write: &Write) -> Result<Applied, StoreError> {
        let (kind, id) = (write.kind, write.id.as_str());
        let key = resource_key(tenant, kind, id);
        match &write.op {
            WriteOp::Create { resource, members } => {
                if self.resources.contains_key(&key) {
                    return Err(StoreError::AlreadyExists);
                }
                let guards = resource.guards.clone().unwrap_or_default();
                self.check_guards_free(tenant, kind, &guards, id)?;
                let delta = MemberDelta {
                    add: members.clone(),
                    remove: Vec::new(),
                };
                self.check_delta(tenant, id, &delta)?;
                self.claim(tenant, kind, &guards, id);
                let mut stored = resource.clone();
                stored.member_count = members.len() as u64;
                self.apply_delta(tenant, id, &delta);
                let applied = applied(&stored);
                self.resources.insert(key, Arc::new(stored));
                Ok(applied)
            }
            WriteOp::Update {
                resource,
                expected,
                claim,
                release,
                members,
                refresh_display,
            } => {
                let count = self
                    .current(tenant, kind, id, Some(*expected))?
                    .member_count;
                self.check_guards_free(tenant, kind, claim, id)?;
                self.check_delta(tenant, id, members)?;
                self.release(tenant, kind, release, id);
                self.claim(tenant, kind, claim, id);
                self.apply_delta(tenant, id, members);
                let mut stored = resource.clone();
                stored.member_count = count.saturating_add_signed(members.count_change());
                if let Some(refresh) = refresh_display {
                    let me = MemberRef {
                        kind,
                        id: id.to_owned(),
                    };
                    self.refresh_display(tenant, &me, refresh);
                }
                let applied = applied(&stored);
                self.resources.insert(key, Arc::new(stored));
                Ok(applied)
            }
            WriteOp::Members {
                delta,
                expected,
                last_modified,
            } => {
                self.current(tenant, kind, id, *expected)?;
                self.check_delta(tenant, id, delta)?;
                self.apply_delta(tenant, id, delta);
                let stored = self.resources.get_mut(&key).ok_or(StoreError::NotFound)?;
                let stored = Arc::make_mut(stored);
                stored.version = stored.version.next_members();
                stored.member_count = stored
                    .member_count
                    .saturating_add_signed(delta.count_change());
                stored.last_modified.clone_from(last_modified);
                Ok(applied(stored))
            }
            WriteOp::Retire {
                expected,
                release,
                how,
            } => {
                let current = self.current(tenant, kind, id, Some(*expected))?.clone();
                self.release(tenant, kind, release, id);
                self.unlink_all(tenant, kind, id);
                self.resources.remove(&key);
                match how {
                    Retirement::Delete => Ok(applied(&current)),
                    Retirement::SoftDelete { resource, .. } => {
                        let applied = applied(resource);
                        self.deleted.insert(key, (**resource).clone());
                        Ok(applied)
                    }
                }
            }
            WriteOp::Restore { resource, expected } => {
                match self.deleted.get(&key) {
                    None => return Err(StoreError::NotFound),
                    Some(d) if d.version != *expected => return Err(StoreError::VersionMismatch),
                    Some(_) => {}
                }
                let guards = resource.guards.clone().unwrap_or_default();
                self.check_guards_free(tenant, kind, &guards, id)?;
                self.claim(tenant, kind, &guards, id);
                self.deleted.remove(&key);
                let mut stored = resource.clone();
                stored.member_count = 0;
                let applied = applied(&stored);
                self.resources.insert(key, Arc::new(stored));
                Ok(applied)
            }
        }
    }
}

/// What a write's changes are computed from: the resource before it, and the groups it
/// belonged to (for a retirement).
struct Before {
    resource: Option<Box<Stored>>,
    groups: Vec<String>,
}

impl State {
    fn before(&self, tenant: &TenantId, write: &Write) -> Before {
        let key = resource_key(tenant, write.kind, &write.id);
        let resource = match &write.op {
            WriteOp::Restore { .. } => self.deleted.get(&key).map(|r| {
                Box::new(Stored {
                    resource: r.clone(),
                    deleted_at: Some(r.last_modified.clone()),
                })
            }),
            _ => self
                .resources
                .get(&key)
                .map(|r| Stored::live(r.as_ref().clone())),
        };
        let groups = match &write.op {
            WriteOp::Retire { .. } => {
                let me = MemberRef {
                    kind: write.kind,
                    id: write.id.clone(),
                };
                self.memberships
                    .get(&(tenant.clone(), me))
                    .map(|g| g.iter().cloned().collect())
                    .unwrap_or_default()
            }
            _ => Vec::new(),
        };
        Before { resource, groups }
    }

    /// Reports an applied write as the changes the DynamoDB stream would carry for it.
    fn report(&self, tenant: &TenantId, write: &Write, before: Before) {
        let Some(changes) = &self.changes else {
            return;
        };
        let key = resource_key(tenant, write.kind, &write.id);
        let me = MemberRef {
            kind: write.kind,
            id: write.id.clone(),
        };
        let mut out = Vec::new();
        let resource = |before, after| ChangeKind::Resource { before, after };
        let member = |group: &str, member: &MemberRef, added| ChangeKind::Member {
            group: group.to_owned(),
            member: member.clone(),
            added,
        };
        let delta = |out: &mut Vec<ChangeKind>, delta: &MemberDelta| {
            out.extend(delta.remove.iter().map(|m| member(&write.id, m, false)));
            out.extend(delta.add.iter().map(|l| member(&write.id, &l.target, true)));
        };
        let now = || {
            self.resources
                .get(&key)
                .map(|r| Stored::live(r.as_ref().clone()))
        };
        match &write.op {
            WriteOp::Create { members, .. } => {
                out.push(resource(None, now()));
                out.extend(members.iter().map(|l| member(&write.id, &l.target, true)));
            }
            WriteOp::Update { members, .. } => {
                out.push(resource(before.resource, now()));
                delta(&mut out, members);
            }
            WriteOp::Members { delta: d, .. } => delta(&mut out, d),
            WriteOp::Retire { how, .. } => {
                out.extend(before.groups.iter().map(|g| member(g, &me, false)));
                let after = match how {
                    Retirement::Delete => None,
                    Retirement::SoftDelete { at, resource: r } => Some(Box::new(Stored {
                        resource: (**r).clone(),
                        deleted_at: Some(at.clone()),
                    })),
                };
                out.push(resource(before.resource, after));
            }
            WriteOp::Restore { .. } => out.push(resource(before.resource, now())),
        }
        let at = crate::clock::now_rfc3339();
        for kind in out {
            // A closed channel means nobody listens any more: nothing to report to.
            let _ = changes.send(Change {
                id: uuid::Uuid::new_v4().to_string(),
                tenant: tenant.clone(),
                at: Some(at.clone()),
                kind,
            });
        }
    }
}

fn applied(resource: &Resource) -> Applied {
    Applied {
        version: resource.version,
        member_count: resource.member_count,
    }
}

#[async_trait]
impl ResourceStore for MemoryStore {
    async fn get(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
    ) -> Result<Option<Resource>, StoreError> {
        Ok(self
            .lock()
            .resources
            .get(&resource_key(tenant, kind, id))
            .map(|r| Resource::clone(r)))
    }

    async fn get_many(
        &self,
        tenant: &TenantId,
        refs: &[MemberRef],
    ) -> Result<Vec<Resource>, StoreError> {
        let s = self.lock();
        Ok(refs
            .iter()
            .filter_map(|r| {
                s.resources
                    .get(&resource_key(tenant, r.kind, &r.id))
                    .map(|r| Resource::clone(r))
            })
            .collect())
    }

    async fn get_linked(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        limit: usize,
    ) -> Result<Option<Linked>, StoreError> {
        let s = self.lock();
        let Some(resource) = s.resources.get(&resource_key(tenant, kind, id)) else {
            return Ok(None);
        };
        let all: Vec<Link> = match kind {
            ResourceKind::Group => s
                .members
                .get(&(tenant.clone(), id.to_owned()))
                .map(|m| {
                    // At most one more than the limit: enough to know there are more.
                    m.iter()
                        .take(limit.saturating_add(1))
                        .map(|(target, display)| Link {
                            target: target.clone(),
                            display: display.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            ResourceKind::User => s
                .memberships
                .get(&(
                    tenant.clone(),
                    MemberRef {
                        kind,
                        id: id.to_owned(),
                    },
                ))
                .map(|g| {
                    g.iter()
                        .take(limit.saturating_add(1))
                        .map(|gid| Link {
                            target: MemberRef {
                                kind: ResourceKind::Group,
                                id: gid.clone(),
                            },
                            display: None,
                        })
                        .collect()
                })
                .unwrap_or_default(),
        };
        let complete = all.len() <= limit;
        Ok(Some(Linked {
            resource: Arc::clone(resource),
            links: all.into_iter().take(limit).collect(),
            complete,
        }))
    }

    async fn memberships(
        &self,
        tenant: &TenantId,
        group: &str,
        members: &[MemberRef],
    ) -> Result<Vec<Link>, StoreError> {
        let s = self.lock();
        let Some(all) = s.members.get(&(tenant.clone(), group.to_owned())) else {
            return Ok(Vec::new());
        };
        Ok(members
            .iter()
            .filter_map(|m| {
                all.get(m).map(|display| Link {
                    target: m.clone(),
                    display: display.clone(),
                })
            })
            .collect())
    }

    async fn groups_of(
        &self,
        tenant: &TenantId,
        member: &MemberRef,
    ) -> Result<Vec<MemberRef>, StoreError> {
        Ok(self
            .lock()
            .memberships
            .get(&(tenant.clone(), member.clone()))
            .map(|g| {
                g.iter()
                    .map(|id| MemberRef {
                        kind: ResourceKind::Group,
                        id: id.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn apply(&self, tenant: &TenantId, write: &Write) -> Result<Applied, StoreError> {
        self.lock().apply(tenant, write)
    }

    async fn get_deleted(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
    ) -> Result<Option<Resource>, StoreError> {
        Ok(self
            .lock()
            .deleted
            .get(&resource_key(tenant, kind, id))
            .cloned())
    }

    async fn find_unique(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        value: &UniqueValue,
    ) -> Result<Option<String>, StoreError> {
        Ok(self
            .lock()
            .guards
            .get(&guard_key(tenant, kind, value))
            .cloned())
    }

    async fn find_indexed(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        value: &UniqueValue,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        Ok(self
            .lock()
            .lookups
            .get(&guard_key(tenant, kind, value))
            .map(|ids| ids.iter().take(limit).cloned().collect())
            .unwrap_or_default())
    }

    async fn index_lookups(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        expected: Version,
        values: &[UniqueValue],
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        s.current(tenant, kind, id, Some(expected))?;
        for v in values {
            s.lookups
                .entry(guard_key(tenant, kind, v))
                .or_default()
                .insert(id.to_owned());
        }
        Ok(())
    }

    async fn record_activity(
        &self,
        tenant: &TenantId,
        entry: &ActivityEntry,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        let kept = s.activity.entry(tenant.clone()).or_default();
        if kept.len() >= MAX_ACTIVITY {
            kept.pop_front();
        }
        kept.push_back(entry.clone());
        Ok(())
    }

    async fn recent_activity(
        &self,
        tenant: &TenantId,
        limit: usize,
    ) -> Result<Vec<ActivityEntry>, StoreError> {
        Ok(self
            .lock()
            .activity
            .get(tenant)
            .map(|kept| kept.iter().rev().take(limit).cloned().collect())
            .unwrap_or_default())
    }

    async fn take_request_slot(
        &self,
        tenant: &TenantId,
        window: i64,
        limit: u32,
    ) -> Result<bool, StoreError> {
        let mut s = self.lock();
        // Older windows are done with.
        s.request_counts.retain(|(_, w), _| *w >= window);
        let count = s
            .request_counts
            .entry((tenant.clone(), window))
            .or_default();
        if *count >= limit {
            return Ok(false);
        }
        *count += 1;
        Ok(true)
    }

    async fn list(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ResourcePage, StoreError> {
        use std::ops::Bound;
        let s = self.lock();
        let start = match after {
            Some(id) => Bound::Excluded(resource_key(tenant, kind, id)),
            None => Bound::Included(resource_key(tenant, kind, "")),
        };
        // Shared, not copied: a scan examines many and keeps few.
        let mut items: Vec<Arc<Resource>> = s
            .resources
            .range((start, Bound::Unbounded))
            .take_while(|((t, k, _), _)| t == tenant && *k == kind)
            .take(limit.saturating_add(1))
            .map(|(_, r)| Arc::clone(r))
            .collect();
        let next_after = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|r| r.id.clone())
        } else {
            None
        };
        Ok(ResourcePage { items, next_after })
    }

    async fn count(&self, tenant: &TenantId, kind: ResourceKind) -> Result<u64, StoreError> {
        Ok(self
            .lock()
            .counts
            .get(&(tenant.clone(), kind))
            .copied()
            .unwrap_or(0))
    }

    async fn page_anchor(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        listing: &str,
        index: u64,
    ) -> Result<Option<PageAnchor>, StoreError> {
        let s = self.lock();
        let key = (tenant.clone(), kind, listing.to_owned());
        Ok(s.anchors.get(&key).and_then(|anchors| {
            anchors
                .range(..=index)
                .rev()
                .find(|(_, (_, at))| at.elapsed() < PAGE_ANCHOR_TTL)
                .map(|(index, (after, _))| PageAnchor {
                    index: *index,
                    after: after.clone(),
                })
        }))
    }

    async fn put_page_anchor(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        listing: &str,
        anchor: &PageAnchor,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        let anchors = s
            .anchors
            .entry((tenant.clone(), kind, listing.to_owned()))
            .or_default();
        anchors.insert(anchor.index, (anchor.after.clone(), Instant::now()));
        while anchors.len() > MAX_ANCHORS_PER_LISTING {
            anchors.pop_first();
        }
        Ok(())
    }

    async fn purge(&self, tenant: &TenantId, _budget: usize) -> Result<bool, StoreError> {
        let mut s = self.lock();
        s.anchors.retain(|(t, _, _), _| t != tenant);
        s.counts.retain(|(t, _), _| t != tenant);
        s.resources.retain(|(t, _, _), _| t != tenant);
        s.deleted.retain(|(t, _, _), _| t != tenant);
        s.guards.retain(|(t, _, _, _), _| t != tenant);
        s.lookups.retain(|(t, _, _, _), _| t != tenant);
        s.activity.remove(tenant);
        s.members.retain(|(t, _), _| t != tenant);
        s.memberships.retain(|(t, _), _| t != tenant);
        Ok(true)
    }
}

#[async_trait]
impl Directory for MemoryStore {
    async fn create_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        let mut s = self.lock();
        if s.tenants.contains_key(&tenant.id) {
            return Err(StoreError::AlreadyExists);
        }
        s.tenants.insert(tenant.id.clone(), tenant.clone());
        Ok(())
    }

    async fn get_tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        Ok(self.lock().tenants.get(id).cloned())
    }

    async fn update_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        let mut s = self.lock();
        match s.tenants.get_mut(&tenant.id) {
            Some(existing) => {
                *existing = tenant.clone();
                Ok(())
            }
            None => Err(StoreError::NotFound),
        }
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        Ok(self.lock().tenants.values().cloned().collect())
    }

    async fn delete_tenant(&self, id: &TenantId) -> Result<(), StoreError> {
        let mut s = self.lock();
        if s.tenants.remove(id).is_none() {
            return Err(StoreError::NotFound);
        }
        s.tokens.retain(|_, t| &t.tenant != id);
        s.setup_links.retain(|_, l| &l.tenant != id);
        Ok(())
    }

    async fn begin_tenant_deletion(&self, id: &TenantId) -> Result<(), StoreError> {
        let mut s = self.lock();
        let tenant = s.tenants.get_mut(id).ok_or(StoreError::NotFound)?;
        tenant.deleting = true;
        s.tokens.retain(|_, t| &t.tenant != id);
        s.setup_links.retain(|_, l| &l.tenant != id);
        Ok(())
    }

    async fn put_setup_link(&self, link: &SetupLink) -> Result<(), StoreError> {
        let mut s = self.lock();
        if !s.tenants.contains_key(&link.tenant) {
            return Err(StoreError::NotFound);
        }
        s.setup_links.insert(link.id.clone(), link.clone());
        Ok(())
    }

    async fn get_setup_link(&self, id: &str) -> Result<Option<SetupLink>, StoreError> {
        Ok(self.lock().setup_links.get(id).cloned())
    }

    async fn list_setup_links(&self, tenant: &TenantId) -> Result<Vec<SetupLink>, StoreError> {
        Ok(self
            .lock()
            .setup_links
            .values()
            .filter(|l| &l.tenant == tenant)
            .cloned()
            .collect())
    }

    async fn put_token(&self, token: &TokenRecord) -> Result<(), StoreError> {
        let mut s = self.lock();
        if !s.tenants.contains_key(&token.tenant) {
            return Err(StoreError::NotFound);
        }
        if s.tokens.contains_key(&token.id) {
            return Err(StoreError::AlreadyExists);
        }
        s.tokens.insert(token.id.clone(), token.clone());
        Ok(())
    }

    async fn get_token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        Ok(self.lock().tokens.get(id).cloned())
    }

    async fn list_tokens(&self, tenant: &TenantId) -> Result<Vec<TokenRecord>, StoreError> {
        Ok(self
            .lock()
            .tokens
            .values()
            .filter(|t| &t.tenant == tenant)
            .cloned()
            .collect())
    }

    async fn set_token_expiry(
        &self,
        tenant: &TenantId,
        id: &str,
        expires_at: Option<i64>,
    ) -> Result<(), StoreError> {
        match self.lock().tokens.get_mut(id) {
            Some(t) if &t.tenant == tenant => {
                t.expires_at = expires_at;
                Ok(())
            }
            _ => Err(StoreError::NotFound),
        }
    }

    async fn touch_token(&self, id: &str, now: i64, not_before: i64) -> Result<bool, StoreError> {
        match self.lock().tokens.get_mut(id) {
            Some(t) if t.last_used.is_none_or(|used| used < not_before) => {
                t.last_used = Some(now);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn delete_token(&self, tenant: &TenantId, id: &str) -> Result<(), StoreError> {
        let mut s = self.lock();
        match s.tokens.get(id) {
            Some(t) if &t.tenant == tenant => {
                s.tokens.remove(id);
                Ok(())
            }
            _ => Err(StoreError::NotFound),
        }
    }
}
