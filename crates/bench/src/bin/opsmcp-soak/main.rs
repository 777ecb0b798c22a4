//! `opsmcp-soak`: each server under sustained load over streamable HTTP, the way a team's shared
//! deployment is used — `--sessions` concurrent sessions cycling through the server's read tools
//! for `--seconds` against the sandbox's backends (Prometheus: a real one with its history).
//!
//! 1. Steady: calls, errors (target 0), p50/p99, resident memory and open descriptors after a
//!    warm-up and at the end (target: memory under load grows ≤ 10 % from the first reading
//!    after the warm-up to the last; descriptors back where they were).
//! 2. Outage: the same load while the backend is down for `--outage` seconds in the middle (a
//!    proxy in front of it refuses connections and cuts the open ones): every call answers —
//!    a tool error naming the backend, within the configured timeout — none hangs, and calls
//!    succeed again once it is back.
//!
//! Results are printed and written as JSON; targets are reported, not asserted. A benchmark
//! (`just soak`), not a CI test.

mod proxy;
mod targets;

use std::{
    path::PathBuf,
    process::Command,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use clap::Parser;
use opsmcp_bench::{initialize, ms, open_fds, percentile, post, rss_kib, spawn_http};
use opsmcp_e2e::docs::SERVERS;
use serde::Serialize;
use serde_json::{Value, json};
use targets::{BACKEND_TIMEOUT_SECS, Target, World};

#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Directory of the server binaries (`cargo build --release -p opsmcp-<name>` first)
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// A server to soak (repeatable; default: all six)
    #[arg(long = "server")]
    servers: Vec<String>,
    /// Concurrent sessions
    #[arg(long, default_value_t = 64)]
    sessions: usize,
    /// Length of each run
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    seconds: u64,
    /// Load before the first memory reading
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    warmup: u64,
    /// How long the backend is down in the second run (0: no second run)
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    outage: u64,
    /// Where to write the JSON results
    #[arg(long)]
    out: Option<PathBuf>,
    /// Memory growth from the warm-up to the end, at most
    #[arg(long, default_value_t = 10.0)]
    target_rss_growth_pct: f64,
}

/// What one call came to.
#[derive(Debug, Clone)]
enum Outcome {
    Ok,
    /// The server answered with `isError` (its text).
    ToolError(String),
    /// No MCP answer: a transport failure, an HTTP error, a JSON-RPC error, or none in time.
    Failed(String),
}

#[derive(Debug)]
struct Call {
    /// When it started, from the start of the run.
    at: Duration,
    took: Duration,
    outcome: Outcome,
}

#[derive(Debug, Serialize)]
struct Steady {
    calls: usize,
    errors: usize,
    error_samples: Vec<String>,
    p50_ms: f64,
    p99_ms: f64,
    /// Resident memory under load every 5 s; growth from the first reading (after the warm-up)
    /// to the last. A plateau is the allocator's, a steady climb a leak.
    rss_every_5s_mib: Vec<f64>,
    rss_growth_pct: f64,
    /// Resident memory at rest, after the warm-up and after the run.
    rss_idle_mib: (f64, f64),
    /// Open descriptors, and of them the idle connections pooled to the backend.
    fds_start: (usize, usize),
    fds_end: (usize, usize),
}

#[derive(Debug, Serialize)]
struct Outage {
    down_at_s: u64,
    down_for_s: u64,
    /// Calls started while the backend was down.
    calls_during: usize,
    tool_errors_during: usize,
    /// Of those tool errors, how many name the backend.
    naming_backend: usize,
    error_samples: Vec<String>,
    /// Calls with no MCP answer (of which `hung`: none within the timeout and a margin).
    failed: usize,
    hung: usize,
    max_ms_during: f64,
    /// Seconds from the backend's return to the first successful call.
    first_success_after_s: Option<f64>,
    /// Failed or erroring calls started more than the backend timeout after its return.
    errors_after_recovery: usize,
}

