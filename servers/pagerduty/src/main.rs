//! `opsmcp-pagerduty`: stdio by default, `serve --listen ADDR` for HTTP, `audit verify` to check
//! the audit log.

use opsmcp_core::{identity, serve};
use opsmcp_pagerduty::{PagerDutyServer, config::PagerDutyArgs};

fn main() -> anyhow::Result<()> {
    serve::main::<PagerDutyArgs, _>(identity!(), |args, safety, metrics| {
        Ok(PagerDutyServer::new(args, safety, metrics)?)
    })
}
