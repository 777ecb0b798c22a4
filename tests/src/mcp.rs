//! An in-process MCP client for server tests: the server and rmcp's client over a duplex pipe,
//! and tool calls reduced to (is_error, text); the sandbox with the incident scenario and a
//! scratch directory for a server under test; a stub backend on a free port for fault tests.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use rmcp::{
    ClientHandler, ErrorData, RoleClient, ServerHandler, ServiceExt,
    model::{
        CallToolRequestParams, ClientConfig, ElicitRequestParams, ElicitResult, ElicitationAction,
        ProgressNotificationParam,
    },
    service::{NotificationContext, RequestContext, RunningService},
};
use serde_json::{Value, json};

/// The sandbox running the incident scenario, a scratch directory (removed on drop) and the
/// client of the server under test, which the setup derefs to.
pub struct IncidentSetup {
    pub tools: ToolClient,
    pub sandbox: opsmcp_sandbox::Sandbox,
    dir: crate::TempDir,
}

impl IncidentSetup {
    /// Start the sandbox and make the directory (named after `prefix`); `connect` builds the
    /// server from them. The client declares no capabilities.
    pub async fn start<S: ServerHandler>(
        prefix: &str,
        patience: Duration,
        connect: impl FnOnce(&opsmcp_sandbox::Sandbox, &std::path::Path) -> S,
    ) -> Self {
        Self::start_with(prefix, patience, Approver::default(), connect).await
    }

    /// [`IncidentSetup::start`] with a client that answers approval questions as `approver`
    /// does.
    pub async fn start_with<S: ServerHandler>(
        prefix: &str,
        patience: Duration,
        approver: Approver,
        connect: impl FnOnce(&opsmcp_sandbox::Sandbox, &std::path::Path) -> S,
    ) -> Self {
        let scenario =
            opsmcp_sandbox::scenario::Scenario::parse(opsmcp_sandbox::scenario::INCIDENT).unwrap();
        let sandbox =
            opsmcp_sandbox::Sandbox::start_with("127.0.0.1:0".parse().unwrap(), Some(&scenario))
                .await
                .unwrap();
        let dir = crate::TempDir::new(prefix).unwrap();
        let server = connect(&sandbox, dir.path());
        Self {
            tools: ToolClient::in_process_with(server, patience, approver).await,
            sandbox,
            dir,
        }
    }

    /// The scratch directory (kubeconfigs, audit logs).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}

impl std::ops::Deref for IncidentSetup {
    type Target = ToolClient;
    fn deref(&self) -> &ToolClient {
        &self.tools
    }
}

/// Serve `router` on a free loopback port (a backend that fails on purpose); its base URL.
pub async fn stub_backend(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

/// The test client's handler: by default it declares no capabilities (a host that cannot
/// ask its user); [`Approver::answering`] declares elicitation and answers every approval
/// question the same way, keeping the questions.
#[derive(Clone, Default)]
pub struct Approver {
    answer: Option<bool>,
    asked: Arc<Mutex<Vec<String>>>,
}

impl Approver {
    /// A user who answers every question with `approve`.
    pub fn answering(approve: bool) -> Self {
        Self {
            answer: Some(approve),
            ..Self::default()
        }
    }

    /// The questions asked so far.
    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

impl ClientHandler for Approver {
    fn get_info(&self) -> ClientConfig {
        let mut info = ClientConfig::default();
        if self.answer.is_some() {
            info.capabilities = serde_json::from_value(json!({ "elicitation": {} })).unwrap();
        }
        info
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        if let ElicitRequestParams::FormElicitationParams { message, .. } = &request {
            self.asked.lock().unwrap().push(message.clone());
        }
        let approve = self.answer.unwrap_or(false);
        Ok(
            ElicitResult::new(ElicitationAction::Accept)
                .with_content(json!({ "approve": approve })),
        )
    }
}

pub struct ToolClient {
    pub client: RunningService<RoleClient, Approver>,
    /// What the client's user was asked and answered.
    pub approver: Approver,
    /// How long [`ToolClient::eventually`] keeps trying.
    patience: Duration,
}

impl ToolClient {
    /// Serve `server` in this process and connect to it.
    pub async fn in_process<S: ServerHandler>(server: S, patience: Duration) -> Self {
        Self::in_process_with(server, patience, Approver::default()).await
    }

    /// [`ToolClient::in_process`] with a client that answers approval questions.
    pub async fn in_process_with<S: ServerHandler>(
        server: S,
        patience: Duration,
        approver: Approver,
    ) -> Self {
        let (a, b) = tokio::io::duplex(1 << 20);
        tokio::spawn(async move {
            let running = server.serve(a).await.unwrap();
            let _ = running.waiting().await;
        });
        Self {
            client: approver.clone().serve(b).await.unwrap(),
            approver,
            patience,
        }
    }

    /// Call a tool; returns (is_error, text).
    pub async fn call(&self, tool: &str, arguments: Value) -> (bool, String) {
        let Value::Object(arguments) = arguments else {
            panic!("arguments are an object")
        };
        let result = self
            .client
            .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments))
            .await
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        let value = serde_json::to_value(&result).unwrap();
        let text = value["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        (value["isError"] == json!(true), text)
    }

    /// Call a tool that must succeed; its text.
    pub async fn ok(&self, tool: &str, arguments: Value) -> String {
        let (is_error, text) = self.call(tool, arguments).await;
        assert!(!is_error, "{tool} failed: {text}");
        text
    }

    /// Call until `check` holds (backends and controllers take a moment to act).
    pub async fn eventually(
        &self,
        tool: &str,
        arguments: Value,
        check: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + self.patience;
        loop {
            let text = self.ok(tool, arguments.clone()).await;
            if check(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "{tool} never satisfied the check; last answer:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}

/// A client that records the progress notifications it receives.
#[derive(Clone, Default)]
pub struct ProgressLog(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl ProgressLog {
    /// The messages received so far.
    pub fn messages(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

impl rmcp::ClientHandler for ProgressLog {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _cx: NotificationContext<RoleClient>,
    ) {
        self.0
            .lock()
            .unwrap()
            .push(params.message.unwrap_or_default());
    }
}

/// Call a tool with a progress token; the result as JSON.
pub async fn call_with_progress<C: rmcp::service::Service<RoleClient>>(
    client: &RunningService<RoleClient, C>,
    mut params: CallToolRequestParams,
) -> Value {
    params.meta = Some(rmcp::model::RequestMetaObject::with_progress_token(
        rmcp::model::ProgressToken(rmcp::model::NumberOrString::Number(7)),
    ));
    serde_json::to_value(client.call_tool(params).await.unwrap()).unwrap()
}
