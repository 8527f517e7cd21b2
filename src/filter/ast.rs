//! The filter syntax tree, its canonical printing, and its errors.
//!
//! `and`/`or` are n-ary (a `Vec` of operands), so a long `a eq 1 and b eq 2 and …` chain is
//! one wide node, not a deep tree; nesting only comes from parentheses, `not (…)` and value
//! paths, which the parser limits. `Drop` is iterative, so even a tree built by hand beyond
//! that limit cannot overflow the stack when dropped.

use std::fmt;

use serde_json::Number;

/// An attribute path: `[urn:…:]name[.sub]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN prefix, if one was written.
    pub urn: Option<String>,
    /// The attribute name, as written.
    pub name: String,
    /// The sub-attribute name, as written.
    pub sub: Option<String>,
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// A PATCH operation's path (RFC 7644 §3.5.2): `attrPath` or `valuePath [subAttr]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The attribute (with its own `.sub` when there is no value filter).
    pub attr: AttrPath,
    /// The value filter between brackets, if any.
    pub filter: Option<Filter>,
    /// The sub-attribute after the brackets (`emails[type eq "work"].value`).
    pub sub: Option<String>,
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// A comparison operator (RFC 7644 §3.4.2.2, table 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// `eq`
    Eq,
    /// `ne`
    Ne,
    /// `co`
    Co,
    /// `sw`
    Sw,
    /// `ew`
    Ew,
    /// `gt`
    Gt,
    /// `ge`
    Ge,
    /// `lt`
    Lt,
    /// `le`
    Le,
}

impl CompareOp {
    /// The operator's keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// All operators, for the grammar.
    pub const ALL: [CompareOp; 9] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];
}

/// A comparison value: a JSON literal.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A JSON number.
    Number(Number),
    /// A JSON string (escapes decoded).
    String(String),
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Null => f.write_str("null"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Number(n) => write!(f, "{n}"),
            CompValue::String(s) => {
                let quoted = serde_json::to_string(s).map_err(|_| fmt::Error)?;
                f.write_str(&quoted)
            }
        }
    }
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `path op value`
    Compare {
        /// The attribute compared.
        path: AttrPath,
        /// The operator.
        op: CompareOp,
        /// The literal.
        value: CompValue,
    },
    /// `path pr`
    Present(AttrPath),
    /// Operands joined by `and` (two or more).
    And(Vec<Filter>),
    /// Operands joined by `or` (two or more).
    Or(Vec<Filter>),
    /// `not (filter)`
    Not(Box<Filter>),
    /// `path[filter]`: the inner filter's paths are relative to `path`'s elements.
    ValuePath {
        /// The multi-valued (or complex) attribute.
        path: AttrPath,
        /// The filter on its sub-attributes.
        filter: Box<Filter>,
    },
}

impl Filter {
    fn is_leaf(&self) -> bool {
        matches!(self, Filter::Compare { .. } | Filter::Present(_))
    }

    /// Moves the direct children out, leaving `self` childless.
    fn take_children(&mut self, out: &mut Vec<Filter>) {
        match self {
            Filter::And(items) | Filter::Or(items) => out.append(items),
            Filter::Not(inner) | Filter::ValuePath { filter: inner, .. } => {
                let placeholder = Filter::Present(AttrPath {
                    urn: None,
                    name: String::new(),
                    sub: None,
                });
                out.push(std::mem::replace(inner.as_mut(), placeholder));
            }
            Filter::Compare { .. } | Filter::Present(_) => {}
        }
    }
}

impl Drop for Filter {
    fn drop(&mut self) {
        if self.is_leaf() {
            return;
        }
        let mut stack = Vec::new();
        self.take_children(&mut stack);
        while let Some(mut node) = stack.pop() {
            node.take_children(&mut stack);
            // `node` now has no children: dropping it does not recurse.
        }
    }
}

impl fmt::Display for Filter {
    /// Prints a canonical form that parses back to the same tree.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Compare { path, op, value } => write!(f, "{path} {} {value}", op.as_str()),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::And(items) => join(f, items, " and ", |x| matches!(x, Filter::Or(_))),
            Filter::Or(items) => join(f, items, " or ", |_| false),
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
        }
    }
}

fn join(
    f: &mut fmt::Formatter<'_>,
    items: &[Filter],
    sep: &str,
    needs_parens: impl Fn(&Filter) -> bool,
) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        // Nested lists of the same operator are printed in parentheses so they re-parse as
        // the same (nested) tree.
        let same = matches!(
            (sep, item),
            (" and ", Filter::And(_)) | (" or ", Filter::Or(_))
        );
        if needs_parens(item) || same {
            write!(f, "({item})")?;
        } else {
            write!(f, "{item}")?;
        }
    }
    Ok(())
}

/// What is wrong with a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FilterErrorKind {
    /// The filter is empty.
    Empty,
    /// Longer than the length limit (bytes).
    TooLong(usize),
    /// Parentheses, `not` and value paths nest deeper than the limit.
    TooDeep(usize),
    /// A value path inside a value path (the grammar's `valFilter` has none).
    NestedValuePath,
    /// Something else was expected here.
    Expected(String),
}

impl fmt::Display for FilterErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterErrorKind::Empty => f.write_str("the filter is empty"),
            FilterErrorKind::TooLong(limit) => write!(f, "the filter is longer than {limit} bytes"),
            FilterErrorKind::TooDeep(limit) => {
                write!(f, "the filter nests deeper than {limit} levels")
            }
            FilterErrorKind::NestedValuePath => {
                f.write_str("a value path cannot contain another value path")
            }
            FilterErrorKind::Expected(what) => write!(f, "expected {what}"),
        }
    }
}

/// A filter that cannot be parsed: the kind, the byte offset where it went wrong, and the
/// input (kept so that the offset always refers to it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    /// What is wrong.
    pub kind: FilterErrorKind,
    /// Byte offset into `filter`.
    pub offset: usize,
    /// The filter as given.
    pub filter: String,
}

impl fmt::Display for FilterError {
    /// `<kind> at offset N`, then the filter and a caret under the offset (one line each).
    /// Long filters are shown as a window around the offset.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at offset {}", self.kind, self.offset)?;
        if matches!(self.kind, FilterErrorKind::TooLong(_)) {
            return Ok(());
        }
        let start = floor_char(&self.filter, self.offset.saturating_sub(40));
        let end = floor_char(&self.filter, (self.offset + 40).min(self.filter.len()));
        let window = &self.filter[start..end];
        let caret_col = self.filter[start..floor_char(&self.filter, self.offset)]
            .chars()
            .count();
        write!(f, "\n{window}\n{}^", " ".repeat(caret_col))
    }
}

impl std::error::Error for FilterError {}

fn floor_char(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}
