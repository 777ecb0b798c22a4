//! The process bootstrap every server's `main` calls: [`run`] serves stdio when no subcommand is
//! given and HTTP for `serve --listen ADDR`.
//!
//! HTTP routes (see [`router`], which tests call without opening a socket):
//! - `/mcp`: streamable HTTP (rmcp), session mode by default, `--stateless` without sessions;
//! - `/sse` + `/message`: the legacy HTTP+SSE transport ([`crate::legacy_sse`]);
//! - `/healthz` (the process is up), `/readyz` (the backend answers), `/metrics`.
//!
//! The MCP routes check, in this order: the `Host` header against the allow-list (403), the
//! `Origin` header when present (403), the bearer token when one is configured (401).
//! A non-loopback listen address without a token is refused at start-up.
//!
//! Logs go to stderr only; on stdio, stdout carries nothing but MCP frames.

use std::{
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::{Arc, Once},
    time::Duration,
};

use axum::{
    Router,
    body::Body,
    extract::{DefaultBodyLimit, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use rmcp::{
    ServerHandler, ServiceExt,
    transport::{
        StreamableHttpServerConfig, StreamableHttpService, stdio_pipes,
        streamable_http_server::session::local::LocalSessionManager,
    },
};
use tokio_util::sync::CancellationToken;

use sha2::Digest as _;

use crate::{
    config::{HttpArgs, Identity, TransportArgs},
    legacy_sse::LegacySse,
    metrics::Metrics,
};

/// The result of a readiness probe: `Err` says what is not ready.
pub type ReadinessFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// Everything [`run`] needs to know about a server.
pub struct App<S> {
    identity: Identity,
    factory: Arc<dyn Fn() -> S + Send + Sync>,
    readiness: Option<Arc<dyn Fn() -> ReadinessFuture + Send + Sync>>,
    metrics: Metrics,
    routes: Option<Router>,
}

impl<S> Clone for App<S> {
    fn clone(&self) -> Self {
        Self {
            identity: self.identity,
            factory: self.factory.clone(),
            readiness: self.readiness.clone(),
            metrics: self.metrics.clone(),
            routes: self.routes.clone(),
        }
    }
}

impl<S: ServerHandler + Send + Sync + 'static> App<S> {
    /// `factory` makes one handler per MCP session (or per request in stateless mode): state
    /// shared across sessions must live behind an `Arc` the factory clones.
    pub fn new(
        identity: Identity,
        metrics: Metrics,
        factory: impl Fn() -> S + Send + Sync + 'static,
    ) -> Self {
        Self {
            identity,
            factory: Arc::new(factory),
            readiness: None,
            metrics,
            routes: None,
        }
    }

    /// Routes served beside the MCP endpoints, outside the guard (they authenticate
    /// themselves, like a signed webhook).
    pub fn routes(mut self, routes: Router) -> Self {
        self.routes = Some(routes);
        self
    }

    /// A probe for `/readyz`, e.g. a cheap request to the backend.
    pub fn readiness<F, Fut>(mut self, probe: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.readiness = Some(Arc::new(move || Box::pin(probe())));
        self
    }
}

/// Why serving stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "refusing to listen on {0} without a bearer token: anyone who can reach this address could call the tools. \
         Set --http-token or OPSMCP_HTTP_TOKEN (clients send `Authorization: Bearer <token>`), \
         or listen on a loopback address such as 127.0.0.1 behind a reverse proxy"
    )]
    TokenRequired(SocketAddr),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("stdio session failed: {0}")]
    Stdio(String),
    #[error("HTTP server failed: {0}")]
    Http(std::io::Error),
}

/// Send logs to stderr, filtered by `RUST_LOG` (default `info`). Safe to call more than once.
pub fn init_logging() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            // rmcp logs every session at info; keep that for RUST_LOG=rmcp=info.
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rmcp=warn"));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .try_init();
    });
}

