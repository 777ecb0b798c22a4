//! `pod_exec`: one command in a running container, as an argument list (no shell), bounded in
//! time and output, high risk (it runs code inside a workload). Secrets stay hidden by value, not
//! by guessing from the arguments: every Secret the container can see is read first and its
//! values (as they are and base64-encoded) are replaced by `***` in all the command prints; a
//! Secret-sourced variable's `NAME=value` line shows the value's size. A container that sees a
//! Secret these credentials cannot read is not exec'd into.

use std::{collections::BTreeSet, time::Duration};

use k8s_openapi::{
    api::core::v1::{Pod, Secret},
    apimachinery::pkg::apis::meta::v1::Status,
};
use kube::api::{Api, AttachParams};
use opsmcp_core::{
    approval::{Exchange, Proposal},
    or_fail,
    output::{Redactor, fenced, truncate_to_budget},
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

/// What in a container's output would be a Secret's: the values of every Secret it can see
/// (environment, `envFrom`, mounted Secret and projected volumes), hidden wherever they appear,
/// and the names of its Secret-sourced variables, whose `NAME=value` lines show sizes instead
/// (so that short values are hidden there too).
#[derive(Debug)]
struct Secrets {
    variables: BTreeSet<String>,
    values: Redactor,
}

impl Secrets {
    fn redact(&self, output: &str) -> String {
        let lines = output
            .lines()
            .map(|line| match line.split_once('=') {
                Some((name, value)) if self.variables.contains(name) => {
                    format!("{name}=<hidden: {} bytes>", value.len())
                }
                _ => line.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        self.values.redact(&lines)
    }
}

/// The Secrets `container` of `pod` can see, read to know their values; refused when one cannot
/// be read (its values could not be hidden).
async fn secrets_of(api: &Api<Secret>, pod: &Pod, container: &str) -> Result<Secrets, String> {
    let mut names = BTreeSet::new();
    let mut variables = BTreeSet::new();
    let mut prefixed: Vec<(String, String)> = Vec::new();
    let spec = pod.spec.as_ref();
    let c = spec.and_then(|s| s.containers.iter().find(|c| c.name == container));
    for e in c.iter().flat_map(|c| c.env.iter().flatten()) {
        if let Some(r) = e
            .value_from
            .as_ref()
            .and_then(|v| v.secret_key_ref.as_ref())
        {
            variables.insert(e.name.clone());
            names.insert(r.name.clone());
        }
    }
    for from in c.iter().flat_map(|c| c.env_from.iter().flatten()) {
        if let Some(secret) = &from.secret_ref {
            names.insert(secret.name.clone());
            prefixed.push((secret.name.clone(), from.prefix.clone().unwrap_or_default()));
        }
    }
    let mounted: BTreeSet<&str> = c
        .iter()
        .flat_map(|c| c.volume_mounts.iter().flatten())
        .map(|m| m.name.as_str())
        .collect();
    for volume in spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        if !mounted.contains(volume.name.as_str()) {
            continue;
        }
        names.extend(volume.secret.iter().filter_map(|s| s.secret_name.clone()));
        let projected = volume
            .projected
            .iter()
            .flat_map(|p| p.sources.iter().flatten());
        names.extend(projected.filter_map(|s| s.secret.as_ref().map(|s| s.name.clone())));
    }
    let mut values: Vec<Vec<u8>> = Vec::new();
    for name in &names {
        match api.get(name).await {
            Ok(secret) => {
                let data = secret.data.unwrap_or_default();
                for (_, prefix) in prefixed.iter().filter(|(n, _)| n == name) {
                    variables.extend(data.keys().map(|k| format!("{prefix}{k}")));
                }
                values.extend(data.into_values().map(|v| v.0));
                values.extend(
                    secret
                        .string_data
                        .unwrap_or_default()
                        .into_values()
                        .map(String::into_bytes),
                );
            }
            // A Secret that does not exist gives the container nothing.
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(_) => {
                return Err(format!(
                    "the container can see Secret {name}, which these credentials cannot read: its values could not be hidden from what the command prints, so it is not run"
                ));
            }
        }
    }
    Ok(Secrets {
        variables,
        values: Redactor::new(values),
    })
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
        let secrets = or_fail!(
            secrets_of(&Api::namespaced(conn.client.clone(), &ns), &pod, &container).await
        );
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
            // What the container prints is upstream text: cut, cleaned and fenced.
            let budget = if stderr.is_empty() { 1900 } else { 950 };
            if !stdout.is_empty() {
                text.push_str(&fenced(
                    "stdout",
                    &truncate_to_budget(&secrets.redact(&stdout), budget),
                ));
            }
            if !stderr.is_empty() {
                text.push('\n');
                text.push_str(&fenced(
                    "stderr",
                    &truncate_to_budget(&secrets.redact(&stderr), budget),
                ));
            }
            if cut {
                text.push_str(&format!(
                    "\n(output cut at {} KiB)",
                    MAX_OUTPUT_BYTES / 1024
                ));
            }
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
    fn secret_values_are_hidden_by_value_and_variables_by_name() {
        let secrets = Secrets {
            variables: ["DB_PASSWORD".to_owned(), "PIN".to_owned()].into(),
            values: Redactor::new(["hunter2", "42"]),
        };
        assert_eq!(
            secrets.redact(
                "QUEUE=orders\nDB_PASSWORD=hunter2\nPIN=42\nDB_PASSWORD\0x=hunter2 aHVudGVyMg=="
            ),
            "QUEUE=orders\nDB_PASSWORD=<hidden: 7 bytes>\nPIN=<hidden: 2 bytes>\nDB_PASSWORD\0x=*** ***"
        );
    }
}
