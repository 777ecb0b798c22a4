//! LogQL evaluation over the stored streams: pipelines (line filters, `json`, `logfmt`, label
//! filters, `line_format`), log queries with a limit and a direction, and metric queries at an
//! instant or over steps.

use std::{
    borrow::Cow,
    collections::{BTreeMap, HashMap},
};

use opsmcp_logql::{AggOp, BinOp, Grouping, LogQuery, MetricExpr, RangeFn, Stage};
use serde_json::Value;

use super::{Entry, Labels, Stream};

/// What evaluation refused (Loki answers these with a 400 and the text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalError(pub String);

/// Work done, for `data.stats`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub lines: u64,
    pub bytes: u64,
}

/// A line after the pipeline: its labels (the stream's, or extended by a parser) and text.
pub struct Processed<'a> {
    pub labels: Cow<'a, Labels>,
    pub line: Cow<'a, str>,
}

/// Run `pipeline` over one line; `None` when a filter drops it.
pub fn process<'a>(pipeline: &[Stage], labels: &'a Labels, line: &'a str) -> Option<Processed<'a>> {
    let mut out = Processed {
        labels: Cow::Borrowed(labels),
        line: Cow::Borrowed(line),
    };
    for stage in pipeline {
        match stage {
            Stage::Line(filter) => {
                if !filter.keeps(&out.line) {
                    return None;
                }
            }
            Stage::Json => {
                let parsed = json_fields(&out.line);
                extend(out.labels.to_mut(), parsed, "JSONParserErr");
            }
            Stage::Logfmt => {
                let parsed = logfmt_fields(&out.line);
                extend(out.labels.to_mut(), parsed, "LogfmtParserErr");
            }
            Stage::Labels(filter) => {
                let l = &out.labels;
                if !filter.keeps(&|k: &str| l.get(k).map(String::as_str)) {
                    return None;
                }
            }
            Stage::LineFormat(template) => {
                let rendered = line_format(template, &out.labels, &out.line);
                out.line = Cow::Owned(rendered);
            }
        }
    }
    Some(out)
}

/// Add parsed fields as labels: names sanitised, `_extracted` appended on a clash with a stream
/// label, and `__error__` set when the line was not in the format.
fn extend(labels: &mut Labels, parsed: Option<Vec<(String, String)>>, error: &str) {
    let Some(fields) = parsed else {
        labels.insert("__error__".into(), error.into());
        return;
    };
    for (key, value) in fields {
        let mut name: String = key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            name.insert(0, '_');
        }
        if labels.contains_key(&name) {
            name.push_str("_extracted");
        }
        labels.insert(name, value);
    }
}

/// A JSON object's fields, nested keys joined with `_`; arrays are skipped, as Loki does.
fn json_fields(line: &str) -> Option<Vec<(String, String)>> {
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(line) else {
        return None;
    };
    fn walk(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}_{k}")
                    };
                    walk(&key, v, out);
                }
            }
            Value::Array(_) => {}
            Value::String(s) => out.push((prefix.to_owned(), s.clone())),
            Value::Null => out.push((prefix.to_owned(), String::new())),
            other => out.push((prefix.to_owned(), other.to_string())),
        }
    }
    let mut out = Vec::new();
    walk("", &Value::Object(map), &mut out);
    Some(out)
}

/// `key=value key2="quoted value"` pairs; a line without any pair is not logfmt.
fn logfmt_fields(line: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| !c.is_whitespace() && *c != '=') {
            key.push(c);
        }
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.next_if_eq(&'=').is_some() {
            if chars.next_if_eq(&'"').is_some() {
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => {
                            if let Some(n) = chars.next() {
                                value.push(match n {
                                    'n' => '\n',
                                    't' => '\t',
                                    other => other,
                                });
                            }
                        }
                        c => value.push(c),
                    }
                }
            } else {
                while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                    value.push(c);
                }
            }
        }
        out.push((key, value));
    }
    if out.iter().all(|(_, v)| v.is_empty()) {
        return None;
    }
    Some(out)
}

/// `{{.label}}` and `{{ __line__ }}` substituted; other actions render empty.
fn line_format(template: &str, labels: &Labels, line: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find("}}") else {
            out.push_str(&rest[open..]);
            return out;
        };
        let action = rest[open + 2..open + close].trim();
        if action == "__line__" {
            out.push_str(line);
        } else if let Some(name) = action.strip_prefix('.')
            && let Some(v) = labels.get(name)
        {
            out.push_str(v);
        }
        rest = &rest[open + close + 2..];
    }
    out.push_str(rest);
    out
}

