//! The cluster around the pods: kubeconfig contexts, namespaces, and nodes with their
//! conditions, pressure and capacity against allocatable.

use k8s_openapi::api::core::v1::{Namespace, Node};
use kube::api::{Api, ListParams};
use opsmcp_core::{or_fail, output::Table, tools::text};
use rmcp::{
    ErrorData,
    handler::server::wrapper::Parameters,
    model::CallToolResult,
    schemars::{self, JsonSchema},
    tool, tool_router,
};
use serde::Deserialize;

use crate::{
    KubernetesServer,
    client::explain,
    render::{age, bytes, quantity},
};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ContextArgs {
    /// kubeconfig context
    pub context: Option<String>,
}

#[tool_router(router = cluster_router, vis = "pub(crate)")]
impl KubernetesServer {
    /// kubeconfig contexts with their API server and namespace; the current one is marked.
    #[tool]
    pub async fn contexts_list(&self) -> Result<CallToolResult, ErrorData> {
        let contexts = or_fail!(self.clients().contexts());
        let mut table = Table::new(["", "CONTEXT", "SERVER", "NAMESPACE"]);
        for (name, server, ns) in &contexts.contexts {
            let current = if contexts.current.as_deref() == Some(name) {
                "*"
            } else {
                ""
            };
            table.row([current, name, server, ns.as_deref().unwrap_or("default")]);
        }
        Ok(text(table.render()))
    }

    /// Namespaces with their phase and age.
    #[tool]
    pub async fn namespaces_list(
        &self,
        Parameters(args): Parameters<ContextArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let conn = or_fail!(self.clients().connect(args.context.as_deref()).await);
        let list = or_fail!(
            Api::<Namespace>::all(conn.client.clone())
                .list(&ListParams::default())
                .await
                .map_err(|e| explain(&conn, e))
        );
        let mut table = Table::new(["NAMESPACE", "STATUS", "AGE"]);
        for ns in list.items.iter().filter(|n| {
            self.clients()
                .allowed(n.metadata.name.as_deref().unwrap_or(""))
                .is_ok()
        }) {
            table.row([
                ns.metadata.name.clone().unwrap_or_default(),
                ns.status
                    .as_ref()
                    .and_then(|s| s.phase.clone())
                    .unwrap_or_default(),
                age(ns.metadata.creation_timestamp.as_ref()),
            ]);
        }
        Ok(text(table.render()))
    }

    /// Nodes: ready, pressure conditions, kubelet version, and memory/CPU allocatable against
    /// capacity.
    #[tool]
    pub async fn nodes_list(
        &self,
        Parameters(args): Parameters<ContextArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let conn = or_fail!(self.clients().connect(args.context.as_deref()).await);
        let list = or_fail!(
            Api::<Node>::all(conn.client.clone())
                .list(&ListParams::default())
                .await
                .map_err(|e| explain(&conn, e))
        );
        let mut table = Table::new([
            "NODE",
            "READY",
            "PROBLEMS",
            "CPU ALLOC/CAP",
            "MEMORY ALLOC/CAP",
            "VERSION",
            "AGE",
        ]);
        for node in &list.items {
            let status = node.status.clone().unwrap_or_default();
            let conditions = status.conditions.unwrap_or_default();
            let ready = conditions
                .iter()
                .find(|c| c.type_ == "Ready")
                .map_or("Unknown", |c| {
                    if c.status == "True" {
                        "Ready"
                    } else {
                        "NotReady"
                    }
                });
            let problems: Vec<&str> = conditions
                .iter()
                .filter(|c| c.type_ != "Ready" && c.status == "True")
                .map(|c| c.type_.as_str())
                .collect();
            let get = |m: &Option<
                std::collections::BTreeMap<
                    String,
                    k8s_openapi::apimachinery::pkg::api::resource::Quantity,
                >,
            >,
                       k: &str| {
                m.as_ref()
                    .and_then(|m| m.get(k))
                    .and_then(|q| quantity(&q.0))
                    .unwrap_or(0.0)
            };
            let (alloc, cap) = (&status.allocatable, &status.capacity);
            table.row([
                node.metadata.name.clone().unwrap_or_default(),
                ready.to_owned(),
                if problems.is_empty() {
                    "-".into()
                } else {
                    problems.join(",")
                },
                format!("{}/{}", get(alloc, "cpu"), get(cap, "cpu")),
                format!(
                    "{}/{}",
                    bytes(get(alloc, "memory")),
                    bytes(get(cap, "memory"))
                ),
                status
                    .node_info
                    .map(|i| i.kubelet_version)
                    .unwrap_or_default(),
                age(node.metadata.creation_timestamp.as_ref()),
            ]);
        }
        Ok(text(table.render()))
    }
}
