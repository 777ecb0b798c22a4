//! opsmcp-sandbox: a simulated Kubernetes cluster that the real `kubectl` accepts, for opsmcp's
//! tests and demo (no kube-apiserver can run on the machines they run on).
//!
//! - [`api`]: the HTTP API (discovery, CRUD, selectors, Table printing, watch, patches, scale,
//!   dry run, logs, `Status` errors);
//! - [`store`]: objects as JSON with the API server's bookkeeping and a change stream;
//! - [`controller`] and [`kubelet`]: Deployment → ReplicaSet → Pod, Service → Endpoints,
//!   container start, readiness, logs, usage, events;
//! - [`cluster`]: the state the simulation keeps beside the objects, computed metrics,
//!   garbage collection;
//! - [`resources`], [`selectors`], [`patch`], [`table`]: the API's vocabulary;
//! - [`loki`]: a Loki stand-in on the same address, holding what the containers log.

pub mod api;
pub mod cluster;
pub mod controller;
pub mod exporter;
pub mod kubelet;
pub mod loki;
pub mod patch;
pub mod quantity;
pub mod resources;
pub mod scenario;
pub mod schema;
pub mod seed;
pub mod selectors;
pub mod store;
pub mod table;

use std::{net::SocketAddr, sync::Arc, time::Duration};

pub use cluster::Cluster;

/// A running sandbox: the cluster, its address and the tasks serving it.
pub struct Sandbox {
    pub cluster: Arc<Cluster>,
    pub addr: SocketAddr,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// Seed the baseline cluster, start the controllers and serve the API on `listen`
    /// (`127.0.0.1:0` picks a free port).
    pub async fn start(listen: SocketAddr) -> std::io::Result<Self> {
        Self::start_with(listen, None).await
    }

    /// [`Sandbox::start`] with a scenario applied on top of the baseline.
    pub async fn start_with(
        listen: SocketAddr,
        scenario: Option<&scenario::Scenario>,
    ) -> std::io::Result<Self> {
        let cluster = Arc::new(Cluster::default());
        seed::baseline(&cluster);
        controller::reconcile(&cluster);
        if let Some(s) = scenario {
            s.apply(&cluster).map_err(std::io::Error::other)?;
            // Pods exist after a pass; the log history is written for them.
            controller::reconcile(&cluster);
            loki::history::backfill(&cluster, jiff::Timestamp::now().as_nanosecond() as i64);
        }
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let app = api::router(cluster.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let controllers = controller::spawn(cluster.clone(), Duration::from_millis(250));
        Ok(Self {
            cluster,
            addr,
            tasks: vec![server, controllers],
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kubeconfig for kubectl and kube clients: one cluster, context `sandbox`, namespace
    /// `shop`, no credentials (the sandbox does not authenticate).
    pub fn kubeconfig(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: sandbox\n  cluster:\n    server: {}\ncontexts:\n- name: sandbox\n  context:\n    cluster: sandbox\n    user: sandbox\n    namespace: shop\ncurrent-context: sandbox\nusers:\n- name: sandbox\n  user: {{}}\n",
            self.url()
        )
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
