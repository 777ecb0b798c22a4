//! The legacy HTTP+SSE transport of protocol 2024-11-05 (`GET /sse`, `POST /message`) for
//! clients that predate streamable HTTP. rmcp dropped it, and it is small: each `GET /sse`
//! starts one MCP session over a pair of channels, announces where to post with an `endpoint`
//! event, and streams every server message as a `message` event. `POST /message?sessionId=…`
//! hands a client message to that session and answers 202. The session ends when the stream is
//! dropped or the server shuts down. A session takes posts only from the principal that opened
//! it, and at most `--max-sessions` are open at once.

use std::{
    collections::HashMap,
    convert::Infallible,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Extension, Json,
    body::Bytes,
    extract::{Query, State},
    http::StatusCode,
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures::StreamExt;
use rmcp::{ServerHandler, ServiceExt, model::ClientJsonRpcMessage};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::{CancellationToken, PollSender};

use crate::approval::Principal;

/// Messages a session may have queued before a slow client holds up the poster.
const CHANNEL_CAPACITY: usize = 64;

/// A live session: where its client messages go, and who opened it.
struct Session {
    to_server: mpsc::Sender<ClientJsonRpcMessage>,
    principal: Option<Principal>,
}

type Sessions = Arc<Mutex<HashMap<String, Session>>>;

/// State of the legacy endpoint: the live sessions and how to make a server for a new one.
pub struct LegacySse<S> {
    factory: Arc<dyn Fn() -> S + Send + Sync>,
    sessions: Sessions,
    /// Open sessions at most; a new stream beyond it is refused with 503.
    max_sessions: usize,
    shutdown: CancellationToken,
}

impl<S> Clone for LegacySse<S> {
    fn clone(&self) -> Self {
        Self {
            factory: self.factory.clone(),
            sessions: self.sessions.clone(),
            max_sessions: self.max_sessions,
            shutdown: self.shutdown.clone(),
        }
    }
}

impl<S: ServerHandler> LegacySse<S> {
    pub fn new(
        factory: Arc<dyn Fn() -> S + Send + Sync>,
        max_sessions: usize,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            factory,
            sessions: Arc::default(),
            max_sessions,
            shutdown,
        }
    }

    /// `GET /sse`: open a session and stream its messages.
    pub async fn connect(
        State(this): State<Self>,
        principal: Option<Extension<Principal>>,
    ) -> Response {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let (to_server, from_client) = mpsc::channel::<ClientJsonRpcMessage>(CHANNEL_CAPACITY);
        let (to_client, from_server) = mpsc::channel(CHANNEL_CAPACITY);
        {
            let mut sessions = this.sessions.lock().unwrap();
            if sessions.len() >= this.max_sessions {
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    -32000,
                    "too many open SSE sessions; try again later",
                );
            }
            sessions.insert(
                id.clone(),
                Session {
                    to_server,
                    principal: principal.map(|Extension(p)| p),
                },
            );
        }

        let session = this.shutdown.child_token();
        let server = (this.factory)();
        let sessions = this.sessions.clone();
        let (task_id, task_session) = (id.clone(), session.clone());
        tokio::spawn(async move {
            let transport = (PollSender::new(to_client), ReceiverStream::new(from_client));
            match server.serve_with_ct(transport, task_session).await {
                Ok(running) => {
                    let _ = running.waiting().await;
                }
                Err(e) => {
                    tracing::debug!(session = %task_id, error = %e, "legacy SSE session ended before initialize")
                }
            }
            sessions.lock().unwrap().remove(&task_id);
        });

        // Relative to the URL of this stream, so a proxy that mounts us under a prefix still works.
        let endpoint = Event::default()
            .event("endpoint")
            .data(format!("message?sessionId={id}"));
        // Dropping the stream (client gone) cancels the session.
        let guard = session.clone().drop_guard();
        let messages = ReceiverStream::new(from_server)
            .take_until(session.cancelled_owned())
            .map(move |message| {
                let _alive = &guard;
                let data = serde_json::to_string(&message).unwrap_or_else(|e| {
                    tracing::error!(error = %e, "cannot serialize a server message");
                    String::from("{}")
                });
                Ok(Event::default().event("message").data(data))
            });
        let stream =
            futures::stream::once(async move { Ok::<_, Infallible>(endpoint) }).chain(messages);
        Sse::new(stream)
            .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
            .into_response()
    }

    /// `POST /message?sessionId=…`: forward one client message to its session.
    pub async fn post(
        State(this): State<Self>,
        Query(query): Query<HashMap<String, String>>,
        principal: Option<Extension<Principal>>,
        body: Bytes,
    ) -> Response {
        let Some(id) = query.get("sessionId") else {
            return error(
                StatusCode::BAD_REQUEST,
                -32600,
                "missing sessionId query parameter",
            );
        };
        let principal = principal.map(|Extension(p)| p);
        // Another principal's session is answered as one that does not exist.
        let sender = this
            .sessions
            .lock()
            .unwrap()
            .get(id)
            .filter(|s| s.principal == principal)
            .map(|s| s.to_server.clone());
        let Some(sender) = sender else {
            return error(
                StatusCode::NOT_FOUND,
                -32600,
                "unknown or closed session; open GET /sse again",
            );
        };
        let value: serde_json::Value = match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    -32700,
                    &format!("parse error: {e}"),
                );
            }
        };
        let message: ClientJsonRpcMessage = match serde_json::from_value(value) {
            Ok(m) => m,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    -32600,
                    &format!("invalid JSON-RPC message: {e}"),
                );
            }
        };
        match sender.send(message).await {
            Ok(()) => (StatusCode::ACCEPTED, "Accepted").into_response(),
            Err(_) => error(
                StatusCode::NOT_FOUND,
                -32600,
                "session closed; open GET /sse again",
            ),
        }
    }
}

fn error(status: StatusCode, code: i32, message: &str) -> Response {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": { "code": code, "message": message },
    });
    (status, Json(body)).into_response()
}
