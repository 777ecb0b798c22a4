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

/// An id that is not a UUID is Notion's 400 `validation_error`, naming the parameter after the
/// route's kind of object, as Notion's own answers do.
#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_id_is_a_validation_error_naming_its_parameter() -> Result<()> {
    let sandbox = Sandbox::incident().await?;
    let http = reqwest::Client::new();
    for (path, parameter) in [
        ("/v1/pages/not-a-page", "path.page_id"),
        ("/v1/blocks/x/children", "path.block_id"),
        ("/v1/data_sources/42", "path.data_source_id"),
        ("/v1/databases/nope", "path.database_id"),
        ("/v1/users/someone", "path.user_id"),
    ] {
        let response = http
            .get(format!("{}{path}", sandbox.notion_url()))
            .bearer_auth(&sandbox.notion.token)
            .header("Notion-Version", "2025-09-03")
            .send()
            .await?;
        assert_eq!(response.status(), 400, "{path}");
        let body: serde_json::Value = response.json().await?;
        assert_eq!(body["code"], "validation_error", "{path}: {body}");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains(&format!("{parameter} should be a valid uuid"))),
            "{path}: {body}"
        );
    }
    Ok(())
}
