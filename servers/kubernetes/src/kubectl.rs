//! The `kubectl` tool: an argument list (never a shell string) parsed as kubectl parses it and
//! checked on that parsed form by `opsmcp_core::kubectl` — credentials, endpoints, identities,
//! host files, interactive commands and plugins refused; the namespaces it touches held to the
//! allow-list; its risk decided like every other change. What runs is the checked command in its
//! canonical spelling, against the server's kubeconfig and an allowed context, with the call's
//! manifest (if any) on standard input. A change is previewed with `--dry-run=server` only where
//! kubectl honours it, and otherwise described: nothing runs to build a plan or a question. Every
//! output has the values of the Secrets it could reach replaced by `***`.

use std::{process::Stdio, time::Duration};

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};
use opsmcp_core::{
    approval::{Exchange, Gate, Proposal},
    kubectl::{Checked, Defaults, Preview, Scope, check},
    output::{Redactor, truncate_to_budget, untrusted_block},
    risk::Action,
    tools::failure,
};
use rmcp::{
    ErrorData,
    handler::server::wrapper::Parameters,
    model::CallToolResponse,
    schemars::{self, JsonSchema},
    tool, tool_router,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::{KubernetesServer, client::Connection};

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct KubectlArgs {
    /// Arguments after `kubectl`, one per item, e.g. ["get", "pods", "-n", "shop"]
    pub args: Vec<String>,
    /// YAML/JSON for `-f -`
    pub manifest: Option<String>,
    /// kubeconfig context
    pub context: Option<String>,
    /// 0-1; yolo mode runs confident changes unasked
    pub confidence: Option<f64>,
}

impl KubernetesServer {
    /// Run kubectl with the server's kubeconfig and `context`; (success, combined output).
    async fn run_kubectl(
        &self,
        context: &str,
        argv: &[String],
        stdin: Option<&str>,
    ) -> Result<(bool, String), String> {
        let settings = self.clients().args();
        let mut cmd = tokio::process::Command::new(&settings.kubectl);
        if let Some(path) = self.clients().kubeconfig_path() {
            cmd.arg("--kubeconfig").arg(path);
        }
        if let Some(dir) = &settings.kubectl_cache_dir {
            cmd.arg("--cache-dir").arg(dir);
        }
        if context != "in-cluster" {
            cmd.arg(format!("--context={context}"));
        }
        cmd.args(argv)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| {
            format!(
                "cannot run `{}`: {e}; install kubectl or point K8S_KUBECTL at it",
                settings.kubectl.display()
            )
        })?;
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // kubectl reads all of `-f -` before it acts; a write error shows in its own output.
            let _ = pipe.write_all(text.as_bytes()).await;
        }
        let timeout = Duration::from_secs(settings.timeout_secs.max(1) * 2);
        let out = tokio::time::timeout(timeout, child.wait_with_output())
            .await
            .map_err(|_| {
                format!(
                    "kubectl did not finish within {}s and was stopped",
                    timeout.as_secs()
                )
            })?
            .map_err(|e| e.to_string())?;
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        let err = String::from_utf8_lossy(&out.stderr);
        if !err.trim().is_empty() {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(err.trim());
        }
        Ok((out.status.success(), text))
    }

    /// Parse and check `args` where they would run: the call's context (or an allowed
    /// `--context`) and its default namespace.
    async fn check_kubectl(&self, args: &KubectlArgs) -> Result<(Checked, Connection), String> {
        let clients = self.clients();
        let allowed = clients.allowed_contexts().map_err(|e| e.to_string())?;
        let connection = clients
            .connect(args.context.as_deref())
            .await
            .map_err(|e| e.to_string())?;
        let at = |connection: &Connection| {
            check(
                &args.args,
                args.manifest.as_deref(),
                Defaults {
                    context: &connection.context,
                    allowed_contexts: &allowed,
                    namespace: &connection.namespace,
                },
            )
            .map_err(|e| format!("refused before running: {e}"))
        };
        let checked = at(&connection)?;
        if checked.context == connection.context {
            return Ok((checked, connection));
        }
        // `--context` names another context: its default namespace is the one that applies.
        let other = clients
            .connect(Some(&checked.context))
            .await
            .map_err(|e| e.to_string())?;
        Ok((at(&other)?, other))
    }

    /// With a namespace allow-list, a change to a cluster-scoped type (as discovery says: a
    /// ClusterRoleBinding, a Namespace, a node) is refused unless K8S_ALLOWED_CLUSTER_KINDS
    /// names it; a type discovery does not know is refused too.
    async fn cluster_targets_allowed(
        &self,
        connection: &Connection,
        checked: &Checked,
    ) -> Result<(), String> {
        if checked.targets.is_empty() || self.clients().all_namespaces_allowed() {
            return Ok(());
        }
        let words = crate::client::resource_words(connection)
            .await
            .map_err(|e| format!("cannot tell which types are cluster-scoped: {e}"))?;
        for target in &checked.targets {
            match words.get(target) {
                Some((_, true)) => {}
                Some((kind, false)) => self
                    .clients()
                    .cluster_kind_allowed(kind)
                    .map_err(|e| e.to_string())?,
                None => {
                    return Err(format!(
                        "the cluster serves no resource type `{target}`; namespaces are \
                         restricted here, so the type must be known"
                    ));
                }
            }
        }
        Ok(())
    }

    /// The namespaces `scope` covers, refused when one is not on the allow-list.
    fn scope_allowed(&self, scope: &Scope) -> Result<(), String> {
        match scope {
            Scope::All if !self.clients().all_namespaces_allowed() => Err(
                "this reaches every namespace (-A, a cluster-wide --raw list) and namespaces are \
                 restricted here (K8S_ALLOWED_NAMESPACES): name one"
                    .into(),
            ),
            Scope::Namespaces(list) => list
                .iter()
                .try_for_each(|ns| self.clients().allowed(ns))
                .map_err(|e| e.to_string()),
            _ => Ok(()),
        }
    }

    /// The secret values a command's output could show: those of the Secrets `scope` can reach
    /// (none where the credentials cannot list Secrets: then kubectl, with the same credentials,
    /// cannot print them either) and those the call itself carries (a Secret in its manifest,
    /// `--from-literal` and password values).
    async fn secret_values(
        &self,
        connection: &Connection,
        checked: &Checked,
        manifest: Option<&str>,
    ) -> Redactor {
        let apis: Vec<Api<Secret>> = match &checked.scope {
            Scope::Namespaces(list) => list
                .iter()
                .map(|ns| Api::namespaced(connection.client.clone(), ns))
                .collect(),
            Scope::All => vec![Api::all(connection.client.clone())],
            Scope::None => Vec::new(),
        };
        let mut values = carried_secrets(checked, manifest);
        for api in apis {
            if let Ok(list) = api.list(&ListParams::default()).await {
                for secret in list {
                    values.extend(secret.data.into_iter().flatten().map(|(_, v)| v.0));
                    values.extend(
                        secret
                            .string_data
                            .into_iter()
                            .flatten()
                            .map(|(_, v)| v.into_bytes()),
                    );
                }
            }
        }
        Redactor::new(values)
    }

    /// Run a checked command and shape its output: Secret values hidden, then bounded.
    async fn run_checked(
        &self,
        checked: &Checked,
        argv: &[String],
        manifest: Option<&str>,
        redactor: &Redactor,
    ) -> Result<(bool, String), String> {
        let (ok, text) = self.run_kubectl(&checked.context, argv, manifest).await?;
        // kubectl prints what the cluster holds: upstream text, cut, cleaned and (several lines)
        // fenced.
        let text = truncate_to_budget(redactor.redact(&text).trim_end(), 2950);
        Ok((ok, untrusted_block("kubectl output", &text)))
    }
}

