//! PromQL queries: `query_instant` and `query_range`. Queries are parsed locally first; results
//! are compact tables with shared labels factored out; range queries choose a step that bounds
//! the points per series and summarise each series by default (min, max, avg, last, first and
//! last sample time, and a 12-point trend), so a six-hour query costs a few hundred tokens.

use crate::client::PrometheusApi;
use std::collections::BTreeSet;

use jiff::{SignedDuration, Timestamp};
use opsmcp_core::output::{Table, parse_duration, parse_time};
use rmcp::{
    ErrorData,
    handler::server::wrapper::Parameters,
    model::CallToolResult,
    schemars::{self, JsonSchema},
    tool, tool_router,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    PrometheusServer, promql,
    render::{
        Labels, common_labels, common_line, failure, number, or_fail, sample, series, text, time,
    },
};

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

#[derive(Debug, Deserialize, JsonSchema)]
pub struct InstantArgs {
    /// PromQL expression
    pub query: String,
    /// now (default), now-1h, 15m (ago), RFC 3339 or unix seconds
    pub time: Option<String>,
    /// Most series to show (default 50)
    pub limit: Option<usize>,
    pub format: Option<Format>,
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

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RangeArgs {
    /// PromQL expression
    pub query: String,
    /// Start: now-6h, 1h (ago), RFC 3339 or unix seconds; default 1h
    pub start: Option<String>,
    /// End; default now
    pub end: Option<String>,
    /// Step such as 30s or 5m; default: range / max_points
    pub step: Option<String>,
    /// Most points per series (default 200)
    pub max_points: Option<usize>,
    pub mode: Option<RangeMode>,
    /// Most series to show (default 20)
    pub limit: Option<usize>,
    pub format: Option<Format>,
}

/// Values of a trend: evenly spaced bucket means.
const TREND_POINTS: usize = 12;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryData {
    result_type: String,
    result: Value,
}

#[derive(Debug, Deserialize)]
struct InstantSample {
    metric: Labels,
    value: (f64, String),
}

#[derive(Debug, Deserialize)]
struct RangeSeries {
    metric: Labels,
    values: Vec<(f64, String)>,
}

#[tool_router(router = query_router, vis = "pub(crate)")]
impl PrometheusServer {
    /// Evaluate PromQL at one instant (checked locally first). Sorted by value, shared labels
    /// shown once; says why when nothing matches.
    #[tool]
    pub async fn query_instant(
        &self,
        Parameters(args): Parameters<InstantArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let expr = match promql::parse(&args.query) {
            Ok(expr) => expr,
            Err(e) => return Ok(failure(e.render(&args.query))),
        };
        let now = Timestamp::now();
        let at = match args.time.as_deref().map(|t| parse_time(t, now)).transpose() {
            Ok(t) => t.unwrap_or(now),
            Err(e) => return Ok(failure(e)),
        };
        let query = [("query", args.query.clone()), ("time", unix(at))];
        let answer = or_fail!(
            self.prometheus()
                .prometheus::<QueryData>("api/v1/query", &query)
                .await
        );
        let limit = args.limit.unwrap_or(50).max(1);
        let format = args.format.unwrap_or_default();
        let mut out = match answer.data.result_type.as_str() {
            "vector" => {
                let mut samples: Vec<InstantSample> =
                    serde_json::from_value(answer.data.result).map_err(decode)?;
                if samples.is_empty() {
                    return Ok(text(self.explain_empty(&expr, at).await));
                }
                samples.sort_by(|a, b| sample(&b.value.1).total_cmp(&sample(&a.value.1)));
                render_vector(&samples, limit, format, at)
            }
            "matrix" => {
                let series: Vec<RangeSeries> =
                    serde_json::from_value(answer.data.result).map_err(decode)?;
                if series.is_empty() {
                    return Ok(text(self.explain_empty(&expr, at).await));
                }
                render_range(&series, limit, format, RangeMode::Points, None)
            }
            "scalar" | "string" => {
                let (t, v): (f64, String) =
                    serde_json::from_value(answer.data.result).map_err(decode)?;
                match format {
                    Format::Json => {
                        json!({ "resultType": answer.data.result_type, "time": t, "value": v })
                            .to_string()
                    }
                    Format::Table => format!("{} {} at {}", answer.data.result_type, v, time(t)),
                }
            }
            other => format!("unexpected result type `{other}`: {}", answer.data.result),
        };
        append_warnings(&mut out, &answer.warnings);
        Ok(text(out))
    }

