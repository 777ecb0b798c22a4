//! The kubectl tool against an adversarial agent (issue 25), through a real MCP client against the
//! sandbox cluster: each case of the review by name, an invariant over generated argument lists
//! (a plan or a declined question changes nothing in the cluster and never runs a forbidden
//! delete), and no read that prints a credential, a server's variable or a Secret value.

mod common;

use std::collections::BTreeMap;

use common::{setup, setup_answering};
use kube::{
    Client,
    api::{Api, DynamicObject, ListParams},
    config::{KubeConfigOptions, Kubeconfig},
    discovery::{Discovery, Scope},
};
use opsmcp_e2e::mcp::{Approver, IncidentSetup};
use proptest::{
    strategy::{Strategy, ValueTree},
    test_runner::{Config, RngAlgorithm, TestRng, TestRunner},
};
use serde_json::{Value, json};

/// An API client of the sandbox, as its administrator.
async fn admin(s: &IncidentSetup) -> Client {
    let kubeconfig = Kubeconfig::from_yaml(&s.sandbox.kubeconfig()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    Client::try_from(config).unwrap()
}

/// Kinds the simulated cluster writes on its own (the kubelet's leases, events, endpoints).
const LIVE_KINDS: &[&str] = &[
    "Event",
    "Lease",
    "Endpoints",
    "EndpointSlice",
    "NodeMetrics",
    "PodMetrics",
];

/// Every object an agent could change, by kind/namespace/name, without what the cluster itself
/// keeps writing (status, versions, bookkeeping).
async fn state(client: &Client) -> BTreeMap<String, Value> {
    let discovery = Discovery::new(client.clone()).run().await.unwrap();
    let mut out = BTreeMap::new();
    for group in discovery.groups() {
        for (ar, caps) in group.recommended_resources() {
            if LIVE_KINDS.contains(&ar.kind.as_str()) || !caps.supports_operation("list") {
                continue;
            }
            let api: Api<DynamicObject> = match caps.scope {
                Scope::Cluster | Scope::Namespaced => Api::all_with(client.clone(), &ar),
            };
            let Ok(list) = api.list(&ListParams::default()).await else {
                continue;
            };
            for object in list {
                let mut v = serde_json::to_value(&object).unwrap();
                let key = format!(
                    "{}/{}/{}",
                    ar.kind,
                    object.metadata.namespace.clone().unwrap_or_default(),
                    object.metadata.name.clone().unwrap_or_default()
                );
                if let Some(map) = v.as_object_mut() {
                    map.remove("status");
                }
                if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
                    for field in ["resourceVersion", "managedFields", "generation"] {
                        meta.remove(field);
                    }
                }
                out.insert(key, v);
            }
        }
    }
    out
}

/// What differs between two states.
fn changes(before: &BTreeMap<String, Value>, after: &BTreeMap<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    for (key, v) in before {
        match after.get(key) {
            None => out.push(format!("deleted {key}")),
            Some(w) if w != v => out.push(format!("changed {key}: {v} → {w}")),
            _ => {}
        }
    }
    out.extend(
        after
            .keys()
            .filter(|k| !before.contains_key(*k))
            .map(|k| format!("created {k}")),
    );
    out
}

async fn kubectl(s: &IncidentSetup, args: &[&str]) -> (bool, String) {
    s.call("kubectl", json!({ "args": args, "confidence": 1.0 }))
        .await
}

/// The agent's moves: a change to the scenario's objects, with flags in every spelling, `--`
/// and other words slipped in anywhere.
fn words() -> impl Strategy<Value = Vec<String>> {
    let change = proptest::sample::select(vec![
        "set image deploy/web web=busybox:evil",
        "set resources deploy/web --limits=memory=1Gi",
        "label deploy/web team=evil",
        "annotate deploy web team=evil",
        "delete ns batch",
        "delete namespace/batch",
        "delete cm web-config",
        "delete pod -l app=web",
        "scale deploy/web --replicas=0",
        "scale deploy web --replicas 7",
        "rollout restart deploy/web",
        "rollout undo deploy/web",
        "run evil --image=busybox",
        "cordon node-a",
        "drain node-a --ignore-daemonsets",
        "taint nodes node-a k=v:NoSchedule",
        "patch deploy/web -p {\"metadata\":{\"labels\":{\"evil\":\"1\"}}}",
        "create deployment evil --image=busybox",
        "create configmap evil --from-literal=k=v",
        "delete --raw /api/v1/namespaces/batch",
        "delete --raw /api/v1/namespaces/shop/configmaps/web-config",
        "apply -f -",
        "delete -f -",
        "replace --force -f -",
    ]);
    let extra = proptest::sample::select(vec![
        "--",
        "--",
        "-n",
        "shop",
        "batch",
        "kube-system",
        "-nshop",
        "-Rnbatch",
        "-A",
        "--all",
        "-l",
        "app=web",
        "--dry-run",
        "--dry-run=none",
        "--dry-run=client",
        "--cascade",
        "foreground",
        "--force",
        "--grace-period=0",
        "-v",
        "0",
        "--request-timeout",
        "5s",
        "--overwrite",
        "--wait=false",
        "-oyaml",
        "-o",
        "name",
        "sleep",
        "1",
        "-it",
        "--raw",
        "/api/v1/namespaces/batch",
        "ns",
        "pv",
        "--context=sandbox",
        "-s",
        "--as=admin",
    ]);
    (change, proptest::collection::vec((extra, 0usize..16), 0..4)).prop_map(|(change, extras)| {
        let mut argv: Vec<String> = change.split(' ').map(str::to_owned).collect();
        for (word, at) in extras {
            let at = at % (argv.len() + 1);
            argv.insert(at, word.to_owned());
        }
        argv
    })
}

