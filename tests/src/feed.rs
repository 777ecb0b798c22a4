//! Feeding the sandbox as its real clients do: a page through PagerDuty's Events API (as
//! Alertmanager sends it) and log lines pushed to Loki's push API (as Promtail does).

use opsmcp_sandbox::{Sandbox, scenario::WORKER_ROUTING_KEY};
use serde_json::{Value, json};

/// The Events API trigger Alertmanager sends for the worker's OOM kill.
pub fn trigger_event(dedup_key: &str, summary: &str) -> Value {
    json!({ "routing_key": WORKER_ROUTING_KEY, "event_action": "trigger", "dedup_key": dedup_key,
        "client": "Alertmanager",
        "payload": { "summary": summary, "source": "Alertmanager", "severity": "error",
            "custom_details": { "firing": "Labels:\n - alertname = ContainerOOMKilled\n - namespace = shop\n - pod = worker-7d9f8b6c4-x2x7k\nAnnotations:\n - summary = worker was OOM-killed at its 64Mi limit\n", "num_firing": "1", "num_resolved": "0", "resolved": "" } } })
}

/// Page the worker's service through the Events API as Alertmanager would; the incident's
/// number.
pub async fn page(sandbox: &Sandbox, dedup_key: &str, summary: &str) -> u64 {
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(sandbox.ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let r = http
        .post(format!("{}/v2/enqueue", sandbox.pagerduty_url()))
        .json(&trigger_event(dedup_key, summary))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let account = sandbox.pagerduty.account();
    account
        .incidents
        .iter()
        .find(|i| i.incident_key == dedup_key)
        .unwrap()
        .number
}

/// Push `lines` (stamped now, a microsecond apart) to the stream `labels` of Loki at `url`.
pub async fn push(url: &str, tenant: Option<&str>, labels: Value, lines: &[&str]) {
    let now = jiff::Timestamp::now().as_nanosecond();
    let values: Vec<Value> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| json!([(now + i as i128 * 1000).to_string(), l]))
        .collect();
    let mut request = reqwest::Client::new()
        .post(format!("{url}/loki/api/v1/push"))
        .json(&json!({ "streams": [{ "stream": labels, "values": values }] }));
    if let Some(t) = tenant {
        request = request.header("X-Scope-OrgID", t);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 204, "{:?}", response.text().await);
}
