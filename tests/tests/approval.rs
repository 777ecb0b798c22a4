//! The safety engine end to end: the real opsmcp-prometheus binary, a real Alertmanager, and the
//! official Python MCP SDK answering approval questions as a user would, on both protocol paths
//! (elicitation/create for handshake clients, input-required results for 2026-07-28) over stdio
//! and streamable HTTP; a client without elicitation; forged and replayed approvals; and the
//! audit log checked with `audit verify`, including after writers are killed mid-write.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Command, Stdio},
    sync::OnceLock,
    time::Duration,
};

use anyhow::Result;
use opsmcp_e2e::{
    HttpServer, TempDir, binary, command, http_get, prometheus::Backends, python_script, run,
};
use serde_json::{Value, json};

const SERVER: &str = "opsmcp-prometheus";

fn backends() -> &'static Backends {
    static BACKENDS: OnceLock<Backends> = OnceLock::new();
    BACKENDS.get_or_init(|| Backends::start().expect("start Prometheus and Alertmanager"))
}

fn silence(alertname: &str) -> String {
    json!({
        "matchers": [format!("alertname=\"{alertname}\"")],
        "duration": "30m",
        "comment": "e2e approval test",
        "created_by": "e2e"
    })
    .to_string()
}

/// `opsmcp-prometheus audit verify FILE`: (exit code 0?, output).
fn audit_verify(file: &Path) -> Result<(bool, String)> {
    let mut cmd = command(binary(SERVER));
    cmd.args(["audit", "verify"]).arg(file);
    let (ok, stdout, stderr) = run(cmd, Duration::from_secs(30))?;
    Ok((ok, format!("{stdout}{stderr}")))
}

