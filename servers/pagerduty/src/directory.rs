//! The account's directory: services (status, escalation policy, teams, integrations), users
//! (and "me"), teams.

use rmcp::{
    ErrorData,
    handler::server::wrapper::Parameters,
    model::CallToolResult,
    schemars::{self, JsonSchema},
    tool, tool_router,
};
use serde::{Deserialize, Serialize};

use crate::{
    PagerDutyServer,
    oncall::QueryArgs,
    render::{Table, name, names, or_fail, text, untrusted_line},
};

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ServicesArgs {
    /// Filter by name
    pub query: Option<String>,
    /// Team ids
    #[serde(default)]
    pub team_ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ServiceRef {
    /// Service id
    pub id: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct UsersArgs {
    /// Name or email
    pub query: Option<String>,
    /// Only the key's own user
    #[serde(default)]
    pub me: bool,
}

#[tool_router(router = directory_router, vis = "pub(crate)")]
impl PagerDutyServer {
    /// Services: status, escalation policy, teams.
    #[tool]
    pub async fn services_list(
        &self,
        Parameters(args): Parameters<ServicesArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let mut q: Vec<(&str, String)> = args.query.iter().map(|q| ("query", q.clone())).collect();
        q.extend(args.team_ids.iter().map(|t| ("team_ids[]", t.clone())));
        let (services, more) = or_fail!(self.pd().list("services", "services", &q, 500).await);
        if services.is_empty() {
            return Ok(text("no services match"));
        }
        let mut table = Table::new(["service", "id", "status", "escalation policy", "teams"]);
        for s in &services {
            table.row([
                untrusted_line(s["name"].as_str().unwrap_or("")),
                s["id"].as_str().unwrap_or("").to_owned(),
                s["status"].as_str().unwrap_or("").to_owned(),
                name(&s["escalation_policy"]),
                names(s["teams"].as_array().into_iter().flatten()),
            ]);
        }
        let mut out = table.render();
        if more {
            out.push_str("\nmore than 500 services: filter with query or team_ids");
        }
        Ok(text(out))
    }

    /// One service: status, policy, teams, integrations, timeouts.
    #[tool]
    pub async fn service_get(
        &self,
        Parameters(args): Parameters<ServiceRef>,
    ) -> Result<CallToolResult, ErrorData> {
        let got = or_fail!(self.pd().get(&format!("services/{}", args.id), &[]).await);
        let s = &got["service"];
        let seconds =
            |v: &serde_json::Value| v.as_u64().map_or("never".into(), |n| format!("{n}s"));
        Ok(text(format!(
            "{} ({}) — {}\n{}\nescalation policy: {} · teams: {}\nintegrations: {}\nacknowledgement timeout: {} · auto-resolve: {} · last incident: {}\n{}",
            untrusted_line(s["name"].as_str().unwrap_or("")),
            s["id"].as_str().unwrap_or(""),
            s["status"].as_str().unwrap_or(""),
            untrusted_line(s["description"].as_str().unwrap_or("")),
            name(&s["escalation_policy"]),
            names(s["teams"].as_array().into_iter().flatten()),
            names(s["integrations"].as_array().into_iter().flatten()),
            seconds(&s["acknowledgement_timeout"]),
            seconds(&s["auto_resolve_timeout"]),
            s["last_incident_timestamp"].as_str().unwrap_or("—"),
            s["html_url"].as_str().unwrap_or(""),
        )))
    }

    /// Users (name, email, role, teams).
    #[tool]
    pub async fn users_list(
        &self,
        Parameters(args): Parameters<UsersArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let users = if args.me {
            let me = or_fail!(self.pd().get("users/me", &[]).await);
            vec![me["user"].clone()]
        } else {
            let q: Vec<(&str, String)> = args.query.iter().map(|q| ("query", q.clone())).collect();
            or_fail!(self.pd().list("users", "users", &q, 500).await).0
        };
        if users.is_empty() {
            return Ok(text("no users match"));
        }
        let mut table = Table::new(["name", "email", "role", "teams", "id", "time zone"]);
        for u in &users {
            table.row([
                untrusted_line(u["name"].as_str().unwrap_or("")),
                u["email"].as_str().unwrap_or("").to_owned(),
                u["role"].as_str().unwrap_or("").to_owned(),
                names(u["teams"].as_array().into_iter().flatten()),
                u["id"].as_str().unwrap_or("").to_owned(),
                u["time_zone"].as_str().unwrap_or("").to_owned(),
            ]);
        }
        Ok(text(table.render()))
    }

    /// Teams.
    #[tool]
    pub async fn teams_list(
        &self,
        Parameters(args): Parameters<QueryArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let q: Vec<(&str, String)> = args.query.iter().map(|q| ("query", q.clone())).collect();
        let (teams, _) = or_fail!(self.pd().list("teams", "teams", &q, 500).await);
        if teams.is_empty() {
            return Ok(text("no teams match"));
        }
        let mut table = Table::new(["team", "id", "description"]).max_cell(Some(80));
        for t in &teams {
            table.row([
                untrusted_line(t["name"].as_str().unwrap_or("")),
                t["id"].as_str().unwrap_or("").to_owned(),
                untrusted_line(t["description"].as_str().unwrap_or("")),
            ]);
        }
        Ok(text(table.render()))
    }
}
