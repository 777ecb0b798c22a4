//! The kubelet, simulated: pods assigned to a node start their containers, become Ready, write
//! logs and use memory and CPU. How a container behaves comes from its image through the
//! scenario's [`Behavior`] table, so changing the image or the limits changes the outcome.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::{
    cluster::Cluster,
    controller::event,
    resources::find,
    store::{name_of, namespace_of, now},
};

/// How a container image behaves once started.
#[derive(Debug, Clone, PartialEq)]
pub enum Behavior {
    /// Starts, serves, logs now and then.
    Healthy { memory_mib: u64, cpu_millis: u64 },
}

impl Default for Behavior {
    fn default() -> Self {
        Behavior::Healthy {
            memory_mib: 24,
            cpu_millis: 5,
        }
    }
}

/// Image → behavior; images not listed are healthy.
#[derive(Debug, Clone, Default)]
pub struct Behaviors(pub HashMap<String, Behavior>);

fn ip_for(name: &str) -> String {
    let h = name
        .bytes()
        .fold(7u32, |a, b| a.wrapping_mul(31).wrapping_add(u32::from(b)));
    format!("10.244.{}.{}", (h >> 8) % 250 + 1, h % 250 + 2)
}

fn condition(kind: &str, status: bool, ts: &str) -> Value {
    json!({ "type": kind, "status": if status { "True" } else { "False" }, "lastProbeTime": null, "lastTransitionTime": ts })
}

/// One kubelet pass over every pod.
pub fn pods(cluster: &Cluster) {
    let pod_t = find("", "v1", "pods").unwrap();
    let pods: Vec<Value> = cluster
        .store()
        .list(pod_t, None)
        .into_iter()
        .cloned()
        .collect();
    for pod in pods {
        if let Some(at) = pod
            .pointer("/metadata/deletionTimestamp")
            .and_then(Value::as_str)
        {
            // Simulated containers stop within a second of SIGTERM.
            let since = at.parse::<jiff::Timestamp>().map_or(i64::MAX, |t| {
                jiff::Timestamp::now().as_second() - t.as_second()
            });
            if since >= 1 {
                let (ns, name) = (namespace_of(&pod).to_owned(), name_of(&pod).to_owned());
                let _ = cluster.store().delete(pod_t, &ns, &name, false);
                cluster
                    .containers()
                    .retain(|(n, p, _), _| !(n == &ns && p == &name));
            }
            continue;
        }
        if pod.pointer("/status/phase").and_then(Value::as_str) == Some("Pending")
            && pod.pointer("/spec/nodeName").is_some()
        {
            start(cluster, &pod);
        } else {
            tick(cluster, &pod);
        }
    }
}

/// Schedule and start a pending pod's containers.
fn start(cluster: &Cluster, pod: &Value) {
    let pod_t = find("", "v1", "pods").unwrap();
    let (ns, name) = (namespace_of(pod).to_owned(), name_of(pod).to_owned());
    let node = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let ts = now();
    let host_ip = cluster
        .store()
        .get(find("", "v1", "nodes").unwrap(), "", &node)
        .and_then(|n| {
            n.pointer("/status/addresses/0/address")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_default();
    let containers: Vec<Value> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let statuses: Vec<Value> = containers
        .iter()
        .map(|c| {
            let image = c["image"].as_str().unwrap_or_default();
            json!({
                "name": c["name"], "image": image, "imageID": format!("docker.io/{image}@sha256:{}", &crate::controller::template_hash(&json!(image))),
                "containerID": format!("containerd://{}", uuid::Uuid::new_v4().simple()),
                "ready": true, "started": true, "restartCount": 0,
                "state": { "running": { "startedAt": ts } }, "lastState": {},
            })
        })
        .collect();
    let mut store = cluster.store();
    let updated = store.modify(pod_t, &ns, &name, |p| {
        p["status"] = json!({
            "phase": "Running", "hostIP": host_ip, "hostIPs": [{ "ip": host_ip }], "podIP": ip_for(&name),
            "podIPs": [{ "ip": ip_for(&name) }], "startTime": ts, "qosClass": p.pointer("/status/qosClass").cloned().unwrap_or(json!("Burstable")),
            "conditions": [condition("PodReadyToStartContainers", true, &ts), condition("Initialized", true, &ts), condition("Ready", true, &ts), condition("ContainersReady", true, &ts), condition("PodScheduled", true, &ts)],
            "containerStatuses": statuses,
        });
    });
    let Some(pod) = updated else { return };
    event(
        &mut store,
        &pod,
        "Normal",
        "Scheduled",
        &format!("Successfully assigned {ns}/{name} to {node}"),
        "default-scheduler",
    );
    for c in &containers {
        let (cname, image) = (
            c["name"].as_str().unwrap_or_default(),
            c["image"].as_str().unwrap_or_default(),
        );
        event(
            &mut store,
            &pod,
            "Normal",
            "Pulled",
            &format!("Container image \"{image}\" already present on machine"),
            "kubelet",
        );
        event(
            &mut store,
            &pod,
            "Normal",
            "Created",
            &format!("Created container: {cname}"),
            "kubelet",
        );
        event(
            &mut store,
            &pod,
            "Normal",
            "Started",
            &format!("Started container {cname}"),
            "kubelet",
        );
    }
    drop(store);
    let behaviors = cluster.behaviors();
    let mut sims = cluster.containers();
    for c in &containers {
        let cname = c["name"].as_str().unwrap_or_default().to_owned();
        let image = c["image"].as_str().unwrap_or_default();
        let Behavior::Healthy {
            memory_mib,
            cpu_millis,
        } = behaviors.0.get(image).cloned().unwrap_or_default();
        let sim = sims
            .entry((ns.clone(), name.clone(), cname.clone()))
            .or_default();
        sim.memory = memory_mib * 1024 * 1024;
        sim.cpu_millis = cpu_millis;
        let at = jiff::Timestamp::now().as_second();
        sim.logs
            .push((at, format!("{ts} INFO starting {cname} ({image})")));
        sim.logs.push((at, format!("{ts} INFO ready to serve")));
    }
}

/// A running pod: a log line every 10 seconds.
fn tick(cluster: &Cluster, pod: &Value) {
    if pod.pointer("/status/phase").and_then(Value::as_str) != Some("Running") {
        return;
    }
    let (ns, name) = (namespace_of(pod), name_of(pod));
    let now_s = jiff::Timestamp::now().as_second();
    let mut sims = cluster.containers();
    for ((n, p, c), sim) in sims.iter_mut() {
        if n != ns || p != name {
            continue;
        }
        let last = sim.logs.last().map_or(0, |(at, _)| *at);
        if now_s - last >= 10 {
            sim.logs.push((
                now_s,
                format!(
                    "{} INFO {c}: handled requests, {} MiB in use",
                    now(),
                    sim.memory / 1024 / 1024
                ),
            ));
            if sim.logs.len() > 5000 {
                sim.logs.drain(..1000);
            }
        }
    }
}
