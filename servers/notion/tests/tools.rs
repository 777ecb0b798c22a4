//! Every tool of opsmcp-notion through a real MCP client (rmcp, in process) against the
//! sandbox's Notion stand-in: the runbook as Markdown, schemas and queries in the short filter
//! syntax, a 300-block page written in several requests and read back in parts, the incident
//! report and the post-mortem in one call, plan/yolo and the destructive switch, and faults.

use std::time::Duration;

use opsmcp_core::{config::Cli, identity, output::estimate_tokens, tools::annotation_problems};
use opsmcp_e2e::mcp::{IncidentSetup, ToolClient};
use opsmcp_notion::{NotionServer, config::NotionArgs};
use opsmcp_sandbox::Sandbox;
use serde_json::json;

fn cli(sandbox: &Sandbox, dir: &std::path::Path, extra: &[&str]) -> Cli<NotionArgs> {
    let audit = dir.join("audit.jsonl").display().to_string();
    let (url, token) = (sandbox.notion_url(), sandbox.notion.token.clone());
    let (incidents, runbooks, template) = (
        sandbox.notion_ids.incidents.0.to_string(),
        sandbox.notion_ids.runbooks.0.to_string(),
        sandbox.notion_ids.template.to_string(),
    );
    let mut argv = vec![
        "opsmcp-notion",
        "--notion-url",
        &url,
        "--notion-token",
        &token,
        "--notion-database-id",
        &incidents,
        "--notion-runbooks-id",
        &runbooks,
        "--notion-postmortem-template-id",
        &template,
        "--audit-log",
        &audit,
    ];
    argv.extend_from_slice(extra);
    opsmcp_core::config::parse_from::<NotionArgs, _, _>(identity!(), argv).unwrap()
}

fn server(cli: &Cli<NotionArgs>) -> NotionServer {
    opsmcp_e2e::assemble(identity!(), cli, NotionServer::new).unwrap()
}

