//! SCIM message bodies (PatchOp, SearchRequest, BulkRequest): their member names are matched
//! case-insensitively, and their `schemas` must name the message's URN.

use serde_json::{Map, Value};

use crate::error::ScimError;

/// A member of a message body by case-insensitive name.
pub fn member<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// Checks that `schemas` lists `urn`. A missing `schemas` is tolerated unless `required`
/// (clients omit it on PatchOp and SearchRequest bodies; a wrong one is always an error).
pub fn check_schemas(map: &Map<String, Value>, urn: &str, required: bool) -> Result<(), ScimError> {
    let listed = match member(map, "schemas") {
        None if !required => return Ok(()),
        None => false,
        Some(schemas) => schemas.as_array().is_some_and(|l| {
            l.iter()
                .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)))
        }),
    };
    if listed {
        Ok(())
    } else {
        Err(ScimError::InvalidValue(format!(
            "'schemas' must include \"{urn}\""
        )))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn schemas_and_members() {
        let map = json!({"Schemas": ["urn:A"], "FILTER": "x"})
            .as_object()
            .cloned()
            .unwrap();
        assert_eq!(member(&map, "filter"), Some(&json!("x")));
        assert!(check_schemas(&map, "urn:a", true).is_ok());
        assert!(check_schemas(&map, "urn:b", false).is_err());
        let empty = Map::new();
        assert!(check_schemas(&empty, "urn:a", false).is_ok());
        assert!(check_schemas(&empty, "urn:a", true).is_err());
    }
}
