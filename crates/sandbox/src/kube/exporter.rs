//! `GET /metrics`: what cAdvisor and kube-state-metrics would export about the simulated pods
//! (working set, limits and requests, restarts, the last termination's reason and time, waiting
//! reasons, ready state, deployment replicas), so a real Prometheus can scrape the sandbox and
//! alert on it.
//! Encoded with `prometheus-client`, built fresh at every scrape.

use prometheus_client::{
    encoding::text::encode,
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};
use serde_json::Value;

use super::{
    cluster::Cluster,
    quantity,
    resources::find,
    store::{container_running, name_of, namespace_of},
};

type Labels = Vec<(String, String)>;
type Gauges = Family<Labels, Gauge<f64, std::sync::atomic::AtomicU64>>;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The text exposition of the cluster's pod and deployment metrics.
pub fn render(cluster: &Cluster) -> String {
    let mut registry = Registry::default();
    // A counter: OpenMetrics reserves the `_total` suffix (added on encoding) for counters.
    let restarts = Family::<Labels, Counter<f64, std::sync::atomic::AtomicU64>>::default();
    registry.register(
        "kube_pod_container_status_restarts",
        "The number of container restarts per container",
        restarts.clone(),
    );
    let mut family = |name: &str, help: &str| {
        let f = Gauges::default();
        registry.register(name, help, f.clone());
        f
    };
    let working_set = family(
        "container_memory_working_set_bytes",
        "Current working set of the container in bytes",
    );
    let spec_limit = family(
        "container_spec_memory_limit_bytes",
        "Memory limit for the container",
    );
    let limits = family(
        "kube_pod_container_resource_limits",
        "The number of requested limit resource by a container",
    );
    let requests = family(
        "kube_pod_container_resource_requests",
        "The number of requested request resource by a container",
    );
    let terminated = family(
        "kube_pod_container_status_last_terminated_reason",
        "Describes the last reason the container was in terminated state",
    );
    let terminated_at = family(
        "kube_pod_container_status_last_terminated_timestamp",
        "Last terminated time for a pod container in unix timestamp.",
    );
    let waiting = family(
        "kube_pod_container_status_waiting_reason",
        "Describes the reason the container is currently in waiting state",
    );
    let ready = family(
        "kube_pod_container_status_ready",
        "Describes whether the containers readiness check succeeded",
    );
    let phase = family("kube_pod_status_phase", "The pods current phase");
    let available = family(
        "kube_deployment_status_replicas_available",
        "The number of available replicas per deployment",
    );
    let desired = family(
        "kube_deployment_spec_replicas",
        "Number of desired pods for a deployment",
    );

    let pods: Vec<Value> = cluster.listed(find("", "v1", "pods").unwrap(), None);
    let deployments: Vec<Value> = cluster.listed(find("apps", "v1", "deployments").unwrap(), None);
    let sims = cluster.containers();
    for pod in &pods {
        let (ns, name) = (namespace_of(pod), name_of(pod));
        let current = pod
            .pointer("/status/phase")
            .and_then(Value::as_str)
            .unwrap_or("Pending");
        for p in ["Pending", "Running", "Succeeded", "Failed", "Unknown"] {
            phase
                .get_or_create(&labels(&[("namespace", ns), ("pod", name), ("phase", p)]))
                .set(f64::from(u8::from(p == current)));
        }
        for c in pod
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let container = c["name"].as_str().unwrap_or_default();
            let base = [("namespace", ns), ("pod", name), ("container", container)];
            for (resource, unit, parse) in [
                ("memory", "byte", quantity::bytes as fn(&str) -> Option<u64>),
                ("cpu", "core", |q: &str| quantity::millicores(q)),
            ] {
                let scale = if resource == "cpu" { 1000.0 } else { 1.0 };
                for (family, kind) in [(&limits, "limits"), (&requests, "requests")] {
                    if let Some(v) = c
                        .pointer(&format!("/resources/{kind}/{resource}"))
                        .and_then(Value::as_str)
                        .and_then(parse)
                    {
                        let mut l = labels(&base);
                        l.extend(labels(&[("resource", resource), ("unit", unit)]));
                        family.get_or_create(&l).set(v as f64 / scale);
                        if kind == "limits" && resource == "memory" {
                            spec_limit.get_or_create(&labels(&base)).set(v as f64);
                        }
                    }
                }
            }
            if let Some(sim) = sims.get(&(ns.to_owned(), name.to_owned(), container.to_owned()))
                && current == "Running"
                && container_running(pod, container)
            {
                let mut l = labels(&base);
                l.push((
                    "image".into(),
                    c["image"].as_str().unwrap_or_default().to_owned(),
                ));
                working_set.get_or_create(&l).set(sim.memory as f64);
            }
            let status = pod
                .pointer("/status/containerStatuses")
                .and_then(Value::as_array)
                .and_then(|s| s.iter().find(|s| s["name"] == container));
            if let Some(status) = status {
                restarts
                    .get_or_create(&labels(&base))
                    .inc_by(status["restartCount"].as_f64().unwrap_or(0.0));
                ready
                    .get_or_create(&labels(&base))
                    .set(f64::from(u8::from(status["ready"] == true)));
                if let Some(reason) = status
                    .pointer("/lastState/terminated/reason")
                    .and_then(Value::as_str)
                {
                    let mut l = labels(&base);
                    l.push(("reason".into(), reason.into()));
                    terminated.get_or_create(&l).set(1.0);
                }
                if let Some(finished) = status
                    .pointer("/lastState/terminated/finishedAt")
                    .and_then(Value::as_str)
                    .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                {
                    terminated_at
                        .get_or_create(&labels(&base))
                        .set(finished.as_second() as f64);
                }
                if let Some(reason) = status
                    .pointer("/state/waiting/reason")
                    .and_then(Value::as_str)
                {
                    let mut l = labels(&base);
                    l.push(("reason".into(), reason.into()));
                    waiting.get_or_create(&l).set(1.0);
                }
            }
        }
    }
    for d in &deployments {
        let l = labels(&[("namespace", namespace_of(d)), ("deployment", name_of(d))]);
        available.get_or_create(&l).set(
            d.pointer("/status/availableReplicas")
                .and_then(Value::as_f64)
                .unwrap_or(0.0),
        );
        desired.get_or_create(&l).set(
            d.pointer("/spec/replicas")
                .and_then(Value::as_f64)
                .unwrap_or(0.0),
        );
    }
    drop(sims);
    let mut out = String::new();
    encode(&mut out, &registry).expect("writing to a String cannot fail");
    out
}

/// `/metrics`, where Prometheus scrapes the exporter.
pub fn router(cluster: std::sync::Arc<Cluster>) -> axum::Router {
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(|| async move {
            (
                [(
                    axum::http::header::CONTENT_TYPE,
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                )],
                render(&cluster),
            )
        }),
    )
}
