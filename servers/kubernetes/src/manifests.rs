//! Any kind by manifest: `resources_apply` applies YAML or JSON manifests server-side with the
//! field manager `opsmcp` (plan and approval show the server's dry run as a diff per object;
//! fields another manager owns are explained before anything runs), `resources_delete` deletes
//! one object and waits until it is gone. Both ask the API server first whether the
//! credentials allow every request ([`crate::access`]) and take their risk from the kinds,
//! namespaces and scope they touch.

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use kube::{
    api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams},
    discovery::Scope,
};
use opsmcp_core::{
    approval::{Exchange, Proposal},
    or_fail,
    output::truncate_to_budget,
    risk::{Action, RiskLevel},
};
use rmcp::{
    ErrorData,
    handler::server::wrapper::Parameters,
    model::CallToolResponse,
    schemars::{self, JsonSchema},
    tool, tool_router,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    KubernetesServer,
    access::{self, Request},
    changes::diff,
    client::{Connection, explain, resolve_kind},
    render::scrub,
};

/// The field manager of every apply.
const MANAGER: &str = "opsmcp";
const MAX_MANIFEST_BYTES: usize = 256 * 1024;
const MAX_OBJECTS: usize = 50;

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ApplyArgs {
    /// YAML or JSON manifests, several documents separated by ---
    pub manifest: String,
    /// Namespace for namespaced objects that name none (default: the context's)
    pub namespace: Option<String>,
    /// Take over fields another field manager owns (kubectl --force-conflicts)
    pub force: Option<bool>,
    /// kubeconfig context
    pub context: Option<String>,
    /// 0-1; yolo mode runs confident changes unasked
    pub confidence: Option<f64>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct DeleteArgs {
    /// apiVersion, e.g. v1, apps/v1
    pub api_version: String,
    /// Kind, e.g. ConfigMap, Deployment
    pub kind: String,
    /// Object name
    pub name: String,
    /// Namespace for namespaced kinds (default: the context's)
    pub namespace: Option<String>,
    /// kubeconfig context
    pub context: Option<String>,
    /// 0-1; yolo mode runs confident changes unasked
    pub confidence: Option<f64>,
}

/// The documents of a manifest: objects (a `List`'s items flattened), each with apiVersion,
/// kind and a name.
fn documents(manifest: &str) -> Result<Vec<Value>, String> {
    if manifest.len() > MAX_MANIFEST_BYTES {
        return Err(format!(
            "the manifest is {} KiB; at most {} KiB are applied at once",
            manifest.len() / 1024,
            MAX_MANIFEST_BYTES / 1024
        ));
    }
    let docs: Vec<Value> = serde_saphyr::from_multiple(manifest)
        .map_err(|e| format!("the manifest is not valid YAML or JSON: {e}"))?;
    let mut objects = Vec::new();
    for doc in docs.into_iter().filter(|d| !d.is_null()) {
        let is_list =
            doc["kind"].as_str().is_some_and(|k| k.ends_with("List")) && doc["items"].is_array();
        if is_list {
            objects.extend(doc["items"].as_array().into_iter().flatten().cloned());
        } else {
            objects.push(doc);
        }
    }
    if objects.is_empty() {
        return Err("the manifest holds no object".into());
    }
    if objects.len() > MAX_OBJECTS {
        return Err(format!(
            "the manifest holds {} objects; at most {MAX_OBJECTS} are applied at once",
            objects.len()
        ));
    }
    for (i, o) in objects.iter().enumerate() {
        let text = |p: &str| o.pointer(p).and_then(Value::as_str).unwrap_or_default();
        if !o.is_object()
            || text("/apiVersion").is_empty()
            || text("/kind").is_empty()
            || text("/metadata/name").is_empty()
        {
            return Err(format!(
                "object {} of the manifest needs apiVersion, kind and metadata.name (server-side apply does not generate names)",
                i + 1
            ));
        }
    }
    Ok(objects)
}

/// One object to apply, resolved against the cluster.
struct Target {
    config: Value,
    api: Api<DynamicObject>,
    resource: ApiResource,
    namespace: String,
    name: String,
    live: Option<DynamicObject>,
    /// What the object could do to its node or the cluster's credentials (privileged
    /// containers, host namespaces and paths, added capabilities, a service account token).
    powers: Vec<String>,
}

impl Target {
    /// `deployment.apps/worker in shop`, as kubectl names objects.
    fn label(&self) -> String {
        let kind = self.resource.kind.to_lowercase();
        let kind = if self.resource.group.is_empty() {
            kind
        } else {
            format!("{kind}.{}", self.resource.group)
        };
        if self.namespace.is_empty() {
            format!("{kind}/{}", self.name)
        } else {
            format!("{kind}/{} in {}", self.name, self.namespace)
        }
    }

    fn requests(&self) -> Vec<Request> {
        let group = &self.resource.group;
        let plural = &self.resource.plural;
        let mut out = vec![Request::new("patch", group, plural, &self.namespace).named(&self.name)];
        if self.live.is_none() {
            out.push(Request::new("create", group, plural, &self.namespace).named(&self.name));
        }
        out
    }
}

/// A kind's own risk before namespaces and the operator's rules: cluster-scoped objects, what
/// governs access or the API itself, and objects with powers over their node or the cluster's
/// credentials are high, the rest medium.
fn base_risk(resource: &ApiResource, namespaced: bool, powers: &[String]) -> RiskLevel {
    const GOVERNING: &[&str] = &[
        "rbac.authorization.k8s.io",
        "apiextensions.k8s.io",
        "admissionregistration.k8s.io",
        "certificates.k8s.io",
        "apiregistration.k8s.io",
    ];
    if !namespaced || GOVERNING.contains(&resource.group.as_str()) || !powers.is_empty() {
        RiskLevel::High
    } else {
        RiskLevel::Medium
    }
}

/// An object as a diff compares it: no status or server bookkeeping, Secret values hidden.
fn comparable(object: &Value) -> Value {
    let mut v = object.clone();
    scrub(&mut v);
    if let Some(map) = v.as_object_mut() {
        map.remove("status");
    }
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in ["resourceVersion", "generation", "uid", "creationTimestamp"] {
            meta.remove(field);
        }
    }
    v
}

