//! The Prometheus API envelope over [`opsmcp_core::remote::Api`] (shared with every server:
//! authentication, lazy client, readable 4xx errors).

pub use opsmcp_core::remote::{Api, ApiError};
use serde::{Deserialize, de::DeserializeOwned};

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

/// Calls of the Prometheus HTTP API.
pub trait PrometheusApi {
    /// `GET` a Prometheus API path (`api/v1/...`) and unwrap its envelope.
    fn prometheus<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> impl Future<Output = Result<Answer<T>, ApiError>> + Send;
}

impl PrometheusApi for Api {
    async fn prometheus<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Answer<T>, ApiError> {
        prometheus(self, path, query).await
    }
}

async fn prometheus<T: DeserializeOwned>(
    api: &Api,
    path: &str,
    query: &[(&str, String)],
) -> Result<Answer<T>, ApiError> {
    let request = api.request(reqwest::Method::GET, path)?.query(query);
    let response = api
        .backend()?
        .send(request)
        .await
        .map_err(|e| api.explain(e))?;
    let envelope: Envelope<T> = response.json().map_err(|e| ApiError::Decode {
        backend: api.name().to_owned(),
        reason: e.to_string(),
    })?;
    match (envelope.status.as_str(), envelope.data) {
        ("success", Some(data)) => Ok(Answer {
            data,
            warnings: envelope.warnings,
        }),
        _ => Err(ApiError::Rejected {
            backend: api.name().to_owned(),
            kind: envelope.error_type.unwrap_or_else(|| "error".into()),
            message: envelope
                .error
                .unwrap_or_else(|| "no data in the answer".into()),
        }),
    }
}
