//! Notion's API over [`opsmcp_core::remote::Api`] (no Rust Notion crate can be pointed at another
//! base URL): `Authorization: Bearer` and `Notion-Version` on every request, a client-side rate
//! limit (governor's GCRA) under Notion's average, reads retried (429 honouring `Retry-After`,
//! 5xx, transport), writes sent once, lists followed through `next_cursor`, and Notion's error
//! bodies (`{object:"error",code,message}`) turned into sentences that say what to do.

use std::{collections::HashMap, num::NonZeroU32, sync::Mutex};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use opsmcp_core::{http::HttpError, remote::Api};
use reqwest::Method;
use serde_json::{Value, json};

/// Why a request failed, for a person.
#[derive(Debug, Clone, thiserror::Error)]
pub enum NtError {
    #[error(
        "no Notion token: set NOTION_TOKEN to the integration's secret (Settings → Connections → Develop integrations)"
    )]
    NoToken,
    #[error(
        "Notion rejected the token (401 unauthorized): check NOTION_TOKEN — the integration's secret, not a page link"
    )]
    Unauthorized,
    #[error(
        "Notion cannot find {0}, or it is not shared with the integration: open it in Notion, ••• → Connections → add the integration"
    )]
    NotShared(String),
    #[error("Notion's rate limit: retry after {0} s")]
    RateLimited(u64),
    #[error("Notion refused ({code}): {message}")]
    Refused { code: String, message: String },
    #[error("{0}")]
    Other(String),
}

/// The API, its limiter, and the data source of each database asked about.
pub struct Nt {
    api: Api,
    has_token: bool,
    /// The `Notion-Version` sent.
    version: String,
    limiter: DefaultDirectRateLimiter,
    sources: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for Nt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nt").field("api", &self.api).finish()
    }
}

/// A Notion id with dashes, from an id with or without them or a Notion URL.
pub fn normalize_id(text: &str) -> Option<String> {
    let tail = text.trim().rsplit('/').next().unwrap_or_default();
    let tail = tail.split(['?', '#']).next().unwrap_or_default();
    let hex: String = tail.chars().filter(char::is_ascii_hexdigit).collect();
    let hex = hex.get(hex.len().saturating_sub(32)..)?;
    (hex.len() == 32).then(|| {
        format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        )
    })
}

impl Nt {
    pub fn new(api: Api, has_token: bool, version: String, per_second: u32) -> Self {
        let rate = NonZeroU32::new(per_second.max(1)).unwrap_or(NonZeroU32::MIN);
        // Bursts of a few seconds' worth, as Notion allows; the average stays under the limit.
        let burst = NonZeroU32::new(per_second.max(1) * 3).unwrap_or(NonZeroU32::MIN);
        Self {
            api,
            has_token,
            version,
            limiter: RateLimiter::direct(Quota::per_second(rate).allow_burst(burst)),
            sources: Mutex::new(HashMap::new()),
        }
    }

    /// Put an append after block `id`: `after` up to 2025-09-03's successors, `position` from
    /// 2026-03-11.
    pub fn place_after(&self, body: &mut Value, id: &str) {
        if self.version.as_str() >= "2026-03-11" {
            body["position"] = json!({ "type": "after_block", "after_block": { "id": id } });
        } else {
            body["after"] = json!(id);
        }
    }

    /// `METHOD https://…/v1/path` for plans and the audit log.
    pub fn describe(&self, method: &Method, path: &str) -> String {
        format!("{method} {}", self.api.url(path))
    }

