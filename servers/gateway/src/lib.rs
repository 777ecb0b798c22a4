//! opsmcp-gateway: an optional MCP server in front of the opsmcp servers (or any MCP server),
//! serving their tools and resources as one.
//!
//! [`config`] reads the configuration file; [`upstream`] keeps one connection per upstream
//! (stdio child or streamable HTTP), made on first use and remade after a back-off when it
//! dies; [`catalog`] merges what they list; [`pipeline`] runs a call — [`cache`], retries,
//! fallbacks, [`history`] and metrics, shared in [`calls`] — around [`forward`], which carries it upstream with its
//! questions, progress and cancellation; [`relay`] brings notifications back to the hosts;
//! [`template`] fills references in arguments, which [`workflow`]s use to chain calls;
//! [`builtin`] holds the incident tools over a service map; [`health`] and [`history`] are the
//! gateway's own tools; [`deferred`] lists tools as a session finds them. Hosts usually compose the servers themselves; the gateway is for one endpoint in
//! front of all of them.

pub mod builtin;
pub mod cache;
pub mod calls;
pub mod catalog;
pub mod config;
pub mod deferred;
pub mod forward;
pub mod health;
pub mod history;
pub mod pipeline;
pub mod relay;
pub mod template;
pub mod upstream;
pub mod workflow;

use std::{
    sync::{Arc, Mutex, RwLock, Weak},
    time::{Duration, Instant},
};

use opsmcp_core::{
    metrics::{METRICS_RESOURCE_URI, Metrics},
    tools::{failure, metrics_resource, read_metrics},
};
use rmcp::{
    ErrorData, Peer, RoleServer, ServerHandler,
    model::{
        CallToolRequestParams, CallToolResponse, GetPromptRequestParams, GetPromptResponse,
        Implementation, InitializeResult, ListPromptsResult, ListResourceTemplatesResult,
        ListResourcesResult, ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams,
        ReadResourceResponse, ReadResourceResult, Resource, ResourceContents, ResultType,
        ServerCapabilities, SubscribeRequestParams, SubscriptionFilter, Tool,
        UnsubscribeRequestParams,
    },
    service::{NotificationContext, RequestContext, SubscriptionContext},
};
use tokio::sync::broadcast;

use crate::{
    calls::Calls,
    catalog::{Catalog, CheckedWorkflow, Listing, Route},
    config::Config,
    relay::Relay,
    upstream::Upstream,
};

/// The gateway's own resources.
const BUILTIN_RESOURCES: &[&str] = &[METRICS_RESOURCE_URI, history::RESOURCE_URI];

/// How long a catalog missing a down upstream is served before the upstreams are asked again.
const INCOMPLETE_CATALOG_TTL: Duration = Duration::from_secs(1);

struct Inner {
    upstreams: Vec<Upstream>,
    relay: Arc<Relay>,
    calls: Calls,
    workflows: Vec<workflow::Workflow>,
    services: Vec<config::ServiceSpec>,
    /// The gateway's own tools (health, history, the incident tools, tools_search).
    builtin_tools: Vec<Tool>,
    deferred: bool,
    catalog: RwLock<Option<Cached>>,
    /// Hosts that initialized, told when the catalog changes.
    hosts: Mutex<Vec<Peer<RoleServer>>>,
    /// The catalog changed (for listening streams).
    catalog_changed: broadcast::Sender<()>,
}

struct Cached {
    epoch: u64,
    complete: bool,
    at: Instant,
    catalog: Arc<Catalog>,
}

/// The gateway; cheap to clone (one clone per MCP session: a clone starts with nothing found
/// by `tools_search`).
pub struct GatewayServer {
    inner: Arc<Inner>,
    found: deferred::Found,
}

impl Clone for GatewayServer {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            found: deferred::Found::default(),
        }
    }
}

impl std::fmt::Debug for GatewayServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayServer")
            .field("upstreams", &self.inner.upstreams.len())
            .finish()
    }
}

