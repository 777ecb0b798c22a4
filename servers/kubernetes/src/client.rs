//! Cluster access: the kubeconfig is read and a `kube::Client` built per context on first use
//! (start-up contacts no cluster), namespaces are checked against the allow-list, and kube's
//! errors become sentences that say what to do.

use std::{collections::HashMap, path::PathBuf, sync::Arc, time::Duration};

use kube::config::{KubeConfigOptions, Kubeconfig};
use opsmcp_core::output::untrusted_line;
use tokio::sync::Mutex;

use crate::config::KubernetesArgs;

/// Why a cluster call failed, in words for the model.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("no kubeconfig: {0}")]
    Config(String),
    #[error("context `{0}` is not in the kubeconfig (contexts: {1})")]
    UnknownContext(String, String),
    #[error("context `{0}` is not allowed here (allowed: {1}; K8S_ALLOWED_CONTEXTS)")]
    ContextNotAllowed(String, String),
    #[error("namespace `{0}` is not allowed here (allowed: {1})")]
    NamespaceNotAllowed(String, String),
    #[error(
        "{0} is cluster-scoped and namespaces are restricted here (K8S_ALLOWED_NAMESPACES: {1}); \
         K8S_ALLOWED_CLUSTER_KINDS names the cluster-scoped kinds that may be changed"
    )]
    ClusterKindNotAllowed(String, String),
    #[error("{0}")]
    NotFound(String),
    #[error("the API server refused: {0}")]
    Api(String),
    #[error("cannot reach the cluster of context `{context}` at {server}: {reason}")]
    Unreachable {
        context: String,
        server: String,
        reason: String,
    },
}

/// A client for one context, with its default namespace.
#[derive(Clone)]
pub struct Connection {
    /// Retries a throttled or unavailable API server (429, 503, 504) at most 3 times, 0.5 to
    /// 5 s apart (kube's own default retries 15 times with back-off up to 1,000 s: a tool
    /// call would hang for minutes).
    pub client: kube::Client,
    /// No retries: for requests whose 429 is an answer, not a throttle (an eviction a
    /// PodDisruptionBudget refuses).
    pub once: kube::Client,
    pub context: String,
    pub namespace: String,
    pub server: String,
}

/// Lazily built clients, one per context.
pub struct Clients {
    args: KubernetesArgs,
    connections: Mutex<HashMap<String, Connection>>,
}

impl std::fmt::Debug for Clients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clients").finish_non_exhaustive()
    }
}

/// The contexts of a kubeconfig: (name, cluster server, namespace), and the current one.
pub struct Contexts {
    pub current: Option<String>,
    pub contexts: Vec<(String, String, Option<String>)>,
}

impl Clients {
    pub fn new(args: &KubernetesArgs) -> Arc<Self> {
        Arc::new(Self {
            args: args.clone(),
            connections: Mutex::default(),
        })
    }

    pub fn args(&self) -> &KubernetesArgs {
        &self.args
    }

    pub fn kubeconfig_path(&self) -> Option<PathBuf> {
        self.args.kubeconfig.clone()
    }

    /// The kubeconfig: `--kubeconfig`/`K8S_CONFIG_PATH`, `KUBECONFIG` (a list), or
    /// `~/.kube/config`; `None` in a pod (in-cluster config).
    fn kubeconfig(&self) -> Result<Option<Kubeconfig>, ClusterError> {
        if let Some(path) = self.kubeconfig_path() {
            return Kubeconfig::read_from(&path)
                .map(Some)
                .map_err(|e| ClusterError::Config(format!("{}: {e}", path.display())));
        }
        match Kubeconfig::from_env() {
            Ok(Some(k)) => return Ok(Some(k)),
            Ok(None) => {}
            Err(e) => return Err(ClusterError::Config(format!("KUBECONFIG: {e}"))),
        }
        let home = std::env::var_os("HOME").map(PathBuf::from);
        if let Some(path) = home
            .map(|h| h.join(".kube").join("config"))
            .filter(|p| p.exists())
        {
            return Kubeconfig::read_from(&path)
                .map(Some)
                .map_err(|e| ClusterError::Config(format!("{}: {e}", path.display())));
        }
        if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() {
            return Ok(None);
        }
        Err(ClusterError::Config(
            "set KUBECONFIG or K8S_CONFIG_PATH, or run in a pod with a service account".into(),
        ))
    }

