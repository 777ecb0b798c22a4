//! `opsmcp-prometheus`: stdio by default, `serve --listen ADDR` for HTTP.

use opsmcp_core::{config, identity, metrics::Metrics, serve};
use opsmcp_prometheus::{PrometheusServer, config::PrometheusArgs};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = config::parse::<PrometheusArgs>(identity!());
    let metrics = Metrics::new(identity!());
    let server = PrometheusServer::new(&cli.server, metrics.clone())?;
    let probe = server.clone();
    let app = serve::App::new(identity!(), metrics, move || server.clone()).readiness(move || {
        let probe = probe.clone();
        async move { probe.ready().await }
    });
    serve::run(cli.transport(), app).await?;
    Ok(())
}
