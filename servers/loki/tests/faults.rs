//! opsmcp-loki against a Loki that is down, slow, rate limiting, refusing a query with a
//! message, or lacking the patterns endpoint: every failure is a tool result a person can act
//! on, within the timeout, and the server keeps serving.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{Router, http::StatusCode, response::IntoResponse, routing::get};
use opsmcp_core::identity;
use opsmcp_e2e::mcp::{ToolClient, stub_backend};
use opsmcp_loki::{LokiServer, config::LokiArgs};
use serde_json::json;

async fn client(url: &str, extra: &[&str]) -> ToolClient {
    let audit = opsmcp_e2e::scratch("loki-faults")
        .unwrap()
        .join("audit.jsonl");
    let audit = audit.display().to_string();
    let mut argv = vec!["opsmcp-loki", "--loki-url", url, "--audit-log", &audit];
    argv.extend_from_slice(extra);
    let cli = opsmcp_core::config::parse_from::<LokiArgs, _, _>(identity!(), argv).unwrap();
    let server = opsmcp_e2e::assemble(identity!(), &cli, LokiServer::new).unwrap();
    ToolClient::in_process(server, Duration::from_secs(5)).await
}

#[tokio::test]
async fn loki_down() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = client(&format!("http://127.0.0.1:{port}"), &[]).await;
    let started = Instant::now();
    let (is_error, text) = c.call("logs_labels", json!({})).await;
    assert!(is_error);
    assert!(
        text.starts_with(&format!(
            "loki is unreachable at http://127.0.0.1:{port}/loki/api/v1/labels"
        )),
        "{text}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    // The tail's WebSocket fails as plainly.
    let (is_error, text) = c
        .call("logs_tail", json!({ "query": "{app=\"x\"}", "seconds": 1 }))
        .await;
    assert!(
        is_error && text.starts_with("cannot open Loki's tail WebSocket"),
        "{text}"
    );
}

#[tokio::test]
async fn loki_slow() {
    let url = stub_backend(Router::new().route(
        "/loki/api/v1/query_range",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "late"
        }),
    ))
    .await;
    let c = client(&url, &["--loki-timeout-secs", "1"]).await;
    // This Loki has no index/stats: an unsized query is refused, and runs when told.
    let (is_error, text) = c
        .call("logs_query", json!({ "query": "{app=\"x\"}" }))
        .await;
    assert!(
        is_error
            && text.contains("cannot size this query")
            && text.contains("allow_large_scan=true"),
        "{text}"
    );
    let started = Instant::now();
    let (is_error, text) = c
        .call(
            "logs_query",
            json!({ "query": "{app=\"x\"}", "allow_large_scan": true }),
        )
        .await;
    assert!(is_error);
    assert!(text.contains("loki did not answer within 1s"), "{text}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn rate_limited_then_recovers_then_a_plain_text_400() {
    let hits = Arc::new(AtomicUsize::new(0));
    let seen = hits.clone();
    let url = stub_backend(Router::new().route(
        "/loki/api/v1/labels",
        get(move || {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            async move {
                match n {
                    0 | 1 => (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], "too many outstanding requests").into_response(),
                    2 => (StatusCode::OK, r#"{"status":"success","data":["app","pod"]}"#).into_response(),
                    _ => (
                        StatusCode::BAD_REQUEST,
                        "the query time range exceeds the limit (query length: 800h0m0s, limit: 721h0m0s)\n",
                    )
                        .into_response(),
                }
            }
        }),
    ))
    .await;
    let c = client(&url, &[]).await;
    let started = Instant::now();
    let text = c.ok("logs_labels", json!({})).await;
    assert!(text.contains("2 labels over 6h: app, pod"), "{text}");
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "Retry-After was honoured: {:?}",
        started.elapsed()
    );
    let (is_error, text) = c.call("logs_labels", json!({ "start": "800h" })).await;
    assert!(is_error);
    assert_eq!(
        text,
        "loki rejected the request (400): the query time range exceeds the limit (query length: 800h0m0s, limit: 721h0m0s)"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 4, "a 400 is not retried");
}

