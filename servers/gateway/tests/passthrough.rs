//! What crosses the gateway besides tool lists and answers, with the real server binaries
//! against the sandbox: the safety engine's questions answered by the official Python SDK on
//! both protocol eras (the gateway binary over stdio), progress and cancellation of a Loki
//! tail, and resources — the URIs every server serves qualified per upstream, and a PagerDuty
//! subscription fed by the stand-in's signed webhooks.

mod common;

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use common::{audit_log, python_approval, start, upstreams, variables};
use opsmcp_e2e::{
    HttpServer, TempDir, binary,
    feed::{page, push, trigger_event},
    free_port, python_script,
};
use opsmcp_gateway::config;
use opsmcp_sandbox::Sandbox;
use rmcp::{
    ClientHandler, RoleClient, ServiceExt,
    model::{
        CallToolRequestParams, ClientRequest, ProgressNotificationParam, ProgressToken,
        ReadResourceRequestParams, Request, ResourceUpdatedNotificationParam,
        SubscribeRequestParams,
    },
    service::{NotificationContext, PeerRequestOptions, RunningService},
};
use serde_json::{Value, json};

/// A host that records the notifications it receives.
#[derive(Clone, Default)]
struct Host {
    progress: Arc<Mutex<Vec<(ProgressToken, String)>>>,
    updated: Arc<Mutex<Vec<String>>>,
    tools_changed: Arc<std::sync::atomic::AtomicUsize>,
}

impl ClientHandler for Host {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _cx: NotificationContext<RoleClient>,
    ) {
        self.progress
            .lock()
            .unwrap()
            .push((params.progress_token, params.message.unwrap_or_default()));
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _cx: NotificationContext<RoleClient>,
    ) {
        self.updated.lock().unwrap().push(params.uri);
    }

    async fn on_tool_list_changed(&self, _cx: NotificationContext<RoleClient>) {
        self.tools_changed
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The gateway over `servers` in process (`top` at the top of its configuration: top-level
/// keys), and `host` connected to it.
async fn connect(
    sandbox: &Sandbox,
    dir: &std::path::Path,
    servers: &[&str],
    extra: &[(&str, &str)],
    top: &str,
    host: Host,
) -> RunningService<RoleClient, Host> {
    let file = format!("{top}{}", upstreams(sandbox, dir, servers, extra));
    let gateway = start(config::parse(&file).unwrap());
    let (a, b) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(running) = gateway.serve(a).await {
            let _ = running.waiting().await;
        }
    });
    host.serve(b).await.unwrap()
}

fn arguments(value: Value) -> rmcp::model::JsonObject {
    value.as_object().unwrap().clone()
}

