//! `opsmcp-drill`: the incident drill of the README. Starts the sandbox cluster with the
//! incident scenario and a real Prometheus and Alertmanager scraping it, spawns the real
//! server binaries over stdio the way a desktop host does, and plays the incident: the firing
//! alert, the OOM-killed worker, its events, logs and memory ramp; its history in Loki (the
//! allocations before each OOM kill, the kernel's kill lines) and checkout's error patterns;
//! a plan of the memory-limit
//! increase with its dry-run diff; the change in yolo mode with confidence, verified; and the
//! audit log with `audit verify`.

use std::process::Stdio;

use anyhow::{Context, Result};
use opsmcp_e2e::{
    TempDir, binary,
    demo::{step, step_once},
    prometheus::Backends,
};
use opsmcp_sandbox::{
    Sandbox,
    scenario::{INCIDENT, Scenario},
};
use rmcp::{
    RoleClient, ServiceExt,
    service::RunningService,
    transport::{ConfigureCommandExt, TokioChildProcess},
};
use serde_json::json;

async fn spawn(package: &str, envs: &[(&str, String)]) -> Result<RunningService<RoleClient, ()>> {
    let server = binary(package);
    let transport =
        TokioChildProcess::new(tokio::process::Command::new(&server).configure(|cmd| {
            for (k, v) in envs {
                cmd.env(k, v);
            }
            cmd.stderr(Stdio::null());
        }))?;
    ().serve(transport)
        .await
        .with_context(|| format!("connecting to {package} over stdio"))
}

