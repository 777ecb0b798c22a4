//! `opsmcp-notion`: stdio by default, `serve --listen ADDR` for HTTP, `audit verify` to check
//! the audit log.

use opsmcp_core::{identity, serve};
use opsmcp_notion::{NotionServer, config::NotionArgs};

fn main() -> anyhow::Result<()> {
    serve::main::<NotionArgs, _>(identity!(), |args, safety, metrics| {
        Ok(NotionServer::new(args, safety, metrics)?)
    })
}
