//! A real Prometheus and Alertmanager (Debian's packages) on free loopback ports, with six hours
//! of backfilled incident history and a rule file, for the server tests, the demo and the
//! benchmarks. Both processes are stopped by PID when [`Backends`] is dropped.
//!
//! The history ([`history`]) tells one story: in namespace `shop`, the `worker` pod leaks memory
//! against its 64Mi limit and is OOM-killed about every 80 minutes (its restart counter climbs);
//! the `checkout` service's 5xx ratio spikes from 0.4% to a third of requests between 60 and 40
//! minutes before the start. Backfilled, then scraped from a target that serves it at every
//! scrape, it goes on however long Prometheus runs. A second small exporter serves
//! `checkout_cart_items`, whose per-session label is the cardinality offender the TSDB status
//! shows.

mod history;

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, Result, bail};

use self::history::History;
use crate::{Process, TempDir, command, free_port};

const INSTALL: &str = "install them with `apt-get install -y prometheus prometheus-alertmanager` (or run scripts/setup.sh)";

pub use self::history::{CHECKOUT_POD, MEMORY_LIMIT, NAMESPACE, WORKER_POD};

pub struct Backends {
    pub prometheus_url: String,
    pub alertmanager_url: String,
    prometheus: Process,
    alertmanager: Alertmanager,
    _exporters: [Exporter; 2],
    _dir: TempDir,
}

/// Debian's Alertmanager on a free port with the given configuration (YAML), stopped by PID
/// when dropped.
pub struct Alertmanager {
    pub url: String,
    process: Process,
    _dir: TempDir,
}

