//! `opsmcp-gateway-bench`: what the gateway costs a host, with the conformance fixture as its
//! upstream (both over streamable HTTP on loopback, `--sessions` concurrent host sessions):
//!
//! - the overhead of a proxied `tools/call` over the same call made to the fixture directly
//!   (p50 and p99; the gateway's cache off);
//! - a cached read: the same call answered from the gateway's cache, end to end and as the
//!   gateway itself timed it (its history);
//! - throughput through the gateway, uncached and cached;
//! - with `--bin-dir` (the six servers' release binaries), the incident measurements of
//!   [`incident`]: `incident_triage`'s time and tokens, deferred listing, structured results.
//!
//! Results go to stdout and to `--out` as JSON; targets are reported, not asserted.

mod incident;

use std::{
    path::PathBuf,
    process::{Child, Command},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use clap::Parser;
use opsmcp_bench::{initialize, ms, percentile, post, session, spawn_http};
use serde::Serialize;
use serde_json::{Value, json};

#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The gateway binary (build it with --release first)
    #[arg(long)]
    gateway: PathBuf,
    /// The conformance fixture binary, the upstream
    #[arg(long)]
    fixture: PathBuf,
    #[arg(long, default_value_t = 16)]
    sessions: usize,
    /// How long each load runs
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    #[arg(long)]
    out: Option<PathBuf>,
    /// Where the six servers' release binaries are: also measure the incident tools
    #[arg(long)]
    bin_dir: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct Run {
    name: &'static str,
    sessions: usize,
    calls: usize,
    errors: usize,
    calls_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    cores: usize,
    sessions: usize,
    runs: Vec<Run>,
    /// Proxied over direct, [p50, p99] ms: `--sessions` sessions (the cores busy) and one
    /// session (no queueing), with the fixture as an HTTP and as a stdio upstream.
    overhead_http: [f64; 2],
    overhead_http_single: [f64; 2],
    overhead_stdio: [f64; 2],
    overhead_stdio_single: [f64; 2],
    /// The gateway's own time for a cache hit (its history), p50 and p99.
    cached_inside_p50_ms: f64,
    cached_inside_p99_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    incident: Option<incident::Report>,
}

/// A child process killed when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(binary: &PathBuf, args: &[&str]) -> Result<(Guard, String)> {
    let mut cmd = Command::new(binary);
    cmd.args(args).args(["serve", "--listen", "127.0.0.1:0"]);
    let (child, url) = spawn_http(cmd)?;
    Ok((Guard(child), url))
}

async fn drive(name: &'static str, url: &str, sessions: usize, args: &Args) -> Result<Run> {
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let url = Arc::new(url.to_owned());
    let tasks: Vec<_> = (0..sessions)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move {
                session(&url, false, "echo", json!({ "text": "ping" }), deadline).await
            })
        })
        .collect();
    let started = Instant::now();
    let (mut latencies, mut errors) = (Vec::new(), 0);
    for task in tasks {
        let (mut l, e) = task.await??;
        latencies.append(&mut l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    anyhow::ensure!(!latencies.is_empty(), "{name}: no call succeeded");
    Ok(Run {
        name,
        sessions,
        calls: latencies.len(),
        errors,
        calls_per_sec: latencies.len() as f64 / elapsed,
        p50_ms: ms(percentile(&latencies, 0.5)),
        p99_ms: ms(percentile(&latencies, 0.99)),
    })
}

/// `proxied` over `direct`: [p50, p99] ms.
fn over(proxied: &Run, direct: &Run) -> [f64; 2] {
    [
        proxied.p50_ms - direct.p50_ms,
        proxied.p99_ms - direct.p99_ms,
    ]
}

/// The durations the gateway recorded for its cache hits, sorted.
async fn cache_hit_durations(url: &str) -> Result<Vec<Duration>> {
    let http = reqwest::Client::new();
    let response = post(&http, url, None, &initialize()).await?;
    let session = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    response.bytes().await?;
    let note = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    post(&http, url, session.as_deref(), &note)
        .await?
        .bytes()
        .await?;
    let read = json!({ "jsonrpc": "2.0", "id": 1, "method": "resources/read", "params": { "uri": "opsmcp://history" } });
    let body = post(&http, url, session.as_deref(), &read)
        .await?
        .text()
        .await?;
    // An SSE stream (its first event may be an empty priming one) or plain JSON.
    let json_text = body
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(str::trim)
        .find(|d| d.starts_with('{'))
        .unwrap_or(&body);
    let answer: Value = serde_json::from_str(json_text).context("the history answer")?;
    let lines = answer["result"]["contents"][0]["text"]
        .as_str()
        .context("no history text")?;
    let mut durations: Vec<Duration> = lines
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["cache"] == "hit")
        .filter_map(|r| r["duration"].as_f64())
        .map(|ms| Duration::from_secs_f64(ms / 1e3))
        .collect();
    durations.sort();
    Ok(durations)
}

