//! `pod_exec`: one command in a running container, as an argument list (no shell), bounded in
//! time and output, high risk (it runs code inside a workload). Secrets stay hidden: a path
//! under a Secret volume or a process's `environ` is refused, the values of environment
//! variables that come from Secrets are replaced by their sizes in what the command prints, and
//! `env` is refused when a Secret's keys become variables but cannot be read to know their
//! names.

use std::{collections::BTreeSet, time::Duration};

use k8s_openapi::{
    api::core::v1::{Pod, Secret},
    apimachinery::pkg::apis::meta::v1::Status,
};
use kube::api::{Api, AttachParams};
use opsmcp_core::{
    approval::{Exchange, Proposal},
    or_fail,
    output::truncate_to_budget,
    risk::{Action, RiskLevel},
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
use tokio::io::AsyncReadExt;

use crate::{
    KubernetesServer,
    access::{self, Request},
    client::explain,
};

/// The most a command may print (each stream) before the rest is dropped.
const MAX_OUTPUT_BYTES: u64 = 64 * 1024;
const DEFAULT_TIMEOUT_SECS: u64 = 10;
const MAX_TIMEOUT_SECS: u64 = 60;

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ExecArgs {
    /// Pod name
    pub name: String,
    /// Argument list, e.g. ["cat", "/etc/app/config.yaml"]
    pub command: Vec<String>,
    /// Container (default: the only one)
    pub container: Option<String>,
    /// Seconds before it is abandoned (default 10, max 60)
    pub timeout_secs: Option<u64>,
    /// Namespace
    pub namespace: Option<String>,
    /// kubeconfig context
    pub context: Option<String>,
    /// 0-1; yolo mode runs confident changes unasked
    pub confidence: Option<f64>,
}

/// What in a container's output would be a Secret's: the variables it gets from Secrets and
/// the directories Secret volumes are mounted at.
#[derive(Debug, Default)]
struct Secrets {
    variables: BTreeSet<String>,
    mounts: Vec<String>,
    /// Secrets whose keys all become variables but cannot be read (their names unknown, so
    /// their values could not be hidden).
    unreadable: Vec<String>,
}

impl Secrets {
    /// `NAME=value` lines of a Secret-sourced variable, with the value's size instead.
    fn redact(&self, output: &str) -> String {
        output
            .lines()
            .map(|line| match line.split_once('=') {
                Some((name, value)) if self.variables.contains(name) => {
                    format!("{name}=<hidden: {} bytes>", value.len())
                }
                _ => line.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Why running `argv` could show a Secret's values, if it could: it reads a Secret
    /// volume or a process environment, or prints variables whose Secret-sourced names are
    /// unknown.
    fn refusal(&self, argv: &[String]) -> Option<String> {
        let args = argv.iter().skip(1);
        if let Some(mount) = args.clone().find_map(|arg| {
            self.mounts
                .iter()
                .find(|m| arg == *m || arg.starts_with(&format!("{}/", m.trim_end_matches('/'))))
        }) {
            return Some(format!(
                "{mount} is a Secret volume: its values are never shown. Use config_refs_check for its key names"
            ));
        }
        if let Some(arg) = args.clone().find(|a| a.ends_with("/environ")) {
            return Some(format!(
                "{arg} holds the process's environment, Secret values included: use env, which hides them"
            ));
        }
        let program = argv.first().map(|p| p.rsplit('/').next().unwrap_or(p));
        let printing = matches!(program, Some("env" | "printenv"));
        if let Some(name) = args
            .clone()
            .find(|a| printing && self.variables.contains(*a))
        {
            return Some(format!(
                "{name} comes from a Secret: its value is never shown"
            ));
        }
        if printing && !self.unreadable.is_empty() {
            return Some(format!(
                "the container takes every key of Secret {} as variables, and these credentials cannot read its key names to hide their values",
                self.unreadable.join(", ")
            ));
        }
        None
    }
}

/// The Secret-sourced variables (key names only are read) and Secret mounts of `container`.
async fn secrets_of(api: &Api<Secret>, pod: &Pod, container: &str) -> Secrets {
    let mut out = Secrets::default();
    let Some(spec) = &pod.spec else { return out };
    let Some(c) = spec.containers.iter().find(|c| c.name == container) else {
        return out;
    };
    for e in c.env.iter().flatten() {
        if e.value_from
            .as_ref()
            .and_then(|v| v.secret_key_ref.as_ref())
            .is_some()
        {
            out.variables.insert(e.name.clone());
        }
    }
    for from in c.env_from.iter().flatten() {
        let Some(secret) = &from.secret_ref else {
            continue;
        };
        let prefix = from.prefix.clone().unwrap_or_default();
        match api.get(&secret.name).await {
            Ok(s) => {
                let keys = s
                    .data
                    .iter()
                    .flat_map(|d| d.keys())
                    .chain(s.string_data.iter().flat_map(|d| d.keys()));
                out.variables.extend(keys.map(|k| format!("{prefix}{k}")));
            }
            // A Secret that does not exist gives the container no variables.
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(_) => out.unreadable.push(secret.name.clone()),
        }
    }
    let secret_volumes: Vec<&str> = spec
        .volumes
        .iter()
        .flatten()
        .filter(|v| v.secret.is_some())
        .map(|v| v.name.as_str())
        .collect();
    out.mounts = c
        .volume_mounts
        .iter()
        .flatten()
        .filter(|m| secret_volumes.contains(&m.name.as_str()))
        .map(|m| m.mount_path.clone())
        .collect();
    out
}

/// Read a stream to its end, keeping at most [`MAX_OUTPUT_BYTES`]; whether it was cut.
async fn read_bounded(stream: Option<impl tokio::io::AsyncRead + Unpin>) -> (String, bool) {
    let Some(stream) = stream else {
        return (String::new(), false);
    };
    let mut bytes = Vec::new();
    let mut limited = stream.take(MAX_OUTPUT_BYTES + 1);
    let _ = limited.read_to_end(&mut bytes).await;
    // Drain the rest so the process is not blocked on a full pipe.
    let mut rest = limited.into_inner();
    let _ = tokio::io::copy(&mut rest, &mut tokio::io::sink()).await;
    let cut = bytes.len() as u64 > MAX_OUTPUT_BYTES;
    bytes.truncate(MAX_OUTPUT_BYTES as usize);
    (String::from_utf8_lossy(&bytes).into_owned(), cut)
}

/// Run `command` and read what it prints: (stdout, whether output was cut, stderr, the
/// closing status).
async fn run(
    pods: &Api<Pod>,
    name: &str,
    command: &[String],
    params: &AttachParams,
) -> Result<(String, bool, String, Option<Status>), kube::Error> {
    let mut process = pods.exec(name, command.to_vec(), params).await?;
    let status = process.take_status();
    let ((stdout, cut_out), (stderr, cut_err)) = tokio::join!(
        read_bounded(process.stdout()),
        read_bounded(process.stderr())
    );
    let status = match status {
        Some(s) => s.await,
        None => None,
    };
    let _ = process.join().await;
    Ok((stdout, cut_out || cut_err, stderr, status))
}

/// Whether the command ran, and how it ended: a command that ran answers with its exit code,
/// whatever it is; one that could not start (no such program) did not run.
fn exit_of(status: Option<&Status>) -> (bool, String) {
    match status {
        Some(s) if s.status.as_deref() == Some("Success") => (true, "exit 0".to_owned()),
        Some(s) if s.reason.as_deref() == Some("NonZeroExitCode") => {
            let code = s
                .details
                .as_ref()
                .and_then(|d| d.causes.as_ref())
                .and_then(|c| c.first())
                .and_then(|c| c.message.as_deref())
                .unwrap_or("?");
            (true, format!("exit {code}"))
        }
        Some(s) => (
            false,
            format!("did not run: {}", s.message.as_deref().unwrap_or_default()),
        ),
        None => (
            false,
            "exit unknown (the stream closed without a status)".to_owned(),
        ),
    }
}

#[tool_router(router = exec_router, vis = "pub(crate)")]
impl KubernetesServer {
    /// Run a command (argument list, no shell) in a pod's container, bounded in time and
    /// output: exit code, stdout, stderr. Secret values stay hidden.
    #[tool]
    pub async fn pod_exec(
        &self,
        exchange: Exchange,
        Parameters(args): Parameters<ExecArgs>,
    ) -> Result<CallToolResponse, ErrorData> {
        if args.command.first().is_none_or(|c| c.trim().is_empty()) {
            return Ok(failure("command needs at least the program, e.g. [\"env\"]").into());
        }
        let timeout = Duration::from_secs(
            args.timeout_secs
                .unwrap_or(DEFAULT_TIMEOUT_SECS)
                .clamp(1, MAX_TIMEOUT_SECS),
        );
        let conn = or_fail!(self.clients().connect(args.context.as_deref()).await);
        let ns = or_fail!(self.clients().namespace(&conn, args.namespace.as_deref()));
        let pods: Api<Pod> = Api::namespaced(conn.client.clone(), &ns);
        let pod = or_fail!(pods.get(&args.name).await.map_err(|e| explain(&conn, e)));
        let names: Vec<String> = pod
            .spec
            .iter()
            .flat_map(|s| s.containers.iter().map(|c| c.name.clone()))
            .collect();
        let container = match &args.container {
            Some(c) if names.contains(c) => c.clone(),
            Some(c) => {
                return Ok(failure(format!(
                    "pod {} has no container {c} (containers: {})",
                    args.name,
                    names.join(", ")
                ))
                .into());
            }
            None if names.len() == 1 => names[0].clone(),
            None => {
                return Ok(failure(format!(
                    "pod {} has several containers: name one of {}",
                    args.name,
                    names.join(", ")
                ))
                .into());
            }
        };
        or_fail!(
            access::check(
                &conn,
                &[Request::new("create", "", "pods", &ns)
                    .named(&args.name)
                    .subresource("exec")]
            )
            .await
        );
        let secrets =
            secrets_of(&Api::namespaced(conn.client.clone(), &ns), &pod, &container).await;
        if let Some(why) = secrets.refusal(&args.command) {
            return Ok(failure(why).into());
        }
        let argv = args.command.join(" ");
        let action = Action {
            tool: "pod_exec".into(),
            verb: "exec".into(),
            resource: Some("pod".into()),
            namespace: Some(ns.clone()),
            name: Some(args.name.clone()),
            base: Some(RiskLevel::High),
            detail: Some(format!("runs `{argv}` in container {container}")),
            ..Action::default()
        };
        let kubectl = format!(
            "kubectl --context {} -n {ns} exec {} -c {container} -- {argv}",
            conn.context, args.name
        );
        let proposal = Proposal::new(action, &args, kubectl);
        let preview = async {
            Some(format!(
                "would run `{argv}` in container {container} of pod {ns}/{} for at most {}s",
                args.name,
                timeout.as_secs()
            ))
        };
        let params = AttachParams::default()
            .container(container.clone())
            .stdin(false)
            .stdout(true)
            .stderr(true);
        let change = || async {
            let (stdout, cut, stderr, status) =
                tokio::time::timeout(timeout, run(&pods, &args.name, &args.command, &params))
                    .await
                    .map_err(|_| {
                        format!(
                            "`{argv}` did not finish within {}s; abandoned",
                            timeout.as_secs()
                        )
                    })?
                    .map_err(|e| explain(&conn, e).to_string())?;
            let (ran, exit) = exit_of(status.as_ref());
            let mut text = format!("$ {argv}  ({ns}/{} {container}): {exit}\n", args.name);
            text.push_str(&secrets.redact(&stdout));
            if !stderr.is_empty() {
                text.push_str("\n--- stderr\n");
                text.push_str(&secrets.redact(&stderr));
            }
            if cut {
                text.push_str(&format!(
                    "\n(output cut at {} KiB)",
                    MAX_OUTPUT_BYTES / 1024
                ));
            }
            let text = truncate_to_budget(&text, 2000);
            if ran { Ok(text) } else { Err(text) }
        };
        self.safety()
            .apply(&exchange, proposal, preview, change)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_variables_and_mounts_stay_hidden() {
        let secrets = Secrets {
            variables: ["DB_PASSWORD".to_owned()].into(),
            mounts: vec!["/etc/tls".into()],
            unreadable: Vec::new(),
        };
        assert_eq!(
            secrets.redact("QUEUE=orders\nDB_PASSWORD=hunter2"),
            "QUEUE=orders\nDB_PASSWORD=<hidden: 7 bytes>"
        );
        let argv = |s: &str| s.split(' ').map(str::to_owned).collect::<Vec<_>>();
        let refused = |s: &str| secrets.refusal(&argv(s)).unwrap_or_default();
        assert!(refused("cat /etc/tls/key.pem").starts_with("/etc/tls is a Secret volume"));
        assert!(refused("ls /etc/tls").starts_with("/etc/tls is a Secret volume"));
        assert!(refused("cat /proc/1/environ").contains("process's environment"));
        assert_eq!(secrets.refusal(&argv("cat /etc/tlsx")), None);
        assert_eq!(secrets.refusal(&argv("env")), None);
        assert!(refused("printenv DB_PASSWORD").contains("comes from a Secret"));
        assert_eq!(secrets.refusal(&argv("printenv QUEUE")), None);
        let unknown = Secrets {
            unreadable: vec!["db".into()],
            ..Secrets::default()
        };
        assert!(
            unknown
                .refusal(&argv("/usr/bin/env"))
                .is_some_and(|r| r.contains("Secret db"))
        );
        assert_eq!(unknown.refusal(&argv("ps aux")), None);
    }
}
