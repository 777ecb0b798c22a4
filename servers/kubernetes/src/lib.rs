//! opsmcp-kubernetes: an MCP server for Kubernetes incidents.
//!
//! [`KubernetesServer`] holds the lazily built cluster clients ([`client`]), the safety engine
//! and the tool router; each tool group lives in its own module: [`pods`] (pods, describe,
//! logs, events), [`cluster`] (contexts, namespaces, nodes), [`workloads`] (usage, deployments,
//! services, config references, any kind read), [`changes`] (remediation of deployments and
//! pods), [`manifests`] (server-side apply and delete of any kind), [`nodes`] (cordon,
//! uncordon, drain), [`exec`] (a command in a container) and [`kubectl`]. Every
//! change asks [`access`] first whether the credentials allow it. The server contacts no
//! cluster at start-up.

pub mod access;
pub mod changes;
pub mod client;
pub mod cluster;
pub mod config;
pub mod exec;
pub mod kubectl;
pub mod manifests;
pub mod nodes;
pub mod pods;
pub mod render;
pub mod retry;
pub mod workloads;

use std::sync::Arc;

use opsmcp_core::{
    approval::Safety, host::ToolHost, metrics::Metrics, structured::schema_for, tools::Effect,
};

use crate::{client::Clients, config::KubernetesArgs};

/// Every tool and what it does to the world; annotations are derived from this table.
const EFFECTS: &[(&str, Effect)] = &[
    ("contexts_list", Effect::Read),
    ("namespaces_list", Effect::Read),
    ("nodes_list", Effect::Read),
    ("pods_list", Effect::Read),
    ("pod_describe", Effect::Read),
    ("pod_logs", Effect::Read),
    ("events_list", Effect::Read),
    ("top_pods", Effect::Read),
    ("top_nodes", Effect::Read),
    ("deployments_list", Effect::Read),
    ("service_check", Effect::Read),
    ("config_refs_check", Effect::Read),
    ("resources_get", Effect::Read),
    (
        "deployment_scale",
        Effect::Write {
            destructive: false,
            idempotent: true,
        },
    ),
    (
        "deployment_restart",
        Effect::Write {
            destructive: false,
            idempotent: false,
        },
    ),
    (
        "deployment_rollback",
        Effect::Write {
            destructive: false,
            idempotent: false,
        },
    ),
    (
        "container_resources_set",
        Effect::Write {
            destructive: false,
            idempotent: true,
        },
    ),
    (
        "pods_restart",
        Effect::Write {
            destructive: true,
            idempotent: false,
        },
    ),
    (
        "resources_apply",
        Effect::Write {
            destructive: false,
            idempotent: true,
        },
    ),
    (
        "resources_delete",
        Effect::Write {
            destructive: true,
            idempotent: true,
        },
    ),
    (
        "node_cordon",
        Effect::Write {
            destructive: false,
            idempotent: true,
        },
    ),
    (
        "node_uncordon",
        Effect::Write {
            destructive: false,
            idempotent: true,
        },
    ),
    (
        "node_drain",
        Effect::Write {
            destructive: true,
            idempotent: false,
        },
    ),
    (
        "pod_exec",
        Effect::Write {
            destructive: true,
            idempotent: false,
        },
    ),
    (
        "kubectl",
        Effect::Write {
            destructive: true,
            idempotent: false,
        },
    ),
];

struct Inner {
    clients: Arc<Clients>,
    host: ToolHost<KubernetesServer>,
}

/// The server; cheap to clone (one clone per MCP session).
#[derive(Clone)]
pub struct KubernetesServer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for KubernetesServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubernetesServer")
            .field("tools", &self.inner.host.tools().len())
            .finish()
    }
}

impl KubernetesServer {
    /// Build the server; no cluster is contacted. High-risk changes also need
    /// `K8S_ENABLE_DESTRUCTIVE_OPERATIONS=true`.
    pub fn new(args: &KubernetesArgs, safety: Safety, metrics: Metrics) -> Self {
        let safety = safety.with_destructive_switch(
            "K8S_ENABLE_DESTRUCTIVE_OPERATIONS",
            args.enable_destructive_operations,
        );
        let mut router = Self::pods_router() + Self::cluster_router() + Self::workloads_router();
        if !safety.read_only() {
            router += Self::changes_router()
                + Self::manifests_router()
                + Self::nodes_router()
                + Self::exec_router()
                + Self::kubectl_router();
        }
        // A read-only server routes no writes, so their effects are left out with them.
        Self {
            inner: Arc::new(Inner {
                clients: Clients::new(args),
                host: ToolHost::new(router, EFFECTS, metrics, safety)
                    .with_output_schemas(&[("pods_list", schema_for::<pods::PodList>())]),
            }),
        }
    }

    fn host(&self) -> &ToolHost<Self> {
        &self.inner.host
    }

    pub(crate) fn clients(&self) -> &Clients {
        &self.inner.clients
    }

    pub(crate) fn safety(&self) -> &Safety {
        self.host().safety()
    }
}

impl opsmcp_core::serve::Ready for KubernetesServer {
    /// Readiness for `/readyz`: the default context's API server answers `/version`.
    async fn ready(&self) -> Result<(), String> {
        let conn = self
            .clients()
            .connect(None)
            .await
            .map_err(|e| e.to_string())?;
        conn.client
            .apiserver_version()
            .await
            .map(|_| ())
            .map_err(|e| client::explain(&conn, e).to_string())
    }
}

opsmcp_core::tool_server!(
    KubernetesServer,
    "Kubernetes. Start with pods_list errors_only=true (or namespace=all), then pod_describe and \
     pod_logs (previous=true after a crash) and events_list. Every call takes an optional context \
     and namespace (default: the current context and its namespace).",
);