/// Streams whose labels match the selector.
pub fn matching<'a>(
    streams: &'a BTreeMap<Labels, Stream>,
    query: &'a LogQuery,
) -> impl Iterator<Item = (&'a Labels, &'a Stream)> + 'a {
    streams.iter().filter(|(labels, _)| selects(query, labels))
}

/// Whether the query's stream selector picks a stream with `labels`.
pub fn selects(query: &LogQuery, labels: &Labels) -> bool {
    query
        .selector
        .iter()
        .all(|m| m.matches(labels.get(&m.name).map_or("", String::as_str)))
}

/// A log query over `[start, end)`: up to `limit` entries, newest first when `backward`,
/// grouped by their (final) labels.
pub fn logs(
    streams: &BTreeMap<Labels, Stream>,
    query: &LogQuery,
    start: i64,
    end: i64,
    limit: usize,
    backward: bool,
) -> (Vec<(Labels, Vec<Entry>)>, Stats) {
    let mut stats = Stats::default();
    let mut found: Vec<(i64, Labels, String)> = Vec::new();
    for (labels, stream) in matching(streams, query) {
        let window = stream.between(start, end);
        let mut taken = 0;
        let mut visit = |(ts, line): &Entry| {
            stats.lines += 1;
            stats.bytes += line.len() as u64;
            if let Some(p) = process(&query.pipeline, labels, line) {
                found.push((*ts, p.labels.into_owned(), p.line.into_owned()));
                taken += 1;
            }
            taken < limit
        };
        // Only `limit` entries per stream can make the cut.
        if backward {
            for e in window.iter().rev() {
                if !visit(e) {
                    break;
                }
            }
        } else {
            for e in window {
                if !visit(e) {
                    break;
                }
            }
        }
    }
    if backward {
        found.sort_by_key(|e| std::cmp::Reverse(e.0));
    } else {
        found.sort_by_key(|e| e.0);
    }
    found.truncate(limit);
    let mut grouped: BTreeMap<Labels, Vec<Entry>> = BTreeMap::new();
    for (ts, labels, line) in found {
        grouped.entry(labels).or_default().push((ts, line));
    }
    (grouped.into_iter().collect(), stats)
}

/// Samples at one instant.
pub type Vector = Vec<(Labels, f64)>;

/// A metric expression at time `t` (ns).
pub fn instant(
    streams: &BTreeMap<Labels, Stream>,
    expr: &MetricExpr,
    t: i64,
    stats: &mut Stats,
) -> Result<Evaluated, EvalError> {
    Ok(match expr {
        MetricExpr::Number(n) => Evaluated::Scalar(*n),
        MetricExpr::Range { func, query, range } => {
            let range_ns = (range * 1e9) as i64;
            let mut groups: HashMap<Labels, (f64, f64)> = HashMap::new();
            for (labels, stream) in matching(streams, query) {
                for (_, line) in stream.between(t - range_ns + 1, t + 1) {
                    stats.lines += 1;
                    stats.bytes += line.len() as u64;
                    if let Some(p) = process(&query.pipeline, labels, line) {
                        let g = groups.entry(p.labels.into_owned()).or_default();
                        g.0 += 1.0;
                        g.1 += p.line.len() as f64;
                    }
                }
            }
            if let Some(bad) = groups
                .keys()
                .find_map(|l| l.get("__error__").map(|e| (e, l)))
            {
                return Err(EvalError(format!(
                    "pipeline error: '{}' for series: '{}'.\nUse a label filter to intentionally skip this error. (e.g | __error__!=\"{}\").\nTo skip all potential errors you can match empty errors.(e.g __error__=\"\")\nThe label filter can also be specified after unwrap. (e.g | unwrap latency | __error__=\"\" )",
                    bad.0,
                    selector_text(bad.1),
                    bad.0
                )));
            }
            Evaluated::Vector(
                groups
                    .into_iter()
                    .map(|(labels, (count, bytes))| {
                        let v = match func {
                            RangeFn::CountOverTime => count,
                            RangeFn::Rate => count / range,
                            RangeFn::BytesOverTime => bytes,
                            RangeFn::BytesRate => bytes / range,
                        };
                        (labels, v)
                    })
                    .collect(),
            )
        }
        MetricExpr::Aggregate {
            op,
            grouping,
            param,
            expr,
        } => {
            let Evaluated::Vector(v) = instant(streams, expr, t, stats)? else {
                return Err(EvalError(
                    "parse error : unexpected number, aggregations need a vector".into(),
                ));
            };
            Evaluated::Vector(aggregate(*op, grouping.as_ref(), *param, v))
        }
        MetricExpr::Binary { op, lhs, rhs } => {
            let l = instant(streams, lhs, t, stats)?;
            let r = instant(streams, rhs, t, stats)?;
            binary(*op, l, r)
        }
    })
}