/// Flags whose values are secrets a call carries (`--from-literal=password=…`: the value).
const SECRET_FLAGS: &[&str] = &["from-literal", "docker-password", "password"];

/// The secret values in the call itself: `--from-literal` values and the data of Secrets in its
/// manifest (as given, and base64-decoded).
fn carried_secrets(checked: &Checked, manifest: Option<&str>) -> Vec<Vec<u8>> {
    use base64::Engine as _;
    let mut values: Vec<Vec<u8>> = checked
        .command
        .flags
        .iter()
        .filter(|f| SECRET_FLAGS.contains(&f.name.as_str()))
        .map(|f| match f.value.split_once('=') {
            Some((_, v)) if f.name == "from-literal" => v.as_bytes().to_vec(),
            _ => f.value.as_bytes().to_vec(),
        })
        .collect();
    let docs: Vec<serde_json::Value> = manifest
        .and_then(|m| serde_saphyr::from_multiple(m).ok())
        .unwrap_or_default();
    let objects = docs.iter().flat_map(|d| {
        d["items"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| vec![d.clone()])
    });
    for object in objects.filter(|o| o["kind"] == "Secret") {
        for field in ["data", "stringData"] {
            for v in object[field]
                .as_object()
                .into_iter()
                .flat_map(|m| m.values())
            {
                let text = v.as_str().unwrap_or_default();
                values.push(text.as_bytes().to_vec());
                if field == "data"
                    && let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(text)
                {
                    values.push(decoded);
                }
            }
        }
    }
    values
}

