//! Events API v2 (`POST /v2/enqueue`, `POST /v2/change/enqueue`) as monitoring tools such as
//! Alertmanager use it: a trigger opens an alert on the service whose integration owns the
//! routing key, and an incident with the alert's `dedup_key` as its key; a trigger for an alert
//! that is still open is de-duplicated; acknowledge and resolve act on the open alert (and are
//! dropped, not refused, when there is none); the incident resolves with its last alert.

use std::sync::Arc;

use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::post,
};
use jiff::Timestamp;
use serde_json::{Value, json};

use super::{
    PagerDuty,
    incidents::NewIncident,
    model::{Account, Agent, Alert, ChangeEvent, Status},
};

pub fn router(pd: Arc<PagerDuty>) -> Router {
    Router::new()
        .route("/v2/enqueue", post(enqueue))
        .route("/v2/change/enqueue", post(change))
        .with_state(pd)
}

/// 400 with the Events API's body.
fn invalid(errors: Vec<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "status": "invalid event", "message": "Event object is invalid", "errors": errors })),
    )
        .into_response()
}

fn parse(body: &[u8]) -> Option<Value> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object)
}

/// The service whose integration owns `routing_key`.
fn service_for(account: &Account, event: &Value) -> Result<String, Vec<String>> {
    let key = event["routing_key"].as_str().unwrap_or_default();
    if key.is_empty() {
        return Err(vec!["'routing_key' is missing or blank".into()]);
    }
    if key.len() != 32 {
        return Err(vec![
            "Length of 'routing_key' is incorrect (should be 32 characters)".into(),
        ]);
    }
    account
        .services
        .values()
        .find(|s| s.integration.routing_key == key)
        .map(|s| s.id.clone())
        .ok_or_else(|| vec!["Invalid routing key: no integration uses it".into()])
}