impl GatewayServer {
    /// The gateway `config` describes, recording into `metrics`; each upstream is connected on
    /// first use. Inside a runtime, they are connected now in the background, name collisions
    /// are logged, and hosts are told whenever the catalog changes.
    pub fn start(config: Config, metrics: Metrics) -> Self {
        let relay = Arc::new(Relay::default());
        let calls = Calls::new(&config, metrics);
        let workflows = config.workflows;
        let mut builtin_tools = vec![health::tool(), history::tool()];
        builtin_tools.extend(builtin::tools(&config.service));
        if config.deferred {
            builtin_tools.push(deferred::tool());
        }
        let server = Self {
            found: deferred::Found::default(),
            inner: Arc::new(Inner {
                upstreams: config
                    .upstream
                    .into_iter()
                    .enumerate()
                    .map(|(index, spec)| Upstream::new(spec, index, relay.clone()))
                    .collect(),
                relay,
                calls,
                workflows,
                services: config.service,
                builtin_tools,
                deferred: config.deferred,
                catalog: RwLock::default(),
                hosts: Mutex::default(),
                catalog_changed: broadcast::channel(16).0,
            }),
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            tokio::spawn(watch_catalog(Arc::downgrade(&server.inner)));
        }
        server
    }

    pub fn upstreams(&self) -> &[Upstream] {
        &self.inner.upstreams
    }

    /// The merged catalog, computed again when an upstream connects or says its listing
    /// changed (and, while one is down, at most every second).
    pub async fn catalog(&self) -> Arc<Catalog> {
        let epoch = self.inner.relay.epoch();
        if let Some(cached) = self.inner.catalog.read().unwrap().as_ref()
            && cached.epoch == epoch
            && (cached.complete || cached.at.elapsed() < INCOMPLETE_CATALOG_TTL)
        {
            return cached.catalog.clone();
        }
        let listings =
            futures::future::join_all(self.upstreams().iter().map(Upstream::listed)).await;
        let mut complete = true;
        for u in self.upstreams() {
            complete &= u.status().await.connected;
        }
        let mut builtin: Vec<&str> = self
            .inner
            .builtin_tools
            .iter()
            .map(|t| t.name.as_ref())
            .collect();
        builtin.extend(self.inner.workflows.iter().map(|w| w.name.as_str()));
        let mut catalog = Catalog::merge(
            &builtin,
            BUILTIN_RESOURCES,
            self.upstreams().iter().zip(listings).map(|(u, listed)| {
                let prefix = u.spec.prefix();
                Listing {
                    upstream: &u.spec.name,
                    opsmcp: u.spec.is_opsmcp(),
                    allow_collisions: u.spec.allow_collisions,
                    reserved: listed
                        .tools
                        .iter()
                        .map(|t| format!("{prefix}{}", t.name))
                        .collect(),
                    prefix,
                    tools: listed
                        .tools
                        .into_iter()
                        .filter(|t| u.spec.offers(t))
                        .collect(),
                    resources: listed.resources,
                    templates: listed.templates,
                    prompts: listed.prompts,
                }
            }),
        );
        self.check_workflows_on(&mut catalog);
        let catalog = Arc::new(catalog);
        *self.inner.catalog.write().unwrap() = Some(Cached {
            epoch,
            complete,
            at: Instant::now(),
            catalog: catalog.clone(),
        });
        catalog
    }

    /// Check every workflow against `catalog`'s tools; those that pass are served.
    fn check_workflows_on(&self, catalog: &mut Catalog) {
        let names: Vec<&str> = self
            .upstreams()
            .iter()
            .map(|u| u.spec.name.as_str())
            .collect();
        for (index, workflow) in self.inner.workflows.iter().enumerate() {
            match workflow.check(catalog, &names) {
                Ok(steps) => {
                    let tools: Vec<&Tool> = steps
                        .iter()
                        .filter_map(|s| catalog.tools.iter().find(|t| t.name == s.tool))
                        .collect();
                    let tool = workflow.tool(&tools);
                    catalog
                        .workflows
                        .push(CheckedWorkflow { index, tool, steps });
                }
                Err(problems) => catalog.workflow_problems.extend(problems),
            }
        }
    }

