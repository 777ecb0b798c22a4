//! What happens around a forwarded call, in order:
//!
//! 1. a read-only tool's fresh cached answer is served (per caller; `_meta` key
//!    `opsmcp/cache: "bypass"` asks for a fresh one);
//! 2. otherwise the call goes upstream ([`crate::forward`]); a read whose connection fails is
//!    retried with back-off (50 ms, then 100 ms), which also restarts a dead stdio upstream;
//! 3. a complete answer without an error is kept for the next caller;
//! 4. when the call fails or answers an error, an older cached answer of the same call stands
//!    in (marked with its age), or else the configured fallback tool answers (marked, with the
//!    reason); neither hides the failure;
//! 5. the call is recorded in the history and the metrics.
//!
//! An upstream's refusal (a JSON-RPC error: invalid params, a tampered request state) is about
//! the request, not the backend: it reaches the host as that error, with no stand-in.

use std::{
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

use backon::{ExponentialBuilder, Retryable};
use opsmcp_core::{approval::Principal, metrics::Outcome as MetricOutcome, tools::failure};
use rmcp::{
    RoleServer,
    model::{CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorData},
    service::RequestContext,
};
use serde_json::Value;

use crate::{
    GatewayServer,
    cache::ReadCache,
    calls::FallbackLabels,
    catalog::{Catalog, Route},
    forward,
    history::{Cache, Outcome, Record, redact, text_joined},
    upstream::{CallError, ErrorKind},
};

/// The `_meta` key a caller sets to `"bypass"` for a fresh answer.
pub const CACHE_META_KEY: &str = "opsmcp/cache";

/// Retries of a read whose connection failed.
const READ_RETRIES: usize = 2;

/// The HTTP principal of a call (a token's fingerprint), or "" over stdio: the cache's
/// partition.
fn caller(cx: &RequestContext<RoleServer>) -> String {
    cx.extensions
        .get::<http::request::Parts>()
        .and_then(|p| p.extensions.get::<Principal>())
        .map(|p| p.0.clone())
        .unwrap_or_default()
}

fn bypass(cx: &RequestContext<RoleServer>) -> bool {
    cx.meta.get(CACHE_META_KEY).and_then(Value::as_str) == Some("bypass")
}

/// `result` with `note` as its first content block.
fn noted(mut result: CallToolResult, note: String) -> CallToolResult {
    result.content.insert(0, ContentBlock::text(note));
    result
}

/// The text of a tool error on one line, for notes and the history.
fn error_text(result: &CallToolResult) -> String {
    text_joined(result, " ")
}

impl GatewayServer {
    /// Answer a call of a tool in the catalog (see the module's documentation).
    pub(crate) async fn forward(
        &self,
        request: CallToolRequestParams,
        cx: &RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let started = Instant::now();
        let calls = &self.inner.calls;
        let catalog = self.catalog().await;
        let name = request.name.to_string();
        let Some(route) = catalog.routes.get(&name).cloned() else {
            return Ok(failure(format!(
                "no tool {name} in the gateway's catalog (tools/list names them)"
            ))
            .into());
        };
        let mut record = Record {
            id: calls.history.next_id(),
            at: jiff::Timestamp::now(),
            upstream: self.upstreams()[route.upstream].spec.name.clone(),
            tool: name.clone(),
            arguments: redact(request.arguments.as_ref()),
            outcome: Outcome::Ok,
            duration: Duration::ZERO,
            cache: None,
            retries: 0,
            fallback: None,
            error: None,
        };
        let bypassed = bypass(cx) && route.read_only;
        let ttl = if bypassed {
            None
        } else {
            calls.cache.ttl(&name, route.read_only)
        };
        // A structured answer (asked for by a workflow step) and a text one are kept apart.
        let structured = request
            .meta
            .as_ref()
            .is_some_and(opsmcp_core::structured::requested)
            || opsmcp_core::structured::requested(&cx.meta);
        let partition = format!(
            "{}{}",
            caller(cx),
            if structured { "+structured" } else { "" }
        );
        let key = ttl.map(|ttl| ReadCache::key(&partition, &name, request.arguments.as_ref(), ttl));
        record.cache = if bypassed {
            Some(Cache::Bypass)
        } else {
            key.as_ref().map(|_| Cache::Miss)
        };

        let response = if let Some(entry) = key.as_deref().and_then(|k| calls.cache.fresh(k)) {
            record.cache = Some(Cache::Hit);
            Ok(CallToolResponse::Complete(entry.result.clone()))
        } else {
            let answered = self.call_upstream(&route, request.clone(), cx).await;
            record.retries = answered.1;
            match answered.0 {
                Ok(CallToolResponse::Complete(result)) if result.is_error != Some(true) => {
                    if let (Some(key), Some(ttl)) = (key.clone(), ttl) {
                        calls.cache.store(key, &result, ttl);
                    }
                    Ok(CallToolResponse::Complete(result))
                }
                Ok(CallToolResponse::Complete(result)) => {
                    let why = error_text(&result);
                    self.instead(&catalog, &request, key.as_deref(), &why, cx, &mut record)
                        .await
                        .map_or(Ok(CallToolResponse::Complete(result)), Ok)
                }
                Ok(other) => Ok(other),
                Err(e) if matches!(e.kind, ErrorKind::Refused(_)) => Err(e),
                Err(e) => {
                    let why = e.message.clone();
                    match self
                        .instead(&catalog, &request, key.as_deref(), &why, cx, &mut record)
                        .await
                    {
                        Some(answer) => Ok(answer),
                        None => Err(e),
                    }
                }
            }
        };
        if let Some(cache) = record.cache {
            calls.looked_up(&name, cache);
        }
        let (outcome, response) = match response {
            Ok(CallToolResponse::Complete(result)) if result.is_error == Some(true) => {
                record.error = Some(error_text(&result));
                (Outcome::ToolError, Ok(CallToolResponse::Complete(result)))
            }
            Ok(CallToolResponse::Complete(result)) => (Outcome::Ok, Ok(result.into())),
            Ok(other) => (Outcome::InputRequired, Ok(other)),
            Err(e) => {
                record.error = Some(e.message.clone());
                let answer = match e.kind {
                    ErrorKind::Refused(_) => Err(ErrorData::from(e)),
                    ErrorKind::Down | ErrorKind::Failed => Ok(failure(e.message).into()),
                };
                (Outcome::Failed, answer)
            }
        };
        record.outcome = outcome;
        record.duration = started.elapsed();
        calls.metrics.tool_call(
            &name,
            match outcome {
                Outcome::Ok => MetricOutcome::Ok,
                Outcome::ToolError | Outcome::Failed => MetricOutcome::ToolError,
                Outcome::InputRequired => MetricOutcome::InputRequired,
            },
            record.duration,
        );
        calls.history.push(record);
        response
    }

    /// The call upstream, a read retried while its connection fails; and how many retries.
    async fn call_upstream(
        &self,
        route: &Route,
        mut request: CallToolRequestParams,
        cx: &RequestContext<RoleServer>,
    ) -> (Result<CallToolResponse, CallError>, u32) {
        let upstream = &self.upstreams()[route.upstream];
        request.name = route.name.clone().into();
        let retries = AtomicU32::new(0);
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(50))
            .with_max_times(if route.read_only { READ_RETRIES } else { 0 });
        let answer = (|| forward::call(upstream, request.clone(), cx))
            .retry(backoff)
            .when(|e: &CallError| e.kind == ErrorKind::Failed)
            .notify(|e, after| {
                retries.fetch_add(1, Ordering::Relaxed);
                self.inner.calls.metrics.backend_retry(&upstream.spec.name);
                tracing::info!(upstream = %upstream.spec.name, %e, ?after, "retrying a read");
            })
            .await;
        (answer, retries.into_inner())
    }

    /// What answers instead of a failed call (`why`): an older cached answer, or the fallback
    /// tool's; `None` when neither can.
    async fn instead(
        &self,
        catalog: &Catalog,
        request: &CallToolRequestParams,
        key: Option<&str>,
        why: &str,
        cx: &RequestContext<RoleServer>,
        record: &mut Record,
    ) -> Option<CallToolResponse> {
        let calls = &self.inner.calls;
        let name = request.name.as_ref();
        if let Some(entry) = key.and_then(|k| calls.cache.stale(k)) {
            record.cache = Some(Cache::Stale);
            record.error = Some(why.to_owned());
            let note = format!(
                "[the gateway's cached answer from {:.0} s ago; the fresh call failed: {why}]",
                entry.age().as_secs_f64()
            );
            return Some(noted(entry.result.clone(), note).into());
        }
        let fallback = calls.fallbacks.get(name)?;
        let Some(route) = catalog.routes.get(&fallback.with) else {
            tracing::warn!(tool = name, fallback = %fallback.with, "the fallback tool is not in the catalog");
            return None;
        };
        let empty = serde_json::Map::new();
        let arguments = match fallback.arguments_for(request.arguments.as_ref().unwrap_or(&empty)) {
            Ok(arguments) => arguments,
            Err(missing) => {
                tracing::info!(tool = name, %missing, "the fallback does not apply to this call");
                return None;
            }
        };
        let params = CallToolRequestParams::new(fallback.with.clone()).with_arguments(arguments);
        let (answer, _) = self.call_upstream(route, params, cx).await;
        match answer {
            Ok(CallToolResponse::Complete(result)) if result.is_error != Some(true) => {
                record.fallback = Some(fallback.with.clone());
                record.error = Some(why.to_owned());
                calls
                    .fallbacks_used
                    .get_or_create(&FallbackLabels {
                        tool: name.to_owned(),
                        fallback: fallback.with.clone(),
                    })
                    .inc();
                let note = format!(
                    "[{name} failed ({why}); answered by its fallback {} instead]",
                    fallback.with
                );
                Some(noted(result, note).into())
            }
            _ => None,
        }
    }
}
