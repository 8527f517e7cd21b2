//! The plan of a list request: which route answers its filter exactly and most cheaply. A
//! pure function of the filter, the resource type and which unique attributes the tenant
//! enforces; [`super::exec`] carries it out.

use crate::domain::{UniqueValue, is_resource_id};
use crate::error::ScimError;
use crate::filter::{self, CompValue, CompareOp, Filter};
use crate::schema::input::{MAX_KEY_VALUE_BYTES, indexed};
use crate::schema::output::hidden;
use crate::schema::{
    AttributeDef, Mutability, ResourceTypeDef, Uniqueness, common_attribute, fold_case,
    resolve_path,
};

use super::super::groups::link_attribute;

/// How a list request is answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan<'f> {
    /// No filter: every resource in id order (index paging from the page anchors, or by
    /// cursor), or examined and sorted when the request sorts.
    All,
    /// Nothing can match: the filter names an id this server never issues, or a unique value
    /// longer than any stored one. No store call is needed.
    Nothing,
    /// One strongly consistent lookup, then the whole filter checked on what it found.
    Lookup {
        /// What to look up.
        lookup: Lookup,
        /// The filter to check on the result.
        filter: &'f Filter,
    },
    /// From the membership edges of one resource; then the rest of the filter, if any.
    Linked {
        /// The resource whose edges answer the membership term.
        target: String,
        /// The filter without its membership term (`None`: the term was the whole filter).
        rest: Option<Filter>,
    },
    /// Examine the tenant's resources in id order (bounded by `max_scan`).
    Scan(&'f Filter),
}

/// A filter answerable by one consistent lookup.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// `id eq "…"`
    Id(String),
    /// `userName eq "…"`, `externalId eq "…"`, `displayName eq "…"` (a uniqueness guard).
    Unique(UniqueValue),
    /// `externalId eq "…"` where the tenant does not keep it unique: the lookup index's
    /// entries under the value (one consistent query; any number of resources).
    Indexed(UniqueValue),
}

/// Plans a list request. `enforced` says whether the tenant enforces the uniqueness of an
/// attribute (only then does a guard exist to look up). A filter that uses the membership
/// attribute in any other way than `value eq "<id>"` is 400 `invalidFilter`.
pub fn plan<'f>(
    filter: Option<&'f Filter>,
    rt: &ResourceTypeDef,
    enforced: impl Fn(&AttributeDef) -> bool,
) -> Result<Plan<'f>, ScimError> {
    let Some(f) = filter else {
        return Ok(Plan::All);
    };
    if let Some(target) = link_lookup(f, rt)? {
        if !is_resource_id(&target) {
            return Ok(Plan::Nothing);
        }
        return Ok(Plan::Linked {
            rest: without_link_term(f, rt),
            target,
        });
    }
    Ok(match direct_lookup(f, rt, enforced) {
        Some(Lookup::Id(id)) if !is_resource_id(&id) => Plan::Nothing,
        Some(Lookup::Unique(value) | Lookup::Indexed(value))
            if value.normalized.len() > MAX_KEY_VALUE_BYTES =>
        {
            Plan::Nothing
        }
        Some(lookup) => Plan::Lookup { lookup, filter: f },
        None => Plan::Scan(f),
    })
}

/// Whether a filter can be evaluated on a resource's stored attributes instead of on its
/// rendering, with the same result: it names no attribute that rendering adds (the
/// server-computed, read-only ones: `id`, `meta`, a user's `groups`) or leaves out
/// (`returned: never`, write-only). A name no schema defines is the same 400 either way.
pub fn attributes_suffice(f: &Filter, rt: &ResourceTypeDef) -> bool {
    let as_stored = |p: &filter::AttrPath| {
        resolve_path(rt, p).is_none_or(|r| {
            r.def.mutability != Mutability::ReadOnly
                && !hidden(r.def)
                && r.sub.is_none_or(|sub| !hidden(sub))
        })
    };
    match f {
        Filter::Compare { path, .. } | Filter::Present(path) => as_stored(path),
        Filter::ValuePath { path, .. } => as_stored(path),
        Filter::And(items) | Filter::Or(items) => items.iter().all(|i| attributes_suffice(i, rt)),
        Filter::Not(inner) => attributes_suffice(inner, rt),
    }
}

/// Whether a path names this resource type's membership attribute (`members`, `groups`).
fn names_links(p: &filter::AttrPath, rt: &ResourceTypeDef) -> bool {
    p.name.eq_ignore_ascii_case(link_attribute(rt.kind))
        && p.urn
            .as_deref()
            .is_none_or(|u| u.eq_ignore_ascii_case(rt.core.id))
}

/// Whether a filter names the membership attribute of this resource type anywhere.
fn mentions_links(f: &Filter, rt: &ResourceTypeDef) -> bool {
    match f {
        Filter::Compare { path, .. } | Filter::Present(path) => names_links(path, rt),
        Filter::ValuePath { path, .. } => names_links(path, rt),
        Filter::And(items) | Filter::Or(items) => items.iter().any(|i| mentions_links(i, rt)),
        Filter::Not(inner) => mentions_links(inner, rt),
    }
}

