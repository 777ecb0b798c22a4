//! Command-line options of opsmcp-notion (each also an environment variable and a key of the
//! `--config` file): the integration's token, the incidents database, the runbooks database,
//! the API's URL and version, and the client-side rate limit. Nothing is contacted at start-up.

use std::time::Duration;

pub use opsmcp_core::remote::SetupError;
use opsmcp_core::{config::Secret, metrics::Metrics, remote::RemoteOptions};

use crate::client::Nt;

#[derive(Debug, Clone, clap::Args)]
pub struct NotionArgs {
    /// The integration's secret (pages must be shared with the integration)
    #[arg(long, env = "NOTION_TOKEN", hide_env_values = true)]
    pub notion_token: Option<Secret>,

    /// The incidents database (reports are written there; its data source is found on first use)
    #[arg(long, env = "NOTION_DATABASE_ID")]
    pub notion_database_id: Option<String>,

    /// The runbooks database (`pages_search runbooks=true` searches only there)
    #[arg(long, env = "NOTION_RUNBOOKS_ID")]
    pub notion_runbooks_id: Option<String>,

    /// The post-mortem template page (default: the page titled "Post-mortem template")
    #[arg(long, env = "NOTION_POSTMORTEM_TEMPLATE_ID")]
    pub notion_postmortem_template_id: Option<String>,

    /// Pages and databases (ids or URLs, comma-separated) opsmcp may write under; default: the
    /// incidents and runbooks databases and the page holding NOTION_POSTMORTEM_TEMPLATE_ID
    #[arg(long, env = "NOTION_WRITE_PARENTS", value_delimiter = ',')]
    pub notion_write_parents: Vec<String>,

    /// API base URL
    #[arg(long, env = "NOTION_URL", default_value = "https://api.notion.com")]
    pub notion_url: reqwest::Url,

    /// The Notion-Version sent (2025-09-03 or later: databases hold data sources)
    #[arg(long, env = "NOTION_VERSION", default_value = "2025-09-03")]
    pub notion_version: String,

    /// Requests per second on average (Notion allows about 3)
    #[arg(long, env = "NOTION_RATE_LIMIT", default_value_t = 3)]
    pub notion_rate_limit: u32,

    /// Seconds to wait for Notion before giving up
    #[arg(long, env = "NOTION_TIMEOUT", default_value_t = 20)]
    pub notion_timeout_secs: u64,
}

impl NotionArgs {
    /// The API client; nothing is contacted, and the HTTP client is built on first use.
    pub fn api(&self, metrics: &Metrics) -> Result<Nt, SetupError> {
        let remote = RemoteOptions {
            token: self.notion_token.clone(),
            headers: vec![format!("Notion-Version={}", self.notion_version)],
            timeout: Duration::from_secs(self.notion_timeout_secs),
            max_response_bytes: 16 * 1024 * 1024,
            user_agent: concat!("opsmcp-notion/", env!("CARGO_PKG_VERSION")).into(),
            ..RemoteOptions::default()
        };
        let [api] = remote.apis([("notion", &self.notion_url)], metrics)?;
        Ok(Nt::new(
            api,
            self.notion_token.is_some(),
            self.notion_version.clone(),
            self.notion_rate_limit,
        ))
    }
}
