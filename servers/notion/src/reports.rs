//! The incident's paperwork in one call each: the incident report as a row of the incidents
//! database (properties matched to the schema by name and type — title, severity, status,
//! service, started and resolved, duration computed, links, on-call — and a body with the
//! summary, impact, timeline, root cause, resolution and action items as to-dos), and the
//! post-mortem made from the template page with its sections filled. Medium risk, through the
//! safety engine; a plan shows the properties and the Markdown.

use std::collections::BTreeMap;

use opsmcp_core::{approval::Exchange, output::parse_time, risk::RiskLevel};
use reqwest::Method;
use rmcp::{
    ErrorData,
    handler::server::wrapper::Parameters,
    model::CallToolResponse,
    schemars::{self, JsonSchema},
    tool, tool_router,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::{
    NotionServer,
    filter::whole_second,
    markdown::{Node, inline, to_blocks},
    pages::{failure, or_fail, title_of},
};

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ReportArgs {
    pub title: String,
    /// e.g. SEV2
    pub severity: Option<String>,
    pub service: Option<String>,
    /// Default Resolved
    pub status: Option<String>,
    /// now-2h, RFC 3339…
    pub started: String,
    pub resolved: Option<String>,
    pub summary: String,
    pub impact: Option<String>,
    #[serde(default)]
    pub timeline: Vec<String>,
    pub root_cause: Option<String>,
    pub resolution: Option<String>,
    #[serde(default)]
    pub action_items: Vec<String>,
    pub pagerduty_url: Option<String>,
    pub pr_url: Option<String>,
    /// Names or emails
    #[serde(default)]
    pub on_call: Vec<String>,
    /// Default: NOTION_DATABASE_ID
    pub database: Option<String>,
    /// 0-1; yolo runs confident changes unasked
    pub confidence: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct PostmortemArgs {
    #[serde(flatten)]
    pub report: ReportArgs,
    /// Template page (default: NOTION_POSTMORTEM_TEMPLATE_ID, else "Post-mortem template")
    pub template: Option<String>,
    /// Where the post-mortem goes (default: beside the template)
    pub parent: Option<String>,
}

/// `14:02Z`-style times and the duration in minutes.
fn window(
    started: &str,
    resolved: Option<&str>,
) -> Result<(String, Option<String>, Option<i64>), String> {
    let now = jiff::Timestamp::now();
    let start = parse_time(started, now).map_err(|e| format!("started: {e}"))?;
    let end = resolved
        .map(|r| parse_time(r, now).map_err(|e| format!("resolved: {e}")))
        .transpose()?;
    let minutes = end.map(|e| (e.as_second() - start.as_second() + 30) / 60);
    if minutes.is_some_and(|m| m < 0) {
        return Err("resolved is before started".into());
    }
    Ok((whole_second(start), end.map(whole_second), minutes))
}

/// The report's body in Markdown.
fn body(a: &ReportArgs, start: &str, end: Option<&str>, minutes: Option<i64>) -> String {
    let mut md = String::new();
    let mut facts: Vec<String> = [a.severity.clone(), a.service.clone()]
        .into_iter()
        .flatten()
        .collect();
    facts.push(match (end, minutes) {
        (Some(e), Some(m)) => format!("{start} → {e} ({m} min)"),
        _ => format!("since {start}"),
    });
    md.push_str(&format!(
        "## Summary\n\n{}\n\n{}\n\n",
        facts.join(" · "),
        a.summary.trim()
    ));
    if let Some(i) = &a.impact {
        md.push_str(&format!("## Impact\n\n{}\n\n", i.trim()));
    }
    if !a.timeline.is_empty() {
        md.push_str("## Timeline\n\n");
        for t in &a.timeline {
            md.push_str(&format!("- {}\n", t.trim()));
        }
        md.push('\n');
    }
    if let Some(r) = &a.root_cause {
        md.push_str(&format!("## Root cause\n\n{}\n\n", r.trim()));
    }
    if let Some(r) = &a.resolution {
        md.push_str(&format!("## Resolution\n\n{}\n\n", r.trim()));
    }
    if !a.action_items.is_empty() {
        md.push_str("## Action items\n\n");
        for t in &a.action_items {
            md.push_str(&format!("- [ ] {}\n", t.trim()));
        }
        md.push('\n');
    }
    let links: Vec<String> = [("Incident", &a.pagerduty_url), ("Fix", &a.pr_url)]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("- {k}: <{v}>")))
        .collect();
    if !links.is_empty() {
        md.push_str(&format!("## Links\n\n{}\n", links.join("\n")));
    }
    md
}

