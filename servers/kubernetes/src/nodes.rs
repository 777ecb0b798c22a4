//! Node operations, all high risk: `node_cordon` and `node_uncordon` (whether new pods may be
//! scheduled there, verified on the node) and `node_drain` (cordon, then evict every pod as
//! `kubectl drain` does — DaemonSet and mirror pods stay, pods without a controller only with
//! force — retrying while a PodDisruptionBudget has no disruption to spare, with progress,
//! verified when the evicted pods are gone from the node).

use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

use k8s_openapi::api::{
    core::v1::{Node, Pod},
    policy::v1::PodDisruptionBudget,
};
use kube::api::{Api, EvictParams, ListParams, Patch, PatchParams};
use opsmcp_core::{
    approval::{Exchange, Proposal},
    or_fail,
    risk::{Action, RiskLevel},
    tools::{failure, text},
};
use rmcp::{
    ErrorData,
    handler::server::wrapper::Parameters,
    model::CallToolResponse,
    schemars::{self, JsonSchema},
    tool, tool_router,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{
    KubernetesServer,
    access::{self, Request},
    changes::Progress,
    client::{Connection, explain},
};

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct NodeArgs {
    /// Node name
    pub name: String,
    /// kubeconfig context
    pub context: Option<String>,
    /// 0-1; yolo mode runs confident changes unasked
    pub confidence: Option<f64>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct DrainArgs {
    /// Node name
    pub name: String,
    /// Also evict pods without a controller (they are lost)
    pub force: Option<bool>,
    /// Seconds to retry evictions a disruption budget refuses
    pub timeout_secs: Option<u64>,
    /// kubeconfig context
    pub context: Option<String>,
    /// 0-1; yolo mode runs confident changes unasked
    pub confidence: Option<f64>,
}

fn cordoned(node: &Node) -> bool {
    node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true)
}

/// `namespace/name`.
fn key(pod: &Pod) -> String {
    format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.name.as_deref().unwrap_or_default()
    )
}

/// What drain does with a pod: (evict it, why not).
fn drain_plan(pod: &Pod, force: bool) -> Result<bool, String> {
    let controller = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true));
    if controller.is_some_and(|c| c.kind == "DaemonSet") {
        return Ok(false);
    }
    let mirror = pod
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key("kubernetes.io/config.mirror"));
    if mirror {
        return Ok(false);
    }
    let finished = matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    );
    if controller.is_none() && !force && !finished {
        return Err(key(pod));
    }
    Ok(true)
}

/// The pods on `node`.
async fn pods_on(conn: &Connection, node: &str) -> Result<Vec<Pod>, String> {
    Api::<Pod>::all(conn.client.clone())
        .list(&ListParams::default().fields(&format!("spec.nodeName={node}")))
        .await
        .map(|l| l.items)
        .map_err(|e| explain(conn, e).to_string())
}

/// The budgets that cover `pod`, with the disruptions they allow now.
fn budgets_of<'a>(pod: &Pod, budgets: &'a [PodDisruptionBudget]) -> Vec<(&'a str, i32)> {
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    budgets
        .iter()
        .filter(|b| b.metadata.namespace == pod.metadata.namespace)
        .filter(|b| {
            b.spec
                .as_ref()
                .and_then(|s| s.selector.as_ref())
                .and_then(|s| s.match_labels.as_ref())
                .is_some_and(|m| m.iter().all(|(k, v)| labels.get(k) == Some(v)))
        })
        .map(|b| {
            (
                b.metadata.name.as_deref().unwrap_or_default(),
                b.status.as_ref().map_or(0, |s| s.disruptions_allowed),
            )
        })
        .collect()
}

impl KubernetesServer {
    /// Cordon or uncordon: plan, gate, patch, verify.
    async fn set_schedulable(
        &self,
        exchange: &Exchange,
        args: &NodeArgs,
        cordon: bool,
    ) -> Result<CallToolResponse, ErrorData> {
        let (tool, verb) = if cordon {
            ("node_cordon", "cordon")
        } else {
            ("node_uncordon", "uncordon")
        };
        or_fail!(self.clients().cluster_kind_allowed("Node"));
        let conn = or_fail!(self.clients().connect(args.context.as_deref()).await);
        let nodes: Api<Node> = Api::all(conn.client.clone());
        let node = or_fail!(nodes.get(&args.name).await.map_err(|e| explain(&conn, e)));
        if cordoned(&node) == cordon {
            let state = if cordon {
                "already cordoned"
            } else {
                "not cordoned"
            };
            return Ok(text(format!("{} is {state}: nothing to do", args.name)).into());
        }
        or_fail!(
            access::check(
                &conn,
                &[Request::new("patch", "", "nodes", "").named(&args.name)]
            )
            .await
        );
        let running = or_fail!(pods_on(&conn, &args.name).await).len();
        let action = Action {
            tool: tool.into(),
            verb: verb.into(),
            resource: Some("node".into()),
            name: Some(args.name.clone()),
            base: Some(RiskLevel::High),
            detail: Some(if cordon {
                format!("no new pods go there; its {running} pods keep running")
            } else {
                "the scheduler may place pods there again".into()
            }),
            ..Action::default()
        };
        let kubectl = format!("kubectl --context {} {verb} {}", conn.context, args.name);
        let proposal = Proposal::new(action, args, kubectl);
        let preview = async {
            Some(format!(
                "{} runs {running} pods; spec.unschedulable would become {cordon}",
                args.name
            ))
        };
        let change = || async {
            set_unschedulable(&conn, &nodes, &args.name, cordon).await?;
            Ok(if cordon {
                format!(
                    "cordoned {}: new pods go elsewhere; {running} pods still run on it (node_drain evicts them)",
                    args.name
                )
            } else {
                format!("uncordoned {}: it takes new pods again", args.name)
            })
        };
        self.safety()
            .apply(exchange, proposal, preview, change)
            .await
    }

