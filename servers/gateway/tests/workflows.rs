//! Workflows through the gateway with the real servers against the sandbox: steps chained by
//! references into structured results, independent steps in parallel, a failed step answered
//! by its fallback or skipped with its dependents, a bad reference refused at start-up with its
//! line, and a write step whose approval reaches the host (the official Python SDK, both
//! protocol eras).

mod common;

use std::time::Duration;

use common::{python_approval, start, upstreams};
use opsmcp_e2e::{TempDir, binary, feed::page, mcp::ToolClient};
use opsmcp_gateway::config;
use opsmcp_sandbox::Sandbox;
use serde_json::json;

const TRIAGE: &str = r#"
[[workflow]]
name = "oncall_triage"
description = "An incident, who is on call for its service, the unhealthy pods and their memory"
input.incident = { type = "string", description = "Incident number or id" }

[[workflow.step]]
id = "incident"
tool = "pagerduty/incident_get"
arguments = { id = "${input.incident}" }

[[workflow.step]]
id = "oncall"
tool = "pagerduty/oncalls_list"
arguments = { service_id = "${steps.incident.service.id}" }

[[workflow.step]]
id = "pods"
tool = "kubernetes/pods_list"
arguments = { namespace = "shop", label_selector = "app=worker" }

[[workflow.step]]
id = "memory"
tool = "prometheus/pod_resources"
arguments = { namespace = "shop" }
on_error = { fallback = "kubernetes/top_pods", arguments = { namespace = "shop" } }

[[workflow.step]]
id = "alerts"
tool = "prometheus/alerts_list"
on_error = "continue"

[[workflow.step]]
id = "first_alert_logs"
tool = "loki/logs_search"
arguments = { service = "${steps.alerts}" }
"#;

const NOTE: &str = r#"
[[workflow]]
name = "incident_note"
description = "Note on an incident, found by its number"
input.incident = { type = "string" }
input.note = { type = "string" }

[[workflow.step]]
id = "incident"
tool = "pagerduty/incident_get"
arguments = { id = "${input.incident}" }

