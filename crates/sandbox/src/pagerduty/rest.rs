//! REST API v2, the incident-response part, as PagerDuty's official clients see it:
//! `Authorization: Token token=…`, the versioned `Accept` header, `From` on incident writes,
//! error bodies with PagerDuty's codes, classic pagination (`limit` ≤ 100, `offset`, `more`,
//! `total` only with `total=true`, nothing past 10,000), `include[]`, array filters with `[]`,
//! `since`/`until` rules and `ratelimit-*` headers on every answer.

use std::sync::Arc;

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, RawQuery, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::{
    Failure, PagerDuty,
    incidents::NewIncident,
    model::{Account, Agent, Incident, Status, Subscription, Urls, time},
    oncall,
};

type Shared = State<Arc<PagerDuty>>;
type Answer = Result<Response, Failure>;

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        (status, Json(self.body())).into_response()
    }
}

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
        .route(
            "/incidents/{id}/snooze",
            axum::routing::post(incident_snooze),
        )
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
        return Failure {
            errors: Vec::new(),
            ..Failure::new(401, 2006, "Authentication failed")
        }
        .into_response();
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
    let limited = pd.throttled() || used > pd.rate_limit;
    let mut response = if limited {
        Failure::new(429, 2020, "Rate Limit Exceeded").into_response()
    } else {
        next.run(request).await
    };
    let h = response.headers_mut();
    let remaining = if limited {
        0
    } else {
        pd.rate_limit.saturating_sub(used)
    };
    h.insert("ratelimit-limit", HeaderValue::from(pd.rate_limit));
    h.insert("ratelimit-remaining", HeaderValue::from(remaining));
    h.insert("ratelimit-reset", HeaderValue::from(reset));
    response
}

/// Query parameters, repeated keys kept (`statuses[]=a&statuses[]=b`).
struct Params(Vec<(String, String)>);

