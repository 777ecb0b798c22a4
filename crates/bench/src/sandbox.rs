//! `--with-sandbox`: the sandbox cluster with the incident scenario plus a 300-pod `fleet`
//! deployment, and the response tokens of `pods_list` and `pod_describe` against what
//! `kubectl get pods -o json` and `kubectl describe pod` print for the same thing.

use std::{
    path::PathBuf,
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use opsmcp_sandbox::{
    Sandbox,
    scenario::{INCIDENT, Scenario},
};
use serde_json::{Value, json};

use opsmcp_e2e::TempDir;

use crate::{Args, StdioServer, Task};

pub struct Running {
    _sandbox: Sandbox,
    dir: TempDir,
    kubeconfig: PathBuf,
}

pub async fn start() -> Result<Running> {
    let mut scenario: Value = serde_json::from_str(INCIDENT)?;
    let objects = scenario["objects"]
        .as_array_mut()
        .context("the scenario has objects")?;
    objects
        .push(json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": "fleet" } }));
    objects.push(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": { "name": "edge", "namespace": "fleet", "labels": { "app": "edge" } },
        "spec": { "replicas": 300, "selector": { "matchLabels": { "app": "edge" } },
            "template": { "metadata": { "labels": { "app": "edge" } },
                "spec": { "containers": [{ "name": "edge", "image": "shop/edge:1.0.0",
                    "resources": { "requests": { "cpu": "10m", "memory": "16Mi" }, "limits": { "memory": "64Mi" } } }] } } }
    }));
    let scenario = Scenario::parse(&scenario.to_string()).map_err(anyhow::Error::msg)?;
    let sandbox = Sandbox::start_with("127.0.0.1:0".parse()?, Some(&scenario)).await?;
    let dir = TempDir::new("opsmcp-bench-sandbox")?;
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, sandbox.kubeconfig())?;
    // Wait for the fleet to run and the worker to have been OOM-killed once.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pods = sandbox.cluster.listed(
            opsmcp_sandbox::kube::resources::find("", "v1", "pods").unwrap(),
            None,
        );
        let running = pods
            .iter()
            .filter(|p| p["metadata"]["namespace"] == "fleet" && p["status"]["phase"] == "Running")
            .count();
        let oom = pods.iter().any(|p| {
            p.pointer("/status/containerStatuses/0/lastState/terminated/reason")
                == Some(&json!("OOMKilled"))
        });
        if running == 300 && oom {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the sandbox did not settle: {running}/300 running, OOM seen: {oom}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(Running {
        _sandbox: sandbox,
        dir,
        kubeconfig,
    })
}

impl Running {
    pub fn server_args(&self) -> Vec<String> {
        vec![
            "--kubeconfig".into(),
            self.kubeconfig.display().to_string(),
            "--audit-log".into(),
            self.dir.path().join("audit.jsonl").display().to_string(),
        ]
    }

    fn kubectl(&self, args: &[&str]) -> Result<String> {
        let out = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.dir.path().join("kubectl-cache"))
            .args(args)
            .output()
            .context("kubectl is needed for the comparison")?;
        anyhow::ensure!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8(out.stdout)?)
    }

    pub fn tasks(&self, args: &Args) -> Result<Vec<Task>> {
        let mut server = StdioServer::initialized(args)?;
        let mut call =
            |id: u64, name: &str, arguments: Value| server.call_text(id, name, arguments);
        let bpe = tiktoken_rs::cl100k_base()?;
        let count = |t: &str| bpe.encode_with_special_tokens(t).len();
        let list = call(1, "pods_list", json!({ "namespace": "fleet" }))?;
        let raw_list = self.kubectl(&["get", "pods", "-n", "fleet", "-o", "json"])?;
        let worker = self
            .kubectl(&[
                "get",
                "pods",
                "-n",
                "shop",
                "-l",
                "app=worker",
                "-o",
                "name",
            ])?
            .trim()
            .trim_start_matches("pod/")
            .to_owned();
        let describe = call(
            2,
            "pod_describe",
            json!({ "name": worker, "namespace": "shop" }),
        )?;
        let raw_describe = self.kubectl(&["describe", "pod", &worker, "-n", "shop"])?;
        Ok(vec![
            Task {
                name: "pods_list, 300 pods (default page)".into(),
                tokens: count(&list),
                raw_tokens: count(&raw_list),
                raw: "`kubectl get pods -o json`".into(),
                ratio: count(&list) as f64 / count(&raw_list) as f64,
                target_tokens: 4000,
            },
            Task {
                name: "pod_describe, the OOM-killed worker".into(),
                tokens: count(&describe),
                raw_tokens: count(&raw_describe),
                raw: "`kubectl describe pod`".into(),
                ratio: count(&describe) as f64 / count(&raw_describe) as f64,
                target_tokens: 600,
            },
        ])
    }
}
