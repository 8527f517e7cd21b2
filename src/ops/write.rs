//! Every write computed once, here, as a [`Write`] value: the resource at its next version
//! with its timestamps, the guards it claims and releases, its membership change, the
//! precondition. These are pure functions of what was read and what was asked, so the stores
//! carry no SCIM semantics and cannot drift apart in them (and so they are unit-tested here,
//! without a store).

use serde_json::{Map, Value};

use crate::domain::{Link, Resource, ResourceKind, UniqueValue, Version};
use crate::store::{DisplayRefresh, LookupDelta, MemberDelta, Retirement, Write, WriteOp};

/// The display name a resource shows on the edges of the groups it belongs to: a group's
/// `displayName`; a user's `displayName`, else its `userName`.
pub fn display_of(kind: ResourceKind, attributes: &Map<String, Value>) -> Option<String> {
    let get = |name: &str| {
        attributes
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    match kind {
        ResourceKind::Group => get("displayName"),
        ResourceKind::User => get("displayName").or_else(|| get("userName")),
    }
}

/// The identity of a new resource and what it holds: its `guards` and its lookup values.
#[derive(Debug, Clone, Default)]
pub struct NewResource {
    /// Its id.
    pub id: String,
    /// Its attributes.
    pub attributes: Map<String, Value>,
    /// Its password hash, if one was set.
    pub password_hash: Option<String>,
    /// The guards it claims.
    pub guards: Vec<UniqueValue>,
    /// The values it is found under in the lookup index.
    pub lookups: Vec<UniqueValue>,
}

/// A new resource at its first version, holding its guards, indexed under its lookup values,
/// with `members` (groups).
pub fn create(kind: ResourceKind, new: NewResource, members: Vec<Link>, now: &str) -> Write {
    let NewResource {
        id,
        attributes,
        password_hash,
        guards,
        lookups,
    } = new;
    let resource = Resource {
        kind,
        id: id.clone(),
        version: Version::first(),
        created: now.to_owned(),
        last_modified: now.to_owned(),
        attributes,
        password_hash,
        guards: Some(guards),
        member_count: 0,
    };
    Write {
        kind,
        id,
        op: WriteOp::Create { resource, members },
        lookups: LookupDelta {
            add: lookups,
            remove: Vec::new(),
        },
    }
}

/// What an update asks for, computed from the request and the current state.
#[derive(Debug, Clone, Default)]
pub struct Change {
    /// The attributes after the change.
    pub attributes: Map<String, Value>,
    /// A new password hash, if a password was sent (else the stored one is kept).
    pub password_hash: Option<String>,
    /// The guards the resource must hold after the change (what the tenant enforces).
    pub guards: Vec<UniqueValue>,
    /// The change of its lookup-index entries (from the values before to those after).
    pub lookups: LookupDelta,
    /// The membership change (groups).
    pub members: MemberDelta,
}

/// Whether `change` renames `current` (its display name, copied onto the edges of its groups,
/// changes): then the caller passes those groups to [`update`].
pub fn renames(current: &Resource, change: &Change) -> bool {
    display_of(current.kind, &current.attributes) != display_of(current.kind, &change.attributes)
}

/// The write of `change` over `current`, whose held guards are `held` and which belongs to
/// the groups `memberships` (needed only when [`renames`] says so); `None` when it changes
/// nothing (a no-op writes nothing and keeps the version). A pure membership change becomes a
/// [`WriteOp::Members`] (which commutes with others unless `if_match` was sent); anything
/// else an [`WriteOp::Update`] conditional on the version read.
pub fn update(
    current: &Resource,
    held: &[UniqueValue],
    memberships: &[String],
    change: Change,
    if_match: bool,
    now: &str,
) -> Option<Write> {
    let attributes_change = change.attributes != current.attributes
        || change.password_hash.is_some()
        || !same_set(held, &change.guards);
    let kind = current.kind;
    let id = current.id.clone();
    if !attributes_change {
        if change.members.is_empty() {
            return None;
        }
        return Some(Write {
            kind,
            id,
            op: WriteOp::Members {
                delta: change.members,
                expected: if_match.then_some(current.version),
                last_modified: now.to_owned(),
            },
            lookups: LookupDelta::default(),
        });
    }
    let claim: Vec<UniqueValue> = change
        .guards
        .iter()
        .filter(|g| !held.contains(g))
        .cloned()
        .collect();
    let release: Vec<UniqueValue> = held
        .iter()
        .filter(|g| !change.guards.contains(g))
        .cloned()
        .collect();
    let refresh = renames(current, &change).then(|| DisplayRefresh {
        display: display_of(kind, &change.attributes),
        groups: memberships.to_vec(),
    });
    let mut version = current.version.next_attributes();
    if !change.members.is_empty() {
        version = version.next_members();
    }
    let resource = Resource {
        version,
        last_modified: now.to_owned(),
        attributes: change.attributes,
        password_hash: change
            .password_hash
            .or_else(|| current.password_hash.clone()),
        guards: Some(change.guards),
        ..current.clone()
    };
    Some(Write {
        kind,
        id,
        op: WriteOp::Update {
            resource,
            expected: current.version,
            claim,
            release,
            members: change.members,
            refresh_display: refresh.filter(|r| !r.groups.is_empty()),
        },
        lookups: change.lookups,
    })
}

/// Deletes `current` (or marks it deleted, restorable), releasing the guards it holds and
/// removing its lookup-index entries (`lookups`, its values).
pub fn retire(
    current: &Resource,
    held: Vec<UniqueValue>,
    lookups: Vec<UniqueValue>,
    soft: bool,
    now: &str,
) -> Write {
    let how = if soft {
        Retirement::SoftDelete {
            at: now.to_owned(),
            resource: Box::new(Resource {
                version: current.version.next_attributes(),
                last_modified: now.to_owned(),
                guards: Some(Vec::new()),
                member_count: 0,
                ..current.clone()
            }),
        }
    } else {
        Retirement::Delete
    };
    Write {
        kind: current.kind,
        id: current.id.clone(),
        op: WriteOp::Retire {
            expected: current.version,
            release: held,
            how,
        },
        lookups: LookupDelta {
            add: Vec::new(),
            remove: lookups,
        },
    }
}

/// Brings a soft-deleted resource back at its next version, claiming `guards` and indexed
/// again under `lookups`.
pub fn restore(
    deleted: &Resource,
    guards: Vec<UniqueValue>,
    lookups: Vec<UniqueValue>,
    now: &str,
) -> Write {
    Write {
        kind: deleted.kind,
        id: deleted.id.clone(),
        op: WriteOp::Restore {
            resource: Resource {
                version: Version {
                    settling: false,
                    ..deleted.version.next_attributes()
                },
                last_modified: now.to_owned(),
                guards: Some(guards),
                member_count: 0,
                ..deleted.clone()
            },
            expected: deleted.version,
        },
        lookups: LookupDelta {
            add: lookups,
            remove: Vec::new(),
        },
    }
}

fn same_set(a: &[UniqueValue], b: &[UniqueValue]) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.contains(x))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::MemberRef;

    fn guard(attr: &'static str, value: &str) -> UniqueValue {
        UniqueValue {
            attr,
            normalized: value.into(),
        }
    }

    fn attrs(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn group(name: &str) -> Resource {
        Resource {
            kind: ResourceKind::Group,
            id: "g1".into(),
            version: Version {
                attributes: 3,
                members: 7,
                settling: false,
            },
            created: "t0".into(),
            last_modified: "t1".into(),
            attributes: attrs(json!({"displayName": name})),
            password_hash: None,
            guards: Some(vec![guard("displayName", &name.to_lowercase())]),
            member_count: 2,
        }
    }

    fn member(id: &str) -> Link {
        Link {
            target: MemberRef {
                kind: ResourceKind::User,
                id: id.into(),
            },
            display: Some(id.to_uppercase()),
        }
    }

    #[test]
    fn a_membership_change_alone_commutes_unless_if_match_was_sent() {
        let current = group("Admins");
        let change = Change {
            attributes: current.attributes.clone(),
            guards: vec![guard("displayName", "admins")],
            members: MemberDelta {
                add: vec![member("u3")],
                remove: Vec::new(),
            },
            ..Change::default()
        };
        let write = update(
            &current,
            current.guards.as_deref().unwrap(),
            &[],
            change.clone(),
            false,
            "t2",
        )
        .unwrap();
        assert_eq!(
            write.op,
            WriteOp::Members {
                delta: change.members.clone(),
                expected: None,
                last_modified: "t2".into(),
            }
        );
        let guarded = update(
            &current,
            current.guards.as_deref().unwrap(),
            &[],
            change,
            true,
            "t2",
        )
        .unwrap();
        assert!(
            matches!(guarded.op, WriteOp::Members { expected: Some(v), .. } if v == current.version)
        );
    }

    #[test]
    fn a_rename_moves_the_guard_bumps_the_version_and_refreshes_display_copies() {
        let current = group("Admins");
        let change = Change {
            attributes: attrs(json!({"displayName": "Owners"})),
            guards: vec![guard("displayName", "owners")],
            ..Change::default()
        };
        let parents = vec!["p1".to_owned()];
        let write = update(
            &current,
            current.guards.as_deref().unwrap(),
            &parents,
            change,
            false,
            "t2",
        )
        .unwrap();
        let WriteOp::Update {
            resource,
            expected,
            claim,
            release,
            refresh_display,
            ..
        } = write.op
        else {
            panic!("an update");
        };
        assert_eq!(expected, current.version);
        assert_eq!(resource.version.attributes, 4);
        assert_eq!(resource.version.members, 7);
        assert_eq!(resource.last_modified, "t2");
        assert_eq!(claim, vec![guard("displayName", "owners")]);
        assert_eq!(release, vec![guard("displayName", "admins")]);
        assert_eq!(
            refresh_display,
            Some(DisplayRefresh {
                display: Some("Owners".into()),
                groups: parents
            })
        );
    }

    #[test]
    fn releasing_touches_only_held_guards_and_no_op_writes_nothing() {
        let mut current = group("Admins");
        // Written while group names were not unique: it holds no name guard.
        current.guards = Some(Vec::new());
        let change = Change {
            attributes: current.attributes.clone(),
            guards: Vec::new(),
            ..Change::default()
        };
        assert!(update(&current, &[], &[], change, false, "t2").is_none());
        let rename = Change {
            attributes: attrs(json!({"displayName": "Other"})),
            guards: Vec::new(),
            ..Change::default()
        };
        let WriteOp::Update { release, claim, .. } =
            update(&current, &[], &[], rename, false, "t2").unwrap().op
        else {
            panic!("an update");
        };
        assert!(release.is_empty() && claim.is_empty());
    }

    #[test]
    fn soft_delete_keeps_the_resource_at_its_next_version_without_guards() {
        let current = group("Admins");
        let held = current.guards.clone().unwrap();
        let write = retire(&current, held.clone(), Vec::new(), true, "t9");
        let WriteOp::Retire {
            expected,
            release,
            how: Retirement::SoftDelete { at, resource },
        } = write.op
        else {
            panic!("a soft delete");
        };
        assert_eq!(
            (expected, release, at.as_str()),
            (current.version, held, "t9")
        );
        assert_eq!(resource.version.attributes, 4);
        assert_eq!(resource.guards, Some(Vec::new()));
        assert_eq!(
            restore(
                &resource,
                vec![guard("displayName", "admins")],
                Vec::new(),
                "t10"
            )
            .op,
            WriteOp::Restore {
                resource: Resource {
                    version: Version {
                        attributes: 5,
                        members: 7,
                        settling: false
                    },
                    last_modified: "t10".into(),
                    guards: Some(vec![guard("displayName", "admins")]),
                    ..(*resource).clone()
                },
                expected: resource.version,
            }
        );
    }
}
