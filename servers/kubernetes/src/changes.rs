//! Remediation: scale, rollout restart, rollback, container resources and pod restarts. Each
//! change is first checked against the credentials' permissions ([`crate::access`]), then goes
//! through the safety engine (plan mode shows the kubectl equivalent, the risk and
//! a server-side dry-run diff), then runs, then is verified — pods Ready, rollout complete on
//! the new template — with progress notifications while waiting; `--auto-rollback` undoes a
//! deployment change that does not verify.

use std::time::{Duration, Instant};

use k8s_openapi::api::{
    apps::v1::{Deployment, ReplicaSet},
    core::v1::Pod,
};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use opsmcp_core::{
    approval::{Exchange, Gate, Proposal},
    or_fail,
    risk::{Action, RiskLevel},
    tools::failure,
};
use rmcp::{
    ErrorData,
    handler::server::wrapper::Parameters,
    model::{CallToolResponse, ProgressNotificationParam},
    schemars::{self, JsonSchema},
    tool, tool_router,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    KubernetesServer,
    access::{self, Request},
    client::{Connection, explain},
    render::{pod_status, ready_count},
};

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ScaleArgs {
    /// Deployment name
    pub name: String,
    /// Desired replicas
    pub replicas: i32,
    /// Namespace
    pub namespace: Option<String>,
    /// kubeconfig context
    pub context: Option<String>,
    /// 0-1; yolo mode runs confident changes unasked
    pub confidence: Option<f64>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct DeploymentArgs {
    /// Deployment name
    pub name: String,
    /// Namespace
    pub namespace: Option<String>,
    /// kubeconfig context
    pub context: Option<String>,
    /// 0-1; yolo mode runs confident changes unasked
    pub confidence: Option<f64>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct RollbackArgs {
    /// Deployment name
    pub name: String,
    /// Revision to return to (default: the previous one)
    pub revision: Option<i64>,
    /// Namespace
    pub namespace: Option<String>,
    /// kubeconfig context
    pub context: Option<String>,
    /// 0-1; yolo mode runs confident changes unasked
    pub confidence: Option<f64>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ResourcesArgs {
    /// Deployment name
    pub name: String,
    /// Container (default: the only one)
    pub container: Option<String>,
    /// New memory limit, e.g. 256Mi
    pub memory_limit: Option<String>,
    /// New memory request, e.g. 128Mi
    pub memory_request: Option<String>,
    /// New CPU limit, e.g. 500m
    pub cpu_limit: Option<String>,
    /// New CPU request, e.g. 100m
    pub cpu_request: Option<String>,
    /// Namespace
    pub namespace: Option<String>,
    /// kubeconfig context
    pub context: Option<String>,
    /// 0-1; yolo mode runs confident changes unasked
    pub confidence: Option<f64>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct RestartPodsArgs {
    /// One pod to delete for recreation by its controller
    pub name: Option<String>,
    /// Or every pod matching this label selector, e.g. app=worker
    pub label_selector: Option<String>,
    /// Namespace
    pub namespace: Option<String>,
    /// kubeconfig context
    pub context: Option<String>,
    /// 0-1; yolo mode runs confident changes unasked
    pub confidence: Option<f64>,
}

fn revision(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> i64 {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get("deployment.kubernetes.io/revision"))
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// Progress notifications of a long call, sent when the client asked for them (a progress
/// token in the request).
pub(crate) struct Progress<'a> {
    exchange: &'a Exchange,
    step: f64,
}

impl<'a> Progress<'a> {
    pub(crate) fn new(exchange: &'a Exchange) -> Self {
        Self {
            exchange,
            step: 0.0,
        }
    }

    pub(crate) async fn report(&mut self, message: String) {
        let cx = self.exchange.context();
        if let Some(token) = cx.meta.get_progress_token() {
            self.step += 1.0;
            let _ = cx
                .peer
                .notify_progress(
                    ProgressNotificationParam::new(token, self.step).with_message(message),
                )
                .await;
        }
    }
}

/// A unified diff of two JSON values, pretty-printed; empty when equal.
pub fn diff(before: &Value, after: &Value) -> String {
    let (a, b) = (
        serde_json::to_string_pretty(before).unwrap_or_default(),
        serde_json::to_string_pretty(after).unwrap_or_default(),
    );
    similar::TextDiff::from_lines(&a, &b)
        .unified_diff()
        .context_radius(2)
        .header("live", "after the change (server-side dry run)")
        .to_string()
}

/// What one deployment change needs.
struct DeploymentChange<'a> {
    conn: Connection,
    namespace: String,
    name: String,
    tool: &'a str,
    verb: &'a str,
    detail: String,
    replicas: Option<i64>,
    patch: Value,
    kubectl: String,
}

impl KubernetesServer {
    fn kubectl_prefix(&self, conn: &Connection, ns: &str) -> String {
        format!("kubectl --context {} -n {ns}", conn.context)
    }

    /// Plan, gate, apply, verify: the common path of every deployment change.
    async fn change_deployment(
        &self,
        exchange: &Exchange,
        change: DeploymentChange<'_>,
        arguments: &impl Serialize,
    ) -> Result<CallToolResponse, ErrorData> {
        let api: Api<Deployment> = Api::namespaced(change.conn.client.clone(), &change.namespace);
        let current = match api.get(&change.name).await {
            Ok(d) => d,
            Err(e) => return Ok(failure(explain(&change.conn, e)).into()),
        };
        let may =
            Request::new("patch", "apps", "deployments", &change.namespace).named(&change.name);
        if let Err(denied) = access::check(&change.conn, &[may]).await {
            return Ok(failure(denied).into());
        }
        let action = Action {
            tool: change.tool.into(),
            verb: change.verb.into(),
            resource: Some("deployment".into()),
            namespace: Some(change.namespace.clone()),
            name: Some(change.name.clone()),
            replicas: change.replicas,
            current_replicas: current
                .spec
                .as_ref()
                .and_then(|s| s.replicas)
                .map(i64::from),
            base: Some(RiskLevel::Medium),
            detail: Some(change.detail.clone()),
            ..Action::default()
        };
        let proposal = Proposal::new(action, arguments, change.kubectl.clone());
        let preview = async {
            let params = PatchParams {
                dry_run: true,
                field_manager: Some("opsmcp".into()),
                ..PatchParams::default()
            };
            Some(
                match api
                    .patch(&change.name, &params, &Patch::Strategic(&change.patch))
                    .await
                {
                    Ok(after) => {
                        let d = diff(&json!(current.spec), &json!(after.spec));
                        if d.is_empty() {
                            "the dry run changes nothing".to_owned()
                        } else {
                            d
                        }
                    }
                    Err(e) => format!(
                        "the server-side dry run failed: {}",
                        explain(&change.conn, e)
                    ),
                },
            )
        };
        let ticket = match self.safety().gate(exchange, proposal, preview).await? {
            Gate::Proceed(ticket) => ticket,
            Gate::Stop(answer) => return Ok(answer),
        };
        let params = PatchParams {
            field_manager: Some("opsmcp".into()),
            ..PatchParams::default()
        };
        let outcome = match api
            .patch(&change.name, &params, &Patch::Strategic(&change.patch))
            .await
        {
            Err(e) => Err(explain(&change.conn, e).to_string()),
            Ok(applied) => {
                let generation = applied.metadata.generation.unwrap_or(0);
                match self
                    .verify_rollout(exchange, &change.conn, &api, &change.name, generation)
                    .await
                {
                    Ok(done) => Ok(format!(
                        "{} {}/{}: {done}",
                        change.verb, change.namespace, change.name
                    )),
                    Err(problem) => {
                        let mut message = format!(
                            "{} {}/{} was applied but did not verify: {problem}",
                            change.verb, change.namespace, change.name
                        );
                        if self.clients().args().auto_rollback
                            && current.spec.as_ref().map(|s| &s.template)
                                != applied.spec.as_ref().map(|s| &s.template)
                        {
                            let undo = json!({ "spec": { "template": with_replace(json!(current.spec.as_ref().map(|s| &s.template))) } });
                            message.push_str(&match api
                                .patch(&change.name, &params, &Patch::Strategic(&undo))
                                .await
                            {
                                Ok(_) => "; --auto-rollback restored the previous pod template"
                                    .to_owned(),
                                Err(e) => format!(
                                    "; --auto-rollback failed: {}",
                                    explain(&change.conn, e)
                                ),
                            });
                        }
                        Err(message)
                    }
                }
            }
        };
        Ok(ticket.finish(outcome).await)
    }

    /// Wait until the deployment's rollout of `generation` is complete, sending progress; stop
    /// early when new pods crash or cannot pull their image.
    pub(crate) async fn verify_rollout(
        &self,
        exchange: &Exchange,
        conn: &Connection,
        api: &Api<Deployment>,
        name: &str,
        generation: i64,
    ) -> Result<String, String> {
        let timeout = Duration::from_secs(self.clients().args().verify_timeout_secs);
        let started = Instant::now();
        let cx = exchange.context();
        let mut progress = Progress::new(exchange);
        loop {
            let d = api.get(name).await.map_err(|e| e.to_string())?;
            let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            let st = d.status.clone().unwrap_or_default();
            let (updated, ready, total) = (
                st.updated_replicas.unwrap_or(0),
                st.ready_replicas.unwrap_or(0),
                st.replicas.unwrap_or(0),
            );
            let observed = st.observed_generation.unwrap_or(0) >= generation;
            let message = format!("{updated}/{want} updated, {ready}/{want} ready, {total} pods");
            if observed && updated == want && ready == want && total == want {
                return Ok(format!(
                    "rollout complete after {}s ({message})",
                    started.elapsed().as_secs()
                ));
            }
            // Only once the controller has seen the change is its revision the new one.
            if observed && let Some(problem) = new_pod_problem(&conn.client, &d).await {
                return Err(format!("{problem} ({message})"));
            }
            if started.elapsed() >= timeout {
                return Err(format!(
                    "not complete after {}s: {message}",
                    timeout.as_secs()
                ));
            }
            progress.report(message).await;
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(700)) => {}
                () = cx.ct.cancelled() => return Err("verification cancelled by the client; the change stays applied".into()),
            }
        }
    }
}

/// A new-template pod that is crashing, OOM-killed or cannot pull its image (asked of the
/// cluster the change was made in).
async fn new_pod_problem(client: &kube::Client, d: &Deployment) -> Option<String> {
    let ns = d.metadata.namespace.clone()?;
    let selector = d.spec.as_ref()?.selector.match_labels.as_ref()?;
    let labels: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let pods = Api::<Pod>::namespaced(client.clone(), &ns)
        .list(&ListParams::default().labels(&labels.join(",")))
        .await
        .ok()?;
    let rs_revision = revision(&d.metadata);
    let rs = Api::<ReplicaSet>::namespaced(client.clone(), &ns)
        .list(&ListParams::default().labels(&labels.join(",")))
        .await
        .ok()?
        .items
        .into_iter()
        .find(|rs| revision(&rs.metadata) == rs_revision)?;
    let rs_name = rs.metadata.name?;
    pods.items
        .iter()
        .filter(|p| {
            p.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.name == rs_name)
        })
        .find_map(|p| {
            let status = pod_status(p);
            let restarted = crate::render::restarts(p);
            [
                "CrashLoopBackOff",
                "OOMKilled",
                "ImagePullBackOff",
                "ErrImagePull",
                "Error",
                "CreateContainerConfigError",
            ]
            .iter()
            .any(|bad| status.contains(bad) || restarted.contains(bad))
            .then(|| {
                format!(
                    "new pod {} is {status} (restarts {restarted})",
                    p.metadata.name.clone().unwrap_or_default()
                )
            })
        })
}

