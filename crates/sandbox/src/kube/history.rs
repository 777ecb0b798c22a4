//! The logs a log agent would have shipped from the cluster: stream labels as Grafana Alloy's
//! Kubernetes pod discovery sets them, the checkout service's JSON access log, the kernel's
//! OOM-killer lines, and six hours of history for the incident scenario — the same timeline as
//! the Prometheus fixture: the worker leaks into its 64Mi limit and is OOM-killed about every
//! 80 minutes, and checkout's 5xx share jumps from 0.4% to a third between 60 and 40 minutes
//! ago.
//!
//! The worker's runs come from its image's [`Leak`] model, as the live kubelet's do, and the
//! run the history leaves going is handed to the kubelet: it is killed a few seconds after the
//! start (what the incident drill pages on) and the runs after it keep the history's pace, so
//! the last six hours look the same however long the sandbox runs. Checkout's spike is a
//! past event and stays where it happened.

use serde_json::{Value, json};

use super::{
    cluster::Cluster,
    dice::Dice,
    leak::Leak,
    quantity,
    resources::find,
    sim::{Behavior, ContainerSim},
    store::{name_of, namespace_of, time_of},
};
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

/// A container's last state once the OOM killer ended its run (`started`, `killed`: unix
/// seconds).
pub fn oom_killed(started: i64, killed: i64, container_id: &str) -> Value {
    json!({ "terminated": { "exitCode": 137, "reason": "OOMKilled", "startedAt": time_of(started), "finishedAt": time_of(killed), "containerID": container_id } })
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

/// A container's stdout line as the worker writes it: its time, then the message.
pub fn stamped(ns: i64, message: &str) -> String {
    format!("{} {message}", rfc3339(ns))
}

/// A run's lines by age (seconds since it started at `run_start`, unix seconds) as (ns,
/// message), lines of the same second a millisecond apart so that they keep their order.
pub fn at_run(run_start: i64, lines: Vec<(i64, String)>) -> Vec<(i64, String)> {
    let mut last = i64::MIN;
    lines
        .into_iter()
        .map(|(age, line)| {
            let ns = ((run_start + age) * SECOND).max(last + 1_000_000);
            last = ns;
            (ns, line)
        })
        .collect()
}

/// What a container writes when it starts.
pub fn start_lines(container: &str, image: &str, behavior: &Behavior) -> [String; 2] {
    [
        format!("INFO starting {container} ({image})"),
        match behavior {
            Behavior::Leak(_) => "INFO batch worker ready; caching the working set in memory",
            _ => "INFO listening on :8080",
        }
        .to_owned(),
    ]
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
/// `shop` that exist now; call it before the kubelet starts the worker's pod, which takes
/// over the run the history leaves going.
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
                worker(cluster, pod, start / SECOND, end / SECOND);
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

/// Seconds from the start to the kill that ends the run the history leaves going.
const LIVE_KILL_AFTER: i64 = 15;

/// The kubelet's first restart back-off (each run lasts long enough for it to start over).
const RESTART_SECS: i64 = 10;

/// The worker's runs from `start` to `end` (unix seconds) by its image's [`Leak`]: each ends in
/// the OOM killer and restarts after the first back-off; the last is still going and is
/// handed to the kubelet with the pod's restart count and last state.
fn worker(cluster: &Cluster, pod: &Value, start: i64, end: i64) {
    let Some(container) = pod.pointer("/spec/containers/0") else {
        return;
    };
    let cname = container["name"].as_str().unwrap_or("worker");
    let image = container["image"].as_str().unwrap_or_default();
    let behavior = cluster
        .behaviors()
        .0
        .get(image)
        .cloned()
        .unwrap_or_default();
    let Behavior::Leak(leak) = &behavior else {
        return;
    };
    let limit = container
        .pointer("/resources/limits/memory")
        .and_then(Value::as_str)
        .and_then(quantity::bytes);
    let node = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .unwrap_or("node-a");
    // The pod came to be when its image went live; its first run began right after.
    let born = pod
        .pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .map_or(start, |t| t.as_second() + 2);
    // Run starts, newest first: the live one, then back to the one going at `start` (the runs
    // before are only counted, in the restarts).
    let mut runs = Vec::new();
    let mut restarts = 0;
    match leak.killed_at(limit) {
        Some(length) => {
            let period = length + RESTART_SECS;
            let live = end + LIVE_KILL_AFTER - length;
            restarts = (live - born).max(0) / period;
            let shown = restarts.min(((live - start).max(0) + period - 1) / period);
            runs.extend((0..=shown).map(|k| live - k * period));
        }
        None => runs.push(born.max(start)),
    }
    runs.reverse();
    let mut dice = Dice::new(7);
    let (mut stdout, mut kernel) = (Vec::new(), Vec::new());
    let mut sim = ContainerSim {
        cpu_millis: leak.cpu_millis,
        container_id: format!("containerd://{}", uuid::Uuid::new_v4().simple()),
        dice: Dice::new(11),
        ..ContainerSim::default()
    };
    let started = start_lines(cname, image, &behavior);
    let mut last_state = json!({});
    let live = *runs.last().unwrap_or(&start);
    for &run in &runs {
        let until = if run == live {
            end - run
        } else {
            leak.killed_at(limit).unwrap_or(end - run)
        };
        let lines = run_lines(leak, &started, until, limit, &mut dice);
        let lines: Vec<(i64, String)> = at_run(run, lines)
            .into_iter()
            .filter(|(ns, _)| *ns >= start * SECOND)
            .map(|(ns, line)| (ns, stamped(ns, &line)))
            .collect();
        stdout.extend(lines.iter().cloned());
        let seconds = lines.into_iter().map(|(ns, l)| (ns / SECOND, l)).collect();
        if run == live {
            sim.logs = seconds;
            sim.started_at = Some(run);
            sim.last_step = end;
            sim.memory = leak.held_mib(until) * 1024 * 1024;
            continue;
        }
        let killed = run + until;
        let rss_kib = leak.held_mib(until) * 1024;
        kernel.push((
            killed * SECOND,
            oom_line(cname, 4000 + dice.draw() % 1000, rss_kib),
        ));
        sim.previous = Some(seconds);
        sim.last_crash = Some(killed);
        let id = format!("containerd://{}", uuid::Uuid::new_v4().simple());
        last_state = oom_killed(run, killed, &id);
    }
    let logs = cluster.log_sink();
    let (namespace, name) = (namespace_of(pod).to_owned(), name_of(pod).to_owned());
    logs.push(container_labels(&namespace, &name, cname, "worker"), stdout);
    cluster.write_kernel_log(node, &kernel);
    logs.push(kernel_labels(node), kernel);
    // The pod has been there since its image went live, restarting once per kill.
    cluster
        .store()
        .modify(find("", "v1", "pods").unwrap(), &namespace, &name, |p| {
            p["status"]["startTime"] = json!(time_of(born - 1));
            p["status"]["containerStatuses"] =
                json!([{ "name": cname, "restartCount": restarts, "lastState": last_state }]);
        });
    cluster
        .containers()
        .insert((namespace, name, cname.to_owned()), sim);
}

/// A whole run's lines by age: what it writes when it starts, then what the leak writes until
/// `until`.
fn run_lines(
    leak: &Leak,
    started: &[String],
    until: i64,
    limit: Option<u64>,
    dice: &mut Dice,
) -> Vec<(i64, String)> {
    started
        .iter()
        .map(|line| (0, line.clone()))
        .chain(leak.lines(0, until, limit, dice))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{scenario::Scenario, timeline::Timeline};

    #[test]
    fn the_live_worker_keeps_the_pace_of_its_history() {
        let cluster = Cluster::default();
        crate::kube::seed::baseline(&cluster);
        let scenario = Scenario::parse(crate::scenario::INCIDENT).unwrap();
        let end = 1_800_000_000;
        // 1.4.2 went live 19 hours ago.
        let deployed = [("shop/worker:1.4.2".to_owned(), end - 19 * 3600)];
        let timeline = Timeline::new(end, deployed.into_iter().collect(), &[]);
        scenario.kube.apply(&cluster, &timeline).unwrap();
        backfill(&cluster, end * SECOND);

        let pods = cluster.listed(find("", "v1", "pods").unwrap(), Some("shop"));
        let pod = pods
            .iter()
            .find(|p| runs_current_image(&cluster, p) && name_of(p).starts_with("worker-"))
            .unwrap();
        let node = pod["spec"]["nodeName"].as_str().unwrap();
        let kills: Vec<i64> = cluster
            .kernel_log(node)
            .iter()
            .map(|(ns, _)| ns / SECOND)
            .collect();
        assert_eq!(kills.len(), 4, "six hours of 80-minute runs");
        let run = 45 * 106;
        assert!(kills.windows(2).all(|k| k[1] - k[0] == run + RESTART_SECS));
        // The kubelet takes over the run going now: it started a back-off after the last kill
        // and ends in the same rhythm, soon after the start.
        let key = (
            "shop".to_owned(),
            name_of(pod).to_owned(),
            "worker".to_owned(),
        );
        let sim = cluster.containers().get(&key).cloned().unwrap();
        let started = sim.started_at.unwrap();
        assert_eq!(started, kills[3] + RESTART_SECS);
        assert_eq!(started + run, end + LIVE_KILL_AFTER);
        assert_eq!(sim.memory, 64 * 1024 * 1024, "one allocation from the kill");
        assert!(sim.logs.last().unwrap().1.contains("processed batch"));
        assert!(
            sim.previous
                .unwrap()
                .last()
                .unwrap()
                .1
                .ends_with("holding 65 MiB; nothing freed")
        );
        let status = &cluster
            .store()
            .get(find("", "v1", "pods").unwrap(), "shop", name_of(pod))
            .unwrap()["status"]["containerStatuses"][0]
            .clone();
        // Every 4,780 s since the deploy, though Loki only holds the last six hours.
        assert_eq!(status["restartCount"], (19 * 3600 - 4755 - 2) / 4780);
        assert_eq!(status["lastState"]["terminated"]["reason"], "OOMKilled");
    }
}
