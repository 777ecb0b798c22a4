//! A real Prometheus and Alertmanager (Debian's packages) on free loopback ports, with six hours
//! of backfilled incident history and a rule file, for the server tests, the demo and the
//! benchmarks. Both processes are stopped by PID when [`Backends`] is dropped.
//!
//! The history tells one story: in namespace `shop`, the `worker` pod leaks memory against its
//! 64Mi limit and is OOM-killed about every 80 minutes (its restart counter climbs); the
//! `checkout` service's 5xx ratio spikes from 0.4% to a third of requests between 60 and 40
//! minutes ago. A small exporter serves `checkout_cart_items`, whose per-session label is the
//! cardinality offender the TSDB status shows.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, Result, bail};

use crate::{Process, TempDir, command, free_port};

const INSTALL: &str = "install them with `apt-get install -y prometheus prometheus-alertmanager` (or run scripts/setup.sh)";

/// The pods and services of the history.
pub const NAMESPACE: &str = "shop";
pub const WORKER_POD: &str = "worker-7d9f8b6c4-x2x7k";
pub const CHECKOUT_POD: &str = "checkout-5c8d7f9b6-q4m2n";
pub const MEMORY_LIMIT: f64 = 64.0 * 1024.0 * 1024.0;

pub struct Backends {
    pub prometheus_url: String,
    pub alertmanager_url: String,
    prometheus: Process,
    alertmanager: Alertmanager,
    _exporter: Exporter,
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
/// (`app="worker"`), grouped by alert name and namespace, and drops the rest.
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
        "route:\n  receiver: blackhole\n  group_by: [alertname, namespace]\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n  routes:\n    - receiver: pagerduty\n      matchers: [{matchers}]\nreceivers:\n  - name: blackhole\n  - name: pagerduty\n    pagerduty_configs:\n      - routing_key: {routing_key}\n        url: {events_url}\n        http_config:\n          tls_config:\n            ca_file: {}\n",
        ca_file.display()
    )
}