fn main() -> Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let dir = std::env::temp_dir().join(format!("opsmcp-gateway-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (_fixture, fixture_url) = serve(&args.fixture, &[])?;
    let config = |name: &str, upstream: String, cache: bool| -> Result<String> {
        let path = dir.join(name);
        std::fs::write(
            &path,
            format!(
                "[[upstream]]\nname = \"fixture\"\n{upstream}\n[cache]\nenabled = {cache}\ndefault_ttl = \"1h\"\n"
            ),
        )?;
        Ok(path.display().to_string())
    };
    let audit = dir.join("audit.jsonl").display().to_string();
    let over_http = format!("url = {fixture_url:?}");
    let uncached = config("uncached.toml", over_http.clone(), false)?;
    let cached = config("cached.toml", over_http, true)?;
    let over_stdio = config(
        "stdio.toml",
        format!("command = {:?}", args.fixture.display().to_string()),
        false,
    )?;
    let n = args.sessions;
    let mut runs = Vec::new();
    let inside = runtime.block_on(async {
        runs.push(drive("direct", &fixture_url, n, &args).await?);
        runs.push(drive("direct", &fixture_url, 1, &args).await?);
        for (name, config) in [
            ("gateway, HTTP upstream", &uncached),
            ("gateway, stdio upstream", &over_stdio),
        ] {
            let (_gateway, url) = serve(
                &args.gateway,
                &["--upstreams", config, "--audit-log", &audit],
            )?;
            runs.push(drive(name, &url, n, &args).await?);
            runs.push(drive(name, &url, 1, &args).await?);
        }
        let (_gateway, url) = serve(
            &args.gateway,
            &["--upstreams", &cached, "--audit-log", &audit],
        )?;
        runs.push(drive("gateway, cached", &url, n, &args).await?);
        cache_hit_durations(&url).await
    })?;
    let _ = std::fs::remove_dir_all(&dir);
    let report = Report {
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        sessions: n,
        overhead_http: over(&runs[2], &runs[0]),
        overhead_http_single: over(&runs[3], &runs[1]),
        overhead_stdio: over(&runs[4], &runs[0]),
        overhead_stdio_single: over(&runs[5], &runs[1]),
        cached_inside_p50_ms: ms(percentile(&inside, 0.5)),
        cached_inside_p99_ms: ms(percentile(&inside, 0.99)),
        runs,
        incident: match &args.bin_dir {
            Some(bin_dir) => Some(runtime.block_on(incident::measure(bin_dir, &args.gateway))?),
            None => None,
        },
    };
    println!(
        "opsmcp-gateway over the fixture (streamable HTTP, `echo`), {} cores",
        report.cores
    );
    for r in &report.runs {
        println!(
            "{:26} {:>2} sessions {:>7} calls, {} errors, {:>6.0} calls/s, p50 {:.3} ms, p99 {:.3} ms",
            r.name, r.sessions, r.calls, r.errors, r.calls_per_sec, r.p50_ms, r.p99_ms
        );
    }
    let verdict = |ok: bool| if ok { "met" } else { "NOT MET" };
    for (upstream, loaded, single) in [
        ("HTTP", report.overhead_http, report.overhead_http_single),
        ("stdio", report.overhead_stdio, report.overhead_stdio_single),
    ] {
        println!(
            "proxy overhead, {upstream} upstream, {n} sessions: p50 {:.3} ms [target ≤ 0.2: {}], p99 {:.3} ms [target ≤ 1: {}]; 1 session: p50 {:.3} ms, p99 {:.3} ms",
            loaded[0],
            verdict(loaded[0] <= 0.2),
            loaded[1],
            verdict(loaded[1] <= 1.0),
            single[0],
            single[1]
        );
    }
    println!(
        "cached read inside the gateway ({} of the last hits): p50 {:.3} ms [target ≤ 0.1: {}], p99 {:.3} ms",
        inside.len(),
        report.cached_inside_p50_ms,
        verdict(report.cached_inside_p50_ms <= 0.1),
        report.cached_inside_p99_ms
    );
    let best = report
        .runs
        .iter()
        .skip(2)
        .map(|r| r.calls_per_sec)
        .fold(0.0, f64::max);
    println!(
        "throughput through the gateway: best {best:.0} calls/s [target ≥ 10,000: {}]",
        verdict(best >= 10_000.0)
    );
    if let Some(incident) = &report.incident {
        incident::print(incident);
    }
    if let Some(out) = &args.out {
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(out, serde_json::to_string_pretty(&report)? + "\n")?;
        println!("written to {}", out.display());
    }
    Ok(())
}
