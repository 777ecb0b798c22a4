//! An incident's life: triggered (assigned to the escalation policy's first level), then
//! acknowledged, snoozed, reassigned, escalated, annotated, resolved and reopened — each change
//! written to the log entries and announced as a webhook event, the way PagerDuty does.

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::{
    failure::Failure,
    model::{Account, Agent, Incident, LogEntry, Note, Status},
    oncall,
};

/// A webhook event to deliver: its type, the incident, who did it, and for `annotated` the
/// note.
#[derive(Debug, Clone)]
pub struct Emitted {
    pub event_type: &'static str,
    pub incident: String,
    pub agent: Agent,
    pub note: Option<Note>,
}

impl Emitted {
    fn new(event_type: &'static str, incident: &str, agent: &Agent) -> Self {
        Self {
            event_type,
            incident: incident.to_owned(),
            agent: agent.clone(),
            note: None,
        }
    }
}

/// What a new incident starts from.
#[derive(Debug, Clone)]
pub struct NewIncident {
    pub service: String,
    pub title: String,
    pub urgency: String,
    pub incident_key: String,
    pub details: Option<Value>,
    pub priority: Option<String>,
    /// Users to assign instead of the escalation policy's first level.
    pub assignees: Vec<String>,
    pub escalation_policy: Option<String>,
}

/// The channel of an entry made by `agent`.
fn channel(agent: &Agent) -> Value {
    match agent {
        Agent::User(_) => json!({ "type": "web_trigger" }),
        Agent::Integration { .. } => json!({ "type": "events_api_v2" }),
        Agent::System => json!({ "type": "timeout" }),
    }
}

impl Incident {
    /// Page `users`: they become the assignees and the incident is triggered again for them.
    fn page(&mut self, users: &[String], at: Timestamp) {
        self.assignments = users.iter().map(|u| (at, u.clone())).collect();
        self.status = Status::Triggered;
        self.acknowledgements.clear();
        self.snoozed_until = None;
        self.updated_at = at;
    }
}

impl Account {
    /// Append a log entry; the caller adds a note, users or a level to what it returns.
    fn log(
        &mut self,
        kind: &'static str,
        incident: &str,
        agent: &Agent,
        at: Timestamp,
    ) -> &mut LogEntry {
        let id = self.new_id();
        self.log_entries.push(LogEntry {
            id,
            kind,
            created_at: at,
            incident: incident.to_owned(),
            agent: agent.clone(),
            channel: channel(agent),
            note: None,
            users: Vec::new(),
            escalation_level: None,
        });
        self.log_entries.last_mut().unwrap()
    }

    fn open_incident(&mut self, id: &str) -> Result<&mut Incident, Failure> {
        self.incident_mut(id)
            .ok_or_else(|| Failure::not_found("Incident"))
    }

    /// Open an incident; returns its id.
    pub fn trigger(
        &mut self,
        new: NewIncident,
        agent: &Agent,
        at: Timestamp,
    ) -> Result<(String, Vec<Emitted>), Failure> {
        let service = self
            .services
            .get(&new.service)
            .ok_or_else(|| Failure::invalid("Service not found"))?
            .clone();
        let policy = new
            .escalation_policy
            .unwrap_or(service.escalation_policy.clone());
        let assignees = if new.assignees.is_empty() {
            oncall::level_users(self, &policy, 1, at)
        } else {
            new.assignees
        };
        let id = self.new_id();
        let number = self.incidents.iter().map(|i| i.number).max().unwrap_or(0) + 1;
        let entry = self.log("trigger", &id, agent, at).id.clone();
        self.incidents.push(Incident {
            id: id.clone(),
            number,
            title: new.title,
            status: Status::Triggered,
            urgency: new.urgency,
            priority: new.priority,
            service: service.id.clone(),
            escalation_policy: policy,
            escalation_level: 1,
            level_since: at,
            incident_key: new.incident_key,
            created_at: at,
            updated_at: at,
            last_status_change_at: at,
            last_status_change_by: agent.clone(),
            resolved_at: None,
            assignments: assignees.iter().map(|u| (at, u.clone())).collect(),
            acknowledgements: Vec::new(),
            snoozed_until: None,
            notes: Vec::new(),
            details: new.details,
            first_trigger_log_entry: entry,
        });
        self.log("notify", &id, &Agent::System, at).users = assignees;
        Ok((
            id.clone(),
            vec![Emitted::new("incident.triggered", &id, agent)],
        ))
    }

