//! Changes to incidents, each through the safety engine (`Safety::gate`: planned, asked or run
//! per the mode; audited; the breaker counts failures) and made as the `From` user:
//! acknowledge, note, snooze, resolve, reassign, escalate (medium risk), create an incident and
//! change several at once (high). A plan shows the exact request. The change is checked in
//! PagerDuty's answer before it is reported as done.

use jiff::Timestamp;
use opsmcp_core::{
    approval::{Exchange, Proposal},
    output::parse_duration,
    risk::{Action, RiskLevel},
};
use reqwest::Method;
use rmcp::{
    ErrorData,
    handler::server::wrapper::Parameters,
    model::CallToolResponse,
    schemars::{self, JsonSchema},
    tool, tool_router,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    PagerDutyServer,
    client::PdError,
    render::{acknowledgers, assignees, failure, name, names, or_fail, text, untrusted_line},
};

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct AcknowledgeArgs {
    /// Incident id or number
    pub id: String,
    /// 0-1; yolo runs confident changes unasked
    pub confidence: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct NoteArgs {
    /// Incident id or number
    pub id: String,
    /// What was found or done
    pub content: String,
    /// 0-1; yolo runs confident changes unasked
    pub confidence: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SnoozeArgs {
    /// Incident id or number
    pub id: String,
    /// e.g. 30m, 2h (max 1 week)
    pub duration: String,
    /// 0-1; yolo runs confident changes unasked
    pub confidence: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ResolveArgs {
    /// Incident id or number
    pub id: String,
    /// How it was fixed
    pub resolution: String,
    /// 0-1; yolo runs confident changes unasked
    pub confidence: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ReassignArgs {
    /// Incident id or number
    pub id: String,
    /// User ids or emails
    pub assignees: Vec<String>,
    /// 0-1; yolo runs confident changes unasked
    pub confidence: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct EscalateArgs {
    /// Incident id or number
    pub id: String,
    /// Level to page (1 = first)
    pub level: u32,
    /// 0-1; yolo runs confident changes unasked
    pub confidence: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CreateArgs {
    /// Service id
    pub service_id: String,
    /// Title
    pub title: String,
    /// high (default) or low
    pub urgency: Option<String>,
    /// Details
    pub details: Option<String>,
    /// Priority id
    pub priority_id: Option<String>,
    /// Dedup key
    pub incident_key: Option<String>,
    /// 0-1; yolo runs confident changes unasked
    pub confidence: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct UpdateManyArgs {
    /// Incident ids or numbers (max 250)
    pub ids: Vec<String>,
    /// acknowledged or resolved
    pub status: String,
    /// Resolution note (with resolved)
    pub resolution: Option<String>,
    /// 0-1; yolo runs confident changes unasked
    pub confidence: Option<f64>,
}

/// What a change does, for the gate.
struct Change {
    tool: &'static str,
    verb: &'static str,
    target: String,
    risk: RiskLevel,
    bulk: bool,
    detail: String,
    method: Method,
    path: String,
    body: Value,
}

/// `#12 title — acknowledged by Maya Chen 14:06Z; assigned Maya Chen`.
fn state(i: &Value) -> String {
    let acked = acknowledgers(i, Timestamp::now());
    format!(
        "#{} {} — {}{}; assigned {}",
        i["incident_number"],
        untrusted_line(i["title"].as_str().unwrap_or("")),
        i["status"].as_str().unwrap_or("?"),
        if acked.is_empty() {
            String::new()
        } else {
            format!(" by {}", acked.join(", "))
        },
        names(assignees(i))
    )
}

fn incident_ref() -> Value {
    json!("incident_reference")
}

impl PagerDutyServer {
    /// The incident as it is now, if opsmcp may change it (its service is in the write scope).
    async fn incident(&self, id: &str) -> Result<Value, PdError> {
        // PagerDuty's ids and incident numbers are letters and digits; anything else would
        // change the path the request goes to.
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(PdError::Other(format!(
                "{:?} is not an incident id or number",
                untrusted_line(id)
            )));
        }
        let got = self.pd().get(&format!("incidents/{id}"), &[]).await?;
        let incident = got["incident"].clone();
        if incident["id"].as_str().is_none_or(str::is_empty) {
            return Err(PdError::Other(format!(
                "PagerDuty's answer for incident {id} names no incident"
            )));
        }
        self.writable(&incident["service"], || {
            format!("incident {}", state(&incident))
        })?;
        Ok(incident)
    }

    /// Refuse a change to `what` on `service` outside PAGERDUTY_WRITE_SERVICE_IDS (or
    /// PAGERDUTY_SERVICE_IDS).
    fn writable(&self, service: &Value, what: impl FnOnce() -> String) -> Result<(), PdError> {
        let scope = self.write_services();
        let id = service["id"].as_str().unwrap_or_default();
        if scope.is_empty() || scope.iter().any(|s| s == id) {
            return Ok(());
        }
        Err(PdError::Other(format!(
            "{} is on service {} ({id}), outside the services opsmcp may change ({}): set \
             PAGERDUTY_WRITE_SERVICE_IDS to include it",
            what(),
            untrusted_line(service["summary"].as_str().unwrap_or("?")),
            scope.join(", ")
        )))
    }

    /// Gate `change`, make it, and report with `done` (given PagerDuty's answer), or say why
    /// the answer does not show the change.
    async fn change(
        &self,
        exchange: Exchange,
        arguments: &impl Serialize,
        change: Change,
        preview: Option<String>,
        done: impl FnOnce(&Value) -> Result<String, String>,
    ) -> Result<CallToolResponse, ErrorData> {
        let Some(from) = self.pd().from() else {
            return Ok(failure(PdError::NoFrom).into());
        };
        let command = format!(
            "{} (From: {from}) {}",
            self.pd().describe(&change.method, &change.path),
            change.body
        );
        let action = Action {
            tool: change.tool.into(),
            verb: change.verb.into(),
            resource: Some("incident".into()),
            name: Some(change.target.clone()),
            base: Some(change.risk),
            bulk: change.bulk,
            detail: Some(change.detail.clone()),
            ..Action::default()
        };
        let proposal = Proposal::new(action, arguments, command);
        self.safety()
            .apply(&exchange, proposal, async { preview }, || async {
                match self
                    .pd()
                    .write(change.method, &change.path, &change.body)
                    .await
                {
                    Ok(answer) => done(&answer),
                    Err(e) => Err(e.to_string()),
                }
            })
            .await
    }
}

/// The incident in a PUT/POST answer, checked for `status`.
fn expect_status(answer: &Value, status: &str) -> Result<String, String> {
    let i = &answer["incident"];
    if i["status"] == status {
        Ok(state(i))
    } else {
        Err(format!(
            "PagerDuty accepted the request but the incident is {}: {}",
            i["status"],
            state(i)
        ))
    }
}

#[tool_router(router = changes_router, vis = "pub(crate)")]
impl PagerDutyServer {
    /// Acknowledge an incident (stops escalation).
    #[tool]
    pub async fn incident_acknowledge(
        &self,
        exchange: Exchange,
        Parameters(args): Parameters<AcknowledgeArgs>,
    ) -> Result<CallToolResponse, ErrorData> {
        let i = or_fail!(self.incident(&args.id).await);
        let id = i["id"].as_str().unwrap_or(&args.id).to_owned();
        match i["status"].as_str() {
            Some("acknowledged") => {
                return Ok(text(format!(
                    "already acknowledged, nothing to do: {}",
                    state(&i)
                ))
                .into());
            }
            Some("resolved") => {
                return Ok(failure(format!(
                    "{} is resolved; acknowledging it would reopen it. Create a new incident if the problem is back.",
                    state(&i)
                ))
                .into());
            }
            _ => {}
        }
        let change = Change {
            tool: "incident_acknowledge",
            verb: "acknowledge",
            target: id.clone(),
            risk: RiskLevel::Medium,
            bulk: false,
            detail: "stops escalation; responders see who has it".into(),
            method: Method::PUT,
            path: format!("incidents/{id}"),
            body: json!({ "incident": { "type": incident_ref(), "status": "acknowledged" } }),
        };
        self.change(exchange, &args, change, Some(state(&i)), |a| {
            expect_status(a, "acknowledged").map(|s| format!("acknowledged: {s}"))
        })
        .await
    }

    /// Add a note to an incident.
    #[tool]
    pub async fn incident_note_add(
        &self,
        exchange: Exchange,
        Parameters(args): Parameters<NoteArgs>,
    ) -> Result<CallToolResponse, ErrorData> {
        let content = args.content.trim();
        if content.is_empty() {
            return Ok(failure("the note is empty: say what was found or done").into());
        }
        if content.chars().count() > 25_000 {
            return Ok(failure("PagerDuty keeps notes of at most 25,000 characters").into());
        }
        let i = or_fail!(self.incident(&args.id).await);
        let id = i["id"].as_str().unwrap_or(&args.id).to_owned();
        let change = Change {
            tool: "incident_note_add",
            verb: "annotate",
            target: id.clone(),
            risk: RiskLevel::Medium,
            bulk: false,
            detail: "adds to the incident's timeline (notes cannot be deleted)".into(),
            method: Method::POST,
            path: format!("incidents/{id}/notes"),
            body: json!({ "note": { "content": content } }),
        };
        let number = i["incident_number"].clone();
        self.change(exchange, &args, change, Some(state(&i)), move |a| {
            match a["note"]["id"].as_str() {
                Some(note) => Ok(format!("note {note} added to #{number}")),
                None => Err("PagerDuty's answer carries no note".into()),
            }
        })
        .await
    }

    /// Snooze an acknowledged incident; it re-triggers after.
    #[tool]
    pub async fn incident_snooze(
        &self,
        exchange: Exchange,
        Parameters(args): Parameters<SnoozeArgs>,
    ) -> Result<CallToolResponse, ErrorData> {
        let seconds = or_fail!(parse_duration(&args.duration)).as_secs();
        if !(1..=604_800).contains(&seconds) {
            return Ok(failure("a snooze lasts from 1 second to 1 week (e.g. 30m, 4h)").into());
        }
        let i = or_fail!(self.incident(&args.id).await);
        if i["status"] != "acknowledged" {
            return Ok(failure(format!(
                "only an acknowledged incident can be snoozed: {}. Acknowledge it first.",
                state(&i)
            ))
            .into());
        }
        let id = i["id"].as_str().unwrap_or(&args.id).to_owned();
        let change = Change {
            tool: "incident_snooze",
            verb: "snooze",
            target: id.clone(),
            risk: RiskLevel::Medium,
            bulk: false,
            detail: format!("re-triggers and pages again after {}", args.duration),
            method: Method::POST,
            path: format!("incidents/{id}/snooze"),
            body: json!({ "duration": seconds }),
        };
        let duration = args.duration.clone();
        self.change(exchange, &args, change, Some(state(&i)), move |a| {
            expect_status(a, "acknowledged").map(|s| format!("snoozed for {duration}: {s}"))
        })
        .await
    }

    /// Resolve an incident with a resolution note.
    #[tool]
    pub async fn incident_resolve(
        &self,
        exchange: Exchange,
        Parameters(args): Parameters<ResolveArgs>,
    ) -> Result<CallToolResponse, ErrorData> {
        if args.resolution.trim().is_empty() {
            return Ok(failure(
                "say how it was fixed in `resolution`: it is kept with the incident",
            )
            .into());
        }
        let i = or_fail!(self.incident(&args.id).await);
        if i["status"] == "resolved" {
            return Ok(text(format!("already resolved, nothing to do: {}", state(&i))).into());
        }
        let id = i["id"].as_str().unwrap_or(&args.id).to_owned();
        let change = Change {
            tool: "incident_resolve",
            verb: "resolve",
            target: id.clone(),
            risk: RiskLevel::Medium,
            bulk: false,
            detail: "closes the incident and its alerts; a new alert opens a new incident".into(),
            method: Method::PUT,
            path: format!("incidents/{id}"),
            body: json!({ "incident": { "type": incident_ref(), "status": "resolved", "resolution": args.resolution.trim() } }),
        };
        self.change(exchange, &args, change, Some(state(&i)), |a| {
            expect_status(a, "resolved").map(|s| format!("resolved: {s}"))
        })
        .await
    }

    /// Assign an incident to other people instead.
    #[tool]
    pub async fn incident_reassign(
        &self,
        exchange: Exchange,
        Parameters(args): Parameters<ReassignArgs>,
    ) -> Result<CallToolResponse, ErrorData> {
        if args.assignees.is_empty() {
            return Ok(failure("name at least one assignee (user id or email)").into());
        }
        let mut ids = Vec::new();
        for who in &args.assignees {
            if who.contains('@') {
                let (users, _) = or_fail!(
                    self.pd()
                        .list("users", "users", &[("query", who.clone())], 10)
                        .await
                );
                match users.iter().find(|u| {
                    u["email"]
                        .as_str()
                        .is_some_and(|e| e.eq_ignore_ascii_case(who))
                }) {
                    Some(u) => ids.push(u["id"].as_str().unwrap_or("").to_owned()),
                    None => {
                        return Ok(failure(format!("no PagerDuty user has the email {who}")).into());
                    }
                }
            } else {
                ids.push(who.clone());
            }
        }
        let i = or_fail!(self.incident(&args.id).await);
        let id = i["id"].as_str().unwrap_or(&args.id).to_owned();
        let assignments: Vec<Value> = ids
            .iter()
            .map(|u| json!({ "assignee": { "id": u, "type": "user_reference" } }))
            .collect();
        let change = Change {
            tool: "incident_reassign",
            verb: "reassign",
            target: id.clone(),
            risk: RiskLevel::Medium,
            bulk: false,
            detail: "pages the new assignees; the incident is triggered again for them".into(),
            method: Method::PUT,
            path: format!("incidents/{id}"),
            body: json!({ "incident": { "type": incident_ref(), "assignments": assignments } }),
        };
        self.change(exchange, &args, change, Some(state(&i)), move |a| {
            let now: Vec<&str> = a["incident"]["assignments"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|x| x["assignee"]["id"].as_str())
                .collect();
            if ids.iter().all(|u| now.contains(&u.as_str())) {
                Ok(format!("reassigned: {}", state(&a["incident"])))
            } else {
                Err(format!(
                    "PagerDuty's answer shows other assignees: {}",
                    state(&a["incident"])
                ))
            }
        })
        .await
    }

    /// Escalate an incident to a level of its policy (pages it now).
    #[tool]
    pub async fn incident_escalate(
        &self,
        exchange: Exchange,
        Parameters(args): Parameters<EscalateArgs>,
    ) -> Result<CallToolResponse, ErrorData> {
        if args.level == 0 {
            return Ok(failure("levels start at 1").into());
        }
        let i = or_fail!(self.incident(&args.id).await);
        if i["status"] == "resolved" {
            return Ok(failure(format!(
                "{} is resolved: there is nobody to page",
                state(&i)
            ))
            .into());
        }
        let id = i["id"].as_str().unwrap_or(&args.id).to_owned();
        let change = Change {
            tool: "incident_escalate",
            verb: "escalate",
            target: id.clone(),
            risk: RiskLevel::Medium,
            bulk: false,
            detail: format!(
                "pages level {} of {} now",
                args.level,
                name(&i["escalation_policy"])
            ),
            method: Method::PUT,
            path: format!("incidents/{id}"),
            body: json!({ "incident": { "type": incident_ref(), "escalation_level": args.level } }),
        };
        let level = args.level;
        self.change(exchange, &args, change, Some(state(&i)), move |a| {
            Ok(format!(
                "escalated to level {level}: {}",
                state(&a["incident"])
            ))
        })
        .await
    }

    /// Open an incident on a service (pages its on-call).
    #[tool]
    pub async fn incident_create(
        &self,
        exchange: Exchange,
        Parameters(args): Parameters<CreateArgs>,
    ) -> Result<CallToolResponse, ErrorData> {
        if args.title.trim().is_empty() {
            return Ok(failure("the incident needs a title").into());
        }
        let urgency = args.urgency.clone().unwrap_or_else(|| "high".into());
        if !matches!(urgency.as_str(), "high" | "low") {
            return Ok(failure("urgency is high or low").into());
        }
        if !args.service_id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Ok(failure(format!(
                "{:?} is not a service id",
                untrusted_line(&args.service_id)
            ))
            .into());
        }
        let service = or_fail!(
            self.pd()
                .get(&format!("services/{}", args.service_id), &[])
                .await
        );
        let service_id = service["service"]["id"].as_str().unwrap_or_default();
        or_fail!(self.writable(
            &json!({ "id": service_id, "summary": name(&service["service"]) }),
            || "a new incident".into()
        ));
        // The service as PagerDuty named it, the one the scope was checked against.
        let mut incident = json!({
            "type": "incident", "title": args.title.trim(), "urgency": urgency,
            "service": { "id": service_id, "type": "service_reference" },
        });
        if let Some(d) = &args.details {
            incident["body"] = json!({ "type": "incident_body", "details": d });
        }
        if let Some(p) = &args.priority_id {
            incident["priority"] = json!({ "id": p, "type": "priority_reference" });
        }
        if let Some(k) = &args.incident_key {
            incident["incident_key"] = json!(k);
        }
        let change = Change {
            tool: "incident_create",
            verb: "create",
            target: name(&service["service"]),
            risk: RiskLevel::High,
            bulk: false,
            detail: format!(
                "pages the on-call of {} ({})",
                name(&service["service"]),
                name(&service["service"]["escalation_policy"])
            ),
            method: Method::POST,
            path: "incidents".into(),
            body: json!({ "incident": incident }),
        };
        self.change(
            exchange,
            &args,
            change,
            None,
            |a| match a["incident"]["id"].as_str() {
                Some(_) => Ok(format!("created: {}", state(&a["incident"]))),
                None => Err("PagerDuty's answer carries no incident".into()),
            },
        )
        .await
    }

    /// Acknowledge or resolve several incidents at once.
    #[tool]
    pub async fn incidents_update(
        &self,
        exchange: Exchange,
        Parameters(args): Parameters<UpdateManyArgs>,
    ) -> Result<CallToolResponse, ErrorData> {
        if args.ids.is_empty() || args.ids.len() > 250 {
            return Ok(failure("name 1 to 250 incidents").into());
        }
        if !matches!(args.status.as_str(), "acknowledged" | "resolved") {
            return Ok(failure("status is acknowledged or resolved").into());
        }
        // PagerDuty's bulk update takes ids; numbers are looked up first, and every incident
        // when writes are scoped to services.
        let scoped = !self.write_services().is_empty();
        let mut ids = Vec::new();
        for id in &args.ids {
            if scoped || id.chars().all(|c| c.is_ascii_digit()) {
                let i = or_fail!(self.incident(id).await);
                ids.push(i["id"].as_str().unwrap_or(id).to_owned());
            } else {
                ids.push(id.clone());
            }
        }
        let items: Vec<Value> = ids
            .iter()
            .map(|id| {
                let mut item = json!({ "id": id, "type": incident_ref(), "status": args.status });
                if let Some(r) = &args.resolution {
                    item["resolution"] = json!(r);
                }
                item
            })
            .collect();
        let change = Change {
            tool: "incidents_update",
            verb: if args.status == "resolved" {
                "resolve"
            } else {
                "acknowledge"
            },
            target: format!("{} incidents", args.ids.len()),
            risk: RiskLevel::High,
            bulk: true,
            detail: format!("sets {} incidents to {}", args.ids.len(), args.status),
            method: Method::PUT,
            path: "incidents".into(),
            body: json!({ "incidents": items }),
        };
        let status = args.status.clone();
        self.change(exchange, &args, change, None, move |a| {
            let updated = a["incidents"].as_array().cloned().unwrap_or_default();
            let wrong: Vec<String> = updated
                .iter()
                .filter(|i| i["status"] != status.as_str())
                .map(state)
                .collect();
            if wrong.is_empty() {
                Ok(format!("{} incidents {status}", updated.len()))
            } else {
                Err(format!("not {status}: {}", wrong.join("; ")))
            }
        })
        .await
    }
}
