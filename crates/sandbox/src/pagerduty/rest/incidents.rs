//! Incidents: list with filters and sorting, get, create, update one or many (status,
//! assignments, delegation, escalation, priority, title, urgency), alerts, log entries, notes,
//! snooze, past and related incidents, related change events.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::common::{Answer, Params, Req, Shared, expand, json_body, one, page, requester};
use crate::pagerduty::{
    Failure, PagerDuty,
    incidents::{Emitted, NewIncident},
    model::{Account, Agent, ChangeEvent, Incident, Note, Status, Urls, time},
};

pub(super) async fn incidents_list(State(pd): Shared, Req { p, urls }: Req) -> Answer {
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

pub(super) async fn incident_get(
    State(pd): Shared,
    Path(id): Path<String>,
    Req { p, urls }: Req,
) -> Answer {
    let account = pd.account();
    let incident = account
        .incident(&id)
        .ok_or_else(|| Failure::not_found("Incident"))?;
    let mut v = account.incident_json(&urls, incident);
    expand(&account, &urls, &mut v, &p.many("include"));
    one("incident", v)
}

pub(super) async fn incident_create(
    State(pd): Shared,
    headers: HeaderMap,
    Req { urls, .. }: Req,
    body: Bytes,
) -> Answer {
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
        emitted.push(Emitted {
            event_type: "incident.priority_updated",
            incident: key,
            agent,
            note: None,
        });
    }
    pd.announce(account, emitted);
    Ok(())
}

pub(super) async fn incident_update(
    State(pd): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    Req { urls, .. }: Req,
    body: Bytes,
) -> Answer {
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

pub(super) async fn incidents_bulk(
    State(pd): Shared,
    headers: HeaderMap,
    Req { urls, .. }: Req,
    body: Bytes,
) -> Answer {
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
        // The bulk update names incidents by id only (numbers are for GET /incidents/{id}).
        let id = item["id"].as_str().unwrap_or_default();
        let id = account
            .incidents
            .iter()
            .find(|i| i.id == id)
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

pub(super) async fn incident_alerts(
    State(pd): Shared,
    Path(id): Path<String>,
    Req { p, urls }: Req,
) -> Answer {
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

pub(super) async fn incident_log_entries(
    State(pd): Shared,
    Path(id): Path<String>,
    Req { p, urls }: Req,
) -> Answer {
    let account = pd.account();
    let incident = account
        .incident(&id)
        .ok_or_else(|| Failure::not_found("Incident"))?;
    let items = log_entries(&account, &urls, &p, Some(&incident.id))?;
    page("log_entries", items, &p)
}

pub(super) async fn log_entries_list(State(pd): Shared, Req { p, urls }: Req) -> Answer {
    let account = pd.account();
    let items = log_entries(&account, &urls, &p, None)?;
    page("log_entries", items, &p)
}

pub(super) async fn log_entry_get(
    State(pd): Shared,
    Path(id): Path<String>,
    Req { urls, .. }: Req,
) -> Answer {
    let account = pd.account();
    let e = account
        .log_entries
        .iter()
        .find(|e| e.id == id)
        .ok_or_else(|| Failure::not_found("Log entry"))?;
    one("log_entry", account.log_entry_json(&urls, e))
}

fn note_json(account: &Account, urls: &Urls, note: &Note) -> Value {
    json!({
        "id": note.id, "user": account.user_ref(urls, &note.user),
        "channel": { "summary": "The PagerDuty website or APIs" },
        "content": note.content, "created_at": time(note.created_at), "updated_at": time(note.created_at),
    })
}

pub(super) async fn notes_list(
    State(pd): Shared,
    Path(id): Path<String>,
    Req { urls, .. }: Req,
) -> Answer {
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

pub(super) async fn note_create(
    State(pd): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    Req { urls, .. }: Req,
    body: Bytes,
) -> Answer {
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

pub(super) async fn incident_snooze(
    State(pd): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    Req { urls, .. }: Req,
    body: Bytes,
) -> Answer {
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

pub(super) async fn past_incidents(
    State(pd): Shared,
    Path(id): Path<String>,
    Req { p, urls }: Req,
) -> Answer {
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

pub(super) async fn related_incidents(
    State(pd): Shared,
    Path(id): Path<String>,
    Req { urls, .. }: Req,
) -> Answer {
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

pub(super) async fn related_change_events(
    State(pd): Shared,
    Path(id): Path<String>,
    Req { urls, .. }: Req,
) -> Answer {
    let account = pd.account();
    let incident = account
        .incident(&id)
        .ok_or_else(|| Failure::not_found("Incident"))?;
    let from = incident.created_at - SignedDuration::from_hours(24);
    let mut events: Vec<&ChangeEvent> = account
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
