//! What is in Loki: `logs_labels`, `logs_label_values`, `logs_series` (streams for a
//! selector, shared labels once) and `logs_stats` (streams, chunks, entries and bytes a
//! selector covers — what a query over it would scan).

use std::fmt::Write as _;

use opsmcp_core::{
    or_fail,
    series::{common_labels, common_line, series},
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
    client::{IndexStats, Labels, LokiApi, Params},
    logs::{Range, bytes, human, local_error},
};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct LabelsArgs {
    /// Only streams matching this selector, e.g. {namespace="shop"}
    pub selector: Option<String>,
    /// Default now-6h
    pub start: Option<String>,
    pub end: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct LabelValuesArgs {
    /// Label name, e.g. app
    pub label: String,
    /// Only streams matching this selector
    pub selector: Option<String>,
    /// Default now-6h
    pub start: Option<String>,
    pub end: Option<String>,
    /// Most values to show (default 100)
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SeriesArgs {
    /// Stream selector, e.g. {app="checkout"}
    pub selector: String,
    /// Default now-1h
    pub start: Option<String>,
    pub end: Option<String>,
    /// Most streams to show (default 50)
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct StatsArgs {
    /// Stream selector, e.g. {namespace="shop"}
    pub selector: String,
    /// Default now-1h
    pub start: Option<String>,
    pub end: Option<String>,
}

/// A selector checked locally, or why it is not one.
fn checked(selector: &str) -> Result<(), String> {
    opsmcp_logql::parse_selector(selector)
        .map(|_| ())
        .map_err(|e| local_error(selector, &e))
}

/// A range (by default the last 6 h) and an optional selector (checked here) as the parameters
/// of the labels endpoints.
fn scope(
    start: Option<&str>,
    end: Option<&str>,
    selector: Option<&str>,
) -> Result<(Range, Params), String> {
    let range = Range::parse(start, end, "6h")?;
    let mut params = range.params().to_vec();
    if let Some(s) = selector {
        checked(s)?;
        params.push(("query", s.to_owned()));
    }
    Ok((range, params))
}

#[tool_router(router = discovery_router, vis = "pub(crate)")]
impl LokiServer {
    /// Label names of the streams in a range (optionally only those matching a selector).
    #[tool]
    pub async fn logs_labels(
        &self,
        Parameters(args): Parameters<LabelsArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let (range, params) = or_fail!(scope(
            args.start.as_deref(),
            args.end.as_deref(),
            args.selector.as_deref()
        ));
        let names: Vec<String> = or_fail!(
            self.api()
                .loki("loki/api/v1/labels", &params)
                .await
                .map_err(|e| e.to_string())
        );
        if names.is_empty() {
            return Ok(text(format!(
                "no streams in the last {}{}",
                human(range.span()),
                self.tenant_hint()
            )));
        }
        Ok(text(format!(
            "{} labels over {}: {}",
            names.len(),
            human(range.span()),
            names.join(", ")
        )))
    }

    /// Values of one label, e.g. every app or pod that logged in the range.
    #[tool]
    pub async fn logs_label_values(
        &self,
        Parameters(args): Parameters<LabelValuesArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        if args.label.is_empty()
            || !args
                .label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Ok(failure(format!(
                "label {:?} is not a label name (letters, digits and _)",
                args.label
            )));
        }
        let (range, params) = or_fail!(scope(
            args.start.as_deref(),
            args.end.as_deref(),
            args.selector.as_deref()
        ));
        let values: Vec<String> = or_fail!(
            self.api()
                .loki(&format!("loki/api/v1/label/{}/values", args.label), &params)
                .await
                .map_err(|e| e.to_string())
        );
        if values.is_empty() {
            return Ok(text(format!(
                "no values of {} over {} (logs_labels lists the labels that exist)",
                args.label,
                human(range.span())
            )));
        }
        let limit = args.limit.unwrap_or(100).max(1);
        let mut out = format!(
            "{} values of {} over {}: {}",
            values.len(),
            args.label,
            human(range.span()),
            values[..values.len().min(limit)].join(", ")
        );
        if values.len() > limit {
            let _ = write!(
                out,
                " … and {} more (raise limit or add a selector)",
                values.len() - limit
            );
        }
        Ok(text(out))
    }

    /// Streams (label sets) matching a selector, with the labels they share shown once.
    #[tool]
    pub async fn logs_series(
        &self,
        Parameters(args): Parameters<SeriesArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        or_fail!(checked(&args.selector));
        let range = or_fail!(Range::parse(
            args.start.as_deref(),
            args.end.as_deref(),
            "1h"
        ));
        let mut params = range.params().to_vec();
        params.push(("match[]", args.selector.clone()));
        let streams: Vec<Labels> = or_fail!(
            self.api()
                .loki("loki/api/v1/series", &params)
                .await
                .map_err(|e| e.to_string())
        );
        if streams.is_empty() {
            return Ok(text(format!(
                "no stream matches {} over {}",
                args.selector,
                human(range.span())
            )));
        }
        let limit = args.limit.unwrap_or(50).max(1);
        let shown = &streams[..streams.len().min(limit)];
        let common = if shown.len() > 1 {
            common_labels(shown)
        } else {
            Labels::new()
        };
        let mut out = format!("{} streams match {}", streams.len(), args.selector);
        if let Some(line) = common_line(&common) {
            let _ = write!(out, "\n{line}");
        }
        for s in shown {
            let _ = write!(out, "\n{}", series(s, &common));
        }
        if streams.len() > limit {
            let _ = write!(
                out,
                "\n… {} more (raise limit or narrow the selector)",
                streams.len() - limit
            );
        }
        Ok(text(out))
    }

    /// How much a selector covers in a range (streams, chunks, entries, bytes): the size of a
    /// query before running it.
    #[tool]
    pub async fn logs_stats(
        &self,
        Parameters(args): Parameters<StatsArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        or_fail!(checked(&args.selector));
        let range = or_fail!(Range::parse(
            args.start.as_deref(),
            args.end.as_deref(),
            "1h"
        ));
        let mut params = vec![("query", args.selector.clone())];
        params.extend(range.params());
        let stats: IndexStats = or_fail!(
            self.api()
                .get_json("loki/api/v1/index/stats", &params)
                .await
                .map_err(|e| e.to_string())
        );
        Ok(text(format!(
            "{} over {}: {} streams, {} chunks, {} entries, {}{}",
            args.selector,
            human(range.span()),
            stats.streams,
            stats.chunks,
            stats.entries,
            bytes(stats.bytes),
            if stats.bytes > self.max_scan_bytes() {
                format!(
                    " — above the cost guard's {} (queries over it need allow_large_scan)",
                    bytes(self.max_scan_bytes())
                )
            } else {
                String::new()
            }
        )))
    }
}
