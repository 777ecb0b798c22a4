//! The account's objects as the stand-in keeps them, and how each is rendered in REST v2's
//! shapes (references with `self` and `html_url` built from the host the request came to).

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};

/// What an object is rendered against: the API's base URL (from the request's host) and the
/// web app's.
#[derive(Debug, Clone)]
pub struct Urls {
    pub api: String,
    pub web: String,
}

impl Urls {
    /// A reference: `{id, type: "<kind>_reference", summary, self, html_url}`.
    pub fn reference(&self, kind: &str, id: &str, summary: &str) -> Value {
        json!({
            "id": id,
            "type": format!("{kind}_reference"),
            "summary": summary,
            "self": format!("{}/{}/{id}", self.api, plural(kind)),
            "html_url": self.html(kind, id),
        })
    }

    pub fn html(&self, kind: &str, id: &str) -> String {
        let path = match kind {
            "escalation_policy" => "escalation_policies",
            "service" => "service-directory",
            _ => plural(kind),
        };
        format!("{}/{path}/{id}", self.web)
    }
}

/// The REST collection of a kind.
pub fn plural(kind: &str) -> &'static str {
    match kind {
        "incident" => "incidents",
        "user" => "users",
        "team" => "teams",
        "service" => "services",
        "schedule" => "schedules",
        "escalation_policy" => "escalation_policies",
        "priority" => "priorities",
        "log_entry" => "log_entries",
        "alert" => "alerts",
        "change_event" => "change_events",
        _ => "objects",
    }
}

/// RFC 3339 in whole seconds with `Z`, as PagerDuty writes times.
pub fn time(t: Timestamp) -> String {
    t.round(jiff::Unit::Second).unwrap_or(t).to_string()
}

#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub id: String,
    pub name: String,
    pub email: String,
    #[serde(default = "utc")]
    pub time_zone: String,
    #[serde(default = "user_role")]
    pub role: String,
    #[serde(default)]
    pub job_title: String,
}

fn utc() -> String {
    "UTC".into()
}

fn user_role() -> String {
    "user".into()
}

#[derive(Debug, Clone, Deserialize)]
pub struct Team {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub members: Vec<String>,
}

/// One layer of a schedule: users take turns of `turn_seconds` from `virtual_start`.
#[derive(Debug, Clone)]
pub struct Layer {
    pub id: String,
    pub name: String,
    pub start: Timestamp,
    pub virtual_start: Timestamp,
    pub turn_seconds: i64,
    pub users: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Schedule {
    pub id: String,
    pub name: String,
    pub description: String,
    pub time_zone: String,
    pub teams: Vec<String>,
    pub layers: Vec<Layer>,
}

/// A target of an escalation rule.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    User(String),
    Schedule(String),
}

