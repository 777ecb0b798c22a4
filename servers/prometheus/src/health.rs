//! Scrape and server health: targets (down first, with the last error), TSDB status for
//! cardinality hunting, and build information with readiness.

use crate::client::PrometheusApi;
use opsmcp_core::output::Table;
use rmcp::{
    ErrorData,
    handler::server::wrapper::Parameters,
    model::CallToolResult,
    schemars::{self, JsonSchema},
    tool, tool_router,
};
use serde::Deserialize;
use serde_json::Value;

use crate::{
    PrometheusServer,
    render::{failure, number, or_fail, text},
};

/// Which targets to list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TargetState {
    #[default]
    Any,
    Up,
    Down,
    Unknown,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct TargetsArgs {
    /// Only this health state (default any; down ones come first)
    pub state: Option<TargetState>,
    /// Most targets (default 50)
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct TsdbArgs {
    /// Entries per top list (default 10)
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct NoArgs {}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Targets {
    active_targets: Vec<Target>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Target {
    labels: std::collections::BTreeMap<String, String>,
    scrape_pool: String,
    scrape_url: String,
    health: String,
    last_error: String,
    last_scrape: String,
    last_scrape_duration: f64,
}

#[derive(Debug, Deserialize)]
struct NameValue {
    name: String,
    value: f64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Tsdb {
    head_stats: Option<Value>,
    series_count_by_metric_name: Vec<NameValue>,
    label_value_count_by_label_name: Vec<NameValue>,
    memory_in_bytes_by_label_name: Vec<NameValue>,
    series_count_by_label_value_pair: Vec<NameValue>,
}

fn top(title: &str, entries: &[NameValue], limit: usize) -> String {
    let mut table = Table::new([title, "COUNT"]);
    for e in entries.iter().take(limit) {
        table.row([e.name.clone(), number(e.value)]);
    }
    table.render()
}

#[tool_router(router = health_router, vis = "pub(crate)")]
impl PrometheusServer {
    /// Scrape targets: down ones first, with their last error.
    #[tool]
    pub async fn targets_list(
        &self,
        Parameters(args): Parameters<TargetsArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let mut targets = or_fail!(
            self.prometheus()
                .prometheus::<Targets>("api/v1/targets", &[("state", "active".into())])
                .await
        )
        .data
        .active_targets;
        let state = args.state.unwrap_or_default();
        targets.retain(|t| match state {
            TargetState::Any => true,
            TargetState::Up => t.health == "up",
            TargetState::Down => t.health == "down",
            TargetState::Unknown => t.health == "unknown",
        });
        let total = targets.len();
        let down = targets.iter().filter(|t| t.health == "down").count();
        targets.sort_by_key(|t| {
            (
                t.health == "up",
                t.scrape_pool.clone(),
                t.scrape_url.clone(),
            )
        });
        let limit = args.limit.unwrap_or(50).max(1);
        let mut table = Table::new([
            "JOB",
            "INSTANCE",
            "HEALTH",
            "LAST SCRAPE",
            "DURATION",
            "LAST ERROR",
        ]);
        for t in targets.iter().take(limit) {
            let instance = t
                .labels
                .get("instance")
                .cloned()
                .unwrap_or_else(|| t.scrape_url.clone());
            table.row([
                t.scrape_pool.clone(),
                instance,
                t.health.clone(),
                t.last_scrape
                    .split('.')
                    .next()
                    .unwrap_or(&t.last_scrape)
                    .to_owned(),
                format!("{}s", number(t.last_scrape_duration)),
                t.last_error.clone(),
            ]);
        }
        if total == 0 {
            return Ok(text("no targets in that state"));
        }
        let mut out = format!("{total} targets, {down} down\n{}", table.render());
        if total > limit {
            out.push_str(&format!(
                "\nshowing {limit} of {total} targets; raise limit or filter by state"
            ));
        }
        Ok(text(out))
    }

    /// TSDB cardinality: head series, and the metrics, labels and label pairs with most series.
    #[tool]
    pub async fn tsdb_status(
        &self,
        Parameters(args): Parameters<TsdbArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let tsdb = or_fail!(
            self.prometheus()
                .prometheus::<Tsdb>("api/v1/status/tsdb", &[])
                .await
        )
        .data;
        let limit = args.limit.unwrap_or(10).max(1);
        let mut out = String::new();
        if let Some(head) = &tsdb.head_stats {
            let get = |k: &str| {
                head.get(k)
                    .and_then(Value::as_f64)
                    .map(number)
                    .unwrap_or_else(|| "?".into())
            };
            out.push_str(&format!(
                "head: {} series, {} chunks\n\n",
                get("numSeries"),
                get("chunkCount")
            ));
        }
        out.push_str(&top(
            "METRIC (series)",
            &tsdb.series_count_by_metric_name,
            limit,
        ));
        out.push_str("\n\n");
        out.push_str(&top(
            "LABEL (distinct values)",
            &tsdb.label_value_count_by_label_name,
            limit,
        ));
        out.push_str("\n\n");
        out.push_str(&top(
            "LABEL=VALUE (series)",
            &tsdb.series_count_by_label_value_pair,
            limit,
        ));
        out.push_str("\n\n");
        out.push_str(&top(
            "LABEL (bytes in memory)",
            &tsdb.memory_in_bytes_by_label_name,
            limit,
        ));
        Ok(text(out))
    }

    /// Is Prometheus (and Alertmanager) up and ready, and which versions are they?
    #[tool]
    pub async fn prometheus_health(
        &self,
        Parameters(_): Parameters<NoArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let mut lines = Vec::new();
        let mut healthy = true;
        match self.prometheus().get_text("-/ready").await {
            Ok(_) => lines.push("prometheus: ready".to_owned()),
            Err(e) => {
                healthy = false;
                lines.push(format!("prometheus: NOT READY: {e}"));
            }
        }
        if let Ok(build) = self
            .prometheus()
            .prometheus::<Value>("api/v1/status/buildinfo", &[])
            .await
        {
            let field = |k: &str| {
                build
                    .data
                    .get(k)
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_owned()
            };
            lines.push(format!(
                "prometheus version {} (revision {}, {})",
                field("version"),
                field("revision"),
                field("goVersion")
            ));
        }
        if let Some(am) = self.alertmanager() {
            match am.get_json::<Value>("api/v2/status", &[]).await {
                Ok(status) => {
                    let version = status
                        .pointer("/versionInfo/version")
                        .and_then(Value::as_str)
                        .unwrap_or("?");
                    let cluster = status
                        .pointer("/cluster/status")
                        .and_then(Value::as_str)
                        .unwrap_or("?");
                    lines.push(format!(
                        "alertmanager: ready, version {version}, cluster {cluster}"
                    ));
                }
                Err(e) => {
                    healthy = false;
                    lines.push(format!("alertmanager: NOT READY: {e}"));
                }
            }
        }
        let out = lines.join("\n");
        Ok(if healthy { text(out) } else { failure(out) })
    }
}
