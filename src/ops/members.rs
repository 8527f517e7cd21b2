//! A group PATCH's membership operations, turned into a [`MemberDelta`] with work that
//! grows with the members the request names, not with the group's size.
//!
//! - **Targeted** operations name their members: `add` to `members` (with a path, or a no-path
//!   value's `members`), `remove` with `members[value eq "<id>"]` (Okta, Entra's RFC mode), or
//!   with a list of `{value}` (Entra's default mode). Their net effect, in order, is a set of
//!   ids to add and to remove; only those ids are read.
//! - **Whole-list** operations need the current members: `replace` of `members`, `remove` of
//!   `members` without a value, or a path filtering members on anything but `value`. The
//!   group's members are then read (at most [`MAX_MEMBERS_READ`], else 400 `tooMany`) and
//!   every membership operation runs through the PATCH engine over them.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::groups::Requested;
use crate::domain::ResourceKind;
use crate::error::ScimError;
use crate::filter::{CompValue, CompareOp, Filter};
use crate::patch::{OpKind, Operation, PatchTarget};
use crate::schema::ResourceTypeDef;

/// The most members a whole-list membership operation (or a PUT) reads. Larger groups are
/// changed with targeted `add`/`remove` operations.
pub const MAX_MEMBERS_READ: usize = 100_000;

/// A group PATCH split by what its operations touch.
#[derive(Debug, Default)]
pub struct Split {
    /// Operations on other attributes (and no-path values without `members`).
    pub attributes: Vec<Operation>,
    /// Operations on `members`, in order.
    pub members: Vec<Operation>,
    /// Whether every membership operation names its members (see the module docs).
    pub targeted: bool,
}

/// Splits operations into attribute and membership ones.
pub fn split(rt: &ResourceTypeDef, operations: Vec<Operation>) -> Split {
    let mut out = Split {
        targeted: true,
        ..Split::default()
    };
    for op in operations {
        match &op.path {
            Some((_, PatchTarget::Attribute(path)))
                if is_members(rt, &path.attr.urn, &path.attr.name) =>
            {
                out.targeted &= targeted(&op);
                out.members.push(op);
            }
            Some(_) => out.attributes.push(op),
            None => {
                let (members, rest) = take_members_value(rt, op);
                if let Some(m) = members {
                    out.targeted &= m.kind == OpKind::Add;
                    out.members.push(m);
                }
                if let Some(rest) = rest {
                    out.attributes.push(rest);
                }
            }
        }
    }
    out
}

fn is_members(rt: &ResourceTypeDef, urn: &Option<String>, name: &str) -> bool {
    name.eq_ignore_ascii_case("members")
        && urn
            .as_deref()
            .is_none_or(|u| u.eq_ignore_ascii_case(rt.core.id))
}

/// Splits a no-path operation's value into its `members` and the rest.
fn take_members_value(
    rt: &ResourceTypeDef,
    op: Operation,
) -> (Option<Operation>, Option<Operation>) {
    let Some(Value::Object(mut map)) = op.value.clone() else {
        return (None, Some(op));
    };
    let key = map
        .keys()
        .find(|k| {
            is_members(rt, &None, k) || k.eq_ignore_ascii_case(&format!("{}:members", rt.core.id))
        })
        .cloned();
    let Some(key) = key else {
        return (None, Some(op));
    };
    let members = map.remove(&key).map(|value| Operation {
        kind: op.kind,
        path: Some((
            "members".into(),
            PatchTarget::Attribute(crate::filter::PatchPath {
                attr: crate::filter::AttrPath {
                    urn: None,
                    name: "members".into(),
                    sub: None,
                },
                filter: None,
                sub: None,
            }),
        )),
        value: Some(value),
    });
    let rest = (!map.is_empty()).then(|| Operation {
        value: Some(Value::Object(map)),
        ..op
    });
    (members, rest)
}

/// Whether a membership operation names the members it changes.
fn targeted(op: &Operation) -> bool {
    let Some((_, PatchTarget::Attribute(path))) = &op.path else {
        return false;
    };
    match (op.kind, &path.filter, &path.sub, &path.attr.sub) {
        (OpKind::Add, None, None, None) => true,
        (OpKind::Remove, None, None, None) => op.value.is_some(),
        (OpKind::Remove, Some(f), None, None) => op.value.is_none() && value_ids(f).is_some(),
        _ => false,
    }
}

/// The ids of `value eq "<id>"` (or several joined by `or`).
fn value_ids(filter: &Filter) -> Option<Vec<String>> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::String(id),
        } if path.name.eq_ignore_ascii_case("value")
            && path.sub.is_none()
            && path.urn.is_none() =>
        {
            Some(vec![id.clone()])
        }
        Filter::Or(operands) => {
            let mut ids = Vec::new();
            for f in operands {
                ids.extend(value_ids(f)?);
            }
            Some(ids)
        }
        _ => None,
    }
}

