//! `--with-github`: the sandbox's GitHub stand-in (`shop/worker` with the leaking commit 20
//! hours back); the response tokens of `commits_list` of the 24 hours before the incident (with
//! files) and of `commit_get` of the leaking commit, each against the JSON of the REST calls the
//! tool makes (the target: at most 35% of it).

use anyhow::{Context, Result};
use opsmcp_sandbox::Sandbox;
use serde_json::{Value, json};

use opsmcp_e2e::TempDir;

use crate::{Args, StdioServer, Task};

pub struct Running {
    sandbox: Sandbox,
    dir: TempDir,
    http: reqwest::Client,
}

pub async fn start() -> Result<Running> {
    let sandbox = Sandbox::incident().await?;
    let dir = TempDir::new("opsmcp-bench-github")?;
    Ok(Running {
        sandbox,
        dir,
        http: reqwest::Client::new(),
    })
}

impl Running {
    pub fn server_args(&self) -> Vec<String> {
        vec![
            "--github-api-url".into(),
            self.sandbox.github_url(),
            "--github-token".into(),
            self.sandbox.github.token.clone(),
            "--github-repo-owner".into(),
            "shop".into(),
            "--github-repo-name".into(),
            "worker".into(),
            "--audit-log".into(),
            self.dir.path().join("audit.jsonl").display().to_string(),
        ]
    }

    async fn raw(&self, path: &str) -> Result<String> {
        Ok(self
            .http
            .get(format!("{}{path}", self.sandbox.github_url()))
            .bearer_auth(&self.sandbox.github.token)
            .header("accept", "application/vnd.github+json")
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?)
    }

    pub async fn tasks(&self, args: &Args) -> Result<Vec<Task>> {
        let since = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24);
        let since = jiff::Timestamp::from_second(since.as_second())?;
        let list = self
            .raw(&format!(
                "/repos/shop/worker/commits?since={since}&per_page=30"
            ))
            .await?;
        let commits: Vec<Value> = serde_json::from_str(&list)?;
        // The tool reads each listed commit for its files; so does the raw baseline.
        let mut raw_list = list.clone();
        for c in &commits {
            let sha = c["sha"].as_str().context("a commit without sha")?;
            raw_list.push_str(
                &self
                    .raw(&format!("/repos/shop/worker/commits/{sha}"))
                    .await?,
            );
        }
        let leak = commits
            .first()
            .and_then(|c| c["sha"].as_str())
            .context("no commit in the last 24 hours")?
            .to_owned();
        let raw_commit = self
            .raw(&format!("/repos/shop/worker/commits/{leak}"))
            .await?;
        let (listed, one) = {
            let mut server = StdioServer::initialized(args)?;
            (
                server.call_text(1, "commits_list", json!({ "since": "24h" }))?,
                server.call_text(2, "commit_get", json!({ "ref": leak }))?,
            )
        };
        if let Ok(dir) = std::env::var("OPSMCP_BENCH_DUMP") {
            std::fs::write(format!("{dir}/commits_list.txt"), &listed)?;
            std::fs::write(format!("{dir}/commit_get.txt"), &one)?;
        }
        anyhow::ensure!(
            listed.contains("cache the working set between batches"),
            "commits_list did not list the leaking commit:\n{listed}"
        );
        anyhow::ensure!(
            one.contains("-        free(buffer);"),
            "commit_get did not show the leak:\n{one}"
        );
        let bpe = tiktoken_rs::cl100k_base()?;
        let count = |t: &str| bpe.encode_with_special_tokens(t).len();
        let task = |name: &str, text: &str, raw: &str, what: &str| Task {
            name: name.into(),
            tokens: count(text),
            raw_tokens: count(raw),
            raw: what.into(),
            ratio: count(text) as f64 / count(raw) as f64,
            // The target is relative: 35% of GitHub's JSON for the same calls.
            target_tokens: count(raw) * 35 / 100,
        };
        Ok(vec![
            task(
                "commits_list, the 24h before the incident, with files",
                &listed,
                &raw_list,
                "GET /commits?since plus GET /commits/{sha} per commit",
            ),
            task(
                "commit_get, the leaking commit",
                &one,
                &raw_commit,
                "GET /commits/{sha}",
            ),
        ])
    }
}
