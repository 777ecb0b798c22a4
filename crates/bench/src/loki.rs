//! `--with-loki`: the sandbox's Loki stand-in with five streams of checkout-style JSON access
//! logs (1,000 lines in the last hour) and 10,000 lines of mixed requests and errors, and the
//! response tokens of `logs_query` against Loki's raw JSON for the same query, and of the
//! `logs_patterns` summary of the 10,000 lines.

use anyhow::Result;
use opsmcp_sandbox::{
    Sandbox,
    kube::{dice::Dice, history::checkout_line},
    loki::{DEFAULT_TENANT, labels},
};
use serde_json::json;

use opsmcp_e2e::TempDir;

use crate::{Args, StdioServer, Task};

pub struct Running {
    sandbox: Sandbox,
    dir: TempDir,
}

const SECOND: i64 = 1_000_000_000;

pub async fn start() -> Result<Running> {
    let sandbox = Sandbox::start("127.0.0.1:0".parse()?).await?;
    let now = jiff::Timestamp::now().as_nanosecond() as i64;
    let loki = &sandbox.loki;
    let mut dice = Dice::new(42);
    // 1,000 lines from five streams over the last hour.
    for pod in 0..5 {
        let pod = format!("bench-7d9f8c6b5-{pod:05}");
        let lines = (0..200)
            .map(|i| {
                let t = now - 3500 * SECOND + i * 17 * SECOND;
                (t, checkout_line(t, &mut dice, 0.05))
            })
            .collect();
        loki.push(
            DEFAULT_TENANT,
            labels([
                ("app", "bench"),
                ("namespace", "shop"),
                ("container", "bench"),
                ("pod", pod.as_str()),
                ("job", "shop/bench"),
            ]),
            lines,
        );
    }
    // 10,000 lines, a third of them errors, for the pattern summary.
    let lines = (0..10_000)
        .map(|i| {
            let t = now - 3500 * SECOND + i * 300_000_000;
            (t, checkout_line(t, &mut dice, 1.0 / 3.0))
        })
        .collect();
    loki.push(
        DEFAULT_TENANT,
        labels([("app", "patterns"), ("namespace", "shop")]),
        lines,
    );
    let dir = TempDir::new("opsmcp-bench-loki")?;
    Ok(Running { sandbox, dir })
}

impl Running {
    pub fn server_args(&self) -> Vec<String> {
        vec![
            "--loki-url".into(),
            self.sandbox.url(),
            "--audit-log".into(),
            self.dir.path().join("audit.jsonl").display().to_string(),
        ]
    }

    pub async fn tasks(&self, args: &Args) -> Result<Vec<Task>> {
        let query = r#"{app="bench"}"#;
        let raw = reqwest::Client::new()
            .get(format!("{}/loki/api/v1/query_range", self.sandbox.url()))
            .query(&[("query", query), ("limit", "1000"), ("since", "1h")])
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        let (lines, patterns, raw_lines) = {
            let mut server = StdioServer::initialized(args)?;
            let lines = server.call_text(
                1,
                "logs_query",
                json!({ "query": query, "limit": 1000, "start": "1h" }),
            )?;
            let patterns = server.call_text(
                2,
                "logs_patterns",
                json!({ "service": "patterns", "filter": ".*", "start": "1h" }),
            )?;
            let all = reqwest::Client::new()
                .get(format!("{}/loki/api/v1/query_range", self.sandbox.url()))
                .query(&[
                    ("query", r#"{app="patterns"}"#),
                    ("limit", "5000"),
                    ("since", "1h"),
                ])
                .send()
                .await?
                .text()
                .await?;
            (lines, patterns, all)
        };
        if let Ok(dir) = std::env::var("OPSMCP_BENCH_DUMP") {
            std::fs::write(format!("{dir}/logs_query.txt"), &lines)?;
            std::fs::write(format!("{dir}/logs_patterns.txt"), &patterns)?;
            std::fs::write(format!("{dir}/raw.json"), &raw)?;
        }
        anyhow::ensure!(
            lines.contains("1000 lines returned"),
            "logs_query did not return the 1,000 lines:\n{}",
            lines.chars().take(400).collect::<String>()
        );
        let bpe = tiktoken_rs::cl100k_base()?;
        let count = |t: &str| bpe.encode_with_special_tokens(t).len();
        let raw_tokens = count(&raw);
        Ok(vec![
            Task {
                name: "logs_query, 1,000 lines from 5 streams".into(),
                tokens: count(&lines),
                raw_tokens,
                raw: "Loki's query_range JSON".into(),
                ratio: count(&lines) as f64 / raw_tokens as f64,
                target_tokens: raw_tokens * 40 / 100,
            },
            Task {
                name: "logs_patterns, 10,000 lines".into(),
                tokens: count(&patterns),
                // Loki returns at most 5,000 lines a query: twice that for the 10,000.
                raw_tokens: 2 * count(&raw_lines),
                raw: "Loki's JSON for the 10,000 lines".into(),
                ratio: count(&patterns) as f64 / (2 * count(&raw_lines)) as f64,
                target_tokens: 800,
            },
        ])
    }
}
