//! `resources_apply` and `resources_delete` through a real MCP client against the sandbox, in
//! every safety mode, and the permission check every change makes first: the sandbox's
//! read-only user (context `sandbox-view`) is refused before anything runs, naming what it may
//! not do.

mod common;

use common::{setup, setup_answering};
use opsmcp_e2e::mcp::Approver;
use serde_json::json;

/// The incident's cure as a manifest, plus a new ConfigMap: two documents.
const CURE: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: worker-flags
data:
  LEAK_GUARD: \"on\"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker
  namespace: shop
spec:
  template:
    spec:
      containers:
      - name: worker
        resources:
          limits:
            memory: 256Mi
";

fn apply(force: bool) -> serde_json::Value {
    json!({ "manifest": CURE, "force": force, "confidence": 0.95 })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_shows_the_dry_run_per_object_and_explains_conflicts() {
    let s = setup(&["--mode", "plan"]).await;
    // The limit belongs to the team's client-side apply: a conflict, explained before anything.
    let (is_error, text) = s.call("resources_apply", apply(false)).await;
    assert!(is_error, "{text}");
    assert!(
        text.contains(r#"deployment.apps/worker in shop: fields other managers set to other values: .spec.template.spec.containers[name="worker"].resources.limits.memory (conflict with "kubectl-client-side-apply" using apps/v1). Pass force=true"#),
        "{text}"
    );
    let plan = s.ok("resources_apply", apply(true)).await;
    for expected in [
        "PLAN (not executed",
        "kubectl --context sandbox apply --server-side --field-manager=opsmcp --force-conflicts -f manifest.yaml",
        "configmap/worker-flags in shop: created",
        "deployment.apps/worker in shop: configured",
        "risk: medium",
    ] {
        assert!(plan.contains(expected), "missing {expected:?}:\n{plan}");
    }
    assert!(
        plan.lines()
            .any(|l| l.starts_with('-') && l.contains("\"memory\": \"64Mi\""))
            && plan
                .lines()
                .any(|l| l.starts_with('+') && l.contains("\"memory\": \"256Mi\"")),
        "{plan}"
    );
    assert!(!plan.contains("managedFields"), "{plan}");
    let (missing, text) = s
        .call(
            "resources_get",
            json!({ "api_version": "v1", "kind": "ConfigMap", "name": "worker-flags" }),
        )
        .await;
    assert!(
        missing && text.contains("not found"),
        "plan created nothing: {text}"
    );

    // Bad input is named, not applied.
    for (manifest, expected) in [
        ("kind: [", "not valid YAML"),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: x-\n",
            "metadata.name",
        ),
        (
            "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n",
            "the cluster serves no Widget in example.com/v1",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: kube-system\n",
            "they must agree",
        ),
    ] {
        let args = json!({ "manifest": manifest, "namespace": "shop" });
        let (is_error, text) = s.call("resources_apply", args).await;
        assert!(is_error && text.contains(expected), "{manifest}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yolo_applies_verifies_and_deletes() {
    let s = setup(&[
        "--mode",
        "yolo",
        "--verify-timeout-secs",
        "20",
        "--enable-destructive",
    ])
    .await;
    let applied = s.ok("resources_apply", apply(true)).await;
    for expected in [
        "configmap/worker-flags in shop created",
        "deployment.apps/worker in shop configured",
        "deployment shop/worker: rollout complete",
        "automatic: yolo mode",
    ] {
        assert!(
            applied.contains(expected),
            "missing {expected:?}:\n{applied}"
        );
    }
    let limit = s
        .ok(
            "resources_get",
            json!({ "api_version": "apps/v1", "kind": "Deployment", "name": "worker" }),
        )
        .await;
    assert!(limit.contains("\"memory\": \"256Mi\""), "{limit}");
    // Applying the same again changes nothing.
    let again = s.ok("resources_apply", apply(true)).await;
    assert!(
        again.contains("configmap/worker-flags in shop unchanged"),
        "{again}"
    );

    let deleted = s
        .ok("resources_delete", json!({ "api_version": "v1", "kind": "ConfigMap", "name": "worker-flags", "confidence": 0.95 }))
        .await;
    assert!(
        deleted.contains("deleted configmap/worker-flags; gone after"),
        "{deleted}"
    );
    // Cluster-wide access rules are high risk (a confidence of 0.5 does not run them), and the
    // forbidden kinds are never deleted.
    let role = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: everything\nrules:\n- apiGroups: ['*']\n  resources: ['*']\n  verbs: ['*']\n";
    let (is_error, text) = s
        .call(
            "resources_apply",
            json!({ "manifest": role, "confidence": 0.5 }),
        )
        .await;
    assert!(
        is_error
            && text.contains("NOT EXECUTED")
            && text.contains("risk: high — apply clusterrole everything"),
        "{text}"
    );
    let (is_error, text) = s
        .call(
            "resources_delete",
            json!({ "api_version": "v1", "kind": "Namespace", "name": "shop", "confidence": 1.0 }),
        )
        .await;
    assert!(is_error && text.contains("forbidden"), "{text}");
    assert!(s.ok("namespaces_list", json!({})).await.contains("shop"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_asks_with_the_diff_and_a_no_changes_nothing() {
    let s = setup_answering(Approver::answering(false), &["--mode", "approval"]).await;
    let (is_error, text) = s.call("resources_apply", apply(true)).await;
    assert!(
        is_error && text.contains("NOT EXECUTED: the user answered no"),
        "{text}"
    );
    let asked = s.approver.asked();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(
        asked[0].contains("configmap/worker-flags in shop: created"),
        "{}",
        asked[0]
    );
    let (missing, _) = s
        .call(
            "resources_get",
            json!({ "api_version": "v1", "kind": "ConfigMap", "name": "worker-flags" }),
        )
        .await;
    assert!(missing, "a declined change changes nothing");

    let yes = setup_answering(
        Approver::answering(true),
        &["--mode", "approval", "--verify-timeout-secs", "20"],
    )
    .await;
    let applied = yes.ok("resources_apply", apply(true)).await;
    assert!(
        applied.contains("deployment shop/worker: rollout complete"),
        "{applied}"
    );
    assert_eq!(yes.approver.asked().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_read_only_user_is_refused_before_anything_runs() {
    for mode in ["plan", "yolo"] {
        let s = setup(&["--mode", mode, "--context", "sandbox-view"]).await;
        // Reads work: the user is bound to `view`.
        assert!(s.ok("pods_list", json!({})).await.contains("worker-"));
        let (is_error, text) = s.call("resources_apply", apply(true)).await;
        assert!(is_error, "{text}");
        assert!(
            text.contains("the credentials of context `sandbox-view` may not patch configmaps \"worker-flags\" in namespace shop, nor create configmaps \"worker-flags\" in namespace shop, nor patch deployments.apps \"worker\" in namespace shop; nothing was changed"),
            "{mode}: {text}"
        );
        let (is_error, text) = s
            .call(
                "deployment_scale",
                json!({ "name": "web", "replicas": 3, "confidence": 0.95 }),
            )
            .await;
        assert!(
            is_error && text.contains("may not patch deployments.apps \"web\" in namespace shop"),
            "{mode}: {text}"
        );
        let (is_error, text) = s
            .call(
                "pods_restart",
                json!({ "label_selector": "app=web", "confidence": 0.95 }),
            )
            .await;
        assert!(
            is_error && text.contains("may not delete pods"),
            "{mode}: {text}"
        );
        let (is_error, text) = s
            .call("resources_delete", json!({ "api_version": "v1", "kind": "Service", "name": "web", "confidence": 0.95 }))
            .await;
        assert!(
            is_error && text.contains("may not delete services \"web\""),
            "{mode}: {text}"
        );
    }
}
