//! The filter grammar of RFC 7644 §3.4.2.2, one function per rule. winnow types never leave
//! this module: [`parse`] returns our own [`FilterError`].
//!
//! The RFC's rules, for reference:
//!
//! ```text
//! FILTER    = attrExp / logExp / valuePath / *1"not" "(" FILTER ")"
//! valuePath = attrPath "[" valFilter "]"
//! valFilter = attrExp / logExp / *1"not" "(" valFilter ")"
//! attrExp   = (attrPath SP "pr") / (attrPath SP compareOp SP compValue)
//! logExp    = FILTER SP ("and" / "or") SP FILTER
//! compValue = false / null / true / number / string
//! compareOp = "eq" / "ne" / "co" / "sw" / "ew" / "gt" / "lt" / "ge" / "le"
//! attrPath  = [URI ":"] ATTRNAME *1subAttr
//! ATTRNAME  = ALPHA *(nameChar)
//! nameChar  = "-" / "_" / DIGIT / ALPHA
//! subAttr   = "." ATTRNAME
//! ```
//!
//! note: `logExp` is left-recursive and says nothing of precedence; it is rewritten as
//! `or_exp` / `and_exp` / `not_exp` with the RFC's precedence (§3.4.2.2: "not", then "and",
//! then "or"), and `and`/`or` operands are collected into lists. Keywords and operators are
//! case-insensitive; runs of spaces are accepted where the RFC has one `SP`; `not` may be
//! followed by a space before `(`. `$ref` is accepted as an attribute name (RFC 7643 uses it).

use winnow::combinator::{alt, cut_err, opt, peek, preceded};
use winnow::error::{ContextError, ErrMode, ModalResult, StrContext, StrContextValue};
use winnow::prelude::*;
use winnow::stream::Stateful;
use winnow::token::{any, one_of, take_while};

use super::ast::{AttrPath, CompValue, CompareOp, Filter, FilterError, FilterErrorKind, PatchPath};

/// Longest filter accepted, in bytes.
pub const MAX_FILTER_BYTES: usize = 8 * 1024;
/// Deepest nesting of parentheses, `not (…)` and value paths.
pub const MAX_DEPTH: usize = 32;

const DEPTH_LABEL: &str = "nesting depth";
const NESTED_VALUE_PATH_LABEL: &str = "nested value path";

#[derive(Debug, Clone, Copy, Default)]
struct State {
    depth: usize,
    in_value_path: bool,
}

type Input<'i> = Stateful<&'i str, State>;

/// Parses a filter (the whole input must be one `FILTER`).
pub fn parse(filter: &str) -> Result<Filter, FilterError> {
    let error = |kind, offset| FilterError {
        kind,
        offset,
        filter: filter.to_owned(),
    };
    if filter.len() > MAX_FILTER_BYTES {
        return Err(error(
            FilterErrorKind::TooLong(MAX_FILTER_BYTES),
            MAX_FILTER_BYTES,
        ));
    }
    if filter.trim().is_empty() {
        return Err(error(FilterErrorKind::Empty, 0));
    }
    let input = Input {
        input: filter,
        state: State::default(),
    };
    whole_filter.parse(input).map_err(|e| {
        let offset = e.offset();
        let kind = classify(e.inner());
        error(kind, offset)
    })
}

/// Turns winnow's context stack into our error kind. Contexts are pushed as the error bubbles
/// up, so the first `Expected` is the innermost, most precise one.
fn classify(err: &ContextError) -> FilterErrorKind {
    let mut first_expected = None;
    for ctx in err.context() {
        match ctx {
            StrContext::Label(DEPTH_LABEL) => return FilterErrorKind::TooDeep(MAX_DEPTH),
            StrContext::Label(NESTED_VALUE_PATH_LABEL) => {
                return FilterErrorKind::NestedValuePath;
            }
            StrContext::Expected(v) if first_expected.is_none() => {
                first_expected = Some(v.to_string());
            }
            _ => {}
        }
    }
    // No context: a complete expression was followed by something that is not an operator.
    FilterErrorKind::Expected(
        first_expected.unwrap_or_else(|| "\"and\", \"or\" or the end of the filter".into()),
    )
}

fn expected(what: &'static str) -> StrContext {
    StrContext::Expected(StrContextValue::Description(what))
}

fn ch(c: char) -> StrContext {
    StrContext::Expected(StrContextValue::CharLiteral(c))
}

