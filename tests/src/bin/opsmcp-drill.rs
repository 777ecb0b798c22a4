//! `opsmcp-drill`: the incident drill of the README, across the six servers. Starts the
//! sandbox world (cluster, Loki, PagerDuty, GitHub, Notion) with the shop's incident, a real
//! Prometheus and Alertmanager scraping the cluster and paging the PagerDuty stand-in, and the
//! team's shared `opsmcp-pagerduty serve` behind nginx; spawns the other five servers over
//! stdio as a desktop host does, and reaches PagerDuty's over the legacy SSE endpoint with a
//! bearer token. Every server runs in approval mode; this host answers each question with yes
//! and prints it.
//!
//! The story: the page arrives as a resource update; the incident and who is on call; the
//! OOM-killed pod, its logs, its memory ramp, its history in Loki; the runbook in Notion; the
//! release the running image came from, what changed since the release before and the leaking
//! diff; the fix PR mentioning the on-call engineer;
//! the memory limit raised (asked, approved, verified); the incident report in Notion; a note
//! and the resolve in PagerDuty; the alert resolving and Alertmanager's resolve going out; the
//! audit log of every decision, verified.

use std::{
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use opsmcp_e2e::{
    HttpServer, Nginx, TempDir, binary,
    demo::{step, step_once},
    http_get,
    prometheus::{Backends, paging_config},
    sse_client::LegacySseClient,
};
use opsmcp_sandbox::{Sandbox, scenario::WORKER_ROUTING_KEY};
use rmcp::{
    ClientHandler, ErrorData, RoleClient, ServiceExt,
    model::{
        ClientConfig, ElicitRequestParams, ElicitResult, ElicitationAction,
        ResourceUpdatedNotificationParam, SubscribeRequestParams,
    },
    service::{NotificationContext, RequestContext, RunningService},
    transport::{ConfigureCommandExt, TokioChildProcess},
};
use serde_json::json;

/// The servers the drill runs.
const SERVERS: [&str; 6] = [
    "opsmcp-prometheus",
    "opsmcp-kubernetes",
    "opsmcp-loki",
    "opsmcp-pagerduty",
    "opsmcp-github",
    "opsmcp-notion",
];

/// Lines of an approval question shown.
const QUESTION_LINES: usize = 16;

/// The scripted host's side of one connection: it approves every question (printing it and
/// the answer) and wakes the drill when a subscribed resource changes.
#[derive(Clone)]
struct Host {
    server: &'static str,
    updated: Arc<tokio::sync::Notify>,
    questions: Arc<Mutex<usize>>,
}

impl Host {
    fn new(server: &'static str, questions: &Arc<Mutex<usize>>) -> Self {
        Self {
            server,
            updated: Arc::default(),
            questions: questions.clone(),
        }
    }
}

impl ClientHandler for Host {
    fn get_info(&self) -> ClientConfig {
        let mut info = ClientConfig::default();
        info.capabilities =
            serde_json::from_value(json!({ "elicitation": { "form": {} } })).expect("capabilities");
        info
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _cx: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        let ElicitRequestParams::FormElicitationParams { message, .. } = &request else {
            return Ok(ElicitResult::new(ElicitationAction::Decline));
        };
        *self.questions.lock().unwrap() += 1;
        let lines: Vec<&str> = message.lines().collect();
        println!("   ?? {} asks the user (elicitation):", self.server);
        for line in lines.iter().take(QUESTION_LINES) {
            println!("   ?  {line}");
        }
        if lines.len() > QUESTION_LINES {
            println!("   ?  … ({} more lines)", lines.len() - QUESTION_LINES);
        }
        println!("   !! the user answers: approve");
        Ok(ElicitResult::new(ElicitationAction::Accept).with_content(json!({ "approve": true })))
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _cx: NotificationContext<RoleClient>,
    ) {
        println!("   ** notifications/resources/updated {}", params.uri);
        self.updated.notify_one();
    }
}

type Client = RunningService<RoleClient, Host>;

/// Spawn `package` over stdio with `env`, as a desktop host does.
async fn spawn(package: &str, host: Host, env: &[(&str, String)]) -> Result<Client> {
    let transport = TokioChildProcess::new(
        tokio::process::Command::new(binary(package)).configure(|cmd| {
            cmd.envs(env.iter().map(|(k, v)| (k, v)))
                .stderr(Stdio::null());
        }),
    )?;
    host.serve(transport)
        .await
        .with_context(|| format!("connecting to {package} over stdio"))
}

/// The first line of `text` containing `needle`.
fn line_with<'a>(text: &'a str, needle: &str) -> Result<&'a str> {
    text.lines()
        .find(|l| l.contains(needle))
        .with_context(|| format!("no line with {needle:?} in:\n{text}"))
}

