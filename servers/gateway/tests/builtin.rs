//! The incident tools over the sandbox world with the six real servers behind the gateway:
//! `incident_triage` on the drill's incident (Prometheus unreachable: the report is partial and
//! says which part), `service_overview`, and `search_everywhere` with sources down.

mod common;

use std::time::{Duration, Instant};

use common::{start, upstreams};
use opsmcp_e2e::{TempDir, docs, feed::page, mcp::ToolClient};
use opsmcp_gateway::config;
use opsmcp_sandbox::Sandbox;
use serde_json::json;

const SERVICE_MAP: &str = r#"
[[service]]
name = "worker"
namespace = "shop"
deployment = "worker"
pagerduty_service = "PSWORKR"
github_repo = "shop/worker"
runbooks = "Worker"
"#;

fn part<'a>(report: &'a str, title: &str) -> &'a str {
    let start = report
        .find(&format!("## {title} ("))
        .unwrap_or_else(|| panic!("no part {title} in {report}"));
    let rest = &report[start..];
    &rest[..rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triage_overview_and_search_over_the_six_servers() {
    let sandbox = Sandbox::incident().await.unwrap();
    let dir = TempDir::new("gateway-builtin").unwrap();
    let file = upstreams(&sandbox, dir.path(), docs::SERVERS, &[]) + SERVICE_MAP;
    let gateway = start(config::parse(&file).unwrap());
    let g = ToolClient::in_process(gateway, Duration::from_secs(20)).await;
    let number = page(
        &sandbox,
        "gateway-triage",
        "[FIRING:1] ContainerOOMKilled shop (worker)",
    )
    .await;
    g.ok("health", json!({})).await;

    let started = Instant::now();
    let report = g
        .ok("incident_triage", json!({ "incident": number.to_string() }))
        .await;
    let took = started.elapsed();
    assert!(
        report.starts_with(&format!(
            "Triage of incident {number}: service worker (shop)"
        )),
        "{report}"
    );
    assert!(
        report.contains("(partial: 1 of 8 parts unavailable)"),
        "{report}"
    );
    assert!(
        part(&report, "Incident").contains("ContainerOOMKilled"),
        "{report}"
    );
    assert!(part(&report, "On call").contains("L1 "), "{report}");
    assert!(
        part(&report, "Its pods, restarts and last terminations").contains("worker-"),
        "{report}"
    );
    assert!(
        part(&report, "Memory and CPU against limits")
            .contains("unavailable: prometheus is unreachable"),
        "{report}"
    );
    assert!(part(&report, "Revisions").contains("worker"), "{report}");
    assert!(
        part(&report, "Commits in the 24 h before it").contains("cache the working set"),
        "{report}"
    );
    assert!(
        part(&report, "Runbooks").contains("Worker OOM runbook"),
        "{report}"
    );
    assert!(
        part(&report, "Error patterns in its logs").lines().count() > 1,
        "{report}"
    );
    // Its size in a host's context (the bench measures cl100k tokens; ~4 bytes a token).
    assert!(report.len() < 10_000, "{} bytes:\n{report}", report.len());
    eprintln!("incident_triage: {took:?}, {} bytes", report.len());
    // An agent that comes after the page, with no number: the newest open incident.
    let found = g.ok("incident_triage", json!({})).await;
    assert!(
        found.contains(&format!(
            "Triage of incident {number}: service worker (shop)"
        )),
        "{found}"
    );

    let overview = g
        .ok("service_overview", json!({ "service": "worker" }))
        .await;
    assert!(overview.starts_with("worker (shop) now"), "{overview}");
    assert!(
        part(&overview, "Recent commits").contains("cache the working set"),
        "{overview}"
    );
    let (is_error, unknown) = g
        .call("service_overview", json!({ "service": "nope" }))
        .await;
    assert!(is_error && unknown.contains("one of: worker"), "{unknown}");

    let found = g
        .ok(
            "search_everywhere",
            json!({ "text": "worker", "window": "6h" }),
        )
        .await;
    assert!(
        found.starts_with("\"worker\" in the last 6h, by source"),
        "{found}"
    );
    // Prometheus is down: its two sources say so, the others answer.
    assert!(
        part(&found, "Metric names").contains("unavailable:"),
        "{found}"
    );
    assert!(part(&found, "Alerts").contains("unavailable:"), "{found}");
    assert!(
        found.contains("(partial: 2 of 9 parts unavailable)"),
        "{found}"
    );
    assert!(part(&found, "Logs").contains("worker"), "{found}");
    assert!(
        part(&found, "Kubernetes events").contains("worker"),
        "{found}"
    );
    assert!(part(&found, "Incidents").contains("worker"), "{found}");
    assert!(part(&found, "Pages").contains("Worker"), "{found}");
}
