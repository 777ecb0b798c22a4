//! The logs a log agent would have shipped from the cluster: stream labels as Grafana Alloy's
//! Kubernetes pod discovery sets them, the checkout service's JSON access log, the kernel's
//! OOM-killer lines, and six hours of history for the incident scenario — the same timeline as
//! the Prometheus fixture: the worker leaks into its 64Mi limit and is OOM-killed every 80
//! minutes, and checkout's 5xx share jumps from 0.4% to a third between 60 and 40 minutes ago.

use serde_json::Value;

use super::{cluster::Cluster, resources::find, sim::Dice, store::name_of};
use crate::flows::{Labels, labels};

/// Labels of a container's stdout stream.
pub fn container_labels(namespace: &str, pod: &str, container: &str, app: &str) -> Labels {
    let job = format!("{namespace}/{app}");
    labels([
        ("namespace", namespace),
        ("pod", pod),
        ("container", container),
        ("app", app),
        ("job", job.as_str()),
        ("stream", "stdout"),
    ])
}

/// Labels of a node's kernel log (the journal's `-k` lines).
pub fn kernel_labels(node: &str) -> Labels {
    labels([("job", "node/kernel"), ("node_name", node)])
}

/// The kernel's OOM-killer line for a container's main process.
pub fn oom_line(container: &str, pid: u64, rss_kib: u64) -> String {
    format!(
        "Memory cgroup out of memory: Killed process {pid} ({container}) total-vm:{}kB, anon-rss:{rss_kib}kB, file-rss:1024kB, shmem-rss:0kB, UID:1000 pgtables:412kB oom_score_adj:999",
        rss_kib * 12
    )
}

fn rfc3339(ns: i64) -> String {
    jiff::Timestamp::from_nanosecond(i128::from(ns))
        .map(|t| format!("{t:.3}"))
        .unwrap_or_default()
}

/// One checkout access-log line; `error_share` of requests fail.
pub fn checkout_line(ns: i64, dice: &mut Dice, error_share: f64) -> String {
    let trace = format!("{:016x}", dice.draw());
    let paths = [
        "/api/checkout",
        "/api/cart",
        "/api/cart/items",
        "/api/checkout/confirm",
    ];
    let path = paths[(dice.draw() % paths.len() as u64) as usize];
    let method = if path == "/api/cart" { "GET" } else { "POST" };
    let ts = rfc3339(ns);
    if dice.unit() < error_share {
        let roll = dice.unit();
        let (status, msg, error, ms) = if roll < 0.6 {
            (
                502,
                "payment authorization failed",
                "upstream payments timed out after 3000ms".to_owned(),
                3000 + dice.draw() % 40,
            )
        } else if roll < 0.9 {
            (
                503,
                "inventory reservation failed",
                format!(
                    "dial tcp 10.96.20.{}:5432: connect: connection refused",
                    30 + dice.draw() % 3
                ),
                5 + dice.draw() % 20,
            )
        } else {
            (
                500,
                "panic recovered",
                "runtime error: invalid memory address or nil pointer dereference in cart.Total"
                    .to_owned(),
                40 + dice.draw() % 60,
            )
        };
        format!(
            r#"{{"ts":"{ts}","level":"error","msg":"{msg}","method":"{method}","path":"{path}","status":{status},"duration_ms":{ms},"error":"{error}","trace_id":"{trace}"}}"#
        )
    } else {
        let ms = 20 + dice.draw() % 180;
        format!(
            r#"{{"ts":"{ts}","level":"info","msg":"request served","method":"{method}","path":"{path}","status":200,"duration_ms":{ms},"trace_id":"{trace}"}}"#
        )
    }
}

/// The checkout error share at `ns`, given the history's end.
fn checkout_error_share(ns: i64, end: i64) -> f64 {
    let minute = 60_000_000_000;
    if (end - 60 * minute..end - 40 * minute).contains(&ns) {
        1.0 / 3.0
    } else {
        0.004
    }
}

const SECOND: i64 = 1_000_000_000;