#[derive(Debug, Clone, Deserialize)]
pub struct Rule {
    pub id: String,
    pub delay_minutes: u32,
    pub targets: Vec<Target>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EscalationPolicy {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub loops: u32,
    #[serde(default)]
    pub teams: Vec<String>,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Service {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub escalation_policy: String,
    #[serde(default)]
    pub teams: Vec<String>,
    /// The Events API v2 integration: its id, name and routing key (32 characters).
    pub integration: Integration,
    /// Seconds after which an acknowledged incident re-triggers (`null`: never).
    #[serde(default)]
    pub acknowledgement_timeout: Option<u64>,
    #[serde(default)]
    pub auto_resolve_timeout: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Integration {
    pub id: String,
    pub name: String,
    pub routing_key: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Priority {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Triggered,
    Acknowledged,
    Resolved,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Triggered => "triggered",
            Status::Acknowledged => "acknowledged",
            Status::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "triggered" => Status::Triggered,
            "acknowledged" => Status::Acknowledged,
            "resolved" => Status::Resolved,
            _ => return None,
        })
    }
}

/// Who did something: a user, or a service's integration (Events API), or PagerDuty itself.
#[derive(Debug, Clone, PartialEq)]
pub enum Agent {
    User(String),
    Integration { service: String },
    System,
}

#[derive(Debug, Clone)]
pub struct Note {
    pub id: String,
    pub user: String,
    pub content: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct Incident {
    pub id: String,
    pub number: u64,
    pub title: String,
    pub status: Status,
    pub urgency: String,
    pub priority: Option<String>,
    pub service: String,
    pub escalation_policy: String,
    pub escalation_level: usize,
    /// When the incident reached its escalation level (the level's delay counts from here).
    pub level_since: Timestamp,
    pub incident_key: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_status_change_at: Timestamp,
    pub last_status_change_by: Agent,
    pub resolved_at: Option<Timestamp>,
    pub assignments: Vec<(Timestamp, String)>,
    pub acknowledgements: Vec<(Timestamp, String)>,
    pub snoozed_until: Option<Timestamp>,
    pub notes: Vec<Note>,
    pub details: Option<Value>,
    pub first_trigger_log_entry: String,
}

#[derive(Debug, Clone)]
pub struct Alert {
    pub id: String,
    pub incident: String,
    pub service: String,
    pub dedup_key: String,
    pub status: Status,
    pub created_at: Timestamp,
    pub summary: String,
    pub severity: String,
    pub source: String,
    pub custom_details: Value,
    pub client: Option<(String, String)>,
    pub first_trigger_log_entry: String,
}

/// What a log entry records; its REST `type` is `<kind>_log_entry`.
#[derive(Debug, Clone)]
pub struct LogEntry {
    pub id: String,
    pub kind: &'static str,
    pub created_at: Timestamp,
    pub incident: String,
    pub agent: Agent,
    pub channel: Value,
    pub note: Option<String>,
    /// Users an assign/escalate/notify entry names.
    pub users: Vec<String>,
    pub escalation_level: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct ChangeEvent {
    pub id: String,
    pub service: String,
    pub timestamp: Timestamp,
    pub summary: String,
    pub source: String,
    pub custom_details: Value,
    pub links: Vec<Value>,
}

#[derive(Debug, Clone)]
pub struct Subscription {
    pub id: String,
    pub url: String,
    pub secret: String,
    pub events: Vec<String>,
    /// `account_reference` (everything), or a service or team id.
    pub filter: (String, Option<String>),
    pub description: String,
    pub custom_headers: Vec<(String, String)>,
    pub active: bool,
}

impl Subscription {
    pub fn render(&self, with_secret: bool) -> Value {
        json!({
            "id": self.id,
            "type": "webhook_subscription",
            "active": self.active,
            "description": self.description,
            "delivery_method": {
                "id": format!("{}D", self.id),
                "type": "http_delivery_method",
                "url": self.url,
                "secret": with_secret.then_some(&self.secret),
                "temporarily_disabled": false,
                "custom_headers": self.custom_headers.iter().map(|(name, _)| json!({ "name": name, "value": "redacted" })).collect::<Vec<_>>(),
            },
            "events": self.events,
            "filter": match &self.filter.1 {
                Some(id) => json!({ "type": self.filter.0, "id": id }),
                None => json!({ "type": self.filter.0 }),
            },
        })
    }
}

/// Every object of the account, by id.
#[derive(Debug, Default)]
pub struct Account {
    pub subdomain: String,
    pub users: BTreeMap<String, User>,
    pub teams: BTreeMap<String, Team>,
    pub schedules: BTreeMap<String, Schedule>,
    pub policies: BTreeMap<String, EscalationPolicy>,
    pub services: BTreeMap<String, Service>,
    pub priorities: Vec<Priority>,
    pub incidents: Vec<Incident>,
    pub alerts: Vec<Alert>,
    pub log_entries: Vec<LogEntry>,
    pub change_events: Vec<ChangeEvent>,
    pub subscriptions: Vec<Subscription>,
    next_id: u64,
}

impl Account {
    /// A new id in PagerDuty's style (seven upper-case letters and digits, starting with Q
    /// so it never collides with the scenario's hand-written P… ids).
    pub fn new_id(&mut self) -> String {
        self.next_id += 1;
        const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ0123456789";
        let mut n = self.next_id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 16;
        let mut id = String::from("Q");
        for _ in 0..6 {
            id.push(ALPHABET[(n % ALPHABET.len() as u64) as usize] as char);
            n /= ALPHABET.len() as u64;
        }
        id
    }

