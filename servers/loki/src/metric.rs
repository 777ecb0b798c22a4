//! `logs_metric_query`: LogQL metric queries at an instant (a table sorted by value) or over a
//! range (a step that bounds the points, each series summarised by default) — rendered like
//! opsmcp-prometheus renders PromQL, since Loki answers in Prometheus's shapes.

use jiff::{SignedDuration, Timestamp};
use opsmcp_core::{
    or_fail,
    output::{parse_duration, parse_time},
    series::{
        Format, InstantSample, RangeMode, RangeSeries, choose_step, human, render_range,
        render_vector, sample,
    },
    tools::{failure, text},
};
use rmcp::{
    ErrorData,
    handler::server::wrapper::Parameters,
    model::CallToolResult,
    schemars::{self, JsonSchema},
    tool, tool_router,
};
use serde::Deserialize;

use crate::{
    LokiServer,
    client::{LokiApi, QueryData, nanos},
    logs::{Range, local_error},
};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct MetricArgs {
    /// LogQL metric query, e.g. sum by (pod) (count_over_time({app="x"} |= "error" [5m]))
    pub query: String,
    /// Range start (now-6h, 1h, RFC 3339, unix); without it the query runs at one instant
    pub start: Option<String>,
    /// Range end; default now
    pub end: Option<String>,
    /// Instant to evaluate at when there is no start; default now
    pub time: Option<String>,
    /// Step such as 1m; default range / max_points
    pub step: Option<String>,
    /// Most points per series (default 200)
    pub max_points: Option<usize>,
    pub mode: Option<RangeMode>,
    /// Most series to show (default 20)
    pub limit: Option<usize>,
    pub format: Option<Format>,
    /// Run even if the cost guard refuses
    pub allow_large_scan: Option<bool>,
}

#[tool_router(router = metric_router, vis = "pub(crate)")]
impl LokiServer {
    /// Run a LogQL metric query (count_over_time, rate, sum by …): at an instant, or over a
    /// range when start is given (summarised per series by default).
    #[tool]
    pub async fn logs_metric_query(
        &self,
        Parameters(args): Parameters<MetricArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        if let Err(e) = opsmcp_logql::check(&args.query) {
            return Ok(failure(local_error(&args.query, &e)));
        }
        let limit = args.limit.unwrap_or(20).max(1);
        let format = args.format.unwrap_or_default();
        if args.start.is_none() {
            let at = match args.time.as_deref() {
                Some(t) => or_fail!(parse_time(t, Timestamp::now())),
                None => Timestamp::now(),
            };
            // An instant query reads its range window (`[30d]`) before `at`: sized like any other.
            let instant = Range {
                start: at - SignedDuration::from_secs(1),
                end: at,
            };
            if let Err(refusal) = self
                .guard(&args.query, instant, args.allow_large_scan.unwrap_or(false))
                .await
            {
                return Ok(failure(refusal));
            }
            let params = [("query", args.query.clone()), ("time", nanos(at))];
            let data: QueryData = or_fail!(
                self.api()
                    .loki("loki/api/v1/query", &params)
                    .await
                    .map_err(|e| self.explain(&args.query, e))
            );
            return Ok(match data.result_type.as_str() {
                "vector" => {
                    let mut samples: Vec<InstantSample> =
                        or_fail!(serde_json::from_value(data.result).map_err(|e| e.to_string()));
                    if samples.is_empty() {
                        return Ok(text(format!(
                            "no series at {at}: nothing matched in the query's range window (e.g. [5m]) before that instant"
                        )));
                    }
                    samples.sort_by(|a, b| sample(&b.value.1).total_cmp(&sample(&a.value.1)));
                    text(render_vector(&samples, limit, format, at))
                }
                "scalar" => text(format!(
                    "scalar {} at {at}",
                    data.result[1].as_str().unwrap_or("?")
                )),
                "streams" => failure(format!(
                    "`{}` is a log query; use logs_query for lines, or wrap it in count_over_time(…[5m]) to count them",
                    args.query
                )),
                other => failure(format!("Loki answered an unexpected result type {other}")),
            });
        }
        let range = or_fail!(Range::parse(
            args.start.as_deref(),
            args.end.as_deref(),
            "1h"
        ));
        if let Err(refusal) = self
            .guard(&args.query, range, args.allow_large_scan.unwrap_or(false))
            .await
        {
            return Ok(failure(refusal));
        }
        let max_points = args.max_points.unwrap_or(200).clamp(2, 11_000);
        let requested = match args.step.as_deref().map(parse_duration).transpose() {
            Ok(s) => s,
            Err(e) => return Ok(failure(format!("invalid step: {e}"))),
        };
        let (step, raised) = choose_step(range.span(), requested, max_points);
        let mut params = vec![
            ("query", args.query.clone()),
            ("step", format!("{}", step.as_secs_f64())),
        ];
        params.extend(range.params());
        let data: QueryData = or_fail!(
            self.api()
                .loki("loki/api/v1/query_range", &params)
                .await
                .map_err(|e| self.explain(&args.query, e))
        );
        if data.result_type == "streams" {
            return Ok(failure(format!(
                "`{}` is a log query; use logs_query for lines, or wrap it in count_over_time(…[5m]) to count them",
                args.query
            )));
        }
        let series: Vec<RangeSeries> =
            or_fail!(serde_json::from_value(data.result).map_err(|e| e.to_string()));
        if series.is_empty() {
            return Ok(text(format!(
                "no series between {} and {}: no line matched. Check the selector with logs_series or loosen the filters.",
                range.start, range.end
            )));
        }
        let header = format!(
            "range {} to {}, step {}{}",
            range.start.round(jiff::Unit::Second).unwrap_or(range.start),
            range.end.round(jiff::Unit::Second).unwrap_or(range.end),
            human(step),
            if raised {
                format!(" (raised to keep ≤ {max_points} points per series)")
            } else {
                String::new()
            }
        );
        Ok(text(render_range(
            &series,
            limit,
            format,
            args.mode.unwrap_or_default(),
            Some(header),
        )))
    }
}
