//! Webhook subscriptions: list, create (the secret is shown once), get, delete.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
    http::StatusCode,
    response::IntoResponse,
};
use serde_json::json;

use super::common::{Answer, Req, Shared, json_body, one, page};
use crate::pagerduty::{Failure, model::Subscription};

pub(super) async fn subscriptions_list(State(pd): Shared, Req { p, .. }: Req) -> Answer {
    let account = pd.account();
    let items = account
        .subscriptions
        .iter()
        .map(|s| s.render(false))
        .collect();
    page("webhook_subscriptions", items, &p)
}

pub(super) async fn subscription_create(State(pd): Shared, body: Bytes) -> Answer {
    let body = json_body(&body)?;
    let s = &body["webhook_subscription"];
    let url = s["delivery_method"]["url"].as_str().unwrap_or_default();
    let parsed = reqwest::Url::parse(url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"));
    if parsed.is_none() {
        return Err(Failure::invalid(
            "delivery_method.url must be an http(s) URL",
        ));
    }
    let events: Vec<String> = s["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e.as_str().map(str::to_owned))
        .collect();
    if events.is_empty() {
        return Err(Failure::invalid("events must name at least one event type"));
    }
    let filter_type = s["filter"]["type"].as_str().unwrap_or_default().to_owned();
    let filter_id = s["filter"]["id"].as_str().map(str::to_owned);
    if !matches!(
        filter_type.as_str(),
        "account_reference" | "service_reference" | "team_reference"
    ) || (filter_type != "account_reference" && filter_id.is_none())
    {
        return Err(Failure::invalid(
            "filter must be account_reference, or service_reference or team_reference with an id",
        ));
    }
    let mut account = pd.account();
    let sub = Subscription {
        id: account.new_id(),
        url: url.to_owned(),
        secret: uuid::Uuid::new_v4().simple().to_string()
            + &uuid::Uuid::new_v4().simple().to_string()[..16],
        events,
        filter: (filter_type, filter_id),
        description: s["description"].as_str().unwrap_or_default().to_owned(),
        custom_headers: s["delivery_method"]["custom_headers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|h| {
                Some((
                    h["name"].as_str()?.to_owned(),
                    h["value"].as_str()?.to_owned(),
                ))
            })
            .collect(),
        active: s["active"].as_bool().unwrap_or(true),
    };
    let v = sub.render(true);
    account.subscriptions.push(sub);
    Ok((
        StatusCode::CREATED,
        Json(json!({ "webhook_subscription": v })),
    )
        .into_response())
}

pub(super) async fn subscription_get(State(pd): Shared, Path(id): Path<String>) -> Answer {
    let account = pd.account();
    let s = account
        .subscriptions
        .iter()
        .find(|s| s.id == id)
        .ok_or_else(|| Failure::not_found("Webhook subscription"))?;
    one("webhook_subscription", s.render(false))
}

pub(super) async fn subscription_delete(State(pd): Shared, Path(id): Path<String>) -> Answer {
    let mut account = pd.account();
    let before = account.subscriptions.len();
    account.subscriptions.retain(|s| s.id != id);
    if account.subscriptions.len() == before {
        return Err(Failure::not_found("Webhook subscription"));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