/// A pod template as a strategic-merge patch that replaces the live one entirely.
fn with_replace(mut template: Value) -> Value {
    if let Value::Object(map) = &mut template {
        map.insert("$patch".into(), json!("replace"));
    }
    template
}

#[tool_router(router = changes_router, vis = "pub(crate)")]
impl KubernetesServer {
    /// Scale a deployment; verified when the replicas are ready.
    #[tool]
    pub async fn deployment_scale(
        &self,
        exchange: Exchange,
        Parameters(args): Parameters<ScaleArgs>,
    ) -> Result<CallToolResponse, ErrorData> {
        if args.replicas < 0 {
            return Ok(failure("replicas must be 0 or more").into());
        }
        let conn = or_fail!(self.clients().connect(args.context.as_deref()).await);
        let ns = or_fail!(self.clients().namespace(&conn, args.namespace.as_deref()));
        let kubectl = format!(
            "{} scale deployment/{} --replicas={}",
            self.kubectl_prefix(&conn, &ns),
            args.name,
            args.replicas
        );
        let change = DeploymentChange {
            conn,
            namespace: ns,
            name: args.name.clone(),
            tool: "deployment_scale",
            verb: "scale",
            detail: format!("to {} replicas", args.replicas),
            replicas: Some(i64::from(args.replicas)),
            patch: json!({ "spec": { "replicas": args.replicas } }),
            kubectl,
        };
        self.change_deployment(&exchange, change, &args).await
    }

