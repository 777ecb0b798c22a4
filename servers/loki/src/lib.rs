//! opsmcp-loki: an MCP server for Grafana Loki.
//!
//! [`LokiServer`] holds the API client and the tool router; each tool group lives in its own
//! module: [`logs`] (log queries and text search, the cost guard), [`metric`] (LogQL metric
//! queries), [`discovery`] (labels, values, series, index stats), [`patterns`] (error
//! categorisation) and [`tail`] (following a query over WebSocket). Queries are checked locally
//! with `opsmcp-logql` before they are sent; the server never contacts Loki at start-up.

pub mod client;
pub mod config;
pub mod discovery;
pub mod logs;
pub mod metric;
pub mod patterns;
pub mod tail;

use std::sync::Arc;

use opsmcp_core::{
    approval::Safety, host::ToolHost, metrics::Metrics, structured::schema_for, tools::Effect,
};

use crate::{
    client::{Api, ApiError},
    config::LokiArgs,
};

/// Every tool and what it does to the world; annotations are derived from this table.
const EFFECTS: &[(&str, Effect)] = &[
    ("logs_query", Effect::Read),
    ("logs_search", Effect::Read),
    ("logs_metric_query", Effect::Read),
    ("logs_labels", Effect::Read),
    ("logs_label_values", Effect::Read),
    ("logs_series", Effect::Read),
    ("logs_stats", Effect::Read),
    ("logs_patterns", Effect::Read),
    ("logs_tail", Effect::Read),
];

struct Inner {
    api: Api,
    host: ToolHost<LokiServer>,
    max_scan_bytes: u64,
    service_label: String,
    /// `LOKI_ORG_ID`, to say which tenant an empty answer came from.
    tenant: Option<String>,
}

/// The server; cheap to clone (one clone per MCP session).
#[derive(Clone)]
pub struct LokiServer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for LokiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LokiServer")
            .field("tools", &self.inner.host.tools().len())
            .finish()
    }
}

impl LokiServer {
    /// Build the server from its options; Loki is not contacted.
    pub fn new(
        args: &LokiArgs,
        safety: Safety,
        metrics: Metrics,
    ) -> Result<Self, config::SetupError> {
        let api = args.api(&metrics)?;
        let router = Self::logs_router()
            + Self::metric_router()
            + Self::discovery_router()
            + Self::patterns_router()
            + Self::tail_router();
        Ok(Self {
            inner: Arc::new(Inner {
                api,
                host: ToolHost::new(router, EFFECTS, metrics, safety)
                    .with_output_schemas(&[("logs_patterns", schema_for::<patterns::Patterns>())]),
                max_scan_bytes: args.max_scan_bytes,
                service_label: args.service_label.clone(),
                tenant: args.loki_org_id.clone(),
            }),
        })
    }

    fn host(&self) -> &ToolHost<Self> {
        &self.inner.host
    }

    pub(crate) fn api(&self) -> &Api {
        &self.inner.api
    }

    pub(crate) fn max_scan_bytes(&self) -> u64 {
        self.inner.max_scan_bytes
    }

    /// What to check when Loki has no streams at all: a tenant mismatch looks like an empty Loki.
    pub(crate) fn tenant_hint(&self) -> String {
        match &self.inner.tenant {
            Some(tenant) => format!(
                " for tenant {tenant:?} (LOKI_ORG_ID): if logs are expected, check they are in that tenant"
            ),
            None => " (no tenant sent: a multi-tenant Loki needs LOKI_ORG_ID)".into(),
        }
    }

    pub(crate) fn service_label(&self) -> &str {
        &self.inner.service_label
    }

    /// A failed call as a person reads it; a LogQL error from Loki gets a caret under the
    /// column it names.
    pub(crate) fn explain(&self, query: &str, error: ApiError) -> String {
        let ApiError::Rejected { message, .. } = &error else {
            return error.to_string();
        };
        let Some(column) = message
            .split_once(", col ")
            .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|c| c.parse::<usize>().ok())
        else {
            return format!("Loki rejected the query: {message}");
        };
        let single_line = !query.contains('\n');
        let mut out = format!("Loki rejected the query: {message}");
        if single_line && column >= 1 && column <= query.chars().count() + 1 {
            out.push_str(&format!("\n  {query}\n  {}^", " ".repeat(column - 1)));
        }
        out
    }
}

impl opsmcp_core::serve::Ready for LokiServer {
    /// Readiness for `/readyz`: Loki answers `/ready`.
    async fn ready(&self) -> Result<(), String> {
        self.api()
            .get_text("ready")
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

opsmcp_core::tool_server!(
    LokiServer,
    "Grafana Loki logs. Find labels with logs_labels/logs_label_values, read a service's logs with \
     logs_search (no LogQL needed) or logs_query, group errors with logs_patterns, count with \
     logs_metric_query. Times accept now-1h, 15m (ago), RFC 3339 or unix seconds.",
);
