//! The six servers as one host sees them: tool names unique across all of them (a host that
//! merges them never has two tools of one name), read from each server's `tools/list` snapshot.

use std::collections::BTreeMap;

use opsmcp_e2e::docs::{SERVERS, snapshot};

#[test]
fn tool_names_are_unique_across_the_six_servers() {
    let mut owners: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut total = 0;
    for server in SERVERS {
        let tools = snapshot(server);
        assert!(!tools.is_empty(), "{server} lists no tools");
        for tool in &tools {
            let name = tool["name"].as_str().unwrap().to_owned();
            owners.entry(name).or_default().push(server);
        }
        total += tools.len();
    }
    let shared: Vec<String> = owners
        .iter()
        .filter(|(_, servers)| servers.len() > 1)
        .map(|(name, servers)| format!("{name} ({})", servers.join(", ")))
        .collect();
    assert!(
        shared.is_empty(),
        "tool names used by more than one server: {shared:?}"
    );
    assert_eq!(owners.len(), total);
}

/// Strict-schema hosts (OpenAI's Agents SDK in strict mode, Gemini) can call every tool: each
/// required name is declared and every input schema passes the SDK's own strict converter.
#[test]
fn every_tool_passes_a_strict_hosts_conversion() {
    let tools: Vec<serde_json::Value> = SERVERS.iter().flat_map(|s| snapshot(s)).collect();
    let problems = opsmcp_e2e::docs::strict_schema_problems(&tools).unwrap();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
