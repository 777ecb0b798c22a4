//! `--with-pagerduty`: the sandbox's PagerDuty stand-in with the drill's OOM incident (paged as
//! Alertmanager pages it, two notes) and 100 more open incidents; the response tokens of
//! `incident_get` against the raw JSON of the API calls it makes, and of a 100-incident
//! `incidents_list` against `GET /incidents?limit=100`.

use anyhow::{Context, Result};
use opsmcp_sandbox::Sandbox;
use serde_json::{Value, json};

use opsmcp_e2e::TempDir;

use crate::{Args, StdioServer, Task};

use opsmcp_sandbox::scenario::WORKER_ROUTING_KEY as WORKER_KEY;
const ACCEPT: &str = "application/vnd.pagerduty+json;version=2";

pub struct Running {
    sandbox: Sandbox,
    dir: TempDir,
    http: reqwest::Client,
    /// The OOM incident's id.
    incident: String,
}

pub async fn start() -> Result<Running> {
    let sandbox = Sandbox::incident().await?;
    let dir = TempDir::new("opsmcp-bench-pagerduty")?;
    std::fs::write(dir.path().join("ca.pem"), &sandbox.ca_pem)?;
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(sandbox.ca_pem.as_bytes())?)
        .build()?;
    let enqueue = format!("{}/v2/enqueue", sandbox.pagerduty_url());
    let page = |key: String, summary: String, details: Value| {
        let http = http.clone();
        let enqueue = enqueue.clone();
        async move {
            http.post(enqueue)
                .json(&json!({ "routing_key": WORKER_KEY, "event_action": "trigger", "dedup_key": key,
                    "client": "Alertmanager", "client_url": "http://alertmanager.shop.example/#/alerts?receiver=pagerduty-worker",
                    "payload": { "summary": summary, "source": "Alertmanager", "severity": "error", "custom_details": details } }))
                .send()
                .await?
                .error_for_status()
        }
    };
    // What Alertmanager 0.25 sends for the worker's OOM kill.
    let firing = "Labels:\n - alertname = ContainerOOMKilled\n - container = worker\n - namespace = shop\n - pod = worker-7d9f8b6c4-x2x7k\n - severity = critical\nAnnotations:\n - description = Container worker in shop/worker-7d9f8b6c4-x2x7k was OOM-killed (limit 64Mi); it has restarted 4 times in the last hour.\n - summary = worker was OOM-killed at its memory limit\nSource: http://prometheus.shop.example/graph?g0.expr=increase%28kube_pod_container_status_restarts_total%5B10m%5D%29+%3E+0\n";
    page(
        "b8e3c1d2a4f5e6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1".into(),
        "[FIRING:1] ContainerOOMKilled shop (worker worker worker-7d9f8b6c4-x2x7k critical)".into(),
        json!({ "firing": firing, "num_firing": "1", "num_resolved": "0", "resolved": "" }),
    )
    .await?;
    let incident = sandbox
        .pagerduty
        .account()
        .incidents
        .last()
        .context("the page opened an incident")?
        .id
        .clone();
    for note in [
        "worker OOM-killed at its 64Mi limit again; memory climbs ~1 MiB every 2 minutes after start",
        "Same pattern as the incident three weeks ago: the batch cache keeps every chunk. Raising the limit to 256Mi while the fix PR is reviewed.",
    ] {
        http.post(format!(
            "{}/incidents/{incident}/notes",
            sandbox.pagerduty_url()
        ))
        .header(
            "authorization",
            format!("Token token={}", sandbox.pagerduty.tokens.account),
        )
        .header("accept", ACCEPT)
        .header("from", "maya.chen@shop.example")
        .json(&json!({ "note": { "content": note } }))
        .send()
        .await?
        .error_for_status()?;
    }
    for n in 0..100 {
        page(
            format!("bench-{n}"),
            format!("[FIRING:1] QueueBacklogHigh shop (worker queue-{n} warning)"),
            json!({ "firing": format!("Labels:\n - alertname = QueueBacklogHigh\n - queue = queue-{n}\n"), "num_firing": "1" }),
        )
        .await?;
    }
    Ok(Running {
        sandbox,
        dir,
        http,
        incident,
    })
}

impl Running {
    pub fn server_args(&self) -> Vec<String> {
        vec![
            "--pagerduty-api-host".into(),
            self.sandbox.pagerduty_url(),
            "--pagerduty-ca-file".into(),
            self.dir.path().join("ca.pem").display().to_string(),
            "--pagerduty-api-key".into(),
            self.sandbox.pagerduty.tokens.user.0.clone(),
            "--pagerduty-user-email".into(),
            "maya.chen@shop.example".into(),
            "--audit-log".into(),
            self.dir.path().join("audit.jsonl").display().to_string(),
        ]
    }

    async fn raw(&self, path: &str) -> Result<String> {
        Ok(self
            .http
            .get(format!("{}/{path}", self.sandbox.pagerduty_url()))
            .header(
                "authorization",
                format!("Token token={}", self.sandbox.pagerduty.tokens.account),
            )
            .header("accept", ACCEPT)
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?)
    }

    pub async fn tasks(&self, args: &Args) -> Result<Vec<Task>> {
        let id = &self.incident;
        let mut raw_incident = String::new();
        for path in [
            format!("incidents/{id}"),
            format!("incidents/{id}/alerts?limit=20"),
            format!("incidents/{id}/notes"),
            format!("incidents/{id}/log_entries?is_overview=true&limit=30"),
            format!("incidents/{id}/related_change_events"),
            format!("incidents/{id}/past_incidents?limit=3"),
        ] {
            raw_incident.push_str(&self.raw(&path).await?);
        }
        let raw_list = self
            .raw("incidents?limit=100&statuses[]=triggered&statuses[]=acknowledged")
            .await?;
        let (one, list) = {
            let mut server = StdioServer::initialized(args)?;
            (
                server.call_text(1, "incident_get", json!({ "id": id }))?,
                server.call_text(2, "incidents_list", json!({ "limit": 100 }))?,
            )
        };
        if let Ok(dir) = std::env::var("OPSMCP_BENCH_DUMP") {
            std::fs::write(format!("{dir}/incident_get.txt"), &one)?;
            std::fs::write(format!("{dir}/incidents_list.txt"), &list)?;
        }
        anyhow::ensure!(
            one.contains("ContainerOOMKilled") && one.contains("notes (2)"),
            "incident_get did not read the OOM incident:\n{one}"
        );
        anyhow::ensure!(
            list.lines().count() >= 101,
            "incidents_list did not list 100 incidents:\n{}",
            list.chars().take(400).collect::<String>()
        );
        let bpe = tiktoken_rs::cl100k_base()?;
        let count = |t: &str| bpe.encode_with_special_tokens(t).len();
        let task = |name: &str, text: &str, raw: &str, what: &str, target: usize| Task {
            name: name.into(),
            tokens: count(text),
            raw_tokens: count(raw),
            raw: what.into(),
            ratio: count(text) as f64 / count(raw) as f64,
            target_tokens: target,
        };
        Ok(vec![
            task(
                "incident_get, the drill's OOM incident",
                &one,
                &raw_incident,
                "the same six REST calls' JSON",
                700,
            ),
            task(
                "incidents_list, 100 incidents",
                &list,
                &raw_list,
                "GET /incidents?limit=100",
                3000,
            ),
        ])
    }
}