    fn explain(&self, error: HttpError, what: &str) -> NtError {
        let HttpError::Status {
            status,
            message,
            retry_after,
            ..
        } = &error
        else {
            return NtError::Other(error.to_string());
        };
        let body = serde_json::from_str::<Value>(message).unwrap_or(Value::Null);
        let code = body["code"].as_str().unwrap_or_default();
        match (status.as_u16(), code) {
            (401, _) | (_, "unauthorized") => NtError::Unauthorized,
            (404, _) | (_, "object_not_found") | (_, "restricted_resource") => {
                NtError::NotShared(what.to_owned())
            }
            (429, _) => NtError::RateLimited(retry_after.map_or(1, |d| d.as_secs().max(1))),
            _ if !code.is_empty() => NtError::Refused {
                code: code.to_owned(),
                message: opsmcp_core::remote::clean(body["message"].as_str().unwrap_or_default()),
            },
            _ => NtError::Other(error.to_string()),
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        retry: bool,
        what: &str,
    ) -> Result<Value, NtError> {
        if !self.has_token {
            return Err(NtError::NoToken);
        }
        self.limiter.until_ready().await;
        let mut request = self
            .api
            .request(method, path)
            .map_err(|e| NtError::Other(e.to_string()))?
            .query(query);
        if let Some(body) = body {
            request = request.json(body);
        }
        let backend = self
            .api
            .backend()
            .map_err(|e| NtError::Other(e.to_string()))?;
        let sent = if retry {
            backend.send_retrying(request).await
        } else {
            backend.send(request).await
        };
        let response = sent.map_err(|e| self.explain(e, what))?;
        response.json().map_err(|e| {
            NtError::Other(format!(
                "Notion answered with something that is not its API's JSON: {e}"
            ))
        })
    }

    /// `GET` a path.
    pub async fn get(&self, path: &str, what: &str) -> Result<Value, NtError> {
        self.send(Method::GET, path, &[], None, true, what).await
    }

    /// A `POST` that only reads (search, queries): retried like a `GET`.
    pub async fn read(&self, path: &str, body: &Value, what: &str) -> Result<Value, NtError> {
        self.send(Method::POST, path, &[], Some(body), true, what)
            .await
    }

    /// A change: sent once.
    pub async fn write(
        &self,
        method: Method,
        path: &str,
        body: &Value,
        what: &str,
    ) -> Result<Value, NtError> {
        self.send(method, path, &[], Some(body), false, what).await
    }

    /// Every item of a list, following `next_cursor` (GET with the cursor in the query, POST
    /// with it in the body), up to `max`; and whether more were left.
    pub async fn all(
        &self,
        path: &str,
        body: Option<&Value>,
        max: usize,
        what: &str,
    ) -> Result<(Vec<Value>, bool), NtError> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..1000 {
            let size = (max - items.len()).clamp(1, 100);
            let mut page = match body {
                None => {
                    let mut query = vec![("page_size", size.to_string())];
                    if let Some(c) = &cursor {
                        query.push(("start_cursor", c.clone()));
                    }
                    self.send(Method::GET, path, &query, None, true, what)
                        .await?
                }
                Some(b) => {
                    let mut b = b.clone();
                    b["page_size"] = json!(size);
                    if let Some(c) = &cursor {
                        b["start_cursor"] = json!(c);
                    }
                    self.read(path, &b, what).await?
                }
            };
            if let Value::Array(results) = page["results"].take() {
                items.extend(results);
            }
            cursor = page["next_cursor"].as_str().map(str::to_owned);
            if cursor.is_none() {
                return Ok((items, false));
            }
            if items.len() >= max {
                return Ok((items, true));
            }
        }
        Ok((items, true))
    }

    /// The data source of a database (or a data source's own id), and its schema.
    pub async fn data_source(&self, id: &str) -> Result<Value, NtError> {
        let cached = self
            .sources
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned();
        let source = match cached {
            Some(s) => s,
            None => {
                let what = format!("database {id}");
                let source = match self.get(&format!("v1/databases/{id}"), &what).await {
                    Ok(db) => db["data_sources"][0]["id"]
                        .as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| {
                            NtError::Other(format!("database {id} holds no data source"))
                        })?,
                    // Perhaps it is a data source's id already.
                    Err(NtError::NotShared(_)) => id.to_owned(),
                    Err(e) => return Err(e),
                };
                self.sources
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(id.to_owned(), source.clone());
                source
            }
        };
        self.get(
            &format!("v1/data_sources/{source}"),
            &format!("database {id}"),
        )
        .await
    }
}
