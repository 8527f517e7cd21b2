//! The store contract: both `ResourceStore`/`Directory` implementations behave the same.

use scimlet::domain::ResourceKind;
use scimlet::domain::UniqueValue;
use scimlet::domain::{Link, MemberRef, Resource, Tenant, TenantSettings, TokenRecord};
use scimlet::store::{GuardChange, MemberChange, StoreError};
use serde_json::{Map, json};

use crate::both_stores;
use crate::helpers::{Backend, fresh_tenant_id, stores};

both_stores!(
    resources_round_trip_with_guards_and_versions,
    listing_is_in_id_order_and_pages_after_an_id,
    purge_removes_every_item_of_a_tenant,
    directory_keeps_tenants_and_tokens,
    membership_edges_go_both_ways_and_follow_deletes,
    soft_deleted_resources_vanish_and_come_back,
);

fn user(id: &str, name: &str) -> Resource {
    let mut attributes = Map::new();
    attributes.insert("userName".into(), json!(name));
    Resource {
        kind: ResourceKind::User,
        id: id.into(),
        version: 1,
        created: "2026-01-01T00:00:00.000Z".into(),
        last_modified: "2026-01-01T00:00:00.000Z".into(),
        attributes,
        password_hash: None,
    }
}

fn guard(name: &str) -> Vec<UniqueValue> {
    vec![UniqueValue {
        attr: "userName",
        normalized: name.to_lowercase(),
    }]
}

