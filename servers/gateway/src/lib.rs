//! opsmcp-gateway: an optional MCP server in front of the opsmcp servers (or any MCP server),
//! serving their tools as one catalog.
//!
//! [`config`] reads the upstreams file; [`upstream`] keeps one connection per upstream (stdio
//! child or streamable HTTP), made on first use and remade after a back-off when it dies;
//! [`catalog`] merges their tools; [`health`] is the gateway's own tool. Hosts usually compose
//! the servers themselves; the gateway is for one endpoint in front of all of them.

pub mod catalog;
pub mod config;
pub mod health;
pub mod upstream;

use std::sync::Arc;

use opsmcp_core::tools::failure;
use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, InitializeResult,
        ListToolsResult, PaginatedRequestParams, ServerCapabilities, Tool,
    },
    service::RequestContext,
};

use crate::{catalog::Catalog, config::UpstreamSpec, upstream::Upstream};

struct Inner {
    upstreams: Vec<Upstream>,
}

/// The gateway; cheap to clone (one clone per MCP session).
#[derive(Clone)]
pub struct GatewayServer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for GatewayServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayServer")
            .field("upstreams", &self.inner.upstreams.len())
            .finish()
    }
}

impl GatewayServer {
    /// The gateway over `upstreams`; each is connected on first use. Inside a runtime, they
    /// are connected now in the background and name collisions are logged.
    pub fn start(upstreams: Vec<UpstreamSpec>) -> Self {
        let server = Self {
            inner: Arc::new(Inner {
                upstreams: upstreams.into_iter().map(Upstream::new).collect(),
            }),
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            let warm = server.clone();
            tokio::spawn(async move {
                for collision in warm.catalog().await.collisions {
                    tracing::warn!(%collision, "tool name collision");
                }
            });
        }
        server
    }

    pub fn upstreams(&self) -> &[Upstream] {
        &self.inner.upstreams
    }

    /// The merged catalog of what every upstream lists now (an upstream that is down keeps
    /// the tools it listed last).
    pub async fn catalog(&self) -> Catalog {
        let lists = futures::future::join_all(self.upstreams().iter().map(|u| u.tools())).await;
        Catalog::merge(
            self.upstreams()
                .iter()
                .zip(lists)
                .map(|(u, tools)| (u.spec.name.as_str(), u.spec.prefix.as_str(), tools)),
        )
    }

    async fn forward(&self, request: CallToolRequestParams) -> CallToolResult {
        let catalog = self.catalog().await;
        let Some(route) = catalog.routes.get(request.name.as_ref()) else {
            return failure(format!(
                "no tool {} in the gateway's catalog (tools/list names them)",
                request.name
            ));
        };
        let upstream = &self.upstreams()[route.upstream];
        let mut forwarded = request.clone();
        forwarded.name = route.name.clone().into();
        match upstream.call(forwarded).await {
            Ok(result) => result,
            Err(message) => failure(message),
        }
    }
}

impl opsmcp_core::serve::Ready for GatewayServer {
    /// Ready when every upstream is connected.
    async fn ready(&self) -> Result<(), String> {
        self.catalog().await;
        let mut down = Vec::new();
        for u in self.upstreams() {
            let status = u.status().await;
            if !status.connected {
                down.push(format!(
                    "{}: {}",
                    status.name,
                    status.last_error.unwrap_or_else(|| "not connected".into())
                ));
            }
        }
        if down.is_empty() {
            Ok(())
        } else {
            Err(down.join("; "))
        }
    }
}

impl ServerHandler for GatewayServer {
    fn get_info(&self) -> InitializeResult {
        InitializeResult::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                env!("CARGO_PKG_NAME"),
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(
                "The opsmcp servers behind one endpoint: every upstream's tools, under the names \
                 its server gives them. `health` shows each upstream's state.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let mut tools: Vec<Tool> = self.catalog().await.tools;
        tools.push(health::tool());
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _cx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let result = if request.name == health::NAME {
            health::run(self).await
        } else {
            self.forward(request).await
        };
        Ok(result.into())
    }
}
