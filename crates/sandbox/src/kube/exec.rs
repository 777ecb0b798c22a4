//! `pods/<name>/exec` over the WebSocket subprotocol kubectl speaks (`v5.channel.k8s.io`, or
//! v4): a frame's first byte names its stream (1 stdout, 2 stderr, 3 the closing `Status`).
//! The simulated container answers the few commands diagnostics agents run — `env` and
//! `printenv`, `cat` and `ls` of what it mounts (ConfigMap and Secret volumes) and of its cgroup
//! memory files, `ps`, `free`, `hostname`, `date` — from the pod's spec, the objects it uses
//! and its simulated memory. It is not a shell: anything else fails as a distroless image's
//! runtime fails it.

use std::collections::BTreeMap;

use axum::{
    extract::ws::{Message, WebSocket, WebSocketUpgrade},
    response::Response,
};
use base64::Engine;
use serde_json::{Value, json};

use super::{
    cluster::{Cluster, node_usage},
    quantity,
    resources::find,
    store::{ApiError, Store, container_running, pod_container},
};

/// What a command wrote and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub exit: i32,
}

impl Output {
    fn ok(stdout: impl Into<String>) -> Self {
        Self {
            stdout: stdout.into(),
            stderr: String::new(),
            exit: 0,
        }
    }

    fn fail(stderr: impl Into<String>, exit: i32) -> Self {
        Self {
            stdout: String::new(),
            stderr: stderr.into(),
            exit,
        }
    }
}

/// Why a command did not run at all (the runtime's failure, sent as the closing `Status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotFound(pub String);

/// The container `container` (or the pod's only one) of a running pod; the API's error
/// before any upgrade otherwise.
pub fn container_of(
    store: &Store,
    ns: &str,
    pod: &str,
    container: Option<&str>,
) -> Result<(Value, String), ApiError> {
    let (object, name) = pod_container(store, ns, pod, container)?;
    if !container_running(&object, &name) {
        return Err(ApiError {
            code: 500,
            reason: "InternalError",
            message: format!(
                "Internal error occurred: unable to upgrade connection: container not found (\"{name}\")"
            ),
            causes: Vec::new(),
        });
    }
    Ok((object, name))
}

/// The container's spec.
fn spec<'a>(pod: &'a Value, container: &str) -> &'a Value {
    pod.pointer("/spec/containers")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["name"] == container))
        .unwrap_or(&Value::Null)
}

/// A ConfigMap's data, or a Secret's decoded, by name.
fn data_of(store: &Store, ns: &str, kind: &str, name: &str) -> BTreeMap<String, String> {
    let (plural, field) = if kind == "Secret" {
        ("secrets", "data")
    } else {
        ("configmaps", "data")
    };
    let t = find("", "v1", plural).expect("served");
    let Some(object) = store.get(t, ns, name) else {
        return BTreeMap::new();
    };
    object[field]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| {
            let v = v.as_str()?;
            let text = if kind == "Secret" {
                String::from_utf8(base64::engine::general_purpose::STANDARD.decode(v).ok()?).ok()?
            } else {
                v.to_owned()
            };
            Some((k.clone(), text))
        })
        .collect()
}

