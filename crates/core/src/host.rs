//! What every server does with its tools and resources, once: [`ToolHost`] declares the tools'
//! effects, compacts their schemas and lists them once; it runs calls with metrics and serves
//! the safety engine's resources and any the server adds ([`ResourceSource`], with
//! subscriptions). [`tool_server!`](crate::tool_server) writes a server's `ServerHandler` on top
//! of it, so a server states only its name, its host and its instructions.

use std::sync::Arc;

use rmcp::{
    ErrorData, Peer, RoleServer,
    handler::server::{router::tool::ToolRouter, tool::ToolCallContext},
    model::{
        CacheScope, CallToolRequestParams, CallToolResponse, JsonObject, ListResourcesResult,
        ListToolsResult, ReadResourceResponse, ReadResourceResult, RequestMetaObject, Resource,
        SubscriptionFilter, Tool,
    },
    service::{RequestContext, SubscriptionContext},
};

use crate::{
    approval::Safety,
    metrics::Metrics,
    structured,
    tools::{CachingHints, Effect, call_instrumented, compact_schemas, declare_effects},
};

/// Resources a server serves beside the safety engine's, which clients may subscribe to: with
/// `resources/subscribe` (protocols up to 2025-11-25) or in a `subscriptions/listen` stream
/// (2026-07-28).
pub trait ResourceSource: Send + Sync + 'static {
    fn list(&self) -> Vec<Resource>;
    /// The resource at `uri`, or `None` if it is not one of these.
    fn read(&self, uri: &str) -> Option<ReadResourceResult>;
    /// Send `notifications/resources/updated` for `uri` to `peer` from now on; `false` if
    /// `uri` is not one of these.
    fn subscribe(&self, uri: &str, peer: Peer<RoleServer>) -> bool;
    fn unsubscribe(&self, uri: &str, peer: &Peer<RoleServer>);
    /// The URIs of these resources as they change, for listening streams.
    fn updates(&self) -> tokio::sync::broadcast::Receiver<String>;
}

/// A server's tool router with its listing, metrics and safety engine.
pub struct ToolHost<S> {
    router: ToolRouter<S>,
    tools: Vec<Tool>,
    /// The listing with output schemas, for callers that ask ([`crate::structured`]).
    structured_tools: Vec<Tool>,
    metrics: Metrics,
    safety: Safety,
    resources: Option<Arc<dyn ResourceSource>>,
}

impl<S> std::fmt::Debug for ToolHost<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolHost")
            .field("tools", &self.tools.len())
            .finish_non_exhaustive()
    }
}

