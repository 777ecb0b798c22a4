//! Command-line options of opsmcp-prometheus (each also an environment variable and a key of the
//! `--config` file), and how they become API clients.

use std::{path::PathBuf, time::Duration};

use opsmcp_core::{
    config::Secret,
    http::{Backend, BackendConfig},
    metrics::Metrics,
};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::client::{Api, Auth, TokenFile};

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
}

/// Why the options cannot make a client.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("invalid --prometheus-header `{0}`: expected NAME=VALUE")]
    Header(String),
    #[error("cannot read the CA file {path}: {reason}")]
    Ca { path: PathBuf, reason: String },
}

impl PrometheusArgs {
    fn headers(&self) -> Result<HeaderMap, SetupError> {
        let mut headers = HeaderMap::new();
        if let Some(org) = &self.prometheus_org_id {
            let value = HeaderValue::from_str(org)
                .map_err(|_| SetupError::Header(format!("X-Scope-OrgID={org}")))?;
            headers.insert("x-scope-orgid", value);
        }
        for pair in self
            .prometheus_headers
            .iter()
            .filter(|p| !p.trim().is_empty())
        {
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| SetupError::Header(redact(pair)))?;
            let name = HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| SetupError::Header(redact(pair)))?;
            let mut value = HeaderValue::from_str(value.trim())
                .map_err(|_| SetupError::Header(redact(pair)))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        Ok(headers)
    }

    fn auth(&self) -> Auth {
        if let Some(path) = &self.prometheus_token_file {
            return Auth::BearerFile(TokenFile::new(path.clone()));
        }
        if let Some(token) = &self.prometheus_token {
            return Auth::Bearer(token.clone());
        }
        match (&self.prometheus_username, &self.prometheus_password) {
            (Some(username), password) => Auth::Basic {
                username: username.clone(),
                password: password.clone().unwrap_or_else(|| Secret::new("")),
            },
            _ => Auth::None,
        }
    }

    fn secrets(&self) -> Vec<String> {
        let mut secrets: Vec<String> = [&self.prometheus_password, &self.prometheus_token]
            .into_iter()
            .flatten()
            .map(|s| s.expose().to_owned())
            .collect();
        secrets.extend(
            self.prometheus_headers
                .iter()
                .filter_map(|p| p.split_once('='))
                .map(|(_, v)| v.trim().to_owned()),
        );
        secrets
    }

    /// Check everything that can be checked now (headers, CA file) and return what builds the
    /// HTTP client later.
    fn client_spec(&self) -> Result<ClientSpec, SetupError> {
        let mut certificates = Vec::new();
        if let Some(path) = &self.prometheus_ca_file {
            let pem = std::fs::read(path).map_err(|e| SetupError::Ca {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            certificates =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| SetupError::Ca {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
        }
        if self.prometheus_insecure_skip_verify {
            tracing::warn!(
                "TLS certificate verification is off for Prometheus and Alertmanager (--prometheus-insecure-skip-verify)"
            );
        }
        Ok(ClientSpec {
            headers: self.headers()?,
            certificates,
            insecure: self.prometheus_insecure_skip_verify,
            timeout: Duration::from_secs(self.prometheus_timeout_secs),
        })
    }

    /// The Prometheus API client and, when configured, the Alertmanager one. Nothing is
    /// contacted, and the HTTP client itself is built on first use.
    pub fn apis(&self, metrics: &Metrics) -> Result<(Api, Option<Api>), SetupError> {
        let spec = std::sync::Arc::new(self.client_spec()?);
        let make = |name: &str, url: &reqwest::Url| {
            let mut config = BackendConfig::new(name, url.clone());
            config.request_timeout = spec.timeout;
            config.secrets = self.secrets();
            config.max_body_bytes = self.prometheus_max_response_bytes;
            let (spec, metrics) = (spec.clone(), metrics.clone());
            Api::new(
                name,
                move || {
                    Ok(Backend::with_client(
                        config.clone(),
                        spec.build()?,
                        metrics.clone(),
                    ))
                },
                self.auth(),
            )
        };
        let prometheus = make("prometheus", &self.prometheus_url);
        let alertmanager = self
            .alertmanager_url
            .as_ref()
            .map(|url| make("alertmanager", url));
        Ok((prometheus, alertmanager))
    }
}

/// Validated settings of the HTTP client.
struct ClientSpec {
    headers: HeaderMap,
    certificates: Vec<reqwest::Certificate>,
    insecure: bool,
    timeout: Duration,
}

impl ClientSpec {
    fn build(&self) -> Result<reqwest::Client, String> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(self.timeout)
            .default_headers(self.headers.clone())
            .user_agent(concat!("opsmcp-prometheus/", env!("CARGO_PKG_VERSION")))
            .tcp_nodelay(true)
            .danger_accept_invalid_certs(self.insecure);
        for cert in &self.certificates {
            builder = builder.add_root_certificate(cert.clone());
        }
        builder.build().map_err(|e| e.to_string())
    }
}

/// A header pair for an error message: the name only.
fn redact(pair: &str) -> String {
    match pair.split_once('=') {
        Some((name, _)) => format!("{name}=***"),
        None => "***".into(),
    }
}
