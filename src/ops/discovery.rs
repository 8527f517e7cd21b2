//! `/ServiceProviderConfig`, `/ResourceTypes[/{name}]`, `/Schemas[/{urn}]` (RFC 7644 §4).
//! They need the tenant's token like every endpoint, and describe what this server does.

use serde_json::{Value, json};

use super::{Ctx, Reply};
use crate::error::ScimError;
use crate::schema::LIST_RESPONSE_SCHEMA;
use crate::schema::SchemaDef;
use crate::schema::discovery::{
    find_resource_type, find_schema, owner_of, resource_type_doc, resource_types, schema_doc,
    service_provider_config,
};

/// RFC 7644 §4: a filter on a discovery endpoint SHOULD be refused with 403, so that a
/// client cannot believe its conditions were applied.
fn refuse_filter(filtered: bool) -> Result<(), ScimError> {
    if filtered {
        return Err(ScimError::Forbidden(
            "discovery endpoints do not support filtering".into(),
        ));
    }
    Ok(())
}

fn list_response(resources: Vec<Value>) -> Reply {
    Reply::ok(json!({
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": resources.len(),
        "itemsPerPage": resources.len(),
        "startIndex": 1,
        "Resources": resources,
    }))
}

/// `GET /ServiceProviderConfig`
pub fn service_provider(ctx: &Ctx<'_>, filtered: bool) -> Result<Reply, ScimError> {
    refuse_filter(filtered)?;
    Ok(Reply::ok(service_provider_config(
        ctx.config,
        ctx.settings,
        ctx.base_url,
    )))
}

/// `GET /ResourceTypes` and `GET /ResourceTypes/{name}`
pub fn resource_type_docs(
    ctx: &Ctx<'_>,
    filtered: bool,
    name: Option<&str>,
) -> Result<Reply, ScimError> {
    refuse_filter(filtered)?;
    match name {
        None => Ok(list_response(resource_types(
            ctx.config.registry,
            ctx.base_url,
        ))),
        Some(name) => find_resource_type(ctx.config.registry, name)
            .map(|rt| Reply::ok(resource_type_doc(rt, ctx.base_url)))
            .ok_or_else(|| ScimError::NotFound(format!("no resource type '{name}'"))),
    }
}

/// A schema as this tenant sees it (its uniqueness switches applied).
fn tenant_schema_doc(ctx: &Ctx<'_>, schema: &SchemaDef) -> Value {
    match owner_of(ctx.config.registry, schema) {
        Some(rt) => schema_doc(schema, ctx.base_url, |d| ctx.enforces(rt, d)),
        None => schema_doc(schema, ctx.base_url, |_| true),
    }
}

/// `GET /Schemas` and `GET /Schemas/{urn}`
pub fn schema_docs(ctx: &Ctx<'_>, filtered: bool, urn: Option<&str>) -> Result<Reply, ScimError> {
    refuse_filter(filtered)?;
    match urn {
        None => Ok(list_response(
            ctx.config
                .registry
                .schemas()
                .into_iter()
                .map(|s| tenant_schema_doc(ctx, s))
                .collect(),
        )),
        Some(urn) => find_schema(ctx.config.registry, urn)
            .map(|s| Reply::ok(tenant_schema_doc(ctx, s)))
            .ok_or_else(|| ScimError::NotFound(format!("no schema '{urn}'"))),
    }
}
