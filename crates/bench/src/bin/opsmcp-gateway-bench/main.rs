//! `opsmcp-gateway-bench`: what the gateway costs a host, with the conformance fixture as its
//! upstream (both over streamable HTTP on loopback, `--sessions` concurrent host sessions):
//!
//! - the overhead of a proxied `tools/call` over the same call made to the fixture directly
//!   (p50 and p99; the gateway's cache off), under three loads: `--sessions` sessions back to
//!   back (the two cores saturated, so the figure is mostly the gateway's CPU per call as
//!   queueing), one session, and `--sessions` sessions paced at `--rate` calls/s (open loop:
//!   the latency the gateway adds at a load it serves without queueing);
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
use opsmcp_bench::{initialize, ms, paced_session, percentile, post, spawn_http};
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
    /// The paced runs' total rate, calls per second over all sessions (below what the two
    /// cores serve through the gateway: the latency the gateway adds, not queueing)
    #[arg(long, default_value_t = 2000.0)]
    rate: f64,
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
    /// Calls per second asked for (paced, open loop); none: back to back (saturating)
    #[serde(skip_serializing_if = "Option::is_none")]
    rate: Option<f64>,
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
    /// Proxied over direct, p50 and p99 ms, per upstream transport and load.
    overhead: Vec<Overhead>,
    /// The gateway's own time for a cache hit (its history), p50 and p99.
    cached_inside_p50_ms: f64,
    cached_inside_p99_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    incident: Option<incident::Report>,
}

#[derive(Debug, Serialize)]
struct Overhead {
    upstream: &'static str,
    /// "N sessions back to back", "1 session", "N sessions paced at R/s"
    load: String,
    p50_ms: f64,
    p99_ms: f64,
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

/// `sessions` sessions calling `echo` for `--seconds`: back to back, or together at `rate`
/// calls per second.
async fn drive(
    name: &'static str,
    url: &str,
    sessions: usize,
    rate: Option<f64>,
    args: &Args,
) -> Result<Run> {
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let url = Arc::new(url.to_owned());
    let interval = rate.map(|r| Duration::from_secs_f64(sessions as f64 / r));
    let tasks: Vec<_> = (0..sessions)
        .map(|i| {
            let url = url.clone();
            let pace = interval.map(|every| (every, every * i as u32 / sessions as u32));
            tokio::spawn(async move {
                let ping = json!({ "text": "ping" });
                paced_session(&url, false, "echo", ping, deadline, pace).await
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
        rate,
        calls: latencies.len(),
        errors,
        calls_per_sec: latencies.len() as f64 / elapsed,
        p50_ms: ms(percentile(&latencies, 0.5)),
        p99_ms: ms(percentile(&latencies, 0.99)),
    })
}

/// The three loads each path is measured under, `proxied` over `direct` for each (same order).
fn overheads(upstream: &'static str, proxied: &[Run], direct: &[Run]) -> Vec<Overhead> {
    proxied
        .iter()
        .zip(direct)
        .map(|(p, d)| Overhead {
            upstream,
            load: match (p.sessions, p.rate) {
                (1, _) => "1 session".into(),
                (n, None) => format!("{n} sessions back to back"),
                (n, Some(r)) => format!("{n} sessions paced at {r:.0}/s"),
            },
            p50_ms: p.p50_ms - d.p50_ms,
            p99_ms: p.p99_ms - d.p99_ms,
        })
        .collect()
}

/// A path under the three loads: `n` sessions back to back, one session, `n` sessions paced.
async fn loads(name: &'static str, url: &str, args: &Args) -> Result<Vec<Run>> {
    let n = args.sessions;
    Ok(vec![
        drive(name, url, n, None, args).await?,
        drive(name, url, 1, None, args).await?,
        drive(name, url, n, Some(args.rate), args).await?,
    ])
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
    let (runs, overhead, inside) = runtime.block_on(async {
        let direct = loads("direct", &fixture_url, &args).await?;
        let mut runs = Vec::new();
        let mut overhead = Vec::new();
        for (name, upstream, config) in [
            ("gateway, HTTP upstream", "HTTP", &uncached),
            ("gateway, stdio upstream", "stdio", &over_stdio),
        ] {
            let (_gateway, url) = serve(
                &args.gateway,
                &["--upstreams", config, "--audit-log", &audit],
            )?;
            let proxied = loads(name, &url, &args).await?;
            overhead.extend(overheads(upstream, &proxied, &direct));
            runs.extend(proxied);
        }
        let (_gateway, url) = serve(
            &args.gateway,
            &["--upstreams", &cached, "--audit-log", &audit],
        )?;
        runs.push(drive("gateway, cached", &url, n, None, &args).await?);
        let inside = cache_hit_durations(&url).await?;
        runs.splice(0..0, direct);
        anyhow::Ok((runs, overhead, inside))
    })?;
    let _ = std::fs::remove_dir_all(&dir);
    let report = Report {
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        sessions: n,
        overhead,
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
        let paced = r
            .rate
            .map(|r| format!(" paced at {r:.0}/s"))
            .unwrap_or_default();
        println!(
            "{:26} {:>2} sessions{paced:15} {:>7} calls, {} errors, {:>6.0} calls/s, p50 {:.3} ms, p99 {:.3} ms",
            r.name, r.sessions, r.calls, r.errors, r.calls_per_sec, r.p50_ms, r.p99_ms
        );
    }
    let verdict = |ok: bool| if ok { "met" } else { "NOT MET" };
    for o in &report.overhead {
        let targets = if o.load.ends_with("back to back") {
            format!(
                " [targets p50 ≤ 0.2: {}, p99 ≤ 1: {}]",
                verdict(o.p50_ms <= 0.2),
                verdict(o.p99_ms <= 1.0)
            )
        } else {
            String::new()
        };
        println!(
            "proxy overhead, {} upstream, {}: p50 {:+.3} ms, p99 {:+.3} ms{targets}",
            o.upstream, o.load, o.p50_ms, o.p99_ms
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
        .filter(|r| r.name != "direct" && r.rate.is_none())
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
