//! opsmcp-prometheus: an MCP server for Prometheus and Alertmanager.
//!
//! [`PrometheusServer`] holds the API clients and the tool router; each tool group lives in its
//! own module with its parameter types and tests: [`query`] (PromQL), [`discovery`] (metric
//! names, metadata, labels, series), [`health`] (targets, TSDB cardinality, build info),
//! [`alerts`] (alerts, rules, Alertmanager alerts and silences) and [`incident`] (shortcuts
//! that save a model several calls). The server never contacts a backend at start-up.

pub mod alerts;
pub mod client;
pub mod config;
pub mod discovery;
pub mod health;
pub mod incident;
pub mod promql;
pub mod query;
pub mod render;

use std::sync::Arc;

use opsmcp_core::{
    approval::Safety, host::ToolHost, metrics::Metrics, structured::schema_for, tools::Effect,
};

use crate::{client::Api, config::PrometheusArgs};

/// Every tool and what it does to the world; annotations are derived from this table.
const EFFECTS: &[(&str, Effect)] = &[
    ("query_instant", Effect::Read),
    ("query_range", Effect::Read),
    ("metrics_list", Effect::Read),
    ("metrics_metadata", Effect::Read),
    ("labels_list", Effect::Read),
    ("label_values", Effect::Read),
    ("series_list", Effect::Read),
    ("targets_list", Effect::Read),
    ("tsdb_status", Effect::Read),
    ("prometheus_health", Effect::Read),
    ("alerts_list", Effect::Read),
    ("rules_list", Effect::Read),
    ("alertmanager_alerts", Effect::Read),
    ("silences_list", Effect::Read),
    (
        "silences_create",
        Effect::Write {
            destructive: false,
            idempotent: false,
        },
    ),
    (
        "silences_expire",
        Effect::Write {
            destructive: true,
            idempotent: true,
        },
    ),
    ("pod_resources", Effect::Read),
    ("service_error_ratio", Effect::Read),
];

/// Names of the request counter and its labels used by `service_error_ratio`.
#[derive(Debug, Clone)]
pub struct ErrorRatioConfig {
    pub metric: String,
    pub status_label: String,
    pub service_label: String,
}

struct Inner {
    prometheus: Api,
    alertmanager: Option<Api>,
    host: ToolHost<PrometheusServer>,
    error_ratio: ErrorRatioConfig,
    /// The longest silence `silences_create` may set.
    silence_max: jiff::SignedDuration,
}

/// The server; cheap to clone (one clone per MCP session).
#[derive(Clone)]
pub struct PrometheusServer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PrometheusServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrometheusServer")
            .field("tools", &self.inner.host.tools().len())
            .finish()
    }
}

impl PrometheusServer {
    /// Build the server from its options; no backend is contacted.
    pub fn new(
        args: &PrometheusArgs,
        safety: Safety,
        metrics: Metrics,
    ) -> Result<Self, config::SetupError> {
        let (prometheus, alertmanager) = args.apis(&metrics)?;
        let error_ratio = ErrorRatioConfig {
            metric: args.error_metric.clone(),
            status_label: args.status_label.clone(),
            service_label: args.service_label.clone(),
        };
        let mut server = Self::with_apis(prometheus, alertmanager, safety, error_ratio, metrics);
        if let Some(inner) = Arc::get_mut(&mut server.inner) {
            inner.silence_max = args.silence_max_duration;
        }
        Ok(server)
    }

    /// Build the server around given clients (tests inject their own). Silence writes are
    /// offered when an Alertmanager is configured and the server is not read-only; each goes
    /// through `safety`.
    pub fn with_apis(
        prometheus: Api,
        alertmanager: Option<Api>,
        safety: Safety,
        error_ratio: ErrorRatioConfig,
        metrics: Metrics,
    ) -> Self {
        let mut router = Self::query_router()
            + Self::discovery_router()
            + Self::health_router()
            + Self::alerts_router()
            + Self::incident_router();
        if alertmanager.is_some() {
            router += Self::alertmanager_router();
            if !safety.read_only() {
                router += Self::silence_writes_router();
            }
        }
        Self {
            inner: Arc::new(Inner {
                prometheus,
                alertmanager,
                host: ToolHost::new(router, EFFECTS, metrics, safety).with_output_schemas(&[(
                    "pod_resources",
                    schema_for::<incident::PodResources>(),
                )]),
                error_ratio,
                silence_max: jiff::SignedDuration::from_hours(7 * 24),
            }),
        }
    }

    pub(crate) fn silence_max(&self) -> jiff::SignedDuration {
        self.inner.silence_max
    }

    pub(crate) fn prometheus(&self) -> &Api {
        &self.inner.prometheus
    }

    pub(crate) fn alertmanager(&self) -> Option<&Api> {
        self.inner.alertmanager.as_ref()
    }

    fn host(&self) -> &ToolHost<Self> {
        &self.inner.host
    }

    pub(crate) fn safety(&self) -> &Safety {
        self.host().safety()
    }

    pub(crate) fn error_ratio_config(&self) -> &ErrorRatioConfig {
        &self.inner.error_ratio
    }
}

impl opsmcp_core::serve::Ready for PrometheusServer {
    /// Readiness for `/readyz`: Prometheus answers `/-/ready`.
    async fn ready(&self) -> Result<(), String> {
        self.prometheus()
            .get_text("-/ready")
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

opsmcp_core::tool_server!(
    PrometheusServer,
    "Prometheus and Alertmanager. Start an incident with alerts_list, then query_range for the shape of a \
     metric over time (summarised by default) and query_instant for current values. Times accept now-1h, \
     15m (ago), RFC 3339 or unix seconds.",
);
