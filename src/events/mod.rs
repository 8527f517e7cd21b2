//! Change events for the host application: each [`Change`] a store records becomes at most one
//! typed, versioned [`Event`] (`user.created`, `user.deactivated`, `group.member_added`, …)
//! carrying the tenant, the resource, the names of the attributes that changed and the
//! resource's new state as SCIM JSON — never a password hash, token material or any of the
//! store's bookkeeping. The envelope is described by `docs/events.schema.json` and the
//! vocabulary by `docs/events.md`; each type names the RFC 9967 (SCIM profile for Security
//! Event Tokens) event it corresponds to.
//!
//! [`from_change`] is a pure function: in AWS it runs in the events function (the enrichment
//! step of the EventBridge pipe reading the table's stream, `src/bin/events.rs`), locally in
//! `scimlet serve --events` ([`deliver`]), and in tests over recorded stream records.

pub mod deliver;
pub mod pipe;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::domain::{MemberRef, Resource, ResourceKind, Version};
use crate::ops::groups::link_attribute;
use crate::schema::output::{etag, render};
use crate::schema::registry::Registry;
use crate::store::{Change, ChangeKind, Stored};

/// The envelope's format version (`version`); a change that could break a consumer gets a
/// new number.
pub const ENVELOPE_VERSION: u32 = 1;

/// The largest event, serialized, that carries the resource's new state. EventBridge accepts
/// entries of at most 256 KB (the envelope around `detail` included) while a resource may be
/// up to 300 KiB: a larger event leaves `resource` out and says so (`resourceOmitted`), and
/// the consumer reads the resource at `location` if it needs it.
pub const MAX_EVENT_BYTES: usize = 200 * 1024;

/// The most a batch of events put on the bus together may weigh: PutEvents takes at most 10
/// entries of together less than 256 KB (the pipe puts one batch per call).
pub const MAX_BATCH_BYTES: usize = 240 * 1024;

/// What happened, as the event's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// A resource was created.
    Created,
    /// A resource's attributes changed (other than a deactivation or reactivation).
    Updated,
    /// `active` went from true (or unset) to false.
    Deactivated,
    /// `active` went from false to true.
    Reactivated,
    /// The resource was deleted (hard, or soft with `soft: true`).
    Deleted,
    /// A soft-deleted resource was restored.
    Restored,
    /// A member was added to a group.
    MemberAdded,
    /// A member was removed from a group.
    MemberRemoved,
}

impl EventType {
    /// The `type` value for a resource of `kind` (e.g. `user.deactivated`).
    pub fn name(self, kind: ResourceKind) -> String {
        let action = match self {
            EventType::Created => "created",
            EventType::Updated => "updated",
            EventType::Deactivated => "deactivated",
            EventType::Reactivated => "reactivated",
            EventType::Deleted => "deleted",
            EventType::Restored => "restored",
            EventType::MemberAdded => "member_added",
            EventType::MemberRemoved => "member_removed",
        };
        let noun = match kind {
            ResourceKind::User => "user",
            ResourceKind::Group => "group",
        };
        format!("{noun}.{action}")
    }

    /// The RFC 9967 event URI this type corresponds to. `Updated` carries the whole new
    /// state (as a PUT would); membership changes are notices naming the changed attribute;
    /// a restore, which RFC 9967 has no event for, is reported as a (re-)creation.
    pub fn rfc9967(self) -> &'static str {
        match self {
            EventType::Created | EventType::Restored => {
                "urn:ietf:params:scim:event:prov:create:full"
            }
            EventType::Updated => "urn:ietf:params:scim:event:prov:put:full",
            EventType::Deactivated => "urn:ietf:params:scim:event:prov:deactivate",
            EventType::Reactivated => "urn:ietf:params:scim:event:prov:activate",
            EventType::Deleted => "urn:ietf:params:scim:event:prov:delete",
            EventType::MemberAdded | EventType::MemberRemoved => {
                "urn:ietf:params:scim:event:prov:patch:notice"
            }
        }
    }
}

