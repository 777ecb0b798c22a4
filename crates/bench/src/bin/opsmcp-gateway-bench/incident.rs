//! The gateway over the six release servers against the sandbox world (a real Prometheus with
//! the incident's history, the drill's page): what `incident_triage` costs in time and tokens
//! against the calls it replaces, what deferred listing saves over the drill's tasks, and what
//! structured results would cost hosts if they were always on. `OPSMCP_BENCH_SHOW=1` prints the
//! triage report.

use std::{path::Path, time::Instant};

use anyhow::{Context, Result};
use opsmcp_e2e::{TempDir, docs::SERVERS, feed::page, prometheus::Backends};
use opsmcp_sandbox::Sandbox;
use rmcp::{
    RoleClient, ServiceExt,
    model::{CallToolRequestParams, PaginatedRequestParams, RequestMetaObject, Tool},
    service::RunningService,
    transport::TokioChildProcess,
};
use serde::Serialize;
use serde_json::{Value, json};
use tiktoken_rs::CoreBPE;

/// The drill's tasks as an agent would search for them, and the tool each needs.
const TASKS: &[(&str, &str)] = &[
    ("incident details", "incident_get"),
    ("who is on call", "oncalls_list"),
    ("pagerduty user email", "users_list"),
    ("github user by email", "users_find"),
    ("kubernetes pods", "pods_list"),
    ("describe pod", "pod_describe"),
    ("pod logs", "pod_logs"),
    ("memory query range", "query_range"),
    ("loki logs query", "logs_query"),
    ("runbook pages search", "pages_search"),
    ("read page", "page_read"),
    ("recent commits", "commits_list"),
    ("commit diff", "commit_get"),
    ("create pull request", "pr_create"),
    ("container memory limit", "container_resources_set"),
    ("incident report post-mortem", "incident_report_create"),
    ("add incident note", "incident_note_add"),
    ("resolve incident", "incident_resolve"),
];

#[derive(Debug, Serialize)]
pub struct Report {
    pub triage_cold_ms: f64,
    pub triage_warm_median_ms: f64,
    pub triage_tokens: usize,
    /// The same parts called one by one, whole.
    pub replaced_calls_tokens: usize,
    pub full_list_tokens: usize,
    pub deferred_initial_list_tokens: usize,
    pub deferred_search_tokens: usize,
    pub deferred_final_list_tokens: usize,
    pub deferred_tools_found: usize,
    pub deferred_tasks: usize,
    /// Output schemas of the tools that declare one, in tools/list.
    pub output_schema_tokens: usize,
    /// Structured content beside the text, per answer, for those tools.
    pub structured_content_tokens: Vec<(String, usize)>,
}

type Client = RunningService<RoleClient, ()>;

fn tokens(bpe: &CoreBPE, value: &impl Serialize) -> usize {
    let text = serde_json::to_string(value).unwrap_or_default();
    bpe.encode_with_special_tokens(&text).len()
}

