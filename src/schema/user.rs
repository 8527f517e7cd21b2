//! The core User schema (RFC 7643 §4.1) and the enterprise User extension (RFC 7643 §4.3).

use super::{
    AttrType, AttributeDef, ENTERPRISE_USER_SCHEMA, Mutability, Returned, SchemaDef, USER_SCHEMA,
};

const fn s(name: &'static str) -> AttributeDef {
    AttributeDef::string(name)
}

const TYPE: AttributeDef = s("type").describe("A label indicating the attribute's function.");
const PRIMARY: AttributeDef = AttributeDef::new("primary", AttrType::Boolean)
    .describe("Indicates the 'primary' or preferred value for this attribute.");
const DISPLAY: AttributeDef =
    s("display").describe("A human-readable name, primarily for display.");

/// `value`, `display`, `type`, `primary`: the sub-attributes most multi-valued attributes share.
const PLURAL: &[AttributeDef] = &[s("value"), DISPLAY, TYPE, PRIMARY];

const NAME: &[AttributeDef] = &[
    s("formatted").describe("The full name, formatted for display."),
    s("familyName").describe("The family name."),
    s("givenName").describe("The given name."),
    s("middleName").describe("The middle name(s)."),
    s("honorificPrefix").describe("The honorific prefix(es), e.g. 'Ms.'."),
    s("honorificSuffix").describe("The honorific suffix(es), e.g. 'III'."),
];

const PHOTO: &[AttributeDef] = &[
    AttributeDef::reference("value", &["external"]).describe("URL of a photo of the user."),
    DISPLAY,
    TYPE,
    PRIMARY,
];

const ADDRESS: &[AttributeDef] = &[
    s("formatted").describe("The full mailing address, formatted for display."),
    s("streetAddress").describe("The full street address component."),
    s("locality").describe("The city or locality component."),
    s("region").describe("The state or region component."),
    s("postalCode").describe("The zip code or postal code component."),
    s("country").describe("The country name component (ISO 3166-1 alpha-2)."),
    TYPE,
    PRIMARY,
];

const GROUP_MEMBERSHIP: &[AttributeDef] = &[
    s("value")
        .mutability(Mutability::ReadOnly)
        .describe("The identifier of the user's group."),
    AttributeDef::reference("$ref", &["User", "Group"])
        .mutability(Mutability::ReadOnly)
        .describe("The URI of the group."),
    s("display")
        .mutability(Mutability::ReadOnly)
        .describe("The group's display name."),
    s("type")
        .mutability(Mutability::ReadOnly)
        .canonical(&["direct", "indirect"])
        .describe("'direct' or 'indirect' membership."),
];

const CERTIFICATE: &[AttributeDef] = &[
    AttributeDef::new("value", AttrType::Binary).describe("The DER-encoded X.509 certificate."),
    DISPLAY,
    TYPE,
    PRIMARY,
];

const USER_ATTRIBUTES: &[AttributeDef] = &[
    s("userName")
        .required()
        .unique()
        .describe("Unique identifier for the User, used to authenticate; case-insensitive."),
    AttributeDef::complex("name", NAME).describe("The components of the user's real name."),
    s("displayName").describe("The name of the User, suitable for display."),
    s("nickName").describe("The casual way to address the user."),
    AttributeDef::reference("profileUrl", &["external"])
        .describe("A URI that is a uniform resource locator to the User's online profile."),
    s("title").describe("The user's title, such as 'Vice President'."),
    s("userType").describe("The relationship between the organization and the user."),
    s("preferredLanguage").describe("The User's preferred written or spoken language."),
    s("locale").describe("The User's default location for localization."),
    s("timezone").describe("The User's time zone in the IANA Time Zone database format."),
    AttributeDef::new("active", AttrType::Boolean)
        .describe("A Boolean value indicating the User's administrative status."),
    s("password")
        .case_exact()
        .mutability(Mutability::WriteOnly)
        .returned(Returned::Never)
        .describe("The User's cleartext password, stored only as an argon2id hash."),
    AttributeDef::complex("emails", PLURAL)
        .multi()
        .describe("Email addresses for the user."),
    AttributeDef::complex("phoneNumbers", PLURAL)
        .multi()
        .describe("Phone numbers for the User."),
    AttributeDef::complex("ims", PLURAL)
        .multi()
        .describe("Instant messaging addresses for the User."),
    AttributeDef::complex("photos", PHOTO)
        .multi()
        .describe("URLs of photos of the User."),
    AttributeDef::complex("addresses", ADDRESS)
        .multi()
        .describe("A physical mailing address for this User."),
    AttributeDef::complex("groups", GROUP_MEMBERSHIP)
        .multi()
        .mutability(Mutability::ReadOnly)
        .describe("The groups the user belongs to (direct membership)."),
    AttributeDef::complex("entitlements", PLURAL)
        .multi()
        .describe("Entitlements for the User."),
    AttributeDef::complex("roles", PLURAL)
        .multi()
        .describe("Roles for the User."),
    AttributeDef::complex("x509Certificates", CERTIFICATE)
        .multi()
        .describe("X.509 certificates issued to the User."),
];

/// The core User schema.
pub static USER: SchemaDef = SchemaDef {
    id: USER_SCHEMA,
    name: "User",
    description: "User Account",
    attributes: USER_ATTRIBUTES,
};

const MANAGER: &[AttributeDef] = &[
    s("value").describe("The id of the SCIM resource representing the User's manager."),
    AttributeDef::reference("$ref", &["User"]).describe("The URI of the manager's resource."),
    s("displayName")
        .mutability(Mutability::ReadOnly)
        .describe("The displayName of the User's manager."),
];

const ENTERPRISE_ATTRIBUTES: &[AttributeDef] = &[
    s("employeeNumber").describe("Numeric or alphanumeric identifier assigned to a person."),
    s("costCenter").describe("Identifies the name of a cost center."),
    s("organization").describe("Identifies the name of an organization."),
    s("division").describe("Identifies the name of a division."),
    s("department").describe("Identifies the name of a department."),
    AttributeDef::complex("manager", MANAGER).describe("The User's manager."),
];

/// The enterprise User extension.
pub static ENTERPRISE_USER: SchemaDef = SchemaDef {
    id: ENTERPRISE_USER_SCHEMA,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: ENTERPRISE_ATTRIBUTES,
};
