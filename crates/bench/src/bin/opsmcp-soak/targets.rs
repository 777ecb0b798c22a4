//! The six servers as the soak drives them: the world they read (the sandbox with the incident
//! scenario, a real Prometheus with its history), how each is pointed at its backend through a
//! [`Proxy`], and the read calls its sessions cycle through.

use std::{net::SocketAddr, path::Path};

use anyhow::{Context, Result};
use opsmcp_e2e::{TempDir, docs::SERVERS, prometheus::Backends};
use opsmcp_sandbox::Sandbox;
use serde_json::{Value, json};

use crate::proxy::Proxy;

/// Seconds every server gives its backend before a call fails (`*_TIMEOUT`).
pub const BACKEND_TIMEOUT_SECS: u64 = 10;

/// The backends of all six servers.
pub struct World {
    sandbox: Sandbox,
    prometheus: Backends,
    dir: TempDir,
}

/// One server's soak: its environment (through the proxy) and its calls.
pub struct Target {
    pub server: &'static str,
    /// What an error about the backend names (compared without case).
    pub backend: &'static str,
    pub env: Vec<(String, String)>,
    pub calls: Vec<(&'static str, Value)>,
    pub proxy: Proxy,
}

impl World {
    pub async fn start() -> Result<Self> {
        let sandbox = Sandbox::incident().await?;
        // Notion allows an integration 3 requests a second and PagerDuty a key 960 a minute;
        // the soak measures the servers, not those limits, so the stand-ins (and the Notion
        // server's own limiter) are opened up.
        sandbox.notion.limit(100_000.0, 100_000.0);
        sandbox.pagerduty.limit(u32::MAX);
        let prometheus = tokio::task::spawn_blocking(Backends::start).await??;
        Ok(Self {
            sandbox,
            prometheus,
            dir: TempDir::new("soak")?,
        })
    }

    /// `server`'s target, its backend behind a new proxy.
    pub async fn target(&self, server: &str) -> Result<Target> {
        let s = &self.sandbox;
        let prometheus: SocketAddr = self
            .prometheus
            .prometheus_url
            .trim_start_matches("http://")
            .parse()?;
        let (server, backend, addr, calls): (_, _, _, Vec<(&str, Value)>) = match server {
            "prometheus" => (
                "prometheus",
                "Prometheus",
                prometheus,
                vec![
                    ("query_instant", json!({ "query": "up" })),
                    ("alerts_list", json!({})),
                    ("targets_list", json!({})),
                    (
                        "query_range",
                        json!({ "query": "sum by (job) (up)", "start": "now-30m" }),
                    ),
                ],
            ),
            "kubernetes" => (
                "kubernetes",
                "cluster",
                s.kube_addr,
                vec![
                    ("pods_list", json!({})),
                    ("events_list", json!({})),
                    ("deployments_list", json!({})),
                    ("nodes_list", json!({})),
                    ("top_pods", json!({})),
                ],
            ),
            "loki" => (
                "loki",
                "Loki",
                s.addr,
                vec![
                    (
                        "logs_query",
                        json!({ "query": "{app=\"worker\"}", "start": "1h", "limit": 20 }),
                    ),
                    ("logs_labels", json!({})),
                    (
                        "logs_patterns",
                        json!({ "service": "checkout", "start": "1h" }),
                    ),
                    ("logs_stats", json!({ "selector": "{namespace=\"shop\"}" })),
                ],
            ),
            "pagerduty" => (
                "pagerduty",
                "PagerDuty",
                s.pagerduty_addr,
                vec![
                    ("incidents_list", json!({})),
                    ("oncalls_list", json!({})),
                    ("services_list", json!({})),
                    ("schedules_list", json!({})),
                ],
            ),
            "github" => (
                "github",
                "GitHub",
                s.github_addr,
                vec![
                    ("commits_list", json!({})),
                    ("prs_list", json!({})),
                    ("issues_list", json!({})),
                    ("releases_list", json!({})),
                    ("file_get", json!({ "path": "worker.c" })),
                ],
            ),
            "notion" => (
                "notion",
                "Notion",
                s.notion_addr,
                vec![
                    ("pages_search", json!({ "query": "runbook" })),
                    ("page_read", json!({ "page": "Worker OOM runbook" })),
                    ("database_query", json!({})),
                ],
            ),
            other => anyhow::bail!("no server {other}: one of {:?}", SERVERS),
        };
        let proxy = Proxy::start(addr).await?;
        let env = self.environment(server, addr, proxy.addr)?;
        Ok(Target {
            server,
            backend,
            env,
            calls,
            proxy,
        })
    }

    /// `sandbox.env` and the Prometheus URLs, with `backend` replaced by `proxy` everywhere
    /// (URLs and the kubeconfig), the timeouts set and each server's audit log in the scratch
    /// directory.
    fn environment(
        &self,
        server: &str,
        backend: SocketAddr,
        proxy: SocketAddr,
    ) -> Result<Vec<(String, String)>> {
        let dir = self.dir.path().join(server);
        std::fs::create_dir_all(&dir)?;
        let through = |v: &str| v.replace(&backend.to_string(), &proxy.to_string());
        let kubeconfig = dir.join("kubeconfig");
        std::fs::write(&kubeconfig, through(&self.sandbox.kubeconfig()))?;
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, &self.sandbox.ca_pem)?;
        let timeout = BACKEND_TIMEOUT_SECS.to_string();
        let mut env: Vec<(String, String)> = self
            .sandbox
            .environment(&kubeconfig, &ca)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), through(&v)))
            .collect();
        env.extend(
            [
                ("PROMETHEUS_URL", through(&self.prometheus.prometheus_url)),
                ("ALERTMANAGER_URL", self.prometheus.alertmanager_url.clone()),
                ("OPSMCP_AUDIT_LOG", path(&dir.join("audit.jsonl"))?),
                ("K8S_KUBECTL_CACHE_DIR", path(&dir.join("kubectl-cache"))?),
                ("NOTION_RATE_LIMIT", "100000".to_owned()),
                ("PROMETHEUS_TIMEOUT", timeout.clone()),
                ("K8S_TIMEOUT", timeout.clone()),
                ("LOKI_TIMEOUT", timeout.clone()),
                ("PAGERDUTY_TIMEOUT", timeout.clone()),
                ("GITHUB_TIMEOUT", timeout.clone()),
                ("NOTION_TIMEOUT", timeout),
            ]
            .map(|(k, v)| (k.to_owned(), v)),
        );
        Ok(env)
    }
}

fn path(p: &Path) -> Result<String> {
    Ok(p.to_str().context("a UTF-8 path")?.to_owned())
}
