//! Command-line options of opsmcp-prometheus (each also an environment variable and a key of the
//! `--config` file), and how they become API clients.

use std::{path::PathBuf, time::Duration};

pub use opsmcp_core::remote::SetupError;
use opsmcp_core::{config::Secret, metrics::Metrics, remote::RemoteOptions};

use crate::client::Api;

#[derive(Debug, Clone, clap::Args)]
pub struct PrometheusArgs {
    /// Prometheus (or Mimir/Cortex/Thanos query) base URL
    #[arg(long, env = "PROMETHEUS_URL", default_value = "http://127.0.0.1:9090")]
    pub prometheus_url: reqwest::Url,

    /// Alertmanager base URL (alertmanager tools are hidden without it)
    #[arg(long, env = "ALERTMANAGER_URL")]
    pub alertmanager_url: Option<reqwest::Url>,

    /// Basic-auth user for Prometheus and Alertmanager
    #[arg(long, env = "PROMETHEUS_USERNAME")]
    pub prometheus_username: Option<String>,

    /// Basic-auth password
    #[arg(long, env = "PROMETHEUS_PASSWORD", hide_env_values = true)]
    pub prometheus_password: Option<Secret>,

    /// Bearer token
    #[arg(long, env = "PROMETHEUS_TOKEN", hide_env_values = true)]
    pub prometheus_token: Option<Secret>,

    /// File holding a bearer token, re-read when it changes
    #[arg(
        long,
        env = "PROMETHEUS_TOKEN_FILE",
        conflicts_with = "prometheus_token"
    )]
    pub prometheus_token_file: Option<PathBuf>,

    /// Tenant sent as X-Scope-OrgID (Mimir, Cortex, Thanos)
    #[arg(long, env = "PROMETHEUS_ORG_ID")]
    pub prometheus_org_id: Option<String>,

    /// Extra request headers, NAME=VALUE (repeat or separate with commas)
    #[arg(
        long = "prometheus-header",
        env = "PROMETHEUS_HEADERS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub prometheus_headers: Vec<String>,

    /// PEM file with extra CA certificates to trust
    #[arg(long, env = "PROMETHEUS_CA_FILE")]
    pub prometheus_ca_file: Option<PathBuf>,

    /// Accept any TLS certificate (insecure; logs a warning)
    #[arg(long, env = "PROMETHEUS_INSECURE_SKIP_VERIFY")]
    pub prometheus_insecure_skip_verify: bool,

    /// Seconds to wait for an answer before giving up
    #[arg(long, env = "PROMETHEUS_TIMEOUT", default_value_t = 30)]
    pub prometheus_timeout_secs: u64,

    /// Largest answer read from Prometheus, in bytes
    #[arg(long, env = "PROMETHEUS_MAX_RESPONSE_BYTES", default_value_t = 32 * 1024 * 1024)]
    pub prometheus_max_response_bytes: usize,

    /// Request counter used by service_error_ratio
    #[arg(
        long,
        env = "PROMETHEUS_ERROR_METRIC",
        default_value = "http_requests_total"
    )]
    pub error_metric: String,

    /// Label of that counter holding the HTTP status code
    #[arg(long, env = "PROMETHEUS_STATUS_LABEL", default_value = "code")]
    pub status_label: String,

    /// Label of that counter naming the service
    #[arg(long, env = "PROMETHEUS_SERVICE_LABEL", default_value = "service")]
    pub service_label: String,

    /// Longest silence silences_create may set (e.g. 7d, 24h)
    #[arg(
        long,
        env = "ALERTMANAGER_SILENCE_MAX_DURATION",
        default_value = "7d",
        value_parser = opsmcp_core::output::parse_duration
    )]
    pub silence_max_duration: jiff::SignedDuration,
}

impl PrometheusArgs {
    fn remote(&self) -> RemoteOptions {
        RemoteOptions {
            username: self.prometheus_username.clone(),
            password: self.prometheus_password.clone(),
            token: self.prometheus_token.clone(),
            token_scheme: None,
            token_file: self.prometheus_token_file.clone(),
            org_id: self.prometheus_org_id.clone(),
            headers: self.prometheus_headers.clone(),
            ca_file: self.prometheus_ca_file.clone(),
            insecure_skip_verify: self.prometheus_insecure_skip_verify,
            timeout: Duration::from_secs(self.prometheus_timeout_secs),
            max_response_bytes: self.prometheus_max_response_bytes,
            user_agent: concat!("opsmcp-prometheus/", env!("CARGO_PKG_VERSION")).into(),
        }
    }

    /// The Prometheus API client and, when configured, the Alertmanager one. Nothing is
    /// contacted, and the HTTP client itself is built on first use.
    pub fn apis(&self, metrics: &Metrics) -> Result<(Api, Option<Api>), SetupError> {
        let remote = self.remote();
        let (prometheus, alertmanager) = match &self.alertmanager_url {
            Some(url) => {
                let [p, a] = remote.apis(
                    [("prometheus", &self.prometheus_url), ("alertmanager", url)],
                    metrics,
                )?;
                (p, Some(a))
            }
            None => {
                let [p] = remote.apis([("prometheus", &self.prometheus_url)], metrics)?;
                (p, None)
            }
        };
        Ok((prometheus, alertmanager))
    }
}
