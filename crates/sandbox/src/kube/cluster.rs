//! The simulated cluster: the object store, the per-container state the controller simulates
//! (logs, memory), computed resources (pod and node metrics), and deletion with garbage
//! collection of dependents.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
};

use serde_json::{Value, json};

use crate::flows::{Discard, LogSink};

use super::{
    events, rbac,
    resources::{self, ResourceType},
    sim::{Behaviors, ContainerKey, ContainerSim, Unschedulable},
    store::{ApiError, Store, container_running, name_of, namespace_of},
};

#[derive(Debug, Default)]
pub struct Cluster {
    store: Mutex<Store>,
    containers: Mutex<HashMap<ContainerKey, ContainerSim>>,
    /// Pods the scheduler could not place, by (namespace, name).
    unschedulable: Mutex<HashMap<(String, String), Unschedulable>>,
    behaviors: Mutex<Behaviors>,
    /// Types declared by CustomResourceDefinitions (leaked: a test cluster declares few).
    custom: Mutex<Vec<&'static ResourceType>>,
    /// Where the log agent ships what containers (and nodes) write.
    logs: LogSinkSlot,
    /// The users the kubeconfig carries.
    users: rbac::Users,
    /// Each node's kernel log (the OOM killer's lines), the last [`KERNEL_LINES`].
    kernel: Mutex<HashMap<String, std::collections::VecDeque<(i64, String)>>>,
}

/// How many kernel lines a node keeps (its `/var/log/kern.log`).
const KERNEL_LINES: usize = 2000;

/// The cluster's log sink, [`Discard`] until [`Cluster::ship_logs_to`] sets one.
#[derive(Debug)]
struct LogSinkSlot(Mutex<Arc<dyn LogSink>>);

impl Default for LogSinkSlot {
    fn default() -> Self {
        Self(Mutex::new(Arc::new(Discard)))
    }
}

/// A node's usage now: its running containers' plus the system's overhead (millicores,
/// bytes of working set).
pub fn node_usage(
    store: &Store,
    sims: &HashMap<ContainerKey, ContainerSim>,
    node: &str,
) -> (u64, u64) {
    let pods_t = resources::find("", "v1", "pods").expect("pods are served");
    let (mut cpu, mut memory) = (120u64, 900u64 * 1024 * 1024);
    for pod in store.list(pods_t, None) {
        if pod.pointer("/spec/nodeName").and_then(Value::as_str) != Some(node) {
            continue;
        }
        for ((ns, p, c), sim) in sims {
            if ns == namespace_of(pod) && p == name_of(pod) && container_running(pod, c) {
                cpu += sim.cpu_millis;
                memory += sim.memory;
            }
        }
    }
    (cpu, memory)
}

