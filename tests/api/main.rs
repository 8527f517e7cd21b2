//! End-to-end tests over HTTP, one binary: every `both_stores!` test runs on the memory store
//! and on DynamoDB Local (`SCIMLET_DYNAMODB_ENDPOINT`; `infra/test.sh` starts it).

mod activity;
mod admin_api;
mod bad_input;
mod budget;
mod bulk;
mod cli;
mod cursor;
mod discovery;
mod events;
mod extensions;
mod failures;
mod fair_limits;
mod fidelity;
mod groups;
mod helpers;
mod iam;
mod idp;
mod isolation;
mod lambda;
mod limits;
mod migrate;
mod paging;
mod patch;
mod scale;
mod search;
mod serve_limits;
mod setup_page;
mod store_contract;
mod tenants;
mod tidy;
mod users;
