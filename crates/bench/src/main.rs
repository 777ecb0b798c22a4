//! `opsmcp-bench`: measures an opsmcp server binary the way a host experiences it.
//!
//! - cold start: spawn over stdio → the `initialize` response (median and p90 over `--runs`);
//! - resident memory after `tools/list` (VmRSS from /proc, the median of five processes);
//! - `tools/list` size in bytes and in cl100k tokens (tiktoken-rs, the tokenizer of GPT-4-class
//!   models; a fair proxy for what the listing costs in every conversation);
//! - HTTP `tools/call` throughput and p50/p99 latency with `--sessions` concurrent sessions on
//!   loopback, in session mode and in stateless mode.
//!
//! Results go to stdout as a table and to `--out` as JSON; targets are reported, not asserted.

use std::{
    io::{BufRead, BufReader, Write},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

mod github;
mod loki;
mod notion;
mod pagerduty;
mod sandbox;

use anyhow::{Context, Result, bail};
use clap::Parser;
use opsmcp_bench::{initialize, ms, percentile, rss_kib, session, spawn_http};
use serde::Serialize;
use serde_json::{Value, json};

#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The server binary (build it with --release first)
    #[arg(long)]
    server: PathBuf,
    /// Extra arguments for the server (before `serve`), e.g. backend URLs
    #[arg(long = "server-arg", allow_hyphen_values = true)]
    server_args: Vec<String>,
    /// Cold-start runs
    #[arg(long, default_value_t = 50)]
    runs: usize,
    /// Concurrent HTTP sessions
    #[arg(long, default_value_t = 16)]
    sessions: usize,
    /// How long to drive HTTP load, per mode
    #[arg(long, default_value = "5", value_name = "SECONDS")]
    seconds: u64,
    /// Tool to call under load, and its arguments as JSON
    #[arg(long, default_value = "echo")]
    tool: String,
    #[arg(long, default_value = r#"{"text":"ping"}"#)]
    tool_args: String,
    /// Where to write the JSON results
    #[arg(long)]
    out: Option<PathBuf>,
    /// Start a real Prometheus + Alertmanager with the incident history, point the server at
    /// them, and measure the response tokens of a 6-hour range query over 10 series against
    /// Prometheus' raw JSON for the same query
    #[arg(long)]
    with_prometheus: bool,
    /// Start the sandbox cluster with the incident scenario and 300 more pods, point the
    /// server at it, and measure pods_list and pod_describe against kubectl's JSON and describe
    #[arg(long)]
    with_sandbox: bool,
    /// Start the sandbox's Loki stand-in with 5 streams of JSON access logs and 10,000 lines
    /// for patterns, point the server at it, and measure a 1,000-line query against Loki's raw
    /// JSON and the error-pattern summary
    #[arg(long)]
    with_loki: bool,
    /// Start the sandbox's PagerDuty stand-in with the drill's OOM incident and 100 more, point
    /// the server at it, and measure incident_get and a 100-incident incidents_list against
    /// PagerDuty's raw JSON
    #[arg(long)]
    with_pagerduty: bool,
    /// Start the sandbox's GitHub stand-in, point the server at it, and measure commits_list of
    /// the 24 hours before the incident and commit_get of the leaking commit against GitHub's
    /// JSON
    #[arg(long)]
    with_github: bool,
    /// Start the sandbox's Notion stand-in, point the server at it, and measure page_read of
    /// the Worker OOM runbook against Notion's JSON for the same page
    #[arg(long)]
    with_notion: bool,
    /// Target for the 6-hour range query, in cl100k tokens
    #[arg(long, default_value_t = 1500)]
    target_range_tokens: usize,
    /// Target for tools/list, in cl100k tokens
    #[arg(long, default_value_t = 2000)]
    target_tools_list_tokens: usize,
    /// Targets to report against
    #[arg(long, default_value_t = 5.0)]
    target_cold_start_ms: f64,
    #[arg(long, default_value_t = 8.0)]
    target_rss_mib: f64,
    #[arg(long, default_value_t = 5000.0)]
    target_calls_per_sec: f64,
    #[arg(long, default_value_t = 10.0)]
    target_p99_ms: f64,
}

#[derive(Debug, Serialize)]
struct ColdStart {
    runs: usize,
    median_ms: f64,
    p90_ms: f64,
    min_ms: f64,
}

