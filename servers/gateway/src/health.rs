//! `health`, the gateway's own tool: every upstream in one table — connected or why not, its
//! backend ready or why not and its circuit breaker (from the server's `opsmcp://health`), its
//! tools against the count the configuration expects, how often it was (re)connected, its
//! process, the latency of its last exchange — and the tool names two upstreams offer.

use std::time::Duration;

use opsmcp_core::tools::{HEALTH_RESOURCE_URI, read_tool, text};
use rmcp::model::{CallToolResult, ReadResourceResponse, ResourceContents, Tool};
use serde_json::Value;

use crate::{GatewayServer, upstream::Upstream};

pub const NAME: &str = "health";

pub fn tool() -> Tool {
    read_tool(
        NAME,
        "Every upstream server behind the gateway: connected or why not, its backend ready, its breaker, tools against the expected, reconnections, latency",
        serde_json::json!({ "type": "object", "properties": {} }),
        false,
    )
}

/// How long an upstream's health may take to read.
const HEALTH_DEADLINE: Duration = Duration::from_secs(3);

/// An upstream's own word on its health: (backend, breaker), or `-` where it has none.
async fn upstream_health(upstream: &Upstream) -> (String, String) {
    let none = || ("-".to_owned(), "-".to_owned());
    if !upstream.status().await.connected {
        return none();
    }
    let read = tokio::time::timeout(HEALTH_DEADLINE, upstream.read(HEALTH_RESOURCE_URI)).await;
    let Ok(Ok(ReadResourceResponse::Complete(read))) = read else {
        return match read {
            Err(_) => ("no answer in 3 s".into(), "-".into()),
            _ => none(),
        };
    };
    let Some(ResourceContents::TextResourceContents { text, .. }) = read.contents.first() else {
        return none();
    };
    let Ok(health) = serde_json::from_str::<Value>(text) else {
        return none();
    };
    let backend = if health["ready"] == true {
        "ready".to_owned()
    } else {
        format!(
            "NOT READY: {}",
            health["reason"].as_str().unwrap_or("no reason given")
        )
    };
    let b = &health["breaker"];
    let breaker = if b["open"] == true {
        format!(
            "OPEN ({} failures, closes in {} s)",
            b["consecutive_failures"],
            b["closes_in_secs"].as_u64().unwrap_or(0)
        )
    } else {
        format!("closed ({} failures)", b["consecutive_failures"])
    };
    (backend, breaker)
}

pub async fn run(gateway: &GatewayServer) -> CallToolResult {
    let catalog = gateway.catalog().await;
    let healths = futures::future::join_all(gateway.upstreams().iter().map(upstream_health)).await;
    let mut rows = vec![[
        "UPSTREAM".to_owned(),
        "STATE".into(),
        "BACKEND".into(),
        "BREAKER".into(),
        "TOOLS".into(),
        "CONNECTIONS".into(),
        "PID".into(),
        "LATENCY".into(),
        "LAST ERROR".into(),
    ]];
    let mut up = 0;
    let mut short = 0;
    for (upstream, (backend, breaker)) in gateway.upstreams().iter().zip(healths) {
        let s = upstream.status().await;
        up += usize::from(s.connected);
        let tools = match upstream.spec.expected_tools {
            Some(expected) if expected != s.tools => {
                short += 1;
                format!("{} (EXPECTED {expected})", s.tools)
            }
            Some(expected) => format!("{}/{expected}", s.tools),
            None => s.tools.to_string(),
        };
        rows.push([
            s.name,
            if s.connected { "up" } else { "DOWN" }.to_owned(),
            backend.chars().take(80).collect(),
            breaker,
            tools,
            s.connections.to_string(),
            s.pid.map_or_else(|| "-".into(), |p| p.to_string()),
            s.latency.map_or_else(
                || "-".into(),
                |l| format!("{:.1} ms", l.as_secs_f64() * 1e3),
            ),
            s.last_error
                .map_or_else(|| "-".into(), |e| e.chars().take(120).collect()),
        ]);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = format!(
        "{up} of {} upstreams up, {} tools",
        gateway.upstreams().len(),
        catalog.tools.len()
    );
    if short > 0 {
        out.push_str(&format!(", {short} with an unexpected tool count"));
    }
    out.push('\n');
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    for collision in &catalog.collisions {
        out.push_str(&format!("collision: {collision}\n"));
    }
    for problem in &catalog.workflow_problems {
        out.push_str(&format!("workflow not served: {problem}\n"));
    }
    text(out.trim_end())
}
