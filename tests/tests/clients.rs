//! Real third-party MCP clients against the conformance fixture: the official conformance suite,
//! the Python SDK (stdio, streamable HTTP, legacy SSE; directly and through nginx) and the MCP
//! Inspector CLI. The tools come from `scripts/setup.sh`; a missing one fails the test with the
//! install step.

use std::time::Duration;

use anyhow::{Context, Result};
use opsmcp_e2e::{HttpServer, Nginx, binary, command, conformance_suite, node, python_script, run};
use serde_json::Value;

const FIXTURE: &str = "opsmcp-fixture";

/// Run `tests/python/client.py` and return its JSON report.
fn python_client(args: &[&str]) -> Result<Value> {
    python_script("client.py", args)
}

fn check_python_report(report: &Value, transport: &str) {
    assert_eq!(report["transport"], transport);
    assert_eq!(report["server"], "opsmcp-fixture", "{report}");
    assert!(
        report["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "echo"),
        "{report}"
    );
    assert_eq!(report["echo"], "hello from python", "{report}");
    assert_eq!(report["echo_is_error"], false);
    assert_eq!(report["tool_error_flagged"], true, "{report}");
    let elicitation = report["elicitation"].as_str().unwrap();
    assert!(
        elicitation.contains("action=accept") && elicitation.contains("oncall@example.com"),
        "{report}"
    );
    assert_eq!(
        report["resource"],
        "This is the content of the static text resource."
    );
}

#[test]
fn python_sdk_over_stdio() -> Result<()> {
    let bin = binary(FIXTURE);
    let report = python_client(&["stdio", bin.to_str().unwrap()])?;
    check_python_report(&report, "stdio");
    Ok(())
}

#[test]
fn python_sdk_over_streamable_http_and_legacy_sse() -> Result<()> {
    let server = HttpServer::start(FIXTURE, &["--http-token", "py-token"])?;
    let report = python_client(&["http", &server.url("/mcp"), "--token", "py-token"])?;
    check_python_report(&report, "http");
    let report = python_client(&["sse", &server.url("/sse"), "--token", "py-token"])?;
    check_python_report(&report, "sse");
    Ok(())
}

#[test]
fn python_sdk_through_nginx() -> Result<()> {
    let server = HttpServer::start(FIXTURE, &[])?;
    let nginx = Nginx::start(server.addr)?;
    let report = python_client(&["http", &nginx.url("/mcp")])?;
    check_python_report(&report, "http");
    // The legacy stream stays open through the proxy and its endpoint resolves through it.
    let report = python_client(&["sse", &nginx.url("/sse")])?;
    check_python_report(&report, "sse");
    Ok(())
}

/// Run the official conformance suite's required server scenarios for `revision`.
fn conformance(revision: &str, url: &str) -> Result<String> {
    let (ok, stdout, stderr) = conformance_suite(revision, url)?;
    let summary: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with('✗') || l.starts_with("Total"))
        .collect();
    assert!(
        ok,
        "conformance {revision} failed:\n{}\n{stderr}",
        summary.join("\n")
    );
    Ok(stdout)
}

#[test]
fn conformance_suite_2025_11_25() -> Result<()> {
    let server = HttpServer::start(FIXTURE, &[])?;
    let stdout = conformance("2025-11-25", &server.url("/mcp"))?;
    assert!(stdout.contains(" 0 failed"), "{stdout}");
    Ok(())
}

#[test]
fn conformance_suite_2026_07_28() -> Result<()> {
    let server = HttpServer::start(FIXTURE, &[])?;
    let stdout = conformance("2026-07-28", &server.url("/mcp"))?;
    // Every scored scenario passed (the exit status says so); the line below lists each one.
    assert!(
        stdout.contains("input-required-result-tampered-state"),
        "{stdout}"
    );
    Ok(())
}

#[test]
fn inspector_cli_lists_and_calls() -> Result<()> {
    let (node, modules) = node()?;
    let inspector = modules.join(".bin/mcp-inspector");
    let server = HttpServer::start(FIXTURE, &[])?;
    let bin = binary(FIXTURE);
    let targets: Vec<Vec<String>> = vec![
        vec![server.url("/mcp")],
        vec![server.url("/sse"), "--transport".into(), "sse".into()],
        vec![bin.to_str().unwrap().to_owned()],
    ];
    for target in targets {
        let mut cmd = command(&node);
        cmd.arg(&inspector)
            .arg("--cli")
            .args(&target)
            .args(["--method", "tools/list"]);
        let (ok, stdout, stderr) = run(cmd, Duration::from_secs(90))?;
        assert!(ok, "inspector {target:?}: {stderr}");
        let listed: Value = serde_json::from_str(&stdout).with_context(|| stdout.clone())?;
        assert!(
            listed["tools"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["name"] == "echo"),
            "{target:?}"
        );

        let mut cmd = command(&node);
        cmd.arg(&inspector).arg("--cli").args(&target).args([
            "--method",
            "tools/call",
            "--tool-name",
            "echo",
            "--tool-arg",
            "text=from inspector",
        ]);
        let (ok, stdout, stderr) = run(cmd, Duration::from_secs(90))?;
        assert!(ok, "inspector {target:?}: {stderr}");
        let called: Value = serde_json::from_str(&stdout).with_context(|| stdout.clone())?;
        assert_eq!(called["content"][0]["text"], "from inspector", "{target:?}");
    }
    Ok(())
}

