//! opsmcp-pagerduty against a PagerDuty that is down, slow, rate limiting, or refusing the key:
//! every failure is a tool result a person can act on, within the timeout, the key is never
//! printed, and the server keeps serving.

use std::time::{Duration, Instant};

use axum::{Router, routing::get};
use opsmcp_core::identity;
use opsmcp_e2e::mcp::{IncidentSetup, ToolClient, stub_backend};
use opsmcp_pagerduty::{PagerDutyServer, config::PagerDutyArgs};
use serde_json::json;

fn server(argv: Vec<String>) -> PagerDutyServer {
    let cli = opsmcp_core::config::parse_from::<PagerDutyArgs, _, _>(identity!(), argv).unwrap();
    opsmcp_e2e::assemble(identity!(), &cli, PagerDutyServer::new).unwrap()
}

/// A server against `url` with `key`, its audit log in a scratch directory.
async fn client(url: &str, key: Option<&str>, extra: &[&str]) -> ToolClient {
    let audit = opsmcp_e2e::scratch("pagerduty-faults")
        .unwrap()
        .join("audit.jsonl");
    let mut argv: Vec<String> = [
        "opsmcp-pagerduty",
        "--pagerduty-api-host",
        url,
        "--audit-log",
    ]
    .map(String::from)
    .to_vec();
    argv.push(audit.display().to_string());
    if let Some(key) = key {
        argv.extend(["--pagerduty-api-key".into(), key.into()]);
    }
    argv.extend(extra.iter().map(|s| s.to_string()));
    ToolClient::in_process(server(argv), Duration::from_secs(5)).await
}

#[tokio::test]
async fn pagerduty_down() {
    let port = opsmcp_e2e::free_port();
    let c = client(&format!("http://127.0.0.1:{port}"), Some("k3y-down"), &[]).await;
    let started = Instant::now();
    let (is_error, text) = c.call("incidents_list", json!({})).await;
    assert!(is_error);
    assert!(
        text.starts_with(&format!(
            "pagerduty is unreachable at http://127.0.0.1:{port}/incidents"
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
async fn pagerduty_slow() {
    let url = stub_backend(Router::new().route(
        "/incidents",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "{}"
        }),
    ))
    .await;
    let c = client(&url, Some("k3y-slow"), &["--pagerduty-timeout-secs", "1"]).await;
    let started = Instant::now();
    let (is_error, text) = c.call("incidents_list", json!({})).await;
    assert!(
        is_error && text.contains("did not answer within 1s"),
        "{text}"
    );
    // Timeouts of a GET are retried, each bounded.
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn without_a_key_every_call_says_which_variable() {
    let c = client("https://api.pagerduty.com", None, &[]).await;
    let (is_error, text) = c.call("oncalls_list", json!({})).await;
    assert!(is_error && text.contains("PAGERDUTY_API_KEY"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_and_rate_limits_against_the_stand_in() {
    let s = IncidentSetup::start("pagerduty-keys", Duration::from_secs(5), |sandbox, dir| {
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, &sandbox.ca_pem).unwrap();
        server(
            [
                "opsmcp-pagerduty",
                "--pagerduty-api-host",
                &sandbox.pagerduty_url(),
                "--pagerduty-ca-file",
                &ca.display().to_string(),
                "--pagerduty-api-key",
                "wrong-key-do-not-print",
                "--audit-log",
                &dir.join("audit.jsonl").display().to_string(),
            ]
            .map(String::from)
            .to_vec(),
        )
    })
    .await;
    let (is_error, text) = s.call("incidents_list", json!({})).await;
    assert!(is_error, "{text}");
    assert!(
        text.contains("rejected the API key (401): check PAGERDUTY_API_KEY"),
        "{text}"
    );
    assert!(!text.contains("wrong-key-do-not-print"), "{text}");

    // With the right key: two 429s are retried away; a 429 that does not end is reported.
    let ca = s.dir().join("ca.pem");
    let good = client(
        &s.sandbox.pagerduty_url(),
        Some(&s.sandbox.pagerduty.tokens.account),
        &["--pagerduty-ca-file", &ca.display().to_string()],
    )
    .await;
    s.sandbox.pagerduty.throttle(2);
    let text = good.ok("services_list", json!({})).await;
    assert!(text.contains("worker"), "recovered after the 429s: {text}");
    s.sandbox.pagerduty.throttle(50);
    let (is_error, text) = good.call("teams_list", json!({})).await;
    assert!(
        is_error && text.contains("429") && text.contains("Rate Limit Exceeded"),
        "{text}"
    );
    s.sandbox.pagerduty.throttle(0);
    assert!(
        good.ok("teams_list", json!({})).await.contains("Platform"),
        "still serving"
    );
}
