//! The sandbox's GitHub stand-in, proven by the strictest GitHub client — githubkit, whose
//! pydantic models are generated from GitHub's OpenAPI description, so every answer it parses
//! carries the fields GitHub's description requires — and by a real OpenAPI validator
//! (openapi-core) checking every answer opsmcp-github reads against GitHub's own description
//! (`@octokit/openapi`).

use anyhow::Result;
use opsmcp_e2e::python_script;
use opsmcp_sandbox::{
    Sandbox,
    scenario::{INCIDENT, Scenario},
};

#[tokio::test(flavor = "multi_thread")]
async fn githubkit_reads_commits_files_and_users_over_real_git_data() -> Result<()> {
    let scenario = Scenario::parse(INCIDENT).map_err(anyhow::Error::msg)?;
    let sandbox = Sandbox::start_with("127.0.0.1:0".parse()?, Some(&scenario)).await?;
    let dir = opsmcp_e2e::TempDir::new("github-standin")?;
    let key = dir.path().join("app.pem");
    std::fs::write(&key, sandbox.github.app.private_key_pem())?;
    let args = [
        sandbox.github_url(),
        sandbox.github.token.clone(),
        sandbox.github.app.id.to_string(),
        key.display().to_string(),
        sandbox.github.app.installation.to_string(),
    ];
    let report = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        python_script("github_client.py", &args)
    })
    .await??;
    assert_eq!(report["ok"], true, "{report:#}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn githubs_openapi_description_accepts_every_answer_the_server_reads() -> Result<()> {
    let scenario = Scenario::parse(INCIDENT).map_err(anyhow::Error::msg)?;
    let sandbox = Sandbox::start_with("127.0.0.1:0".parse()?, Some(&scenario)).await?;
    let dir = opsmcp_e2e::TempDir::new("github-openapi")?;
    let key = dir.path().join("app.pem");
    std::fs::write(&key, sandbox.github.app.private_key_pem())?;
    let spec = opsmcp_e2e::workspace_root()
        .join("tests/node/node_modules/@octokit/openapi/generated/api.github.com.json");
    let args = [
        spec.display().to_string(),
        sandbox.github_url(),
        sandbox.github.token.clone(),
        sandbox.github.app.id.to_string(),
        key.display().to_string(),
        sandbox.github.app.installation.to_string(),
    ];
    let report = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        python_script("github_openapi.py", &args)
    })
    .await??;
    assert_eq!(report["ok"], true, "{report:#}");
    Ok(())
}
