//! SCIM filters (RFC 7644 §3.4.2.2): parsing into an AST and evaluating it over resources.
//!
//! - [`grammar`] (private) holds the winnow parser, one function per ABNF rule;
//! - [`ast`] the tree, its canonical printing and [`FilterError`];
//! - [`eval`] evaluation against a rendered resource, driven by the schema.

pub mod ast;
pub mod eval;
mod grammar;

pub use ast::{AttrPath, CompValue, CompareOp, Filter, FilterError, FilterErrorKind, PatchPath};
pub use grammar::{MAX_DEPTH, MAX_FILTER_BYTES};

/// Parses a filter. Errors carry the kind, the byte offset and the input.
pub fn parse(filter: &str) -> Result<Filter, FilterError> {
    grammar::parse(filter)
}

/// Parses a PATCH `path` (`attrPath` or `valuePath [subAttr]`).
pub fn parse_patch_path(path: &str) -> Result<PatchPath, FilterError> {
    grammar::parse_patch_path(path)
}

/// Parses an attribute path on its own (`[urn:]name[.sub]`), as in `sortBy` or `attributes`.
pub fn parse_attr_path(path: &str) -> Option<AttrPath> {
    grammar::split_attr_path(path.trim())
}

#[cfg(test)]
mod tests;
