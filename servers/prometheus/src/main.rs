//! `opsmcp-prometheus`: stdio by default, `serve --listen ADDR` for HTTP, `audit verify` to check
//! the audit log.

use opsmcp_core::{identity, serve};
use opsmcp_prometheus::{PrometheusServer, config::PrometheusArgs};

fn main() -> anyhow::Result<()> {
    serve::main::<PrometheusArgs, _>(identity!(), |args, safety, metrics| {
        Ok(PrometheusServer::new(args, safety, metrics)?)
    })
}