    /// Connect every upstream and check what they list: `Err` with each problem when a
    /// foreign tool takes an opsmcp tool's name unallowed, or when a workflow does not pass
    /// (with its line) while every upstream is up — the binary exits then. With an upstream
    /// down, the workflows that need it are served once it is up and they pass.
    pub async fn check_workflows(&self) -> Result<(), Vec<String>> {
        let catalog = self.catalog().await;
        if !catalog.conflicts.is_empty() {
            return Err(catalog.conflicts.clone());
        }
        let mut all_up = true;
        for u in self.upstreams() {
            all_up &= u.status().await.connected;
        }
        match (catalog.workflow_problems.is_empty(), all_up) {
            (true, _) => Ok(()),
            (false, true) => Err(catalog.workflow_problems.clone()),
            (false, false) => {
                for problem in &catalog.workflow_problems {
                    tracing::warn!(%problem, "workflow not served until its upstreams are up and it passes");
                }
                Ok(())
            }
        }
    }

    /// The catalog as last computed, without asking anyone (for synchronous callers).
    fn last_catalog(&self) -> Arc<Catalog> {
        self.inner
            .catalog
            .read()
            .unwrap()
            .as_ref()
            .map(|c| c.catalog.clone())
            .unwrap_or_default()
    }

    async fn resource_route(&self, uri: &str) -> Result<Route, ErrorData> {
        let catalog = self.catalog().await;
        catalog
            .resource_routes
            .get(uri)
            .cloned()
            .or_else(|| catalog.template_route(uri))
            .ok_or_else(|| {
                ErrorData::resource_not_found(
                    format!("no resource {uri} behind the gateway (resources/list names them)"),
                    None,
                )
            })
    }

    /// Subscribe upstream to a resource unless the gateway already is.
    async fn subscribe_upstream(&self, route: &Route) -> Result<(), ErrorData> {
        let key = (route.upstream, route.name.clone());
        if !self.inner.relay.needs_subscription(&key) {
            return Ok(());
        }
        let upstream = &self.upstreams()[route.upstream];
        upstream.subscribe(&route.name).await.map_err(|e| {
            self.inner.relay.subscription_failed(&key);
            ErrorData::from(e)
        })
    }
}

/// A workflow's steps, called through the gateway's pipeline for the host of `cx`.
struct Steps<'a> {
    gateway: &'a GatewayServer,
    cx: &'a RequestContext<RoleServer>,
}

impl workflow::Caller for Steps<'_> {
    async fn call(&self, params: CallToolRequestParams) -> CallToolResponse {
        (self.gateway.forward(params, self.cx).await)
            .unwrap_or_else(|refused| failure(refused.message).into())
    }
}

impl GatewayServer {
    async fn run_workflow(
        &self,
        checked: &CheckedWorkflow,
        request: CallToolRequestParams,
        cx: &RequestContext<RoleServer>,
    ) -> CallToolResponse {
        let workflow = &self.inner.workflows[checked.index];
        // A 2026-07-28 host's retry carries the answer to a step's question.
        let resume = request
            .request_state
            .as_deref()
            .and_then(workflow::Resume::decode)
            .zip(request.input_responses.clone());
        let steps = Steps { gateway: self, cx };
        workflow
            .run(&steps, &checked.steps, request.arguments.as_ref(), resume)
            .await
    }
}