impl<S: Send + Sync + 'static> ToolHost<S> {
    /// Annotate every routed tool from `effects` (entries for tools the server left out, such
    /// as writes of a read-only server, are skipped; a routed tool without an effect is a bug
    /// and panics), compact the schemas and compute the listing.
    pub fn new(
        mut router: ToolRouter<S>,
        effects: &[(&str, Effect)],
        metrics: Metrics,
        safety: Safety,
    ) -> Self {
        let routed: Vec<(&str, Effect)> = effects
            .iter()
            .copied()
            .filter(|(name, _)| router.has_route(name))
            .collect();
        declare_effects(&mut router, &routed, true).expect("the effects table lists every tool");
        compact_schemas(&mut router);
        let tools = router.list_all();
        Self {
            router,
            structured_tools: tools.clone(),
            tools,
            metrics,
            safety,
            resources: None,
        }
    }

    /// Declare the output schemas of the tools that put their answer in structured content
    /// too ([`crate::structured`]); listed only to callers that ask for them. Panics on a name
    /// that is not a tool (a bug).
    pub fn with_output_schemas(mut self, schemas: &[(&str, Arc<JsonObject>)]) -> Self {
        for (name, schema) in schemas {
            let tool = self
                .structured_tools
                .iter_mut()
                .find(|t| t.name == *name)
                .unwrap_or_else(|| panic!("no tool {name} for an output schema"));
            tool.output_schema = Some(schema.clone());
        }
        self
    }

    /// Also serve `source`'s resources, with subscriptions.
    pub fn with_resources(mut self, source: Arc<dyn ResourceSource>) -> Self {
        self.resources = Some(source);
        self
    }

    /// Whether clients can subscribe to resources.
    pub fn subscribable(&self) -> bool {
        self.resources.is_some()
    }

    pub fn safety(&self) -> &Safety {
        &self.safety
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn tools(&self) -> &[Tool] {
        &self.tools
    }

    /// The listing, cacheable by hosts for five minutes; with output schemas if `meta` asks.
    pub fn list_tools(&self, meta: &RequestMetaObject) -> ListToolsResult {
        let tools = if structured::requested(meta) {
            &self.structured_tools
        } else {
            &self.tools
        };
        ListToolsResult::with_all_items(tools.clone()).cache(300_000, CacheScope::Public)
    }

    pub fn get_tool(&self, name: &str) -> Option<Tool> {
        self.router.get(name).cloned()
    }

    /// Run a call on `server` with metrics; structured content only if the caller asked.
    pub async fn call_tool(
        &self,
        server: &S,
        request: CallToolRequestParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let structured = structured::requested(&cx.meta);
        let mut request = request;
        if let (Some(tool), Some(arguments)) =
            (self.router.get(&request.name), request.arguments.as_mut())
        {
            crate::tools::drop_not_given(&tool.input_schema, arguments);
        }
        let mut response = call_instrumented(
            &self.router,
            &self.metrics,
            ToolCallContext::new(server, request, cx),
        )
        .await;
        if !structured && let Ok(CallToolResponse::Complete(result)) = &mut response {
            result.structured_content = None;
        }
        response
    }

    /// The resources every server serves (metrics, the audit log) and the server's own.
    pub fn list_resources(&self) -> ListResourcesResult {
        let mut listed = Safety::server_resources();
        if let Some(source) = &self.resources {
            listed.resources.extend(source.list());
        }
        listed
    }

    pub async fn read_resource(&self, uri: &str) -> Result<ReadResourceResponse, ErrorData> {
        if let Some(read) = self.resources.as_ref().and_then(|s| s.read(uri)) {
            return Ok(read.into());
        }
        self.safety.read_server_resource(uri, &self.metrics).await
    }

    /// The contents of [`crate::tools::HEALTH_RESOURCE_URI`], given the server's readiness probe's answer.
    pub fn health(&self, ready: Result<(), String>) -> ReadResourceResult {
        let breaker = self.safety.breaker_state();
        let body = serde_json::json!({
            "ready": ready.is_ok(),
            "reason": ready.err(),
            "breaker": {
                "open": breaker.open,
                "consecutive_failures": breaker.consecutive_failures,
                "closes_in_secs": breaker.closes_in_secs,
            },
            "tools": self.tools.len(),
        });
        let mut result = ReadResourceResult::new(vec![
            rmcp::model::ResourceContents::text(
                body.to_string(),
                crate::tools::HEALTH_RESOURCE_URI,
            )
            .with_mime_type("application/json"),
        ]);
        result.ttl_ms = Some(0);
        result
    }

    /// `resources/subscribe`: only the server's own resources change.
    pub fn subscribe(&self, uri: &str, peer: Peer<RoleServer>) -> Result<(), ErrorData> {
        match &self.resources {
            Some(source) if source.subscribe(uri, peer) => Ok(()),
            _ => Err(ErrorData::invalid_params(
                format!("{uri} cannot be subscribed to: it is not a resource that changes"),
                None,
            )),
        }
    }

    pub fn unsubscribe(&self, uri: &str, peer: &Peer<RoleServer>) {
        if let Some(source) = &self.resources {
            source.unsubscribe(uri, peer);
        }
    }

    /// What a `subscriptions/listen` stream may hear: updates of the server's own resources
    /// that were asked for (`None`, so no listening, without such resources).
    pub fn accepted_filter(&self, requested: &SubscriptionFilter) -> Option<SubscriptionFilter> {
        let source = self.resources.as_ref()?;
        let ours: Vec<String> = source.list().into_iter().map(|r| r.uri).collect();
        let uris: Vec<String> = requested
            .resource_subscriptions
            .iter()
            .flatten()
            .filter(|u| ours.contains(u))
            .cloned()
            .collect();
        Some(
            SubscriptionFilter::builder()
                .resource_subscriptions(uris)
                .build(),
        )
    }

    /// Run a listening stream: forward updates of the accepted resources until it ends.
    pub async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let Some(source) = &self.resources else {
            context.cancelled().await;
            return Ok(());
        };
        let mut updates = source.updates();
        let wanted = context
            .accepted()
            .resource_subscriptions
            .clone()
            .unwrap_or_default();
        loop {
            tokio::select! {
                () = context.cancelled() => return Ok(()),
                update = updates.recv() => match update {
                    Ok(uri) if wanted.contains(&uri) => {
                        if context.sink().notify_resource_updated(uri).await.is_err() {
                            return Ok(());
                        }
                    }
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return Ok(()),
                },
            }
        }
    }
}

