//! The table's stream records read as [`Change`]s: what the events function (the EventBridge
//! pipe's enrichment, `src/bin/events.rs`) turns into change events. A record arrives as JSON
//! in the shape Lambda, EventBridge Pipes and the Streams API's `GetRecords` share: `eventID`,
//! `eventName` (`INSERT`, `MODIFY`, `REMOVE`) and `dynamodb` with `Keys`, `NewImage`,
//! `OldImage` and `ApproximateCreationDateTime`, images in DynamoDB's typed JSON
//! (`{"S": "…"}`, `{"M": {…}}`, …).
//!
//! Which records are changes (the pipe's filter lets only these through, `template.yaml`):
//! - resource items (sort key `USER` or `GROUP`): the resource before and after;
//! - group-side membership edges (sort key `MEMBER#…`): inserted → member added, deleted →
//!   member removed, unless retired (a deleted group's members, see
//!   `edges::RETIRED`); a modified edge (its display copy rewritten) is no change.
//!
//! Everything else (tokens, tenants, guards, counters, lookup entries, activity, member-side
//! edges that mirror the group side) is not a change.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use serde_json::Value;

use super::edges;
use super::item::{self, Item};
use crate::domain::{ResourceKind, TenantId};
use crate::store::{Change, ChangeKind, StoreError, Stored, keys};

/// Why a stream record could not be read.
#[derive(Debug, thiserror::Error)]
#[error("unreadable stream record: {0}")]
pub struct RecordError(String);

fn bad(what: impl Into<String>) -> RecordError {
    RecordError(what.into())
}

impl From<StoreError> for RecordError {
    fn from(e: StoreError) -> Self {
        RecordError(e.to_string())
    }
}

/// The change a stream record stands for, if it is one.
pub fn change_of(record: &Value) -> Result<Option<Change>, RecordError> {
    let id = record
        .get("eventID")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no eventID"))?;
    let name = record
        .get("eventName")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no eventName"))?;
    let body = record.get("dynamodb").ok_or_else(|| bad("no dynamodb"))?;
    let keys = image(body.get("Keys"))?.ok_or_else(|| bad("no Keys"))?;
    let Some(AttributeValue::S(sk)) = keys.get("SK") else {
        return Err(bad("no SK"));
    };
    let old = image(body.get("OldImage"))?;
    let new = image(body.get("NewImage"))?;
    let at = body
        .get("ApproximateCreationDateTime")
        .and_then(Value::as_f64)
        .and_then(rfc3339_of);
    let kind = if sk == keys::resource_sk(ResourceKind::User) {
        Some(ResourceKind::User)
    } else if sk == keys::resource_sk(ResourceKind::Group) {
        Some(ResourceKind::Group)
    } else {
        None
    };
    let (tenant, change) = if let Some(kind) = kind {
        let stored = |image: &Option<Item>| -> Result<Option<Box<Stored>>, RecordError> {
            let Some(it) = image else {
                return Ok(None);
            };
            let deleted_at = match it.get("deletedAt") {
                Some(AttributeValue::S(at)) => Some(at.clone()),
                _ => None,
            };
            let mut resource = item::resource_from_item(kind, it)?;
            resource.password_hash = None;
            Ok(Some(Box::new(Stored {
                resource,
                deleted_at,
            })))
        };
        let tenant = tenant_of(new.as_ref().or(old.as_ref()))?;
        let (before, after) = (stored(&old)?, stored(&new)?);
        (tenant, ChangeKind::Resource { before, after })
    } else if sk.starts_with(keys::MEMBER_PREFIX) {
        let (it, added) = match name {
            "INSERT" => (new.as_ref(), true),
            "REMOVE" => (old.as_ref(), false),
            _ => return Ok(None),
        };
        let Some(it) = it else {
            return Err(bad("a membership record without its image"));
        };
        if edges::is_retired(it) {
            return Ok(None);
        }
        let edge = edges::from_item(it)?;
        let tenant = tenant_of(Some(it))?;
        (
            tenant,
            ChangeKind::Member {
                group: edge.group,
                member: edge.member,
                added,
            },
        )
    } else {
        return Ok(None);
    };
    Ok(Some(Change {
        id: id.to_owned(),
        tenant,
        at,
        kind: change,
    }))
}

fn tenant_of(it: Option<&Item>) -> Result<TenantId, RecordError> {
    match it.and_then(|it| it.get("tenant")) {
        Some(AttributeValue::S(t)) => TenantId::new(t.clone()).map_err(|_| bad("a bad tenant id")),
        _ => Err(bad("an item without its tenant")),
    }
}

fn rfc3339_of(seconds: f64) -> Option<String> {
    let nanos = (seconds * 1e9) as i128;
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()?;
    at.format(&time::format_description::well_known::Rfc3339)
        .ok()
}

fn image(value: Option<&Value>) -> Result<Option<Item>, RecordError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| Ok((k.clone(), attribute(v)?)))
            .collect::<Result<HashMap<_, _>, RecordError>>()
            .map(Some),
        Some(_) => Err(bad("an image that is not a map")),
    }
}

/// One attribute value in DynamoDB's typed JSON.
pub fn attribute(value: &Value) -> Result<AttributeValue, RecordError> {
    let Some((tag, inner)) = value.as_object().and_then(|m| m.iter().next()) else {
        return Err(bad("an attribute value that is not a typed map"));
    };
    let text = |v: &Value| {
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| bad("a non-string scalar"))
    };
    let texts = |v: &Value| -> Result<Vec<String>, RecordError> {
        v.as_array()
            .ok_or_else(|| bad("a set that is not a list"))?
            .iter()
            .map(text)
            .collect()
    };
    let blob = |v: &Value| -> Result<Blob, RecordError> {
        let b64 = v.as_str().ok_or_else(|| bad("a binary that is not text"))?;
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map(Blob::new)
            .map_err(|_| bad("a binary that is not base64"))
    };
    Ok(match tag.as_str() {
        "S" => AttributeValue::S(text(inner)?),
        "N" => AttributeValue::N(text(inner)?),
        "BOOL" => AttributeValue::Bool(inner.as_bool().ok_or_else(|| bad("a BOOL"))?),
        "NULL" => AttributeValue::Null(true),
        "B" => AttributeValue::B(blob(inner)?),
        "SS" => AttributeValue::Ss(texts(inner)?),
        "NS" => AttributeValue::Ns(texts(inner)?),
        "BS" => AttributeValue::Bs(
            inner
                .as_array()
                .ok_or_else(|| bad("a BS"))?
                .iter()
                .map(blob)
                .collect::<Result<_, _>>()?,
        ),
        "L" => AttributeValue::L(
            inner
                .as_array()
                .ok_or_else(|| bad("an L"))?
                .iter()
                .map(attribute)
                .collect::<Result<_, _>>()?,
        ),
        "M" => AttributeValue::M(image(Some(inner))?.ok_or_else(|| bad("an M"))?),
        other => return Err(bad(format!("an attribute of type {other}"))),
    })
}
