//! The Loki stand-in answers in the shapes of the Loki HTTP API documentation
//! (https://grafana.com/docs/loki/latest/reference/loki-http-api/): these tests pin them, so a
//! client written against real Loki (opsmcp-loki, logcli, Grafana) reads the sandbox the same.

use std::time::Duration;

use futures::StreamExt;
use opsmcp_sandbox::{
    Sandbox,
    scenario::{INCIDENT, Scenario},
};
use serde_json::{Value, json};

async fn sandbox() -> Sandbox {
    let scenario = Scenario::parse(INCIDENT).unwrap();
    Sandbox::start_with("127.0.0.1:0".parse().unwrap(), Some(&scenario))
        .await
        .unwrap()
}

async fn get(s: &Sandbox, path: &str, query: &[(&str, &str)]) -> (u16, String, String) {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", s.url()))
        .query(query)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let media = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, media, response.text().await.unwrap())
}

async fn json(s: &Sandbox, path: &str, query: &[(&str, &str)]) -> Value {
    let (status, _, body) = get(s, path, query).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_range_answers_streams_and_matrices() {
    let s = sandbox().await;
    let v = json(
        &s,
        "/loki/api/v1/query_range",
        &[
            ("query", "{app=\"checkout\"} |= \"error\""),
            ("since", "2h"),
            ("limit", "7"),
        ],
    )
    .await;
    assert_eq!(v["status"], "success");
    assert_eq!(v["data"]["resultType"], "streams");
    assert!(
        v["data"]["stats"]["summary"]["totalLinesProcessed"]
            .as_u64()
            .unwrap()
            > 7
    );
    let result = v["data"]["result"].as_array().unwrap();
    let entries: usize = result
        .iter()
        .map(|r| r["values"].as_array().unwrap().len())
        .sum();
    assert_eq!(entries, 7, "limit counts entries across streams");
    for r in result {
        assert_eq!(r["stream"]["app"], "checkout");
        for pair in r["values"].as_array().unwrap() {
            // ["<nanoseconds as a string>", "<line>"]
            assert!(pair[0].as_str().unwrap().parse::<i64>().unwrap() > 1_700_000_000_000_000_000);
            assert!(pair[1].as_str().unwrap().contains("error"));
        }
    }
    let v = json(
        &s,
        "/loki/api/v1/query_range",
        &[
            (
                "query",
                "sum by (pod) (count_over_time({app=\"checkout\"}[5m]))",
            ),
            ("since", "2h"),
            ("step", "60"),
        ],
    )
    .await;
    assert_eq!(v["data"]["resultType"], "matrix");
    let first = &v["data"]["result"][0];
    assert!(
        first["metric"]["pod"]
            .as_str()
            .unwrap()
            .starts_with("checkout-")
    );
    let point = &first["values"][0];
    assert!(point[0].is_number() && point[1].is_string(), "{point}");
    // Too many points per series is refused as Loki refuses it.
    let (status, _, body) = get(
        &s,
        "/loki/api/v1/query_range",
        &[
            ("query", "count_over_time({app=\"checkout\"}[5m])"),
            ("start", "2023-11-14T22:13:20Z"),
            ("step", "60"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body.starts_with("exceeded maximum resolution of 11,000 points per timeseries"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instant_queries_answer_vectors_and_refuse_log_queries() {
    let s = sandbox().await;
    let v = json(
        &s,
        "/loki/api/v1/query",
        &[("query", "sum(rate({app=\"checkout\"}[5m])) by (app)")],
    )
    .await;
    assert_eq!(v["data"]["resultType"], "vector");
    let sample = &v["data"]["result"][0];
    assert_eq!(sample["metric"], json!({ "app": "checkout" }));
    assert!(sample["value"][0].is_number() && sample["value"][1].is_string());
    let (status, media, body) =
        get(&s, "/loki/api/v1/query", &[("query", "{app=\"checkout\"}")]).await;
    assert_eq!(status, 400);
    assert!(media.starts_with("text/plain"));
    assert!(
        body.starts_with("log queries are not supported as an instant query type"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_values_series_stats_and_patterns() {
    let s = sandbox().await;
    let v = json(&s, "/loki/api/v1/labels", &[]).await;
    assert_eq!(v["status"], "success");
    assert!(v["data"].as_array().unwrap().contains(&json!("pod")));
    let v = json(
        &s,
        "/loki/api/v1/label/app/values",
        &[("query", "{namespace=\"shop\"}")],
    )
    .await;
    assert!(v["data"].as_array().unwrap().contains(&json!("worker")));
    let v = json(
        &s,
        "/loki/api/v1/series",
        &[
            ("match[]", "{app=\"worker\"}"),
            ("match[]", "{job=\"node/kernel\"}"),
            ("since", "6h"),
        ],
    )
    .await;
    let series = v["data"].as_array().unwrap();
    assert!(series.iter().any(|l| l["app"] == "worker"));
    assert!(series.iter().any(|l| l["job"] == "node/kernel"));
    let v = json(
        &s,
        "/loki/api/v1/index/stats",
        &[("query", "{app=\"checkout\"}"), ("since", "6h")],
    )
    .await;
    // A bare object, without the status envelope.
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["bytes", "chunks", "entries", "streams"]);
    assert_eq!(v["streams"], 2);
    let v = json(
        &s,
        "/loki/api/v1/patterns",
        &[
            ("query", "{app=\"checkout\"} |= \"error\""),
            ("since", "2h"),
        ],
    )
    .await;
    let first = &v["data"][0];
    assert!(first["pattern"].as_str().unwrap().contains("<_>"));
    let sample = &first["samples"][0];
    assert!(
        sample[0].is_i64() && sample[1].as_u64().unwrap() > 0,
        "{sample}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_tenants_errors_ready_and_buildinfo() {
    let s = sandbox().await;
    let client = reqwest::Client::new();
    let now = jiff::Timestamp::now().as_nanosecond().to_string();
    let push = |tenant: &'static str, body: Value| {
        client
            .post(format!("{}/loki/api/v1/push", s.url()))
            .header("X-Scope-OrgID", tenant)
            .json(&body)
            .send()
    };
    let r = push(
        "acme",
        json!({ "streams": [{ "stream": { "app": "ledger" }, "values": [[now, "acme only"]] }] }),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 204);
    let seen = |tenant: &'static str| {
        let client = client.clone();
        let url = s.url();
        async move {
            let v: Value = client
                .get(format!("{url}/loki/api/v1/query_range"))
                .header("X-Scope-OrgID", tenant)
                .query(&[("query", "{app=\"ledger\"}")])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["data"]["result"].as_array().unwrap().len()
        }
    };
    assert_eq!(seen("acme").await, 1);
    assert_eq!(seen("globex").await, 0);
    let r = push(
        "acme",
        json!({ "streams": [{ "stream": {}, "values": [[now, "x"]] }] }),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    let r = client
        .post(format!("{}/loki/api/v1/push", s.url()))
        .header("content-type", "application/x-protobuf")
        .body("snappy")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    // Parse errors: a plain-text 400 with the position.
    let (status, media, body) = get(
        &s,
        "/loki/api/v1/query_range",
        &[("query", "{app=\"checkout\"} |~ \"(unclosed\"")],
    )
    .await;
    assert_eq!((status, media.starts_with("text/plain")), (400, true));
    assert!(
        body.starts_with("parse error at line 1, col 21: invalid regular expression"),
        "{body}"
    );
    let (status, _, body) = get(
        &s,
        "/loki/api/v1/query_range",
        &[("query", "{app=\"a\"}"), ("limit", "5001")],
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body.contains("max entries limit per query exceeded"),
        "{body}"
    );
    let (status, _, body) = get(&s, "/ready", &[]).await;
    assert_eq!((status, body.trim()), (200, "ready"));
    let v = json(&s, "/loki/api/v1/status/buildinfo", &[]).await;
    assert!(v["version"].as_str().unwrap().starts_with('3'));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_streams_frames_over_a_websocket() {
    let s = sandbox().await;
    let url = format!(
        "ws://{}/loki/api/v1/tail?query={}",
        s.addr, "%7Bapp%3D%22checkout%22%7D"
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    // The backlog of the last hour comes first; new lines follow as checkout serves requests.
    let frame = tokio::time::timeout(Duration::from_secs(10), socket.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let v: Value = serde_json::from_str(frame.to_text().unwrap()).unwrap();
    assert!(v["dropped_entries"].is_null());
    assert_eq!(v["streams"][0]["stream"]["app"], "checkout");
    assert!(v["streams"][0]["values"][0][0].is_string());
    socket.close(None).await.unwrap();
}