    /// Set the status: acknowledge, resolve (with a resolution note), or back to triggered. A
    /// resolved incident set to triggered or acknowledged is reopened.
    pub fn set_status(
        &mut self,
        id: &str,
        status: Status,
        resolution: Option<String>,
        agent: &Agent,
        at: Timestamp,
    ) -> Result<Vec<Emitted>, Failure> {
        let incident = self.open_incident(id)?;
        let id = incident.id.clone();
        let was = incident.status;
        let mut emitted = Vec::new();
        match (was, status) {
            (Status::Resolved, Status::Resolved) => {
                return Err(Failure::new(400, 1001, "Incident Already Resolved"));
            }
            (Status::Resolved, _) => {
                incident.status = Status::Triggered;
                incident.resolved_at = None;
                incident.last_status_change_at = at;
                incident.last_status_change_by = agent.clone();
                incident.updated_at = at;
                incident.escalation_level = 1;
                incident.level_since = at;
                let policy = incident.escalation_policy.clone();
                let users = oncall::level_users(self, &policy, 1, at);
                let incident = self.incident_mut(&id).unwrap();
                incident.assignments = users.iter().map(|u| (at, u.clone())).collect();
                self.log("reopen", &id, agent, at);
                emitted.push(Emitted::new("incident.reopened", &id, agent));
                if status == Status::Triggered {
                    return Ok(emitted);
                }
            }
            (current, wanted) if current == wanted && wanted != Status::Acknowledged => {
                return Ok(emitted);
            }
            _ => {}
        }
        let incident = self.incident_mut(&id).unwrap();
        incident.updated_at = at;
        match status {
            Status::Acknowledged => {
                let user = match agent {
                    Agent::User(u) => Some(u.clone()),
                    _ => None,
                };
                let already = incident.status == Status::Acknowledged
                    && user
                        .as_ref()
                        .is_some_and(|u| incident.acknowledgements.iter().any(|(_, a)| a == u));
                if already {
                    return Ok(emitted);
                }
                if incident.status != Status::Acknowledged {
                    incident.last_status_change_at = at;
                    incident.last_status_change_by = agent.clone();
                }
                incident.status = Status::Acknowledged;
                if let Some(u) = user {
                    incident.acknowledgements.push((at, u));
                }
                self.log("acknowledge", &id, agent, at);
                emitted.push(Emitted::new("incident.acknowledged", &id, agent));
            }
            Status::Resolved => {
                incident.status = Status::Resolved;
                incident.resolved_at = Some(at);
                incident.last_status_change_at = at;
                incident.last_status_change_by = agent.clone();
                incident.snoozed_until = None;
                incident.assignments.clear();
                for alert in self.alerts.iter_mut().filter(|a| a.incident == id) {
                    alert.status = Status::Resolved;
                }
                let entry = self.log("resolve", &id, agent, at);
                if let Some(note) = resolution {
                    entry.channel["summary"] = json!(note);
                    entry.note = Some(note);
                }
                emitted.push(Emitted::new("incident.resolved", &id, agent));
            }
            Status::Triggered => {
                incident.status = Status::Triggered;
                incident.level_since = at;
                incident.acknowledgements.clear();
                incident.snoozed_until = None;
                incident.last_status_change_at = at;
                incident.last_status_change_by = agent.clone();
                self.log("unacknowledge", &id, agent, at);
                emitted.push(Emitted::new("incident.unacknowledged", &id, agent));
            }
        }
        Ok(emitted)
    }

    /// Assign to these users (replacing the assignees).
    pub fn reassign(
        &mut self,
        id: &str,
        users: Vec<String>,
        agent: &Agent,
        at: Timestamp,
    ) -> Result<Vec<Emitted>, Failure> {
        if let Some(unknown) = users.iter().find(|u| !self.users.contains_key(*u)) {
            return Err(Failure::invalid(format!("User {unknown} not found")));
        }
        let incident = self.open_incident(id)?;
        if incident.status == Status::Resolved {
            return Err(Failure::new(400, 1001, "Incident Already Resolved"));
        }
        let id = incident.id.clone();
        incident.page(&users, at);
        self.log("assign", &id, agent, at).users = users;
        Ok(vec![Emitted::new("incident.reassigned", &id, agent)])
    }