#[derive(Debug, Serialize)]
struct ToolsList {
    tools: usize,
    bytes: usize,
    cl100k_tokens: usize,
    rss_after_mib: f64,
}

#[derive(Debug, Serialize)]
struct Load {
    mode: &'static str,
    sessions: usize,
    seconds: f64,
    calls: usize,
    errors: usize,
    calls_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
}

#[derive(Debug, Serialize)]
struct Task {
    name: String,
    tokens: usize,
    /// What the same information costs raw, and what that raw form is.
    raw_tokens: usize,
    raw: String,
    ratio: f64,
    target_tokens: usize,
}

#[derive(Debug, Serialize)]
struct Report {
    server: String,
    version: String,
    cores: usize,
    cold_start: ColdStart,
    tools_list: ToolsList,
    tasks: Vec<Task>,
    http: Vec<Load>,
}

fn main() -> Result<()> {
    let mut args = Args::parse();
    anyhow::ensure!(
        args.server.is_file(),
        "no server binary at {}",
        args.server.display()
    );
    let backends = if args.with_prometheus {
        let b = opsmcp_e2e::prometheus::Backends::start()?;
        args.server_args.extend([
            "--prometheus-url".into(),
            b.prometheus_url.clone(),
            "--alertmanager-url".into(),
            b.alertmanager_url.clone(),
        ]);
        Some(b)
    } else {
        None
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let sandbox = if args.with_sandbox {
        let s = runtime.block_on(sandbox::start())?;
        args.server_args.extend(s.server_args());
        Some(s)
    } else {
        None
    };
    let loki = if args.with_loki {
        let l = runtime.block_on(loki::start())?;
        args.server_args.extend(l.server_args());
        Some(l)
    } else {
        None
    };
    let pagerduty = if args.with_pagerduty {
        let p = runtime.block_on(pagerduty::start())?;
        args.server_args.extend(p.server_args());
        Some(p)
    } else {
        None
    };
    let github = if args.with_github {
        let g = runtime.block_on(github::start())?;
        args.server_args.extend(g.server_args());
        Some(g)
    } else {
        None
    };
    let notion = if args.with_notion {
        let n = runtime.block_on(notion::start())?;
        args.server_args.extend(n.server_args());
        Some(n)
    } else {
        None
    };
    let (cold_start, version) = cold_start(&args)?;
    let tools_list = tools_list(&args)?;
    let mut tasks = Vec::new();
    if let Some(s) = &sandbox {
        tasks.extend(s.tasks(&args)?);
    }
    if let Some(l) = &loki {
        tasks.extend(runtime.block_on(l.tasks(&args))?);
    }
    if let Some(p) = &pagerduty {
        tasks.extend(runtime.block_on(p.tasks(&args))?);
    }
    if let Some(g) = &github {
        tasks.extend(runtime.block_on(g.tasks(&args))?);
    }
    if let Some(n) = &notion {
        tasks.extend(runtime.block_on(n.tasks(&args))?);
    }
    if let Some(b) = &backends {
        tasks.push(runtime.block_on(range_task(&args, &b.prometheus_url))?);
    }
    let mut http = Vec::new();
    if args.seconds > 0 {
        for stateless in [false, true] {
            http.push(runtime.block_on(load(&args, stateless))?);
        }
    }
    let report = Report {
        server: args
            .server
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned(),
        version,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cold_start,
        tools_list,
        tasks,
        http,
    };
    print_report(&report, &args);
    if let Some(out) = &args.out {
        if let Some(dir) = out.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(out, serde_json::to_string_pretty(&report)? + "\n")?;
        println!("\nwritten to {}", out.display());
    }
    Ok(())
}

/// A server on stdio, killed when dropped.
struct StdioServer {
    child: Child,
    stdin: std::process::ChildStdin,
    stdout: BufReader<std::process::ChildStdout>,
}

impl StdioServer {
    fn spawn(args: &Args) -> Result<Self> {
        let mut child = Command::new(&args.server)
            .args(&args.server_args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("spawning {}", args.server.display()))?;
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Ok(Self {
            child,
            stdin,
            stdout,
        })
    }

    fn send(&mut self, message: &Value) -> Result<()> {
        writeln!(self.stdin, "{message}")?;
        self.stdin.flush()?;
        Ok(())
    }

    /// Spawn and initialize: ready for tool calls.
    fn initialized(args: &Args) -> Result<Self> {
        let mut server = Self::spawn(args)?;
        server.send(&initialize())?;
        server.answer(0)?;
        server.send(&json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }))?;
        Ok(server)
    }

    /// Call a tool; the text of its answer.
    fn call_text(&mut self, id: u64, name: &str, arguments: Value) -> Result<String> {
        self.send(&json!({ "jsonrpc": "2.0", "id": id, "method": "tools/call", "params": { "name": name, "arguments": arguments } }))?;
        let (answer, _) = self.answer(id)?;
        Ok(answer["result"]["content"][0]["text"]
            .as_str()
            .with_context(|| format!("{name} answered no text: {answer}"))?
            .to_owned())
    }

    /// The next line that answers request `id`.
    fn answer(&mut self, id: u64) -> Result<(Value, usize)> {
        loop {
            let mut line = String::new();
            if self.stdout.read_line(&mut line)? == 0 {
                bail!("the server closed stdout");
            }
            let value: Value =
                serde_json::from_str(&line).context("stdout carried a non-JSON line")?;
            if value["id"] == id {
                return Ok((value, line.trim_end().len()));
            }
        }
    }
}

