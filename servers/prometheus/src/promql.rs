//! Local PromQL checks: every query is parsed with `promql-parser` before it is sent, so a
//! syntax error comes back at once, with a position, a caret line and a hint, and without a
//! round trip to Prometheus. The parser's own messages often lack a position; a small structural
//! scan (brackets, quotes, label matchers, dangling operators) supplies one.

use promql_parser::{
    label::MatchOp,
    parser::{self, Expr},
};

/// A query that did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub message: String,
    /// Byte offset of the problem, when known.
    pub position: Option<usize>,
    pub hint: Option<String>,
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.position {
            Some(p) => write!(f, "PromQL syntax error at char {}: {}", p + 1, self.message)?,
            None => write!(f, "PromQL syntax error: {}", self.message)?,
        }
        if let Some(hint) = &self.hint {
            write!(f, "\nhint: {hint}")?;
        }
        Ok(())
    }
}

impl SyntaxError {
    /// The error with the query and a caret under the position; says nothing was sent.
    pub fn render(&self, query: &str) -> String {
        let mut out = self.to_string();
        if let Some(p) = self.position {
            let column = query[..p.min(query.len())].chars().count();
            out.push_str(&format!("\n  {query}\n  {}^", " ".repeat(column)));
        }
        out.push_str("\n(the query was checked locally and not sent to Prometheus)");
        out
    }
}

/// Parse `query`, or explain why it is not PromQL.
pub fn parse(query: &str) -> Result<Expr, SyntaxError> {
    if query.trim().is_empty() {
        return Err(SyntaxError {
            message: "the query is empty".into(),
            position: None,
            hint: Some("e.g. `up` or `rate(http_requests_total[5m])`".into()),
        });
    }
    parser::parse(query).map_err(|message| {
        let (position, scan_hint) = locate(query);
        let hint = hint_for(&message, query).or(scan_hint);
        SyntaxError {
            message,
            position,
            hint,
        }
    })
}

/// A vector selector's metric name (if any) and its equality label matchers.
pub type Selector = (Option<String>, Vec<(String, String)>);

/// The metric names and equality label matchers of every vector selector in `expr`, used to
/// explain empty results.
pub fn selectors(expr: &Expr) -> Vec<Selector> {
    let mut out = Vec::new();
    collect(expr, &mut out);
    out
}

fn collect(expr: &Expr, out: &mut Vec<Selector>) {
    match expr {
        Expr::VectorSelector(v) => {
            let equal = v
                .matchers
                .matchers
                .iter()
                .filter(|m| matches!(m.op, MatchOp::Equal) && m.name != "__name__")
                .map(|m| (m.name.clone(), m.value.clone()))
                .collect();
            out.push((v.name.clone(), equal));
        }
        Expr::MatrixSelector(m) => collect(&Expr::VectorSelector(m.vs.clone()), out),
        Expr::Aggregate(a) => collect(&a.expr, out),
        Expr::Unary(u) => collect(&u.expr, out),
        Expr::Binary(b) => {
            collect(&b.lhs, out);
            collect(&b.rhs, out);
        }
        Expr::Paren(p) => collect(&p.expr, out),
        Expr::Subquery(s) => collect(&s.expr, out),
        Expr::Call(c) => c.args.args.iter().for_each(|a| collect(a, out)),
        Expr::Extension(_) | Expr::NumberLiteral(_) | Expr::StringLiteral(_) => {}
    }
}

fn hint_for(message: &str, query: &str) -> Option<String> {
    if message.contains("expected type matrix") {
        return Some(
            "this function takes a range vector: add a range such as `[5m]` after the selector"
                .into(),
        );
    }
    if message.contains("unexpected end of input inside brackets") {
        return Some("close the range with `]`, e.g. `[5m]`".into());
    }
    if query.contains("by (") && query.trim_end().ends_with(')') && message.contains("unclosed") {
        return Some("check that `sum(...) by (...)` has both pairs of parentheses".into());
    }
    None
}

