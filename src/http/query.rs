//! Query strings, read from the raw query (`uri().query()`) and form-decoded: `+` is a space
//! and `%2B` a plus, as clients encode them. Parameter names are matched case-insensitively.

/// Decoded query parameters, in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryParams {
    pairs: Vec<(String, String)>,
}

impl QueryParams {
    /// Decodes a raw query string (without the `?`).
    pub fn parse(raw: Option<&str>) -> Self {
        let pairs = raw
            .map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        QueryParams { pairs }
    }

    /// The first value of a parameter, by case-insensitive name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decodes_and_matches_names_case_insensitively() {
        let q = QueryParams::parse(Some(
            "filter=userName+eq+%22a%2Bb%40example.com%22&StartIndex=2&aadOptscim062020",
        ));
        assert_eq!(q.get("filter"), Some("userName eq \"a+b@example.com\""));
        assert_eq!(q.get("startIndex"), Some("2"));
        assert_eq!(q.get("aadOptscim062020"), Some(""));
        assert_eq!(q.get("count"), None);
        assert_eq!(QueryParams::parse(None).get("x"), None);
    }
}
