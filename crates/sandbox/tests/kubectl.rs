//! The real `kubectl` against the sandbox: if kubectl's own requests (discovery, Table gets,
//! describe's event and ReplicaSet lookups, logs, the scale subresource, the three patch types,
//! rollout's watch, graceful deletion, metrics) are answered the way kube-apiserver answers
//! them, its output is what an operator would see on a real cluster.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use opsmcp_sandbox::Sandbox;

struct Kubectl {
    kubeconfig: PathBuf,
    cache: PathBuf,
    dir: PathBuf,
}

impl Drop for Kubectl {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Kubectl {
    fn new(sandbox: &Sandbox) -> Self {
        let dir = std::env::temp_dir().join(format!("opsmcp-kubectl-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let kubeconfig = dir.join("kubeconfig");
        std::fs::write(&kubeconfig, sandbox.kubeconfig()).unwrap();
        Self {
            kubeconfig,
            cache: dir.join("cache"),
            dir,
        }
    }

    /// Run kubectl; (success, stdout, stderr).
    fn run(&self, args: &str) -> (bool, String, String) {
        let kubectl = which("kubectl").expect(
            "kubectl is not installed: it ships with the machine image (google-cloud-sdk); install it from https://kubernetes.io/docs/tasks/tools/",
        );
        let out = Command::new(kubectl)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(&self.cache)
            .args(shell_words(args))
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn ok(&self, args: &str) -> String {
        let (ok, out, err) = self.run(args);
        assert!(ok, "kubectl {args} failed: {err}{out}");
        out
    }

    /// Run until `check` holds on stdout (the controllers act every 250 ms).
    fn eventually(&self, args: &str, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let out = self.ok(args);
            if check(&out) {
                return out;
            }
            assert!(
                Instant::now() < deadline,
                "kubectl {args} never satisfied the check:\n{out}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| Path::new(p).is_file())
    })
}

/// Split on spaces, keeping single-quoted parts together.
fn shell_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let (mut word, mut quoted) = (String::new(), false);
    for c in s.chars() {
        match c {
            '\'' => quoted = !quoted,
            ' ' if !quoted => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

async fn sandbox() -> Sandbox {
    Sandbox::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// The sandbox with the shop's incident.
async fn incident() -> Sandbox {
    let scenario =
        opsmcp_sandbox::scenario::Scenario::parse(opsmcp_sandbox::scenario::INCIDENT).unwrap();
    Sandbox::start_with("127.0.0.1:0".parse().unwrap(), Some(&scenario))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_and_describe_print_what_a_real_cluster_prints() {
    let sb = sandbox().await;
    let k = Kubectl::new(&sb);
    let k = tokio::task::spawn_blocking(move || {
        // Aggregated discovery: a cold cache costs kubectl two discovery requests, not one
        // per group version.
        let (ok, _, log) = k.run("get pods -v=6");
        assert!(
            ok && log.contains("/apis?timeout") && !log.contains("/apis/apps/v1?timeout"),
            "{log}"
        );
        let pods = k.eventually("get pods", |o| o.matches("Running").count() == 2);
        let header: Vec<&str> = pods.lines().next().unwrap().split_whitespace().collect();
        assert_eq!(
            header,
            ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
            "{pods}"
        );
        assert!(pods.contains("1/1"), "{pods}");
        let wide = k.ok("get pods -o wide");
        assert!(
            wide.contains("NODE") && wide.contains("10.244.") && wide.contains("node-"),
            "{wide}"
        );
        let all = k.ok("get deploy,rs,svc,ep");
        assert!(
            all.contains("deployment.apps/web   2/2     2            2"),
            "{all}"
        );
        assert!(
            all.contains("service/web   ClusterIP   10.96.12.40"),
            "{all}"
        );
        assert!(all.contains("endpoints/web   10.244."), "{all}");
        let across = k.ok("get pods -A");
        assert!(across.starts_with("NAMESPACE"), "{across}");
        let nodes = k.ok("get nodes");
        assert!(
            nodes.contains("node-a   Ready") && nodes.contains("v1.33.0"),
            "{nodes}"
        );
        assert!(k.ok("get ns").contains("kube-system"));
        assert_eq!(k.ok("get pods -l app=web -o name").lines().count(), 2);
        assert!(k.ok("get pods -l app=nothing -o name").is_empty());
        let pod = k.ok("get pods -o name").lines().next().unwrap().to_owned();

        let describe = k.ok(&format!("describe {pod}"));
        for expected in [
            "Controlled By:  ReplicaSet/web-",
            "Image:          shop/web:2.3.1",
            "Limits:",
            "memory:  128Mi",
            "Events:",
            "Successfully assigned shop/",
        ] {
            assert!(
                describe.contains(expected),
                "missing {expected:?} in:\n{describe}"
            );
        }
        let deploy = k.ok("describe deploy web");
        assert!(
            deploy.contains("NewReplicaSet:   web-") && deploy.contains("ScalingReplicaSet"),
            "{deploy}"
        );
        // describe service reads EndpointSlices; the API server defaulted the protocol.
        let svc = k.ok("describe svc web");
        assert!(
            svc.contains("Port:              http  80/TCP")
                && svc.contains("Endpoints:         10.244."),
            "{svc}"
        );
        let slices = k.ok("get endpointslices");
        assert!(
            slices.contains("ADDRESSTYPE") && slices.contains("IPv4") && slices.contains("8080"),
            "{slices}"
        );
        let node = k.ok("describe node node-a");
        assert!(
            node.contains("Allocatable:") && node.contains("Non-terminated Pods:"),
            "{node}"
        );

        let logs = k.ok(&format!("logs {pod} --tail=1"));
        assert_eq!(logs.lines().count(), 1, "{logs}");
        let (ok, _, err) = k.run(&format!("logs {pod} --previous"));
        assert!(
            !ok && err.contains("previous terminated container"),
            "{err}"
        );

        let (ok, _, err) = k.run("get pod nope");
        assert!(
            !ok && err.contains("Error from server (NotFound): pods \"nope\" not found"),
            "{err}"
        );
        let top = k.eventually("top pod", |o| o.contains("MEMORY"));
        assert!(top.contains("24Mi"), "{top}");
        assert!(k.ok("top node").contains("node-a"));
        k
    })
    .await
    .unwrap();
    drop(k);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_scale_roll_patch_and_delete() {
    let sb = sandbox().await;
    let k = Kubectl::new(&sb);
    tokio::task::spawn_blocking(move || {
        k.eventually("get deploy web", |o| o.contains("2/2"));
        // Scale through the autoscaling/v1 subresource; dry run changes nothing.
        k.ok("scale deploy/web --replicas=5 --dry-run=server");
        assert!(k.ok("get deploy web -o jsonpath={.spec.replicas}").starts_with('2'));
        k.ok("scale deploy/web --replicas=3");
        k.eventually("get deploy web", |o| o.contains("3/3"));

        // Rollout restart, status (a watch), history and undo to the first revision.
        k.ok("rollout restart deploy/web");
        let status = k.ok("rollout status deploy/web --timeout=20s");
        assert!(status.contains("successfully rolled out"), "{status}");
        let history = k.ok("rollout history deploy/web");
        assert!(history.contains("1 ") && history.contains("2 "), "{history}");
        let first_rs = k.ok("get rs -o name").lines().map(str::to_owned).collect::<Vec<_>>();
        k.ok("rollout undo deploy/web --to-revision=1");
        k.eventually("rollout status deploy/web --timeout=20s", |o| o.contains("successfully rolled out"));
        let after = k.ok("get rs -o name").lines().count();
        assert_eq!(after, first_rs.len(), "the rollback re-used the first ReplicaSet: {first_rs:?}");

        // The typed creates kubectl sends as protobuf.
        k.ok("create configmap flags --from-literal=mode=fast -n shop");
        assert_eq!(k.ok("get cm flags -n shop -o jsonpath={.data.mode}"), "fast");
        k.ok("create secret generic db --from-literal=password=hunter2 -n shop");
        assert_eq!(
            k.ok("get secret db -n shop -o jsonpath={.data.password}"),
            "aHVudGVyMg=="
        );
        k.ok("create namespace scratch --dry-run=server");
        assert!(!k.run("get ns scratch").0, "a dry run creates nothing");
        k.ok("create namespace scratch");
        assert!(k.ok("get ns scratch").contains("Active"));

        // The three patch types; containers merge by name.
        k.ok("patch deploy web --type=merge -p '{\"spec\":{\"replicas\":1}}'");
        k.ok("patch deploy web --type=json -p '[{\"op\":\"replace\",\"path\":\"/spec/template/spec/containers/0/image\",\"value\":\"shop/web:2.3.2\"}]'");
        k.ok("patch deploy web -p '{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"web\",\"resources\":{\"limits\":{\"memory\":\"256Mi\"}}}]}}}}'");
        let spec = k.ok("get deploy web -o jsonpath={.spec.replicas},{.spec.template.spec.containers[0].image},{.spec.template.spec.containers[0].resources.limits.memory},{.spec.template.spec.containers[0].resources.requests.memory}");
        assert_eq!(spec, "1,shop/web:2.3.2,256Mi,64Mi");
        let (ok, _, err) = k.run("patch deploy web --type=json -p '[{\"op\":\"test\",\"path\":\"/spec/replicas\",\"value\":7}]'");
        assert!(!ok && err.contains("is invalid: patch: the JSON patch failed"), "{err}");
        let (ok, _, err) = k.run("patch deploy web --type=merge -p '{\"spec\":{\"replicas\":\"many\"}}'");
        assert!(!ok && err.contains("Error from server (BadRequest): Deployment in version \"v1\" cannot be handled as a Deployment: invalid type"), "{err}");

        // A dry-run delete deletes nothing: kubectl sends `dryRun` in the DeleteOptions body.
        let pod = k.eventually("get pods -o name", |o| o.lines().count() == 1).trim().to_owned();
        let dry = k.ok(&format!("delete {pod} --dry-run=server"));
        assert!(dry.contains("deleted (server dry run)"), "{dry}");
        k.ok("delete deploy/web --dry-run=server");
        assert_eq!(k.ok(&format!("get {pod} -o name")).trim(), pod);
        assert!(k.ok("get deploy web -o name").contains("deployment.apps/web"));

        // Deleting a pod: it terminates, the ReplicaSet replaces it.
        k.ok(&format!("delete {pod} --wait=true"));
        let pods = k.eventually("get pods -o name", |o| o.lines().count() == 1 && !o.contains(&pod));
        assert!(!pods.contains(&pod));
        k.eventually("get pods", |o| o.contains("Running"));
    })
    .await
    .unwrap();
    drop(sb);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_incident_scenario_and_its_cures() {
    let sb = incident().await;
    let started = Instant::now();
    let k = Kubectl::new(&sb);
    tokio::task::spawn_blocking(move || {
        // The leaking worker has been OOM-killed at its 64Mi limit every 80 minutes since
        // 1.4.2 went live 20 hours ago (14 times); the run going at the start is killed within
        // seconds and restarts after the kubelet's back-off.
        let pods = k.ok("get pods -l app=worker");
        assert!(
            pods.lines()
                .any(|l| l.contains("1/1     Running") && l.contains("14 (79m ago)   19h")),
            "{pods}"
        );
        let pods = k.eventually("get pods -l app=worker", |o| o.contains("CrashLoopBackOff"));
        assert!(pods.contains("   15 ("), "{pods}");
        let pod = k.ok("get pods -l app=worker -o name").trim().to_owned();
        let describe = k.ok(&format!("describe {pod}"));
        for expected in [
            "Last State:     Terminated",
            "Reason:       OOMKilled",
            "Exit Code:    137",
            "memory:  64Mi",
            "<set to the key 'password' in secret 'worker-db'>",
        ] {
            assert!(
                describe.contains(expected),
                "missing {expected:?}:\n{describe}"
            );
        }
        // While it waits out its back-off it has no usage (metrics-server has none for a
        // container that is not running), rather than a zero that drags averages down.
        let deadline = Instant::now() + Duration::from_secs(30);
        let state = || {
            k.ok(&format!(
                "get {pod} -o jsonpath={{.status.containerStatuses[0].state}}"
            ))
        };
        loop {
            // The state before and after the metrics, so that a restart in between is not
            // taken for either.
            let before = state();
            let metrics = k.ok("get --raw /apis/metrics.k8s.io/v1beta1/namespaces/shop/pods");
            let listed = metrics.contains("\"worker-");
            if before == state() {
                if before.contains("CrashLoopBackOff") && !listed {
                    break;
                }
                if before.contains("running") {
                    assert!(listed, "a running worker has usage: {metrics}");
                }
            }
            assert!(
                Instant::now() < deadline,
                "never saw the worker waiting without usage: {metrics}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        let previous = k.ok(&format!("logs {pod} --previous"));
        assert!(
            previous
                .lines()
                .last()
                .unwrap()
                .ends_with("allocated chunk #45 (1MB), holding 65 MiB; nothing freed"),
            "{previous}"
        );
        // The other incidents of the scenario.
        let all = k.ok("get pods -A");
        assert!(
            all.contains("ImagePullBackOff") || all.contains("ErrImagePull"),
            "{all}"
        );
        assert!(all.contains("0/1     Pending"), "{all}");
        assert!(
            all.lines()
                .any(|l| l.contains("recommender") && l.contains("0/1     Running")),
            "{all}"
        );
        let events = k.ok("get events -n batch");
        assert!(events.contains("exceeded quota: batch-quota"), "{events}");
        let reports = k.ok("describe pod -l app=reports");
        assert!(
            reports.contains("FailedScheduling") && reports.contains("Insufficient memory"),
            "{reports}"
        );
        // The scheduler backs off (1, 2, 4, 8 s, then waits for a change): its event's count
        // grows by a few, not several times a second.
        let reports_pod = k.ok("get pods -l app=reports -o jsonpath={.items[0].metadata.name}");
        let counts = k.ok(&format!(
            "get events -o jsonpath={{.items[?(@.involvedObject.name==\"{reports_pod}\")].count}}"
        ));
        let attempts: u64 = counts
            .split_whitespace()
            .filter_map(|c| c.parse::<u64>().ok())
            .sum();
        let elapsed = started.elapsed().as_secs_f64();
        assert!(
            attempts >= 1 && attempts as f64 <= 2.0 + (elapsed + 1.0).log2(),
            "{attempts} attempts in {elapsed:.1} s"
        );

        // Cure 1: a higher limit (kubectl set resources = strategic merge patch).
        k.ok("set resources deploy/worker -c worker --limits=memory=256Mi");
        k.ok("rollout status deploy/worker --timeout=30s");
        let healthy = k.ok("get pods -l app=worker");
        assert!(healthy.contains("1/1     Running   0"), "{healthy}");
        // Cure 2: roll back to the revision that did not leak (1.4.1).
        k.ok("rollout undo deploy/worker --to-revision=1");
        k.ok("rollout status deploy/worker --timeout=30s");
        let image = k.ok("get deploy worker -o jsonpath={.spec.template.spec.containers[0].image}");
        assert_eq!(image, "shop/worker:1.4.1");
    })
    .await
    .unwrap();
    drop(sb);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_resources_are_served_once_defined() {
    let sb = sandbox().await;
    let k = Kubectl::new(&sb);
    let crd = serde_json::json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": { "name": "canaries.rollouts.example.com" },
        "spec": { "group": "rollouts.example.com", "scope": "Namespaced",
            "names": { "plural": "canaries", "singular": "canary", "kind": "Canary", "shortNames": ["cn"] },
            "versions": [{ "name": "v1", "served": true, "storage": true,
                "schema": { "openAPIV3Schema": { "type": "object", "properties": { "spec": { "type": "object", "properties": {
                    "target": { "type": "string", "description": "The Deployment it shifts traffic to" },
                    "weight": { "type": "integer" } } } } } } }] }
    });
    let canary = serde_json::json!({
        "apiVersion": "rollouts.example.com/v1", "kind": "Canary",
        "metadata": { "name": "web-canary", "namespace": "shop" },
        "spec": { "target": "web", "weight": 10 }
    });
    std::fs::write(k.dir.join("crd.json"), crd.to_string()).unwrap();
    std::fs::write(k.dir.join("canary.json"), canary.to_string()).unwrap();
    tokio::task::spawn_blocking(move || {
        let (ok, _, err) = k.run("get canaries");
        assert!(!ok && err.contains("the server doesn't have a resource type \"canaries\""), "{err}");
        k.ok(&format!("create -f {}", k.dir.join("crd.json").display()));
        let established = k.ok("get crd canaries.rollouts.example.com -o jsonpath={.status.conditions[?(@.type==\"Established\")].status}");
        assert_eq!(established, "True");
        // Its OpenAPI document comes from the CRD's schema: validation by the server, explain.
        k.ok(&format!("create -f {}", k.dir.join("canary.json").display()));
        let got = k.ok("get cn");
        assert!(got.contains("web-canary"), "{got}");
        assert_eq!(k.ok("get canary web-canary -o jsonpath={.spec.weight}"), "10");
        let explained = k.ok("explain canary.spec");
        assert!(explained.contains("GROUP:      rollouts.example.com") && explained.contains("target\t<string>"), "{explained}");
        let typo = k.dir.join("typo.json");
        std::fs::write(&typo, canary.to_string().replace("\"weight\"", "\"wieght\"")).unwrap();
        let (ok, _, err) = k.run(&format!("apply -f {}", typo.display()));
        assert!(!ok && err.contains("strict decoding error: unknown field \"spec.wieght\""), "{err}");
    })
    .await
    .unwrap();
    drop(sb);
}

const MANIFESTS: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  level: info
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 1
  selector:
    matchLabels: { app: api }
  template:
    metadata:
      labels: { app: api }
    spec:
      containers:
        - name: api
          image: shop/api:1.0
          env:
            - { name: MODE, value: live }
          ports:
            - containerPort: 8080
"#;

/// `kubectl apply`, `diff` and `explain` read the OpenAPI documents: apply validates through
/// the server (`fieldValidation=Strict`, which the v3 document says the server supports) and
/// merges the containers' lists by their keys; diff shows only what would change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_diff_and_explain_read_the_openapi_documents() {
    let sb = sandbox().await;
    let k = Kubectl::new(&sb);
    tokio::task::spawn_blocking(move || {
        let file = k.dir.join("manifests.yaml");
        std::fs::write(&file, MANIFESTS).unwrap();
        let applied = k.ok(&format!("apply -n shop -f {}", file.display()));
        assert_eq!(applied, "configmap/settings created\ndeployment.apps/api created\n");

        let changed = MANIFESTS
            .replace("level: info", "level: debug")
            .replace("shop/api:1.0", "shop/api:1.1")
            .replace("{ name: MODE, value: live }", "{ name: MODE, value: live }\n            - { name: TRACE, value: \"1\" }");
        std::fs::write(&file, &changed).unwrap();
        // diff exits 1 when something would change.
        let (same, diff, err) = k.run(&format!("diff -n shop -f {}", file.display()));
        assert!(!same && err.is_empty(), "{err}");
        for line in ["-  level: info", "+  level: debug", "-        image: shop/api:1.0", "+        image: shop/api:1.1", "+        - name: TRACE"] {
            assert!(diff.contains(line), "{line} in {diff}");
        }
        let changed_lines = |field: &str| {
            diff.lines()
                .any(|l| (l.starts_with("- ") || l.starts_with("+ ")) && l.contains(field))
        };
        assert!(!changed_lines("resourceVersion"), "a dry run keeps the version: {diff}");

        let applied = k.ok(&format!("apply -n shop -f {}", file.display()));
        assert_eq!(applied, "configmap/settings configured\ndeployment.apps/api configured\n");
        let spec = k.ok("get deploy api -n shop -o jsonpath={.spec.template.spec.containers[0].image},{.spec.template.spec.containers[0].env[*].name},{.spec.template.spec.containers[0].ports[0].containerPort}");
        assert_eq!(spec, "shop/api:1.1,MODE TRACE,8080");
        let (same, _, _) = k.run(&format!("diff -n shop -f {}", file.display()));
        assert!(same, "nothing left to change");

        // A field the type does not have is refused by the server, with its path.
        std::fs::write(&file, changed.replace("replicas: 1", "replicas: 1\n  replicass: 2")).unwrap();
        let (ok, _, err) = k.run(&format!("apply -n shop -f {}", file.display()));
        assert!(!ok && err.contains("strict decoding error: unknown field \"spec.replicass\""), "{err}");

        let explained = k.ok("explain deployment.spec.template.spec.containers.ports");
        assert!(explained.contains("KIND:       Deployment") && explained.contains("FIELD: ports <[]ContainerPort>"), "{explained}");
        assert!(explained.contains("containerPort\t<integer> -required-"), "{explained}");
    })
    .await
    .unwrap();
    drop(sb);
}

/// `kubectl apply --server-side`: the sandbox merges each manager's configuration, keeps
/// `managedFields` per manager, removes what a manager stops applying, and refuses to change a
/// field another manager set (here the incident's memory limit, from the team's client-side
/// apply) unless forced; `--dry-run=server` changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_tracks_managers_and_their_conflicts() {
    let sb = incident().await;
    let k = Kubectl::new(&sb);
    tokio::task::spawn_blocking(move || {
        let file = k.dir.join("cm.yaml");
        let config = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: flags\n  namespace: shop\ndata:\n  a: \"1\"\n  b: \"2\"\n";
        std::fs::write(&file, config).unwrap();
        let applied = k.ok(&format!("apply --server-side -f {}", file.display()));
        assert_eq!(applied, "configmap/flags serverside-applied\n");
        let managers = k.ok("get cm flags -n shop --show-managed-fields -o jsonpath={.metadata.managedFields[*].manager}/{.metadata.managedFields[*].operation}");
        assert_eq!(managers, "kubectl/Apply");

        // `b` is no longer applied: it goes; `c` is new.
        std::fs::write(&file, config.replace("b: \"2\"", "c: \"3\"")).unwrap();
        k.ok(&format!("apply --server-side -f {}", file.display()));
        assert_eq!(k.ok("get cm flags -n shop -o jsonpath={.data}"), r#"{"a":"1","c":"3"}"#);

        // The worker's limit belongs to the team's client-side apply.
        let limit = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: worker\n  namespace: shop\nspec:\n  template:\n    spec:\n      containers:\n      - name: worker\n        resources:\n          limits:\n            memory: 256Mi\n";
        std::fs::write(&file, limit).unwrap();
        let (ok, _, err) = k.run(&format!("apply --server-side --field-manager=opsmcp -f {}", file.display()));
        assert!(!ok, "a conflict refuses the apply");
        assert!(err.contains(r#"Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.template.spec.containers[name="worker"].resources.limits.memory"#), "{err}");
        let memory = "get deploy worker -n shop -o jsonpath={.spec.template.spec.containers[0].resources.limits.memory}";
        let dry = k.ok(&format!("apply --server-side --field-manager=opsmcp --force-conflicts --dry-run=server -o jsonpath={{.spec.template.spec.containers[0].resources.limits.memory}} -f {}", file.display()));
        assert_eq!((dry.as_str(), k.ok(memory).as_str()), ("256Mi", "64Mi"), "a dry run changes nothing");

        k.ok(&format!("apply --server-side --field-manager=opsmcp --force-conflicts -f {}", file.display()));
        assert_eq!(k.ok(memory), "256Mi");
        // The rest of the container (image, requests) is untouched and still the team's.
        let resources = k.ok("get deploy worker -n shop -o jsonpath={.spec.template.spec.containers[0].image},{.spec.template.spec.containers[0].resources.requests.memory}");
        assert_eq!(resources, "shop/worker:1.4.2,32Mi");
        let owners = k.ok("get deploy worker -n shop --show-managed-fields -o jsonpath={.metadata.managedFields[*].manager}");
        assert_eq!(owners, "kubectl-client-side-apply opsmcp");
    })
    .await
    .unwrap();
    drop(sb);
}

/// Users and RBAC: the kubeconfig's administrator may do anything, its read-only user (context
/// `sandbox-view`, bound to `view`) reads workloads but not secrets or nodes and changes
/// nothing, with the API server's Forbidden messages; `auth can-i` and `auth whoami` answer
/// from the same rules, and a RoleBinding the administrator adds takes effect at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_authorized_by_their_roles() {
    let sb = incident().await;
    let k = Kubectl::new(&sb);
    tokio::task::spawn_blocking(move || {
        let whoami = k.ok("auth whoami");
        assert!(whoami.contains("sandbox-admin") && whoami.contains("system:masters"), "{whoami}");
        assert_eq!(k.ok("auth can-i delete nodes"), "yes\n");
        let view = "--context sandbox-view";
        assert!(k.ok(&format!("{view} auth whoami")).contains("sandbox-viewer"));
        assert!(k.ok(&format!("{view} get pods")).contains("worker-"));
        assert_eq!(k.run(&format!("{view} auth can-i patch deployments")).1, "no\n");
        let (ok, _, err) = k.run(&format!("{view} scale deployment worker --replicas=2"));
        assert!(!ok && err.contains(r#"deployments.apps "worker" is forbidden: User "sandbox-viewer" cannot patch resource "deployments/scale" in API group "apps" in the namespace "shop""#), "{err}");
        let (ok, _, err) = k.run(&format!("{view} get secrets"));
        assert!(!ok && err.contains(r#"cannot list resource "secrets" in API group "" in the namespace "shop""#), "{err}");
        let (ok, _, err) = k.run(&format!("{view} get nodes"));
        assert!(!ok && err.contains("at the cluster scope"), "{err}");
        let rules = k.ok(&format!("{view} auth can-i --list"));
        assert!(rules.lines().any(|l| l.starts_with("deployments.apps ") && l.ends_with("[get list watch]")), "{rules}");

        // The administrator lets the viewer annotate deployments in shop.
        let file = k.dir.join("rbac.yaml");
        std::fs::write(&file, "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: annotator\n  namespace: shop\nrules:\n- apiGroups: [apps]\n  resources: [deployments]\n  verbs: [get, patch]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: annotator\n  namespace: shop\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  name: annotator\nsubjects:\n- apiGroup: rbac.authorization.k8s.io\n  kind: User\n  name: sandbox-viewer\n").unwrap();
        k.ok(&format!("apply -f {}", file.display()));
        assert_eq!(k.ok(&format!("{view} auth can-i patch deployments")), "yes\n");
        assert_eq!(k.run(&format!("{view} auth can-i patch deployments -n default")).1, "no\n");
        k.ok(&format!("{view} annotate deployment worker oncall=checked"));

        // A token the cluster does not know is refused before anything else.
        let bad = k.dir.join("bad.kubeconfig");
        let text = std::fs::read_to_string(&k.kubeconfig).unwrap();
        let token = text.lines().find_map(|l| l.trim().strip_prefix("token: ")).unwrap();
        std::fs::write(&bad, text.replace(token, "not-a-token")).unwrap();
        let (ok, _, err) = k.run(&format!("--kubeconfig {} get pods", bad.display()));
        assert!(!ok && err.contains("Unauthorized"), "{err}");
    })
    .await
    .unwrap();
    drop(sb);
}

/// Node operations: every node has a Lease the kubelet renews (`describe node` shows it);
/// `cordon` keeps new pods off a node (the scheduler skips it, the lifecycle controller taints
/// it); `drain` evicts its pods through `pods/eviction`, which a PodDisruptionBudget refuses
/// with 429 while it has no disruption to spare, and the evicted pods come back elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cordon_and_drain_respect_disruption_budgets() {
    let sb = incident().await;
    let k = Kubectl::new(&sb);
    tokio::task::spawn_blocking(move || {
        let described = k.eventually("describe node node-a", |o| o.contains("HolderIdentity:  node-a"));
        assert!(described.contains("RenewTime:"), "{described}");
        assert!(k.ok("get lease -n kube-node-lease").contains("node-b   node-b"));

        let file = k.dir.join("pdb.yaml");
        let pdb = "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  minAvailable: 2\n  selector:\n    matchLabels:\n      app: web\n";
        std::fs::write(&file, pdb).unwrap();
        k.ok(&format!("apply -f {}", file.display()));
        k.eventually("get pdb web", |o| o.contains("web    2               N/A               0"));

        assert_eq!(k.ok("cordon node-a"), "node/node-a cordoned\n");
        assert!(k.ok("get nodes").contains("node-a   Ready,SchedulingDisabled"));
        k.eventually("get node node-a -o jsonpath={.spec.taints[*].key}", |o| o == "node.kubernetes.io/unschedulable");
        // The budget holds the web pod on node-a; drain gives up after its timeout.
        let (ok, _, err) = k.run("drain node-a --ignore-daemonsets --delete-emptydir-data --timeout=6s");
        assert!(!ok && err.contains("Cannot evict pod as it would violate the pod's disruption budget."), "{err}");
        // With room in the budget, drain empties the node; every pod now runs on node-b.
        std::fs::write(&file, pdb.replace("minAvailable: 2", "minAvailable: 1")).unwrap();
        k.ok(&format!("apply -f {}", file.display()));
        let drained = k.ok("drain node-a --ignore-daemonsets --delete-emptydir-data --timeout=40s");
        assert!(drained.ends_with("node/node-a drained\n"), "{drained}");
        let placed = k.eventually("get pods -l app=web -o jsonpath={.items[*].spec.nodeName}", |o| o == "node-b node-b");
        assert_eq!(placed, "node-b node-b");
        assert!(k.ok("get pods --field-selector spec.nodeName=node-a -o name").is_empty());
        assert_eq!(k.ok("uncordon node-a"), "node/node-a uncordoned\n");
        assert!(k.ok("get node node-a").contains("node-a   Ready   "));
    })
    .await
    .unwrap();
    drop(sb);
}

/// `kubectl exec` over the WebSocket protocol: the simulated container answers `env`, `cat` of
/// a mounted ConfigMap file and of its cgroup memory files, `ps` and `free` from its pod and
/// simulated memory, fails `sh` as a distroless image does, ends with the command's exit code,
/// and the read-only user may not exec at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_runs_the_simulated_containers_commands() {
    let sb = incident().await;
    let k = Kubectl::new(&sb);
    tokio::task::spawn_blocking(move || {
        let file = k.dir.join("app.yaml");
        std::fs::write(&file, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: api-config\ndata:\n  app.yaml: |\n    level: debug\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  selector:\n    matchLabels: {app: api}\n  template:\n    metadata:\n      labels: {app: api}\n    spec:\n      containers:\n      - name: api\n        image: shop/api:1.0\n        env:\n        - {name: MODE, value: live}\n        resources:\n          limits: {memory: 128Mi}\n        volumeMounts:\n        - {name: config, mountPath: /etc/api}\n      volumes:\n      - name: config\n        configMap: {name: api-config}\n").unwrap();
        k.ok(&format!("apply -n shop -f {}", file.display()));
        k.eventually("get pods -l app=api", |o| o.contains("1/1     Running"));
        let env = k.ok("exec deploy/api -- env");
        assert!(env.contains("MODE=live\n") && env.contains("HOSTNAME=api-"), "{env}");
        assert_eq!(k.ok("exec deploy/api -- cat /etc/api/app.yaml"), "level: debug\n");
        assert_eq!(k.ok("exec deploy/api -- ls /etc/api"), "app.yaml\n");
        let cgroup = k.ok("exec deploy/api -- cat /sys/fs/cgroup/memory.current /sys/fs/cgroup/memory.max");
        let lines: Vec<u64> = cgroup.lines().map(|l| l.parse().unwrap()).collect();
        assert!(lines[0] > 0 && lines[1] == 128 * 1024 * 1024, "{cgroup}");
        let ps = k.ok("exec deploy/api -- ps aux");
        assert!(ps.lines().nth(1).is_some_and(|l| l.starts_with("root           1 ") && l.ends_with("/usr/local/bin/api")), "{ps}");
        assert!(k.ok("exec deploy/api -- free -m").contains("Mem:           16009"));

        let (ok, _, err) = k.run("exec deploy/api -- cat /etc/nothing");
        assert!(!ok && err.contains("cat: /etc/nothing: No such file or directory") && err.contains("command terminated with exit code 1"), "{err}");
        let (ok, _, err) = k.run("exec deploy/api -- sh -c ls");
        assert!(!ok && err.contains("exec: \"sh\": executable file not found in $PATH"), "{err}");
        let (ok, _, err) = k.run("--context sandbox-view exec deploy/api -- env");
        assert!(!ok && err.contains("cannot create resource \"pods/exec\""), "{err}");
    })
    .await
    .unwrap();
    drop(sb);
}

/// `nodes/<node>/proxy` reaches the kubelet: its Summary API (the node's and each running
/// container's memory, with what is left under a limit) and its kernel log, where the OOM
/// killer's lines about the worker are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubelet_answers_through_the_node_proxy() {
    let sb = incident().await;
    let k = Kubectl::new(&sb);
    tokio::task::spawn_blocking(move || {
        let node = k.ok("get pods -l app=worker -o jsonpath={.items[0].spec.nodeName}");
        let summary: serde_json::Value = serde_json::from_str(&k.ok(&format!(
            "get --raw /api/v1/nodes/{node}/proxy/stats/summary"
        )))
        .unwrap();
        assert_eq!(summary["node"]["nodeName"], node.as_str());
        assert!(
            summary["node"]["memory"]["workingSetBytes"]
                .as_u64()
                .unwrap()
                > 0
        );
        let pods = summary["pods"].as_array().unwrap();
        assert!(
            !pods.is_empty() && pods.iter().all(|p| p["podRef"]["namespace"].is_string()),
            "{summary}"
        );
        let kern = k.ok(&format!(
            "get --raw /api/v1/nodes/{node}/proxy/logs/kern.log"
        ));
        assert!(
            kern.lines().any(|l| l.contains(&format!(
                "{node} kernel: Memory cgroup out of memory: Killed process"
            )) && l.contains("(worker)")),
            "{kern}"
        );
        assert!(
            k.ok(&format!("get --raw /api/v1/nodes/{node}/proxy/logs/"))
                .contains("kern.log")
        );
        let (ok, _, err) = k.run(&format!(
            "--context sandbox-view get --raw /api/v1/nodes/{node}/proxy/stats/summary"
        ));
        assert!(
            !ok && err.contains("cannot get resource \"nodes/proxy\""),
            "{err}"
        );
    })
    .await
    .unwrap();
    drop(sb);
}
