//! One upstream server: connected on first use, its tools listed once per connection, calls
//! forwarded to it. A connection that dies (the process exited, the transport closed) is
//! dropped and made again on a later call after a back-off — one second, doubling to thirty —
//! so a failing upstream answers at once with the reason instead of stalling every call, and
//! never blocks the others.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use rmcp::{
    RoleClient, ServiceExt,
    model::{CallToolRequestParams, CallToolResult, Tool},
    service::{RunningService, ServiceError},
    transport::{
        ConfigureCommandExt, StreamableHttpClientTransport, TokioChildProcess,
        streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use tokio::sync::Mutex;

use crate::config::UpstreamSpec;

const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

type Client = Arc<RunningService<RoleClient, ()>>;

pub struct Upstream {
    pub spec: UpstreamSpec,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    client: Option<Client>,
    tools: Vec<Tool>,
    pid: Option<u32>,
    /// Failures in a row, and when the next connection may be tried.
    failures: u32,
    retry_at: Option<Instant>,
    last_error: Option<String>,
    connections: u32,
    latency: Option<Duration>,
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
    pub fn new(spec: UpstreamSpec) -> Self {
        Self {
            spec,
            state: Mutex::default(),
        }
    }

    /// The live connection, made (and its tools listed) if there is none and the back-off
    /// allows; otherwise why not.
    async fn client(&self) -> Result<Client, String> {
        let mut state = self.state.lock().await;
        if let Some(client) = &state.client {
            if !client.is_transport_closed() {
                return Ok(client.clone());
            }
            state.client = None;
        }
        if let Some(at) = state.retry_at
            && Instant::now() < at
        {
            return Err(format!(
                "upstream {} is down ({}); next attempt in {:.0} s",
                self.spec.name,
                state.last_error.as_deref().unwrap_or("unknown"),
                (at - Instant::now()).as_secs_f64().ceil()
            ));
        }
        let started = Instant::now();
        match self.connect().await {
            Ok((client, pid)) => match client.list_all_tools().await {
                Ok(tools) => {
                    let client = Arc::new(client);
                    *state = State {
                        client: Some(client.clone()),
                        tools,
                        pid,
                        connections: state.connections + 1,
                        latency: Some(started.elapsed()),
                        // Kept for `health`: why it was down before.
                        last_error: state.last_error.take(),
                        ..State::default()
                    };
                    Ok(client)
                }
                Err(e) => Err(self.failed(&mut state, format!("listing its tools: {e}"))),
            },
            Err(e) => Err(self.failed(&mut state, e)),
        }
    }

    /// Record a failure and schedule the next attempt.
    fn failed(&self, state: &mut State, error: String) -> String {
        state.client = None;
        state.pid = None;
        state.failures += 1;
        // The tools it listed stay in the catalog: calls to them say it is down.
        let backoff = FIRST_BACKOFF
            .saturating_mul(1 << (state.failures - 1).min(5))
            .min(MAX_BACKOFF);
        state.retry_at = Some(Instant::now() + backoff);
        let message = format!("upstream {} failed: {error}", self.spec.name);
        tracing::warn!(upstream = %self.spec.name, %error, "upstream failed");
        state.last_error = Some(error);
        message
    }

    async fn connect(&self) -> Result<(RunningService<RoleClient, ()>, Option<u32>), String> {
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
            let client = ().serve(transport).await.map_err(|e| e.to_string())?;
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
            let transport = StreamableHttpClientTransport::from_config(config);
            let client = ().serve(transport).await.map_err(|e| format!("cannot reach {url}: {e}"))?;
            Ok((client, None))
        }
    }

    /// Its tools (connecting if needed); when it is down, the tools it listed last.
    pub async fn tools(&self) -> Vec<Tool> {
        let _ = self.client().await;
        self.state.lock().await.tools.clone()
    }

    /// Forward a call. A JSON-RPC error from the upstream comes back as it is; a dead
    /// connection is dropped and reported.
    pub async fn call(&self, params: CallToolRequestParams) -> Result<CallToolResult, String> {
        let client = self.client().await?;
        let started = Instant::now();
        let result = client.call_tool(params).await;
        let mut state = self.state.lock().await;
        match result {
            Ok(result) => {
                state.latency = Some(started.elapsed());
                Ok(result)
            }
            Err(ServiceError::McpError(e)) => Err(format!(
                "upstream {} refused the call: {}",
                self.spec.name, e.message
            )),
            Err(e) => {
                // Only the connection this call used is dropped (another call may have made a
                // new one meanwhile).
                if state
                    .client
                    .as_ref()
                    .is_some_and(|c| Arc::ptr_eq(c, &client))
                {
                    Err(self.failed(&mut state, e.to_string()))
                } else {
                    Err(format!("upstream {} failed: {e}", self.spec.name))
                }
            }
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
            tools: state.tools.len(),
            connections: state.connections,
            pid: state.pid,
            latency: state.latency,
            last_error: state.last_error.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_upstream_that_cannot_start_is_reported_and_retried_after_a_back_off() {
        let spec: UpstreamSpec =
            toml::from_str("name = \"broken\"\ncommand = \"/nonexistent/opsmcp-broken\"\n")
                .unwrap();
        let upstream = Upstream::new(spec);
        let call = || upstream.call(CallToolRequestParams::new("anything"));
        let first = call().await.unwrap_err();
        assert!(
            first.starts_with("upstream broken failed: cannot start `/nonexistent/opsmcp-broken`"),
            "{first}"
        );
        // Within the back-off it answers at once with the reason, without trying again.
        let second = call().await.unwrap_err();
        assert!(
            second.contains("upstream broken is down (cannot start")
                && second.contains("next attempt in 1 s"),
            "{second}"
        );
        let status = upstream.status().await;
        assert!(!status.connected && status.connections == 0 && status.last_error.is_some());
        assert!(upstream.tools().await.is_empty());
    }
}