fn text_of(result: &Value) -> String {
    result["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

fn meta(key: &str, value: Value) -> RequestMetaObject {
    let mut meta = RequestMetaObject::new();
    meta.insert(key.into(), value);
    meta
}

async fn call(
    client: &Client,
    name: &str,
    arguments: Value,
    meta: Option<RequestMetaObject>,
) -> Result<Value> {
    let mut params = CallToolRequestParams::new(name.to_owned())
        .with_arguments(arguments.as_object().cloned().unwrap_or_default());
    params.meta = meta;
    Ok(serde_json::to_value(client.call_tool(params).await?)?)
}

async fn list(client: &Client, meta: Option<RequestMetaObject>) -> Result<Vec<Tool>> {
    let mut params = PaginatedRequestParams::default();
    params.meta = meta;
    Ok(client.list_tools(Some(params)).await?.tools)
}

async fn gateway(binary: &Path, config: &Path, audit: &Path) -> Result<Client> {
    let mut cmd = tokio::process::Command::new(binary);
    cmd.arg("--upstreams")
        .arg(config)
        .arg("--audit-log")
        .arg(audit)
        .stderr(std::process::Stdio::null());
    Ok(().serve(TokioChildProcess::new(cmd)?).await?)
}

pub async fn measure(bin_dir: &Path, gateway_binary: &Path) -> Result<Report> {
    let bpe = tiktoken_rs::cl100k_base()?;
    let sandbox = Sandbox::incident().await?;
    let backends = tokio::task::spawn_blocking(Backends::start).await??;
    let dir = TempDir::new("gateway-bench")?;
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, sandbox.kubeconfig())?;
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &sandbox.ca_pem)?;
    let audit = dir.path().join("audit.jsonl");
    let mut env: Vec<(String, String)> = sandbox
        .environment(&kubeconfig, &ca)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    env.extend([
        ("PROMETHEUS_URL".into(), backends.prometheus_url.clone()),
        ("ALERTMANAGER_URL".into(), backends.alertmanager_url.clone()),
        ("OPSMCP_AUDIT_LOG".into(), audit.display().to_string()),
    ]);
    let env = env
        .iter()
        .map(|(k, v)| format!("{k} = {v:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let upstreams: String = SERVERS
        .iter()
        .map(|s| {
            format!(
                "[[upstream]]\nname = {s:?}\ncommand = {:?}\nenv = {{ {env} }}\n",
                bin_dir.join(format!("opsmcp-{s}")).display().to_string()
            )
        })
        .collect();
    let services = "[[service]]\nname = \"worker\"\nnamespace = \"shop\"\npagerduty_service = \"PSWORKR\"\ngithub_repo = \"shop/worker\"\nrunbooks = \"Worker\"\n";
    let full_config = dir.path().join("full.toml");
    std::fs::write(&full_config, format!("{upstreams}{services}"))?;
    let deferred_config = dir.path().join("deferred.toml");
    std::fs::write(&deferred_config, format!("deferred = true\n{upstreams}"))?;
    let number = page(
        &sandbox,
        "gateway-bench",
        "[FIRING:1] ContainerOOMKilled shop (worker)",
    )
    .await;
    let incident = number.to_string();

    let full = gateway(gateway_binary, &full_config, &audit).await?;
    call(&full, "health", json!({}), None).await?;
    let listed = list(&full, None).await?;
    let full_list_tokens = tokens(&bpe, &listed);

    // incident_triage, cold (the caches empty), then fresh answers each time.
    let started = Instant::now();
    let report = call(
        &full,
        "incident_triage",
        json!({ "incident": incident }),
        None,
    )
    .await?;
    let triage_cold = started.elapsed();
    let mut warm = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        call(
            &full,
            "incident_triage",
            json!({ "incident": incident }),
            Some(meta("opsmcp/cache", json!("bypass"))),
        )
        .await?;
        warm.push(started.elapsed());
    }
    warm.sort();
    let triage_tokens = bpe.encode_with_special_tokens(&text_of(&report)).len();
    if std::env::var_os("OPSMCP_BENCH_SHOW").is_some() {
        println!("{}", text_of(&report));
    }
    let since = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24)).to_string();
    let replaced = [
        ("incident_get", json!({ "id": incident })),
        ("oncalls_list", json!({ "service_id": "PSWORKR" })),
        (
            "pods_list",
            json!({ "namespace": "shop", "label_selector": "app=worker" }),
        ),
        (
            "pod_resources",
            json!({ "namespace": "shop", "workload": "worker" }),
        ),
        (
            "logs_patterns",
            json!({ "selector": "{namespace=\"shop\", app=\"worker\"}", "start": "1h" }),
        ),
        (
            "events_list",
            json!({ "namespace": "shop", "warnings_only": true }),
        ),
        (
            "deployments_list",
            json!({ "namespace": "shop", "name": "worker" }),
        ),
        (
            "commits_list",
            json!({ "repo": "shop/worker", "since": since }),
        ),
        (
            "pages_search",
            json!({ "query": "Worker", "runbooks": true }),
        ),
    ];
    let mut replaced_calls_tokens = 0;
    for (tool, arguments) in replaced {
        let answer = call(&full, tool, arguments, None).await?;
        replaced_calls_tokens += bpe.encode_with_special_tokens(&text_of(&answer)).len();
    }

    // Structured results if they were always on.
    let structured = Some(meta("opsmcp/structured", json!(true)));
    let with_schemas = list(&full, structured.clone()).await?;
    let output_schema_tokens = with_schemas
        .iter()
        .filter_map(|t| t.output_schema.as_ref())
        .map(|s| tokens(&bpe, s))
        .sum();
    let mut structured_content_tokens = Vec::new();
    for (tool, arguments) in [
        ("incident_get", json!({ "id": incident })),
        ("oncalls_list", json!({ "service_id": "PSWORKR" })),
        ("pods_list", json!({ "namespace": "shop" })),
    ] {
        let answer = call(&full, tool, arguments, structured.clone()).await?;
        let content = answer
            .get("structuredContent")
            .with_context(|| format!("{tool} gave no structured content"))?;
        structured_content_tokens.push((tool.to_owned(), tokens(&bpe, content)));
    }
    full.cancel().await?;

    // Deferred listing over the drill's tasks.
    let deferred = gateway(gateway_binary, &deferred_config, &audit).await?;
    let initial = list(&deferred, None).await?;
    let mut search_tokens = 0;
    let mut found = 0;
    for (query, needed) in TASKS {
        let answer = call(
            &deferred,
            "tools_search",
            json!({ "query": query, "limit": 3 }),
            None,
        )
        .await?;
        let said = text_of(&answer);
        search_tokens += bpe.encode_with_special_tokens(&said).len();
        found += usize::from(said.lines().any(|l| l.starts_with(&format!("{needed} — "))));
    }
    let last = list(&deferred, None).await?;
    deferred.cancel().await?;
    Ok(Report {
        triage_cold_ms: triage_cold.as_secs_f64() * 1e3,
        triage_warm_median_ms: warm[warm.len() / 2].as_secs_f64() * 1e3,
        triage_tokens,
        replaced_calls_tokens,
        full_list_tokens,
        deferred_initial_list_tokens: tokens(&bpe, &initial),
        deferred_search_tokens: search_tokens,
        deferred_final_list_tokens: tokens(&bpe, &last),
        deferred_tools_found: found,
        deferred_tasks: TASKS.len(),
        output_schema_tokens,
        structured_content_tokens,
    })
}

