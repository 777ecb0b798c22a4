//! The outbound client against a misbehaving backend on loopback: 429 with `Retry-After`,
//! 503s, a slow answer, a closed port, a POST that must not be repeated, and credentials that
//! must not leak into errors.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{Router, http::StatusCode, response::IntoResponse, routing::get};
use opsmcp_core::{
    http::{Backend, BackendConfig, HttpError},
    identity,
    metrics::Metrics,
};
use reqwest::Method;

/// Serve `router` on a free loopback port; the task ends with the test's runtime.
async fn serve(router: Router) -> reqwest::Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}/").parse().unwrap()
}

fn backend(url: reqwest::Url, metrics: &Metrics) -> Backend {
    let mut config = BackendConfig::new("fake", url);
    config.min_backoff = Duration::from_millis(10);
    config.max_backoff = Duration::from_millis(50);
    config.request_timeout = Duration::from_millis(500);
    config.connect_timeout = Duration::from_millis(500);
    Backend::new(config, metrics.clone()).unwrap()
}

/// A handler that fails with `status` (and `retry_after`) for the first `failures` calls.
fn flaky(
    failures: usize,
    status: StatusCode,
    retry_after: Option<&'static str>,
    hits: Arc<AtomicUsize>,
) -> Router {
    Router::new().route(
        "/api",
        get(move || {
            let n = hits.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < failures {
                    let mut response = (status, "slow down").into_response();
                    if let Some(after) = retry_after {
                        response
                            .headers_mut()
                            .insert("retry-after", after.parse().unwrap());
                    }
                    response
                } else {
                    (StatusCode::OK, r#"{"ok":true}"#).into_response()
                }
            }
        })
        .post(|| async { (StatusCode::SERVICE_UNAVAILABLE, "busy") }),
    )
}

