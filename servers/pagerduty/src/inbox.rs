//! PagerDuty's webhooks v3, received (the tool that reads them is in [`crate::webhooks`]):
//! `POST /webhooks/pagerduty` checks
//! `X-PagerDuty-Signature` (any listed `v1=` HMAC-SHA256 of the body under
//! `PAGERDUTY_WEBHOOK_SECRET` may match, compared in constant time; otherwise 401 and nothing is
//! kept), drops repeats by the signed payload's event id, refuses events that occurred outside
//! the replay window (an old signed delivery posted again), and keeps the recent events in a
//! bounded buffer. They
//! are served as the resource `pagerduty://events` — subscribed sessions get
//! `notifications/resources/updated` — and by the tool `events_recent`, so an agent learns of a
//! new incident without polling.

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use axum::{
    Router,
    body::Bytes,
    extract::{DefaultBodyLimit, State},
    http::{HeaderMap, StatusCode},
    routing::post,
};
use jiff::Timestamp;
use opsmcp_core::{config::Secret, host::ResourceSource};
use rmcp::{
    Peer, RoleServer,
    model::{ReadResourceResult, Resource, ResourceContents, ResourceUpdatedNotificationParam},
};
use serde_json::Value;

use crate::render::{cut, name, short, untrusted_line};

pub const EVENTS_URI: &str = "pagerduty://events";
/// Events kept, and event ids remembered for de-duplication.
pub const KEEP: usize = 200;
const REMEMBER: usize = 2000;
/// How old (or how far ahead of this clock) an event's `occurred_at` may be: a delivery outside
/// it is a replay, not news. The ids of the window's events are remembered.
const WINDOW: jiff::SignedDuration = jiff::SignedDuration::from_mins(30);

/// One received event, summarised.
#[derive(Debug, Clone)]
pub struct Event {
    pub received: Timestamp,
    pub event_type: String,
    pub line: String,
}

#[derive(Debug, Default)]
struct State_ {
    events: VecDeque<Event>,
    seen: VecDeque<String>,
}

/// The receiver's state, shared by every session.
pub struct Events {
    secret: Option<Secret>,
    state: Mutex<State_>,
    /// Sessions subscribed with `resources/subscribe`.
    subscribers: Mutex<Vec<Peer<RoleServer>>>,
    /// Listening streams (`subscriptions/listen`) hear of updates here.
    updates: tokio::sync::broadcast::Sender<String>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}

/// Why a delivery was refused.
#[derive(Debug, PartialEq)]
pub enum Refusal {
    NoSecret,
    BadSignature,
    NotJson,
    /// `occurred_at` missing, or outside [`WINDOW`].
    Stale,
}

impl Events {
    pub fn new(secret: Option<Secret>) -> Self {
        Self {
            secret,
            state: Mutex::default(),
            subscribers: Mutex::default(),
            updates: tokio::sync::broadcast::channel(64).0,
        }
    }

