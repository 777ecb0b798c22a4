//! Recursive descent over the tokens; binary operators by precedence climbing.

use regex::Regex;

use crate::{
    ParseError,
    ast::*,
    lexer::{Spanned, Token, tokenize},
};

const EMPTY_COMPATIBLE: &str = "queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~\".*\" does not meet this requirement, but app=~\".+\" will";

/// Parse a whole query.
pub fn parse(query: &str) -> Result<Query, ParseError> {
    let mut p = Parser::new(query)?;
    if p.tokens.is_empty() {
        return Err(ParseError {
            position: None,
            message: "syntax error: the query is empty".into(),
        });
    }
    let parsed = if p.peek() == Some(&Token::LBrace) {
        Query::Log(p.log_query()?)
    } else {
        Query::Metric(p.expr(0)?)
    };
    p.end()?;
    Ok(parsed)
}

/// Parse a bare stream selector such as a `match[]` of the series endpoint.
pub fn parse_selector(selector: &str) -> Result<Vec<Matcher>, ParseError> {
    let mut p = Parser::new(selector)?;
    let matchers = p.selector()?;
    p.end()?;
    Ok(matchers)
}

/// The checks that hold for all of LogQL, made without a server: strings are closed, brackets
/// balance, and every stream selector is well formed and selective. Constructs this crate does
/// not evaluate pass; a real Loki judges them.
pub fn check(query: &str) -> Result<(), ParseError> {
    let mut p = Parser::new(query)?;
    if p.tokens.is_empty() {
        return Err(ParseError {
            position: None,
            message: "syntax error: the query is empty".into(),
        });
    }
    let mut open: Vec<(Token, usize)> = Vec::new();
    for t in &p.tokens {
        let closer = match t.token {
            Token::LBrace => Some(Token::RBrace),
            Token::LParen => Some(Token::RParen),
            Token::LBracket => Some(Token::RBracket),
            _ => None,
        };
        if let Some(closer) = closer {
            open.push((closer, t.at));
        } else if matches!(t.token, Token::RBrace | Token::RParen | Token::RBracket) {
            match open.pop() {
                Some((want, _)) if want == t.token => {}
                Some((want, _)) => {
                    return Err(ParseError::at(
                        t.at,
                        format!(
                            "syntax error: unexpected {}, expecting {}",
                            t.token.describe(),
                            want.describe()
                        ),
                    ));
                }
                None => {
                    return Err(ParseError::at(
                        t.at,
                        format!("syntax error: unexpected {}", t.token.describe()),
                    ));
                }
            }
        }
    }
    if let Some((want, at)) = open.pop() {
        return Err(ParseError::at(
            at,
            format!(
                "syntax error: this bracket is never closed (expecting {})",
                want.describe()
            ),
        ));
    }
    // Nothing valid ends with an operator.
    if let Some(last) = p.tokens.last()
        && !matches!(
            last.token,
            Token::RBrace
                | Token::RParen
                | Token::RBracket
                | Token::Str(_)
                | Token::Number(_)
                | Token::Duration(_)
                | Token::Ident(_)
        )
    {
        return Err(ParseError::at(
            p.len,
            format!(
                "syntax error: unexpected end of query after {}",
                last.token.describe()
            ),
        ));
    }
    // Ranges and pipelines work on log streams, so they need a selector; arithmetic on numbers
    // and `vector(…)` do not.
    let needs_selector = p.tokens.iter().any(|t| {
        matches!(
            t.token,
            Token::LBracket | Token::PipeExact | Token::PipeMatch | Token::Pipe
        )
    });
    if needs_selector && !p.tokens.iter().any(|t| t.token == Token::LBrace) {
        return Err(ParseError::at(
            0,
            "syntax error: a LogQL query needs a stream selector such as {app=\"checkout\"}".into(),
        ));
    }
    while p.i < p.tokens.len() {
        if p.peek() == Some(&Token::LBrace) {
            p.selector()?;
        } else {
            p.i += 1;
        }
    }
    Ok(())
}

/// The text of every stream selector in a query (`{app="x"}`), as written, with its parsed
/// matchers.
pub fn stream_selectors(query: &str) -> Result<Vec<(String, Vec<Matcher>)>, ParseError> {
    let mut p = Parser::new(query)?;
    let mut out = Vec::new();
    while p.i < p.tokens.len() {
        if p.peek() == Some(&Token::LBrace) {
            let from = p.here();
            let matchers = p.selector()?;
            let to = p.tokens[p.i - 1].at + 1;
            out.push((query[from..to].to_owned(), matchers));
        } else {
            p.i += 1;
        }
    }
    Ok(out)
}