/// What a server adds to its HTTP app: whether its backend answers (for `/readyz`), and
/// routes outside the MCP guard (a webhook receiver that authenticates by signature).
pub trait Ready {
    fn ready(&self) -> impl Future<Output = Result<(), String>> + Send;

    fn routes(&self) -> Option<Router> {
        None
    }
}

/// The whole `main` of a server: parse the command line (running `audit verify` and exiting
/// when asked), pick the runtime for the transport, open the safety engine, `build` the server
/// and serve it, with its readiness behind `/readyz`.
pub fn main<A, S>(
    identity: Identity,
    build: impl FnOnce(&A, crate::approval::Safety, Metrics) -> anyhow::Result<S>,
) -> anyhow::Result<()>
where
    A: clap::Args,
    S: ServerHandler + Ready + Clone + Send + Sync + 'static,
{
    let cli = crate::config::parse::<A>(identity);
    if let Some(code) = cli.audit_command() {
        std::process::exit(code);
    }
    let transport = cli.transport();
    runtime(&transport)?.block_on(async move {
        let metrics = Metrics::new(identity);
        let safety = crate::approval::Safety::new(identity, &cli.safety, &metrics)?;
        let server = build(&cli.server, safety, metrics.clone())?;
        let probe = server.clone();
        let routes = server.routes();
        let mut app = App::new(identity, metrics, move || server.clone()).readiness(move || {
            let probe = probe.clone();
            async move { probe.ready().await }
        });
        if let Some(routes) = routes {
            app = app.routes(routes);
        }
        run(transport, app).await?;
        Ok(())
    })
}

/// The runtime for a transport: one thread for stdio (one client; it saves a few hundred KiB of
/// resident memory and a little start-up), the multi-threaded scheduler for HTTP.
pub fn runtime(transport: &TransportArgs) -> std::io::Result<tokio::runtime::Runtime> {
    match transport {
        TransportArgs::Stdio => tokio::runtime::Builder::new_current_thread(),
        TransportArgs::Http(_) => tokio::runtime::Builder::new_multi_thread(),
    }
    .enable_all()
    .build()
}

/// Serve `app` over the transport chosen on the command line until the client leaves (stdio)
/// or SIGINT/SIGTERM arrives.
pub async fn run<S: ServerHandler + Send + Sync + 'static>(
    transport: TransportArgs,
    app: App<S>,
) -> Result<(), ServeError> {
    init_logging();
    match transport {
        TransportArgs::Stdio => run_stdio(app).await,
        TransportArgs::Http(args) => run_http(args, app).await,
    }
}

async fn run_stdio<S: ServerHandler + Send + Sync + 'static>(
    app: App<S>,
) -> Result<(), ServeError> {
    tracing::debug!(
        server = app.identity.name,
        version = app.identity.version,
        "serving stdio"
    );
    let ct = CancellationToken::new();
    let service = (app.factory)()
        .serve_with_ct(stdio_pipes(), ct.clone())
        .await
        .map_err(|e| ServeError::Stdio(e.to_string()))?;
    tokio::select! {
        result = service.waiting() => {
            result.map_err(|e| ServeError::Stdio(e.to_string()))?;
        }
        () = shutdown_signal() => ct.cancel(),
    }
    Ok(())
}

async fn run_http<S: ServerHandler + Send + Sync + 'static>(
    args: HttpArgs,
    app: App<S>,
) -> Result<(), ServeError> {
    if args.http_token.is_none() && !args.listen.ip().is_loopback() {
        return Err(ServeError::TokenRequired(args.listen));
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: args.listen,
            source,
        })?;
    let local = listener.local_addr().map_err(ServeError::Http)?;
    let shutdown = CancellationToken::new();
    let grace = Duration::from_secs(args.shutdown_grace_secs);
    let mode = if args.stateless {
        "stateless"
    } else {
        "session"
    };
    let auth = if args.http_token.is_some() {
        "bearer token"
    } else {
        "none (loopback only)"
    };
    let app_router = router(&args, app.clone(), shutdown.clone());
    tracing::info!(server = app.identity.name, version = app.identity.version, %local, mode, auth, "serving HTTP: /mcp, /sse, /healthz, /readyz, /metrics");

    let limits = crate::listener::Limits {
        max_connections: args.max_connections,
        header_timeout: Duration::from_secs(args.header_timeout_secs),
        grace,
    };
    tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            shutdown_signal().await;
            tracing::info!(
                ?grace,
                "shutting down: closing sessions and waiting for open requests"
            );
            shutdown.cancel();
        }
    });
    crate::listener::serve(listener, app_router, limits, shutdown.cancelled_owned()).await;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// The HTTP application: MCP routes behind the guard, probes and metrics open.