    /// Check and keep one delivery; `Ok(false)` for a repeat.
    pub fn receive(&self, headers: &HeaderMap, body: &[u8]) -> Result<bool, Refusal> {
        let secret = self.secret.as_ref().ok_or(Refusal::NoSecret)?;
        let key =
            aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.expose().as_bytes());
        let signed = headers
            .get_all("x-pagerduty-signature")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|s| s.trim().strip_prefix("v1="))
            .filter_map(|hex_sig| hex::decode(hex_sig).ok())
            .any(|sig| aws_lc_rs::hmac::verify(&key, body, &sig).is_ok());
        if !signed {
            return Err(Refusal::BadSignature);
        }
        let payload: Value = serde_json::from_slice(body).map_err(|_| Refusal::NotJson)?;
        // What identifies and dates the event is inside the signed body: headers are not signed.
        let id = payload["event"]["id"]
            .as_str()
            .filter(|i| !i.is_empty())
            .ok_or(Refusal::NotJson)?
            .to_owned();
        let occurred: Timestamp = payload["event"]["occurred_at"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .ok_or(Refusal::Stale)?;
        let now = Timestamp::now();
        if occurred < now - WINDOW || occurred > now + WINDOW {
            return Err(Refusal::Stale);
        }
        {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if state.seen.contains(&id) {
                return Ok(false);
            }
            state.seen.push_back(id);
            if state.seen.len() > REMEMBER {
                state.seen.pop_front();
            }
            state.events.push_back(summarise(&payload["event"]));
            if state.events.len() > KEEP {
                state.events.pop_front();
            }
        }
        self.notify();
        Ok(true)
    }

    /// Tell subscribed sessions and listening streams the resource changed; forget the
    /// sessions that left.
    fn notify(&self) {
        let _ = self.updates.send(EVENTS_URI.to_owned());
        let peers: Vec<Peer<RoleServer>> = {
            let mut subscribers = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
            subscribers.retain(|p| !p.is_transport_closed());
            subscribers.clone()
        };
        for peer in peers {
            tokio::spawn(async move {
                let _ = peer
                    .notify_resource_updated(ResourceUpdatedNotificationParam::new(EVENTS_URI))
                    .await;
            });
        }
    }

    /// The newest `limit` events, newest first.
    pub fn recent(&self, limit: usize) -> Vec<Event> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.events.iter().rev().take(limit).cloned().collect()
    }

    /// The newest `limit` events as text, or why there are none.
    pub fn render(&self, limit: usize) -> String {
        let events = self.recent(limit);
        if events.is_empty() {
            return if self.secret.is_some() {
                "no PagerDuty webhook events received yet".into()
            } else {
                "webhooks are off: set PAGERDUTY_WEBHOOK_SECRET to the subscription's secret and point the subscription at /webhooks/pagerduty".into()
            };
        }
        let now = Timestamp::now();
        events
            .iter()
            .map(|e| format!("{} {}", short(e.received, now), e.line))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// `incident.triggered #12 title (worker) by Alertmanager — assigned Maya Chen`.
fn summarise(event: &Value) -> Event {
    let data = &event["data"];
    let event_type = event["event_type"].as_str().unwrap_or("?").to_owned();
    let what = if data["type"] == "incident_note" {
        format!(
            "{}: \"{}\"",
            name(&data["incident"]),
            cut(&untrusted_line(data["content"].as_str().unwrap_or("")), 200)
        )
    } else {
        let assignees: Vec<String> = data["assignees"]
            .as_array()
            .into_iter()
            .flatten()
            .map(name)
            .collect();
        format!(
            "#{} {} ({}, {}){}",
            data["number"],
            cut(&untrusted_line(data["title"].as_str().unwrap_or("")), 120),
            name(&data["service"]),
            data["status"].as_str().unwrap_or("?"),
            if assignees.is_empty() {
                String::new()
            } else {
                format!(" assigned {}", assignees.join(", "))
            }
        )
    };
    let agent = if event["agent"].is_null() {
        String::new()
    } else {
        format!(" — by {}", name(&event["agent"]))
    };
    Event {
        received: Timestamp::now(),
        line: format!(
            "{event_type} {what}{agent} [id {}]",
            data["id"].as_str().unwrap_or("")
        ),
        event_type,
    }
}

impl ResourceSource for Events {
    fn list(&self) -> Vec<Resource> {
        vec![
            Resource::new(EVENTS_URI, "pagerduty-events")
                .with_description("Recent PagerDuty webhook events (incidents triggered, acknowledged, annotated, resolved…); subscribe to be told of new ones")
                .with_mime_type("text/plain"),
        ]
    }

    fn read(&self, uri: &str) -> Option<ReadResourceResult> {
        (uri == EVENTS_URI).then(|| {
            ReadResourceResult::new(vec![ResourceContents::text(self.render(KEEP), EVENTS_URI)])
        })
    }

    fn subscribe(&self, uri: &str, peer: Peer<RoleServer>) -> bool {
        if uri != EVENTS_URI {
            return false;
        }
        self.subscribers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(peer);
        true
    }

    fn updates(&self) -> tokio::sync::broadcast::Receiver<String> {
        self.updates.subscribe()
    }

    fn unsubscribe(&self, uri: &str, peer: &Peer<RoleServer>) {
        if uri != EVENTS_URI {
            return;
        }
        // A session is known by its client info, shared by the clones of its peer.
        let Some(info) = peer.peer_info() else { return };
        self.subscribers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|p| p.peer_info().is_none_or(|i| !Arc::ptr_eq(&i, &info)));
    }
}