async fn setup(extra: &'static [&'static str]) -> IncidentSetup {
    IncidentSetup::start("notion-test", Duration::from_secs(10), |sandbox, dir| {
        server(&cli(sandbox, dir, extra))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_list_matches_the_snapshot_and_is_annotated() {
    let s = setup(&[]).await;
    let tools = s.client.list_all_tools().await.unwrap();
    assert!(
        annotation_problems(&tools).is_empty(),
        "{:?}",
        annotation_problems(&tools)
    );
    opsmcp_e2e::docs::check_snapshot("opsmcp-notion", env!("CARGO_MANIFEST_DIR"), &tools);
    // A guard on the byte estimate; `just bench` measures cl100k (target ≤ 2,000).
    let compact = serde_json::to_string(&tools).unwrap();
    assert!(
        estimate_tokens(&compact) <= 3_000,
        "tools/list grew to ~{} tokens",
        estimate_tokens(&compact)
    );
    opsmcp_e2e::docs::check_readme_table("opsmcp-notion", &tools, |t| {
        match t.name.as_ref() {
            "page_archive" => {
                "write (high risk: needs `--enable-destructive`; through the safety policy)"
            }
            _ if opsmcp_e2e::docs::writes(t) => "write (medium risk, through the safety policy)",
            _ => "read",
        }
        .to_owned()
    });
    let read_only = setup(&["--read-only"]).await;
    let tools = read_only.client.list_all_tools().await.unwrap();
    assert!(
        tools.iter().all(|t| !opsmcp_e2e::docs::writes(t)) && tools.len() == 5,
        "{}",
        tools.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runbook_reads_as_markdown_and_databases_answer_the_short_syntax() {
    let s = setup(&[]).await;
    let found = s.ok("pages_search", json!({ "query": "Worker OOM" })).await;
    assert!(
        found.contains("Worker OOM runbook [page]")
            && found.contains("Worker OOM-killed after the 1.3 rollout [page]"),
        "{found}"
    );
    let runbooks = s
        .ok("pages_search", json!({ "query": "OOM", "runbooks": true }))
        .await;
    assert!(
        runbooks.contains("Worker OOM runbook") && !runbooks.contains("1.3 rollout"),
        "{runbooks}"
    );

    let page = s
        .ok("page_read", json!({ "page": "Worker OOM runbook" }))
        .await;
    for expected in [
        "# Worker OOM runbook\n",
        "Service: worker",
        "Tags: kubernetes, memory",
        "Owner: Maya Chen",
        "> [!CAUTION]\n> If the worker is OOM-killed more than twice in an hour",
        "## Diagnose",
        "1. Find the OOM-killed pod:\n\n   ```bash\n   kubectl get pods -n shop -l app=worker\n   ```",
        "4. Read the commits deployed",
        "   kubectl set resources deployment/worker -n shop --limits=memory=128Mi",
        "| Step | Memory limit | When |\n| --- | --- | --- |\n| 1 | 64Mi | normal operation |",
        "### Background\n\nThe worker decodes order batches",
        "---",
    ] {
        assert!(page.contains(expected), "missing {expected:?} in:\n{page}");
    }
    assert!(
        estimate_tokens(&page) < 1200,
        "~{} tokens",
        estimate_tokens(&page)
    );

    let schema = s.ok("database_schema", json!({})).await;
    assert!(
        schema.contains("Severity")
            && schema.contains("SEV1, SEV2, SEV3")
            && schema.contains("Duration (min)  number"),
        "{schema}"
    );
    let rows = s
        .ok("database_query", json!({ "filter": "Service = worker and Severity in (SEV1, SEV2) and Started > now-60d", "sort": "Started desc", "columns": ["Title", "Severity", "Duration (min)", "On-call"] }))
        .await;
    assert!(
        rows.contains("1 row")
            && rows.contains("Worker OOM-killed after the 1.3 rollout  SEV2")
            && rows.contains("120")
            && rows.contains("Maya Chen"),
        "{rows}"
    );
    let none = s
        .ok("database_query", json!({ "filter": "Started > now-7d" }))
        .await;
    assert!(none.contains("no rows match"), "{none}");
    let bad = s
        .call("database_query", json!({ "filter": "Sev = SEV1" }))
        .await;
    assert!(
        bad.0 && bad.1.contains("\"Sev\" is not a property") && bad.1.contains("Severity (select)"),
        "{bad:?}"
    );
    let wrong_op = s
        .call("database_query", json!({ "filter": "Severity > SEV1" }))
        .await;
    assert!(
        wrong_op.0
            && wrong_op
                .1
                .contains("use =, !=, in (…), is empty, is not empty"),
        "{wrong_op:?}"
    );
    let runbook_rows = s
        .ok(
            "database_query",
            json!({ "database": "runbooks", "filter": "Tags contains process" }),
        )
        .await;
    assert!(runbook_rows.contains("3 rows"), "{runbook_rows}");
    let comments = s
        .ok("comments_list", json!({ "page": "Worker OOM runbook" }))
        .await;
    assert_eq!(comments, "no comments");
    let hidden = s
        .call(
            "page_read",
            json!({ "page": "00000000-0000-4000-8000-000000000000" }),
        )
        .await;
    assert!(
        hidden.0 && hidden.1.contains("share") && hidden.1.contains("Connections"),
        "{hidden:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_page_is_written_in_several_requests_and_read_in_parts() {
    let s = setup(&["--mode", "yolo"]).await;
    let mut markdown = String::new();
    for i in 1..=300 {
        markdown.push_str(&format!("Step {i:03}: check the worker's memory.\n\n"));
    }
    markdown.push_str("- outer\n  - inner\n    - innermost\n      - deepest\n");
    let created = s
        .ok("page_create", json!({ "title": "Long page", "parent": "Engineering", "markdown": markdown, "confidence": 0.95 }))
        .await;
    assert!(created.contains("with 301 top-level block(s)"), "{created}");
    let requests: usize = created
        .split(" in ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        requests >= 5,
        "300 blocks and four levels take several requests: {created}"
    );
    let first = s
        .ok(
            "page_read",
            json!({ "page": "Long page", "max_tokens": 1000 }),
        )
        .await;
    assert!(
        first.contains("Step 001") && !first.contains("Step 300"),
        "{first}"
    );
    let cursor = first
        .rsplit("cursor=")
        .next()
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_owned();
    let mut all = first.clone();
    let mut next = cursor;
    for _ in 0..20 {
        let part = s
            .ok(
                "page_read",
                json!({ "page": "Long page", "max_tokens": 1000, "cursor": next }),
            )
            .await;
        all.push_str(&part);
        match part.rsplit_once("cursor=") {
            Some((_, rest)) => next = rest.split(' ').next().unwrap().to_owned(),
            None => break,
        }
    }
    let positions: Vec<usize> = (1..=300)
        .map(|i| {
            all.find(&format!("Step {i:03}"))
                .unwrap_or_else(|| panic!("Step {i} missing"))
        })
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "the steps keep their order"
    );
    assert!(
        all.contains("- outer\n  - inner\n    - innermost\n      - deepest"),
        "{}",
        &all[all.len().saturating_sub(300)..]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_incident_report_and_the_postmortem_in_one_call_each() {
    let s = setup(&["--mode", "yolo"]).await;
    let report = json!({
        "title": "Worker OOM-killed at its 64Mi limit", "severity": "SEV2", "service": "worker",
        "started": "now-90m", "resolved": "now-52m",
        "summary": "The worker leaked its 10 MB batch buffer since v1.4.2 and was OOM-killed.",
        "impact": "Order batches queued for 38 minutes.",
        "timeline": ["ContainerOOMKilled fired and paged Maya Chen", "Limit raised to 128Mi", "Fix PR #43 opened"],
        "root_cause": "Commit \"cache the working set between batches\" dropped free(buffer).",
        "resolution": "Raised the limit; the fix frees the buffer.",
        "action_items": ["Add a memory test to CI"],
        "pagerduty_url": "https://shop.pagerduty.com/incidents/Q1", "pr_url": "https://github.com/shop/worker/pull/43",
        "on_call": ["maya.chen@shop.example"], "confidence": 0.95,
    });
    // As a strict-schema host sends it: every parameter not given is there, null.
    let strict =
        opsmcp_e2e::docs::strict_arguments("notion", "incident_report_create", report.clone());
    let written = s.ok("incident_report_create", strict).await;
    assert!(
        written.contains("wrote the incident report") && written.contains("duration 38 min"),
        "{written}"
    );
    let rows = s
        .ok("database_query", json!({ "filter": "Started > now-1d", "columns": ["Title", "Severity", "Status", "Duration (min)", "PR", "On-call"] }))
        .await;
    assert!(
        rows.contains("Worker OOM-killed at its 64Mi limit  SEV2")
            && rows.contains("Resolved")
            && rows.contains("38")
            && rows.contains("pull/43")
            && rows.contains("Maya Chen"),
        "{rows}"
    );
    let page = s
        .ok(
            "page_read",
            json!({ "page": "Worker OOM-killed at its 64Mi limit" }),
        )
        .await;
    for expected in [
        "## Timeline\n\n- ContainerOOMKilled fired",
        "## Action items\n\n- [ ] Add a memory test to CI",
        "## Root cause",
        "<https://github.com/shop/worker/pull/43>",
    ] {
        assert!(page.contains(expected), "missing {expected:?} in:\n{page}");
    }
    let mut pm = report.clone();
    pm["confidence"] = json!(0.95);
    let postmortem = s.ok("postmortem_create", pm).await;
    assert!(
        postmortem.contains("wrote \"Post-mortem: Worker OOM-killed at its 64Mi limit\""),
        "{postmortem}"
    );
    let text = s
        .ok(
            "page_read",
            json!({ "page": "Post-mortem: Worker OOM-killed at its 64Mi limit" }),
        )
        .await;
    assert!(
        text.contains("Blameless")
            && text.contains("## Impact\n\nOrder batches queued for 38 minutes.")
            && !text.contains("Who was affected"),
        "{text}"
    );
    let commented = s.ok("comment_add", json!({ "page": "Worker OOM runbook", "text": "Used during the drill.", "confidence": 0.95 })).await;
    assert!(commented.starts_with("commented on"), "{commented}");
    let comments = s
        .ok("comments_list", json!({ "page": "Worker OOM runbook" }))
        .await;
    assert!(comments.contains("Used during the drill."), "{comments}");
    let archive = s.call("page_archive", json!({ "page": "Post-mortem: Worker OOM-killed at its 64Mi limit", "confidence": 1.0 })).await;
    assert!(
        archive.0,
        "high risk needs --enable-destructive: {archive:?}"
    );
}

/// Every element the Markdown side supports.
const DOC: &str = "## Diagnose\n\n> [!CAUTION]\n> Page the platform on-call first.\n\n1. Find the pod:\n\n   ```bash\n   kubectl get pods -n shop -l app=worker\n   ```\n2. Read **its** last state and *restarts*\n\n- Symptoms\n  - OOMKilled\n  - ~~fine~~ restarts\n- [ ] Add a memory test\n- [x] Alert on growth\n\n> A quote\n\n| Step | Limit |\n| --- | --- |\n| 1 | 64Mi |\n\n---\n\n<details>\n<summary>Background</summary>\n\nBatches are 10 MB.\n\n</details>\n\n![the ramp](https://example.com/ramp.png)\n\n<https://github.com/shop/worker/pull/43>\n\nSee [the PR](https://github.com/shop/worker/pull/43) and `code`.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markdown_written_to_notion_reads_back_the_same() {
    let s = setup(&["--mode", "yolo"]).await;
    let created = s
        .ok("page_create", json!({ "title": "Round trip", "parent": "Engineering", "markdown": DOC, "confidence": 0.95 }))
        .await;
    assert!(created.starts_with("created \"Round trip\""), "{created}");
    let page = s.ok("page_read", json!({ "page": "Round trip" })).await;
    // The content is fenced as upstream text: `<<untrusted page content TAG>>` … `<<end TAG>>`.
    let fenced = page.split_once("\n\n").map(|(_, b)| b).unwrap_or_default();
    let (open, rest) = fenced.split_once('\n').unwrap_or_default();
    let tag = open
        .trim_start_matches("<<untrusted page content ")
        .trim_end_matches(">>");
    let body = rest
        .strip_suffix(&format!("\n<<end {tag}>>"))
        .unwrap_or_default();
    assert_eq!(body, DOC, "\n{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appending_into_a_section_on_the_2026_api() {
    let s = setup(&["--mode", "yolo", "--notion-version", "2026-03-11"]).await;
    let done = s
        .ok("page_append", json!({ "page": "Worker OOM runbook", "after": "Symptoms", "markdown": "- Seen again on 2026-12-01", "confidence": 0.95 }))
        .await;
    assert!(done.starts_with("appended 1 top-level block(s)"), "{done}");
    let page = s
        .ok("page_read", json!({ "page": "Worker OOM runbook" }))
        .await;
    assert!(
        page.contains("until it reaches the 64Mi limit\n- Seen again on 2026-12-01\n\n## Diagnose"),
        "at the end of the Symptoms section:\n{page}"
    );
    let missing = s
        .call("page_append", json!({ "page": "Worker OOM runbook", "after": "Nope", "markdown": "x", "confidence": 0.95 }))
        .await;
    assert!(
        missing.0
            && missing
                .1
                .contains("the page's headings: symptoms, diagnose"),
        "{missing:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_mode_shows_the_markdown_and_writes_nothing() {
    let s = setup(&["--mode", "plan"]).await;
    let plan = s
        .ok("page_create", json!({ "title": "Drill notes", "parent": "incidents", "markdown": "## Summary\n\nAll good.", "properties": [{ "name": "Severity", "value": "SEV3" }] }))
        .await;
    assert!(
        plan.contains("## Summary")
            && plan.contains("Severity: SEV3")
            && plan.contains("/v1/pages"),
        "{plan}"
    );
    let rows = s
        .ok(
            "database_query",
            json!({ "filter": "Title contains Drill" }),
        )
        .await;
    assert!(rows.contains("no rows match"), "{rows}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archiving_with_the_destructive_switch() {
    let s = setup(&["--mode", "yolo", "--enable-destructive"]).await;
    let done = s
        .ok(
            "page_archive",
            json!({ "page": "Team offsite notes", "confidence": 1.0 }),
        )
        .await;
    assert!(
        done.starts_with("moved \"Team offsite notes\" to the trash"),
        "{done}"
    );
    let found = s.ok("pages_search", json!({ "query": "offsite" })).await;
    assert!(found.contains("nothing titled"), "{found}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notion_writes_only_under_the_pages_and_databases_it_may_write() {
    let s = IncidentSetup::start("notion-scope", Duration::from_secs(10), |sandbox, dir| {
        let incidents = sandbox.notion_ids.incidents.0.to_string();
        let extra = [
            "--mode",
            "yolo",
            "--enable-destructive",
            "--notion-write-parents",
            &incidents,
        ];
        server(&cli(sandbox, dir, &extra))
    })
    .await;
    let outside = "is not in a page or database opsmcp may write to";
    for (tool, args) in [
        (
            "page_create",
            json!({ "title": "x", "parent": "Engineering", "markdown": "x" }),
        ),
        ("page_archive", json!({ "page": "Team offsite notes" })),
        (
            "page_append",
            json!({ "page": "Worker OOM runbook", "markdown": "x" }),
        ),
        (
            "comment_add",
            json!({ "page": "Post-mortem template", "text": "x" }),
        ),
        (
            "postmortem_create",
            json!({ "title": "t", "summary": "s", "started": "now-1h" }),
        ),
    ] {
        let mut args = args;
        args["confidence"] = json!(1.0);
        let (is_error, text) = s.call(tool, args).await;
        assert!(is_error && text.contains(outside), "{tool}: {text}");
    }
    let found = s.ok("pages_search", json!({ "query": "offsite" })).await;
    assert!(
        found.contains("Team offsite notes"),
        "nothing archived: {found}"
    );
    let written = s
        .ok("incident_report_create", json!({ "title": "In scope", "severity": "SEV3", "service": "worker", "started": "now-1h", "summary": "s", "confidence": 1.0 }))
        .await;
    assert!(written.contains("wrote the incident report"), "{written}");
}

async fn client_for(url: &str, token: Option<&str>, extra: &[&str]) -> ToolClient {
    let audit = opsmcp_e2e::scratch("notion-faults")
        .unwrap()
        .join("audit.jsonl");
    let mut argv: Vec<String> = ["opsmcp-notion", "--notion-url", url, "--audit-log"]
        .map(String::from)
        .to_vec();
    argv.push(audit.display().to_string());
    if let Some(t) = token {
        argv.extend(["--notion-token".into(), t.into()]);
    }
    argv.extend(extra.iter().map(|s| s.to_string()));
    let cli = opsmcp_core::config::parse_from::<NotionArgs, _, _>(identity!(), argv).unwrap();
    ToolClient::in_process(server(&cli), Duration::from_secs(5)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_are_sentences_and_429s_are_waited_out() {
    let port = opsmcp_e2e::free_port();
    let down = client_for(&format!("http://127.0.0.1:{port}"), Some("ntn_down"), &[]).await;
    let (is_error, text) = down.call("pages_search", json!({ "query": "x" })).await;
    assert!(is_error && text.contains("unreachable"), "{text}");

    let slow = opsmcp_e2e::mcp::stub_backend(axum::Router::new().route(
        "/v1/search",
        axum::routing::post(|| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "{}"
        }),
    ))
    .await;
    let c = client_for(&slow, Some("ntn_slow"), &["--notion-timeout-secs", "1"]).await;
    let started = std::time::Instant::now();
    let (is_error, text) = c.call("pages_search", json!({ "query": "x" })).await;
    assert!(
        is_error && text.contains("did not answer within 1s"),
        "{text}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );

    let scenario =
        opsmcp_sandbox::scenario::Scenario::parse(opsmcp_sandbox::scenario::INCIDENT).unwrap();
    let sandbox = Sandbox::start_with("127.0.0.1:0".parse().unwrap(), Some(&scenario))
        .await
        .unwrap();
    let wrong = client_for(&sandbox.notion_url(), Some("ntn_wrongwrongwrong"), &[]).await;
    let (is_error, text) = wrong.call("pages_search", json!({ "query": "x" })).await;
    assert!(
        is_error && text.contains("NOTION_TOKEN") && !text.contains("ntn_wrongwrongwrong"),
        "{text}"
    );
    let none = client_for(&sandbox.notion_url(), None, &[]).await;
    let (is_error, text) = none.call("pages_search", json!({ "query": "x" })).await;
    assert!(
        is_error && text.starts_with("no Notion token: set NOTION_TOKEN"),
        "{text}"
    );

    // One request a second, a burst of one: reads meet 429s and wait as Retry-After says.
    sandbox.notion.limit(1.0, 1.0);
    let ok = client_for(&sandbox.notion_url(), Some(&sandbox.notion.token), &[]).await;
    let started = std::time::Instant::now();
    for _ in 0..3 {
        let text = ok.ok("pages_search", json!({ "query": "runbook" })).await;
        assert!(text.contains("Worker OOM runbook"), "{text}");
    }
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

/// Reads that hold large answers take turns (8 at once): while Notion keeps them all waiting, a
/// ninth says so after half of NOTION_TIMEOUT instead of queueing behind them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_take_turns_and_a_read_without_one_says_notion_is_slow() {
    let silent = opsmcp_e2e::mcp::stub_backend(axum::Router::new().route(
        "/v1/search",
        axum::routing::post(|| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "{}"
        }),
    ))
    .await;
    let c = client_for(&silent, Some("ntn_silent"), &["--notion-timeout-secs", "4"]).await;
    let started = std::time::Instant::now();
    let answers = futures::future::join_all(
        (0..9).map(|i| c.call("pages_search", json!({ "query": format!("q{i}") }))),
    )
    .await;
    let slow: Vec<&String> = answers
        .iter()
        .filter(|(_, text)| text.contains("Notion is answering slowly"))
        .map(|(_, text)| text)
        .collect();
    assert_eq!(slow.len(), 1, "{answers:?}");
    assert!(slow[0].contains("for 2 s"), "{}", slow[0]);
    assert!(answers.iter().all(|(is_error, _)| *is_error), "{answers:?}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}