/// How far before a point in time a query reads, in seconds: its longest range window (`[30d]`)
/// plus its longest `offset`. A log query reads nothing before its range (0).
pub fn lookback(query: &str) -> Result<f64, ParseError> {
    let tokens = tokenize(query)?;
    let (mut window, mut offset) = (0f64, 0f64);
    for pair in tokens.windows(2) {
        match (&pair[0].token, &pair[1].token) {
            (Token::LBracket, Token::Duration(d)) => window = window.max(*d),
            (Token::Ident(word), Token::Duration(d)) if word == "offset" => offset = offset.max(*d),
            _ => {}
        }
    }
    Ok(window + offset)
}

struct Parser {
    tokens: Vec<Spanned>,
    i: usize,
    len: usize,
}

const RANGE_FNS: [(&str, RangeFn); 4] = [
    ("count_over_time", RangeFn::CountOverTime),
    ("rate", RangeFn::Rate),
    ("bytes_over_time", RangeFn::BytesOverTime),
    ("bytes_rate", RangeFn::BytesRate),
];

const AGG_OPS: [(&str, AggOp); 7] = [
    ("sum", AggOp::Sum),
    ("avg", AggOp::Avg),
    ("min", AggOp::Min),
    ("max", AggOp::Max),
    ("count", AggOp::Count),
    ("topk", AggOp::Topk),
    ("bottomk", AggOp::Bottomk),
];

/// LogQL functions Loki has that the stand-in does not evaluate.
const UNSUPPORTED: [&str; 14] = [
    "sum_over_time",
    "avg_over_time",
    "max_over_time",
    "min_over_time",
    "quantile_over_time",
    "first_over_time",
    "last_over_time",
    "absent_over_time",
    "stddev_over_time",
    "stdvar_over_time",
    "rate_counter",
    "label_replace",
    "sort",
    "vector",
];