fn decisions(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["decision"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[test]
fn approval_over_stdio_on_both_protocol_paths() -> Result<()> {
    let b = backends();
    let dir = TempDir::new("opsmcp-approval-stdio")?;
    let audit = dir.path().join("audit.jsonl");
    let bin = binary(SERVER);
    let server = [
        "--",
        bin.to_str().unwrap(),
        "--prometheus-url",
        &b.prometheus_url,
        "--alertmanager-url",
        &b.alertmanager_url,
        "--audit-log",
        audit.to_str().unwrap(),
    ];
    // (protocol, answer, what the tool must say)
    let cases = [
        (
            "legacy",
            "yes",
            "created for {alertname=\"ApprovedLegacy\"}",
        ),
        ("legacy", "no", "NOT EXECUTED: the user answered no"),
        ("legacy", "decline", "NOT EXECUTED: the user declined"),
        (
            "legacy",
            "none",
            "NOT EXECUTED: approval mode: medium-risk changes need the user's yes, but this client cannot ask",
        ),
        (
            "2026-07-28",
            "yes",
            "created for {alertname=\"ApprovedModern\"}",
        ),
        (
            "2026-07-28",
            "cancel",
            "NOT EXECUTED: the user dismissed the question",
        ),
        ("2026-07-28", "none", "cannot ask the user"),
    ];
    for (protocol, answer, expected) in cases {
        let alertname = if protocol == "legacy" {
            "ApprovedLegacy"
        } else {
            "ApprovedModern"
        };
        let arguments = silence(alertname);
        let mut args = vec![
            "stdio",
            protocol,
            answer,
            "--tool",
            "silences_create",
            "--arguments",
            &arguments,
        ];
        args.extend_from_slice(&server);
        let report = python_script("approval.py", &args)?;
        let text = report["text"].as_str().unwrap_or_default();
        assert!(text.contains(expected), "{protocol}/{answer}: {report}");
        assert_eq!(
            report["is_error"],
            answer != "yes",
            "{protocol}/{answer}: {report}"
        );
        let asked = report["asked"].as_array().unwrap();
        if answer == "none" {
            assert!(asked.is_empty(), "{report}");
        } else {
            // The form shows the request, the risk and reason, and the preview.
            let form = asked[0].as_str().unwrap();
            assert!(
                form.starts_with("Approve this medium-risk change?")
                    && form.contains("POST http://127.0.0.1:")
                    && form.contains("risk: medium — create silence")
                    && form.contains("preview:"),
                "{form}"
            );
        }
    }
    // Both approved silences exist in Alertmanager; the declined ones were never created.
    let silences: Vec<Value> = serde_json::from_str(&http_get(&format!(
        "{}/api/v2/silences",
        b.alertmanager_url
    ))?)?;
    let comments: Vec<&str> = silences
        .iter()
        .filter(|s| s["comment"] == "e2e approval test" && s["status"]["state"] == "active")
        .filter_map(|s| s["matchers"][0]["value"].as_str())
        .collect();
    assert_eq!(
        comments.iter().filter(|n| **n == "ApprovedLegacy").count(),
        1,
        "{silences:?}"
    );
    assert_eq!(
        comments.iter().filter(|n| **n == "ApprovedModern").count(),
        1,
        "{silences:?}"
    );

    // Seven server processes wrote one chain; every decision is there.
    assert_eq!(
        decisions(&audit),
        [
            "asked", "approved", "executed", // legacy yes
            "asked", "declined", // legacy no
            "asked", "declined", // legacy decline
            "refused",  // legacy, no elicitation
            "asked", "approved", "executed", // modern yes: the question, then the retry
            "asked", "declined", // modern cancel
            "refused",  // modern, no elicitation
        ]
    );
    let (ok, out) = audit_verify(&audit)?;
    assert!(ok && out.starts_with("intact: 14 records"), "{out}");
    Ok(())
}

#[test]
fn approval_over_http_refuses_forged_and_replayed_answers() -> Result<()> {
    let b = backends();
    let dir = TempDir::new("opsmcp-approval-http")?;
    let audit = dir.path().join("audit.jsonl");
    let server = HttpServer::start_with_env(
        SERVER,
        &["--http-token", "e2e-secret-token"],
        &[
            ("PROMETHEUS_URL", &b.prometheus_url),
            ("ALERTMANAGER_URL", &b.alertmanager_url),
            ("OPSMCP_AUDIT_LOG", audit.to_str().unwrap()),
        ],
    )?;
    let url = server.url("/mcp");
    let token = ["--token", "e2e-secret-token"];

    let arguments = silence("ApprovedHttp");
    let mut args = vec![
        "http",
        "legacy",
        "yes",
        "--tool",
        "silences_create",
        "--arguments",
        &arguments,
        &url,
    ];
    args.extend_from_slice(&token);
    let report = python_script("approval.py", &args)?;
    assert!(
        report["text"].as_str().unwrap().contains("created for"),
        "{report}"
    );

    let mut args = vec![
        "http",
        "2026-07-28",
        "decline",
        "--tool",
        "silences_create",
        "--arguments",
        &arguments,
        &url,
    ];
    args.extend_from_slice(&token);
    let report = python_script("approval.py", &args)?;
    assert!(
        report["text"]
            .as_str()
            .unwrap()
            .contains("NOT EXECUTED: the user declined"),
        "{report}"
    );

    let arguments = silence("ForgeryTest");
    let mut args = vec![
        "http",
        "2026-07-28",
        "yes",
        "--forgery",
        "--tool",
        "silences_create",
        "--arguments",
        &arguments,
        &url,
    ];
    args.extend_from_slice(&token);
    let report = python_script("approval.py", &args)?;
    for attempt in ["no_state", "tampered", "changed_arguments", "replayed"] {
        assert!(
            report[attempt]
                .as_str()
                .unwrap()
                .starts_with("refused: requestState is missing, altered"),
            "{attempt}: {report}"
        );
    }
    assert!(
        report["genuine"]
            .as_str()
            .unwrap()
            .starts_with("ran: silence "),
        "{report}"
    );
    let created: Vec<Value> = serde_json::from_str(&http_get(&format!(
        "{}/api/v2/silences",
        b.alertmanager_url
    ))?)?;
    let forged = created
        .iter()
        .filter(|s| s["matchers"][0]["value"] == "ForgeryTest" && s["status"]["state"] == "active")
        .count();
    assert_eq!(forged, 1, "the genuine answer ran exactly once");

    // The audit log names the HTTP principal by a fingerprint, never the token.
    let log = std::fs::read_to_string(&audit)?;
    assert!(
        log.contains("\"principal\":\"bearer sha256:") && !log.contains("e2e-secret-token"),
        "{log}"
    );
    let (ok, out) = audit_verify(&audit)?;
    assert!(ok, "{out}");
    // Breaker state is on /metrics.
    let metrics = http_get(&server.url("/metrics"))?;
    assert!(metrics.contains("opsmcp_breaker_open 0"), "{metrics}");
    assert!(
        metrics.contains("opsmcp_safety_decisions_total{decision=\"declined\",risk=\"medium\"} 1"),
        "{metrics}"
    );
    Ok(())
}

#[test]
fn an_invalid_rules_file_stops_start_up_with_its_line() -> Result<()> {
    let dir = TempDir::new("opsmcp-rules")?;
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nnamespace = \"prod-*\"\nlevel = \"severe\"\nreason = \"x\"\n",
    )?;
    let mut cmd = command(binary(SERVER));
    cmd.arg("--risk-rules").arg(&rules).stdin(Stdio::null());
    let (ok, stdout, stderr) = run(cmd, Duration::from_secs(30))?;
    assert!(!ok, "started with a bad rules file: {stdout}");
    assert!(
        stderr.contains("rules.toml") && stderr.contains("line 3"),
        "{stderr}"
    );
    Ok(())
}

#[test]
fn a_per_server_mode_overrides_the_common_one() -> Result<()> {
    let b = backends();
    let dir = TempDir::new("opsmcp-mode")?;
    let audit = dir.path().join("audit.jsonl");
    // The Python SDK hands stdio servers only a safe set of variables, so a wrapper sets them,
    // as a host's `env` block would: OPSMCP_MODE says approval, OPSMCP_PROMETHEUS_MODE plan.
    let script = dir.path().join("server.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nexec env OPSMCP_MODE=approval OPSMCP_PROMETHEUS_MODE=plan {} \"$@\"\n",
            binary(SERVER).display()
        ),
    )?;
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    let arguments = silence("PerServerMode");
    let report = python_script(
        "approval.py",
        &[
            "stdio",
            "legacy",
            "yes",
            "--tool",
            "silences_create",
            "--arguments",
            &arguments,
            "--",
            script.to_str().unwrap(),
            "--prometheus-url",
            &b.prometheus_url,
            "--alertmanager-url",
            &b.alertmanager_url,
            "--audit-log",
            audit.to_str().unwrap(),
        ],
    )?;
    assert!(
        report["text"]
            .as_str()
            .unwrap()
            .starts_with("PLAN (not executed"),
        "{report}"
    );
    assert_eq!(decisions(&audit), ["planned"]);
    Ok(())
}