/// Why an apply was refused, with the fields other managers own when it is a conflict.
fn apply_error(conn: &Connection, target: &Target, error: kube::Error) -> String {
    if let kube::Error::Api(status) = &error
        && status.code == 409
        && let Some(details) = &status.details
        && !details.causes.is_empty()
    {
        let fields: Vec<String> = details
            .causes
            .iter()
            .map(|c| format!("{} ({})", c.field, c.message))
            .collect();
        return format!(
            "{}: fields other managers set to other values: {}. Pass force=true to take them over (they will be opsmcp's from then on), or leave them out of the manifest",
            target.label(),
            fields.join("; ")
        );
    }
    format!("{}: {}", target.label(), explain(conn, error))
}

impl KubernetesServer {
    /// Resolve every document's kind, namespace and live object.
    async fn targets(
        &self,
        conn: &Connection,
        objects: Vec<Value>,
        namespace: Option<&str>,
    ) -> Result<Vec<(Target, RiskLevel)>, String> {
        // Checked against the allow-list only when a namespaced object needs it.
        let default_ns = self
            .clients()
            .namespace(conn, namespace)
            .map_err(|e| e.to_string());
        let mut targets = Vec::new();
        for mut config in objects {
            let text = |p: &str| {
                config
                    .pointer(p)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let (api_version, kind, name) =
                (text("/apiVersion"), text("/kind"), text("/metadata/name"));
            let (resource, caps) = resolve_kind(conn, &api_version, &kind).await?;
            let namespaced = caps.scope == Scope::Namespaced;
            let given = text("/metadata/namespace");
            let namespace = if !namespaced {
                if !given.is_empty() {
                    return Err(format!(
                        "{kind} {name} is cluster-scoped: remove metadata.namespace"
                    ));
                }
                self.clients()
                    .cluster_kind_allowed(&resource.kind)
                    .map_err(|e| e.to_string())?;
                String::new()
            } else if given.is_empty() {
                default_ns.clone()?
            } else {
                if namespace.is_some_and(|n| n != given) {
                    return Err(format!(
                        "{kind} {name} names namespace {given}, the call namespace {}: they must agree",
                        namespace.unwrap_or_default()
                    ));
                }
                self.clients().allowed(&given).map_err(|e| e.to_string())?;
                given
            };
            let api = if namespaced {
                config["metadata"]["namespace"] = json!(namespace);
                Api::namespaced_with(conn.client.clone(), &namespace, &resource)
            } else {
                Api::all_with(conn.client.clone(), &resource)
            };
            let live = api
                .get_opt(&name)
                .await
                .map_err(|e| format!("{kind} {name}: {}", explain(conn, e)))?;
            let powers = opsmcp_core::risk::object_powers(&config);
            let risk = base_risk(&resource, namespaced, &powers);
            targets.push((
                Target {
                    config,
                    api,
                    resource,
                    namespace,
                    name,
                    live,
                    powers,
                },
                risk,
            ));
        }
        Ok(targets)
    }

    /// The change the gate weighs for a set of objects: the strongest of each object's own
    /// assessment (classifier and operator rules), so that mixing kinds hides none.
    fn apply_action(&self, targets: &[(Target, RiskLevel)]) -> Action {
        let object_action = |(t, base): &(Target, RiskLevel)| Action {
            tool: "resources_apply".into(),
            verb: "apply".into(),
            resource: Some(t.resource.kind.to_lowercase()),
            namespace: Some(t.namespace.clone()).filter(|n| !n.is_empty()),
            name: Some(t.name.clone()),
            base: Some(*base),
            detail: (!t.powers.is_empty()).then(|| t.powers.join("; ")),
            ..Action::default()
        };
        let strongest = targets
            .iter()
            .map(|t| self.safety().assess(&object_action(t)))
            .max_by_key(|a| a.level);
        match targets {
            [one] => object_action(one),
            _ => {
                let namespaces: std::collections::BTreeSet<&str> =
                    targets.iter().map(|(t, _)| t.namespace.as_str()).collect();
                Action {
                    tool: "resources_apply".into(),
                    verb: "apply".into(),
                    resource: Some(format!("{} objects", targets.len())),
                    namespace: (namespaces.len() == 1)
                        .then(|| namespaces.into_iter().next().unwrap_or_default().to_owned())
                        .filter(|n| !n.is_empty()),
                    base: strongest.as_ref().map(|a| a.level),
                    detail: strongest.map(|a| format!("the riskiest: {}", a.reason)),
                    ..Action::default()
                }
            }
        }
    }

    /// The server's dry run of every apply, as diffs; `Err` when one would be refused.
    async fn dry_run(
        conn: &Connection,
        targets: &[(Target, RiskLevel)],
        force: bool,
    ) -> Result<String, String> {
        let mut params = PatchParams::apply(MANAGER).dry_run();
        if force {
            params = params.force();
        }
        let mut out = Vec::new();
        for (t, _) in targets {
            let after = t
                .api
                .patch(&t.name, &params, &Patch::Apply(&t.config))
                .await
                .map_err(|e| apply_error(conn, t, e))?;
            let before = t.live.as_ref().map_or(json!({}), |l| json!(l));
            let d = diff(&comparable(&before), &comparable(&json!(after)));
            out.push(match (&t.live, d.is_empty()) {
                (_, true) => format!("{}: unchanged", t.label()),
                (None, false) => format!("{}: created\n{d}", t.label()),
                (Some(_), false) => format!("{}: configured\n{d}", t.label()),
            });
        }
        Ok(truncate_to_budget(&out.join("\n"), 2000))
    }

    /// Apply every object for real; what each became, or where it stopped.
    async fn apply_all(
        &self,
        exchange: &Exchange,
        conn: &Connection,
        targets: &[(Target, RiskLevel)],
        force: bool,
    ) -> Result<String, String> {
        let mut params = PatchParams::apply(MANAGER);
        if force {
            params = params.force();
        }
        let mut done = Vec::new();
        let mut rollouts = Vec::new();
        for (t, _) in targets {
            let applied = match t
                .api
                .patch(&t.name, &params, &Patch::Apply(&t.config))
                .await
            {
                Ok(applied) => applied,
                Err(e) => {
                    let so_far = if done.is_empty() {
                        "nothing was applied".to_owned()
                    } else {
                        format!("applied before it: {}", done.join("; "))
                    };
                    return Err(format!("{} ({so_far})", apply_error(conn, t, e)));
                }
            };
            let unchanged = t
                .live
                .as_ref()
                .and_then(|l| l.metadata.resource_version.as_ref())
                == applied.metadata.resource_version.as_ref();
            done.push(format!(
                "{} {}",
                t.label(),
                match (&t.live, unchanged) {
                    (None, _) => "created",
                    (Some(_), true) => "unchanged",
                    (Some(_), false) => "configured",
                }
            ));
            if t.resource.kind == "Deployment" && t.resource.group == "apps" && !unchanged {
                rollouts.push((
                    t.namespace.clone(),
                    t.name.clone(),
                    applied.metadata.generation,
                ));
            }
        }
        // Deployments are verified by their rollout; the other kinds by the apply's answer.
        for (ns, name, generation) in rollouts {
            let api: Api<Deployment> = Api::namespaced(conn.client.clone(), &ns);
            let verdict = self
                .verify_rollout(exchange, conn, &api, &name, generation.unwrap_or(0))
                .await;
            match verdict {
                Ok(done_msg) => done.push(format!("deployment {ns}/{name}: {done_msg}")),
                Err(problem) => {
                    return Err(format!(
                        "{}; deployment {ns}/{name} did not verify: {problem}",
                        done.join("; ")
                    ));
                }
            }
        }
        Ok(done.join("\n"))
    }
}

#[tool_router(router = manifests_router, vis = "pub(crate)")]
impl KubernetesServer {
    /// Apply YAML/JSON manifests server-side (field manager opsmcp), any kind; plan shows the
    /// dry-run diff per object. Fields another manager set differently conflict unless
    /// force=true. Deployments are verified by their rollout.
    #[tool]
    pub async fn resources_apply(
        &self,
        exchange: Exchange,
        Parameters(args): Parameters<ApplyArgs>,
    ) -> Result<CallToolResponse, ErrorData> {
        let objects = or_fail!(documents(&args.manifest));
        let conn = or_fail!(self.clients().connect(args.context.as_deref()).await);
        let targets = or_fail!(
            self.targets(&conn, objects, args.namespace.as_deref())
                .await
        );
        let requests: Vec<Request> = targets.iter().flat_map(|(t, _)| t.requests()).collect();
        or_fail!(access::check(&conn, &requests).await);
        let force = args.force.unwrap_or(false);
        // A conflict or an invalid object would refuse the change whatever the user says.
        let preview = or_fail!(Self::dry_run(&conn, &targets, force).await);
        let kubectl = format!(
            "kubectl --context {} apply --server-side --field-manager={MANAGER}{} -f manifest.yaml",
            conn.context,
            if force { " --force-conflicts" } else { "" }
        );
        // The audit log gets the objects with Secret values hidden: a manifest is one string,
        // which the audit's key-based redaction cannot see into.
        let objects: Vec<Value> = targets
            .iter()
            .map(|(t, _)| {
                let mut object = t.config.clone();
                scrub(&mut object);
                object
            })
            .collect();
        let audited = json!({
            "manifest": objects,
            "namespace": args.namespace,
            "force": args.force,
            "context": args.context,
            "confidence": args.confidence,
        });
        let proposal = Proposal::new(self.apply_action(&targets), &audited, kubectl);
        self.safety()
            .apply(&exchange, proposal, async { Some(preview) }, || {
                self.apply_all(&exchange, &conn, &targets, force)
            })
            .await
    }