#[derive(Debug, Serialize)]
struct ServerReport {
    server: String,
    sessions: usize,
    seconds: u64,
    steady: Steady,
    outage: Option<Outage>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let servers: Vec<String> = if args.servers.is_empty() {
        SERVERS.iter().map(|s| (*s).to_owned()).collect()
    } else {
        args.servers.clone()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let reports = runtime.block_on(async {
        let world = World::start().await?;
        let mut reports = Vec::new();
        for server in &servers {
            let target = world.target(server).await?;
            let report = soak(&args, &target).await?;
            print_report(&args, &report);
            reports.push(report);
        }
        anyhow::Ok(reports)
    })?;
    if let Some(out) = &args.out {
        if let Some(dir) = out.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(out, serde_json::to_string_pretty(&reports)? + "\n")?;
        println!("written to {}", out.display());
    }
    Ok(())
}

async fn soak(args: &Args, target: &Target) -> Result<ServerReport> {
    let binary = args.bin_dir.join(format!("opsmcp-{}", target.server));
    anyhow::ensure!(
        binary.is_file(),
        "no server binary at {} (cargo build --release -p opsmcp-{})",
        binary.display(),
        target.server
    );
    let mut cmd = Command::new(&binary);
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .envs(target.env.iter().map(|(k, v)| (k, v)));
    let (mut child, url) = spawn_http(cmd)?;
    let pid = child.id();
    let result = async {
        let port = target.proxy.addr.port();
        // Readings are taken once the sessions are closed and their connections gone.
        let settle = Duration::from_millis(500);
        drive(args, target, &url, args.warmup, None).await?;
        tokio::time::sleep(settle).await;
        let (idle_start, fds_start) = (rss_kib(pid)?, open_fds(pid, port)?);
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let sampler = tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = &mut stopped => return samples,
                }
                if let Ok(kib) = rss_kib(pid) {
                    samples.push(mib(kib));
                }
            }
        });
        let calls = drive(args, target, &url, args.seconds, None).await?;
        let _ = stop.send(());
        let samples = sampler.await?;
        tokio::time::sleep(settle).await;
        let (idle_end, fds_end) = (rss_kib(pid)?, open_fds(pid, port)?);
        let steady = steady(
            &calls,
            samples,
            (idle_start, idle_end),
            (fds_start, fds_end),
        );
        let outage = if args.outage > 0 {
            let down_at = args.seconds * 2 / 5;
            let calls = drive(args, target, &url, args.seconds, Some(down_at)).await?;
            Some(outage(target, &calls, down_at, args.outage))
        } else {
            None
        };
        anyhow::Ok(ServerReport {
            server: format!("opsmcp-{}", target.server),
            sessions: args.sessions,
            seconds: args.seconds,
            steady,
            outage,
        })
    }
    .await;
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// `--sessions` sessions calling for `seconds`; with `down_at`, the backend goes down that many
/// seconds in, for `--outage` seconds.
async fn drive(
    args: &Args,
    target: &Target,
    url: &str,
    seconds: u64,
    down_at: Option<u64>,
) -> Result<Vec<Call>> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let calls = Arc::new(target.calls.clone());
    let sessions: Vec<_> = (0..args.sessions)
        .map(|n| {
            let (url, calls) = (url.to_owned(), calls.clone());
            tokio::spawn(async move { session(&url, &calls, n, started, deadline).await })
        })
        .collect();
    if let Some(at) = down_at {
        tokio::time::sleep_until((started + Duration::from_secs(at)).into()).await;
        target.proxy.down();
        tokio::time::sleep(Duration::from_secs(args.outage)).await;
        target.proxy.up();
    }
    let mut all = Vec::new();
    for s in sessions {
        all.extend(s.await??);
    }
    Ok(all)
}

