//! opsmcp-github against a GitHub that is down, slow, rate limiting (the secondary limit's
//! 403 with `retry-after`), or refusing the token, and without credentials: every failure is a
//! tool result a person can act on, within the timeout; the token is never printed.

use std::time::{Duration, Instant};

use axum::{Router, routing::get};
use opsmcp_core::identity;
use opsmcp_e2e::mcp::{ToolClient, stub_backend};
use opsmcp_github::{GitHubServer, config::GitHubArgs};
use opsmcp_sandbox::{
    Sandbox,
    scenario::{INCIDENT, Scenario},
};
use serde_json::json;

fn server(argv: Vec<String>) -> GitHubServer {
    let cli = opsmcp_core::config::parse_from::<GitHubArgs, _, _>(identity!(), argv).unwrap();
    opsmcp_e2e::assemble(identity!(), &cli, GitHubServer::new).unwrap()
}

/// A server against `url` with `token`, defaulting to shop/worker.
async fn client(url: &str, token: Option<&str>, extra: &[&str]) -> ToolClient {
    let audit = opsmcp_e2e::scratch("github-faults")
        .unwrap()
        .join("audit.jsonl");
    let mut argv: Vec<String> = [
        "opsmcp-github",
        "--github-api-url",
        url,
        "--github-repo-owner",
        "shop",
        "--github-repo-name",
        "worker",
        "--audit-log",
    ]
    .map(String::from)
    .to_vec();
    argv.push(audit.display().to_string());
    if let Some(token) = token {
        argv.extend(["--github-token".into(), token.into()]);
    }
    argv.extend(extra.iter().map(|s| s.to_string()));
    ToolClient::in_process(server(argv), Duration::from_secs(5)).await
}

async fn sandbox() -> Sandbox {
    let scenario = Scenario::parse(INCIDENT).unwrap();
    Sandbox::start_with("127.0.0.1:0".parse().unwrap(), Some(&scenario))
        .await
        .unwrap()
}

#[tokio::test]
async fn github_down() {
    let port = opsmcp_e2e::free_port();
    let c = client(&format!("http://127.0.0.1:{port}"), Some("ghp_down"), &[]).await;
    let started = Instant::now();
    let (is_error, text) = c.call("commits_list", json!({})).await;
    assert!(
        is_error && text.starts_with(&format!("GitHub is unreachable at http://127.0.0.1:{port}")),
        "{text}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn github_slow() {
    let url = stub_backend(Router::new().route(
        "/repos/shop/worker/commits",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "[]"
        }),
    ))
    .await;
    let c = client(&url, Some("ghp_slow"), &["--github-timeout-secs", "1"]).await;
    let started = Instant::now();
    let (is_error, text) = c.call("commits_list", json!({})).await;
    assert!(
        is_error && text.contains("did not answer within the timeout"),
        "{text}"
    );
    // A read is retried three times, each bounded by the timeout.
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_wrong_token_is_named_and_never_shown() {
    let s = sandbox().await;
    let c = client(&s.github_url(), Some("ghp_wrongwrongwrong"), &[]).await;
    let (is_error, text) = c.call("commits_list", json!({})).await;
    assert!(
        is_error && text.contains("401") && text.contains("GITHUB_TOKEN"),
        "{text}"
    );
    assert!(!text.contains("ghp_wrongwrongwrong"), "{text}");

    let none = client(&s.github_url(), None, &[]).await;
    let (is_error, text) = none.call("file_get", json!({ "path": "worker.c" })).await;
    assert!(
        is_error && text.starts_with("no GitHub credentials: set GITHUB_TOKEN"),
        "{text}"
    );
}

#[tokio::test]
async fn the_secondary_rate_limit_is_waited_out_when_short_and_reported_when_long() {
    let s = sandbox().await;
    let c = client(&s.github_url(), Some(&s.github.token), &[]).await;
    // One refusal asking for a second: the read waits and succeeds.
    s.github.limit_secondary(1, 1);
    let started = Instant::now();
    let text = c.ok("releases_list", json!({})).await;
    assert!(text.contains("v1.4.2"), "{text}");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    // Asked to wait a minute: no waiting inside a tool call, the sentence says how long.
    s.github.limit_secondary(10, 60);
    let started = Instant::now();
    let (is_error, text) = c.call("releases_list", json!({})).await;
    assert!(
        is_error
            && text
                == "GitHub's rate limit (secondary: too many requests at once): retry after 60 s",
        "{text}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // A change is never retried: the refusal is the answer, and nothing was created.
    let yolo = client(&s.github_url(), Some(&s.github.token), &["--mode", "yolo"]).await;
    s.github.limit_secondary(1, 1);
    let (is_error, text) = yolo
        .call(
            "issue_create",
            json!({ "title": "retry me?", "confidence": 1.0 }),
        )
        .await;
    assert!(is_error && text.contains("retry after 1 s"), "{text}");
    assert_eq!(s.github.repos()["shop/worker"].issues.len(), 2);
}

/// Issue 25: a front end that echoes the request's `Authorization` header in its error.
#[tokio::test]
async fn an_echoed_token_is_scrubbed_from_the_error() {
    let url = stub_backend(Router::new().route(
        "/repos/shop/worker/commits",
        get(|headers: axum::http::HeaderMap| async move {
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            (
                axum::http::StatusCode::BAD_GATEWAY,
                [("content-type", "application/json")],
                json!({ "message": format!("upstream refused the request with {auth} (token=echoed)") }).to_string(),
            )
        }),
    ))
    .await;
    let token = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
    let c = client(&url, Some(token), &["--github-timeout-secs", "2"]).await;
    let (is_error, text) = c.call("commits_list", json!({})).await;
    assert!(is_error, "{text}");
    assert!(
        !text.contains(token) && !text.contains("0123456789abcdef"),
        "{text}"
    );
}
