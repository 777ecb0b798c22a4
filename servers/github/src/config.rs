//! Command-line options of opsmcp-github (each also an environment variable and a key of the
//! `--config` file), under the names GitHub's own MCP server and Actions use: a token
//! (`GITHUB_TOKEN`, or `GITHUB_PERSONAL_ACCESS_TOKEN`) or a GitHub App installation, the API's
//! host, default repository and toolsets. Nothing is contacted at start-up.

use std::{path::PathBuf, time::Duration};

use opsmcp_core::{config::Secret, metrics::Metrics};

use crate::client::{Credentials, Gh};

/// The tool groups `--toolsets` chooses from.
pub const TOOLSETS: &[&str] = &[
    "repos",
    "pull_requests",
    "issues",
    "actions",
    "releases",
    "users",
];

#[derive(Debug, Clone, clap::Args)]
pub struct GitHubArgs {
    /// Personal access token or fine-grained token (sent as a bearer token)
    #[arg(long, env = "GITHUB_TOKEN", hide_env_values = true)]
    pub github_token: Option<Secret>,

    /// The same, under the name GitHub's MCP server uses
    #[arg(long, env = "GITHUB_PERSONAL_ACCESS_TOKEN", hide_env_values = true)]
    pub github_personal_access_token: Option<Secret>,

    /// GitHub App id (with the private key and installation id, instead of a token)
    #[arg(long, env = "GITHUB_APP_ID")]
    pub github_app_id: Option<u64>,

    /// PEM file with the GitHub App's private key
    #[arg(long, env = "GITHUB_APP_PRIVATE_KEY_FILE")]
    pub github_app_private_key_file: Option<PathBuf>,

    /// The App's installation on the organisation or account
    #[arg(long, env = "GITHUB_APP_INSTALLATION_ID")]
    pub github_app_installation_id: Option<u64>,

    /// GitHub Enterprise Server host (https://HOST/api/v3 is its API)
    #[arg(long, env = "GITHUB_HOST")]
    pub github_host: Option<String>,

    /// The API's base URL itself (what GitHub Actions sets); wins over GITHUB_HOST
    #[arg(long, env = "GITHUB_API_URL")]
    pub github_api_url: Option<reqwest::Url>,

    /// Owner every tool defaults to
    #[arg(long, env = "GITHUB_REPO_OWNER")]
    pub github_repo_owner: Option<String>,

    /// Repository every tool defaults to
    #[arg(long, env = "GITHUB_REPO_NAME")]
    pub github_repo_name: Option<String>,

    /// Repositories the write tools may change (comma-separated owner/name or owner/*;
    /// default: only GITHUB_REPO_OWNER/GITHUB_REPO_NAME). Reads reach what the token reaches.
    #[arg(long, env = "GITHUB_REPOSITORIES", value_delimiter = ',')]
    pub github_repositories: Vec<String>,

    /// Tool groups to offer (comma-separated): repos, pull_requests, issues, actions,
    /// releases, users, or all
    #[arg(
        long,
        env = "GITHUB_TOOLSETS",
        value_delimiter = ',',
        default_value = "all"
    )]
    pub toolsets: Vec<String>,

    /// Seconds to wait for GitHub before giving up
    #[arg(long, env = "GITHUB_TIMEOUT", default_value_t = 20)]
    pub github_timeout_secs: u64,
}

/// Why the options cannot make a client.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("GITHUB_HOST {0:?} is not a host name (give e.g. github.example.com)")]
    Host(String),
    #[error(
        "GitHub App authentication needs GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY_FILE and GITHUB_APP_INSTALLATION_ID together; missing {0}"
    )]
    AppIncomplete(&'static str),
    #[error("cannot read the GitHub App private key {path}: {reason}")]
    AppKey { path: String, reason: String },
    #[error("unknown toolset {0:?}; choose from {list} or all", list = TOOLSETS.join(", "))]
    Toolset(String),
}

impl GitHubArgs {
    /// The REST API's base URL: `GITHUB_API_URL`, else `https://GITHUB_HOST/api/v3`, else
    /// `https://api.github.com`.
    pub fn api_url(&self) -> Result<String, SetupError> {
        if let Some(url) = &self.github_api_url {
            return Ok(url.as_str().trim_end_matches('/').to_owned());
        }
        match self.github_host.as_deref().map(str::trim) {
            None | Some("" | "github.com" | "api.github.com") => {
                Ok("https://api.github.com".into())
            }
            Some(host) => {
                let host = host
                    .trim_start_matches("https://")
                    .trim_start_matches("http://")
                    .trim_end_matches('/');
                if host.is_empty() || host.contains(['/', ' ', '?', '#']) {
                    return Err(SetupError::Host(host.to_owned()));
                }
                Ok(format!("https://{host}/api/v3"))
            }
        }
    }

    /// The toolsets to offer.
    pub fn toolsets(&self) -> Result<Vec<&'static str>, SetupError> {
        let mut chosen = Vec::new();
        for t in self.toolsets.iter().map(|t| t.trim()) {
            if t == "all" || t.is_empty() {
                return Ok(TOOLSETS.to_vec());
            }
            let known = TOOLSETS
                .iter()
                .find(|k| **k == t)
                .ok_or_else(|| SetupError::Toolset(t.to_owned()))?;
            chosen.push(*known);
        }
        Ok(chosen)
    }

    fn credentials(&self) -> Result<Credentials, SetupError> {
        let app = (
            self.github_app_id,
            self.github_app_private_key_file.as_ref(),
            self.github_app_installation_id,
        );
        match app {
            (None, None, None) => Ok(self
                .github_token
                .clone()
                .or_else(|| self.github_personal_access_token.clone())
                .map_or(Credentials::None, Credentials::Token)),
            (Some(app_id), Some(path), Some(installation)) => {
                let pem = std::fs::read(path).map_err(|e| SetupError::AppKey {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })?;
                let key = octocrab::auth::EncodingKey::from_rsa_pem(&pem).map_err(|e| {
                    SetupError::AppKey {
                        path: path.display().to_string(),
                        reason: format!("not an RSA private key in PEM: {e}"),
                    }
                })?;
                Ok(Credentials::App {
                    app_id,
                    key,
                    installation,
                })
            }
            (None, ..) => Err(SetupError::AppIncomplete("GITHUB_APP_ID")),
            (_, None, _) => Err(SetupError::AppIncomplete("GITHUB_APP_PRIVATE_KEY_FILE")),
            (.., None) => Err(SetupError::AppIncomplete("GITHUB_APP_INSTALLATION_ID")),
        }
    }

    /// The API client; nothing is contacted (and the HTTP client is built on first use).
    pub fn client(&self, metrics: &Metrics) -> Result<Gh, SetupError> {
        Ok(Gh::new(
            &self.api_url()?,
            Duration::from_secs(self.github_timeout_secs.max(1)),
            self.credentials()?,
            metrics.clone(),
            (
                self.github_repo_owner.clone(),
                self.github_repo_name.clone(),
            ),
        )
        .with_writable(self.github_repositories.clone()))
    }
}
