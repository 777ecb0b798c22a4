//! Who and what is in the account: on-calls, schedules, escalation policies, services,
//! teams, users (and `/users/me`), change events, priorities.

use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::common::{Answer, Params, Req, Shared, expand, one, page};
use crate::pagerduty::{
    Failure,
    model::{Account, ChangeEvent, Target, Urls, time},
    oncall::{self, schedule_json},
};

pub(super) async fn oncalls_list(State(pd): Shared, Req { p, urls }: Req) -> Answer {
    let account = pd.account();
    let now = Timestamp::now();
    let since = p.time("since", 2004)?.unwrap_or(now);
    // Both default to now; `until` may not be before `since` (so a future `since` needs an `until`).
    let until = p.time("until", 2005)?.unwrap_or(now);
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

fn matches_query(p: &Params, name: &str) -> bool {
    p.one("query")
        .is_none_or(|q| name.to_lowercase().contains(&q.to_lowercase()))
}

pub(super) async fn schedules_list(State(pd): Shared, Req { p, urls }: Req) -> Answer {
    let account = pd.account();
    let items = account
        .schedules
        .values()
        .filter(|s| matches_query(&p, &s.name))
        .map(|s| schedule_json(&account, &urls, s, None))
        .collect();
    page("schedules", items, &p)
}

pub(super) async fn schedule_get(
    State(pd): Shared,
    Path(id): Path<String>,
    Req { p, urls }: Req,
) -> Answer {
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

pub(super) async fn schedule_users(
    State(pd): Shared,
    Path(id): Path<String>,
    Req { urls, .. }: Req,
) -> Answer {
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

pub(super) async fn services_list(State(pd): Shared, Req { p, urls }: Req) -> Answer {
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

pub(super) async fn service_get(
    State(pd): Shared,
    Path(id): Path<String>,
    Req { p, urls }: Req,
) -> Answer {
    let account = pd.account();
    let s = account
        .services
        .get(&id)
        .ok_or_else(|| Failure::not_found("Service"))?;
    let mut v = account.service(&urls, s);
    expand(&account, &urls, &mut v, &p.many("include"));
    one("service", v)
}

pub(super) async fn policies_list(State(pd): Shared, Req { p, urls }: Req) -> Answer {
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
                    Target::User(u) => users.contains(u),
                    Target::Schedule(s) => account.schedules.get(s).is_some_and(|s| {
                        s.layers
                            .iter()
                            .flat_map(|l| &l.users)
                            .any(|u| users.contains(u))
                    }),
                })
        })
        .map(|e| account.policy(&urls, e))
        .collect();
    page("escalation_policies", items, &p)
}

pub(super) async fn policy_get(
    State(pd): Shared,
    Path(id): Path<String>,
    Req { urls, .. }: Req,
) -> Answer {
    let account = pd.account();
    let e = account
        .policies
        .get(&id)
        .ok_or_else(|| Failure::not_found("Escalation policy"))?;
    one("escalation_policy", account.policy(&urls, e))
}

pub(super) async fn teams_list(State(pd): Shared, Req { p, urls }: Req) -> Answer {
    let account = pd.account();
    let items = account
        .teams
        .values()
        .filter(|t| matches_query(&p, &t.name))
        .map(|t| account.team(&urls, t))
        .collect();
    page("teams", items, &p)
}

pub(super) async fn team_get(
    State(pd): Shared,
    Path(id): Path<String>,
    Req { urls, .. }: Req,
) -> Answer {
    let account = pd.account();
    let t = account
        .teams
        .get(&id)
        .ok_or_else(|| Failure::not_found("Team"))?;
    one("team", account.team(&urls, t))
}

pub(super) async fn team_members(
    State(pd): Shared,
    Path(id): Path<String>,
    Req { p, urls }: Req,
) -> Answer {
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

pub(super) async fn users_list(State(pd): Shared, Req { p, urls }: Req) -> Answer {
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

pub(super) async fn user_me(
    State(pd): Shared,
    headers: HeaderMap,
    Req { urls, .. }: Req,
) -> Answer {
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
    let account = pd.account();
    let u = account
        .users
        .get(&pd.tokens.user.1)
        .ok_or_else(|| Failure::not_found("User"))?;
    one("user", account.user(&urls, u))
}

pub(super) async fn user_get(
    State(pd): Shared,
    Path(id): Path<String>,
    Req { urls, .. }: Req,
) -> Answer {
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
    let mut found: Vec<&ChangeEvent> = account
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

pub(super) async fn change_events_list(State(pd): Shared, Req { p, urls }: Req) -> Answer {
    let account = pd.account();
    change_events(&account, &urls, &p, None)
}

pub(super) async fn service_change_events(
    State(pd): Shared,
    Path(id): Path<String>,
    Req { p, urls }: Req,
) -> Answer {
    let account = pd.account();
    if !account.services.contains_key(&id) {
        return Err(Failure::not_found("Service"));
    }
    change_events(&account, &urls, &p, Some(&id))
}

pub(super) async fn change_event_get(
    State(pd): Shared,
    Path(id): Path<String>,
    Req { urls, .. }: Req,
) -> Answer {
    let account = pd.account();
    let c = account
        .change_events
        .iter()
        .find(|c| c.id == id)
        .ok_or_else(|| Failure::not_found("Change event"))?;
    one("change_event", account.change_event_json(&urls, c))
}

pub(super) async fn priorities_list(State(pd): Shared, Req { p, urls }: Req) -> Answer {
    let account = pd.account();
    let items = account
        .priorities
        .iter()
        .map(|x| account.priority_ref(&urls, &x.id))
        .collect();
    page("priorities", items, &p)
}
