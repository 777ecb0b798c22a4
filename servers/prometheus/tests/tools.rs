//! Every tool of opsmcp-prometheus through a real MCP client (rmcp, in process) against a real
//! Prometheus and Alertmanager started by the harness with six hours of incident history.

use std::{sync::OnceLock, time::Duration};

use opsmcp_core::{
    approval::AUDIT_RESOURCE_URI, audit, config::Cli, identity, metrics::Metrics,
    output::estimate_tokens, tools::annotation_problems,
};
use opsmcp_e2e::{
    mcp::ToolClient,
    prometheus::{Backends, WORKER_POD},
};
use opsmcp_prometheus::{PrometheusServer, config::PrometheusArgs};
use rmcp::model::{CallToolRequestParams, ReadResourceRequestParams};
use serde_json::{Value, json};

/// One Prometheus + Alertmanager for the whole test binary (started on first use).
fn backends() -> &'static Backends {
    static BACKENDS: OnceLock<Backends> = OnceLock::new();
    BACKENDS.get_or_init(|| Backends::start().expect("start Prometheus and Alertmanager"))
}

/// The command line of a server against the harness's backends, with its own audit log.
fn args(extra: &[&str]) -> Cli<PrometheusArgs> {
    let b = backends();
    let audit = opsmcp_e2e::scratch("prometheus-test")
        .unwrap()
        .join("audit.jsonl");
    let mut argv = vec![
        "opsmcp-prometheus".to_owned(),
        "--prometheus-url".into(),
        b.prometheus_url.clone(),
        "--alertmanager-url".into(),
        b.alertmanager_url.clone(),
        "--audit-log".into(),
        audit.display().to_string(),
    ];
    argv.extend(extra.iter().map(|s| s.to_string()));
    opsmcp_core::config::parse_from::<PrometheusArgs, _, _>(identity!(), argv).unwrap()
}

struct Client {
    tools: ToolClient,
    metrics: Metrics,
    audit: std::path::PathBuf,
}

