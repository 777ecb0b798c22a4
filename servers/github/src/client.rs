//! GitHub's REST API through octocrab on the workspace's reqwest client: a token or a GitHub
//! App installation (its token minted here and refreshed before it expires, because octocrab
//! attaches installation tokens by itself only for api.github.com), reads retried with back-off
//! on transport failures, 5xx and short secondary rate limits, writes never retried, and
//! GitHub's errors turned into sentences that say what to do. Tokens never reach a message.

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use backon::{ExponentialBuilder, Retryable};
use octocrab::{Octocrab, auth::EncodingKey, models::AppId};
use opsmcp_core::{config::Secret, metrics::Metrics};
use serde::{Deserialize, de::DeserializeOwned};
use tokio::sync::Mutex;

/// How the server authenticates.
#[derive(Clone)]
pub enum Credentials {
    None,
    Token(Secret),
    App {
        app_id: u64,
        key: EncodingKey,
        installation: u64,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::None => "None",
            Self::Token(_) => "Token(***)",
            Self::App { .. } => "App(***)",
        })
    }
}

/// Why a request failed, for a person.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GhError {
    #[error(
        "no GitHub credentials: set GITHUB_TOKEN (or GITHUB_PERSONAL_ACCESS_TOKEN) to a token with access to the repository, or GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY_FILE and GITHUB_APP_INSTALLATION_ID"
    )]
    NoCredentials,
    #[error(
        "GitHub rejected the credentials (401 {0}): check GITHUB_TOKEN — it may be expired, revoked or mistyped"
    )]
    Unauthorized(String),
    #[error("GitHub refused (403): {0}")]
    Forbidden(String),
    #[error(
        "not found on GitHub: {0} (a private repository the token cannot see is also 'not found')"
    )]
    NotFound(String),
    #[error(
        "GitHub's rate limit{secondary}: retry after {seconds} s",
        secondary = if *.secondary { " (secondary: too many requests at once)" } else { "" }
    )]
    RateLimited { seconds: u64, secondary: bool },
    #[error("GitHub refused ({status}): {message}")]
    Refused { status: u16, message: String },
    #[error("GitHub is unreachable at {0}: {1}")]
    Unreachable(String, String),
    #[error("GitHub did not answer within the timeout (GITHUB_TIMEOUT): {0}")]
    Timeout(String),
    #[error("{0}")]
    Other(String),
}

impl GhError {
    /// Whether trying again soon may help (transport, 5xx, a short rate limit).
    fn transient(&self) -> bool {
        match self {
            Self::Unreachable(..) | Self::Timeout(_) => true,
            Self::Refused { status, .. } => *status >= 500,
            Self::RateLimited { seconds, .. } => *seconds <= 5,
            _ => false,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Unauthorized(_) => Some(401),
            Self::Forbidden(_) => Some(403),
            Self::NotFound(_) => Some(404),
            Self::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// An installation token and when to stop using it.
struct Minted {
    crab: Octocrab,
    renew_at: jiff::Timestamp,
}

struct App {
    crab: Octocrab,
    installation: u64,
    minted: Mutex<Option<Minted>>,
}

#[derive(Deserialize)]
struct InstallationToken {
    token: String,
    expires_at: Option<String>,
}

/// The octocrab client and, for a GitHub App, its installation tokens.
struct Built {
    crab: Octocrab,
    app: Option<App>,
}

/// The client (built on first use: a TLS client costs milliseconds a server that is only
/// listed never needs), the repository tools default to, and the API's base URL for plans.
pub struct Gh {
    base: String,
    timeout: Duration,
    credentials: Credentials,
    built: OnceLock<Result<Built, String>>,
    metrics: Metrics,
    defaults: (Option<String>, Option<String>),
    /// `owner/name` or `owner/*` the write tools may change (empty: the default repository).
    writable: Vec<String>,
}

impl std::fmt::Debug for Gh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gh").field("base", &self.base).finish()
    }
}

fn reason(e: &octocrab::Error) -> String {
    // The innermost source says what happened (connection refused, dns error…).
    let mut source: &dyn std::error::Error = e;
    while let Some(next) = source.source() {
        source = next;
    }
    opsmcp_core::remote::clean(&source.to_string())
}

fn is_timeout(e: &octocrab::Error) -> bool {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        if let Some(r) = s.downcast_ref::<reqwest::Error>()
            && r.is_timeout()
        {
            return true;
        }
        source = s.source();
    }
    false
}

