//! The world's past is one model: in a world that has been running for a day and a half, the
//! deploy of `shop/worker:1.4.2` is one instant on the Kubernetes API (its ReplicaSet), on
//! GitHub's (the deployment's `success` status, after the tag's commit) and on PagerDuty's (the
//! change event); and the leaking worker is still where the live clock has it.

use std::time::Duration;

use opsmcp_sandbox::Sandbox;
use serde_json::Value;

const AGE: Duration = Duration::from_secs(30 * 3600);

fn seconds(time: &Value) -> i64 {
    time.as_str()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .unwrap_or_else(|| panic!("a time, not {time}"))
        .as_second()
}

async fn get(http: &reqwest::Client, url: String, auth: &str) -> Value {
    // PagerDuty's REST API wants its versioned media type; the others take it as JSON.
    let accept = if auth.starts_with("Token token=") {
        "application/vnd.pagerduty+json;version=2"
    } else {
        "application/json"
    };
    let response = http
        .get(&url)
        .header("Authorization", auth)
        .header("Accept", accept)
        .header("User-Agent", "opsmcp-tests")
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_services_agree_on_the_deploy_in_an_aged_world() {
    let sandbox = Sandbox::incident_aged(AGE).await.unwrap();
    let now = jiff::Timestamp::now().as_second();
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(sandbox.ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap();

    // GitHub: the production deployment of v1.4.2 and when it went live.
    let github = format!("token {}", sandbox.github.token);
    let deployments = get(
        &http,
        format!("{}/repos/shop/worker/deployments", sandbox.github_url()),
        &github,
    )
    .await;
    let deployment = deployments
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["ref"] == "v1.4.2")
        .expect("the deployment of v1.4.2");
    assert_eq!(deployment["payload"]["image"], "shop/worker:1.4.2");
    let statuses = get(
        &http,
        format!("{}/statuses", deployment["url"].as_str().unwrap()),
        &github,
    )
    .await;
    let live = statuses
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["state"] == "success")
        .map(|s| seconds(&s["created_at"]))
        .expect("a success status");
    let commit = get(
        &http,
        format!("{}/repos/shop/worker/commits/v1.4.2", sandbox.github_url()),
        &github,
    )
    .await;
    let committed = seconds(&commit["commit"]["committer"]["date"]);
    assert!(
        committed < live && live - committed < 2 * 3600,
        "{committed} {live}"
    );
    // Placed on the aged clock: about 20 hours before the epoch, 50 before now.
    let ago = now - live;
    assert!(
        (49 * 3600..51 * 3600).contains(&ago),
        "went live {ago} s ago"
    );

    // PagerDuty: the change event announcing it.
    let pd = format!("Token token={}", sandbox.pagerduty.tokens.user.0);
    let changes = get(
        &http,
        format!("{}/change_events", sandbox.pagerduty_url()),
        &pd,
    )
    .await;
    let change = changes["change_events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["summary"] == "Deployed shop/worker:1.4.2")
        .expect("the change event");
    assert_eq!(seconds(&change["timestamp"]), live);

    // Kubernetes: the ReplicaSet of 1.4.2 and its pod came to be then.
    let kube = format!("Bearer {}", sandbox.cluster.users().admin_token);
    let replicasets = get(
        &http,
        format!(
            "{}/apis/apps/v1/namespaces/shop/replicasets?labelSelector=app%3Dworker",
            sandbox.kube_url()
        ),
        &kube,
    )
    .await;
    let rs = replicasets["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["spec"]["template"]["spec"]["containers"][0]["image"] == "shop/worker:1.4.2")
        .expect("the ReplicaSet of 1.4.2");
    assert_eq!(seconds(&rs["metadata"]["creationTimestamp"]), live);
    let pods = get(
        &http,
        format!(
            "{}/api/v1/namespaces/shop/pods?labelSelector=app%3Dworker",
            sandbox.kube_url()
        ),
        &kube,
    )
    .await;
    let pod = pods["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["spec"]["containers"][0]["image"] == "shop/worker:1.4.2")
        .expect("the worker's pod");
    assert_eq!(seconds(&pod["metadata"]["creationTimestamp"]), live);
    // OOM-killed every 4,780 s since, and running now: the live clock's run.
    let status = &pod["status"]["containerStatuses"][0];
    let restarts = status["restartCount"].as_i64().unwrap();
    assert!((36..=38).contains(&restarts), "{restarts} restarts");
    assert_eq!(status["lastState"]["terminated"]["reason"], "OOMKilled");
    let last_kill = seconds(&status["lastState"]["terminated"]["finishedAt"]);
    assert!(now - last_kill < 4_780, "killed {} s ago", now - last_kill);
}