impl Drop for StdioServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn cold_start(args: &Args) -> Result<(ColdStart, String)> {
    let mut times = Vec::with_capacity(args.runs);
    let mut version = String::new();
    for _ in 0..args.runs.max(1) {
        let started = Instant::now();
        let mut server = StdioServer::spawn(args)?;
        server.send(&initialize())?;
        let (answer, _) = server.answer(0)?;
        times.push(started.elapsed());
        version = answer["result"]["serverInfo"]["version"]
            .as_str()
            .unwrap_or("?")
            .to_owned();
    }
    times.sort();
    Ok((
        ColdStart {
            runs: times.len(),
            median_ms: ms(percentile(&times, 0.5)),
            p90_ms: ms(percentile(&times, 0.9)),
            min_ms: ms(times[0]),
        },
        version,
    ))
}

/// Processes whose resident memory is measured; the median is reported (one process varies by
/// ±0.15 MiB with page-cache and allocator timing).
const RSS_SAMPLES: usize = 5;

fn tools_list(args: &Args) -> Result<ToolsList> {
    let mut rss = Vec::with_capacity(RSS_SAMPLES);
    let mut listed = Value::Null;
    for _ in 0..RSS_SAMPLES {
        let mut server = StdioServer::initialized(args)?;
        server.send(&json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list" }))?;
        let (answer, _) = server.answer(1)?;
        listed = answer["result"]["tools"].clone();
        rss.push(rss_kib(server.child.id())? as f64 / 1024.0);
    }
    rss.sort_by(f64::total_cmp);
    // What a host puts in the model's context is the tools array, not the JSON-RPC envelope.
    let text = serde_json::to_string(&listed)?;
    let bpe = tiktoken_rs::cl100k_base()?;
    Ok(ToolsList {
        tools: listed.as_array().map_or(0, Vec::len),
        bytes: text.len(),
        cl100k_tokens: bpe.encode_with_special_tokens(&text).len(),
        rss_after_mib: rss[RSS_SAMPLES / 2],
    })
}

/// The incident task of the Prometheus targets: a 6-hour range query over 10 series through
/// the server (default output) against Prometheus' own JSON for the same query and step.
async fn range_task(args: &Args, prometheus: &str) -> Result<Task> {
    let query = "container_memory_working_set_bytes{namespace=\"batch\"}";
    let mut server = StdioServer::initialized(args)?;
    server.send(&json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": { "name": "query_range", "arguments": { "query": query, "start": "now-6h" } } }))?;
    let (answer, _) = server.answer(1)?;
    let text = answer["result"]["content"][0]["text"]
        .as_str()
        .context("query_range returned no text")?
        .to_owned();
    let step = text
        .split("step ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .context("no step in the answer")?
        .to_owned();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let raw = reqwest::Client::new()
        .get(format!("{prometheus}/api/v1/query_range"))
        .query(&[
            ("query", query.to_owned()),
            ("start", (now - 6 * 3600).to_string()),
            ("end", now.to_string()),
            ("step", step),
        ])
        .send()
        .await?
        .text()
        .await?;
    let bpe = tiktoken_rs::cl100k_base()?;
    let tokens = bpe.encode_with_special_tokens(&text).len();
    let raw_tokens = bpe.encode_with_special_tokens(&raw).len();
    Ok(Task {
        name: "query_range, 6h, 10 series (default summary)".into(),
        tokens,
        raw_tokens,
        raw: "Prometheus' raw JSON".into(),
        ratio: tokens as f64 / raw_tokens as f64,
        target_tokens: args.target_range_tokens,
    })
}

/// Start `serve --listen 127.0.0.1:0` and read the address it reports.
fn start_http(args: &Args, stateless: bool) -> Result<(Child, String)> {
    let mut cmd = Command::new(&args.server);
    cmd.args(&args.server_args)
        .args(["serve", "--listen", "127.0.0.1:0"]);
    if stateless {
        cmd.arg("--stateless");
    }
    spawn_http(cmd)
}

async fn load(args: &Args, stateless: bool) -> Result<Load> {
    let (mut child, url) = start_http(args, stateless)?;
    let tool_args: Value =
        serde_json::from_str(&args.tool_args).context("--tool-args is not JSON")?;
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let url = Arc::new(url);
    let mut tasks = Vec::new();
    for _ in 0..args.sessions {
        let (url, tool, tool_args) = (url.clone(), args.tool.clone(), tool_args.clone());
        tasks.push(tokio::spawn(async move {
            session(&url, stateless, &tool, tool_args, deadline).await
        }));
    }
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (mut l, e) = task.await??;
        latencies.append(&mut l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let _ = child.kill();
    let _ = child.wait();
    latencies.sort();
    anyhow::ensure!(!latencies.is_empty(), "no call succeeded");
    Ok(Load {
        mode: if stateless { "stateless" } else { "session" },
        sessions: args.sessions,
        seconds: elapsed,
        calls: latencies.len(),
        errors,
        calls_per_sec: latencies.len() as f64 / elapsed,
        p50_ms: ms(percentile(&latencies, 0.5)),
        p99_ms: ms(percentile(&latencies, 0.99)),
    })
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

fn print_report(r: &Report, args: &Args) {
    println!("{} {} on {} cores", r.server, r.version, r.cores);
    let c = &r.cold_start;
    println!(
        "cold start (stdio spawn → initialize, {} runs): median {:.2} ms, p90 {:.2} ms, min {:.2} ms  [target ≤ {} ms median: {}]",
        c.runs,
        c.median_ms,
        c.p90_ms,
        c.min_ms,
        args.target_cold_start_ms,
        verdict(c.median_ms <= args.target_cold_start_ms)
    );
    let t = &r.tools_list;
    println!(
        "tools/list: {} tools, {} bytes, {} cl100k tokens; RSS after tools/list {:.1} MiB  [target ≤ {} MiB: {}]",
        t.tools,
        t.bytes,
        t.cl100k_tokens,
        t.rss_after_mib,
        args.target_rss_mib,
        verdict(t.rss_after_mib <= args.target_rss_mib)
    );
    println!(
        "tools/list tokens [target ≤ {}: {}]",
        args.target_tools_list_tokens,
        verdict(t.cl100k_tokens <= args.target_tools_list_tokens)
    );
    for task in &r.tasks {
        println!(
            "{}: {} cl100k tokens vs {} for {} ({:.1}%)  [target ≤ {} tokens: {}]",
            task.name,
            task.tokens,
            task.raw_tokens,
            task.raw,
            task.ratio * 100.0,
            task.target_tokens,
            verdict(task.tokens <= task.target_tokens)
        );
    }
    for l in &r.http {
        println!(
            "HTTP tools/call `{}` ({} mode, {} sessions, {:.1} s): {} calls, {} errors, {:.0} calls/s, p50 {:.2} ms, p99 {:.2} ms  [targets ≥ {} calls/s: {}; p99 ≤ {} ms: {}]",
            args.tool,
            l.mode,
            l.sessions,
            l.seconds,
            l.calls,
            l.errors,
            l.calls_per_sec,
            l.p50_ms,
            l.p99_ms,
            args.target_calls_per_sec,
            verdict(l.calls_per_sec >= args.target_calls_per_sec),
            args.target_p99_ms,
            verdict(l.p99_ms <= args.target_p99_ms)
        );
    }
}
