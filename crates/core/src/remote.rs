//! A remote HTTP API as servers use it: options (URL, basic or bearer auth, a token file
//! re-read when rotated, tenant header, extra headers, CA file, timeout, body cap) validated at
//! start-up, a client built on first use over [`crate::http::Backend`] (timeouts, retries,
//! concurrency limit, redaction), and the API's 4xx messages turned into readable errors.
//! `Api::request` hands out an authenticated `reqwest::RequestBuilder` for what `Backend::send`
//! does not do (a WebSocket upgrade).

use std::{
    path::PathBuf,
    sync::{Arc, Mutex, OnceLock},
    time::{Duration, SystemTime},
};

use reqwest::{
    Method, RequestBuilder,
    header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue},
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{
    config::Secret,
    http::{Backend, BackendConfig, HttpError},
    metrics::Metrics,
};

/// How requests authenticate.
#[derive(Debug, Default)]
pub enum Auth {
    #[default]
    None,
    Basic {
        username: String,
        password: Secret,
    },
    Bearer(Secret),
    /// A token after an API's own scheme, e.g. PagerDuty's `Authorization: Token token=<key>`.
    Scheme {
        prefix: String,
        token: Secret,
    },
    /// A token file, re-read when its modification time changes (rotated service-account tokens).
    BearerFile(TokenFile),
}

#[derive(Debug)]
pub struct TokenFile {
    path: PathBuf,
    cached: Mutex<Option<(SystemTime, String)>>,
}

impl TokenFile {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            cached: Mutex::new(None),
        }
    }

    /// The current token; re-reads the file only when it changed.
    fn token(&self) -> Result<String, String> {
        let modified = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .map_err(|e| format!("cannot read the token file {}: {e}", self.path.display()))?;
        let mut cached = self.cached.lock().unwrap();
        if let Some((at, token)) = cached.as_ref()
            && *at == modified
        {
            return Ok(token.clone());
        }
        let token = std::fs::read_to_string(&self.path)
            .map_err(|e| format!("cannot read the token file {}: {e}", self.path.display()))?
            .trim()
            .to_owned();
        *cached = Some((modified, token.clone()));
        Ok(token)
    }
}

impl Auth {
    fn apply(&self, request: RequestBuilder) -> Result<RequestBuilder, String> {
        Ok(match self {
            Auth::None => request,
            Auth::Basic { username, password } => {
                request.basic_auth(username, Some(password.expose()))
            }
            Auth::Bearer(token) => {
                request.header(AUTHORIZATION, format!("Bearer {}", token.expose()))
            }
            Auth::Scheme { prefix, token } => {
                request.header(AUTHORIZATION, format!("{prefix}{}", token.expose()))
            }
            Auth::BearerFile(file) => {
                request.header(AUTHORIZATION, format!("Bearer {}", file.token()?))
            }
        })
    }
}

/// What went wrong asking a backend; the message is for a person.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Http(#[from] HttpError),
    #[error("{backend} rejected the request ({kind}): {message}")]
    Rejected {
        backend: String,
        kind: String,
        message: String,
    },
    /// Credentials could not be read (e.g. the token file).
    #[error("{0}")]
    Auth(String),
    /// The client could not be set up, or a query task died.
    #[error("{0}")]
    Internal(String),
    #[error("{backend} answered with something that is not its API's JSON: {reason}")]
    Decode { backend: String, reason: String },
}

type MakeBackend = Box<dyn Fn() -> Result<Backend, String> + Send + Sync>;