#[tokio::test]
async fn without_a_patterns_endpoint_lines_are_mined_here() {
    let lines: Vec<serde_json::Value> = (0..40)
        .map(|i| {
            let line = if i % 4 == 0 {
                format!("level=error msg=\"db timeout\" after={}ms", 1000 + i)
            } else {
                format!("level=error msg=\"card declined\" order=o-{i}")
            };
            json!([
                (1_764_000_000_000_000_000_i64 + i * 1_000_000_000).to_string(),
                line
            ])
        })
        .collect();
    let body = json!({ "status": "success", "data": { "resultType": "streams", "result": [
        { "stream": { "app": "pay" }, "values": lines }
    ] } })
    .to_string();
    let url = stub_backend(
        Router::new()
            .route(
                "/loki/api/v1/patterns",
                get(|| async { (StatusCode::NOT_FOUND, "404 page not found\n") }),
            )
            .route("/loki/api/v1/query_range", get(move || async move { body })),
    )
    .await;
    let c = client(&url, &[]).await;
    let text = c
        .ok("logs_patterns", json!({ "service": "pay", "start": "2025-11-24T15:00:00Z", "end": "2025-11-24T17:00:00Z" }))
        .await;
    assert!(
        text.contains("mined here from the 40 matching lines"),
        "{text}"
    );
    assert!(
        text.contains(
            "30     75%    16:00:01  16:00:39  level=error msg=\"card declined\" order=<_>"
        ),
        "{text}"
    );
    assert!(text.contains("10     25%"), "{text}");
}

/// Credentials and the tenant go with every request, the tail's WebSocket upgrade included, and
/// never show up in what the model reads.
#[tokio::test]
async fn auth_and_tenant_reach_every_request_and_stay_secret() {
    use axum::{
        extract::ws::{Message, WebSocketUpgrade},
        http::HeaderMap,
    };
    fn allowed(headers: &HeaderMap) -> bool {
        headers.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer s3cret-token")
            && headers.get("x-scope-orgid").and_then(|v| v.to_str().ok()) == Some("team-a")
    }
    let url = stub_backend(
        Router::new()
            .route(
                "/loki/api/v1/labels",
                get(|headers: HeaderMap| async move {
                    if allowed(&headers) {
                        (StatusCode::OK, r#"{"status":"success","data":["app"]}"#).into_response()
                    } else {
                        (StatusCode::UNAUTHORIZED, "no org id or bad token\n").into_response()
                    }
                }),
            )
            .route(
                "/loki/api/v1/tail",
                get(|headers: HeaderMap, ws: WebSocketUpgrade| async move {
                    if !allowed(&headers) {
                        return (StatusCode::UNAUTHORIZED, "no org id or bad token\n").into_response();
                    }
                    ws.on_upgrade(|mut socket| async move {
                        let frame = r#"{"streams":[{"stream":{"app":"a"},"values":[["1764000000000000000","hello tenant a"]]}],"dropped_entries":null}"#;
                        let _ = socket.send(Message::Text(frame.into())).await;
                        tokio::time::sleep(Duration::from_secs(5)).await;
                    })
                }),
            ),
    )
    .await;
    let good = client(
        &url,
        &["--loki-token", "s3cret-token", "--loki-org-id", "team-a"],
    )
    .await;
    let text = good.ok("logs_labels", json!({})).await;
    assert!(text.contains("app"), "{text}");
    let text = good
        .ok(
            "logs_tail",
            json!({ "query": "{app=\"a\"}", "seconds": 2, "max_lines": 1 }),
        )
        .await;
    assert!(text.contains("hello tenant a"), "{text}");
    let bad = client(
        &url,
        &[
            "--loki-token",
            "wrong-token-value",
            "--loki-org-id",
            "team-a",
        ],
    )
    .await;
    let (is_error, text) = bad.call("logs_labels", json!({})).await;
    assert!(is_error && text.contains("401"), "{text}");
    assert!(!text.contains("wrong-token-value"), "{text}");
    let (is_error, text) = bad
        .call("logs_tail", json!({ "query": "{app=\"a\"}", "seconds": 1 }))
        .await;
    assert!(
        is_error && text.contains("Loki refused the tail (401 Unauthorized)"),
        "{text}"
    );
    assert!(!text.contains("wrong-token-value"), "{text}");
}
