//! Resource types and attribute definitions (RFC 7643): the one source of truth for attribute
//! names, types, mutability, `returned`, `caseExact` and uniqueness.
//!
//! Request bodies are checked and normalised against these definitions in [`input`]; responses
//! are shaped by them in [`output`]. Attribute names are matched case-insensitively
//! (RFC 7643 §2.1) and stored under their canonical spelling.

pub mod discovery;
mod group;
pub mod input;
pub mod message;
pub mod output;
pub mod projection;
pub mod registry;
mod user;

pub use group::GROUP;

use crate::domain::ResourceKind;
pub use user::{ENTERPRISE_USER, USER};

/// URN of the core User schema.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// URN of the enterprise User extension.
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// URN of the core Group schema.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// URN of the list response message.
pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// A SCIM attribute data type (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    /// `string`
    String,
    /// `boolean`
    Boolean,
    /// `decimal`
    Decimal,
    /// `integer`
    Integer,
    /// `dateTime` (an RFC 3339 string)
    DateTime,
    /// `binary` (base64 string)
    Binary,
    /// `reference` (a URI string)
    Reference,
    /// `complex` (an object of sub-attributes)
    Complex,
}

impl AttrType {
    /// The RFC 7643 §7 name of the type.
    pub fn name(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Binary => "binary",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
        }
    }
}

/// When an attribute may be written (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    /// `readOnly`: set by the server; ignored on input.
    ReadOnly,
    /// `readWrite`
    ReadWrite,
    /// `immutable`: may be set once, never changed.
    Immutable,
    /// `writeOnly`: accepted, never returned.
    WriteOnly,
}

/// When an attribute is returned (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    /// `always`
    Always,
    /// `never`
    Never,
    /// `default`
    Default,
    /// `request`: only when named in `attributes`.
    Request,
}

/// Uniqueness of an attribute's values (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    /// `none`
    None,
    /// `server`: unique within the tenant and resource type (enforced by the store).
    Server,
    /// `global`
    Global,
}

/// The definition of one attribute or sub-attribute.
#[derive(Debug)]
pub struct AttributeDef {
    /// Canonical name.
    pub name: &'static str,
    /// Data type.
    pub ty: AttrType,
    /// Whether the value is a JSON array.
    pub multi_valued: bool,
    /// Whether a value must be present on create/replace.
    pub required: bool,
    /// Whether string comparisons are case-sensitive.
    pub case_exact: bool,
    /// Mutability.
    pub mutability: Mutability,
    /// When it is returned.
    pub returned: Returned,
    /// Uniqueness.
    pub uniqueness: Uniqueness,
    /// Sub-attributes of a complex attribute.
    pub sub_attributes: &'static [AttributeDef],
    /// For `reference` attributes: what they may refer to (`User`, `Group`, `external`, `uri`).
    pub reference_types: &'static [&'static str],
    /// Suggested values (RFC 7643 §7 `canonicalValues`), announced in /Schemas.
    pub canonical_values: &'static [&'static str],
    /// Human description for /Schemas.
    pub description: &'static str,
}

impl AttributeDef {
    /// A single-valued, optional, case-insensitive `readWrite` attribute returned by default.
    pub const fn new(name: &'static str, ty: AttrType) -> Self {
        AttributeDef {
            name,
            ty,
            multi_valued: false,
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            sub_attributes: &[],
            reference_types: &[],
            canonical_values: &[],
            description: "",
        }
    }

    /// A `string` attribute.
    pub const fn string(name: &'static str) -> Self {
        Self::new(name, AttrType::String)
    }

    /// A `complex` attribute with these sub-attributes.
    pub const fn complex(name: &'static str, subs: &'static [AttributeDef]) -> Self {
        let mut a = Self::new(name, AttrType::Complex);
        a.sub_attributes = subs;
        a
    }

    /// Makes it multi-valued.
    pub const fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }

    /// Makes it required.
    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// Makes string comparisons case-sensitive.
    pub const fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }

    /// Sets the mutability.
    pub const fn mutability(mut self, m: Mutability) -> Self {
        self.mutability = m;
        self
    }

    /// Sets when it is returned.
    pub const fn returned(mut self, r: Returned) -> Self {
        self.returned = r;
        self
    }

    /// Makes it unique within the tenant (`uniqueness: server`).
    pub const fn unique(mut self) -> Self {
        self.uniqueness = Uniqueness::Server;
        self
    }

    /// A `reference` attribute to these kinds of target.
    pub const fn reference(name: &'static str, targets: &'static [&'static str]) -> Self {
        let mut a = Self::new(name, AttrType::Reference);
        a.reference_types = targets;
        a
    }

    /// Sets the canonical values.
    pub const fn canonical(mut self, values: &'static [&'static str]) -> Self {
        self.canonical_values = values;
        self
    }

    /// Sets the description.
    pub const fn describe(mut self, d: &'static str) -> Self {
        self.description = d;
        self
    }

    /// Finds a sub-attribute by name, case-insensitively.
    pub fn sub_attribute(&self, name: &str) -> Option<&'static AttributeDef> {
        find(self.sub_attributes, name)
    }
}

