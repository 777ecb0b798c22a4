//! What the gateway's test binaries share: an upstreams file for the real server binaries
//! pointed at the sandbox world, and an in-process gateway over it.

// Each test binary uses part of this.
#![allow(dead_code)]

use std::{path::Path, time::Duration};

use opsmcp_core::metrics::Metrics;
use opsmcp_e2e::{TempDir, binary, docs, mcp::ToolClient, python_script};
use opsmcp_gateway::{GatewayServer, config};
use opsmcp_sandbox::Sandbox;

/// The upstreams file for `servers` (as `docs::SERVERS` names them), pointed at `sandbox`
/// with `extra` variables (Prometheus and Alertmanager at a closed port: their tools list,
/// their calls fail), all writing one audit log in `dir`.
pub fn upstreams(
    sandbox: &Sandbox,
    dir: &Path,
    servers: &[&str],
    extra: &[(&str, &str)],
) -> String {
    let env = environment(sandbox, dir, extra);
    servers
        .iter()
        .map(|s| {
            format!(
                "[[upstream]]\nname = {s:?}\ncommand = {:?}\nenv = {{ {env} }}\n",
                binary(&format!("opsmcp-{s}")).display().to_string()
            )
        })
        .collect()
}

/// The servers' variables for `sandbox` plus `extra`, as an inline TOML table's contents.
pub fn environment(sandbox: &Sandbox, dir: &Path, extra: &[(&str, &str)]) -> String {
    variables(sandbox, dir, extra)
        .iter()
        .map(|(k, v)| format!("{k} = {v:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The servers' variables for `sandbox`, `extra` in place of any of the same name (the
/// kubeconfig and CA written to `dir`).
pub fn variables(sandbox: &Sandbox, dir: &Path, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(&kubeconfig, sandbox.kubeconfig()).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &sandbox.ca_pem).unwrap();
    let mut env: Vec<(String, String)> = sandbox
        .environment(&kubeconfig, &ca)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    env.push((
        "OPSMCP_AUDIT_LOG".into(),
        audit_log(dir).display().to_string(),
    ));
    env.push(("PROMETHEUS_URL".into(), "http://127.0.0.1:9".into()));
    env.push(("ALERTMANAGER_URL".into(), "http://127.0.0.1:9".into()));
    env.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    env
}

/// The upstreams' shared audit log.
pub fn audit_log(dir: &Path) -> std::path::PathBuf {
    dir.join("audit.jsonl")
}

/// The gateway `config` describes, in process.
pub fn start(config: config::Config) -> GatewayServer {
    GatewayServer::start(config, Metrics::new(opsmcp_core::identity!()))
}

/// The sandbox world, the gateway over all six servers in process (`more` added to its
/// configuration), and a client of it.
pub async fn gateway(prefix: &str, more: &str) -> (ToolClient, GatewayServer, Sandbox, TempDir) {
    let sandbox = Sandbox::incident().await.unwrap();
    let dir = TempDir::new(prefix).unwrap();
    let text = upstreams(&sandbox, dir.path(), docs::SERVERS, &[]) + more;
    let config = config::parse(&text).unwrap();
    let server = start(config);
    let client = ToolClient::in_process(server.clone(), Duration::from_secs(20)).await;
    (client, server, sandbox, dir)
}

/// Call `tool` with `arguments` through the gateway binary over stdio (`file` its upstreams,
/// `audit` its audit log) from the Python SDK's client of `tests/python/approval.py`, speaking
/// `protocol` (`legacy` or `2026-07-28`) and answering the approval question `answer`: the
/// script's report (`text`, `is_error`, `asked`).
pub async fn python_approval(
    protocol: &str,
    answer: &str,
    tool: &str,
    arguments: &serde_json::Value,
    file: &Path,
    audit: &Path,
) -> serde_json::Value {
    let argv: Vec<String> = vec![
        "stdio".into(),
        protocol.into(),
        answer.into(),
        "--tool".into(),
        tool.into(),
        "--arguments".into(),
        arguments.to_string(),
        "--".into(),
        binary("opsmcp-gateway").display().to_string(),
        "--upstreams".into(),
        file.display().to_string(),
        "--audit-log".into(),
        audit.display().to_string(),
    ];
    tokio::task::spawn_blocking(move || {
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        python_script("approval.py", &argv)
    })
    .await
    .unwrap()
    .unwrap()
}
