//! The execution history: every call through the gateway — id, time, upstream, tool,
//! arguments (secrets redacted, long values cut), outcome, duration, cache, retries, fallback —
//! in a bounded ring, served as the `history` tool and the `opsmcp://history` resource. Counts
//! and latencies go to the Prometheus metrics (`/metrics`, `opsmcp://metrics`).

use std::{
    collections::VecDeque,
    fmt::Write as _,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use opsmcp_core::tools::{read_tool, text};
use rmcp::model::{CallToolResult, JsonObject, Tool};
use serde::Serialize;
use serde_json::{Value, json};

pub const TOOL: &str = "history";
pub const RESOURCE_URI: &str = "opsmcp://history";

/// Calls kept.
const CAPACITY: usize = 1000;
/// Longest argument value kept.
const MAX_VALUE_CHARS: usize = 200;
/// Argument names whose values are never kept.
const SECRET_NAMES: &[&str] = &[
    "token",
    "secret",
    "password",
    "passwd",
    "apikey",
    "api_key",
    "authorization",
    "credential",
    "private_key",
];

/// How a call through the gateway ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    ToolError,
    InputRequired,
    /// The upstream could not answer (down, died, refused the request).
    Failed,
}

/// What the cache did for a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cache {
    Hit,
    Miss,
    /// The fresh call failed; an older answer was served.
    Stale,
    /// The caller asked for a fresh answer.
    Bypass,
}

#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub id: u64,
    pub at: jiff::Timestamp,
    pub upstream: String,
    pub tool: String,
    pub arguments: Value,
    pub outcome: Outcome,
    #[serde(serialize_with = "millis")]
    pub duration: Duration,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<Cache>,
    pub retries: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    // Milliseconds to the microsecond.
    s.serialize_f64((d.as_secs_f64() * 1e6).round() / 1e3)
}

#[derive(Debug, Default)]
pub struct History {
    records: Mutex<VecDeque<Record>>,
    next: AtomicU64,
}

impl History {
    /// A new record's id.
    pub fn next_id(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub fn push(&self, record: Record) {
        let mut records = self.records.lock().unwrap();
        if records.len() == CAPACITY {
            records.pop_front();
        }
        records.push_back(record);
    }

    /// The most recent records, newest first.
    fn recent(&self, limit: usize, keep: impl Fn(&Record) -> bool) -> Vec<Record> {
        self.records
            .lock()
            .unwrap()
            .iter()
            .rev()
            .filter(|r| keep(r))
            .take(limit)
            .cloned()
            .collect()
    }

    /// The resource: every kept record as JSON lines, oldest first.
    pub fn json_lines(&self) -> String {
        let mut out = String::new();
        for record in self.records.lock().unwrap().iter() {
            out.push_str(&serde_json::to_string(record).unwrap_or_default());
            out.push('\n');
        }
        out
    }
}

/// Arguments as kept: secret-looking names redacted, long values cut.
pub fn redact(arguments: Option<&JsonObject>) -> Value {
    fn walk(name: Option<&str>, value: &Value) -> Value {
        if let Some(name) = name {
            let name = name.to_ascii_lowercase();
            if SECRET_NAMES.iter().any(|s| name.contains(s)) {
                return json!("[redacted]");
            }
        }
        match value {
            Value::String(s) if s.chars().count() > MAX_VALUE_CHARS => {
                Value::String(s.chars().take(MAX_VALUE_CHARS).chain(['…']).collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(|v| walk(None, v)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), walk(Some(k), v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    arguments.map_or(Value::Null, |a| walk(None, &Value::Object(a.clone())))
}

pub fn tool() -> Tool {
    read_tool(
        TOOL,
        "Recent calls through the gateway, newest first: tool, upstream, outcome, time, cache, retries, fallback",
        json!({
            "type": "object",
            "properties": {
                "limit": { "type": "integer", "minimum": 1, "description": "Most calls to show (default 20, max 200)" },
                "tool": { "type": "string", "description": "Only calls of this tool" },
                "failures_only": { "type": "boolean", "description": "Only calls that failed or answered an error" }
            }
        }),
        false,
    )
}

pub fn run(history: &History, arguments: Option<&JsonObject>) -> CallToolResult {
    let get = |name: &str| arguments.and_then(|a| a.get(name));
    let limit = get("limit")
        .and_then(Value::as_u64)
        .unwrap_or(20)
        .clamp(1, 200) as usize;
    let tool = get("tool").and_then(Value::as_str);
    let failures_only = get("failures_only")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let records = history.recent(limit, |r| {
        tool.is_none_or(|t| r.tool == t) && (!failures_only || r.outcome != Outcome::Ok)
    });
    if records.is_empty() {
        return text("no calls recorded yet that match");
    }
    let mut out = format!("{} most recent calls, newest first\n", records.len());
    for r in &records {
        let _ = write!(
            out,
            "#{} {} {}/{} {:?} {:.1} ms",
            r.id,
            r.at.strftime("%H:%M:%S"),
            r.upstream,
            r.tool,
            r.outcome,
            r.duration.as_secs_f64() * 1e3
        );
        if let Some(cache) = r.cache {
            let _ = write!(out, " cache={cache:?}");
        }
        if r.retries > 0 {
            let _ = write!(out, " retries={}", r.retries);
        }
        if let Some(fallback) = &r.fallback {
            let _ = write!(out, " fallback={fallback}");
        }
        let arguments = r.arguments.to_string();
        let _ = write!(out, " {}", arguments.chars().take(120).collect::<String>());
        if let Some(error) = &r.error {
            let _ = write!(out, "\n    {}", error.chars().take(200).collect::<String>());
        }
        out.push('\n');
    }
    text(out.trim_end())
}

/// The text blocks of an answer, one per line.
pub fn text_of(result: &CallToolResult) -> String {
    text_joined(result, "\n")
}

/// The text blocks of an answer joined by `separator`.
pub fn text_joined(result: &CallToolResult, separator: &str) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.as_str()))
        .collect::<Vec<_>>()
        .join(separator)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_and_long_values_cut() {
        let args = json!({ "query": "x".repeat(300), "api_token": "s3cret",
            "headers": { "Authorization": "Bearer abc" }, "n": 3 });
        let kept = redact(args.as_object());
        assert_eq!(kept["api_token"], "[redacted]");
        assert_eq!(kept["headers"]["Authorization"], "[redacted]");
        assert_eq!(kept["n"], 3);
        assert_eq!(
            kept["query"].as_str().unwrap().chars().count(),
            MAX_VALUE_CHARS + 1
        );
        assert!(!kept.to_string().contains("s3cret") && !kept.to_string().contains("abc"));
    }
}