    /// Delete one object of any kind (never namespaces, nodes or volumes); verified when gone.
    #[tool]
    pub async fn resources_delete(
        &self,
        exchange: Exchange,
        Parameters(args): Parameters<DeleteArgs>,
    ) -> Result<CallToolResponse, ErrorData> {
        let conn = or_fail!(self.clients().connect(args.context.as_deref()).await);
        let (resource, caps) = or_fail!(resolve_kind(&conn, &args.api_version, &args.kind).await);
        let namespaced = caps.scope == Scope::Namespaced;
        let (api, namespace): (Api<DynamicObject>, String) = if namespaced {
            let ns = or_fail!(self.clients().namespace(&conn, args.namespace.as_deref()));
            (
                Api::namespaced_with(conn.client.clone(), &ns, &resource),
                ns,
            )
        } else {
            or_fail!(self.clients().cluster_kind_allowed(&resource.kind));
            (Api::all_with(conn.client.clone(), &resource), String::new())
        };
        let live = or_fail!(api.get(&args.name).await.map_err(|e| explain(&conn, e)));
        or_fail!(
            access::check(
                &conn,
                &[
                    Request::new("delete", &resource.group, &resource.plural, &namespace)
                        .named(&args.name)
                ]
            )
            .await
        );
        let owners = live
            .metadata
            .owner_references
            .iter()
            .flatten()
            .filter(|o| o.controller == Some(true))
            .map(|o| format!("{} {}", o.kind, o.name))
            .collect::<Vec<_>>();
        let action = Action {
            tool: "resources_delete".into(),
            verb: "delete".into(),
            resource: Some(resource.kind.to_lowercase()),
            namespace: Some(namespace.clone()).filter(|n| !n.is_empty()),
            name: Some(args.name.clone()),
            base: Some(RiskLevel::High),
            detail: Some(if owners.is_empty() {
                "nothing recreates it".into()
            } else {
                format!("its controller ({}) may recreate it", owners.join(", "))
            }),
            ..Action::default()
        };
        let ns_flag = if namespace.is_empty() {
            String::new()
        } else {
            format!(" -n {namespace}")
        };
        let kubectl = format!(
            "kubectl --context {}{ns_flag} delete {}/{}",
            conn.context,
            resource.kind.to_lowercase(),
            args.name
        );
        let proposal = Proposal::new(action, &args, kubectl);
        let preview = async {
            let params = DeleteParams::default().dry_run();
            Some(match api.delete(&args.name, &params).await {
                Ok(_) => format!(
                    "the server accepts the deletion (dry run); the object:\n{}",
                    truncate_to_budget(
                        &serde_json::to_string_pretty(&comparable(&json!(live)))
                            .unwrap_or_default(),
                        1000
                    )
                ),
                Err(e) => format!("the server-side dry run failed: {}", explain(&conn, e)),
            })
        };
        let label = format!("{}/{}", resource.kind.to_lowercase(), args.name);
        let delete = || async {
            match api.delete(&args.name, &DeleteParams::default()).await {
                Err(e) => Err(format!("{label}: {}", explain(&conn, e))),
                Ok(_) => {
                    let uid = live.metadata.uid.clone();
                    self.verify_gone(&conn, &api, &args.name, &label, uid).await
                }
            }
        };
        self.safety()
            .apply(&exchange, proposal, preview, delete)
            .await
    }
}

impl KubernetesServer {
    /// Wait until the object (this uid: a recreated one of the same name does not count) is
    /// gone, within the verify timeout.
    async fn verify_gone(
        &self,
        conn: &Connection,
        api: &Api<DynamicObject>,
        name: &str,
        label: &str,
        uid: Option<String>,
    ) -> Result<String, String> {
        let timeout = Duration::from_secs(self.clients().args().verify_timeout_secs);
        let started = Instant::now();
        loop {
            match api.get_opt(name).await {
                Ok(None) => {
                    return Ok(format!(
                        "deleted {label}; gone after {}s",
                        started.elapsed().as_secs()
                    ));
                }
                Ok(Some(o)) if o.metadata.uid != uid => {
                    return Ok(format!(
                        "deleted {label}; its controller has already recreated it (new uid)"
                    ));
                }
                Ok(Some(_)) if started.elapsed() >= timeout => {
                    return Err(format!(
                        "deleted {label}, but it is still terminating after {}s (finalizers or a grace period)",
                        timeout.as_secs()
                    ));
                }
                Ok(Some(_)) => tokio::time::sleep(Duration::from_millis(500)).await,
                Err(e) => return Err(format!("{label}: {}", explain(conn, e))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_split_into_named_objects() {
        let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: b}\n";
        let objects = documents(yaml).unwrap();
        assert_eq!(objects.len(), 2);
        assert_eq!(objects[1]["kind"], "Secret");
        let json = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"w"}}"#;
        assert_eq!(documents(json).unwrap().len(), 1);
        assert!(
            documents("kind: ConfigMap\nmetadata: {generateName: x-}")
                .unwrap_err()
                .contains("metadata.name")
        );
        assert!(documents("a: [").unwrap_err().contains("not valid YAML"));
        assert!(documents("").unwrap_err().contains("no object"));
    }

    #[test]
    fn comparing_hides_secrets_and_bookkeeping() {
        let secret = json!({ "kind": "Secret", "metadata": { "name": "s", "resourceVersion": "7", "managedFields": [] }, "data": { "password": "aHVudGVyMg==" }, "status": {} });
        let c = comparable(&secret);
        assert_eq!(c["data"]["password"], "<hidden: 12 bytes>");
        assert!(
            c["metadata"].get("resourceVersion").is_none()
                && c["metadata"].get("managedFields").is_none()
        );
        assert!(c.get("status").is_none());
    }
}
