//! LogQL, the subset opsmcp needs, parsed into an AST with positioned errors.
//!
//! - [`parse`]: a whole query — a log query (stream selector and pipeline) or a metric query
//!   (`count_over_time`, `rate`, `bytes_over_time` over a range; `sum`/`avg`/`min`/`max`/`count`
//!   `by|without`; `topk`/`bottomk`; arithmetic and comparisons between metric queries and
//!   numbers). The Loki stand-in evaluates what this returns.
//! - [`check`]: the cheap checks a client can make before sending any LogQL to a real Loki,
//!   which knows more LogQL than this crate: strings and brackets are closed, every stream
//!   selector is well formed and has a matcher that cannot match the empty string. It never
//!   rejects a query Loki would accept.
//! - [`escape_string`] and [`escape_regex`]: build queries from user text safely.
//!
//! Errors read like Loki's (`parse error at line 1, col 14: …`) and carry the byte offset.
//!
//! No crate fits: `logql` (2022) prints to stdout while parsing, which would corrupt an MCP
//! server's stdio, and reports nom errors without positions; `logql-parser` is AGPL-3.0.

pub mod ast;
pub mod lexer;
mod parser;
pub mod patterns;

pub use ast::*;
pub use lexer::parse_duration;
pub use parser::{check, lookback, parse, parse_selector, stream_selectors};

/// A query that is not (supported) LogQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset of the problem, when there is one.
    pub position: Option<usize>,
    pub message: String,
}

impl ParseError {
    pub(crate) fn at(position: usize, message: String) -> Self {
        Self {
            position: Some(position),
            message,
        }
    }

    /// Loki's rendering: `parse error at line L, col C: message` (1-based, in characters).
    pub fn render(&self, query: &str) -> String {
        match self.position {
            Some(p) => {
                let before = &query[..p.min(query.len())];
                let line = before.matches('\n').count() + 1;
                let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
                format!("parse error at line {line}, col {col}: {}", self.message)
            }
            None => format!("parse error : {}", self.message),
        }
    }
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ParseError {}

/// `text` as a LogQL double-quoted string literal.
pub fn escape_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `text` as a regular expression that matches it literally (RE2 syntax).
pub fn escape_regex(text: &str) -> String {
    regex::escape(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_render_like_loki() {
        let e = ParseError::at(13, "syntax error: unexpected `}`".into());
        assert_eq!(
            e.render("{app=\"web\"} |= }"),
            "parse error at line 1, col 14: syntax error: unexpected `}`"
        );
    }

    #[test]
    fn escaped_text_parses_back_to_itself() {
        for text in [
            r#"say "hi""#,
            r"C:\temp",
            "tab\tand\nnewline",
            "a.b*c(d)[e]",
        ] {
            let q = format!(
                "{{app=\"x\"}} |= {} |~ {}",
                escape_string(text),
                escape_string(&escape_regex(text))
            );
            let Query::Log(query) = parse(&q).unwrap() else {
                panic!("a log query")
            };
            let Stage::Line(exact) = &query.pipeline[0] else {
                panic!()
            };
            let Stage::Line(re) = &query.pipeline[1] else {
                panic!()
            };
            assert_eq!(exact.value, text);
            assert!(regex::Regex::new(&re.value).unwrap().is_match(text));
        }
    }
}
