//! What the gateway's test binaries share: an upstreams file for the real server binaries
//! pointed at the sandbox world, and an in-process gateway over it.

// Each test binary uses part of this.
#![allow(dead_code)]

use std::{path::Path, time::Duration};

use opsmcp_e2e::{TempDir, binary, docs, mcp::ToolClient};
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
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let env = env
        .iter()
        .map(|(k, v)| format!("{k} = {v:?}"))
        .collect::<Vec<_>>()
        .join(", ");
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

/// The upstreams' shared audit log.
pub fn audit_log(dir: &Path) -> std::path::PathBuf {
    dir.join("audit.jsonl")
}

/// The sandbox world, the gateway over all six servers in process, and a client of it.
pub async fn gateway(prefix: &str) -> (ToolClient, GatewayServer, Sandbox, TempDir) {
    let sandbox = Sandbox::incident().await.unwrap();
    let dir = TempDir::new(prefix).unwrap();
    let specs = config::parse(&upstreams(&sandbox, dir.path(), docs::SERVERS, &[])).unwrap();
    let server = GatewayServer::start(specs);
    let client = ToolClient::in_process(server.clone(), Duration::from_secs(20)).await;
    (client, server, sandbox, dir)
}