impl Gh {
    pub fn new(
        base: &str,
        timeout: Duration,
        credentials: Credentials,
        metrics: Metrics,
        defaults: (Option<String>, Option<String>),
    ) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            timeout,
            credentials,
            built: OnceLock::new(),
            metrics,
            defaults,
            writable: Vec::new(),
        }
    }

    /// Let the write tools change these repositories (`owner/name`, `owner/*`) instead of only
    /// the default one.
    pub fn with_writable(mut self, repositories: Vec<String>) -> Self {
        self.writable = repositories
            .into_iter()
            .map(|r| r.trim().to_ascii_lowercase())
            .filter(|r| !r.is_empty())
            .collect();
        self
    }

    /// Whether a write tool may change `owner/repo` (names compared as GitHub does, without
    /// case).
    pub fn writable(&self, owner: &str, repo: &str) -> Result<(), GhError> {
        let full = format!("{owner}/{repo}").to_ascii_lowercase();
        let allowed = if self.writable.is_empty() {
            match &self.defaults {
                (Some(o), Some(r)) => full == format!("{o}/{r}").to_ascii_lowercase(),
                _ => false,
            }
        } else {
            self.writable.iter().any(|w| {
                *w == full
                    || w.strip_suffix("/*")
                        .is_some_and(|o| full.split('/').next() == Some(o))
            })
        };
        if allowed {
            Ok(())
        } else {
            Err(GhError::Other(format!(
                "{owner}/{repo} is not a repository this server may change: writes go to {} (GITHUB_REPOSITORIES)",
                if self.writable.is_empty() {
                    match &self.defaults {
                        (Some(o), Some(r)) => format!("{o}/{r} only"),
                        _ => "none until GITHUB_REPOSITORIES or GITHUB_REPO_OWNER/GITHUB_REPO_NAME is set".into(),
                    }
                } else {
                    self.writable.join(", ")
                }
            )))
        }
    }

    fn build(&self) -> Result<Built, String> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(self.timeout)
            .user_agent(concat!("opsmcp-github/", env!("CARGO_PKG_VERSION")))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let builder = Octocrab::builder()
            .base_uri(self.base.as_str())
            .map_err(|e| format!("the API URL {} is not usable: {}", self.base, reason(&e)))?;
        let built = match self.credentials.clone() {
            Credentials::None => builder
                .build_with_reqwest(http)
                .map(|crab| Built { crab, app: None }),
            Credentials::Token(token) => builder
                .personal_token(token.expose().to_owned())
                .build_with_reqwest(http)
                .map(|crab| Built { crab, app: None }),
            Credentials::App {
                app_id,
                key,
                installation,
            } => builder
                .app(AppId(app_id), key)
                .build_with_reqwest(http)
                .map(|crab| Built {
                    app: Some(App {
                        crab: crab.clone(),
                        installation,
                        minted: Mutex::new(None),
                    }),
                    crab,
                }),
        };
        built.map_err(|e| format!("cannot build the GitHub client: {}", reason(&e)))
    }

    /// `METHOD https://…/path` for plans and the audit log.
    pub fn describe(&self, method: &str, path: &str) -> String {
        format!("{method} {}{path}", self.base)
    }

    /// The owner and repository a tool works on: its arguments, else the configured defaults.
    pub fn repo(
        &self,
        owner: Option<&str>,
        repo: Option<&str>,
    ) -> Result<(String, String), GhError> {
        // `owner/name` in `repo` alone is accepted too.
        let (owner, repo) = match (owner, repo) {
            (None, Some(full)) if full.contains('/') => {
                let (o, r) = full.split_once('/').unwrap_or_default();
                (Some(o.to_owned()), Some(r.to_owned()))
            }
            _ => (
                owner.map(str::to_owned).or_else(|| self.defaults.0.clone()),
                repo.map(str::to_owned).or_else(|| self.defaults.1.clone()),
            ),
        };
        match (owner, repo) {
            (Some(o), Some(r)) if !o.is_empty() && !r.is_empty() => {
                // As GitHub names them: nothing that a URL path would read another way
                // (`worker/../checkout`).
                let name_ok = |n: &str, extra: &str| {
                    n != "." && n != ".." && n.chars().all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
                };
                if !name_ok(&o, "-") || !name_ok(&r, "-_.") {
                    return Err(GhError::Other(format!(
                        "{o}/{r} is not a repository name (letters, digits, -, _ and . only)"
                    )));
                }
                Ok((o, r))
            }
            _ => Err(GhError::Other(
                "which repository? Give owner and repo (or repo as owner/name), or set GITHUB_REPO_OWNER and GITHUB_REPO_NAME".into(),
            )),
        }
    }

    /// The client to call with: the token's, or the App installation's (minted on first use
    /// and again five minutes before it expires).
    async fn client(&self) -> Result<Octocrab, GhError> {
        if matches!(self.credentials, Credentials::None) {
            return Err(GhError::NoCredentials);
        }
        let built = self
            .built
            .get_or_init(|| self.build())
            .as_ref()
            .map_err(|e| GhError::Other(e.clone()))?;
        let Some(app) = &built.app else {
            return Ok(built.crab.clone());
        };
        let mut minted = app.minted.lock().await;
        let now = jiff::Timestamp::now();
        if let Some(m) = minted.as_ref()
            && m.renew_at > now
        {
            return Ok(m.crab.clone());
        }
        let route = format!("/app/installations/{}/access_tokens", app.installation);
        let token: InstallationToken = app
            .crab
            .post(route, None::<&()>)
            .await
            .map_err(|e| self.explain(e, "the App installation"))?;
        let expires = token
            .expires_at
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .unwrap_or_else(|| now + jiff::SignedDuration::from_secs(3600));
        let crab = app
            .crab
            .user_access_token(token.token)
            .map_err(|e| GhError::Other(reason(&e)))?;
        *minted = Some(Minted {
            crab: crab.clone(),
            renew_at: expires - jiff::SignedDuration::from_secs(300),
        });
        Ok(crab)
    }

    /// `text` without credentials: the configured token and anything shaped like one (a proxy or
    /// an Enterprise front end may echo the `Authorization` header in an error).
    fn scrub(&self, text: &str) -> String {
        let mut text = opsmcp_core::output::redact_secrets(text);
        if let Credentials::Token(token) = &self.credentials
            && !token.expose().is_empty()
        {
            text = text.replace(token.expose(), "***");
        }
        text
    }

    /// GitHub's error as a sentence; `what` names what was asked for (for a 404). Credentials
    /// are scrubbed from whatever GitHub (or what stands in front of it) answered.
    pub fn explain(&self, e: octocrab::Error, what: &str) -> GhError {
        match self.explain_raw(e, what) {
            GhError::Unauthorized(m) => GhError::Unauthorized(self.scrub(&m)),
            GhError::Forbidden(m) => GhError::Forbidden(self.scrub(&m)),
            GhError::Refused { status, message } => GhError::Refused {
                status,
                message: self.scrub(&message),
            },
            GhError::Unreachable(base, m) => GhError::Unreachable(base, self.scrub(&m)),
            GhError::Other(m) => GhError::Other(self.scrub(&m)),
            other => other,
        }
    }

    fn explain_raw(&self, e: octocrab::Error, what: &str) -> GhError {
        let octocrab::Error::GitHub { source, .. } = &e else {
            return if is_timeout(&e) {
                GhError::Timeout(self.base.clone())
            } else if matches!(
                e,
                octocrab::Error::Serde { .. } | octocrab::Error::Json { .. }
            ) {
                GhError::Other(format!(
                    "GitHub answered with something that is not its API's JSON: {}",
                    reason(&e)
                ))
            } else {
                GhError::Unreachable(self.base.clone(), reason(&e))
            };
        };
        let status = source.status_code.as_u16();
        let message = opsmcp_core::remote::clean(&source.message);
        let header = |name: &str| {
            source
                .headers
                .as_ref()
                .and_then(|h| h.get(name))
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
        };
        let retry_after = header("retry-after");
        let exhausted = header("x-ratelimit-remaining") == Some(0);
        match status {
            401 => GhError::Unauthorized(message),
            403 | 429 if retry_after.is_some() || exhausted || status == 429 => {
                let seconds = retry_after.unwrap_or_else(|| {
                    header("x-ratelimit-reset")
                        .map(|reset| {
                            reset.saturating_sub(jiff::Timestamp::now().as_second().max(0) as u64)
                        })
                        .unwrap_or(60)
                });
                GhError::RateLimited {
                    seconds,
                    secondary: !exhausted,
                }
            }
            403 => GhError::Forbidden(message),
            404 => GhError::NotFound(what.to_owned()),
            _ => {
                let details: Vec<String> = source
                    .errors
                    .iter()
                    .flatten()
                    .map(|e| {
                        e["message"].as_str().map_or_else(
                            || {
                                format!(
                                    "{} {} {}",
                                    e["resource"].as_str().unwrap_or_default(),
                                    e["field"].as_str().unwrap_or_default(),
                                    e["code"].as_str().unwrap_or_default()
                                )
                                .trim()
                                .to_owned()
                            },
                            str::to_owned,
                        )
                    })
                    .collect();
                let message = if details.is_empty() {
                    message
                } else {
                    format!(
                        "{message}: {}",
                        opsmcp_core::remote::clean(&details.join("; "))
                    )
                };
                GhError::Refused { status, message }
            }
        }
    }

    /// Drop the cached installation token (GitHub refused it); whether there was one.
    async fn forget_installation_token(&self) -> bool {
        match self.built.get() {
            Some(Ok(Built { app: Some(app), .. })) => app.minted.lock().await.take().is_some(),
            _ => false,
        }
    }

    /// One call; an installation token GitHub refuses (revoked, expired early) is minted anew
    /// and the call made once more (a 401 means nothing was done).
    async fn once<T, F, Fut>(&self, what: &str, call: &F) -> Result<T, GhError>
    where
        F: Fn(Octocrab) -> Fut,
        Fut: Future<Output = Result<T, octocrab::Error>>,
    {
        let mut result = call(self.client().await?)
            .await
            .map_err(|e| self.explain(e, what));
        if matches!(result, Err(GhError::Unauthorized(_))) && self.forget_installation_token().await
        {
            result = call(self.client().await?)
                .await
                .map_err(|e| self.explain(e, what));
        }
        let status = match &result {
            Ok(_) => Some(200),
            Err(e) => e.status(),
        };
        self.metrics.backend_request("github", status);
        result
    }

    /// A read: retried (3 times, from 200 ms) on transport failures, 5xx and rate limits of at
    /// most 5 s (waiting what GitHub asked for).
    pub async fn read<T, F, Fut>(&self, what: &str, call: F) -> Result<T, GhError>
    where
        F: Fn(Octocrab) -> Fut,
        Fut: Future<Output = Result<T, octocrab::Error>>,
    {
        (|| self.once(what, &call))
            .retry(
                ExponentialBuilder::default()
                    .with_min_delay(Duration::from_millis(200))
                    .with_max_times(3),
            )
            .when(GhError::transient)
            .adjust(|e, delay| match e {
                GhError::RateLimited { seconds, .. } => Some(Duration::from_secs(*seconds)),
                _ => delay,
            })
            .notify(|_, _| self.metrics.backend_retry("github"))
            .await
    }

    /// A change: sent once (again only after a refused installation token).
    pub async fn write<T, F, Fut>(&self, what: &str, call: F) -> Result<T, GhError>
    where
        F: Fn(Octocrab) -> Fut,
        Fut: Future<Output = Result<T, octocrab::Error>>,
    {
        self.once(what, &call).await
    }

    /// `GET route` as JSON (for what octocrab has no typed call for).
    pub async fn get<T: DeserializeOwned>(
        &self,
        what: &str,
        route: &str,
        query: &[(&str, String)],
    ) -> Result<T, GhError> {
        let query = Arc::new(query.to_vec());
        self.read(what, |c| {
            let query = query.clone();
            async move { c.get(route, Some(&*query)).await }
        })
        .await
    }

    /// `GET route` as text with `accept` (a diff, a log), following GitHub's redirects.
    pub async fn text(&self, what: &str, route: &str, accept: &str) -> Result<String, GhError> {
        self.read(what, |c| async move {
            let mut headers = http::HeaderMap::new();
            if let Ok(v) = http::HeaderValue::from_str(accept) {
                headers.insert(http::header::ACCEPT, v);
            }
            let response = c
                ._get_with_headers(format!("{}{route}", self.base), Some(headers))
                .await?;
            let response = octocrab::map_github_error(response).await?;
            c.body_to_string(response).await
        })
        .await
    }
}
