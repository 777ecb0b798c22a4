//! Workloads and what they use: usage against requests and limits (metrics.k8s.io),
//! deployments with rollout state and revision history, services checked against their pods
//! and endpoints, config and secret references checked for existence (key names only), and a
//! generic get/list for any type the cluster serves, custom resources included.

use std::collections::BTreeMap;

use k8s_openapi::api::{
    apps::v1::{Deployment, ReplicaSet},
    core::v1::{ConfigMap, Endpoints, Node, Pod, PodSpec, ResourceQuota, Secret, Service},
};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use opsmcp_core::{
    or_fail,
    output::{Table, truncate_to_budget},
    tools::{failure, text},
};
use rmcp::{
    ErrorData,
    handler::server::wrapper::Parameters,
    model::CallToolResult,
    schemars::{self, JsonSchema},
    tool, tool_router,
};
use serde::Deserialize;
use serde_json::Value;

use crate::{
    KubernetesServer,
    client::{Connection, explain, resolve_kind},
    render::{age, bytes, quantity, scrub},
};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct NamespaceArgs {
    /// Namespace; "all" for every namespace
    pub namespace: Option<String>,
    /// kubeconfig context
    pub context: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct NamedArgs {
    /// Name
    pub name: String,
    /// Namespace
    pub namespace: Option<String>,
    /// kubeconfig context
    pub context: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DeploymentsArgs {
    /// One deployment, with its revision history (default: all in the namespace)
    pub name: Option<String>,
    /// Namespace
    pub namespace: Option<String>,
    /// kubeconfig context
    pub context: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RefsArgs {
    /// Only this deployment's pod template (default: every pod in the namespace)
    pub deployment: Option<String>,
    /// Namespace
    pub namespace: Option<String>,
    /// kubeconfig context
    pub context: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct GetArgs {
    /// apiVersion, e.g. v1, apps/v1, networking.k8s.io/v1, or a custom resource's
    pub api_version: String,
    /// Kind, e.g. ConfigMap, Ingress, or a custom resource's
    pub kind: String,
    /// One object (default: list)
    pub name: Option<String>,
    /// Namespace for namespaced kinds (default: the context's); "all" lists every namespace
    pub namespace: Option<String>,
    /// Label selector for lists
    pub label_selector: Option<String>,
    /// kubeconfig context
    pub context: Option<String>,
}

fn metrics_api(
    conn: &Connection,
    kind: &str,
    plural: &str,
    ns: Option<&str>,
) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("metrics.k8s.io", "v1beta1", kind);
    let resource = ApiResource::from_gvk_with_plural(&gvk, plural);
    match ns {
        Some(ns) => Api::namespaced_with(conn.client.clone(), ns, &resource),
        None => Api::all_with(conn.client.clone(), &resource),
    }
}

fn resource_of(spec: &PodSpec, container: &str, kind: &str, resource: &str) -> Option<f64> {
    let c = spec.containers.iter().find(|c| c.name == container)?;
    let r = c.resources.as_ref()?;
    let map = if kind == "limits" {
        r.limits.as_ref()?
    } else {
        r.requests.as_ref()?
    };
    quantity(&map.get(resource)?.0)
}

fn percent(used: f64, of: Option<f64>) -> String {
    of.filter(|v| *v > 0.0)
        .map_or_else(|| "-".into(), |v| format!("{:.0}%", used / v * 100.0))
}

/// Names a pod spec references: (kind, name, key or None for all keys, where).
fn references(spec: &PodSpec) -> Vec<(&'static str, String, Option<String>, String)> {
    let mut out = Vec::new();
    for c in spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
    {
        for e in c.env.iter().flatten() {
            if let Some(from) = &e.value_from {
                if let Some(k) = &from.secret_key_ref {
                    out.push((
                        "secret",
                        k.name.clone(),
                        Some(k.key.clone()),
                        format!("{} env {}", c.name, e.name),
                    ));
                }
                if let Some(k) = &from.config_map_key_ref {
                    out.push((
                        "configmap",
                        k.name.clone(),
                        Some(k.key.clone()),
                        format!("{} env {}", c.name, e.name),
                    ));
                }
            }
        }
        for e in c.env_from.iter().flatten() {
            if let Some(r) = &e.config_map_ref {
                out.push((
                    "configmap",
                    r.name.clone(),
                    None,
                    format!("{} envFrom", c.name),
                ));
            }
            if let Some(r) = &e.secret_ref {
                out.push((
                    "secret",
                    r.name.clone(),
                    None,
                    format!("{} envFrom", c.name),
                ));
            }
        }
    }
    for v in spec.volumes.iter().flatten() {
        if let Some(cm) = &v.config_map {
            out.push((
                "configmap",
                cm.name.clone(),
                None,
                format!("volume {}", v.name),
            ));
        }
        if let Some(s) = &v.secret {
            out.push((
                "secret",
                s.secret_name.clone().unwrap_or_default(),
                None,
                format!("volume {}", v.name),
            ));
        }
    }
    out
}

#[tool_router(router = workloads_router, vis = "pub(crate)")]
impl KubernetesServer {
    /// Pod usage now (metrics.k8s.io) against requests and limits, per container, highest
    /// memory share of limit first; containers at ≥90% of their memory limit are marked;
    /// then the namespace's quota usage.
    #[tool]
    pub async fn top_pods(
        &self,
        Parameters(args): Parameters<NamespaceArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let conn = or_fail!(self.clients().connect(args.context.as_deref()).await);
        let all = matches!(args.namespace.as_deref(), Some("all" | "*"))
            && self.clients().all_namespaces_allowed();
        let ns = if all {
            None
        } else {
            Some(or_fail!(
                self.clients().namespace(&conn, args.namespace.as_deref())
            ))
        };
        let metrics = or_fail!(
            metrics_api(&conn, "PodMetrics", "pods", ns.as_deref())
                .list(&ListParams::default())
                .await
                .map_err(|e| explain(&conn, e))
        );
        let pods_api: Api<Pod> = match &ns {
            Some(ns) => Api::namespaced(conn.client.clone(), ns),
            None => Api::all(conn.client.clone()),
        };
        let pods = or_fail!(
            pods_api
                .list(&ListParams::default())
                .await
                .map_err(|e| explain(&conn, e))
        )
        .items;
        let mut rows = Vec::new();
        for m in &metrics.items {
            let (pod_ns, pod_name) = (
                m.metadata.namespace.clone().unwrap_or_default(),
                m.metadata.name.clone().unwrap_or_default(),
            );
            let spec = pods
                .iter()
                .find(|p| {
                    p.metadata.name.as_deref() == Some(&pod_name)
                        && p.metadata.namespace.as_deref() == Some(&pod_ns)
                })
                .and_then(|p| p.spec.clone())
                .unwrap_or_default();
            for c in m.data["containers"].as_array().into_iter().flatten() {
                let name = c["name"].as_str().unwrap_or_default().to_owned();
                let cpu = c
                    .pointer("/usage/cpu")
                    .and_then(Value::as_str)
                    .and_then(quantity)
                    .unwrap_or(0.0);
                let mem = c
                    .pointer("/usage/memory")
                    .and_then(Value::as_str)
                    .and_then(quantity)
                    .unwrap_or(0.0);
                let mem_limit = resource_of(&spec, &name, "limits", "memory");
                let share = mem_limit.map_or(0.0, |l| mem / l);
                rows.push((
                    share,
                    pod_ns.clone(),
                    pod_name.clone(),
                    name.clone(),
                    cpu,
                    mem,
                    spec.clone(),
                ));
            }
        }
        if rows.is_empty() {
            return Ok(text("no pod metrics (is metrics-server running?)"));
        }
        rows.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut table = Table::new([
            "POD",
            "CONTAINER",
            "CPU",
            "CPU/REQ",
            "MEMORY",
            "MEM/REQ",
            "MEM/LIMIT",
            "",
        ]);
        for (share, pod_ns, pod, container, cpu, mem, spec) in rows.iter().take(100) {
            let pod = if all {
                format!("{pod_ns}/{pod}")
            } else {
                pod.clone()
            };
            table.row([
                pod,
                container.clone(),
                format!("{:.0}m", cpu * 1000.0),
                percent(*cpu, resource_of(spec, container, "requests", "cpu")),
                bytes(*mem),
                percent(*mem, resource_of(spec, container, "requests", "memory")),
                percent(*mem, resource_of(spec, container, "limits", "memory")),
                if *share >= 0.9 {
                    "near limit".into()
                } else {
                    String::new()
                },
            ]);
        }
        let mut out = table.render();
        // Quota usage, where a namespace has quotas: the other half of "near its limits".
        if let Some(ns) = &ns {
            let quotas = Api::<ResourceQuota>::namespaced(conn.client.clone(), ns)
                .list(&ListParams::default())
                .await
                .map(|l| l.items)
                .unwrap_or_default();
            for q in quotas {
                let status = q.status.unwrap_or_default();
                let (hard, used) = (
                    status.hard.unwrap_or_default(),
                    status.used.unwrap_or_default(),
                );
                let parts: Vec<String> = hard
                    .iter()
                    .map(|(k, h)| {
                        let u = used
                            .get(k)
                            .map(|u| u.0.clone())
                            .unwrap_or_else(|| "0".into());
                        let pct = match (quantity(&u), quantity(&h.0)) {
                            (Some(u), Some(h)) if h > 0.0 => format!(" ({:.0}%)", u / h * 100.0),
                            _ => String::new(),
                        };
                        format!("{k} {u}/{}{pct}", h.0)
                    })
                    .collect();
                out.push_str(&format!(
                    "\nquota {}: {}",
                    q.metadata.name.unwrap_or_default(),
                    parts.join(", ")
                ));
            }
        }
        Ok(text(out))
    }

    /// Node usage now (metrics.k8s.io) against allocatable CPU and memory.
    #[tool]
    pub async fn top_nodes(
        &self,
        Parameters(args): Parameters<super::cluster::ContextArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let conn = or_fail!(self.clients().connect(args.context.as_deref()).await);
        let metrics = or_fail!(
            metrics_api(&conn, "NodeMetrics", "nodes", None)
                .list(&ListParams::default())
                .await
                .map_err(|e| explain(&conn, e))
        );
        let nodes = or_fail!(
            Api::<Node>::all(conn.client.clone())
                .list(&ListParams::default())
                .await
                .map_err(|e| explain(&conn, e))
        )
        .items;
        let mut table = Table::new(["NODE", "CPU", "CPU%", "MEMORY", "MEMORY%"]);
        for m in &metrics.items {
            let name = m.metadata.name.clone().unwrap_or_default();
            let alloc = nodes
                .iter()
                .find(|n| n.metadata.name.as_deref() == Some(&name))
                .and_then(|n| n.status.as_ref()?.allocatable.clone())
                .unwrap_or_default();
            let cpu = m
                .data
                .pointer("/usage/cpu")
                .and_then(Value::as_str)
                .and_then(quantity)
                .unwrap_or(0.0);
            let mem = m
                .data
                .pointer("/usage/memory")
                .and_then(Value::as_str)
                .and_then(quantity)
                .unwrap_or(0.0);
            table.row([
                name,
                format!("{:.0}m", cpu * 1000.0),
                percent(cpu, alloc.get("cpu").and_then(|q| quantity(&q.0))),
                bytes(mem),
                percent(mem, alloc.get("memory").and_then(|q| quantity(&q.0))),
            ]);
        }
        Ok(text(table.render()))
    }

    /// Deployments with ready/updated/available, revision, images and rollout state; with a
    /// name, also the revision history (ReplicaSets, images, pods).
    #[tool]
    pub async fn deployments_list(
        &self,
        Parameters(args): Parameters<DeploymentsArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let conn = or_fail!(self.clients().connect(args.context.as_deref()).await);
        let ns = or_fail!(self.clients().namespace(&conn, args.namespace.as_deref()));
        let api: Api<Deployment> = Api::namespaced(conn.client.clone(), &ns);
        let deployments = match &args.name {
            Some(name) => vec![or_fail!(api.get(name).await.map_err(|e| explain(&conn, e)))],
            None => {
                or_fail!(
                    api.list(&ListParams::default())
                        .await
                        .map_err(|e| explain(&conn, e))
                )
                .items
            }
        };
        let revision = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
            m.annotations
                .as_ref()
                .and_then(|a| a.get("deployment.kubernetes.io/revision"))
                .cloned()
                .unwrap_or_default()
        };
        let images = |t: Option<&k8s_openapi::api::core::v1::PodTemplateSpec>| {
            t.and_then(|t| t.spec.as_ref())
                .map(|s| {
                    s.containers
                        .iter()
                        .filter_map(|c| c.image.clone())
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default()
        };
        let mut table = Table::new([
            "DEPLOYMENT",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "REV",
            "IMAGES",
            "ROLLOUT",
        ]);
        for d in &deployments {
            let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            let st = d.status.clone().unwrap_or_default();
            let progressing = st
                .conditions
                .iter()
                .flatten()
                .find(|c| c.type_ == "Progressing");
            let state = match progressing.and_then(|c| c.reason.as_deref()) {
                Some("NewReplicaSetAvailable") if st.ready_replicas.unwrap_or(0) == want => {
                    "complete".to_owned()
                }
                Some("ProgressDeadlineExceeded") => "stalled (deadline exceeded)".to_owned(),
                _ if st.observed_generation.unwrap_or(0) < d.metadata.generation.unwrap_or(0) => {
                    "pending (spec not observed yet)".to_owned()
                }
                _ => format!(
                    "in progress ({}/{want} ready)",
                    st.ready_replicas.unwrap_or(0)
                ),
            };
            table.row([
                d.metadata.name.clone().unwrap_or_default(),
                format!("{}/{want}", st.ready_replicas.unwrap_or(0)),
                st.updated_replicas.unwrap_or(0).to_string(),
                st.available_replicas.unwrap_or(0).to_string(),
                revision(&d.metadata),
                images(d.spec.as_ref().map(|s| &s.template)),
                state,
            ]);
        }
        let mut out = table.render();
        if let (Some(name), Some(d)) = (&args.name, deployments.first()) {
            let uid = d.metadata.uid.clone().unwrap_or_default();
            let sets = or_fail!(
                Api::<ReplicaSet>::namespaced(conn.client.clone(), &ns)
                    .list(&ListParams::default())
                    .await
                    .map_err(|e| explain(&conn, e))
            )
            .items;
            let mut owned: Vec<&ReplicaSet> = sets
                .iter()
                .filter(|rs| {
                    rs.metadata
                        .owner_references
                        .iter()
                        .flatten()
                        .any(|o| o.uid == uid)
                })
                .collect();
            owned.sort_by_key(|rs| {
                std::cmp::Reverse(revision(&rs.metadata).parse::<i64>().unwrap_or(0))
            });
            let mut history = Table::new(["REV", "REPLICASET", "IMAGES", "PODS", "AGE"]);
            for rs in owned {
                let st = rs.status.clone().unwrap_or_default();
                history.row([
                    revision(&rs.metadata),
                    rs.metadata.name.clone().unwrap_or_default(),
                    images(rs.spec.as_ref().and_then(|s| s.template.as_ref())),
                    format!("{}/{}", st.ready_replicas.unwrap_or(0), st.replicas),
                    age(rs.metadata.creation_timestamp.as_ref()),
                ]);
            }
            out.push_str(&format!(
                "\nrevision history of {name} (newest first):\n{}",
                history.render()
            ));
        }
        Ok(text(out))
    }

    /// Check a service: does its selector match pods, are they ready, does it have ready
    /// endpoints, and do its target ports exist on the pods.
    #[tool]
    pub async fn service_check(
        &self,
        Parameters(args): Parameters<NamedArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let conn = or_fail!(self.clients().connect(args.context.as_deref()).await);
        let ns = or_fail!(self.clients().namespace(&conn, args.namespace.as_deref()));
        let svc = or_fail!(
            Api::<Service>::namespaced(conn.client.clone(), &ns)
                .get(&args.name)
                .await
                .map_err(|e| explain(&conn, e))
        );
        let spec = svc.spec.clone().unwrap_or_default();
        let selector: BTreeMap<String, String> = spec.selector.clone().unwrap_or_default();
        let mut lines = vec![format!(
            "service {ns}/{} ({}, {}), selector {}",
            args.name,
            spec.type_.clone().unwrap_or_else(|| "ClusterIP".into()),
            spec.cluster_ip.clone().unwrap_or_default(),
            if selector.is_empty() {
                "none (endpoints managed by hand)".to_owned()
            } else {
                selector
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(",")
            }
        )];
        let mut problems = Vec::new();
        if !selector.is_empty() {
            let labels: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let pods = or_fail!(
                Api::<Pod>::namespaced(conn.client.clone(), &ns)
                    .list(&ListParams::default().labels(&labels.join(",")))
                    .await
                    .map_err(|e| explain(&conn, e))
            )
            .items;
            let ready = pods
                .iter()
                .filter(|p| {
                    let (r, t) = crate::render::ready_count(p);
                    r == t && t > 0
                })
                .count();
            lines.push(format!(
                "pods matching the selector: {} ({ready} ready)",
                pods.len()
            ));
            if pods.is_empty() {
                problems.push("the selector matches no pod: check the labels against the deployment's pod template".to_owned());
            } else if ready == 0 {
                problems.push("no matching pod is ready".to_owned());
            }
            let container_ports: Vec<i32> = pods
                .iter()
                .filter_map(|p| p.spec.as_ref())
                .flat_map(|s| s.containers.iter())
                .flat_map(|c| c.ports.iter().flatten().map(|p| p.container_port))
                .collect();
            for port in spec.ports.iter().flatten() {
                if let Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(target)) =
                    &port.target_port
                    && !pods.is_empty()
                    && !container_ports.is_empty()
                    && !container_ports.contains(target)
                {
                    problems.push(format!("targetPort {target} is not a port of the pods (they expose {container_ports:?})"));
                }
            }
        }
        let endpoints = Api::<Endpoints>::namespaced(conn.client.clone(), &ns)
            .get_opt(&args.name)
            .await
            .ok()
            .flatten();
        let (ready_eps, not_ready_eps) = endpoints
            .as_ref()
            .map(|e| {
                e.subsets.iter().flatten().fold((0, 0), |(r, n), s| {
                    (
                        r + s.addresses.as_ref().map_or(0, Vec::len),
                        n + s.not_ready_addresses.as_ref().map_or(0, Vec::len),
                    )
                })
            })
            .unwrap_or((0, 0));
        lines.push(format!(
            "endpoints: {ready_eps} ready, {not_ready_eps} not ready"
        ));
        if ready_eps == 0 {
            problems.push("no ready endpoints: traffic to this service fails".into());
        }
        if problems.is_empty() {
            lines.push("OK".into());
        } else {
            lines.push(format!("problems:\n- {}", problems.join("\n- ")));
        }
        Ok(text(lines.join("\n")))
    }

    /// Check the config maps and secrets pods use (env, envFrom, volumes): do they exist and
    /// have the keys referenced. Secret values are never read out: only key names.
    #[tool]
    pub async fn config_refs_check(
        &self,
        Parameters(args): Parameters<RefsArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let conn = or_fail!(self.clients().connect(args.context.as_deref()).await);
        let ns = or_fail!(self.clients().namespace(&conn, args.namespace.as_deref()));
        let specs: Vec<(String, PodSpec)> = match &args.deployment {
            Some(name) => {
                let d = or_fail!(
                    Api::<Deployment>::namespaced(conn.client.clone(), &ns)
                        .get(name)
                        .await
                        .map_err(|e| explain(&conn, e))
                );
                vec![(
                    format!("deployment/{name}"),
                    d.spec.and_then(|s| s.template.spec).unwrap_or_default(),
                )]
            }
            None => or_fail!(
                Api::<Pod>::namespaced(conn.client.clone(), &ns)
                    .list(&ListParams::default())
                    .await
                    .map_err(|e| explain(&conn, e))
            )
            .items
            .into_iter()
            .map(|p| {
                (
                    format!("pod/{}", p.metadata.name.unwrap_or_default()),
                    p.spec.unwrap_or_default(),
                )
            })
            .collect(),
        };
        let configmaps = Api::<ConfigMap>::namespaced(conn.client.clone(), &ns);
        let secrets = Api::<Secret>::namespaced(conn.client.clone(), &ns);
        let mut checked = BTreeMap::new();
        let mut lines = Vec::new();
        for (owner, spec) in &specs {
            for (kind, name, key, place) in references(spec) {
                let keys = match checked.get(&(kind, name.clone())) {
                    Some(k) => k,
                    None => {
                        let found: Option<Vec<String>> = if kind == "secret" {
                            secrets.get_opt(&name).await.ok().flatten().map(|s| {
                                s.data
                                    .unwrap_or_default()
                                    .into_keys()
                                    .chain(s.string_data.unwrap_or_default().into_keys())
                                    .collect()
                            })
                        } else {
                            configmaps.get_opt(&name).await.ok().flatten().map(|c| {
                                c.data
                                    .unwrap_or_default()
                                    .into_keys()
                                    .chain(c.binary_data.unwrap_or_default().into_keys())
                                    .collect()
                            })
                        };
                        checked.entry((kind, name.clone())).or_insert(found)
                    }
                };
                let status = match (keys, &key) {
                    (None, _) => "MISSING".to_owned(),
                    (Some(keys), Some(k)) if !keys.contains(k) => {
                        format!("key `{k}` MISSING (keys: {})", keys.join(", "))
                    }
                    (Some(_), Some(k)) => format!("ok (key {k})"),
                    (Some(keys), None) => format!("ok ({} keys: {})", keys.len(), keys.join(", ")),
                };
                lines.push(format!("{owner} {place}: {kind}/{name} {status}"));
            }
        }
        if lines.is_empty() {
            return Ok(text("no config map or secret is referenced"));
        }
        lines.sort_by_key(|l| !l.contains("MISSING"));
        lines.dedup();
        Ok(text(truncate_to_budget(&lines.join("\n"), 2500)))
    }

    /// Get one object or list objects of any type the cluster serves, custom resources
    /// included, by apiVersion and kind. Secret values are replaced by their sizes;
    /// managedFields are left out.
    #[tool]
    pub async fn resources_get(
        &self,
        Parameters(args): Parameters<GetArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let conn = or_fail!(self.clients().connect(args.context.as_deref()).await);
        let (resource, caps) = or_fail!(resolve_kind(&conn, &args.api_version, &args.kind).await);
        let namespaced = caps.scope == kube::discovery::Scope::Namespaced;
        let all = matches!(args.namespace.as_deref(), Some("all" | "*"));
        let api: Api<DynamicObject> = if !namespaced
            || (all && args.name.is_none() && self.clients().all_namespaces_allowed())
        {
            Api::all_with(conn.client.clone(), &resource)
        } else {
            let ns = or_fail!(self.clients().namespace(&conn, args.namespace.as_deref()));
            Api::namespaced_with(conn.client.clone(), &ns, &resource)
        };
        if let Some(name) = &args.name {
            let object = or_fail!(api.get(name).await.map_err(|e| explain(&conn, e)));
            let mut value = serde_json::to_value(&object).unwrap_or_default();
            scrub(&mut value);
            return Ok(text(truncate_to_budget(
                &serde_json::to_string_pretty(&value).unwrap_or_default(),
                3000,
            )));
        }
        let mut params = ListParams::default();
        if let Some(l) = &args.label_selector {
            params = params.labels(l);
        }
        let list = or_fail!(api.list(&params).await.map_err(|e| explain(&conn, e)));
        if list.items.is_empty() {
            return Ok(failure(format!("no {} found", args.kind)));
        }
        let mut table = Table::new(if namespaced {
            vec!["NAMESPACE", "NAME", "AGE"]
        } else {
            vec!["NAME", "AGE"]
        });
        for o in list.items.iter().take(200) {
            let mut row = Vec::new();
            if namespaced {
                row.push(o.metadata.namespace.clone().unwrap_or_default());
            }
            row.push(o.metadata.name.clone().unwrap_or_default());
            row.push(age(o.metadata.creation_timestamp.as_ref()));
            table.row(row);
        }
        let more = if list.items.len() > 200 {
            format!(
                "\nshowing 200 of {}; narrow with label_selector",
                list.items.len()
            )
        } else {
            String::new()
        };
        Ok(text(format!(
            "{} {}\n{}{more}",
            list.items.len(),
            args.kind,
            table.render()
        )))
    }
}