[[workflow.step]]
id = "note"
tool = "pagerduty/incident_note_add"
arguments = { id = "${steps.incident.id}", content = "${input.note}" }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_chains_structured_results_in_parallel_with_fallbacks() {
    let sandbox = Sandbox::incident().await.unwrap();
    let dir = TempDir::new("gateway-workflow").unwrap();
    let servers = ["pagerduty", "kubernetes", "prometheus", "loki"];
    let file = upstreams(&sandbox, dir.path(), &servers, &[]) + TRIAGE;
    let gateway = start(config::parse(&file).unwrap());
    gateway.check_workflows().await.unwrap();
    let g = ToolClient::in_process(gateway.clone(), Duration::from_secs(10)).await;
    let number = page(
        &sandbox,
        "gateway-workflow",
        "[FIRING:1] ContainerOOMKilled shop (worker)",
    )
    .await;

    let tools = g.client.list_all_tools().await.unwrap();
    let triage = tools.iter().find(|t| t.name == "oncall_triage").unwrap();
    let annotations = triage.annotations.as_ref().unwrap();
    assert_eq!(annotations.read_only_hint, Some(true), "every step reads");
    assert_eq!(triage.input_schema["required"], json!(["incident"]));
    // Hosts are not sent the output schemas the gateway asked the upstreams for.
    assert!(tools.iter().all(|t| t.output_schema.is_none()));
    // A strict-schema host can call the workflows too.
    let as_json: Vec<serde_json::Value> = tools
        .iter()
        .map(|t| serde_json::to_value(t).unwrap())
        .collect();
    let problems = opsmcp_e2e::docs::strict_schema_problems(&as_json).unwrap();
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    let report = g
        .ok("oncall_triage", json!({ "incident": number.to_string() }))
        .await;
    assert!(
        report.starts_with("oncall_triage: partial, 1 of 6 steps failed"),
        "{report}"
    );
    let section = |id: &str| {
        let start = report
            .find(&format!("## {id} ("))
            .unwrap_or_else(|| panic!("{id}: {report}"));
        let rest = &report[start..];
        rest[..rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3)].to_owned()
    };
    assert!(
        section("incident").contains(&format!("#{number} [FIRING:1] ContainerOOMKilled")),
        "{report}"
    );
    // The on-call of the incident's service: a reference into incident_get's result.
    assert!(section("oncall").contains("L1 "), "{report}");
    assert!(section("pods").contains("worker-"), "{report}");
    // Prometheus is at a closed port: the fallback answered, and says so.
    let memory = section("memory");
    assert!(
        memory.contains("[prometheus/pod_resources failed (")
            && memory.contains("answered by kubernetes/top_pods]"),
        "{memory}"
    );
    assert!(section("alerts").contains("failed: "), "{report}");
    assert!(
        section("first_alert_logs").contains("skipped: needs alerts, which did not answer"),
        "{report}"
    );

    // Every step went through the pipeline: it is in the history.
    let history = g.ok("history", json!({ "limit": 20 })).await;
    for call in [
        "pagerduty/incident_get",
        "pagerduty/oncalls_list",
        "kubernetes/pods_list",
        "kubernetes/top_pods",
    ] {
        assert!(history.contains(call), "{call} in {history}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reference_to_a_field_the_tool_does_not_return_stops_the_binary_with_its_line() {
    let sandbox = Sandbox::incident().await.unwrap();
    let dir = TempDir::new("gateway-workflow-typo").unwrap();
    let typo = TRIAGE.replace("steps.incident.service.id", "steps.incident.service.idd");
    let file = upstreams(
        &sandbox,
        dir.path(),
        &["pagerduty", "kubernetes", "prometheus", "loki"],
        &[],
    ) + &typo;
    let line = file
        .lines()
        .position(|l| l.contains("service.idd"))
        .unwrap()
        + 1;
    let path = dir.path().join("gateway.toml");
    std::fs::write(&path, &file).unwrap();
    // Its stdin stays open, as a host's would: the gateway exits on its own.
    let mut child = tokio::process::Command::new(binary("opsmcp-gateway"))
        .args(["--upstreams", path.to_str().unwrap(), "--audit-log"])
        .arg(dir.path().join("gateway-audit.jsonl"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let _stdin = child.stdin.take();
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("the gateway exits by itself")
        .unwrap();
    let (ok, stderr) = (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    );
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "opsmcp-gateway: line {line}: workflow oncall_triage, step oncall: `${{steps.incident.service.idd}}`: incident_get's result has no `idd` in `service` (it has id, name)"
        )),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_step_asks_the_host_on_both_protocol_eras() {
    let sandbox = Sandbox::incident().await.unwrap();
    let dir = TempDir::new("gateway-workflow-approval").unwrap();
    let file = dir.path().join("gateway.toml");
    std::fs::write(
        &file,
        upstreams(&sandbox, dir.path(), &["pagerduty"], &[]) + NOTE,
    )
    .unwrap();
    let number = page(
        &sandbox,
        "gateway-workflow-note",
        "[FIRING:1] ContainerOOMKilled shop (worker)",
    )
    .await;
    let audit = dir.path().join("gateway-audit.jsonl");
    for (protocol, answer) in [
        ("legacy", "yes"),
        ("2026-07-28", "yes"),
        ("2026-07-28", "no"),
    ] {
        let note = format!("workflow {protocol} {answer}");
        let args = json!({ "incident": number.to_string(), "note": note });
        let report = python_approval(protocol, answer, "incident_note", &args, &file, &audit).await;
        let said = report["text"].as_str().unwrap();
        assert_eq!(report["asked"].as_array().unwrap().len(), 1, "{report}");
        if answer == "yes" {
            assert!(said.contains(&format!("added to #{number}")), "{report}");
        } else {
            assert!(said.contains("the user answered no"), "{report}");
        }
    }
    let notes: Vec<String> = {
        let account = sandbox.pagerduty.account();
        let incident = account
            .incidents
            .iter()
            .find(|i| i.number == number)
            .unwrap();
        incident.notes.iter().map(|n| n.content.clone()).collect()
    };
    assert_eq!(notes, ["workflow legacy yes", "workflow 2026-07-28 yes"]);
}