/// One change event (the JSON envelope; see `docs/events.schema.json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// [`ENVELOPE_VERSION`].
    pub version: u32,
    /// Unique to the event and the same on every delivery of it: deduplicate on it.
    pub id: String,
    /// `user.created`, `group.member_removed`, … (see [`EventType::name`]).
    #[serde(rename = "type")]
    pub event_type: String,
    /// When it happened (RFC 3339).
    pub time: String,
    /// The tenant.
    pub tenant: String,
    /// `User` or `Group`.
    pub resource_type: &'static str,
    /// The resource's id (for membership events: the group's).
    pub resource_id: String,
    /// The resource's path under the tenant's SCIM base URL (`/Users/<id>`).
    pub location: String,
    /// The resource's `meta.version` after the change (not for membership events, which
    /// are read from the membership, not from the group).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    /// Names of the attributes that changed, sorted (top-level names; sub-attributes of
    /// complex and extension attributes as `name.givenName` and `urn:…:User:manager`); for a
    /// creation or a restore, those it has.
    pub changed_attributes: Vec<String>,
    /// Deletions: whether the resource was soft-deleted (restorable) rather than removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub soft: Option<bool>,
    /// Membership events: the member.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<Member>,
    /// The resource's new state as SCIM JSON (as a GET answers it, `meta.location` relative
    /// to the base URL), unless it was deleted, or this is a membership event, or it did not
    /// fit (see `resource_omitted`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<Value>,
    /// `"tooLarge"` when the new state was left out because the event would exceed
    /// [`MAX_EVENT_BYTES`]: read it at `location` (its `meta.version` is `resource_version` or
    /// later).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_omitted: Option<&'static str>,
    /// The RFC 9967 view of the event.
    pub rfc9967: Rfc9967,
}

/// A member in a membership event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Member {
    /// The member's id.
    pub value: String,
    /// `User` or `Group`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Its path under the base URL.
    #[serde(rename = "$ref")]
    pub location: String,
}

/// The RFC 9967 event URI and subject identifier of an event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rfc9967 {
    /// The event URI (e.g. `urn:ietf:params:scim:event:prov:deactivate`).
    pub event: &'static str,
    /// The subject (`{"format": "scim", "uri": "/Users/<id>"}`).
    pub sub_id: SubId,
}

/// An RFC 9967 `sub_id` of format `scim`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubId {
    /// Always `scim`.
    pub format: &'static str,
    /// The resource's path under the base URL.
    pub uri: String,
}

fn path_of(kind: ResourceKind, id: &str) -> String {
    format!("/{}/{id}", kind.endpoint())
}

/// The event a change stands for, if any: a resource write that changed no attribute (a
/// membership counter, a repair) is none.
pub fn from_change(change: &Change, registry: &Registry) -> Option<Event> {
    let (event_type, kind, id, changed, state, soft, member) = match &change.kind {
        ChangeKind::Resource { before, after } => {
            let (event_type, changed) = classify(before.as_deref(), after.as_deref())?;
            let stored = after.as_deref().or(before.as_deref())?;
            let soft = (event_type == EventType::Deleted).then_some(after.is_some());
            let state = match event_type {
                EventType::Deleted => None,
                _ => after.as_deref().map(|s| &s.resource),
            };
            let r = &stored.resource;
            (event_type, r.kind, r.id.clone(), changed, state, soft, None)
        }
        ChangeKind::Member {
            group,
            member,
            added,
        } => {
            let event_type = if *added {
                EventType::MemberAdded
            } else {
                EventType::MemberRemoved
            };
            let changed = vec![link_attribute(ResourceKind::Group).to_owned()];
            let member = member_of(member);
            (
                event_type,
                ResourceKind::Group,
                group.clone(),
                changed,
                None,
                None,
                Some(member),
            )
        }
    };
    let mut changed = changed;
    changed.sort();
    let location = path_of(kind, &id);
    let time = match (&change.kind, state) {
        (ChangeKind::Resource { after: Some(a), .. }, _) if a.deleted_at.is_some() => {
            a.deleted_at.clone()
        }
        (_, Some(r)) => Some(r.last_modified.clone()),
        _ => None,
    }
    .or_else(|| change.at.clone())
    .unwrap_or_else(crate::clock::now_rfc3339);
    let mut event = Event {
        version: ENVELOPE_VERSION,
        id: change.id.clone(),
        event_type: event_type.name(kind),
        time,
        tenant: change.tenant.as_str().to_owned(),
        resource_type: kind.name(),
        resource_id: id,
        location: location.clone(),
        resource_version: state.map(|r| {
            etag(Version {
                settling: false,
                ..r.version
            })
        }),
        changed_attributes: changed,
        soft,
        member,
        resource: state.map(|r| state_json(r, registry)),
        resource_omitted: None,
        rfc9967: Rfc9967 {
            event: event_type.rfc9967(),
            sub_id: SubId {
                format: "scim",
                uri: location,
            },
        },
    };
    if event.resource.is_some() && encoded_len(&event) > MAX_EVENT_BYTES {
        event.resource = None;
        event.resource_omitted = Some("tooLarge");
    }
    Some(event)
}

