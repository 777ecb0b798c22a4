//! The README's main job, `just demo`, runs end to end across the six servers: the page
//! reaches the host through Alertmanager, PagerDuty and its webhook; the cause is found in the
//! cluster, Prometheus, Loki, Notion's runbook and GitHub's releases; the fix PR, the limit and
//! the report are each approved through elicitation; the incident resolves, the alert too; and
//! the shared audit log verifies. It fails (non-zero exit or a missing line) if any of that does
//! not happen.

use std::time::Duration;

use anyhow::Result;
use opsmcp_e2e::{command, run};

/// What every run of the drill must print, however the page reached the host.
const STORY: &[&str] = &[
    "incident.triggered #",
    "ContainerOOMKilled shop (worker",
    "by Prometheus Alertmanager",
    "  L1 ",
    // The investigation.
    "(OOMKilled ",
    "last terminated: OOMKilled exit 137",
    "holding 65 MiB; nothing freed",
    "WARN heap pressure: holding 63 MiB of a 64 MiB limit",
    "Memory cgroup out of memory: Killed process",
    "# Worker OOM runbook",
    // From what runs to the change that shipped it.
    "shop/worker:1.4.2 runs: which release is it",
    "What changed from v1.4.1 to v1.4.2?",
    "cache the working set between batches",
    // The fix PR, asked and approved, mentioning the on-call engineer.
    "?? opsmcp-github asks the user",
    "cc @",
    "opened #43 worker: free the batch buffer",
    // The limit, asked with its dry-run diff, approved and verified.
    "?? opsmcp-kubernetes asks the user",
    "?  +              \"memory\": \"256Mi\"",
    "set resources shop/worker: rollout complete",
    // The report, the note and the resolve.
    "wrote the incident report \"Worker OOM-killed at its 64Mi limit\"",
    "incident.annotated",
    "incident.resolved #",
    "== Alertmanager → PagerDuty: 2 notifications sent (the page and its resolve), 0 failed",
    "intact: 15 records",
    "5 questions asked and approved",
];

/// Run the drill with `args`; its standard output. One drill at a time: each runs a world on
/// its own clock, and two on two cores would slow each other's.
fn drill(args: &[&str]) -> Result<String> {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut cmd = command(env!("CARGO_BIN_EXE_opsmcp-drill"));
    cmd.args(args).env("RUST_LOG", "warn");
    let (ok, stdout, stderr) = run(cmd, Duration::from_secs(300))?;
    assert!(ok, "the drill failed:\n{stdout}\n{stderr}");
    for expected in STORY {
        assert!(
            stdout.contains(expected),
            "the drill's output lacks {expected:?}:\n{stdout}"
        );
    }
    Ok(stdout)
}

#[test]
fn the_incident_drill_runs() -> Result<()> {
    let stdout = drill(&[])?;
    // The page, pushed to the subscribed host (or, on a slow machine, already there).
    assert!(
        stdout.contains("** notifications/resources/updated pagerduty://events")
            || stdout.contains("paged before this host connected"),
        "{stdout}"
    );
    Ok(())
}

/// A host that comes online a minute after the page takes the incident that is already open.
#[test]
fn a_host_that_comes_late_works_the_incident_already_paged() -> Result<()> {
    let stdout = drill(&["--late-host", "75"])?;
    assert!(
        stdout.contains("paged before this host connected"),
        "{stdout}"
    );
    Ok(())
}

/// A world that has been running for a day and more tells the same story: the release the
/// running image came from still leads to the leaking change, however old it now is.
#[test]
fn the_drill_works_a_world_that_has_run_for_a_day() -> Result<()> {
    let stdout = drill(&["--aged", "30"])?;
    assert!(
        stdout.contains("(aged: the world has been running 30 h"),
        "{stdout}"
    );
    Ok(())
}