impl Parser {
    fn new(query: &str) -> Result<Self, ParseError> {
        Ok(Self {
            tokens: tokenize(query)?,
            i: 0,
            len: query.len(),
        })
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.i).map(|t| &t.token)
    }

    fn ident_is(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Ident(w)) if w == word)
    }

    /// Offset of the current token (the query's length at the end).
    fn here(&self) -> usize {
        self.tokens.get(self.i).map_or(self.len, |t| t.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.i).map(|t| t.token.clone());
        self.i += 1;
        t
    }

    fn unexpected(&self, expecting: &str) -> ParseError {
        let found = self
            .peek()
            .map_or_else(|| "end of query".to_owned(), Token::describe);
        ParseError::at(
            self.here(),
            format!("syntax error: unexpected {found}, expecting {expecting}"),
        )
    }

    fn expect(&mut self, token: Token) -> Result<(), ParseError> {
        if self.peek() == Some(&token) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.unexpected(&token.describe()))
        }
    }

    fn end(&self) -> Result<(), ParseError> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.unexpected("end of query")),
        }
    }

    fn string(&mut self, what: &str) -> Result<(String, usize), ParseError> {
        let at = self.here();
        match self.peek() {
            Some(Token::Str(s)) => {
                let s = s.clone();
                self.i += 1;
                Ok((s, at))
            }
            _ => Err(self.unexpected(what)),
        }
    }

    fn ident(&mut self, what: &str) -> Result<String, ParseError> {
        match self.peek() {
            Some(Token::Ident(s)) => {
                let s = s.clone();
                self.i += 1;
                Ok(s)
            }
            _ => Err(self.unexpected(what)),
        }
    }

    pub(crate) fn selector(&mut self) -> Result<Vec<Matcher>, ParseError> {
        let start = self.here();
        self.expect(Token::LBrace)?;
        let mut matchers = Vec::new();
        loop {
            if matchers.is_empty() && self.peek() == Some(&Token::RBrace) {
                break;
            }
            let name = self.ident("a label name")?;
            let op = match self.next() {
                Some(Token::Eq) => MatchOp::Eq,
                Some(Token::Neq) => MatchOp::Neq,
                Some(Token::Re) => MatchOp::Re,
                Some(Token::Nre) => MatchOp::Nre,
                _ => {
                    self.i -= 1;
                    return Err(self.unexpected("=, !=, =~ or !~"));
                }
            };
            let (value, at) = self.string("a quoted label value")?;
            matchers.push(matcher(name, op, value, at)?);
            match self.next() {
                Some(Token::Comma) => {}
                Some(Token::RBrace) => {
                    self.i -= 1;
                    break;
                }
                _ => {
                    self.i -= 1;
                    return Err(self.unexpected("`,` or `}`"));
                }
            }
        }
        self.expect(Token::RBrace)?;
        if !matchers.iter().any(|m| !m.matches("")) {
            return Err(ParseError {
                position: Some(start),
                message: EMPTY_COMPATIBLE.into(),
            });
        }
        Ok(matchers)
    }

    fn log_query(&mut self) -> Result<LogQuery, ParseError> {
        let selector = self.selector()?;
        let mut pipeline = Vec::new();
        loop {
            let op = match self.peek() {
                Some(Token::PipeExact) => Some(MatchOp::Eq),
                Some(Token::Neq) => Some(MatchOp::Neq),
                Some(Token::PipeMatch) => Some(MatchOp::Re),
                Some(Token::Nre) => Some(MatchOp::Nre),
                Some(Token::Pipe) => None,
                _ => break,
            };
            self.i += 1;
            if let Some(op) = op {
                let (value, at) = self.string("a quoted string to filter lines by")?;
                let regex = match op {
                    MatchOp::Re | MatchOp::Nre => Some(compile(&value, at, false)?),
                    _ => None,
                };
                pipeline.push(Stage::Line(LineFilter { op, value, regex }));
                continue;
            }
            let stage_at = self.here();
            pipeline.push(match self.peek() {
                Some(Token::Ident(w)) if w == "json" || w == "logfmt" => {
                    let stage = if w == "json" {
                        Stage::Json
                    } else {
                        Stage::Logfmt
                    };
                    self.i += 1;
                    if matches!(self.peek(), Some(Token::Ident(_))) {
                        return Err(ParseError::at(
                            stage_at,
                            "parser parameters (`| json a=\"b\"`) are not supported by the sandbox"
                                .into(),
                        ));
                    }
                    stage
                }
                Some(Token::Ident(w)) if w == "line_format" => {
                    self.i += 1;
                    Stage::LineFormat(self.string("a quoted template")?.0)
                }
                Some(Token::Ident(w))
                    if [
                        "pattern",
                        "regexp",
                        "unpack",
                        "label_format",
                        "drop",
                        "keep",
                        "decolorize",
                        "unwrap",
                    ]
                    .contains(&w.as_str()) =>
                {
                    return Err(ParseError::at(
                        stage_at,
                        format!("the `{w}` stage is not supported by the sandbox"),
                    ));
                }
                Some(Token::Ident(_)) | Some(Token::LParen) => {
                    Stage::Labels(self.label_filter_or()?)
                }
                _ => {
                    return Err(
                        self.unexpected("a parser (json, logfmt), line_format or a label filter")
                    );
                }
            });
        }
        Ok(LogQuery { selector, pipeline })
    }

    fn label_filter_or(&mut self) -> Result<LabelFilter, ParseError> {
        let mut left = self.label_filter_and()?;
        while self.ident_is("or") {
            self.i += 1;
            left = LabelFilter::Or(Box::new(left), Box::new(self.label_filter_and()?));
        }
        Ok(left)
    }

    fn label_filter_and(&mut self) -> Result<LabelFilter, ParseError> {
        let mut left = self.label_predicate()?;
        while self.ident_is("and") || self.peek() == Some(&Token::Comma) {
            self.i += 1;
            left = LabelFilter::And(Box::new(left), Box::new(self.label_predicate()?));
        }
        Ok(left)
    }

    fn label_predicate(&mut self) -> Result<LabelFilter, ParseError> {
        if self.peek() == Some(&Token::LParen) {
            self.i += 1;
            let inner = self.label_filter_or()?;
            self.expect(Token::RParen)?;
            return Ok(inner);
        }
        let name = self.ident("a label name")?;
        let op_at = self.here();
        let op = self.next();
        let cmp = match op {
            Some(Token::Eq | Token::EqEq) => Comparison::Eq,
            Some(Token::Neq) => Comparison::Neq,
            Some(Token::Gt) => Comparison::Gt,
            Some(Token::Gte) => Comparison::Gte,
            Some(Token::Lt) => Comparison::Lt,
            Some(Token::Lte) => Comparison::Lte,
            Some(Token::Re | Token::Nre) => Comparison::Eq,
            _ => {
                self.i -= 1;
                return Err(self.unexpected("a comparison (=, !=, =~, !~, >, >=, <, <=)"));
            }
        };
        match self.peek().cloned() {
            Some(Token::Str(value)) => {
                let at = self.here();
                self.i += 1;
                let op = match op {
                    Some(Token::Eq | Token::EqEq) => MatchOp::Eq,
                    Some(Token::Neq) => MatchOp::Neq,
                    Some(Token::Re) => MatchOp::Re,
                    Some(Token::Nre) => MatchOp::Nre,
                    _ => {
                        return Err(ParseError::at(
                            op_at,
                            "syntax error: >, >=, < and <= compare numbers; remove the quotes"
                                .into(),
                        ));
                    }
                };
                Ok(LabelFilter::Text(matcher(name, op, value, at)?))
            }
            Some(Token::Number(value) | Token::Duration(value))
                if !matches!(op, Some(Token::Re | Token::Nre)) =>
            {
                self.i += 1;
                Ok(LabelFilter::Number { name, cmp, value })
            }
            _ => Err(self.unexpected("a quoted string or a number")),
        }
    }

    /// A metric expression with binary operators of at least `min` precedence.
    fn expr(&mut self, min: u8) -> Result<MetricExpr, ParseError> {
        let mut left = self.primary()?;
        while let Some((op, prec)) = self.peek().and_then(binary_op) {
            if prec < min {
                break;
            }
            self.i += 1;
            if self.ident_is("bool") {
                return Err(ParseError::at(
                    self.here(),
                    "the `bool` modifier is not supported by the sandbox".into(),
                ));
            }
            let right = self.expr(prec + 1)?;
            left = MetricExpr::Binary {
                op,
                lhs: Box::new(left),
                rhs: Box::new(right),
            };
        }
        Ok(left)
    }

    fn primary(&mut self) -> Result<MetricExpr, ParseError> {
        let at = self.here();
        match self.peek().cloned() {
            Some(Token::Number(n)) => {
                self.i += 1;
                Ok(MetricExpr::Number(n))
            }
            Some(Token::Sub) => {
                self.i += 1;
                match self.next() {
                    Some(Token::Number(n)) => Ok(MetricExpr::Number(-n)),
                    _ => {
                        self.i -= 1;
                        Err(self.unexpected("a number"))
                    }
                }
            }
            Some(Token::LParen) => {
                self.i += 1;
                let inner = self.expr(0)?;
                self.expect(Token::RParen)?;
                Ok(inner)
            }
            Some(Token::LBrace) => Err(ParseError::at(
                at,
                "syntax error: a log query cannot be used here; count its lines with count_over_time({…}[5m]) or rate({…}[5m])".into(),
            )),
            Some(Token::Ident(word)) => {
                if let Some((_, func)) = RANGE_FNS.iter().find(|(n, _)| *n == word) {
                    self.i += 1;
                    self.expect(Token::LParen)?;
                    let query = self.log_query()?;
                    let range = match self.peek() {
                        Some(Token::LBracket) => {
                            self.i += 1;
                            match self.next() {
                                Some(Token::Duration(d)) if d > 0.0 => d,
                                _ => {
                                    self.i -= 1;
                                    return Err(self.unexpected("a range such as 5m"));
                                }
                            }
                        }
                        _ => return Err(self.unexpected("a range such as [5m]")),
                    };
                    self.expect(Token::RBracket)?;
                    self.expect(Token::RParen)?;
                    return Ok(MetricExpr::Range {
                        func: *func,
                        query,
                        range,
                    });
                }
                if let Some((_, op)) = AGG_OPS.iter().find(|(n, _)| *n == word) {
                    self.i += 1;
                    let mut grouping = self.grouping()?;
                    self.expect(Token::LParen)?;
                    let mut param = None;
                    if matches!(op, AggOp::Topk | AggOp::Bottomk) {
                        match self.next() {
                            Some(Token::Number(k)) if k >= 1.0 => param = Some(k),
                            _ => {
                                self.i -= 1;
                                return Err(self.unexpected("the number of series to keep"));
                            }
                        }
                        self.expect(Token::Comma)?;
                    }
                    let expr = self.expr(0)?;
                    self.expect(Token::RParen)?;
                    if grouping.is_none() {
                        grouping = self.grouping()?;
                    }
                    return Ok(MetricExpr::Aggregate {
                        op: *op,
                        grouping,
                        param,
                        expr: Box::new(expr),
                    });
                }
                if UNSUPPORTED.contains(&word.as_str()) {
                    return Err(ParseError::at(
                        at,
                        format!("`{word}` is not supported by the sandbox"),
                    ));
                }
                Err(self.unexpected("a metric query (count_over_time, rate, sum, …) or a stream selector"))
            }
            _ => Err(self.unexpected("a metric query or a stream selector")),
        }
    }

    fn grouping(&mut self) -> Result<Option<Grouping>, ParseError> {
        let without = match self.peek() {
            Some(Token::Ident(w)) if w == "by" => false,
            Some(Token::Ident(w)) if w == "without" => true,
            _ => return Ok(None),
        };
        self.i += 1;
        self.expect(Token::LParen)?;
        let mut labels = Vec::new();
        while self.peek() != Some(&Token::RParen) {
            labels.push(self.ident("a label name")?);
            if self.peek() == Some(&Token::Comma) {
                self.i += 1;
            } else if self.peek() != Some(&Token::RParen) {
                return Err(self.unexpected("`,` or `)`"));
            }
        }
        self.i += 1;
        Ok(Some(Grouping { without, labels }))
    }
}