impl Cluster {
    /// What this cluster serves, custom resources included.
    pub fn with_catalog<T>(&self, f: impl FnOnce(resources::Catalog<'_>) -> T) -> T {
        let custom = self.custom.lock().unwrap_or_else(|e| e.into_inner());
        f(resources::Catalog { custom: &custom })
    }

    /// Serve the custom resource a CustomResourceDefinition declares (every served version),
    /// and mark the definition Established, as the apiextensions server does.
    pub fn register_crd(&self, crd: &Value) {
        let leak = |s: &str| -> &'static str { Box::leak(s.to_owned().into_boxed_str()) };
        let spec = &crd["spec"];
        let names = &spec["names"];
        let (Some(group), Some(kind), Some(plural)) = (
            spec["group"].as_str(),
            names["kind"].as_str(),
            names["plural"].as_str(),
        ) else {
            return;
        };
        let short: Vec<&'static str> = names["shortNames"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(leak)
            .collect();
        let short: &'static [&'static str] = Box::leak(short.into_boxed_slice());
        let mut custom = self.custom.lock().unwrap_or_else(|e| e.into_inner());
        for version in spec["versions"].as_array().into_iter().flatten() {
            let Some(v) = version["name"]
                .as_str()
                .filter(|_| version["served"] != false)
            else {
                continue;
            };
            if custom
                .iter()
                .any(|t| t.group == group && t.version == v && t.plural == plural)
            {
                continue;
            }
            custom.push(Box::leak(Box::new(ResourceType {
                group: leak(group),
                version: leak(v),
                kind: leak(kind),
                plural: leak(plural),
                singular: leak(names["singular"].as_str().unwrap_or(&kind.to_lowercase())),
                namespaced: spec["scope"] == "Namespaced",
                short_names: short,
                read_only: false,
            })));
        }
        drop(custom);
        let crd_t =
            resources::find("apiextensions.k8s.io", "v1", "customresourcedefinitions").unwrap();
        let now = super::store::now();
        let name = crd
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let accepted = names.clone();
        self.store().modify(crd_t, "", &name, |c| {
            c["status"] = json!({
                "acceptedNames": accepted,
                "storedVersions": c["spec"]["versions"].as_array().into_iter().flatten().filter(|v| v["storage"] == true).filter_map(|v| v["name"].as_str()).collect::<Vec<_>>(),
                "conditions": [
                    { "type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now },
                    { "type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now },
                ],
            });
        });
    }

    /// Stop serving a deleted definition's resource.
    pub fn unregister_crd(&self, crd: &Value) {
        let (group, plural) = (
            crd["spec"]["group"].as_str(),
            crd["spec"]["names"]["plural"].as_str(),
        );
        self.custom
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|t| Some(t.group) != group || Some(t.plural) != plural);
    }

    /// How images behave (from the scenario).
    pub fn behaviors(&self) -> Behaviors {
        self.behaviors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn set_behaviors(&self, behaviors: Behaviors) {
        *self.behaviors.lock().unwrap_or_else(|e| e.into_inner()) = behaviors;
    }

    /// Ship container and node logs to `sink` from now on.
    pub fn ship_logs_to(&self, sink: Arc<dyn LogSink>) {
        *self.logs.0.lock().unwrap_or_else(|e| e.into_inner()) = sink;
    }

    /// Where logs go.
    pub fn log_sink(&self) -> Arc<dyn LogSink> {
        self.logs
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Append to a node's kernel log (timestamps in unix nanoseconds).
    pub fn write_kernel_log(&self, node: &str, lines: &[(i64, String)]) {
        let mut kernel = self.kernel.lock().unwrap_or_else(|e| e.into_inner());
        let log = kernel.entry(node.to_owned()).or_default();
        log.extend(lines.iter().cloned());
        let excess = log.len().saturating_sub(KERNEL_LINES);
        log.drain(..excess);
    }

    /// A node's kernel log, oldest first.
    pub fn kernel_log(&self, node: &str) -> Vec<(i64, String)> {
        let kernel = self.kernel.lock().unwrap_or_else(|e| e.into_inner());
        kernel
            .get(node)
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The users of the cluster, by bearer token.
    pub fn users(&self) -> &rbac::Users {
        &self.users
    }

    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn containers(&self) -> MutexGuard<'_, HashMap<ContainerKey, ContainerSim>> {
        self.containers.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn unschedulable(&self) -> MutexGuard<'_, HashMap<(String, String), Unschedulable>> {
        self.unschedulable.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The objects of a list: stored ones, or computed ones for `metrics.k8s.io`.
    pub fn listed(&self, t: &ResourceType, namespace: Option<&str>) -> Vec<Value> {
        match (t.group, t.kind) {
            ("metrics.k8s.io", "PodMetrics") => self.pod_metrics(namespace),
            ("metrics.k8s.io", "NodeMetrics") => self.node_metrics(),
            _ => self
                .store()
                .list(t, namespace)
                .into_iter()
                .cloned()
                .collect(),
        }
    }

    fn pod_metrics(&self, namespace: Option<&str>) -> Vec<Value> {
        let pods_t = resources::find("", "v1", "pods").unwrap();
        let pods: Vec<Value> = self
            .store()
            .list(pods_t, namespace)
            .into_iter()
            .cloned()
            .collect();
        let sims = self.containers();
        let now = super::store::now();
        // Like metrics-server: only running containers have usage, and a pod none of whose
        // containers runs is left out.
        pods.iter()
            .filter(|p| p.pointer("/status/phase").and_then(Value::as_str) == Some("Running"))
            .filter_map(|p| {
                let (ns, name) = (namespace_of(p), name_of(p));
                let containers: Vec<Value> = p
                    .pointer("/spec/containers")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c["name"].as_str())
                    .filter(|c| container_running(p, c))
                    .map(|c| {
                        let sim = sims.get(&(ns.to_owned(), name.to_owned(), c.to_owned())).cloned().unwrap_or_default();
                        json!({ "name": c, "usage": { "cpu": format!("{}m", sim.cpu_millis), "memory": format!("{}Ki", sim.memory / 1024) } })
                    })
                    .collect();
                (!containers.is_empty()).then(|| json!({
                    "kind": "PodMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
                    "metadata": { "name": name, "namespace": ns, "creationTimestamp": now, "labels": p.pointer("/metadata/labels").cloned().unwrap_or(json!({})) },
                    "timestamp": now, "window": "15s", "containers": containers,
                }))
            })
            .collect()
    }

    fn node_metrics(&self) -> Vec<Value> {
        let nodes_t = resources::find("", "v1", "nodes").unwrap();
        let store = self.store();
        let sims = self.containers();
        let now = super::store::now();
        store
            .list(nodes_t, None)
            .into_iter()
            .map(|node| {
                let name = name_of(node);
                let (cpu, memory) = node_usage(&store, &sims, name);
                json!({
                    "kind": "NodeMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
                    "metadata": { "name": name, "creationTimestamp": now, "labels": node.pointer("/metadata/labels").cloned().unwrap_or(json!({})) },
                    "timestamp": now, "window": "20s",
                    "usage": { "cpu": format!("{cpu}m"), "memory": format!("{}Ki", memory / 1024) },
                })
            })
            .collect()
    }

    /// Delete an object and (unless a dry run) everything it owns, transitively, as the
    /// garbage collector does for background propagation.
    ///
    /// Pods terminate gracefully: with a grace period (the default) they get a
    /// `deletionTimestamp`, show as Terminating, and the kubelet removes them a moment later
    /// (the simulated containers stop within a second); `grace_seconds: Some(0)` removes them now.
    pub fn delete(
        &self,
        t: &ResourceType,
        namespace: &str,
        name: &str,
        dry_run: bool,
        grace_seconds: Option<i64>,
    ) -> Result<Value, ApiError> {
        let mut store = self.store();
        if t.kind == "Pod" && !dry_run && grace_seconds != Some(0) {
            let Some(pod) = store.get(t, namespace, name).cloned() else {
                return Err(ApiError::not_found(t, name));
            };
            if pod.pointer("/metadata/deletionTimestamp").is_some() {
                return Ok(pod);
            }
            let grace = grace_seconds
                .or_else(|| {
                    pod.pointer("/spec/terminationGracePeriodSeconds")
                        .and_then(Value::as_i64)
                })
                .unwrap_or(30);
            let terminating = store.modify(t, namespace, name, |p| {
                p["metadata"]["deletionTimestamp"] = json!(super::store::now());
                p["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
            });
            for c in pod
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let message = format!(
                    "Stopping container {}",
                    c["name"].as_str().unwrap_or_default()
                );
                events::record(&mut store, &pod, "Normal", "Killing", &message, "kubelet");
            }
            return Ok(terminating.unwrap_or(pod));
        }
        let deleted = store.delete(t, namespace, name, dry_run)?;
        if dry_run {
            return Ok(deleted);
        }
        let mut owners = vec![
            deleted["metadata"]["uid"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        ];
        while let Some(uid) = owners.pop() {
            for dependent_t in [("apps", "replicasets"), ("", "pods")] {
                let dt = resources::find(dependent_t.0, "v1", dependent_t.1).unwrap();
                let owned: Vec<(String, String, String)> = store
                    .list(dt, Some(namespace))
                    .into_iter()
                    .filter(|o| {
                        o.pointer("/metadata/ownerReferences")
                            .and_then(Value::as_array)
                            .is_some_and(|refs| refs.iter().any(|r| r["uid"] == uid.as_str()))
                    })
                    .map(|o| {
                        (
                            namespace_of(o).to_owned(),
                            name_of(o).to_owned(),
                            o["metadata"]["uid"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect();
                for (ns, n, child) in owned {
                    let _ = store.delete(dt, &ns, &n, false);
                    owners.push(child);
                }
            }
        }
        if t.kind == "Pod" {
            self.containers()
                .retain(|(ns, p, _), _| !(ns == namespace && p == name));
        }
        Ok(deleted)
    }

    /// The log lines of a container (of its previous run with `previous`).
    pub fn logs(
        &self,
        ns: &str,
        pod: &str,
        container: &str,
        previous: bool,
    ) -> Result<Vec<(i64, String)>, String> {
        let sims = self.containers();
        let sim = sims.get(&(ns.to_owned(), pod.to_owned(), container.to_owned()));
        if previous {
            return sim.and_then(|s| s.previous.clone()).ok_or_else(|| {
                format!("previous terminated container \"{container}\" in pod \"{pod}\" not found")
            });
        }
        Ok(sim.map(|s| s.logs.clone()).unwrap_or_default())
    }

    pub fn log_len(&self, ns: &str, pod: &str, container: &str) -> usize {
        self.containers()
            .get(&(ns.to_owned(), pod.to_owned(), container.to_owned()))
            .map_or(0, |s| s.logs.len())
    }
}
