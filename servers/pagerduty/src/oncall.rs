//! Who is on call (now or at a time, per escalation level, until when), schedules with their
//! rotations and next hand-offs, and escalation policies level by level.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
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
    render::{Table, name, names, or_fail, parse, short, span, text, untrusted_line, when},
};

/// `oncalls_list` as data (for callers that ask, see `opsmcp_core::structured`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct Oncalls {
    pub oncalls: Vec<Oncall>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Oncall {
    pub escalation_policy: String,
    /// 1 is paged first
    pub level: i64,
    pub user: OncallUser,
    pub schedule: Option<String>,
    /// RFC 3339; none when always on call
    pub end: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct OncallUser {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct OncallsArgs {
    /// Default now
    pub at: Option<String>,
    /// That service's policy
    pub service_id: Option<String>,
    /// Policy ids
    #[serde(default)]
    pub escalation_policy_ids: Vec<String>,
    /// Schedule ids
    #[serde(default)]
    pub schedule_ids: Vec<String>,
    /// User ids
    #[serde(default)]
    pub user_ids: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct QueryArgs {
    /// Filter by name
    pub query: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ScheduleArgs {
    /// Schedule id
    pub id: String,
    /// Days ahead (default 14)
    pub days: Option<i64>,
}

fn query(args: &QueryArgs) -> Vec<(&'static str, String)> {
    args.query.iter().map(|q| ("query", q.clone())).collect()
}

#[tool_router(router = oncall_router, vis = "pub(crate)")]
impl PagerDutyServer {
    /// Who is on call now (or at a time) per policy and level, until when.
    #[tool]
    pub async fn oncalls_list(
        &self,
        Parameters(args): Parameters<OncallsArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let now = Timestamp::now();
        let mut q: Vec<(&str, String)> = Vec::new();
        if let Some(at) = &args.at {
            let t = or_fail!(parse_time(at, now).map_err(|e| e.to_string()));
            let t = t.round(jiff::Unit::Second).unwrap_or(t).to_string();
            q.push(("since", t.clone()));
            q.push(("until", t));
        }
        let mut policies = args.escalation_policy_ids.clone();
        if let Some(service) = &args.service_id {
            let s = or_fail!(self.pd().get(&format!("services/{service}"), &[]).await);
            if let Some(p) = s["service"]["escalation_policy"]["id"].as_str() {
                policies.push(p.to_owned());
            }
        }
        q.extend(
            policies
                .iter()
                .map(|p| ("escalation_policy_ids[]", p.clone())),
        );
        q.extend(
            args.schedule_ids
                .iter()
                .map(|s| ("schedule_ids[]", s.clone())),
        );
        q.extend(args.user_ids.iter().map(|u| ("user_ids[]", u.clone())));
        let (oncalls, more) = or_fail!(self.pd().list("oncalls", "oncalls", &q, 500).await);
        if oncalls.is_empty() {
            return Ok(text("nobody is on call for that"));
        }
        // Policy → level → "user (schedule, until …)".
        let mut by_policy: BTreeMap<String, BTreeMap<i64, Vec<String>>> = BTreeMap::new();
        let mut data = Oncalls {
            oncalls: Vec::with_capacity(oncalls.len()),
        };
        for o in &oncalls {
            data.oncalls.push(Oncall {
                escalation_policy: name(&o["escalation_policy"]),
                level: o["escalation_level"].as_i64().unwrap_or(0),
                user: OncallUser {
                    id: o["user"]["id"].as_str().unwrap_or_default().to_owned(),
                    name: name(&o["user"]),
                },
                schedule: (!o["schedule"].is_null()).then(|| name(&o["schedule"])),
                end: o["end"].as_str().map(str::to_owned),
            });
            let until = match parse(&o["end"]) {
                Some(end) => format!(
                    "until {} (in {})",
                    short(end, now),
                    span(end.as_second() - now.as_second())
                ),
                None => "always".into(),
            };
            let via = if o["schedule"].is_null() {
                String::new()
            } else {
                format!("{}, ", name(&o["schedule"]))
            };
            let entry = format!("{} ({via}{until})", name(&o["user"]));
            let level = by_policy
                .entry(name(&o["escalation_policy"]))
                .or_default()
                .entry(o["escalation_level"].as_i64().unwrap_or(0))
                .or_default();
            if !level.contains(&entry) {
                level.push(entry);
            }
        }
        let mut out = format!(
            "on call {}:\n",
            args.at
                .as_ref()
                .map_or_else(|| "now".to_owned(), |a| format!("at {a}"))
        );
        for (policy, levels) in by_policy {
            out.push_str(&format!("{policy}:\n"));
            for (level, people) in levels {
                out.push_str(&format!("  L{level} {}\n", people.join("; ")));
            }
        }
        if more {
            out.push_str("(more on-calls than shown: filter by policy or schedule)\n");
        }
        Ok(with_structured(text(out.trim_end().to_owned()), &data))
    }

    /// Schedules, with who is on call now and until when.
    #[tool]
    pub async fn schedules_list(
        &self,
        Parameters(args): Parameters<QueryArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let now = Timestamp::now();
        let pd = self.pd();
        let filter = query(&args);
        let (schedules, oncalls) = tokio::join!(
            pd.list("schedules", "schedules", &filter, 200),
            pd.list("oncalls", "oncalls", &[], 500)
        );
        let (schedules, _) = or_fail!(schedules);
        let (oncalls, _) = or_fail!(oncalls);
        if schedules.is_empty() {
            return Ok(text("no schedules match"));
        }
        let mut table = Table::new(["schedule", "id", "on call now", "until", "tz"]);
        for s in &schedules {
            let current = oncalls.iter().find(|o| {
                o["schedule"]["id"] == s["id"] && parse(&o["start"]).is_some_and(|t| t <= now)
            });
            table.row([
                untrusted_line(s["name"].as_str().unwrap_or("")),
                s["id"].as_str().unwrap_or("").to_owned(),
                current.map_or("—".into(), |o| name(&o["user"])),
                current
                    .and_then(|o| parse(&o["end"]))
                    .map_or("—".into(), |t| short(t, now)),
                s["time_zone"].as_str().unwrap_or("").to_owned(),
            ]);
        }
        Ok(text(table.render()))
    }

    /// One schedule: rotations and coming hand-offs.
    #[tool]
    pub async fn schedule_get(
        &self,
        Parameters(args): Parameters<ScheduleArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let now = Timestamp::now();
        let days = args.days.unwrap_or(14).clamp(1, 90);
        let until = now + SignedDuration::from_hours(24 * days);
        let q = [
            (
                "since",
                now.round(jiff::Unit::Second).unwrap_or(now).to_string(),
            ),
            (
                "until",
                until.round(jiff::Unit::Second).unwrap_or(until).to_string(),
            ),
        ];
        let got = or_fail!(self.pd().get(&format!("schedules/{}", args.id), &q).await);
        let s = &got["schedule"];
        let mut out = format!(
            "{} ({}) · {} · {}\n",
            untrusted_line(s["name"].as_str().unwrap_or("")),
            s["id"].as_str().unwrap_or(""),
            s["time_zone"].as_str().unwrap_or(""),
            untrusted_line(s["description"].as_str().unwrap_or(""))
        );
        for layer in s["schedule_layers"].as_array().into_iter().flatten() {
            let users: Vec<&Value> = layer["users"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|u| &u["user"])
                .collect();
            out.push_str(&format!(
                "layer {}: {} take turns of {}\n",
                untrusted_line(layer["name"].as_str().unwrap_or("")),
                names(users),
                span(layer["rotation_turn_length_seconds"].as_i64().unwrap_or(0))
            ));
        }
        out.push_str(&format!("next {days} days:\n"));
        for e in s["final_schedule"]["rendered_schedule_entries"]
            .as_array()
            .into_iter()
            .flatten()
        {
            out.push_str(&format!(
                "  {} → {}  {}\n",
                parse(&e["start"]).map_or_else(String::new, when),
                parse(&e["end"]).map_or_else(String::new, when),
                name(&e["user"])
            ));
        }
        Ok(text(out.trim_end().to_owned()))
    }

    /// Escalation policies level by level, with their services.
    #[tool]
    pub async fn escalation_policies_list(
        &self,
        Parameters(args): Parameters<QueryArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let (policies, _) = or_fail!(
            self.pd()
                .list(
                    "escalation_policies",
                    "escalation_policies",
                    &query(&args),
                    200
                )
                .await
        );
        if policies.is_empty() {
            return Ok(text("no escalation policies match"));
        }
        let mut out = String::new();
        for p in &policies {
            out.push_str(&format!(
                "{} ({}) · services: {} · repeats {}×\n",
                untrusted_line(p["name"].as_str().unwrap_or("")),
                p["id"].as_str().unwrap_or(""),
                names(p["services"].as_array().into_iter().flatten()),
                p["num_loops"]
            ));
            for (n, rule) in p["escalation_rules"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                out.push_str(&format!(
                    "  L{} {} (escalates after {}m)\n",
                    n + 1,
                    names(rule["targets"].as_array().into_iter().flatten()),
                    rule["escalation_delay_in_minutes"]
                ));
            }
        }
        Ok(text(out.trim_end().to_owned()))
    }
}
