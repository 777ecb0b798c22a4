//! REST API v2, the incident-response part, as PagerDuty's official clients see it:
//! `Authorization: Token token=…`, the versioned `Accept` header, `From` on incident writes,
//! error bodies with PagerDuty's codes, classic pagination (`limit` ≤ 100, `offset`, `more`,
//! `total` only with `total=true`, nothing past 10,000), `include[]`, array filters with `[]`,
//! `since`/`until` rules and `ratelimit-*` headers on every answer.

//!
//! [`common`] holds what every handler shares (query parameters, URLs from the request's host,
//! pagination, `include[]`, `From`); the handlers live in [`incidents`], [`directory`] (on-call,
//! schedules, policies, services, people, change events) and [`subscriptions`].

mod common;
mod directory;
mod incidents;
mod subscriptions;

use std::sync::Arc;

use axum::{
    Router,
    extract::{Request, State},
    http::{HeaderValue, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use jiff::Timestamp;

use self::{
    common::Shared,
    directory::{
        change_event_get, change_events_list, oncalls_list, policies_list, policy_get,
        priorities_list, schedule_get, schedule_users, schedules_list, service_change_events,
        service_get, services_list, team_get, team_members, teams_list, user_get, user_me,
        users_list,
    },
    incidents::{
        incident_alerts, incident_create, incident_get, incident_log_entries, incident_snooze,
        incident_update, incidents_bulk, incidents_list, log_entries_list, log_entry_get,
        note_create, notes_list, past_incidents, related_change_events, related_incidents,
    },
    subscriptions::{
        subscription_create, subscription_delete, subscription_get, subscriptions_list,
    },
};
use super::{Failure, PagerDuty};

pub fn router(pd: Arc<PagerDuty>) -> Router {
    Router::new()
        .route(
            "/incidents",
            get(incidents_list)
                .post(incident_create)
                .put(incidents_bulk),
        )
        .route("/incidents/{id}", get(incident_get).put(incident_update))
        .route("/incidents/{id}/alerts", get(incident_alerts))
        .route("/incidents/{id}/log_entries", get(incident_log_entries))
        .route("/incidents/{id}/notes", get(notes_list).post(note_create))
        .route("/incidents/{id}/snooze", post(incident_snooze))
        .route("/incidents/{id}/past_incidents", get(past_incidents))
        .route("/incidents/{id}/related_incidents", get(related_incidents))
        .route(
            "/incidents/{id}/related_change_events",
            get(related_change_events),
        )
        .route("/log_entries", get(log_entries_list))
        .route("/log_entries/{id}", get(log_entry_get))
        .route("/oncalls", get(oncalls_list))
        .route("/priorities", get(priorities_list))
        .route("/schedules", get(schedules_list))
        .route("/schedules/{id}", get(schedule_get))
        .route("/schedules/{id}/users", get(schedule_users))
        .route("/services", get(services_list))
        .route("/services/{id}", get(service_get))
        .route("/services/{id}/change_events", get(service_change_events))
        .route("/escalation_policies", get(policies_list))
        .route("/escalation_policies/{id}", get(policy_get))
        .route("/teams", get(teams_list))
        .route("/teams/{id}", get(team_get))
        .route("/teams/{id}/members", get(team_members))
        .route("/users", get(users_list))
        .route("/users/me", get(user_me))
        .route("/users/{id}", get(user_get))
        .route("/change_events", get(change_events_list))
        .route("/change_events/{id}", get(change_event_get))
        .route(
            "/webhook_subscriptions",
            get(subscriptions_list).post(subscription_create),
        )
        .route(
            "/webhook_subscriptions/{id}",
            get(subscription_get).delete(subscription_delete),
        )
        .fallback(|| async { Failure::not_found("Resource").into_response() })
        .layer(middleware::from_fn_with_state(pd.clone(), gate))
        .with_state(pd)
}

/// Auth, the versioned Accept header, rate limits (and the fault switch), and `ratelimit-*`
/// headers on every answer.
async fn gate(State(pd): Shared, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let token = auth.strip_prefix("Token token=").unwrap_or_default();
    if token.is_empty() || (token != pd.tokens.account && token != pd.tokens.user.0) {
        return Failure::new(401, 2006, "Authentication failed").into_response();
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .replace(' ', "");
    if !accept.contains("application/vnd.pagerduty+json;version=2") {
        return Failure::invalid(
            "The Accept header must ask for application/vnd.pagerduty+json;version=2",
        )
        .into_response();
    }
    let used = pd.count_request(token);
    let reset = 60 - Timestamp::now().as_second() % 60;
    let limit = pd.rate_limit();
    let limited = pd.throttled() || used > limit;
    let mut response = if limited {
        Failure::new(429, 2020, "Rate Limit Exceeded").into_response()
    } else {
        next.run(request).await
    };
    let h = response.headers_mut();
    let remaining = if limited {
        0
    } else {
        limit.saturating_sub(used)
    };
    h.insert("ratelimit-limit", HeaderValue::from(limit));
    h.insert("ratelimit-remaining", HeaderValue::from(remaining));
    h.insert("ratelimit-reset", HeaderValue::from(reset));
    response
}