/// The container's environment, as the kubelet builds it.
fn environment(store: &Store, pod: &Value, container: &str) -> Vec<(String, String)> {
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or_default();
    let c = spec(pod, container);
    let mut env = vec![
        (
            "PATH".to_owned(),
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned(),
        ),
        (
            "HOSTNAME".to_owned(),
            pod["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        ),
    ];
    for from in c["envFrom"].as_array().into_iter().flatten() {
        let prefix = from["prefix"].as_str().unwrap_or_default();
        let (kind, name) = if let Some(r) = from.get("configMapRef") {
            ("ConfigMap", r["name"].as_str())
        } else {
            ("Secret", from["secretRef"]["name"].as_str())
        };
        for (k, v) in data_of(store, ns, kind, name.unwrap_or_default()) {
            env.push((format!("{prefix}{k}"), v));
        }
    }
    for e in c["env"].as_array().into_iter().flatten() {
        let name = e["name"].as_str().unwrap_or_default().to_owned();
        let from = &e["valueFrom"];
        let value = if let Some(v) = e["value"].as_str() {
            v.to_owned()
        } else if let Some(r) = from.get("configMapKeyRef") {
            data_of(
                store,
                ns,
                "ConfigMap",
                r["name"].as_str().unwrap_or_default(),
            )
            .remove(r["key"].as_str().unwrap_or_default())
            .unwrap_or_default()
        } else if let Some(r) = from.get("secretKeyRef") {
            data_of(store, ns, "Secret", r["name"].as_str().unwrap_or_default())
                .remove(r["key"].as_str().unwrap_or_default())
                .unwrap_or_default()
        } else if let Some(path) = from.pointer("/fieldRef/fieldPath").and_then(Value::as_str) {
            let pointer = format!("/{}", path.replace('.', "/"));
            pod.pointer(&pointer)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        } else if let Some(r) = from
            .pointer("/resourceFieldRef/resource")
            .and_then(Value::as_str)
        {
            let (kind, resource) = r.split_once('.').unwrap_or(("limits", r));
            c.pointer(&format!("/resources/{kind}/{resource}"))
                .and_then(Value::as_str)
                .and_then(quantity::bytes)
                .map(|b| b.to_string())
                .unwrap_or_default()
        } else {
            String::new()
        };
        env.push((name, value));
    }
    env.extend(
        [
            ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
            ("KUBERNETES_SERVICE_PORT", "443"),
            ("KUBERNETES_PORT", "tcp://10.96.0.1:443"),
            ("HOME", "/root"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    env
}

/// The files the container mounts: path → content.
fn files(store: &Store, pod: &Value, container: &str) -> BTreeMap<String, String> {
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or_default();
    let volumes = pod.pointer("/spec/volumes").and_then(Value::as_array);
    let mut out = BTreeMap::new();
    for mount in spec(pod, container)["volumeMounts"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let Some(volume) = volumes
            .into_iter()
            .flatten()
            .find(|v| v["name"] == mount["name"])
        else {
            continue;
        };
        let (kind, source) = if let Some(cm) = volume.get("configMap") {
            ("ConfigMap", cm)
        } else if let Some(secret) = volume.get("secret") {
            ("Secret", secret)
        } else {
            continue;
        };
        let name = source["name"]
            .as_str()
            .or_else(|| source["secretName"].as_str())
            .unwrap_or_default();
        let data = data_of(store, ns, kind, name);
        let mount_path = mount["mountPath"]
            .as_str()
            .unwrap_or_default()
            .trim_end_matches('/');
        let items: Vec<(String, String)> = match source["items"].as_array() {
            Some(items) => items
                .iter()
                .filter_map(|i| {
                    Some((
                        i["key"].as_str()?.to_owned(),
                        i["path"].as_str()?.to_owned(),
                    ))
                })
                .collect(),
            None => data.keys().map(|k| (k.clone(), k.clone())).collect(),
        };
        if let Some(sub) = mount["subPath"].as_str() {
            if let Some((key, _)) = items.iter().find(|(_, path)| path == sub) {
                out.insert(
                    mount_path.to_owned(),
                    data.get(key).cloned().unwrap_or_default(),
                );
            }
            continue;
        }
        for (key, path) in items {
            if let Some(content) = data.get(&key) {
                out.insert(format!("{mount_path}/{path}"), content.clone());
            }
        }
    }
    out
}

fn with_newline(mut s: String) -> String {
    if !s.is_empty() && !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// Run `argv` in the simulated container.
pub fn run(
    cluster: &Cluster,
    pod: &Value,
    container: &str,
    argv: &[String],
) -> Result<Output, NotFound> {
    let ns = pod["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let pod_name = pod["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let store = cluster.store();
    let sims = cluster.containers();
    let sim = sims
        .get(&(ns.clone(), pod_name.clone(), container.to_owned()))
        .cloned()
        .unwrap_or_default();
    let limit = spec(pod, container)
        .pointer("/resources/limits/memory")
        .and_then(Value::as_str)
        .and_then(quantity::bytes);
    let args: Vec<&str> = argv.iter().skip(1).map(String::as_str).collect();
    let program = argv.first().map_or("", String::as_str);
    let program = program.rsplit('/').next().unwrap_or(program);
    Ok(match program {
        "env" | "printenv" => {
            let env = environment(&store, pod, container);
            match args.first() {
                Some(name) => match env.iter().rev().find(|(k, _)| k == name) {
                    Some((_, v)) => Output::ok(format!("{v}\n")),
                    None => Output::fail("", 1),
                },
                None => Output::ok(env.iter().map(|(k, v)| format!("{k}={v}\n")).collect::<String>()),
            }
        }
        "cat" => {
            let files = files(&store, pod, container);
            let mut out = Output::ok("");
            for path in args {
                let content = match path {
                    "/sys/fs/cgroup/memory.current" => Some(format!("{}\n", sim.memory)),
                    "/sys/fs/cgroup/memory.max" => {
                        Some(limit.map_or_else(|| "max\n".to_owned(), |l| format!("{l}\n")))
                    }
                    _ => files.get(path).cloned(),
                };
                match content {
                    Some(c) => out.stdout.push_str(&c),
                    None => {
                        out.stderr
                            .push_str(&format!("cat: {path}: No such file or directory\n"));
                        out.exit = 1;
                    }
                }
            }
            out
        }
        "ls" => {
            let files = files(&store, pod, container);
            let dir = args
                .iter()
                .find(|a| !a.starts_with('-'))
                .map_or("/", |d| d.trim_end_matches('/'));
            let entries: Vec<&str> = files
                .keys()
                .filter_map(|p| p.strip_prefix(dir)?.strip_prefix('/'))
                .filter(|rest| !rest.contains('/'))
                .collect();
            if entries.is_empty() {
                Output::fail(format!("ls: cannot access '{dir}': No such file or directory\n"), 2)
            } else {
                Output::ok(entries.iter().map(|e| format!("{e}\n")).collect::<String>())
            }
        }
        "ps" => {
            let started = sim.started_at.unwrap_or_else(|| jiff::Timestamp::now().as_second());
            let start = jiff::Timestamp::from_second(started)
                .map(|t| t.strftime("%H:%M").to_string())
                .unwrap_or_default();
            let uptime = (jiff::Timestamp::now().as_second() - started).max(0) as u64;
            let cpu_secs = sim.cpu_millis * uptime / 1000;
            let node_total = node_memory(&store, pod);
            let mem_pct = if node_total > 0 { sim.memory as f64 * 100.0 / node_total as f64 } else { 0.0 };
            let c = spec(pod, container);
            let command: Vec<&str> = c["command"]
                .as_array()
                .into_iter()
                .chain(c["args"].as_array())
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let image = c["image"].as_str().unwrap_or_default();
            let binary = image.rsplit('/').next().unwrap_or(image).split(':').next().unwrap_or_default();
            let command = if command.is_empty() { format!("/usr/local/bin/{binary}") } else { command.join(" ") };
            let rss = sim.memory / 1024;
            Output::ok(format!(
                "USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND\nroot           1 {:>4.1} {mem_pct:>4.1} {:>6} {rss:>5} ?        Ssl  {start:>5} {:>3}:{:02} {command}\nroot {:>11}  0.0  0.0   2580   896 ?        Rs   {:>5}   0:00 {}\n",
                sim.cpu_millis as f64 / 10.0,
                rss + 650_000,
                cpu_secs / 60,
                cpu_secs % 60,
                7 + uptime % 90,
                jiff::Timestamp::now().strftime("%H:%M"),
                argv.join(" "),
            ))
        }
        "free" => {
            // Inside a container `free` reads the node's /proc/meminfo, not the cgroup.
            let node = pod.pointer("/spec/nodeName").and_then(Value::as_str).unwrap_or_default();
            let total = node_memory(&store, pod);
            let (_, used) = node_usage(&store, &sims, node);
            let cache = total / 6;
            let free = total.saturating_sub(used + cache);
            let available = total.saturating_sub(used);
            let unit: u64 = match args.first().copied() {
                Some("-m" | "--mebi") => 1024 * 1024,
                Some("-g" | "--gibi") => 1024 * 1024 * 1024,
                Some("-b" | "--bytes") => 1,
                _ => 1024,
            };
            let v = |b: u64| b / unit;
            Output::ok(format!(
                "               total        used        free      shared  buff/cache   available\nMem:     {:>11} {:>11} {:>11} {:>11} {:>11} {:>11}\nSwap:    {:>11} {:>11} {:>11}\n",
                v(total), v(used), v(free), v(12 * 1024 * 1024), v(cache), v(available), 0, 0, 0
            ))
        }
        "hostname" => Output::ok(format!("{pod_name}\n")),
        "date" => Output::ok(format!("{}\n", jiff::Timestamp::now().strftime("%a %b %e %H:%M:%S UTC %Y"))),
        "true" => Output::ok(""),
        "false" => Output::fail("", 1),
        _ => {
            return Err(NotFound(format!(
                "Internal error occurred: error executing command in container: failed to exec in container: failed to start exec \"{}\": OCI runtime exec failed: exec failed: unable to start container process: exec: \"{program}\": executable file not found in $PATH: unknown",
                &sim.container_id.trim_start_matches("containerd://").chars().take(64).collect::<String>()
            )));
        }
    })
    .map(|mut o| {
        o.stdout = with_newline(o.stdout);
        o
    })
}

/// The memory capacity of the pod's node, in bytes.
fn node_memory(store: &Store, pod: &Value) -> u64 {
    let node_t = find("", "v1", "nodes").expect("nodes are served");
    pod.pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .and_then(|n| store.get(node_t, "", n))
        .and_then(|n| n.pointer("/status/capacity/memory"))
        .and_then(Value::as_str)
        .and_then(quantity::bytes)
        .unwrap_or(0)
}

/// The closing `Status` of a finished command.
fn status(argv: &[String], result: &Result<Output, NotFound>) -> Value {
    match result {
        Ok(o) if o.exit == 0 => json!({ "metadata": {}, "status": "Success" }),
        Ok(o) => json!({
            "metadata": {}, "status": "Failure",
            "message": format!("command terminated with non-zero exit code: error executing command [{}], exit code {}", argv.join(" "), o.exit),
            "reason": "NonZeroExitCode",
            "details": { "causes": [{ "reason": "ExitCode", "message": o.exit.to_string() }] },
        }),
        Err(NotFound(message)) => json!({
            "metadata": {}, "status": "Failure", "message": message, "reason": "InternalError",
            "details": { "causes": [{ "message": message }] }, "code": 500,
        }),
    }
}

/// How long the simulated runtime takes to start a process after the upgrade.
const PROCESS_START: std::time::Duration = std::time::Duration::from_millis(200);

/// The subprotocols spoken, best first.
pub const PROTOCOLS: [&str; 2] = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

/// Upgrade and answer `argv`'s result on the stream channels, then close.
pub fn serve(
    upgrade: WebSocketUpgrade,
    argv: Vec<String>,
    result: Result<Output, NotFound>,
) -> Response {
    upgrade
        .protocols(PROTOCOLS)
        .on_upgrade(move |mut socket: WebSocket| async move {
            // A container runtime takes tens of milliseconds to start the process after the
            // upgrade; kubectl registers its streams in that time (client-go starts reading
            // before it creates them, and drops frames of a stream it has not created yet).
            tokio::time::sleep(PROCESS_START).await;
            let frame = |channel: u8, data: &[u8]| {
                let mut bytes = Vec::with_capacity(data.len() + 1);
                bytes.push(channel);
                bytes.extend_from_slice(data);
                Message::Binary(bytes.into())
            };
            if let Ok(o) = &result {
                if !o.stdout.is_empty() && socket.send(frame(1, o.stdout.as_bytes())).await.is_err()
                {
                    return;
                }
                if !o.stderr.is_empty() && socket.send(frame(2, o.stderr.as_bytes())).await.is_err()
                {
                    return;
                }
            }
            let status = serde_json::to_vec(&status(&argv, &result)).unwrap_or_default();
            let _ = socket.send(frame(3, &status)).await;
            // A normal closure: kubectl reads it as the end of every stream.
            let _ = socket
                .send(Message::Close(Some(axum::extract::ws::CloseFrame {
                    code: axum::extract::ws::close_code::NORMAL,
                    reason: "".into(),
                })))
                .await;
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incident() -> Cluster {
        let cluster = Cluster::default();
        super::super::seed::baseline(&cluster);
        let scenario = crate::scenario::Scenario::parse(crate::scenario::INCIDENT).unwrap();
        let timeline = crate::timeline::Timeline::new(
            jiff::Timestamp::now().as_second(),
            Default::default(),
            &scenario.deploys,
        );
        scenario.kube.apply(&cluster, &timeline).unwrap();
        for _ in 0..3 {
            super::super::controller::reconcile(&cluster);
        }
        cluster
    }

    fn web_pod(cluster: &Cluster) -> Value {
        let t = find("", "v1", "pods").unwrap();
        cluster
            .store()
            .list(t, Some("shop"))
            .into_iter()
            .find(|p| p["metadata"]["labels"]["app"] == "web")
            .cloned()
            .unwrap()
    }

    fn argv(words: &str) -> Vec<String> {
        words.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn commands_answer_from_the_pod_and_its_simulation() {
        let cluster = incident();
        let pod = web_pod(&cluster);
        let hostname = run(&cluster, &pod, "web", &argv("hostname")).unwrap();
        assert_eq!(
            hostname.stdout,
            format!("{}\n", pod["metadata"]["name"].as_str().unwrap())
        );
        let env = run(&cluster, &pod, "web", &argv("env")).unwrap();
        assert!(
            env.stdout.contains("KUBERNETES_SERVICE_HOST=10.96.0.1\n"),
            "{}",
            env.stdout
        );
        let missing = run(&cluster, &pod, "web", &argv("cat /etc/nothing")).unwrap();
        assert_eq!(
            (missing.exit, missing.stderr.as_str()),
            (1, "cat: /etc/nothing: No such file or directory\n")
        );
        let free = run(&cluster, &pod, "web", &argv("free -m")).unwrap();
        assert!(
            free.stdout.starts_with("               total") && free.stdout.contains("Mem:"),
            "{}",
            free.stdout
        );
        let shell = run(&cluster, &pod, "web", &argv("sh -c ls"));
        assert!(
            matches!(&shell, Err(NotFound(m)) if m.contains("exec: \"sh\": executable file not found in $PATH")),
            "{shell:?}"
        );
        let failed = status(&argv("false"), &run(&cluster, &pod, "web", &argv("false")));
        assert_eq!(failed["reason"], "NonZeroExitCode");
    }
}