/// Optional white space (the RFC's `SP`, tolerated as runs).
fn ws(input: &mut Input<'_>) -> ModalResult<()> {
    take_while(0.., ' ').void().parse_next(input)
}

/// Required white space.
fn sp(input: &mut Input<'_>) -> ModalResult<()> {
    take_while(1.., ' ').void().parse_next(input)
}

/// `FILTER` surrounded by optional spaces, then the end of input.
fn whole_filter(input: &mut Input<'_>) -> ModalResult<Filter> {
    ws.parse_next(input)?;
    let f = or_exp.parse_next(input)?;
    ws.parse_next(input)?;
    Ok(f)
}

/// `or_exp = and_exp *(SP "or" SP and_exp)`
fn or_exp(input: &mut Input<'_>) -> ModalResult<Filter> {
    let first = and_exp.parse_next(input)?;
    let mut items = vec![first];
    while opt(keyword_between_spaces("or"))
        .parse_next(input)?
        .is_some()
    {
        items.push(cut_err(and_exp).parse_next(input)?);
    }
    Ok(if items.len() == 1 {
        items.remove(0)
    } else {
        Filter::Or(items)
    })
}

/// `and_exp = not_exp *(SP "and" SP not_exp)`
fn and_exp(input: &mut Input<'_>) -> ModalResult<Filter> {
    let first = not_exp.parse_next(input)?;
    let mut items = vec![first];
    while opt(keyword_between_spaces("and"))
        .parse_next(input)?
        .is_some()
    {
        items.push(cut_err(not_exp).parse_next(input)?);
    }
    Ok(if items.len() == 1 {
        items.remove(0)
    } else {
        Filter::And(items)
    })
}

/// `SP keyword SP`, backtracking (without consuming) if the keyword is not there. A keyword
/// at the very end also counts, so that the missing operand is reported where it belongs.
fn keyword_between_spaces<'i>(
    keyword: &'static str,
) -> impl Parser<Input<'i>, (), ErrMode<ContextError>> {
    move |input: &mut Input<'i>| {
        (
            sp,
            winnow::ascii::Caseless(keyword),
            alt((sp, peek(winnow::combinator::eof).void())),
        )
            .void()
            .parse_next(input)
    }
}

/// `not_exp = "not" [SP] "(" or_exp ")" / "(" or_exp ")" / attr_term`
fn not_exp(input: &mut Input<'_>) -> ModalResult<Filter> {
    alt((negation, parenthesised, attr_term))
        .context(expected("an attribute path, \"not (\" or \"(\""))
        .parse_next(input)
}

/// `"not" [SP] "(" or_exp ")"`; commits once `not` is followed by `(`.
fn negation(input: &mut Input<'_>) -> ModalResult<Filter> {
    (winnow::ascii::Caseless("not"), ws, peek('(')).parse_next(input)?;
    let inner = parenthesised.parse_next(input)?;
    Ok(Filter::Not(Box::new(inner)))
}

/// `"(" or_exp ")"`, with the nesting depth checked on entry.
fn parenthesised(input: &mut Input<'_>) -> ModalResult<Filter> {
    '('.parse_next(input)?;
    enter(input)?;
    ws.parse_next(input)?;
    let inner = cut_err(or_exp).parse_next(input)?;
    ws.parse_next(input)?;
    cut_err(')').context(ch(')')).parse_next(input)?;
    input.state.depth -= 1;
    Ok(inner)
}

/// Counts one more level of nesting; a cut error past [`MAX_DEPTH`].
fn enter(input: &mut Input<'_>) -> ModalResult<()> {
    if input.state.depth >= MAX_DEPTH {
        let mut err = ContextError::new();
        err.push(StrContext::Label(DEPTH_LABEL));
        return Err(ErrMode::Cut(err));
    }
    input.state.depth += 1;
    Ok(())
}

/// `attrPath ( "[" valFilter "]" [subAttr SP test] / SP test )`
fn attr_term(input: &mut Input<'_>) -> ModalResult<Filter> {
    let path = attr_path.parse_next(input)?;
    if opt('[').parse_next(input)?.is_some() {
        return value_path_rest(path, input);
    }
    test(path, input)
}

