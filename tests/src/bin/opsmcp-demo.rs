//! `opsmcp-demo`: the incident walk-through of the README. Starts a real Prometheus and
//! Alertmanager with six hours of incident history, spawns `opsmcp-prometheus` over stdio the
//! way a desktop host does, and makes the calls an agent would make during the incident,
//! printing each call and a short view of its result.

use anyhow::{Context, Result};
use opsmcp_e2e::{binary, demo::step, prometheus::Backends};
use rmcp::{
    ServiceExt,
    transport::{ConfigureCommandExt, TokioChildProcess},
};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<()> {
    // Built before the backends start: their history is relative to now.
    let server = binary("opsmcp-prometheus");
    println!("Starting Prometheus and Alertmanager with six hours of incident history…");
    let backends = Backends::start()?;
    println!("  prometheus   {}", backends.prometheus_url);
    println!("  alertmanager {}", backends.alertmanager_url);

    let transport =
        TokioChildProcess::new(tokio::process::Command::new(&server).configure(|cmd| {
            cmd.env("PROMETHEUS_URL", &backends.prometheus_url)
                .env("ALERTMANAGER_URL", &backends.alertmanager_url)
                .stderr(std::process::Stdio::null());
        }))?;
    let client = ().serve(transport).await.context("connecting to opsmcp-prometheus over stdio")?;
    let tools = client.list_all_tools().await?;
    println!(
        "\nConnected to opsmcp-prometheus over stdio: {} tools.\n",
        tools.len()
    );

    step(&client, "What is firing?", "alerts_list", json!({}), |t| {
        t.contains("firing")
    })
    .await?;
    step(
        &client,
        "Which alerts reached Alertmanager?",
        "alertmanager_alerts",
        json!({}),
        |t| t.contains("CheckoutErrorBudgetBurn"),
    )
    .await?;
    step(
        &client,
        "The worker's memory over six hours (summarised):",
        "query_range",
        json!({ "query": "container_memory_working_set_bytes{namespace=\"shop\", container=\"worker\"}", "start": "now-6h" }),
        |_| true,
    )
    .await?;
    step(
        &client,
        "Against its requests and limits, with restarts:",
        "pod_resources",
        json!({ "namespace": "shop", "workload": "worker" }),
        |_| true,
    )
    .await?;
    step(
        &client,
        "The checkout error spike:",
        "service_error_ratio",
        json!({ "service": "checkout", "range": "2h" }),
        |_| true,
    )
    .await?;
    step(
        &client,
        "Who is blowing up the series count?",
        "tsdb_status",
        json!({ "limit": 5 }),
        |t| t.contains("checkout_cart_items"),
    )
    .await?;
    client.cancel().await?;
    println!("Done. Prometheus and Alertmanager are stopped.");
    Ok(())
}