#[tokio::test]
async fn retries_429_honouring_retry_after() {
    let hits = Arc::new(AtomicUsize::new(0));
    let url = serve(flaky(
        1,
        StatusCode::TOO_MANY_REQUESTS,
        Some("1"),
        hits.clone(),
    ))
    .await;
    let metrics = Metrics::new(identity!());
    let started = Instant::now();
    let value: serde_json::Value = backend(url, &metrics).get_json("api", &()).await.unwrap();
    assert_eq!(value["ok"], true);
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    // The server asked for one second; the backoff alone would have waited 10-50 ms.
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    let text = metrics.render();
    assert!(
        text.contains(r#"opsmcp_backend_requests_total{backend="fake",status="429"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"opsmcp_backend_retries_total{backend="fake"} 1"#),
        "{text}"
    );
}

#[tokio::test]
async fn gives_up_after_the_retry_budget_with_a_clear_error() {
    let hits = Arc::new(AtomicUsize::new(0));
    let url = serve(flaky(
        100,
        StatusCode::SERVICE_UNAVAILABLE,
        None,
        hits.clone(),
    ))
    .await;
    let err = backend(url, &Metrics::new(identity!()))
        .get_json::<serde_json::Value, _>("api", &())
        .await
        .unwrap_err();
    assert_eq!(
        hits.load(Ordering::SeqCst),
        4,
        "one attempt and three retries"
    );
    assert_eq!(err.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
    let text = err.to_string();
    assert!(
        text.starts_with("fake answered 503 Service Unavailable for http://127.0.0.1:"),
        "{text}"
    );
    assert!(text.ends_with("slow down"), "{text}");
}

#[tokio::test]
async fn a_retry_after_beyond_the_limit_is_not_waited_for() {
    let hits = Arc::new(AtomicUsize::new(0));
    let url = serve(flaky(
        100,
        StatusCode::TOO_MANY_REQUESTS,
        Some("3600"),
        hits.clone(),
    ))
    .await;
    let started = Instant::now();
    let err = backend(url, &Metrics::new(identity!()))
        .get_json::<serde_json::Value, _>("api", &())
        .await
        .unwrap_err();
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(err.status(), Some(StatusCode::TOO_MANY_REQUESTS));
}

#[tokio::test]
async fn post_is_not_repeated_unless_asked() {
    let posts = Arc::new(AtomicUsize::new(0));
    let seen = posts.clone();
    let router = Router::new().route(
        "/api",
        axum::routing::post(move || {
            seen.fetch_add(1, Ordering::SeqCst);
            async { (StatusCode::SERVICE_UNAVAILABLE, "busy") }
        }),
    );
    let url = serve(router).await;
    let b = backend(url, &Metrics::new(identity!()));
    let err = b
        .send(b.request(Method::POST, "api").unwrap().body("{}"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(posts.load(Ordering::SeqCst), 1);
    let _ = b
        .send_retrying(b.request(Method::POST, "api").unwrap().body("{}"))
        .await;
    assert_eq!(
        posts.load(Ordering::SeqCst),
        5,
        "opted in: one attempt and three retries"
    );
}

#[tokio::test]
async fn a_slow_backend_times_out() {
    let router = Router::new().route(
        "/api",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "late"
        }),
    );
    let url = serve(router).await;
    let mut config = BackendConfig::new("slow", url);
    config.request_timeout = Duration::from_millis(200);
    config.max_retries = 1;
    config.min_backoff = Duration::from_millis(10);
    let started = Instant::now();
    let err = Backend::new(config, Metrics::new(identity!()))
        .unwrap()
        .get_json::<serde_json::Value, _>("api", &())
        .await
        .unwrap_err();
    assert!(matches!(err, HttpError::Timeout { .. }), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(
        err.to_string().contains("slow did not answer within 200ms"),
        "{err}"
    );
}

#[tokio::test]
async fn an_unreachable_backend_fails_fast_without_credentials_in_the_error() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url: reqwest::Url = format!("http://admin:hunter22@127.0.0.1:{port}/prom/")
        .parse()
        .unwrap();
    let mut config = BackendConfig::new("prometheus", url);
    config.min_backoff = Duration::from_millis(5);
    config.secrets.push("hunter22".into());
    let err = Backend::new(config, Metrics::new(identity!()))
        .unwrap()
        .get_json::<serde_json::Value, _>("api/v1/query?token=hunter22", &[("query", "up")])
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, HttpError::Connect { .. }), "{text}");
    assert!(
        text.starts_with(&format!(
            "prometheus is unreachable at http://127.0.0.1:{port}/prom/api/v1/query"
        )),
        "{text}"
    );
    assert!(
        !text.contains("hunter22") && !text.contains("admin"),
        "{text}"
    );
}

#[tokio::test]
async fn concurrency_is_limited_per_backend() {
    let active = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (a, p) = (active.clone(), peak.clone());
    let router = Router::new().route(
        "/api",
        get(move || {
            let (a, p) = (a.clone(), p.clone());
            async move {
                let now = a.fetch_add(1, Ordering::SeqCst) + 1;
                p.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(30)).await;
                a.fetch_sub(1, Ordering::SeqCst);
                "{}"
            }
        }),
    );
    let url = serve(router).await;
    let mut config = BackendConfig::new("limited", url);
    config.concurrency = 2;
    let b = Backend::new(config, Metrics::new(identity!())).unwrap();
    let calls = (0..8).map(|_| b.get_json::<serde_json::Value, _>("api", &()));
    for result in futures::future::join_all(calls).await {
        result.unwrap();
    }
    assert_eq!(peak.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn oversized_responses_are_refused_with_advice() {
    let router = Router::new().route("/api", get(|| async { "x".repeat(10_000) }));
    let url = serve(router).await;
    let mut config = BackendConfig::new("big", url);
    config.max_body_bytes = 1_000;
    let err = Backend::new(config, Metrics::new(identity!()))
        .unwrap()
        .get_json::<serde_json::Value, _>("api", &())
        .await
        .unwrap_err();
    assert!(
        matches!(err, HttpError::TooLarge { limit: 1_000, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("narrow the request"), "{err}");
}
