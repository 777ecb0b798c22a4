//! `--with-notion`: the sandbox's Notion stand-in; the response tokens of `page_read` of the
//! Worker OOM runbook against Notion's JSON for the same page (the page, and the block children
//! of every level, as Notion's own MCP server returns them; target: at most 30%).

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
    let dir = TempDir::new("opsmcp-bench-notion")?;
    Ok(Running {
        sandbox,
        dir,
        http: reqwest::Client::new(),
    })
}

impl Running {
    pub fn server_args(&self) -> Vec<String> {
        vec![
            "--notion-url".into(),
            self.sandbox.notion_url(),
            "--notion-token".into(),
            self.sandbox.notion.token.clone(),
            "--notion-database-id".into(),
            self.sandbox.notion_ids.incidents.0.to_string(),
            "--notion-runbooks-id".into(),
            self.sandbox.notion_ids.runbooks.0.to_string(),
            "--audit-log".into(),
            self.dir.path().join("audit.jsonl").display().to_string(),
        ]
    }

    async fn raw(&self, path: &str) -> Result<String> {
        Ok(self
            .http
            .get(format!("{}{path}", self.sandbox.notion_url()))
            .bearer_auth(&self.sandbox.notion.token)
            .header("notion-version", "2025-09-03")
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?)
    }

    /// The JSON of the page and of every level of its children.
    async fn raw_page(&self, id: &str) -> Result<String> {
        let mut out = self.raw(&format!("/v1/pages/{id}")).await?;
        let mut pending = vec![id.to_owned()];
        while let Some(block) = pending.pop() {
            let children = self
                .raw(&format!("/v1/blocks/{block}/children?page_size=100"))
                .await?;
            let list: Value = serde_json::from_str(&children)?;
            for b in list["results"].as_array().into_iter().flatten() {
                if b["has_children"] == true {
                    pending.push(b["id"].as_str().context("a block without id")?.to_owned());
                }
            }
            out.push_str(&children);
        }
        Ok(out)
    }

    pub async fn tasks(&self, args: &Args) -> Result<Vec<Task>> {
        let id = self.sandbox.notion_ids.worker_runbook.to_string();
        let raw = self.raw_page(&id).await?;
        let page = {
            let mut server = StdioServer::initialized(args)?;
            server.call_text(1, "page_read", json!({ "page": id }))?
        };
        if let Ok(dir) = std::env::var("OPSMCP_BENCH_DUMP") {
            std::fs::write(format!("{dir}/page_read.txt"), &page)?;
        }
        anyhow::ensure!(
            page.contains("kubectl set resources deployment/worker"),
            "page_read did not read the runbook:\n{page}"
        );
        let bpe = tiktoken_rs::cl100k_base()?;
        let (tokens, raw_tokens) = (
            bpe.encode_with_special_tokens(&page).len(),
            bpe.encode_with_special_tokens(&raw).len(),
        );
        Ok(vec![Task {
            name: "page_read, the Worker OOM runbook".into(),
            tokens,
            raw_tokens,
            raw: "Notion's JSON: the page and its block children, every level".into(),
            ratio: tokens as f64 / raw_tokens as f64,
            target_tokens: raw_tokens * 30 / 100,
        }])
    }
}