/// A scrape target serving the checkout service's live metrics (with metadata, unlike the
/// backfilled series), including the per-session cardinality offender. Stops when dropped.
struct Exporter {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Exporter {
    fn start() -> Result<Self> {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        listener.set_nonblocking(true)?;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
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
        std::thread::spawn(move || {
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        let _ = stream.set_nonblocking(false);
                        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                        let mut request = [0u8; 4096];
                        let _ = stream.read(&mut request);
                        let _ = write!(
                            stream,
                            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Ok(Self { port, stop })
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
        let exporter = Exporter::start()?;
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data)?;

        let history = dir.path().join("history.om");
        std::fs::write(&history, history_openmetrics(now_secs()))?;
        let out = command(&promtool)
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(&history)
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
                "global:\n  scrape_interval: 5s\n  evaluation_interval: 2s\nrule_files:\n  - {}\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{am_target}']\nscrape_configs:\n  - job_name: prometheus\n    static_configs:\n      - targets: ['127.0.0.1:{prom_port}']\n  - job_name: node\n    static_configs:\n      - targets: ['127.0.0.1:1']\n  - job_name: checkout\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n",
                rules.display(),
                exporter.port
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
            _exporter: exporter,
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

/// Six hours of history, one sample every 30 s, ending a minute before `now`, in OpenMetrics
/// text for `promtool tsdb create-blocks-from openmetrics`.
pub fn history_openmetrics(now: i64) -> String {
    let end = now - 60;
    let start = end - 6 * 3600;
    let step = 30;
    let times: Vec<i64> = (start..=end).step_by(step as usize).collect();
    let mut out = String::with_capacity(4 << 20);
    let oom_period = 80 * 60;

    let _ = writeln!(
        out,
        "# HELP container_memory_working_set_bytes Working set of the container.\n# TYPE container_memory_working_set_bytes gauge"
    );
    for &t in &times {
        // Grows 10MB a minute or so until the kernel kills it just past the limit.
        let phase = ((t - start) % oom_period) as f64 / oom_period as f64;
        let worker = 18e6 + phase * (MEMORY_LIMIT - 18e6) * 1.02;
        let _ = writeln!(
            out,
            "container_memory_working_set_bytes{{namespace=\"{NAMESPACE}\",pod=\"{WORKER_POD}\",container=\"worker\"}} {worker:.0} {t}"
        );
    }
    // Ten batch pods with slow waves: the "6-hour range query over 10 series" of the benchmark.
    for i in 0..10 {
        for &t in &times {
            let v =
                200e6 + 20e6 * i as f64 + 30e6 * ((t as f64) / (1800.0 + 300.0 * i as f64)).sin();
            let _ = writeln!(
                out,
                "container_memory_working_set_bytes{{namespace=\"batch\",pod=\"batch-{i}\",container=\"job\"}} {v:.0} {t}"
            );
        }
    }
    for &t in &times {
        let checkout = 120e6 + 6e6 * ((t as f64) / 900.0).sin();
        let _ = writeln!(
            out,
            "container_memory_working_set_bytes{{namespace=\"{NAMESPACE}\",pod=\"{CHECKOUT_POD}\",container=\"checkout\"}} {checkout:.0} {t}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP container_cpu_usage_seconds Cumulative CPU time.\n# TYPE container_cpu_usage_seconds counter"
    );
    for (pod, container, cores) in [
        (WORKER_POD, "worker", 0.18),
        (CHECKOUT_POD, "checkout", 0.42),
    ] {
        for &t in &times {
            let used = (t - start) as f64 * cores;
            let _ = writeln!(
                out,
                "container_cpu_usage_seconds_total{{namespace=\"{NAMESPACE}\",pod=\"{pod}\",container=\"{container}\"}} {used:.3} {t}"
            );
        }
    }
    for (kind, help, values) in [
        (
            "requests",
            "Requested resources.",
            [
                ("cpu", "core", 0.1, 0.25),
                ("memory", "byte", 32.0 * 1048576.0, 128.0 * 1048576.0),
            ],
        ),
        (
            "limits",
            "Resource limits.",
            [
                ("cpu", "core", 0.5, 1.0),
                ("memory", "byte", MEMORY_LIMIT, 256.0 * 1048576.0),
            ],
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP kube_pod_container_resource_{kind} {help}\n# TYPE kube_pod_container_resource_{kind} gauge"
        );
        for (resource, unit, worker, checkout) in values {
            for (pod, container, v) in [
                (WORKER_POD, "worker", worker),
                (CHECKOUT_POD, "checkout", checkout),
            ] {
                for &t in &times {
                    let _ = writeln!(
                        out,
                        "kube_pod_container_resource_{kind}{{namespace=\"{NAMESPACE}\",pod=\"{pod}\",container=\"{container}\",resource=\"{resource}\",unit=\"{unit}\"}} {v} {t}"
                    );
                }
            }
        }
    }
    let _ = writeln!(
        out,
        "# HELP kube_pod_container_status_restarts Container restarts.\n# TYPE kube_pod_container_status_restarts counter"
    );
    for (pod, container) in [(WORKER_POD, "worker"), (CHECKOUT_POD, "checkout")] {
        for &t in &times {
            let restarts = if pod == WORKER_POD {
                (t - start) / oom_period
            } else {
                0
            };
            let _ = writeln!(
                out,
                "kube_pod_container_status_restarts_total{{namespace=\"{NAMESPACE}\",pod=\"{pod}\",container=\"{container}\"}} {restarts} {t}"
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP http_requests Requests served.\n# TYPE http_requests counter"
    );
    for code in ["200", "500"] {
        let mut count = 0.0;
        for &t in &times {
            let spike = (end - 3600..=end - 2400).contains(&t);
            let rate = match (code, spike) {
                ("200", false) => 50.0,
                ("200", true) => 34.0,
                (_, false) => 0.2,
                (_, true) => 17.0,
            };
            count += rate * step as f64;
            let _ = writeln!(
                out,
                "http_requests_total{{namespace=\"{NAMESPACE}\",service=\"checkout\",code=\"{code}\"}} {count:.0} {t}"
            );
        }
    }
    out.push_str("# EOF\n");
    out
}
