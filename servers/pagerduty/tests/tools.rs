//! Every tool of opsmcp-pagerduty through a real MCP client (rmcp, in process) against the
//! sandbox's PagerDuty stand-in (HTTPS with the sandbox's CA) running the incident scenario:
//! reads, the writes in plan, yolo and approval mode, webhooks into a subscribed session.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use opsmcp_core::{config::Cli, identity, output::estimate_tokens, tools::annotation_problems};
use opsmcp_e2e::{feed::page, free_port, mcp::IncidentSetup};
use opsmcp_pagerduty::{PagerDutyServer, config::PagerDutyArgs};
use opsmcp_sandbox::Sandbox;
use rmcp::{
    ClientHandler, RoleClient, ServiceExt,
    model::{ResourceUpdatedNotificationParam, SubscribeRequestParams},
    service::NotificationContext,
};
use serde_json::{Value, json};

/// The CLI of a server pointed at the sandbox's PagerDuty, as `sandbox.env` would set it.
fn cli(sandbox: &Sandbox, dir: &std::path::Path, extra: &[&str]) -> Cli<PagerDutyArgs> {
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &sandbox.ca_pem).unwrap();
    let audit = dir.join("audit.jsonl").display().to_string();
    let (url, ca) = (sandbox.pagerduty_url(), ca.display().to_string());
    let key = sandbox.pagerduty.tokens.user.0.clone();
    let mut argv = vec![
        "opsmcp-pagerduty",
        "--pagerduty-api-host",
        &url,
        "--pagerduty-ca-file",
        &ca,
        "--pagerduty-api-key",
        &key,
        "--pagerduty-user-email",
        "maya.chen@shop.example",
        "--audit-log",
        &audit,
    ];
    argv.extend_from_slice(extra);
    opsmcp_core::config::parse_from::<PagerDutyArgs, _, _>(identity!(), argv).unwrap()
}

fn server(cli: &Cli<PagerDutyArgs>) -> PagerDutyServer {
    opsmcp_e2e::assemble(identity!(), cli, PagerDutyServer::new).unwrap()
}