pub fn print(r: &Report) {
    let verdict = |ok: bool| if ok { "met" } else { "NOT MET" };
    println!(
        "incident_triage: cold {:.0} ms, warm (fresh answers) median {:.0} ms [target ≤ 2000: {}]; {} cl100k tokens [target ≤ 2500: {}] against {} for the 9 calls it replaces",
        r.triage_cold_ms,
        r.triage_warm_median_ms,
        verdict(r.triage_cold_ms <= 2000.0),
        r.triage_tokens,
        verdict(r.triage_tokens <= 2500),
        r.replaced_calls_tokens
    );
    let deferred_total =
        r.deferred_initial_list_tokens + r.deferred_search_tokens + r.deferred_final_list_tokens;
    println!(
        "deferred listing over the drill's {} tasks: list {} + searches {} + final list {} = {} cl100k tokens, against {} for the full list ({} of the tasks' tools found by a 3-result search)",
        r.deferred_tasks,
        r.deferred_initial_list_tokens,
        r.deferred_search_tokens,
        r.deferred_final_list_tokens,
        deferred_total,
        r.full_list_tokens,
        r.deferred_tools_found
    );
    println!(
        "structured results always on would add {} tokens of output schemas to tools/list and, per answer, {}",
        r.output_schema_tokens,
        r.structured_content_tokens
            .iter()
            .map(|(t, n)| format!("{t} +{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}
