//! A host's `tools/call` forwarded to its upstream, faithfully: progress comes back under the
//! host's token, a cancelled call is cancelled upstream, and the safety engine's questions
//! reach the host and their answers go back.
//!
//! Every call goes upstream as a 2026-07-28 request carrying the host's client information and
//! capabilities, so an upstream that needs the user asks with an input-required result (tied
//! to this call, sealed by the upstream) and never with a request the gateway could not tie to
//! a host. Then:
//! - a 2026-07-28 host gets the input-required result as it is and retries through the
//!   gateway with its answer and the upstream's request state;
//! - a host that initialized (older protocols) is asked by the gateway with its own
//!   `elicitation/create` (or sampling, or roots) inside the call, and the gateway retries
//!   upstream with the answers — the host sees one call and one question.
//!
//! A host without elicitation is forwarded as one: the upstream refuses to ask, as it would
//! directly (fail closed).

use std::time::Duration;

use opsmcp_core::tools::failure;
use rmcp::{
    RoleServer,
    model::{
        CallToolRequestParams, CallToolResponse, ClientResult, Implementation, InputRequest,
        InputRequests, InputResponses, ProtocolVersion, RequestMetaObject, ResultType,
        ServerRequest,
    },
    service::RequestContext,
};
use serde_json::{Value, json};

use crate::upstream::{CallError, Upstream};

/// Questions asked on the host's behalf before the call gives up (an upstream that keeps
/// asking is broken).
const MAX_ROUNDS: usize = 8;

/// How long a host that initialized may take to answer one question (the upstream's own
/// approval timeout, sealed in its request state, usually ends it sooner).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// Forward `params` (already named as the upstream names the tool) for the host of `cx`.
pub async fn call(
    upstream: &Upstream,
    mut params: CallToolRequestParams,
    cx: &RequestContext<RoleServer>,
) -> Result<CallToolResponse, CallError> {
    let progress = cx
        .meta
        .get_progress_token()
        .map(|token| (cx.peer.clone(), token));
    let mut meta = upstream_meta(cx);
    // What the gateway itself adds (a workflow step asks for structured results).
    if let Some(extra) = params.meta.take() {
        meta.extend(extra);
    }
    let host_initialized = cx.protocol_version().is_none_or(|v| v.has_initialize());
    for _ in 0..MAX_ROUNDS {
        // Dropping the upstream call (the host cancelled) cancels it upstream.
        let response = tokio::select! {
            response = upstream.call(params.clone(), meta.clone(), progress.clone()) => response,
            () = cx.ct.cancelled() => return Ok(failure("the call was cancelled").into()),
        };
        let asked = match response {
            Ok(CallToolResponse::InputRequired(asked)) if host_initialized => asked,
            Ok(CallToolResponse::Complete(mut result)) => {
                // A foreign upstream may answer without the field a 2026-07-28 host needs.
                result.result_type.get_or_insert(ResultType::COMPLETE);
                return Ok(CallToolResponse::Complete(result));
            }
            other => return other,
        };
        let requests = asked.input_requests.unwrap_or_default();
        params.input_responses = if requests.is_empty() {
            None
        } else {
            Some(ask_host(cx, requests).await)
        };
        params.request_state = asked.request_state;
    }
    Ok(failure(format!(
        "upstream {} asked more than {MAX_ROUNDS} questions for one call; nothing more was sent",
        upstream.spec.name
    ))
    .into())
}

/// The `_meta` sent upstream: the host's, as a 2026-07-28 request naming the host (through the
/// gateway, for the upstream's audit log) with the host's capabilities. (The progress token is
/// the upstream connection's own, set when the request is sent; an initialized connection
/// adapts the rest, see [`Upstream::call`].)
fn upstream_meta(cx: &RequestContext<RoleServer>) -> RequestMetaObject {
    let mut meta = cx.meta.clone();
    let host = cx
        .client_info()
        .unwrap_or_else(|| Implementation::new("unknown client", "0"));
    meta.set_protocol_version(ProtocolVersion::V_2026_07_28);
    meta.set_client_info(Implementation::new(
        format!("{} via {}", host.name, env!("CARGO_PKG_NAME")),
        host.version,
    ));
    meta.set_client_capabilities(cx.client_capabilities().unwrap_or_default());
    meta
}

/// Put an upstream's questions to a host that initialized, one request each; a question the
/// host cannot answer goes back as declined, so the upstream records it and runs nothing.
async fn ask_host(cx: &RequestContext<RoleServer>, requests: InputRequests) -> InputResponses {
    let asked = requests.into_iter().map(|(key, request)| async move {
        let request = match request {
            InputRequest::Elicitation(r) => ServerRequest::ElicitRequest(r),
            InputRequest::CreateMessage(r) => ServerRequest::CreateMessageRequest(r),
            InputRequest::ListRoots(r) => ServerRequest::ListRootsRequest(r),
            _ => return (key, declined()),
        };
        let answer = tokio::select! {
            answer = tokio::time::timeout(ANSWER_TIMEOUT, cx.peer.send_request(request)) => answer,
            () = cx.ct.cancelled() => Ok(Err(rmcp::service::ServiceError::Cancelled { reason: None })),
        };
        let answer = match answer {
            Ok(Ok(ClientResult::ElicitResult(r))) => serde_json::to_value(r).ok(),
            Ok(Ok(ClientResult::CreateMessageResult(r))) => serde_json::to_value(r).ok(),
            Ok(Ok(ClientResult::ListRootsResult(r))) => serde_json::to_value(r).ok(),
            Ok(Ok(_)) => None,
            Ok(Err(e)) => {
                tracing::warn!(%e, "the host could not be asked");
                None
            }
            Err(_) => {
                tracing::warn!("the host did not answer in time");
                None
            }
        };
        (key, answer.unwrap_or_else(declined))
    });
    futures::future::join_all(asked).await.into_iter().collect()
}

fn declined() -> Value {
    json!({ "action": "decline" })
}
