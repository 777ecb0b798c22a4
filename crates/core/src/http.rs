//! The outbound HTTP client every SaaS and observability server uses.
//!
//! [`Backend`] wraps a `reqwest::Client` with connect and request timeouts, a per-backend
//! concurrency limit (a semaphore), and retries with exponential backoff and jitter (the `backon`
//! crate) on connection errors, 429 and 502/503/504, honouring `Retry-After`. Requests that are
//! not idempotent (POST, PATCH) are retried only when the connection could not be made at all,
//! unless the caller marks them safe with [`Backend::send_retrying`]. Every error names the
//! backend and a URL with credentials and query strings removed, and any configured secret that
//! shows up in a response body is replaced by `***`.

use std::{sync::Arc, time::Duration};

use backon::{ExponentialBuilder, Retryable};
use reqwest::{Method, StatusCode, header::HeaderMap};
use tokio::sync::Semaphore;

use crate::metrics::Metrics;

/// Settings of one backend; defaults suit an observability API on the same network.
#[derive(Debug, Clone)]
pub struct BackendConfig {
    /// Short name used in errors and metric labels (`prometheus`, `github`).
    pub name: String,
    pub base_url: reqwest::Url,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// Retries after the first attempt.
    pub max_retries: usize,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// Longest `Retry-After` that is honoured; a longer one ends the retries with an error.
    pub max_retry_after: Duration,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Largest response body read; a larger one is an error that says to narrow the request.
    pub max_body_bytes: usize,
    /// Sent on every request (authorization, tenant headers).
    pub default_headers: HeaderMap,
    /// Values to scrub from error messages (tokens, passwords).
    pub secrets: Vec<String>,
}

impl BackendConfig {
    pub fn new(name: impl Into<String>, base_url: reqwest::Url) -> Self {
        Self {
            name: name.into(),
            base_url,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            max_retries: 3,
            min_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(30),
            concurrency: 8,
            max_body_bytes: 32 * 1024 * 1024,
            default_headers: HeaderMap::new(),
            secrets: Vec::new(),
        }
    }
}

/// What went wrong talking to a backend. Messages never contain credentials.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{backend} is unreachable at {url}: {reason}")]
    Connect {
        backend: String,
        url: String,
        reason: String,
    },
    #[error("{backend} did not answer within {after:?} ({url})")]
    Timeout {
        backend: String,
        url: String,
        after: Duration,
    },
    #[error("{backend} answered {status} for {url}: {message}")]
    Status {
        backend: String,
        url: String,
        status: StatusCode,
        message: String,
        retry_after: Option<Duration>,
    },
    #[error("{backend} sent a response that could not be read ({url}): {reason}")]
    Body {
        backend: String,
        url: String,
        reason: String,
    },
    #[error("invalid request to {backend}: {reason}")]
    Request { backend: String, reason: String },
    #[error(
        "{backend} sent more than {limit} bytes for {url}; narrow the request (shorter range, more selective matchers, a lower limit)"
    )]
    TooLarge {
        backend: String,
        url: String,
        limit: usize,
    },
}

impl HttpError {
    /// The HTTP status, when the backend answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            HttpError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            HttpError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// A successful response, read whole.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

impl Response {
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A client for one backend; cheap to clone.
#[derive(Debug, Clone)]
pub struct Backend {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: BackendConfig,
    client: reqwest::Client,
    limiter: Semaphore,
    metrics: Metrics,
}

/// Longest response body kept in an error message.
const ERROR_BODY_CHARS: usize = 500;

impl Backend {
    pub fn new(config: BackendConfig, metrics: Metrics) -> Result<Self, HttpError> {
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .default_headers(config.default_headers.clone())
            .user_agent(concat!("opsmcp/", env!("CARGO_PKG_VERSION")))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| HttpError::Request {
                backend: config.name.clone(),
                reason: e.without_url().to_string(),
            })?;
        Ok(Self::with_client(config, client, metrics))
    }