async fn setup(extra: &'static [&'static str]) -> IncidentSetup {
    IncidentSetup::start("pagerduty-test", Duration::from_secs(20), |sandbox, dir| {
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
    opsmcp_e2e::docs::check_snapshot("opsmcp-pagerduty", env!("CARGO_MANIFEST_DIR"), &tools);
    // A guard on the byte estimate; `just bench` measures cl100k (target ≤ 2,500).
    let compact = serde_json::to_string(&tools).unwrap();
    assert!(
        estimate_tokens(&compact) <= 3_300,
        "tools/list grew to ~{} tokens",
        estimate_tokens(&compact)
    );
    opsmcp_e2e::docs::check_readme_table("opsmcp-pagerduty", &tools, |t| {
        match t.name.as_ref() {
            "incident_create" | "incidents_update" => {
                "write (high risk: needs `--enable-destructive`; through the safety policy)"
            }
            _ if opsmcp_e2e::docs::writes(t) => "write (medium risk, through the safety policy)",
            _ => "read",
        }
        .to_owned()
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_lists_no_change_tools() {
    let s = setup(&["--read-only"]).await;
    let tools = s.client.list_all_tools().await.unwrap();
    assert!(tools.iter().all(|t| !opsmcp_e2e::docs::writes(t)));
    assert!(tools.iter().any(|t| t.name == "incident_get"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oom_page_reads_as_an_on_call_engineer_needs_it() {
    let s = setup(&[]).await;
    let number = page(
        &s.sandbox,
        "oom-1",
        "[FIRING:1] ContainerOOMKilled shop (worker)",
    )
    .await;

    let list = s.ok("incidents_list", json!({})).await;
    assert!(list.starts_with("#  title"), "{list}");
    assert!(
        list.contains(&format!(
            "\n{number}  [FIRING:1] ContainerOOMKilled shop (worker)  triggered  high"
        )) && list.contains("worker")
            && list.contains("Maya Chen"),
        "{list}"
    );
    assert!(
        !list.contains("HighErrorRate"),
        "resolved ones are left out by default: {list}"
    );
    let resolved = s
        .ok("incidents_list", json!({ "statuses": ["resolved"] }))
        .await;
    assert!(
        resolved.contains("HighErrorRate (checkout critical)"),
        "{resolved}"
    );
    let mine = s
        .ok("incidents_list", json!({ "assigned_to_me": true }))
        .await;
    assert!(mine.contains("ContainerOOMKilled"), "{mine}");
    let bad = s
        .call("incidents_list", json!({ "statuses": ["sleeping"] }))
        .await;
    assert!(bad.0 && bad.1.contains("unknown status"), "{bad:?}");

    let got = s
        .ok("incident_get", json!({ "id": number.to_string() }))
        .await;
    for expected in [
        &format!("#{number} [FIRING:1] ContainerOOMKilled shop (worker) — triggered, high urgency"),
        "service worker (PSWORKR) · Platform",
        "assigned: Maya Chen",
        "alerts (1):",
        "firing: Labels: alertname=ContainerOOMKilled namespace=shop pod=worker-7d9f8b6c4-x2x7k",
        "timeline: ",
        "Triggered through the API.",
        "changes in the 24h before:",
        "20h before: Deployed shop/worker:1.4.2 (github-actions)",
        "similar past incidents:",
        "21d ago: [FIRING:1] ContainerOOMKilled (worker shop)",
    ] {
        assert!(got.contains(expected), "missing {expected:?} in:\n{got}");
    }
    assert!(
        estimate_tokens(&got) <= 700,
        "incident_get is ~{} tokens:\n{got}",
        estimate_tokens(&got)
    );
    let missing = s.call("incident_get", json!({ "id": "NOPE123" })).await;
    assert!(
        missing.0 && missing.1.contains("(404, code 2100)"),
        "{missing:?}"
    );

    let oncall = s
        .ok("oncalls_list", json!({ "service_id": "PSWORKR" }))
        .await;
    assert!(
        oncall.contains("Platform:\n  L1 Maya Chen (Platform primary, until"),
        "{oncall}"
    );
    assert!(oncall.contains("L2 Sam Rivera (always)"), "{oncall}");
    let later = s
        .ok(
            "oncalls_list",
            json!({ "at": "now+100h", "schedule_ids": ["PSPLATF"] }),
        )
        .await;
    assert!(later.contains("Jonas Weber"), "{later}");
    let schedules = s.ok("schedules_list", json!({})).await;
    assert!(
        schedules.contains("Platform primary") && schedules.contains("Maya Chen"),
        "{schedules}"
    );
    let schedule = s
        .ok("schedule_get", json!({ "id": "PSPLATF", "days": 10 }))
        .await;
    assert!(
        schedule.contains(
            "layer Weekly rotation: Maya Chen, Jonas Weber, Priya Natarajan take turns of 7d"
        ),
        "{schedule}"
    );
    assert!(
        schedule.contains("Jonas Weber") && schedule.contains("→"),
        "{schedule}"
    );
    let policies = s.ok("escalation_policies_list", json!({})).await;
    assert!(
        policies.contains("L1 Platform primary (escalates after 30m)")
            && policies.contains("L2 Sam Rivera"),
        "{policies}"
    );
    let services = s.ok("services_list", json!({})).await;
    assert!(
        services.contains("worker") && services.contains("critical"),
        "{services}"
    );
    let service = s.ok("service_get", json!({ "id": "PSWORKR" })).await;
    assert!(
        service.contains("integrations: Prometheus Alertmanager"),
        "{service}"
    );
    let users = s.ok("users_list", json!({ "query": "sam" })).await;
    assert!(
        users.contains("sam.rivera@shop.example") && !users.contains("Maya"),
        "{users}"
    );
    let me = s.ok("users_list", json!({ "me": true })).await;
    assert!(me.contains("maya.chen@shop.example"), "{me}");
    let teams = s.ok("teams_list", json!({})).await;
    assert!(
        teams.contains("Platform") && teams.contains("Payments"),
        "{teams}"
    );
    let log = s.ok("log_entries_list", json!({})).await;
    assert!(log.contains("Triggered through the API."), "{log}");
    let changes = s.ok("change_events_list", json!({ "since": "48h" })).await;
    assert!(
        changes.contains("Deployed shop/worker:1.4.2")
            && changes.contains("image: shop/worker:1.4.2"),
        "{changes}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_mode_shows_the_exact_request_and_changes_nothing() {
    let s = setup(&["--mode", "plan"]).await;
    let number = page(&s.sandbox, "plan-1", "queue stuck").await;
    let text = s
        .ok("incident_acknowledge", json!({ "id": number.to_string() }))
        .await;
    assert!(text.starts_with("PLAN (not executed"), "{text}");
    assert!(
        text.contains(&format!("PUT {}/incidents/", s.sandbox.pagerduty_url()))
            && text.contains("(From: maya.chen@shop.example)")
            && text
                .contains(r#"{"incident":{"status":"acknowledged","type":"incident_reference"}}"#),
        "{text}"
    );
    assert!(
        text.contains("queue stuck — triggered"),
        "the preview shows the state: {text}"
    );
    let account = s.sandbox.pagerduty.account();
    let incident = account
        .incidents
        .iter()
        .find(|i| i.number == number)
        .unwrap();
    assert_eq!(incident.status.as_str(), "triggered", "nothing changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_without_a_way_to_ask_is_refused() {
    let s = setup(&[]).await;
    let number = page(&s.sandbox, "ask-1", "queue stuck").await;
    let (is_error, text) = s
        .call("incident_acknowledge", json!({ "id": number.to_string() }))
        .await;
    assert!(is_error, "{text}");
    assert!(text.contains("cannot ask"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yolo_runs_the_lifecycle_and_says_plainly_what_was_already_done() {
    let s = setup(&["--mode", "yolo"]).await;
    let number = page(
        &s.sandbox,
        "yolo-1",
        "[FIRING:1] ContainerOOMKilled shop (worker)",
    )
    .await;
    let id = number.to_string();
    let sure = |extra: Value| {
        let mut args = json!({ "id": id, "confidence": 0.95 });
        args.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        args
    };
    let text = s.ok("incident_acknowledge", sure(json!({}))).await;
    assert!(
        text.contains("acknowledged: #") && text.contains("by Maya Chen"),
        "{text}"
    );
    let text = s.ok("incident_acknowledge", sure(json!({}))).await;
    assert!(
        text.starts_with("already acknowledged, nothing to do"),
        "{text}"
    );
    let text = s
        .ok(
            "incident_note_add",
            sure(json!({ "content": "worker OOM-killed at 64Mi; raising the limit to 256Mi" })),
        )
        .await;
    assert!(
        text.contains("note ") && text.contains(&format!("added to #{number}")),
        "{text}"
    );
    let text = s
        .ok("incident_snooze", sure(json!({ "duration": "30m" })))
        .await;
    assert!(text.contains("snoozed for 30m"), "{text}");
    let bad = s
        .call("incident_snooze", sure(json!({ "duration": "9d" })))
        .await;
    assert!(bad.0 && bad.1.contains("1 week"), "{bad:?}");
    let text = s.ok("incident_escalate", sure(json!({ "level": 2 }))).await;
    assert!(
        text.contains("escalated to level 2") && text.contains("Sam Rivera"),
        "{text}"
    );
    let bad = s
        .call("incident_escalate", sure(json!({ "level": 5 })))
        .await;
    assert!(bad.0 && bad.1.contains("code 1006"), "{bad:?}");
    let text = s
        .ok(
            "incident_reassign",
            sure(json!({ "assignees": ["jonas.weber@shop.example"] })),
        )
        .await;
    assert!(
        text.contains("reassigned") && text.contains("assigned Jonas Weber"),
        "{text}"
    );
    let text = s
        .ok(
            "incident_resolve",
            sure(json!({ "resolution": "memory limit raised to 256Mi; fix PR opened" })),
        )
        .await;
    assert!(text.contains("resolved: #"), "{text}");
    let text = s
        .ok("incident_resolve", sure(json!({ "resolution": "again" })))
        .await;
    assert!(
        text.starts_with("already resolved, nothing to do"),
        "{text}"
    );

    {
        let account = s.sandbox.pagerduty.account();
        let incident = account
            .incidents
            .iter()
            .find(|i| i.number == number)
            .unwrap();
        assert_eq!(
            incident.notes[0].content,
            "worker OOM-killed at 64Mi; raising the limit to 256Mi"
        );
        let resolve = account
            .log_entries
            .iter()
            .find(|e| e.incident == incident.id && e.kind == "resolve")
            .unwrap();
        assert_eq!(
            resolve.note.as_deref(),
            Some("memory limit raised to 256Mi; fix PR opened")
        );
    }
    // High risk needs the destructive switch even in yolo mode.
    let (is_error, text) = s
        .call(
            "incident_create",
            json!({ "service_id": "PSWORKR", "title": "manual page", "confidence": 0.99 }),
        )
        .await;
    assert!(
        is_error && text.contains("OPSMCP_ENABLE_DESTRUCTIVE"),
        "{text}"
    );
    // Every decision is in the audit log, and the chain holds.
    let audit = std::fs::read_to_string(s.dir().join("audit.jsonl")).unwrap();
    assert!(audit.lines().count() >= 7, "{audit}");
    assert!(
        !audit.contains(&s.sandbox.pagerduty.tokens.user.0),
        "the key never reaches the audit log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn high_risk_changes_run_with_the_switch() {
    let s = setup(&["--mode", "yolo", "--enable-destructive"]).await;
    let text = s
        .ok("incident_create", json!({ "service_id": "PSWORKR", "title": "manual page: batch backlog", "details": "queue at 40k", "confidence": 0.99 }))
        .await;
    assert!(
        text.contains("created: #") && text.contains("manual page: batch backlog — triggered"),
        "{text}"
    );
    let a = page(&s.sandbox, "bulk-1", "one").await;
    let b = page(&s.sandbox, "bulk-2", "two").await;
    let text = s
        .ok("incidents_update", json!({ "ids": [a.to_string(), b.to_string()], "status": "resolved", "resolution": "duplicates", "confidence": 0.99 }))
        .await;
    assert_eq!(
        text.lines().next().unwrap(),
        "2 incidents resolved",
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagerduty_acts_only_on_incidents_of_the_services_it_may_change() {
    let s = setup(&[
        "--mode",
        "yolo",
        "--enable-destructive",
        "--pagerduty-write-service-ids",
        "PSCHKOT",
    ])
    .await;
    let number = page(&s.sandbox, "scope-1", "worker paged")
        .await
        .to_string();
    let outside = "is on service worker (PSWORKR), outside the services opsmcp may change \
                   (PSCHKOT): set PAGERDUTY_WRITE_SERVICE_IDS to include it";
    for (tool, args) in [
        ("incident_acknowledge", json!({ "id": number })),
        ("incident_note_add", json!({ "id": number, "content": "x" })),
        (
            "incidents_update",
            json!({ "ids": [number], "status": "resolved" }),
        ),
        (
            "incident_create",
            json!({ "service_id": "PSWORKR", "title": "t" }),
        ),
    ] {
        let mut args = args;
        args["confidence"] = json!(0.99);
        let (is_error, text) = s.call(tool, args).await;
        assert!(is_error && text.contains(outside), "{tool}: {text}");
    }
    // An id that would change the request's path is no id.
    let (is_error, text) = s
        .call(
            "incident_note_add",
            json!({ "id": format!("{number}/notes?"), "content": "x", "confidence": 0.99 }),
        )
        .await;
    assert!(is_error && text.contains("is not an incident id"), "{text}");
    let status = s
        .sandbox
        .pagerduty
        .account()
        .incidents
        .iter()
        .find(|i| i.number.to_string() == number)
        .map(|i| i.status.as_str());
    assert_eq!(status, Some("triggered"), "nothing was changed");
    let text = s
        .ok(
            "incident_create",
            json!({ "service_id": "PSCHKOT", "title": "checkout page", "confidence": 0.99 }),
        )
        .await;
    assert!(text.contains("created: #"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_without_a_user_email_are_refused_naming_the_variable() {
    let s = IncidentSetup::start(
        "pagerduty-nofrom",
        Duration::from_secs(20),
        |sandbox, dir| {
            let mut cli = cli(sandbox, dir, &["--mode", "yolo"]);
            cli.server.pagerduty_user_email = None;
            server(&cli)
        },
    )
    .await;
    let number = page(&s.sandbox, "nofrom-1", "x").await;
    let (is_error, text) = s
        .call(
            "incident_acknowledge",
            json!({ "id": number.to_string(), "confidence": 0.95 }),
        )
        .await;
    assert!(is_error && text.contains("PAGERDUTY_USER_EMAIL"), "{text}");
}

/// A client that records `notifications/resources/updated`.
#[derive(Clone, Default)]
struct Updates(Arc<Mutex<Vec<String>>>);

impl ClientHandler for Updates {
    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _cx: NotificationContext<RoleClient>,
    ) {
        self.0.lock().unwrap().push(params.uri);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_webhooks_reach_a_subscribed_session() {
    let scenario =
        opsmcp_sandbox::scenario::Scenario::parse(opsmcp_sandbox::scenario::INCIDENT).unwrap();
    let sandbox = Sandbox::start_with("127.0.0.1:0".parse().unwrap(), Some(&scenario))
        .await
        .unwrap();
    let dir = opsmcp_e2e::TempDir::new("pagerduty-webhooks").unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(sandbox.ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    // The subscription, made through PagerDuty's API; its secret is shown once.
    let created: Value = http
        .post(format!("{}/webhook_subscriptions", sandbox.pagerduty_url()))
        .header("authorization", format!("Token token={}", sandbox.pagerduty.tokens.account))
        .header("accept", "application/vnd.pagerduty+json;version=2")
        .json(&json!({ "webhook_subscription": { "type": "webhook_subscription",
            "delivery_method": { "type": "http_delivery_method", "url": format!("http://{listen}/webhooks/pagerduty") },
            "events": ["incident.triggered", "incident.acknowledged", "incident.annotated", "incident.resolved"],
            "filter": { "type": "account_reference" } } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = created["webhook_subscription"]["delivery_method"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let cli = cli(
        &sandbox,
        dir.path(),
        &[
            "--pagerduty-webhook-secret",
            &secret,
            "--webhook-listen",
            &listen,
        ],
    );
    let pd_server = server(&cli);

    let updates = Updates::default();
    let (a, b) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        let running = pd_server.serve(a).await.unwrap();
        let _ = running.waiting().await;
    });
    let client = updates.clone().serve(b).await.unwrap();
    let info = client.peer_info().unwrap();
    assert_eq!(
        info.capabilities
            .resources
            .as_ref()
            .and_then(|r| r.subscribe),
        Some(true)
    );
    // The subscription of protocol 2025-11-25 and earlier, which desktop hosts speak.
    #[allow(deprecated)]
    client
        .subscribe(SubscribeRequestParams::new("pagerduty://events"))
        .await
        .unwrap();

    // Wait until the receiver listens, then page.
    for _ in 0..100 {
        if std::net::TcpStream::connect(&listen).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let number = page(
        &sandbox,
        "hook-1",
        "[FIRING:1] ContainerOOMKilled shop (worker)",
    )
    .await;
    for _ in 0..100 {
        if !updates.0.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        updates.0.lock().unwrap().first().map(String::as_str),
        Some("pagerduty://events")
    );
    let read = client
        .read_resource(rmcp::model::ReadResourceRequestParams::new(
            "pagerduty://events",
        ))
        .await
        .unwrap();
    let body = serde_json::to_value(&read).unwrap()["contents"][0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        body.contains(&format!("incident.triggered #{number} [FIRING:1] ContainerOOMKilled shop (worker) (worker, triggered) assigned Maya Chen")),
        "{body}"
    );
    let recent = client
        .call_tool(rmcp::model::CallToolRequestParams::new("events_recent"))
        .await
        .unwrap();
    assert!(
        serde_json::to_string(&recent)
            .unwrap()
            .contains("incident.triggered")
    );

    // A forged delivery is refused and not kept.
    let forged = reqwest::Client::new()
        .post(format!("http://{listen}/webhooks/pagerduty"))
        .header("x-pagerduty-signature", "v1=00ff")
        .body(r#"{"event":{"event_type":"incident.resolved","data":{"title":"forged"}}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    let read = client
        .read_resource(rmcp::model::ReadResourceRequestParams::new(
            "pagerduty://events",
        ))
        .await
        .unwrap();
    assert!(!serde_json::to_string(&read).unwrap().contains("forged"));
    client.cancel().await.unwrap();
}
