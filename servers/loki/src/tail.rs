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
use reqwest_websocket::{CloseCode, Message, Upgrade};
use rmcp::{
    ErrorData,
    handler::server::wrapper::Parameters,
    model::{CallToolResult, ProgressNotificationParam},
    schemars::{self, JsonSchema},
    tool, tool_router,
};
use serde::Deserialize;

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

/// An error's innermost cause (connection refused, certificate unknown, …), without the URL
/// and query that reqwest's own message repeats.
fn cause(e: &dyn std::error::Error) -> String {
    let mut inner = e;
    while let Some(source) = inner.source() {
        inner = source;
    }
    inner.to_string()
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
        let request = or_fail!(
            self.api()
                .request(reqwest::Method::GET, "loki/api/v1/tail")
                .map_err(|e| e.to_string())
        )
        .query(&params);
        // The upgrade goes through the API's own client: its TLS settings, auth and headers.
        let opened = tokio::time::timeout(Duration::from_secs(10), request.upgrade().send()).await;
        let response = match opened {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => {
                return Ok(failure(format!(
                    "cannot open Loki's tail WebSocket at {}: {}",
                    self.api().url("loki/api/v1/tail"),
                    cause(&e)
                )));
            }
            Err(_) => return Ok(failure("Loki's tail WebSocket did not open within 10s")),
        };
        if response.status() != reqwest::StatusCode::SWITCHING_PROTOCOLS {
            let status = response.status();
            let body = response.into_inner().text().await.unwrap_or_default();
            return Ok(failure(format!(
                "Loki refused the tail ({status}): {}",
                body.trim()
            )));
        }
        let mut socket = or_fail!(
            response
                .into_websocket()
                .await
                .map_err(|e| format!("the tail WebSocket handshake failed: {}", cause(&e)))
        );
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
                    Some(Ok(Message::Close { .. })) | None => break "Loki closed the stream".to_owned(),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => break format!("the stream failed: {e}"),
                },
            }
        };
        let _ = socket.close(CloseCode::Normal, None).await;
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
