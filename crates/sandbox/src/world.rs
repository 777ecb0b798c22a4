//! The sandbox world: every simulated service built from one scenario, served on loopback, and
//! the flows between them wired through [`crate::flows`] — what the cluster's containers and
//! nodes write goes to Loki.
//!
//! The Kubernetes API is served over HTTPS (kubectl sends bearer tokens only over TLS) with a
//! certificate from the sandbox's CA; Loki and the cluster's metrics exporter share a plain
//! HTTP address (in-cluster services, as they usually are). A SaaS stand-in listens on a port of
//! its own, like the separate host it imitates — PagerDuty over HTTPS, GitHub and Notion over
//! plain HTTP. Pages reach PagerDuty the way they do in production: Alertmanager posts to its
//! Events API.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use crate::{
    github::{self, GitHub},
    kube::{self, Cluster},
    loki::{self, Loki},
    notion::{self, Notion},
    pagerduty::{self, PagerDuty, model::Urls},
    scenario::Scenario,
    timeline::Timeline,
    tls::Authority,
};

/// A running sandbox: its services, their addresses and the tasks serving them.
pub struct Sandbox {
    pub cluster: Arc<Cluster>,
    pub loki: Arc<Loki>,
    /// Loki's and the metrics exporter's address (plain HTTP).
    pub addr: SocketAddr,
    /// The Kubernetes API's address (HTTPS).
    pub kube_addr: SocketAddr,
    pub pagerduty: Arc<PagerDuty>,
    /// PagerDuty's REST and Events API address (HTTPS).
    pub pagerduty_addr: SocketAddr,
    /// The CA that signed the HTTPS stand-ins' certificate, PEM.
    pub ca_pem: String,
    /// The PagerDuty user the user-level API key belongs to (`/users/me`), and their email.
    pub pagerduty_user: (String, String),
    /// The secret PagerDuty's webhooks are signed with, once a receiver is subscribed.
    pub webhook_secret: Option<String>,
    pub github: Arc<GitHub>,
    /// GitHub's REST API address (plain HTTP, like a GitHub Enterprise Server without TLS).
    pub github_addr: SocketAddr,
    pub notion: Arc<Notion>,
    /// The ids of the Notion workspace's databases and pages.
    pub notion_ids: notion::seed::Ids,
    /// Notion's API address (plain HTTP).
    pub notion_addr: SocketAddr,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// A random API token of PagerDuty's length (20 characters).
fn token() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..20].to_owned()
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

    /// The sandbox with the built-in incident scenario on a free loopback port (what the tests,
    /// the drill and the benchmarks run against).
    pub async fn incident() -> std::io::Result<Self> {
        let scenario = Scenario::parse(crate::scenario::INCIDENT).map_err(std::io::Error::other)?;
        Self::start_with(SocketAddr::from(([127, 0, 0, 1], 0)), Some(&scenario)).await
    }

    /// [`Sandbox::incident`] as it is after running for `age`: the past the scenario seeds
    /// (commits, deploys, past incidents, pages) happened that much earlier, while what keeps
    /// going (the leaking worker's runs, logs and metrics) is where the live clock has it.
    pub async fn incident_aged(age: Duration) -> std::io::Result<Self> {
        let scenario = Scenario::parse(crate::scenario::INCIDENT).map_err(std::io::Error::other)?;
        Self::start_aged(SocketAddr::from(([127, 0, 0, 1], 0)), Some(&scenario), age).await
    }

    /// [`Sandbox::start`] with a scenario applied on top of the baseline.
    pub async fn start_with(
        listen: SocketAddr,
        scenario: Option<&Scenario>,
    ) -> std::io::Result<Self> {
        Self::start_aged(listen, scenario, Duration::ZERO).await
    }

    /// [`Sandbox::start_with`] for a world seeded `age` ago (see [`Sandbox::incident_aged`]).
    pub async fn start_aged(
        listen: SocketAddr,
        scenario: Option<&Scenario>,
        age: Duration,
    ) -> std::io::Result<Self> {
        let now = jiff::Timestamp::now();
        let epoch = now.as_second() - i64::try_from(age.as_secs()).unwrap_or(i64::MAX / 2);
        // GitHub first: its production deployments say when each image went live, and every
        // other service's past is placed on the same timeline.
        let github = Arc::new(
            GitHub::shop(epoch, format!("ghp_{}", uuid::Uuid::new_v4().simple()))
                .map_err(std::io::Error::other)?,
        );
        let timeline = Timeline::new(
            epoch,
            github.went_live(),
            scenario.map_or(&[][..], |s| &s.deploys),
        );
        let loki = Arc::new(Loki::default());
        let cluster = Arc::new(Cluster::default());
        cluster.ship_logs_to(loki.clone());
        kube::seed::baseline(&cluster);
        kube::controller::reconcile(&cluster);
        if let Some(s) = scenario {
            s.kube
                .apply(&cluster, &timeline)
                .map_err(std::io::Error::other)?;
            // Its pods exist and are scheduled, not yet started: the history is written for
            // them, and the kubelet takes over the runs it leaves going.
            kube::history::backfill(&cluster, now.as_nanosecond() as i64);
            kube::controller::reconcile(&cluster);
            kube::kubelet::settle(&cluster);
        }
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let app = kube::exporter::router(cluster.clone()).merge(loki::http::router(loki.clone()));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let authority = Authority::new().map_err(std::io::Error::other)?;
        let (kube_addr, kube_server) = authority
            .serve(
                SocketAddr::new(listen.ip(), 0),
                kube::api::router(cluster.clone()),
            )
            .await?;
        let controllers = kube::controller::spawn(cluster.clone(), Duration::from_millis(250));

        let seed = scenario.and_then(|s| s.pagerduty.as_ref());
        let account = match seed {
            Some(seed) => seed
                .account(now, &timeline)
                .map_err(std::io::Error::other)?,
            None => pagerduty::model::Account::default(),
        };
        let user = seed
            .and_then(|s| account.users.get(&s.token_user))
            .map(|u| (u.id.clone(), u.email.clone()))
            .unwrap_or_default();
        let pagerduty = Arc::new(PagerDuty::new(
            account,
            pagerduty::Tokens {
                account: token(),
                user: (format!("u+{}", token()), user.0.clone()),
            },
        ));
        let pd_app = pagerduty::rest::router(pagerduty.clone())
            .merge(pagerduty::events::router(pagerduty.clone()));
        let (pagerduty_addr, pd_server) = authority
            .serve(SocketAddr::new(listen.ip(), 0), pd_app)
            .await?;
        let github_listener =
            tokio::net::TcpListener::bind(SocketAddr::new(listen.ip(), 0)).await?;
        let github_addr = github_listener.local_addr()?;
        let github_app = github::rest::router(github.clone());
        let github_server = tokio::spawn(async move {
            let _ = axum::serve(github_listener, github_app).await;
        });
        let (notion, notion_ids) =
            notion::seed::shop(epoch, format!("ntn_{}", uuid::Uuid::new_v4().simple()));
        let notion = Arc::new(notion);
        let notion_listener =
            tokio::net::TcpListener::bind(SocketAddr::new(listen.ip(), 0)).await?;
        let notion_addr = notion_listener.local_addr()?;
        let notion_app = notion::rest::router(notion.clone());
        let notion_server = tokio::spawn(async move {
            let _ = axum::serve(notion_listener, notion_app).await;
        });
        pagerduty.serving_at(Urls {
            api: format!("https://{pagerduty_addr}"),
            web: format!("https://{pagerduty_addr}/web"),
        });
        Ok(Self {
            cluster,
            loki,
            addr,
            kube_addr,
            pagerduty,
            pagerduty_addr,
            ca_pem: authority.ca_pem.clone(),
            pagerduty_user: user,
            webhook_secret: None,
            github,
            github_addr,
            notion,
            notion_ids,
            notion_addr,
            tasks: vec![
                server,
                kube_server,
                controllers,
                pd_server,
                github_server,
                notion_server,
            ],
        })
    }

    /// Loki's base URL, where the metrics exporter's `/metrics` also is.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The Kubernetes API's base URL (HTTPS, certificate from [`Sandbox::ca_pem`]).
    pub fn kube_url(&self) -> String {
        format!("https://{}", self.kube_addr)
    }

    /// The CA certificate as a kubeconfig's `certificate-authority-data` (base64 of the PEM).
    pub fn ca_data(&self) -> String {
        base64::engine::Engine::encode(&base64::engine::general_purpose::STANDARD, &self.ca_pem)
    }

    /// A kubeconfig for kubectl and kube clients: one cluster, namespace `shop`, two users by
    /// bearer token and a context each — `sandbox` (the current one: the administrator) and
    /// `sandbox-view` (the read-only user bound to the `view` ClusterRole).
    pub fn kubeconfig(&self) -> String {
        let users = self.cluster.users();
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: sandbox\n  cluster:\n    server: {url}\n    certificate-authority-data: {ca}\ncontexts:\n- name: sandbox\n  context:\n    cluster: sandbox\n    user: {admin}\n    namespace: shop\n- name: sandbox-view\n  context:\n    cluster: sandbox\n    user: {viewer}\n    namespace: shop\ncurrent-context: sandbox\nusers:\n- name: {admin}\n  user:\n    token: {admin_token}\n- name: {viewer}\n  user:\n    token: {viewer_token}\n",
            url = self.kube_url(),
            ca = self.ca_data(),
            admin = kube::rbac::ADMIN,
            viewer = kube::rbac::VIEWER,
            admin_token = users.admin_token,
            viewer_token = users.viewer_token,
        )
    }
}