/// Tell the hosts when the catalog changes (an upstream came up with other tools, or one
/// said its list changed), until the gateway is dropped.
async fn watch_catalog(gateway: Weak<Inner>) {
    let Some(mut changes) = gateway.upgrade().map(|g| g.relay.changes()) else {
        return;
    };
    let listed = |catalog: &Catalog| {
        let tools: Vec<String> = catalog.tools.iter().map(|t| t.name.to_string()).collect();
        let resources: Vec<String> = catalog.resources.iter().map(|r| r.uri.clone()).collect();
        (tools, resources)
    };
    let mut last = None;
    loop {
        let Some(inner) = gateway.upgrade() else {
            return;
        };
        let server = GatewayServer {
            inner,
            found: deferred::Found::default(),
        };
        let catalog = server.catalog().await;
        if last.is_none() {
            for collision in &catalog.collisions {
                tracing::warn!(%collision, "tool name collision");
            }
        }
        let now = listed(&catalog);
        if last.as_ref().is_some_and(|last| *last != now) {
            let _ = server.inner.catalog_changed.send(());
            let hosts: Vec<Peer<RoleServer>> = {
                let mut hosts = server.inner.hosts.lock().unwrap();
                hosts.retain(|h| !h.is_transport_closed());
                hosts.clone()
            };
            for host in hosts {
                let _ = host.notify_tool_list_changed().await;
                let _ = host.notify_resource_list_changed().await;
            }
        }
        last = Some(now);
        drop(server);
        if changes.changed().await.is_err() {
            return;
        }
        // Upstreams starting together change the catalog in a burst: announce it once.
        tokio::time::sleep(Duration::from_millis(100)).await;
        changes.mark_unchanged();
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
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_tool_list_changed()
            .enable_prompts()
            .enable_resources()
            .enable_resources_subscribe()
            .enable_resources_list_changed()
            .build();
        InitializeResult::new(capabilities)
            .with_server_info(Implementation::new(
                env!("CARGO_PKG_NAME"),
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(
                "The opsmcp servers behind one endpoint: every upstream's tools, under the names \
                 its server gives them, and their resources. `health` shows each upstream's state.",
            )
    }

    async fn on_initialized(&self, cx: NotificationContext<RoleServer>) {
        self.inner.hosts.lock().unwrap().push(cx.peer);
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        cx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let catalog = self.catalog().await;
        let mut tools: Vec<Tool> = self.inner.builtin_tools.clone();
        tools.extend(catalog.workflows.iter().map(|w| w.tool.clone()));
        // Output schemas (asked of the upstreams for the workflows' checks) go only to hosts
        // that ask for structured results, as the servers themselves do.
        let structured = opsmcp_core::structured::requested(&cx.meta);
        let deferred = self.inner.deferred;
        tools.extend(
            catalog
                .tools
                .iter()
                .filter(|t| !deferred || self.found.contains(&t.name))
                .map(|t| {
                    let mut t = t.clone();
                    if !structured {
                        t.output_schema = None;
                    }
                    t
                }),
        );
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let mut request = request;
        // What a strict host sends for "not given", for the gateway's own tools and workflows
        // (an upstream's tools are normalized by the upstream).
        let catalog = self.catalog().await;
        let own = (self.inner.builtin_tools.iter())
            .chain(catalog.workflows.iter().map(|w| &w.tool))
            .find(|t| t.name == request.name);
        if let (Some(tool), Some(arguments)) = (own, request.arguments.as_mut()) {
            opsmcp_core::tools::drop_not_given(&tool.input_schema, arguments);
        }
        match request.name.as_ref() {
            health::NAME => Ok(health::run(self).await.into()),
            history::TOOL => {
                Ok(history::run(&self.inner.calls.history, request.arguments.as_ref()).into())
            }
            deferred::TOOL if self.inner.deferred => {
                let catalog = self.catalog().await;
                let (grew, result) =
                    deferred::search(&catalog.tools, &self.found, request.arguments.as_ref());
                if grew {
                    let _ = cx.peer.notify_tool_list_changed().await;
                }
                Ok(result.into())
            }
            builtin::TRIAGE | builtin::OVERVIEW | builtin::SEARCH
                if self
                    .inner
                    .builtin_tools
                    .iter()
                    .any(|t| t.name == request.name) =>
            {
                Ok(self
                    .run_builtin(&request.name, request.arguments.as_ref(), &cx)
                    .await
                    .into())
            }
            name => {
                let catalog = self.catalog().await;
                match catalog.workflows.iter().find(|w| w.tool.name == name) {
                    Some(checked) => Ok(self.run_workflow(checked, request, &cx).await),
                    None => self.forward(request, &cx).await,
                }
            }
        }
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let mut resources = vec![
            metrics_resource(),
            Resource::new(history::RESOURCE_URI, "history")
                .with_description("The gateway's recent calls, one JSON object per line")
                .with_mime_type("application/jsonl"),
        ];
        resources.extend(self.catalog().await.resources.iter().cloned());
        Ok(ListResourcesResult::with_all_items(resources))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(
            self.catalog()
                .await
                .templates
                .iter()
                .map(|(_, t)| t.clone())
                .collect(),
        ))
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Ok(ListPromptsResult::with_all_items(
            self.catalog().await.prompts.clone(),
        ))
    }

    async fn get_prompt(
        &self,
        mut request: GetPromptRequestParams,
        _cx: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let catalog = self.catalog().await;
        let route = catalog.prompt_routes.get(&request.name).ok_or_else(|| {
            ErrorData::invalid_params(
                format!(
                    "no prompt {} behind the gateway (prompts/list names them)",
                    request.name
                ),
                None,
            )
        })?;
        request.name = route.name.clone();
        let mut response = self.upstreams()[route.upstream]
            .prompt(request)
            .await
            .map_err(ErrorData::from)?;
        if let GetPromptResponse::Complete(result) = &mut response {
            result.result_type.get_or_insert(ResultType::COMPLETE);
        }
        Ok(response)
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        match request.uri.as_str() {
            METRICS_RESOURCE_URI => {
                return Ok(read_metrics(&self.inner.calls.metrics).into());
            }
            history::RESOURCE_URI => {
                return Ok(ReadResourceResult::new(vec![ResourceContents::text(
                    self.inner.calls.history.json_lines(),
                    history::RESOURCE_URI,
                )])
                .into());
            }
            _ => {}
        }
        let route = self.resource_route(&request.uri).await?;
        let mut response = self.upstreams()[route.upstream]
            .read(&route.name)
            .await
            .map_err(ErrorData::from)?;
        // The contents name the resource as the host asked for it; the result says it is
        // complete, which a 2026-07-28 host needs and an initialized upstream does not send.
        if let ReadResourceResponse::Complete(read) = &mut response {
            read.result_type = Some(ResultType::COMPLETE);
            for contents in &mut read.contents {
                if let ResourceContents::TextResourceContents { uri, .. }
                | ResourceContents::BlobResourceContents { uri, .. } = contents
                {
                    uri.clone_from(&request.uri);
                }
            }
        }
        Ok(response)
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let route = self.resource_route(&request.uri).await?;
        self.subscribe_upstream(&route).await?;
        self.inner
            .relay
            .subscribe((route.upstream, route.name), cx.peer, request.uri);
        Ok(())
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let route = self.resource_route(&request.uri).await?;
        self.inner
            .relay
            .unsubscribe(&(route.upstream, route.name), &cx.peer);
        Ok(())
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        let catalog = self.last_catalog();
        let uris: Vec<String> = requested
            .resource_subscriptions
            .iter()
            .flatten()
            .filter(|u| catalog.resource_routes.contains_key(*u))
            .cloned()
            .collect();
        let mut accepted = SubscriptionFilter::builder()
            .resource_subscriptions(uris)
            .build();
        accepted.tools_list_changed = requested.tools_list_changed;
        accepted.resources_list_changed = requested.resources_list_changed;
        Some(accepted)
    }

    /// A 2026-07-28 host's listening stream: updates of the resources it asked for, and word
    /// that the catalog changed if it asked for that.
    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let accepted = context.accepted().clone();
        let wanted = accepted.resource_subscriptions.clone().unwrap_or_default();
        for uri in &wanted {
            self.subscribe_upstream(&self.resource_route(uri).await?)
                .await?;
        }
        let mut updates = self.inner.relay.updates();
        let mut catalog_changed = self.inner.catalog_changed.subscribe();
        loop {
            let sent = tokio::select! {
                () = context.cancelled() => return Ok(()),
                update = updates.recv() => match update {
                    Ok((index, uri)) => {
                        let catalog = self.last_catalog();
                        match catalog.exposed_uri(index, &uri) {
                            Some(exposed) if wanted.iter().any(|w| w == exposed) => {
                                context.sink().notify_resource_updated(exposed.to_owned()).await
                            }
                            _ => Ok(()),
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => Ok(()),
                    Err(broadcast::error::RecvError::Closed) => return Ok(()),
                },
                changed = catalog_changed.recv() => match changed {
                    Ok(()) | Err(broadcast::error::RecvError::Lagged(_)) => {
                        let mut sent = Ok(());
                        if accepted.tools_list_changed == Some(true) {
                            sent = context.sink().notify_tool_list_changed().await;
                        }
                        if sent.is_ok() && accepted.resources_list_changed == Some(true) {
                            sent = context.sink().notify_resource_list_changed().await;
                        }
                        sent
                    }
                    Err(broadcast::error::RecvError::Closed) => return Ok(()),
                },
            };
            if sent.is_err() {
                return Ok(());
            }
        }
    }
}
