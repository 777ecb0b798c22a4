//! The Prometheus and Alertmanager HTTP APIs, over `opsmcp_core::http::Backend` (timeouts,
//! retries, concurrency limit, redaction). Authentication is applied per request so a bearer
//! token read from a file follows the file when it is rotated.

use std::{
    path::PathBuf,
    sync::{Mutex, OnceLock},
    time::SystemTime,
};

use opsmcp_core::{
    config::Secret,
    http::{Backend, HttpError},
};
use reqwest::{Method, RequestBuilder, header::AUTHORIZATION};
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::Value;

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
            Auth::BearerFile(file) => {
                request.header(AUTHORIZATION, format!("Bearer {}", file.token()?))
            }
        })
    }
}

/// What went wrong asking Prometheus or Alertmanager; the message is for a person.
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

/// The Prometheus API envelope.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<T> {
    status: String,
    data: Option<T>,
    error_type: Option<String>,
    error: Option<String>,
    #[serde(default)]
    warnings: Vec<String>,
}

/// Data with the warnings Prometheus attached to it.
#[derive(Debug)]
pub struct Answer<T> {
    pub data: T,
    pub warnings: Vec<String>,
}

type MakeBackend = Box<dyn Fn() -> Result<Backend, String> + Send + Sync>;

/// One backend (Prometheus or Alertmanager) with its authentication. The HTTP client is built
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

    fn backend(&self) -> Result<&Backend, ApiError> {
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

    fn request(&self, method: Method, path: &str) -> Result<RequestBuilder, ApiError> {
        let request = self.backend()?.request(method, path)?;
        self.auth.apply(request).map_err(ApiError::Auth)
    }

    /// `GET` a Prometheus API path (`api/v1/...`) and unwrap its envelope.
    pub async fn prometheus<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Answer<T>, ApiError> {
        let request = self.request(Method::GET, path)?.query(query);
        let response = self
            .backend()?
            .send(request)
            .await
            .map_err(|e| self.explain(e))?;
        let envelope: Envelope<T> = response.json().map_err(|e| ApiError::Decode {
            backend: self.name().to_owned(),
            reason: e.to_string(),
        })?;
        match (envelope.status.as_str(), envelope.data) {
            ("success", Some(data)) => Ok(Answer {
                data,
                warnings: envelope.warnings,
            }),
            _ => Err(ApiError::Rejected {
                backend: self.name().to_owned(),
                kind: envelope.error_type.unwrap_or_else(|| "error".into()),
                message: envelope
                    .error
                    .unwrap_or_else(|| "no data in the answer".into()),
            }),
        }
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

    /// Turn a 4xx with the API's JSON error into its message.
    fn explain(&self, error: HttpError) -> ApiError {
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

/// Prometheus prefixes errors with positions like `1:5: parse error:`; keep them, but drop
/// repeated whitespace and stray quotes.
fn clean(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .trim_matches('"')
        .to_owned()
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
