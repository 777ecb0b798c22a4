//! An account from a scenario's `pagerduty` section: people, teams, weekly rotations (with who
//! is on call now and when the next hand-off is), escalation policies, services with their
//! Events API integrations, priorities, past incidents replayed through the same lifecycle as
//! live ones, and change events. Times are relative to the moment the sandbox starts.

use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use serde_json::Value;

use crate::timeline::Timeline;

use super::{
    incidents::NewIncident,
    model::{
        Account, Agent, ChangeEvent, EscalationPolicy, Layer, Priority, Schedule, Service, Status,
        Team, User,
    },
};

#[derive(Debug, Clone, Deserialize)]
pub struct Seed {
    pub subdomain: String,
    /// The user a user-level API token belongs to.
    pub token_user: String,
    pub users: Vec<User>,
    #[serde(default)]
    pub teams: Vec<Team>,
    #[serde(default)]
    pub schedules: Vec<ScheduleSeed>,
    #[serde(default)]
    pub escalation_policies: Vec<EscalationPolicy>,
    #[serde(default)]
    pub services: Vec<Service>,
    #[serde(default)]
    pub priorities: Vec<Priority>,
    #[serde(default)]
    pub past_incidents: Vec<PastIncident>,
    #[serde(default)]
    pub change_events: Vec<ChangeSeed>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ScheduleSeed {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "utc")]
    pub time_zone: String,
    #[serde(default)]
    pub teams: Vec<String>,
    pub layers: Vec<LayerSeed>,
}

fn utc() -> String {
    "UTC".into()
}

/// A rotation: `users` take turns of `turn_hours`; `on_call_now` holds the current turn, which
/// ends `handoff_in_hours` from the start.
#[derive(Debug, Clone, Deserialize)]
pub struct LayerSeed {
    pub id: String,
    pub name: String,
    pub users: Vec<String>,
    pub turn_hours: i64,
    pub on_call_now: String,
    pub handoff_in_hours: i64,
}