pub fn router<S: ServerHandler + Send + Sync + 'static>(
    args: &HttpArgs,
    app: App<S>,
    shutdown: CancellationToken,
) -> Router {
    let factory = app.factory.clone();
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(!args.stateless)
        .with_json_response(args.stateless)
        .with_cancellation_token(shutdown.child_token())
        .with_max_request_body_bytes(args.max_body_bytes)
        // Host and Origin are checked by `guard` for every MCP route, legacy SSE included.
        .disable_allowed_hosts()
        .disable_allowed_origins();
    let mut sessions = LocalSessionManager::default();
    sessions.session_config.keep_alive = Some(Duration::from_secs(args.session_idle_secs));
    let sessions = Arc::new(sessions);
    let streamable = StreamableHttpService::new(move || Ok(factory()), sessions.clone(), config);
    let legacy = LegacySse::new(
        app.factory.clone(),
        args.max_sessions,
        shutdown.child_token(),
    );
    let guard = Arc::new(Guard::new(args));

    let mcp = Router::new()
        .route_service(
            "/mcp",
            tower::ServiceBuilder::new()
                .layer(middleware::from_fn_with_state(
                    args.max_body_bytes,
                    jsonrpc_errors,
                ))
                .layer(middleware::from_fn_with_state(
                    (sessions, args.max_sessions),
                    session_cap,
                ))
                .service(streamable),
        )
        .route("/sse", get(LegacySse::<S>::connect))
        .route("/message", axum::routing::post(LegacySse::<S>::post))
        .with_state(legacy)
        .layer(DefaultBodyLimit::max(args.max_body_bytes))
        .layer(middleware::from_fn_with_state(guard, guard_layer));

    let probes = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .with_state(app.clone());

    let router = mcp.merge(probes);
    match app.routes {
        Some(routes) => router.merge(routes),
        None => router,
    }
}

async fn ready<S>(State(app): State<App<S>>) -> Response {
    let Some(probe) = &app.readiness else {
        return (StatusCode::OK, "ready\n").into_response();
    };
    match tokio::time::timeout(Duration::from_secs(5), probe()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready\n").into_response(),
        Ok(Err(reason)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {reason}\n"),
        )
            .into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the backend did not answer within 5s\n",
        )
            .into_response(),
    }
}

async fn metrics<S>(State(app): State<App<S>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(),
    )
        .into_response()
}

/// Host, Origin and token checks for the MCP routes.
struct Guard {
    hosts: Vec<String>,
    origins: Vec<String>,
    token: Option<String>,
    /// "bearer sha256:<first 12 hex digits of the token's hash>" when a token is configured.
    principal: Option<crate::approval::Principal>,
}

