//! `opsmcp-loki`: stdio by default, `serve --listen ADDR` for HTTP, `audit verify` to check
//! the audit log.

use opsmcp_core::{identity, serve};
use opsmcp_loki::{LokiServer, config::LokiArgs};

fn main() -> anyhow::Result<()> {
    serve::main::<LokiArgs, _>(identity!(), |args, safety, metrics| {
        Ok(LokiServer::new(args, safety, metrics)?)
    })
}
