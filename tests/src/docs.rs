//! Tool documentation kept true by tests: each server's `tools/list` is stored as a snapshot
//! (`tests/snapshots/tools_list.json` in its crate) and rendered as the README's tool table
//! between `<!-- tools:NAME -->` markers. `UPDATE_SNAPSHOTS=1` rewrites both.

use rmcp::model::Tool;

use crate::workspace_root;

fn updating() -> bool {
    std::env::var_os("UPDATE_SNAPSHOTS").is_some()
}

/// Compare `tools` with the snapshot of `package` (in `crate_dir`).
pub fn check_snapshot(package: &str, crate_dir: &str, tools: &[Tool]) {
    let listed = serde_json::to_string_pretty(tools).unwrap() + "\n";
    let path = std::path::Path::new(crate_dir).join("tests/snapshots/tools_list.json");
    if updating() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &listed).unwrap();
    }
    let stored = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        stored == listed,
        "tools/list changed: run `UPDATE_SNAPSHOTS=1 cargo test -p {package} --test tools` and review the diff"
    );
}

/// Compare the README's table for `package` with `tools`; `kind` says what each tool is
/// (read, or write and what it needs).
pub fn check_readme_table(package: &str, tools: &[Tool], kind: impl Fn(&Tool) -> String) {
    let mut table = String::from("| tool | what it does | kind |\n|---|---|---|\n");
    for tool in tools {
        let description = tool.description.as_deref().unwrap_or("").replace('\n', " ");
        table.push_str(&format!(
            "| `{}` | {} | {} |\n",
            tool.name,
            description.replace('|', "\\|"),
            kind(tool)
        ));
    }
    let path = workspace_root().join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let (start, end) = (
        format!("<!-- tools:{package} -->\n"),
        format!("<!-- /tools:{package} -->"),
    );
    let from = readme
        .find(&start)
        .unwrap_or_else(|| panic!("README has no {start:?} marker"))
        + start.len();
    let to = readme.find(&end).expect("README has the closing marker");
    if updating() {
        std::fs::write(
            &path,
            format!("{}{table}{}", &readme[..from], &readme[to..]),
        )
        .unwrap();
        return;
    }
    assert!(
        readme[from..to] == table,
        "the README's {package} tool table is stale: run `UPDATE_SNAPSHOTS=1 cargo test -p {package} --test tools`"
    );
}

/// Whether a tool changes things (its annotations say it is not read-only).
pub fn writes(tool: &Tool) -> bool {
    tool.annotations.as_ref().and_then(|a| a.read_only_hint) == Some(false)
}

/// The six servers, by the directory of their crate under `servers/`.
pub const SERVERS: &[&str] = &[
    "prometheus",
    "kubernetes",
    "loki",
    "pagerduty",
    "github",
    "notion",
];

/// The stored `tools/list` of `servers/<server>` (as JSON: name, annotations, schemas).
pub fn snapshot(server: &str) -> Vec<serde_json::Value> {
    let path = workspace_root().join(format!("servers/{server}/tests/snapshots/tools_list.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What a strict-schema host refuses in `tools`' input schemas: a required name that is not
/// declared, or a schema the OpenAI Agents SDK's strict converter cannot convert
/// (`tests/python/strict_schemas.py` runs the SDK's own converter in the tests' venv).
pub fn strict_schema_problems(tools: &[serde_json::Value]) -> anyhow::Result<Vec<String>> {
    let dir = crate::TempDir::new("strict-schemas")?;
    let file = dir.path().join("tools.json");
    std::fs::write(&file, serde_json::to_vec(tools)?)?;
    let script = workspace_root().join("tests/python/strict_schemas.py");
    let out = std::process::Command::new(crate::python()?)
        .arg(script)
        .arg(&file)
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(
        out.status.success() || !stdout.trim().is_empty(),
        "the strict-schema check did not run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(stdout.lines().map(str::to_owned).collect())
}

/// `given` as a strict-schema host sends it: every other parameter of `server`'s `tool` present
/// and `null` (strict hosts make each optional parameter required and nullable).
pub fn strict_arguments(server: &str, tool: &str, given: serde_json::Value) -> serde_json::Value {
    let tools = snapshot(server);
    let schema = &tools
        .iter()
        .find(|t| t["name"] == tool)
        .unwrap_or_else(|| panic!("{server} has no tool {tool}"))["inputSchema"];
    let mut arguments = given;
    for name in schema["properties"]
        .as_object()
        .into_iter()
        .flat_map(|p| p.keys())
    {
        arguments
            .as_object_mut()
            .expect("arguments are an object")
            .entry(name.clone())
            .or_insert(serde_json::Value::Null);
    }
    arguments
}
