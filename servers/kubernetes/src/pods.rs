//! Pods: the compact list (problems first), a describe that fits in a few lines, logs with a
//! grep, and events (warnings first, deduplicated with counts).

use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, ListParams, LogParams};
use opsmcp_core::{
    or_fail,
    output::{Budget, Table, fenced, truncate_to_budget, untrusted_line},
    structured::with_structured,
    tools::{failure, text},
};
use rmcp::{
    ErrorData,
    handler::server::wrapper::Parameters,
    model::CallToolResult,
    schemars::{self, JsonSchema},
    tool, tool_router,
};
use serde::{Deserialize, Serialize};

use crate::{
    KubernetesServer,
    client::explain,
    render::{age, container_reason, pod_status, ready_count, restarts},
};

/// `pods_list` as data, the page shown (for callers that ask, see `opsmcp_core::structured`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct PodList {
    /// Pods matching, on every page
    pub total: usize,
    pub pods: Vec<PodItem>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PodItem {
    pub namespace: String,
    pub name: String,
    /// Running, CrashLoopBackOff, OOMKilled, Pending, …
    pub status: String,
    pub healthy: bool,
    pub ready: String,
    pub restarts: i32,
    /// Why its containers' last runs ended (OOMKilled, Error, …), most recent first
    pub last_terminations: Vec<String>,
    pub node: Option<String>,
}