    pub fn incident(&self, id_or_number: &str) -> Option<&Incident> {
        self.incidents
            .iter()
            .find(|i| i.id == id_or_number || i.number.to_string() == id_or_number)
    }

    pub fn incident_mut(&mut self, id_or_number: &str) -> Option<&mut Incident> {
        self.incidents
            .iter_mut()
            .find(|i| i.id == id_or_number || i.number.to_string() == id_or_number)
    }

    pub fn user_by_email(&self, email: &str) -> Option<&User> {
        self.users
            .values()
            .find(|u| u.email.eq_ignore_ascii_case(email))
    }

    pub fn user_ref(&self, urls: &Urls, id: &str) -> Value {
        let name = self.users.get(id).map_or(id, |u| u.name.as_str());
        urls.reference("user", id, name)
    }

    pub fn service_ref(&self, urls: &Urls, id: &str) -> Value {
        let name = self.services.get(id).map_or(id, |s| s.name.as_str());
        urls.reference("service", id, name)
    }

    pub fn policy_ref(&self, urls: &Urls, id: &str) -> Value {
        let name = self.policies.get(id).map_or(id, |p| p.name.as_str());
        urls.reference("escalation_policy", id, name)
    }

    pub fn schedule_ref(&self, urls: &Urls, id: &str) -> Value {
        let name = self.schedules.get(id).map_or(id, |s| s.name.as_str());
        urls.reference("schedule", id, name)
    }

    pub fn team_ref(&self, urls: &Urls, id: &str) -> Value {
        let name = self.teams.get(id).map_or(id, |t| t.name.as_str());
        urls.reference("team", id, name)
    }

    pub fn incident_ref(&self, urls: &Urls, incident: &Incident) -> Value {
        urls.reference(
            "incident",
            &incident.id,
            &format!("[#{}] {}", incident.number, incident.title),
        )
    }

    pub fn priority_ref(&self, urls: &Urls, id: &str) -> Value {
        match self.priorities.iter().find(|p| p.id == id) {
            Some(p) => {
                json!({ "id": p.id, "type": "priority", "summary": p.name, "self": format!("{}/priorities/{}", urls.api, p.id), "html_url": null, "name": p.name, "description": p.description })
            }
            None => Value::Null,
        }
    }

    pub fn agent(&self, urls: &Urls, agent: &Agent) -> Value {
        match agent {
            Agent::User(id) => self.user_ref(urls, id),
            Agent::Integration { service } => match self.services.get(service) {
                Some(s) => json!({
                    "id": s.integration.id,
                    "type": "events_api_v2_inbound_integration_reference",
                    "summary": s.integration.name,
                    "self": format!("{}/services/{}/integrations/{}", urls.api, s.id, s.integration.id),
                    "html_url": format!("{}/services/{}/integrations/{}", urls.web, s.id, s.integration.id),
                }),
                None => Value::Null,
            },
            Agent::System => Value::Null,
        }
    }

    pub fn user(&self, urls: &Urls, user: &User) -> Value {
        let teams: Vec<Value> = self
            .teams
            .values()
            .filter(|t| t.members.contains(&user.id))
            .map(|t| self.team_ref(urls, &t.id))
            .collect();
        json!({
            "id": user.id, "type": "user", "summary": user.name, "name": user.name,
            "self": format!("{}/users/{}", urls.api, user.id), "html_url": urls.html("user", &user.id),
            "email": user.email, "time_zone": user.time_zone, "color": "green", "role": user.role,
            "avatar_url": format!("{}/avatars/{}.png", urls.web, user.id), "description": "",
            "invitation_sent": false, "job_title": user.job_title, "teams": teams,
            "contact_methods": [urls.reference("email_contact_method", &format!("{}E", user.id), "Default")],
            "notification_rules": [], "coordinated_incidents": [],
        })
    }

