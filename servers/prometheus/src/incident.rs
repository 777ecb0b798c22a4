//! Incident shortcuts that save a model several queries: a pod's or workload's CPU and memory
//! against its requests and limits (cAdvisor + kube-state-metrics series), and a service's
//! error ratio now and at its peak over a window.

use crate::client::PrometheusApi;
use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use opsmcp_core::{
    output::{Table, parse_duration},
    structured::with_structured,
};
use rmcp::{
    ErrorData,
    handler::server::wrapper::Parameters,
    model::CallToolResult,
    schemars::{self, JsonSchema},
    tool, tool_router,
};
use serde::{Deserialize, Serialize};

use crate::{
    PrometheusServer,
    client::ApiError,
    render::{Labels, failure, number, or_fail, sample, text, time},
};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct PodResourcesArgs {
    /// Namespace
    pub namespace: String,
    /// Pod name or regex (default: every pod)
    pub pod: Option<String>,
    /// Deployment/StatefulSet name: its pods are <name>-…
    pub workload: Option<String>,
    /// Window for CPU rates (default 5m)
    pub window: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ErrorRatioArgs {
    /// Service label value, e.g. checkout
    pub service: String,
    /// Rate window (default 5m)
    pub window: Option<String>,
    /// How far back to look for the peak (default 1h)
    pub range: Option<String>,
}

/// A PromQL double-quoted string literal.
fn quoted(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// `value` escaped for use inside a PromQL regex.
fn regex_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A duration as PromQL writes it (`5m`); only validated durations reach here.
fn checked_window(text: Option<&str>, default: &str) -> Result<String, String> {
    let text = text.unwrap_or(default).trim();
    let d = parse_duration(text).map_err(|e| format!("invalid window: {e}"))?;
    if d <= SignedDuration::ZERO {
        return Err("the window must be positive".into());
    }
    Ok(text.to_owned())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VectorData {
    result: Vec<VectorSample>,
}

#[derive(Debug, Deserialize)]
struct VectorSample {
    metric: Labels,
    value: (f64, String),
}

#[derive(Debug, Deserialize)]
struct MatrixData {
    result: Vec<MatrixSeries>,
}

#[derive(Debug, Deserialize)]
struct MatrixSeries {
    values: Vec<(f64, String)>,
}

type Key = (String, String);

impl PrometheusServer {
    /// An instant vector keyed by (pod, container).
    async fn by_container(&self, query: &str) -> Result<BTreeMap<Key, f64>, ApiError> {
        let answer = self
            .prometheus()
            .prometheus::<VectorData>("api/v1/query", &[("query", query.to_owned())])
            .await?;
        Ok(answer
            .data
            .result
            .into_iter()
            .map(|s| {
                let pod = s.metric.get("pod").cloned().unwrap_or_default();
                let container = s.metric.get("container").cloned().unwrap_or_default();
                ((pod, container), sample(&s.value.1))
            })
            .collect())
    }

    async fn scalar(&self, query: &str, at: Option<Timestamp>) -> Result<Option<f64>, ApiError> {
        let mut params = vec![("query", query.to_owned())];
        if let Some(t) = at {
            params.push(("time", t.as_second().to_string()));
        }
        let answer = self
            .prometheus()
            .prometheus::<VectorData>("api/v1/query", &params)
            .await?;
        Ok(answer
            .data
            .result
            .first()
            .map(|s| sample(&s.value.1))
            .filter(|v| v.is_finite()))
    }
}

fn percent(part: Option<f64>, whole: Option<f64>) -> String {
    match (part, whole) {
        (Some(p), Some(w)) if w > 0.0 => {
            let pct = p / w * 100.0;
            format!(
                "{}%{}",
                number((pct * 10.0).round() / 10.0),
                if pct >= 90.0 { " !" } else { "" }
            )
        }
        _ => "-".into(),
    }
}

fn opt(v: Option<&f64>) -> String {
    v.map_or_else(|| "-".into(), |v| number(*v))
}

/// `pod_resources` as data (for callers that ask, see `opsmcp_core::structured`): a missing
/// value is a series Prometheus does not have.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PodResources {
    pub containers: Vec<ContainerResources>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ContainerResources {
    pub pod: String,
    pub container: String,
    /// Cores (the window's rate)
    pub cpu_cores: Option<f64>,
    pub cpu_request: Option<f64>,
    pub cpu_limit: Option<f64>,
    /// Working set, bytes
    pub memory_bytes: Option<f64>,
    pub memory_request: Option<f64>,
    pub memory_limit: Option<f64>,
    pub restarts: Option<f64>,
}

#[tool_router(router = incident_router, vis = "pub(crate)")]
impl PrometheusServer {
    /// CPU and memory of a pod or workload against its requests and limits, with restarts.
    #[tool]
    pub async fn pod_resources(
        &self,
        Parameters(args): Parameters<PodResourcesArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let window = or_fail!(checked_window(args.window.as_deref(), "5m"));
        let pods = match (&args.workload, &args.pod) {
            (Some(w), _) => format!("{}-.*", regex_escape(w)),
            (None, Some(p)) => p.clone(),
            (None, None) => ".*".into(),
        };
        let sel = format!(
            "namespace={}, pod=~{}",
            quoted(&args.namespace),
            quoted(&pods)
        );
        let containers = format!("{sel}, container!=\"\", container!=\"POD\"");
        let queries = [
            format!(
                "sum by (pod, container) (rate(container_cpu_usage_seconds_total{{{containers}}}[{window}]))"
            ),
            format!("sum by (pod, container) (container_memory_working_set_bytes{{{containers}}})"),
            format!(
                "sum by (pod, container) (kube_pod_container_resource_requests{{{sel}, resource=\"cpu\"}})"
            ),
            format!(
                "sum by (pod, container) (kube_pod_container_resource_limits{{{sel}, resource=\"cpu\"}})"
            ),
            format!(
                "sum by (pod, container) (kube_pod_container_resource_requests{{{sel}, resource=\"memory\"}})"
            ),
            format!(
                "sum by (pod, container) (kube_pod_container_resource_limits{{{sel}, resource=\"memory\"}})"
            ),
            format!("sum by (pod, container) (kube_pod_container_status_restarts_total{{{sel}}})"),
        ];
        let results = futures_join(self, &queries).await;
        let mut maps = Vec::new();
        for r in results {
            match r {
                Ok(m) => maps.push(m),
                Err(e) => return Ok(failure(e)),
            }
        }
        let [cpu, mem, cpu_req, cpu_lim, mem_req, mem_lim, restarts]: [BTreeMap<Key, f64>; 7] =
            maps.try_into().expect("seven queries");
        let mut keys: Vec<&Key> = cpu
            .keys()
            .chain(mem.keys())
            .chain(mem_lim.keys())
            .chain(restarts.keys())
            .collect();
        keys.sort();
        keys.dedup();
        if keys.is_empty() {
            return Ok(text(format!(
                "no container series for pods matching {pods} in namespace {}: check the names with label_values(label=\"pod\"), and that cAdvisor / kube-state-metrics are scraped",
                args.namespace
            )));
        }
        let data = PodResources {
            containers: keys
                .iter()
                .map(|key| ContainerResources {
                    pod: key.0.clone(),
                    container: key.1.clone(),
                    cpu_cores: cpu.get(*key).copied(),
                    cpu_request: cpu_req.get(*key).copied(),
                    cpu_limit: cpu_lim.get(*key).copied(),
                    memory_bytes: mem.get(*key).copied(),
                    memory_request: mem_req.get(*key).copied(),
                    memory_limit: mem_lim.get(*key).copied(),
                    restarts: restarts.get(*key).copied(),
                })
                .collect(),
        };
        let mut table = Table::new([
            "POD",
            "CONTAINER",
            "CPU",
            "CPU REQ",
            "CPU LIM",
            "CPU/LIM",
            "MEM",
            "MEM REQ",
            "MEM LIM",
            "MEM/LIM",
            "RESTARTS",
        ]);
        for key in &keys {
            table.row([
                key.0.clone(),
                key.1.clone(),
                opt(cpu.get(*key)),
                opt(cpu_req.get(*key)),
                opt(cpu_lim.get(*key)),
                percent(cpu.get(*key).copied(), cpu_lim.get(*key).copied()),
                opt(mem.get(*key)),
                opt(mem_req.get(*key)),
                opt(mem_lim.get(*key)),
                percent(mem.get(*key).copied(), mem_lim.get(*key).copied()),
                opt(restarts.get(*key)),
            ]);
        }
        let mut out = format!(
            "namespace {}, CPU in cores ({window} rate), memory in bytes (working set); ! = at 90% of the limit or more\n{}",
            args.namespace,
            table.render()
        );
        let mut missing = Vec::new();
        if cpu.is_empty() && mem.is_empty() {
            missing.push("no cAdvisor usage series (container_cpu_usage_seconds_total, container_memory_working_set_bytes)");
        }
        if mem_lim.is_empty() && cpu_lim.is_empty() && mem_req.is_empty() && cpu_req.is_empty() {
            missing.push("no kube-state-metrics requests/limits series, so usage cannot be compared with them");
        }
        for m in missing {
            out.push_str(&format!("\nnote: {m}"));
        }
        Ok(with_structured(text(out), &data))
    }

    /// A service's share of 5xx responses now and its peak over a window.
    #[tool]
    pub async fn service_error_ratio(
        &self,
        Parameters(args): Parameters<ErrorRatioArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let window = or_fail!(checked_window(args.window.as_deref(), "5m"));
        let range = match parse_duration(args.range.as_deref().unwrap_or("1h")) {
            Ok(r) if r > SignedDuration::ZERO => r,
            Ok(_) => return Ok(failure("the range must be positive")),
            Err(e) => return Ok(failure(format!("invalid range: {e}"))),
        };
        let c = self.error_ratio_config();
        let service = format!("{}={}", c.service_label, quoted(&args.service));
        let errors = format!(
            "sum(rate({}{{{service}, {}=~\"5..\"}}[{window}]))",
            c.metric, c.status_label
        );
        let total = format!("sum(rate({}{{{service}}}[{window}]))", c.metric);
        let ratio = format!("{errors} / {total}");
        let (now_ratio, now_total) = or_fail!(tokio::try_join!(
            self.scalar(&ratio, None),
            self.scalar(&total, None)
        ));
        let Some(now_total) = now_total else {
            let expr = match crate::promql::parse(&total) {
                Ok(e) => e,
                Err(e) => return Ok(failure(e.render(&total))),
            };
            return Ok(text(format!(
                "no traffic found for {service} in {}.\n{}",
                c.metric,
                self.explain_empty(&expr, Timestamp::now()).await
            )));
        };
        let end = Timestamp::now();
        let start = end - range;
        let step = (range.as_secs() / 60).max(15);
        let params = [
            ("query", ratio.clone()),
            ("start", start.as_second().to_string()),
            ("end", end.as_second().to_string()),
            ("step", step.to_string()),
        ];
        let history = or_fail!(
            self.prometheus()
                .prometheus::<MatrixData>("api/v1/query_range", &params)
                .await
        )
        .data
        .result;
        let peak = history.first().and_then(|s| {
            s.values
                .iter()
                .map(|(t, v)| (*t, sample(v)))
                .filter(|(_, v)| v.is_finite())
                .max_by(|a, b| a.1.total_cmp(&b.1))
        });
        let pct = |v: f64| format!("{}%", number((v * 1000.0).round() / 10.0));
        let mut out = format!(
            "{}: {} of requests fail now ({window} rate), {} req/s in total",
            args.service,
            now_ratio.map_or_else(|| "0%".to_owned(), pct),
            number(now_total)
        );
        if let Some((t, v)) = peak {
            out.push_str(&format!(
                "\npeak over the last {}: {} at {}",
                args.range.as_deref().unwrap_or("1h"),
                pct(v),
                time(t)
            ));
        }
        out.push_str(&format!("\nquery: {ratio}"));
        Ok(text(out))
    }
}

/// Run the queries concurrently (the API client bounds concurrency per backend).
async fn futures_join(
    server: &PrometheusServer,
    queries: &[String],
) -> Vec<Result<BTreeMap<Key, f64>, ApiError>> {
    let mut set = tokio::task::JoinSet::new();
    for (i, q) in queries.iter().enumerate() {
        let (server, q) = (server.clone(), q.clone());
        set.spawn(async move { (i, server.by_container(&q).await) });
    }
    let mut results: Vec<Option<Result<BTreeMap<Key, f64>, ApiError>>> =
        (0..queries.len()).map(|_| None).collect();
    while let Some(joined) = set.join_next().await {
        if let Ok((i, r)) = joined {
            results[i] = Some(r);
        }
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(ApiError::Internal("a query task failed".into()))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(quoted("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(regex_escape("web.v2"), "web\\.v2");
    }

    #[test]
    fn percent_flags_near_limits() {
        assert_eq!(percent(Some(95.0), Some(100.0)), "95% !");
        assert_eq!(percent(Some(1.0), Some(4.0)), "25%");
        assert_eq!(percent(Some(1.0), None), "-");
    }
}