impl Params {
    fn new(raw: Option<String>) -> Self {
        Self(
            form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    fn one(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// An array filter: `key[]` (or `key`) repeated, or comma-separated.
    fn many(&self, key: &str) -> Vec<String> {
        let bracketed = format!("{key}[]");
        self.0
            .iter()
            .filter(|(k, _)| *k == bracketed || k == key)
            .flat_map(|(_, v)| v.split(',').map(str::to_owned).collect::<Vec<_>>())
            .filter(|v| !v.is_empty())
            .collect()
    }

    fn flag(&self, key: &str) -> bool {
        self.one(key) == Some("true")
    }

    fn time(&self, key: &str, code: u32) -> Result<Option<Timestamp>, Failure> {
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

fn parse_time(v: &str) -> Option<Timestamp> {
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
fn urls(headers: &HeaderMap) -> Urls {
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
fn page(key: &str, items: Vec<Value>, params: &Params) -> Answer {
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

fn one(key: &str, item: Value) -> Answer {
    let mut body = json!({});
    body[key] = item;
    Ok(Json(body).into_response())
}

/// `include[]`: references become full objects.
fn expand(account: &Account, urls: &Urls, item: &mut Value, includes: &[String]) {
    let full = |kind: &str, id: &str| -> Option<Value> {
        Some(match kind {
            "user" => account.user(urls, account.users.get(id)?),
            "service" => account.service(urls, account.services.get(id)?),
            "escalation_policy" => account.policy(urls, account.policies.get(id)?),
            "team" => account.team(urls, account.teams.get(id)?),
            "schedule" => schedule_json(account, urls, account.schedules.get(id)?, None),
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
fn requester(account: &Account, headers: &HeaderMap) -> Result<String, Failure> {
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

fn json_body(body: &Bytes) -> Result<Value, Failure> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| Failure::invalid("The request body must be a JSON object"))
}

// --- incidents -------------------------------------------------------------------------------

async fn incidents_list(State(pd): Shared, headers: HeaderMap, RawQuery(raw): RawQuery) -> Answer {
    let p = Params::new(raw);
    let urls = urls(&headers);
    let account = pd.account();
    let now = Timestamp::now();
    let (since, until) = if p.one("date_range") == Some("all") {
        (None, None)
    } else {
        let until = p.time("until", 2005)?.unwrap_or(now);
        let since = p
            .time("since", 2004)?
            .unwrap_or(until - SignedDuration::from_hours(24 * 30));
        if until < since {
            return Err(Failure::invalid("until must be after since"));
        }
        if until.duration_since(since) > SignedDuration::from_hours(24 * 183) {
            return Err(Failure::invalid(
                "The time range between since and until may not exceed 6 months",
            ));
        }
        (Some(since), Some(until))
    };
    let statuses = p.many("statuses");
    for s in &statuses {
        if Status::parse(s).is_none() {
            return Err(Failure::invalid(format!(
                "statuses: {s} is not one of triggered, acknowledged, resolved"
            )));
        }
    }
    let (urgencies, services, teams, users) = (
        p.many("urgencies"),
        p.many("service_ids"),
        p.many("team_ids"),
        p.many("user_ids"),
    );
    let key = p.one("incident_key");
    let mut found: Vec<&Incident> = account
        .incidents
        .iter()
        .filter(|i| {
            since.is_none_or(|s| i.created_at >= s) && until.is_none_or(|u| i.created_at <= u)
        })
        .filter(|i| statuses.is_empty() || statuses.iter().any(|s| s == i.status.as_str()))
        .filter(|i| urgencies.is_empty() || urgencies.contains(&i.urgency))
        .filter(|i| services.is_empty() || services.contains(&i.service))
        .filter(|i| {
            teams.is_empty()
                || account
                    .services
                    .get(&i.service)
                    .is_some_and(|s| s.teams.iter().any(|t| teams.contains(t)))
        })
        .filter(|i| {
            users.is_empty()
                || i.status != Status::Resolved
                    && i.assignments.iter().any(|(_, u)| users.contains(u))
        })
        .filter(|i| key.is_none_or(|k| i.incident_key == k))
        .collect();
    let sort = p.one("sort_by").unwrap_or("created_at:asc");
    for part in sort.split(',').rev() {
        let (field, order) = part.split_once(':').unwrap_or((part, "asc"));
        let rank = |i: &Incident| -> (i64, String) {
            match field {
                "incident_number" => (i.number as i64, String::new()),
                "resolved_at" => (
                    i.resolved_at.map_or(i64::MAX, |t| t.as_second()),
                    String::new(),
                ),
                "urgency" => (0, i.urgency.clone()),
                _ => (i.created_at.as_second(), String::new()),
            }
        };
        if !matches!(
            field,
            "incident_number" | "created_at" | "resolved_at" | "urgency"
        ) {
            return Err(Failure::invalid(format!(
                "sort_by: {field} cannot be sorted on"
            )));
        }
        found.sort_by_key(|i| rank(i));
        if order == "desc" {
            found.reverse();
        }
    }
    let includes = p.many("include");
    let items = found
        .into_iter()
        .map(|i| {
            let mut v = account.incident_json(&urls, i);
            expand(&account, &urls, &mut v, &includes);
            v
        })
        .collect();
    page("incidents", items, &p)
}

async fn incident_get(
    State(pd): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let p = Params::new(raw);
    let urls = urls(&headers);
    let account = pd.account();
    let incident = account
        .incident(&id)
        .ok_or_else(|| Failure::not_found("Incident"))?;
    let mut v = account.incident_json(&urls, incident);
    expand(&account, &urls, &mut v, &p.many("include"));
    one("incident", v)
}

async fn incident_create(State(pd): Shared, headers: HeaderMap, body: Bytes) -> Answer {
    let urls = urls(&headers);
    let mut account = pd.account();
    let user = requester(&account, &headers)?;
    let body = json_body(&body)?;
    let i = &body["incident"];
    if i["type"] != "incident" {
        return Err(Failure::invalid("incident.type must be \"incident\""));
    }
    let title = i["title"].as_str().unwrap_or_default().trim();
    if title.is_empty() {
        return Err(Failure::invalid("incident.title can't be blank"));
    }
    let service = i["service"]["id"].as_str().unwrap_or_default();
    if !account.services.contains_key(service) {
        return Err(Failure::invalid(
            "incident.service must name an existing service",
        ));
    }
    let urgency = i["urgency"].as_str().unwrap_or("high");
    if !matches!(urgency, "high" | "low") {
        return Err(Failure::invalid("incident.urgency must be high or low"));
    }
    let key = i["incident_key"].as_str().map(str::to_owned);
    if let Some(k) = &key
        && account
            .incidents
            .iter()
            .any(|x| x.incident_key == *k && x.service == service && x.status != Status::Resolved)
    {
        return Err(Failure::invalid(format!(
            "Open incident with key '{k}' already exists on this service"
        )));
    }
    let priority = i["priority"]["id"].as_str().map(str::to_owned);
    if let Some(pr) = &priority
        && !account.priorities.iter().any(|x| x.id == *pr)
    {
        return Err(Failure::invalid(
            "incident.priority must name an existing priority",
        ));
    }
    let assignees: Vec<String> = i["assignments"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["assignee"]["id"].as_str().map(str::to_owned))
        .collect();
    let (id, emitted) = account.trigger(
        NewIncident {
            service: service.to_owned(),
            title: title.to_owned(),
            urgency: urgency.to_owned(),
            incident_key: key.unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string()),
            details: i["body"]["details"].as_str().map(|d| json!(d)),
            priority,
            assignees,
            escalation_policy: i["escalation_policy"]["id"].as_str().map(str::to_owned),
        },
        &Agent::User(user),
        Timestamp::now(),
    )?;
    pd.announce(&account, emitted);
    let v = account.incident_json(&urls, account.incident(&id).unwrap());
    Ok((StatusCode::CREATED, Json(json!({ "incident": v }))).into_response())
}

/// Apply one incident update (the body's `incident`, or an item of a bulk update).
fn update(
    account: &mut Account,
    pd: &PagerDuty,
    id: &str,
    i: &Value,
    user: &str,
) -> Result<(), Failure> {
    if !matches!(i["type"].as_str(), Some("incident_reference" | "incident")) {
        return Err(Failure::invalid(
            "incident.type must be \"incident_reference\"",
        ));
    }
    if account.incident(id).is_none() {
        return Err(Failure::not_found("Incident"));
    }
    let agent = Agent::User(user.to_owned());
    let now = Timestamp::now();
    let mut emitted = Vec::new();
    if let Some(s) = i["status"].as_str() {
        let status = Status::parse(s).ok_or_else(|| {
            Failure::new(
                400,
                1003,
                format!("Invalid status {s}: use triggered, acknowledged or resolved"),
            )
        })?;
        let resolution = i["resolution"].as_str().map(str::to_owned);
        emitted.extend(account.set_status(id, status, resolution, &agent, now)?);
    }
    if let Some(assignments) = i["assignments"].as_array() {
        let users = assignments
            .iter()
            .filter_map(|a| a["assignee"]["id"].as_str().map(str::to_owned))
            .collect();
        emitted.extend(account.reassign(id, users, &agent, now)?);
    }
    if let Some(policy) = i["escalation_policy"]["id"].as_str() {
        emitted.extend(account.delegate(id, policy, &agent, now)?);
    }
    if let Some(level) = i.get("escalation_level").filter(|v| !v.is_null()) {
        let level = level
            .as_u64()
            .ok_or_else(|| Failure::invalid("escalation_level must be a positive integer"))?;
        emitted.extend(account.escalate(id, level as usize, &agent, now)?);
    }
    let priority = match i.get("priority") {
        Some(Value::Null) => Some(None),
        Some(p) => {
            let pid = p["id"].as_str().unwrap_or_default();
            if !account.priorities.iter().any(|x| x.id == pid) {
                return Err(Failure::invalid("priority must name an existing priority"));
            }
            Some(Some(pid.to_owned()))
        }
        None => None,
    };
    let incident = account.incident_mut(id).unwrap();
    if let Some(t) = i["title"].as_str() {
        incident.title = t.to_owned();
        incident.updated_at = now;
    }
    if let Some(u) = i["urgency"].as_str() {
        if !matches!(u, "high" | "low") {
            return Err(Failure::invalid("urgency must be high or low"));
        }
        incident.urgency = u.to_owned();
        incident.updated_at = now;
    }
    if let Some(p) = priority {
        incident.priority = p;
        incident.updated_at = now;
        let key = incident.id.clone();
        emitted.push(super::incidents::Emitted {
            event_type: "incident.priority_updated",
            incident: key,
            agent,
            note: None,
        });
    }
    pd.announce(account, emitted);
    Ok(())
}

async fn incident_update(
    State(pd): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let urls = urls(&headers);
    let mut account = pd.account();
    let user = requester(&account, &headers)?;
    let body = json_body(&body)?;
    let id = account
        .incident(&id)
        .map(|i| i.id.clone())
        .ok_or_else(|| Failure::not_found("Incident"))?;
    update(&mut account, &pd, &id, &body["incident"], &user)?;
    one(
        "incident",
        account.incident_json(&urls, account.incident(&id).unwrap()),
    )
}

async fn incidents_bulk(State(pd): Shared, headers: HeaderMap, body: Bytes) -> Answer {
    let urls = urls(&headers);
    let mut account = pd.account();
    let user = requester(&account, &headers)?;
    let body = json_body(&body)?;
    let items = body["incidents"]
        .as_array()
        .ok_or_else(|| Failure::invalid("incidents must be an array"))?;
    if items.len() > 250 {
        return Err(Failure::new(
            413,
            2001,
            "At most 250 incidents can be updated at once",
        ));
    }
    let mut updated = Vec::new();
    for item in items {
        let id = item["id"].as_str().unwrap_or_default();
        let id = account
            .incident(id)
            .map(|i| i.id.clone())
            .ok_or_else(|| Failure::not_found("Incident"))?;
        update(&mut account, &pd, &id, item, &user)?;
        updated.push(account.incident_json(&urls, account.incident(&id).unwrap()));
    }
    let n = updated.len();
    Ok(
        Json(
            json!({ "incidents": updated, "limit": n, "offset": 0, "more": false, "total": null }),
        )
        .into_response(),
    )
}

async fn incident_alerts(
    State(pd): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let p = Params::new(raw);
    let urls = urls(&headers);
    let account = pd.account();
    let incident = account
        .incident(&id)
        .ok_or_else(|| Failure::not_found("Incident"))?;
    let statuses = p.many("statuses");
    let key = p.one("alert_key");
    let items = account
        .alerts
        .iter()
        .filter(|a| a.incident == incident.id)
        .filter(|a| statuses.is_empty() || statuses.iter().any(|s| s == a.status.as_str()))
        .filter(|a| key.is_none_or(|k| a.dedup_key == k))
        .map(|a| account.alert_json(&urls, a))
        .collect();
    page("alerts", items, &p)
}

/// Log entries newest first, `is_overview` keeping the major changes only.
fn log_entries(
    account: &Account,
    urls: &Urls,
    p: &Params,
    incident: Option<&str>,
) -> Result<Vec<Value>, Failure> {
    let since = p.time("since", 2004)?;
    let until = p.time("until", 2005)?;
    let overview = p.flag("is_overview");
    let includes = p.many("include");
    Ok(account
        .log_entries
        .iter()
        .rev()
        .filter(|e| incident.is_none_or(|i| e.incident == i))
        .filter(|e| {
            since.is_none_or(|s| e.created_at >= s) && until.is_none_or(|u| e.created_at <= u)
        })
        .filter(|e| !overview || !matches!(e.kind, "notify"))
        .map(|e| {
            let mut v = account.log_entry_json(urls, e);
            if includes.iter().any(|i| i == "incidents")
                && let Some(i) = account.incident(&e.incident)
            {
                v["incident"] = account.incident_json(urls, i);
            }
            expand(account, urls, &mut v, &includes);
            v
        })
        .collect())
}

async fn incident_log_entries(
    State(pd): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let p = Params::new(raw);
    let urls = urls(&headers);
    let account = pd.account();
    let incident = account
        .incident(&id)
        .ok_or_else(|| Failure::not_found("Incident"))?;
    let items = log_entries(&account, &urls, &p, Some(&incident.id))?;
    page("log_entries", items, &p)
}

async fn log_entries_list(
    State(pd): Shared,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Answer {
    let p = Params::new(raw);
    let urls = urls(&headers);
    let account = pd.account();
    let items = log_entries(&account, &urls, &p, None)?;
    page("log_entries", items, &p)
}

async fn log_entry_get(State(pd): Shared, headers: HeaderMap, Path(id): Path<String>) -> Answer {
    let urls = urls(&headers);
    let account = pd.account();
    let e = account
        .log_entries
        .iter()
        .find(|e| e.id == id)
        .ok_or_else(|| Failure::not_found("Log entry"))?;
    one("log_entry", account.log_entry_json(&urls, e))
}

fn note_json(account: &Account, urls: &Urls, note: &super::model::Note) -> Value {
    json!({
        "id": note.id, "user": account.user_ref(urls, &note.user),
        "channel": { "summary": "The PagerDuty website or APIs" },
        "content": note.content, "created_at": time(note.created_at), "updated_at": time(note.created_at),
    })
}

async fn notes_list(State(pd): Shared, headers: HeaderMap, Path(id): Path<String>) -> Answer {
    let urls = urls(&headers);
    let account = pd.account();
    let incident = account
        .incident(&id)
        .ok_or_else(|| Failure::not_found("Incident"))?;
    let notes: Vec<Value> = incident
        .notes
        .iter()
        .map(|n| note_json(&account, &urls, n))
        .collect();
    Ok(Json(json!({ "notes": notes })).into_response())
}

async fn note_create(
    State(pd): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let urls = urls(&headers);
    let mut account = pd.account();
    let user = requester(&account, &headers)?;
    let body = json_body(&body)?;
    let content = body["note"]["content"]
        .as_str()
        .ok_or_else(|| Failure::invalid("note.content is required"))?;
    let (note, emitted) = account.annotate(&id, &user, content, Timestamp::now())?;
    pd.announce(&account, emitted);
    one("note", note_json(&account, &urls, &note))
}

async fn incident_snooze(
    State(pd): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let urls = urls(&headers);
    let mut account = pd.account();
    let user = requester(&account, &headers)?;
    let body = json_body(&body)?;
    let duration = body["duration"]
        .as_i64()
        .ok_or_else(|| Failure::invalid("duration (seconds) is required"))?;
    let emitted = account.snooze(&id, duration, &Agent::User(user), Timestamp::now())?;
    pd.announce(&account, emitted);
    let incident = account.incident(&id).unwrap();
    Ok((
        StatusCode::CREATED,
        Json(json!({ "incident": account.incident_json(&urls, incident) })),
    )
        .into_response())
}

/// Words of a title, for similarity.
fn words(title: &str) -> std::collections::BTreeSet<String> {
    title
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 2 && !w.chars().all(|c| c.is_ascii_digit()))
        .map(str::to_lowercase)
        .collect()
}

async fn past_incidents(
    State(pd): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let p = Params::new(raw);
    let urls = urls(&headers);
    let account = pd.account();
    let incident = account
        .incident(&id)
        .ok_or_else(|| Failure::not_found("Incident"))?;
    let limit: usize = p
        .one("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(5)
        .clamp(1, 999);
    let mine = words(&incident.title);
    let mut scored: Vec<(f64, &Incident)> = account
        .incidents
        .iter()
        .filter(|i| {
            i.service == incident.service
                && i.id != incident.id
                && i.created_at < incident.created_at
        })
        .map(|i| {
            let theirs = words(&i.title);
            let common = mine.intersection(&theirs).count() as f64;
            let union = mine.union(&theirs).count().max(1) as f64;
            (common / union * 100.0, i)
        })
        .filter(|(score, _)| *score > 0.0)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let total = scored.len();
    let items: Vec<Value> = scored
        .into_iter()
        .take(limit)
        .map(|(score, i)| {
            json!({ "incident": { "id": i.id, "created_at": time(i.created_at), "self": format!("{}/incidents/{}", urls.api, i.id), "title": i.title }, "score": (score * 10.0).round() / 10.0 })
        })
        .collect();
    Ok(Json(json!({ "past_incidents": items, "total": total, "limit": limit })).into_response())
}

async fn related_incidents(
    State(pd): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    let urls = urls(&headers);
    let account = pd.account();
    let incident = account
        .incident(&id)
        .ok_or_else(|| Failure::not_found("Incident"))?;
    let window = SignedDuration::from_hours(1);
    let items: Vec<Value> = account
        .incidents
        .iter()
        .filter(|i| i.id != incident.id && i.service != incident.service)
        .filter(|i| i.created_at.duration_since(incident.created_at).abs() <= window)
        .take(20)
        .map(|i| {
            json!({
                "incident": account.incident_ref(&urls, i),
                "relationships": [{ "type": "machine_learning_inferred", "metadata": { "grouping_classification": "prior_feedback", "user_feedback": { "positive_feedback_count": 0, "negative_feedback_count": 0 } } }],
            })
        })
        .collect();
    Ok(Json(json!({ "related_incidents": items })).into_response())
}

async fn related_change_events(
    State(pd): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    let urls = urls(&headers);
    let account = pd.account();
    let incident = account
        .incident(&id)
        .ok_or_else(|| Failure::not_found("Incident"))?;
    let from = incident.created_at - SignedDuration::from_hours(24);
    let mut events: Vec<&super::model::ChangeEvent> = account
        .change_events
        .iter()
        .filter(|c| {
            c.service == incident.service
                && c.timestamp >= from
                && c.timestamp <= incident.created_at
        })
        .collect();
    events.sort_by_key(|c| std::cmp::Reverse(c.timestamp));
    let items: Vec<Value> = events
        .iter()
        .enumerate()
        .map(|(n, c)| {
            let mut v = account.change_event_json(&urls, c);
            v["correlation_reason"] =
                json!({ "reason": if n == 0 { "most_recent" } else { "related_service" } });
            v
        })
        .collect();
    Ok(Json(json!({ "change_events": items })).into_response())
}

// --- on-call, schedules, policies, services, people --------------------------------------------

async fn oncalls_list(State(pd): Shared, headers: HeaderMap, RawQuery(raw): RawQuery) -> Answer {
    let p = Params::new(raw);
    let urls = urls(&headers);
    let account = pd.account();
    let now = Timestamp::now();
    let since = p.time("since", 2004)?.unwrap_or(now);
    let until = p.time("until", 2005)?.unwrap_or(since);
    if until < since {
        return Err(Failure::invalid("until may not be before since"));
    }
    if until.duration_since(now) > SignedDuration::from_hours(24 * 90) {
        return Err(Failure::invalid(
            "until may be at most 90 days in the future",
        ));
    }
    let (users, policies, schedules) = (
        p.many("user_ids"),
        p.many("escalation_policy_ids"),
        p.many("schedule_ids"),
    );
    let mut found: Vec<oncall::OnCall> = oncall::oncalls(&account, since, until)
        .into_iter()
        .filter(|o| users.is_empty() || users.contains(&o.user))
        .filter(|o| policies.is_empty() || policies.contains(&o.policy))
        .filter(|o| {
            schedules.is_empty() || o.schedule.as_ref().is_some_and(|s| schedules.contains(s))
        })
        .collect();
    if p.flag("earliest") {
        let mut seen = std::collections::BTreeSet::new();
        found.sort_by_key(|o| o.shift.map(|s| s.0));
        found.retain(|o| seen.insert((o.policy.clone(), o.level, o.user.clone())));
    }
    found.sort_by(|a, b| {
        (&a.policy, a.level, a.shift.map(|s| s.0)).cmp(&(&b.policy, b.level, b.shift.map(|s| s.0)))
    });
    let includes = p.many("include");
    let items = found
        .iter()
        .map(|o| {
            let mut v = json!({
                "escalation_policy": account.policy_ref(&urls, &o.policy),
                "escalation_level": o.level,
                "schedule": o.schedule.as_deref().map_or(Value::Null, |s| account.schedule_ref(&urls, s)),
                "user": account.user_ref(&urls, &o.user),
                "start": o.shift.map(|s| time(s.0)),
                "end": o.shift.map(|s| time(s.1)),
            });
            expand(&account, &urls, &mut v, &includes);
            v
        })
        .collect();
    page("oncalls", items, &p)
}

fn schedule_json(
    account: &Account,
    urls: &Urls,
    s: &super::model::Schedule,
    window: Option<(Timestamp, Timestamp)>,
) -> Value {
    let entries = |shifts: Vec<oncall::Shift>| -> Vec<Value> {
        shifts
            .into_iter()
            .map(|sh| json!({ "start": time(sh.start), "end": time(sh.end), "user": account.user_ref(urls, &sh.user) }))
            .collect()
    };
    let layers: Vec<Value> = s
        .layers
        .iter()
        .map(|l| {
            let mut v = json!({
                "id": l.id, "name": l.name, "start": time(l.start), "end": null,
                "rotation_virtual_start": time(l.virtual_start),
                "rotation_turn_length_seconds": l.turn_seconds,
                "users": l.users.iter().map(|u| json!({ "user": account.user_ref(urls, u) })).collect::<Vec<_>>(),
                "restrictions": [],
            });
            if let Some((since, until)) = window {
                let single = super::model::Schedule { layers: vec![l.clone()], ..s.clone() };
                let shifts = oncall::final_schedule(&single, since, until);
                v["rendered_schedule_entries"] = json!(entries(shifts));
                v["rendered_coverage_percentage"] = json!(100.0);
            }
            v
        })
        .collect();
    let users: Vec<Value> = {
        let mut ids: Vec<&String> = s.layers.iter().flat_map(|l| &l.users).collect();
        ids.dedup();
        ids.into_iter().map(|u| account.user_ref(urls, u)).collect()
    };
    let policies: Vec<Value> = account
        .policies
        .values()
        .filter(|p| {
            p.rules.iter().any(|r| {
                r.targets
                    .contains(&super::model::Target::Schedule(s.id.clone()))
            })
        })
        .map(|p| account.policy_ref(urls, &p.id))
        .collect();
    let mut v = json!({
        "id": s.id, "type": "schedule", "summary": s.name, "name": s.name, "description": s.description,
        "self": format!("{}/schedules/{}", urls.api, s.id), "html_url": urls.html("schedule", &s.id),
        "time_zone": s.time_zone, "schedule_layers": layers, "users": users,
        "escalation_policies": policies,
        "teams": s.teams.iter().map(|t| account.team_ref(urls, t)).collect::<Vec<_>>(),
    });
    if let Some((since, until)) = window {
        let shifts = oncall::final_schedule(s, since, until);
        v["final_schedule"] = json!({ "name": "Final Schedule", "rendered_schedule_entries": entries(shifts), "rendered_coverage_percentage": 100.0 });
        v["overrides_subschedule"] = json!({ "name": "Overrides", "rendered_schedule_entries": [], "rendered_coverage_percentage": 0.0 });
    }
    v
}

fn matches_query(p: &Params, name: &str) -> bool {
    p.one("query")
        .is_none_or(|q| name.to_lowercase().contains(&q.to_lowercase()))
}

async fn schedules_list(State(pd): Shared, headers: HeaderMap, RawQuery(raw): RawQuery) -> Answer {
    let p = Params::new(raw);
    let urls = urls(&headers);
    let account = pd.account();
    let items = account
        .schedules
        .values()
        .filter(|s| matches_query(&p, &s.name))
        .map(|s| schedule_json(&account, &urls, s, None))
        .collect();
    page("schedules", items, &p)
}

async fn schedule_get(
    State(pd): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let p = Params::new(raw);
    let urls = urls(&headers);
    let account = pd.account();
    let s = account
        .schedules
        .get(&id)
        .ok_or_else(|| Failure::not_found("Schedule"))?;
    let now = Timestamp::now();
    let since = p
        .time("since", 2004)?
        .unwrap_or(now - SignedDuration::from_hours(24 * 14));
    let until = p
        .time("until", 2005)?
        .unwrap_or(now + SignedDuration::from_hours(24 * 14));
    if until < since {
        return Err(Failure::invalid("until may not be before since"));
    }
    one(
        "schedule",
        schedule_json(&account, &urls, s, Some((since, until))),
    )
}

async fn schedule_users(State(pd): Shared, headers: HeaderMap, Path(id): Path<String>) -> Answer {
    let urls = urls(&headers);
    let account = pd.account();
    let s = account
        .schedules
        .get(&id)
        .ok_or_else(|| Failure::not_found("Schedule"))?;
    let mut ids: Vec<&String> = s.layers.iter().flat_map(|l| &l.users).collect();
    ids.sort();
    ids.dedup();
    let users: Vec<Value> = ids
        .into_iter()
        .filter_map(|u| account.users.get(u))
        .map(|u| account.user(&urls, u))
        .collect();
    Ok(Json(json!({ "users": users })).into_response())
}

async fn services_list(State(pd): Shared, headers: HeaderMap, RawQuery(raw): RawQuery) -> Answer {
    let p = Params::new(raw);
    let urls = urls(&headers);
    let account = pd.account();
    let teams = p.many("team_ids");
    let includes = p.many("include");
    let mut services: Vec<_> = account
        .services
        .values()
        .filter(|s| matches_query(&p, &s.name))
        .filter(|s| p.one("name").is_none_or(|n| s.name == n))
        .filter(|s| teams.is_empty() || s.teams.iter().any(|t| teams.contains(t)))
        .collect();
    services.sort_by(|a, b| a.name.cmp(&b.name));
    let items = services
        .into_iter()
        .map(|s| {
            let mut v = account.service(&urls, s);
            for t in v["teams"].as_array_mut().into_iter().flatten() {
                if includes.iter().any(|i| i == "teams")
                    && let Some(team) = t["id"].as_str().and_then(|id| account.teams.get(id))
                {
                    *t = account.team(&urls, team);
                }
            }
            expand(&account, &urls, &mut v, &includes);
            v
        })
        .collect();
    page("services", items, &p)
}

async fn service_get(
    State(pd): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let p = Params::new(raw);
    let urls = urls(&headers);
    let account = pd.account();
    let s = account
        .services
        .get(&id)
        .ok_or_else(|| Failure::not_found("Service"))?;
    let mut v = account.service(&urls, s);
    expand(&account, &urls, &mut v, &p.many("include"));
    one("service", v)
}

async fn policies_list(State(pd): Shared, headers: HeaderMap, RawQuery(raw): RawQuery) -> Answer {
    let p = Params::new(raw);
    let urls = urls(&headers);
    let account = pd.account();
    let (users, teams) = (p.many("user_ids"), p.many("team_ids"));
    let items = account
        .policies
        .values()
        .filter(|e| matches_query(&p, &e.name))
        .filter(|e| teams.is_empty() || e.teams.iter().any(|t| teams.contains(t)))
        .filter(|e| {
            users.is_empty()
                || e.rules.iter().flat_map(|r| &r.targets).any(|t| match t {
                    super::model::Target::User(u) => users.contains(u),
                    super::model::Target::Schedule(s) => {
                        account.schedules.get(s).is_some_and(|s| {
                            s.layers
                                .iter()
                                .flat_map(|l| &l.users)
                                .any(|u| users.contains(u))
                        })
                    }
                })
        })
        .map(|e| account.policy(&urls, e))
        .collect();
    page("escalation_policies", items, &p)
}

async fn policy_get(State(pd): Shared, headers: HeaderMap, Path(id): Path<String>) -> Answer {
    let urls = urls(&headers);
    let account = pd.account();
    let e = account
        .policies
        .get(&id)
        .ok_or_else(|| Failure::not_found("Escalation policy"))?;
    one("escalation_policy", account.policy(&urls, e))
}

async fn teams_list(State(pd): Shared, headers: HeaderMap, RawQuery(raw): RawQuery) -> Answer {
    let p = Params::new(raw);
    let urls = urls(&headers);
    let account = pd.account();
    let items = account
        .teams
        .values()
        .filter(|t| matches_query(&p, &t.name))
        .map(|t| account.team(&urls, t))
        .collect();
    page("teams", items, &p)
}

async fn team_get(State(pd): Shared, headers: HeaderMap, Path(id): Path<String>) -> Answer {
    let urls = urls(&headers);
    let account = pd.account();
    let t = account
        .teams
        .get(&id)
        .ok_or_else(|| Failure::not_found("Team"))?;
    one("team", account.team(&urls, t))
}

async fn team_members(
    State(pd): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let p = Params::new(raw);
    let urls = urls(&headers);
    let account = pd.account();
    let t = account
        .teams
        .get(&id)
        .ok_or_else(|| Failure::not_found("Team"))?;
    let items = t
        .members
        .iter()
        .map(|u| json!({ "user": account.user_ref(&urls, u), "role": "responder" }))
        .collect();
    page("members", items, &p)
}

async fn users_list(State(pd): Shared, headers: HeaderMap, RawQuery(raw): RawQuery) -> Answer {
    let p = Params::new(raw);
    let urls = urls(&headers);
    let account = pd.account();
    let teams = p.many("team_ids");
    let items = account
        .users
        .values()
        .filter(|u| {
            p.one("query").is_none_or(|q| {
                let q = q.to_lowercase();
                u.name.to_lowercase().contains(&q) || u.email.to_lowercase().contains(&q)
            })
        })
        .filter(|u| {
            teams.is_empty()
                || account
                    .teams
                    .values()
                    .any(|t| teams.contains(&t.id) && t.members.contains(&u.id))
        })
        .map(|u| account.user(&urls, u))
        .collect();
    page("users", items, &p)
}

async fn user_me(State(pd): Shared, headers: HeaderMap) -> Answer {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|a| a.strip_prefix("Token token="))
        .unwrap_or_default();
    if token != pd.tokens.user.0 {
        return Err(Failure::new(
            400,
            2001,
            "Because this request was made using an account-level access token, we were unable to correlate a user with this request.",
        ));
    }
    let urls = urls(&headers);
    let account = pd.account();
    let u = account
        .users
        .get(&pd.tokens.user.1)
        .ok_or_else(|| Failure::not_found("User"))?;
    one("user", account.user(&urls, u))
}

async fn user_get(State(pd): Shared, headers: HeaderMap, Path(id): Path<String>) -> Answer {
    let urls = urls(&headers);
    let account = pd.account();
    let u = account
        .users
        .get(&id)
        .ok_or_else(|| Failure::not_found("User"))?;
    one("user", account.user(&urls, u))
}

/// Change events in a window; `since`/`until` must be UTC (`…Z`).
fn change_events(
    account: &Account,
    urls: &Urls,
    p: &Params,
    service: Option<&str>,
) -> Result<Response, Failure> {
    for key in ["since", "until"] {
        if let Some(v) = p.one(key)
            && !v.ends_with('Z')
        {
            return Err(Failure::invalid(format!(
                "{key} must be a UTC time ending in Z, such as 2026-11-30T12:00:00Z"
            )));
        }
    }
    let since = p.time("since", 2004)?;
    let until = p.time("until", 2005)?;
    let teams = p.many("team_ids");
    let mut found: Vec<&super::model::ChangeEvent> = account
        .change_events
        .iter()
        .filter(|c| service.is_none_or(|s| c.service == s))
        .filter(|c| {
            since.is_none_or(|s| c.timestamp >= s) && until.is_none_or(|u| c.timestamp <= u)
        })
        .filter(|c| {
            teams.is_empty()
                || account
                    .services
                    .get(&c.service)
                    .is_some_and(|s| s.teams.iter().any(|t| teams.contains(t)))
        })
        .collect();
    found.sort_by_key(|c| std::cmp::Reverse(c.timestamp));
    let items: Vec<Value> = found
        .iter()
        .map(|c| account.change_event_json(urls, c))
        .collect();
    Ok(Json(json!({ "change_events": items, "limit": null, "offset": null, "total": null, "more": false })).into_response())
}

async fn change_events_list(
    State(pd): Shared,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Answer {
    let account = pd.account();
    change_events(&account, &urls(&headers), &Params::new(raw), None)
}

async fn service_change_events(
    State(pd): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let account = pd.account();
    if !account.services.contains_key(&id) {
        return Err(Failure::not_found("Service"));
    }
    change_events(&account, &urls(&headers), &Params::new(raw), Some(&id))
}

async fn change_event_get(State(pd): Shared, headers: HeaderMap, Path(id): Path<String>) -> Answer {
    let urls = urls(&headers);
    let account = pd.account();
    let c = account
        .change_events
        .iter()
        .find(|c| c.id == id)
        .ok_or_else(|| Failure::not_found("Change event"))?;
    one("change_event", account.change_event_json(&urls, c))
}

async fn priorities_list(State(pd): Shared, headers: HeaderMap, RawQuery(raw): RawQuery) -> Answer {
    let p = Params::new(raw);
    let urls = urls(&headers);
    let account = pd.account();
    let items = account
        .priorities
        .iter()
        .map(|x| account.priority_ref(&urls, &x.id))
        .collect();
    page("priorities", items, &p)
}

// --- webhook subscriptions ---------------------------------------------------------------------

async fn subscriptions_list(State(pd): Shared, RawQuery(raw): RawQuery) -> Answer {
    let p = Params::new(raw);
    let account = pd.account();
    let items = account
        .subscriptions
        .iter()
        .map(|s| s.render(false))
        .collect();
    page("webhook_subscriptions", items, &p)
}

async fn subscription_create(State(pd): Shared, body: Bytes) -> Answer {
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

async fn subscription_get(State(pd): Shared, Path(id): Path<String>) -> Answer {
    let account = pd.account();
    let s = account
        .subscriptions
        .iter()
        .find(|s| s.id == id)
        .ok_or_else(|| Failure::not_found("Webhook subscription"))?;
    one("webhook_subscription", s.render(false))
}

async fn subscription_delete(State(pd): Shared, Path(id): Path<String>) -> Answer {
    let mut account = pd.account();
    let before = account.subscriptions.len();
    account.subscriptions.retain(|s| s.id != id);
    if account.subscriptions.len() == before {
        return Err(Failure::not_found("Webhook subscription"));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
