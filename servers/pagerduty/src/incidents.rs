//! Incidents as an on-call engineer reads them: the open ones in a table, one incident in a few
//! lines with its alerts, notes, timeline, the deploys before it and similar past incidents;
//! the account's recent log entries; change events (deploys) per service.

use jiff::Timestamp;
use opsmcp_core::{output::parse_time, structured::with_structured};
use rmcp::{
    ErrorData,
    handler::server::wrapper::Parameters,
    model::CallToolResult,
    schemars::{self, JsonSchema},
    tool, tool_router,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    PagerDutyServer,
    client::PdError,
    render::{
        Table, acknowledgers, ago, assignees, cut, details, failure, name, names, or_fail, parse,
        shared_columns, short, span, text, untrusted_line, when,
    },
};

/// `incident_get` as data (for callers that ask, see `opsmcp_core::structured`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct IncidentData {
    pub id: String,
    pub number: u64,
    pub title: String,
    /// triggered, acknowledged or resolved
    pub status: String,
    pub urgency: String,
    pub service: Reference,
    pub escalation_policy: Reference,
    /// RFC 3339
    pub created_at: String,
    pub resolved_at: Option<String>,
    /// Names of the users it is assigned to
    pub assignees: Vec<String>,
    pub html_url: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Reference {
    pub id: String,
    pub name: String,
}

