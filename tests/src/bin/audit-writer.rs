//! Appends records to an audit log as fast as it can, for the crash and concurrency tests:
//! `audit-writer FILE COUNT MAX_BYTES` (COUNT 0 = until killed). Prints `ready` after the
//! first record so the test knows writes are under way.

use opsmcp_core::audit::{AuditLog, Entry, Rotation};
use serde_json::json;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: audit-writer FILE COUNT MAX_BYTES";
    let path = args.next().ok_or_else(|| anyhow::anyhow!(usage))?;
    let count: u64 = args.next().ok_or_else(|| anyhow::anyhow!(usage))?.parse()?;
    let max_bytes: u64 = args.next().ok_or_else(|| anyhow::anyhow!(usage))?.parse()?;
    let log = AuditLog::open_with(
        &path,
        Rotation {
            max_bytes,
            keep: 1000,
        },
    )?;
    let pid = std::process::id();
    for i in 0.. {
        if count > 0 && i >= count {
            break;
        }
        log.append(Entry {
            time: Entry::now(),
            server: "audit-writer".into(),
            tool: "write".into(),
            // Lines of varying length, some long, so a kill can land mid-line.
            arguments: json!({ "pid": pid, "i": i, "pad": "x".repeat((i as usize * 37) % 3000) }),
            risk: "medium".into(),
            decision: "executed".into(),
            ..Entry::default()
        })?;
        if i == 0 {
            println!("ready");
        }
    }
    Ok(())
}