fn binary_op(token: &Token) -> Option<(BinOp, u8)> {
    Some(match token {
        Token::EqEq => (BinOp::Cmp(Comparison::Eq), 1),
        Token::Neq => (BinOp::Cmp(Comparison::Neq), 1),
        Token::Gt => (BinOp::Cmp(Comparison::Gt), 1),
        Token::Gte => (BinOp::Cmp(Comparison::Gte), 1),
        Token::Lt => (BinOp::Cmp(Comparison::Lt), 1),
        Token::Lte => (BinOp::Cmp(Comparison::Lte), 1),
        Token::Add => (BinOp::Add, 2),
        Token::Sub => (BinOp::Sub, 2),
        Token::Mul => (BinOp::Mul, 3),
        Token::Div => (BinOp::Div, 3),
        Token::Mod => (BinOp::Mod, 3),
        _ => return None,
    })
}

fn matcher(name: String, op: MatchOp, value: String, at: usize) -> Result<Matcher, ParseError> {
    let regex = match op {
        MatchOp::Re | MatchOp::Nre => Some(compile(&value, at, true)?),
        _ => None,
    };
    Ok(Matcher {
        name,
        op,
        value,
        regex,
    })
}

fn compile(pattern: &str, at: usize, anchored: bool) -> Result<Regex, ParseError> {
    let source = if anchored {
        format!("^(?:{pattern})$")
    } else {
        pattern.to_owned()
    };
    Regex::new(&source).map_err(|e| {
        let detail = e.to_string();
        let last = detail.lines().last().unwrap_or("invalid").trim().to_owned();
        ParseError::at(
            at,
            format!("invalid regular expression {pattern:?}: {last}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookback_is_the_longest_window_and_offset() {
        assert_eq!(lookback("{app=\"x\"} |= \"a\"").unwrap(), 0.0);
        assert_eq!(
            lookback("count_over_time({app=\"x\"}[30d])").unwrap(),
            30.0 * 86_400.0
        );
        assert_eq!(
            lookback("sum(rate({a=\"b\"}[5m])) / sum(rate({a=\"b\"}[1h] offset 1d))").unwrap(),
            3_600.0 + 86_400.0
        );
    }

    fn err(q: &str) -> String {
        match parse(q) {
            Ok(p) => panic!("{q} parsed: {p:?}"),
            Err(e) => e.render(q),
        }
    }

    #[test]
    fn log_queries() {
        let Query::Log(q) = parse(
            r#"{app="checkout", namespace=~"shop|prod"} |= "error" != "timeout" | json | status >= 500 and path =~ "/api/.*" | line_format "{{.status}} {{.msg}}""#,
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(q.selector.len(), 2);
        assert!(q.selector[1].matches("shop") && !q.selector[1].matches("shopping"));
        assert_eq!(q.pipeline.len(), 5);
        assert!(matches!(
            &q.pipeline[3],
            Stage::Labels(LabelFilter::And(_, _))
        ));
        let Stage::Labels(filter) = &q.pipeline[3] else {
            panic!()
        };
        let labels = [("status", "503"), ("path", "/api/cart")];
        let get = |k: &str| labels.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
        assert!(filter.keeps(&get));
        let labels2 = [("status", "404"), ("path", "/api/cart")];
        let get2 = |k: &str| labels2.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
        assert!(!filter.keeps(&get2));
    }

    #[test]
    fn metric_queries_and_precedence() {
        let q = parse(
            r#"sum by (app) (rate({app="checkout"} | json | status >= 500 [5m])) / sum by (app) (rate({app="checkout"}[5m])) * 100"#,
        )
        .unwrap();
        // Left-associative: (a / b) * 100.
        let Query::Metric(MetricExpr::Binary {
            op: BinOp::Mul,
            lhs,
            rhs,
        }) = q
        else {
            panic!("multiplication at the top: {q:?}")
        };
        assert!(matches!(*lhs, MetricExpr::Binary { op: BinOp::Div, .. }));
        assert_eq!(*rhs, MetricExpr::Number(100.0));
        let q = parse("1 + 2 * 3 > 5").unwrap();
        let Query::Metric(MetricExpr::Binary {
            op: BinOp::Cmp(Comparison::Gt),
            lhs,
            ..
        }) = q
        else {
            panic!("comparison binds loosest: {q:?}")
        };
        assert!(matches!(*lhs, MetricExpr::Binary { op: BinOp::Add, .. }));
        let q = parse(r#"topk(3, sum(count_over_time({app="a"}[1h])) by (pod))"#).unwrap();
        let Query::Metric(MetricExpr::Aggregate {
            op: AggOp::Topk,
            param: Some(k),
            ..
        }) = q
        else {
            panic!()
        };
        assert_eq!(k, 3.0);
    }

    #[test]
    fn errors_say_where_and_what() {
        assert_eq!(
            err(r#"{app="web"} |= "x" |"#),
            "parse error at line 1, col 21: syntax error: unexpected end of query, expecting a parser (json, logfmt), line_format or a label filter"
        );
        assert_eq!(
            err(r#"{app=~".*"}"#),
            format!("parse error at line 1, col 1: {EMPTY_COMPATIBLE}")
        );
        assert!(err(r#"{app="web}"#).contains("col 6: unterminated string"));
        assert!(err(r#"rate({app="web"})"#).contains("expecting a range such as [5m]"));
        assert!(err(r#"{app=~"(unclosed"}"#).contains("invalid regular expression"));
        assert!(
            err(r#"sum_over_time({app="a"} | unwrap x [5m])"#)
                .contains("not supported by the sandbox")
        );
        assert!(
            err(r#"count_over_time({app="a"}[5m]) + {app="b"}"#).contains("cannot be used here")
        );
    }

    #[test]
    fn check_accepts_all_of_logql_but_catches_the_cheap_mistakes() {
        for ok in [
            r#"sum_over_time({app="a"} | logfmt | unwrap latency [5m]) by (pod)"#,
            r#"{app="a"} | pattern "<ip> - <_>" | label_format x="{{.ip}}""#,
            r#"quantile_over_time(0.99, {app="a"} | json | unwrap duration(d) [1m])"#,
        ] {
            check(ok).unwrap_or_else(|e| panic!("{ok}: {e:?}"));
        }
        for (bad, says) in [
            (r#"{app="a""#, "never closed"),
            (r#"rate({app="a"}[5m]))"#, "unexpected `)`"),
            (
                r#"{app="a"} |= "x" |"#,
                "col 19: syntax error: unexpected end of query after `|`",
            ),
            (r#"{app=~".*"} |= "x""#, "empty-compatible"),
            (r#"{app="a} |= "x""#, "unterminated string"),
            ("sum(rate(x[5m]))", "needs a stream selector"),
            ("", "empty"),
        ] {
            let e = check(bad).unwrap_err();
            assert!(e.render(bad).contains(says), "{bad}: {}", e.render(bad));
        }
    }

    #[test]
    fn selectors_are_found_as_written() {
        let q = r#"sum(rate({app="a", ns=~"x|y"} |= "e" [5m])) / sum(rate({app="a"}[5m]))"#;
        let found = stream_selectors(q).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].0, r#"{app="a", ns=~"x|y"}"#);
        assert_eq!(found[1].1.len(), 1);
    }

    #[test]
    fn durations() {
        assert_eq!(crate::parse_duration("1h30m"), Some(5400.0));
        assert_eq!(crate::parse_duration("250ms"), Some(0.25));
        assert_eq!(crate::parse_duration("5x"), None);
    }
}
