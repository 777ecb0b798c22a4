//! An MCP client transport for the legacy HTTP+SSE endpoint of protocol 2024-11-05, which rmcp
//! no longer ships: `GET /sse` (with the bearer token) opens the stream, its `endpoint` event
//! says where to `POST` each client message, and `message` events carry the server's. This is
//! how VS Code and GitHub Copilot reach a server configured as `"type": "sse"`; the drill
//! reaches the team's shared opsmcp-pagerduty through nginx this way.

use std::{future::Future, io};

use anyhow::{Context, Result, bail};
use futures::{StreamExt, stream::BoxStream};
use rmcp::{
    RoleClient,
    model::{ClientJsonRpcMessage, ServerJsonRpcMessage},
    transport::Transport,
};
use sse_stream::{Sse, SseStream};

pub struct LegacySseClient {
    http: reqwest::Client,
    /// Where messages are posted (the `endpoint` event, resolved against the stream's URL).
    post_url: reqwest::Url,
    token: Option<String>,
    events: BoxStream<'static, Result<Sse, sse_stream::Error>>,
}

impl LegacySseClient {
    /// Open the stream at `url` (e.g. `https://mcp.example.com/sse`) and wait for its endpoint.
    pub async fn connect(url: &str, token: Option<&str>) -> Result<Self> {
        let http = reqwest::Client::new();
        let mut request = http.get(url).header("accept", "text/event-stream");
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.with_context(|| format!("GET {url}"))?;
        if !response.status().is_success() {
            bail!("GET {url}: {}", response.status());
        }
        let base = response.url().clone();
        let mut events = SseStream::from_bytes_stream(response.bytes_stream()).boxed();
        let endpoint = loop {
            match events.next().await {
                Some(Ok(event)) if event.event.as_deref() == Some("endpoint") => {
                    break event.data.unwrap_or_default();
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => bail!("GET {url}: {e}"),
                None => bail!("GET {url}: the stream ended before naming its endpoint"),
            }
        };
        Ok(Self {
            post_url: base
                .join(endpoint.trim())
                .with_context(|| format!("endpoint {endpoint:?}"))?,
            http,
            token: token.map(str::to_owned),
            events,
        })
    }
}

impl Transport<RoleClient> for LegacySseClient {
    type Error = io::Error;

    fn send(
        &mut self,
        item: ClientJsonRpcMessage,
    ) -> impl Future<Output = Result<(), io::Error>> + Send + 'static {
        let mut request = self.http.post(self.post_url.clone()).json(&item);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let url = self.post_url.clone();
        async move {
            let response = request.send().await.map_err(io::Error::other)?;
            if response.status().is_success() {
                Ok(())
            } else {
                Err(io::Error::other(format!(
                    "POST {url}: {}",
                    response.status()
                )))
            }
        }
    }

    async fn receive(&mut self) -> Option<ServerJsonRpcMessage> {
        loop {
            let event = self.events.next().await?.ok()?;
            // Keep-alive comments carry no data; an unnamed event is a message.
            if !matches!(event.event.as_deref(), None | Some("message")) {
                continue;
            }
            if let Some(message) = event.data.and_then(|d| serde_json::from_str(&d).ok()) {
                return Some(message);
            }
        }
    }

    fn close(&mut self) -> impl Future<Output = Result<(), io::Error>> + Send {
        // Dropping the stream closes the connection, which ends the server's session.
        self.events = futures::stream::empty().boxed();
        async { Ok(()) }
    }
}