    /// Use a client built elsewhere (custom CA, proxies); timeouts are the client's.
    pub fn with_client(config: BackendConfig, client: reqwest::Client, metrics: Metrics) -> Self {
        let limiter = Semaphore::new(config.concurrency.max(1));
        Self {
            inner: Arc::new(Inner {
                config,
                client,
                limiter,
                metrics,
            }),
        }
    }

    pub fn name(&self) -> &str {
        &self.inner.config.name
    }

    /// A request to `path` (relative to the base URL, e.g. `api/v1/query`).
    pub fn request(
        &self,
        method: Method,
        path: &str,
    ) -> Result<reqwest::RequestBuilder, HttpError> {
        let url = self.url(path)?;
        Ok(self.inner.client.request(method, url))
    }

    /// The URL of `path` without credentials, query or fragment: what plans and the audit log
    /// show of a request.
    pub fn display_url(&self, path: &str) -> String {
        self.url(path)
            .map_or_else(|_| path.to_owned(), |url| self.clean_url(&url))
    }

    fn url(&self, path: &str) -> Result<reqwest::Url, HttpError> {
        let mut base = self.inner.config.base_url.clone();
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        base.join(path.trim_start_matches('/'))
            .map_err(|e| HttpError::Request {
                backend: self.name().to_owned(),
                reason: format!("bad path `{path}`: {e}"),
            })
    }

    /// `GET path?query` and decode the JSON body.
    pub async fn get_json<T, Q>(&self, path: &str, query: &Q) -> Result<T, HttpError>
    where
        T: serde::de::DeserializeOwned,
        Q: serde::Serialize + ?Sized,
    {
        let url = self.url(path)?;
        let response = self
            .send(self.inner.client.get(url.clone()).query(query))
            .await?;
        response.json().map_err(|e| HttpError::Body {
            backend: self.name().to_owned(),
            url: self.clean_url(&url),
            reason: e.to_string(),
        })
    }

    /// Send a request, retrying only when that is safe for its method.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Result<Response, HttpError> {
        self.send_with(request, false).await
    }

    /// Send a request and retry it even if its method is not idempotent: for APIs where a
    /// repeat is known to be harmless (e.g. a POST that only reads, or has an idempotency key).
    pub async fn send_retrying(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<Response, HttpError> {
        self.send_with(request, true).await
    }

    async fn send_with(
        &self,
        request: reqwest::RequestBuilder,
        force_retry: bool,
    ) -> Result<Response, HttpError> {
        let request = request.build().map_err(|e| HttpError::Request {
            backend: self.name().to_owned(),
            reason: e.without_url().to_string(),
        })?;
        let idempotent = force_retry
            || matches!(
                *request.method(),
                Method::GET
                    | Method::HEAD
                    | Method::OPTIONS
                    | Method::PUT
                    | Method::DELETE
                    | Method::TRACE
            );
        // A body that cannot be cloned (a stream) can only be sent once.
        let replayable = request.try_clone().is_some();
        let config = &self.inner.config;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(config.min_backoff)
            .with_max_delay(config.max_backoff)
            .with_max_times(if replayable { config.max_retries } else { 0 })
            .with_jitter();
        let max_retry_after = config.max_retry_after;
        let attempt = || async {
            let req = request
                .try_clone()
                .expect("only replayable requests are retried");
            self.attempt(req).await
        };
        attempt
            .retry(backoff)
            .when(|e: &HttpError| match e {
                // The request never left: always safe to repeat.
                HttpError::Connect { .. } => true,
                HttpError::Timeout { .. } => idempotent,
                HttpError::Status {
                    status,
                    retry_after,
                    ..
                } => {
                    idempotent
                        && matches!(status.as_u16(), 429 | 502 | 503 | 504)
                        && retry_after.is_none_or(|d| d <= max_retry_after)
                }
                _ => false,
            })
            .adjust(|e: &HttpError, planned| match e.retry_after() {
                // Honour the server's wish, but keep the retry budget (None ends retrying).
                Some(wait) => planned.map(|_| wait),
                None => planned,
            })
            .notify(|e, wait| {
                tracing::debug!(backend = %self.name(), error = %e, ?wait, "retrying");
                self.inner.metrics.backend_retry(self.name());
            })
            .await
    }

    async fn attempt(&self, request: reqwest::Request) -> Result<Response, HttpError> {
        let _permit = self
            .inner
            .limiter
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let url = self.clean_url(request.url());
        let backend = self.name().to_owned();
        let result = self.inner.client.execute(request).await;
        let response = match result {
            Ok(r) => r,
            Err(e) => {
                self.inner.metrics.backend_request(&backend, None);
                return Err(self.transport_error(e, url));
            }
        };
        let status = response.status();
        self.inner
            .metrics
            .backend_request(&backend, Some(status.as_u16()));
        let headers = response.headers().clone();
        let body = self.read_body(response, &url).await?;
        if status.is_success() {
            return Ok(Response {
                status,
                headers,
                body,
            });
        }
        Err(HttpError::Status {
            retry_after: retry_after(&headers),
            message: self.error_message(&body),
            backend,
            url,
            status,
        })
    }

    /// Read the body, refusing to buffer more than `max_body_bytes`.
    async fn read_body(
        &self,
        mut response: reqwest::Response,
        url: &str,
    ) -> Result<bytes::Bytes, HttpError> {
        let limit = self.inner.config.max_body_bytes;
        let too_large = || HttpError::TooLarge {
            backend: self.name().to_owned(),
            url: url.to_owned(),
            limit,
        };
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        let mut body = bytes::BytesMut::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.transport_error(e, url.to_owned()))?
        {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    }

    fn transport_error(&self, e: reqwest::Error, url: String) -> HttpError {
        let backend = self.name().to_owned();
        if e.is_timeout() {
            return HttpError::Timeout {
                backend,
                url,
                after: self.inner.config.request_timeout,
            };
        }
        let is_connect = e.is_connect();
        let e = e.without_url();
        let mut reason = e.to_string();
        // reqwest's top-level text is generic (and holds the URL); the cause says what happened.
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            reason = s.to_string();
            source = s.source();
        }
        let reason = self.redact(&reason);
        if is_connect {
            HttpError::Connect {
                backend,
                url,
                reason,
            }
        } else {
            HttpError::Body {
                backend,
                url,
                reason,
            }
        }
    }

