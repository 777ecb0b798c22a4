//! What the gateway does around a call, with the real servers against the sandbox: answers of
//! read-only tools cached per call and errors never, a fresh answer on request, a failed read
//! answered by its configured fallback or by an older answer marked with its age (the upstream
//! killed and unable to start again), and every call in the history and the metrics.

mod common;

use std::time::Duration;

use common::{environment, start, upstreams};
use opsmcp_e2e::{TempDir, binary, mcp::ToolClient, process::signal};
use opsmcp_gateway::config;
use opsmcp_sandbox::Sandbox;
use rmcp::model::{CallToolRequestParams, ReadResourceRequestParams, RequestMetaObject};
use serde_json::{Value, json};

fn text(result: &impl serde::Serialize) -> (bool, String) {
    let value = serde_json::to_value(result).unwrap();
    let text = value["content"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n");
    (value["isError"] == true, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_are_cached_errors_never_and_failures_answered_by_fallback_or_cache() {
    let sandbox = Sandbox::incident().await.unwrap();
    let dir = TempDir::new("gateway-pipeline").unwrap();
    let flag = dir.path().join("loki-may-start");
    std::fs::write(&flag, "").unwrap();
    // Loki through a wrapper that starts it only while the flag exists: once the flag is gone
    // and the process killed, the upstream cannot come back.
    let loki = format!(
        "[[upstream]]\nname = \"loki\"\nopsmcp = true\ncommand = \"/bin/sh\"\nargs = [\"-c\", {:?}]\nenv = {{ {} }}\n",
        format!(
            "test -e '{}' && exec '{}'",
            flag.display(),
            binary("opsmcp-loki").display()
        ),
        environment(&sandbox, dir.path(), &[])
    );
    let file = upstreams(&sandbox, dir.path(), &["kubernetes", "prometheus"], &[])
        + &loki
        + "[cache]\nttl = { logs_labels = \"1s\" }\n\
           [[fallback]]\ntool = \"pod_resources\"\nwith = \"top_pods\"\narguments = { namespace = \"${input.namespace}\" }\n";
    let gateway = start(config::parse(&file).unwrap());
    let client = ToolClient::in_process(gateway.clone(), Duration::from_secs(10))
        .await
        .client;
    let call = |name: &'static str, arguments: Value, bypass: bool| {
        let client = &client;
        async move {
            let mut params = CallToolRequestParams::new(name)
                .with_arguments(arguments.as_object().unwrap().clone());
            if bypass {
                let mut meta = RequestMetaObject::new();
                meta.insert("opsmcp/cache".into(), json!("bypass"));
                params.meta = Some(meta);
            }
            text(&client.call_tool(params).await.unwrap())
        }
    };

    // A read twice: the second is the cache's; a fresh one on request.
    let first = call("pods_list", json!({ "namespace": "shop" }), false).await;
    let second = call("pods_list", json!({ "namespace": "shop" }), false).await;
    assert!(!first.0 && first.1.contains("worker-"), "{first:?}");
    assert_eq!(first, second);
    let fresh = call("pods_list", json!({ "namespace": "shop" }), true).await;
    assert!(!fresh.0, "{fresh:?}");
    // An error twice: never kept (Prometheus is at a closed port).
    for _ in 0..2 {
        let (is_error, said) = call("query_instant", json!({ "query": "up" }), false).await;
        assert!(is_error && said.contains("127.0.0.1:9"), "{said}");
    }

    // Prometheus cannot answer pod_resources: its fallback, top_pods, does, and says so.
    let (is_error, said) = call("pod_resources", json!({ "namespace": "shop" }), false).await;
    assert!(!is_error, "{said}");
    assert!(
        said.starts_with("[pod_resources failed (")
            && said.contains("answered by its fallback top_pods instead]"),
        "{said}"
    );
    assert!(said.contains("worker-"), "{said}");

    // Loki answers, then dies and cannot start again: its older answer stands in, marked.
    let (is_error, labels) = call("logs_labels", json!({}), false).await;
    assert!(!is_error && labels.contains("namespace"), "{labels}");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    std::fs::remove_file(&flag).unwrap();
    let pid = gateway.upstreams()[2].status().await.pid.unwrap();
    signal(pid, "KILL").unwrap();
    let (is_error, stale) = call("logs_labels", json!({}), false).await;
    assert!(!is_error, "{stale}");
    assert!(
        stale.starts_with(
            "[the gateway's cached answer from 1 s ago; the fresh call failed: upstream loki"
        ),
        "{stale}"
    );
    assert!(stale.ends_with(&labels), "{stale}");

    // The history has every call, newest first.
    let (_, history) = call("history", json!({ "limit": 20 }), false).await;
    let lines: Vec<&str> = history.lines().filter(|l| l.starts_with('#')).collect();
    let expect = [
        ("loki/logs_labels", "Ok cache=Stale"),
        ("loki/logs_labels", "Ok cache=Miss"),
        ("prometheus/pod_resources", "Ok fallback=top_pods"),
        ("prometheus/query_instant", "ToolError cache=Miss"),
        ("prometheus/query_instant", "ToolError cache=Miss"),
        ("kubernetes/pods_list", "Ok cache=Bypass"),
        ("kubernetes/pods_list", "Ok cache=Hit"),
        ("kubernetes/pods_list", "Ok cache=Miss"),
    ];
    assert_eq!(lines.len(), expect.len(), "{history}");
    for (line, (call, outcome)) in lines.iter().zip(expect) {
        let (outcome, extra) = outcome.split_once(' ').unwrap_or((outcome, ""));
        assert!(
            line.contains(&format!(" {call} {outcome} ")) && line.contains(extra),
            "{line} (expected {call} {outcome} {extra})"
        );
    }
    assert!(
        lines[0].contains("retries="),
        "a dead upstream's read is retried: {}",
        lines[0]
    );

    // And the metrics.
    let metrics = client
        .read_resource(ReadResourceRequestParams::new("opsmcp://metrics"))
        .await
        .unwrap();
    let metrics = serde_json::to_value(&metrics).unwrap()["contents"][0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    for line in [
        "opsmcp_gateway_cache_lookups_total{tool=\"pods_list\",result=\"hit\"} 1",
        "opsmcp_gateway_cache_lookups_total{tool=\"logs_labels\",result=\"stale\"} 1",
        "opsmcp_gateway_fallbacks_total{tool=\"pod_resources\",fallback=\"top_pods\"} 1",
        "opsmcp_tool_calls_total{tool=\"query_instant\",outcome=\"tool_error\"} 2",
        "opsmcp_backend_retries_total{backend=\"loki\"}",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
}