impl Guard {
    fn new(args: &HttpArgs) -> Self {
        let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "[::1]", "::1"]
            .map(String::from)
            .into();
        hosts.extend(
            args.allowed_hosts
                .iter()
                .map(|h| h.trim().to_ascii_lowercase()),
        );
        Self {
            hosts,
            origins: args
                .allowed_origins
                .iter()
                .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
                .collect(),
            token: args.http_token.as_ref().map(|t| t.expose().to_owned()),
            principal: args.http_token.as_ref().map(|t| {
                let hash = hex::encode(sha2::Sha256::digest(t.expose().as_bytes()));
                crate::approval::Principal(format!("bearer sha256:{}", &hash[..12]))
            }),
        }
    }

    /// A host entry without a port accepts any port; with one, only that port.
    fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        let name = strip_port(&host);
        self.hosts
            .iter()
            .any(|allowed| *allowed == host || *allowed == name)
    }

    /// Loopback origins are always accepted (a local desktop host); others must be listed.
    fn origin_allowed(&self, origin: &str) -> bool {
        let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
        if self.origins.iter().any(|o| *o == origin || o == "*") {
            return true;
        }
        let Some((scheme, authority)) = origin.split_once("://") else {
            return false;
        };
        matches!(scheme, "http" | "https")
            && matches!(strip_port(authority), "localhost" | "127.0.0.1" | "[::1]")
    }

    fn token_ok(&self, headers: &HeaderMap) -> bool {
        let Some(expected) = &self.token else {
            return true;
        };
        let Some(given) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
        else {
            return false;
        };
        constant_time_eq(given.trim().as_bytes(), expected.as_bytes())
    }
}

fn strip_port(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority
            .split_once(']')
            .map_or(authority, |(h, _)| &authority[..=h.len()]);
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => authority,
    }
}

/// Comparison whose time does not depend on where the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn guard_layer(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.to_string()));
    match host {
        Some(h) if guard.host_allowed(&h) => {}
        Some(h) => {
            return reject(
                StatusCode::FORBIDDEN,
                &format!("Host `{h}` is not allowed; add it with --allowed-hosts"),
            );
        }
        None => return reject(StatusCode::BAD_REQUEST, "missing Host header"),
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok())
        && !guard.origin_allowed(origin)
    {
        return reject(
            StatusCode::FORBIDDEN,
            &format!("Origin `{origin}` is not allowed; add it with --allowed-origins"),
        );
    }
    if !guard.token_ok(headers) {
        let mut response = reject(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    let mut request = request;
    if let Some(principal) = &guard.principal {
        // Tool calls see who called them (for the audit log) without seeing the token.
        request.extensions_mut().insert(principal.clone());
    }
    next.run(request).await
}

/// How long a request body may take to arrive (a client trickling one holds a connection).
const BODY_DEADLINE: Duration = Duration::from_secs(30);

/// A request that would open a streamable HTTP session (a POST without `Mcp-Session-Id`) while
/// `max` are open gets 503; rmcp closes a session idle for `--session-idle-secs`.
async fn session_cap(
    State((sessions, max)): State<(Arc<LocalSessionManager>, usize)>,
    request: Request,
    next: Next,
) -> Response {
    let opens =
        request.method() == http::Method::POST && !request.headers().contains_key("mcp-session-id");
    if opens && sessions.sessions.read().await.len() >= max {
        return jsonrpc_error(
            StatusCode::SERVICE_UNAVAILABLE,
            -32000,
            "too many open MCP sessions; try again later",
        );
    }
    next.run(request).await
}

/// Give malformed POST bodies on `/mcp` the JSON-RPC answers clients expect: rmcp answers
/// `415 fail to deserialize` for both bad JSON and bad messages; this turns that into
/// `400` with `-32700 Parse error` or `-32600 Invalid Request`, an oversized body into a `413`
/// and one slower than [`BODY_DEADLINE`] into a `408`, with a JSON-RPC error. Happy-path
/// requests pass through unchanged.
async fn jsonrpc_errors(State(limit): State<usize>, request: Request, next: Next) -> Response {
    let is_json_post = request.method() == http::Method::POST
        && request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
    if !is_json_post {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let read = tokio::time::timeout(BODY_DEADLINE, axum::body::to_bytes(body, limit));
    let bytes = match read.await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(_)) => {
            return jsonrpc_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                -32600,
                &format!("request body is larger than {limit} bytes"),
            );
        }
        Err(_) => {
            return jsonrpc_error(
                StatusCode::REQUEST_TIMEOUT,
                -32600,
                &format!(
                    "the request body did not arrive within {} s",
                    BODY_DEADLINE.as_secs()
                ),
            );
        }
    };
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes.clone())))
        .await;
    if response.status() != StatusCode::UNSUPPORTED_MEDIA_TYPE {
        return response;
    }
    let value = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(value) => value,
        Err(e) => {
            return jsonrpc_error(
                StatusCode::BAD_REQUEST,
                -32700,
                &format!("Parse error: {e}"),
            );
        }
    };
    // A well-formed request whose params do not fit its method: answer it by id.
    if let Some(method) = value.get("method").and_then(|m| m.as_str())
        && value.get("jsonrpc").and_then(|v| v.as_str()) == Some("2.0")
    {
        let id = value.get("id").cloned().unwrap_or_default();
        let message = format!("Invalid params: the params of `{method}` do not match its schema");
        return jsonrpc_error_for(id, StatusCode::BAD_REQUEST, -32602, &message);
    }
    jsonrpc_error(
        StatusCode::BAD_REQUEST,
        -32600,
        "Invalid Request: the body is JSON but not a JSON-RPC 2.0 request, notification or response",
    )
}