/// `SP "pr" / SP compareOp SP compValue`, after the attribute path.
fn test(path: AttrPath, input: &mut Input<'_>) -> ModalResult<Filter> {
    cut_err(sp).context(ch(' ')).parse_next(input)?;
    if opt(present_keyword).parse_next(input)?.is_some() {
        return Ok(Filter::Present(path));
    }
    let op = cut_err(compare_op)
        .context(expected(
            "an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)",
        ))
        .parse_next(input)?;
    cut_err(sp).context(ch(' ')).parse_next(input)?;
    let value = cut_err(comp_value)
        .context(expected(
            "a value (a quoted string, a number, true, false or null)",
        ))
        .parse_next(input)?;
    Ok(Filter::Compare { path, op, value })
}

/// `"pr"` as a whole word.
fn present_keyword(input: &mut Input<'_>) -> ModalResult<()> {
    (
        winnow::ascii::Caseless("pr"),
        peek(alt((
            one_of([' ', ')', ']']).void(),
            winnow::combinator::eof.void(),
        ))),
    )
        .void()
        .parse_next(input)
}

/// `valuePath = attrPath "[" valFilter "]"`, after the `[`; optionally followed by a
/// sub-attribute and a test (`emails[type eq "work"].value eq "…"`, which Microsoft Entra ID
/// sends when users are matched on a typed e-mail). The RFC 7644 filter grammar has no such
/// form (its PATCH path grammar has `valuePath [subAttr]`); it means "some element matching
/// the bracket filter passes the test", which is the value path whose filter is both:
/// `emails[type eq "work" and value eq "…"]`. It is parsed to that tree, so evaluation and
/// planning treat it as any value path.
fn value_path_rest(path: AttrPath, input: &mut Input<'_>) -> ModalResult<Filter> {
    let inner = value_filter_body(input)?;
    let Some(sub) = opt(preceded('.', cut_err(sub_attr_name))).parse_next(input)? else {
        return Ok(Filter::ValuePath {
            path,
            filter: Box::new(inner),
        });
    };
    let sub = AttrPath {
        urn: None,
        name: sub.to_owned(),
        sub: None,
    };
    let test = test(sub, input)?;
    let mut inner = inner;
    let both = match &mut inner {
        Filter::And(items) => {
            items.push(test);
            inner
        }
        _ => Filter::And(vec![inner, test]),
    };
    Ok(Filter::ValuePath {
        path,
        filter: Box::new(both),
    })
}

/// A sub-attribute's name (`ATTRNAME`), after the `.`.
fn sub_attr_name<'i>(input: &mut Input<'i>) -> ModalResult<&'i str> {
    take_while(1.., |c: char| {
        c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '$')
    })
    .verify(|name: &str| is_attr_name(name))
    .context(expected("a sub-attribute name"))
    .parse_next(input)
}

/// `valFilter "]"`, after the `[`: one more level of nesting, no value path inside.
fn value_filter_body(input: &mut Input<'_>) -> ModalResult<Filter> {
    if input.state.in_value_path {
        let mut err = ContextError::new();
        err.push(StrContext::Label(NESTED_VALUE_PATH_LABEL));
        return Err(ErrMode::Cut(err));
    }
    enter(input)?;
    input.state.in_value_path = true;
    ws.parse_next(input)?;
    let inner = cut_err(or_exp).parse_next(input)?;
    ws.parse_next(input)?;
    cut_err(']').context(ch(']')).parse_next(input)?;
    input.state.in_value_path = false;
    input.state.depth -= 1;
    Ok(inner)
}

/// `PATH = attrPath / valuePath [subAttr]` (RFC 7644 §3.5.2, the PATCH `path`).
fn patch_path(input: &mut Input<'_>) -> ModalResult<PatchPath> {
    let attr = attr_path
        .context(expected("an attribute path"))
        .parse_next(input)?;
    if opt('[').parse_next(input)?.is_none() {
        return Ok(PatchPath {
            attr,
            filter: None,
            sub: None,
        });
    }
    let filter = value_filter_body(input)?;
    let sub = opt(preceded('.', cut_err(sub_attr_name))).parse_next(input)?;
    Ok(PatchPath {
        attr,
        filter: Some(filter),
        sub: sub.map(str::to_owned),
    })
}

/// Parses a PATCH operation's `path`.
pub fn parse_patch_path(path: &str) -> Result<PatchPath, FilterError> {
    let error = |kind, offset| FilterError {
        kind,
        offset,
        filter: path.to_owned(),
    };
    if path.len() > MAX_FILTER_BYTES {
        return Err(error(
            FilterErrorKind::TooLong(MAX_FILTER_BYTES),
            MAX_FILTER_BYTES,
        ));
    }
    if path.trim().is_empty() {
        return Err(error(FilterErrorKind::Empty, 0));
    }
    let input = Input {
        input: path.trim(),
        state: State::default(),
    };
    patch_path
        .parse(input)
        .map_err(|e| error(classify(e.inner()), e.offset()))
}

