//! Deferred listing (`deferred = true`): `tools/list` holds the gateway's own tools, the
//! workflows, `tools_search` and the tools this session has found with it — not the ~100 tools
//! of six servers. A search names the best matches with their parameters, adds them to the
//! session's listing and says so with `notifications/tools/list_changed`; any catalog tool can
//! be called whether it was found or not. `just bench` measures what this saves over the
//! drill's tasks.

use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex},
};

use opsmcp_core::tools::{read_tool, text};
use rmcp::model::{CallToolResult, JsonObject, Tool};
use serde_json::{Value, json};

pub const TOOL: &str = "tools_search";

const DEFAULT_LIMIT: usize = 6;
const MAX_LIMIT: usize = 20;

/// The tools one session has found.
#[derive(Debug, Clone, Default)]
pub struct Found(Arc<Mutex<BTreeSet<String>>>);

impl Found {
    pub fn contains(&self, name: &str) -> bool {
        self.0.lock().unwrap().contains(name)
    }

    /// Add `names`; whether any was new.
    fn add<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> bool {
        let mut found = self.0.lock().unwrap();
        let mut new = false;
        for name in names {
            new |= found.insert(name.to_owned());
        }
        new
    }
}

pub fn tool() -> Tool {
    read_tool(
        TOOL,
        "Find tools among the Kubernetes, Prometheus, Loki, PagerDuty, GitHub and Notion servers behind this gateway; the ones found are added to your tool list",
        json!({
            "type": "object",
            "properties": {
                "query": { "type": "string", "description": "What you want to do or know, e.g. \"pod memory limit\" or \"on call\"" },
                "limit": { "type": "integer", "minimum": 1, "description": "Most tools (default 6, max 20)" }
            },
            "required": ["query"]
        }),
        false,
    )
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 1)
        .map(str::to_lowercase)
        .collect()
}

/// How well `tool` matches the query's `words`: a word in its name counts three, one in its
/// description one (prefixes match: "pod" finds "pods").
fn score(tool: &Tool, query: &[String]) -> usize {
    let name = words(&tool.name);
    let description = words(tool.description.as_deref().unwrap_or_default());
    query
        .iter()
        .map(|w| {
            let hit = |t: &String| t.starts_with(w.as_str()) || w.starts_with(t.as_str());
            3 * usize::from(name.iter().any(hit)) + usize::from(description.iter().any(hit))
        })
        .sum()
}

/// A tool in a line: its name, description and parameters (`*` required).
fn line(tool: &Tool) -> String {
    let required: Vec<&str> = tool
        .input_schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let params: Vec<String> = tool
        .input_schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| {
            p.keys()
                .map(|k| {
                    if required.contains(&k.as_str()) {
                        format!("{k}*")
                    } else {
                        k.clone()
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let description = tool.description.as_deref().unwrap_or_default();
    let first = description.split(". ").next().unwrap_or(description);
    format!("{} — {first} ({})", tool.name, params.join(", "))
}

/// Run `tools_search` over `tools` for one session; whether its listing grew, and the answer.
pub fn search(
    tools: &[Tool],
    found: &Found,
    arguments: Option<&JsonObject>,
) -> (bool, CallToolResult) {
    let get = |k: &str| arguments.and_then(|a| a.get(k));
    let Some(query) = get("query").and_then(Value::as_str) else {
        return (
            false,
            opsmcp_core::tools::failure("tools_search needs `query`"),
        );
    };
    let limit = get("limit")
        .and_then(Value::as_u64)
        .map_or(DEFAULT_LIMIT, |l| (l as usize).clamp(1, MAX_LIMIT));
    let query = words(query);
    let mut ranked: Vec<(usize, &Tool)> = tools
        .iter()
        .map(|t| (score(t, &query), t))
        .filter(|(s, _)| *s > 0)
        .collect();
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.name.cmp(&b.1.name)));
    ranked.truncate(limit);
    if ranked.is_empty() {
        return (
            false,
            text(
                "no tool matches; try other words (what you want to do, or the system: kubernetes, prometheus, loki, pagerduty, github, notion)",
            ),
        );
    }
    let grew = found.add(ranked.iter().map(|(_, t)| t.name.as_ref()));
    let mut out = format!(
        "{} tools (now in your tool list; * = required):\n",
        ranked.len()
    );
    for (_, t) in &ranked {
        out.push_str(&line(t));
        out.push('\n');
    }
    (grew, text(out.trim_end()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(name: &str, description: &str) -> Tool {
        let Value::Object(schema) = json!({ "type": "object", "properties": { "namespace": {}, "name": {} }, "required": ["name"] })
        else {
            unreachable!()
        };
        Tool::new(name.to_owned(), description.to_owned(), Arc::new(schema))
    }

    #[test]
    fn names_weigh_more_than_descriptions_and_found_tools_are_kept() {
        let tools = [
            tool("pods_list", "Pods of a namespace. Problems first"),
            tool("pod_logs", "Logs of a pod's container"),
            tool("logs_query", "Run a LogQL query"),
            tool("oncalls_list", "Who is on call"),
        ];
        let found = Found::default();
        let args = json!({ "query": "pod logs" });
        let (grew, result) = search(&tools, &found, args.as_object());
        let said = serde_json::to_value(&result).unwrap()["content"][0]["text"]
            .as_str()
            .unwrap()
            .to_owned();
        let names: Vec<&str> = said
            .lines()
            .skip(1)
            .map(|l| l.split(' ').next().unwrap())
            .collect();
        assert_eq!(names, ["pod_logs", "pods_list", "logs_query"]);
        assert!(
            said.contains("pod_logs — Logs of a pod's container (name*, namespace)"),
            "{said}"
        );
        assert!(grew && found.contains("pod_logs") && !found.contains("oncalls_list"));
        let (grew, _) = search(&tools, &found, args.as_object());
        assert!(!grew, "the same search adds nothing");
    }
}