impl Reference {
    fn of(value: &Value) -> Self {
        Self {
            id: value["id"].as_str().unwrap_or_default().to_owned(),
            name: name(value),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct IncidentsListArgs {
    /// triggered, acknowledged, resolved (default: open)
    #[serde(default)]
    pub statuses: Vec<String>,
    /// high or low
    pub urgency: Option<String>,
    /// Default: PAGERDUTY_SERVICE_IDS
    #[serde(default)]
    pub service_ids: Vec<String>,
    /// Default: PAGERDUTY_TEAM_IDS
    #[serde(default)]
    pub team_ids: Vec<String>,
    /// Only mine (needs a user API key)
    #[serde(default)]
    pub assigned_to_me: bool,
    /// Created after (default 30d ago)
    pub since: Option<String>,
    /// Created before
    pub until: Option<String>,
    /// Max 100 (default 25)
    pub limit: Option<usize>,
    /// Skip (paging)
    pub offset: Option<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct IncidentRef {
    /// Incident id (PT4KHLK) or number (1234)
    pub id: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct WindowArgs {
    /// Default 24h ago
    pub since: Option<String>,
    /// Default now
    pub until: Option<String>,
    /// One service
    pub service_id: Option<String>,
    /// Max (default 50)
    pub limit: Option<usize>,
}

/// An RFC 3339 UTC time (`…Z`, as change events require) from a time expression.
fn utc(input: Option<&str>, default: Timestamp, now: Timestamp) -> Result<Timestamp, String> {
    match input {
        None => Ok(default),
        Some(s) => parse_time(s, now).map_err(|e| e.to_string()),
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` (whole seconds, rounded down: a bound never moves past now).
fn zulu(t: Timestamp) -> String {
    Timestamp::from_second(t.as_second())
        .unwrap_or(t)
        .to_string()
}

/// `since`/`until` query pairs for the bounds that were given.
fn window(
    since: &Option<String>,
    until: &Option<String>,
    now: Timestamp,
) -> Result<Vec<(&'static str, String)>, String> {
    let mut q = Vec::new();
    for (key, value) in [("since", since), ("until", until)] {
        if let Some(v) = value {
            q.push((key, zulu(utc(Some(v), now, now)?)));
        }
    }
    Ok(q)
}

/// `since 2026-11-30T12:00:00Z until …` of a window's pairs.
fn describe(window: &[(&str, String)]) -> String {
    window
        .iter()
        .filter(|(k, _)| matches!(*k, "since" | "until"))
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The number and title of an incident: `#12 title`.
fn headline(incident: &Value) -> String {
    format!(
        "#{} {}",
        incident["incident_number"],
        untrusted_line(incident["title"].as_str().unwrap_or(""))
    )
}

/// A call that may not be available on every plan (past/related incidents): its value, or a
/// short note why not.
fn optional(result: Result<Value, PdError>) -> Result<Value, String> {
    result.map_err(|e| match e.code() {
        Some(_) => format!("not available: {e}"),
        None => format!("could not be read: {e}"),
    })
}

#[tool_router(router = incidents_router, vis = "pub(crate)")]
impl PagerDutyServer {
    /// Incidents (open ones by default): number, title, status, urgency, priority, service,
    /// assignees, age.
    #[tool]
    pub async fn incidents_list(
        &self,
        Parameters(args): Parameters<IncidentsListArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let now = Timestamp::now();
        let mut q: Vec<(&str, String)> = Vec::new();
        let statuses = if args.statuses.is_empty() {
            vec!["triggered".to_owned(), "acknowledged".to_owned()]
        } else {
            args.statuses.clone()
        };
        for s in &statuses {
            if !matches!(s.as_str(), "triggered" | "acknowledged" | "resolved") {
                return Ok(failure(format!(
                    "unknown status `{s}`: use triggered, acknowledged or resolved"
                )));
            }
            q.push(("statuses[]", s.clone()));
        }
        if let Some(u) = &args.urgency {
            if !matches!(u.as_str(), "high" | "low") {
                return Ok(failure("urgency is high or low"));
            }
            q.push(("urgencies[]", u.clone()));
        }
        let (default_services, default_teams) = self.defaults();
        let services = if args.service_ids.is_empty() {
            default_services
        } else {
            &args.service_ids
        };
        let teams = if args.team_ids.is_empty() {
            default_teams
        } else {
            &args.team_ids
        };
        q.extend(services.iter().map(|s| ("service_ids[]", s.clone())));
        q.extend(teams.iter().map(|t| ("team_ids[]", t.clone())));
        // PagerDuty's own defaults (the last 30 days, until now) apply unless a bound is given.
        let window = or_fail!(window(&args.since, &args.until, now));
        q.extend(window.iter().cloned());
        if args.assigned_to_me {
            let me = or_fail!(self.pd().get("users/me", &[]).await);
            q.push((
                "user_ids[]",
                me["user"]["id"].as_str().unwrap_or("").to_owned(),
            ));
        }
        q.push(("sort_by", "created_at:desc".into()));
        q.push(("total", "true".into()));
        let limit = args.limit.unwrap_or(25).clamp(1, 100);
        let offset = args.offset.unwrap_or(0);
        q.push(("limit", limit.to_string()));
        q.push(("offset", offset.to_string()));
        let page = or_fail!(self.pd().get("incidents", &q).await);
        let incidents = page["incidents"].as_array().cloned().unwrap_or_default();
        let total = page["total"].as_u64().unwrap_or(incidents.len() as u64) as usize;
        if incidents.is_empty() {
            return Ok(text(format!(
                "no {} incidents {}{}",
                statuses.join("/"),
                if window.is_empty() {
                    "in the last 30 days".to_owned()
                } else {
                    describe(&window)
                },
                if services.is_empty() && teams.is_empty() {
                    String::new()
                } else {
                    " for the chosen services/teams".into()
                }
            )));
        }
        let mut rows = Vec::new();
        for i in &incidents {
            let assigned = assignees(i);
            rows.push(vec![
                i["incident_number"].to_string(),
                untrusted_line(i["title"].as_str().unwrap_or("")),
                i["status"].as_str().unwrap_or("").to_owned(),
                i["urgency"].as_str().unwrap_or("").to_owned(),
                i["priority"]["summary"].as_str().unwrap_or("—").to_owned(),
                name(&i["service"]),
                if assigned.is_empty() {
                    "—".into()
                } else {
                    names(assigned)
                },
                parse(&i["created_at"]).map_or_else(String::new, |t| ago(t, now)),
            ]);
        }
        let mut out = shared_columns(
            &[
                "#", "title", "status", "urg", "prio", "service", "assigned", "age",
            ],
            rows,
            2,
            60,
        );
        if offset + incidents.len() < total {
            out.push_str(&format!(
                "\nshowing {}-{} of {total}; pass offset={} for more",
                offset + 1,
                offset + incidents.len(),
                offset + incidents.len()
            ));
        }
        Ok(text(out))
    }

    /// One incident: state, alerts, notes, timeline, deploys in the 24h before, similar past
    /// incidents.
    #[tool]
    pub async fn incident_get(
        &self,
        Parameters(args): Parameters<IncidentRef>,
    ) -> Result<CallToolResult, ErrorData> {
        let now = Timestamp::now();
        let got = or_fail!(self.pd().get(&format!("incidents/{}", args.id), &[]).await);
        let i = &got["incident"];
        let id = i["id"].as_str().unwrap_or(&args.id).to_owned();
        let pd = self.pd();
        let path = |part: &str| format!("incidents/{id}/{part}");
        let (alerts_path, notes_path, log_path, changes_path, past_path) = (
            path("alerts"),
            path("notes"),
            path("log_entries"),
            path("related_change_events"),
            path("past_incidents"),
        );
        let overview = [("is_overview", "true".to_owned())];
        let three = [("limit", "3".to_owned())];
        let (alerts, notes, log, changes, past) = tokio::join!(
            pd.list(&alerts_path, "alerts", &[], 20),
            pd.get(&notes_path, &[]),
            pd.list(&log_path, "log_entries", &overview, 30),
            pd.get(&changes_path, &[]),
            pd.get(&past_path, &three),
        );
        let mut out = format!(
            "{} — {}, {} urgency{}\n",
            headline(i),
            i["status"].as_str().unwrap_or("?"),
            i["urgency"].as_str().unwrap_or("?"),
            i["priority"]["summary"]
                .as_str()
                .map(|p| format!(", {p}"))
                .unwrap_or_default()
        );
        let created = parse(&i["created_at"]);
        out.push_str(&format!(
            "service {} ({}) · {} · opened {}\n",
            name(&i["service"]),
            i["service"]["id"].as_str().unwrap_or("?"),
            name(&i["escalation_policy"]),
            created.map_or_else(String::new, |t| format!(
                "{} ({} ago)",
                when(t),
                ago(t, now)
            ))
        ));
        let assigned = assignees(i);
        let acked = acknowledgers(i, now);
        out.push_str(&format!("assigned: {}", names(assigned)));
        if !acked.is_empty() {
            out.push_str(&format!(" · acknowledged: {}", acked.join(", ")));
        }
        if let Some(t) = parse(&i["resolved_at"]) {
            let took = created.map_or_else(String::new, |c| {
                format!(" after {}", span(t.as_second() - c.as_second()))
            });
            out.push_str(&format!(" · resolved {}{took}", short(t, now)));
        }
        out.push_str(&format!(
            "\nid {} · key {} · {}\n",
            id,
            cut(i["incident_key"].as_str().unwrap_or(""), 24),
            i["html_url"].as_str().unwrap_or("")
        ));

        match alerts {
            Ok((alerts, more)) => {
                out.push_str(&format!(
                    "alerts ({}{}):\n",
                    alerts.len(),
                    if more { "+" } else { "" }
                ));
                for a in &alerts {
                    out.push_str(&format!(
                        "  {} {} {} — {}\n",
                        a["status"].as_str().unwrap_or(""),
                        a["severity"].as_str().unwrap_or(""),
                        parse(&a["created_at"]).map_or_else(String::new, |t| short(t, now)),
                        name(&a["integration"]),
                    ));
                    let d = details(&a["body"]["details"], 320);
                    if !d.is_empty() {
                        out.push_str(&format!("    {d}\n"));
                    }
                }
            }
            Err(e) => out.push_str(&format!("alerts: could not be read: {e}\n")),
        }
        match notes {
            Ok(n) => {
                let notes = n["notes"].as_array().cloned().unwrap_or_default();
                if !notes.is_empty() {
                    out.push_str(&format!("notes ({}):\n", notes.len()));
                }
                for note in &notes {
                    out.push_str(&format!(
                        "  {} {}: {}\n",
                        parse(&note["created_at"]).map_or_else(String::new, |t| short(t, now)),
                        name(&note["user"]),
                        cut(&untrusted_line(note["content"].as_str().unwrap_or("")), 300)
                    ));
                }
            }
            Err(e) => out.push_str(&format!("notes: could not be read: {e}\n")),
        }
        match log {
            Ok((mut entries, _)) => {
                entries.reverse();
                let steps: Vec<String> = entries
                    .iter()
                    .map(|e| {
                        format!(
                            "{} {}",
                            parse(&e["created_at"]).map_or_else(String::new, |t| short(t, now)),
                            cut(&untrusted_line(e["summary"].as_str().unwrap_or("")), 80)
                        )
                    })
                    .collect();
                out.push_str(&format!("timeline: {}\n", steps.join(" · ")));
            }
            Err(e) => out.push_str(&format!("timeline: could not be read: {e}\n")),
        }
        match optional(changes) {
            Ok(c) => {
                let events = c["change_events"].as_array().cloned().unwrap_or_default();
                if events.is_empty() {
                    out.push_str("changes in the 24h before: none recorded\n");
                } else {
                    out.push_str("changes in the 24h before:\n");
                }
                for e in events.iter().take(5) {
                    let before = match (created, parse(&e["timestamp"])) {
                        (Some(c), Some(t)) => {
                            format!("{} before", span(c.as_second() - t.as_second()))
                        }
                        _ => String::new(),
                    };
                    out.push_str(&format!(
                        "  {before}: {} ({}) {}\n",
                        untrusted_line(e["summary"].as_str().unwrap_or("")),
                        untrusted_line(e["source"].as_str().unwrap_or("")),
                        details(&e["custom_details"], 160)
                    ));
                }
            }
            Err(e) => out.push_str(&format!("changes: {e}\n")),
        }
        match optional(past) {
            Ok(p) => {
                let past = p["past_incidents"].as_array().cloned().unwrap_or_default();
                if !past.is_empty() {
                    out.push_str("similar past incidents:\n");
                }
                for item in &past {
                    let inc = &item["incident"];
                    out.push_str(&format!(
                        "  {} ago: {} ({}) score {}\n",
                        parse(&inc["created_at"]).map_or_else(String::new, |t| ago(t, now)),
                        untrusted_line(inc["title"].as_str().unwrap_or("")),
                        inc["id"].as_str().unwrap_or(""),
                        item["score"]
                    ));
                }
            }
            Err(e) => out.push_str(&format!("past incidents: {e}\n")),
        }
        let str_of = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let data = IncidentData {
            id,
            number: i["incident_number"].as_u64().unwrap_or(0),
            title: untrusted_line(i["title"].as_str().unwrap_or("")),
            status: str_of(&i["status"]),
            urgency: str_of(&i["urgency"]),
            service: Reference::of(&i["service"]),
            escalation_policy: Reference::of(&i["escalation_policy"]),
            created_at: str_of(&i["created_at"]),
            resolved_at: i["resolved_at"].as_str().map(str::to_owned),
            assignees: assignees(i).into_iter().map(name).collect(),
            html_url: str_of(&i["html_url"]),
        };
        Ok(with_structured(text(out.trim_end().to_owned()), &data))
    }

    /// Recent log entries of all incidents, newest first.
    #[tool]
    pub async fn log_entries_list(
        &self,
        Parameters(args): Parameters<WindowArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let now = Timestamp::now();
        let mut q = or_fail!(window(
            &args.since.clone().or(Some("24h".into())),
            &args.until,
            now
        ));
        let limit = args.limit.unwrap_or(50).clamp(1, 500);
        q.push(("is_overview", "true".into()));
        let (entries, more) = or_fail!(
            self.pd()
                .list("log_entries", "log_entries", &q, limit)
                .await
        );
        let entries: Vec<&Value> = entries
            .iter()
            .filter(|e| {
                args.service_id
                    .as_deref()
                    .is_none_or(|s| e["service"]["id"].as_str() == Some(s))
            })
            .collect();
        if entries.is_empty() {
            return Ok(text(format!("no log entries {}", describe(&q))));
        }
        let mut table = Table::new(["time", "incident", "what"]).max_cell(Some(90));
        for e in &entries {
            table.row([
                parse(&e["created_at"]).map_or_else(String::new, |t| short(t, now)),
                name(&e["incident"]),
                untrusted_line(e["summary"].as_str().unwrap_or("")),
            ]);
        }
        let mut out = table.render();
        if more {
            out.push_str(&format!(
                "\nmore than {limit}; narrow since/until or raise limit"
            ));
        }
        Ok(text(out))
    }

    /// Change events (deploys) in a window, newest first.
    #[tool]
    pub async fn change_events_list(
        &self,
        Parameters(args): Parameters<WindowArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let now = Timestamp::now();
        let q = or_fail!(window(
            &args.since.clone().or(Some("24h".into())),
            &args.until,
            now
        ));
        let path = match &args.service_id {
            Some(s) => format!("services/{s}/change_events"),
            None => "change_events".into(),
        };
        let got = or_fail!(self.pd().get(&path, &q).await);
        let events = got["change_events"].as_array().cloned().unwrap_or_default();
        if events.is_empty() {
            return Ok(text(format!("no change events {}", describe(&q))));
        }
        let limit = args.limit.unwrap_or(50);
        let mut out = String::new();
        for e in events.iter().take(limit) {
            out.push_str(&format!(
                "{} ({} ago) {} — {} [{}] {}\n",
                parse(&e["timestamp"]).map_or_else(String::new, when),
                parse(&e["timestamp"]).map_or_else(String::new, |t| ago(t, now)),
                names(e["services"].as_array().into_iter().flatten()),
                untrusted_line(e["summary"].as_str().unwrap_or("")),
                untrusted_line(e["source"].as_str().unwrap_or("")),
                details(&e["custom_details"], 200),
            ));
        }
        if events.len() > limit {
            out.push_str(&format!(
                "{} more; narrow the window\n",
                events.len() - limit
            ));
        }
        Ok(text(out.trim_end().to_owned()))
    }
}