fn reject(status: StatusCode, message: &str) -> Response {
    jsonrpc_error(status, -32000, message)
}

fn jsonrpc_error(status: StatusCode, code: i32, message: &str) -> Response {
    jsonrpc_error_for(serde_json::Value::Null, status, code, message)
}

fn jsonrpc_error_for(
    id: serde_json::Value,
    status: StatusCode,
    code: i32,
    message: &str,
) -> Response {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": { "code": code, "message": message },
    });
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("static response parts are valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(hosts: &[&str], origins: &[&str], token: Option<&str>) -> Guard {
        let args =
            crate::config::parse_from::<NoArgs, _, _>(crate::identity!(), ["x", "serve"]).unwrap();
        let crate::config::TransportArgs::Http(mut http) = args.transport() else {
            unreachable!()
        };
        http.allowed_hosts = hosts.iter().map(|s| s.to_string()).collect();
        http.allowed_origins = origins.iter().map(|s| s.to_string()).collect();
        http.http_token = token.map(crate::config::Secret::new);
        Guard::new(&http)
    }

    #[derive(Debug, clap::Args)]
    struct NoArgs {}

    #[test]
    fn hosts() {
        let g = guard(&["mcp.example.com", "proxy:8443"], &[], None);
        for ok in [
            "localhost",
            "localhost:8080",
            "127.0.0.1:1",
            "[::1]:80",
            "mcp.example.com",
            "MCP.example.com:443",
            "proxy:8443",
        ] {
            assert!(g.host_allowed(ok), "{ok}");
        }
        for bad in [
            "evil.com",
            "evil.com:8080",
            "proxy:9999",
            "127.0.0.2",
            "localhost.evil.com",
        ] {
            assert!(!g.host_allowed(bad), "{bad}");
        }
    }

    #[test]
    fn origins() {
        let g = guard(&[], &["https://app.example.com"], None);
        assert!(g.origin_allowed("http://localhost:6274"));
        assert!(g.origin_allowed("http://127.0.0.1"));
        assert!(g.origin_allowed("https://app.example.com/"));
        assert!(!g.origin_allowed("https://evil.example.com"));
        assert!(!g.origin_allowed("http://localhost.evil.com"));
        assert!(!g.origin_allowed("null"));
    }

    #[test]
    fn tokens() {
        let g = guard(&[], &[], Some("s3cret"));
        let mut h = HeaderMap::new();
        assert!(!g.token_ok(&h));
        h.insert(header::AUTHORIZATION, "Bearer wrong".parse().unwrap());
        assert!(!g.token_ok(&h));
        h.insert(header::AUTHORIZATION, "Bearer s3cret".parse().unwrap());
        assert!(g.token_ok(&h));
        assert!(guard(&[], &[], None).token_ok(&HeaderMap::new()));
    }
}