    pub fn contexts(&self) -> Result<Contexts, ClusterError> {
        let Some(kc) = self.kubeconfig()? else {
            return Ok(Contexts {
                current: Some("in-cluster".into()),
                contexts: vec![(
                    "in-cluster".into(),
                    "https://kubernetes.default.svc".into(),
                    None,
                )],
            });
        };
        let server_of = |cluster: &str| {
            kc.clusters
                .iter()
                .find(|c| c.name == cluster)
                .and_then(|c| c.cluster.as_ref())
                .and_then(|c| c.server.clone())
                .unwrap_or_default()
        };
        Ok(Contexts {
            current: kc.current_context.clone(),
            contexts: kc
                .contexts
                .iter()
                .map(|c| {
                    let ctx = c.context.as_ref();
                    (
                        c.name.clone(),
                        ctx.map(|x| server_of(&x.cluster)).unwrap_or_default(),
                        ctx.and_then(|x| x.namespace.clone()),
                    )
                })
                .collect(),
        })
    }

    /// The contexts a call may use: `K8S_ALLOWED_CONTEXTS`, else every context of the kubeconfig.
    pub fn allowed_contexts(&self) -> Result<Vec<String>, ClusterError> {
        if !self.args.allowed_contexts.is_empty() {
            return Ok(self.args.allowed_contexts.clone());
        }
        Ok(self
            .contexts()?
            .contexts
            .into_iter()
            .map(|(name, _, _)| name)
            .collect())
    }

    /// The connection for `context` (default: `--context`, then the current context), refused
    /// when the context is not an allowed one.
    pub async fn connect(&self, context: Option<&str>) -> Result<Connection, ClusterError> {
        let wanted = context
            .map(str::to_owned)
            .or_else(|| self.args.context.clone());
        let allowed = &self.args.allowed_contexts;
        if !allowed.is_empty() {
            let name = match &wanted {
                Some(w) => w.clone(),
                None => self.contexts()?.current.unwrap_or_default(),
            };
            if !allowed.contains(&name) {
                return Err(ClusterError::ContextNotAllowed(name, allowed.join(", ")));
            }
        }
        let key = wanted.clone().unwrap_or_default();
        if let Some(c) = self.connections.lock().await.get(&key) {
            return Ok(c.clone());
        }
        let (mut config, name) = match self.kubeconfig()? {
            Some(kc) => {
                let name = wanted
                    .clone()
                    .or_else(|| kc.current_context.clone())
                    .unwrap_or_default();
                if !kc.contexts.iter().any(|c| c.name == name) {
                    let known: Vec<&str> = kc.contexts.iter().map(|c| c.name.as_str()).collect();
                    return Err(ClusterError::UnknownContext(name, known.join(", ")));
                }
                let options = KubeConfigOptions {
                    context: Some(name.clone()),
                    ..KubeConfigOptions::default()
                };
                let config = kube::Config::from_custom_kubeconfig(kc, &options)
                    .await
                    .map_err(|e| ClusterError::Config(e.to_string()))?;
                (config, name)
            }
            None => (
                kube::Config::incluster().map_err(|e| ClusterError::Config(e.to_string()))?,
                "in-cluster".to_owned(),
            ),
        };
        let timeout = Duration::from_secs(self.args.timeout_secs.max(1));
        config.connect_timeout = Some(Duration::from_secs(5).min(timeout));
        config.read_timeout = Some(timeout);
        config.write_timeout = Some(timeout);
        let namespace = self
            .args
            .namespace
            .clone()
            .unwrap_or_else(|| config.default_namespace.clone());
        let server = config.cluster_url.to_string();
        config.default_retry = false;
        let once = kube::Client::try_from(config.clone())
            .map_err(|e| ClusterError::Config(e.to_string()))?;
        // kube's stack is a boxed service; the buffer makes it cloneable, as a retry needs.
        let client = kube::client::ClientBuilder::try_from(config)
            .map_err(|e| ClusterError::Config(e.to_string()))?
            .with_layer(&tower::buffer::BufferLayer::new(256))
            .with_layer(&tower::retry::RetryLayer::new(
                crate::retry::Retry::default(),
            ))
            .build();
        let connection = Connection {
            client,
            once,
            context: name,
            namespace,
            server,
        };
        self.connections
            .lock()
            .await
            .insert(key, connection.clone());
        Ok(connection)
    }

    /// `namespace` (or the default one), refused when not on the allow-list.
    pub fn namespace(
        &self,
        connection: &Connection,
        namespace: Option<&str>,
    ) -> Result<String, ClusterError> {
        let ns = namespace
            .filter(|n| !n.is_empty())
            .unwrap_or(&connection.namespace)
            .to_owned();
        self.allowed(&ns)?;
        Ok(ns)
    }

