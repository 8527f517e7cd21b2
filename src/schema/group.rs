//! The core Group schema (RFC 7643 §4.2).

use super::{AttributeDef, GROUP_SCHEMA, Mutability, SchemaDef};

const MEMBER: &[AttributeDef] = &[
    AttributeDef::string("value")
        .case_exact()
        .mutability(Mutability::Immutable)
        .describe("Identifier of the member of this Group."),
    AttributeDef::reference("$ref", &["User", "Group"])
        .mutability(Mutability::Immutable)
        .describe("The URI of the member resource."),
    AttributeDef::string("display")
        .mutability(Mutability::ReadOnly)
        .describe("The member's display name."),
    AttributeDef::string("type")
        .mutability(Mutability::Immutable)
        .canonical(&["User", "Group"])
        .describe("'User' or 'Group'."),
];

const GROUP_ATTRIBUTES: &[AttributeDef] = &[
    AttributeDef::string("displayName")
        .required()
        .unique()
        .describe("A human-readable name for the Group."),
    AttributeDef::complex("members", MEMBER)
        .multi()
        .describe("A list of members of the Group."),
];

/// The core Group schema.
pub static GROUP: SchemaDef = SchemaDef {
    id: GROUP_SCHEMA,
    name: "Group",
    description: "Group",
    attributes: GROUP_ATTRIBUTES,
};