    /// Evaluate PromQL over a time range. The step keeps points per series bounded; by default
    /// each series is summarised (min, max, avg, last, first/last time, 12-point trend).
    #[tool]
    pub async fn query_range(
        &self,
        Parameters(args): Parameters<RangeArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let expr = match promql::parse(&args.query) {
            Ok(expr) => expr,
            Err(e) => return Ok(failure(e.render(&args.query))),
        };
        let now = Timestamp::now();
        let window = (|| {
            let start = parse_time(args.start.as_deref().unwrap_or("1h"), now)?;
            let end = args
                .end
                .as_deref()
                .map(|e| parse_time(e, now))
                .transpose()?
                .unwrap_or(now);
            Ok::<_, opsmcp_core::output::TimeError>((start, end))
        })();
        let (start, end) = or_fail!(window);
        if end <= start {
            return Ok(failure(format!(
                "the range is empty: start {start} is not before end {end}"
            )));
        }
        let max_points = args.max_points.unwrap_or(200).clamp(2, 11_000);
        let requested = match args.step.as_deref().map(parse_duration).transpose() {
            Ok(s) => s,
            Err(e) => return Ok(failure(format!("invalid step: {e}"))),
        };
        let (step, raised) = choose_step(end.duration_since(start), requested, max_points);
        let query = [
            ("query", args.query.clone()),
            ("start", unix(start)),
            ("end", unix(end)),
            ("step", format!("{}", step.as_secs_f64())),
        ];
        let answer = or_fail!(
            self.prometheus()
                .prometheus::<QueryData>("api/v1/query_range", &query)
                .await
        );
        let series: Vec<RangeSeries> =
            serde_json::from_value(answer.data.result).map_err(decode)?;
        if series.is_empty() {
            return Ok(text(self.explain_empty(&expr, end).await));
        }
        let header = format!(
            "range {} to {}, step {}{}",
            start.round(jiff::Unit::Second).unwrap_or(start),
            end.round(jiff::Unit::Second).unwrap_or(end),
            human(step),
            if raised {
                format!(" (raised to keep ≤ {max_points} points per series)")
            } else {
                String::new()
            }
        );
        let mut out = render_range(
            &series,
            args.limit.unwrap_or(20).max(1),
            args.format.unwrap_or_default(),
            args.mode.unwrap_or_default(),
            Some(header),
        );
        append_warnings(&mut out, &answer.warnings);
        Ok(text(out))
    }
}

impl PrometheusServer {
    /// Why a query matched nothing: a metric that does not exist (with similar names), or a
    /// label value the metric never has (with the values it has).
    pub(crate) async fn explain_empty(
        &self,
        expr: &promql_parser::parser::Expr,
        at: Timestamp,
    ) -> String {
        let mut reasons = Vec::new();
        let mut names: Option<Vec<String>> = None;
        for (metric, matchers) in promql::selectors(expr) {
            let Some(metric) = metric else { continue };
            if names.is_none() {
                names = self
                    .prometheus()
                    .prometheus::<Vec<String>>("api/v1/label/__name__/values", &[])
                    .await
                    .ok()
                    .map(|a| a.data);
            }
            let Some(all) = &names else { break };
            if !all.contains(&metric) {
                let similar = similar_names(&metric, all);
                reasons.push(if similar.is_empty() {
                    format!("metric `{metric}` does not exist in this Prometheus")
                } else {
                    format!(
                        "metric `{metric}` does not exist; similar: {}",
                        similar.join(", ")
                    )
                });
                continue;
            }
            for (label, value) in &matchers {
                // The values this label takes on the series the other matchers select.
                let others: Vec<String> = matchers
                    .iter()
                    .filter(|(l, _)| l != label)
                    .map(|(l, v)| {
                        format!("{l}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
                    })
                    .collect();
                let selector = format!("{metric}{{{}}}", others.join(","));
                let path = format!("api/v1/label/{label}/values");
                let Ok(values) = self
                    .prometheus()
                    .prometheus::<Vec<String>>(&path, &[("match[]", selector)])
                    .await
                else {
                    continue;
                };
                if !values.data.contains(value) {
                    let shown: Vec<&str> =
                        values.data.iter().take(10).map(String::as_str).collect();
                    let more = values.data.len().saturating_sub(shown.len());
                    reasons.push(format!(
                        "no `{metric}` series has {label}=\"{value}\"; its {label} values: {}{}",
                        if shown.is_empty() {
                            "(none)".to_owned()
                        } else {
                            shown.join(", ")
                        },
                        if more > 0 {
                            format!(" (and {more} more)")
                        } else {
                            String::new()
                        }
                    ));
                }
            }
        }
        if reasons.is_empty() {
            reasons.push(format!(
                "the selected series exist but have no sample at {} (stale or not yet scraped), or the expression filters everything out; try query_range over a longer window",
                at.round(jiff::Unit::Second).unwrap_or(at)
            ));
        }
        format!(
            "no data: the query matched no series.\n- {}",
            reasons.join("\n- ")
        )
    }
}

fn decode(e: serde_json::Error) -> ErrorData {
    ErrorData::internal_error(format!("unexpected Prometheus result shape: {e}"), None)
}

fn unix(t: Timestamp) -> String {
    let ms = t.as_millisecond();
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// Metric names sharing the longest underscore-separated words with `metric`.
fn similar_names(metric: &str, all: &[String]) -> Vec<String> {
    let words: BTreeSet<&str> = metric.split('_').filter(|w| w.len() > 2).collect();
    let mut scored: Vec<(usize, &String)> = all
        .iter()
        .map(|n| {
            (
                n.split('_')
                    .filter(|w| words.contains(w))
                    .map(str::len)
                    .sum(),
                n,
            )
        })
        .filter(|(score, _)| *score > 0)
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    scored.into_iter().take(5).map(|(_, n)| n.clone()).collect()
}

/// The step to query with: the requested one unless it would exceed `max_points`, else the
/// smallest "round" step that keeps within it. Returns whether the request was raised.
fn choose_step(
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

fn human(d: SignedDuration) -> String {
    let s = d.as_secs();
    match s {
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

fn append_warnings(out: &mut String, warnings: &[String]) {
    for w in warnings {
        out.push_str(&format!("\nwarning from Prometheus: {w}"));
    }
}

fn shown_notice(shown: usize, total: usize, what: &str) -> Option<String> {
    (shown < total).then(|| {
        format!("showing {shown} of {total} {what}; raise limit or narrow the query for the rest")
    })
}

fn render_vector(samples: &[InstantSample], limit: usize, format: Format, at: Timestamp) -> String {
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

struct Summary {
    min: f64,
    max: f64,
    avg: f64,
    last: f64,
    first_t: f64,
    last_t: f64,
    trend: Vec<f64>,
}

fn summarise(points: &[(f64, String)]) -> Option<Summary> {
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
fn clock(secs: f64) -> String {
    let t = time(secs);
    t.split_once('T')
        .map_or(t.clone(), |(_, rest)| rest.trim_end_matches('Z').to_owned())
}

fn render_range(
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

    #[test]
    fn similar_metric_names() {
        let all = [
            "container_memory_working_set_bytes",
            "container_cpu_usage_seconds_total",
            "up",
        ]
        .map(String::from);
        assert_eq!(
            similar_names("container_memory_usage_bytes", &all)[0],
            "container_memory_working_set_bytes"
        );
        assert!(similar_names("nothing_alike", &all).is_empty());
    }
}