/// Six hours of history up to `end` (ns) for the pods of `app=worker` and `app=checkout` in
/// `shop` that exist now.
pub fn backfill(cluster: &Cluster, end: i64) {
    let pods: Vec<Value> = cluster
        .store()
        .list(find("", "v1", "pods").unwrap(), Some("shop"))
        .into_iter()
        .cloned()
        .collect();
    let start = end - 6 * 3600 * SECOND;
    let mut worker_done = false;
    for pod in &pods {
        let name = name_of(pod);
        let node = pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .unwrap_or("node-a");
        match pod.pointer("/metadata/labels/app").and_then(Value::as_str) {
            Some("checkout") => {
                let mut dice = Dice::new(name.bytes().map(u64::from).sum());
                let mut lines = Vec::new();
                let mut t = start;
                while t < end {
                    lines.push((t, checkout_line(t, &mut dice, checkout_error_share(t, end))));
                    t += 5 * SECOND + (dice.draw() % 1000) as i64 * 1_000_000;
                }
                cluster.log_sink().push(
                    container_labels("shop", name, "checkout", "checkout"),
                    lines,
                );
            }
            // One worker pod: the one running the deployment's current image.
            Some("worker") if !worker_done && runs_current_image(cluster, pod) => {
                worker_done = true;
                worker(cluster, name, node, start, end);
            }
            _ => {}
        }
    }
}

fn runs_current_image(cluster: &Cluster, pod: &Value) -> bool {
    let app = pod
        .pointer("/metadata/labels/app")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let deployment = cluster
        .store()
        .get(find("apps", "v1", "deployments").unwrap(), "shop", app)
        .cloned();
    deployment.is_none_or(|d| {
        d.pointer("/spec/template/spec/containers/0/image")
            == pod.pointer("/spec/containers/0/image")
    })
}

/// Runs of 80 minutes that end in the OOM killer: allocation lines as the cache grows from 20
/// to 64 MiB, batch lines between them.
fn worker(cluster: &Cluster, pod: &str, node: &str, start: i64, end: i64) {
    let period = 80 * 60 * SECOND;
    let mut stdout = Vec::new();
    let mut kernel = Vec::new();
    let mut dice = Dice::new(7);
    // The last OOM was 25 minutes ago; runs before it every 80 minutes.
    let mut run_start = end - 25 * 60 * SECOND - period;
    while run_start - period > start {
        run_start -= period;
    }
    while run_start < end {
        let mut t = run_start.max(start);
        let oom_at = run_start + period;
        if t == run_start {
            stdout.push((
                t,
                format!("{} INFO starting worker (shop/worker:1.4.2)", rfc3339(t)),
            ));
            stdout.push((
                t + SECOND,
                format!(
                    "{} INFO batch worker ready; caching the working set in memory",
                    rfc3339(t + SECOND)
                ),
            ));
        }
        let mut chunk = 0;
        while t < oom_at.min(end) {
            t += 30 * SECOND;
            let held = 20 + (44 * (t - run_start) / period) as u64;
            if (t - run_start) / (30 * SECOND) % 4 == 0 {
                chunk += 1;
                stdout.push((
                    t,
                    format!(
                        "{} INFO allocated chunk #{chunk} (1MB), holding {held} MiB; nothing freed",
                        rfc3339(t)
                    ),
                ));
            } else {
                stdout.push((
                    t,
                    format!(
                        "{} INFO processed batch of 500 orders in {:.1}s",
                        rfc3339(t),
                        0.8 + dice.unit()
                    ),
                ));
            }
            if oom_at - t <= 90 * SECOND && oom_at - t > 60 * SECOND {
                stdout.push((t + SECOND, format!("{} WARN heap pressure: holding {held} MiB of a 64 MiB limit; the cache frees nothing", rfc3339(t + SECOND))));
            }
        }
        if oom_at < end {
            kernel.push((
                oom_at,
                oom_line(
                    "worker",
                    4000 + dice.draw() % 1000,
                    65_400 + dice.draw() % 200,
                ),
            ));
        }
        run_start = oom_at + 10 * SECOND;
    }
    let logs = cluster.log_sink();
    logs.push(container_labels("shop", pod, "worker", "worker"), stdout);
    cluster.write_kernel_log(node, &kernel);
    logs.push(kernel_labels(node), kernel);
}