/// A value of a metric expression: a number or labelled samples.
#[derive(Debug, Clone)]
pub enum Evaluated {
    Scalar(f64),
    Vector(Vector),
}

fn group_key(labels: &Labels, grouping: Option<&Grouping>) -> Labels {
    match grouping {
        None => Labels::new(),
        Some(g) if g.without => labels
            .iter()
            .filter(|(k, _)| !g.labels.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        Some(g) => labels
            .iter()
            .filter(|(k, _)| g.labels.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

fn aggregate(op: AggOp, grouping: Option<&Grouping>, param: Option<f64>, v: Vector) -> Vector {
    let mut groups: BTreeMap<Labels, Vec<(Labels, f64)>> = BTreeMap::new();
    for (labels, value) in v {
        groups
            .entry(group_key(&labels, grouping))
            .or_default()
            .push((labels, value));
    }
    let mut out = Vec::new();
    for (key, mut members) in groups {
        let values = members.iter().map(|m| m.1);
        let n = members.len() as f64;
        let value = match op {
            AggOp::Sum => values.sum(),
            AggOp::Avg => values.sum::<f64>() / n,
            AggOp::Min => values.fold(f64::INFINITY, f64::min),
            AggOp::Max => values.fold(f64::NEG_INFINITY, f64::max),
            AggOp::Count => n,
            AggOp::Topk | AggOp::Bottomk => {
                let k = param.unwrap_or(1.0) as usize;
                if op == AggOp::Topk {
                    members.sort_by(|a, b| b.1.total_cmp(&a.1));
                } else {
                    members.sort_by(|a, b| a.1.total_cmp(&b.1));
                }
                out.extend(members.into_iter().take(k));
                continue;
            }
        };
        out.push((key, value));
    }
    out
}

fn binary(op: BinOp, l: Evaluated, r: Evaluated) -> Evaluated {
    let apply = |a: f64, b: f64| -> Option<f64> {
        Some(match op {
            BinOp::Add => a + b,
            BinOp::Sub => a - b,
            BinOp::Mul => a * b,
            BinOp::Div => a / b,
            BinOp::Mod => a % b,
            BinOp::Cmp(c) => {
                if c.holds(a, b) {
                    a
                } else {
                    return None;
                }
            }
        })
    };
    match (l, r) {
        (Evaluated::Scalar(a), Evaluated::Scalar(b)) => {
            Evaluated::Scalar(apply(a, b).unwrap_or(f64::NAN))
        }
        (Evaluated::Vector(v), Evaluated::Scalar(b)) => Evaluated::Vector(
            v.into_iter()
                .filter_map(|(l, a)| apply(a, b).map(|x| (l, x)))
                .collect(),
        ),
        (Evaluated::Scalar(a), Evaluated::Vector(v)) => Evaluated::Vector(
            v.into_iter()
                .filter_map(|(l, b)| {
                    // A comparison keeps the vector's sample.
                    let x = apply(a, b)?;
                    Some((l, if matches!(op, BinOp::Cmp(_)) { b } else { x }))
                })
                .collect(),
        ),
        (Evaluated::Vector(lv), Evaluated::Vector(rv)) => {
            // One-to-one on identical label sets.
            let right: HashMap<Labels, f64> = rv.into_iter().collect();
            Evaluated::Vector(
                lv.into_iter()
                    .filter_map(|(l, a)| {
                        let b = *right.get(&l)?;
                        apply(a, b).map(|x| (l, x))
                    })
                    .collect(),
            )
        }
    }
}

/// `{a="b", c="d"}`
pub fn selector_text(labels: &Labels) -> String {
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}={}", opsmcp_logql::escape_string(v)))
        .collect();
    format!("{{{}}}", inner.join(", "))
}

#[cfg(test)]
mod tests {
    use opsmcp_logql::{Query, parse};

    use super::*;
    use crate::loki::labels;

    fn store() -> BTreeMap<Labels, Stream> {
        let mut streams = BTreeMap::new();
        for (pod, lines) in [
            (
                "checkout-a",
                vec![
                    r#"{"level":"error","status":502,"msg":"payment declined","req":{"path":"/pay"}}"#,
                    r#"{"level":"info","status":200,"msg":"ok","req":{"path":"/cart"}}"#,
                    "not json at all",
                ],
            ),
            (
                "checkout-b",
                vec![
                    "level=error status=503 msg=\"upstream timeout\" took=1.5s",
                    "level=info status=200 msg=ok",
                ],
            ),
        ] {
            let mut s = Stream::default();
            for (i, line) in lines.into_iter().enumerate() {
                s.push(((i as i64 + 1) * 1_000_000_000, line.to_owned()));
            }
            streams.insert(labels([("app", "checkout"), ("pod", pod)]), s);
        }
        streams
    }

    fn log_query(q: &str) -> LogQuery {
        match parse(q).unwrap() {
            Query::Log(q) => q,
            Query::Metric(_) => panic!("a log query"),
        }
    }

    #[test]
    fn pipelines_parse_filter_and_format() {
        let s = store();
        let q = log_query(
            r#"{app="checkout", pod="checkout-a"} | json | status >= 500 and req_path = "/pay" | line_format "{{.status}} {{.msg}}""#,
        );
        let (streams, stats) = logs(&s, &q, 0, i64::MAX, 100, true);
        assert_eq!(stats.lines, 3);
        assert_eq!(streams.len(), 1);
        assert_eq!(streams[0].1[0].1, "502 payment declined");
        assert_eq!(streams[0].0["level"], "error");

        let q = log_query(r#"{app="checkout"} | logfmt | status >= 500"#);
        let (streams, _) = logs(&s, &q, 0, i64::MAX, 100, true);
        assert_eq!(streams.len(), 1);
        assert_eq!(streams[0].0["msg"], "upstream timeout");
        assert_eq!(streams[0].0["took"], "1.5s");
    }

    #[test]
    fn limit_takes_the_newest_across_streams() {
        let s = store();
        let q = log_query(r#"{app="checkout"}"#);
        let (streams, _) = logs(&s, &q, 0, i64::MAX, 2, true);
        let all: Vec<i64> = streams
            .iter()
            .flat_map(|(_, e)| e.iter().map(|x| x.0))
            .collect();
        assert_eq!(all.len(), 2);
        assert!(all.contains(&3_000_000_000));
        let (streams, _) = logs(&s, &q, 0, i64::MAX, 2, false);
        let all: Vec<i64> = streams
            .iter()
            .flat_map(|(_, e)| e.iter().map(|x| x.0))
            .collect();
        assert_eq!(all, vec![1_000_000_000, 1_000_000_000]);
    }

    #[test]
    fn metrics_aggregate_and_divide() {
        let s = store();
        let Query::Metric(m) = parse(
            r#"sum by (app) (count_over_time({app="checkout"} |~ "error|status=5" [10s])) / sum by (app) (count_over_time({app="checkout"}[10s]))"#,
        )
        .unwrap() else {
            panic!()
        };
        let Evaluated::Vector(v) = instant(&s, &m, 5_000_000_000, &mut Stats::default()).unwrap()
        else {
            panic!()
        };
        assert_eq!(v, vec![(labels([("app", "checkout")]), 0.4)]);

        let Query::Metric(m) = parse(r#"count_over_time({app="checkout"} | json [10s])"#).unwrap()
        else {
            panic!()
        };
        let e = instant(&s, &m, 5_000_000_000, &mut Stats::default()).unwrap_err();
        assert!(e.0.starts_with("pipeline error: 'JSONParserErr'"), "{e:?}");

        let Query::Metric(m) =
            parse(r#"topk(1, count_over_time({app="checkout"}[10s])) > 2"#).unwrap()
        else {
            panic!()
        };
        let Evaluated::Vector(v) = instant(&s, &m, 5_000_000_000, &mut Stats::default()).unwrap()
        else {
            panic!()
        };
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].0["pod"], "checkout-a");
    }
}