#[tool_router(router = kubectl_router, vis = "pub(crate)")]
impl KubernetesServer {
    /// Run kubectl with an argument list (no shell). Reads run; changes follow the safety mode
    /// (plan: --dry-run=server); credential, endpoint and file flags are refused; Secrets hidden.
    #[tool]
    pub async fn kubectl(
        &self,
        exchange: Exchange,
        Parameters(args): Parameters<KubectlArgs>,
    ) -> Result<CallToolResponse, ErrorData> {
        let (checked, connection) = match self.check_kubectl(&args).await {
            Ok(c) => c,
            Err(e) => return Ok(failure(e).into()),
        };
        if let Err(e) = self.scope_allowed(&checked.scope) {
            return Ok(failure(e).into());
        }
        if let Err(e) = self.cluster_targets_allowed(&connection, &checked).await {
            return Ok(failure(format!("refused before running: {e}")).into());
        }
        let manifest = args.manifest.as_deref();
        let redactor = self.secret_values(&connection, &checked, manifest).await;
        let namespace = match &checked.scope {
            Scope::Namespaces(list) => list.first().cloned(),
            _ => None,
        };
        let action = Action {
            tool: "kubectl".into(),
            verb: checked.command.name(),
            resource: checked.command.args.first().cloned(),
            namespace,
            base: Some(checked.assessment.level),
            detail: Some(checked.assessment.reason.clone()),
            bulk: checked.scope == Scope::All,
            ..Action::default()
        };
        let line = format!(
            "kubectl --context={} {}",
            checked.context,
            checked.argv.join(" ")
        );
        // What is audited and shown has the call's own secrets hidden; the manifest's digest still
        // binds an approval to its exact content.
        let audited = serde_json::json!({
            "args": args.args.iter().map(|a| redactor.redact(a)).collect::<Vec<_>>(),
            "manifest": manifest.map(|m| redactor.redact(m)),
            "manifest_sha256": manifest.map(|m| hex::encode(Sha256::digest(m))),
            "context": args.context,
            "confidence": args.confidence,
        });
        let proposal = Proposal::new(action, &audited, redactor.redact(&line));
        let preview = async {
            Some(match &checked.preview {
                Preview::Read => "it only reads".to_owned(),
                Preview::Text(why) => why.clone(),
                Preview::DryRun(dry) => {
                    match self.run_checked(&checked, dry, manifest, &redactor).await {
                        Ok((_, out)) => format!("kubectl --dry-run=server says:\n{out}"),
                        Err(e) => e,
                    }
                }
            })
        };
        let ticket = match self.safety().gate(&exchange, proposal, preview).await? {
            Gate::Proceed(ticket) => ticket,
            Gate::Stop(answer) => return Ok(answer),
        };
        let outcome = match self
            .run_checked(&checked, &checked.argv, manifest, &redactor)
            .await
        {
            Ok((true, out)) => Ok(if out.is_empty() {
                "(no output)".into()
            } else {
                out
            }),
            Ok((false, out)) => Err(format!("kubectl failed: {out}")),
            Err(e) => Err(e),
        };
        Ok(ticket.finish(outcome).await)
    }
}
