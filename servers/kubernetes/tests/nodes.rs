//! Node operations and `pod_exec` through a real MCP client against the sandbox: cordon,
//! uncordon and drain (evictions held back by a PodDisruptionBudget, then let through) in plan,
//! yolo and approval mode; a command in a container with its Secret values hidden; the
//! read-only user refused before anything runs.

mod common;

use common::{setup, setup_answering};
use opsmcp_e2e::mcp::Approver;
use serde_json::json;

const DESTRUCTIVE_YOLO: &[&str] = &[
    "--mode",
    "yolo",
    "--enable-destructive",
    "--verify-timeout-secs",
    "30",
];

/// The web service's budget: `min` of its 2 pods must stay available.
fn budget(min: u32) -> serde_json::Value {
    json!({ "manifest": format!("apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: web\nspec:\n  minAvailable: {min}\n  selector:\n    matchLabels:\n      app: web\n"), "confidence": 0.95 })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cordon_drain_and_uncordon_in_yolo_mode() {
    let s = setup(DESTRUCTIVE_YOLO).await;
    s.ok("resources_apply", budget(2)).await;
    let cordoned = s
        .ok(
            "node_cordon",
            json!({ "name": "node-a", "confidence": 0.99 }),
        )
        .await;
    assert!(
        cordoned.starts_with("cordoned node-a: new pods go elsewhere"),
        "{cordoned}"
    );
    let again = s
        .ok(
            "node_cordon",
            json!({ "name": "node-a", "confidence": 0.99 }),
        )
        .await;
    assert!(again.contains("already cordoned"), "{again}");
    assert!(s.ok("nodes_list", json!({})).await.contains("node-a"));

    // The budget holds one web pod on node-a: the drain gives up, naming it and the budget.
    let (is_error, text) = s
        .call(
            "node_drain",
            json!({ "name": "node-a", "timeout_secs": 4, "confidence": 0.99 }),
        )
        .await;
    assert!(is_error, "{text}");
    assert!(
        text.contains("could not be evicted")
            && text.contains("The disruption budget web needs 2 healthy pods and has 2 currently"),
        "{text}"
    );
    // With room in the budget the drain completes; nothing of shop runs on node-a any more.
    s.ok("resources_apply", budget(1)).await;
    let drained = s
        .ok(
            "node_drain",
            json!({ "name": "node-a", "confidence": 0.99 }),
        )
        .await;
    assert!(drained.starts_with("drained node-a in "), "{drained}");
    let pods = s
        .eventually("pods_list", json!({ "label_selector": "app=web" }), |t| {
            t.matches("node-b").count() == 2
        })
        .await;
    assert!(!pods.contains("node-a"), "{pods}");
    let uncordoned = s
        .ok(
            "node_uncordon",
            json!({ "name": "node-a", "confidence": 0.99 }),
        )
        .await;
    assert_eq!(
        uncordoned.lines().next().unwrap(),
        "uncordoned node-a: it takes new pods again",
        "{uncordoned}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_changes_are_high_risk_planned_and_asked() {
    let plan = setup(&["--mode", "plan", "--enable-destructive"]).await;
    let preview = plan
        .ok(
            "node_drain",
            json!({ "name": "node-b", "confidence": 0.99 }),
        )
        .await;
    for expected in [
        "PLAN (not executed",
        "kubectl --context sandbox drain node-b --ignore-daemonsets --delete-emptydir-data",
        "risk: high — drain node node-b",
        "would cordon node-b and evict",
        "shop/worker-",
    ] {
        assert!(
            preview.contains(expected),
            "missing {expected:?}:\n{preview}"
        );
    }
    assert!(
        !plan
            .ok("nodes_list", json!({}))
            .await
            .contains("SchedulingDisabled")
    );

    // Without the destructive switch a high-risk change never runs, even approved.
    let locked = setup_answering(Approver::answering(true), &["--mode", "approval"]).await;
    let (is_error, text) = locked
        .call("node_cordon", json!({ "name": "node-a" }))
        .await;
    assert!(
        is_error && text.contains("K8S_ENABLE_DESTRUCTIVE_OPERATIONS"),
        "{text}"
    );
    // With it, the user is asked and their yes runs the change.
    let asked = setup_answering(
        Approver::answering(true),
        &["--mode", "approval", "--enable-destructive"],
    )
    .await;
    let cordoned = asked.ok("node_cordon", json!({ "name": "node-a" })).await;
    assert!(cordoned.starts_with("cordoned node-a"), "{cordoned}");
    let questions = asked.approver.asked();
    assert!(
        questions.len() == 1 && questions[0].contains("node-a runs"),
        "{questions:?}"
    );
}

/// A service that reads a Secret both ways: as a variable and as a mounted file.
const API: &str = "apiVersion: v1
kind: Secret
metadata:
  name: api-db
stringData:
  password: hunter2
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: api-config
data:
  app.yaml: \"level: debug\\n\"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
      - name: api
        image: shop/api:1.0
        env:
        - {name: MODE, value: live}
        - name: DB_PASSWORD
          valueFrom:
            secretKeyRef: {name: api-db, key: password}
        volumeMounts:
        - {name: config, mountPath: /etc/api}
        - {name: tls, mountPath: /etc/tls}
      volumes:
      - name: config
        configMap: {name: api-config}
      - name: tls
        secret: {secretName: api-db}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_runs_a_command_with_secrets_hidden() {
    let s = setup(DESTRUCTIVE_YOLO).await;
    s.ok(
        "resources_apply",
        json!({ "manifest": API, "confidence": 0.95 }),
    )
    .await;
    let pods = s
        .eventually("pods_list", json!({ "label_selector": "app=api" }), |t| {
            t.contains("1/1")
        })
        .await;
    let pod = pods
        .split_whitespace()
        .find(|w| w.starts_with("api-"))
        .unwrap()
        .to_owned();
    let exec =
        |command: serde_json::Value| json!({ "name": pod, "command": command, "confidence": 0.99 });
    let env = s.ok("pod_exec", exec(json!(["env"]))).await;
    assert!(
        env.contains(": exit 0") && env.contains("MODE=live"),
        "{env}"
    );
    assert!(
        env.contains("DB_PASSWORD=<hidden: 7 bytes>") && !env.contains("hunter2"),
        "{env}"
    );
    let config = s
        .ok("pod_exec", exec(json!(["cat", "/etc/api/app.yaml"])))
        .await;
    assert!(
        config.contains("exit 0\n<<untrusted stdout ") && config.contains("\nlevel: debug\n"),
        "{config}"
    );
    // Secret values are hidden by value, whatever the command that prints them.
    for command in [
        json!(["cat", "/etc/tls/password"]),
        json!(["printenv", "DB_PASSWORD"]),
    ] {
        let text = s.ok("pod_exec", exec(command.clone())).await;
        assert!(
            text.contains(": exit 0\n<<untrusted stdout ")
                && text.contains("\n***")
                && !text.contains("hunter2"),
            "{command}: {text}"
        );
    }
    let missing = s.ok("pod_exec", exec(json!(["cat", "/etc/missing"]))).await;
    assert!(
        missing.contains(": exit 1") && missing.contains("No such file or directory"),
        "{missing}"
    );
    let (is_error, text) = s.call("pod_exec", exec(json!(["sh", "-c", "env"]))).await;
    assert!(
        is_error && text.contains("executable file not found"),
        "{text}"
    );
    let (is_error, text) = s.call("pod_exec", exec(json!([]))).await;
    assert!(is_error && text.contains("at least the program"), "{text}");
    // The Secret's value reached neither an answer nor the audit log (the manifest is audited
    // with its Secret values hidden).
    let audit = std::fs::read_to_string(s.dir().join("audit.jsonl")).unwrap();
    assert!(
        audit.contains("resources_apply") && !audit.contains("hunter2"),
        "{audit}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_read_only_user_may_not_touch_nodes_or_exec() {
    let s = setup(&[
        "--mode",
        "yolo",
        "--enable-destructive",
        "--context",
        "sandbox-view",
    ])
    .await;
    let (is_error, text) = s
        .call(
            "node_cordon",
            json!({ "name": "node-a", "confidence": 0.99 }),
        )
        .await;
    // The viewer cannot even read nodes (view grants no cluster-scoped reads).
    assert!(
        is_error && text.contains("nodes \"node-a\" is forbidden"),
        "{text}"
    );
    let web = s
        .ok("pods_list", json!({ "label_selector": "app=web" }))
        .await;
    let pod = web
        .split_whitespace()
        .find(|w| w.starts_with("web-"))
        .unwrap()
        .to_owned();
    let (is_error, text) = s
        .call(
            "pod_exec",
            json!({ "name": pod, "command": ["env"], "confidence": 0.99 }),
        )
        .await;
    assert!(
        is_error && text.contains("may not create pods/exec"),
        "{text}"
    );
}
