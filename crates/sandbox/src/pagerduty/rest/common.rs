//! What every REST handler shares: PagerDuty's error body as a response, query parameters with
//! repeated keys, URLs built from the request's host, classic pagination, `include[]` expansion,
//! the `From` user of a write, and JSON bodies.

use std::sync::Arc;

use axum::{
    Json,
    body::Bytes,
    extract::{FromRequestParts, State},
    http::{HeaderMap, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::pagerduty::{
    Failure, PagerDuty,
    model::{Account, Urls},
    oncall,
};

pub(super) type Shared = State<Arc<PagerDuty>>;
pub(super) type Answer = Result<Response, Failure>;

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        (status, Json(self.body())).into_response()
    }
}

/// What most handlers take from a request: its query parameters, and the URLs objects are
/// rendered with (from its `Host`).
pub(super) struct Req {
    pub p: Params,
    pub urls: Urls,
}

impl<S: Send + Sync> FromRequestParts<S> for Req {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            p: Params::new(parts.uri.query().map(str::to_owned)),
            urls: urls(&parts.headers),
        })
    }
}

/// Query parameters, repeated keys kept (`statuses[]=a&statuses[]=b`).
pub(super) struct Params(Vec<(String, String)>);

impl Params {
    pub(super) fn new(raw: Option<String>) -> Self {
        Self(
            form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    pub(super) fn one(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// An array filter: `key[]` (or `key`) repeated, or comma-separated.
    pub(super) fn many(&self, key: &str) -> Vec<String> {
        let bracketed = format!("{key}[]");
        self.0
            .iter()
            .filter(|(k, _)| *k == bracketed || k == key)
            .flat_map(|(_, v)| v.split(',').map(str::to_owned).collect::<Vec<_>>())
            .filter(|v| !v.is_empty())
            .collect()
    }

    pub(super) fn flag(&self, key: &str) -> bool {
        self.one(key) == Some("true")
    }

    pub(super) fn time(&self, key: &str, code: u32) -> Result<Option<Timestamp>, Failure> {
        self.one(key)
            .filter(|v| !v.is_empty())
            .map(|v| {
                parse_time(v).ok_or_else(|| Failure {
                    errors: vec![format!("{key} is not a valid ISO 8601 time: {v}")],
                    ..Failure::new(400, code, "Invalid Input Provided")
                })
            })
            .transpose()
    }
}

pub(super) fn parse_time(v: &str) -> Option<Timestamp> {
    v.parse::<Timestamp>().ok().or_else(|| {
        // A date, or a civil time without an offset, is taken as UTC.
        let civil: jiff::civil::DateTime = v.parse().ok().or_else(|| {
            v.parse::<jiff::civil::Date>()
                .ok()
                .map(|d| d.at(0, 0, 0, 0))
        })?;
        civil
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp())
    })
}

/// The URLs objects are rendered with: the host the request came to.
pub(super) fn urls(headers: &HeaderMap) -> Urls {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    Urls {
        api: format!("https://{host}"),
        web: format!("https://{host}/web"),
    }
}

/// A classic paginated list: `{<key>: [...], limit, offset, more, total}`.
pub(super) fn page(key: &str, items: Vec<Value>, params: &Params) -> Answer {
    let limit = match params.one("limit") {
        None => 25,
        Some(l) => l
            .parse::<usize>()
            .map_err(|_| Failure::invalid("limit must be a positive integer"))?
            .clamp(1, 100),
    };
    let offset = match params.one("offset") {
        None => 0,
        Some(o) => o
            .parse::<usize>()
            .map_err(|_| Failure::invalid("offset must be a non-negative integer"))?,
    };
    if offset + limit > 10_000 {
        return Err(Failure::invalid(
            "Offset + limit must be at most 10000: narrow the query (since/until, filters) instead",
        ));
    }
    let total = items.len();
    let shown: Vec<Value> = items.into_iter().skip(offset).take(limit).collect();
    let mut body = json!({
        "limit": limit, "offset": offset, "more": offset + shown.len() < total,
        "total": if params.flag("total") { json!(total) } else { Value::Null },
    });
    body[key] = Value::Array(shown);
    Ok(Json(body).into_response())
}

pub(super) fn one(key: &str, item: Value) -> Answer {
    let mut body = json!({});
    body[key] = item;
    Ok(Json(body).into_response())
}

/// `include[]`: references become full objects.
pub(super) fn expand(account: &Account, urls: &Urls, item: &mut Value, includes: &[String]) {
    let full = |kind: &str, id: &str| -> Option<Value> {
        Some(match kind {
            "user" => account.user(urls, account.users.get(id)?),
            "service" => account.service(urls, account.services.get(id)?),
            "escalation_policy" => account.policy(urls, account.policies.get(id)?),
            "team" => account.team(urls, account.teams.get(id)?),
            "schedule" => oncall::schedule_json(account, urls, account.schedules.get(id)?, None),
            _ => return None,
        })
    };
    let replace = |v: &mut Value, kind: &str| {
        if let Some(id) = v["id"].as_str().map(str::to_owned)
            && let Some(f) = full(kind, &id)
        {
            *v = f;
        }
    };
    for include in includes {
        match include.as_str() {
            "services" => replace(&mut item["service"], "service"),
            "escalation_policies" => replace(&mut item["escalation_policy"], "escalation_policy"),
            "schedules" => replace(&mut item["schedule"], "schedule"),
            "users" => {
                replace(&mut item["user"], "user");
                for a in item["assignments"].as_array_mut().into_iter().flatten() {
                    replace(&mut a["assignee"], "user");
                }
            }
            "assignees" => {
                for a in item["assignments"].as_array_mut().into_iter().flatten() {
                    replace(&mut a["assignee"], "user");
                }
            }
            "acknowledgers" => {
                for a in item["acknowledgements"]
                    .as_array_mut()
                    .into_iter()
                    .flatten()
                {
                    replace(&mut a["acknowledger"], "user");
                }
            }
            "teams" => {
                for t in item["teams"].as_array_mut().into_iter().flatten() {
                    replace(t, "team");
                }
            }
            "priorities" => {}
            "first_trigger_log_entries" => {
                if let Some(id) = item["first_trigger_log_entry"]["id"].as_str()
                    && let Some(e) = account.log_entries.iter().find(|e| e.id == id)
                {
                    item["first_trigger_log_entry"] = account.log_entry_json(urls, e);
                }
            }
            _ => {}
        }
    }
}

/// The user a write acts as: `From` must carry a known user's email.
pub(super) fn requester(account: &Account, headers: &HeaderMap) -> Result<String, Failure> {
    let from = headers
        .get("from")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .trim();
    if from.is_empty() {
        return Err(Failure::invalid(
            "You must specify a user's email address in the \"From\" header to perform this action",
        ));
    }
    account
        .user_by_email(from)
        .map(|u| u.id.clone())
        .ok_or_else(|| Failure {
            errors: vec![format!(
                "No user with the email {from} exists on this account"
            )],
            ..Failure::new(400, 1008, "Requester User Not Found")
        })
}

pub(super) fn json_body(body: &Bytes) -> Result<Value, Failure> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| Failure::invalid("The request body must be a JSON object"))
}
