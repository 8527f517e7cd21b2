//! `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9): which attributes a
//! response carries. `id` and `schemas` are always returned; `schemas` is recomputed to list
//! only the extensions left in the response. Names are matched case-insensitively and
//! resolved against the schema; names of no attribute are ignored.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{ResourceTypeDef, Returned, resolve_path};
use crate::filter::parse_attr_path;

/// Attributes that every response carries whatever the client asks.
const ALWAYS: [&str; 2] = ["id", "schemas"];

/// A tree of canonical attribute names: a leaf selects everything below it.
#[derive(Debug, Clone, Default, PartialEq)]
struct Tree {
    /// `true` once a path ended here (the whole subtree is selected).
    all: bool,
    children: BTreeMap<String, Tree>,
}

impl Tree {
    fn insert(&mut self, path: &[&str]) {
        match path.split_first() {
            None => {
                self.all = true;
                self.children.clear();
            }
            Some((first, rest)) if !self.all => {
                self.children
                    .entry((*first).to_owned())
                    .or_default()
                    .insert(rest);
            }
            Some(_) => {}
        }
    }

    fn is_empty(&self) -> bool {
        !self.all && self.children.is_empty()
    }

    /// Whether `path` (or a path above it) was inserted.
    fn contains(&self, path: &[&str]) -> bool {
        if self.all {
            return true;
        }
        match path.split_first() {
            None => false,
            Some((first, rest)) => self.children.get(*first).is_some_and(|t| t.contains(rest)),
        }
    }
}

/// The top-level attribute paths (core, and extension attributes under their URN) whose
/// `returned` is `which`.
fn by_returned(rt: &ResourceTypeDef, which: Returned) -> Vec<Vec<&'static str>> {
    let core = rt
        .core
        .attributes
        .iter()
        .filter(|d| d.returned == which)
        .map(|d| vec![d.name]);
    let extensions = rt.extensions.iter().flat_map(|ext| {
        ext.attributes
            .iter()
            .filter(move |d| d.returned == which)
            .map(move |d| vec![ext.id, d.name])
    });
    core.chain(extensions).collect()
}

/// What to return of each resource.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Projection {
    include: Option<Tree>,
    exclude: Tree,
}

/// Resolves an attribute name to canonical path segments (`[ext URN,] name [, sub]`).
fn resolve(rt: &ResourceTypeDef, raw: &str) -> Option<Vec<&'static str>> {
    let raw = raw.trim();
    if let Some(ext) = rt.extension(raw) {
        return Some(vec![ext.id]);
    }
    let resolved = resolve_path(rt, &parse_attr_path(raw)?)?;
    let mut segments: Vec<&'static str> = resolved.ext.map(|e| e.id).into_iter().collect();
    segments.push(resolved.def.name);
    segments.extend(resolved.sub.map(|s| s.name));
    Some(segments)
}

impl Projection {
    /// Builds a projection from the `attributes` and `excludedAttributes` names.
    pub fn new<'a>(
        rt: &ResourceTypeDef,
        attributes: impl IntoIterator<Item = &'a str>,
        excluded: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let mut include = Tree::default();
        let mut any_include = false;
        for name in attributes.into_iter().filter(|n| !n.trim().is_empty()) {
            any_include = true;
            if let Some(path) = resolve(rt, name) {
                include.insert(&path);
            }
        }
        let always = by_returned(rt, Returned::Always);
        let mut exclude = Tree::default();
        for name in excluded {
            if let Some(path) = resolve(rt, name)
                && !(path.len() == 1 && ALWAYS.contains(&path[0]))
                && !always.contains(&path)
            {
                exclude.insert(&path);
            }
        }
        // `returned: request` attributes appear only when named in `attributes`.
        for path in by_returned(rt, Returned::Request) {
            if !include.contains(&path) {
                exclude.insert(&path);
            }
        }
        if any_include {
            for name in ALWAYS {
                include.insert(&[name]);
            }
            for path in &always {
                include.insert(path);
            }
        }
        Projection {
            include: any_include.then_some(include),
            exclude,
        }
    }

    /// Whether the response may contain this top-level attribute at all (so that callers can
    /// skip reading what would be thrown away, e.g. a group's members).
    pub fn wants(&self, name: &str) -> bool {
        let included = self
            .include
            .as_ref()
            .is_none_or(|t| t.all || t.children.contains_key(name));
        let excluded = self.exclude.children.get(name).is_some_and(|t| t.all);
        included && !excluded
    }

    /// Whether the response carries this top-level attribute whole, every sub-attribute of
    /// every value (so that it can be written without going through the projection).
    pub fn wants_whole(&self, name: &str) -> bool {
        let included = self
            .include
            .as_ref()
            .is_none_or(|t| t.all || t.children.get(name).is_some_and(|c| c.all));
        included && !self.exclude.children.contains_key(name)
    }

    /// Applies the projection to a rendered resource.
    pub fn apply(&self, rt: &ResourceTypeDef, resource: Value) -> Value {
        let mut value = match &self.include {
            Some(tree) => select(resource, tree),
            None => resource,
        };
        if !self.exclude.is_empty() {
            remove(&mut value, &self.exclude);
        }
        if let Value::Object(map) = &mut value {
            let mut schemas = vec![Value::from(rt.core.id)];
            for ext in rt.extensions {
                if map.contains_key(ext.id) {
                    schemas.push(Value::from(ext.id));
                }
            }
            map.insert("schemas".into(), Value::Array(schemas));
        }
        value
    }
}

