//! Structured results through the gateway: a caller that asks (`_meta` `opsmcp/structured`)
//! gets each declaring tool's output schema in `tools/list`, and each call's
//! `structuredContent` validates against that schema — checked with a JSON Schema validator
//! for every tool that declares one, against the sandbox world and a real Prometheus with the
//! incident's history. A caller that does not ask gets neither.

mod common;

use std::time::Duration;

use common::{start, upstreams};
use opsmcp_e2e::{TempDir, docs, feed::page, mcp::ToolClient, prometheus::Backends};
use opsmcp_gateway::config;
use opsmcp_sandbox::Sandbox;
use rmcp::model::{CallToolRequestParams, PaginatedRequestParams, RequestMetaObject};
use serde_json::{Value, json};

fn structured() -> RequestMetaObject {
    let mut meta = RequestMetaObject::new();
    meta.insert(opsmcp_core::structured::META_KEY.into(), json!(true));
    meta
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_output_schema_describes_what_its_tool_returns() {
    let sandbox = Sandbox::incident().await.unwrap();
    let backends = tokio::task::spawn_blocking(Backends::start)
        .await
        .unwrap()
        .unwrap();
    let dir = TempDir::new("gateway-structured").unwrap();
    let file = upstreams(
        &sandbox,
        dir.path(),
        docs::SERVERS,
        &[
            ("PROMETHEUS_URL", &backends.prometheus_url),
            ("ALERTMANAGER_URL", &backends.alertmanager_url),
        ],
    );
    let gateway = start(config::parse(&file).unwrap());
    let g = ToolClient::in_process(gateway, Duration::from_secs(20)).await;
    let number = page(
        &sandbox,
        "gateway-structured",
        "[FIRING:1] ContainerOOMKilled shop (worker)",
    )
    .await;

    let listed = g
        .client
        .list_tools(Some({
            let mut params = PaginatedRequestParams::default();
            params.meta = Some(structured());
            params
        }))
        .await
        .unwrap()
        .tools;
    let mut declaring: Vec<&str> = listed
        .iter()
        .filter(|t| t.output_schema.is_some())
        .map(|t| t.name.as_ref())
        .collect();
    declaring.sort_unstable();
    assert_eq!(
        declaring,
        [
            "commits_list",
            "incident_get",
            "logs_patterns",
            "oncalls_list",
            "pages_search",
            "pod_resources",
            "pods_list"
        ]
    );
    let plain = g.client.list_all_tools().await.unwrap();
    assert!(plain.iter().all(|t| t.output_schema.is_none()));

    let calls = [
        ("incident_get", json!({ "id": number.to_string() })),
        ("oncalls_list", json!({})),
        ("pods_list", json!({ "namespace": "shop" })),
        (
            "pod_resources",
            json!({ "namespace": "shop", "workload": "worker", "window": "5m" }),
        ),
        (
            "logs_patterns",
            json!({ "selector": "{namespace=\"shop\"}", "start": "now-6h" }),
        ),
        (
            "commits_list",
            json!({ "repo": "shop/worker", "since": "72h" }),
        ),
        ("pages_search", json!({ "query": "Worker" })),
    ];
    for (tool, arguments) in calls {
        let schema = listed
            .iter()
            .find(|t| t.name == tool)
            .and_then(|t| t.output_schema.clone())
            .unwrap();
        let schema = Value::Object((*schema).clone());
        let validator = jsonschema::validator_for(&schema)
            .unwrap_or_else(|e| panic!("{tool}'s output schema does not compile: {e}"));
        let Value::Object(arguments) = arguments else {
            unreachable!()
        };
        let mut params = CallToolRequestParams::new(tool).with_arguments(arguments.clone());
        params.meta = Some(structured());
        let result = g.client.call_tool(params).await.unwrap();
        let text = result
            .content
            .iter()
            .filter_map(|c| c.as_text().map(|t| t.text.clone()))
            .collect::<String>();
        assert_ne!(result.is_error, Some(true), "{tool}: {text}");
        let data = result
            .structured_content
            .unwrap_or_else(|| panic!("{tool} answered without structured content: {text}"));
        let errors: Vec<String> = validator
            .iter_errors(&data)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{tool}: {errors:?}\n{data:#}");
        // Something was found: the schema was exercised, not an empty answer.
        assert!(
            data.as_object().unwrap().values().any(|v| match v {
                Value::Array(items) => !items.is_empty(),
                Value::Object(_) | Value::String(_) => true,
                _ => false,
            }),
            "{tool}: {data:#}"
        );

        // Without asking: the text alone.
        let plain = g
            .client
            .call_tool(CallToolRequestParams::new(tool).with_arguments(arguments))
            .await
            .unwrap();
        assert!(plain.structured_content.is_none(), "{tool}");
    }
    drop(backends);
}