/// The word after `marker` in `text` (up to a space, comma or bracket).
/// A short commit sha as the GitHub server prints it.
fn is_sha7(word: &str) -> bool {
    word.len() == 7 && word.bytes().all(|b| b.is_ascii_hexdigit())
}

fn word_after<'a>(text: &'a str, marker: &str) -> Result<&'a str> {
    let start = text
        .find(marker)
        .with_context(|| format!("no {marker:?} in:\n{text}"))?
        + marker.len();
    Ok(text[start..]
        .split([' ', ',', ')', '(', '\n', '>', '<'])
        .next()
        .unwrap_or_default())
}

#[tokio::main]
async fn main() -> Result<()> {
    // `--late-host SECS`: the host connects that long after the world starts, as an agent does
    // that comes online after the page (the laptop was closed, the bot restarted).
    // `--aged HOURS`: the world has been running that long (its past seeded that much earlier).
    let (mut late, mut age) = (None, Duration::ZERO);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut secs = |unit: u64| -> Result<Duration> {
            let value = args
                .next()
                .with_context(|| format!("{flag} takes a number"))?;
            let n: u64 = value
                .parse()
                .with_context(|| format!("{flag} takes a number, not `{value}`"))?;
            Ok(Duration::from_secs(n * unit))
        };
        match flag.as_str() {
            "--late-host" => late = Some(secs(1)?),
            "--aged" => age = secs(3600)?,
            _ => bail!("usage: opsmcp-drill [--late-host SECS] [--aged HOURS]"),
        }
    }
    // Every binary the drill runs is built before the world's clock starts: the worker is
    // OOM-killed and paged on that clock, not on the build's.
    for server in SERVERS {
        binary(server);
    }
    let started = Instant::now();
    println!("Starting the sandbox world (scenario: the shop on a bad day)…");
    let sandbox = Sandbox::incident_aged(age).await?;
    if !age.is_zero() {
        println!(
            "  (aged: the world has been running {} h; its past happened that much earlier)",
            age.as_secs() / 3600
        );
    }
    let dir = TempDir::new("opsmcp-drill")?;
    let env_file = sandbox.write_files(dir.path())?;
    let files = env_file.parent().context("the env file's directory")?;
    let ca_file = files.join("sandbox-ca.pem");
    let audit = dir.path().join("audit.jsonl");
    println!("  Kubernetes     {}", sandbox.kube_url());
    println!("  Loki           {}", sandbox.url());
    println!("  PagerDuty      {}", sandbox.pagerduty_url());
    println!("  GitHub         {}", sandbox.github_url());
    println!("  Notion         {}", sandbox.notion_url());
    println!("  environment    {}", env_file.display());

    println!("Starting Prometheus (scraping the cluster) and Alertmanager (paging PagerDuty)…");
    let backends = Backends::start_alerting(
        &[("sandbox", sandbox.addr.to_string())],
        &paging_config(
            &["container=\"worker\"", "severity=\"critical\""],
            WORKER_ROUTING_KEY,
            &format!("{}/v2/enqueue", sandbox.pagerduty_url()),
            &ca_file,
        ),
    )?;
    println!("  prometheus     {}", backends.prometheus_url);
    println!("  alertmanager   {}", backends.alertmanager_url);

    // Every server gets what `. sandbox.env` sets, the shared audit log and approval mode.
    let mut env = sandbox.environment(&files.join("sandbox.kubeconfig"), &ca_file);
    env.extend([
        ("OPSMCP_AUDIT_LOG", audit.display().to_string()),
        ("OPSMCP_MODE", "approval".to_owned()),
        ("PROMETHEUS_URL", backends.prometheus_url.clone()),
        ("ALERTMANAGER_URL", backends.alertmanager_url.clone()),
        (
            "K8S_KUBECTL_CACHE_DIR",
            dir.path().join("kubectl-cache").display().to_string(),
        ),
    ]);

    println!("Starting the team's shared opsmcp-pagerduty (HTTP, bearer token) behind nginx…");
    let team_token = format!("team-{}", uuid::Uuid::new_v4().simple());
    let webhook_secret = format!("whsec-{}", uuid::Uuid::new_v4().simple());
    let (pd_server, nginx) = {
        let mut env = env.clone();
        env.push(("PAGERDUTY_WEBHOOK_SECRET", webhook_secret.clone()));
        let token = team_token.clone();
        tokio::task::spawn_blocking(move || -> Result<_> {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let server =
                HttpServer::start_with_env("opsmcp-pagerduty", &["--http-token", &token], &env)?;
            let nginx = Nginx::start(server.addr)?;
            Ok((server, nginx))
        })
        .await??
    };
    sandbox
        .pagerduty
        .subscribe(&nginx.url("/webhooks/pagerduty"), &webhook_secret);
    println!("  sse            {}", nginx.url("/sse"));
    println!("  webhooks       {}", nginx.url("/webhooks/pagerduty"));

    if let Some(late) = late {
        println!(
            "\nThe host comes online {} s after the world started (--late-host)…",
            late.as_secs()
        );
        tokio::time::sleep(late.saturating_sub(started.elapsed())).await;
    }
    let questions = Arc::new(Mutex::new(0));
    let pd_host = Host::new("opsmcp-pagerduty", &questions);
    let pagerduty = pd_host
        .clone()
        .serve(LegacySseClient::connect(&nginx.url("/sse"), Some(&team_token)).await?)
        .await
        .context("connecting to opsmcp-pagerduty over SSE through nginx")?;
    let prometheus = spawn(
        "opsmcp-prometheus",
        Host::new("opsmcp-prometheus", &questions),
        &env,
    )
    .await?;
    let loki = spawn("opsmcp-loki", Host::new("opsmcp-loki", &questions), &env).await?;
    let kubernetes = spawn(
        "opsmcp-kubernetes",
        Host::new("opsmcp-kubernetes", &questions),
        &env,
    )
    .await?;
    let github = spawn(
        "opsmcp-github",
        Host::new("opsmcp-github", &questions),
        &env,
    )
    .await?;
    let notion = spawn(
        "opsmcp-notion",
        Host::new("opsmcp-notion", &questions),
        &env,
    )
    .await?;
    println!(
        "\nConnected: opsmcp-pagerduty over legacy SSE through nginx; opsmcp-prometheus, opsmcp-loki, opsmcp-kubernetes, opsmcp-github and opsmcp-notion over stdio. Every server is in approval mode.\n"
    );

    // 1. The page: subscribe, then take what is already there — a host that comes late works
    // the incident paged before it connected — or wait for the notification.
    // Over the legacy SSE endpoint a subscription is `resources/subscribe` (rmcp marks it
    // deprecated in favour of 2026-07-28's `subscriptions/listen`).
    #[allow(deprecated)]
    pagerduty
        .subscribe(SubscribeRequestParams::new("pagerduty://events"))
        .await?;
    let arrived = step_once(
        &pagerduty,
        "Subscribed to pagerduty://events. Anything already in?",
        "events_recent",
        json!({}),
    )
    .await?;
    let paged = if arrived.contains("incident.triggered") {
        println!(
            "   (paged before this host connected: {:.0} s after the world started)\n",
            started.elapsed().as_secs_f64()
        );
        Instant::now()
    } else {
        println!("== Nothing yet; waiting for the page…");
        let waited = Instant::now();
        tokio::time::timeout(Duration::from_secs(90), pd_host.updated.notified())
            .await
            .context("no page within 90 s: the worker was not OOM-killed, Prometheus did not fire, Alertmanager did not page or the webhook did not arrive")?;
        println!(
            "   (after {:.0} s: OOM kill → Prometheus → Alertmanager → PagerDuty → webhook through nginx)\n",
            waited.elapsed().as_secs_f64()
        );
        Instant::now()
    };
    let events = if arrived.contains("incident.triggered") {
        arrived
    } else {
        step(
            &pagerduty,
            "What came in?",
            "events_recent",
            json!({}),
            |t| t.contains("incident.triggered"),
        )
        .await?
    };
    let triggered = line_with(&events, "incident.triggered")?;
    let number = word_after(triggered, "#")?.to_owned();
    let incident = step(
        &pagerduty,
        &format!("Incident #{number}:"),
        "incident_get",
        json!({ "id": number }),
        |_| true,
    )
    .await?;
    let oncall = step(
        &pagerduty,
        "Who is on call for the worker?",
        "oncalls_list",
        json!({ "service_id": word_after(line_with(&incident, "service ")?, "(")? }),
        |_| true,
    )
    .await?;
    let engineer = line_with(&oncall, "L1 ")?;
    let engineer = word_after(engineer, "L1 ")?.to_owned()
        + " "
        + word_after(engineer, &format!("L1 {} ", word_after(engineer, "L1 ")?))?;
    let users = step(
        &pagerduty,
        &format!("{engineer}'s email:"),
        "users_list",
        json!({ "query": engineer }),
        |_| true,
    )
    .await?;
    let email = line_with(&users, "@")?
        .split_whitespace()
        .find(|w| w.contains('@'))
        .context("an email")?
        .trim_matches(['<', '>', '(', ')', ','])
        .to_owned();

    // 2. The cluster, the metrics, the logs and the runbook.
    let errors = step(
        &kubernetes,
        "Which pods are unhealthy?",
        "pods_list",
        json!({ "errors_only": true }),
        |t| t.contains("OOMKilled"),
    )
    .await?;
    let worker = line_with(&errors, "worker-")?
        .split_whitespace()
        .next()
        .context("the worker pod")?
        .to_owned();
    let described = step(
        &kubernetes,
        &format!("Why is {worker} restarting?"),
        "pod_describe",
        json!({ "name": worker }),
        |_| true,
    )
    .await?;
    // What runs: `container worker image shop/worker:1.4.2`.
    let running = word_after(line_with(&described, " image ")?, " image ")?.to_owned();
    let version = running
        .rsplit_once(':')
        .map(|(_, v)| v.to_owned())
        .context("the running image's version")?;
    step(
        &kubernetes,
        "What did it log before it was killed?",
        "pod_logs",
        json!({ "name": worker, "previous": true, "tail": 6 }),
        |_| true,
    )
    .await?;
    step(
        &prometheus,
        "Its memory against the limit, live:",
        "query_range",
        json!({ "query": "max by (pod) (container_memory_working_set_bytes{namespace=\"shop\", container=\"worker\", job=\"sandbox\"})", "start": "now-3m", "mode": "summary" }),
        |t| t.contains("worker-"),
    )
    .await?;
    step(
        &loki,
        "Its allocations in Loki, up to the kill:",
        "logs_query",
        json!({ "query": "{app=\"worker\"} |~ \"allocated chunk|heap pressure\"", "start": "2h", "limit": 6 }),
        |t| t.contains("heap pressure"),
    )
    .await?;
    step(
        &loki,
        "And the kernel's OOM killer on the node, every time:",
        "logs_query",
        json!({ "query": "{job=\"node/kernel\"} |= \"(worker)\"", "start": "6h", "max_line_chars": 90 }),
        |t| t.contains("Killed process"),
    )
    .await?;
    let runbooks = step(
        &notion,
        "Is there a runbook?",
        "pages_search",
        json!({ "query": "worker OOM", "runbooks": true }),
        |_| true,
    )
    .await?;
    let runbook = line_with(&runbooks, "OOM")?
        .split_whitespace()
        .find(|w| uuid::Uuid::parse_str(w).is_ok())
        .context("the runbook's id")?;
    step(
        &notion,
        "What does it say?",
        "page_read",
        json!({ "page": runbook }),
        |_| true,
    )
    .await?;

    // 3. The cause in the code, and the fix as a pull request.
    let login = step(
        &github,
        &format!("{engineer}'s GitHub login, from the PagerDuty email:"),
        "users_find",
        json!({ "query": email }),
        |_| true,
    )
    .await?;
    // The row's login column, beside its @-mention.
    let login = line_with(&login, " @")?
        .split_whitespace()
        .next()
        .context("a login")?
        .to_owned();
    // From what runs to the change that shipped it, however long ago that was: the running
    // image's release, the release before it, and what changed between the two.
    let releases = step(
        &github,
        &format!("{running} runs: which release is it, and which came before?"),
        "releases_list",
        json!({}),
        |_| true,
    )
    .await?;
    let tags: Vec<&str> = releases
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.starts_with('v') && w[1..].starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    let current = format!("v{version}");
    let previous = tags
        .iter()
        .skip_while(|t| **t != current)
        .nth(1)
        .with_context(|| format!("a release before {current} in: {tags:?}"))?
        .to_string();
    let compared = step(
        &github,
        &format!("What changed from {previous} to {current}?"),
        "compare",
        json!({ "base": previous, "head": current }),
        |_| true,
    )
    .await?;
    // Its commits (sha, date, time, (age), author, message…), oldest first: the one whose diff
    // touches the worker's code.
    let mut leaking = None;
    for commit in compared
        .lines()
        .filter(|l| l.split_whitespace().next().is_some_and(is_sha7))
    {
        let words: Vec<&str> = commit.split_whitespace().collect();
        let diff = step(
            &github,
            &format!("The diff of {}:", words[0]),
            "commit_get",
            json!({ "ref": words[0], "max_lines": 40 }),
            |_| true,
        )
        .await?;
        if diff.contains("worker.c") {
            leaking = Some(words);
            break;
        }
    }
    let leaking = leaking
        .with_context(|| format!("a commit from {previous} to {current} touching worker.c"))?;
    let leak = leaking[0].to_owned();
    let author = leaking
        .iter()
        .skip_while(|w| !w.ends_with(')'))
        .nth(1)
        .context("the commit's author")?
        .to_string();
    let pr = step_once(
        &github,
        "Open the fix: free the batch buffer again (approval mode):",
        "pr_create",
        json!({
            "title": "worker: free the batch buffer after each batch",
            "body": format!("Incident #{number}: the worker is OOM-killed at its 64Mi limit. {leak} kept each batch's 10 MB buffer; this frees it again. The limit is raised meanwhile."),
            "branch": format!("fix/incident-{number}-free-batch-buffer"),
            "changes": [{
                "path": "worker.c",
                "edits": [{ "search": "        /* keep the working set for the next batch */\n", "replace": "        free(buffer);\n" }],
            }],
            "reviewers": [author],
            "mention": [login],
            "confidence": 0.9,
        }),
    )
    .await?;
    let pr_url = word_after(&pr, "http")
        .map(|rest| format!("http{rest}"))
        .context("the PR's URL")?;

    // 4. The mitigation, asked and verified.
    step_once(
        &kubernetes,
        "Raise the worker's memory limit to 256Mi as the runbook says (approval mode):",
        "container_resources_set",
        json!({ "name": "worker", "memory_limit": "256Mi", "memory_request": "128Mi", "confidence": 0.92 }),
    )
    .await?;
    step(
        &kubernetes,
        "Is the worker healthy now?",
        "pods_list",
        json!({ "label_selector": "app=worker" }),
        |t| t.contains("1/1") && t.contains("Running"),
    )
    .await?;

    // 5. The report, the note, the resolve.
    let report = step_once(
        &notion,
        "Write the incident report in Notion:",
        "incident_report_create",
        json!({
            "title": "Worker OOM-killed at its 64Mi limit",
            "severity": "SEV2",
            "service": "worker",
            "started": format!("now-{}s", paged.elapsed().as_secs()),
            "resolved": "now",
            "summary": format!("The worker leaked its batch buffer since {leak} and was OOM-killed at its 64Mi limit."),
            "impact": "Order batches were delayed while the worker restarted.",
            "timeline": [
                format!("ContainerOOMKilled fired; Alertmanager paged {engineer} (PagerDuty #{number})"),
                format!("Commit {leak} found to keep the batch buffer"),
                format!("Fix PR opened: {pr_url}"),
                "Memory limit raised from 64Mi to 256Mi (approved), rollout verified".to_owned(),
            ],
            "root_cause": format!("Commit {leak} stopped freeing the 10 MB buffer of each batch."),
            "resolution": "Raised the limit to 256Mi; the fix PR frees the buffer.",
            "action_items": ["Merge the fix and lower the limit back", "Add a memory test to CI"],
            "pagerduty_url": word_after(&incident, "https://").map(|u| format!("https://{u}")).unwrap_or_default(),
            "pr_url": pr_url,
            "on_call": [email],
            "confidence": 0.9,
        }),
    )
    .await?;
    step_once(
        &pagerduty,
        "Note on the incident:",
        "incident_note_add",
        json!({ "id": number, "content": format!("Raised the worker's memory limit to 256Mi (rollout verified). Cause: {leak}. Fix: {pr_url}. Report: {}", word_after(&report, "http").map(|r| format!("http{r}")).unwrap_or_default()), "confidence": 0.9 }),
    )
    .await?;
    step_once(
        &pagerduty,
        "Resolve it:",
        "incident_resolve",
        json!({ "id": number, "resolution": "Memory limit raised to 256Mi; fix PR open", "confidence": 0.9 }),
    )
    .await?;
    step(
        &prometheus,
        "The alert resolves (the new pod was never OOM-killed):",
        "alerts_list",
        json!({ "state": "firing" }),
        |t| !t.contains("ContainerOOMKilled"),
    )
    .await?;
    let notified = notifications(&backends.alertmanager_url, Duration::from_secs(30)).await?;
    println!(
        "== Alertmanager → PagerDuty: {notified} notifications sent (the page and its resolve), 0 failed\n"
    );
    step(
        &pagerduty,
        "What PagerDuty told us meanwhile:",
        "events_recent",
        json!({}),
        |t| t.contains("incident.resolved"),
    )
    .await?;

    // 6. The audit log.
    println!("== The audit log (one line per decision of every server that changed something):");
    let log = std::fs::read_to_string(&audit)?;
    for line in log.lines() {
        let record: serde_json::Value = serde_json::from_str(line)?;
        println!(
            "← {:<18} {:<9} {:<24} {:<7} {}",
            record["server"].as_str().unwrap_or_default(),
            record["decision"].as_str().unwrap_or_default(),
            record["tool"].as_str().unwrap_or_default(),
            record["risk"].as_str().unwrap_or_default(),
            record["outcome"]
                .as_str()
                .unwrap_or_default()
                .chars()
                .take(60)
                .collect::<String>()
        );
    }
    let verify = std::process::Command::new(binary("opsmcp-kubernetes"))
        .args(["audit", "verify"])
        .arg(&audit)
        .output()?;
    println!("\n== opsmcp-kubernetes audit verify");
    println!("← {}", String::from_utf8_lossy(&verify.stdout).trim());
    anyhow::ensure!(verify.status.success(), "the audit log does not verify");
    println!(
        "\n{} questions asked and approved; the drill took {:.0} s.",
        questions.lock().unwrap(),
        started.elapsed().as_secs_f64()
    );

    for client in [prometheus, loki, kubernetes, github, notion] {
        client.cancel().await?;
    }
    pagerduty.cancel().await?;
    drop((nginx, pd_server, backends, sandbox));
    println!("Done. Every server, nginx, Prometheus, Alertmanager and the sandbox are stopped.");
    Ok(())
}

/// Alertmanager's count of notifications delivered to PagerDuty once it reaches two (the page
/// and its resolve), from its own `/metrics`; fails on a failed delivery.
async fn notifications(alertmanager: &str, patience: Duration) -> Result<u64> {
    let deadline = Instant::now() + patience;
    loop {
        let url = format!("{alertmanager}/metrics");
        let metrics = tokio::task::spawn_blocking(move || http_get(&url)).await??;
        let count = |name: &str| -> u64 {
            metrics
                .lines()
                .filter(|l| l.starts_with(name) && l.contains("integration=\"pagerduty\""))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum::<f64>() as u64
        };
        let (sent, failed) = (
            count("alertmanager_notifications_total"),
            count("alertmanager_notifications_failed_total"),
        );
        if failed > 0 {
            bail!("Alertmanager failed {failed} notifications to PagerDuty");
        }
        if sent >= 2 || Instant::now() > deadline {
            return Ok(sent);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
