//! The sandbox world: every simulated service built from one scenario, served on loopback, and
//! the flows between them wired through [`crate::flows`] — what the cluster's containers and
//! nodes write goes to Loki.
//!
//! The Kubernetes API and Loki share one address (Loki is in-cluster, as it usually is);
//! a SaaS stand-in listens on a port of its own, like the separate host it imitates.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use crate::{
    kube::{self, Cluster, scenario::Scenario},
    loki::{self, Loki},
};

/// A running sandbox: its services, their addresses and the tasks serving them.
pub struct Sandbox {
    pub cluster: Arc<Cluster>,
    pub loki: Arc<Loki>,
    /// The Kubernetes API (and Loki) address.
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
        scenario: Option<&Scenario>,
    ) -> std::io::Result<Self> {
        let loki = Arc::new(Loki::default());
        let cluster = Arc::new(Cluster::default());
        cluster.ship_logs_to(loki.clone());
        kube::seed::baseline(&cluster);
        kube::controller::reconcile(&cluster);
        if let Some(s) = scenario {
            s.apply(&cluster).map_err(std::io::Error::other)?;
            // Pods exist after a pass; the log history is written for them.
            kube::controller::reconcile(&cluster);
            kube::history::backfill(&cluster, jiff::Timestamp::now().as_nanosecond() as i64);
        }
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let app = kube::api::router(cluster.clone()).merge(loki::http::router(loki.clone()));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let controllers = kube::controller::spawn(cluster.clone(), Duration::from_millis(250));
        Ok(Self {
            cluster,
            loki,
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

impl Sandbox {
    /// The environment that points every opsmcp server (and kubectl) at this sandbox.
    pub fn environment(&self, kubeconfig: &std::path::Path) -> Vec<(&'static str, String)> {
        vec![
            ("KUBECONFIG", kubeconfig.display().to_string()),
            ("LOKI_URL", self.url()),
        ]
    }

    /// `sandbox.env`: [`Sandbox::environment`] for `set -a; . sandbox.env; set +a`.
    pub fn env_file(&self, kubeconfig: &std::path::Path) -> String {
        let mut file = String::from(
            "# Written by opsmcp-sandbox. `set -a; . sandbox.env; set +a` points the servers here.\n",
        );
        for (name, value) in self.environment(kubeconfig) {
            file.push_str(&format!("{name}='{}'\n", value.replace('\'', r"'\''")));
        }
        file
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
