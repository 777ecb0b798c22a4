//! Helpers of the walk-throughs (`opsmcp-demo`, `opsmcp-drill`): one tool call, shown the way
//! a person watching an agent would want to see it.

use std::time::{Duration, Instant};

use anyhow::Result;
use rmcp::{RoleClient, model::CallToolRequestParams, service::Peer};
use serde_json::{Value, json};

/// Lines of each result shown.
const VIEW_LINES: usize = 14;

/// One call, repeated for up to 30 s until `ready` holds (then its text is returned) (alerts and scrapes arrive within
/// seconds of start-up), then printed.
pub async fn step(
    client: &Peer<RoleClient>,
    title: &str,
    tool: &str,
    arguments: Value,
    ready: impl Fn(&str) -> bool,
) -> Result<String> {
    println!("== {title}");
    println!("→ {tool} {arguments}");
    let Value::Object(args) = arguments else {
        unreachable!()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let (text, is_error) = loop {
        let result = client
            .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(args.clone()))
            .await?;
        let value = serde_json::to_value(&result)?;
        let text = value["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let is_error = value["isError"] == json!(true);
        if (!is_error && ready(&text)) || Instant::now() > deadline {
            break (text, is_error);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    show(&text, is_error);
    Ok(text)
}

/// One call made exactly once (a change must not be retried), then printed.
pub async fn step_once(
    client: &Peer<RoleClient>,
    title: &str,
    tool: &str,
    arguments: Value,
) -> Result<String> {
    println!("== {title}");
    println!("→ {tool} {arguments}");
    let Value::Object(args) = arguments else {
        unreachable!()
    };
    let result = client
        .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(args))
        .await?;
    let value = serde_json::to_value(&result)?;
    let text = value["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    show(&text, value["isError"] == json!(true));
    Ok(text)
}

fn show(text: &str, is_error: bool) {
    let lines: Vec<&str> = text.lines().collect();
    for line in lines.iter().take(VIEW_LINES) {
        println!("← {line}");
    }
    if lines.len() > VIEW_LINES {
        println!("← … ({} more lines)", lines.len() - VIEW_LINES);
    }
    if is_error {
        println!("(the tool reported an error)");
    }
    println!();
}
