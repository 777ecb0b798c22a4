//! `opsmcp-gateway`: stdio by default, `serve --listen ADDR` for HTTP, `audit verify` to check
//! the audit log.

use opsmcp_core::{identity, serve};
use opsmcp_gateway::{GatewayServer, config::GatewayArgs};

fn main() -> anyhow::Result<()> {
    // The gateway changes nothing itself: each upstream's safety engine gates its changes.
    serve::main::<GatewayArgs, _>(identity!(), |args, _safety, metrics| {
        let gateway = GatewayServer::start(args.load()?, metrics);
        // The workflows' references are checked against what the upstreams declare as soon as
        // they have listed their tools: a typo stops the gateway at start-up, with its line.
        let check = gateway.clone();
        tokio::spawn(async move {
            if let Err(problems) = check.check_workflows().await {
                for problem in problems {
                    eprintln!("opsmcp-gateway: {problem}");
                }
                std::process::exit(2);
            }
        });
        Ok(gateway)
    })
}