/// `POST /webhooks/pagerduty`.
pub fn router(events: Arc<Events>) -> Router {
    Router::new()
        .route("/webhooks/pagerduty", post(deliver))
        .layer(DefaultBodyLimit::max(512 * 1024))
        .with_state(events)
}

async fn deliver(
    State(events): State<Arc<Events>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    match events.receive(&headers, &body) {
        Ok(true) => (StatusCode::OK, "kept\n"),
        Ok(false) => (StatusCode::OK, "already received\n"),
        Err(Refusal::NoSecret) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "webhooks are off: PAGERDUTY_WEBHOOK_SECRET is not set\n",
        ),
        Err(Refusal::BadSignature) => (StatusCode::UNAUTHORIZED, "bad or missing signature\n"),
        Err(Refusal::NotJson) => (StatusCode::BAD_REQUEST, "not a webhook payload\n"),
        Err(Refusal::Stale) => (
            StatusCode::BAD_REQUEST,
            "the event's occurred_at is missing or outside the 30-minute replay window\n",
        ),
    }
}

/// Serve the receiver on `addr` as well (stdio mode); a failure to bind is logged.
pub fn listen(addr: SocketAddr, events: Arc<Events>) {
    tokio::spawn(async move {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => {
                tracing::info!(local = %listener.local_addr().map_or(addr, |a| a), "receiving PagerDuty webhooks at /webhooks/pagerduty");
                let limits = opsmcp_core::listener::Limits::default();
                opsmcp_core::listener::serve(
                    listener,
                    router(events),
                    limits,
                    std::future::pending(),
                )
                .await;
            }
            Err(e) => tracing::error!("cannot listen for webhooks on {addr}: {e}"),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(secret: &str, body: &[u8]) -> String {
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
        format!("v1={}", hex::encode(aws_lc_rs::hmac::sign(&key, body)))
    }

    #[test]
    fn signatures_repeats_and_rotation() {
        let events = Events::new(Some(Secret::new("s3cret")));
        let now = Timestamp::now();
        let body = format!(
            r#"{{"event":{{"id":"E1","event_type":"incident.triggered","occurred_at":"{now}","data":{{"id":"Q1","number":7,"title":"disk full","status":"triggered"}}}}}}"#
        );
        let body = body.as_bytes();
        let mut headers = HeaderMap::new();
        assert_eq!(events.receive(&headers, body), Err(Refusal::BadSignature));
        headers.insert(
            "x-pagerduty-signature",
            signed("other", body).parse().unwrap(),
        );
        assert_eq!(events.receive(&headers, body), Err(Refusal::BadSignature));
        // During a rotation two signatures come; one match is enough.
        let both = format!("{},{}", signed("old", body), signed("s3cret", body));
        headers.insert("x-pagerduty-signature", both.parse().unwrap());
        headers.insert("x-webhook-id", "W1".parse().unwrap());
        assert_eq!(events.receive(&headers, body), Ok(true));
        assert_eq!(events.receive(&headers, body), Ok(false), "a repeat");
        // The same signed event with another (unsigned) delivery id is still a repeat.
        headers.insert("x-webhook-id", "W2".parse().unwrap());
        assert_eq!(
            events.receive(&headers, body),
            Ok(false),
            "a replay with a new id"
        );
        let recent = events.recent(5);
        assert_eq!(recent.len(), 1);
        assert!(
            recent[0]
                .line
                .starts_with("incident.triggered #7 disk full"),
            "{}",
            recent[0].line
        );
        assert_eq!(
            Events::new(None).receive(&headers, body),
            Err(Refusal::NoSecret)
        );
    }

    #[test]
    fn an_event_outside_the_window_is_refused() {
        let events = Events::new(Some(Secret::new("s3cret")));
        let old = Timestamp::now() - jiff::SignedDuration::from_hours(2);
        for body in [
            format!(
                r#"{{"event":{{"id":"E2","event_type":"incident.triggered","occurred_at":"{old}","data":{{}}}}}}"#
            ),
            r#"{"event":{"id":"E3","event_type":"incident.triggered","data":{}}}"#.to_owned(),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(
                "x-pagerduty-signature",
                signed("s3cret", body.as_bytes()).parse().unwrap(),
            );
            assert_eq!(
                events.receive(&headers, body.as_bytes()),
                Err(Refusal::Stale),
                "{body}"
            );
        }
        assert!(events.recent(5).is_empty());
    }
}
