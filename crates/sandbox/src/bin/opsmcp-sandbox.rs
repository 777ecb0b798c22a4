//! `opsmcp-sandbox`: serve the simulated cluster on loopback and write a kubeconfig for it.

use std::{net::SocketAddr, path::PathBuf};

use clap::Parser;
use opsmcp_sandbox::{Sandbox, scenario::Scenario};

/// A simulated Kubernetes cluster for opsmcp's tests and demo; the real kubectl works against it
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to serve the Kubernetes API on (port 0 picks a free one)
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Where to write the kubeconfig
    #[arg(long, default_value = "sandbox.kubeconfig")]
    kubeconfig: PathBuf,
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
        "the sandbox has no authentication: listen on a loopback address"
    );
    let scenario = match args.scenario.as_str() {
        "none" => None,
        "incident" => {
            Some(Scenario::parse(opsmcp_sandbox::scenario::INCIDENT).map_err(anyhow::Error::msg)?)
        }
        path => Some(Scenario::parse(&std::fs::read_to_string(path)?).map_err(anyhow::Error::msg)?),
    };
    let sandbox = Sandbox::start_with(args.listen, scenario.as_ref()).await?;
    std::fs::write(&args.kubeconfig, sandbox.kubeconfig())?;
    let kubeconfig = std::fs::canonicalize(&args.kubeconfig)?;
    tracing::info!(local = %sandbox.addr, kubeconfig = %kubeconfig.display(), "sandbox cluster serving");
    eprintln!(
        "\nThe sandbox cluster is at {}.\n  kubectl:            KUBECONFIG={} kubectl get pods\n  opsmcp-kubernetes:  KUBECONFIG={} opsmcp-kubernetes\n  its logs (Loki):    LOKI_URL={} opsmcp-loki\nCtrl-C stops it.",
        sandbox.url(),
        kubeconfig.display(),
        kubeconfig.display(),
        sandbox.url()
    );
    tokio::signal::ctrl_c().await?;
    Ok(())
}