    /// Evict `pods` until none is left or `timeout` passes; the ones evicted, or why some
    /// were not.
    async fn evict_all(
        &self,
        exchange: &Exchange,
        conn: &Connection,
        mut pods: Vec<Pod>,
        timeout: Duration,
    ) -> Result<Vec<String>, String> {
        let started = Instant::now();
        let mut progress = Progress::new(exchange);
        let total = pods.len();
        let mut evicted = Vec::new();
        loop {
            let mut waiting = Vec::new();
            for pod in std::mem::take(&mut pods) {
                let ns = pod.metadata.namespace.clone().unwrap_or_default();
                let name = pod.metadata.name.clone().unwrap_or_default();
                // A refused eviction (429) is an answer: retried here, on the drain's clock.
                let api: Api<Pod> = Api::namespaced(conn.once.clone(), &ns);
                match api.evict(&name, &EvictParams::default()).await {
                    Ok(_) => evicted.push(key(&pod)),
                    Err(kube::Error::Api(s)) if s.code == 404 => evicted.push(key(&pod)),
                    Err(kube::Error::Api(s)) if s.code == 429 => {
                        let why = s
                            .details
                            .as_ref()
                            .and_then(|d| d.causes.first())
                            .map_or(s.message.clone(), |c| {
                                format!("{} ({})", s.message, c.message)
                            });
                        waiting.push((pod, why));
                    }
                    Err(e) => {
                        return Err(format!(
                            "evicting {}: {} (evicted before it: {})",
                            key(&pod),
                            explain(conn, e),
                            if evicted.is_empty() {
                                "none".to_owned()
                            } else {
                                evicted.join(", ")
                            }
                        ));
                    }
                }
            }
            if waiting.is_empty() {
                return Ok(evicted);
            }
            let blocked: Vec<String> = waiting
                .iter()
                .map(|(p, why)| format!("{} — {why}", key(p)))
                .collect();
            if started.elapsed() >= timeout {
                return Err(format!(
                    "after {}s, {} of {total} pods could not be evicted: {} (evicted: {})",
                    timeout.as_secs(),
                    waiting.len(),
                    blocked.join("; "),
                    if evicted.is_empty() {
                        "none".to_owned()
                    } else {
                        evicted.join(", ")
                    }
                ));
            }
            progress
                .report(format!(
                    "evicted {} of {total}; waiting: {}",
                    evicted.len(),
                    blocked.join("; ")
                ))
                .await;
            pods = waiting.into_iter().map(|(p, _)| p).collect();
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }

    /// Wait until the evicted pods (by uid) are gone from the node.
    async fn verify_gone_from(
        &self,
        conn: &Connection,
        node: &str,
        uids: &BTreeSet<String>,
        timeout: Duration,
    ) -> Result<(), String> {
        let started = Instant::now();
        loop {
            let left: Vec<String> = pods_on(conn, node)
                .await?
                .iter()
                .filter(|p| p.metadata.uid.as_ref().is_some_and(|u| uids.contains(u)))
                .map(key)
                .collect();
            if left.is_empty() {
                return Ok(());
            }
            if started.elapsed() >= timeout {
                return Err(format!(
                    "still terminating on {node} after {}s: {}",
                    timeout.as_secs(),
                    left.join(", ")
                ));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

async fn set_unschedulable(
    conn: &Connection,
    nodes: &Api<Node>,
    name: &str,
    value: bool,
) -> Result<(), String> {
    let patch = json!({ "spec": { "unschedulable": value } });
    let params = PatchParams {
        field_manager: Some("opsmcp".into()),
        ..PatchParams::default()
    };
    let patched = nodes
        .patch(name, &params, &Patch::Strategic(&patch))
        .await
        .map_err(|e| explain(conn, e).to_string())?;
    if cordoned(&patched) == value {
        Ok(())
    } else {
        Err(format!(
            "{name}: the API server did not keep spec.unschedulable={value}"
        ))
    }
}

#[tool_router(router = nodes_router, vis = "pub(crate)")]
impl KubernetesServer {
    /// Cordon a node: no new pods go there; its pods keep running.
    #[tool]
    pub async fn node_cordon(
        &self,
        exchange: Exchange,
        Parameters(args): Parameters<NodeArgs>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.set_schedulable(&exchange, &args, true).await
    }

    /// Uncordon a node: it takes new pods again.
    #[tool]
    pub async fn node_uncordon(
        &self,
        exchange: Exchange,
        Parameters(args): Parameters<NodeArgs>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.set_schedulable(&exchange, &args, false).await
    }

    /// Drain a node as kubectl does: cordon, then evict its pods except DaemonSets', retrying
    /// while a PodDisruptionBudget allows no disruption.
    #[tool]
    pub async fn node_drain(
        &self,
        exchange: Exchange,
        Parameters(args): Parameters<DrainArgs>,
    ) -> Result<CallToolResponse, ErrorData> {
        or_fail!(self.clients().cluster_kind_allowed("Node"));
        let conn = or_fail!(self.clients().connect(args.context.as_deref()).await);
        let nodes: Api<Node> = Api::all(conn.client.clone());
        or_fail!(nodes.get(&args.name).await.map_err(|e| explain(&conn, e)));
        let on_node = or_fail!(pods_on(&conn, &args.name).await);
        let force = args.force.unwrap_or(false);
        let mut to_evict = Vec::new();
        let mut unmanaged = Vec::new();
        for pod in &on_node {
            match drain_plan(pod, force) {
                Ok(true) => to_evict.push(pod.clone()),
                Ok(false) => {}
                Err(name) => unmanaged.push(name),
            }
        }
        if !unmanaged.is_empty() {
            return Ok(failure(format!(
                "no controller recreates {}: they would be lost. Pass force=true to evict them anyway",
                unmanaged.join(", ")
            ))
            .into());
        }
        let namespaces: BTreeSet<String> = to_evict
            .iter()
            .filter_map(|p| p.metadata.namespace.clone())
            .collect();
        for ns in &namespaces {
            or_fail!(self.clients().allowed(ns));
        }
        let mut requests = vec![Request::new("patch", "", "nodes", "").named(&args.name)];
        requests.extend(
            namespaces
                .iter()
                .map(|ns| Request::new("create", "", "pods", ns).subresource("eviction")),
        );
        or_fail!(access::check(&conn, &requests).await);
        let budgets: Vec<PodDisruptionBudget> =
            Api::<PodDisruptionBudget>::all(conn.client.clone())
                .list(&ListParams::default())
                .await
                .map(|l| l.items)
                .unwrap_or_default();
        let action = Action {
            tool: "node_drain".into(),
            verb: "drain".into(),
            resource: Some("node".into()),
            name: Some(args.name.clone()),
            base: Some(RiskLevel::High),
            detail: Some(format!(
                "evicts {} pods in {}; their controllers recreate them elsewhere",
                to_evict.len(),
                namespaces.iter().cloned().collect::<Vec<_>>().join(", ")
            )),
            ..Action::default()
        };
        let kubectl = format!(
            "kubectl --context {} drain {} --ignore-daemonsets --delete-emptydir-data{}",
            conn.context,
            args.name,
            if force { " --force" } else { "" }
        );
        let proposal = Proposal::new(action, &args, kubectl);
        let preview = async {
            let lines: Vec<String> = to_evict
                .iter()
                .map(|p| {
                    let budgets = budgets_of(p, &budgets);
                    match budgets.first() {
                        Some((name, 0)) => format!(
                            "{} — budget {name} allows no disruption now: eviction waits",
                            key(p)
                        ),
                        Some((name, n)) => format!("{} — budget {name} allows {n}", key(p)),
                        None => key(p),
                    }
                })
                .collect();
            Some(format!(
                "would cordon {} and evict {} pods:\n{}",
                args.name,
                lines.len(),
                lines.join("\n")
            ))
        };
        let timeout = Duration::from_secs(
            args.timeout_secs
                .unwrap_or(self.clients().args().verify_timeout_secs),
        );
        let uids: BTreeSet<String> = to_evict
            .iter()
            .filter_map(|p| p.metadata.uid.clone())
            .collect();
        let drain = || async {
            let started = Instant::now();
            set_unschedulable(&conn, &nodes, &args.name, true).await?;
            let evicted = self
                .evict_all(&exchange, &conn, to_evict.clone(), timeout)
                .await
                .map_err(|e| format!("{} is cordoned; {e}", args.name))?;
            self.verify_gone_from(&conn, &args.name, &uids, timeout)
                .await?;
            Ok(format!(
                "drained {} in {}s: cordoned, evicted {} pods ({}); their controllers recreate them elsewhere",
                args.name,
                started.elapsed().as_secs(),
                evicted.len(),
                evicted.join(", ")
            ))
        };
        self.safety()
            .apply(&exchange, proposal, preview, drain)
            .await
    }
}