    /// Rollout restart of a deployment (new pods, same template); verified when the rollout
    /// completes.
    #[tool]
    pub async fn deployment_restart(
        &self,
        exchange: Exchange,
        Parameters(args): Parameters<DeploymentArgs>,
    ) -> Result<CallToolResponse, ErrorData> {
        let conn = or_fail!(self.clients().connect(args.context.as_deref()).await);
        let ns = or_fail!(self.clients().namespace(&conn, args.namespace.as_deref()));
        let kubectl = format!(
            "{} rollout restart deployment/{}",
            self.kubectl_prefix(&conn, &ns),
            args.name
        );
        let now = jiff::Timestamp::now().to_string();
        let change = DeploymentChange {
            conn,
            namespace: ns,
            name: args.name.clone(),
            tool: "deployment_restart",
            verb: "restart",
            detail: "replaces every pod with a new one".into(),
            replicas: None,
            patch: json!({ "spec": { "template": { "metadata": { "annotations": { "kubectl.kubernetes.io/restartedAt": now } } } } }),
            kubectl,
        };
        self.change_deployment(&exchange, change, &args).await
    }

    /// Roll a deployment back to the previous revision (or a given one); verified when the
    /// rollout completes.
    #[tool]
    pub async fn deployment_rollback(
        &self,
        exchange: Exchange,
        Parameters(args): Parameters<RollbackArgs>,
    ) -> Result<CallToolResponse, ErrorData> {
        let conn = or_fail!(self.clients().connect(args.context.as_deref()).await);
        let ns = or_fail!(self.clients().namespace(&conn, args.namespace.as_deref()));
        let deploy = or_fail!(
            Api::<Deployment>::namespaced(conn.client.clone(), &ns)
                .get(&args.name)
                .await
                .map_err(|e| explain(&conn, e))
        );
        let current = revision(&deploy.metadata);
        let Some(uid) = deploy.metadata.uid.clone() else {
            return Ok(failure("the deployment has no uid").into());
        };
        let sets = or_fail!(
            Api::<ReplicaSet>::namespaced(conn.client.clone(), &ns)
                .list(&ListParams::default())
                .await
                .map_err(|e| explain(&conn, e))
        );
        let mut owned: Vec<ReplicaSet> = sets
            .items
            .into_iter()
            .filter(|rs| {
                rs.metadata
                    .owner_references
                    .iter()
                    .flatten()
                    .any(|o| o.uid == uid)
            })
            .collect();
        owned.sort_by_key(|rs| std::cmp::Reverse(revision(&rs.metadata)));
        let target = match args.revision {
            Some(r) => owned.iter().find(|rs| revision(&rs.metadata) == r),
            None => owned.iter().find(|rs| revision(&rs.metadata) < current),
        };
        let Some(target) = target else {
            let known: Vec<String> = owned
                .iter()
                .map(|rs| revision(&rs.metadata).to_string())
                .collect();
            return Ok(failure(format!(
                "no revision to roll back to (current {current}; known: {})",
                known.join(", ")
            ))
            .into());
        };
        let to = revision(&target.metadata);
        let mut template = json!(target.spec.as_ref().and_then(|s| s.template.clone()));
        if let Some(labels) = template
            .pointer_mut("/metadata/labels")
            .and_then(Value::as_object_mut)
        {
            labels.remove("pod-template-hash");
        }
        let images: Vec<String> = target
            .spec
            .as_ref()
            .and_then(|s| s.template.as_ref())
            .and_then(|t| t.spec.as_ref())
            .map(|s| {
                s.containers
                    .iter()
                    .filter_map(|c| c.image.clone())
                    .collect()
            })
            .unwrap_or_default();
        let kubectl = format!(
            "{} rollout undo deployment/{} --to-revision={to}",
            self.kubectl_prefix(&conn, &ns),
            args.name
        );
        let change = DeploymentChange {
            conn,
            namespace: ns,
            name: args.name.clone(),
            tool: "deployment_rollback",
            verb: "rollback",
            detail: format!("from revision {current} to {to} ({})", images.join(", ")),
            replicas: None,
            patch: json!({ "spec": { "template": with_replace(template) } }),
            kubectl,
        };
        self.change_deployment(&exchange, change, &args).await
    }