async fn resources_round_trip_with_guards_and_versions(backend: Backend) {
    let s = stores(backend).await;
    let store = s.resources.as_ref();
    let t = fresh_tenant_id();
    let a = user("a1", "Ann");
    store.create(&t, &a, &guard("Ann"), &[]).await.unwrap();
    assert_eq!(
        store.get(&t, ResourceKind::User, "a1").await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        store.get(&t, ResourceKind::Group, "a1").await.unwrap(),
        None
    );
    assert!(matches!(
        store
            .create(&t, &user("a2", "ANN"), &guard("ANN"), &[])
            .await,
        Err(StoreError::Conflict { attr: "userName" })
    ));
    assert_eq!(store.get(&t, ResourceKind::User, "a2").await.unwrap(), None);
    assert_eq!(
        store
            .find_unique(&t, ResourceKind::User, &guard("ann")[0])
            .await
            .unwrap(),
        Some("a1".into())
    );
    assert_eq!(store.count(&t, ResourceKind::User).await.unwrap(), 1);

    // Replace moves the guard; a stale version or a missing item fails without writing.
    let mut renamed = user("a1", "Anna");
    renamed.version = 2;
    let (old, new) = (guard("Ann"), guard("Anna"));
    let change = GuardChange {
        old: &old,
        new: &new,
    };
    assert!(matches!(
        store
            .replace(&t, &renamed, 7, change.clone(), MemberChange::default())
            .await,
        Err(StoreError::VersionMismatch)
    ));
    let ghost = user("zz", "ghost");
    assert!(matches!(
        store
            .replace(
                &t,
                &ghost,
                1,
                GuardChange {
                    old: &[],
                    new: &guard("ghost")
                },
                MemberChange::default(),
            )
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store
            .find_unique(&t, ResourceKind::User, &guard("ghost")[0])
            .await
            .unwrap(),
        None
    );
    store
        .replace(&t, &renamed, 1, change, MemberChange::default())
        .await
        .unwrap();
    assert_eq!(
        store
            .find_unique(&t, ResourceKind::User, &old[0])
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .find_unique(&t, ResourceKind::User, &new[0])
            .await
            .unwrap(),
        Some("a1".into())
    );
    // A guard taken by someone else blocks the rename atomically.
    store
        .create(&t, &user("b1", "Bob"), &guard("Bob"), &[])
        .await
        .unwrap();
    let mut clash = user("a1", "bob");
    clash.version = 3;
    assert!(matches!(
        store
            .replace(
                &t,
                &clash,
                2,
                GuardChange {
                    old: &new,
                    new: &guard("bob")
                },
                MemberChange::default(),
            )
            .await,
        Err(StoreError::Conflict { attr: "userName" })
    ));
    assert_eq!(
        store.get(&t, ResourceKind::User, "a1").await.unwrap(),
        Some(renamed)
    );

    // Delete checks the version and releases guards.
    assert!(matches!(
        store.delete(&t, ResourceKind::User, "a1", 1, &new).await,
        Err(StoreError::VersionMismatch)
    ));
    store
        .delete(&t, ResourceKind::User, "a1", 2, &new)
        .await
        .unwrap();
    assert!(matches!(
        store.delete(&t, ResourceKind::User, "a1", 2, &new).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store
            .find_unique(&t, ResourceKind::User, &new[0])
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.count(&t, ResourceKind::User).await.unwrap(), 1);
    // Another tenant sees none of it.
    let other = fresh_tenant_id();
    assert_eq!(
        store.get(&other, ResourceKind::User, "b1").await.unwrap(),
        None
    );
    assert_eq!(store.count(&other, ResourceKind::User).await.unwrap(), 0);
    assert_eq!(
        store
            .find_unique(&other, ResourceKind::User, &guard("bob")[0])
            .await
            .unwrap(),
        None
    );
}

async fn listing_is_in_id_order_and_pages_after_an_id(backend: Backend) {
    let s = stores(backend).await;
    let store = s.resources.as_ref();
    let t = fresh_tenant_id();
    for id in ["c", "a", "e", "b", "d"] {
        store.create(&t, &user(id, id), &[], &[]).await.unwrap();
    }
    let ids = |page: &scimlet::store::ResourcePage| -> Vec<String> {
        page.items.iter().map(|r| r.id.clone()).collect()
    };
    let first = store.list(&t, ResourceKind::User, None, 2).await.unwrap();
    assert_eq!(ids(&first), ["a", "b"]);
    assert_eq!(first.next_after.as_deref(), Some("b"));
    let second = store
        .list(&t, ResourceKind::User, Some("b"), 2)
        .await
        .unwrap();
    assert_eq!(ids(&second), ["c", "d"]);
    let last = store
        .list(&t, ResourceKind::User, Some("d"), 2)
        .await
        .unwrap();
    assert_eq!(ids(&last), ["e"]);
    assert_eq!(last.next_after, None);
    let exact = store.list(&t, ResourceKind::User, None, 5).await.unwrap();
    assert_eq!(exact.items.len(), 5);
    assert_eq!(exact.next_after, None);
    assert!(
        store
            .list(&t, ResourceKind::Group, None, 5)
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

async fn purge_removes_every_item_of_a_tenant(backend: Backend) {
    let s = stores(backend).await;
    let store = s.resources.as_ref();
    let (t, keep) = (fresh_tenant_id(), fresh_tenant_id());
    for i in 0..30 {
        let name = format!("u{i:02}");
        store
            .create(&t, &user(&name, &name), &guard(&name), &[])
            .await
            .unwrap();
    }
    store
        .create(&keep, &user("k", "k"), &guard("k"), &[])
        .await
        .unwrap();
    store.purge(&t).await.unwrap();
    assert!(
        store
            .list(&t, ResourceKind::User, None, 100)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(store.count(&t, ResourceKind::User).await.unwrap(), 0);
    assert_eq!(
        store
            .find_unique(&t, ResourceKind::User, &guard("u01")[0])
            .await
            .unwrap(),
        None
    );
    // Names are free again, and the other tenant is untouched.
    store
        .create(&t, &user("x", "u01"), &guard("u01"), &[])
        .await
        .unwrap();
    assert!(
        store
            .get(&keep, ResourceKind::User, "k")
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
        id: id.into(),
        tenant: owner.clone(),
        hash: "$argon2id$stub".into(),
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
    // Deleting the tenant deletes its tokens.
    dir.delete_tenant(&t).await.unwrap();
    assert_eq!(dir.get_token(id2).await.unwrap(), None);
    assert_eq!(dir.get_tenant(&t).await.unwrap(), None);
    assert!(matches!(
        dir.delete_tenant(&t).await,
        Err(StoreError::NotFound)
    ));
}

fn group(id: &str, name: &str) -> Resource {
    let mut g = user(id, name);
    g.kind = ResourceKind::Group;
    g.attributes.clear();
    g.attributes.insert("displayName".into(), json!(name));
    g
}

fn link(kind: ResourceKind, id: &str, display: &str) -> Link {
    Link {
        target: MemberRef {
            kind,
            id: id.into(),
        },
        display: Some(display.into()),
    }
}

async fn membership_edges_go_both_ways_and_follow_deletes(backend: Backend) {
    let s = stores(backend).await;
    let store = s.resources.as_ref();
    let t = fresh_tenant_id();
    store
        .create(&t, &user("u1", "ann"), &[], &[])
        .await
        .unwrap();
    store
        .create(&t, &user("u2", "bob"), &[], &[])
        .await
        .unwrap();
    store
        .create(&t, &group("g2", "Inner"), &[], &[])
        .await
        .unwrap();
    let members = [
        link(ResourceKind::User, "u1", "ann"),
        link(ResourceKind::Group, "g2", "Inner"),
    ];
    store
        .create(&t, &group("g1", "Outer"), &[], &members)
        .await
        .unwrap();
    // A missing member fails the whole create.
    let ghost = [link(ResourceKind::User, "nobody", "x")];
    assert!(matches!(
        store.create(&t, &group("g3", "Bad"), &[], &ghost).await,
        Err(StoreError::MissingMember { .. })
    ));
    assert_eq!(
        store.get(&t, ResourceKind::Group, "g3").await.unwrap(),
        None
    );

    let g1 = store
        .get_linked(&t, ResourceKind::Group, "g1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(g1.members, members.to_vec());
    let u1 = store
        .get_linked(&t, ResourceKind::User, "u1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u1.groups, vec![link(ResourceKind::Group, "g1", "Outer")]);
    let g2 = store
        .get_linked(&t, ResourceKind::Group, "g2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(g2.groups, vec![link(ResourceKind::Group, "g1", "Outer")]);
    assert!(g2.members.is_empty());

    // Replace changes membership with the version.
    let mut g1v2 = group("g1", "Outer");
    g1v2.version = 2;
    let add = [link(ResourceKind::User, "u2", "bob")];
    let remove = [MemberRef {
        kind: ResourceKind::User,
        id: "u1".into(),
    }];
    store
        .replace(
            &t,
            &g1v2,
            1,
            GuardChange { old: &[], new: &[] },
            MemberChange {
                add: &add,
                remove: &remove,
            },
        )
        .await
        .unwrap();
    let g1 = store
        .get_linked(&t, ResourceKind::Group, "g1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        g1.members,
        vec![
            link(ResourceKind::User, "u2", "bob"),
            link(ResourceKind::Group, "g2", "Inner")
        ]
    );
    assert!(
        store
            .get_linked(&t, ResourceKind::User, "u1")
            .await
            .unwrap()
            .unwrap()
            .groups
            .is_empty()
    );
    // Adding a missing member changes nothing, not even the version.
    let mut g1v3 = g1v2.clone();
    g1v3.version = 3;
    assert!(matches!(
        store
            .replace(
                &t,
                &g1v3,
                2,
                GuardChange { old: &[], new: &[] },
                MemberChange {
                    add: &ghost,
                    remove: &[]
                }
            )
            .await,
        Err(StoreError::MissingMember { .. })
    ));
    assert_eq!(
        store
            .get(&t, ResourceKind::Group, "g1")
            .await
            .unwrap()
            .unwrap()
            .version,
        2
    );

    // A rename refreshes the copies on the other side.
    store
        .refresh_display(
            &t,
            &MemberRef {
                kind: ResourceKind::User,
                id: "u2".into(),
            },
            Some("Robert"),
        )
        .await
        .unwrap();
    store
        .refresh_display(
            &t,
            &MemberRef {
                kind: ResourceKind::Group,
                id: "g1".into(),
            },
            Some("Outermost"),
        )
        .await
        .unwrap();
    let g1 = store
        .get_linked(&t, ResourceKind::Group, "g1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(g1.members[0], link(ResourceKind::User, "u2", "Robert"));
    let u2 = store
        .get_linked(&t, ResourceKind::User, "u2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        u2.groups,
        vec![link(ResourceKind::Group, "g1", "Outermost")]
    );

    // Deleting a member removes it from its groups; deleting a group frees its members.
    store
        .delete(&t, ResourceKind::User, "u2", 1, &[])
        .await
        .unwrap();
    let g1 = store
        .get_linked(&t, ResourceKind::Group, "g1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(g1.members, vec![link(ResourceKind::Group, "g2", "Inner")]);
    store
        .delete(&t, ResourceKind::Group, "g1", 2, &[])
        .await
        .unwrap();
    assert!(
        store
            .get_linked(&t, ResourceKind::Group, "g2")
            .await
            .unwrap()
            .unwrap()
            .groups
            .is_empty()
    );
    let got = store
        .get_many(
            &t,
            &[
                MemberRef {
                    kind: ResourceKind::Group,
                    id: "g2".into(),
                },
                MemberRef {
                    kind: ResourceKind::User,
                    id: "u2".into(),
                },
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        got.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["g2"]
    );
}

async fn soft_deleted_resources_vanish_and_come_back(backend: Backend) {
    let s = stores(backend).await;
    let store = s.resources.as_ref();
    let t = fresh_tenant_id();
    store
        .create(&t, &user("s1", "sam"), &guard("sam"), &[])
        .await
        .unwrap();
    store
        .create(
            &t,
            &group("sg", "Team"),
            &[],
            &[link(ResourceKind::User, "s1", "sam")],
        )
        .await
        .unwrap();
    assert!(matches!(
        store
            .soft_delete(&t, ResourceKind::User, "s1", 9, &guard("sam"))
            .await,
        Err(StoreError::VersionMismatch)
    ));
    store
        .soft_delete(&t, ResourceKind::User, "s1", 1, &guard("sam"))
        .await
        .unwrap();
    // Gone from every read; the name is free; memberships removed.
    assert_eq!(store.get(&t, ResourceKind::User, "s1").await.unwrap(), None);
    assert_eq!(
        store
            .get_linked(&t, ResourceKind::User, "s1")
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .get_many(
                &t,
                &[MemberRef {
                    kind: ResourceKind::User,
                    id: "s1".into()
                }]
            )
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .list(&t, ResourceKind::User, None, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(store.count(&t, ResourceKind::User).await.unwrap(), 0);
    assert_eq!(
        store
            .find_unique(&t, ResourceKind::User, &guard("sam")[0])
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .get_linked(&t, ResourceKind::Group, "sg")
            .await
            .unwrap()
            .unwrap()
            .members
            .is_empty()
    );
    assert!(matches!(
        store.delete(&t, ResourceKind::User, "s1", 2, &[]).await,
        Err(StoreError::NotFound)
    ));
    let deleted = store
        .get_deleted(&t, ResourceKind::User, "s1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(deleted.version, 2);
    // Restoring fails while the name is taken, then succeeds.
    store
        .create(&t, &user("s2", "SAM"), &guard("SAM"), &[])
        .await
        .unwrap();
    let mut back = deleted.clone();
    back.version = 3;
    assert!(matches!(
        store.restore(&t, &back, 2, &guard("sam")).await,
        Err(StoreError::Conflict { attr: "userName" })
    ));
    assert_eq!(store.get(&t, ResourceKind::User, "s1").await.unwrap(), None);
    store
        .delete(&t, ResourceKind::User, "s2", 1, &guard("SAM"))
        .await
        .unwrap();
    store.restore(&t, &back, 2, &guard("sam")).await.unwrap();
    assert_eq!(
        store.get(&t, ResourceKind::User, "s1").await.unwrap(),
        Some(back.clone())
    );
    assert_eq!(
        store
            .get_deleted(&t, ResourceKind::User, "s1")
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.count(&t, ResourceKind::User).await.unwrap(), 1);
    assert_eq!(
        store
            .find_unique(&t, ResourceKind::User, &guard("sam")[0])
            .await
            .unwrap(),
        Some("s1".into())
    );
    assert!(matches!(
        store.restore(&t, &back, 3, &[]).await,
        Err(StoreError::NotFound)
    ));
    // Purge removes deleted items too.
    store
        .soft_delete(&t, ResourceKind::User, "s1", 3, &guard("sam"))
        .await
        .unwrap();
    store.purge(&t).await.unwrap();
    assert_eq!(
        store
            .get_deleted(&t, ResourceKind::User, "s1")
            .await
            .unwrap(),
        None
    );
}