/// `compareOp = "eq" / "ne" / "co" / "sw" / "ew" / "gt" / "lt" / "ge" / "le"`
fn compare_op(input: &mut Input<'_>) -> ModalResult<CompareOp> {
    take_while(2, |c: char| c.is_ascii_alphabetic())
        .verify_map(|word: &str| {
            CompareOp::ALL
                .into_iter()
                .find(|op| op.as_str().eq_ignore_ascii_case(word))
        })
        .parse_next(input)
}

/// `attrPath = [URI ":"] ATTRNAME *1subAttr`
///
/// note: the URI is everything up to the last `:` of the path token; URNs contain dots
/// (`…:2.0:User`), so the sub-attribute is split off only after the last `:`.
fn attr_path(input: &mut Input<'_>) -> ModalResult<AttrPath> {
    take_while(1.., |c: char| {
        c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '-' | '_' | '$')
    })
    .verify_map(split_attr_path)
    .parse_next(input)
}

/// Splits `[urn:]name[.sub]` and checks each name against `ATTRNAME`.
pub(crate) fn split_attr_path(token: &str) -> Option<AttrPath> {
    let (urn, tail) = match token.rfind(':') {
        Some(i) => (Some(&token[..i]), &token[i + 1..]),
        None => (None, token),
    };
    if urn.is_some_and(|u| u.is_empty()) {
        return None;
    }
    let (name, sub) = match tail.split_once('.') {
        Some((n, s)) => (n, Some(s)),
        None => (tail, None),
    };
    if !is_attr_name(name) || sub.is_some_and(|s| !is_attr_name(s)) {
        return None;
    }
    Some(AttrPath {
        urn: urn.map(str::to_owned),
        name: name.to_owned(),
        sub: sub.map(str::to_owned),
    })
}

/// `ATTRNAME = ALPHA *(nameChar)`, plus `$ref`.
fn is_attr_name(name: &str) -> bool {
    if name.eq_ignore_ascii_case("$ref") {
        return true;
    }
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// `compValue = false / null / true / number / string`
fn comp_value(input: &mut Input<'_>) -> ModalResult<CompValue> {
    alt((json_string, json_number, literal_word)).parse_next(input)
}

/// `false / null / true` (any letter case).
fn literal_word(input: &mut Input<'_>) -> ModalResult<CompValue> {
    take_while(1.., |c: char| c.is_ascii_alphabetic())
        .verify_map(|word: &str| {
            if word.eq_ignore_ascii_case("true") {
                Some(CompValue::Bool(true))
            } else if word.eq_ignore_ascii_case("false") {
                Some(CompValue::Bool(false))
            } else if word.eq_ignore_ascii_case("null") {
                Some(CompValue::Null)
            } else {
                None
            }
        })
        .parse_next(input)
}

/// A JSON number (RFC 8259 §6).
fn json_number(input: &mut Input<'_>) -> ModalResult<CompValue> {
    (
        opt('-'),
        take_while(1.., |c: char| c.is_ascii_digit()),
        opt(('.', take_while(1.., |c: char| c.is_ascii_digit()))),
        opt((
            one_of(['e', 'E']),
            opt(one_of(['+', '-'])),
            take_while(1.., |c: char| c.is_ascii_digit()),
        )),
    )
        .take()
        .verify_map(|text: &str| {
            text.parse::<serde_json::Number>()
                .ok()
                .map(CompValue::Number)
        })
        .parse_next(input)
}

/// A JSON string (RFC 8259 §7), escapes decoded. Commits after the opening quote.
fn json_string(input: &mut Input<'_>) -> ModalResult<CompValue> {
    let raw = preceded(
        peek('"'),
        cut_err(
            (
                '"',
                winnow::combinator::repeat::<_, _, (), _, _>(
                    0..,
                    alt((
                        ('\\', any).void(),
                        take_while(1.., |c: char| c != '"' && c != '\\').void(),
                    )),
                ),
                '"',
            )
                .take(),
        )
        .context(expected("a closing quote")),
    )
    .parse_next(input)?;
    serde_json::from_str::<String>(raw)
        .map(CompValue::String)
        .map_err(|_| {
            let mut err = ContextError::new();
            err.push(expected("a valid JSON string"));
            ErrMode::Cut(err)
        })
}
