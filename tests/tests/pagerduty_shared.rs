//! Seed 004's deployment: one opsmcp-pagerduty shared by a team, served over HTTP behind nginx
//! and reached on the legacy SSE endpoint with a bearer token, as GitHub Copilot's agent reaches
//! PagerDuty's server. PagerDuty's webhooks come in through the same nginx. The client is the
//! official Python MCP SDK; the backend is the sandbox's PagerDuty stand-in.

use anyhow::Result;
use opsmcp_e2e::{HttpServer, Nginx, TempDir, python_script};
use opsmcp_sandbox::Sandbox;

use opsmcp_sandbox::scenario::WORKER_ROUTING_KEY;

#[tokio::test(flavor = "multi_thread")]
async fn python_sdk_over_sse_through_nginx_with_a_bearer_token() -> Result<()> {
    let sandbox = Sandbox::incident().await?;
    let dir = TempDir::new("pagerduty-shared")?;
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &sandbox.ca_pem)?;
    let audit = dir.path().join("audit.jsonl");
    let env = [
        ("PAGERDUTY_API_HOST", sandbox.pagerduty_url()),
        ("PAGERDUTY_API_KEY", sandbox.pagerduty.tokens.user.0.clone()),
        ("PAGERDUTY_USER_EMAIL", sandbox.pagerduty_user.1.clone()),
        ("PAGERDUTY_CA_FILE", ca.display().to_string()),
        ("PAGERDUTY_WEBHOOK_SECRET", "whsec-shared-test".to_owned()),
        ("OPSMCP_AUDIT_LOG", audit.display().to_string()),
    ];
    let (server, nginx) = tokio::task::spawn_blocking(move || -> Result<_> {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let server =
            HttpServer::start_with_env("opsmcp-pagerduty", &["--http-token", "team-token"], &env)?;
        let nginx = Nginx::start(server.addr)?;
        Ok((server, nginx))
    })
    .await??;
    sandbox
        .pagerduty
        .subscribe(&nginx.url("/webhooks/pagerduty"), "whsec-shared-test");

    let args = [
        nginx.url("/sse"),
        "team-token".to_owned(),
        format!("{}/v2/enqueue", sandbox.pagerduty_url()),
        ca.display().to_string(),
        WORKER_ROUTING_KEY.to_owned(),
    ];
    let report = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        python_script("pagerduty_sse.py", &args)
    })
    .await?;
    let report = report.map_err(|e| anyhow::anyhow!("{e}\nserver log: {:#?}", server.log()))?;
    assert_eq!(report["ok"], true, "{report:#}");
    // The webhook came through nginx and was accepted (2xx), and the key stayed out of the log.
    let deliveries = sandbox.pagerduty.deliveries();
    assert!(
        deliveries.iter().all(|(_, status)| status == "200"),
        "{deliveries:?}"
    );
    let log = server.log().join("\n");
    assert!(
        !log.contains(&sandbox.pagerduty.tokens.user.0),
        "the API key leaked into the log"
    );
    drop(nginx);
    Ok(())
}