/// Start an `audit-writer` on `file`; returns once it has written its first record.
fn writer(file: &Path, count: u64, max_bytes: u64) -> Result<std::process::Child> {
    let mut child = command(env!("CARGO_BIN_EXE_audit-writer"))
        .arg(file)
        .arg(count.to_string())
        .arg(max_bytes.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line)?;
    anyhow::ensure!(
        line.trim() == "ready",
        "audit-writer did not start: {line:?}"
    );
    Ok(child)
}

#[test]
fn audit_log_survives_sigkill_and_concurrent_writers() -> Result<()> {
    let dir = TempDir::new("opsmcp-audit-kill")?;
    // Two processes writing one file at once keep one chain (with rotation under way).
    let shared = dir.path().join("shared.jsonl");
    let (mut a, mut b) = (
        writer(&shared, 300, 64 * 1024)?,
        writer(&shared, 300, 64 * 1024)?,
    );
    assert!(a.wait()?.success() && b.wait()?.success());
    let (ok, out) = audit_verify(&shared)?;
    assert!(ok && out.starts_with("intact: 6"), "{out}");
    assert!(out.contains("shared.jsonl.1"), "rotation happened: {out}");

    // A writer killed with SIGKILL mid-write: the log is intact, or its torn last line is
    // reported (never silently accepted) and the file refuses further appends.
    for round in 0..5u64 {
        let file = dir.path().join(format!("killed-{round}.jsonl"));
        let mut child = writer(&file, 0, u64::MAX)?;
        std::thread::sleep(Duration::from_millis(20 + round * 37));
        let status = Command::new("kill")
            .args(["-KILL", &child.id().to_string()])
            .status()?;
        assert!(status.success());
        child.wait()?;
        let (ok, out) = audit_verify(&file)?;
        if ok {
            assert!(out.starts_with("intact: "), "{out}");
        } else {
            assert!(
                out.contains("the last line is torn"),
                "round {round}: {out}"
            );
        }
    }
    Ok(())
}
