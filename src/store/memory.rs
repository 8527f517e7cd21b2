//! `MemoryStore`: the embedded store of `scimlet serve` and the fast test backend.
//!
//! A cheap-to-clone handle over one `std::sync::Mutex`. A std mutex, not a tokio one: no
//! `.await` happens while it is held and every critical section is a few map operations, so
//! each multi-item write (resource + guards + counter) is one lock scope and thus atomic,
//! like the DynamoDB transaction it mirrors.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use super::{
    Directory, GuardChange, Linked, MemberChange, ResourcePage, ResourceStore, StoreError,
};
use crate::domain::{
    Link, MemberRef, Resource, ResourceKind, Tenant, TenantId, TokenRecord, UniqueValue,
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
    /// Keyed by (tenant, kind, id): a BTreeMap so listing is in id order.
    resources: BTreeMap<(TenantId, ResourceKind, String), Resource>,
    /// Soft-deleted resources, out of every read (restorable).
    deleted: BTreeMap<(TenantId, ResourceKind, String), Resource>,
    /// Keyed by (tenant, kind, attr, normalised value); holds the owner's id.
    guards: HashMap<(TenantId, ResourceKind, &'static str, String), String>,
    /// A group's members: (tenant, group id) → member → the member's display copy.
    members: BTreeMap<(TenantId, String), BTreeMap<MemberRef, Option<String>>>,
    /// A resource's groups: (tenant, member) → group id → the group's display copy.
    memberships: BTreeMap<(TenantId, MemberRef), BTreeMap<String, Option<String>>>,
}

type GuardKey = (TenantId, ResourceKind, &'static str, String);

fn guard_key(tenant: &TenantId, kind: ResourceKind, v: &UniqueValue) -> GuardKey {
    (tenant.clone(), kind, v.attr, v.normalized.clone())
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied write: every write checks
        // all its conditions before mutating anything. So a poisoned lock is safe to reuse.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The display name copied onto edges pointing at a group.
fn group_display(group: &Resource) -> Option<String> {
    group
        .attributes
        .get("displayName")
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

impl State {
    fn exists(&self, tenant: &TenantId, member: &MemberRef) -> bool {
        self.resources
            .contains_key(&(tenant.clone(), member.kind, member.id.clone()))
    }

    fn check_members_exist(&self, tenant: &TenantId, add: &[Link]) -> Result<(), StoreError> {
        match add.iter().find(|l| !self.exists(tenant, &l.target)) {
            Some(missing) => Err(StoreError::MissingMember {
                id: missing.target.id.clone(),
            }),
            None => Ok(()),
        }
    }

    fn link(&mut self, tenant: &TenantId, group: &Resource, member: &Link) {
        self.members
            .entry((tenant.clone(), group.id.clone()))
            .or_default()
            .insert(member.target.clone(), member.display.clone());
        self.memberships
            .entry((tenant.clone(), member.target.clone()))
            .or_default()
            .insert(group.id.clone(), group_display(group));
    }

    fn unlink(&mut self, tenant: &TenantId, group_id: &str, member: &MemberRef) {
        if let Some(m) = self.members.get_mut(&(tenant.clone(), group_id.to_owned())) {
            m.remove(member);
        }
        if let Some(g) = self.memberships.get_mut(&(tenant.clone(), member.clone())) {
            g.remove(group_id);
        }
    }

    /// Removes a resource at `expected_version` with its guards and edges (one lock scope).
    fn remove(
        &mut self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        expected_version: u64,
        unique: &[UniqueValue],
    ) -> Result<Resource, StoreError> {
        let key = (tenant.clone(), kind, id.to_owned());
        match self.resources.get(&key) {
            None => return Err(StoreError::NotFound),
            Some(current) if current.version != expected_version => {
                return Err(StoreError::VersionMismatch);
            }
            Some(_) => {}
        }
        for v in unique {
            let gk = guard_key(tenant, kind, v);
            if self.guards.get(&gk).is_some_and(|owner| owner == id) {
                self.guards.remove(&gk);
            }
        }
        let removed = self.resources.remove(&key).ok_or(StoreError::NotFound)?;
        let me = MemberRef {
            kind,
            id: id.to_owned(),
        };
        // As a group: its members lose it. As a member: its groups lose it.
        if let Some(members) = self.members.remove(&(tenant.clone(), id.to_owned())) {
            for member in members.keys() {
                self.unlink(tenant, id, member);
            }
        }
        if let Some(groups) = self.memberships.remove(&(tenant.clone(), me.clone())) {
            for group in groups.keys() {
                if let Some(m) = self.members.get_mut(&(tenant.clone(), group.clone())) {
                    m.remove(&me);
                }
            }
        }
        Ok(removed)
    }

    fn check_guards_free<'a>(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        values: impl Iterator<Item = &'a UniqueValue>,
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
}

#[async_trait]
impl ResourceStore for MemoryStore {
    async fn create(
        &self,
        tenant: &TenantId,
        resource: &Resource,
        unique: &[UniqueValue],
        members: &[Link],
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        let key = (tenant.clone(), resource.kind, resource.id.clone());
        if s.resources.contains_key(&key) {
            return Err(StoreError::AlreadyExists);
        }
        s.check_guards_free(tenant, resource.kind, unique.iter(), &resource.id)?;
        s.check_members_exist(tenant, members)?;
        for v in unique {
            s.guards
                .insert(guard_key(tenant, resource.kind, v), resource.id.clone());
        }
        s.resources.insert(key, resource.clone());
        for member in members {
            s.link(tenant, resource, member);
        }
        Ok(())
    }

    async fn get(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
    ) -> Result<Option<Resource>, StoreError> {
        let s = self.lock();
        Ok(s.resources
            .get(&(tenant.clone(), kind, id.to_owned()))
            .cloned())
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
                    .get(&(tenant.clone(), r.kind, r.id.clone()))
                    .cloned()
            })
            .collect())
    }

    async fn get_linked(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
    ) -> Result<Option<Linked>, StoreError> {
        let s = self.lock();
        let Some(resource) = s.resources.get(&(tenant.clone(), kind, id.to_owned())) else {
            return Ok(None);
        };
        let members = s
            .members
            .get(&(tenant.clone(), id.to_owned()))
            .map(|m| {
                m.iter()
                    .map(|(target, display)| Link {
                        target: target.clone(),
                        display: display.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let me = MemberRef {
            kind,
            id: id.to_owned(),
        };
        let groups = s
            .memberships
            .get(&(tenant.clone(), me))
            .map(|g| {
                g.iter()
                    .map(|(gid, display)| Link {
                        target: MemberRef {
                            kind: ResourceKind::Group,
                            id: gid.clone(),
                        },
                        display: display.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Some(Linked {
            resource: resource.clone(),
            members,
            groups,
        }))
    }

    async fn soft_delete(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        expected_version: u64,
        unique: &[UniqueValue],
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        let mut resource = s.remove(tenant, kind, id, expected_version, unique)?;
        resource.version += 1;
        s.deleted
            .insert((tenant.clone(), kind, id.to_owned()), resource);
        Ok(())
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
            .get(&(tenant.clone(), kind, id.to_owned()))
            .cloned())
    }

    async fn restore(
        &self,
        tenant: &TenantId,
        resource: &Resource,
        expected_version: u64,
        unique: &[UniqueValue],
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        let key = (tenant.clone(), resource.kind, resource.id.clone());
        match s.deleted.get(&key) {
            None => return Err(StoreError::NotFound),
            Some(d) if d.version != expected_version => return Err(StoreError::VersionMismatch),
            Some(_) => {}
        }
        s.check_guards_free(tenant, resource.kind, unique.iter(), &resource.id)?;
        for v in unique {
            s.guards
                .insert(guard_key(tenant, resource.kind, v), resource.id.clone());
        }
        s.deleted.remove(&key);
        s.resources.insert(key, resource.clone());
        Ok(())
    }

    async fn refresh_display(
        &self,
        tenant: &TenantId,
        member: &MemberRef,
        display: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        let parents: Vec<String> = s
            .memberships
            .get(&(tenant.clone(), member.clone()))
            .map(|g| g.keys().cloned().collect())
            .unwrap_or_default();
        for parent in parents {
            if let Some(m) = s.members.get_mut(&(tenant.clone(), parent)) {
                m.insert(member.clone(), display.map(str::to_owned));
            }
        }
        if member.kind == ResourceKind::Group {
            let children: Vec<MemberRef> = s
                .members
                .get(&(tenant.clone(), member.id.clone()))
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            for child in children {
                if let Some(g) = s.memberships.get_mut(&(tenant.clone(), child)) {
                    g.insert(member.id.clone(), display.map(str::to_owned));
                }
            }
        }
        Ok(())
    }

    async fn replace(
        &self,
        tenant: &TenantId,
        resource: &Resource,
        expected_version: u64,
        guards: GuardChange<'_>,
        members: MemberChange<'_>,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        let key = (tenant.clone(), resource.kind, resource.id.clone());
        match s.resources.get(&key) {
            None => return Err(StoreError::NotFound),
            Some(current) if current.version != expected_version => {
                return Err(StoreError::VersionMismatch);
            }
            Some(_) => {}
        }
        s.check_guards_free(tenant, resource.kind, guards.added(), &resource.id)?;
        s.check_members_exist(tenant, members.add)?;
        for v in guards.removed() {
            s.guards.remove(&guard_key(tenant, resource.kind, v));
        }
        for v in guards.added() {
            s.guards
                .insert(guard_key(tenant, resource.kind, v), resource.id.clone());
        }
        for gone in members.remove {
            s.unlink(tenant, &resource.id, gone);
        }
        for member in members.add {
            s.link(tenant, resource, member);
        }
        s.resources.insert(key, resource.clone());
        Ok(())
    }

    async fn delete(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        expected_version: u64,
        unique: &[UniqueValue],
    ) -> Result<(), StoreError> {
        self.lock()
            .remove(tenant, kind, id, expected_version, unique)
            .map(|_| ())
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
            Some(id) => Bound::Excluded((tenant.clone(), kind, id.to_owned())),
            None => Bound::Included((tenant.clone(), kind, String::new())),
        };
        let mut items: Vec<Resource> = s
            .resources
            .range((start, Bound::Unbounded))
            .take_while(|((t, k, _), _)| t == tenant && *k == kind)
            .take(limit.saturating_add(1))
            .map(|(_, r)| r.clone())
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
        let s = self.lock();
        let n = s
            .resources
            .keys()
            .filter(|(t, k, _)| t == tenant && *k == kind)
            .count();
        Ok(n as u64)
    }

    async fn purge(&self, tenant: &TenantId) -> Result<(), StoreError> {
        let mut s = self.lock();
        s.resources.retain(|(t, _, _), _| t != tenant);
        s.deleted.retain(|(t, _, _), _| t != tenant);
        s.guards.retain(|(t, _, _, _), _| t != tenant);
        s.members.retain(|(t, _), _| t != tenant);
        s.memberships.retain(|(t, _), _| t != tenant);
        Ok(())
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
        Ok(())
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
