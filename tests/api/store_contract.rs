//! The store contract: both `ResourceStore`/`Directory` implementations behave the same. The
//! writes are built with `ops::write`, as the server builds them.

use scimlet::domain::{
    Link, MemberRef, Resource, ResourceKind, Tenant, TenantId, TenantSettings, TokenRecord,
    UniqueValue, Version,
};
use scimlet::ops::write::{self, Change};
use scimlet::store::{MemberDelta, ResourceStore, StoreError, Write, WriteOp};
use serde_json::{Map, Value, json};

use crate::both_stores;
use crate::helpers::{Backend, fresh_tenant_id, stores};

both_stores!(
    resources_round_trip_with_guards_and_versions,
    listing_is_in_id_order_and_pages_after_an_id,
    purge_removes_every_item_of_a_tenant,
    directory_keeps_tenants_and_tokens,
    membership_edges_go_both_ways_and_follow_deletes,
    membership_changes_move_the_version_and_detect_races,
    concurrent_membership_changes_of_one_group_all_land,
    large_membership_changes_apply_whole,
    writes_release_only_the_guards_a_resource_holds,
    soft_deleted_resources_vanish_and_come_back,
    the_lookup_index_follows_every_write,
);

const NOW: &str = "2026-01-01T00:00:00.000Z";

fn name_guard(attr: &'static str, value: &str) -> UniqueValue {
    UniqueValue {
        attr,
        normalized: value.to_lowercase(),
    }
}

