//! Command-line options of opsmcp-pagerduty (each also an environment variable and a key of the
//! `--config` file), under the names PagerDuty's own MCP server and SDKs use.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

pub use opsmcp_core::remote::SetupError;
use opsmcp_core::{config::Secret, metrics::Metrics, remote::RemoteOptions};

use crate::client::Pd;

#[derive(Debug, Clone, clap::Args)]
pub struct PagerDutyArgs {
    /// REST API key (an account key, or a user key for "assigned to me")
    #[arg(long, env = "PAGERDUTY_API_KEY", hide_env_values = true)]
    pub pagerduty_api_key: Option<Secret>,

    /// The same, under the name PagerDuty's MCP server uses
    #[arg(long, env = "PAGERDUTY_USER_API_KEY", hide_env_values = true)]
    pub pagerduty_user_api_key: Option<Secret>,

    /// Email of the PagerDuty user that changes are made as (the From header)
    #[arg(long, env = "PAGERDUTY_USER_EMAIL")]
    pub pagerduty_user_email: Option<String>,

    /// API base URL (https://api.eu.pagerduty.com for EU accounts)
    #[arg(
        long,
        env = "PAGERDUTY_API_HOST",
        default_value = "https://api.pagerduty.com"
    )]
    pub pagerduty_api_host: reqwest::Url,

    /// PEM file with extra CA certificates to trust
    #[arg(long, env = "PAGERDUTY_CA_FILE")]
    pub pagerduty_ca_file: Option<PathBuf>,

    /// Secret of the webhook subscription; webhooks are received only when it is set
    #[arg(long, env = "PAGERDUTY_WEBHOOK_SECRET", hide_env_values = true)]
    pub pagerduty_webhook_secret: Option<Secret>,

    /// Also serve the webhook receiver (POST /webhooks/pagerduty) on this address, e.g. in
    /// stdio mode; over HTTP it is served beside /mcp anyway
    #[arg(long, env = "PAGERDUTY_WEBHOOK_LISTEN")]
    pub webhook_listen: Option<SocketAddr>,

    /// Services incident lists default to (comma-separated ids)
    #[arg(long, env = "PAGERDUTY_SERVICE_IDS", value_delimiter = ',')]
    pub pagerduty_service_ids: Vec<String>,

    /// Services whose incidents opsmcp may change (comma-separated ids); default:
    /// PAGERDUTY_SERVICE_IDS, and every service when neither is set
    #[arg(long, env = "PAGERDUTY_WRITE_SERVICE_IDS", value_delimiter = ',')]
    pub pagerduty_write_service_ids: Vec<String>,

    /// Teams incident lists default to (comma-separated ids)
    #[arg(long, env = "PAGERDUTY_TEAM_IDS", value_delimiter = ',')]
    pub pagerduty_team_ids: Vec<String>,

    /// Seconds to wait for PagerDuty before giving up
    #[arg(long, env = "PAGERDUTY_TIMEOUT", default_value_t = 20)]
    pub pagerduty_timeout_secs: u64,
}

impl PagerDutyArgs {
    /// The services whose incidents may be changed (empty: every service).
    pub fn write_services(&self) -> Vec<String> {
        let listed = |ids: &[String]| -> Vec<String> {
            ids.iter()
                .map(|id| id.trim().to_owned())
                .filter(|id| !id.is_empty())
                .collect()
        };
        match listed(&self.pagerduty_write_service_ids) {
            none if none.is_empty() => listed(&self.pagerduty_service_ids),
            ids => ids,
        }
    }

    fn key(&self) -> Option<Secret> {
        self.pagerduty_api_key
            .clone()
            .or_else(|| self.pagerduty_user_api_key.clone())
    }

    /// The API client; nothing is contacted, and the HTTP client is built on first use.
    pub fn api(&self, metrics: &Metrics) -> Result<Pd, SetupError> {
        let remote = RemoteOptions {
            token: self.key(),
            token_scheme: Some("Token token=".into()),
            ca_file: self.pagerduty_ca_file.clone(),
            timeout: Duration::from_secs(self.pagerduty_timeout_secs),
            max_response_bytes: 16 * 1024 * 1024,
            user_agent: concat!("opsmcp-pagerduty/", env!("CARGO_PKG_VERSION")).into(),
            ..RemoteOptions::default()
        };
        let [api] = remote.apis([("pagerduty", &self.pagerduty_api_host)], metrics)?;
        Ok(Pd::new(
            api,
            self.key().is_some(),
            self.pagerduty_user_email.clone(),
        ))
    }
}
