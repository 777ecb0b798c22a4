//! The Kubernetes client's retries, as the other five servers retry (`opsmcp_core::http`):
//! kube's own policy for 429, 503 and 504 (with `Retry-After`), and reads (`GET`, `HEAD`) once
//! more after a connection failure — refused, reset, closed before an answer — at most three
//! times, 200 ms doubling to 5 s with jitter. A write is never sent again after a connection
//! failure: it may have arrived.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use http::{Method, Request, Response};
use kube::client::{Body, retry::RetryPolicy};
use tower::{BoxError, retry::Policy};

/// Attempts after the first for a read whose connection failed.
pub const READ_RETRIES: usize = 3;

/// kube's status retries, and reads retried on connection failures.
/// Cloned for each request (tower's retry does), so `tries` counts one request's.
#[derive(Clone)]
pub struct Retry {
    statuses: RetryPolicy,
    backoff: ExponentialBuilder,
    tries: usize,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            statuses: RetryPolicy::default(),
            backoff: ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(200))
                .with_max_delay(Duration::from_secs(5))
                .with_max_times(READ_RETRIES)
                .with_jitter(),
            tries: 0,
        }
    }
}

impl<Res> Policy<Request<Body>, Response<Res>, BoxError> for Retry {
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        request: &mut Request<Body>,
        result: &mut Result<Response<Res>, BoxError>,
    ) -> Option<Self::Future> {
        match result {
            Err(error)
                if matches!(*request.method(), Method::GET | Method::HEAD)
                    && connection_failed(error.as_ref()) =>
            {
                let delay = self.backoff.build().nth(self.tries)?;
                self.tries += 1;
                Some(tokio::time::sleep(delay))
            }
            _ => self.statuses.retry(request, result),
        }
    }

    fn clone_request(&mut self, request: &Request<Body>) -> Option<Request<Body>> {
        <RetryPolicy as Policy<Request<Body>, Response<Res>, BoxError>>::clone_request(
            &mut self.statuses,
            request,
        )
    }
}

/// Whether `error` (or what caused it) is a connection that failed before an answer came.
fn connection_failed(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
            )
        {
            return true;
        }
        if let Some(hyper) = e.downcast_ref::<hyper::Error>()
            && (hyper.is_incomplete_message() || hyper.is_closed() || hyper.is_canceled())
        {
            return true;
        }
        cause = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };

    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{Api, PostParams};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// An API server on loopback that closes the first `drop_first` connections after reading
    /// the request, then answers every request with an empty list (or the object posted).
    async fn flaky(drop_first: usize) -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                let n = count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    let read = tcp.read(&mut buf).await.unwrap_or(0);
                    if n < drop_first {
                        return; // closed without an answer
                    }
                    let request = String::from_utf8_lossy(&buf[..read]);
                    let body = if request.starts_with("GET") {
                        r#"{"kind":"ConfigMapList","apiVersion":"v1","metadata":{},"items":[]}"#
                    } else {
                        r#"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"x"}}"#
                    };
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = tcp.write_all(answer.as_bytes()).await;
                });
            }
        });
        (url, accepted)
    }

    fn client(url: &str) -> kube::Client {
        let mut config = kube::Config::new(url.parse().unwrap());
        config.default_retry = false;
        kube::client::ClientBuilder::try_from(config)
            .unwrap()
            .with_layer(&tower::buffer::BufferLayer::new(8))
            .with_layer(&tower::retry::RetryLayer::new(Retry::default()))
            .build()
    }

    #[tokio::test]
    async fn a_read_is_retried_after_a_dropped_connection_and_a_write_is_not() {
        let (url, accepted) = flaky(2).await;
        let api: Api<ConfigMap> = Api::namespaced(client(&url), "shop");
        let listed = api.list(&Default::default()).await.unwrap();
        assert!(listed.items.is_empty());
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            3,
            "two dropped, the third answered"
        );

        let (url, accepted) = flaky(1).await;
        let api: Api<ConfigMap> = Api::namespaced(client(&url), "shop");
        let made = api
            .create(
                &PostParams::default(),
                &serde_json::from_str(r#"{"metadata":{"name":"x"}}"#).unwrap(),
            )
            .await;
        assert!(made.is_err(), "{made:?}");
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "a write is sent once");

        // Nothing listening at all: three retries, then the error.
        let (url, accepted) = flaky(usize::MAX).await;
        let api: Api<ConfigMap> = Api::namespaced(client(&url), "shop");
        assert!(api.list(&Default::default()).await.is_err());
        assert_eq!(accepted.load(Ordering::SeqCst), 1 + READ_RETRIES);
    }
}