    /// Set memory/CPU requests and limits of a deployment's container; verified when new pods
    /// run with them.
    #[tool]
    pub async fn container_resources_set(
        &self,
        exchange: Exchange,
        Parameters(args): Parameters<ResourcesArgs>,
    ) -> Result<CallToolResponse, ErrorData> {
        let conn = or_fail!(self.clients().connect(args.context.as_deref()).await);
        let ns = or_fail!(self.clients().namespace(&conn, args.namespace.as_deref()));
        let mut limits = serde_json::Map::new();
        let mut requests = serde_json::Map::new();
        for (is_limit, key, value) in [
            (true, "memory", &args.memory_limit),
            (true, "cpu", &args.cpu_limit),
            (false, "memory", &args.memory_request),
            (false, "cpu", &args.cpu_request),
        ] {
            if let Some(v) = value {
                if crate::render::quantity(v).is_none() {
                    return Ok(
                        failure(format!("`{v}` is not a quantity (e.g. 256Mi, 1Gi, 500m)")).into(),
                    );
                }
                let map = if is_limit { &mut limits } else { &mut requests };
                map.insert(key.into(), json!(v));
            }
        }
        if limits.is_empty() && requests.is_empty() {
            return Ok(failure(
                "give at least one of memory_limit, memory_request, cpu_limit, cpu_request",
            )
            .into());
        }
        let deploy = or_fail!(
            Api::<Deployment>::namespaced(conn.client.clone(), &ns)
                .get(&args.name)
                .await
                .map_err(|e| explain(&conn, e))
        );
        let containers: Vec<String> = deploy
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .map(|s| s.containers.iter().map(|c| c.name.clone()).collect())
            .unwrap_or_default();
        let container = match (&args.container, containers.as_slice()) {
            (Some(c), _) if containers.contains(c) => c.clone(),
            (Some(c), _) => {
                return Ok(failure(format!(
                    "container `{c}` is not in {} (containers: {})",
                    args.name,
                    containers.join(", ")
                ))
                .into());
            }
            (None, [only]) => only.clone(),
            (None, _) => {
                return Ok(
                    failure(format!("name the container: {}", containers.join(", "))).into(),
                );
            }
        };
        let mut resources = serde_json::Map::new();
        let mut flags = Vec::new();
        if !limits.is_empty() {
            flags.push(format!(
                "--limits={}",
                limits
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                    .collect::<Vec<_>>()
                    .join(",")
            ));
            resources.insert("limits".into(), Value::Object(limits));
        }
        if !requests.is_empty() {
            flags.push(format!(
                "--requests={}",
                requests
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                    .collect::<Vec<_>>()
                    .join(",")
            ));
            resources.insert("requests".into(), Value::Object(requests));
        }
        let kubectl = format!(
            "{} set resources deployment/{} -c {container} {}",
            self.kubectl_prefix(&conn, &ns),
            args.name,
            flags.join(" ")
        );
        let change = DeploymentChange {
            conn,
            namespace: ns,
            name: args.name.clone(),
            tool: "container_resources_set",
            verb: "set resources",
            detail: format!(
                "container {container}: {}; new pods roll out",
                flags.join(" ")
            ),
            replicas: None,
            patch: json!({ "spec": { "template": { "spec": { "containers": [{ "name": container, "resources": resources }] } } } }),
            kubectl,
        };
        self.change_deployment(&exchange, change, &args).await
    }