/// The net effect of targeted operations: per id, added (with the kind the request gave) or
/// removed, the last operation on an id winning.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Targeted {
    /// Members to add.
    pub add: Vec<Requested>,
    /// Ids to remove.
    pub remove: Vec<String>,
}

/// Reads targeted operations (see [`targeted`]) into their net effect.
pub fn net_effect(operations: &[Operation]) -> Result<Targeted, ScimError> {
    #[derive(Clone)]
    enum Fate {
        Add(Option<ResourceKind>),
        Remove,
    }
    let mut fate: BTreeMap<String, (usize, Fate)> = BTreeMap::new();
    let mut order = 0usize;
    let mut set = |id: String, f: Fate| {
        order += 1;
        fate.insert(id, (order, f));
    };
    for op in operations {
        let path_filter = match &op.path {
            Some((_, PatchTarget::Attribute(path))) => path.filter.as_ref(),
            _ => None,
        };
        match (op.kind, path_filter) {
            (OpKind::Add, _) => {
                for r in requested(op.value.clone().unwrap_or(Value::Null))? {
                    set(r.id, Fate::Add(r.kind));
                }
            }
            (OpKind::Remove, Some(f)) => {
                for id in value_ids(f).unwrap_or_default() {
                    set(id, Fate::Remove);
                }
            }
            (OpKind::Remove, None) => {
                for r in requested(op.value.clone().unwrap_or(Value::Null))? {
                    set(r.id, Fate::Remove);
                }
            }
            (OpKind::Replace, _) => {
                return Err(ScimError::internal("a replace is not a targeted operation"));
            }
        }
    }
    let mut ordered: Vec<(String, (usize, Fate))> = fate.into_iter().collect();
    ordered.sort_by_key(|(_, (n, _))| *n);
    let mut out = Targeted::default();
    for (id, (_, f)) in ordered {
        match f {
            Fate::Add(kind) => out.add.push(Requested { id, kind }),
            Fate::Remove => out.remove.push(id),
        }
    }
    Ok(out)
}

/// Members named in an operation's value: an array of `{value, type}` (or one such object).
fn requested(value: Value) -> Result<Vec<Requested>, ScimError> {
    let items = match value {
        Value::Array(items) => items,
        Value::Object(_) => vec![value],
        _ => {
            return Err(ScimError::InvalidValue(
                "'members' must be a list of {\"value\": \"<id>\"}".into(),
            )
            .about("members"));
        }
    };
    let mut attrs = Map::new();
    attrs.insert("members".into(), Value::Array(items));
    super::groups::take_members(&mut attrs)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::schema::registry::STANDARD;

    fn ops(body: Value) -> Vec<Operation> {
        crate::patch::parse_request(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": body,
        }))
        .unwrap()
    }

    fn group() -> &'static ResourceTypeDef {
        STANDARD.resource_type(ResourceKind::Group)
    }

    fn ids(t: &Targeted) -> (Vec<&str>, Vec<&str>) {
        (
            t.add.iter().map(|r| r.id.as_str()).collect(),
            t.remove.iter().map(String::as_str).collect(),
        )
    }

    #[test]
    fn okta_and_entra_membership_operations_are_targeted() {
        let split = split(
            group(),
            ops(json!([
                {"op": "add", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]},
                {"op": "remove", "path": "members[value eq \"u3\"]"},
                {"op": "Remove", "path": "members", "value": [{"value": "u4"}]},
                {"op": "add", "value": {"displayName": "Renamed", "members": [{"value": "u5"}]}},
                {"op": "replace", "path": "displayName", "value": "Again"},
            ])),
        );
        assert!(split.targeted);
        assert_eq!(split.attributes.len(), 2);
        assert_eq!(split.members.len(), 4);
        let effect = net_effect(&split.members).unwrap();
        assert_eq!(ids(&effect), (vec!["u1", "u2", "u5"], vec!["u3", "u4"]));
    }

    #[test]
    fn the_last_operation_on_a_member_wins() {
        let effect = net_effect(&ops(json!([
            {"op": "add", "path": "members", "value": [{"value": "u1"}]},
            {"op": "remove", "path": "members[value eq \"u1\"]"},
            {"op": "remove", "path": "members[value eq \"u2\"]"},
            {"op": "add", "path": "members", "value": [{"value": "u2"}]},
        ])))
        .unwrap();
        assert_eq!(ids(&effect), (vec!["u2"], vec!["u1"]));
    }

    #[test]
    fn whole_list_operations_are_not_targeted() {
        for body in [
            json!([{"op": "replace", "path": "members", "value": [{"value": "u1"}]}]),
            json!([{"op": "remove", "path": "members"}]),
            json!([{"op": "remove", "path": "members[type eq \"Group\"]"}]),
            json!([{"op": "replace", "value": {"members": [{"value": "u1"}]}}]),
        ] {
            assert!(!split(group(), ops(body.clone())).targeted, "{body}");
        }
    }
}
