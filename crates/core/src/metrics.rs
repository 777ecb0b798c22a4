//! Process metrics in the Prometheus text format, through the official `prometheus-client`
//! crate: tool calls by outcome, tool latency, backend requests by status, and retries.
//!
//! One [`Metrics`] value is created per process and shared (it is a cheap `Arc` clone); the HTTP
//! transport serves it on `/metrics` and servers expose the same text as an MCP resource
//! ([`METRICS_RESOURCE_URI`]). This module does not know about MCP.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

/// URI under which servers publish [`Metrics::render`] as an MCP resource.
pub const METRICS_RESOURCE_URI: &str = "opsmcp://metrics";

/// How a tool call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The tool produced its result.
    Ok,
    /// The tool ran and reported a failure to the user (`isError: true`).
    ToolError,
    /// The request itself was rejected (unknown tool, invalid arguments).
    ProtocolError,
    /// The tool needs more input from the client (an input-required result).
    InputRequired,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::ToolError => "tool_error",
            Outcome::ProtocolError => "protocol_error",
            Outcome::InputRequired => "input_required",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolOutcome {
    tool: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolLabel {
    tool: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BackendStatus {
    backend: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BackendLabel {
    backend: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    server: String,
    version: String,
}

struct Inner {
    registry: Mutex<Registry>,
    tool_calls: Family<ToolOutcome, Counter>,
    tool_seconds: Family<ToolLabel, Histogram>,
    backend_requests: Family<BackendStatus, Counter>,
    backend_retries: Family<BackendLabel, Counter>,
}

/// The metric families of one process.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// Create the registry with the `opsmcp_` prefix and an `opsmcp_build_info` gauge.
    pub fn new(identity: crate::config::Identity) -> Self {
        let (server, version) = (identity.name, identity.version);
        let mut registry = Registry::with_prefix("opsmcp");
        let tool_calls = Family::<ToolOutcome, Counter>::default();
        registry.register(
            "tool_calls",
            "MCP tool calls by tool and outcome",
            tool_calls.clone(),
        );
        let tool_seconds = Family::<ToolLabel, Histogram>::new_with_constructor(|| {
            // 0.5 ms .. ~16 s: in-process tools answer in microseconds, backends in seconds.
            Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
                0.0005, 2.0, 16,
            ))
        });
        registry.register(
            "tool_call_duration_seconds",
            "MCP tool call latency",
            tool_seconds.clone(),
        );
        let backend_requests = Family::<BackendStatus, Counter>::default();
        registry.register(
            "backend_requests",
            "Outbound requests to backends by HTTP status (or `error` when none came back)",
            backend_requests.clone(),
        );
        let backend_retries = Family::<BackendLabel, Counter>::default();
        registry.register(
            "backend_retries",
            "Outbound requests retried",
            backend_retries.clone(),
        );
        let build = Family::<BuildLabels, Gauge>::default();
        build
            .get_or_create(&BuildLabels {
                server: server.to_owned(),
                version: version.to_owned(),
            })
            .set(1);
        registry.register("build_info", "Server name and version", build);
        Self {
            inner: Arc::new(Inner {
                registry: Mutex::new(registry),
                tool_calls,
                tool_seconds,
                backend_requests,
                backend_retries,
            }),
        }
    }

    /// Record one finished tool call.
    pub fn tool_call(&self, tool: &str, outcome: Outcome, elapsed: Duration) {
        self.inner
            .tool_calls
            .get_or_create(&ToolOutcome {
                tool: tool.to_owned(),
                outcome: outcome.as_str(),
            })
            .inc();
        self.inner
            .tool_seconds
            .get_or_create(&ToolLabel {
                tool: tool.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Record one attempt of an outbound request; `status` is `None` when no response came back.
    pub fn backend_request(&self, backend: &str, status: Option<u16>) {
        let status = status.map_or_else(|| "error".to_owned(), |s| s.to_string());
        self.inner
            .backend_requests
            .get_or_create(&BackendStatus {
                backend: backend.to_owned(),
                status,
            })
            .inc();
    }

    /// Record that an outbound request is being retried.
    pub fn backend_retry(&self, backend: &str) {
        self.inner
            .backend_retries
            .get_or_create(&BackendLabel {
                backend: backend.to_owned(),
            })
            .inc();
    }

    /// Register a server-specific metric (e.g. cache hits, breaker state) in the same registry.
    pub fn register(
        &self,
        name: &str,
        help: &str,
        metric: impl prometheus_client::registry::Metric,
    ) {
        self.inner
            .registry
            .lock()
            .unwrap()
            .register(name, help, metric);
    }

    /// Register a collector that produces its samples at scrape time (e.g. the breaker state).
    pub fn register_collector(&self, collector: impl prometheus_client::collector::Collector) {
        self.inner
            .registry
            .lock()
            .unwrap()
            .register_collector(Box::new(collector));
    }

    /// The OpenMetrics text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        encode(&mut out, &self.inner.registry.lock().unwrap())
            .expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_latency() {
        let m = Metrics::new(crate::config::Identity {
            name: "opsmcp-test",
            version: "1.2.3",
            about: "",
        });
        m.tool_call("pods_list", Outcome::Ok, Duration::from_millis(3));
        m.tool_call("pods_list", Outcome::Ok, Duration::from_millis(5));
        m.tool_call("pods_list", Outcome::ToolError, Duration::from_millis(1));
        m.backend_request("prometheus", Some(503));
        m.backend_request("prometheus", None);
        m.backend_retry("prometheus");
        let text = m.render();
        assert!(
            text.contains(r#"opsmcp_tool_calls_total{tool="pods_list",outcome="ok"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"opsmcp_tool_calls_total{tool="pods_list",outcome="tool_error"} 1"#)
        );
        assert!(text.contains(r#"opsmcp_tool_call_duration_seconds_count{tool="pods_list"} 3"#));
        assert!(
            text.contains(r#"opsmcp_backend_requests_total{backend="prometheus",status="503"} 1"#)
        );
        assert!(
            text.contains(
                r#"opsmcp_backend_requests_total{backend="prometheus",status="error"} 1"#
            )
        );
        assert!(text.contains(r#"opsmcp_backend_retries_total{backend="prometheus"} 1"#));
        assert!(text.contains(r#"opsmcp_build_info{server="opsmcp-test",version="1.2.3"} 1"#));
        assert!(text.ends_with("# EOF\n"));
    }
}