fn select(value: Value, tree: &Tree) -> Value {
    if tree.all {
        return value;
    }
    match value {
        Value::Object(map) => {
            let kept: Map<String, Value> = map
                .into_iter()
                .filter_map(|(k, v)| tree.children.get(&k).map(|t| (k, select(v, t))))
                .filter(|(_, v)| !matches!(v, Value::Object(m) if m.is_empty()))
                .collect();
            Value::Object(kept)
        }
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| select(v, tree))
                .filter(|v| !matches!(v, Value::Object(m) if m.is_empty()))
                .collect(),
        ),
        scalar => scalar,
    }
}

fn remove(value: &mut Value, tree: &Tree) {
    match value {
        Value::Object(map) => {
            for (name, sub) in &tree.children {
                if sub.all {
                    map.shift_remove(name);
                } else if let Some(inner) = map.get_mut(name) {
                    remove(inner, sub);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| remove(v, tree)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::schema::{ENTERPRISE_USER_SCHEMA as ENT, USER_SCHEMA, USER_TYPE};

    fn user() -> Value {
        json!({
            "schemas": [USER_SCHEMA, ENT],
            "id": "u1",
            "userName": "bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "b@x", "type": "work"}, {"value": "c@x", "type": "home"}],
            ENT: {"department": "R&D", "costCenter": "7"},
            "meta": {"resourceType": "User", "version": "W/\"1\""}
        })
    }

    #[track_caller]
    fn check(attributes: &[&str], excluded: &[&str], want: Value) {
        let p = Projection::new(
            &USER_TYPE,
            attributes.iter().copied(),
            excluded.iter().copied(),
        );
        assert_eq!(
            p.apply(&USER_TYPE, user()),
            want,
            "{attributes:?} / {excluded:?}"
        );
    }

    #[test]
    fn attributes_keep_id_and_schemas_and_what_was_asked() {
        check(
            &["USERNAME"],
            &[],
            json!({"schemas": [USER_SCHEMA], "id": "u1", "userName": "bjensen"}),
        );
        check(
            &["name.givenName", "emails.value"],
            &[],
            json!({
            "schemas": [USER_SCHEMA], "id": "u1", "name": {"givenName": "Barbara"},
            "emails": [{"value": "b@x"}, {"value": "c@x"}]}),
        );
        check(
            &[&format!("{ENT}:department")],
            &[],
            json!({
            "schemas": [USER_SCHEMA, ENT], "id": "u1", ENT: {"department": "R&D"}}),
        );
        check(
            &[ENT],
            &[],
            json!({"schemas": [USER_SCHEMA, ENT], "id": "u1", ENT: {"department": "R&D", "costCenter": "7"}}),
        );
        check(
            &["nosuch"],
            &[],
            json!({"schemas": [USER_SCHEMA], "id": "u1"}),
        );
        check(
            &["meta.version"],
            &[],
            json!({"schemas": [USER_SCHEMA], "id": "u1", "meta": {"version": "W/\"1\""}}),
        );
    }

    #[test]
    fn wants_whole_only_when_no_sub_attribute_is_picked_or_dropped() {
        let p = |a: &[&str], e: &[&str]| {
            Projection::new(&USER_TYPE, a.iter().copied(), e.iter().copied())
        };
        assert!(p(&[], &[]).wants_whole("groups"));
        assert!(p(&["groups"], &[]).wants_whole("groups"));
        assert!(p(&[], &["emails"]).wants_whole("groups"));
        assert!(!p(&["groups.value"], &[]).wants_whole("groups"));
        assert!(p(&["groups.value"], &[]).wants("groups"));
        assert!(!p(&[], &["groups.display"]).wants_whole("groups"));
        assert!(!p(&[], &["groups"]).wants_whole("groups"));
        assert!(!p(&["userName"], &[]).wants_whole("groups"));
    }

    #[test]
    fn excluded_attributes_drop_what_was_named_but_never_id() {
        check(
            &[],
            &["emails", "name.familyName", ENT, "id", "meta"],
            json!({
            "schemas": [USER_SCHEMA], "id": "u1", "userName": "bjensen", "name": {"givenName": "Barbara"}}),
        );
        check(
            &[],
            &["emails.type"],
            json!({
            "schemas": [USER_SCHEMA, ENT], "id": "u1", "userName": "bjensen", "name": user()["name"],
            "emails": [{"value": "b@x"}, {"value": "c@x"}], ENT: user()[ENT], "meta": user()["meta"]}),
        );
    }

    #[test]
    fn wants_tells_whether_an_attribute_can_appear() {
        let p = Projection::new(&USER_TYPE, [], ["groups"]);
        assert!(!p.wants("groups"));
        assert!(p.wants("userName"));
        let p = Projection::new(&USER_TYPE, ["userName"], []);
        assert!(!p.wants("groups"));
        assert!(Projection::default().wants("groups"));
    }
}