    pub fn allowed(&self, namespace: &str) -> Result<(), ClusterError> {
        let allowed = &self.args.allowed_namespaces;
        if allowed.is_empty() || allowed.iter().any(|a| a == namespace) {
            Ok(())
        } else {
            Err(ClusterError::NamespaceNotAllowed(
                namespace.to_owned(),
                allowed.join(", "),
            ))
        }
    }

    /// A change to a cluster-scoped object of `kind`: allowed without a namespace allow-list,
    /// and with one only for the kinds of `K8S_ALLOWED_CLUSTER_KINDS`.
    pub fn cluster_kind_allowed(&self, kind: &str) -> Result<(), ClusterError> {
        let namespaces = &self.args.allowed_namespaces;
        let kinds = &self.args.allowed_cluster_kinds;
        if namespaces.is_empty()
            || kinds
                .iter()
                .any(|k| k == "*" || k.eq_ignore_ascii_case(kind))
        {
            Ok(())
        } else {
            Err(ClusterError::ClusterKindNotAllowed(
                kind.to_owned(),
                namespaces.join(", "),
            ))
        }
    }

    /// Whether all-namespace reads are possible (no allow-list).
    pub fn all_namespaces_allowed(&self) -> bool {
        self.args.allowed_namespaces.is_empty()
    }
}

/// Every resource type the cluster serves, by each word kubectl accepts for it (plural,
/// singular, lower-case kind, short names, each also as `word.group` and `word.version.group`):
/// its kind and whether it is namespaced. Read from the discovery documents (the core group
/// first, then each group's preferred version in the server's order), as kubectl reads them to
/// map a word to a type; a bare word two groups claim goes to the first, as in kubectl.
pub async fn resource_words(
    connection: &Connection,
) -> Result<std::collections::HashMap<String, (String, bool)>, kube::Error> {
    let client = &connection.client;
    let mut lists = vec![client.list_core_api_resources("v1").await?];
    for group in client.list_api_groups().await?.groups {
        if let Some(preferred) = group.preferred_version {
            lists.push(
                client
                    .list_api_group_resources(&preferred.group_version)
                    .await?,
            );
        }
    }
    let mut words = std::collections::HashMap::new();
    for list in lists {
        let (group, version) = list
            .group_version
            .rsplit_once('/')
            .unwrap_or(("", &list.group_version));
        for resource in list.resources {
            if resource.name.contains('/') {
                continue; // a subresource (pods/log)
            }
            let entry = (resource.kind.clone(), resource.namespaced);
            let names = [
                resource.name,
                resource.singular_name,
                resource.kind.to_lowercase(),
            ]
            .into_iter()
            .chain(resource.short_names.unwrap_or_default())
            .filter(|n| !n.is_empty())
            .map(|n| n.to_lowercase());
            for name in names {
                if !group.is_empty() {
                    words.insert(format!("{name}.{group}"), entry.clone());
                    words.insert(format!("{name}.{version}.{group}"), entry.clone());
                }
                words.entry(name).or_insert_with(|| entry.clone());
            }
        }
    }
    Ok(words)
}

/// The API resource serving `kind` in `api_version` (`apps/v1`, `v1`), custom resources
/// included, and its scope.
pub async fn resolve_kind(
    connection: &Connection,
    api_version: &str,
    kind: &str,
) -> Result<(kube::api::ApiResource, kube::discovery::ApiCapabilities), String> {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let gvk = kube::api::GroupVersionKind::gvk(group, version, kind);
    kube::discovery::pinned_kind(&connection.client, &gvk)
        .await
        .map_err(|e| match e {
            kube::Error::Api(status) if status.code == 404 => {
                format!("the cluster serves no {kind} in {api_version}")
            }
            kube::Error::Discovery(_) => format!("the cluster serves no {kind} in {api_version}"),
            other => explain(connection, other).to_string(),
        })
}

/// A kube error as a [`ClusterError`], naming the cluster when it cannot be reached.
pub fn explain(connection: &Connection, error: kube::Error) -> ClusterError {
    match error {
        kube::Error::Api(status) if status.code == 404 => {
            ClusterError::NotFound(untrusted_line(&status.message))
        }
        kube::Error::Api(status) => ClusterError::Api(format!(
            "{} ({})",
            untrusted_line(&status.message),
            untrusted_line(&status.reason)
        )),
        other => ClusterError::Unreachable {
            context: connection.context.clone(),
            server: connection.server.clone(),
            reason: root_cause(&other),
        },
    }
}

fn root_cause(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        message = s.to_string();
        source = s.source();
    }
    message
}
