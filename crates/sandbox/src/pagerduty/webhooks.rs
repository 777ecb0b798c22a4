//! Webhooks v3 out: each incident event goes to every active subscription whose event types and
//! filter (account, service or team) match, as one POST with PagerDuty's payload, signed with
//! `X-PagerDuty-Signature: v1=<hex HMAC-SHA256 of the body>` under the subscription's secret,
//! with `X-Webhook-Id` (the same on a retry) and `X-Webhook-Subscription`. Deliveries run in
//! order on one task; a timeout, 429 or 5xx is retried a few times (PagerDuty: for 48 hours).

use std::{
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{
    incidents::Emitted,
    model::{Account, Subscription, Urls, time},
};

/// The incident event types the stand-in emits.
pub const INCIDENT_EVENTS: &[&str] = &[
    "incident.triggered",
    "incident.acknowledged",
    "incident.unacknowledged",
    "incident.resolved",
    "incident.reopened",
    "incident.escalated",
    "incident.reassigned",
    "incident.delegated",
    "incident.annotated",
    "incident.priority_updated",
];

/// One POST to make.
#[derive(Debug)]
struct Delivery {
    url: String,
    secret: String,
    subscription: String,
    headers: Vec<(String, String)>,
    webhook_id: String,
    body: String,
}

/// The queue of deliveries and what became of them.
#[derive(Debug, Default)]
pub struct Outbox {
    queue: OnceLock<mpsc::UnboundedSender<Delivery>>,
    urls: Mutex<Option<Urls>>,
    log: Arc<Mutex<Vec<(String, String)>>>,
}

/// `v1=<hex HMAC-SHA256(secret, body)>`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
    format!("v1={}", hex::encode(aws_lc_rs::hmac::sign(&key, body)))
}

impl Outbox {
    /// The URLs payloads name (the stand-in's own address), known once it is serving.
    pub fn set_urls(&self, urls: Urls) {
        *self.urls.lock().unwrap_or_else(|e| e.into_inner()) = Some(urls);
    }

    pub fn log(&self) -> Vec<(String, String)> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Queue the events for every matching subscription.
    pub fn send(&self, account: &Account, emitted: Vec<Emitted>) {
        let Some(urls) = self.urls.lock().unwrap_or_else(|e| e.into_inner()).clone() else {
            return;
        };
        for event in emitted {
            let Some(incident) = account.incident(&event.incident) else {
                continue;
            };
            let teams = account
                .services
                .get(&incident.service)
                .map(|s| s.teams.clone())
                .unwrap_or_default();
            let event_id = format!("{}{}", account.subdomain, uuid::Uuid::new_v4().simple());
            let data = match &event.note {
                Some(note) => json!({
                    "id": note.id, "type": "incident_note", "content": note.content, "trimmed": false,
                    "incident": account.incident_ref(&urls, incident),
                }),
                None => incident_data(account, &urls, incident),
            };
            let payload = json!({ "event": {
                "id": event_id,
                "event_type": event.event_type,
                "resource_type": "incident",
                "occurred_at": jiff::Timestamp::now().round(jiff::Unit::Millisecond).map(|t| format!("{t:.3}")).unwrap_or_default(),
                "agent": account.agent(&urls, &event.agent),
                "client": null,
                "data": data,
            }});
            let body = payload.to_string();
            for sub in account
                .subscriptions
                .iter()
                .filter(|s| matches(s, event.event_type, &incident.service, &teams))
            {
                self.queue(Delivery {
                    url: sub.url.clone(),
                    secret: sub.secret.clone(),
                    subscription: sub.id.clone(),
                    headers: sub.custom_headers.clone(),
                    webhook_id: uuid::Uuid::new_v4().to_string(),
                    body: body.clone(),
                });
            }
        }
    }

    fn queue(&self, delivery: Delivery) {
        let log = self.log.clone();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            runtime.spawn(deliver(rx, log));
            tx
        });
        let _ = queue.send(delivery);
    }
}

fn matches(sub: &Subscription, event_type: &str, service: &str, teams: &[String]) -> bool {
    sub.active
        && sub.events.iter().any(|e| e == event_type)
        && match (sub.filter.0.as_str(), &sub.filter.1) {
            ("service_reference", Some(id)) => id == service,
            ("team_reference", Some(id)) => teams.contains(id),
            ("account_reference", _) => true,
            _ => false,
        }
}

/// Webhook `data` for an incident: REST's incident with `number` and `assignees` in place of
/// `incident_number` and `assignments`.
fn incident_data(account: &Account, urls: &Urls, incident: &super::model::Incident) -> Value {
    let rest = account.incident_json(urls, incident);
    json!({
        "id": incident.id, "type": "incident",
        "self": rest["self"], "html_url": rest["html_url"],
        "number": incident.number, "status": rest["status"], "incident_key": rest["incident_key"],
        "created_at": time(incident.created_at), "title": incident.title,
        "service": rest["service"],
        "assignees": incident.assignments.iter().map(|(_, u)| account.user_ref(urls, u)).collect::<Vec<_>>(),
        "escalation_policy": rest["escalation_policy"], "teams": rest["teams"],
        "priority": rest["priority"], "urgency": incident.urgency,
        "conference_bridge": null, "resolve_reason": null,
        "incident_type": { "name": "incident_default" },
    })
}

async fn deliver(
    mut rx: mpsc::UnboundedReceiver<Delivery>,
    log: Arc<Mutex<Vec<(String, String)>>>,
) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .user_agent("PagerDuty-Webhook/V3.0")
        .build()
        .expect("a plain HTTP client builds");
    while let Some(d) = rx.recv().await {
        let signature = signature(&d.secret, d.body.as_bytes());
        let mut outcome = String::new();
        for attempt in 0..3u32 {
            let mut request = client
                .post(&d.url)
                .header("content-type", "application/json")
                .header("x-pagerduty-signature", &signature)
                .header("x-webhook-id", &d.webhook_id)
                .header("x-webhook-subscription", &d.subscription);
            for (name, value) in &d.headers {
                request = request.header(name, value);
            }
            let result = request.body(d.body.clone()).send().await;
            let retry = match &result {
                Ok(r) => {
                    outcome = r.status().as_u16().to_string();
                    r.status().is_server_error() || r.status().as_u16() == 429
                }
                Err(e) => {
                    outcome = format!("error: {e}");
                    true
                }
            };
            if !retry {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
        }
        log.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((d.url, outcome));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn signature_is_hmac_sha256_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            super::signature("Jefe", b"what do ya want for nothing?"),
            "v1=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