impl Sandbox {
    /// PagerDuty's REST API base URL (also the Events API's host).
    pub fn pagerduty_url(&self) -> String {
        format!("https://{}", self.pagerduty_addr)
    }

    /// GitHub's REST API base URL.
    pub fn github_url(&self) -> String {
        format!("http://{}", self.github_addr)
    }

    /// Notion's API base URL (clients append `/v1/…`).
    pub fn notion_url(&self) -> String {
        format!("http://{}", self.notion_addr)
    }

    /// Subscribe `url` to every incident event of PagerDuty, signed with a new secret (kept in
    /// [`Sandbox::webhook_secret`] and written to `sandbox.env`).
    pub fn deliver_webhooks_to(&mut self, url: &str) {
        let secret = format!("whsec-{}", uuid::Uuid::new_v4().simple());
        self.pagerduty.subscribe(url, &secret);
        self.webhook_secret = Some(secret);
    }

    /// The environment that points every opsmcp server (and kubectl) at this sandbox, given
    /// where the kubeconfig and the CA file were written.
    pub fn environment(&self, kubeconfig: &Path, ca_file: &Path) -> Vec<(&'static str, String)> {
        vec![
            ("KUBECONFIG", kubeconfig.display().to_string()),
            ("LOKI_URL", self.url()),
            ("PAGERDUTY_API_HOST", self.pagerduty_url()),
            ("PAGERDUTY_API_KEY", self.pagerduty.tokens.user.0.clone()),
            ("PAGERDUTY_USER_EMAIL", self.pagerduty_user.1.clone()),
            ("PAGERDUTY_CA_FILE", ca_file.display().to_string()),
            (
                "PAGERDUTY_EVENTS_URL",
                format!("{}/v2/enqueue", self.pagerduty_url()),
            ),
            ("GITHUB_API_URL", self.github_url()),
            ("GITHUB_TOKEN", self.github.token.clone()),
            ("GITHUB_REPO_OWNER", "shop".to_owned()),
            ("GITHUB_REPO_NAME", "worker".to_owned()),
            ("NOTION_URL", self.notion_url()),
            ("NOTION_TOKEN", self.notion.token.clone()),
            (
                "NOTION_DATABASE_ID",
                self.notion_ids.incidents.0.to_string(),
            ),
            ("NOTION_RUNBOOKS_ID", self.notion_ids.runbooks.0.to_string()),
            (
                "NOTION_POSTMORTEM_TEMPLATE_ID",
                self.notion_ids.template.to_string(),
            ),
        ]
        .into_iter()
        .chain(
            self.webhook_secret
                .iter()
                .map(|s| ("PAGERDUTY_WEBHOOK_SECRET", s.clone())),
        )
        .collect()
    }