    /// A short, single-line, secret-free rendering of an error body.
    fn error_message(&self, body: &[u8]) -> String {
        let text = String::from_utf8_lossy(body);
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut text = self.redact(&text);
        if text.chars().count() > ERROR_BODY_CHARS {
            text = text.chars().take(ERROR_BODY_CHARS).collect::<String>() + "…";
        }
        if text.is_empty() {
            "(empty body)".to_owned()
        } else {
            text
        }
    }

    fn redact(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in self.inner.config.secrets.iter().filter(|s| s.len() >= 4) {
            text = text.replace(secret.as_str(), "***");
        }
        text
    }

    /// The URL without user info, query or fragment: those may carry credentials.
    fn clean_url(&self, url: &reqwest::Url) -> String {
        let mut url = url.clone();
        let _ = url.set_username("");
        let _ = url.set_password(None);
        url.set_query(None);
        url.set_fragment(None);
        url.to_string()
    }
}

/// `Retry-After` as seconds or an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate_to_timestamp(value)?;
    let now = jiff::Timestamp::now();
    Some(Duration::try_from(when.duration_since(now)).unwrap_or(Duration::ZERO))
}

fn httpdate_to_timestamp(value: &str) -> Option<jiff::Timestamp> {
    jiff::fmt::rfc2822::parse(value).ok().map(|z| z.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn urls_in_errors_lose_credentials() {
        let mut config =
            BackendConfig::new("demo", "http://user:pw@127.0.0.1:1/base/".parse().unwrap());
        config.secrets.push("tok3n-value".into());
        let b = Backend::new(config, Metrics::new(crate::identity!())).unwrap();
        let url = b.url("api/v1/query?token=tok3n-value").unwrap();
        assert_eq!(b.clean_url(&url), "http://127.0.0.1:1/base/api/v1/query");
        assert_eq!(
            b.error_message(b"bad token tok3n-value\n here"),
            "bad token *** here"
        );
    }
}