    pub fn team(&self, urls: &Urls, team: &Team) -> Value {
        json!({
            "id": team.id, "type": "team", "summary": team.name, "name": team.name,
            "description": team.description, "default_role": "manager", "parent": null,
            "self": format!("{}/teams/{}", urls.api, team.id), "html_url": urls.html("team", &team.id),
        })
    }

    pub fn service(&self, urls: &Urls, service: &Service) -> Value {
        let open: Vec<&Incident> = self
            .incidents
            .iter()
            .filter(|i| i.service == service.id && i.status != Status::Resolved)
            .collect();
        let status = if open.iter().any(|i| i.urgency == "high") {
            "critical"
        } else if !open.is_empty() {
            "warning"
        } else {
            "active"
        };
        let last = self
            .incidents
            .iter()
            .filter(|i| i.service == service.id)
            .map(|i| i.created_at)
            .max();
        json!({
            "id": service.id, "type": "service", "summary": service.name, "name": service.name,
            "self": format!("{}/services/{}", urls.api, service.id), "html_url": urls.html("service", &service.id),
            "description": service.description, "status": status,
            "auto_resolve_timeout": service.auto_resolve_timeout,
            "acknowledgement_timeout": service.acknowledgement_timeout,
            "created_at": "2024-03-01T09:00:00Z",
            "last_incident_timestamp": last.map(time),
            "escalation_policy": self.policy_ref(urls, &service.escalation_policy),
            "teams": service.teams.iter().map(|t| self.team_ref(urls, t)).collect::<Vec<_>>(),
            "integrations": [{
                "id": service.integration.id, "type": "events_api_v2_inbound_integration_reference",
                "summary": service.integration.name,
                "self": format!("{}/services/{}/integrations/{}", urls.api, service.id, service.integration.id),
                "html_url": format!("{}/services/{}/integrations/{}", urls.web, service.id, service.integration.id),
            }],
            "incident_urgency_rule": { "type": "constant", "urgency": "high" },
            "alert_creation": "create_alerts_and_incidents",
            "alert_grouping_parameters": { "type": null },
            "support_hours": null, "scheduled_actions": [], "addons": [], "response_play": null,
        })
    }

    pub fn policy(&self, urls: &Urls, policy: &EscalationPolicy) -> Value {
        let rules: Vec<Value> = policy
            .rules
            .iter()
            .map(|r| {
                json!({
                    "id": r.id,
                    "escalation_delay_in_minutes": r.delay_minutes,
                    "targets": r.targets.iter().map(|t| match t {
                        Target::User(id) => self.user_ref(urls, id),
                        Target::Schedule(id) => self.schedule_ref(urls, id),
                    }).collect::<Vec<_>>(),
                    "escalation_rule_assignment_strategy": { "type": "assign_to_everyone" },
                })
            })
            .collect();
        let services: Vec<Value> = self
            .services
            .values()
            .filter(|s| s.escalation_policy == policy.id)
            .map(|s| self.service_ref(urls, &s.id))
            .collect();
        json!({
            "id": policy.id, "type": "escalation_policy", "summary": policy.name, "name": policy.name,
            "self": format!("{}/escalation_policies/{}", urls.api, policy.id),
            "html_url": urls.html("escalation_policy", &policy.id),
            "description": policy.description, "num_loops": policy.loops,
            "on_call_handoff_notifications": "if_has_services",
            "escalation_rules": rules, "services": services,
            "teams": policy.teams.iter().map(|t| self.team_ref(urls, t)).collect::<Vec<_>>(),
        })
    }

    pub fn alert_counts(&self, incident: &str) -> Value {
        let alerts = self.alerts.iter().filter(|a| a.incident == incident);
        let (mut all, mut triggered, mut resolved) = (0, 0, 0);
        for a in alerts {
            all += 1;
            if a.status == Status::Resolved {
                resolved += 1;
            } else {
                triggered += 1;
            }
        }
        json!({ "all": all, "triggered": triggered, "resolved": resolved })
    }

