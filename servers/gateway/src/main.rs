//! `opsmcp-gateway`: stdio by default, `serve --listen ADDR` for HTTP, `audit verify` to check
//! the audit log.

use opsmcp_core::{identity, serve};
use opsmcp_gateway::{GatewayServer, config::GatewayArgs};

fn main() -> anyhow::Result<()> {
    // The gateway changes nothing itself: each upstream's safety engine gates its changes.
    serve::main::<GatewayArgs, _>(identity!(), |args, _safety, metrics| {
        Ok(GatewayServer::start(args.load()?, metrics))
    })
}
