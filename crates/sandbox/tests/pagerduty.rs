//! The PagerDuty stand-in's contract, pinned to PagerDuty's REST v2, Events API v2 and webhooks
//! v3 documentation: auth and headers, error bodies and codes, pagination, filters, on-calls,
//! the incident lifecycle with its log entries, and signed webhooks. (PagerDuty's official
//! client and the real Alertmanager drive it in `tests/tests/pagerduty_standin.rs`.)

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{body::Bytes, http::HeaderMap, routing::post};
use opsmcp_sandbox::{
    Sandbox,
    pagerduty::webhooks::signature,
    scenario::{INCIDENT, Scenario},
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use opsmcp_sandbox::scenario::WORKER_ROUTING_KEY as WORKER_KEY;
const ACCEPT: &str = "application/vnd.pagerduty+json;version=2";

struct Pd {
    sandbox: Sandbox,
    http: reqwest::Client,
}

impl Pd {
    async fn start() -> Self {
        let scenario = Scenario::parse(INCIDENT).unwrap();
        let sandbox = Sandbox::start_with("127.0.0.1:0".parse().unwrap(), Some(&scenario))
            .await
            .unwrap();
        let http = reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(sandbox.ca_pem.as_bytes()).unwrap(),
            )
            .build()
            .unwrap();
        Self { sandbox, http }
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.sandbox.pagerduty_url()))
            .header(
                "authorization",
                format!("Token token={}", self.sandbox.pagerduty.tokens.account),
            )
            .header("accept", ACCEPT)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let r = self.request(Method::GET, path).send().await.unwrap();
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }

    async fn write(
        &self,
        method: Method,
        path: &str,
        from: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        let r = self
            .request(method, path)
            .header("from", from)
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }

    /// Trigger through the Events API; returns the new incident's id.
    async fn page(&self, key: &str, summary: &str) -> String {
        let r = self
            .http
            .post(format!("{}/v2/enqueue", self.sandbox.pagerduty_url()))
            .json(
                &json!({ "routing_key": WORKER_KEY, "event_action": "trigger", "dedup_key": key,
                "payload": { "summary": summary, "source": "test", "severity": "critical" } }),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        let (_, body) = self.get(&format!("/incidents?incident_key={key}")).await;
        body["incidents"][0]["id"].as_str().unwrap().to_owned()
    }
}

const MAYA: &str = "maya.chen@shop.example";