fn text(result: &impl serde::Serialize) -> String {
    serde_json::to_value(result).unwrap()["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Wait up to ten seconds for `done`.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_cross_the_gateway_on_both_protocol_eras() {
    let sandbox = Sandbox::incident().await.unwrap();
    let dir = TempDir::new("gateway-approval").unwrap();
    // PagerDuty behind the gateway twice: spawned over stdio, and the team's shared server
    // over streamable HTTP with its bearer token in the gateway's headers.
    let variables = variables(&sandbox, dir.path(), &[]);
    let env: Vec<(&str, &str)> = variables
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let shared =
        HttpServer::start_with_env("opsmcp-pagerduty", &["--http-token", "gateway-token"], &env)
            .unwrap();
    let over_stdio = dir.path().join("stdio.toml");
    std::fs::write(
        &over_stdio,
        upstreams(&sandbox, dir.path(), &["pagerduty"], &[]),
    )
    .unwrap();
    let over_http = dir.path().join("http.toml");
    std::fs::write(
        &over_http,
        format!(
            "[[upstream]]\nname = \"pagerduty\"\nopsmcp = true\nurl = {:?}\nheaders = {{ Authorization = \"Bearer gateway-token\" }}\n",
            shared.url("/mcp")
        ),
    )
    .unwrap();
    let number = page(
        &sandbox,
        "gateway-approval",
        "[FIRING:1] ContainerOOMKilled shop (worker)",
    )
    .await;
    let gateway_audit = dir.path().join("gateway-audit.jsonl");
    let added = format!("added to #{number}");
    // (upstream, protocol, answer, what the tool says)
    let cases = [
        (&over_stdio, "legacy", "yes", added.as_str()),
        (&over_stdio, "2026-07-28", "yes", &added),
        (&over_stdio, "legacy", "no", "the user answered no"),
        (&over_stdio, "2026-07-28", "decline", "the user declined"),
        (&over_stdio, "legacy", "none", "cannot ask the user"),
        (&over_stdio, "2026-07-28", "none", "cannot ask the user"),
        (&over_http, "legacy", "yes", &added),
        (&over_http, "2026-07-28", "yes", &added),
        (&over_http, "legacy", "none", "cannot ask the user"),
    ];
    for (file, protocol, answer, expected) in cases {
        let via = if file == &over_http { "http" } else { "stdio" };
        let content = format!("{via} {protocol} {answer}");
        let args = json!({ "id": number.to_string(), "content": content });
        let report = python_approval(
            protocol,
            answer,
            "incident_note_add",
            &args,
            file,
            &gateway_audit,
        )
        .await;
        let said = report["text"].as_str().unwrap();
        assert!(said.contains(expected), "{content}: {report}");
        let ran = expected.starts_with("added");
        assert_eq!(report["is_error"], !ran, "{content}: {report}");
        // The question the upstream asked reached the Python client (2026-07-28: its SDK
        // answered the input-required result the gateway passed through; legacy: the
        // gateway asked it with elicitation/create).
        let asked = report["asked"].as_array().unwrap();
        if answer == "none" {
            assert!(asked.is_empty(), "{report}");
        } else {
            assert_eq!(asked.len(), 1, "{report}");
            let question = asked[0].as_str().unwrap();
            assert!(
                question.contains("/notes") && question.contains(&content),
                "{report}"
            );
        }
    }
    // Exactly the approved notes were added.
    let notes: Vec<String> = {
        let account = sandbox.pagerduty.account();
        let incident = account
            .incidents
            .iter()
            .find(|i| i.number == number)
            .unwrap();
        incident.notes.iter().map(|n| n.content.clone()).collect()
    };
    assert_eq!(
        notes,
        [
            "stdio legacy yes",
            "stdio 2026-07-28 yes",
            "http legacy yes",
            "http 2026-07-28 yes"
        ]
    );
    // The upstream's audit log names the host behind the gateway.
    let audit = std::fs::read_to_string(audit_log(dir.path())).unwrap();
    assert!(audit.contains(" via opsmcp-gateway"), "{audit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_and_cancellation_cross_the_gateway() {
    let sandbox = Sandbox::incident().await.unwrap();
    let dir = TempDir::new("gateway-progress").unwrap();
    let host = Host::default();
    let client = connect(&sandbox, dir.path(), &["loki"], &[], "", host.clone()).await;
    let url = sandbox.url();
    let pusher = tokio::spawn(async move {
        for i in 0..20 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let line = format!("order {i} shipped");
            push(&url, None, json!({ "app": "shipping" }), &[&line]).await;
        }
    });
    let params = CallToolRequestParams::new("logs_tail").with_arguments(arguments(
        json!({ "query": "{app=\"shipping\"}", "seconds": 20, "max_lines": 5 }),
    ));
    // The host's client numbers its progress tokens itself: the one it sent is the handle's.
    let handle = client
        .peer()
        .send_request_with_option(
            ClientRequest::CallToolRequest(Request::new(params)),
            PeerRequestOptions::no_options(),
        )
        .await
        .unwrap();
    let ours = handle.progress_token.clone();
    let result = handle.await_response().await.unwrap();
    let said = text(&result);
    assert!(
        said.starts_with("tail stopped at 5 lines (5 lines)."),
        "{said}"
    );
    pusher.abort();
    // Progress and the answer travel apart: the last notification may trail the answer.
    until("the fifth line's progress reaches the host", || {
        host.progress
            .lock()
            .unwrap()
            .iter()
            .any(|(_, m)| m.starts_with("5 lines after"))
    })
    .await;
    let progress = host.progress.lock().unwrap().clone();
    assert!(
        progress.iter().all(|(token, _)| *token == ours),
        "{progress:?}"
    );

    // A cancelled call is cancelled upstream: the tail's WebSocket closes.
    let params = CallToolRequestParams::new("logs_tail").with_arguments(arguments(
        json!({ "query": "{app=\"shipping\"}", "seconds": 60 }),
    ));
    let handle = client
        .peer()
        .send_cancellable_request(
            ClientRequest::CallToolRequest(Request::new(params)),
            PeerRequestOptions::no_options(),
        )
        .await
        .unwrap();
    let loki = &sandbox.loki;
    until("the tail connects", || loki.followers() > 0).await;
    handle.cancel(Some("enough".into())).await.unwrap();
    until("the tail's WebSocket closes after the cancel", || {
        loki.followers() == 0
    })
    .await;
    let labels = client
        .call_tool(CallToolRequestParams::new("logs_labels"))
        .await
        .unwrap();
    assert!(text(&labels).contains("namespace"), "{labels:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_and_subscriptions_cross_the_gateway() {
    let sandbox = Sandbox::incident().await.unwrap();
    let dir = TempDir::new("gateway-resources").unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let secret = "gateway-test-webhook-secret";
    sandbox
        .pagerduty
        .subscribe(&format!("http://{listen}/webhooks/pagerduty"), secret);
    let host = Host::default();
    let client = connect(
        &sandbox,
        dir.path(),
        &["pagerduty", "loki"],
        &[
            ("PAGERDUTY_WEBHOOK_SECRET", secret),
            ("PAGERDUTY_WEBHOOK_LISTEN", &listen),
        ],
        "",
        host.clone(),
    )
    .await;
    let listed: Vec<String> = client
        .list_all_resources()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.uri.clone())
        .collect();
    for uri in [
        "pagerduty://events",
        "opsmcp://metrics?upstream=pagerduty",
        "opsmcp://metrics?upstream=loki",
        "opsmcp://audit/recent?upstream=pagerduty",
        "opsmcp://audit/recent?upstream=loki",
    ] {
        assert!(listed.iter().any(|l| l == uri), "{uri} in {listed:?}");
    }
    // The gateway's own metrics and history come first.
    assert_eq!(listed[..2], ["opsmcp://metrics", "opsmcp://history"]);
    let read = |uri: &'static str| {
        let client = &client;
        async move {
            let read = client
                .read_resource(ReadResourceRequestParams::new(uri))
                .await
                .unwrap();
            let contents = serde_json::to_value(&read).unwrap()["contents"][0].clone();
            assert_eq!(contents["uri"], uri, "{contents}");
            contents["text"].as_str().unwrap().to_owned()
        }
    };
    let metrics = read("opsmcp://metrics?upstream=loki").await;
    assert!(metrics.contains("opsmcp-loki"), "{metrics}");
    let own = read("opsmcp://metrics").await;
    assert!(own.contains("server=\"opsmcp-gateway\""), "{own}");
    let missing = client
        .read_resource(ReadResourceRequestParams::new("opsmcp://audit/recent"))
        .await
        .unwrap_err();
    assert!(
        missing
            .to_string()
            .contains("no resource opsmcp://audit/recent"),
        "{missing}"
    );

    // Subscribed through the gateway, told when the stand-in's signed webhook arrives.
    #[allow(deprecated)] // the host initialized: resources/subscribe is its way
    client
        .subscribe(SubscribeRequestParams::new("pagerduty://events"))
        .await
        .unwrap();
    let number = page(
        &sandbox,
        "gateway-subscription",
        "[FIRING:1] ContainerOOMKilled shop (worker)",
    )
    .await;
    until("the update reaches the host", || {
        host.updated
            .lock()
            .unwrap()
            .iter()
            .any(|u| u == "pagerduty://events")
    })
    .await;
    let events = read("pagerduty://events").await;
    assert!(
        events.contains(&format!("incident.triggered #{number}")),
        "{events}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2026_07_28_host_listens_through_the_gateway() {
    let sandbox = Sandbox::incident().await.unwrap();
    let dir = TempDir::new("gateway-listen").unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let secret = "gateway-test-webhook-secret";
    sandbox
        .pagerduty
        .subscribe(&format!("http://{listen}/webhooks/pagerduty"), secret);
    let file = dir.path().join("upstreams.toml");
    std::fs::write(
        &file,
        upstreams(
            &sandbox,
            dir.path(),
            &["pagerduty"],
            &[
                ("PAGERDUTY_WEBHOOK_SECRET", secret),
                ("PAGERDUTY_WEBHOOK_LISTEN", &listen),
            ],
        ),
    )
    .unwrap();
    let argv: Vec<String> = vec![
        "pagerduty://events".into(),
        "--post".into(),
        format!("{}/v2/enqueue", sandbox.pagerduty_url()),
        "--body".into(),
        trigger_event(
            "gateway-listen",
            "[FIRING:1] ContainerOOMKilled shop (worker)",
        )
        .to_string(),
        "--ca".into(),
        dir.path().join("ca.pem").display().to_string(),
        "--".into(),
        binary("opsmcp-gateway").display().to_string(),
        "--upstreams".into(),
        file.display().to_string(),
        "--audit-log".into(),
        dir.path().join("gateway-audit.jsonl").display().to_string(),
    ];
    let report = tokio::task::spawn_blocking(move || {
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        python_script("listen.py", &argv)
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        report["honored"]["resourceSubscriptions"],
        json!(["pagerduty://events"]),
        "{report}"
    );
    assert_eq!(report["posted"], 202, "{report}");
    assert_eq!(
        report["event"],
        json!({ "type": "ResourceUpdated", "uri": "pagerduty://events" }),
        "{report}"
    );
    assert!(
        report["text"]
            .as_str()
            .unwrap()
            .contains("incident.triggered #"),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferred_mode_lists_what_a_session_found() {
    let sandbox = Sandbox::incident().await.unwrap();
    let dir = TempDir::new("gateway-deferred").unwrap();
    let host = Host::default();
    let servers = ["kubernetes", "loki", "pagerduty"];
    let client = connect(
        &sandbox,
        dir.path(),
        &servers,
        &[],
        "deferred = true\n",
        host.clone(),
    )
    .await;
    let names = |tools: Vec<rmcp::model::Tool>| -> Vec<String> {
        tools.into_iter().map(|t| t.name.into_owned()).collect()
    };
    let listed = names(client.list_all_tools().await.unwrap());
    assert_eq!(
        listed,
        ["health", "history", "search_everywhere", "tools_search"]
    );
    let found = client
        .call_tool(
            CallToolRequestParams::new("tools_search")
                .with_arguments(arguments(json!({ "query": "who is on call", "limit": 3 }))),
        )
        .await
        .unwrap();
    let said = text(&found);
    assert!(said.starts_with("3 tools (now in your tool list"), "{said}");
    assert!(said.contains("oncalls_list — "), "{said}");
    until("the host is told its list changed", || {
        host.tools_changed.load(std::sync::atomic::Ordering::SeqCst) > 0
    })
    .await;
    let listed = names(client.list_all_tools().await.unwrap());
    assert_eq!(listed.len(), 4 + 3, "{listed:?}");
    assert!(listed.iter().any(|n| n == "oncalls_list"), "{listed:?}");
    // A tool not found yet can still be called.
    let labels = client
        .call_tool(CallToolRequestParams::new("logs_labels"))
        .await
        .unwrap();
    assert!(text(&labels).contains("namespace"), "{labels:?}");
}
