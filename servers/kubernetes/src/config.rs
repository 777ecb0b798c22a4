//! Command-line options of opsmcp-kubernetes (each also an environment variable and a key of the
//! `--config` file). Nothing here contacts a cluster.

use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct KubernetesArgs {
    /// kubeconfig file (default: KUBECONFIG, then ~/.kube/config, then the in-cluster service
    /// account)
    #[arg(long, env = "K8S_CONFIG_PATH")]
    pub kubeconfig: Option<PathBuf>,

    /// Context to use when a call names none (default: the kubeconfig's current context)
    #[arg(long, env = "K8S_CONTEXT")]
    pub context: Option<String>,

    /// Namespace to use when a call names none (default: the context's, else `default`)
    #[arg(long, env = "K8S_NAMESPACE")]
    pub namespace: Option<String>,

    /// Only these kubeconfig contexts may be used, by a call's `context` or kubectl's `--context`
    /// (comma-separated; default: every context of the kubeconfig)
    #[arg(long, env = "K8S_ALLOWED_CONTEXTS", value_delimiter = ',')]
    pub allowed_contexts: Vec<String>,

    /// Only these namespaces may be read or changed (comma-separated; default: all)
    #[arg(long, env = "K8S_ALLOWED_NAMESPACES", value_delimiter = ',')]
    pub allowed_namespaces: Vec<String>,

    /// With K8S_ALLOWED_NAMESPACES, the cluster-scoped kinds that may still be changed
    /// (comma-separated, e.g. `Node,PriorityClass`; `*` for all; default: none)
    #[arg(long, env = "K8S_ALLOWED_CLUSTER_KINDS", value_delimiter = ',')]
    pub allowed_cluster_kinds: Vec<String>,

    /// Allow high-risk changes (delete, bulk, system namespaces); still planned or asked per mode
    #[arg(long, env = "K8S_ENABLE_DESTRUCTIVE_OPERATIONS")]
    pub enable_destructive_operations: bool,

    /// Seconds to wait for a change to be verified (pods Ready, rollout complete)
    #[arg(long, env = "K8S_VERIFY_TIMEOUT", default_value_t = 120)]
    pub verify_timeout_secs: u64,

    /// Undo a deployment change whose verification failed
    #[arg(long, env = "K8S_AUTO_ROLLBACK")]
    pub auto_rollback: bool,

    /// The kubectl binary for the kubectl tool (default: `kubectl` on PATH)
    #[arg(long, env = "K8S_KUBECTL", default_value = "kubectl")]
    pub kubectl: PathBuf,

    /// Discovery cache directory for the kubectl tool (default: kubectl's own, ~/.kube/cache)
    #[arg(long, env = "K8S_KUBECTL_CACHE_DIR")]
    pub kubectl_cache_dir: Option<PathBuf>,

    /// Seconds to wait for the API server before giving up on a request
    #[arg(long, env = "K8S_TIMEOUT", default_value_t = 30)]
    pub timeout_secs: u64,
}
