//! The scheduler and the kubelet, simulated: pending pods are placed on a node with room for
//! their requests (or stay Pending with a FailedScheduling event); containers start, become
//! Ready, write logs and use memory and CPU as their image's [`Behavior`] says — including
//! leaking into their memory limit, being OOM-killed, and restarting with back-off into
//! CrashLoopBackOff. Behavior follows the image and the limits, so a higher limit or a
//! rollback to a good image cures a pod the way it would on a real cluster.

use serde_json::{Value, json};

use super::{
    cluster::Cluster,
    dice::Dice,
    events, quantity,
    resources::find,
    sim::{Behavior, Behaviors, ContainerSim},
    store::{Store, name_of, namespace_of, now, time_of},
};

fn ip_for(name: &str) -> String {
    let h = name
        .bytes()
        .fold(7u32, |a, b| a.wrapping_mul(31).wrapping_add(u32::from(b)));
    format!("10.244.{}.{}", (h >> 8) % 250 + 1, h % 250 + 2)
}

fn condition(kind: &str, status: bool, ts: &str) -> Value {
    json!({ "type": kind, "status": if status { "True" } else { "False" }, "lastProbeTime": null, "lastTransitionTime": ts })
}

fn now_ns() -> i64 {
    jiff::Timestamp::now().as_nanosecond() as i64
}

fn now_s() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// One scheduler and kubelet pass over every pod.
pub fn pods(cluster: &Cluster) {
    let pod_t = find("", "v1", "pods").unwrap();
    let pods: Vec<Value> = cluster
        .store()
        .list(pod_t, None)
        .into_iter()
        .cloned()
        .collect();
    let behaviors = cluster.behaviors();
    for pod in pods {
        let (ns, name) = (namespace_of(&pod).to_owned(), name_of(&pod).to_owned());
        if let Some(at) = pod
            .pointer("/metadata/deletionTimestamp")
            .and_then(Value::as_str)
        {
            // Simulated containers stop within a second of SIGTERM.
            let since = at
                .parse::<jiff::Timestamp>()
                .map_or(i64::MAX, |t| now_s() - t.as_second());
            if since >= 1 {
                remove(cluster, &ns, &name);
            }
            continue;
        }
        if pod.pointer("/spec/nodeName").is_none() {
            schedule(cluster, &pod);
            continue;
        }
        run(cluster, &pod, &behaviors);
    }
}

/// Remove a pod whose containers have stopped, and what the simulation kept for it.
fn remove(cluster: &Cluster, ns: &str, name: &str) {
    let _ = cluster
        .store()
        .delete(find("", "v1", "pods").unwrap(), ns, name, false);
    cluster
        .containers()
        .retain(|(n, p, _), _| !(n == ns && p == name));
    cluster
        .unschedulable()
        .remove(&(ns.to_owned(), name.to_owned()));
}

/// Remove every terminating pod at once: for a scenario whose changes happened long before
/// the start, the pods they replaced are gone.
pub fn settle(cluster: &Cluster) {
    let terminating: Vec<(String, String)> = cluster
        .store()
        .list(find("", "v1", "pods").unwrap(), None)
        .into_iter()
        .filter(|p| p.pointer("/metadata/deletionTimestamp").is_some())
        .map(|p| (namespace_of(p).to_owned(), name_of(p).to_owned()))
        .collect();
    for (ns, name) in terminating {
        remove(cluster, &ns, &name);
    }
}

fn requests_bytes(pod: &Value) -> u64 {
    pod.pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| {
            c.pointer("/resources/requests/memory")
                .and_then(Value::as_str)
        })
        .filter_map(quantity::bytes)
        .sum()
}