#[tokio::test]
async fn auth_accept_and_from_are_strict_with_pagerduty_bodies() {
    let pd = Pd::start().await;
    let url = format!("{}/incidents", pd.sandbox.pagerduty_url());
    for auth in ["", "Bearer x", "Token token=wrong"] {
        let r = pd
            .http
            .get(&url)
            .header("authorization", auth)
            .header("accept", ACCEPT)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{auth:?}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], 2006);
    }
    let r = pd
        .http
        .get(&url)
        .header(
            "authorization",
            format!("Token token={}", pd.sandbox.pagerduty.tokens.account),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "no versioned Accept header");

    let id = pd.page("strict-1", "disk full").await;
    let body = json!({ "incident": { "type": "incident_reference", "status": "acknowledged" } });
    let r = pd
        .request(Method::PUT, &format!("/incidents/{id}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let error: Value = r.json().await.unwrap();
    assert!(
        error["error"]["errors"][0]
            .as_str()
            .unwrap()
            .contains("\"From\" header"),
        "{error}"
    );
    let (status, error) = pd
        .write(
            Method::PUT,
            &format!("/incidents/{id}"),
            "nobody@else.example",
            body,
        )
        .await;
    assert_eq!(
        (status.as_u16(), error["error"]["code"].as_i64()),
        (400, Some(1008))
    );

    let (status, error) = pd.get("/incidents/NOPE123").await;
    assert_eq!(
        (status.as_u16(), error["error"]["code"].as_i64()),
        (404, Some(2100))
    );
    let (status, error) = pd.get("/users/me").await;
    assert_eq!(status, 400, "an account key has no user: {error}");
}

#[tokio::test]
async fn classic_pagination_totals_and_the_offset_ceiling() {
    let pd = Pd::start().await;
    for n in 0..30 {
        pd.page(&format!("page-{n}"), &format!("page test {n}"))
            .await;
    }
    let (_, first) = pd.get("/incidents?date_range=all&limit=10").await;
    assert_eq!(first["incidents"].as_array().unwrap().len(), 10);
    assert_eq!(
        (
            first["limit"].as_i64(),
            first["offset"].as_i64(),
            first["more"].as_bool()
        ),
        (Some(10), Some(0), Some(true))
    );
    assert!(first["total"].is_null(), "total only when asked for");
    let (_, last) = pd
        .get("/incidents?date_range=all&limit=10&offset=30&total=true")
        .await;
    assert_eq!(
        last["total"], 32,
        "30 pages and the scenario's two past incidents"
    );
    assert_eq!(last["more"], false);
    let (_, capped) = pd.get("/incidents?date_range=all&limit=500").await;
    assert_eq!(capped["limit"], 100);
    let (status, error) = pd.get("/incidents?offset=9995&limit=10").await;
    assert_eq!(
        (status.as_u16(), error["error"]["code"].as_i64()),
        (400, Some(2001))
    );

    let (_, filtered) = pd
        .get("/incidents?statuses[]=resolved&date_range=all&service_ids[]=PSWORKR")
        .await;
    let titles: Vec<&str> = filtered["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["[FIRING:1] ContainerOOMKilled (worker shop)"]);
    let (status, _) = pd.get("/incidents?statuses[]=sleeping").await;
    assert_eq!(status, 400);
    let (status, _) = pd
        .get("/incidents?since=2020-01-01T00:00:00Z&until=2021-01-01T00:00:00Z")
        .await;
    assert_eq!(status, 400, "more than six months");

    let (_, included) = pd
        .get("/incidents?date_range=all&limit=1&include[]=services&include[]=assignees")
        .await;
    assert_eq!(included["incidents"][0]["service"]["type"], "service");
}

#[tokio::test]
async fn the_lifecycle_writes_log_entries_and_keeps_pagerduty_rules() {
    let pd = Pd::start().await;
    let id = pd
        .page("life-1", "[FIRING:1] ContainerOOMKilled (worker shop)")
        .await;
    let path = format!("/incidents/{id}");
    let ack = json!({ "incident": { "type": "incident_reference", "status": "acknowledged" } });
    let (status, body) = pd.write(Method::PUT, &path, MAYA, ack).await;
    assert_eq!(
        (status.as_u16(), body["incident"]["status"].as_str()),
        (200, Some("acknowledged"))
    );

    let (status, body) = pd
        .write(
            Method::POST,
            &format!("{path}/snooze"),
            MAYA,
            json!({ "duration": 3600 }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = pd
        .write(
            Method::POST,
            &format!("{path}/snooze"),
            MAYA,
            json!({ "duration": 700000 }),
        )
        .await;
    assert_eq!(
        (status.as_u16(), body["error"]["code"].as_i64()),
        (400, Some(1013))
    );

    let escalate = json!({ "incident": { "type": "incident_reference", "escalation_level": 2 } });
    let (_, body) = pd.write(Method::PUT, &path, MAYA, escalate).await;
    assert_eq!(
        body["incident"]["assignments"][0]["assignee"]["summary"],
        "Sam Rivera"
    );
    let too_far = json!({ "incident": { "type": "incident_reference", "escalation_level": 3 } });
    let (_, body) = pd.write(Method::PUT, &path, MAYA, too_far).await;
    assert_eq!(body["error"]["code"], 1006);

    let reassign = json!({ "incident": { "type": "incident_reference", "assignments": [{ "assignee": { "id": "PPRIYA1", "type": "user_reference" } }] } });
    let (_, body) = pd.write(Method::PUT, &path, MAYA, reassign).await;
    assert_eq!(
        body["incident"]["assignments"][0]["assignee"]["id"],
        "PPRIYA1"
    );

    let (status, note) = pd
        .write(
            Method::POST,
            &format!("{path}/notes"),
            MAYA,
            json!({ "note": { "content": "raising the limit" } }),
        )
        .await;
    assert_eq!(
        (status.as_u16(), note["note"]["user"]["summary"].as_str()),
        (200, Some("Maya Chen"))
    );

    let resolve = json!({ "incident": { "type": "incident_reference", "status": "resolved", "resolution": "limit raised to 256Mi" } });
    let (_, body) = pd.write(Method::PUT, &path, MAYA, resolve.clone()).await;
    assert_eq!(body["incident"]["status"], "resolved");
    let (_, again) = pd.write(Method::PUT, &path, MAYA, resolve).await;
    assert_eq!(again["error"]["code"], 1001, "already resolved");

    let (_, log) = pd
        .get(&format!("{path}/log_entries?is_overview=true&limit=100"))
        .await;
    let kinds: Vec<&str> = log["log_entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "resolve_log_entry",
            "annotate_log_entry",
            "assign_log_entry",
            "escalate_log_entry",
            "snooze_log_entry",
            "acknowledge_log_entry",
            "trigger_log_entry"
        ],
        "newest first, notifications left out of the overview"
    );
    assert_eq!(log["log_entries"][0]["note"], "limit raised to 256Mi");

    let reopen = json!({ "incident": { "type": "incident_reference", "status": "acknowledged" } });
    let (_, body) = pd.write(Method::PUT, &path, MAYA, reopen).await;
    assert_eq!(
        body["incident"]["status"], "acknowledged",
        "a resolved incident reopens"
    );

    // The past incident of the same kind, and the deploy before this one.
    let (_, past) = pd.get(&format!("{path}/past_incidents")).await;
    assert_eq!(
        past["past_incidents"][0]["incident"]["title"],
        "[FIRING:1] ContainerOOMKilled (worker shop)"
    );
    let (_, changes) = pd.get(&format!("{path}/related_change_events")).await;
    assert_eq!(
        changes["change_events"][0]["summary"],
        "Deployed shop/worker:1.4.2"
    );
    assert_eq!(
        changes["change_events"][0]["correlation_reason"]["reason"],
        "most_recent"
    );
}

#[tokio::test]
async fn oncalls_follow_the_rotation_and_the_rules_on_time_windows() {
    let pd = Pd::start().await;
    let (_, now) = pd.get("/oncalls?escalation_policy_ids[]=PEPLATF").await;
    let who: Vec<(i64, &str)> = now["oncalls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["escalation_level"].as_i64().unwrap(),
                o["user"]["summary"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(who, [(1, "Maya Chen"), (2, "Sam Rivera")]);
    assert!(
        now["oncalls"][1]["start"].is_null(),
        "a user named by the policy is on call permanently"
    );

    let since = jiff::Timestamp::now();
    let until = since + jiff::SignedDuration::from_hours(24 * 14);
    let (_, fortnight) = pd
        .get(&format!(
            "/oncalls?schedule_ids[]=PSPLATF&since={since}&until={until}"
        ))
        .await;
    let users: Vec<&str> = fortnight["oncalls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["user"]["summary"].as_str().unwrap())
        .collect();
    assert_eq!(
        users,
        ["Maya Chen", "Jonas Weber", "Priya Natarajan"],
        "hand-off in 62 hours, then weekly"
    );
    let (status, _) = pd
        .get(&format!("/oncalls?since={until}&until={since}"))
        .await;
    assert_eq!(status, 400);

    let (_, schedule) = pd.get("/schedules/PSPLATF").await;
    assert!(
        !schedule["schedule"]["final_schedule"]["rendered_schedule_entries"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let (status, _) = pd.get("/change_events?since=2026-11-01T00:00:00").await;
    assert_eq!(status, 400, "change events want UTC with Z");
    let (_, changes) = pd.get("/services/PSWORKR/change_events").await;
    assert_eq!(changes["change_events"].as_array().unwrap().len(), 1);
    assert_eq!(changes["more"], false);
}

#[tokio::test]
async fn a_bounded_429_carries_pagerduty_body_and_ratelimit_headers() {
    let pd = Pd::start().await;
    pd.sandbox.pagerduty.throttle(2);
    for _ in 0..2 {
        let r = pd.request(Method::GET, "/services").send().await.unwrap();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["ratelimit-remaining"], "0");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], 2020);
    }
    let r = pd.request(Method::GET, "/services").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("ratelimit-reset"));
}

#[tokio::test]
async fn webhooks_are_signed_and_say_number_and_assignees() {
    let pd = Pd::start().await;
    let received: Arc<Mutex<Vec<(HeaderMap, Bytes)>>> = Arc::default();
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push((headers, body));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let (status, created) = pd
        .write(Method::POST, "/webhook_subscriptions", MAYA, json!({ "webhook_subscription": {
            "type": "webhook_subscription", "delivery_method": { "type": "http_delivery_method", "url": hook },
            "events": ["incident.triggered", "incident.annotated"], "filter": { "type": "service_reference", "id": "PSWORKR" } } }))
        .await;
    assert_eq!(status, 201);
    let secret = created["webhook_subscription"]["delivery_method"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, listed) = pd.get("/webhook_subscriptions").await;
    assert!(
        listed["webhook_subscriptions"][0]["delivery_method"]["secret"].is_null(),
        "the secret is shown once"
    );

    let id = pd.page("hook-1", "queue stuck").await;
    pd.write(
        Method::POST,
        &format!("/incidents/{id}/notes"),
        MAYA,
        json!({ "note": { "content": "on it" } }),
    )
    .await;
    for _ in 0..50 {
        if received.lock().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let received = received.lock().unwrap();
    assert_eq!(received.len(), 2);
    for (headers, body) in received.iter() {
        let sig = headers["x-pagerduty-signature"].to_str().unwrap();
        assert_eq!(sig, signature(&secret, body));
        assert!(headers.contains_key("x-webhook-id"));
        assert_eq!(headers["user-agent"], "PagerDuty-Webhook/V3.0");
    }
    let triggered: Value = serde_json::from_slice(&received[0].1).unwrap();
    assert_eq!(triggered["event"]["event_type"], "incident.triggered");
    assert!(triggered["event"]["data"]["number"].is_u64());
    assert_eq!(
        triggered["event"]["data"]["assignees"][0]["summary"],
        "Maya Chen"
    );
    assert!(triggered["event"]["data"].get("incident_number").is_none());
    let annotated: Value = serde_json::from_slice(&received[1].1).unwrap();
    assert_eq!(annotated["event"]["data"]["type"], "incident_note");
    assert_eq!(annotated["event"]["data"]["content"], "on it");
}

#[tokio::test]
async fn events_api_refusals_and_dedup() {
    let pd = Pd::start().await;
    let send = |body: Value| {
        let http = pd.http.clone();
        let url = format!("{}/v2/enqueue", pd.sandbox.pagerduty_url());
        async move {
            let r = http.post(url).json(&body).send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = send(json!({ "routing_key": "short", "event_action": "trigger", "payload": { "summary": "x", "source": "y", "severity": "error" } })).await;
    assert_eq!(
        (status.as_u16(), body["status"].as_str()),
        (400, Some("invalid event"))
    );
    let (status, body) = send(json!({ "routing_key": WORKER_KEY, "event_action": "trigger", "payload": { "summary": "x", "source": "y", "severity": "fatal" } })).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = send(json!({ "routing_key": WORKER_KEY, "event_action": "trigger", "payload": { "summary": "x", "source": "y", "severity": "error" } })).await;
    assert_eq!(
        (status.as_u16(), body["message"].as_str()),
        (202, Some("Event processed"))
    );
    assert_eq!(
        body["dedup_key"].as_str().unwrap().len(),
        32,
        "a generated key"
    );
    let (status, _) = send(json!({ "routing_key": WORKER_KEY, "event_action": "resolve", "dedup_key": "never-opened" })).await;
    assert_eq!(status, 202, "dropped, not refused");
}