/// One session: initialize, then the calls back to back (each session starts at its own place
/// in the list), then `DELETE` the session.
async fn session(
    url: &str,
    calls: &[(&'static str, Value)],
    n: usize,
    started: Instant,
    deadline: Instant,
) -> Result<Vec<Call>> {
    // No answer within the server's own backend timeout and this margin is a hang.
    let patience = Duration::from_secs(BACKEND_TIMEOUT_SECS + 10);
    let http = reqwest::Client::builder()
        .http1_only()
        .pool_max_idle_per_host(1)
        .timeout(patience)
        .build()?;
    let response = post(&http, url, None, &initialize()).await?;
    let id = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .context("no session id")?;
    response.bytes().await?;
    let note = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    post(&http, url, Some(&id), &note).await?.bytes().await?;
    let mut done = Vec::new();
    let mut request = 1u64;
    while Instant::now() < deadline {
        let (tool, arguments) = &calls[(n + done.len()) % calls.len()];
        request += 1;
        let call = json!({ "jsonrpc": "2.0", "id": request, "method": "tools/call", "params": { "name": tool, "arguments": arguments } });
        let at = started.elapsed();
        let begun = Instant::now();
        let outcome = match post(&http, url, Some(&id), &call).await {
            Ok(r) if r.status().is_success() => match r.text().await {
                Ok(body) => outcome(&body),
                Err(e) => Outcome::Failed(reason(&e)),
            },
            Ok(r) => Outcome::Failed(format!("HTTP {}", r.status())),
            Err(e) => Outcome::Failed(
                e.downcast_ref::<reqwest::Error>()
                    .map_or_else(|| e.to_string(), reason),
            ),
        };
        done.push(Call {
            at,
            took: begun.elapsed(),
            outcome,
        });
    }
    let _ = http
        .delete(url)
        .header("mcp-session-id", &id)
        .header("mcp-protocol-version", opsmcp_bench::PROTOCOL)
        .send()
        .await;
    Ok(done)
}

fn reason(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "no answer in time (hung)".to_owned()
    } else {
        e.to_string()
    }
}

/// The answer in a JSON or SSE body.
fn outcome(body: &str) -> Outcome {
    let message = body
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .chain(std::iter::once(body))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .find(|m| m.get("result").is_some() || m.get("error").is_some());
    match message {
        Some(m) if m["result"]["isError"] == true => Outcome::ToolError(
            m["result"]["content"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .chars()
                .take(160)
                .collect(),
        ),
        Some(m) if m.get("result").is_some() => Outcome::Ok,
        Some(m) => Outcome::Failed(format!("JSON-RPC error {}", m["error"])),
        None => Outcome::Failed("no JSON-RPC answer in the body".to_owned()),
    }
}

/// Up to three distinct texts of `outcomes`' errors.
fn samples<'a>(outcomes: impl Iterator<Item = &'a Outcome>) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for o in outcomes {
        let text = match o {
            Outcome::Ok => continue,
            Outcome::ToolError(t) => format!("tool error: {t}"),
            Outcome::Failed(t) => format!("failed: {t}"),
        };
        if seen.len() < 3 && !seen.contains(&text) {
            seen.push(text);
        }
    }
    seen
}

fn mib(kib: u64) -> f64 {
    (kib as f64 / 1024.0 * 10.0).round() / 10.0
}

fn steady(
    calls: &[Call],
    rss: Vec<f64>,
    idle: (u64, u64),
    fds: ((usize, usize), (usize, usize)),
) -> Steady {
    let mut took: Vec<Duration> = calls.iter().map(|c| c.took).collect();
    took.sort();
    Steady {
        calls: calls.len(),
        errors: calls
            .iter()
            .filter(|c| !matches!(c.outcome, Outcome::Ok))
            .count(),
        error_samples: samples(calls.iter().map(|c| &c.outcome)),
        p50_ms: ms(percentile(&took, 0.5)),
        p99_ms: ms(percentile(&took, 0.99)),
        rss_growth_pct: match (rss.first(), rss.last()) {
            (Some(first), Some(last)) => ((last / first - 1.0) * 1000.0).round() / 10.0,
            _ => 0.0,
        },
        rss_every_5s_mib: rss,
        rss_idle_mib: (mib(idle.0), mib(idle.1)),
        fds_start: fds.0,
        fds_end: fds.1,
    }
}

