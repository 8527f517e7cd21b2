//! Opaque cursors (RFC 9865): the id to continue after, bound to the tenant, the resource type
//! and the filter, so a cursor cannot be replayed against another query.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::super::Ctx;
use super::super::request::ListParams;
use crate::domain::is_resource_id;
use crate::error::ScimError;
use crate::schema::ResourceTypeDef;

fn binding(ctx: &Ctx<'_>, rt: &ResourceTypeDef, params: &ListParams, after: &str) -> String {
    let filter = params
        .filter
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    let digest =
        Sha256::digest(format!("{}\n{}\n{filter}\n{after}", ctx.tenant, rt.kind.name()).as_bytes());
    crate::secret::hex(&digest[..8])
}

/// The cursor of the page after `after`.
pub fn encode(ctx: &Ctx<'_>, rt: &ResourceTypeDef, params: &ListParams, after: &str) -> String {
    format!(
        "1.{}.{}",
        URL_SAFE_NO_PAD.encode(after),
        binding(ctx, rt, params, after)
    )
}

/// The id to continue after (`None` for the first page, an empty cursor).
pub fn decode(
    ctx: &Ctx<'_>,
    rt: &ResourceTypeDef,
    params: &ListParams,
    raw: &str,
) -> Result<Option<String>, ScimError> {
    if raw.is_empty() {
        return Ok(None);
    }
    let invalid = || ScimError::InvalidCursor("the cursor is not one this query issued".into());
    let mut parts = raw.splitn(3, '.');
    let (Some("1"), Some(id), Some(check)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid());
    };
    let after = URL_SAFE_NO_PAD
        .decode(id)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(invalid)?;
    if !is_resource_id(&after) || binding(ctx, rt, params, &after) != check {
        return Err(invalid());
    }
    Ok(Some(after))
}