impl PodItem {
    fn of(pod: &Pod) -> Self {
        let (ready, total) = ready_count(pod);
        let statuses = pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .map(Vec::as_slice)
            .unwrap_or_default();
        let mut ended: Vec<_> = statuses
            .iter()
            .filter_map(|c| c.last_state.as_ref()?.terminated.as_ref())
            .collect();
        ended.sort_by_key(|t| std::cmp::Reverse(t.finished_at.as_ref().map(|f| f.0)));
        Self {
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            name: pod.metadata.name.clone().unwrap_or_default(),
            status: pod_status(pod),
            healthy: healthy(pod),
            ready: format!("{ready}/{total}"),
            restarts: statuses.iter().map(|c| c.restart_count).sum(),
            last_terminations: ended.iter().filter_map(|t| t.reason.clone()).collect(),
            node: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct PodsArgs {
    /// Namespace; "all" for every namespace
    pub namespace: Option<String>,
    /// kubeconfig context
    pub context: Option<String>,
    /// Label selector, e.g. app=worker
    pub label_selector: Option<String>,
    /// Field selector, e.g. spec.nodeName=node-a
    pub field_selector: Option<String>,
    /// Only pods not Running and ready (CrashLoopBackOff, Pending, …) or failed in the last hour
    #[serde(default)]
    pub errors_only: bool,
    /// Only pods OOM-killed now or in their last run
    #[serde(default)]
    pub oom_killed: bool,
    /// Only pods in this phase: Pending, Running, Succeeded, Failed, Unknown
    pub phase: Option<String>,
    /// Most pods per page (default 100)
    pub limit: Option<usize>,
    /// From a previous answer, for the next page
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct PodArgs {
    /// Pod name
    pub name: String,
    /// Namespace
    pub namespace: Option<String>,
    /// kubeconfig context
    pub context: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct LogsArgs {
    /// Pod name
    pub name: String,
    /// Namespace
    pub namespace: Option<String>,
    /// kubeconfig context
    pub context: Option<String>,
    /// Container (default: the only one)
    pub container: Option<String>,
    /// Last N lines (default 100, at most 2000)
    pub tail: Option<i64>,
    /// Only lines newer than this many seconds
    pub since_seconds: Option<i64>,
    /// The previous run of the container (before its last restart)
    #[serde(default)]
    pub previous: bool,
    /// Only lines containing this text (case-insensitive)
    pub grep: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct EventsArgs {
    /// Namespace; "all" for every namespace
    pub namespace: Option<String>,
    /// kubeconfig context
    pub context: Option<String>,
    /// Only events about this object, e.g. pod/worker-7d9f or deployment/web
    pub object: Option<String>,
    /// Only warnings
    #[serde(default)]
    pub warnings_only: bool,
    /// Most events (default 30)
    pub limit: Option<usize>,
}

/// A container of the pod was OOM-killed (now, or in its last run).
fn oom_killed(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .any(|c| {
            let reason = |t: Option<&k8s_openapi::api::core::v1::ContainerStateTerminated>| {
                t.and_then(|t| t.reason.as_deref()) == Some("OOMKilled")
            };
            reason(c.state.as_ref().and_then(|s| s.terminated.as_ref()))
                || reason(c.last_state.as_ref().and_then(|s| s.terminated.as_ref()))
        })
}

fn healthy(pod: &Pod) -> bool {
    let (ready, total) = ready_count(pod);
    pod_status(pod) == "Running" && ready == total && !failed_lately(pod)
        || pod_status(pod) == "Succeeded"
        || pod_status(pod) == "Completed"
}

/// A container of the pod failed (OOM-killed, a non-zero exit) within the last hour: running
/// again, it is still the pod an on-call wants to see.
fn failed_lately(pod: &Pod) -> bool {
    let hour_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1);
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|c| c.last_state.as_ref()?.terminated.as_ref())
        .any(|t| t.exit_code != 0 && t.finished_at.as_ref().is_some_and(|f| f.0 > hour_ago))
}

/// Events grouped (same type, reason, object and message) as lines, warnings and the newest
/// first, at most `limit` of them, and how many groups were left out.
pub fn event_lines(
    mut events: Vec<Event>,
    warnings_only: bool,
    limit: usize,
) -> (Vec<String>, usize) {
    events.retain(|e| !warnings_only || e.type_.as_deref() == Some("Warning"));
    let last = |e: &Event| {
        e.last_timestamp
            .as_ref()
            .map(|t| t.0)
            .or_else(|| e.event_time.as_ref().map(|t| t.0))
            .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0))
    };
    let mut grouped: Vec<(String, String, String, String, i32, Option<jiff::Timestamp>)> =
        Vec::new();
    for e in &events {
        let object = format!(
            "{}/{}",
            e.involved_object
                .kind
                .as_deref()
                .unwrap_or("")
                .to_lowercase(),
            e.involved_object.name.as_deref().unwrap_or("")
        );
        let (kind, reason, message) = (
            e.type_.clone().unwrap_or_default(),
            untrusted_line(e.reason.as_deref().unwrap_or_default()),
            untrusted_line(e.message.as_deref().unwrap_or_default()),
        );
        let count = e.count.unwrap_or(1).max(1);
        match grouped
            .iter_mut()
            .find(|g| g.0 == kind && g.1 == reason && g.2 == object && g.3 == message)
        {
            Some(g) => {
                g.4 += count;
                g.5 = g.5.max(last(e));
            }
            None => grouped.push((kind, reason, object, message, count, last(e))),
        }
    }
    grouped.sort_by(|a, b| {
        (a.0 != "Warning", std::cmp::Reverse(a.5)).cmp(&(b.0 != "Warning", std::cmp::Reverse(b.5)))
    });
    let left_out = grouped.len().saturating_sub(limit);
    let lines = grouped
        .into_iter()
        .take(limit)
        .map(|(kind, reason, object, message, count, at)| {
            let times = if count > 1 {
                format!(" x{count}")
            } else {
                String::new()
            };
            let when = at.map(crate::render::ago).unwrap_or_else(|| "?".into());
            format!("{when} {kind} {reason}{times} {object}: {message}")
        })
        .collect();
    (lines, left_out)
}

#[tool_router(router = pods_router, vis = "pub(crate)")]
impl KubernetesServer {
    /// Pods with ready, status (waiting/terminated reason), restarts with the last termination
    /// reason, age and node; problems first.
    #[tool]
    pub async fn pods_list(
        &self,
        Parameters(args): Parameters<PodsArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let conn = or_fail!(self.clients().connect(args.context.as_deref()).await);
        let all = matches!(args.namespace.as_deref(), Some("all" | "*"));
        let api: Api<Pod> = if all {
            if !self.clients().all_namespaces_allowed() {
                return Ok(failure(
                    "listing every namespace is not allowed here: name a namespace",
                ));
            }
            Api::all(conn.client.clone())
        } else {
            Api::namespaced(
                conn.client.clone(),
                &or_fail!(self.clients().namespace(&conn, args.namespace.as_deref())),
            )
        };
        let mut params = ListParams::default();
        if let Some(l) = &args.label_selector {
            params = params.labels(l);
        }
        if let Some(f) = &args.field_selector {
            params = params.fields(f);
        }
        let mut pods = or_fail!(api.list(&params).await.map_err(|e| explain(&conn, e))).items;
        if args.errors_only {
            pods.retain(|p| !healthy(p));
        }
        if args.oom_killed {
            pods.retain(oom_killed);
        }
        if let Some(phase) = &args.phase {
            pods.retain(|p| {
                p.status
                    .as_ref()
                    .and_then(|s| s.phase.as_deref())
                    .is_some_and(|ph| ph.eq_ignore_ascii_case(phase))
            });
        }
        if pods.is_empty() {
            return Ok(text(if args.errors_only {
                "no unhealthy pods"
            } else {
                "no pods match"
            }));
        }
        pods.sort_by_key(|p| {
            (
                healthy(p),
                p.metadata.namespace.clone(),
                p.metadata.name.clone(),
            )
        });
        let unhealthy = pods.iter().filter(|p| !healthy(p)).count();
        let row = |p: &Pod| {
            let (ready, total) = ready_count(p);
            let mut cells = Vec::new();
            if all {
                cells.push(p.metadata.namespace.clone().unwrap_or_default());
            }
            cells.extend([
                p.metadata.name.clone().unwrap_or_default(),
                format!("{ready}/{total}"),
                pod_status(p),
                restarts(p),
                age(p.metadata.creation_timestamp.as_ref()),
                p.spec
                    .as_ref()
                    .and_then(|s| s.node_name.clone())
                    .unwrap_or_else(|| "-".into()),
            ]);
            cells
        };
        let key = format!(
            "pods {all} {:?} {:?} {:?} {} {} {:?}",
            args.namespace,
            args.label_selector,
            args.field_selector,
            args.errors_only,
            args.oom_killed,
            args.phase
        );
        let budget = Budget {
            limit: args.limit.unwrap_or(100).max(1),
            max_tokens: 3500,
        };
        let page = or_fail!(budget.page(pods, args.cursor.as_deref(), &key, |p| row(p).join("  ")));
        let mut headers = vec![];
        if all {
            headers.push("NAMESPACE");
        }
        headers.extend(["NAME", "READY", "STATUS", "RESTARTS", "AGE", "NODE"]);
        let mut table = Table::new(headers);
        for p in &page.items {
            table.row(row(p));
        }
        let mut out = format!(
            "{} pods, {unhealthy} not healthy\n{}",
            page.total,
            table.render()
        );
        if let Some(notice) = page.notice() {
            out.push_str(&format!("\n{notice}"));
        }
        let data = PodList {
            total: page.total,
            pods: page.items.iter().map(PodItem::of).collect(),
        };
        Ok(with_structured(text(out), &data))
    }

    /// One pod in a few lines: node, owner, each container's state, last termination
    /// (OOMKilled, exit code), requests and limits, config and secret references (key names
    /// only), unmet conditions and recent events.
    #[tool]
    pub async fn pod_describe(
        &self,
        Parameters(args): Parameters<PodArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let conn = or_fail!(self.clients().connect(args.context.as_deref()).await);
        let ns = or_fail!(self.clients().namespace(&conn, args.namespace.as_deref()));
        let pod = or_fail!(
            Api::<Pod>::namespaced(conn.client.clone(), &ns)
                .get(&args.name)
                .await
                .map_err(|e| explain(&conn, e))
        );
        let events = Api::<Event>::namespaced(conn.client.clone(), &ns)
            .list(&ListParams::default().fields(&format!(
                "involvedObject.name={},involvedObject.namespace={ns}",
                args.name
            )))
            .await
            .map(|l| l.items)
            .unwrap_or_default();
        Ok(text(describe(&pod, events)))
    }

    /// Logs of a pod's container: the last lines (or since a time), the previous run with
    /// previous=true, filtered with grep.
    #[tool]
    pub async fn pod_logs(
        &self,
        Parameters(args): Parameters<LogsArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let conn = or_fail!(self.clients().connect(args.context.as_deref()).await);
        let ns = or_fail!(self.clients().namespace(&conn, args.namespace.as_deref()));
        let params = LogParams {
            container: args.container.clone(),
            tail_lines: Some(args.tail.unwrap_or(100).clamp(1, 2000)),
            since_seconds: args.since_seconds,
            previous: args.previous,
            ..LogParams::default()
        };
        let logs = or_fail!(
            Api::<Pod>::namespaced(conn.client.clone(), &ns)
                .logs(&args.name, &params)
                .await
                .map_err(|e| explain(&conn, e))
        );
        let lines: Vec<&str> = match &args.grep {
            Some(g) => {
                let g = g.to_lowercase();
                logs.lines()
                    .filter(|l| l.to_lowercase().contains(&g))
                    .collect()
            }
            None => logs.lines().collect(),
        };
        if lines.is_empty() {
            return Ok(text(match &args.grep {
                Some(g) => format!(
                    "no line of the {} log lines contains `{g}`",
                    logs.lines().count()
                ),
                None => "the log is empty".into(),
            }));
        }
        let which = if args.previous {
            "previous run"
        } else {
            "current run"
        };
        // Cut before fencing, so that the fence always closes.
        Ok(text(format!(
            "{} lines ({which})\n{}",
            lines.len(),
            fenced("log", &truncate_to_budget(&lines.join("\n"), 2950))
        )))
    }

    /// Events, warnings first, deduplicated with counts; for one object (kind/name) or a whole
    /// namespace.
    #[tool]
    pub async fn events_list(
        &self,
        Parameters(args): Parameters<EventsArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let conn = or_fail!(self.clients().connect(args.context.as_deref()).await);
        let all = matches!(args.namespace.as_deref(), Some("all" | "*"));
        let api: Api<Event> = if all && self.clients().all_namespaces_allowed() {
            Api::all(conn.client.clone())
        } else {
            Api::namespaced(
                conn.client.clone(),
                &or_fail!(self.clients().namespace(&conn, args.namespace.as_deref())),
            )
        };
        let mut params = ListParams::default();
        if let Some(object) = &args.object {
            let Some((kind, name)) = object.split_once('/') else {
                return Ok(failure(format!(
                    "object must be kind/name, e.g. pod/{object}"
                )));
            };
            let kind = match kind.to_lowercase().as_str() {
                "po" | "pod" | "pods" => "Pod",
                "deploy" | "deployment" | "deployments" => "Deployment",
                "rs" | "replicaset" | "replicasets" => "ReplicaSet",
                "no" | "node" | "nodes" => "Node",
                "svc" | "service" | "services" => "Service",
                other => {
                    return Ok(failure(format!(
                        "unknown kind `{other}`: use pod, deployment, replicaset, node or service"
                    )));
                }
            };
            params = params.fields(&format!(
                "involvedObject.kind={kind},involvedObject.name={name}"
            ));
        }
        let events = or_fail!(api.list(&params).await.map_err(|e| explain(&conn, e))).items;
        let limit = args.limit.unwrap_or(30).max(1);
        let (lines, left_out) = event_lines(events, args.warnings_only, limit);
        if lines.is_empty() {
            return Ok(text("no events"));
        }
        let mut out = lines.join("\n");
        if left_out > 0 {
            out.push_str(&format!(
                "\n{left_out} more events not shown ({} of {}; warnings and the newest come first): raise limit, or narrow with object= or warnings_only",
                lines.len(),
                lines.len() + left_out
            ));
        }
        Ok(text(out))
    }
}

/// The compact describe of a pod.
pub fn describe(pod: &Pod, events: Vec<Event>) -> String {
    let meta = &pod.metadata;
    let spec = pod.spec.clone().unwrap_or_default();
    let status = pod.status.clone().unwrap_or_default();
    let (ready, total) = ready_count(pod);
    let owner = meta
        .owner_references
        .as_ref()
        .and_then(|o| o.first())
        .map(|o| format!(", owner {}/{}", o.kind, o.name))
        .unwrap_or_default();
    let mut out = vec![format!(
        "pod {}/{}: {}, {ready}/{total} ready, node {} ({}), IP {}, QoS {}{owner}, age {}",
        meta.namespace.as_deref().unwrap_or(""),
        meta.name.as_deref().unwrap_or(""),
        pod_status(pod),
        spec.node_name.as_deref().unwrap_or("-"),
        status.host_ip.as_deref().unwrap_or("-"),
        status.pod_ip.as_deref().unwrap_or("-"),
        status.qos_class.as_deref().unwrap_or("-"),
        age(meta.creation_timestamp.as_ref()),
    )];
    let statuses = status.container_statuses.clone().unwrap_or_default();
    for c in &spec.containers {
        let s = statuses.iter().find(|s| s.name == c.name);
        out.push(format!(
            "container {} image {}",
            c.name,
            c.image.as_deref().unwrap_or("?")
        ));
        if let Some(s) = s {
            let state = match (
                container_reason(s),
                s.state.as_ref().and_then(|st| st.running.as_ref()),
            ) {
                (Some(reason), _) => {
                    let message = s
                        .state
                        .as_ref()
                        .and_then(|st| st.waiting.as_ref().and_then(|w| w.message.as_deref()))
                        .map(|m| format!(" ({})", untrusted_line(m)))
                        .unwrap_or_default();
                    format!("{reason}{message}")
                }
                (None, Some(r)) => format!("running since {}", age(r.started_at.as_ref())),
                _ => "unknown".into(),
            };
            out.push(format!(
                "  state: {state}; ready {}; restarts {}",
                s.ready, s.restart_count
            ));
            if let Some(t) = s.last_state.as_ref().and_then(|l| l.terminated.as_ref()) {
                let ran = match (&t.started_at, &t.finished_at) {
                    (Some(a), Some(b)) => format!(" after {}s", b.0.as_second() - a.0.as_second()),
                    _ => String::new(),
                };
                out.push(format!(
                    "  last terminated: {} exit {} {} ago{ran}",
                    t.reason.as_deref().unwrap_or("?"),
                    t.exit_code,
                    age(t.finished_at.as_ref())
                ));
            }
        }
        if let Some(r) = &c.resources {
            let fmt = |m: &Option<
                std::collections::BTreeMap<
                    String,
                    k8s_openapi::apimachinery::pkg::api::resource::Quantity,
                >,
            >| {
                m.as_ref()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| format!("{k} {}", v.0))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "none".into())
            };
            out.push(format!(
                "  requests: {}; limits: {}",
                fmt(&r.requests),
                fmt(&r.limits)
            ));
        }
        let mut refs = Vec::new();
        for e in c.env_from.iter().flatten() {
            if let Some(cm) = &e.config_map_ref {
                refs.push(format!("configmap/{} (all keys)", cm.name));
            }
            if let Some(s) = &e.secret_ref {
                refs.push(format!("secret/{} (all keys)", s.name));
            }
        }
        for e in c.env.iter().flatten() {
            if let Some(from) = &e.value_from {
                if let Some(k) = &from.secret_key_ref {
                    refs.push(format!("secret/{} key {} as {}", k.name, k.key, e.name));
                }
                if let Some(k) = &from.config_map_key_ref {
                    refs.push(format!("configmap/{} key {} as {}", k.name, k.key, e.name));
                }
            }
        }
        for m in c.volume_mounts.iter().flatten() {
            let source = spec
                .volumes
                .iter()
                .flatten()
                .find(|v| v.name == m.name)
                .and_then(|v| {
                    v.config_map
                        .as_ref()
                        .map(|c| format!("configmap/{}", c.name))
                        .or_else(|| {
                            v.secret.as_ref().map(|s| {
                                format!("secret/{}", s.secret_name.clone().unwrap_or_default())
                            })
                        })
                        .or_else(|| {
                            v.persistent_volume_claim
                                .as_ref()
                                .map(|p| format!("pvc/{}", p.claim_name))
                        })
                });
            if let Some(source) = source {
                refs.push(format!("{source} at {}", m.mount_path));
            }
        }
        if !refs.is_empty() {
            out.push(format!("  uses: {}", refs.join("; ")));
        }
    }
    let unmet: Vec<String> = status
        .conditions
        .iter()
        .flatten()
        .filter(|c| c.status != "True")
        .map(|c| match (&c.reason, &c.message) {
            (Some(r), Some(m)) => {
                format!("{} ({}: {})", c.type_, untrusted_line(r), untrusted_line(m))
            }
            (Some(r), None) => format!("{} ({})", c.type_, untrusted_line(r)),
            _ => c.type_.clone(),
        })
        .collect();
    if !unmet.is_empty() {
        out.push(format!("conditions not met: {}", unmet.join("; ")));
    }
    let (lines, left_out) = event_lines(events, false, 8);
    if !lines.is_empty() {
        out.push("events:".into());
        out.extend(lines.into_iter().map(|l| format!("  {l}")));
    }
    if left_out > 0 {
        out.push(format!(
            "  {left_out} more: events_list object=pod/{}",
            meta.name.as_deref().unwrap_or("")
        ));
    }
    out.join("\n")
}
