//! Metric discovery: metric names, metadata, label names and values, series. Every listing is
//! bounded and says how much it left out (Prometheus 2.x ignores `limit` on these endpoints, so
//! the bound is applied here).

use crate::client::PrometheusApi;
use std::collections::BTreeMap;

use jiff::Timestamp;
use opsmcp_core::output::{Budget, Table, parse_time};
use rmcp::{
    ErrorData,
    handler::server::wrapper::Parameters,
    model::CallToolResult,
    schemars::{self, JsonSchema},
    tool, tool_router,
};
use serde::Deserialize;

use crate::{
    PrometheusServer,
    render::{Labels, common_labels, common_line, failure, or_fail, series, text},
};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct MetricsListArgs {
    /// Case-insensitive substring of the metric name
    pub filter: Option<String>,
    /// Most names per page (default 100)
    pub limit: Option<usize>,
    /// Cursor from a previous page
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct MetadataArgs {
    /// Metric name; all metrics when absent
    pub metric: Option<String>,
    /// Most metrics to show (default 50)
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct LabelsArgs {
    /// Series selectors (match[]) to restrict to, e.g. up{job="node"}
    #[serde(default, rename = "match")]
    pub matchers: Vec<String>,
    /// Start of the window (default: Prometheus' own)
    pub start: Option<String>,
    pub end: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct LabelValuesArgs {
    /// Label name
    pub label: String,
    /// Series selectors (match[]) to restrict to
    #[serde(default, rename = "match")]
    pub matchers: Vec<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    /// Most values (default 100)
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SeriesArgs {
    /// Series selectors (match[]), at least one
    #[serde(rename = "match")]
    pub matchers: Vec<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    /// Most series (default 50)
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize)]
struct Metadata {
    #[serde(rename = "type")]
    kind: String,
    help: String,
    unit: String,
}

/// `match[]`, `start` and `end` query parameters, with times parsed.
fn window(
    matchers: &[String],
    start: Option<&str>,
    end: Option<&str>,
) -> Result<Vec<(&'static str, String)>, String> {
    let now = Timestamp::now();
    let mut query: Vec<(&str, String)> = matchers.iter().map(|m| ("match[]", m.clone())).collect();
    for (key, value) in [("start", start), ("end", end)] {
        if let Some(v) = value {
            let t = parse_time(v, now).map_err(|e| e.to_string())?;
            query.push((key, t.as_second().to_string()));
        }
    }
    Ok(query)
}

fn bounded(values: &[String], limit: usize, what: &str) -> String {
    let mut out = values
        .iter()
        .take(limit)
        .cloned()
        .collect::<Vec<_>>()
        .join("\n");
    if values.len() > limit {
        out.push_str(&format!(
            "\nshowing {limit} of {} {what}; raise limit or narrow with match",
            values.len()
        ));
    }
    out
}

#[tool_router(router = discovery_router, vis = "pub(crate)")]
impl PrometheusServer {
    /// Metric names, optionally filtered by a substring.
    #[tool]
    pub async fn metrics_list(
        &self,
        Parameters(args): Parameters<MetricsListArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let names = or_fail!(
            self.prometheus()
                .prometheus::<Vec<String>>("api/v1/label/__name__/values", &[])
                .await
        )
        .data;
        let filter = args.filter.as_deref().unwrap_or("").to_lowercase();
        let matching: Vec<String> = names
            .into_iter()
            .filter(|n| n.to_lowercase().contains(&filter))
            .collect();
        if matching.is_empty() {
            return Ok(text(format!("no metric name contains `{filter}`")));
        }
        let budget = Budget {
            limit: args.limit.unwrap_or(100).max(1),
            max_tokens: 3000,
        };
        let page = match budget.page(
            matching,
            args.cursor.as_deref(),
            &format!("metrics {filter}"),
            Clone::clone,
        ) {
            Ok(p) => p,
            Err(e) => return Ok(failure(e)),
        };
        let mut out = page.items.join("\n");
        if let Some(notice) = page.notice() {
            out.push_str(&format!("\n{notice}"));
        }
        Ok(text(out))
    }

    /// Type, help and unit of metrics (from scrapes; backfilled series have none).
    #[tool]
    pub async fn metrics_metadata(
        &self,
        Parameters(args): Parameters<MetadataArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let mut query = Vec::new();
        if let Some(m) = &args.metric {
            query.push(("metric", m.clone()));
        }
        let metadata = or_fail!(
            self.prometheus()
                .prometheus::<BTreeMap<String, Vec<Metadata>>>("api/v1/metadata", &query)
                .await
        )
        .data;
        if metadata.is_empty() {
            return Ok(text(match &args.metric {
                Some(m) => format!(
                    "no metadata for `{m}`: metadata comes from scrapes, so backfilled or remote-written series have none"
                ),
                None => "no metadata: nothing has been scraped yet".to_owned(),
            }));
        }
        let limit = args.limit.unwrap_or(50).max(1);
        let mut table = Table::new(["METRIC", "TYPE", "UNIT", "HELP"]);
        for (name, entries) in metadata.iter().take(limit) {
            if let Some(m) = entries.first() {
                table.row([name.as_str(), &m.kind, &m.unit, &m.help]);
            }
        }
        let mut out = table.render();
        if metadata.len() > limit {
            out.push_str(&format!(
                "\nshowing {limit} of {} metrics; pass metric or raise limit",
                metadata.len()
            ));
        }
        Ok(text(out))
    }

    /// Label names, optionally only those of matching series.
    #[tool]
    pub async fn labels_list(
        &self,
        Parameters(args): Parameters<LabelsArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let query = or_fail!(window(
            &args.matchers,
            args.start.as_deref(),
            args.end.as_deref()
        ));
        match self
            .prometheus()
            .prometheus::<Vec<String>>("api/v1/labels", &query)
            .await
        {
            Ok(a) if a.data.is_empty() => Ok(text("no labels: no series matched")),
            Ok(a) => Ok(text(bounded(&a.data, 500, "labels"))),
            Err(e) => Ok(failure(e)),
        }
    }

    /// Values of one label, optionally only on matching series.
    #[tool]
    pub async fn label_values(
        &self,
        Parameters(args): Parameters<LabelValuesArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        if args.label.is_empty() || args.label.contains(['/', '?', '#']) {
            return Ok(failure(format!("invalid label name `{}`", args.label)));
        }
        let query = or_fail!(window(
            &args.matchers,
            args.start.as_deref(),
            args.end.as_deref()
        ));
        let path = format!("api/v1/label/{}/values", args.label);
        match self
            .prometheus()
            .prometheus::<Vec<String>>(&path, &query)
            .await
        {
            Ok(a) if a.data.is_empty() => Ok(text(format!(
                "label `{}` has no values on the matching series",
                args.label
            ))),
            Ok(a) => Ok(text(format!(
                "{} values of `{}`:\n{}",
                a.data.len(),
                args.label,
                bounded(&a.data, args.limit.unwrap_or(100).max(1), "values")
            ))),
            Err(e) => Ok(failure(e)),
        }
    }

    /// Series matching selectors, with their labels (bounded).
    #[tool]
    pub async fn series_list(
        &self,
        Parameters(args): Parameters<SeriesArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        if args.matchers.is_empty() {
            return Ok(failure(
                "pass at least one selector in `match`, e.g. [\"up\"] or [\"{namespace=\\\"shop\\\"}\"]",
            ));
        }
        let query = or_fail!(window(
            &args.matchers,
            args.start.as_deref(),
            args.end.as_deref()
        ));
        let found = or_fail!(
            self.prometheus()
                .prometheus::<Vec<Labels>>("api/v1/series", &query)
                .await
        )
        .data;
        if found.is_empty() {
            return Ok(text("no series matched"));
        }
        let limit = args.limit.unwrap_or(50).max(1);
        let shown = &found[..found.len().min(limit)];
        let common = common_labels(shown);
        let mut out = format!("{} series", found.len());
        if let Some(line) = common_line(&common) {
            out.push_str(&format!("\n{line}"));
        }
        for s in shown {
            out.push_str(&format!("\n{}", series(s, &common)));
        }
        if found.len() > limit {
            out.push_str(&format!(
                "\nshowing {limit} of {} series; raise limit or use more selective matchers",
                found.len()
            ));
        }
        Ok(text(out))
    }
}
