//! The `kubectl` tool: an argument vector (never a shell string) classified by the risk
//! engine — credential, endpoint and impersonation flags refused before anything runs — then
//! decided like every other change, and run with the kubectl on PATH against the server's own
//! kubeconfig and context. Plan mode previews mutations with `--dry-run=server`.

use std::{process::Stdio, time::Duration};

use opsmcp_core::{
    approval::{Exchange, Gate, Proposal},
    output::truncate_to_budget,
    risk::{Action, classify_kubectl, parse_kubectl},
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

use crate::KubernetesServer;

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct KubectlArgs {
    /// Arguments after `kubectl`, one per item, e.g. ["get", "pods", "-n", "shop"]
    pub args: Vec<String>,
    /// kubeconfig context
    pub context: Option<String>,
    /// 0-1; yolo mode runs confident changes unasked
    pub confidence: Option<f64>,
}

/// Verbs whose effect `--dry-run=server` can preview.
const DRY_RUNNABLE: &[&str] = &[
    "apply", "create", "delete", "patch", "replace", "scale", "label", "annotate", "set", "run",
];

impl KubernetesServer {
    /// Run kubectl with the server's kubeconfig and context; (success, combined output).
    async fn run_kubectl(&self, context: &str, args: &[String]) -> Result<(bool, String), String> {
        let settings = self.clients().args();
        let mut cmd = tokio::process::Command::new(&settings.kubectl);
        if let Some(path) = self.clients().kubeconfig_path() {
            cmd.arg("--kubeconfig").arg(path);
        }
        if let Some(dir) = &settings.kubectl_cache_dir {
            cmd.arg("--cache-dir").arg(dir);
        }
        if context != "in-cluster" {
            cmd.args(["--context", context]);
        }
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let child = cmd.spawn().map_err(|e| {
            format!(
                "cannot run `{}`: {e}; install kubectl or point K8S_KUBECTL at it",
                settings.kubectl.display()
            )
        })?;
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
        Ok((
            out.status.success(),
            truncate_to_budget(text.trim_end(), 3000),
        ))
    }
}

#[tool_router(router = kubectl_router, vis = "pub(crate)")]
impl KubernetesServer {
    /// Run kubectl with an argument list (no shell). Classified first: reads run, changes go
    /// through the safety mode (plan previews them with --dry-run=server), credential and
    /// endpoint flags are refused.
    #[tool]
    pub async fn kubectl(
        &self,
        exchange: Exchange,
        Parameters(args): Parameters<KubectlArgs>,
    ) -> Result<CallToolResponse, ErrorData> {
        let contexts = match self.clients().contexts() {
            Ok(c) => c,
            Err(e) => return Ok(failure(e).into()),
        };
        let context = args
            .context
            .clone()
            .or_else(|| self.clients().args().context.clone())
            .or(contexts.current.clone())
            .unwrap_or_default();
        let allowed: Vec<String> = contexts
            .contexts
            .iter()
            .map(|(name, _, _)| name.clone())
            .collect();
        if !allowed.contains(&context) {
            return Ok(failure(format!(
                "context `{context}` is not in the kubeconfig (contexts: {})",
                allowed.join(", ")
            ))
            .into());
        }
        let assessment = match classify_kubectl(&args.args, &allowed) {
            Ok(a) => a,
            Err(e) => return Ok(failure(format!("refused before running: {e}")).into()),
        };
        let command = parse_kubectl(&args.args, &allowed).expect("classified, so it parses");
        if let Some(ns) = &command.namespace
            && let Err(e) = self.clients().allowed(ns)
        {
            return Ok(failure(e).into());
        }
        if command.all_namespaces && !self.clients().all_namespaces_allowed() {
            return Ok(failure("--all-namespaces is not allowed here: name a namespace").into());
        }
        let action = Action {
            tool: "kubectl".into(),
            verb: command.verb.clone(),
            resource: command.positionals.first().cloned(),
            namespace: command.namespace.clone(),
            base: Some(assessment.level),
            detail: Some(assessment.reason.clone()),
            ..Action::default()
        };
        let line = format!("kubectl --context {context} {}", args.args.join(" "));
        let proposal = Proposal::new(action, &args, line);
        let dry_args = {
            let mut a = args.args.clone();
            a.push("--dry-run=server".into());
            a
        };
        let can_dry_run = DRY_RUNNABLE.contains(&command.verb.as_str());
        let preview = async {
            if !can_dry_run {
                return Some(format!(
                    "`kubectl {}` has no server-side dry run",
                    command.verb
                ));
            }
            Some(match self.run_kubectl(&context, &dry_args).await {
                Ok((_, out)) => format!("kubectl --dry-run=server says:\n{out}"),
                Err(e) => e,
            })
        };
        let ticket = match self.safety().gate(&exchange, proposal, preview).await? {
            Gate::Proceed(ticket) => ticket,
            Gate::Stop(answer) => return Ok(answer),
        };
        let outcome = match self.run_kubectl(&context, &args.args).await {
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