/// The protocol-level scenarios of the conformance suite against a real server binary (the
/// tool scenarios need the fixture's tools; these need none).
#[test]
fn conformance_protocol_scenarios_against_opsmcp_prometheus() -> Result<()> {
    protocol_scenarios(
        "opsmcp-prometheus",
        ("PROMETHEUS_URL", "http://127.0.0.1:1"),
    )
}

#[test]
fn conformance_protocol_scenarios_against_opsmcp_loki() -> Result<()> {
    protocol_scenarios("opsmcp-loki", ("LOKI_URL", "http://127.0.0.1:1"))
}

/// The scenarios that need no tools, against `package` served over HTTP (its backend
/// unreachable: nothing here asks it).
fn protocol_scenarios(package: &str, backend: (&str, &str)) -> Result<()> {
    let server = HttpServer::start_with_env(package, &[], &[backend])?;
    let (node, modules) = node()?;
    for (version, scenario) in [
        ("2025-11-25", "server-initialize"),
        ("2025-11-25", "ping"),
        ("2025-11-25", "tools-list"),
        ("2025-11-25", "dns-rebinding-protection"),
        ("2026-07-28", "tools-list"),
        ("2026-07-28", "dns-rebinding-protection"),
    ] {
        let mut cmd = command(&node);
        cmd.arg(modules.join("@modelcontextprotocol/conformance/dist/index.js"))
            .args([
                "server",
                "--url",
                &server.url("/mcp"),
                "--scenario",
                scenario,
                "--spec-version",
                version,
            ]);
        let (ok, stdout, stderr) = run(cmd, Duration::from_secs(120))?;
        assert!(
            ok && stdout.contains(" 0 failed"),
            "{scenario} ({version}):\n{stdout}\n{stderr}"
        );
    }
    Ok(())
}

/// The Inspector CLI drives opsmcp-loki, spawned over stdio and served over HTTP, against the
/// sandbox's Loki: a text search and the error patterns of the incident.
#[test]
fn inspector_cli_searches_loki_logs() -> Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let scenario = opsmcp_sandbox::scenario::Scenario::parse(opsmcp_sandbox::scenario::INCIDENT)
        .map_err(anyhow::Error::msg)?;
    let sandbox = runtime.block_on(opsmcp_sandbox::Sandbox::start_with(
        "127.0.0.1:0".parse()?,
        Some(&scenario),
    ))?;
    let dir = opsmcp_e2e::TempDir::new("inspector-loki")?;
    let audit = dir.path().join("audit.jsonl").display().to_string();
    let (node, modules) = node()?;
    let inspector = modules.join(".bin/mcp-inspector");
    let server = HttpServer::start_with_env(
        "opsmcp-loki",
        &[],
        &[("LOKI_URL", &sandbox.url()), ("OPSMCP_AUDIT_LOG", &audit)],
    )?;
    let bin = binary("opsmcp-loki");
    let stdio: Vec<String> = vec![
        bin.display().to_string(),
        "-e".into(),
        format!("LOKI_URL={}", sandbox.url()),
        "-e".into(),
        format!("OPSMCP_AUDIT_LOG={audit}"),
    ];
    for target in [stdio, vec![server.url("/mcp")]] {
        let mut cmd = command(&node);
        cmd.arg(&inspector).arg("--cli").args(&target).args([
            "--method",
            "tools/call",
            "--tool-name",
            "logs_search",
            "--tool-arg",
            "service=checkout",
            "--tool-arg",
            "text=payment authorization failed",
            "--tool-arg",
            "limit=3",
        ]);
        let (ok, stdout, stderr) = run(cmd, Duration::from_secs(90))?;
        assert!(ok, "inspector {target:?}: {stderr}");
        let called: Value = serde_json::from_str(&stdout).with_context(|| stdout.clone())?;
        let text = called["content"][0]["text"].as_str().unwrap_or_default();
        assert!(
            text.starts_with("query: {app=\"checkout\"} |= \"payment authorization failed\"")
                && text.contains("3 lines returned"),
            "{target:?}: {text}"
        );
        let mut cmd = command(&node);
        cmd.arg(&inspector).arg("--cli").args(&target).args([
            "--method",
            "tools/call",
            "--tool-name",
            "logs_patterns",
            "--tool-arg",
            "service=checkout",
        ]);
        let (ok, stdout, stderr) = run(cmd, Duration::from_secs(90))?;
        assert!(ok, "inspector {target:?}: {stderr}");
        assert!(
            stdout.contains("payment authorization failed"),
            "{target:?}: {stdout}"
        );
    }
    drop(sandbox);
    Ok(())
}
