//! One upstream server: connected on first use, its tools and resources listed once per
//! connection (and again when it says they changed), calls forwarded to it. A connection that
//! dies (the process exited, the transport closed) is dropped; the next call connects again at
//! once, and if that fails too the upstream waits out a back-off — one second, doubling to
//! thirty — during which it answers at once with the reason instead of stalling every call. It
//! never blocks the others.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use rmcp::{
    Peer, RoleClient, RoleServer,
    model::{
        CallToolRequestParams, CallToolResponse, CancelledNotification, CancelledNotificationParam,
        ClientRequest, ErrorData, GetPromptRequestParams, GetPromptResponse,
        PaginatedRequestParams, ProgressToken, Prompt, ProtocolVersion, ReadResourceRequestParams,
        ReadResourceResponse, Request, RequestId, RequestMetaObject, Resource, ResourceTemplate,
        ServerNotification, ServerResult, SubscribeRequestParams, SubscriptionFilter, Tool,
    },
    service::{
        ClientLifecycleMode, ClientServiceExt, PeerRequestOptions, RunningService, ServiceError,
    },
    transport::{
        ConfigureCommandExt, StreamableHttpClientTransport, TokioChildProcess,
        streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use tokio::sync::Mutex;

use crate::{
    config::UpstreamSpec,
    relay::{Relay, UpstreamClient},
};

const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// How long a call's progress is still relayed after its answer.
const PROGRESS_GRACE: Duration = Duration::from_secs(2);

/// Why an upstream did not answer.
#[derive(Debug, Clone, PartialEq)]
pub struct CallError {
    pub kind: ErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ErrorKind {
    /// Known to be down: waiting out its back-off.
    Down,
    /// The connection failed or could not be made (worth another try).
    Failed,
    /// It answered with this JSON-RPC error (passed on to the host as it is: its code
    /// means something, e.g. a tampered request state is invalid params).
    Refused(ErrorData),
}

impl CallError {
    fn new(kind: ErrorKind, message: String) -> Self {
        Self { kind, message }
    }
}

/// What the host is answered: an upstream's refusal with its own code and data, any other
/// failure as an internal error naming the upstream.
impl From<CallError> for ErrorData {
    fn from(e: CallError) -> Self {
        match e.kind {
            ErrorKind::Refused(refusal) => ErrorData::new(refusal.code, e.message, refusal.data),
            ErrorKind::Down | ErrorKind::Failed => ErrorData::internal_error(e.message, None),
        }
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}
const MAX_BACKOFF: Duration = Duration::from_secs(30);

type Client = Arc<RunningService<RoleClient, UpstreamClient>>;

pub struct Upstream {
    pub spec: UpstreamSpec,
    handler: UpstreamClient,
    /// Set by the client handler when the upstream says its tools or resources changed.
    stale: Arc<AtomicBool>,
    /// The live connection and whether it speaks 2026-07-28, for calls to take without waiting
    /// on `state` (which connecting holds).
    live: std::sync::Mutex<Option<(Client, bool)>>,
    /// Microseconds of the last exchange (`u64::MAX`: none yet).
    latency_micros: AtomicU64,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    client: Option<Client>,
    /// The connection speaks 2026-07-28 (`server/discover`), not the `initialize` handshake.
    modern: bool,
    /// The task following its `subscriptions/listen` stream (modern connections).
    listener: Option<tokio::task::AbortHandle>,
    listed: Listed,
    pid: Option<u32>,
    /// Failures in a row, and when the next connection may be tried.
    failures: u32,
    retry_at: Option<Instant>,
    last_error: Option<String>,
    connections: u32,
}

/// What `health` shows of an upstream.
#[derive(Debug, Clone)]
pub struct Status {
    pub name: String,
    pub connected: bool,
    pub tools: usize,
    pub connections: u32,
    pub pid: Option<u32>,
    pub latency: Option<Duration>,
    pub last_error: Option<String>,
}

impl Upstream {
    /// The upstream at position `index` of the file, relaying through `relay`.
    pub fn new(spec: UpstreamSpec, index: usize, relay: Arc<Relay>) -> Self {
        let stale = Arc::new(AtomicBool::new(false));
        Self {
            spec,
            handler: UpstreamClient {
                index,
                relay,
                stale: stale.clone(),
            },
            stale,
            live: std::sync::Mutex::default(),
            latency_micros: AtomicU64::new(u64::MAX),
            state: Mutex::default(),
        }
    }

    /// The live connection, made (and its tools listed) if there is none and the back-off
    /// allows; otherwise why not.
    async fn client(&self) -> Result<Client, CallError> {
        Ok(self.live().await?.0)
    }

    /// [`Self::client`] and whether it speaks 2026-07-28.
    async fn live(&self) -> Result<(Client, bool), CallError> {
        if let Some(live) = self.live.lock().unwrap().as_ref()
            && !live.0.is_transport_closed()
        {
            return Ok(live.clone());
        }
        let mut state = self.state.lock().await;
        if let Some(client) = &state.client {
            if !client.is_transport_closed() {
                return Ok((client.clone(), state.modern));
            }
            state.client = None;
        }
        if let Some(at) = state.retry_at
            && Instant::now() < at
        {
            return Err(CallError::new(
                ErrorKind::Down,
                format!(
                    "upstream {} is down ({}); next attempt in {:.0} s",
                    self.spec.name,
                    state.last_error.as_deref().unwrap_or("unknown"),
                    (at - Instant::now()).as_secs_f64().ceil()
                ),
            ));
        }
        let started = Instant::now();
        let connected = match self.connect().await {
            Ok(connected) => connected,
            Err(e) => return Err(self.failed(&mut state, e)),
        };
        let (client, pid) = connected;
        self.stale.store(false, Ordering::Release);
        let listed = match listings(&client).await {
            Ok(listed) => listed,
            Err(e) => return Err(self.failed(&mut state, e)),
        };
        let modern = client
            .peer_info()
            .is_some_and(|info| !info.protocol_version.has_initialize());
        if let Some(listener) = state.listener.take() {
            listener.abort();
        }
        // Subscriptions hosts hold survive a restart. A listening stream is opened only when
        // something is to be heard: a stream left open delays the upstream's exit when the
        // gateway closes it (rmcp drains in-flight handlers for up to 5 s).
        let announces = client.peer_info().is_some_and(|info| {
            let c = &info.capabilities;
            c.tools.as_ref().and_then(|t| t.list_changed) == Some(true)
                || c.resources.as_ref().and_then(|r| r.list_changed) == Some(true)
        });
        let subscribed = !self.handler.relay.subscribed(self.handler.index).is_empty();
        let listener = if modern && (announces || subscribed) {
            match self.listen(client.peer().clone()).await {
                Ok(listener) => Some(listener),
                Err(e) => {
                    tracing::debug!(upstream = %self.spec.name, %e, "no listening stream");
                    None
                }
            }
        } else {
            for uri in self.handler.relay.subscribed(self.handler.index) {
                #[allow(deprecated)] // the session initialized: this is how it subscribes
                let subscribed = client.subscribe(SubscribeRequestParams::new(&uri)).await;
                if let Err(e) = subscribed {
                    tracing::warn!(upstream = %self.spec.name, %uri, %e, "resubscribing failed");
                }
            }
            None
        };
        let client = Arc::new(client);
        *state = State {
            client: Some(client.clone()),
            modern,
            listener,
            listed,
            pid,
            connections: state.connections + 1,
            // Kept for `health`: why it was down before.
            last_error: state.last_error.take(),
            ..State::default()
        };
        *self.live.lock().unwrap() = Some((client.clone(), modern));
        self.latency_micros
            .store(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        self.handler.relay.changed();
        Ok((client, modern))
    }

    /// Record a failure and schedule the next attempt: at once after the first, then after a
    /// back-off.
    fn failed(&self, state: &mut State, error: String) -> CallError {
        state.client = None;
        *self.live.lock().unwrap() = None;
        state.pid = None;
        state.failures += 1;
        // The tools it listed stay in the catalog: calls to them say it is down.
        let backoff = match state.failures {
            1 => Duration::ZERO,
            n => FIRST_BACKOFF
                .saturating_mul(1 << (n - 2).min(5))
                .min(MAX_BACKOFF),
        };
        state.retry_at = Some(Instant::now() + backoff);
        let message = format!("upstream {} failed: {error}", self.spec.name);
        tracing::warn!(upstream = %self.spec.name, %error, "upstream failed");
        state.last_error = Some(error);
        CallError::new(ErrorKind::Failed, message)
    }

    async fn connect(
        &self,
    ) -> Result<(RunningService<RoleClient, UpstreamClient>, Option<u32>), String> {
        let spec = &self.spec;
        if let Some(command) = &spec.command {
            let transport =
                TokioChildProcess::new(tokio::process::Command::new(command).configure(|cmd| {
                    cmd.args(&spec.args)
                        .envs(&spec.env)
                        .stderr(std::process::Stdio::inherit());
                }))
                .map_err(|e| format!("cannot start `{command}`: {e}"))?;
            let pid = transport.id();
            let client = self
                .handler
                .clone()
                .serve_with_lifecycle(transport, lifecycle())
                .await
                .map_err(|e| e.to_string())?;
            Ok((client, pid))
        } else {
            let url = spec.url.as_deref().unwrap_or_default();
            let mut config = StreamableHttpClientTransportConfig::with_uri(url);
            for (name, value) in &spec.headers {
                let name = http::HeaderName::try_from(name.as_str())
                    .map_err(|e| format!("header {name}: {e}"))?;
                let value = http::HeaderValue::try_from(value.as_str())
                    .map_err(|_| format!("header {name}: not a valid value"))?;
                config.custom_headers.insert(name, value);
            }
            let transport = StreamableHttpClientTransport::with_client(http_client(), config);
            let client = self
                .handler
                .clone()
                .serve_with_lifecycle(transport, lifecycle())
                .await
                .map_err(|e| format!("cannot reach {url}: {e}"))?;
            Ok((client, None))
        }
    }

    /// What it lists (connecting if needed, listing again if it said its lists changed); when
    /// it is down, what it listed last.
    pub async fn listed(&self) -> Listed {
        if let Ok(client) = self.client().await
            && self.stale.swap(false, Ordering::AcqRel)
        {
            match listings(&client).await {
                Ok(listed) => self.state.lock().await.listed = listed,
                Err(e) => tracing::warn!(upstream = %self.spec.name, %e, "listing again failed"),
            }
        }
        self.state.lock().await.listed.clone()
    }

    pub async fn prompt(
        &self,
        params: GetPromptRequestParams,
    ) -> Result<GetPromptResponse, CallError> {
        let client = self.client().await?;
        let started = Instant::now();
        let result = client.get_prompt_once(params).await;
        self.settle(&client, started, result).await
    }

    /// Forward a call; it may end in an input-required result. Its progress goes to `progress`
    /// (a host and its token); dropping the future cancels the call upstream. A JSON-RPC error
    /// from the upstream comes back as it is; a dead connection is dropped and reported.
    pub async fn call(
        &self,
        params: CallToolRequestParams,
        host: RequestMetaObject,
        progress: Option<(Peer<RoleServer>, ProgressToken)>,
    ) -> Result<CallToolResponse, CallError> {
        let (client, modern) = self.live().await?;
        let started = Instant::now();
        let result = async {
            let mut options = PeerRequestOptions::no_options();
            options.meta = Some(for_session(host, modern));
            let handle = client
                .send_request_with_option(
                    ClientRequest::CallToolRequest(Request::new(params)),
                    options,
                )
                .await?;
            let route = progress.map(|(host, token)| {
                self.handler.relay.route_progress(
                    self.handler.index,
                    handle.progress_token.clone(),
                    host,
                    token,
                )
            });
            let mut cancel = CancelOnDrop(Some((handle.peer.clone(), handle.id.clone())));
            let response = handle.await_response().await;
            cancel.0 = None;
            // rmcp hands notifications to the client handler on tasks of their own, so the
            // last progress may be relayed after the answer arrives: the route outlives the
            // call briefly rather than drop it.
            if let Some(route) = route {
                tokio::spawn(async move {
                    tokio::time::sleep(PROGRESS_GRACE).await;
                    drop(route);
                });
            }
            match response? {
                ServerResult::CallToolResult(r) => Ok(CallToolResponse::Complete(r)),
                ServerResult::InputRequiredResult(r) => Ok(CallToolResponse::InputRequired(r)),
                ServerResult::CreateTaskResult(r) => Ok(CallToolResponse::Task(r)),
                _ => Err(ServiceError::UnexpectedResponse),
            }
        }
        .await;
        self.settle(&client, started, result).await
    }

    pub async fn read(&self, uri: &str) -> Result<ReadResourceResponse, CallError> {
        let client = self.client().await?;
        let started = Instant::now();
        let result = client
            .read_resource_once(ReadResourceRequestParams::new(uri))
            .await;
        self.settle(&client, started, result).await
    }

    /// Be told when `uri` changes (with the URIs subscribed before: the relay books them).
    pub async fn subscribe(&self, uri: &str) -> Result<(), CallError> {
        let (client, modern) = self.live().await?;
        let started = Instant::now();
        if !modern {
            #[allow(deprecated)] // the session initialized: this is how it subscribes
            let result = client.subscribe(SubscribeRequestParams::new(uri)).await;
            return self.settle(&client, started, result).await;
        }
        // A listening stream's filter is fixed: open one with every URI, then drop the old.
        let result = self.listen(client.peer().clone()).await;
        let listener = self.settle(&client, started, result).await?;
        if let Some(old) = self.state.lock().await.listener.replace(listener) {
            old.abort();
        }
        Ok(())
    }

    /// Open a listening stream for the resources booked for this upstream and its list
    /// changes, and follow it on a task of its own (which holds only the peer: the connection
    /// ends with its service).
    async fn listen(
        &self,
        peer: Peer<RoleClient>,
    ) -> Result<tokio::task::AbortHandle, ServiceError> {
        let filter = SubscriptionFilter::builder()
            .resource_subscriptions(self.handler.relay.subscribed(self.handler.index))
            .tools_list_changed()
            .resources_list_changed()
            .build();
        let mut subscription = peer.listen(filter).await?;
        let handler = self.handler.clone();
        let task = tokio::spawn(async move {
            while let Ok(Some(notification)) = subscription.next().await {
                match notification {
                    ServerNotification::ResourceUpdatedNotification(updated) => {
                        handler
                            .relay
                            .updated((handler.index, updated.params.uri))
                            .await;
                    }
                    ServerNotification::ToolListChangedNotification(_)
                    | ServerNotification::ResourceListChangedNotification(_) => {
                        handler.stale.store(true, Ordering::Release);
                        handler.relay.changed();
                    }
                    _ => {}
                }
            }
        });
        Ok(task.abort_handle())
    }

    /// Book an exchange's outcome: its latency, or the connection dropped if it died.
    async fn settle<T>(
        &self,
        client: &Client,
        started: Instant,
        result: Result<T, ServiceError>,
    ) -> Result<T, CallError> {
        let error = match result {
            Ok(result) => {
                self.latency_micros
                    .store(started.elapsed().as_micros() as u64, Ordering::Relaxed);
                return Ok(result);
            }
            Err(ServiceError::McpError(e)) => {
                let message = format!(
                    "upstream {} refused the request: {}",
                    self.spec.name, e.message
                );
                return Err(CallError::new(ErrorKind::Refused(e), message));
            }
            Err(e) => e,
        };
        // Only the connection this call used is dropped (another call may have made a new one
        // meanwhile).
        let mut state = self.state.lock().await;
        if state
            .client
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(c, client))
        {
            Err(self.failed(&mut state, error.to_string()))
        } else {
            Err(CallError::new(
                ErrorKind::Failed,
                format!("upstream {} failed: {error}", self.spec.name),
            ))
        }
    }

    pub async fn status(&self) -> Status {
        let state = self.state.lock().await;
        Status {
            name: self.spec.name.clone(),
            connected: state
                .client
                .as_ref()
                .is_some_and(|c| !c.is_transport_closed()),
            tools: state.listed.tools.len(),
            connections: state.connections,
            pid: state.pid,
            latency: match self.latency_micros.load(Ordering::Relaxed) {
                u64::MAX => None,
                micros => Some(Duration::from_micros(micros)),
            },
            last_error: state.last_error.clone(),
        }
    }
}

/// The HTTP client of streamable-HTTP upstreams: kept-alive connections without Nagle's delay
/// (rmcp's default client opens a connection per request, 2 ms of the gateway's overhead on
/// loopback), no redirects (an upstream URL is configured, not discovered).
fn http_client() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .tcp_nodelay(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("the TLS backend initializes")
        })
        .clone()
}

/// Connections start with `server/discover` and speak 2026-07-28 where the upstream does (every
/// opsmcp server), falling back to the `initialize` handshake.
fn lifecycle() -> ClientLifecycleMode {
    ClientLifecycleMode::Auto {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        legacy_version: None,
    }
}

/// The host's request `_meta` as this connection can carry it. A 2026-07-28 connection takes
/// it whole, so the upstream asks its questions as input-required results the gateway can tie
/// to the call. An initialized one keeps its own protocol version (HTTP carries it in a header
/// too) and is told the host cannot answer questions: an upstream asking over that session
/// would ask the gateway, which could not tell which host to ask — so it refuses, fail closed.
fn for_session(mut host: RequestMetaObject, modern: bool) -> RequestMetaObject {
    if !modern {
        host.remove("io.modelcontextprotocol/protocolVersion");
        if let Some(mut capabilities) = host.client_capabilities() {
            capabilities.elicitation = None;
            capabilities.sampling = None;
            host.set_client_capabilities(capabilities);
        }
    }
    host
}

/// Cancels a request upstream if the call is dropped before its answer (the host cancelled).
struct CancelOnDrop(Option<(Peer<RoleClient>, RequestId)>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some((peer, id)) = self.0.take() {
            let notification = CancelledNotification::new(CancelledNotificationParam::new(
                Some(id),
                Some("cancelled by the host".into()),
            ));
            tokio::spawn(async move {
                let _ = peer.send_notification(notification.into()).await;
            });
        }
    }
}

