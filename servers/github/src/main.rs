//! `opsmcp-github`: stdio by default, `serve --listen ADDR` for HTTP, `audit verify` to check
//! the audit log.

use opsmcp_core::{identity, serve};
use opsmcp_github::{GitHubServer, config::GitHubArgs};

fn main() -> anyhow::Result<()> {
    serve::main::<GitHubArgs, _>(identity!(), |args, safety, metrics| {
        Ok(GitHubServer::new(args, safety, metrics)?)
    })
}