async fn enqueue(State(pd): State<Arc<PagerDuty>>, body: Bytes) -> Response {
    let Some(event) = parse(&body) else {
        return invalid(vec!["Event object is not valid JSON".into()]);
    };
    let action = event["event_action"].as_str().unwrap_or_default();
    let dedup_key = event["dedup_key"].as_str().map(str::to_owned);
    let mut errors = Vec::new();
    if !matches!(action, "trigger" | "acknowledge" | "resolve") {
        errors.push(
            "'event_action' is invalid (must be one of trigger, acknowledge, resolve)".into(),
        );
    }
    if dedup_key.as_ref().is_some_and(|k| k.len() > 255) {
        errors.push("'dedup_key' is too long (maximum is 255 characters)".into());
    }
    if action != "trigger" && dedup_key.as_deref().unwrap_or_default().is_empty() {
        errors.push(format!("'dedup_key' is required for event_action {action}"));
    }
    let payload = &event["payload"];
    if action == "trigger" {
        for field in ["summary", "source", "severity"] {
            if payload[field].as_str().is_none_or(str::is_empty) {
                errors.push(format!("'payload.{field}' is missing or blank"));
            }
        }
        if let Some(s) = payload["severity"].as_str()
            && !matches!(s, "critical" | "error" | "warning" | "info")
        {
            errors.push(
                "'payload.severity' is invalid (must be one of critical, error, warning, info)"
                    .into(),
            );
        }
        if payload["summary"]
            .as_str()
            .is_some_and(|s| s.chars().count() > 1024)
        {
            errors.push("'payload.summary' is too long (maximum is 1024 characters)".into());
        }
    }
    let mut account = pd.account();
    let service = match service_for(&account, &event) {
        Ok(s) => s,
        Err(e) => {
            errors.extend(e);
            String::new()
        }
    };
    if !errors.is_empty() {
        return invalid(errors);
    }
    let dedup_key = dedup_key
        .filter(|k| !k.is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let now = Timestamp::now();
    let agent = Agent::Integration {
        service: service.clone(),
    };
    let open = account.alerts.iter().position(|a| {
        a.service == service && a.dedup_key == dedup_key && a.status != Status::Resolved
    });
    let emitted = match (action, open) {
        // A trigger for an open alert is de-duplicated.
        ("trigger", Some(_)) => Vec::new(),
        ("trigger", None) => {
            let summary = payload["summary"].as_str().unwrap_or_default().to_owned();
            let triggered = account.trigger(
                NewIncident {
                    service: service.clone(),
                    title: summary.clone(),
                    urgency: "high".into(),
                    incident_key: dedup_key.clone(),
                    details: Some(payload["custom_details"].clone()).filter(|d| !d.is_null()),
                    priority: None,
                    assignees: Vec::new(),
                    escalation_policy: None,
                },
                &agent,
                now,
            );
            match triggered {
                Ok((incident, emitted)) => {
                    let alert_id = account.new_id();
                    let first = account
                        .incident(&incident)
                        .map(|i| i.first_trigger_log_entry.clone())
                        .unwrap_or_default();
                    let client = event["client"].as_str().map(|c| {
                        (
                            c.to_owned(),
                            event["client_url"].as_str().unwrap_or_default().to_owned(),
                        )
                    });
                    account.alerts.push(Alert {
                        id: alert_id,
                        incident,
                        service: service.clone(),
                        dedup_key: dedup_key.clone(),
                        status: Status::Triggered,
                        created_at: now,
                        summary,
                        severity: payload["severity"].as_str().unwrap_or("error").to_owned(),
                        source: payload["source"].as_str().unwrap_or_default().to_owned(),
                        custom_details: payload["custom_details"].clone(),
                        client,
                        first_trigger_log_entry: first,
                    });
                    emitted
                }
                Err(f) => return invalid(vec![f.message]),
            }
        }
        // Acknowledge or resolve with no open alert is dropped.
        (_, None) => Vec::new(),
        ("acknowledge", Some(i)) => {
            let incident = account.alerts[i].incident.clone();
            account
                .set_status(&incident, Status::Acknowledged, None, &agent, now)
                .unwrap_or_default()
        }
        (_, Some(i)) => {
            account.alerts[i].status = Status::Resolved;
            let incident = account.alerts[i].incident.clone();
            let all_resolved = account
                .alerts
                .iter()
                .filter(|a| a.incident == incident)
                .all(|a| a.status == Status::Resolved);
            if all_resolved {
                account
                    .set_status(&incident, Status::Resolved, None, &agent, now)
                    .unwrap_or_default()
            } else {
                Vec::new()
            }
        }
    };
    pd.announce(&account, emitted);
    (
        StatusCode::ACCEPTED,
        Json(json!({ "status": "success", "message": "Event processed", "dedup_key": dedup_key })),
    )
        .into_response()
}

async fn change(State(pd): State<Arc<PagerDuty>>, body: Bytes) -> Response {
    let Some(event) = parse(&body) else {
        return invalid(vec!["Event object is not valid JSON".into()]);
    };
    let mut account = pd.account();
    let mut errors = Vec::new();
    let service = service_for(&account, &event).unwrap_or_else(|e| {
        errors.extend(e);
        String::new()
    });
    let payload = &event["payload"];
    let summary = payload["summary"].as_str().unwrap_or_default();
    if summary.is_empty() {
        errors.push("'payload.summary' is missing or blank".into());
    }
    let timestamp = match payload["timestamp"].as_str() {
        None => Ok(Timestamp::now()),
        Some(t) => t.parse::<Timestamp>(),
    };
    let Ok(timestamp) = timestamp else {
        errors.push("'payload.timestamp' is not a valid ISO 8601 time".into());
        return invalid(errors);
    };
    if !errors.is_empty() {
        return invalid(errors);
    }
    let id = account.new_id();
    account.change_events.push(ChangeEvent {
        id,
        service,
        timestamp,
        summary: summary.to_owned(),
        source: payload["source"].as_str().unwrap_or_default().to_owned(),
        custom_details: payload["custom_details"].clone(),
        links: event["links"].as_array().cloned().unwrap_or_default(),
    });
    (
        StatusCode::ACCEPTED,
        Json(json!({ "status": "success", "message": "Change event processed" })),
    )
        .into_response()
}
