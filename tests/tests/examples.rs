//! The host configurations in `examples/` as hosts read them: every opsmcp server they start
//! over stdio is started as written — its command, its environment (placeholders and remote
//! URLs replaced by the sandbox's values) — and answers `tools/list`; every variable a
//! configuration sets is one that server reads (its `--help` names it); every `${input:…}` of
//! VS Code's file is one of its inputs, and its remote servers use opsmcp's endpoints.

use std::{
    collections::{BTreeMap, BTreeSet},
    process::Stdio,
    time::Duration,
};

use anyhow::{Context, Result};
use opsmcp_e2e::{TempDir, binary, command, run, workspace_root};
use opsmcp_sandbox::{
    Sandbox,
    scenario::{INCIDENT, Scenario},
};
use rmcp::{ServiceExt, transport::TokioChildProcess};
use serde_json::Value;

/// The environment variables a server reads, from its `--help` (`[env: NAME=…]`).
fn env_names(package: &str) -> Result<BTreeSet<String>> {
    let mut cmd = command(binary(package));
    cmd.arg("--help");
    let (ok, stdout, stderr) = run(cmd, Duration::from_secs(30))?;
    anyhow::ensure!(ok, "{package} --help failed: {stderr}");
    Ok(stdout
        .split("[env: ")
        .skip(1)
        .filter_map(|s| s.split(['=', ']']).next())
        .map(str::to_owned)
        .collect())
}

/// `sandbox.env` as a map.
fn sandbox_env(sandbox: &Sandbox, dir: &std::path::Path) -> Result<BTreeMap<String, String>> {
    let file = sandbox.write_files(dir)?;
    Ok(std::fs::read_to_string(file)?
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('\'').to_owned()))
        .collect())
}

/// Start `package` over stdio with `env` and list its tools.
async fn tools_of(
    package: &str,
    env: &BTreeMap<String, String>,
    dir: &std::path::Path,
) -> Result<usize> {
    let mut cmd = tokio::process::Command::new(binary(package));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "OPSMCP_AUDIT_LOG",
            dir.join(format!("{package}-audit.jsonl")),
        )
        .envs(env)
        .stderr(Stdio::null());
    let client = ().serve(TokioChildProcess::new(cmd)?).await?;
    let tools = client.list_all_tools().await?;
    client.cancel().await?;
    Ok(tools.len())
}

/// Check one stdio server entry: its variables are the server's, and it starts and lists.
async fn check_entry(
    file: &str,
    name: &str,
    entry: &Value,
    sandbox: &BTreeMap<String, String>,
    dir: &std::path::Path,
) -> Result<()> {
    let package = entry["command"].as_str().context("a command")?;
    let known = env_names(package)?;
    let mut env = sandbox.clone();
    for (key, value) in entry["env"].as_object().into_iter().flatten() {
        anyhow::ensure!(
            known.contains(key) || key.starts_with("OPSMCP_"),
            "{file}: {name} sets {key}, which {package} does not read (it reads {known:?})"
        );
        let value = value.as_str().unwrap_or_default();
        // A placeholder, a template or an address of the user's own stays out: the sandbox's
        // value (or none) stands in for it.
        if !(value.contains('<')
            || value.contains("${")
            || value.contains("://")
            || key == "K8S_CONTEXT")
        {
            env.insert(key.clone(), value.to_owned());
        }
    }
    let tools = tools_of(package, &env, dir).await?;
    anyhow::ensure!(tools > 0, "{file}: {name} listed no tools");
    Ok(())
}

fn read(file: &str) -> Result<Value> {
    let path = workspace_root().join("examples").join(file);
    Ok(serde_json::from_str(&std::fs::read_to_string(&path)?)?)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_server_the_host_configurations_start_answers() -> Result<()> {
    let scenario = Scenario::parse(INCIDENT).map_err(anyhow::Error::msg)?;
    let sandbox = Sandbox::start_with("127.0.0.1:0".parse()?, Some(&scenario)).await?;
    let dir = TempDir::new("examples")?;
    let env = sandbox_env(&sandbox, dir.path())?;

    let claude = read("claude_desktop_config.json")?;
    let mut started = BTreeSet::new();
    for (name, entry) in claude["mcpServers"].as_object().context("mcpServers")? {
        if entry["command"]
            .as_str()
            .is_some_and(|c| c.starts_with("opsmcp-"))
        {
            check_entry("claude_desktop_config.json", name, entry, &env, dir.path()).await?;
            started.insert(entry["command"].as_str().unwrap_or_default().to_owned());
        }
    }
    let six: BTreeSet<String> = [
        "prometheus",
        "kubernetes",
        "loki",
        "pagerduty",
        "github",
        "notion",
    ]
    .iter()
    .map(|s| format!("opsmcp-{s}"))
    .collect();
    assert_eq!(started, six, "Claude Desktop's file starts the six servers");

    let vscode = read("vscode-mcp.json")?;
    let inputs: BTreeSet<&str> = vscode["inputs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["id"].as_str())
        .collect();
    for (name, entry) in vscode["servers"].as_object().context("servers")? {
        let text = entry.to_string();
        for used in text
            .split("${input:")
            .skip(1)
            .filter_map(|s| s.split('}').next())
        {
            assert!(
                inputs.contains(used),
                "vscode-mcp.json: {name} uses ${{input:{used}}}, which is not an input"
            );
        }
        match entry["type"].as_str() {
            Some("stdio")
                if entry["command"]
                    .as_str()
                    .is_some_and(|c| c.starts_with("opsmcp-")) =>
            {
                check_entry("vscode-mcp.json", name, entry, &env, dir.path()).await?;
            }
            Some("sse") => assert!(
                entry["url"].as_str().is_some_and(|u| u.ends_with("/sse")),
                "{name}: legacy SSE lives at /sse"
            ),
            Some("http") => assert!(
                entry["url"].as_str().is_some_and(|u| u.ends_with("/mcp")),
                "{name}: streamable HTTP lives at /mcp"
            ),
            _ => {}
        }
    }
    Ok(())
}