    pub fn incident_json(&self, urls: &Urls, i: &Incident) -> Value {
        let mut pending = Vec::new();
        if i.status != Status::Resolved {
            if let Some(t) = self
                .services
                .get(&i.service)
                .and_then(|s| s.auto_resolve_timeout)
            {
                pending.push(json!({ "type": "resolve", "at": time(i.created_at + jiff::SignedDuration::from_secs(t as i64)) }));
            }
            if i.status == Status::Triggered
                && let Some(rule) = self
                    .policies
                    .get(&i.escalation_policy)
                    .and_then(|p| p.rules.get(i.escalation_level.saturating_sub(1)))
            {
                pending.push(json!({ "type": "escalate", "at": time(i.level_since + jiff::SignedDuration::from_mins(i64::from(rule.delay_minutes))) }));
            }
            if let Some(until) = i.snoozed_until {
                pending.push(json!({ "type": "unacknowledge", "at": time(until) }));
            }
        }
        let teams = self
            .services
            .get(&i.service)
            .map(|s| s.teams.clone())
            .unwrap_or_default();
        json!({
            "id": i.id, "type": "incident",
            "summary": format!("[#{}] {}", i.number, i.title),
            "self": format!("{}/incidents/{}", urls.api, i.id),
            "html_url": format!("{}/incidents/{}", urls.web, i.id),
            "incident_number": i.number, "title": i.title,
            "description": i.title,
            "created_at": time(i.created_at), "updated_at": time(i.updated_at),
            "status": i.status.as_str(), "incident_key": i.incident_key,
            "service": self.service_ref(urls, &i.service),
            "assignments": i.assignments.iter().map(|(at, u)| json!({ "at": time(*at), "assignee": self.user_ref(urls, u) })).collect::<Vec<_>>(),
            "assigned_via": "escalation_policy",
            "acknowledgements": i.acknowledgements.iter().map(|(at, u)| json!({ "at": time(*at), "acknowledger": self.user_ref(urls, u) })).collect::<Vec<_>>(),
            "last_status_change_at": time(i.last_status_change_at),
            "last_status_change_by": self.agent(urls, &i.last_status_change_by),
            "first_trigger_log_entry": urls.reference("log_entry", &i.first_trigger_log_entry, "Triggered"),
            "escalation_policy": self.policy_ref(urls, &i.escalation_policy),
            "teams": teams.iter().map(|t| self.team_ref(urls, t)).collect::<Vec<_>>(),
            "pending_actions": pending,
            "alert_counts": self.alert_counts(&i.id),
            "urgency": i.urgency,
            "priority": i.priority.as_deref().map_or(Value::Null, |p| self.priority_ref(urls, p)),
            "resolved_at": i.resolved_at.map(time),
            "is_mergeable": true,
            "incident_type": { "name": "incident_default" },
            "conference_bridge": null,
            "resolve_reason": null,
            "body": { "type": "incident_body", "details": i.details.clone().unwrap_or(Value::String(String::new())) },
        })
    }

    pub fn alert_json(&self, urls: &Urls, a: &Alert) -> Value {
        let incident = self.incident(&a.incident);
        json!({
            "id": a.id, "type": "alert", "summary": a.summary,
            "self": format!("{}/incidents/{}/alerts/{}", urls.api, a.incident, a.id),
            "html_url": format!("{}/alerts/{}", urls.web, a.id),
            "created_at": time(a.created_at), "status": a.status.as_str(), "alert_key": a.dedup_key,
            "service": self.service_ref(urls, &a.service),
            "first_trigger_log_entry": urls.reference("log_entry", &a.first_trigger_log_entry, "Triggered"),
            "incident": incident.map_or(Value::Null, |i| self.incident_ref(urls, i)),
            "suppressed": false, "severity": a.severity,
            "integration": self.agent(urls, &Agent::Integration { service: a.service.clone() }),
            "body": {
                "type": "alert_body",
                "contexts": a.client.as_ref().map(|(name, url)| vec![json!({ "type": "link", "href": url, "text": name })]).unwrap_or_default(),
                "details": a.custom_details,
                "cef_details": { "source_origin": a.source, "severity": a.severity, "description": a.summary, "details": a.custom_details, "client": a.client.as_ref().map(|c| &c.0), "client_url": a.client.as_ref().map(|c| &c.1) },
            },
        })
    }