/// What an upstream lists.
#[derive(Debug, Clone, Default)]
pub struct Listed {
    pub tools: Vec<Tool>,
    pub resources: Vec<Resource>,
    pub templates: Vec<ResourceTemplate>,
    pub prompts: Vec<Prompt>,
}

/// What a fresh connection lists: its tools, and its resources, resource templates and prompts
/// if it serves them.
async fn listings(client: &RunningService<RoleClient, UpstreamClient>) -> Result<Listed, String> {
    // With output schemas, which workflows check their references against (servers that
    // do not know the `_meta` key list as usual).
    let mut meta = RequestMetaObject::new();
    meta.insert(opsmcp_core::structured::META_KEY.into(), true.into());
    let mut tools = Vec::new();
    let mut cursor = None;
    loop {
        let page = client
            .list_tools(Some({
                let mut params = PaginatedRequestParams::default().with_cursor(cursor);
                params.meta = Some(meta.clone());
                params
            }))
            .await
            .map_err(|e| format!("listing its tools: {e}"))?;
        tools.extend(page.tools);
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    let capabilities = client
        .peer_info()
        .map(|info| info.capabilities.clone())
        .unwrap_or_default();
    let mut listed = Listed {
        tools,
        ..Listed::default()
    };
    if capabilities.resources.is_some() {
        listed.resources = client
            .list_all_resources()
            .await
            .map_err(|e| format!("listing its resources: {e}"))?;
        // Templates are optional even for servers with resources.
        listed.templates = client
            .list_all_resource_templates()
            .await
            .unwrap_or_default();
    }
    if capabilities.prompts.is_some() {
        listed.prompts = client
            .list_all_prompts()
            .await
            .map_err(|e| format!("listing its prompts: {e}"))?;
    }
    Ok(listed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_upstream_that_cannot_start_is_reported_and_retried_after_a_back_off() {
        let spec: UpstreamSpec =
            toml::from_str("name = \"broken\"\ncommand = \"/nonexistent/opsmcp-broken\"\n")
                .unwrap();
        let upstream = Upstream::new(spec, 0, Arc::default());
        let call = || {
            upstream.call(
                CallToolRequestParams::new("anything"),
                RequestMetaObject::new(),
                None,
            )
        };
        // The first failure is tried again at once, the second waits out a back-off.
        for _ in 0..2 {
            let failed = call().await.unwrap_err();
            assert_eq!(failed.kind, ErrorKind::Failed);
            assert!(
                failed.message.starts_with(
                    "upstream broken failed: cannot start `/nonexistent/opsmcp-broken`"
                ),
                "{failed}"
            );
        }
        // Within the back-off it answers at once with the reason, without trying again.
        let down = call().await.unwrap_err();
        assert_eq!(down.kind, ErrorKind::Down);
        assert!(
            down.message
                .contains("upstream broken is down (cannot start")
                && down.message.contains("next attempt in 1 s"),
            "{down}"
        );
        let status = upstream.status().await;
        assert!(!status.connected && status.connections == 0 && status.last_error.is_some());
        assert!(upstream.listed().await.tools.is_empty());
    }
}