    /// Hand the incident to another escalation policy, assigned to its first level.
    pub fn delegate(
        &mut self,
        id: &str,
        policy: &str,
        agent: &Agent,
        at: Timestamp,
    ) -> Result<Vec<Emitted>, Failure> {
        if !self.policies.contains_key(policy) {
            return Err(Failure::invalid("Escalation policy not found"));
        }
        let users = oncall::level_users(self, policy, 1, at);
        let incident = self.open_incident(id)?;
        let id = incident.id.clone();
        incident.escalation_policy = policy.to_owned();
        incident.escalation_level = 1;
        incident.level_since = at;
        incident.page(&users, at);
        self.log("assign", &id, agent, at).users = users;
        Ok(vec![Emitted::new("incident.delegated", &id, agent)])
    }

    /// Escalate to a level (1-based) of the incident's escalation policy.
    pub fn escalate(
        &mut self,
        id: &str,
        level: usize,
        agent: &Agent,
        at: Timestamp,
    ) -> Result<Vec<Emitted>, Failure> {
        let incident = self.open_incident(id)?;
        if incident.status == Status::Resolved {
            return Err(Failure::new(400, 1001, "Incident Already Resolved"));
        }
        let (id, policy) = (incident.id.clone(), incident.escalation_policy.clone());
        let levels = self.policies.get(&policy).map_or(0, |p| p.rules.len());
        if level == 0 || level > levels {
            return Err(Failure::new(
                400,
                1006,
                format!(
                    "Cannot escalate to level {level}: the escalation policy has {levels} level(s)"
                ),
            ));
        }
        let users = oncall::level_users(self, &policy, level, at);
        let incident = self.incident_mut(&id).unwrap();
        incident.escalation_level = level;
        incident.level_since = at;
        incident.page(&users, at);
        let entry = self.log("escalate", &id, agent, at);
        entry.users = users;
        entry.escalation_level = Some(level);
        Ok(vec![Emitted::new("incident.escalated", &id, agent)])
    }

    /// Snooze an acknowledged incident for `seconds`; it re-triggers when the time is up.
    pub fn snooze(
        &mut self,
        id: &str,
        seconds: i64,
        agent: &Agent,
        at: Timestamp,
    ) -> Result<Vec<Emitted>, Failure> {
        if !(1..=604_800).contains(&seconds) {
            return Err(Failure::new(
                400,
                1013,
                "Snooze duration must be between 1 second and 1 week (604800 seconds)",
            ));
        }
        let incident = self.open_incident(id)?;
        if incident.status != Status::Acknowledged {
            return Err(Failure::new(
                400,
                1012,
                "Incident is not acknowledged: only an acknowledged incident can be snoozed",
            ));
        }
        let id = incident.id.clone();
        incident.snoozed_until = Some(at + SignedDuration::from_secs(seconds));
        incident.updated_at = at;
        self.log("snooze", &id, agent, at);
        Ok(Vec::new())
    }

    /// Add a note by `user`.
    pub fn annotate(
        &mut self,
        id: &str,
        user: &str,
        content: &str,
        at: Timestamp,
    ) -> Result<(Note, Vec<Emitted>), Failure> {
        if content.trim().is_empty() {
            return Err(Failure::invalid("Note content can't be blank."));
        }
        if content.chars().count() > 25_000 {
            return Err(Failure::invalid(
                "Note content is too long (maximum is 25000 characters)",
            ));
        }
        let note_id = self.new_id();
        let incident = self.open_incident(id)?;
        if incident.notes.len() >= 2000 {
            return Err(Failure::invalid("An incident can have at most 2000 notes"));
        }
        let id = incident.id.clone();
        let note = Note {
            id: note_id,
            user: user.to_owned(),
            content: content.to_owned(),
            created_at: at,
        };
        incident.notes.push(note.clone());
        incident.updated_at = at;
        let agent = Agent::User(user.to_owned());
        let entry = self.log("annotate", &id, &agent, at);
        entry.channel["summary"] = json!(content);
        entry.note = Some(content.to_owned());
        let mut event = Emitted::new("incident.annotated", &id, &agent);
        event.note = Some(note.clone());
        Ok((note, vec![event]))
    }

