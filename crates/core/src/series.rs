//! Prometheus-style time series (Prometheus, and Loki's metric queries, answer in the same
//! shapes) as compact text for a model: numbers with SI suffixes, series in PromQL notation
//! with the labels every series shares printed once, times in RFC 3339, vectors as tables, and
//! range results summarised per series (min, max, avg, last and a 12-point trend) with a step
//! chosen to bound the points.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::output::Table;

pub type Labels = BTreeMap<String, String>;

/// A number in at most four significant digits, with k/M/G/T for large magnitudes.
pub fn number(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let a = v.abs();
    if a >= 1e4 {
        let (div, suffix) = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]
            .into_iter()
            .find(|(d, _)| a >= *d)
            .unwrap();
        return format!("{}{suffix}", trim(format!("{:.3}", v / div)));
    }
    if v.fract() == 0.0 {
        return format!("{v:.0}");
    }
    if a >= 0.01 {
        return trim(format!("{v:.4}"))
            .chars()
            .take(if v < 0.0 { 7 } else { 6 })
            .collect::<String>()
            .trim_end_matches('.')
            .to_owned();
    }
    format!("{v:.3e}")
}

fn trim(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// Parse a sample value as Prometheus sends it (a string).
pub fn sample(v: &str) -> f64 {
    match v {
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().unwrap_or(f64::NAN),
    }
}

/// Unix seconds (as Prometheus sends them) as RFC 3339 to the second.
pub fn time(secs: f64) -> String {
    Timestamp::from_second(secs.floor() as i64)
        .map_or_else(|_| format!("{secs}"), |t| t.to_string())
}

/// The labels that have the same value in every series (only meaningful for two or more).
pub fn common_labels<'a>(series: impl IntoIterator<Item = &'a Labels>) -> Labels {
    let mut iter = series.into_iter();
    let Some(first) = iter.next() else {
        return Labels::new();
    };
    let mut common = first.clone();
    let mut count = 1;
    for labels in iter {
        count += 1;
        common.retain(|k, v| labels.get(k) == Some(v));
    }
    if count < 2 {
        common.retain(|k, _| k == "__name__");
    }
    common
}

/// A series in PromQL notation without the labels in `skip`: `name{a="b", c="d"}`.
pub fn series(labels: &Labels, skip: &Labels) -> String {
    let name = labels
        .get("__name__")
        .filter(|_| !skip.contains_key("__name__"));
    let rest: Vec<String> = labels
        .iter()
        .filter(|(k, _)| k.as_str() != "__name__" && !skip.contains_key(*k))
        .map(|(k, v)| format!("{k}=\"{v}\""))
        .collect();
    match (name, rest.is_empty()) {
        (Some(n), true) => n.clone(),
        (Some(n), false) => format!("{n}{{{}}}", rest.join(", ")),
        (None, true) => "{}".into(),
        (None, false) => format!("{{{}}}", rest.join(", ")),
    }
}

/// The line that states the shared labels once, if there are any.
pub fn common_line(common: &Labels) -> Option<String> {
    (!common.is_empty()).then(|| format!("common labels: {}", series(common, &Labels::new())))
}

/// table (default) or json
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Compact text table
    #[default]
    Table,
    /// JSON
    Json,
}

/// summary (default) or points
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RangeMode {
    /// min, max, avg, last and a trend per series
    #[default]
    Summary,
    /// every point
    Points,
}

/// Values of a trend: evenly spaced bucket means.
pub const TREND_POINTS: usize = 12;

#[derive(Debug, Clone, Deserialize)]
pub struct InstantSample {
    pub metric: Labels,
    pub value: (f64, String),
}

#[derive(Debug, Clone, Deserialize)]
pub struct RangeSeries {
    pub metric: Labels,
    pub values: Vec<(f64, String)>,
}

/// The step to query with: the requested one unless it would exceed `max_points`, else the
/// smallest "round" step that keeps within it. Returns whether the request was raised.
pub fn choose_step(
    range: SignedDuration,
    requested: Option<SignedDuration>,
    max_points: usize,
) -> (SignedDuration, bool) {
    let needed = range.as_secs_f64() / (max_points as f64 - 1.0);
    if let Some(step) = requested.filter(|s| s.as_secs_f64() > 0.0) {
        if step.as_secs_f64() >= needed {
            return (step, false);
        }
        return (round_step(needed), true);
    }
    (round_step(needed), false)
}

fn round_step(min_secs: f64) -> SignedDuration {
    const STEPS: [i64; 16] = [
        1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400,
    ];
    let secs = STEPS
        .into_iter()
        .find(|s| *s as f64 >= min_secs)
        .unwrap_or_else(|| (min_secs / 86400.0).ceil() as i64 * 86400);
    SignedDuration::from_secs(secs)
}

