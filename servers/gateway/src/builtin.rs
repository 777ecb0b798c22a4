//! The gateway's incident tools, over a service map in its configuration:
//!
//! ```toml
//! [[service]]
//! name = "worker"
//! namespace = "shop"
//! deployment = "worker"                  # its pods carry app=<deployment>
//! loki_selector = '{namespace="shop", app="worker"}'   # the default
//! pagerduty_service = "PSWORKR"
//! github_repo = "shop/worker"
//! runbooks = "Worker"                    # words of its runbooks' titles (default: its name)
//! ```
//!
//! - `incident_triage(incident)`: the incident, then everything about its service at once —
//!   on-call, its pods with their restarts and last terminations, memory and CPU against limits, error
//!   patterns since shortly before it, warnings, the deployment's revisions, the commits of
//!   the day before, the runbooks;
//! - `service_overview(service)`: the same without an incident;
//! - `search_everywhere(text, window)`: one text across logs, Kubernetes events, metric names,
//!   alerts, incidents, code, issues, commits and pages.
//!
//! Each part is one call of an upstream's tool through the gateway's pipeline (cache,
//! retries, history), all in parallel, each with its own deadline; the report names where each
//! part came from, and a part that fails says why while the others stand (a partial report).
//! Parts are cut to a few lines so the whole stays within a host's budget.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use opsmcp_core::tools::{failure, read_tool, text};
use rmcp::{
    RoleServer,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, JsonObject, RequestMetaObject,
        Tool,
    },
    service::RequestContext,
};
use serde_json::{Value, json};

use crate::{GatewayServer, config::ServiceSpec, history::text_of};

pub const TRIAGE: &str = "incident_triage";
pub const OVERVIEW: &str = "service_overview";
pub const SEARCH: &str = "search_everywhere";

/// How long one part may take.
const DEADLINE: Duration = Duration::from_secs(5);
/// Lines kept of one part's answer.
const PART_LINES: usize = 12;
/// Characters kept of one line.
const LINE_CHARS: usize = 160;

/// The tools, with the service names as the map declares them.
pub fn tools(services: &[ServiceSpec]) -> Vec<Tool> {
    let names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
    let mut tools = vec![read_tool(
        SEARCH,
        "One text across logs, Kubernetes events, metric names, alerts, incidents, code, issues, commits and runbooks, in parallel; results grouped by source",
        json!({ "type": "object", "properties": {
            "text": { "type": "string", "description": "Literal text to find" },
            "window": { "type": "string", "description": "How far back (default 6h)" }
        }, "required": ["text"] }),
        true,
    )];
    if !services.is_empty() {
        tools.push(read_tool(
            TRIAGE,
            "An incident and everything about its service in one report: on-call, unhealthy pods and last terminations, memory/CPU against limits, error patterns, warnings, revisions, commits of the day before, runbooks",
            json!({ "type": "object", "properties": {
                "incident": { "type": "string", "description": "PagerDuty incident number or id (default: the newest open one)" }
            } }),
            true,
        ));
        tools.push(read_tool(
            OVERVIEW,
            "A service now: on-call, unhealthy pods, memory/CPU against limits, error patterns, warnings, revisions, recent commits, runbooks",
            json!({ "type": "object", "properties": {
                "service": { "type": "string", "enum": names }
            }, "required": ["service"] }),
            true,
        ));
    }
    tools
}

/// One part of a report: a tool call and how much of its answer to keep.
struct Part {
    title: String,
    tool: &'static str,
    arguments: Value,
    /// Keep only lines containing this (case-insensitive).
    grep: Option<String>,
}

impl Part {
    fn new(title: impl Into<String>, tool: &'static str, arguments: Value) -> Self {
        Self {
            title: title.into(),
            tool,
            arguments,
            grep: None,
        }
    }

    fn grep(mut self, text: &str) -> Self {
        self.grep = Some(text.to_lowercase());
        self
    }
}

/// Put `head` before the first text of `result`.
fn prepend(result: &mut CallToolResult, head: &str) {
    if let Some(first) = result.content.first_mut()
        && let Some(t) = first.as_text()
    {
        *first = rmcp::model::ContentBlock::text(format!("{head}{}", t.text));
    }
}