/// Makes a batch fit [`MAX_BATCH_BYTES`]: the largest events that still carry their resource
/// leave it out (`resourceOmitted: "tooLarge"`) until the batch fits.
pub fn fit_batch(events: &mut [Event]) {
    let mut sizes: Vec<usize> = events.iter().map(encoded_len).collect();
    let mut total: usize = sizes.iter().sum();
    while total > MAX_BATCH_BYTES {
        let largest = (0..events.len())
            .filter(|&i| events[i].resource.is_some())
            .max_by_key(|&i| sizes[i]);
        let Some(i) = largest else {
            return;
        };
        events[i].resource = None;
        events[i].resource_omitted = Some("tooLarge");
        let now = encoded_len(&events[i]);
        total = total - sizes[i] + now;
        sizes[i] = now;
    }
}

fn member_of(member: &MemberRef) -> Member {
    Member {
        value: member.id.clone(),
        kind: member.kind.name(),
        location: path_of(member.kind, &member.id),
    }
}

/// The resource as SCIM JSON, without password hash (never rendered) and with `meta.location`
/// relative to the base URL.
fn state_json(resource: &Resource, registry: &Registry) -> Value {
    render(resource, registry.resource_type(resource.kind), "")
}

fn encoded_len(event: &Event) -> usize {
    serde_json::to_vec(event).map_or(usize::MAX, |v| v.len())
}

/// The event type of a resource change and the attributes it changed; `None` when nothing a
/// consumer sees changed.
fn classify(before: Option<&Stored>, after: Option<&Stored>) -> Option<(EventType, Vec<String>)> {
    fn live(s: Option<&Stored>) -> Option<&Stored> {
        s.filter(|s| s.deleted_at.is_none())
    }
    match (live(before), live(after)) {
        (None, Some(a)) => {
            let names = changed_names(&Map::new(), &a.resource.attributes);
            let created = before.is_none();
            Some((
                if created {
                    EventType::Created
                } else {
                    EventType::Restored
                },
                names,
            ))
        }
        (Some(_), None) => Some((EventType::Deleted, Vec::new())),
        (Some(b), Some(a)) => {
            let names = changed_names(&b.resource.attributes, &a.resource.attributes);
            if names.is_empty() {
                return None;
            }
            let was = active(&b.resource);
            let is = active(&a.resource);
            let event_type = match (was, is) {
                (w, Some(false)) if w != Some(false) => EventType::Deactivated,
                (Some(false), Some(true)) => EventType::Reactivated,
                _ => EventType::Updated,
            };
            Some((event_type, names))
        }
        (None, None) => None,
    }
}

fn active(resource: &Resource) -> Option<bool> {
    resource.attributes.get("active").and_then(Value::as_bool)
}

/// The names of the attributes that differ: top-level names, and one level down inside
/// complex single-valued attributes and extension schemas (`name.givenName`,
/// `urn:…:enterprise:2.0:User:manager`).
fn changed_names(before: &Map<String, Value>, after: &Map<String, Value>) -> Vec<String> {
    let mut names = Vec::new();
    let keys = before
        .keys()
        .chain(after.keys().filter(|k| !before.contains_key(*k)));
    for key in keys {
        let (b, a) = (before.get(key), after.get(key));
        if b == a {
            continue;
        }
        let inner = |v: Option<&Value>| v.and_then(Value::as_object).cloned();
        match (inner(b), inner(a)) {
            (b_map, a_map) if b_map.is_some() || a_map.is_some() => {
                let (b_map, a_map) = (b_map.unwrap_or_default(), a_map.unwrap_or_default());
                let sep = if key.starts_with("urn:") { ':' } else { '.' };
                for sub in changed_names(&b_map, &a_map) {
                    let top = sub.split(['.', ':']).next().unwrap_or(&sub).to_owned();
                    let name = format!("{key}{sep}{top}");
                    if !names.contains(&name) {
                        names.push(name);
                    }
                }
            }
            _ => names.push(key.clone()),
        }
    }
    names
}

#[cfg(test)]
mod tests;
