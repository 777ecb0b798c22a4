//! The README's main job, `just demo`, runs end to end: the drill binary finds the OOM-killed
//! worker through both servers, plans and executes the fix, verifies it and checks the audit
//! log. It fails (non-zero exit) if any of that does not happen.

use std::time::Duration;

use anyhow::Result;
use opsmcp_e2e::{command, run};

#[test]
fn the_incident_drill_runs() -> Result<()> {
    let mut cmd = command(env!("CARGO_BIN_EXE_opsmcp-drill"));
    // Build the server binaries the drill spawns (as `just demo` does).
    opsmcp_e2e::binary("opsmcp-prometheus");
    opsmcp_e2e::binary("opsmcp-kubernetes");
    opsmcp_e2e::binary("opsmcp-loki");
    cmd.env("RUST_LOG", "warn");
    let (ok, stdout, stderr) = run(cmd, Duration::from_secs(240))?;
    assert!(ok, "the drill failed:\n{stdout}\n{stderr}");
    for expected in [
        "ContainerOOMKilled",
        "CrashLoopBackOff",
        "last terminated: OOMKilled exit 137",
        "holding 70 MiB",
        "WARN heap pressure: holding 63 MiB of a 64 MiB limit",
        "Memory cgroup out of memory: Killed process",
        "msg=\"payment authorization failed\"",
        "PLAN (not executed; plan mode)",
        "+              \"memory\": \"256Mi\"",
        "set resources shop/worker: rollout complete",
        "intact: 3 records",
    ] {
        assert!(
            stdout.contains(expected),
            "the drill's output lacks {expected:?}:\n{stdout}"
        );
    }
    Ok(())
}
