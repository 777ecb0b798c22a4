//! PagerDuty's REST API v2 over [`opsmcp_core::remote::Api`]: the versioned `Accept` header,
//! `From` on writes, classic pagination, and PagerDuty's error bodies
//! (`{"error":{"message","code","errors"}}`) turned into sentences that say what to do.

use opsmcp_core::{http::HttpError, remote::Api};
use reqwest::{Method, StatusCode, header::ACCEPT};
use serde_json::Value;

const VERSION_2: &str = "application/vnd.pagerduty+json;version=2";

/// Why a request failed, for a person.
#[derive(Debug, thiserror::Error)]
pub enum PdError {
    #[error(
        "no PagerDuty API key: set PAGERDUTY_API_KEY (or PAGERDUTY_USER_API_KEY) to a REST API key"
    )]
    NoKey,
    #[error(
        "changes are made as a PagerDuty user: set PAGERDUTY_USER_EMAIL to that user's email (it is sent as the From header)"
    )]
    NoFrom,
    #[error(
        "PagerDuty rejected the API key (401): check PAGERDUTY_API_KEY — a REST API key of the account, or a user's API key"
    )]
    Unauthorized,
    #[error("PagerDuty refused ({status}, code {code}): {message}")]
    Refused {
        status: u16,
        code: i64,
        message: String,
    },
    #[error("{0}")]
    Other(String),
}

impl PdError {
    /// PagerDuty's error code, when it sent one (1001 already resolved, 2100 not found, …).
    pub fn code(&self) -> Option<i64> {
        match self {
            PdError::Refused { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// The API with its key and the user changes are made as.
#[derive(Debug)]
pub struct Pd {
    api: Api,
    has_key: bool,
    from: Option<String>,
}

impl Pd {
    pub fn new(api: Api, has_key: bool, from: Option<String>) -> Self {
        Self { api, has_key, from }
    }

    /// The user changes are made as.
    pub fn from(&self) -> Option<&str> {
        self.from.as_deref()
    }

    /// `METHOD https://…/path` for plans and the audit log.
    pub fn describe(&self, method: &Method, path: &str) -> String {
        format!("{method} {}", self.api.url(path))
    }

    fn explain(&self, error: HttpError) -> PdError {
        let HttpError::Status {
            status, message, ..
        } = &error
        else {
            return PdError::Other(error.to_string());
        };
        if *status == StatusCode::UNAUTHORIZED {
            return PdError::Unauthorized;
        }
        match serde_json::from_str::<Value>(message) {
            Ok(body) if body["error"].is_object() => {
                let e = &body["error"];
                let mut text = e["message"].as_str().unwrap_or("error").to_owned();
                let details: Vec<&str> = e["errors"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                if !details.is_empty() {
                    text = format!("{text}: {}", details.join("; "));
                }
                PdError::Refused {
                    status: status.as_u16(),
                    code: e["code"].as_i64().unwrap_or(0),
                    message: opsmcp_core::remote::clean(&text),
                }
            }
            _ => PdError::Other(error.to_string()),
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        from: bool,
    ) -> Result<Value, PdError> {
        if !self.has_key {
            return Err(PdError::NoKey);
        }
        let mut request = self
            .api
            .request(method, path)
            .map_err(|e| PdError::Other(e.to_string()))?
            .header(ACCEPT, VERSION_2)
            .query(query);
        if from {
            request = request.header("from", self.from.as_deref().ok_or(PdError::NoFrom)?);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let backend = self
            .api
            .backend()
            .map_err(|e| PdError::Other(e.to_string()))?;
        let response = backend.send(request).await.map_err(|e| self.explain(e))?;
        if response.body.is_empty() {
            return Ok(Value::Null);
        }
        response.json().map_err(|e| {
            PdError::Other(format!(
                "PagerDuty answered with something that is not its API's JSON: {e}"
            ))
        })
    }

    /// `GET` a path.
    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, PdError> {
        self.send(Method::GET, path, query, None, false).await
    }

    /// Items of a classic paginated list under `key`, up to `max`, 100 a page; also whether
    /// more were left.
    pub async fn list(
        &self,
        path: &str,
        key: &str,
        query: &[(&str, String)],
        max: usize,
    ) -> Result<(Vec<Value>, bool), PdError> {
        let mut items = Vec::new();
        let mut offset = 0;
        loop {
            let limit = (max - items.len()).clamp(1, 100);
            let mut q = query.to_vec();
            q.push(("limit", limit.to_string()));
            q.push(("offset", offset.to_string()));
            let page = self.get(path, &q).await?;
            let got = page[key].as_array().cloned().unwrap_or_default();
            let more = page["more"].as_bool().unwrap_or(false);
            offset += got.len();
            let empty = got.is_empty();
            items.extend(got);
            if !more || empty || offset >= 10_000 {
                return Ok((items, false));
            }
            if items.len() >= max {
                return Ok((items, true));
            }
        }
    }

    /// A change, made as the `From` user.
    pub async fn write(&self, method: Method, path: &str, body: &Value) -> Result<Value, PdError> {
        self.send(method, path, &[], Some(body), true).await
    }
}