fn attrs(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

fn create_user(id: &str, name: &str) -> Write {
    write::create(
        ResourceKind::User,
        write::NewResource {
            id: id.into(),
            attributes: attrs(json!({"userName": name})),
            password_hash: None,
            guards: vec![name_guard("userName", name)],
            lookups: Vec::new(),
        },
        Vec::new(),
        NOW,
    )
}

fn create_group(id: &str, name: &str, members: Vec<Link>) -> Write {
    write::create(
        ResourceKind::Group,
        write::NewResource {
            id: id.into(),
            attributes: attrs(json!({"displayName": name})),
            password_hash: None,
            guards: vec![name_guard("displayName", name)],
            lookups: Vec::new(),
        },
        members,
        NOW,
    )
}

fn member(kind: ResourceKind, id: &str) -> MemberRef {
    MemberRef {
        kind,
        id: id.into(),
    }
}

fn user_link(id: &str, display: &str) -> Link {
    Link {
        target: member(ResourceKind::User, id),
        display: Some(display.into()),
    }
}

fn members_write(group: &str, delta: MemberDelta, expected: Option<Version>) -> Write {
    Write {
        kind: ResourceKind::Group,
        id: group.into(),
        op: WriteOp::Members {
            delta,
            expected,
            last_modified: "2026-01-02T00:00:00.000Z".into(),
        },
        lookups: Default::default(),
    }
}

fn add(links: Vec<Link>) -> MemberDelta {
    MemberDelta {
        add: links,
        remove: Vec::new(),
    }
}

fn remove(refs: Vec<MemberRef>) -> MemberDelta {
    MemberDelta {
        add: Vec::new(),
        remove: refs,
    }
}

async fn get(store: &dyn ResourceStore, t: &TenantId, kind: ResourceKind, id: &str) -> Resource {
    store.get(t, kind, id).await.unwrap().expect("exists")
}

async fn rename_user(
    store: &dyn ResourceStore,
    t: &TenantId,
    id: &str,
    to: &str,
) -> Result<(), StoreError> {
    let current = get(store, t, ResourceKind::User, id).await;
    store
        .apply(t, &rename_write(&current, to, &[]))
        .await
        .map(|_| ())
}

/// The write renaming user `current` to `to`, which belongs to the groups `memberships`.
fn rename_write(current: &Resource, to: &str, memberships: &[String]) -> Write {
    let change = Change {
        attributes: attrs(json!({"userName": to})),
        guards: vec![name_guard("userName", to)],
        ..Change::default()
    };
    let held = current.guards.clone().unwrap();
    write::update(current, &held, memberships, change, false, NOW).unwrap()
}

async fn resources_round_trip_with_guards_and_versions(backend: Backend) {
    let s = stores(backend).await;
    let store = s.resources.as_ref();
    let t = fresh_tenant_id();
    let applied = store.apply(&t, &create_user("a1", "Ann")).await.unwrap();
    assert_eq!(applied.version, Version::first());
    let a = get(store, &t, ResourceKind::User, "a1").await;
    assert_eq!(a.attributes, attrs(json!({"userName": "Ann"})));
    assert_eq!(a.guards, Some(vec![name_guard("userName", "ann")]));
    assert_eq!(
        store.get(&t, ResourceKind::Group, "a1").await.unwrap(),
        None
    );
    assert!(matches!(
        store.apply(&t, &create_user("a2", "ANN")).await,
        Err(StoreError::Conflict { attr: "userName" })
    ));
    assert!(matches!(
        store.apply(&t, &create_user("a1", "Other")).await,
        Err(StoreError::AlreadyExists)
    ));
    rename_user(store, &t, "a1", "Bob").await.unwrap();
    let renamed = get(store, &t, ResourceKind::User, "a1").await;
    assert_eq!(renamed.version.number(), 2);
    let (ann, bob) = (name_guard("userName", "ann"), name_guard("userName", "bob"));
    assert_eq!(
        store
            .find_unique(&t, ResourceKind::User, &ann)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .find_unique(&t, ResourceKind::User, &bob)
            .await
            .unwrap()
            .as_deref(),
        Some("a1")
    );
    // A write computed from a version that is gone loses.
    let held = a.guards.clone().unwrap();
    let stale = write::update(
        &a,
        &held,
        &[],
        Change {
            attributes: attrs(json!({"userName": "Carl"})),
            guards: vec![name_guard("userName", "carl")],
            ..Change::default()
        },
        false,
        NOW,
    )
    .unwrap();
    assert!(matches!(
        store.apply(&t, &stale).await,
        Err(StoreError::VersionMismatch)
    ));
    let mut ghost = a.clone();
    ghost.id = "nobody".into();
    let missing = write::retire(&ghost, Vec::new(), Vec::new(), false, NOW);
    assert!(matches!(
        store.apply(&t, &missing).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .apply(&t, &write::retire(&a, held, Vec::new(), false, NOW))
            .await,
        Err(StoreError::VersionMismatch)
    ));
    assert_eq!(store.count(&t, ResourceKind::User).await.unwrap(), 1);
    let gone = write::retire(
        &renamed,
        renamed.guards.clone().unwrap(),
        Vec::new(),
        false,
        NOW,
    );
    store.apply(&t, &gone).await.unwrap();
    assert_eq!(store.get(&t, ResourceKind::User, "a1").await.unwrap(), None);
    assert_eq!(
        store
            .find_unique(&t, ResourceKind::User, &bob)
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.count(&t, ResourceKind::User).await.unwrap(), 0);
    assert!(matches!(
        store.apply(&t, &gone).await,
        Err(StoreError::NotFound)
    ));
}

async fn listing_is_in_id_order_and_pages_after_an_id(backend: Backend) {
    let s = stores(backend).await;
    let store = s.resources.as_ref();
    let t = fresh_tenant_id();
    for id in ["u3", "u1", "u5", "u2", "u4"] {
        store.apply(&t, &create_user(id, id)).await.unwrap();
    }
    let first = store.list(&t, ResourceKind::User, None, 2).await.unwrap();
    let ids: Vec<&str> = first.items.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["u1", "u2"]);
    assert_eq!(first.next_after.as_deref(), Some("u2"));
    let rest = store
        .list(&t, ResourceKind::User, Some("u2"), 10)
        .await
        .unwrap();
    let ids: Vec<&str> = rest.items.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["u3", "u4", "u5"]);
    assert_eq!(rest.next_after, None);
    assert_eq!(store.count(&t, ResourceKind::User).await.unwrap(), 5);
    assert_eq!(store.count(&t, ResourceKind::Group).await.unwrap(), 0);
}

async fn purge_removes_every_item_of_a_tenant(backend: Backend) {
    let s = stores(backend).await;
    let store = s.resources.as_ref();
    let t = fresh_tenant_id();
    let other = fresh_tenant_id();
    store.apply(&t, &create_user("u1", "one")).await.unwrap();
    store
        .apply(
            &t,
            &create_group("g1", "team", vec![user_link("u1", "one")]),
        )
        .await
        .unwrap();
    store
        .apply(&other, &create_user("u1", "one"))
        .await
        .unwrap();
    while !store.purge(&t, 1).await.unwrap() {}
    assert_eq!(store.get(&t, ResourceKind::User, "u1").await.unwrap(), None);
    assert_eq!(
        store.get(&t, ResourceKind::Group, "g1").await.unwrap(),
        None
    );
    assert_eq!(store.count(&t, ResourceKind::User).await.unwrap(), 0);
    assert!(
        store
            .groups_of(&t, &member(ResourceKind::User, "u1"))
            .await
            .unwrap()
            .is_empty()
    );
    // The name is free again, and the other tenant is untouched.
    store.apply(&t, &create_user("u2", "one")).await.unwrap();
    assert!(
        store
            .get(&other, ResourceKind::User, "u1")
            .await
            .unwrap()
            .is_some()
    );
}