    /// Write `sandbox.kubeconfig`, `sandbox-ca.pem`, `github-app.pem` (the GitHub App's private
    /// key) and `sandbox.env` into `dir`; returns the env file's path. `set -a; . sandbox.env;
    /// set +a` points the servers here (the App's settings are there as comments: unset
    /// GITHUB_TOKEN and set them to authenticate as the App).
    pub fn write_files(&self, dir: &Path) -> std::io::Result<PathBuf> {
        let dir = std::fs::canonicalize(dir)?;
        // Tokens and a private key: the owner's only.
        let write = |path: &Path, contents: &[u8]| -> std::io::Result<()> {
            use std::{io::Write, os::unix::fs::OpenOptionsExt};
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(path)?
                .write_all(contents)
        };
        let kubeconfig = dir.join("sandbox.kubeconfig");
        let ca_file = dir.join("sandbox-ca.pem");
        let env_file = dir.join("sandbox.env");
        write(&kubeconfig, self.kubeconfig().as_bytes())?;
        write(&ca_file, self.ca_pem.as_bytes())?;
        let mut env = String::from(
            "# Written by opsmcp-sandbox. `set -a; . sandbox.env; set +a` points the servers here.\n",
        );
        for (name, value) in self.environment(&kubeconfig, &ca_file) {
            env.push_str(&format!("{name}='{}'\n", value.replace('\'', r"'\''")));
        }
        let app_key = dir.join("github-app.pem");
        write(&app_key, self.github.app.private_key_pem().as_bytes())?;
        env.push_str(&format!(
            "# GitHub App instead of GITHUB_TOKEN:\n# GITHUB_APP_ID='{}'\n# GITHUB_APP_PRIVATE_KEY_FILE='{}'\n# GITHUB_APP_INSTALLATION_ID='{}'\n",
            self.github.app.id,
            app_key.display(),
            self.github.app.installation
        ));
        write(&env_file, env.as_bytes())?;
        Ok(env_file)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
