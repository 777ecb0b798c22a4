//! What `nodes/<name>/proxy/…` reaches on the node's kubelet: the Summary API
//! (`stats/summary`: the node's and each running pod's CPU and memory, as metrics-server and
//! `kubectl top` read them) and `logs/` (the kubelet's file server over `/var/log`; here the
//! kernel log, where the OOM killer writes).

use serde_json::{Value, json};

use super::{
    cluster::{Cluster, node_usage},
    quantity,
    resources::find,
    store::{ApiError, container_running, name_of, namespace_of},
};

/// The answer to `GET nodes/<node>/proxy/<path>`: (content type, body).
pub fn get(cluster: &Cluster, node: &str, path: &str) -> Result<(&'static str, String), ApiError> {
    let node_t = find("", "v1", "nodes").expect("nodes are served");
    if cluster.store().get(node_t, "", node).is_none() {
        return Err(ApiError::not_found(node_t, node));
    }
    match path.trim_end_matches('/') {
        "stats/summary" => Ok((
            "application/json",
            serde_json::to_string_pretty(&summary(cluster, node)).unwrap_or_default(),
        )),
        "logs" => Ok((
            "text/html; charset=utf-8",
            "<pre>\n<a href=\"kern.log\">kern.log</a>\n</pre>\n".to_owned(),
        )),
        "logs/kern.log" => Ok(("text/plain; charset=utf-8", kern_log(cluster, node))),
        "healthz" => Ok(("text/plain; charset=utf-8", "ok".to_owned())),
        _ => Err(ApiError {
            code: 404,
            reason: "NotFound",
            message: format!("the kubelet of {node} serves no /{path}"),
            causes: Vec::new(),
        }),
    }
}

/// `/var/log/kern.log` as rsyslog writes it.
fn kern_log(cluster: &Cluster, node: &str) -> String {
    cluster
        .kernel_log(node)
        .iter()
        .map(|(ns, line)| {
            let at = jiff::Timestamp::from_nanosecond(i128::from(*ns))
                .map(|t| t.strftime("%b %e %H:%M:%S").to_string())
                .unwrap_or_default();
            format!("{at} {node} kernel: {line}\n")
        })
        .collect()
}

fn cpu(at: &str, millis: u64) -> Value {
    json!({ "time": at, "usageNanoCores": millis * 1_000_000, "usageCoreNanoSeconds": 0 })
}

fn memory(at: &str, working_set: u64, limit: Option<u64>) -> Value {
    let mut m = json!({
        "time": at, "usageBytes": working_set + working_set / 8, "workingSetBytes": working_set,
        "rssBytes": working_set * 9 / 10, "pageFaults": 0, "majorPageFaults": 0,
    });
    if let Some(limit) = limit {
        m["availableBytes"] = json!(limit.saturating_sub(working_set));
    }
    m
}

/// The kubelet's Summary API for `node`.
fn summary(cluster: &Cluster, node: &str) -> Value {
    let (node_t, pod_t) = (
        find("", "v1", "nodes").expect("served"),
        find("", "v1", "pods").expect("served"),
    );
    let store = cluster.store();
    let sims = cluster.containers();
    let at = super::store::now();
    let object = store.get(node_t, "", node).cloned().unwrap_or_default();
    let capacity = object
        .pointer("/status/capacity/memory")
        .and_then(Value::as_str)
        .and_then(quantity::bytes);
    let (node_cpu, node_memory) = node_usage(&store, &sims, node);
    let pods: Vec<Value> = store
        .list(pod_t, None)
        .into_iter()
        .filter(|p| p.pointer("/spec/nodeName").and_then(Value::as_str) == Some(node))
        .filter(|p| p.pointer("/status/phase").and_then(Value::as_str) == Some("Running"))
        .map(|p| {
            let (ns, name) = (namespace_of(p), name_of(p));
            let (mut cpu_sum, mut memory_sum) = (0, 0);
            let containers: Vec<Value> = p
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|c| c["name"].as_str().is_some_and(|c| container_running(p, c)))
                .map(|c| {
                    let cname = c["name"].as_str().unwrap_or_default();
                    let sim = sims
                        .get(&(ns.to_owned(), name.to_owned(), cname.to_owned()))
                        .cloned()
                        .unwrap_or_default();
                    cpu_sum += sim.cpu_millis;
                    memory_sum += sim.memory;
                    let limit = c
                        .pointer("/resources/limits/memory")
                        .and_then(Value::as_str)
                        .and_then(quantity::bytes);
                    json!({
                        "name": cname,
                        "startTime": p.pointer("/status/startTime"),
                        "cpu": cpu(&at, sim.cpu_millis),
                        "memory": memory(&at, sim.memory, limit),
                    })
                })
                .collect();
            json!({
                "podRef": { "name": name, "namespace": ns, "uid": p["metadata"]["uid"] },
                "startTime": p.pointer("/status/startTime"),
                "containers": containers,
                "cpu": cpu(&at, cpu_sum),
                "memory": memory(&at, memory_sum, None),
            })
        })
        .collect();
    json!({
        "node": {
            "nodeName": node,
            "startTime": object.pointer("/metadata/creationTimestamp"),
            "cpu": cpu(&at, node_cpu),
            "memory": memory(&at, node_memory, capacity),
        },
        "pods": pods,
    })
}