/// One backend with its authentication. The HTTP client is built
/// on first use: loading the system's CA certificates costs milliseconds and megabytes that a
/// session which never queries (or a `tools/list`) should not pay.
pub struct Api {
    name: String,
    backend: OnceLock<Result<Backend, String>>,
    make: MakeBackend,
    auth: Auth,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Api {
    /// `make` builds the backend client when it is first needed.
    pub fn new(
        name: impl Into<String>,
        make: impl Fn() -> Result<Backend, String> + Send + Sync + 'static,
        auth: Auth,
    ) -> Self {
        Self {
            name: name.into(),
            backend: OnceLock::new(),
            make: Box::new(make),
            auth,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn backend(&self) -> Result<&Backend, ApiError> {
        self.backend
            .get_or_init(|| (self.make)())
            .as_ref()
            .map_err(|e| ApiError::Internal(format!("cannot set up the {} client: {e}", self.name)))
    }

    /// The URL of `path` as it would be requested, without credentials (for plans and audit).
    pub fn url(&self, path: &str) -> String {
        self.backend()
            .map_or_else(|_| path.to_owned(), |b| b.display_url(path))
    }

    pub fn request(&self, method: Method, path: &str) -> Result<RequestBuilder, ApiError> {
        let request = self.backend()?.request(method, path)?;
        self.auth.apply(request).map_err(ApiError::Auth)
    }

    /// `GET` an API that answers bare JSON (Alertmanager v2, `/-/ready`).
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ApiError> {
        let request = self.request(Method::GET, path)?.query(query);
        let response = self
            .backend()?
            .send(request)
            .await
            .map_err(|e| self.explain(e))?;
        response.json().map_err(|e| ApiError::Decode {
            backend: self.name().to_owned(),
            reason: e.to_string(),
        })
    }

    /// `GET` a path and return its text (health endpoints).
    pub async fn get_text(&self, path: &str) -> Result<String, ApiError> {
        let request = self.request(Method::GET, path)?;
        let response = self
            .backend()?
            .send(request)
            .await
            .map_err(|e| self.explain(e))?;
        Ok(response.text())
    }

    /// Send a JSON body (Alertmanager silences); not retried unless the request never left.
    pub async fn send_json(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let mut request = self.request(method, path)?;
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = self
            .backend()?
            .send(request)
            .await
            .map_err(|e| self.explain(e))?;
        if response.body.is_empty() {
            return Ok(Value::Null);
        }
        response.json().map_err(|e| ApiError::Decode {
            backend: self.name().to_owned(),
            reason: e.to_string(),
        })
    }

    /// Turn a 4xx with the API's JSON error (or plain text) into its message.
    pub fn explain(&self, error: HttpError) -> ApiError {
        if let HttpError::Status {
            message, status, ..
        } = &error
            && status.is_client_error()
        {
            if let Ok(body) = serde_json::from_str::<Value>(message)
                && let Some(text) = body.get("error").and_then(Value::as_str)
            {
                let kind = body
                    .get("errorType")
                    .and_then(Value::as_str)
                    .unwrap_or("bad request");
                return ApiError::Rejected {
                    backend: self.name().to_owned(),
                    kind: kind.to_owned(),
                    message: clean(text),
                };
            }
            // Alertmanager answers plain text or a JSON string.
            let text = message.trim_matches('"');
            return ApiError::Rejected {
                backend: self.name().to_owned(),
                kind: status.as_u16().to_string(),
                message: clean(text),
            };
        }
        ApiError::Http(error)
    }
}

/// Backends prefix errors with positions like `1:5: parse error:`; keep them, but drop
/// repeated whitespace and stray quotes.
pub fn clean(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .trim_matches('"')
        .to_owned()
}

/// How to reach and authenticate to a backend; servers fill it from their own options.
#[derive(Debug, Clone, Default)]
pub struct RemoteOptions {
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub token: Option<Secret>,
    /// What goes before `token` in `Authorization` (default `Bearer `).
    pub token_scheme: Option<String>,
    /// A bearer token file, re-read when it changes (wins over `token`).
    pub token_file: Option<PathBuf>,
    /// Sent as `X-Scope-OrgID` (Loki, Mimir, Cortex, Thanos tenants).
    pub org_id: Option<String>,
    /// Extra request headers, `NAME=VALUE`.
    pub headers: Vec<String>,
    pub ca_file: Option<PathBuf>,
    pub insecure_skip_verify: bool,
    pub timeout: Duration,
    pub max_response_bytes: usize,
    /// `User-Agent`, e.g. `opsmcp-loki/0.1.0`.
    pub user_agent: String,
}

/// Why the options cannot make a client.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("invalid header `{0}`: expected NAME=VALUE")]
    Header(String),
    #[error("cannot read the CA file {path}: {reason}")]
    Ca { path: PathBuf, reason: String },
}

impl RemoteOptions {
    fn header_map(&self) -> Result<HeaderMap, SetupError> {
        let mut headers = HeaderMap::new();
        if let Some(org) = &self.org_id {
            let value = HeaderValue::from_str(org)
                .map_err(|_| SetupError::Header(format!("X-Scope-OrgID={org}")))?;
            headers.insert("x-scope-orgid", value);
        }
        for pair in self.headers.iter().filter(|p| !p.trim().is_empty()) {
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
        if let Some(path) = &self.token_file {
            return Auth::BearerFile(TokenFile::new(path.clone()));
        }
        if let Some(token) = &self.token {
            return match &self.token_scheme {
                Some(prefix) => Auth::Scheme {
                    prefix: prefix.clone(),
                    token: token.clone(),
                },
                None => Auth::Bearer(token.clone()),
            };
        }
        match (&self.username, &self.password) {
            (Some(username), password) => Auth::Basic {
                username: username.clone(),
                password: password.clone().unwrap_or_else(|| Secret::new("")),
            },
            _ => Auth::None,
        }
    }

    /// Values that must never appear in logs or errors.
    fn secrets(&self) -> Vec<String> {
        let mut secrets: Vec<String> = [&self.password, &self.token]
            .into_iter()
            .flatten()
            .map(|s| s.expose().to_owned())
            .collect();
        secrets.extend(
            self.headers
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
        if let Some(path) = &self.ca_file {
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
        Ok(ClientSpec {
            headers: self.header_map()?,
            certificates,
            insecure: self.insecure_skip_verify,
            timeout: self.timeout,
            user_agent: self.user_agent.clone(),
        })
    }

    /// API clients named `name` for each URL, sharing these options. Nothing is contacted, and
    /// the HTTP client itself is built on first use.
    pub fn apis<const N: usize>(
        &self,
        targets: [(&str, &reqwest::Url); N],
        metrics: &Metrics,
    ) -> Result<[Api; N], SetupError> {
        let spec = Arc::new(self.client_spec()?);
        if self.insecure_skip_verify {
            let names: Vec<&str> = targets.iter().map(|t| t.0).collect();
            tracing::warn!(
                "TLS certificate verification is off for {} (insecure-skip-verify)",
                names.join(" and ")
            );
        }
        Ok(targets.map(|(name, url)| {
            let mut config = BackendConfig::new(name, url.clone());
            config.request_timeout = spec.timeout;
            config.secrets = self.secrets();
            config.max_body_bytes = self.max_response_bytes;
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
        }))
    }
}

/// Validated settings of the HTTP client.
struct ClientSpec {
    headers: HeaderMap,
    certificates: Vec<reqwest::Certificate>,
    insecure: bool,
    timeout: Duration,
    user_agent: String,
}

impl ClientSpec {
    fn build(&self) -> Result<reqwest::Client, String> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(self.timeout)
            .default_headers(self.headers.clone())
            .user_agent(self.user_agent.clone())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_file_follows_rotation() {
        let dir = std::env::temp_dir().join(format!("opsmcp-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("token");
        std::fs::write(&path, "first\n").unwrap();
        let file = TokenFile::new(path.clone());
        assert_eq!(file.token().unwrap(), "first");
        // A new modification time (set explicitly: coarse clocks may not tick between writes).
        std::fs::write(&path, "second").unwrap();
        let later = SystemTime::now() + std::time::Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(later)
            .unwrap();
        assert_eq!(file.token().unwrap(), "second");
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            file.token()
                .unwrap_err()
                .contains("cannot read the token file")
        );
    }
}
