//! The gateway in front of the six real server binaries (spawned over stdio as its upstreams
//! file says) against the sandbox world: one catalog of every server's tools, calls reaching
//! each server, and an upstream killed mid-session — started again on its next call (or, when
//! the connection dies under a call, that call's error names it) while the others keep
//! answering.

use std::{collections::BTreeSet, time::Duration};

mod common;

use common::{gateway, start, variables};
use opsmcp_e2e::{
    TempDir, binary, docs, feed::page, mcp::ToolClient, process::signal, workspace_root,
};
use opsmcp_gateway::config;
use opsmcp_sandbox::Sandbox;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_catalog_of_the_six_servers_and_calls_reach_each() {
    // Uncached: the check below waits for a state that comes and goes.
    let (g, _server, _sandbox, _dir) =
        gateway("gateway-catalog", "[cache]\nenabled = false\n").await;
    let tools = g.client.list_all_tools().await.unwrap();
    // A strict-schema host can call each of them, the gateway's own included.
    let as_json: Vec<serde_json::Value> = tools
        .iter()
        .map(|t| serde_json::to_value(t).unwrap())
        .collect();
    let problems = docs::strict_schema_problems(&as_json).unwrap();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let listed: BTreeSet<String> = tools.into_iter().map(|t| t.name.into_owned()).collect();
    let mut expected: BTreeSet<String> = docs::SERVERS
        .iter()
        .flat_map(|s| docs::snapshot(s))
        .filter_map(|t| t["name"].as_str().map(str::to_owned))
        .collect();
    expected.extend(["health", "history", "search_everywhere"].map(str::to_owned));
    assert_eq!(listed, expected);

    let health = g.ok("health", json!({})).await;
    assert!(health.starts_with("6 of 6 upstreams up"), "{health}");
    assert!(!health.contains("collision"), "{health}");
    // Each server's own word on its backend and breaker (opsmcp://health).
    let row = |name: &str| {
        health
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} in {health}"))
            .to_owned()
    };
    assert!(row("prometheus").contains("NOT READY: "), "{health}");
    assert!(row("kubernetes").contains(" ready "), "{health}");
    assert!(row("loki").contains("closed (0 failures)"), "{health}");

    g.eventually("pods_list", json!({ "errors_only": true }), |t| {
        t.contains("OOMKilled")
    })
    .await;
    let logs = g
        .ok(
            "logs_query",
            json!({ "query": "{job=\"node/kernel\"}", "start": "6h" }),
        )
        .await;
    assert!(logs.contains("Killed process"), "{logs}");
    let oncall = g
        .ok("oncalls_list", json!({ "service_id": "PSWORKR" }))
        .await;
    assert!(oncall.contains("L1 "), "{oncall}");
    let commits = g.ok("commits_list", json!({})).await;
    assert!(commits.contains("cache the working set"), "{commits}");
    let runbooks = g.ok("pages_search", json!({ "query": "OOM" })).await;
    assert!(runbooks.contains("Worker OOM runbook"), "{runbooks}");
    // Prometheus is unreachable: its answer is its own tool error, passed through.
    let (is_error, text) = g.call("query_instant", json!({ "query": "up" })).await;
    assert!(is_error && text.contains("127.0.0.1:9"), "{text}");
    let (is_error, text) = g.call("no_such_tool", json!({})).await;
    assert!(is_error && text.contains("no tool no_such_tool"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_upstream_fails_alone_and_comes_back() {
    let (g, server, _sandbox, _dir) =
        gateway("gateway-restart", "[cache]\nenabled = false\n").await;
    g.ok("logs_labels", json!({})).await;
    let loki = server
        .upstreams()
        .iter()
        .find(|u| u.spec.name == "loki")
        .unwrap();
    let pid = loki.status().await.pid.expect("loki runs as a child");
    signal(pid, "KILL").unwrap();
    // Its next call either finds the connection already closed and starts it again, or loses
    // the connection under it and says which upstream failed; the others are untouched.
    let (is_error, text) = g.call("logs_labels", json!({})).await;
    assert!(
        !is_error || text.contains("upstream loki"),
        "the dead upstream is named: {text}"
    );
    let pods = g.ok("pods_list", json!({})).await;
    assert!(pods.contains("worker-"), "{pods}");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let labels = loop {
        let (is_error, text) = g.call("logs_labels", json!({})).await;
        if !is_error {
            break text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "loki never came back: {text}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(labels.contains("namespace"), "{labels}");
    let status = loki.status().await;
    assert!(status.connected && status.connections == 2, "{status:?}");
    assert_ne!(status.pid, Some(pid));
    let health = g.ok("health", json!({})).await;
    assert!(health.starts_with("6 of 6 upstreams up"), "{health}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_its_upstreams_file_over_stdio() {
    let sandbox = Sandbox::incident().await.unwrap();
    let dir = TempDir::new("gateway-binary").unwrap();
    let file = dir.path().join("upstreams.toml");
    std::fs::write(
        &file,
        format!(
            "[[upstream]]\nname = \"loki\"\ncommand = {:?}\nexpected_tools = 9\nenv = {{ LOKI_URL = {:?}, OPSMCP_AUDIT_LOG = {:?} }}\n",
            binary("opsmcp-loki").display().to_string(),
            sandbox.url(),
            dir.path().join("audit.jsonl").display().to_string()
        ),
    )
    .unwrap();
    let mut cmd = tokio::process::Command::new(binary("opsmcp-gateway"));
    cmd.env("OPSMCP_GATEWAY_UPSTREAMS", &file)
        .env("OPSMCP_AUDIT_LOG", dir.path().join("gateway-audit.jsonl"))
        .stderr(std::process::Stdio::null());
    let client = rmcp::ServiceExt::serve((), rmcp::transport::TokioChildProcess::new(cmd).unwrap())
        .await
        .unwrap();
    let tools = client.list_all_tools().await.unwrap();
    // Loki's and the gateway's own (health, history, search_everywhere).
    assert_eq!(tools.len(), docs::snapshot("loki").len() + 3);
    let result = client
        .call_tool(rmcp::model::CallToolRequestParams::new("health"))
        .await
        .unwrap();
    let text = serde_json::to_value(&result).unwrap()["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(text.starts_with("1 of 1 upstreams up, 9 tools"), "{text}");
    assert!(text.contains("9/9"), "{text}");
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_configuration_runs_against_the_sandbox() {
    let sandbox = Sandbox::incident().await.unwrap();
    let dir = TempDir::new("gateway-example").unwrap();
    let text = std::fs::read_to_string(workspace_root().join("examples/gateway.toml")).unwrap();
    let mut config = config::parse(&text).unwrap();
    // The example's servers, pointed at the sandbox instead of production.
    let env = variables(&sandbox, dir.path(), &[]);
    for upstream in &mut config.upstream {
        let name = upstream.command.take().unwrap();
        upstream.command = Some(binary(&name).display().to_string());
        upstream.env.extend(env.iter().cloned());
        // The sandbox's kubeconfig has one context.
        upstream.env.remove("K8S_CONTEXT");
    }
    let gateway = start(config);
    gateway.check_workflows().await.unwrap();
    let g = ToolClient::in_process(gateway, Duration::from_secs(20)).await;
    let health = g.ok("health", json!({})).await;
    assert!(health.starts_with("6 of 6 upstreams up"), "{health}");
    assert!(
        !health.contains("EXPECTED"),
        "every expected tool count holds: {health}"
    );
    let number = page(
        &sandbox,
        "gateway-example",
        "[FIRING:1] ContainerOOMKilled shop (worker)",
    )
    .await;
    let report = g
        .ok("incident_oncall", json!({ "incident": number.to_string() }))
        .await;
    assert!(
        report.starts_with("incident_oncall: 3 steps answered"),
        "{report}"
    );
    assert!(
        report.contains("L1 ") && report.contains("worker-"),
        "{report}"
    );
    // Prometheus is at a closed port: the example's fallback answers pod_resources.
    let memory = g.ok("pod_resources", json!({ "namespace": "shop" })).await;
    assert!(memory.starts_with("[pod_resources failed ("), "{memory}");
}