fn outage(target: &Target, calls: &[Call], down_at: u64, down_for: u64) -> Outage {
    let (down, up) = (
        Duration::from_secs(down_at),
        Duration::from_secs(down_at + down_for),
    );
    let during: Vec<&Call> = calls.iter().filter(|c| c.at >= down && c.at < up).collect();
    let tool_errors: Vec<&String> = during
        .iter()
        .filter_map(|c| match &c.outcome {
            Outcome::ToolError(t) => Some(t),
            _ => None,
        })
        .collect();
    let settled = up + Duration::from_secs(BACKEND_TIMEOUT_SECS);
    Outage {
        down_at_s: down_at,
        down_for_s: down_for,
        calls_during: during.len(),
        tool_errors_during: tool_errors.len(),
        naming_backend: tool_errors
            .iter()
            .filter(|t| t.to_lowercase().contains(&target.backend.to_lowercase()))
            .count(),
        error_samples: samples(during.iter().map(|c| &c.outcome)),
        failed: calls
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Failed(_)))
            .count(),
        hung: calls
            .iter()
            .filter(|c| matches!(&c.outcome, Outcome::Failed(t) if t.contains("hung")))
            .count(),
        max_ms_during: during.iter().map(|c| ms(c.took)).fold(0.0, f64::max),
        first_success_after_s: calls
            .iter()
            .filter(|c| c.at >= up && matches!(c.outcome, Outcome::Ok))
            .map(|c| (c.at + c.took).saturating_sub(up).as_secs_f64())
            .reduce(f64::min)
            .map(|s| (s * 100.0).round() / 100.0),
        errors_after_recovery: calls
            .iter()
            .filter(|c| c.at >= settled && !matches!(c.outcome, Outcome::Ok))
            .count(),
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

fn print_report(args: &Args, r: &ServerReport) {
    let s = &r.steady;
    println!(
        "{} — {} sessions, {} s: {} calls, {} errors [target 0: {}], p50 {:.1} ms, p99 {:.1} ms; RSS under load {:.1} → {:.1} MiB ({:+.1}%) [target ≤ {}%: {}], at rest {:.1} → {:.1} MiB; open fds {} → {}, not counting idle pooled backend connections {} → {} [equal: {}]",
        r.server,
        r.sessions,
        r.seconds,
        s.calls,
        s.errors,
        verdict(s.errors == 0),
        s.p50_ms,
        s.p99_ms,
        s.rss_every_5s_mib.first().copied().unwrap_or_default(),
        s.rss_every_5s_mib.last().copied().unwrap_or_default(),
        s.rss_growth_pct,
        args.target_rss_growth_pct,
        verdict(s.rss_growth_pct <= args.target_rss_growth_pct),
        s.rss_idle_mib.0,
        s.rss_idle_mib.1,
        s.fds_start.0,
        s.fds_end.0,
        s.fds_start.0 - s.fds_start.1,
        s.fds_end.0 - s.fds_end.1,
        verdict(s.fds_end.0 - s.fds_end.1 == s.fds_start.0 - s.fds_start.1),
    );
    println!("    RSS every 5 s (MiB): {:?}", s.rss_every_5s_mib);
    for sample in &s.error_samples {
        println!("    {sample}");
    }
    if let Some(o) = &r.outage {
        println!(
            "  backend down {}–{} s: {} calls started meanwhile, {} tool errors ({} naming the backend), {} without an answer ({} hung) [target 0 hung: {}], slowest {:.0} ms [target ≤ {} s: {}]; first success {} after it returned, {} errors after it settled [target 0: {}]",
            o.down_at_s,
            o.down_at_s + o.down_for_s,
            o.calls_during,
            o.tool_errors_during,
            o.naming_backend,
            o.failed,
            o.hung,
            verdict(o.hung == 0),
            o.max_ms_during,
            BACKEND_TIMEOUT_SECS,
            verdict(o.max_ms_during <= (BACKEND_TIMEOUT_SECS * 1000) as f64),
            o.first_success_after_s
                .map_or_else(|| "never".to_owned(), |s| format!("{s:.2} s")),
            o.errors_after_recovery,
            verdict(o.errors_after_recovery == 0),
        );
        for sample in &o.error_samples {
            println!("    {sample}");
        }
    }
}
