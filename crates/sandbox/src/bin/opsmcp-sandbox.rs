//! `opsmcp-sandbox`: serve the simulated world on loopback and write, side by side in a
//! directory of their own (`./sandbox/` by default), a kubeconfig and `sandbox.env` (every URL,
//! token and CA path the servers need).

use std::{net::SocketAddr, path::PathBuf};

use clap::Parser;
use opsmcp_sandbox::{Sandbox, scenario::Scenario};

/// The simulated world of an incident for opsmcp's tests and demo: a Kubernetes cluster the real
/// kubectl accepts, Loki, and PagerDuty over HTTPS
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to serve Loki and the cluster's metrics exporter on (port 0 picks a free one);
    /// the Kubernetes API (HTTPS) and the SaaS stand-ins get free ports on the same host
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Where to write sandbox.kubeconfig, sandbox-ca.pem, sandbox.env and github-app.pem (tokens
    /// and a private key, readable by the owner only)
    #[arg(long, default_value = "sandbox")]
    dir: PathBuf,
    /// Deliver PagerDuty's webhooks to this URL (e.g. http://127.0.0.1:8080/webhooks/pagerduty of
    /// a running `opsmcp-pagerduty serve`); the secret goes into sandbox.env
    #[arg(long)]
    pagerduty_webhook: Option<String>,
    /// `incident` (built in: the OOM-killed worker and friends), `none`, or a scenario JSON file
    #[arg(long, default_value = "incident")]
    scenario: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    anyhow::ensure!(
        args.listen.ip().is_loopback(),
        "the sandbox's credentials are written beside it in plain text: listen on a loopback address"
    );
    let scenario = match args.scenario.as_str() {
        "none" => None,
        "incident" => {
            Some(Scenario::parse(opsmcp_sandbox::scenario::INCIDENT).map_err(anyhow::Error::msg)?)
        }
        path => Some(Scenario::parse(&std::fs::read_to_string(path)?).map_err(anyhow::Error::msg)?),
    };
    let mut sandbox = Sandbox::start_with(args.listen, scenario.as_ref()).await?;
    if let Some(url) = &args.pagerduty_webhook {
        sandbox.deliver_webhooks_to(url);
    }
    std::fs::create_dir_all(&args.dir)?;
    let env_file = sandbox.write_files(&args.dir)?;
    tracing::info!(kubernetes = %sandbox.kube_addr, loki = %sandbox.addr, pagerduty = %sandbox.pagerduty_url(), github = %sandbox.github_url(), env = %env_file.display(), "sandbox serving");
    eprintln!(
        "\nThe sandbox is up: Kubernetes at {} and PagerDuty at {} (HTTPS, their CA beside the env file), Loki at {}, GitHub at {}, Notion at {}.\n  point every server at it:  set -a; . {}; set +a\n  then, for example:         kubectl get pods    kubectl --context sandbox-view auth can-i --list    opsmcp-kubernetes    opsmcp-loki\nCtrl-C stops it.",
        sandbox.kube_url(),
        sandbox.pagerduty_url(),
        sandbox.url(),
        sandbox.github_url(),
        sandbox.notion_url(),
        env_file.display(),
    );
    tokio::signal::ctrl_c().await?;
    Ok(())
}