/// Find where a malformed query goes wrong: unbalanced brackets, an open string, a label
/// matcher without a quoted value, or an operator with nothing after it.
fn locate(query: &str) -> (Option<usize>, Option<String>) {
    let mut stack: Vec<(char, usize)> = Vec::new();
    let mut chars = query.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' | '\'' | '`' => {
                let mut closed = false;
                while let Some((_, d)) = chars.next() {
                    if d == '\\' && c != '`' {
                        chars.next();
                    } else if d == c {
                        closed = true;
                        break;
                    }
                }
                if !closed {
                    return (
                        Some(i),
                        Some(format!("close the string opened here with {c}")),
                    );
                }
            }
            '(' | '{' | '[' => stack.push((c, i)),
            ')' | '}' | ']' => {
                let opener = match c {
                    ')' => '(',
                    '}' => '{',
                    _ => '[',
                };
                match stack.pop() {
                    Some((o, _)) if o == opener => {}
                    Some((o, at)) => {
                        return (
                            Some(i),
                            Some(format!(
                                "`{c}` does not close the `{o}` opened at char {}",
                                at + 1
                            )),
                        );
                    }
                    None => return (Some(i), Some(format!("`{c}` has no matching `{opener}`"))),
                }
            }
            '=' | '~' if stack.last().is_some_and(|(o, _)| *o == '{') => {
                let rest = query[i + 1..].trim_start_matches(['=', '~']).trim_start();
                if c == '=' && query[..i].ends_with(['!', '=', '<', '>']) {
                    continue;
                }
                if !rest.starts_with(['"', '\'', '`']) {
                    let at = query.len() - rest.len();
                    return (
                        Some(at),
                        Some("label values must be quoted, e.g. {pod=\"web-1\"}".into()),
                    );
                }
            }
            _ => {}
        }
    }
    if let Some((o, at)) = stack.pop() {
        let close = match o {
            '(' => ')',
            '{' => '}',
            _ => ']',
        };
        return (
            Some(at),
            Some(format!("close the `{o}` opened here with `{close}`")),
        );
    }
    let trimmed = query.trim_end();
    if trimmed.ends_with(['+', '-', '*', '/', '%', '^', '>', '<', '='])
        || trimmed.ends_with(" and")
        || trimmed.ends_with(" or")
    {
        return (
            Some(trimmed.len() - 1),
            Some("an operator needs something on its right".into()),
        );
    }
    (None, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(q: &str) -> SyntaxError {
        parse(q).unwrap_err()
    }

    #[test]
    fn valid_queries_parse() {
        for q in [
            "up",
            "sum by (pod) (rate(container_cpu_usage_seconds_total{namespace=\"shop\"}[5m]))",
            "container_memory_working_set_bytes{pod=~\"leaky.*\"} > 5e8",
            "histogram_quantile(0.9, sum by (le) (rate(a_bucket[5m])))",
        ] {
            parse(q).unwrap();
        }
    }

    #[test]
    fn unclosed_parenthesis_points_at_the_opener() {
        let e = err("rate(http_requests_total{code=~\"5..\"}[5m]");
        assert_eq!(e.position, Some(4));
        let text = e.render("rate(http_requests_total{code=~\"5..\"}[5m]");
        assert!(
            text.contains("at char 5: unclosed left parenthesis"),
            "{text}"
        );
        assert!(text.contains("\n      ^"), "{text}");
        assert!(text.contains("not sent to Prometheus"), "{text}");
    }

    #[test]
    fn unquoted_label_value() {
        let e = err("up{job=prometheus}");
        assert_eq!(e.position, Some(7));
        assert!(e.hint.unwrap().contains("quoted"));
    }

    #[test]
    fn missing_range_gets_a_hint() {
        let e = err("rate(http_requests_total)");
        assert!(e.hint.unwrap().contains("[5m]"));
    }

    #[test]
    fn dangling_operator_and_empty_query() {
        assert_eq!(err("up +").position, Some(3));
        assert!(err("  ").message.contains("empty"));
    }

    #[test]
    fn selectors_for_empty_result_hints() {
        let e = parse("sum(rate(http_requests_total{service=\"checkout\",code=~\"5..\"}[5m])) / sum(rate(http_requests_total{service=\"checkout\"}[5m]))").unwrap();
        let s = selectors(&e);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].0.as_deref(), Some("http_requests_total"));
        assert_eq!(s[0].1, vec![("service".to_owned(), "checkout".to_owned())]);
    }
}