/// The schema property for a field: one of `names` (case-insensitive, by prefix) of `kinds`.
fn find<'a>(schema: &'a Map<String, Value>, names: &[&str], kinds: &[&str]) -> Option<&'a String> {
    schema.iter().find_map(|(k, p)| {
        let lower = k.to_lowercase();
        (names.iter().any(|n| lower.starts_with(n))
            && kinds.contains(&p["type"].as_str().unwrap_or_default()))
        .then_some(k)
    })
}

/// A block as read, as a request (its children too); pages and databases under it are left out.
fn as_request(node: &Node) -> Option<Value> {
    let kind = node.block["type"].as_str()?;
    if matches!(kind, "child_page" | "child_database" | "unsupported") {
        return None;
    }
    let mut body = node.block[kind].clone();
    let children: Vec<Value> = node.children.iter().filter_map(as_request).collect();
    if !children.is_empty() {
        body["children"] = json!(children);
    }
    Some(json!({ "type": kind, kind: body }))
}

/// A report field: its name, the property names and types it may go to, and its value.
type Field = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    Option<String>,
);

impl NotionServer {
    /// Properties of the report for the incidents schema, and the fields that found no home.
    async fn report_properties(
        &self,
        a: &ReportArgs,
        schema: &Map<String, Value>,
        start: &str,
        end: Option<&str>,
        minutes: Option<i64>,
    ) -> Result<(BTreeMap<String, String>, Vec<&'static str>), String> {
        let mut values = BTreeMap::new();
        let mut missing = Vec::new();
        let status = a.status.clone().unwrap_or_else(|| {
            if end.is_some() {
                "Resolved".into()
            } else {
                "Open".into()
            }
        });
        let fields: [Field; 9] = [
            (
                "severity",
                &["severity", "sev", "priority"],
                &["select", "status", "rich_text"],
                a.severity.clone(),
            ),
            (
                "status",
                &["status", "state"],
                &["status", "select"],
                Some(status),
            ),
            (
                "service",
                &["service", "component"],
                &["select", "multi_select", "rich_text"],
                a.service.clone(),
            ),
            (
                "started",
                &["started", "start", "began"],
                &["date"],
                Some(start.to_owned()),
            ),
            (
                "resolved",
                &["resolved", "ended", "end"],
                &["date"],
                end.map(str::to_owned),
            ),
            (
                "duration",
                &["duration"],
                &["number"],
                minutes.map(|m| m.to_string()),
            ),
            (
                "pagerduty_url",
                &["pagerduty", "incident", "page"],
                &["url"],
                a.pagerduty_url.clone(),
            ),
            ("pr_url", &["pr", "pull", "fix"], &["url"], a.pr_url.clone()),
            (
                "on_call",
                &["on-call", "oncall", "on call", "responder"],
                &["people"],
                (!a.on_call.is_empty()).then(|| a.on_call.join(", ")),
            ),
        ];
        for (field, names, kinds, value) in fields {
            let Some(value) = value else { continue };
            match find(schema, names, kinds) {
                Some(prop) => {
                    values.insert(prop.clone(), value);
                }
                None => missing.push(field),
            }
        }
        Ok((values, missing))
    }
}

#[tool_router(router = reports_router, vis = "pub(crate)")]
impl NotionServer {
    /// Write the incident report into the incidents database in one call.
    #[tool]
    pub async fn incident_report_create(
        &self,
        exchange: Exchange,
        Parameters(args): Parameters<ReportArgs>,
    ) -> Result<CallToolResponse, ErrorData> {
        if args.title.trim().is_empty() || args.summary.trim().is_empty() {
            return Ok(failure("a report needs a title and a summary").into());
        }
        let (start, end, minutes) = or_fail!(window(&args.started, args.resolved.as_deref()));
        let db = or_fail!(self.database_id(args.database.as_deref()));
        let (parent, schema, where_) = or_fail!(self.new_parent(&db).await);
        let Some(schema) = schema else {
            return Ok(failure(format!(
                "{db} is not a database shared with the integration"
            ))
            .into());
        };
        let (values, missing) = or_fail!(
            self.report_properties(&args, &schema, &start, end.as_deref(), minutes)
                .await
        );
        let properties = or_fail!(
            self.new_properties(args.title.trim(), &values, Some(&schema))
                .await
        );
        let markdown = body(&args, &start, end.as_deref(), minutes);
        let blocks = or_fail!(to_blocks(&markdown));
        let command = format!(
            "{} {} then the body",
            self.nt().describe(&Method::POST, "v1/pages"),
            json!({ "parent": parent, "properties": properties })
        );
        let preview = format!(
            "report {:?} in {where_}\n{}{}\n\n{markdown}",
            args.title.trim(),
            values
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join("\n"),
            if missing.is_empty() {
                String::new()
            } else {
                format!(
                    "\n(no property for: {}; they are in the body)",
                    missing.join(", ")
                )
            }
        );
        let title = args.title.trim().to_owned();
        self.change(
            exchange,
            &args,
            (
                "incident_report_create",
                "create",
                where_.clone(),
                RiskLevel::Medium,
                "a new page in the incidents database".into(),
            ),
            command,
            preview,
            || async {
                let (id, url, requests) = self
                    .create_page(parent, properties, blocks)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(format!(
                    "wrote the incident report {title:?} ({id}, {requests} requests){}: {url}",
                    minutes
                        .map(|m| format!(", duration {m} min"))
                        .unwrap_or_default()
                ))
            },
        )
        .await
    }