impl std::ops::Deref for Client {
    type Target = ToolClient;
    fn deref(&self) -> &ToolClient {
        &self.tools
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(dir) = self.audit.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

async fn connect(cli: Cli<PrometheusArgs>) -> Client {
    let mut kept = None;
    let server = opsmcp_e2e::assemble(identity!(), &cli, |args, safety, metrics| {
        kept = Some(metrics.clone());
        PrometheusServer::new(args, safety, metrics)
    })
    .unwrap();
    let metrics = kept.expect("assembled");
    Client {
        tools: ToolClient::in_process(server, Duration::from_secs(45)).await,
        metrics,
        audit: cli.safety.audit_path(),
    }
}

impl Client {
    fn backend_requests(&self) -> usize {
        self.metrics
            .render()
            .lines()
            .filter(|l| l.starts_with("opsmcp_backend_requests_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<usize>().ok())
            .sum()
    }
}

#[tokio::test]
async fn tools_list_matches_the_snapshot_and_is_annotated() {
    let c = connect(args(&[])).await;
    let tools = c.client.list_all_tools().await.unwrap();
    assert!(
        annotation_problems(&tools).is_empty(),
        "{:?}",
        annotation_problems(&tools)
    );
    opsmcp_e2e::docs::check_snapshot("opsmcp-prometheus", env!("CARGO_MANIFEST_DIR"), &tools);
    // Read-only servers leave every write out.
    let read_only = connect(args(&["--read-only"])).await;
    let reads = read_only.client.list_all_tools().await.unwrap();
    assert!(
        reads.len() == tools.len() - 2 && !reads.iter().any(|t| t.name.starts_with("silences_c")),
        "{:?}",
        reads.iter().map(|t| &t.name).collect::<Vec<_>>()
    );
    // A guard against accidental growth, on the cheap byte estimate (bytes / 3); `just bench`
    // measures the real cl100k count (about two thirds of this).
    let compact = serde_json::to_string(&tools).unwrap();
    assert!(
        estimate_tokens(&compact) <= 3_200,
        "tools/list grew to ~{} tokens",
        estimate_tokens(&compact)
    );
}

#[tokio::test]
async fn instant_queries_sort_factor_labels_and_explain_empty_results() {
    let c = connect(args(&[])).await;
    let text = c
        .ok("query_instant", json!({ "query": "container_memory_working_set_bytes{namespace=\"shop\"}", "time": "now-90s" }))
        .await;
    assert!(text.starts_with("vector: 2 series at"), "{text}");
    assert!(
        text.contains("common labels: container_memory_working_set_bytes{namespace=\"shop\"}"),
        "{text}"
    );
    let checkout = text.find("checkout-").unwrap();
    let worker = text.find("worker-").unwrap();
    assert!(
        checkout < worker || text.contains("highest first"),
        "{text}"
    );

    let text = c
        .ok(
            "query_instant",
            json!({ "query": "container_memory_working_set_bytes{namespace=\"shop\", pod=\"nope\"}" }),
        )
        .await;
    assert!(text.contains("no data"), "{text}");
    assert!(
        text.contains(WORKER_POD) && !text.contains("batch-"),
        "the hint lists the pods that exist in shop: {text}"
    );
    let text = c
        .ok(
            "query_instant",
            json!({ "query": "container_memory_usage_bytes" }),
        )
        .await;
    assert!(
        text.contains("does not exist; similar: container_memory_working_set_bytes"),
        "{text}"
    );

    let json = c.ok("query_instant", json!({ "query": "sum by (pod) (kube_pod_container_status_restarts_total)", "time": "now-90s", "format": "json" })).await;
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["series"].as_array().unwrap().len(), 2, "{json}");
    // The backfilled series go on in scrapes, as the same series (no job or instance label).
    let query = format!(
        "timestamp(kube_pod_container_status_restarts_total{{pod=\"{WORKER_POD}\"}}) > time() - 30"
    );
    let going_on = c
        .eventually("query_instant", json!({ "query": query }), |t| {
            t.starts_with("vector: 1 series")
        })
        .await;
    assert!(
        !going_on.contains("job=") && !going_on.contains("instance="),
        "{going_on}"
    );
}

#[tokio::test]
async fn syntax_errors_never_reach_prometheus() {
    let c = connect(args(&[])).await;
    let before = c.backend_requests();
    let (is_error, text) = c
        .call(
            "query_instant",
            json!({ "query": "rate(http_requests_total{code=~\"5..\"}[5m]" }),
        )
        .await;
    assert!(is_error);
    assert!(
        text.contains("at char 5: unclosed left parenthesis")
            && text.contains("not sent to Prometheus"),
        "{text}"
    );
    let (is_error, text) = c
        .call(
            "query_range",
            json!({ "query": "rate(http_requests_total)" }),
        )
        .await;
    assert!(is_error && text.contains("[5m]"), "{text}");
    assert_eq!(
        c.backend_requests(),
        before,
        "a request reached the backend"
    );
}

#[tokio::test]
async fn prometheus_errors_are_passed_through_cleaned_up() {
    let c = connect(args(&[])).await;
    let (is_error, text) = c
        .call(
            "query_instant",
            json!({ "query": "label_replace(up, \"a\", \"$1\", \"job\", \"(\")" }),
        )
        .await;
    assert!(is_error, "{text}");
    // Prometheus answers 422 `execution` here; its own words come through on one line.
    assert!(text.starts_with("prometheus rejected the request (execution): invalid regular expression in label_replace()"), "{text}");
}

#[tokio::test]
async fn range_queries_summarise_six_hours_in_few_tokens() {
    let c = connect(args(&[])).await;
    let text = c
        .ok("query_range", json!({ "query": "container_memory_working_set_bytes{namespace=\"shop\"}", "start": "now-6h" }))
        .await;
    assert!(text.contains("step 2m"), "{text}");
    assert!(text.contains("TREND"), "{text}");
    let worker = text.lines().find(|l| l.contains("worker-")).unwrap();
    let columns: Vec<&str> = worker
        .split('}')
        .nth(1)
        .unwrap()
        .split_whitespace()
        .collect();
    let max: f64 = columns[1].trim_end_matches('M').parse().unwrap();
    assert!(
        (64.0..70.0).contains(&max),
        "the worker peaks at its 64Mi (67.1M) limit: {worker}"
    );
    assert!(
        estimate_tokens(&text) <= 1_500,
        "{} tokens:\n{text}",
        estimate_tokens(&text)
    );
    assert!(text.contains("mode=points"), "says how to get more: {text}");

    let points = c
        .ok("query_range", json!({ "query": format!("container_memory_working_set_bytes{{pod=\"{WORKER_POD}\"}}"), "start": "now-30m", "step": "5m", "mode": "points" }))
        .await;
    assert!(
        points.contains("step 5m") && points.matches(", ").count() >= 4,
        "{points}"
    );
    let (is_error, text) = c
        .call(
            "query_range",
            json!({ "query": "up", "start": "now", "end": "now-1h" }),
        )
        .await;
    assert!(is_error && text.contains("range is empty"), "{text}");
}

#[tokio::test]
async fn discovery() {
    let c = connect(args(&[])).await;
    let names = c.ok("metrics_list", json!({ "filter": "CONTAINER" })).await;
    assert!(
        names.contains("container_memory_working_set_bytes")
            && !names.contains("http_requests_total"),
        "{names}"
    );
    let page = c.ok("metrics_list", json!({ "limit": 2 })).await;
    assert!(page.contains("pass cursor="), "{page}");
    let labels = c
        .ok(
            "labels_list",
            json!({ "match": ["container_memory_working_set_bytes"] }),
        )
        .await;
    assert!(
        labels.contains("pod") && labels.contains("namespace"),
        "{labels}"
    );
    let values = c
        .ok(
            "label_values",
            json!({ "label": "pod", "match": ["kube_pod_container_status_restarts_total"] }),
        )
        .await;
    assert!(
        values.starts_with("2 values of `pod`") && values.contains(WORKER_POD),
        "{values}"
    );
    let series = c.ok("series_list", json!({ "match": ["kube_pod_container_resource_limits{resource=\"memory\"}"], "start": "now-1h" })).await;
    assert!(series.starts_with("2 series"), "{series}");
    let meta = c
        .eventually(
            "metrics_metadata",
            json!({ "metric": "checkout_cart_items" }),
            |t| t.contains("gauge"),
        )
        .await;
    assert!(meta.contains("Items in an open cart"), "{meta}");
    // The backfilled series go on in scrapes, which bring their metadata; a recorded series
    // has none.
    let scraped = c
        .eventually(
            "metrics_metadata",
            json!({ "metric": "container_memory_working_set_bytes" }),
            |t| t.contains("gauge"),
        )
        .await;
    assert!(
        scraped.contains("Working set of the container."),
        "{scraped}"
    );
    let none = c
        .eventually("metrics_metadata", json!({ "metric": "job:up:sum" }), |t| {
            t.contains("no metadata")
        })
        .await;
    assert!(none.contains("metadata comes from scrapes"), "{none}");
}

#[tokio::test]
async fn scrape_health_and_cardinality() {
    let c = connect(args(&[])).await;
    let health = |line: &str| line.split_whitespace().nth(2).map(str::to_owned);
    let targets = c
        .eventually("targets_list", json!({}), |t| {
            let states: Vec<_> = t.lines().skip(2).filter_map(health).collect();
            states.iter().any(|s| s == "down") && !states.iter().any(|s| s == "unknown")
        })
        .await;
    let first_row = targets.lines().nth(2).unwrap();
    assert!(
        first_row.starts_with("node") && first_row.contains("connection refused"),
        "down first, with its error:\n{targets}"
    );
    let tsdb = c
        .eventually("tsdb_status", json!({ "limit": 5 }), |t| {
            t.contains("checkout_cart_items")
        })
        .await;
    assert!(tsdb.contains("session_id"), "{tsdb}");
    let health = c.ok("prometheus_health", json!({})).await;
    assert!(
        health.contains("prometheus: ready")
            && health.contains("version 2.")
            && health.contains("alertmanager: ready"),
        "{health}"
    );
}

#[tokio::test]
async fn alerts_rules_and_alertmanager() {
    let c = connect(args(&[])).await;
    let alerts = c
        .eventually("alerts_list", json!({}), |t| {
            t.contains("firing") && t.contains("PendingForever")
        })
        .await;
    assert!(
        alerts
            .lines()
            .nth(2)
            .unwrap()
            .starts_with("CheckoutErrorBudgetBurn"),
        "firing first:\n{alerts}"
    );
    assert!(
        alerts.contains("checkout is burning its error budget"),
        "{alerts}"
    );
    let firing = c
        .ok(
            "alerts_list",
            json!({ "state": "firing", "filter": "checkout" }),
        )
        .await;
    assert!(!firing.contains("PendingForever"), "{firing}");
    let rules = c.ok("rules_list", json!({})).await;
    assert!(
        rules.starts_with("5 rules") && rules.contains("job:up:sum"),
        "{rules}"
    );
    let recording = c.ok("rules_list", json!({ "type": "record" })).await;
    assert!(recording.starts_with("1 rules"), "{recording}");
    let am = c
        .eventually(
            "alertmanager_alerts",
            json!({ "matchers": ["severity=\"critical\""] }),
            |t| t.contains("CheckoutErrorBudgetBurn"),
        )
        .await;
    assert!(am.contains("active"), "{am}");
    let (is_error, text) = c
        .call("alertmanager_alerts", json!({ "matchers": ["bogus"] }))
        .await;
    assert!(is_error && text.contains("invalid matcher"), "{text}");
    assert!(
        c.ok("silences_list", json!({}))
            .await
            .contains("no silences")
    );
}

fn silence(confidence: Option<f64>) -> Value {
    let mut args = json!({
        "matchers": ["alertname=\"CheckoutErrorBudgetBurn\""],
        "duration": "1h",
        "comment": "known: checkout deploy rolled back"
    });
    if let Some(c) = confidence {
        args["confidence"] = json!(c);
    }
    args
}

#[tokio::test]
async fn silence_writes_follow_the_policy_and_are_audited() {
    // Approval mode (the default) with a client that cannot ask: refused, with the options.
    let c = connect(args(&[])).await;
    let (is_error, text) = c.call("silences_create", silence(None)).await;
    assert!(
        is_error
            && text.starts_with("NOT EXECUTED")
            && text.contains("cannot ask the user")
            && text.contains("OPSMCP_MODE=plan")
            && text.contains("risk: medium"),
        "{text}"
    );

    // Plan mode: the exact request, its risk and the alerts it would silence; nothing runs.
    let c = connect(args(&["--mode", "plan"])).await;
    c.eventually(
        "alertmanager_alerts",
        json!({ "matchers": ["alertname=CheckoutErrorBudgetBurn"] }),
        |t| t.contains("CheckoutErrorBudgetBurn"),
    )
    .await;
    let plan = c.ok("silences_create", silence(Some(1.0))).await;
    assert!(
        plan.starts_with("PLAN (not executed")
            && plan.contains("/api/v2/silences {")
            && plan
                .contains("risk: medium — create silence {alertname=\"CheckoutErrorBudgetBurn\"}")
            && plan.contains("would silence 1 alert(s) now")
            && plan.contains("CheckoutErrorBudgetBurn{"),
        "{plan}"
    );
    assert!(
        c.ok("silences_list", json!({}))
            .await
            .contains("no silences")
    );

    // A silence that reaches further than one alert is high, and capped in length.
    for (matchers, duration, why) in [
        (
            json!(["alertname=~\".+\""]),
            "1h",
            "alertname=~\".+\" matches broadly",
        ),
        (
            json!(["alertname!=\"Watchdog\""]),
            "1h",
            "matches every alert but some",
        ),
        (json!(["namespace=\"shop\""]), "1h", "tied to no alertname"),
        (
            json!(["alertname=\"CheckoutErrorBudgetBurn\""]),
            "3d",
            "more than a day",
        ),
    ] {
        let (_, plan) = c
            .call(
                "silences_create",
                json!({ "matchers": matchers, "duration": duration, "comment": "x" }),
            )
            .await;
        assert!(
            plan.contains("high") && plan.contains(why),
            "{matchers}: {plan}"
        );
    }
    let (is_error, text) = c
        .call(
            "silences_create",
            json!({ "matchers": ["alertname=\"X\""], "duration": "100y", "comment": "x" }),
        )
        .await;
    assert!(
        is_error && text.contains("ALERTMANAGER_SILENCE_MAX_DURATION"),
        "{text}"
    );

    // Yolo: confidence decides; the breaker stops automatic execution after failures.
    let c = connect(args(&["--mode", "yolo", "--breaker-failures", "2"])).await;
    let (is_error, skipped) = c.call("silences_create", silence(Some(0.5))).await;
    assert!(
        is_error && skipped.contains("confidence 0.50 is below 0.70: skipped"),
        "{skipped}"
    );
    let (is_error, unsure) = c.call("silences_create", silence(Some(0.75))).await;
    assert!(
        is_error
            && unsure.contains("below 0.80 for medium risk: asking the user")
            && unsure.contains("cannot ask"),
        "{unsure}"
    );
    let created = c.ok("silences_create", silence(Some(0.95))).await;
    assert!(
        created.starts_with("silence ")
            && created.contains("medium risk")
            && created.contains("automatic: yolo mode: confidence 0.95")
            && created.contains("breaker closed (0 of 2 failures)")
            && created.contains("audit "),
        "{created}"
    );
    let id = created.split_whitespace().nth(1).unwrap().to_owned();
    let listed = c.ok("silences_list", json!({})).await;
    assert!(
        listed.contains(&id) && listed.contains("CheckoutErrorBudgetBurn"),
        "{listed}"
    );
    // Authored by the client that asked (not whatever the agent claims).
    assert!(listed.contains("opsmcp for "), "{listed}");
    let expired = c
        .ok("silences_expire", json!({ "id": id, "confidence": 0.9 }))
        .await;
    assert!(
        expired.starts_with(&format!("silence {id} expired")),
        "{expired}"
    );
    assert!(
        c.ok("silences_list", json!({ "state": "expired" }))
            .await
            .contains(&id)
    );

    let unknown = json!({ "id": "00000000-0000-0000-0000-000000000000", "confidence": 0.9 });
    let (is_error, first) = c.call("silences_expire", unknown.clone()).await;
    assert!(
        is_error && first.contains("breaker closed (1 of 2 failures)"),
        "{first}"
    );
    let (is_error, second) = c.call("silences_expire", unknown.clone()).await;
    assert!(
        is_error && second.contains("circuit breaker OPEN"),
        "{second}"
    );
    assert!(
        c.metrics.render().contains("opsmcp_breaker_open 1"),
        "{}",
        c.metrics.render()
    );
    let (is_error, held) = c.call("silences_create", silence(Some(0.99))).await;
    assert!(
        is_error && held.contains("circuit breaker is open") && held.contains("NOT EXECUTED"),
        "{held}"
    );

    // Invalid input is an error before any decision; out-of-range confidence is rejected.
    let (is_error, text) = c
        .call(
            "silences_create",
            json!({ "matchers": [], "duration": "1h", "comment": "x" }),
        )
        .await;
    assert!(is_error && text.contains("at least one matcher"), "{text}");
    let err = c
        .client
        .call_tool(
            CallToolRequestParams::new("silences_expire").with_arguments(
                json!({ "id": "abc", "confidence": 1.5 })
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("confidence must be between 0 and 1"), "{err}");

    // Every decision is in the chained log, readable as a resource.
    let report = audit::verify(&c.audit, None).unwrap();
    let log = std::fs::read_to_string(&c.audit).unwrap();
    let decisions: Vec<String> = log
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["decision"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        decisions,
        [
            "skipped", "refused", "approved", "executed", "approved", "executed", "approved",
            "failed", "approved", "failed", "refused"
        ],
        "{log}"
    );
    assert_eq!(report.records, decisions.len());
    let resource = c
        .client
        .read_resource(ReadResourceRequestParams::new(AUDIT_RESOURCE_URI))
        .await
        .unwrap();
    let text = serde_json::to_value(&resource).unwrap()["contents"][0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(text.lines().count(), decisions.len(), "{text}");
    assert!(text.contains("\"caller\":\"rmcp "), "{text}");
}

#[tokio::test]
async fn no_change_runs_without_its_audit_record() {
    // An audit log that cannot be written (no directory can be created under /proc).
    let mut cli = args(&["--mode", "yolo"]);
    cli.safety.audit_log = Some("/proc/opsmcp-no-such-dir/audit.jsonl".into());
    let c = connect(cli).await;
    let err = c
        .client
        .call_tool(
            CallToolRequestParams::new("silences_create")
                .with_arguments(silence(Some(0.99)).as_object().unwrap().clone()),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("the audit log could not be written, so nothing was run"),
        "{err}"
    );
    let listed = c.ok("silences_list", json!({})).await;
    assert!(
        !listed.contains("known: checkout deploy rolled back"),
        "{listed}"
    );
}

#[tokio::test]
async fn incident_shortcuts() {
    let c = connect(args(&[])).await;
    let pods = c
        .ok(
            "pod_resources",
            json!({ "namespace": "shop", "workload": "worker" }),
        )
        .await;
    assert!(
        pods.contains(WORKER_POD) && pods.contains("64M") || pods.contains("67.109M"),
        "{pods}"
    );
    assert!(
        !pods.contains("checkout-"),
        "only the workload's pods: {pods}"
    );
    let ratio = c
        .ok(
            "service_error_ratio",
            json!({ "service": "checkout", "range": "2h" }),
        )
        .await;
    assert!(
        ratio.starts_with("checkout: 0.4% of requests fail now"),
        "{ratio}"
    );
    assert!(ratio.contains("peak over the last 2h: 33"), "{ratio}");
    let missing = c
        .ok("service_error_ratio", json!({ "service": "payments" }))
        .await;
    assert!(
        missing.contains("no traffic found") && missing.contains("service values: checkout"),
        "{missing}"
    );
}

#[tokio::test]
async fn oversized_answers_are_refused_with_advice() {
    // Within the byte bound, long results are cut to the limit with a notice (once scraped).
    let c = connect(args(&[])).await;
    let text = c
        .eventually(
            "query_instant",
            json!({ "query": "checkout_cart_items", "limit": 20 }),
            |t| t.contains("of 300"),
        )
        .await;
    assert!(text.contains("showing 20 of 300 series"), "{text}");
    // Beyond it, nothing is buffered and the error says what to do.
    let c = connect(args(&["--prometheus-max-response-bytes", "2000"])).await;
    let (is_error, text) = c
        .call("query_instant", json!({ "query": "checkout_cart_items" }))
        .await;
    assert!(is_error && text.contains("narrow the request"), "{text}");
}

/// The README's tool table is generated from the server; this fails when it is stale.
#[tokio::test]
async fn readme_tool_table_is_current() {
    let c = connect(args(&[])).await;
    let tools = c.client.list_all_tools().await.unwrap();
    opsmcp_e2e::docs::check_readme_table("opsmcp-prometheus", &tools, |tool| {
        let alertmanager =
            tool.name.starts_with("silences") || tool.name.starts_with("alertmanager");
        match (opsmcp_e2e::docs::writes(tool), alertmanager) {
            (true, _) => "write (medium risk, through the safety policy); needs `ALERTMANAGER_URL`",
            (false, true) => "read; needs `ALERTMANAGER_URL`",
            (false, false) => "read",
        }
        .to_owned()
    });
}
