//! The sandbox's PagerDuty stand-in, proven by the clients that use the real one: PagerDuty's
//! official Python client (`pagerduty`, HTTPS with the sandbox's CA) and Debian's Alertmanager
//! paging it through Events API v2.

use std::time::Duration;

use anyhow::{Context, Result};
use opsmcp_e2e::{
    TempDir,
    prometheus::{Alertmanager, paging_config},
    python_script,
};
use opsmcp_sandbox::{
    Sandbox,
    pagerduty::model::{Agent, Status},
    scenario::{INCIDENT, Scenario},
};
use serde_json::{Value, json};

use opsmcp_sandbox::scenario::WORKER_ROUTING_KEY;

async fn sandbox() -> Result<Sandbox> {
    let scenario = Scenario::parse(INCIDENT).map_err(anyhow::Error::msg)?;
    Ok(Sandbox::start_with("127.0.0.1:0".parse()?, Some(&scenario)).await?)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_official_python_client_drives_the_stand_in() -> Result<()> {
    let sandbox = sandbox().await?;
    let dir = TempDir::new("pagerduty-client")?;
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &sandbox.ca_pem)?;
    let args = [
        sandbox.pagerduty_url(),
        ca.display().to_string(),
        sandbox.pagerduty.tokens.user.0.clone(),
        sandbox.pagerduty_user.1.clone(),
        WORKER_ROUTING_KEY.to_owned(),
    ];
    let report = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        python_script("pagerduty_client.py", &args)
    })
    .await??;
    assert_eq!(report["ok"], true, "{report:#}");
    Ok(())
}

/// Post an alert to Alertmanager's API as Prometheus would (`ends_at` set: resolved).
async fn post_alert(am: &str, ends_at: Option<jiff::Timestamp>) -> Result<()> {
    let mut alert = json!({
        "labels": {
            "alertname": "ContainerOOMKilled", "namespace": "shop", "app": "worker",
            "pod": "worker-7d9f8b6c4-x2x7k", "container": "worker", "severity": "critical",
        },
        "annotations": { "summary": "worker was OOM-killed at its 64Mi memory limit" },
        "generatorURL": "http://prometheus.example/graph",
    });
    if let Some(t) = ends_at {
        alert["endsAt"] = json!(t.to_string());
    }
    let status = reqwest::Client::new()
        .post(format!("{am}/api/v2/alerts"))
        .json(&json!([alert]))
        .send()
        .await?
        .status();
    anyhow::ensure!(
        status.is_success(),
        "Alertmanager refused the alert: {status}"
    );
    Ok(())
}

/// Wait (bounded) until `probe` finds something in the account.
async fn eventually<T>(
    sandbox: &Sandbox,
    what: &str,
    probe: impl Fn(&opsmcp_sandbox::pagerduty::model::Account) -> Option<T>,
) -> Result<T> {
    for _ in 0..150 {
        if let Some(found) = probe(&sandbox.pagerduty.account()) {
            return Ok(found);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    anyhow::bail!("{what} did not happen within 30 s")
}

#[tokio::test(flavor = "multi_thread")]
async fn alertmanager_pages_it_and_the_resolve_closes_the_incident() -> Result<()> {
    let sandbox = sandbox().await?;
    let dir = TempDir::new("pagerduty-alertmanager")?;
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &sandbox.ca_pem)?;
    let config = paging_config(
        &["app=\"worker\""],
        WORKER_ROUTING_KEY,
        &format!("{}/v2/enqueue", sandbox.pagerduty_url()),
        &ca,
    );
    let am = tokio::task::spawn_blocking(move || Alertmanager::start(&config)).await??;

    post_alert(&am.url, None).await?;
    let (id, number) = eventually(&sandbox, "the page", |a| {
        a.incidents
            .iter()
            .find(|i| i.title.contains("ContainerOOMKilled") && i.status == Status::Triggered)
            .map(|i| (i.id.clone(), i.number))
    })
    .await?;
    {
        let account = sandbox.pagerduty.account();
        let incident = account.incident(&id).context("the incident")?;
        assert_eq!(incident.service, "PSWORKR", "the worker's service");
        // Alertmanager's subject: the group's common labels after the alert's name.
        assert_eq!(
            incident.title,
            "[FIRING:1] ContainerOOMKilled shop (worker worker worker-7d9f8b6c4-x2x7k critical)"
        );
        assert_eq!(
            incident
                .assignments
                .iter()
                .map(|(_, u)| u.as_str())
                .collect::<Vec<_>>(),
            ["PMAYA01"],
            "paged the Platform on-call"
        );
        let alert = account
            .alerts
            .iter()
            .find(|a| a.incident == id)
            .context("its alert")?;
        // What Alertmanager 0.25 sends: severity "error", string custom details, its client.
        assert_eq!(alert.severity, "error");
        assert_eq!(alert.custom_details["num_firing"], Value::from("1"));
        assert!(
            alert.custom_details["firing"]
                .as_str()
                .unwrap_or_default()
                .contains("pod = worker-7d9f8b6c4-x2x7k")
        );
        assert_eq!(
            alert.client.as_ref().map(|c| c.0.as_str()),
            Some("Alertmanager")
        );
        assert_eq!(alert.dedup_key.len(), 64, "the group key's SHA-256");
    }

    post_alert(&am.url, Some(jiff::Timestamp::now())).await?;
    eventually(&sandbox, "the resolve", |a| {
        a.incident(&id)
            .filter(|i| i.status == Status::Resolved)
            .map(|_| ())
    })
    .await?;
    let account = sandbox.pagerduty.account();
    let incident = account.incident(&id).unwrap();
    assert_eq!(
        incident.last_status_change_by,
        Agent::Integration {
            service: "PSWORKR".into()
        },
        "resolved by the integration, not a person"
    );
    assert!(
        account
            .alerts
            .iter()
            .filter(|a| a.incident == id)
            .all(|a| a.status == Status::Resolved)
    );
    let kinds: Vec<&str> = account
        .log_entries
        .iter()
        .filter(|e| e.incident == id)
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        ["trigger", "notify", "resolve"],
        "incident #{number}"
    );
    Ok(())
}