pub fn human(d: SignedDuration) -> String {
    let s = d.as_secs();
    match s {
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

pub fn shown_notice(shown: usize, total: usize, what: &str) -> Option<String> {
    (shown < total).then(|| {
        format!("showing {shown} of {total} {what}; raise limit or narrow the query for the rest")
    })
}

pub fn render_vector(
    samples: &[InstantSample],
    limit: usize,
    format: Format,
    at: Timestamp,
) -> String {
    let shown = &samples[..samples.len().min(limit)];
    let common = common_labels(shown.iter().map(|s| &s.metric));
    let notice = shown_notice(shown.len(), samples.len(), "series");
    if format == Format::Json {
        let rows: Vec<Value> = shown
            .iter()
            .map(|s| {
                let own: Labels = s
                    .metric
                    .iter()
                    .filter(|(k, _)| !common.contains_key(*k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                json!({ "labels": own, "value": s.value.1 })
            })
            .collect();
        return json!({ "resultType": "vector", "time": at.to_string(), "common": common, "series": rows, "total": samples.len(), "notice": notice }).to_string();
    }
    let mut table = Table::new(["SERIES", "VALUE"]);
    for s in shown {
        table.row([series(&s.metric, &common), number(sample(&s.value.1))]);
    }
    let mut out = format!(
        "vector: {} series at {}, highest first",
        samples.len(),
        at.round(jiff::Unit::Second).unwrap_or(at)
    );
    if let Some(line) = common_line(&common) {
        out.push('\n');
        out.push_str(&line);
    }
    out.push('\n');
    out.push_str(&table.render());
    if let Some(n) = notice {
        out.push('\n');
        out.push_str(&n);
    }
    out
}

pub struct Summary {
    pub min: f64,
    pub max: f64,
    pub avg: f64,
    pub last: f64,
    pub first_t: f64,
    pub last_t: f64,
    pub trend: Vec<f64>,
}

pub fn summarise(points: &[(f64, String)]) -> Option<Summary> {
    let values: Vec<(f64, f64)> = points
        .iter()
        .map(|(t, v)| (*t, sample(v)))
        .filter(|(_, v)| v.is_finite())
        .collect();
    let (first, last) = (values.first()?, values.last()?);
    let sum: f64 = values.iter().map(|(_, v)| v).sum();
    let buckets = TREND_POINTS.min(values.len());
    let trend = (0..buckets)
        .map(|b| {
            let (from, to) = (
                b * values.len() / buckets,
                ((b + 1) * values.len() / buckets).max(b * values.len() / buckets + 1),
            );
            let slice = &values[from..to.min(values.len())];
            slice.iter().map(|(_, v)| v).sum::<f64>() / slice.len() as f64
        })
        .collect();
    Some(Summary {
        min: values.iter().map(|(_, v)| *v).fold(f64::INFINITY, f64::min),
        max: values
            .iter()
            .map(|(_, v)| *v)
            .fold(f64::NEG_INFINITY, f64::max),
        avg: sum / values.len() as f64,
        last: last.1,
        first_t: first.0,
        last_t: last.0,
        trend,
    })
}

/// Time of day for tables; the date is in the header.
pub fn clock(secs: f64) -> String {
    let t = time(secs);
    t.split_once('T')
        .map_or(t.clone(), |(_, rest)| rest.trim_end_matches('Z').to_owned())
}

pub fn render_range(
    series_list: &[RangeSeries],
    limit: usize,
    format: Format,
    mode: RangeMode,
    header: Option<String>,
) -> String {
    let shown = &series_list[..series_list.len().min(limit)];
    let common = common_labels(shown.iter().map(|s| &s.metric));
    let notice = shown_notice(shown.len(), series_list.len(), "series");
    let points = shown.iter().map(|s| s.values.len()).max().unwrap_or(0);
    if format == Format::Json {
        let rows: Vec<Value> = shown
            .iter()
            .map(|s| {
                let own: Labels = s.metric.iter().filter(|(k, _)| !common.contains_key(*k)).map(|(k, v)| (k.clone(), v.clone())).collect();
                match (mode, summarise(&s.values)) {
                    (RangeMode::Summary, Some(sum)) => json!({
                        "labels": own, "min": sum.min, "max": sum.max, "avg": sum.avg, "last": sum.last,
                        "first": time(sum.first_t), "lastTime": time(sum.last_t), "trend": sum.trend,
                    }),
                    _ => json!({ "labels": own, "values": s.values }),
                }
            })
            .collect();
        return json!({ "resultType": "matrix", "range": header, "common": common, "series": rows, "total": series_list.len(), "notice": notice }).to_string();
    }
    let mut out = String::new();
    if let Some(h) = header {
        out.push_str(&h);
        out.push('\n');
    }
    out.push_str(&format!(
        "{} series, {points} points each at most",
        series_list.len()
    ));
    if let Some(line) = common_line(&common) {
        out.push('\n');
        out.push_str(&line);
    }
    match mode {
        RangeMode::Summary => {
            let mut table =
                Table::new(["SERIES", "MIN", "MAX", "AVG", "LAST", "FROM", "TO", "TREND"])
                    .max_cell(Some(160));
            for s in shown {
                let Some(sum) = summarise(&s.values) else {
                    table.row([series(&s.metric, &common), "no finite values".into()]);
                    continue;
                };
                let trend: Vec<String> = sum.trend.iter().map(|v| number(*v)).collect();
                table.row([
                    series(&s.metric, &common),
                    number(sum.min),
                    number(sum.max),
                    number(sum.avg),
                    number(sum.last),
                    clock(sum.first_t),
                    clock(sum.last_t),
                    trend.join(" "),
                ]);
            }
            out.push('\n');
            out.push_str(&table.render());
            out.push_str(&format!("\nTREND: {TREND_POINTS} evenly spaced averages, oldest first. For every point pass mode=points (bounded by max_points)."));
        }
        RangeMode::Points => {
            for s in shown {
                out.push_str(&format!("\n{}:", series(&s.metric, &common)));
                let pairs: Vec<String> = s
                    .values
                    .iter()
                    .map(|(t, v)| format!("{} {}", clock(*t), number(sample(v))))
                    .collect();
                out.push_str(&format!(" {}", pairs.join(", ")));
            }
        }
    }
    if let Some(n) = notice {
        out.push('\n');
        out.push_str(&n);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn numbers() {
        assert_eq!(number(0.0), "0");
        assert_eq!(number(42.0), "42");
        assert_eq!(number(1234.5), "1234.5");
        assert_eq!(number(1_000_000_000.0), "1G");
        assert_eq!(number(152_345_678.0), "152.346M");
        assert_eq!(number(0.123456), "0.1235");
        assert_eq!(number(-0.5), "-0.5");
        assert_eq!(number(0.000123), "1.230e-4");
        assert_eq!(number(f64::NAN), "NaN");
    }

    #[test]
    fn common_labels_are_factored_out() {
        let a = labels(&[("__name__", "up"), ("job", "node"), ("instance", "a:9100")]);
        let b = labels(&[("__name__", "up"), ("job", "node"), ("instance", "b:9100")]);
        let common = common_labels([&a, &b]);
        assert_eq!(common, labels(&[("__name__", "up"), ("job", "node")]));
        assert_eq!(series(&a, &common), "{instance=\"a:9100\"}");
        assert_eq!(
            common_line(&common).unwrap(),
            "common labels: up{job=\"node\"}"
        );
        // A single series keeps its labels.
        assert_eq!(
            series(&a, &common_labels([&a])),
            "{instance=\"a:9100\", job=\"node\"}"
        );
    }

    #[test]
    fn times() {
        assert_eq!(time(1_764_000_000.0), "2025-11-24T16:00:00Z");
    }
    #[test]
    fn steps_bound_points_per_series() {
        let six_hours = SignedDuration::from_hours(6);
        let (step, raised) = choose_step(six_hours, None, 200);
        assert_eq!(step, SignedDuration::from_secs(120));
        assert!(!raised);
        assert!(six_hours.as_secs() / step.as_secs() < 200);
        let (step, raised) = choose_step(six_hours, Some(SignedDuration::from_secs(15)), 200);
        assert!(raised);
        assert_eq!(step, SignedDuration::from_secs(120));
        let (step, raised) = choose_step(six_hours, Some(SignedDuration::from_secs(600)), 200);
        assert_eq!((step, raised), (SignedDuration::from_secs(600), false));
    }

    #[test]
    fn summaries_keep_the_shape() {
        let points: Vec<(f64, String)> = (0..120)
            .map(|i| (i as f64 * 60.0, ((i % 60) * 10).to_string()))
            .collect();
        let s = summarise(&points).unwrap();
        assert_eq!((s.min, s.max, s.last), (0.0, 590.0, 590.0));
        assert_eq!(s.trend.len(), 12);
        // A sawtooth with a reset halfway: the trend climbs, drops, climbs again.
        assert!(s.trend[5] > s.trend[0] && s.trend[6] < s.trend[5] && s.trend[11] > s.trend[6]);
    }
}
