//! scimlet: a multi-tenant SCIM 2.0 service provider (RFC 7643 / RFC 7644) for AWS Lambda
//! and DynamoDB, also runnable locally on an embedded store.
//!
//! # Layout
//!
//! - [`admin`]: tenant and token administration (the CLI's commands).
//! - [`app`]: [`App`], the entry point: `App::handle(Request) -> Response`, never failing.
//! - [`http`]: routing into a closed `Route` enum, query strings, responses, and the two front
//!   doors: the local hyper server ([`http::serve`]) and the Lambda adapter ([`http::lambda`]).
//! - [`clock`]: RFC 3339 timestamps.
//! - [`auth`]: bearer token format, argon2id hashing and verification, the warm cache.
//! - [`domain`]: the types every layer shares (tenants, resources, links, unique values).
//! - [`ops`]: the SCIM operations (users, listing) over a tenant-scoped store.
//! - [`patch`]: the PATCH engine (RFC 7644 §3.5.2) and IdP dialects.
//! - [`schema`]: resource types and attribute definitions; input normalisation and output.
//! - [`filter`]: the filter grammar (winnow), its AST and evaluation.
//! - [`store`]: the store traits, the key layout, the in-memory and DynamoDB stores.
//! - [`logging`]: the log filter of the binaries (request-handling crates capped at `info`).
//! - [`request_log`]: the request log line (text, or CloudWatch embedded metric format).
//! - [`config`]: configuration from the environment, validated once.
//! - [`error`]: `ScimError`, every failure with its status and `scimType`.
//! - [`events`]: change events for the host application, from the stores' changes.
//! - [`secret`]: random ids and secrets, digests, constant-time comparison.
//! - [`setup`]: the setup page a customer's IT admin opens from a setup link.
//!
//! The SCIM core (everything but `store::dynamo` and `http::lambda`) names no AWS or Lambda
//! type; see ARCHITECTURE.md for the invariants.

pub mod activity;
pub mod admin;
pub mod app;
pub mod auth;
pub mod clock;
pub mod config;
pub mod domain;
pub mod error;
pub mod events;
pub mod filter;
pub mod http;
pub mod logging;
pub mod ops;
pub mod patch;
pub mod request_log;
pub mod schema;
pub mod secret;
pub mod setup;
pub mod store;

pub use app::App;
pub use config::Config;
pub use error::ScimError;