impl GatewayServer {
    pub(crate) async fn run_builtin(
        &self,
        name: &str,
        arguments: Option<&JsonObject>,
        cx: &RequestContext<RoleServer>,
    ) -> CallToolResult {
        let arg = |key: &str| arguments.and_then(|a| a.get(key)).and_then(Value::as_str);
        match name {
            TRIAGE => match arg("incident") {
                Some(incident) => self.triage(incident, cx).await,
                // An agent that comes after the page starts from what is open.
                None => match self.open_incidents(cx).await {
                    Ok(open) if open.is_empty() => {
                        text("No open incident (triggered or acknowledged): nothing to triage.")
                    }
                    Ok(open) => {
                        let newest = open.iter().max().copied().unwrap_or_default().to_string();
                        let mut report = self.triage(&newest, cx).await;
                        if open.len() > 1 {
                            let others: Vec<String> = open
                                .iter()
                                .filter(|n| n.to_string() != newest)
                                .map(|n| format!("#{n}"))
                                .collect();
                            prepend(
                                &mut report,
                                &format!(
                                    "Open incidents: the newest (#{newest}) below; also open: {}\n\n",
                                    others.join(", ")
                                ),
                            );
                        }
                        report
                    }
                    Err(why) => failure(format!(
                        "the open incidents could not be read (pagerduty/incidents_list): {why}"
                    )),
                },
            },
            OVERVIEW => match arg("service").and_then(|s| self.service(|m| m.name == s)) {
                Some(service) => {
                    let parts =
                        overview(&service, Timestamp::now() - SignedDuration::from_hours(1));
                    let body = self.parts(parts, cx).await;
                    text(
                        format!("{} ({}) now\n\n{body}", service.name, service.namespace)
                            .trim_end(),
                    )
                }
                None => failure(format!(
                    "service_overview needs `service`, one of: {}",
                    self.inner
                        .services
                        .iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            },
            _ => match arg("text") {
                Some(needle) => {
                    let window = arg("window").unwrap_or("6h");
                    let body = self.parts(search(needle, window), cx).await;
                    text(
                        format!("\"{needle}\" in the last {window}, by source\n\n{body}")
                            .trim_end(),
                    )
                }
                None => failure("search_everywhere needs `text`"),
            },
        }
    }

    fn service(&self, matches: impl Fn(&ServiceSpec) -> bool) -> Option<ServiceSpec> {
        self.inner.services.iter().find(|s| matches(s)).cloned()
    }

    /// The numbers of the open incidents (`incidents_list`'s default: triggered and
    /// acknowledged, on the configured services).
    async fn open_incidents(&self, cx: &RequestContext<RoleServer>) -> Result<Vec<u64>, String> {
        let listed = self.part_call("incidents_list", json!({}), cx).await?;
        Ok(text_of(&listed)
            .lines()
            .skip(1)
            .filter_map(|line| line.split_whitespace().next()?.parse().ok())
            .collect())
    }

    async fn triage(&self, incident: &str, cx: &RequestContext<RoleServer>) -> CallToolResult {
        let got = self
            .part_call("incident_get", json!({ "id": incident }), cx)
            .await;
        let result = match got {
            Ok(result) => result,
            Err(why) => {
                return failure(format!(
                    "the incident could not be read (pagerduty/incident_get): {why}"
                ));
            }
        };
        let data = result.structured_content.clone().unwrap_or(Value::Null);
        let mut report = format!(
            "## Incident (pagerduty/incident_get)\n{}\n\n",
            cut(&text_of(&result), None)
        );
        let service_id = data["service"]["id"].as_str().unwrap_or_default();
        let Some(service) = self.service(|s| s.pagerduty_service.as_deref() == Some(service_id))
        else {
            report.push_str(&format!(
                "No service in the gateway's service map has PagerDuty service {service_id:?}: add a [[service]] with pagerduty_service = {service_id:?} for its pods, logs, commits and runbooks.\n"
            ));
            return text(report.trim_end());
        };
        let opened = data["created_at"]
            .as_str()
            .and_then(|t| t.parse::<Timestamp>().ok())
            .unwrap_or_else(Timestamp::now);
        report.insert_str(
            0,
            &format!(
                "Triage of incident {incident}: service {} ({}), opened {opened}\n\n",
                service.name, service.namespace
            ),
        );
        let mut parts = overview(&service, opened - SignedDuration::from_mins(30));
        // The commits of the day before it.
        if let Some(commits) = parts.iter_mut().find(|p| p.tool == "commits_list") {
            commits.arguments["since"] =
                json!((opened - SignedDuration::from_hours(24)).to_string());
            commits.title = "Commits in the 24 h before it".into();
        }
        report.push_str(&self.parts(parts, cx).await);
        text(report.trim_end())
    }

    /// Run `parts` in parallel and render them in order.
    async fn parts(&self, parts: Vec<Part>, cx: &RequestContext<RoleServer>) -> String {
        let answers = futures::future::join_all(
            parts
                .iter()
                .map(|p| self.part_call(p.tool, p.arguments.clone(), cx)),
        )
        .await;
        let mut out = String::new();
        let mut failed = 0;
        for (part, answer) in parts.iter().zip(answers) {
            out.push_str(&format!("## {} ({})\n", part.title, part.tool));
            match answer {
                Ok(result) => out.push_str(&cut(&text_of(&result), part.grep.as_deref())),
                Err(why) => {
                    failed += 1;
                    out.push_str(&format!(
                        "unavailable: {}",
                        why.chars().take(200).collect::<String>()
                    ));
                }
            }
            out.push_str("\n\n");
        }
        if failed > 0 {
            out.insert_str(
                0,
                &format!(
                    "(partial: {failed} of {} parts unavailable)\n\n",
                    parts.len()
                ),
            );
        }
        out
    }

    /// One part's call through the pipeline, with structured results and a deadline.
    async fn part_call(
        &self,
        tool: &str,
        arguments: Value,
        cx: &RequestContext<RoleServer>,
    ) -> Result<CallToolResult, String> {
        let Value::Object(arguments) = arguments else {
            unreachable!("parts' arguments are objects")
        };
        let mut params = CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments);
        let mut meta = RequestMetaObject::new();
        meta.insert(opsmcp_core::structured::META_KEY.into(), json!(true));
        params.meta = Some(meta);
        match tokio::time::timeout(DEADLINE, self.forward(params, cx)).await {
            Err(_) => Err(format!("no answer within {} s", DEADLINE.as_secs())),
            Ok(Ok(CallToolResponse::Complete(result))) if result.is_error != Some(true) => {
                Ok(result)
            }
            Ok(Ok(CallToolResponse::Complete(result))) => Err(text_of(&result)),
            Ok(Ok(_)) => Err("it asked a question (not expected of a read)".into()),
            Ok(Err(refused)) => Err(refused.message.into()),
        }
    }
}

/// A service's parts, logs since `since`.
fn overview(service: &ServiceSpec, since: Timestamp) -> Vec<Part> {
    let ns = &service.namespace;
    let deployment = service.deployment();
    let mut parts = Vec::new();
    if let Some(id) = &service.pagerduty_service {
        parts.push(Part::new(
            "On call",
            "oncalls_list",
            json!({ "service_id": id }),
        ));
    }
    parts.extend([
        // All of its pods (a few): one running again after an OOM kill shows it in its
        // restarts, which the unhealthy ones alone would hide.
        Part::new(
            "Its pods, restarts and last terminations",
            "pods_list",
            json!({ "namespace": ns, "label_selector": format!("app={deployment}") }),
        ),
        Part::new(
            "Memory and CPU against limits",
            "pod_resources",
            json!({ "namespace": ns, "workload": deployment }),
        ),
        Part::new(
            "Error patterns in its logs",
            "logs_patterns",
            json!({ "selector": service.selector(), "start": since.to_string(), "limit": 5 }),
        ),
        Part::new(
            "Warnings",
            "events_list",
            json!({ "namespace": ns, "warnings_only": true, "limit": 8 }),
        ),
        Part::new(
            "Revisions",
            "deployments_list",
            json!({ "namespace": ns, "name": deployment }),
        ),
    ]);
    if let Some(repo) = &service.github_repo {
        parts.push(Part::new(
            "Recent commits",
            "commits_list",
            json!({ "repo": repo, "since": (Timestamp::now() - SignedDuration::from_hours(24)).to_string(), "limit": 8, "files": false }),
        ));
    }
    parts.push(Part::new(
        "Runbooks",
        "pages_search",
        json!({ "query": service.runbooks.clone().unwrap_or_else(|| service.name.clone()), "runbooks": true, "limit": 5 }),
    ));
    parts
}

/// The parts of a search for `needle` over `window`.
fn search(needle: &str, window: &str) -> Vec<Part> {
    let since = format!("now-{window}");
    let quoted = serde_json::to_string(needle).unwrap_or_default();
    vec![
        Part::new(
            "Logs",
            "logs_query",
            json!({ "query": format!("{{namespace=~\".+\"}} |= {quoted}"), "start": since, "limit": 10 }),
        ),
        Part::new(
            "Kubernetes events",
            "events_list",
            json!({ "namespace": "all", "limit": 200 }),
        )
        .grep(needle),
        Part::new(
            "Metric names",
            "metrics_list",
            json!({ "filter": needle, "limit": 20 }),
        ),
        Part::new("Alerts", "alerts_list", json!({ "filter": needle })),
        Part::new(
            "Incidents",
            "incidents_list",
            json!({ "statuses": ["triggered", "acknowledged", "resolved"], "limit": 100 }),
        )
        .grep(needle),
        Part::new(
            "Code",
            "code_search",
            json!({ "query": needle, "limit": 10 }),
        ),
        Part::new(
            "Issues",
            "issues_search",
            json!({ "query": needle, "limit": 10 }),
        ),
        Part::new(
            "Commits",
            "commits_list",
            json!({ "limit": 100, "files": false }),
        )
        .grep(needle),
        Part::new(
            "Pages",
            "pages_search",
            json!({ "query": needle, "limit": 10 }),
        ),
    ]
}

/// The first lines of `text` (those containing `grep`, if given), each cut short.
fn cut(text: &str, grep: Option<&str>) -> String {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| grep.is_none_or(|g| l.to_lowercase().contains(g)))
        .collect();
    if lines.is_empty() {
        return "nothing".into();
    }
    let mut out: Vec<String> = lines
        .iter()
        .take(PART_LINES)
        .map(|l| {
            if l.chars().count() > LINE_CHARS {
                l.chars().take(LINE_CHARS).chain(['…']).collect()
            } else {
                (*l).to_owned()
            }
        })
        .collect();
    if lines.len() > PART_LINES {
        out.push(format!("(+{} more lines)", lines.len() - PART_LINES));
    }
    out.join("\n")
}