    /// Create the post-mortem from the template page, its sections filled.
    #[tool]
    pub async fn postmortem_create(
        &self,
        exchange: Exchange,
        Parameters(args): Parameters<PostmortemArgs>,
    ) -> Result<CallToolResponse, ErrorData> {
        let a = &args.report;
        if a.title.trim().is_empty() || a.summary.trim().is_empty() {
            return Ok(failure("a post-mortem needs a title and a summary").into());
        }
        let (start, end, minutes) = or_fail!(window(&a.started, a.resolved.as_deref()));
        let template_ref = args
            .template
            .clone()
            .or_else(|| self.template().map(str::to_owned))
            .unwrap_or_else(|| "Post-mortem template".into());
        let template = or_fail!(self.resolve_page(&template_ref).await);
        let page = or_fail!(
            self.nt()
                .get(&format!("v1/pages/{template}"), &format!("page {template}"))
                .await
        );
        let nodes = or_fail!(self.tree(template.clone()).await);
        // The filled sections, by heading.
        let filled = or_fail!(to_blocks(&body(a, &start, end.as_deref(), minutes)));
        let mut sections: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        let mut current = String::new();
        for b in filled {
            let kind = b["type"].as_str().unwrap_or_default();
            if kind.starts_with("heading") {
                current = inline(&b[kind]["rich_text"]).to_lowercase();
                continue;
            }
            sections.entry(current.clone()).or_default().push(b);
        }
        let mut blocks = Vec::new();
        let mut skipping = false;
        for node in &nodes {
            let kind = node.block["type"].as_str().unwrap_or_default();
            if kind.starts_with("heading") {
                let heading = inline(&node.block[kind]["rich_text"]).to_lowercase();
                skipping = sections.contains_key(&heading);
                blocks.extend(as_request(node));
                if let Some(content) = sections.remove(&heading) {
                    blocks.extend(content);
                }
                continue;
            }
            if !skipping {
                blocks.extend(as_request(node));
            }
        }
        // Sections the template has no heading for go at the end.
        for (heading, content) in sections.into_iter().filter(|(h, _)| !h.is_empty()) {
            blocks.extend(or_fail!(to_blocks(&format!(
                "## {}",
                heading[..1].to_uppercase() + &heading[1..]
            ))));
            blocks.extend(content);
        }
        let parent = match &args.parent {
            Some(p) => json!({ "page_id": or_fail!(self.resolve_page(p).await) }),
            None => match page["parent"]["type"].as_str() {
                Some("page_id") => json!({ "page_id": page["parent"]["page_id"] }),
                _ => json!({ "page_id": template }),
            },
        };
        let Some(node) = crate::scope::Node::parent(&parent) else {
            return Ok(failure(format!("{parent} is not a page to write under")).into());
        };
        or_fail!(self.writable(node, &format!("the parent {parent}")).await);
        let title = format!("Post-mortem: {}", a.title.trim());
        let properties =
            json!({ "title": { "title": [{ "type": "text", "text": { "content": title } }] } });
        let command = format!(
            "{} {} then {} block(s) from {:?}",
            self.nt().describe(&Method::POST, "v1/pages"),
            json!({ "parent": parent, "properties": properties }),
            blocks.len(),
            title_of(&page)
        );
        let preview = format!(
            "{title} from the template {:?}\n\n{}",
            title_of(&page),
            body(a, &start, end.as_deref(), minutes)
        );
        self.change(
            exchange,
            &args,
            (
                "postmortem_create",
                "create",
                title.clone(),
                RiskLevel::Medium,
                "a new page from the template".into(),
            ),
            command,
            preview,
            || async {
                let (id, url, requests) = self
                    .create_page(parent, properties, blocks)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(format!(
                    "wrote {title:?} ({id}, {requests} requests): {url}"
                ))
            },
        )
        .await
    }
}
