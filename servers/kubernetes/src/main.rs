//! `opsmcp-kubernetes`: stdio by default, `serve --listen ADDR` for HTTP, `audit verify` to check
//! the audit log.

use opsmcp_core::{identity, serve};
use opsmcp_kubernetes::{KubernetesServer, config::KubernetesArgs};

fn main() -> anyhow::Result<()> {
    serve::main::<KubernetesArgs, _>(identity!(), |args, safety, metrics| {
        Ok(KubernetesServer::new(args, safety, metrics))
    })
}
