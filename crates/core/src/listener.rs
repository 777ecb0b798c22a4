//! The HTTP accept loop, bounded: at most `--max-connections` connections are served at once
//! (the next waits in the kernel's backlog until one closes), a connection must bring its first
//! request and every request's headers within `--header-timeout-secs` (also how long an idle
//! HTTP/1 keep-alive connection stays open; HTTP/2 connections are pinged at that interval and
//! closed when the peer stops answering), and on shutdown every connection is asked to finish,
//! given the grace period, then dropped. Request bodies have their own deadline
//! (`serve::jsonrpc_errors`).
//!
//! hyper-util's connection builder and graceful watcher do the work; `axum::serve` exposes
//! neither a timer nor a cap.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use axum::{Router, body::Body, extract::Request};
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto, graceful::GracefulShutdown},
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::Semaphore};
use tower::ServiceExt as _;

/// How the accept loop bounds its clients.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    /// How long open connections may take to finish once shutdown starts.
    pub grace: Duration,
}

impl Default for Limits {
    /// The defaults of `serve`'s flags.
    fn default() -> Self {
        Self {
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            grace: Duration::from_secs(10),
        }
    }
}

/// Serve `router` on `listener` until `shutdown` resolves, then let open connections finish
/// for `limits.grace`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let mut shutdown = std::pin::pin!(shutdown);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.header_timeout)
        .keep_alive_timeout(limits.header_timeout)
        .max_concurrent_streams(32);
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("never closed"),
            () = &mut shutdown => break,
        };
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // EMFILE and friends: wait a little rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Without TCP_NODELAY keep-alive clients stall ~40 ms a call.
        let _ = tcp.set_nodelay(true);
        // hyper's protocol detection has no timer: a connection that sends nothing (or half an
        // HTTP/2 preface) is closed when no request has arrived within the header timeout.
        let seen = Arc::new(AtomicBool::new(false));
        let service = TowerToHyperService::new(router.clone().map_request({
            let seen = seen.clone();
            move |request: Request<hyper::body::Incoming>| {
                seen.store(true, Ordering::Relaxed);
                request.map(Body::new)
            }
        }));
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(tcp), service)
            .into_owned();
        let connection = graceful.watch(connection);
        let first_request = limits.header_timeout;
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => Some(ended),
                () = tokio::time::sleep(first_request) => None,
            };
            let ended = match ended {
                Some(ended) => Some(ended),
                None if seen.load(Ordering::Relaxed) => Some(connection.await),
                None => None, // dropped: the socket closes
            };
            if let Some(Err(error)) = ended {
                tracing::debug!(%peer, %error, "connection ended");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("open requests did not finish within the grace period; exiting");
    }
}