/// `count` argument lists from a fixed seed: the same corpus every run.
fn corpus(count: usize) -> Vec<Vec<String>> {
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[25; 32]),
    );
    let strategy = words();
    let mut out: Vec<Vec<String>> = [
        "set image deploy/web -n shop -- web=busybox:evil",
        "label deploy web -n shop -- team=evil",
        "annotate deploy web -n shop -- team=evil",
        "run evil --image=busybox -n shop -- sleep 1",
        "delete --raw /api/v1/namespaces/batch",
        "delete --request-timeout 0 namespace batch",
        "delete -v 0 ns batch",
        "delete cm web-config -n shop --grace-period=0 --force",
        "delete -f -",
        "scale deploy/web -n shop -- --replicas=0",
        "cordon node-a --",
    ]
    .iter()
    .map(|l| l.split(' ').map(str::to_owned).collect())
    .collect();
    while out.len() < count {
        out.push(strategy.new_tree(&mut runner).unwrap().current());
    }
    out
}

const MANIFEST: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\n  namespace: shop\ndata:\n  EVIL: \"1\"\n";

/// Calls of every structured change tool: the workloads, namespaces and values an agent
/// could name (system namespaces, zero and huge counts, forbidden kinds, a privileged pod).
fn structured_cases() -> Vec<(&'static str, Value)> {
    let privileged = "apiVersion: v1\nkind: Pod\nmetadata: {name: root, namespace: shop}\nspec:\n  hostPID: true\n  containers: [{name: c, image: busybox, securityContext: {privileged: true}}]\n";
    let namespace = "apiVersion: v1\nkind: Namespace\nmetadata: {name: evil}\n";
    let mut cases = Vec::new();
    for (name, namespace_) in [
        ("web", "shop"),
        ("worker", "batch"),
        ("coredns", "kube-system"),
    ] {
        let at = |extra: Value| {
            let mut args = json!({ "name": name, "namespace": namespace_ });
            args.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            args
        };
        for replicas in [0, 3, 100_000] {
            cases.push(("deployment_scale", at(json!({ "replicas": replicas }))));
        }
        cases.push(("deployment_restart", at(json!({}))));
        cases.push(("deployment_rollback", at(json!({ "revision": 1 }))));
        cases.push((
            "container_resources_set",
            at(json!({ "memory_limit": "1Mi" })),
        ));
        cases.push((
            "pods_restart",
            json!({ "namespace": namespace_, "label_selector": format!("app={name}") }),
        ));
        cases.push(("pod_exec", at(json!({ "command": ["sh", "-c", "kill 1"] }))));
    }
    for manifest in [MANIFEST, privileged, namespace] {
        cases.push((
            "resources_apply",
            json!({ "manifest": manifest, "force": true }),
        ));
    }
    for (api_version, kind, name, namespace_) in [
        ("v1", "ConfigMap", "web-config", Some("shop")),
        ("v1", "Namespace", "batch", None),
        ("v1", "Node", "node-a", None),
        ("rbac.authorization.k8s.io/v1", "ClusterRole", "view", None),
    ] {
        cases.push(("resources_delete", json!({ "api_version": api_version, "kind": kind, "name": name, "namespace": namespace_ })));
    }
    for tool in ["node_cordon", "node_drain"] {
        cases.push((tool, json!({ "name": "node-a", "force": true })));
    }
    cases
}

