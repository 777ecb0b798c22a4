//! `logs_tail`: follow a log query for a bounded time or number of lines over Loki's tail
//! WebSocket, with progress notifications, stopping cleanly (a close frame) when the time or
//! line budget is spent or the client cancels.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use futures::StreamExt;
use jiff::Timestamp;
use opsmcp_core::{
    approval::Exchange,
    or_fail,
    output::parse_time,
    tools::{failure, text},
};
use rmcp::{
    ErrorData,
    handler::server::wrapper::Parameters,
    model::{CallToolResult, ProgressNotificationParam},
    schemars::{self, JsonSchema},
    tool, tool_router,
};
use serde::Deserialize;
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

use crate::{
    LokiServer,
    client::{Labels, StreamResult, nanos},
    logs::{Direction, LineStyle, Shape, local_error, render_streams},
};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct TailArgs {
    /// LogQL log query to follow
    pub query: String,
    /// Stop after this many seconds (default 30, max 300)
    pub seconds: Option<u64>,
    /// Stop after this many lines (default 100, max 1000)
    pub max_lines: Option<usize>,
    /// Also send lines since this time first (5m, RFC 3339); default only new lines
    pub since: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Frame {
    #[serde(default)]
    streams: Vec<StreamResult>,
}

#[tool_router(router = tail_router, vis = "pub(crate)")]
impl LokiServer {
    /// Follow a log query live for a bounded time or number of lines (progress is reported;
    /// cancelling stops it).
    #[tool]
    pub async fn logs_tail(
        &self,
        exchange: Exchange,
        Parameters(args): Parameters<TailArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        if let Err(e) = opsmcp_logql::check(&args.query) {
            return Ok(failure(local_error(&args.query, &e)));
        }
        let seconds = args.seconds.unwrap_or(30).clamp(1, 300);
        let max_lines = args.max_lines.unwrap_or(100).clamp(1, 1000);
        let start = match args.since.as_deref() {
            Some(s) => or_fail!(parse_time(s, Timestamp::now())),
            None => Timestamp::now(),
        };
        let params = [
            ("query", args.query.clone()),
            ("start", nanos(start)),
            ("limit", max_lines.to_string()),
        ];
        let (mut url, headers) = or_fail!(
            self.api()
                .handshake("loki/api/v1/tail", &params)
                .map_err(|e| e.to_string())
        );
        let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
        if url.set_scheme(scheme).is_err() {
            return Ok(failure(format!("cannot tail over {}", url.scheme())));
        }
        if scheme == "wss" {
            return Ok(failure(
                "logs_tail over https is not supported yet (the WebSocket client is built without TLS); use logs_query with a short range instead",
            ));
        }
        let mut request = or_fail!(
            url.as_str()
                .into_client_request()
                .map_err(|e| e.to_string())
        );
        request.headers_mut().extend(headers);
        let connected = tokio::time::timeout(
            Duration::from_secs(10),
            tokio_tungstenite::connect_async(request),
        )
        .await;
        let mut socket = match connected {
            Ok(Ok((socket, _))) => socket,
            Ok(Err(tokio_tungstenite::tungstenite::Error::Http(response))) => {
                let body = response
                    .body()
                    .as_deref()
                    .map(String::from_utf8_lossy)
                    .unwrap_or_default()
                    .trim()
                    .to_owned();
                return Ok(failure(format!(
                    "Loki refused the tail ({}): {body}",
                    response.status()
                )));
            }
            Ok(Err(e)) => return Ok(failure(format!("cannot open Loki's tail WebSocket: {e}"))),
            Err(_) => return Ok(failure("Loki's tail WebSocket did not open within 10s")),
        };
        let cx = exchange.context();
        let token = cx.meta.get_progress_token();
        let started = Instant::now();
        let deadline = tokio::time::sleep(Duration::from_secs(seconds));
        tokio::pin!(deadline);
        let mut streams: BTreeMap<Labels, Vec<(String, String)>> = BTreeMap::new();
        let mut lines = 0;
        let stopped = loop {
            tokio::select! {
                () = &mut deadline => break format!("followed for {seconds}s"),
                () = cx.ct.cancelled() => break "cancelled by the client".to_owned(),
                frame = socket.next() => match frame {
                    Some(Ok(Message::Text(body))) => {
                        let Ok(frame) = serde_json::from_str::<Frame>(&body) else { continue };
                        for s in frame.streams {
                            lines += s.values.len();
                            streams.entry(s.stream).or_default().extend(s.values);
                        }
                        if let Some(token) = &token {
                            let _ = cx
                                .peer
                                .notify_progress(
                                    ProgressNotificationParam::new(token.clone(), lines.min(max_lines) as f64)
                                        .with_total(max_lines as f64)
                                        .with_message(format!("{lines} lines after {}s", started.elapsed().as_secs())),
                                )
                                .await;
                        }
                        if lines >= max_lines {
                            break format!("stopped at {max_lines} lines");
                        }
                    }
                    Some(Ok(Message::Close(_))) | None => break "Loki closed the stream".to_owned(),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => break format!("the stream failed: {e}"),
                },
            }
        };
        let _ = socket.close(None).await;
        let collected: Vec<StreamResult> = streams
            .into_iter()
            .map(|(stream, values)| StreamResult { stream, values })
            .collect();
        let shown = if lines == 0 {
            format!("no lines arrived for {}", args.query)
        } else {
            render_streams(
                collected,
                &Shape {
                    limit: usize::MAX,
                    direction: Direction::Forward,
                    max_line_chars: 300,
                    style: LineStyle::Compact,
                },
            )
        };
        Ok(text(format!("tail {stopped} ({lines} lines).\n{shown}")))
    }
}