    pub fn log_entry_json(&self, urls: &Urls, e: &LogEntry) -> Value {
        let incident = self.incident(&e.incident);
        let summary = match e.kind {
            "trigger" => "Triggered through the API.".to_owned(),
            "acknowledge" => format!("Acknowledged by {}.", self.agent_name(&e.agent)),
            "annotate" => format!("Note added by {}.", self.agent_name(&e.agent)),
            "assign" => format!(
                "Assigned to {} by {}.",
                self.names(&e.users),
                self.agent_name(&e.agent)
            ),
            "escalate" => format!(
                "Escalated to level {} ({}).",
                e.escalation_level.unwrap_or(1),
                self.names(&e.users)
            ),
            "notify" => format!("Notified {}.", self.names(&e.users)),
            "snooze" => format!("Snoozed by {}.", self.agent_name(&e.agent)),
            "unacknowledge" => {
                "Unacknowledged: the snooze or acknowledgement timed out.".to_owned()
            }
            "resolve" => format!("Resolved by {}.", self.agent_name(&e.agent)),
            "reopen" => format!("Reopened by {}.", self.agent_name(&e.agent)),
            other => other.to_owned(),
        };
        let mut entry = json!({
            "id": e.id, "type": format!("{}_log_entry", e.kind), "summary": summary,
            "self": format!("{}/log_entries/{}", urls.api, e.id),
            "html_url": incident.map(|i| format!("{}/incidents/{}/log_entries/{}", urls.web, i.id, e.id)),
            "created_at": time(e.created_at),
            "agent": self.agent(urls, &e.agent),
            "channel": e.channel,
            "service": incident.map_or(Value::Null, |i| self.service_ref(urls, &i.service)),
            "incident": incident.map_or(Value::Null, |i| self.incident_ref(urls, i)),
            "teams": incident.and_then(|i| self.services.get(&i.service)).map(|s| s.teams.iter().map(|t| self.team_ref(urls, t)).collect::<Vec<_>>()).unwrap_or_default(),
            "contexts": [],
            "event_details": { "description": incident.map(|i| i.title.clone()) },
        });
        if let Some(note) = &e.note {
            entry["note"] = json!(note);
        }
        if !e.users.is_empty() {
            let users: Vec<Value> = e.users.iter().map(|u| self.user_ref(urls, u)).collect();
            entry["assignees"] = json!(users);
            if e.kind == "notify" {
                entry["user"] = users[0].clone();
            }
        }
        entry
    }

    fn agent_name(&self, agent: &Agent) -> String {
        match agent {
            Agent::User(id) => self.users.get(id).map_or(id.clone(), |u| u.name.clone()),
            Agent::Integration { service } => self
                .services
                .get(service)
                .map_or("an integration".into(), |s| s.integration.name.clone()),
            Agent::System => "PagerDuty".into(),
        }
    }

    fn names(&self, users: &[String]) -> String {
        users
            .iter()
            .map(|u| self.users.get(u).map_or(u.as_str(), |u| u.name.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn change_event_json(&self, urls: &Urls, c: &ChangeEvent) -> Value {
        let integration = self.services.get(&c.service).map(|s| {
            json!({ "id": s.integration.id, "type": "inbound_integration_reference", "summary": s.integration.name, "self": format!("{}/services/{}/integrations/{}", urls.api, s.id, s.integration.id), "html_url": null })
        });
        json!({
            "id": c.id, "type": "change_event", "summary": c.summary,
            "self": format!("{}/change_events/{}", urls.api, c.id), "html_url": null,
            "timestamp": time(c.timestamp), "source": c.source,
            "integration": integration,
            "services": [self.service_ref(urls, &c.service)],
            "custom_details": c.custom_details, "links": c.links, "images": [],
        })
    }
}
