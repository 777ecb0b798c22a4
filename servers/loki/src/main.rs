//! `opsmcp-loki`: stdio by default, `serve --listen ADDR` for HTTP, `audit verify` to check
//! the audit log.

use opsmcp_core::{approval::Safety, config, identity, metrics::Metrics, serve};
use opsmcp_loki::{LokiServer, config::LokiArgs};

fn main() -> anyhow::Result<()> {
    let cli = config::parse::<LokiArgs>(identity!());
    if let Some(code) = cli.audit_command() {
        std::process::exit(code);
    }
    let transport = cli.transport();
    serve::runtime(&transport)?.block_on(run(cli, transport))
}

async fn run(cli: config::Cli<LokiArgs>, transport: config::TransportArgs) -> anyhow::Result<()> {
    let metrics = Metrics::new(identity!());
    let safety = Safety::new(identity!(), &cli.safety, &metrics)?;
    let server = LokiServer::new(&cli.server, safety, metrics.clone())?;
    let probe = server.clone();
    let app = serve::App::new(identity!(), metrics, move || server.clone()).readiness(move || {
        let probe = probe.clone();
        async move { probe.ready().await }
    });
    serve::run(transport, app).await?;
    Ok(())
}
