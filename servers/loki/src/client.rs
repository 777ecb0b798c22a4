//! The Loki HTTP API over [`opsmcp_core::remote::Api`]: the `{"status","data"}` envelope,
//! the shapes of query results, and times as Loki takes them (nanoseconds).

use std::collections::BTreeMap;

use jiff::Timestamp;
pub use opsmcp_core::remote::{Api, ApiError};
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::Value;

pub type Labels = BTreeMap<String, String>;

/// Query parameters of a Loki request.
pub type Params = Vec<(&'static str, String)>;

#[derive(Debug, Deserialize)]
struct Envelope<T> {
    status: String,
    data: Option<T>,
}

/// `data` of `query` and `query_range`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryData {
    pub result_type: String,
    pub result: Value,
}

/// One stream of a log query's result.
#[derive(Debug, Clone, Deserialize)]
pub struct StreamResult {
    pub stream: Labels,
    /// (nanoseconds as a string, line)
    pub values: Vec<(String, String)>,
}

/// `index/stats`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct IndexStats {
    #[serde(default)]
    pub streams: u64,
    #[serde(default)]
    pub chunks: u64,
    #[serde(default)]
    pub entries: u64,
    #[serde(default)]
    pub bytes: u64,
}

/// One pattern of the `patterns` endpoint.
#[derive(Debug, Clone, Deserialize)]
pub struct PatternResult {
    pub pattern: String,
    /// (unix seconds, count)
    #[serde(default)]
    pub samples: Vec<(i64, u64)>,
}

/// Calls of the Loki HTTP API.
pub trait LokiApi {
    /// `GET` a path answering `{"status":"success","data":…}` and unwrap it.
    fn loki<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> impl Future<Output = Result<T, ApiError>> + Send;
}

impl LokiApi for Api {
    async fn loki<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ApiError> {
        let envelope: Envelope<T> = self.get_json(path, query).await?;
        match (envelope.status.as_str(), envelope.data) {
            ("success", Some(data)) => Ok(data),
            (status, _) => Err(ApiError::Rejected {
                backend: self.name().to_owned(),
                kind: status.to_owned(),
                message: "no data in the answer".into(),
            }),
        }
    }
}

/// A time as Loki takes it: nanoseconds since the epoch.
pub fn nanos(t: Timestamp) -> String {
    t.as_nanosecond().to_string()
}

/// Nanoseconds (as Loki sends them) as a timestamp.
pub fn from_nanos(ns: &str) -> Option<Timestamp> {
    Timestamp::from_nanosecond(ns.parse::<i128>().ok()?).ok()
}
