//! PromQL queries: `query_instant` and `query_range`. Queries are parsed locally first; results
//! are compact tables with shared labels factored out; range queries choose a step that bounds
//! the points per series and summarise each series by default (min, max, avg, last, first and
//! last sample time, and a 12-point trend), so a six-hour query costs a few hundred tokens.

use crate::client::PrometheusApi;
use std::collections::BTreeSet;

use jiff::Timestamp;
use opsmcp_core::output::{parse_duration, parse_time};
use rmcp::{
    ErrorData,
    handler::server::wrapper::Parameters,
    model::CallToolResult,
    schemars::{self, JsonSchema},
    tool, tool_router,
};
use serde::Deserialize;
use serde_json::{Value, json};

pub use opsmcp_core::series::{Format, RangeMode};
use opsmcp_core::series::{
    InstantSample, RangeSeries, choose_step, human, render_range, render_vector,
};

use crate::{
    PrometheusServer, promql,
    render::{failure, or_fail, sample, text, time},
};

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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryData {
    result_type: String,
    result: Value,
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

fn append_warnings(out: &mut String, warnings: &[String]) {
    for w in warnings {
        out.push_str(&format!("\nwarning from Prometheus: {w}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