impl Alertmanager {
    pub fn start(config: &str) -> Result<Self> {
        let dir = TempDir::new("alertmanager")?;
        let port = free_port();
        let file = dir.path().join("alertmanager.yml");
        std::fs::write(&file, config)?;
        let mut cmd = command(binary("prometheus-alertmanager")?);
        cmd.arg(format!("--config.file={}", file.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            // No clustering port.
            .arg("--cluster.listen-address=");
        let process = quiet(cmd, "alertmanager")?;
        let url = format!("http://127.0.0.1:{port}");
        wait_ready(&format!("{url}/-/ready"), "alertmanager")?;
        Ok(Self {
            url,
            process,
            _dir: dir,
        })
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }
}

/// An Alertmanager configuration that pages PagerDuty's Events API v2 at `events_url` (HTTPS
/// trusting `ca_file`) with `routing_key` for the alerts matching every one of `matchers`
/// (`app="worker"`), grouped by alert name and namespace, and drops the rest. A group's later
/// notifications (a resolve) wait for its next 15 s interval, as they wait for Alertmanager's
/// default 5 minutes in production: the responder who fixed it resolves the incident first.
pub fn paging_config(
    matchers: &[&str],
    routing_key: &str,
    events_url: &str,
    ca_file: &Path,
) -> String {
    let matchers = matchers
        .iter()
        .map(|m| format!("'{}'", m.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "route:\n  receiver: blackhole\n  group_by: [alertname, namespace]\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n  routes:\n    - receiver: pagerduty\n      matchers: [{matchers}]\n      group_interval: 15s\nreceivers:\n  - name: blackhole\n  - name: pagerduty\n    pagerduty_configs:\n      - routing_key: {routing_key}\n        url: {events_url}\n        http_config:\n          tls_config:\n            ca_file: {}\n",
        ca_file.display()
    )
}

/// A scrape target answering every request with what `body` returns (content type, text).
/// Stops when dropped.
struct Exporter {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Exporter {
    fn start(body: impl Fn() -> (&'static str, String) + Send + 'static) -> Result<Self> {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        listener.set_nonblocking(true)?;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        let _ = stream.set_nonblocking(false);
                        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                        let mut request = [0u8; 4096];
                        let _ = stream.read(&mut request);
                        let (content_type, body) = body();
                        let _ = write!(
                            stream,
                            "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Ok(Self { port, stop })
    }

    /// The checkout service's live metrics (with metadata, unlike the backfilled series),
    /// including the per-session cardinality offender.
    fn checkout() -> Result<Self> {
        let mut body = String::from(
            "# HELP checkout_cart_items Items in an open cart.\n# TYPE checkout_cart_items gauge\n",
        );
        for session in 0..300 {
            let _ = writeln!(
                body,
                "checkout_cart_items{{namespace=\"{NAMESPACE}\",service=\"checkout\",session_id=\"s{session:04}\"}} {}",
                session % 7
            );
        }
        body.push_str("# HELP checkout_inflight_requests Requests being served.\n# TYPE checkout_inflight_requests gauge\ncheckout_inflight_requests{service=\"checkout\"} 3\n");
        Self::start(move || ("text/plain; version=0.0.4", body.clone()))
    }

    /// The history's series now, going on from the backfill.
    fn history(history: History) -> Result<Self> {
        Self::start(move || {
            (
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                history.exposition(now_secs()),
            )
        })
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

fn binary(name: &str) -> Result<PathBuf> {
    for dir in ["/usr/bin", "/usr/local/bin", "/usr/sbin"] {
        let path = PathBuf::from(dir).join(name);
        if path.is_file() {
            return Ok(path);
        }
    }
    bail!("`{name}` is not installed: {INSTALL}")
}

impl Backends {
    /// Start both with the incident history ending now.
    pub fn start() -> Result<Self> {
        Self::start_scraping(&[])
    }

    /// [`Backends::start`], also scraping `targets` (job name, host:port) every 5 s, e.g. the
    /// sandbox cluster's `/metrics`.
    pub fn start_scraping(targets: &[(&str, String)]) -> Result<Self> {
        Self::start_alerting(
            targets,
            "route:\n  receiver: blackhole\n  group_wait: 1s\n  group_interval: 1s\nreceivers:\n  - name: blackhole\n",
        )
    }

    /// [`Backends::start_scraping`] with Alertmanager running `alertmanager_config` (YAML), e.g.
    /// [`paging_config`]'s route to PagerDuty.
    pub fn start_alerting(targets: &[(&str, String)], alertmanager_config: &str) -> Result<Self> {
        let (prometheus_bin, promtool) = (binary("prometheus")?, binary("promtool")?);
        let dir = TempDir::new("prometheus")?;
        let alertmanager = Alertmanager::start(alertmanager_config)?;
        let am_target = alertmanager.url.trim_start_matches("http://").to_owned();
        let prom_port = free_port();
        let history = History::before(now_secs());
        let (checkout, going_on) = (Exporter::checkout()?, Exporter::history(history)?);
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data)?;

        let history_file = dir.path().join("history.om");
        std::fs::write(&history_file, history.backfill())?;
        let out = command(&promtool)
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(&history_file)
            .arg(&data)
            .output()
            .context("running promtool")?;
        if !out.status.success() {
            bail!(
                "promtool could not backfill: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }

        let rules = dir.path().join("rules.yml");
        std::fs::write(&rules, RULES)?;
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 5s\n  evaluation_interval: 2s\nrule_files:\n  - {}\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{am_target}']\nscrape_configs:\n  - job_name: prometheus\n    static_configs:\n      - targets: ['127.0.0.1:{prom_port}']\n  - job_name: node\n    static_configs:\n      - targets: ['127.0.0.1:1']\n  - job_name: checkout\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n  - job_name: history\n    metric_relabel_configs:\n      - action: labeldrop\n        regex: job|instance\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n",
                rules.display(),
                checkout.port,
                going_on.port
            ) + &targets
                .iter()
                .map(|(job, target)| {
                    format!(
                        "  - job_name: {job}\n    static_configs:\n      - targets: ['{target}']\n"
                    )
                })
                .collect::<String>(),
        )?;
        let mut prometheus = command(prometheus_bin);
        prometheus
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .args([
                "--storage.tsdb.retention.time=3650d",
                "--rules.alert.resend-delay=2s",
                "--web.enable-lifecycle",
                "--web.enable-admin-api",
            ]);
        let prometheus = quiet(prometheus, "prometheus")?;
        let backends = Self {
            prometheus_url: format!("http://127.0.0.1:{prom_port}"),
            alertmanager_url: alertmanager.url.clone(),
            prometheus,
            alertmanager,
            _exporters: [checkout, going_on],
            _dir: dir,
        };
        wait_ready(
            &format!("{}/-/ready", backends.prometheus_url),
            "prometheus",
        )?;
        Ok(backends)
    }

    pub fn prometheus_pid(&self) -> u32 {
        self.prometheus.pid()
    }

    pub fn alertmanager_pid(&self) -> u32 {
        self.alertmanager.pid()
    }
}

/// Start a backend with its standard streams closed.
fn quiet(mut cmd: Command, name: &str) -> Result<Process> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    crate::spawn(cmd, name)
}

fn wait_ready(url: &str, name: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    loop {
        if let Ok(mut stream) = std::net::TcpStream::connect(&addr) {
            use std::io::{Read, Write};
            let path = &url[url.find(&addr).unwrap() + addr.len()..];
            let _ = write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
            let mut answer = String::new();
            let _ = stream.read_to_string(&mut answer);
            if answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200") {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            bail!("{name} did not become ready within 30s at {url}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Rules: one alert that always fires, one that stays pending, one on the worker's memory
/// against its limit, and a recording rule.
const RULES: &str = r#"groups:
  - name: incident
    rules:
      - alert: CheckoutErrorBudgetBurn
        expr: vector(1)
        labels: {severity: critical, service: checkout, namespace: shop}
        annotations: {summary: "checkout is burning its error budget", runbook_url: "https://runbooks.example/checkout"}
      - alert: PendingForever
        expr: vector(1)
        for: 1h
        labels: {severity: warning}
        annotations: {summary: "stays pending for an hour"}
      - alert: WorkerMemoryNearLimit
        expr: max by (namespace, pod, container) (container_memory_working_set_bytes{namespace="shop"}) / max by (namespace, pod, container) (kube_pod_container_resource_limits{namespace="shop", resource="memory"}) > 0.9
        labels: {severity: warning}
        annotations: {summary: "a container is close to its memory limit"}
      - alert: ContainerOOMKilled
        expr: max by (namespace, pod, container) (kube_pod_container_status_last_terminated_reason{reason="OOMKilled"}) == 1 and on (namespace, pod, container) time() - max by (namespace, pod, container) (kube_pod_container_status_last_terminated_timestamp) < 600
        labels: {severity: critical}
        annotations: {summary: "a container was killed for running out of memory in the last 10 minutes"}
      - record: job:up:sum
        expr: sum by (job) (up)
"#;