/// A schema: a URN and its top-level attributes.
#[derive(Debug)]
pub struct SchemaDef {
    /// Schema URN (its `id`).
    pub id: &'static str,
    /// Human name.
    pub name: &'static str,
    /// Human description.
    pub description: &'static str,
    /// Top-level attributes.
    pub attributes: &'static [AttributeDef],
}

impl SchemaDef {
    /// Finds a top-level attribute by name, case-insensitively.
    pub fn attribute(&self, name: &str) -> Option<&'static AttributeDef> {
        find(self.attributes, name)
    }
}

/// A resource type: its core schema and the extensions it accepts.
#[derive(Debug)]
pub struct ResourceTypeDef {
    /// The kind.
    pub kind: ResourceKind,
    /// The core schema.
    pub core: &'static SchemaDef,
    /// Schema extensions (all optional).
    pub extensions: &'static [&'static SchemaDef],
}

impl ResourceTypeDef {
    /// Finds an extension schema by URN, case-insensitively.
    pub fn extension(&self, urn: &str) -> Option<&'static SchemaDef> {
        self.extensions
            .iter()
            .copied()
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }
}

/// Attributes every resource has (RFC 7643 §3.1), outside any schema's attribute list.
pub static COMMON: &[AttributeDef] = &[
    AttributeDef::string("id")
        .case_exact()
        .mutability(Mutability::ReadOnly)
        .returned(Returned::Always)
        .unique()
        .describe("Unique identifier for the resource, assigned by the service provider."),
    AttributeDef::string("externalId")
        .case_exact()
        .unique()
        .describe("Identifier of the resource in the provisioning client's domain."),
    AttributeDef::complex("meta", META)
        .mutability(Mutability::ReadOnly)
        .describe("Resource metadata."),
];

const META: &[AttributeDef] = &[
    AttributeDef::string("resourceType")
        .case_exact()
        .mutability(Mutability::ReadOnly),
    AttributeDef::new("created", AttrType::DateTime).mutability(Mutability::ReadOnly),
    AttributeDef::new("lastModified", AttrType::DateTime).mutability(Mutability::ReadOnly),
    AttributeDef::reference("location", &["uri"]).mutability(Mutability::ReadOnly),
    AttributeDef::string("version")
        .case_exact()
        .mutability(Mutability::ReadOnly),
];

/// Finds a common attribute (`id`, `externalId`, `meta`) by name, case-insensitively.
pub fn common_attribute(name: &str) -> Option<&'static AttributeDef> {
    find(COMMON, name)
}

/// The User resource type (built in; a deployment's registry may add extensions).
pub static USER_TYPE: ResourceTypeDef = ResourceTypeDef {
    kind: ResourceKind::User,
    core: &USER,
    extensions: &[&ENTERPRISE_USER],
};

/// The Group resource type.
pub static GROUP_TYPE: ResourceTypeDef = ResourceTypeDef {
    kind: ResourceKind::Group,
    core: &GROUP,
    extensions: &[],
};

fn find(attrs: &'static [AttributeDef], name: &str) -> Option<&'static AttributeDef> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

/// An attribute path resolved against a resource type's schemas.
#[derive(Debug, Clone, Copy)]
pub struct ResolvedPath {
    /// The extension holding the attribute (`None`: core schema or common attribute).
    pub ext: Option<&'static SchemaDef>,
    /// The top-level attribute.
    pub def: &'static AttributeDef,
    /// The sub-attribute named by the path, if any.
    pub sub: Option<&'static AttributeDef>,
}

/// Resolves `[urn:]name[.sub]` (names case-insensitive) to its definitions; `None` if it
/// names no attribute of the resource type.
pub fn resolve_path(rt: &ResourceTypeDef, path: &crate::filter::AttrPath) -> Option<ResolvedPath> {
    let (ext, def) = match &path.urn {
        None => (
            None,
            common_attribute(&path.name).or_else(|| rt.core.attribute(&path.name))?,
        ),
        Some(urn) if urn.eq_ignore_ascii_case(rt.core.id) => (None, rt.core.attribute(&path.name)?),
        Some(urn) => {
            let ext = rt.extension(urn)?;
            (Some(ext), ext.attribute(&path.name)?)
        }
    };
    let sub = match &path.sub {
        Some(name) => Some(def.sub_attribute(name)?),
        None => None,
    };
    Some(ResolvedPath { ext, def, sub })
}

/// Normalises a case-insensitive value for comparisons and uniqueness keys (Unicode lowercase).
pub fn fold_case(value: &str) -> String {
    value.to_lowercase()
}