/// A resolved incident of the past, replayed: triggered by the service's integration,
/// acknowledged by `acknowledged_by`, annotated, resolved with a resolution note.
#[derive(Debug, Clone, Deserialize)]
pub struct PastIncident {
    pub service: String,
    pub title: String,
    pub days_ago: i64,
    pub acknowledged_by: String,
    pub acknowledged_after_minutes: i64,
    #[serde(default)]
    pub notes: Vec<PastNote>,
    pub resolved_after_minutes: i64,
    pub resolution: String,
    #[serde(default)]
    pub custom_details: Value,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PastNote {
    pub user: String,
    pub minutes_after: i64,
    pub content: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ChangeSeed {
    pub service: String,
    pub summary: String,
    /// The deploy this event announces (an image): it is sent when the image went live on the
    /// world's [`Timeline`].
    #[serde(default)]
    pub deploy: Option<String>,
    /// Or when it happened, before the world's epoch.
    #[serde(default)]
    pub hours_ago: Option<f64>,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub custom_details: Value,
    #[serde(default)]
    pub links: Vec<Value>,
}

impl Seed {
    /// The account as it is at `now`, its past placed on `timeline`; errors name what the
    /// section gets wrong.
    pub fn account(&self, now: Timestamp, timeline: &Timeline) -> Result<Account, String> {
        let epoch = Timestamp::from_second(timeline.epoch).map_err(|e| e.to_string())?;
        let mut account = Account::default();
        account.subdomain = self.subdomain.clone();
        for u in &self.users {
            account.users.insert(u.id.clone(), u.clone());
        }
        let known = |id: &str, what: &str| -> Result<(), String> {
            if self.users.iter().any(|u| u.id == id) {
                Ok(())
            } else {
                Err(format!("pagerduty: {what} names an unknown user {id}"))
            }
        };
        for t in &self.teams {
            for m in &t.members {
                known(m, &format!("team {}", t.name))?;
            }
            account.teams.insert(t.id.clone(), t.clone());
        }
        // Turns start on the hour, so a day's runs agree on the hand-offs.
        let hour = Timestamp::from_second(now.as_second() - now.as_second() % 3600)
            .map_err(|e| e.to_string())?;
        for s in &self.schedules {
            let mut layers = Vec::new();
            for l in &s.layers {
                let index = l
                    .users
                    .iter()
                    .position(|u| *u == l.on_call_now)
                    .ok_or_else(|| {
                        format!("pagerduty: layer {} has no user {}", l.name, l.on_call_now)
                    })?;
                for u in &l.users {
                    known(u, &format!("schedule {}", s.name))?;
                }
                let turn = SignedDuration::from_hours(l.turn_hours);
                let current_start = hour + SignedDuration::from_hours(l.handoff_in_hours) - turn;
                let virtual_start = current_start - turn * index as i32;
                layers.push(Layer {
                    id: l.id.clone(),
                    name: l.name.clone(),
                    start: virtual_start - SignedDuration::from_hours(24 * 365),
                    virtual_start,
                    turn_seconds: l.turn_hours * 3600,
                    users: l.users.clone(),
                });
            }
            account.schedules.insert(
                s.id.clone(),
                Schedule {
                    id: s.id.clone(),
                    name: s.name.clone(),
                    description: s.description.clone(),
                    time_zone: s.time_zone.clone(),
                    teams: s.teams.clone(),
                    layers,
                },
            );
        }
        for p in &self.escalation_policies {
            account.policies.insert(p.id.clone(), p.clone());
        }
        for s in &self.services {
            if !account.policies.contains_key(&s.escalation_policy) {
                return Err(format!(
                    "pagerduty: service {} names an unknown escalation policy",
                    s.name
                ));
            }
            if s.integration.routing_key.len() != 32 {
                return Err(format!(
                    "pagerduty: service {}'s routing key must have 32 characters",
                    s.name
                ));
            }
            account.services.insert(s.id.clone(), s.clone());
        }
        account.priorities = self.priorities.clone();
        let mut past = self.past_incidents.clone();
        past.sort_by_key(|p| -p.days_ago);
        for p in &past {
            let start = epoch - SignedDuration::from_hours(24 * p.days_ago);
            let at = |minutes: i64| start + SignedDuration::from_mins(minutes);
            let integration = Agent::Integration {
                service: p.service.clone(),
            };
            let (id, _) = account
                .trigger(
                    NewIncident {
                        service: p.service.clone(),
                        title: p.title.clone(),
                        urgency: "high".into(),
                        incident_key: format!("{:x}", fnv1a(&p.title, p.days_ago)),
                        details: Some(p.custom_details.clone()).filter(|d| !d.is_null()),
                        priority: None,
                        assignees: Vec::new(),
                        escalation_policy: None,
                    },
                    &integration,
                    start,
                )
                .map_err(|f| format!("pagerduty: past incident {}: {}", p.title, f.message))?;
            let ack = Agent::User(p.acknowledged_by.clone());
            let fail = |f: super::failure::Failure| {
                format!("pagerduty: past incident {}: {}", p.title, f.message)
            };
            account
                .set_status(
                    &id,
                    Status::Acknowledged,
                    None,
                    &ack,
                    at(p.acknowledged_after_minutes),
                )
                .map_err(fail)?;
            for n in &p.notes {
                account
                    .annotate(&id, &n.user, &n.content, at(n.minutes_after))
                    .map_err(fail)?;
            }
            account
                .set_status(
                    &id,
                    Status::Resolved,
                    Some(p.resolution.clone()),
                    &ack,
                    at(p.resolved_after_minutes),
                )
                .map_err(fail)?;
        }
        for c in &self.change_events {
            let timestamp = match (&c.deploy, c.hours_ago) {
                (Some(image), _) => timeline
                    .deployed(image)
                    .and_then(|at| Timestamp::from_second(at).ok())
                    .ok_or_else(|| {
                        format!(
                            "pagerduty: change event `{}`: {image} was never deployed",
                            c.summary
                        )
                    })?,
                (None, Some(hours)) => epoch - SignedDuration::from_secs_f64(hours * 3600.0),
                (None, None) => {
                    return Err(format!(
                        "pagerduty: change event `{}` needs `deploy` or `hours_ago`",
                        c.summary
                    ));
                }
            };
            let id = account.new_id();
            account.change_events.push(ChangeEvent {
                id,
                service: c.service.clone(),
                timestamp,
                summary: c.summary.clone(),
                source: c.source.clone(),
                custom_details: c.custom_details.clone(),
                links: c.links.clone(),
            });
        }
        Ok(account)
    }
}

/// FNV-1a of a title and a day: a stable dedup key for a past incident.
fn fnv1a(title: &str, day: i64) -> u64 {
    title
        .bytes()
        .chain(day.to_le_bytes())
        .fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
}
