//! What `opsmcp-bench` and `opsmcp-soak` share: a server started with `serve` on a free port,
//! MCP over streamable HTTP reduced to the POSTs load needs, a load session (calls back to back),
//! `/proc` readings of a process, and percentiles.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use serde_json::{Value, json};

/// The protocol revision the load speaks.
pub const PROTOCOL: &str = "2025-11-25";

/// The `initialize` request (id 0).
pub fn initialize() -> Value {
    json!({ "jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": { "name": "opsmcp-bench", "version": env!("CARGO_PKG_VERSION") } } })
}

/// POST one JSON-RPC message to a streamable-HTTP endpoint, in `session` if given.
pub async fn post(
    http: &reqwest::Client,
    url: &str,
    session: Option<&str>,
    body: &Value,
) -> Result<reqwest::Response> {
    let mut request = http
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", PROTOCOL);
    if let Some(s) = session {
        request = request.header("mcp-session-id", s);
    }
    Ok(request.body(body.to_string()).send().await?)
}

/// Start `cmd` (a server with `serve --listen 127.0.0.1:0` among its arguments) and read the
/// address it reports; the child and its `/mcp` URL.
pub fn spawn_http(mut cmd: Command) -> Result<(Child, String)> {
    let mut child = cmd
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = BufReader::new(child.stderr.take().context("stderr")?);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if let Some(addr) = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("local="))
            {
                let _ = tx.send(addr.to_owned());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(10))
        .context("the server did not report its address")?;
    Ok((child, format!("http://{addr}/mcp")))
}

/// Resident memory of `pid` in KiB (VmRSS).
pub fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("no VmRSS in /proc status")
}

/// Open file descriptors of `pid`: how many, and how many of them are TCP connections to
/// `port` (the idle connections a server keeps pooled to its backend, which vary with the load
/// that came before and close on their own).
pub fn open_fds(pid: u32, port: u16) -> Result<(usize, usize)> {
    let mut pooled = std::collections::HashSet::new();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let remote_port = fields
                .get(2)
                .and_then(|a| a.rsplit_once(':'))
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            if remote_port == Some(port)
                && let Some(inode) = fields.get(9)
            {
                pooled.insert(format!("socket:[{inode}]"));
            }
        }
    }
    let mut total = 0;
    let mut to_port = 0;
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd"))? {
        total += 1;
        let target = std::fs::read_link(entry?.path()).unwrap_or_default();
        if pooled.contains(target.to_string_lossy().as_ref()) {
            to_port += 1;
        }
    }
    Ok((total, to_port))
}

/// The `p` quantile of sorted durations.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Milliseconds with microsecond precision.
pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// One client session: its own connection, calls back to back until the deadline.
pub async fn session(
    url: &str,
    stateless: bool,
    tool: &str,
    tool_args: Value,
    deadline: Instant,
) -> Result<(Vec<Duration>, usize)> {
    paced_session(url, stateless, tool, tool_args, deadline, None).await
}

/// [`session`], one call every `pace.0` from `pace.1` on when given (open loop; sessions
/// spread their phases so their calls do not come in bursts): a call that is due while the
/// previous one is still waiting counts from when it was due, so a slow answer also shows in
/// the calls queued behind it (no coordinated omission).
pub async fn paced_session(
    url: &str,
    stateless: bool,
    tool: &str,
    tool_args: Value,
    deadline: Instant,
    pace: Option<(Duration, Duration)>,
) -> Result<(Vec<Duration>, usize)> {
    let http = reqwest::Client::builder()
        .http1_only()
        .pool_max_idle_per_host(1)
        .tcp_nodelay(true)
        .build()?;
    let mut session_id = None;
    if !stateless {
        let response = post(&http, url, None, &initialize()).await?;
        session_id = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        response.bytes().await?;
        let note = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
        post(&http, url, session_id.as_deref(), &note)
            .await?
            .bytes()
            .await?;
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut id = 1u64;
    let first = Instant::now();
    while Instant::now() < deadline {
        id += 1;
        let call = json!({ "jsonrpc": "2.0", "id": id, "method": "tools/call", "params": { "name": tool, "arguments": tool_args } });
        let started = match pace {
            // Behind schedule (the last answer came after this call was due): from when it
            // was due. Otherwise from now (the timer wakes up to a millisecond late, which is
            // the client's, not the server's).
            Some((interval, phase)) => {
                let due = first + phase + interval * (id - 2) as u32;
                if Instant::now() >= due {
                    due
                } else {
                    tokio::time::sleep_until(due.into()).await;
                    Instant::now()
                }
            }
            None => Instant::now(),
        };
        let ok = match post(&http, url, session_id.as_deref(), &call).await {
            Ok(r) if r.status().is_success() => r.bytes().await.is_ok_and(|b| memchr_result(&b)),
            _ => false,
        };
        if ok {
            latencies.push(started.elapsed());
        } else {
            errors += 1;
        }
    }
    Ok((latencies, errors))
}

fn memchr_result(body: &[u8]) -> bool {
    body.windows(9).any(|w| w == b"\"result\":")
}
