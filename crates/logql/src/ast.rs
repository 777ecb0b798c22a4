//! What a LogQL query says.

/// A whole query.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// Returns log lines (`streams`).
    Log(LogQuery),
    /// Returns samples (`matrix` over a range, `vector` at an instant).
    Metric(MetricExpr),
}

/// `{selector} pipeline…`
#[derive(Debug, Clone, PartialEq)]
pub struct LogQuery {
    pub selector: Vec<Matcher>,
    pub pipeline: Vec<Stage>,
}

impl LogQuery {
    /// Whether the pipeline parses or rewrites lines (so a line's labels or text can differ
    /// from the stream's).
    pub fn transforms(&self) -> bool {
        self.pipeline.iter().any(|s| !matches!(s, Stage::Line(_)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    Eq,
    Neq,
    Re,
    Nre,
}

impl MatchOp {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Eq => "=",
            MatchOp::Neq => "!=",
            MatchOp::Re => "=~",
            MatchOp::Nre => "!~",
        }
    }
}

/// A label matcher in a stream selector; regular expressions are anchored, as in Loki.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    /// The anchored expression for `=~` and `!~`.
    pub regex: Option<regex::Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        (&self.name, self.op, &self.value) == (&other.name, other.op, &other.value)
    }
}

impl Matcher {
    /// Whether a label value (`""` when the label is absent) satisfies the matcher.
    pub fn matches(&self, value: &str) -> bool {
        match (self.op, &self.regex) {
            (MatchOp::Eq, _) => value == self.value,
            (MatchOp::Neq, _) => value != self.value,
            (MatchOp::Re, Some(re)) => re.is_match(value),
            (MatchOp::Nre, Some(re)) => !re.is_match(value),
            (MatchOp::Re | MatchOp::Nre, None) => false,
        }
    }
}

/// One pipeline stage.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// `|= "x"`, `!= "x"`, `|~ "re"`, `!~ "re"`.
    Line(LineFilter),
    /// `| json`: every JSON field becomes a label (nested keys joined with `_`).
    Json,
    /// `| logfmt`: every `key=value` pair becomes a label.
    Logfmt,
    /// `| label op value [and|or …]`.
    Labels(LabelFilter),
    /// `| line_format "{{.label}} …"`.
    LineFormat(String),
}

#[derive(Debug, Clone)]
pub struct LineFilter {
    pub op: MatchOp,
    pub value: String,
    /// The (unanchored) expression for `|~` and `!~`.
    pub regex: Option<regex::Regex>,
}

impl PartialEq for LineFilter {
    fn eq(&self, other: &Self) -> bool {
        (self.op, &self.value) == (other.op, &other.value)
    }
}

impl LineFilter {
    pub fn keeps(&self, line: &str) -> bool {
        match (self.op, &self.regex) {
            (MatchOp::Eq, _) => line.contains(&self.value),
            (MatchOp::Neq, _) => !line.contains(&self.value),
            (MatchOp::Re, Some(re)) => re.is_match(line),
            (MatchOp::Nre, Some(re)) => !re.is_match(line),
            (MatchOp::Re | MatchOp::Nre, None) => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
}

impl Comparison {
    pub fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Comparison::Eq => a == b,
            Comparison::Neq => a != b,
            Comparison::Gt => a > b,
            Comparison::Gte => a >= b,
            Comparison::Lt => a < b,
            Comparison::Lte => a <= b,
        }
    }
}

/// A label filter expression after a parser stage.
#[derive(Debug, Clone, PartialEq)]
pub enum LabelFilter {
    /// `name = "v"`, `name =~ "re"` (string matchers, anchored like selectors).
    Text(Matcher),
    /// `name >= 500` (the label is parsed as a number; lines where it is not one are dropped).
    Number {
        name: String,
        cmp: Comparison,
        value: f64,
    },
    And(Box<LabelFilter>, Box<LabelFilter>),
    Or(Box<LabelFilter>, Box<LabelFilter>),
}

impl LabelFilter {
    /// Whether a line with labels `get` passes.
    pub fn keeps<'a>(&self, get: &impl Fn(&str) -> Option<&'a str>) -> bool {
        match self {
            LabelFilter::Text(m) => m.matches(get(&m.name).unwrap_or("")),
            LabelFilter::Number { name, cmp, value } => get(name)
                .and_then(|v| v.trim().parse::<f64>().ok())
                .is_some_and(|v| cmp.holds(v, *value)),
            LabelFilter::And(a, b) => a.keeps(get) && b.keeps(get),
            LabelFilter::Or(a, b) => a.keeps(get) || b.keeps(get),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeFn {
    CountOverTime,
    Rate,
    BytesOverTime,
    BytesRate,
}

impl RangeFn {
    pub fn name(self) -> &'static str {
        match self {
            RangeFn::CountOverTime => "count_over_time",
            RangeFn::Rate => "rate",
            RangeFn::BytesOverTime => "bytes_over_time",
            RangeFn::BytesRate => "bytes_rate",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggOp {
    Sum,
    Avg,
    Min,
    Max,
    Count,
    Topk,
    Bottomk,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    /// Comparisons filter: the left sample stays when the comparison holds.
    Cmp(Comparison),
}

/// `by (…)` or `without (…)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grouping {
    pub without: bool,
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MetricExpr {
    /// `fn(log query [range])`
    Range {
        func: RangeFn,
        query: LogQuery,
        /// Seconds.
        range: f64,
    },
    Aggregate {
        op: AggOp,
        grouping: Option<Grouping>,
        /// `k` of `topk`/`bottomk`.
        param: Option<f64>,
        expr: Box<MetricExpr>,
    },
    Binary {
        op: BinOp,
        lhs: Box<MetricExpr>,
        rhs: Box<MetricExpr>,
    },
    Number(f64),
}
