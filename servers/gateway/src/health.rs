//! `health`, the gateway's own tool: every upstream in one table — connected or why not, its
//! tools, how often it was (re)connected, its process, the latency of its last exchange — and
//! the tool names two upstreams offer.

use std::sync::Arc;

use opsmcp_core::tools::text;
use rmcp::model::{CallToolResult, Tool, ToolAnnotations};

use crate::GatewayServer;

pub const NAME: &str = "health";

pub fn tool() -> Tool {
    let schema = serde_json::json!({ "type": "object", "properties": {} });
    let serde_json::Value::Object(schema) = schema else {
        unreachable!()
    };
    Tool::new(
        NAME,
        "Every upstream server behind the gateway: connected or why not, tools, reconnections, latency",
        Arc::new(schema),
    )
    .annotate(
        ToolAnnotations::new()
            .read_only(true)
            .destructive(false)
            .open_world(false),
    )
}

pub async fn run(gateway: &GatewayServer) -> CallToolResult {
    let catalog = gateway.catalog().await;
    let mut rows = vec![[
        "UPSTREAM".to_owned(),
        "STATE".into(),
        "TOOLS".into(),
        "CONNECTIONS".into(),
        "PID".into(),
        "LATENCY".into(),
        "LAST ERROR".into(),
    ]];
    let mut up = 0;
    for upstream in gateway.upstreams() {
        let s = upstream.status().await;
        up += usize::from(s.connected);
        rows.push([
            s.name,
            if s.connected { "up" } else { "DOWN" }.to_owned(),
            s.tools.to_string(),
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
    let widths: Vec<usize> = (0..7)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = format!(
        "{up} of {} upstreams up, {} tools\n",
        gateway.upstreams().len(),
        catalog.tools.len()
    );
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
    text(out.trim_end())
}