    /// Restart pods by deleting them for recreation by their controller (one pod, or a label
    /// selector); verified when replacements are Ready.
    #[tool]
    pub async fn pods_restart(
        &self,
        exchange: Exchange,
        Parameters(args): Parameters<RestartPodsArgs>,
    ) -> Result<CallToolResponse, ErrorData> {
        let conn = or_fail!(self.clients().connect(args.context.as_deref()).await);
        let ns = or_fail!(self.clients().namespace(&conn, args.namespace.as_deref()));
        let api: Api<Pod> = Api::namespaced(conn.client.clone(), &ns);
        let pods: Vec<Pod> = match (&args.name, &args.label_selector) {
            (Some(name), None) => {
                vec![or_fail!(api.get(name).await.map_err(|e| explain(&conn, e)))]
            }
            (None, Some(selector)) if !selector.trim().is_empty() => {
                or_fail!(
                    api.list(&ListParams::default().labels(selector))
                        .await
                        .map_err(|e| explain(&conn, e))
                )
                .items
            }
            _ => {
                return Ok(
                    failure("give exactly one of name or a non-empty label_selector").into(),
                );
            }
        };
        if pods.is_empty() {
            return Ok(failure("no pod matches").into());
        }
        let names: Vec<String> = pods
            .iter()
            .filter_map(|p| p.metadata.name.clone())
            .collect();
        let owned = pods.iter().all(|p| {
            p.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.controller == Some(true))
        });
        let target = args.name.clone().map_or_else(
            || format!("-l {}", args.label_selector.clone().unwrap_or_default()),
            |n| format!("pod/{n}"),
        );
        let kubectl = format!("{} delete {target}", self.kubectl_prefix(&conn, &ns));
        let action = Action {
            tool: "pods_restart".into(),
            verb: "delete".into(),
            resource: Some("pod".into()),
            namespace: Some(ns.clone()),
            name: Some(names.join(",")),
            bulk: names.len() > 1,
            base: Some(if owned {
                RiskLevel::Medium
            } else {
                RiskLevel::High
            }),
            detail: Some(if owned {
                "their controller recreates them".into()
            } else {
                "a pod without a controller is not recreated".into()
            }),
            ..Action::default()
        };
        let requests: Vec<Request> = names
            .iter()
            .map(|n| Request::new("delete", "", "pods", &ns).named(n))
            .collect();
        or_fail!(access::check(&conn, &requests).await);
        let proposal = Proposal::new(action, &args, kubectl);
        let preview = async {
            Some(format!(
                "would delete: {}",
                pods.iter()
                    .map(|p| format!(
                        "{} ({})",
                        p.metadata.name.clone().unwrap_or_default(),
                        pod_status(p)
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        };
        let ticket = match self.safety().gate(&exchange, proposal, preview).await? {
            Gate::Proceed(ticket) => ticket,
            Gate::Stop(answer) => return Ok(answer),
        };
        for name in &names {
            if let Err(e) = api.delete(name, &DeleteParams::background()).await {
                return Ok(ticket
                    .finish(Err(format!("deleting {name}: {}", explain(&conn, e))))
                    .await);
            }
        }
        let outcome = self.verify_replacements(&exchange, &api, &pods).await;
        Ok(ticket.finish(outcome).await)
    }
}

impl KubernetesServer {
    /// Each deleted pod's controller has a Ready replacement (matching its labels, not one of
    /// the deleted pods).
    async fn verify_replacements(
        &self,
        exchange: &Exchange,
        api: &Api<Pod>,
        deleted: &[Pod],
    ) -> Result<String, String> {
        let timeout = Duration::from_secs(self.clients().args().verify_timeout_secs);
        let started = Instant::now();
        let gone: Vec<String> = deleted
            .iter()
            .filter_map(|p| p.metadata.name.clone())
            .collect();
        let owners: Vec<String> = deleted
            .iter()
            .filter_map(|p| {
                p.metadata
                    .owner_references
                    .as_ref()?
                    .first()
                    .map(|o| o.name.clone())
            })
            .collect();
        let mut progress = Progress::new(exchange);
        loop {
            let pods = api
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?
                .items;
            let replacements: Vec<&Pod> = pods
                .iter()
                .filter(|p| !gone.contains(&p.metadata.name.clone().unwrap_or_default()))
                .filter(|p| {
                    p.metadata
                        .owner_references
                        .iter()
                        .flatten()
                        .any(|o| owners.contains(&o.name))
                })
                .collect();
            let ready: Vec<String> = replacements
                .iter()
                .filter(|p| {
                    let (r, t) = ready_count(p);
                    r == t && t > 0
                })
                .filter_map(|p| p.metadata.name.clone())
                .collect();
            let still_there = pods
                .iter()
                .filter(|p| gone.contains(&p.metadata.name.clone().unwrap_or_default()))
                .count();
            if ready.len() >= gone.len() && still_there == 0 {
                return Ok(format!(
                    "deleted {}; Ready replacements: {} (after {}s)",
                    gone.join(", "),
                    ready.join(", "),
                    started.elapsed().as_secs()
                ));
            }
            if owners.is_empty() && still_there == 0 {
                return Ok(format!(
                    "deleted {} (no controller: not recreated)",
                    gone.join(", ")
                ));
            }
            if started.elapsed() >= timeout {
                let states: Vec<String> = replacements
                    .iter()
                    .map(|p| {
                        format!(
                            "{} {}",
                            p.metadata.name.clone().unwrap_or_default(),
                            pod_status(p)
                        )
                    })
                    .collect();
                return Err(format!(
                    "replacements not Ready after {}s: {}",
                    timeout.as_secs(),
                    states.join(", ")
                ));
            }
            progress
                .report(format!("{}/{} replacements ready", ready.len(), gone.len()))
                .await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}