/// Place a pod on the schedulable node with the most free memory that fits its requests; one
/// that fits nowhere is tried again as kube-scheduler does ([`super::sim::Unschedulable`]), each failure a
/// FailedScheduling event (counted).
fn schedule(cluster: &Cluster, pod: &Value) {
    let (pod_t, node_t) = (
        find("", "v1", "pods").unwrap(),
        find("", "v1", "nodes").unwrap(),
    );
    let (ns, name) = (namespace_of(pod).to_owned(), name_of(pod).to_owned());
    let mut store = cluster.store();
    let wanted = requests_bytes(pod);
    // A cordoned node takes no new pods (its free memory counts as none, so that uncordoning
    // it is a change the back-off notices).
    let cordoned: Vec<String> = store
        .list(node_t, None)
        .into_iter()
        .filter(|n| n.pointer("/spec/unschedulable") == Some(&json!(true)))
        .map(|n| name_of(n).to_owned())
        .collect();
    let nodes: Vec<(String, u64)> = store
        .list(node_t, None)
        .into_iter()
        .map(|n| {
            if cordoned.iter().any(|c| c == name_of(n)) {
                return (name_of(n).to_owned(), 0);
            }
            let allocatable = n
                .pointer("/status/allocatable/memory")
                .and_then(Value::as_str)
                .and_then(quantity::bytes)
                .unwrap_or(0);
            let used: u64 = store
                .list(pod_t, None)
                .into_iter()
                .filter(|p| p.pointer("/spec/nodeName").and_then(Value::as_str) == Some(name_of(n)))
                .map(requests_bytes)
                .sum();
            (name_of(n).to_owned(), allocatable.saturating_sub(used))
        })
        .collect();
    let total = nodes.len();
    let ts = now();
    let key = (ns.clone(), name.clone());
    let free: Vec<u64> = nodes.iter().map(|(_, free)| *free).collect();
    if cluster
        .unschedulable()
        .get(&key)
        .is_some_and(|u| !u.due(now_s(), &free))
    {
        return;
    }
    match nodes
        .into_iter()
        .filter(|(node, free)| *free >= wanted && !cordoned.contains(node))
        .max_by_key(|(_, free)| *free)
    {
        Some((node, _)) => {
            cluster.unschedulable().remove(&key);
            let updated = store.modify(pod_t, &ns, &name, |p| {
                p["spec"]["nodeName"] = json!(node);
                p["status"]["conditions"] = json!([condition("PodScheduled", true, &ts)]);
            });
            if let Some(pod) = updated {
                events::record(
                    &mut store,
                    &pod,
                    "Normal",
                    "Scheduled",
                    &format!("Successfully assigned {ns}/{name} to {node}"),
                    "default-scheduler",
                );
            }
        }
        None => {
            let mut unschedulable = cluster.unschedulable();
            let retry = unschedulable.entry(key).or_default();
            retry.attempts += 1;
            retry.last = now_s();
            retry.free = free;
            drop(unschedulable);
            // kube-scheduler's wording: each reason with its node count, sorted.
            let short = total - cordoned.len();
            let mut reasons = Vec::new();
            if short > 0 {
                reasons.push(format!("{short} Insufficient memory"));
            }
            if !cordoned.is_empty() {
                reasons.push(format!("{} node(s) were unschedulable", cordoned.len()));
            }
            let preemption = if short > 0 {
                format!(
                    " preemption: 0/{total} nodes are available: {short} No preemption victims found for incoming pod."
                )
            } else {
                String::new()
            };
            let message = format!(
                "0/{total} nodes are available: {}.{preemption}",
                reasons.join(", ")
            );
            let updated = store.modify(pod_t, &ns, &name, |p| {
                p["status"]["conditions"] = json!([{ "type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message, "lastProbeTime": null, "lastTransitionTime": ts }]);
            });
            if let Some(pod) = updated {
                events::record(
                    &mut store,
                    &pod,
                    "Warning",
                    "FailedScheduling",
                    &message,
                    "default-scheduler",
                );
            }
        }
    }
}

/// What one container is doing now, for its status.
struct ContainerView {
    status: Value,
    ready: bool,
    running: bool,
}

/// Start, advance and restart a scheduled pod's containers, then write its status.
fn run(cluster: &Cluster, pod: &Value, behaviors: &Behaviors) {
    let pod_t = find("", "v1", "pods").unwrap();
    let (ns, name) = (namespace_of(pod).to_owned(), name_of(pod).to_owned());
    let containers: Vec<Value> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let old_statuses: Vec<Value> = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut notes: Vec<(&'static str, &'static str, String)> = Vec::new();
    let mut views = Vec::new();
    let mut shipped = Vec::new();
    {
        let mut sims = cluster.containers();
        for c in &containers {
            let cname = c["name"].as_str().unwrap_or_default().to_owned();
            let image = c["image"].as_str().unwrap_or_default().to_owned();
            let behavior = behaviors.0.get(&image).cloned().unwrap_or_default();
            let limit = c
                .pointer("/resources/limits/memory")
                .and_then(Value::as_str)
                .and_then(quantity::bytes);
            let sim = sims
                .entry((ns.clone(), name.clone(), cname.clone()))
                .or_default();
            let old = old_statuses.iter().find(|s| s["name"] == cname.as_str());
            views.push(advance(
                sim, &cname, &image, &behavior, limit, old, &mut notes, &name,
            ));
            shipped.push((
                cname,
                std::mem::take(&mut sim.unshipped),
                std::mem::take(&mut sim.kernel),
            ));
        }
    }
    ship(cluster, pod, shipped);
    let ts = now();
    let all_ready = views.iter().all(|v| v.ready);
    let any_running = views.iter().any(|v| v.running);
    let statuses: Vec<Value> = views.iter().map(|v| v.status.clone()).collect();
    let mut store = cluster.store();
    let host_ip = node_ip(&store, pod);
    let updated = store.modify(pod_t, &ns, &name, |p| {
        let was = p.pointer("/status/conditions").cloned().unwrap_or(json!([]));
        let since = |kind: &str, status: bool| {
            was.as_array()
                .and_then(|c| c.iter().find(|c| c["type"] == kind))
                .filter(|c| c["status"] == if status { "True" } else { "False" })
                .map_or_else(|| json!(ts), |c| c["lastTransitionTime"].clone())
        };
        let cond = |kind: &str, status: bool| {
            let mut c = condition(kind, status, "");
            c["lastTransitionTime"] = since(kind, status);
            if !status && (kind == "Ready" || kind == "ContainersReady") {
                let unready: Vec<&str> = views.iter().filter(|v| !v.ready).filter_map(|v| v.status["name"].as_str()).collect();
                c["reason"] = json!("ContainersNotReady");
                c["message"] = json!(format!("containers with unready status: [{}]", unready.join(" ")));
            }
            c
        };
        // Running once a container has run (also while it waits to restart after a crash).
        let has_run = views.iter().any(|v| v.status.pointer("/lastState/terminated").is_some());
        let phase = if any_running || has_run { "Running" } else { "Pending" };
        let start = p.pointer("/status/startTime").cloned().unwrap_or_else(|| json!(ts));
        p["status"] = json!({
            "phase": phase, "hostIP": host_ip, "hostIPs": [{ "ip": host_ip }],
            "podIP": ip_for(&name), "podIPs": [{ "ip": ip_for(&name) }], "startTime": start,
            "qosClass": qos(&containers),
            "conditions": [cond("PodReadyToStartContainers", true), cond("Initialized", true), cond("Ready", all_ready), cond("ContainersReady", all_ready), cond("PodScheduled", true)],
            "containerStatuses": statuses,
        });
    });
    if let Some(pod) = updated {
        for (kind, reason, message) in notes {
            events::record(&mut store, &pod, kind, reason, &message, "kubelet");
        }
    }
}

/// A container's name, its new output and kernel lines about it, each as (ns, line).
type Shipped = (String, Vec<(i64, String)>, Vec<(i64, String)>);

/// What a log agent on the node does: container output to the pod's stream, kernel lines to
/// the node's.
fn ship(cluster: &Cluster, pod: &Value, shipped: Vec<Shipped>) {
    use super::history;
    let logs = cluster.log_sink();
    let app = pod
        .pointer("/metadata/labels/app")
        .and_then(Value::as_str)
        .unwrap_or_else(|| name_of(pod));
    let node = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    for (container, stdout, kernel) in shipped {
        let labels = history::container_labels(namespace_of(pod), name_of(pod), &container, app);
        logs.push(labels, stdout);
        cluster.write_kernel_log(node, &kernel);
        logs.push(history::kernel_labels(node), kernel);
    }
}

fn node_ip(store: &Store, pod: &Value) -> String {
    let node = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    store
        .get(find("", "v1", "nodes").unwrap(), "", node)
        .and_then(|n| {
            n.pointer("/status/addresses/0/address")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_default()
}

fn qos(containers: &[Value]) -> &'static str {
    let all_guaranteed = containers.iter().all(|c| {
        let r = &c["resources"];
        r.pointer("/limits/memory").is_some()
            && r.pointer("/limits/cpu").is_some()
            && r.get("requests").is_none_or(|q| q == &r["limits"])
    });
    let none = containers.iter().all(|c| {
        c.get("resources")
            .is_none_or(|r| r.as_object().is_none_or(|o| o.is_empty()))
    });
    if none {
        "BestEffort"
    } else if all_guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

fn log(sim: &mut ContainerSim, line: String) {
    log_at(sim, now_ns(), line);
}

/// A line the container wrote at `ns`, for `kubectl logs` and the log agent.
fn log_at(sim: &mut ContainerSim, ns: i64, line: String) {
    let line = super::history::stamped(ns, &line);
    sim.unshipped.push((ns, line.clone()));
    sim.logs.push((ns.div_euclid(1_000_000_000), line));
    if sim.logs.len() > 5000 {
        sim.logs.drain(..1000);
    }
}

/// Advance one container by its behavior and return its status.
#[allow(clippy::too_many_arguments)]
fn advance(
    sim: &mut ContainerSim,
    cname: &str,
    image: &str,
    behavior: &Behavior,
    limit: Option<u64>,
    old: Option<&Value>,
    notes: &mut Vec<(&'static str, &'static str, String)>,
    pod: &str,
) -> ContainerView {
    let t = now_s();
    let restarts = old.and_then(|o| o["restartCount"].as_i64()).unwrap_or(0);
    let mut status = json!({
        "name": cname, "image": image, "imageID": "", "containerID": sim.container_id,
        "restartCount": restarts, "started": false, "ready": false, "state": {}, "lastState": old.and_then(|o| o.get("lastState")).cloned().unwrap_or(json!({})),
    });
    if *behavior == Behavior::ImagePullFails {
        sim.pull_attempts += 1;
        let reason = if sim.pull_attempts <= 2 {
            "ErrImagePull"
        } else {
            "ImagePullBackOff"
        };
        if sim.pull_attempts == 1 || sim.pull_attempts.is_multiple_of(40) {
            notes.push(("Normal", "Pulling", format!("Pulling image \"{image}\"")));
            notes.push(("Warning", "Failed", format!("Failed to pull image \"{image}\": rpc error: code = NotFound desc = failed to pull and unpack image \"docker.io/{image}\": failed to resolve reference \"docker.io/{image}\": docker.io/{image}: not found")));
            notes.push(("Warning", "Failed", "Error: ErrImagePull".into()));
        } else if sim.pull_attempts.is_multiple_of(20) {
            notes.push((
                "Normal",
                "BackOff",
                format!("Back-off pulling image \"{image}\""),
            ));
            notes.push(("Warning", "Failed", "Error: ImagePullBackOff".into()));
        }
        let message = if reason == "ErrImagePull" {
            format!("failed to pull and unpack image \"docker.io/{image}\": not found")
        } else {
            format!("Back-off pulling image \"{image}\"")
        };
        status["state"] = json!({ "waiting": { "reason": reason, "message": message } });
        return ContainerView {
            status,
            ready: false,
            running: false,
        };
    }
    status["imageID"] = json!(format!("docker.io/{image}@sha256:{}", &hex_of(image)));
    // In back-off after a crash?
    if let Some(until) = sim.backoff_until {
        if t < until {
            status["state"] = json!({ "waiting": { "reason": "CrashLoopBackOff", "message": format!("back-off {}s restarting failed container={cname} pod={pod}", sim.backoff_secs) } });
            if (until - t) % 15 == 0 && !sim.backoff_noted {
                notes.push((
                    "Warning",
                    "BackOff",
                    format!("Back-off restarting failed container {cname} in pod {pod}"),
                ));
                sim.backoff_noted = true;
            }
            return ContainerView {
                status,
                ready: false,
                running: false,
            };
        }
        sim.backoff_until = None;
        sim.started_at = None;
    }
    if sim.started_at.is_none() {
        // (Re)start.
        sim.started_at = Some(t);
        sim.last_step = t;
        sim.backoff_noted = false;
        let id = uuid::Uuid::new_v4();
        sim.container_id = format!("containerd://{}", id.simple());
        sim.dice = Dice::new(id.as_u64_pair().0);
        status["containerID"] = json!(sim.container_id);
        let (memory, cpu) = match behavior {
            Behavior::Healthy {
                memory_mib,
                cpu_millis,
                ..
            }
            | Behavior::NeverReady {
                memory_mib,
                cpu_millis,
            } => (*memory_mib, *cpu_millis),
            Behavior::Leak(leak) => (leak.base_mib, leak.cpu_millis),
            Behavior::ImagePullFails => (0, 0),
        };
        sim.memory = memory * 1024 * 1024;
        sim.cpu_millis = cpu;
        notes.push((
            "Normal",
            "Pulled",
            format!("Container image \"{image}\" already present on machine"),
        ));
        notes.push(("Normal", "Created", format!("Created container: {cname}")));
        notes.push(("Normal", "Started", format!("Started container {cname}")));
        for line in super::history::start_lines(cname, image, behavior) {
            log(sim, line);
        }
    }
    let started = sim.started_at.unwrap_or(t);
    match behavior {
        Behavior::Leak(leak) => {
            // (Never before what it already wrote: the limit of a running container is the
            // one it started with, unless someone resized it in place.)
            let killed_at = leak
                .killed_at(limit)
                .map(|age| (started + age).max(sim.last_step));
            let until = killed_at.map_or(t, |k| k.min(t));
            for (ns, line) in super::history::at_run(
                started,
                leak.lines(
                    sim.last_step - started,
                    until - started,
                    limit,
                    &mut sim.dice,
                ),
            ) {
                log_at(sim, ns, line);
            }
            sim.last_step = until;
            sim.memory = leak.held_mib(until - started) * 1024 * 1024;
            if let Some(killed) = killed_at.filter(|k| *k <= t) {
                // The kernel's OOM killer: exit 137, no last words.
                let pid = 1000 + sim.dice.draw() % 30_000;
                sim.kernel.push((
                    killed * 1_000_000_000,
                    super::history::oom_line(cname, pid, sim.memory / 1024),
                ));
                status["lastState"] =
                    super::history::oom_killed(started, killed, &sim.container_id);
                status["restartCount"] = json!(restarts + 1);
                sim.previous = Some(std::mem::take(&mut sim.logs));
                sim.memory = 0;
                sim.started_at = None;
                let backoff = sim.crashed(killed);
                status["state"] = json!({ "waiting": { "reason": "CrashLoopBackOff", "message": format!("back-off {backoff}s restarting failed container={cname} pod={pod}") } });
                notes.push((
                    "Warning",
                    "BackOff",
                    format!("Back-off restarting failed container {cname} in pod {pod}"),
                ));
                return ContainerView {
                    status,
                    ready: false,
                    running: false,
                };
            }
        }
        Behavior::NeverReady { .. } => {
            if t - sim.last_step >= 10 {
                sim.last_step = t;
                log(sim, "WARN dependency check failed: upstream checkout:8080 unreachable; reporting not ready".into());
                notes.push((
                    "Warning",
                    "Unhealthy",
                    "Readiness probe failed: HTTP probe failed with statuscode: 503".into(),
                ));
            }
        }
        Behavior::Healthy {
            access_log: true, ..
        } => {
            // About a request a second.
            while t - sim.last_step >= 1 {
                sim.last_step += 1;
                let line = super::history::checkout_line(now_ns(), &mut sim.dice, 0.004);
                sim.unshipped.push((now_ns(), line.clone()));
                sim.logs.push((t, line));
            }
            if sim.logs.len() > 5000 {
                sim.logs.drain(..1000);
            }
        }
        _ => {
            if t - sim.last_step >= 10 {
                sim.last_step = t;
                log(
                    sim,
                    format!(
                        "INFO served requests; {} MiB in use",
                        sim.memory / 1024 / 1024
                    ),
                );
            }
        }
    }
    let ready = !matches!(behavior, Behavior::NeverReady { .. });
    status["state"] = json!({ "running": { "startedAt": time_of(started) } });
    status["started"] = json!(true);
    status["ready"] = json!(ready);
    ContainerView {
        status,
        ready,
        running: true,
    }
}

fn hex_of(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}