#[tokio::main]
async fn main() -> Result<()> {
    println!("Starting the sandbox cluster (scenario: the shop on a bad day)…");
    let scenario = Scenario::parse(INCIDENT).map_err(anyhow::Error::msg)?;
    let sandbox = Sandbox::start_with("127.0.0.1:0".parse()?, Some(&scenario)).await?;
    let dir = TempDir::new("opsmcp-drill")?;
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, sandbox.kubeconfig())?;
    let audit = dir.path().join("audit.jsonl");
    println!(
        "  cluster      {} (kubectl: KUBECONFIG={})",
        sandbox.url(),
        kubeconfig.display()
    );
    println!("Starting Prometheus (scraping the cluster) and Alertmanager…");
    let backends = Backends::start_scraping(&[("sandbox", sandbox.addr.to_string())])?;
    println!("  prometheus   {}", backends.prometheus_url);
    println!("  alertmanager {}", backends.alertmanager_url);

    let common = |mode: &str| {
        vec![
            ("KUBECONFIG", kubeconfig.display().to_string()),
            ("OPSMCP_AUDIT_LOG", audit.display().to_string()),
            ("OPSMCP_MODE", mode.to_owned()),
            (
                "K8S_KUBECTL_CACHE_DIR",
                dir.path().join("kubectl-cache").display().to_string(),
            ),
        ]
    };
    let prometheus = spawn(
        "opsmcp-prometheus",
        &[
            ("PROMETHEUS_URL", backends.prometheus_url.clone()),
            ("ALERTMANAGER_URL", backends.alertmanager_url.clone()),
            ("OPSMCP_AUDIT_LOG", audit.display().to_string()),
        ],
    )
    .await?;
    let loki = spawn(
        "opsmcp-loki",
        &[
            ("LOKI_URL", sandbox.url()),
            ("OPSMCP_AUDIT_LOG", audit.display().to_string()),
        ],
    )
    .await?;
    let planner = spawn("opsmcp-kubernetes", &common("plan")).await?;
    let operator = spawn("opsmcp-kubernetes", &common("yolo")).await?;
    println!(
        "\nConnected over stdio: opsmcp-prometheus, opsmcp-loki (the sandbox's Loki), opsmcp-kubernetes (plan mode) and opsmcp-kubernetes (yolo mode).\n"
    );

    step(
        &prometheus,
        "What is firing?",
        "alerts_list",
        json!({ "state": "firing" }),
        |t| t.contains("ContainerOOMKilled"),
    )
    .await?;
    let errors = step(
        &planner,
        "Which pods are unhealthy?",
        "pods_list",
        json!({ "errors_only": true }),
        |t| t.contains("OOMKilled"),
    )
    .await?;
    let worker = errors
        .lines()
        .find(|l| l.starts_with("worker-"))
        .and_then(|l| l.split_whitespace().next())
        .context("the worker pod is among the unhealthy ones")?
        .to_owned();
    step(
        &planner,
        &format!("Why is {worker} restarting?"),
        "pod_describe",
        json!({ "name": worker }),
        |_| true,
    )
    .await?;
    step(
        &planner,
        "What did it log before it was killed?",
        "pod_logs",
        json!({ "name": worker, "previous": true, "tail": 6 }),
        |_| true,
    )
    .await?;
    step(
        &loki,
        "Its history in Loki: the allocations before an earlier OOM kill:",
        "logs_query",
        json!({ "query": "{app=\"worker\"} |~ \"allocated chunk|heap pressure\"", "start": "2h", "end": "20m", "limit": 6 }),
        |t| t.contains("heap pressure"),
    )
    .await?;
    step(
        &loki,
        "And the kernel's OOM killer on the node, every time:",
        "logs_query",
        json!({ "query": "{job=\"node/kernel\"} |= \"(worker)\"", "start": "6h", "max_line_chars": 90 }),
        |t| t.contains("Killed process"),
    )
    .await?;
    step(
        &loki,
        "Meanwhile, what kinds of errors does checkout log, and how many of each?",
        "logs_patterns",
        json!({ "service": "checkout", "start": "1h" }),
        |t| t.contains("payment authorization failed"),
    )
    .await?;
    step(
        &prometheus,
        "Its memory against the limit, live:",
        "query_range",
        json!({ "query": "max by (pod) (container_memory_working_set_bytes{namespace=\"shop\", container=\"worker\", job=\"sandbox\"})", "start": "now-3m", "mode": "summary" }),
        |t| t.contains("worker-"),
    )
    .await?;
    step(
        &planner,
        "Revision history of the worker:",
        "deployments_list",
        json!({ "name": "worker" }),
        |_| true,
    )
    .await?;
    step_once(
        &planner,
        "Plan: raise the worker's memory limit to 256Mi (nothing runs; dry-run diff):",
        "container_resources_set",
        json!({ "name": "worker", "memory_limit": "256Mi", "memory_request": "128Mi", "confidence": 0.92 }),
    )
    .await?;
    step_once(
        &operator,
        "Execute it (yolo mode, confidence 0.92), verified by the rollout:",
        "container_resources_set",
        json!({ "name": "worker", "memory_limit": "256Mi", "memory_request": "128Mi", "confidence": 0.92 }),
    )
    .await?;
    step(
        &operator,
        "Is the worker healthy now?",
        "pods_list",
        json!({ "label_selector": "app=worker" }),
        |t| t.contains("1/1") && t.contains("Running"),
    )
    .await?;
    step(
        &operator,
        "Its usage against the new limit:",
        "top_pods",
        json!({}),
        |t| t.contains("worker-"),
    )
    .await?;

    println!("== The audit log (opsmcp://audit/recent), one line per decision:");
    let log = std::fs::read_to_string(&audit)?;
    for line in log.lines() {
        let record: serde_json::Value = serde_json::from_str(line)?;
        println!(
            "← {} {:<9} {:<24} {:<7} {}",
            record["server"].as_str().unwrap_or_default(),
            record["decision"].as_str().unwrap_or_default(),
            record["tool"].as_str().unwrap_or_default(),
            record["risk"].as_str().unwrap_or_default(),
            record["outcome"]
                .as_str()
                .unwrap_or_default()
                .chars()
                .take(70)
                .collect::<String>()
        );
    }
    let verify = std::process::Command::new(binary("opsmcp-kubernetes"))
        .args(["audit", "verify"])
        .arg(&audit)
        .output()?;
    println!("\n== opsmcp-kubernetes audit verify");
    println!("← {}", String::from_utf8_lossy(&verify.stdout).trim());
    anyhow::ensure!(verify.status.success(), "the audit log does not verify");

    for client in [prometheus, loki, planner, operator] {
        client.cancel().await?;
    }
    drop(backends);
    drop(sandbox);
    println!("\nDone. The cluster, Prometheus and Alertmanager are stopped.");
    Ok(())
}
