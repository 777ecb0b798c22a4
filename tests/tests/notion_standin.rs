//! The sandbox's Notion stand-in, proven by Notion's official Python client (notion-client
//! 3.1.0): search, a page's block tree, a data source's schema, a page created with properties
//! and children, compound filters and sorts, paging, appending on both API versions, comments,
//! Notion's refusals, and its rate limit with the client's retries.

use anyhow::Result;
use opsmcp_e2e::python_script;
use opsmcp_sandbox::{
    Sandbox,
    scenario::{INCIDENT, Scenario},
};

async fn run(sandbox: &Sandbox, mode: &str) -> Result<serde_json::Value> {
    let args = [
        sandbox.notion_url(),
        sandbox.notion.token.clone(),
        mode.to_owned(),
    ];
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        python_script("notion_client_check.py", &args)
    })
    .await?
}

#[tokio::test(flavor = "multi_thread")]
async fn notions_official_client_reads_writes_queries_and_is_rate_limited() -> Result<()> {
    let scenario = Scenario::parse(INCIDENT).map_err(anyhow::Error::msg)?;
    let sandbox = Sandbox::start_with("127.0.0.1:0".parse()?, Some(&scenario)).await?;
    let report = run(&sandbox, "api").await?;
    assert_eq!(report["ok"], true, "{report:#}");
    // About two requests a second with a burst of three: a burst of calls meets 429s.
    sandbox.notion.limit(2.0, 3.0);
    let report = run(&sandbox, "throttled").await?;
    assert_eq!(report["ok"], true, "{report:#}");
    Ok(())
}