/// `impl ServerHandler for $server` over the [`ToolHost`] that `$server::host(&self)` returns:
/// tools and resources enabled (with [`crate::tools::HEALTH_RESOURCE_URI`] from the server's
/// [`Ready`](crate::serve::Ready) probe), the calling crate's name and version, `$instructions`.
#[macro_export]
macro_rules! tool_server {
    ($server:ty, $instructions:expr $(,)?) => {
        impl ::rmcp::ServerHandler for $server {
            fn get_info(&self) -> ::rmcp::model::InitializeResult {
                let mut capabilities = ::rmcp::model::ServerCapabilities::builder()
                    .enable_tools()
                    .enable_resources()
                    .build();
                if self.host().subscribable()
                    && let Some(resources) = capabilities.resources.as_mut()
                {
                    resources.subscribe = Some(true);
                }
                ::rmcp::model::InitializeResult::new(capabilities)
                    .with_server_info(::rmcp::model::Implementation::new(
                        env!("CARGO_PKG_NAME"),
                        env!("CARGO_PKG_VERSION"),
                    ))
                    .with_instructions($instructions)
            }

            async fn list_tools(
                &self,
                _request: Option<::rmcp::model::PaginatedRequestParams>,
                cx: ::rmcp::service::RequestContext<::rmcp::RoleServer>,
            ) -> Result<::rmcp::model::ListToolsResult, ::rmcp::ErrorData> {
                Ok(self.host().list_tools(&cx.meta))
            }

            fn get_tool(&self, name: &str) -> Option<::rmcp::model::Tool> {
                self.host().get_tool(name)
            }

            async fn call_tool(
                &self,
                request: ::rmcp::model::CallToolRequestParams,
                cx: ::rmcp::service::RequestContext<::rmcp::RoleServer>,
            ) -> Result<::rmcp::model::CallToolResponse, ::rmcp::ErrorData> {
                self.host().call_tool(self, request, cx).await
            }

            async fn list_resources(
                &self,
                _request: Option<::rmcp::model::PaginatedRequestParams>,
                _cx: ::rmcp::service::RequestContext<::rmcp::RoleServer>,
            ) -> Result<::rmcp::model::ListResourcesResult, ::rmcp::ErrorData> {
                Ok(self.host().list_resources())
            }

            async fn read_resource(
                &self,
                request: ::rmcp::model::ReadResourceRequestParams,
                _cx: ::rmcp::service::RequestContext<::rmcp::RoleServer>,
            ) -> Result<::rmcp::model::ReadResourceResponse, ::rmcp::ErrorData> {
                if request.uri == $crate::tools::HEALTH_RESOURCE_URI {
                    let ready = $crate::serve::Ready::ready(self).await;
                    return Ok(self.host().health(ready).into());
                }
                self.host().read_resource(&request.uri).await
            }

            async fn subscribe(
                &self,
                request: ::rmcp::model::SubscribeRequestParams,
                cx: ::rmcp::service::RequestContext<::rmcp::RoleServer>,
            ) -> Result<(), ::rmcp::ErrorData> {
                self.host().subscribe(&request.uri, cx.peer)
            }

            async fn unsubscribe(
                &self,
                request: ::rmcp::model::UnsubscribeRequestParams,
                cx: ::rmcp::service::RequestContext<::rmcp::RoleServer>,
            ) -> Result<(), ::rmcp::ErrorData> {
                self.host().unsubscribe(&request.uri, &cx.peer);
                Ok(())
            }

            fn accepted_subscription_filter(
                &self,
                requested: &::rmcp::model::SubscriptionFilter,
            ) -> Option<::rmcp::model::SubscriptionFilter> {
                self.host().accepted_filter(requested)
            }

            async fn listen(
                &self,
                context: ::rmcp::service::SubscriptionContext,
            ) -> Result<(), ::rmcp::ErrorData> {
                self.host().listen(context).await
            }
        }
    };
}
