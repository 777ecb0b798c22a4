//! Every tool of opsmcp-loki through a real MCP client (rmcp, in process) against the sandbox's
//! Loki stand-in running the incident scenario (six hours of worker and checkout history, and
//! what the simulated containers log now).

use std::time::Duration;

use opsmcp_core::{config::Cli, identity, output::estimate_tokens, tools::annotation_problems};
use opsmcp_e2e::{
    feed::push,
    mcp::{IncidentSetup, ProgressLog, ToolClient, call_with_progress},
};
use opsmcp_loki::{LokiServer, config::LokiArgs};
use rmcp::{ServiceExt, model::CallToolRequestParams};
use serde_json::json;

fn cli(url: &str, dir: &std::path::Path, extra: &[&str]) -> Cli<LokiArgs> {
    let audit = dir.join("audit.jsonl").display().to_string();
    let mut argv = vec!["opsmcp-loki", "--loki-url", url, "--audit-log", &audit];
    argv.extend_from_slice(extra);
    opsmcp_core::config::parse_from::<LokiArgs, _, _>(identity!(), argv).unwrap()
}

fn server(cli: &Cli<LokiArgs>) -> LokiServer {
    opsmcp_e2e::assemble(identity!(), cli, LokiServer::new).unwrap()
}

async fn setup(extra: &[&str]) -> IncidentSetup {
    IncidentSetup::start("loki-test", Duration::from_secs(20), |sandbox, dir| {
        server(&cli(&sandbox.url(), dir, extra))
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
    assert!(tools.iter().all(|t| !opsmcp_e2e::docs::writes(t)));
    opsmcp_e2e::docs::check_snapshot("opsmcp-loki", env!("CARGO_MANIFEST_DIR"), &tools);
    // A guard on the byte estimate; `just bench` measures cl100k (target ≤ 2,000).
    let compact = serde_json::to_string(&tools).unwrap();
    assert!(
        estimate_tokens(&compact) <= 2_900,
        "tools/list grew to ~{} tokens",
        estimate_tokens(&compact)
    );
}

/// The README's tool table is generated from the server; this fails when it is stale.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_tool_table_is_current() {
    let s = setup(&[]).await;
    let tools = s.client.list_all_tools().await.unwrap();
    opsmcp_e2e::docs::check_readme_table("opsmcp-loki", &tools, |_| "read".to_owned());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_queries_group_by_stream_and_say_how_to_page() {
    let s = setup(&[]).await;
    let text = s
        .ok(
            "logs_query",
            json!({ "query": "{app=\"checkout\"} |= \"payment authorization failed\"", "start": "6h", "limit": 50 }),
        )
        .await;
    // Both checkout pods; the labels they share once; JSON lines as a table (field names once)
    // without the repeated timestamp.
    assert!(
        text.starts_with("{app=\"checkout\", container=\"checkout\", job=\"shop/checkout\", namespace=\"shop\", stream=\"stdout\"} — 2 streams, 50 lines"),
        "{text}"
    );
    assert!(text.contains("── pod=\"checkout-"), "{text}");
    assert!(
        text.contains("\nin every line: level=error msg=\"payment authorization failed\"")
            && text.contains("\nTIME method path duration_ms trace_id (\" = as the line above)\n")
            && !text.contains(" ts "),
        "{text}"
    );
    assert!(
        text.contains("50 lines returned: the limit was reached, more exist. Older lines: call again with end="),
        "{text}"
    );
    // Forward from the start of the range, raw, and cut.
    let text = s
        .ok(
            "logs_query",
            json!({ "query": "{app=\"worker\"}", "start": "6h", "limit": 3, "direction": "forward", "lines": "raw", "max_line_chars": 60 }),
        )
        .await;
    assert!(
        text.contains("oldest first per stream") && text.contains("Z INFO "),
        "{text}"
    );
    assert!(text.contains("…[+"), "{text}");
    assert!(
        text.contains("Newer lines: call again with start=")
            && text.contains("3 long lines were cut"),
        "{text}"
    );
    // Nothing matched: said plainly.
    let text = s
        .ok(
            "logs_query",
            json!({ "query": "{app=\"checkout\"} |= \"no such text anywhere\"" }),
        )
        .await;
    assert!(text.starts_with("no lines matched in the range"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_escapes_text_and_the_worker_logs_lead_to_its_oom() {
    let s = setup(&[]).await;
    let tricky = r#"cache key "a.b*" (retry) failed"#;
    push(
        &s.sandbox.url(),
        None,
        json!({ "app": "web", "namespace": "shop" }),
        &[tricky, "cache key a-b- retry failed"],
    )
    .await;
    let text = s
        .ok(
            "logs_search",
            json!({ "service": "web", "text": "\"a.b*\" (retry)" }),
        )
        .await;
    assert!(
        text.starts_with(r#"query: {app="web"} |= "\"a.b*\" (retry)""#),
        "{text}"
    );
    assert!(text.contains(tricky) && !text.contains("a-b-"), "{text}");
    let text = s
        .ok(
            "logs_search",
            json!({ "service": "WEB", "label": "app", "text": "CACHE KEY \"A.B*\"", "ignore_case": true }),
        )
        .await;
    assert!(
        text.contains("no lines matched"),
        "the service value is exact: {text}"
    );
    let text = s
        .ok(
            "logs_search",
            json!({ "service": "web", "namespace": "shop", "text": "CACHE KEY \"A.B*\"", "ignore_case": true }),
        )
        .await;
    assert!(text.contains(tricky) && !text.contains("a-b-"), "{text}");
    // The worker: allocation lines, then the kernel's OOM killer.
    let text = s
        .ok(
            "logs_search",
            json!({ "service": "worker", "text": "holding", "start": "6h", "limit": 5 }),
        )
        .await;
    assert!(
        text.contains("INFO allocated chunk #") && text.contains("nothing freed"),
        "{text}"
    );
    let text = s
        .ok(
            "logs_query",
            json!({ "query": "{job=\"node/kernel\"} |= \"(worker)\"", "start": "6h" }),
        )
        .await;
    assert!(
        text.contains("Memory cgroup out of memory: Killed process") && text.contains("(worker)"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metric_queries_at_an_instant_and_over_a_range() {
    let s = setup(&[]).await;
    let text = s
        .ok(
            "logs_metric_query",
            json!({ "query": "sum by (pod) (count_over_time({app=\"checkout\"} | json | status >= 500 [1h]))" }),
        )
        .await;
    assert!(text.starts_with("vector: 2 series at"), "{text}");
    assert!(text.contains("{pod=\"checkout-"), "{text}");
    // The error ratio over six hours: the spike 60–40 minutes ago stands out in the trend.
    let text = s
        .ok(
            "logs_metric_query",
            json!({
                "query": "sum(count_over_time({app=\"checkout\"} | json | status >= 500 [10m])) / sum(count_over_time({app=\"checkout\"}[10m]))",
                // The history starts six hours ago: a first window reaching before it would hold a
                // handful of lines, whose ratio is noise (it was 0.5 once).
                "start": "350m", "step": "10m",
            }),
        )
        .await;
    assert!(
        text.contains("step 10m") && text.contains("TREND"),
        "{text}"
    );
    let max: f64 = text
        .lines()
        .find(|l| l.starts_with("{}"))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    assert!((0.2..0.5).contains(&max), "the spike's ratio: {text}");
    // A log query sent here is pointed at the right tool.
    let (is_error, text) = s
        .call(
            "logs_metric_query",
            json!({ "query": "{app=\"checkout\"}", "start": "1h" }),
        )
        .await;
    assert!(is_error && text.contains("use logs_query"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_labels_values_series_and_stats() {
    let s = setup(&[]).await;
    let text = s.ok("logs_labels", json!({})).await;
    assert!(
        text.contains("app, container, job, namespace, node_name, pod, stream"),
        "{text}"
    );
    let text = s
        .ok(
            "logs_label_values",
            json!({ "label": "app", "selector": "{namespace=\"shop\"}" }),
        )
        .await;
    assert!(
        text.contains("checkout") && text.contains("worker"),
        "{text}"
    );
    let (is_error, text) = s.call("logs_label_values", json!({ "label": "a-b" })).await;
    assert!(is_error && text.contains("not a label name"), "{text}");
    let text = s
        .ok(
            "logs_series",
            json!({ "selector": "{app=\"checkout\"}", "start": "6h" }),
        )
        .await;
    assert!(
        text.starts_with("2 streams match {app=\"checkout\"}\ncommon labels: {app=\"checkout\""),
        "{text}"
    );
    let text = s
        .ok(
            "logs_stats",
            json!({ "selector": "{app=\"checkout\"}", "start": "6h" }),
        )
        .await;
    assert!(
        text.contains("over 6h: 2 streams") && text.contains("entries") && text.contains("MiB"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_error_patterns_with_counts() {
    let s = setup(&[]).await;
    let text = s
        .ok(
            "logs_patterns",
            json!({ "service": "checkout", "start": "2h" }),
        )
        .await;
    assert!(text.contains("(Loki's pattern ingester)"), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    // Payment timeouts lead, then inventory, then the panic.
    let position = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle}: {text}"))
    };
    assert!(position("payment authorization failed") < position("inventory reservation failed"));
    assert!(position("inventory reservation failed") < position("panic recovered"));
    assert!(
        text.contains("status=<_>") && !text.contains("\"ts\""),
        "{text}"
    );
    assert!(estimate_tokens(&text) < 800, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syntax_errors_are_caught_here_or_explained_from_loki() {
    let s = setup(&[]).await;
    let (is_error, text) = s
        .call(
            "logs_query",
            json!({ "query": "{app=\"checkout\"} |= \"x\" |" }),
        )
        .await;
    assert!(is_error, "{text}");
    assert!(
        text.contains("col 26: syntax error: unexpected end of query after `|`")
            && text.contains("nothing was sent to Loki"),
        "{text}"
    );
    let (is_error, text) = s
        .call("logs_query", json!({ "query": "{app=~\".*\"}" }))
        .await;
    assert!(
        is_error && text.contains("empty-compatible value"),
        "{text}"
    );
    // Valid-looking to the local check, refused by Loki: its message with a caret.
    let (is_error, text) = s
        .call(
            "logs_query",
            json!({ "query": "{app=\"checkout\"} | json | status > \"500\"" }),
        )
        .await;
    assert!(is_error, "{text}");
    assert!(
        text.starts_with("Loki rejected the query: parse error at line 1, col 34:"),
        "{text}"
    );
    assert!(
        text.contains("\n  {app=\"checkout\"} | json | status > \"500\"\n"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cost_guard_refuses_broad_long_queries_unless_told() {
    let s = setup(&["--max-scan-bytes", "50000"]).await;
    let (is_error, text) = s
        .call(
            "logs_query",
            json!({ "query": "{namespace=\"shop\"} |= \"error\"", "start": "6h" }),
        )
        .await;
    assert!(is_error, "{text}");
    assert!(
        text.starts_with("cost guard: this query would scan")
            && text.contains("more than the 48.8 KiB limit")
            && text.contains("allow_large_scan=true"),
        "{text}"
    );
    let text = s
        .ok(
            "logs_query",
            json!({ "query": "{namespace=\"shop\"} |= \"error\"", "start": "6h", "limit": 5, "allow_large_scan": true }),
        )
        .await;
    assert!(text.contains("5 lines returned"), "{text}");
    // Every query is sized, whatever its matchers: one that reads little runs.
    s.ok(
        "logs_query",
        json!({ "query": "{namespace=\"shop\"}", "start": "5m", "limit": 5 }),
    )
    .await;
    // Metric queries too, range or instant, with the range inside the expression counted.
    for args in [
        json!({ "query": "sum(count_over_time({namespace=\"shop\"}[5m]))", "start": "6h" }),
        json!({ "query": "sum(count_over_time({namespace=\"shop\"}[6h]))", "start": "5m" }),
        json!({ "query": "sum(count_over_time({namespace=\"shop\"}[30d]))" }),
        json!({ "query": "sum(count_over_time({namespace=\"shop\", unlisted=\"\"} [1h] offset 6h))" }),
    ] {
        let (is_error, text) = s.call("logs_metric_query", args.clone()).await;
        assert!(is_error && text.starts_with("cost guard"), "{args}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_are_separate() {
    let s = setup(&[]).await;
    push(
        &s.sandbox.url(),
        Some("team-b"),
        json!({ "app": "ledger" }),
        &["tenant b only"],
    )
    .await;
    let text = s.ok("logs_search", json!({ "service": "ledger" })).await;
    assert!(text.contains("no lines matched"), "{text}");
    let b = server(&cli(
        &s.sandbox.url(),
        s.dir(),
        &["--loki-org-id", "team-b"],
    ));
    let b = ToolClient::in_process(b, Duration::from_secs(5)).await;
    let text = b.ok("logs_search", json!({ "service": "ledger" })).await;
    assert!(text.contains("tenant b only"), "{text}");
    // A tenant with nothing in it says which tenant was asked.
    let nobody = server(&cli(
        &s.sandbox.url(),
        s.dir(),
        &["--loki-org-id", "nobody"],
    ));
    let nobody = ToolClient::in_process(nobody, Duration::from_secs(5)).await;
    let text = nobody.ok("logs_labels", json!({})).await;
    assert!(
        text.starts_with("no streams in the last")
            && text.contains("for tenant \"nobody\" (LOKI_ORG_ID)"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_follows_new_lines_with_progress_and_stops_at_its_budget() {
    let s = setup(&[]).await;
    let tailer = server(&cli(&s.sandbox.url(), s.dir(), &[]));
    let (a, b) = tokio::io::duplex(1 << 16);
    tokio::spawn(async move {
        let _ = tailer.serve(a).await.unwrap().waiting().await;
    });
    let log = ProgressLog::default();
    let client = log.clone().serve(b).await.unwrap();
    let url = s.sandbox.url();
    let pusher = tokio::spawn(async move {
        for i in 0..20 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let line = format!("order {i} shipped");
            push(&url, None, json!({ "app": "shipping" }), &[&line]).await;
        }
    });
    let params = CallToolRequestParams::new("logs_tail").with_arguments(
        json!({ "query": "{app=\"shipping\"}", "seconds": 20, "max_lines": 5 })
            .as_object()
            .unwrap()
            .clone(),
    );
    let started = std::time::Instant::now();
    let result = call_with_progress(&client, params).await;
    let text = result["content"][0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("tail stopped at 5 lines (5 lines)."),
        "{text}"
    );
    assert!(
        text.contains("order 0 shipped") && text.contains("order 4 shipped"),
        "{text}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    // rmcp hands each notification to the client's handler on a task of its own, so the last
    // one can land just after the result: wait for it, a bounded while.
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    let last_is_fifth = || {
        log.messages()
            .last()
            .is_some_and(|m| m.starts_with("5 lines after"))
    };
    while !last_is_fifth() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let messages = log.messages();
    assert!(
        !messages.is_empty() && messages.last().unwrap().starts_with("5 lines after"),
        "{messages:?}"
    );
    pusher.abort();
    // A bounded time with nothing arriving ends with an empty answer, not a hang; the HTTP
    // timeout (1 s here) does not cut a longer tail.
    let short = server(&cli(
        &s.sandbox.url(),
        s.dir(),
        &["--loki-timeout-secs", "1"],
    ));
    let short = ToolClient::in_process(short, Duration::from_secs(5)).await;
    let text = short
        .ok(
            "logs_tail",
            json!({ "query": "{app=\"nobody\"}", "seconds": 3 }),
        )
        .await;
    assert!(text.starts_with("tail followed for 3s (0 lines)"), "{text}");
    // Loki's refusal comes back with its words.
    let (is_error, text) = s
        .call(
            "logs_tail",
            json!({ "query": "sum(count_over_time({app=\"x\"}[1m]))" }),
        )
        .await;
    assert!(
        is_error
            && text.contains(
                "Loki refused the tail (400 Bad Request): parse error : tail takes a log query"
            ),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_tail_closes_its_websocket() {
    let s = setup(&[]).await;
    let params = CallToolRequestParams::new("logs_tail").with_arguments(
        json!({ "query": "{app=\"shipping\"}", "seconds": 60 })
            .as_object()
            .unwrap()
            .clone(),
    );
    let handle = s
        .client
        .peer()
        .send_cancellable_request(
            rmcp::model::ClientRequest::CallToolRequest(rmcp::model::Request::new(params)),
            rmcp::service::PeerRequestOptions::no_options(),
        )
        .await
        .unwrap();
    let loki = &s.sandbox.loki;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while loki.followers() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the tail never connected"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    handle.cancel(Some("enough".into())).await.unwrap();
    while loki.followers() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the WebSocket stayed open after the cancel"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The server goes on serving.
    s.ok("logs_labels", json!({})).await;
}
