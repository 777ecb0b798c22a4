//! Command-line options of opsmcp-loki (each also an environment variable and a key of the
//! `--config` file), and how they become the API client.

use std::{path::PathBuf, time::Duration};

pub use opsmcp_core::remote::SetupError;
use opsmcp_core::{config::Secret, metrics::Metrics, remote::RemoteOptions};

use crate::client::Api;

#[derive(Debug, Clone, clap::Args)]
pub struct LokiArgs {
    /// Loki (or a Loki-compatible gateway) base URL
    #[arg(long, env = "LOKI_URL", default_value = "http://127.0.0.1:3100")]
    pub loki_url: reqwest::Url,

    /// Tenant sent as X-Scope-OrgID
    #[arg(long, env = "LOKI_ORG_ID")]
    pub loki_org_id: Option<String>,

    /// Basic-auth user
    #[arg(long, env = "LOKI_USERNAME")]
    pub loki_username: Option<String>,

    /// Basic-auth password
    #[arg(long, env = "LOKI_PASSWORD", hide_env_values = true)]
    pub loki_password: Option<Secret>,

    /// Bearer token
    #[arg(long, env = "LOKI_TOKEN", hide_env_values = true)]
    pub loki_token: Option<Secret>,

    /// File holding a bearer token, re-read when it changes
    #[arg(long, env = "LOKI_TOKEN_FILE", conflicts_with = "loki_token")]
    pub loki_token_file: Option<PathBuf>,

    /// Extra request headers, NAME=VALUE (repeat or separate with commas)
    #[arg(
        long = "loki-header",
        env = "LOKI_HEADERS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub loki_headers: Vec<String>,

    /// PEM file with extra CA certificates to trust
    #[arg(long, env = "LOKI_CA_FILE")]
    pub loki_ca_file: Option<PathBuf>,

    /// Accept any TLS certificate (insecure; logs a warning)
    #[arg(long, env = "LOKI_INSECURE_SKIP_VERIFY")]
    pub loki_insecure_skip_verify: bool,

    /// Seconds to wait for an answer before giving up
    #[arg(long, env = "LOKI_TIMEOUT", default_value_t = 30)]
    pub loki_timeout_secs: u64,

    /// Largest answer read from Loki, in bytes
    #[arg(long, env = "LOKI_MAX_RESPONSE_BYTES", default_value_t = 32 * 1024 * 1024)]
    pub loki_max_response_bytes: usize,

    /// Cost guard: refuse queries that would scan more than this many bytes, or that cannot be
    /// sized (per call, allow_large_scan overrides; 0 turns the guard off, for a Loki without
    /// index/stats)
    #[arg(long, env = "LOKI_MAX_SCAN_BYTES", default_value_t = 2 * 1024 * 1024 * 1024)]
    pub max_scan_bytes: u64,

    /// Label naming a service, used by logs_search and logs_patterns
    #[arg(long, env = "LOKI_SERVICE_LABEL", default_value = "app")]
    pub service_label: String,
}

impl LokiArgs {
    fn remote(&self) -> RemoteOptions {
        RemoteOptions {
            username: self.loki_username.clone(),
            password: self.loki_password.clone(),
            token: self.loki_token.clone(),
            token_scheme: None,
            token_file: self.loki_token_file.clone(),
            org_id: self.loki_org_id.clone(),
            headers: self.loki_headers.clone(),
            ca_file: self.loki_ca_file.clone(),
            insecure_skip_verify: self.loki_insecure_skip_verify,
            timeout: Duration::from_secs(self.loki_timeout_secs),
            max_response_bytes: self.loki_max_response_bytes,
            user_agent: concat!("opsmcp-loki/", env!("CARGO_PKG_VERSION")).into(),
        }
    }

    /// The Loki API client; nothing is contacted, and the HTTP client is built on first use.
    pub fn api(&self, metrics: &Metrics) -> Result<Api, SetupError> {
        let [api] = self.remote().apis([("loki", &self.loki_url)], metrics)?;
        Ok(api)
    }
}