/// The id in `members.value eq "<id>"` or `members[value eq "<id>"]` (`groups` for Users).
fn link_eq(f: &Filter, rt: &ResourceTypeDef) -> Option<String> {
    match f {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::String(id),
        } if names_links(path, rt)
            && path
                .sub
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("value")) =>
        {
            Some(id.clone())
        }
        Filter::ValuePath { path, filter } if names_links(path, rt) && path.sub.is_none() => {
            match filter.as_ref() {
                Filter::Compare {
                    path: inner,
                    op: CompareOp::Eq,
                    value: CompValue::String(id),
                } if inner.urn.is_none()
                    && inner.sub.is_none()
                    && inner.name.eq_ignore_ascii_case("value") =>
                {
                    Some(id.clone())
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// For a filter on membership: the id whose edges answer it. Any other use is a 400.
fn link_lookup(f: &Filter, rt: &ResourceTypeDef) -> Result<Option<String>, ScimError> {
    if !mentions_links(f, rt) {
        return Ok(None);
    }
    if let Some(id) = link_eq(f, rt) {
        return Ok(Some(id));
    }
    if let Filter::And(items) = f {
        let mut eqs = items.iter().filter_map(|i| link_eq(i, rt));
        let others_clean = items
            .iter()
            .filter(|i| link_eq(i, rt).is_none())
            .all(|i| !mentions_links(i, rt));
        if let (Some(id), None, true) = (eqs.next(), eqs.next(), others_clean) {
            return Ok(Some(id));
        }
    }
    let attr = link_attribute(rt.kind);
    Err(ScimError::InvalidFilter(format!(
        "filters on '{attr}' support only '{attr}.value eq \"<id>\"' or \
         '{attr}[value eq \"<id>\"]', alone or joined with 'and'"
    )))
}

/// The rest of a membership filter once its membership term is known to hold: `None` when
/// the term was the whole filter.
fn without_link_term(f: &Filter, rt: &ResourceTypeDef) -> Option<Filter> {
    match f {
        Filter::And(items) => {
            let rest: Vec<Filter> = items
                .iter()
                .filter(|i| link_eq(i, rt).is_none())
                .cloned()
                .collect();
            match rest.len() {
                0 => None,
                1 => rest.into_iter().next(),
                _ => Some(Filter::And(rest)),
            }
        }
        _ => None,
    }
}

/// Recognises `attr eq "value"` on `id` or on a unique attribute of the core schema whose
/// uniqueness the tenant enforces.
fn direct_lookup(
    f: &Filter,
    rt: &ResourceTypeDef,
    enforced: impl Fn(&AttributeDef) -> bool,
) -> Option<Lookup> {
    let Filter::Compare {
        path,
        op: CompareOp::Eq,
        value: CompValue::String(value),
    } = f
    else {
        return None;
    };
    let core_or_none = path
        .urn
        .as_deref()
        .is_none_or(|u| u.eq_ignore_ascii_case(rt.core.id));
    if path.sub.is_some() || !core_or_none {
        return None;
    }
    if path.name.eq_ignore_ascii_case("id") && path.urn.is_none() {
        return Some(Lookup::Id(value.clone()));
    }
    let def = common_attribute(&path.name).or_else(|| rt.core.attribute(&path.name))?;
    if def.uniqueness != Uniqueness::Server || def.name == "id" {
        return None;
    }
    let normalized = if def.case_exact {
        value.clone()
    } else {
        fold_case(value)
    };
    let value = UniqueValue {
        attr: def.name,
        normalized,
    };
    if enforced(def) {
        Some(Lookup::Unique(value))
    } else if indexed(def) {
        Some(Lookup::Indexed(value))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{GROUP_TYPE, USER_TYPE};

    const ID: &str = "0190c5a2-7b3e-7c1d-9f00-123456789012";

    fn parsed(text: &str) -> Filter {
        filter::parse(text).expect("a valid filter")
    }

    fn users(text: &str) -> Result<Plan<'static>, ScimError> {
        let f: &'static Filter = Box::leak(Box::new(parsed(text)));
        plan(Some(f), &USER_TYPE, |_| true)
    }

    fn groups(text: &str) -> Result<Plan<'static>, ScimError> {
        let f: &'static Filter = Box::leak(Box::new(parsed(text)));
        plan(Some(f), &GROUP_TYPE, |_| true)
    }

    #[test]
    fn no_filter_reads_everything_in_order() {
        assert_eq!(plan(None, &USER_TYPE, |_| true).unwrap(), Plan::All);
    }

    #[test]
    fn equality_on_id_or_an_enforced_unique_attribute_is_one_lookup() {
        let Plan::Lookup { lookup, .. } = users(&format!("id eq \"{ID}\"")).unwrap() else {
            panic!("id eq is a lookup");
        };
        assert_eq!(lookup, Lookup::Id(ID.into()));
        let Plan::Lookup { lookup, .. } = users("USERNAME eq \"Alice@Example.com\"").unwrap()
        else {
            panic!("userName eq is a lookup");
        };
        assert_eq!(
            lookup,
            Lookup::Unique(UniqueValue {
                attr: "userName",
                normalized: fold_case("Alice@Example.com"),
            })
        );
        let Plan::Lookup { lookup, .. } = groups("displayName eq \"Admins\"").unwrap() else {
            panic!("displayName eq is a lookup on Groups");
        };
        assert!(matches!(lookup, Lookup::Unique(v) if v.attr == "displayName"));
    }

    #[test]
    fn uniqueness_the_tenant_does_not_enforce_has_no_guard_to_look_up() {
        let f = parsed("userName eq \"alice\"");
        let planned = plan(Some(&f), &USER_TYPE, |d| d.name != "userName").unwrap();
        assert_eq!(planned, Plan::Scan(&f));
    }

    #[test]
    fn a_shared_external_id_is_looked_up_in_the_index_not_scanned() {
        let f = parsed("externalId eq \"Ext-1\"");
        let not_unique = |d: &AttributeDef| d.name != "externalId";
        assert_eq!(
            plan(Some(&f), &USER_TYPE, not_unique).unwrap(),
            Plan::Lookup {
                lookup: Lookup::Indexed(UniqueValue {
                    attr: "externalId",
                    normalized: "Ext-1".into(),
                }),
                filter: &f,
            }
        );
        // Where the tenant keeps it unique, its guard answers.
        assert!(matches!(
            plan(Some(&f), &GROUP_TYPE, |_| true).unwrap(),
            Plan::Lookup {
                lookup: Lookup::Unique(_),
                ..
            }
        ));
        // Group names the tenant does not keep unique are not indexed: scanned.
        let g = parsed("displayName eq \"Ops\"");
        assert_eq!(
            plan(Some(&g), &GROUP_TYPE, |_| false).unwrap(),
            Plan::Scan(&g)
        );
    }

    #[test]
    fn values_no_resource_can_have_match_nothing() {
        for text in [
            "id eq \"not-an-id\"".to_owned(),
            format!("id eq \"{}\"", ID.to_uppercase()),
            format!("userName eq \"{}\"", "x".repeat(MAX_KEY_VALUE_BYTES + 1)),
        ] {
            assert_eq!(users(&text).unwrap(), Plan::Nothing, "{text}");
        }
        assert_eq!(groups("members[value eq \"nope\"]").unwrap(), Plan::Nothing);
        assert_eq!(users("groups.value eq \"nope\"").unwrap(), Plan::Nothing);
    }

    #[test]
    fn membership_terms_are_answered_from_edges_with_the_rest_checked_after() {
        for text in [
            format!("members.value eq \"{ID}\""),
            format!("members[value eq \"{ID}\"]"),
        ] {
            assert_eq!(
                groups(&text).unwrap(),
                Plan::Linked {
                    target: ID.into(),
                    rest: None
                },
                "{text}"
            );
        }
        let planned = groups(&format!(
            "displayName sw \"a\" and members.value eq \"{ID}\" and externalId pr"
        ))
        .unwrap();
        assert_eq!(
            planned,
            Plan::Linked {
                target: ID.into(),
                rest: Some(parsed("displayName sw \"a\" and externalId pr")),
            }
        );
        assert!(matches!(
            users(&format!("groups.value eq \"{ID}\"")).unwrap(),
            Plan::Linked { .. }
        ));
    }

    #[test]
    fn other_uses_of_membership_are_invalid_filters() {
        for text in [
            "members.display eq \"x\"".to_owned(),
            "members pr".to_owned(),
            format!("members.value eq \"{ID}\" or displayName eq \"x\""),
            format!("members.value eq \"{ID}\" and members.value eq \"{ID}\""),
            format!("not (members.value eq \"{ID}\")"),
        ] {
            let err = groups(&text).unwrap_err();
            assert!(
                matches!(err, ScimError::InvalidFilter(_)),
                "{text}: {err:?}"
            );
        }
    }

    #[test]
    fn stored_attributes_answer_filters_that_name_no_computed_or_hidden_attribute() {
        let suffice = |text: &str| attributes_suffice(&parsed(text), &USER_TYPE);
        for text in [
            "emails co \"example\"",
            "emails[type eq \"work\" and value co \"@\"]",
            "userName sw \"a\" or not (name.familyName pr)",
            "externalId eq \"x\"",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value pr",
            "nosuchattribute eq 1",
        ] {
            assert!(suffice(text), "{text}");
        }
        for text in [
            "id eq \"x\"",
            "meta.lastModified gt \"2026-01-01T00:00:00Z\"",
            "userName pr and meta.resourceType eq \"User\"",
            "password pr",
            "groups.display eq \"x\"",
        ] {
            assert!(!suffice(text), "{text}");
        }
    }

    #[test]
    fn everything_else_is_scanned() {
        for text in [
            "emails co \"example\"",
            "userName eq \"a\" and title eq \"b\"",
            "userName sw \"a\"",
            "name.familyName eq \"x\"",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq \"1\"",
        ] {
            assert!(matches!(users(text).unwrap(), Plan::Scan(_)), "{text}");
        }
    }
}