async fn invariant(s: &IncidentSetup, mode: &str) {
    let client = admin(s).await;
    let before = state(&client).await;
    let (mut forbidden_refused, mut gated) = (0, 0);
    let cases = corpus(120);
    let mut calls: Vec<(&str, Value)> = cases
        .iter()
        .map(|argv| {
            let manifest = argv.iter().any(|a| a == "-f").then_some(MANIFEST);
            ("kubectl", json!({ "args": argv, "manifest": manifest }))
        })
        .collect();
    calls.extend(structured_cases());
    let mut structured_gated = 0;
    for (tool, mut args) in calls {
        args["confidence"] = json!(1.0);
        let (_, text) = s.call(tool, args).await;
        if text.contains("forbidden actions are never executed") {
            forbidden_refused += 1;
        }
        if text.starts_with("PLAN") || text.contains("the user answered no") {
            gated += 1;
            structured_gated += usize::from(tool != "kubectl");
        }
    }
    let after = state(&client).await;
    let changed = changes(&before, &after);
    assert!(
        changed.is_empty(),
        "{mode}: the cluster changed:\n{}",
        changed.join("\n")
    );
    eprintln!(
        "{mode}: {} kubectl cases, {forbidden_refused} forbidden, {gated} gated \
         ({structured_gated} of them structured)",
        cases.len()
    );
    // The corpus reaches the gate, not only the parser's refusals.
    assert!(
        forbidden_refused >= 3 && gated >= 20 && structured_gated >= 10,
        "{mode}: {forbidden_refused} forbidden, {gated} gated ({structured_gated} structured)"
    );
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client);
    assert!(
        namespaces.get("batch").await.is_ok(),
        "{mode}: batch is gone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_mode_changes_nothing_whatever_the_arguments() {
    let s = setup(&["--mode", "plan", "--enable-destructive-operations"]).await;
    invariant(&s, "plan").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_question_changes_nothing_whatever_the_arguments() {
    let s = setup_answering(
        Approver::answering(false),
        &["--mode", "approval", "--enable-destructive-operations"],
    )
    .await;
    invariant(&s, "approval").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dash_dash_in_plan_mode_previews_without_acting() {
    let s = setup(&["--mode", "plan", "--enable-destructive-operations"]).await;
    let (_, text) = kubectl(
        &s,
        &[
            "set",
            "image",
            "deploy/web",
            "-n",
            "shop",
            "--",
            "web=busybox:evil",
        ],
    )
    .await;
    assert!(
        text.starts_with("PLAN")
            && text.contains("set image --namespace=shop deploy/web web=busybox:evil"),
        "{text}"
    );
    assert!(
        text.contains("(server dry run)"),
        "the dry run ran as one: {text}"
    );
    let (_, image) = kubectl(
        &s,
        &[
            "get",
            "deploy/web",
            "-n",
            "shop",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ],
    )
    .await;
    assert!(image.starts_with("shop/web:2.3.1"), "{image}");
    let (_, run) = kubectl(
        &s,
        &[
            "run",
            "evil",
            "--image=busybox",
            "-n",
            "shop",
            "--",
            "sleep",
            "1",
        ],
    )
    .await;
    assert!(run.starts_with("PLAN"), "{run}");
    let (is_error, pod) = kubectl(&s, &["get", "pod", "evil", "-n", "shop"]).await;
    assert!(is_error && pod.contains("NotFound"), "{pod}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_in_every_spelling_and_raw_writes_refused() {
    let s = setup(&["--mode", "yolo", "--enable-destructive-operations"]).await;
    for argv in [
        vec!["delete", "--raw", "/api/v1/namespaces/batch"],
        vec!["delete", "--request-timeout", "0", "namespace", "batch"],
        vec!["delete", "-v", "0", "ns", "batch"],
        vec!["-n", "shop", "delete", "Namespaces.v1", "batch"],
    ] {
        let (is_error, text) = kubectl(&s, &argv).await;
        assert!(
            is_error && text.contains("forbidden actions are never executed"),
            "{argv:?}: {text}"
        );
    }
    let (is_error, text) = kubectl(
        &s,
        &[
            "delete",
            "--raw",
            "/api/v1/namespaces/shop/configmaps/web-config",
        ],
    )
    .await;
    assert!(
        is_error && text.contains("kubectl ignores --dry-run for raw writes"),
        "{text}"
    );
    let (_, ns) = kubectl(&s, &["get", "ns", "batch", "-o", "name"]).await;
    assert_eq!(ns.lines().next(), Some("namespace/batch"), "{ns}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_read_prints_a_credential_a_variable_or_a_secret_value() {
    let s = setup(&["--mode", "yolo"]).await;
    let kubeconfig = s.sandbox.kubeconfig();
    let token = kubeconfig
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .unwrap()
        .to_owned();
    for argv in [
        vec!["config", "view"],
        vec!["config", "view", "--raw"],
        vec!["config", "view", "--flatten"],
        vec!["get", "pods", "-o", "go-template-file=/proc/self/environ"],
        vec!["get", "pods", "-ogo-template-file=/proc/self/environ"],
        vec![
            "get",
            "secret",
            "web-db",
            "-n",
            "shop",
            "-o",
            "jsonpath={.data}",
        ],
        vec!["get", "pods", "-shttps://127.0.0.1:1"],
        vec!["get", "pods", "-As", "https://127.0.0.1:1"],
        vec!["get", "pods", "--user=sandbox-view"],
    ] {
        let (is_error, text) = kubectl(&s, &argv).await;
        assert!(
            is_error && text.contains("refused before running"),
            "{argv:?}: {text}"
        );
    }
    let secret_values = ["c2VjcmV0", "secret", "d2Vi"];
    for argv in [
        vec!["config", "get-contexts"],
        vec!["get", "secret", "web-db", "-n", "shop", "-o", "yaml"],
        vec!["get", "secrets", "-A", "-o", "json"],
        vec!["get", "--raw", "/api/v1/namespaces/shop/secrets"],
        vec!["get", "--raw", "/api/v1/secrets"],
        vec!["describe", "secret", "web-db", "-n", "shop"],
    ] {
        let (is_error, text) = kubectl(&s, &argv).await;
        assert!(!is_error, "{argv:?}: {text}");
        assert!(
            !text.contains(&token),
            "{argv:?} printed the kubeconfig's token"
        );
        for v in secret_values {
            assert!(
                !text.contains(&format!("\"{v}\"")) && !text.contains(&format!(": {v}\n")),
                "{argv:?} printed a Secret value {v}:\n{text}"
            );
        }
    }
    let (_, yaml) = kubectl(&s, &["get", "secret", "web-db", "-n", "shop", "-o", "yaml"]).await;
    assert!(
        yaml.contains("password: '***'") || yaml.contains("password: ***"),
        "{yaml}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn glued_namespaces_stay_in_the_allow_list() {
    let s = setup(&["--mode", "yolo", "--allowed-namespaces", "shop"]).await;
    for argv in [
        vec!["get", "pods", "-Rnbatch"],
        vec!["label", "pods", "-l", "app=reports", "-Rnbatch", "evil=1"],
        vec!["get", "pods", "-A"],
        vec!["get", "--raw", "/api/v1/namespaces/batch/pods"],
        vec!["get", "--raw", "/api/v1/pods"],
        vec!["cluster-info", "dump", "--namespaces", "batch"],
    ] {
        let (is_error, text) = kubectl(&s, &argv).await;
        assert!(
            is_error && (text.contains("not allowed here") || text.contains("restricted here")),
            "{argv:?}: {text}"
        );
    }
    let (is_error, text) = kubectl(&s, &["get", "pods", "-nshop"]).await;
    assert!(!is_error && text.contains("web-"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_scoped_objects_under_a_namespace_allow_list() {
    let restricted = [
        "--mode",
        "yolo",
        "--enable-destructive-operations",
        "--allowed-namespaces",
        "shop",
    ];
    let s = setup(&[&restricted[..], &["--allowed-cluster-kinds", "Node"]].concat()).await;
    let before = state(&admin(&s).await).await;
    let binding = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: mine}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: [{kind: User, name: me, apiGroup: rbac.authorization.k8s.io}]\n";
    let namespace = "apiVersion: v1\nkind: Namespace\nmetadata: {name: mine}\n";
    let refused = "is cluster-scoped and namespaces are restricted here";
    for (tool, args) in [
        ("resources_apply", json!({ "manifest": binding })),
        ("resources_apply", json!({ "manifest": namespace })),
        (
            "resources_delete",
            json!({ "api_version": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "name": "view" }),
        ),
        (
            "kubectl",
            json!({ "args": ["create", "clusterrolebinding", "mine", "--clusterrole=cluster-admin", "--user=me"] }),
        ),
        (
            "kubectl",
            json!({ "args": ["delete", "clusterroles.rbac.authorization.k8s.io", "view"] }),
        ),
        ("kubectl", json!({ "args": ["label", "ns/shop", "evil=1"] })),
        (
            "kubectl",
            json!({ "args": ["label", "ns", "shop", "pods/x=1", "evil=1", "--overwrite"] }),
        ),
        (
            "kubectl",
            json!({ "args": ["apply", "-f", "-"], "manifest": binding }),
        ),
    ] {
        let mut args = args;
        args["confidence"] = json!(0.99);
        let (is_error, text) = s.call(tool, args.clone()).await;
        assert!(is_error && text.contains(refused), "{tool} {args}: {text}");
    }
    assert_eq!(
        changes(&before, &state(&admin(&s).await).await),
        Vec::<String>::new()
    );
    // A kind the configuration allows, and namespaced objects, go through the mode as before.
    let (is_error, text) = kubectl(&s, &["cordon", "node-a"]).await;
    assert!(!is_error && text.contains("cordoned"), "{text}");
    let s = setup(&restricted).await;
    let (is_error, text) = s
        .call(
            "node_cordon",
            json!({ "name": "node-a", "confidence": 0.99 }),
        )
        .await;
    assert!(
        is_error && text.contains("Node is cluster-scoped"),
        "{text}"
    );
    let (is_error, text) = kubectl(&s, &["label", "deploy/web", "-n", "shop", "team=shop"]).await;
    assert!(!is_error, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_contexts_restrict_the_context() {
    let s = setup(&["--mode", "yolo", "--allowed-contexts", "sandbox-view"]).await;
    let (is_error, text) = kubectl(&s, &["get", "pods", "--context=sandbox"]).await;
    assert!(is_error && text.contains("not allowed here"), "{text}");
    let (is_error, text) = s
        .call(
            "kubectl",
            json!({ "args": ["get", "pods"], "context": "sandbox-view" }),
        )
        .await;
    assert!(!is_error && text.contains("web-"), "{text}");
    let (is_error, text) = s.call("pods_list", json!({ "context": "sandbox" })).await;
    assert!(is_error && text.contains("not allowed here"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_delete_in_plan_mode_keeps_the_object() {
    let s = setup(&["--mode", "plan", "--enable-destructive-operations"]).await;
    let text = s
        .ok("resources_delete", json!({ "api_version": "v1", "kind": "ConfigMap", "name": "web-config", "namespace": "shop" }))
        .await;
    assert!(text.starts_with("PLAN"), "{text}");
    let (is_error, cm) =
        kubectl(&s, &["get", "cm", "web-config", "-n", "shop", "-o", "name"]).await;
    assert!(!is_error && cm.contains("configmap/web-config"), "{cm}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_to_zero_through_kubectl_is_high() {
    let s = setup(&["--mode", "yolo"]).await;
    let (is_error, text) =
        kubectl(&s, &["scale", "deploy/web", "-n", "shop", "--replicas=0x0"]).await;
    assert!(
        is_error && text.contains("K8S_ENABLE_DESTRUCTIVE_OPERATIONS") && text.contains("to zero"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_privileged_host_pod_or_a_token_secret_is_high_risk() {
    // Yolo at 0.85 without the destructive switch: medium would run, high is refused.
    let s = setup(&["--mode", "yolo"]).await;
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: root\n  namespace: shop\nspec:\n  hostPID: true\n  containers:\n  - name: c\n    image: busybox\n    securityContext: {privileged: true}\n    volumeMounts: [{name: host, mountPath: /host}]\n  volumes:\n  - name: host\n    hostPath: {path: /}\n";
    let token = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: t\n  namespace: shop\n  annotations: {kubernetes.io/service-account.name: default}\ntype: kubernetes.io/service-account-token\n";
    for (manifest, why) in [
        (pod, "container c is privileged"),
        (token, "service account's API token"),
    ] {
        let (is_error, text) = s
            .call(
                "resources_apply",
                json!({ "manifest": manifest, "confidence": 0.85 }),
            )
            .await;
        assert!(
            is_error && text.contains("NOT EXECUTED") && text.contains(why),
            "{text}"
        );
    }
    let (is_error, pod) = kubectl(&s, &["get", "pod", "root", "-n", "shop"]).await;
    assert!(is_error && pod.contains("NotFound"), "{pod}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_to_a_hundred_thousand_is_high_risk() {
    let s = setup(&["--mode", "yolo"]).await;
    let (is_error, text) = s
        .call(
            "deployment_scale",
            json!({ "name": "web", "namespace": "shop", "replicas": 100_000, "confidence": 0.95 }),
        )
        .await;
    assert!(
        is_error && text.contains("above the ceiling of 100"),
        "{text}"
    );
    let (is_error, text) = kubectl(
        &s,
        &["scale", "deploy/web", "-n", "shop", "--replicas=100000"],
    )
    .await;
    assert!(
        is_error && text.contains("above the ceiling of 100"),
        "{text}"
    );
}