async fn directory_keeps_tenants_and_tokens(backend: Backend) {
    let s = stores(backend).await;
    let dir = s.directory.as_ref();
    let t = fresh_tenant_id();
    let tenant = Tenant {
        id: t.clone(),
        created: "2026-01-01T00:00:00.000Z".into(),
        settings: TenantSettings::default(),
        deleting: false,
    };
    dir.create_tenant(&tenant).await.unwrap();
    assert!(matches!(
        dir.create_tenant(&tenant).await,
        Err(StoreError::AlreadyExists)
    ));
    assert_eq!(dir.get_tenant(&t).await.unwrap(), Some(tenant.clone()));
    assert!(dir.list_tenants().await.unwrap().contains(&tenant));
    let changed = Tenant {
        settings: TenantSettings {
            strict_attributes: true,
            unique_group_names: false,
            soft_delete: true,
            group_patch_no_content: true,
            ignore_passwords: true,
            unique_external_ids: true,
            external_id_index: false,
        },
        ..tenant.clone()
    };
    dir.update_tenant(&changed).await.unwrap();
    assert_eq!(dir.get_tenant(&t).await.unwrap(), Some(changed));
    let ghost = Tenant {
        id: fresh_tenant_id(),
        ..tenant.clone()
    };
    assert!(matches!(
        dir.update_tenant(&ghost).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(dir.get_tenant(&ghost.id).await.unwrap(), None);
    let token = |id: &str, owner: &scimlet::domain::TenantId| TokenRecord {
        last_used: None,
        id: id.into(),
        tenant: owner.clone(),
        hash: "$argon2id$stub".into(),
        check: Some("00".repeat(32)),
        created: "2026-01-01T00:00:00.000Z".into(),
        expires_at: Some(1_900_000_000),
        label: Some("okta".into()),
    };
    let id1 = &uuid::Uuid::new_v4().simple().to_string()[..16];
    let id2 = &uuid::Uuid::new_v4().simple().to_string()[..16];
    dir.put_token(&token(id1, &t)).await.unwrap();
    dir.put_token(&token(id2, &t)).await.unwrap();
    assert!(matches!(
        dir.put_token(&token(id1, &t)).await,
        Err(StoreError::AlreadyExists)
    ));
    let orphan_tenant = fresh_tenant_id();
    let orphan_id = &uuid::Uuid::new_v4().simple().to_string()[..16];
    assert!(matches!(
        dir.put_token(&token(orphan_id, &orphan_tenant)).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(dir.get_token(id1).await.unwrap(), Some(token(id1, &t)));
    assert_eq!(dir.list_tokens(&t).await.unwrap().len(), 2);
    // Revocation is scoped to the owning tenant.
    assert!(matches!(
        dir.delete_token(&orphan_tenant, id1).await,
        Err(StoreError::NotFound)
    ));
    dir.delete_token(&t, id1).await.unwrap();
    assert_eq!(dir.get_token(id1).await.unwrap(), None);
    // Expiry changes are scoped to the owning tenant; an expired token is still read back.
    assert!(matches!(
        dir.set_token_expiry(&orphan_tenant, id2, Some(1)).await,
        Err(StoreError::NotFound)
    ));
    dir.set_token_expiry(&t, id2, Some(1_000)).await.unwrap();
    assert_eq!(
        dir.get_token(id2).await.unwrap().unwrap().expires_at,
        Some(1_000)
    );
    // Uses are recorded at most once per interval; an unknown token records nothing.
    assert!(dir.touch_token(id2, 5_000, 1_400).await.unwrap());
    assert!(!dir.touch_token(id2, 5_100, 1_500).await.unwrap());
    assert_eq!(
        dir.get_token(id2).await.unwrap().unwrap().last_used,
        Some(5_000)
    );
    assert!(dir.touch_token(id2, 9_000, 5_001).await.unwrap());
    assert_eq!(
        dir.get_token(id2).await.unwrap().unwrap().last_used,
        Some(9_000)
    );
    assert!(!dir.touch_token(id1, 9_000, 0).await.unwrap());
    assert_eq!(dir.get_token(id1).await.unwrap(), None);
    // Deleting the tenant deletes its tokens.
    dir.delete_tenant(&t).await.unwrap();
    assert_eq!(dir.get_token(id2).await.unwrap(), None);
    assert_eq!(dir.get_tenant(&t).await.unwrap(), None);
    assert!(matches!(
        dir.delete_tenant(&t).await,
        Err(StoreError::NotFound)
    ));
}

async fn membership_edges_go_both_ways_and_follow_deletes(backend: Backend) {
    let s = stores(backend).await;
    let store = s.resources.as_ref();
    let t = fresh_tenant_id();
    for (id, name) in [("u1", "one"), ("u2", "two")] {
        store.apply(&t, &create_user(id, name)).await.unwrap();
    }
    let created = store
        .apply(
            &t,
            &create_group("g1", "team", vec![user_link("u1", "one")]),
        )
        .await
        .unwrap();
    assert_eq!(created.member_count, 1);
    store
        .apply(&t, &create_group("g2", "outer", Vec::new()))
        .await
        .unwrap();
    let nested = Link {
        target: member(ResourceKind::Group, "g1"),
        display: Some("team".into()),
    };
    store
        .apply(&t, &members_write("g2", add(vec![nested.clone()]), None))
        .await
        .unwrap();
    let g1 = store
        .get_linked(&t, ResourceKind::Group, "g1", 100)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(g1.links, vec![user_link("u1", "one")]);
    assert!(g1.complete);
    let u1 = store
        .get_linked(&t, ResourceKind::User, "u1", 100)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        u1.links
            .iter()
            .map(|l| l.target.clone())
            .collect::<Vec<_>>(),
        vec![member(ResourceKind::Group, "g1")]
    );
    assert_eq!(
        store
            .memberships(
                &t,
                "g1",
                &[
                    member(ResourceKind::User, "u1"),
                    member(ResourceKind::User, "u2")
                ]
            )
            .await
            .unwrap(),
        vec![user_link("u1", "one")]
    );
    assert_eq!(
        store
            .groups_of(&t, &member(ResourceKind::Group, "g1"))
            .await
            .unwrap(),
        vec![member(ResourceKind::Group, "g2")]
    );
    // A rename rewrites the display copy on the group's edge.
    let current = get(store, &t, ResourceKind::User, "u1").await;
    let rename = rename_write(&current, "uno", &["g1".to_owned()]);
    store.apply(&t, &rename).await.unwrap();
    let g1 = store
        .get_linked(&t, ResourceKind::Group, "g1", 100)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(g1.links, vec![user_link("u1", "uno")]);
    // A rename computed while u2 was in g1, applied after a concurrent removal took u2 out,
    // refreshes nothing: the removed edge does not come back.
    let u2 = get(store, &t, ResourceKind::User, "u2").await;
    let stale_rename = rename_write(&u2, "dos", &["g1".to_owned()]);
    store.apply(&t, &stale_rename).await.unwrap();
    let g1 = store
        .get_linked(&t, ResourceKind::Group, "g1", 100)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(g1.links, vec![user_link("u1", "uno")]);
    assert!(
        store
            .memberships(&t, "g1", &[member(ResourceKind::User, "u2")])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .groups_of(&t, &member(ResourceKind::User, "u2"))
            .await
            .unwrap()
            .is_empty()
    );
    // Deleting a member removes it from its groups; deleting a group, its memberships.
    let u1 = get(store, &t, ResourceKind::User, "u1").await;
    store
        .apply(
            &t,
            &write::retire(&u1, u1.guards.clone().unwrap(), Vec::new(), false, NOW),
        )
        .await
        .unwrap();
    let g1 = store
        .get_linked(&t, ResourceKind::Group, "g1", 100)
        .await
        .unwrap()
        .unwrap();
    assert!(g1.links.is_empty());
    let g1 = get(store, &t, ResourceKind::Group, "g1").await;
    store
        .apply(
            &t,
            &write::retire(&g1, g1.guards.clone().unwrap(), Vec::new(), false, NOW),
        )
        .await
        .unwrap();
    let g2 = store
        .get_linked(&t, ResourceKind::Group, "g2", 100)
        .await
        .unwrap()
        .unwrap();
    assert!(g2.links.is_empty());
    // A missing member is refused, naming it.
    assert!(matches!(
        store.apply(&t, &members_write("g2", add(vec![user_link("nobody", "x")]), None)).await,
        Err(StoreError::MissingMember { id }) if id == "nobody"
    ));
}

async fn membership_changes_move_the_version_and_detect_races(backend: Backend) {
    let s = stores(backend).await;
    let store = s.resources.as_ref();
    let t = fresh_tenant_id();
    for id in ["u1", "u2", "u3"] {
        store.apply(&t, &create_user(id, id)).await.unwrap();
    }
    store
        .apply(&t, &create_group("g1", "team", vec![user_link("u1", "u1")]))
        .await
        .unwrap();
    let before = get(store, &t, ResourceKind::Group, "g1").await;
    let applied = store
        .apply(
            &t,
            &members_write("g1", add(vec![user_link("u2", "u2")]), None),
        )
        .await
        .unwrap();
    assert_eq!(applied.version.number(), before.version.number() + 1);
    assert!(!applied.version.settling);
    assert_eq!(applied.member_count, 2);
    let after = get(store, &t, ResourceKind::Group, "g1").await;
    assert_eq!(after.version, applied.version);
    assert_eq!(after.member_count, 2);
    assert_eq!(after.last_modified, "2026-01-02T00:00:00.000Z");
    // Computed from edges that changed since: adding a member twice, removing a non-member.
    assert!(matches!(
        store
            .apply(
                &t,
                &members_write("g1", add(vec![user_link("u2", "u2")]), None)
            )
            .await,
        Err(StoreError::Raced)
    ));
    assert!(matches!(
        store
            .apply(
                &t,
                &members_write("g1", remove(vec![member(ResourceKind::User, "u3")]), None)
            )
            .await,
        Err(StoreError::Raced)
    ));
    // Under If-Match, only the version it names.
    assert!(matches!(
        store
            .apply(
                &t,
                &members_write("g1", add(vec![user_link("u3", "u3")]), Some(before.version))
            )
            .await,
        Err(StoreError::VersionMismatch)
    ));
    store
        .apply(
            &t,
            &members_write(
                "g1",
                remove(vec![member(ResourceKind::User, "u1")]),
                Some(after.version),
            ),
        )
        .await
        .unwrap();
    let last = get(store, &t, ResourceKind::Group, "g1").await;
    assert_eq!(last.member_count, 1);
    assert!(matches!(
        store
            .apply(
                &t,
                &members_write("nogroup", add(vec![user_link("u3", "u3")]), None)
            )
            .await,
        Err(StoreError::NotFound)
    ));
}

async fn concurrent_membership_changes_of_one_group_all_land(backend: Backend) {
    let s = stores(backend).await;
    let store = s.resources.clone();
    let t = fresh_tenant_id();
    let ids: Vec<String> = (0..20).map(|i| format!("u{i:02}")).collect();
    for id in &ids {
        store.apply(&t, &create_user(id, id)).await.unwrap();
    }
    store
        .apply(&t, &create_group("g1", "team", Vec::new()))
        .await
        .unwrap();
    let before = get(store.as_ref(), &t, ResourceKind::Group, "g1").await;
    let adds = ids.iter().map(|id| {
        let store = store.clone();
        let t = t.clone();
        let w = members_write("g1", add(vec![user_link(id, id)]), None);
        tokio::spawn(async move { store.apply(&t, &w).await })
    });
    for done in futures_util::future::join_all(adds).await {
        done.unwrap()
            .expect("a membership change that commutes never loses a race");
    }
    let group = store
        .get_linked(&t, ResourceKind::Group, "g1", 100)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(group.links.len(), 20);
    assert_eq!(group.resource.member_count, 20);
    assert_eq!(
        group.resource.version.number(),
        before.version.number() + 20
    );
    assert!(!group.resource.version.settling);
}

async fn large_membership_changes_apply_whole(backend: Backend) {
    let s = stores(backend).await;
    let store = s.resources.as_ref();
    let t = fresh_tenant_id();
    let ids: Vec<String> = (0..70).map(|i| format!("u{i:03}")).collect();
    for id in &ids {
        store.apply(&t, &create_user(id, id)).await.unwrap();
    }
    // Created with 60 members: more than one transaction holds.
    let first: Vec<Link> = ids[..60].iter().map(|id| user_link(id, id)).collect();
    let created = store
        .apply(&t, &create_group("g1", "big", first))
        .await
        .unwrap();
    assert_eq!(created.member_count, 60);
    let change = MemberDelta {
        add: ids[60..].iter().map(|id| user_link(id, id)).collect(),
        remove: ids[..40]
            .iter()
            .map(|id| member(ResourceKind::User, id))
            .collect(),
    };
    let applied = store
        .apply(&t, &members_write("g1", change, None))
        .await
        .unwrap();
    assert_eq!(applied.member_count, 30);
    let group = store
        .get_linked(&t, ResourceKind::Group, "g1", 1000)
        .await
        .unwrap()
        .unwrap();
    let mut shown: Vec<String> = group.links.iter().map(|l| l.target.id.clone()).collect();
    shown.sort();
    assert_eq!(shown, ids[40..].to_vec());
    let limited = store
        .get_linked(&t, ResourceKind::Group, "g1", 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((limited.links.len(), limited.complete), (10, false));
}

async fn writes_release_only_the_guards_a_resource_holds(backend: Backend) {
    let s = stores(backend).await;
    let store = s.resources.as_ref();
    let t = fresh_tenant_id();
    store
        .apply(&t, &create_group("g1", "Admins", Vec::new()))
        .await
        .unwrap();
    // A second group of the same name, written while names were not unique: no guard.
    let twin = write::create(
        ResourceKind::Group,
        write::NewResource {
            id: "g2".into(),
            attributes: attrs(json!({"displayName": "admins"})),
            password_hash: None,
            guards: Vec::new(),
            lookups: Vec::new(),
        },
        Vec::new(),
        NOW,
    );
    store.apply(&t, &twin).await.unwrap();
    let g2 = get(store, &t, ResourceKind::Group, "g2").await;
    assert_eq!(g2.guards, Some(Vec::new()));
    store
        .apply(&t, &write::retire(&g2, Vec::new(), Vec::new(), false, NOW))
        .await
        .unwrap();
    let guard = name_guard("displayName", "admins");
    assert_eq!(
        store
            .find_unique(&t, ResourceKind::Group, &guard)
            .await
            .unwrap()
            .as_deref(),
        Some("g1")
    );
}

async fn soft_deleted_resources_vanish_and_come_back(backend: Backend) {
    let s = stores(backend).await;
    let store = s.resources.as_ref();
    let t = fresh_tenant_id();
    store.apply(&t, &create_user("u1", "ann")).await.unwrap();
    store
        .apply(
            &t,
            &create_group("g1", "team", vec![user_link("u1", "ann")]),
        )
        .await
        .unwrap();
    let u1 = get(store, &t, ResourceKind::User, "u1").await;
    store
        .apply(
            &t,
            &write::retire(&u1, u1.guards.clone().unwrap(), Vec::new(), true, NOW),
        )
        .await
        .unwrap();
    assert_eq!(store.get(&t, ResourceKind::User, "u1").await.unwrap(), None);
    assert_eq!(store.count(&t, ResourceKind::User).await.unwrap(), 0);
    let deleted = store
        .get_deleted(&t, ResourceKind::User, "u1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(deleted.version.number(), u1.version.number() + 1);
    let g1 = store
        .get_linked(&t, ResourceKind::Group, "g1", 10)
        .await
        .unwrap()
        .unwrap();
    assert!(g1.links.is_empty(), "memberships go with the delete");
    // Its name is free; restoring while another holds it fails, naming the attribute.
    store.apply(&t, &create_user("u2", "ann")).await.unwrap();
    let back = write::restore(
        &deleted,
        vec![name_guard("userName", "ann")],
        Vec::new(),
        NOW,
    );
    assert!(matches!(
        store.apply(&t, &back).await,
        Err(StoreError::Conflict { attr: "userName" })
    ));
    let u2 = get(store, &t, ResourceKind::User, "u2").await;
    store
        .apply(
            &t,
            &write::retire(&u2, u2.guards.clone().unwrap(), Vec::new(), false, NOW),
        )
        .await
        .unwrap();
    let applied = store.apply(&t, &back).await.unwrap();
    assert_eq!(applied.version.number(), deleted.version.number() + 1);
    assert!(
        store
            .get(&t, ResourceKind::User, "u1")
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store
            .get_deleted(&t, ResourceKind::User, "u1")
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.count(&t, ResourceKind::User).await.unwrap(), 1);
    assert!(matches!(
        store.apply(&t, &back).await,
        Err(StoreError::NotFound)
    ));
}

/// A user created with an `externalId` in the lookup index.
fn create_indexed(id: &str, name: &str, external: &str) -> Write {
    write::create(
        ResourceKind::User,
        write::NewResource {
            id: id.into(),
            attributes: attrs(json!({"userName": name, "externalId": external})),
            password_hash: None,
            guards: vec![name_guard("userName", name)],
            lookups: vec![external_id(external)],
        },
        Vec::new(),
        NOW,
    )
}

fn external_id(value: &str) -> UniqueValue {
    UniqueValue {
        attr: "externalId",
        normalized: value.into(),
    }
}

async fn the_lookup_index_follows_every_write(backend: Backend) {
    let s = stores(backend).await;
    let store = s.resources.as_ref();
    let t = fresh_tenant_id();
    let other = fresh_tenant_id();
    let shared = external_id("ext");
    // Two resources may share a value; written concurrently, neither conflicts.
    let (w1, w2) = (
        create_indexed("u1", "one", "ext"),
        create_indexed("u2", "two", "ext"),
    );
    let (a, b) = tokio::join!(store.apply(&t, &w1), store.apply(&t, &w2));
    a.unwrap();
    b.unwrap();
    store
        .apply(&other, &create_indexed("u9", "nine", "ext"))
        .await
        .unwrap();
    let found = |limit: usize| store.find_indexed(&t, ResourceKind::User, &shared, limit);
    assert_eq!(found(10).await.unwrap(), vec!["u1", "u2"]);
    assert_eq!(found(1).await.unwrap(), vec!["u1"]);
    assert!(
        store
            .find_indexed(&t, ResourceKind::Group, &shared, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // An update moves the entry; a delete removes it.
    let u1 = get(store, &t, ResourceKind::User, "u1").await;
    let change = Change {
        attributes: attrs(json!({"userName": "one", "externalId": "moved"})),
        guards: vec![name_guard("userName", "one")],
        lookups: scimlet::store::LookupDelta::between(
            std::slice::from_ref(&shared),
            &[external_id("moved")],
        ),
        ..Change::default()
    };
    let w = write::update(&u1, u1.guards.as_deref().unwrap(), &[], change, false, NOW).unwrap();
    store.apply(&t, &w).await.unwrap();
    assert_eq!(found(10).await.unwrap(), vec!["u2"]);
    let moved = store
        .find_indexed(&t, ResourceKind::User, &external_id("moved"), 10)
        .await
        .unwrap();
    assert_eq!(moved, vec!["u1"]);
    let u2 = get(store, &t, ResourceKind::User, "u2").await;
    let gone = write::retire(
        &u2,
        u2.guards.clone().unwrap(),
        vec![shared.clone()],
        false,
        NOW,
    );
    store.apply(&t, &gone).await.unwrap();
    assert!(found(10).await.unwrap().is_empty());
    // The other tenant's entry is its own.
    assert_eq!(
        store
            .find_indexed(&other, ResourceKind::User, &shared, 10)
            .await
            .unwrap(),
        vec!["u9"]
    );
    // Building entries for resources written without them: only at the version read.
    let u1 = get(store, &t, ResourceKind::User, "u1").await;
    let stale = Version::first();
    assert!(matches!(
        store
            .index_lookups(
                &t,
                ResourceKind::User,
                "u1",
                stale,
                std::slice::from_ref(&shared)
            )
            .await,
        Err(StoreError::VersionMismatch)
    ));
    assert!(matches!(
        store
            .index_lookups(
                &t,
                ResourceKind::User,
                "u404",
                stale,
                std::slice::from_ref(&shared)
            )
            .await,
        Err(StoreError::NotFound)
    ));
    store
        .index_lookups(
            &t,
            ResourceKind::User,
            "u1",
            u1.version,
            &[external_id("moved")],
        )
        .await
        .unwrap();
    let moved = store
        .find_indexed(&t, ResourceKind::User, &external_id("moved"), 10)
        .await
        .unwrap();
    assert_eq!(moved, vec!["u1"], "idempotent");
    // A purge takes the entries too.
    while !store.purge(&t, 1).await.unwrap() {}
    assert!(
        store
            .find_indexed(&t, ResourceKind::User, &external_id("moved"), 10)
            .await
            .unwrap()
            .is_empty()
    );
}