    /// Time passes: snoozes run out and acknowledged incidents past their service's
    /// acknowledgement timeout re-trigger; a triggered incident nobody acknowledged within its
    /// level's delay escalates to the next level (the last level keeps it).
    pub fn tick(&mut self, now: Timestamp) -> Vec<Emitted> {
        let mut emitted = self.retrigger(now);
        let overdue: Vec<(String, usize, Timestamp)> = self
            .incidents
            .iter()
            .filter(|i| i.status == Status::Triggered)
            .filter_map(|i| {
                let rules = &self.policies.get(&i.escalation_policy)?.rules;
                let rule = rules.get(i.escalation_level.checked_sub(1)?)?;
                let due = i.level_since + SignedDuration::from_mins(i64::from(rule.delay_minutes));
                (due <= now && i.escalation_level < rules.len())
                    .then(|| (i.id.clone(), i.escalation_level + 1, due))
            })
            .collect();
        for (id, level, due) in overdue {
            emitted.extend(
                self.escalate(&id, level, &Agent::System, due)
                    .unwrap_or_default(),
            );
        }
        emitted
    }

    /// Snoozes and acknowledgement timeouts that ran out.
    fn retrigger(&mut self, now: Timestamp) -> Vec<Emitted> {
        let due: Vec<String> = self
            .incidents
            .iter()
            .filter(|i| i.status == Status::Acknowledged)
            .filter(|i| {
                let snooze = i.snoozed_until.is_some_and(|t| t <= now);
                let ack_timeout = i.snoozed_until.is_none()
                    && self
                        .services
                        .get(&i.service)
                        .and_then(|s| s.acknowledgement_timeout)
                        .is_some_and(|t| {
                            i.last_status_change_at + SignedDuration::from_secs(t as i64) <= now
                        });
                snooze || ack_timeout
            })
            .map(|i| i.id.clone())
            .collect();
        due.iter()
            .flat_map(|id| {
                self.set_status(id, Status::Triggered, None, &Agent::System, now)
                    .unwrap_or_default()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use jiff::{SignedDuration, Timestamp};

    use super::*;
    use crate::{
        scenario::{INCIDENT, Scenario},
        timeline::Timeline,
    };

    fn account(now: Timestamp) -> Account {
        let scenario = Scenario::parse(INCIDENT).unwrap();
        let went_live = [("shop/worker:1.4.2".to_owned(), now.as_second() - 19 * 3600)];
        let timeline = Timeline::new(
            now.as_second(),
            went_live.into_iter().collect(),
            &scenario.deploys,
        );
        scenario.pagerduty.unwrap().account(now, &timeline).unwrap()
    }

    fn oom(account: &mut Account, at: Timestamp) -> String {
        let new = NewIncident {
            service: "PSWORKR".into(),
            title: "worker OOM".into(),
            urgency: "high".into(),
            incident_key: "k".into(),
            details: None,
            priority: None,
            assignees: Vec::new(),
            escalation_policy: None,
        };
        account.trigger(new, &Agent::System, at).unwrap().0
    }

    #[test]
    fn unacknowledged_incidents_escalate_after_the_level_delay_and_stop_at_the_last() {
        let now = Timestamp::now();
        let mut a = account(now);
        let id = oom(&mut a, now);
        assert!(a.tick(now + SignedDuration::from_mins(29)).is_empty());
        let events = a.tick(now + SignedDuration::from_mins(31));
        assert_eq!(events[0].event_type, "incident.escalated");
        let i = a.incident(&id).unwrap();
        assert_eq!(i.escalation_level, 2);
        assert_eq!(i.assignments[0].1, "PSAMR01", "the policy's second level");
        assert!(
            a.tick(now + SignedDuration::from_mins(120)).is_empty(),
            "the last level keeps it"
        );
    }

    #[test]
    fn acknowledged_incidents_do_not_escalate_but_snoozes_run_out() {
        let now = Timestamp::now();
        let mut a = account(now);
        let id = oom(&mut a, now);
        let maya = Agent::User("PMAYA01".into());
        a.set_status(&id, Status::Acknowledged, None, &maya, now)
            .unwrap();
        a.snooze(&id, 600, &maya, now).unwrap();
        assert!(a.tick(now + SignedDuration::from_mins(5)).is_empty());
        let events = a.tick(now + SignedDuration::from_mins(11));
        assert_eq!(events[0].event_type, "incident.unacknowledged");
        assert_eq!(a.incident(&id).unwrap().status, Status::Triggered);
        assert_eq!(
            a.incident(&id).unwrap().escalation_level,
            1,
            "escalation starts over"
        );
    }
}
