//! The host configurations in `examples/` as hosts read them: every opsmcp server they start
//! over stdio is started as written — its command, its environment (placeholders and remote
//! URLs replaced by the sandbox's values) — and answers `tools/list`; every variable a
//! configuration sets is one that server reads (its `--help` names it); every `${input:…}` of
//! VS Code's file is one of its inputs, and its remote servers use opsmcp's endpoints. GitHub
//! Copilot's agent profile, the repository MCP configuration and the setup workflow it relies on
//! agree with each other and with the servers (as GitHub reads them: YAML front matter).

use std::{
    collections::{BTreeMap, BTreeSet},
    process::Stdio,
    time::Duration,
};

use anyhow::{Context, Result};
use opsmcp_e2e::{TempDir, binary, command, docs, python_script, run, workspace_root};
use opsmcp_sandbox::Sandbox;
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

/// Start `package` over stdio with `args` and `env` and list its tools' names.
async fn tools_of(
    package: &str,
    args: &[&str],
    env: &BTreeMap<String, String>,
    dir: &std::path::Path,
) -> Result<BTreeSet<String>> {
    let mut cmd = tokio::process::Command::new(binary(package));
    cmd.args(args)
        .env_clear()
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
    Ok(tools.into_iter().map(|t| t.name.into_owned()).collect())
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
    let tools = tools_of(package, &[], &env, dir).await?;
    anyhow::ensure!(!tools.is_empty(), "{file}: {name} listed no tools");
    Ok(())
}

fn read(file: &str) -> Result<Value> {
    let path = workspace_root().join("examples").join(file);
    Ok(serde_json::from_str(&std::fs::read_to_string(&path)?)?)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_server_the_host_configurations_start_answers() -> Result<()> {
    let sandbox = Sandbox::incident().await?;
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
    let six: BTreeSet<String> = docs::SERVERS
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

/// A file of `examples/` parsed by PyYAML (`tests/python/yaml_json.py`).
fn yaml(file: &str) -> Result<Value> {
    let path = workspace_root().join("examples").join(file);
    python_script("yaml_json.py", &[path.to_str().context("a UTF-8 path")?])
}

/// Copilot's own tool aliases (`read`, `edit`…), which need no MCP server.
const COPILOT_ALIASES: &[&str] = &["read", "edit", "search", "execute", "agent", "web", "todo"];

#[tokio::test(flavor = "multi_thread")]
async fn the_copilot_agent_its_mcp_configuration_and_setup_agree_with_the_servers() -> Result<()> {
    let sandbox = Sandbox::incident().await?;
    let dir = TempDir::new("examples-copilot")?;
    let sandbox_env = sandbox_env(&sandbox, dir.path())?;
    let file = "copilot/mcp-config.json";
    let config = read(file)?;
    let servers = config["mcpServers"].as_object().context("mcpServers")?;

    // Each server: its tools exist (read-only ones where it runs read-only), its variables are
    // the server's and come from Copilot secrets, and as Copilot starts it, it lists them.
    let mut enabled: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (name, entry) in servers {
        let short = name.strip_prefix("opsmcp-").context("an opsmcp server")?;
        let snapshot: BTreeMap<String, bool> = docs::snapshot(short)
            .iter()
            .map(|t| {
                (
                    t["name"].as_str().unwrap_or_default().to_owned(),
                    t["annotations"]["readOnlyHint"] == true,
                )
            })
            .collect();
        let tools: BTreeSet<&str> = entry["tools"]
            .as_array()
            .context("`tools` is required")?
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let args: Vec<&str> = entry["args"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let read_only = args.contains(&"--read-only");
        for tool in &tools {
            let read = snapshot
                .get(*tool)
                .with_context(|| format!("{file}: {name} has no tool {tool}"))?;
            anyhow::ensure!(
                *read || !read_only,
                "{file}: {name} runs --read-only, which hides {tool}"
            );
        }
        for value in entry["env"]
            .as_object()
            .into_iter()
            .flatten()
            .chain(entry["headers"].as_object().into_iter().flatten())
            .map(|(_, v)| v.as_str().unwrap_or_default())
        {
            anyhow::ensure!(
                value.contains("$COPILOT_MCP_"),
                "{file}: {name}: {value:?} is not taken from a COPILOT_MCP_ secret"
            );
        }
        match entry["type"].as_str() {
            Some("local") => {
                anyhow::ensure!(
                    entry["command"] == name.as_str(),
                    "{file}: {name}'s command"
                );
                // Copilot's agent cannot answer an approval question: it only proposes.
                anyhow::ensure!(
                    read_only || args.windows(2).any(|w| w == ["--mode", "plan"]),
                    "{file}: {name} must run --read-only or --mode plan"
                );
                let known = env_names(name)?;
                for key in entry["env"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, _)| k)
                {
                    anyhow::ensure!(
                        known.contains(key),
                        "{file}: {name} sets {key}, which it does not read"
                    );
                }
                let listed = tools_of(name, &args, &sandbox_env, dir.path()).await?;
                for tool in &tools {
                    anyhow::ensure!(
                        listed.contains(*tool),
                        "{file}: {name} started with {args:?} does not list {tool}"
                    );
                }
            }
            Some("sse") => anyhow::ensure!(
                entry["url"].as_str().is_some_and(|u| u.ends_with("/sse")),
                "{file}: {name}: legacy SSE lives at /sse"
            ),
            Some("http") => anyhow::ensure!(
                entry["url"].as_str().is_some_and(|u| u.ends_with("/mcp")),
                "{file}: {name}: streamable HTTP lives at /mcp"
            ),
            other => anyhow::bail!("{file}: {name} has type {other:?}"),
        }
        enabled.insert(name, tools);
    }

    // The profile: every tool it names is an alias or enabled by the configuration.
    let profile = yaml("copilot/.github/agents/incident-responder.agent.md")?;
    let front = &profile["front_matter"];
    assert!(front["description"].as_str().is_some_and(|d| !d.is_empty()));
    let body = profile["body"].as_str().unwrap_or_default();
    assert!(
        body.len() > 500 && body.len() <= 30_000,
        "the prompt is {} characters",
        body.len()
    );
    let named: Vec<&str> = front["tools"]
        .as_array()
        .context("the profile lists its tools")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for tool in &named {
        match tool.split_once('/') {
            Some((server, name)) => assert!(
                enabled.get(server).is_some_and(|t| t.contains(name)),
                "the profile names {tool}, which {file} does not enable"
            ),
            None => assert!(
                COPILOT_ALIASES.contains(tool),
                "{tool} is not a Copilot alias"
            ),
        }
    }
    for (server, tools) in &enabled {
        for tool in tools {
            assert!(
                named.contains(&format!("{server}/{tool}").as_str()),
                "{file} enables {server}/{tool}, which the profile does not use"
            );
        }
    }

    // The setup workflow installs every local server the configuration starts.
    let workflow = yaml("copilot/.github/workflows/copilot-setup-steps.yml")?;
    let runs: String = workflow["document"]["jobs"]["copilot-setup-steps"]["steps"]
        .as_array()
        .context("the job must be called copilot-setup-steps")?
        .iter()
        .filter_map(|s| s["run"].as_str())
        .collect();
    for (name, entry) in servers {
        if entry["type"] == "local" {
            assert!(
                runs.contains("cargo install") && runs.contains(name.as_str()),
                "copilot-setup-steps.yml does not install {name}"
            );
        }
    }
    Ok(())
}
