//! The HTTP app built by `serve::router`, called without a socket.

use axum::{body::Body, http::Request};
use opsmcp_core::{
    config::{self, TransportArgs},
    identity,
    metrics::Metrics,
    serve::{App, router},
};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

#[derive(Debug, clap::Args)]
struct NoArgs {}

#[derive(Clone)]
struct Nothing;
impl opsmcp_core::rmcp::ServerHandler for Nothing {}

fn http_args() -> config::HttpArgs {
    match config::parse_from::<NoArgs, _, _>(identity!(), ["x", "serve"])
        .unwrap()
        .transport()
    {
        TransportArgs::Http(args) => args,
        TransportArgs::Stdio => unreachable!(),
    }
}

async fn get(app: axum::Router, path: &str) -> (u16, String) {
    let response = app
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn readyz_follows_the_backend_probe() {
    let metrics = Metrics::new(identity!());
    let down = App::new(identity!(), metrics.clone(), || Nothing).readiness(|| async {
        Err("prometheus at http://127.0.0.1:9090 refused the connection".to_owned())
    });
    let (status, body) = get(
        router(&http_args(), down, CancellationToken::new()),
        "/readyz",
    )
    .await;
    assert_eq!(status, 503);
    assert_eq!(
        body,
        "not ready: prometheus at http://127.0.0.1:9090 refused the connection\n"
    );

    let up = App::new(identity!(), metrics, || Nothing).readiness(|| async { Ok(()) });
    let app = router(&http_args(), up, CancellationToken::new());
    assert_eq!(
        get(app.clone(), "/readyz").await,
        (200, "ready\n".to_owned())
    );
    // Liveness does not depend on the backend.
    assert_eq!(get(app, "/healthz").await, (200, "ok\n".to_owned()));
}
