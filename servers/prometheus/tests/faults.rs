//! opsmcp-prometheus against a backend that is down, slow, or rate limiting: every failure is a
//! tool result a person can act on, within the timeout, and the server keeps serving.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{Router, http::StatusCode, response::IntoResponse, routing::get};
use opsmcp_core::identity;
use opsmcp_e2e::mcp::stub_backend;
use opsmcp_prometheus::{PrometheusServer, config::PrometheusArgs};
use rmcp::{RoleClient, ServiceExt, model::CallToolRequestParams, service::RunningService};
use serde_json::{Value, json};

async fn client(url: &str, extra: &[&str]) -> RunningService<RoleClient, ()> {
    let mut argv = vec!["opsmcp-prometheus", "--prometheus-url", url];
    argv.extend_from_slice(extra);
    let audit = opsmcp_e2e::scratch("prometheus-faults")
        .unwrap()
        .join("audit.jsonl");
    let audit = audit.display().to_string();
    argv.extend_from_slice(&["--audit-log", &audit]);
    let cli = opsmcp_core::config::parse_from::<PrometheusArgs, _, _>(identity!(), argv).unwrap();
    let server = opsmcp_e2e::assemble(identity!(), &cli, PrometheusServer::new).unwrap();
    let (a, b) = tokio::io::duplex(1 << 16);
    tokio::spawn(async move {
        let _ = server.serve(a).await.unwrap().waiting().await;
    });
    ().serve(b).await.unwrap()
}

async fn query(client: &RunningService<RoleClient, ()>) -> (bool, String) {
    let Value::Object(args) = json!({ "query": "up" }) else {
        unreachable!()
    };
    let result = client
        .call_tool(CallToolRequestParams::new("query_instant").with_arguments(args))
        .await
        .unwrap();
    let value = serde_json::to_value(&result).unwrap();
    (
        value["isError"] == json!(true),
        value["content"][0]["text"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn prometheus_down() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = client(&format!("http://127.0.0.1:{port}"), &[]).await;
    let started = Instant::now();
    let (is_error, text) = query(&c).await;
    assert!(is_error);
    assert!(
        text.starts_with(&format!(
            "prometheus is unreachable at http://127.0.0.1:{port}/api/v1/query"
        )),
        "{text}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn prometheus_slow() {
    let url = stub_backend(Router::new().route(
        "/api/v1/query",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "late"
        }),
    ))
    .await;
    let c = client(&url, &["--prometheus-timeout-secs", "1"]).await;
    let started = Instant::now();
    let (is_error, text) = query(&c).await;
    assert!(is_error);
    assert!(
        text.contains("prometheus did not answer within 1s"),
        "{text}"
    );
    // One attempt and three retries of one second each, plus backoff: well under the 30 s.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn rate_limited_then_recovers_and_then_gives_up() {
    let hits = Arc::new(AtomicUsize::new(0));
    let seen = hits.clone();
    let url = stub_backend(Router::new().route(
        "/api/v1/query",
        get(move || {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            async move {
                // Two 429s, then an answer; after that only 503s.
                match n {
                    0 | 1 => (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], "slow down").into_response(),
                    2 => (
                        StatusCode::OK,
                        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"x"},"value":[1764000000,"1"]}]}}"#,
                    )
                        .into_response(),
                    _ => (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "0")], "overloaded").into_response(),
                }
            }
        }),
    ))
    .await;
    let c = client(&url, &[]).await;
    let started = Instant::now();
    let (is_error, text) = query(&c).await;
    assert!(!is_error, "{text}");
    assert!(
        text.contains("up{job=\"x\"}") || text.contains("job=\"x\""),
        "{text}"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "Retry-After was honoured: {:?}",
        started.elapsed()
    );
    let (is_error, text) = query(&c).await;
    assert!(is_error);
    assert!(
        text.contains("503 Service Unavailable") && text.contains("overloaded"),
        "{text}"
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        3 + 4,
        "the failing call was tried four times"
    );
}
