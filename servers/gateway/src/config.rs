//! The gateway's options and its configuration file (TOML):
//!
//! ```toml
//! [[upstream]]
//! name = "kubernetes"
//! command = "opsmcp-kubernetes"
//! args = ["--mode", "approval"]
//! env = { KUBECONFIG = "/etc/opsmcp/kubeconfig" }
//!
//! [[upstream]]
//! name = "pagerduty"
//! url = "https://mcp.example.com/pagerduty/mcp"
//! headers = { Authorization = "Bearer …" }
//!
//! [[upstream]]
//! name = "vendor"
//! command = "some-other-mcp-server"
//! prefix = "vendor_"     # a foreign server's tools get one (default: its name and `_`)
//! allow_collisions = true # one named like an opsmcp tool is left out (default: refused at start)
//! tools = ["search_*"]   # only these (`*` matches any run of characters)…
//! exclude = ["*_delete"] # …without these
//! read_only = true       # and only the tools it annotates read-only
//! expected_tools = 4     # `health` flags another count
//!
//! deferred = true        # list tools_search and what it found, not every tool (top level)
//!
//! [cache]                # read-only tools' answers, per caller
//! default_ttl = "10s"    # live state
//! stale_for = "10m"      # an expired answer still served (marked) when the fresh call fails
//! ttl = { commits_list = "2m", pages_search = "5m", logs_tail = "0s" }  # 0s: never cached
//!
//! [[fallback]]           # when a tool fails (or its backend does), another answers instead
//! tool = "logs_search"
//! with = "pod_logs"
//! arguments = { namespace = "${input.namespace}", name = "${input.pod}" }
//! ```
//!
//! Workflows (`[[workflow]]`) are described in [`crate::workflow`], the service map
//! (`[[service]]`) in [`crate::builtin`].
//!
//! A file that does not parse, an upstream with neither or both of `command` and `url`, two
//! upstreams of one name, a bad duration or a fallback reference that is not `${input.…}` fail
//! at start-up with the reason.

use std::{collections::BTreeMap, path::PathBuf, time::Duration};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::template::Template;

#[derive(Debug, Clone, clap::Args)]
pub struct GatewayArgs {
    /// The gateway's configuration file (TOML: `[[upstream]]` tables, `[cache]`, `[[fallback]]`)
    #[arg(long, env = "OPSMCP_GATEWAY_UPSTREAMS")]
    pub upstreams: PathBuf,
}

impl GatewayArgs {
    /// Read and check the configuration file.
    pub fn load(&self) -> Result<Config> {
        let text = std::fs::read_to_string(&self.upstreams)
            .with_context(|| format!("reading {}", self.upstreams.display()))?;
        parse(&text).with_context(|| format!("in {}", self.upstreams.display()))
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub upstream: Vec<UpstreamSpec>,
    #[serde(default)]
    pub cache: CacheConfig,
    #[serde(default)]
    pub fallback: Vec<Fallback>,
    /// List only `tools_search` and what each session found with it ([`crate::deferred`]).
    #[serde(default)]
    pub deferred: bool,
    /// The service map of the incident tools ([`crate::builtin`]).
    #[serde(default)]
    pub service: Vec<ServiceSpec>,
    /// As declared; [`parse`] compiles them into [`Config::workflows`].
    #[serde(default)]
    workflow: Vec<crate::workflow::WorkflowSpec>,
    #[serde(skip)]
    pub workflows: Vec<crate::workflow::Workflow>,
}

/// One upstream server as the file declares it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSpec {
    pub name: String,
    /// Spawned over stdio…
    pub command: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// …or reached over streamable HTTP.
    pub url: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Put before each of its tool names: none for an opsmcp server, `<name>_` for another
    /// unless the file says otherwise.
    pub prefix: Option<String>,
    /// An opsmcp server (its tools win every name, unprefixed): by default, a `command` whose
    /// file name starts with `opsmcp-`. A server reached by `url` says so here.
    pub opsmcp: Option<bool>,
    /// A foreign tool named like an opsmcp or gateway tool is left out (theirs is listed)
    /// instead of stopping the gateway at start.
    #[serde(default)]
    pub allow_collisions: bool,
    /// Only the tools matching one of these patterns (all when empty).
    #[serde(default)]
    pub tools: Vec<String>,
    /// Not the tools matching one of these.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Only the tools it annotates read-only.
    #[serde(default)]
    pub read_only: bool,
    /// How many tools it should list (before the filters): `health` flags another count.
    pub expected_tools: Option<usize>,
}

impl UpstreamSpec {
    /// Whether this is one of opsmcp's servers, whose safety engine gates its tools.
    pub fn is_opsmcp(&self) -> bool {
        self.opsmcp.unwrap_or_else(|| {
            self.command.as_deref().is_some_and(|command| {
                std::path::Path::new(command)
                    .file_name()
                    .and_then(|name| name.to_str())
                    .is_some_and(|name| name.starts_with("opsmcp-"))
            })
        })
    }

    /// What goes before each of its tool and prompt names.
    pub fn prefix(&self) -> String {
        match &self.prefix {
            Some(prefix) => prefix.clone(),
            None if self.is_opsmcp() => String::new(),
            None => format!("{}_", self.name),
        }
    }

    /// Whether the filters let `tool` (its name upstream) through.
    pub fn offers(&self, tool: &rmcp::model::Tool) -> bool {
        let name = tool.name.as_ref();
        let read_only = tool
            .annotations
            .as_ref()
            .and_then(|a| a.read_only_hint)
            .unwrap_or(false);
        (self.tools.is_empty() || self.tools.iter().any(|p| glob(p, name)))
            && !self.exclude.iter().any(|p| glob(p, name))
            && (!self.read_only || read_only)
    }
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// The read cache.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    pub enabled: bool,
    /// Most answers kept (least recently and frequently used go first).
    pub max_entries: u64,
    /// How long an answer of a read-only tool stays fresh unless `ttl` says otherwise.
    #[serde(deserialize_with = "duration")]
    pub default_ttl: Duration,
    /// How long after that an answer may still be served, marked with its age, when the fresh
    /// call fails.
    #[serde(deserialize_with = "duration")]
    pub stale_for: Duration,
    /// Per tool (as the gateway lists it); `0s` never caches it.
    #[serde(deserialize_with = "durations")]
    pub ttl: BTreeMap<String, Duration>,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_entries: 10_000,
            default_ttl: Duration::from_secs(10),
            stale_for: Duration::from_secs(600),
            // A tail follows what happens from now on: an earlier answer is never the answer.
            ttl: BTreeMap::from([("logs_tail".to_owned(), Duration::ZERO)]),
        }
    }
}

/// A tool to call when another fails.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fallback {
    /// The tool that failed (as the gateway lists it).
    pub tool: String,
    /// The tool that answers instead.
    pub with: String,
    /// Its arguments, referring to the failed call's as `${input.NAME}`; the same arguments
    /// when absent.
    pub arguments: Option<Map<String, Value>>,
}

impl Fallback {
    /// The fallback's arguments for a call with `input`; `Err` names a reference the call did
    /// not give.
    pub fn arguments_for(&self, input: &Map<String, Value>) -> Result<Map<String, Value>, String> {
        let Some(arguments) = &self.arguments else {
            return Ok(input.clone());
        };
        let context = serde_json::json!({ "input": input });
        let resolved = Template::new(Value::Object(arguments.clone())).resolve(&context)?;
        match resolved {
            Value::Object(map) => Ok(map),
            _ => unreachable!("an object template resolves to an object"),
        }
    }
}

/// One service of the map of the incident tools ([`crate::builtin`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    pub name: String,
    pub namespace: String,
    pub deployment: Option<String>,
    pub loki_selector: Option<String>,
    pub pagerduty_service: Option<String>,
    pub github_repo: Option<String>,
    pub runbooks: Option<String>,
}

impl ServiceSpec {
    pub fn deployment(&self) -> &str {
        self.deployment.as_deref().unwrap_or(&self.name)
    }

    pub fn selector(&self) -> String {
        self.loki_selector.clone().unwrap_or_else(|| {
            format!(
                "{{namespace=\"{}\", app=\"{}\"}}",
                self.namespace,
                self.deployment()
            )
        })
    }
}

/// A duration as people write it: `10s`, `5m`, `1h 30m`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let signed: jiff::SignedDuration = text
        .parse()
        .map_err(|e| format!("{text:?} is not a duration like 10s or 5m: {e}"))?;
    Duration::try_from(signed).map_err(|_| format!("{text:?} is negative"))
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    parse_duration(&String::deserialize(d)?).map_err(serde::de::Error::custom)
}

fn durations<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, Duration>, D::Error> {
    BTreeMap::<String, String>::deserialize(d)?
        .into_iter()
        .map(|(tool, text)| {
            parse_duration(&text)
                .map(|d| (tool.clone(), d))
                .map_err(|e| serde::de::Error::custom(format!("{tool}: {e}")))
        })
        .collect()
}

/// Parse and check a configuration file.
pub fn parse(text: &str) -> Result<Config> {
    let mut config: Config = toml::from_str(text)?;
    config.workflows = crate::workflow::compile(&config.workflow, text)?;
    if config.upstream.is_empty() {
        bail!("no [[upstream]] is declared");
    }
    let mut names = std::collections::BTreeSet::new();
    for u in &config.upstream {
        if !names.insert(u.name.as_str()) {
            bail!("two upstreams are named {:?}", u.name);
        }
        match (&u.command, &u.url) {
            (Some(_), None) | (None, Some(_)) => {}
            _ => bail!(
                "upstream {:?} needs exactly one of `command` (stdio) and `url` (HTTP)",
                u.name
            ),
        }
    }
    for f in &config.fallback {
        if let Some(arguments) = &f.arguments {
            for reference in Template::new(Value::Object(arguments.clone())).references() {
                if reference.first().map(String::as_str) != Some("input") || reference.len() < 2 {
                    bail!(
                        "fallback for {}: `${{{}}}` is not a reference to the failed call's arguments (`${{input.NAME}}`)",
                        f.tool,
                        reference.join(".")
                    );
                }
            }
        }
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upstream_is_a_command_or_a_url_and_names_are_unique() {
        let ok = parse("[[upstream]]\nname = \"a\"\ncommand = \"x\"\n[[upstream]]\nname = \"b\"\nurl = \"http://h/mcp\"\n").unwrap();
        assert_eq!(ok.upstream.len(), 2);
        let both = parse("[[upstream]]\nname = \"a\"\ncommand = \"x\"\nurl = \"http://h\"\n");
        assert!(format!("{:#}", both.unwrap_err()).contains("exactly one of"));
        let twice = parse(
            "[[upstream]]\nname = \"a\"\ncommand = \"x\"\n[[upstream]]\nname = \"a\"\ncommand = \"y\"\n",
        );
        assert!(format!("{:#}", twice.unwrap_err()).contains("two upstreams"));
        let typo = parse("[[upstream]]\nname = \"a\"\ncomand = \"x\"\n");
        assert!(format!("{:#}", typo.unwrap_err()).contains("comand"));
    }

    #[test]
    fn foreign_servers_get_their_name_as_prefix_unless_the_file_says_otherwise() {
        let c = parse(
            "[[upstream]]\nname = \"k\"\ncommand = \"/usr/bin/opsmcp-kubernetes\"\n\
             [[upstream]]\nname = \"vendor\"\ncommand = \"vendor-mcp\"\n\
             [[upstream]]\nname = \"pd\"\nurl = \"http://h/mcp\"\nopsmcp = true\n\
             [[upstream]]\nname = \"bare\"\nurl = \"http://h/mcp\"\nprefix = \"\"\n",
        )
        .unwrap();
        let seen: Vec<(bool, String)> = c
            .upstream
            .iter()
            .map(|u| (u.is_opsmcp(), u.prefix()))
            .collect();
        assert_eq!(
            seen,
            [
                (true, String::new()),
                (false, "vendor_".into()),
                (true, String::new()),
                (false, String::new()),
            ]
        );
    }

    #[test]
    fn cache_durations_and_fallback_references_are_checked() {
        let upstream = "[[upstream]]\nname = \"a\"\ncommand = \"x\"\n";
        let ok = parse(&format!(
            "{upstream}[cache]\ndefault_ttl = \"15s\"\nttl = {{ commits_list = \"2m\" }}\n[[fallback]]\ntool = \"logs_search\"\nwith = \"pod_logs\"\narguments = {{ name = \"${{input.pod}}\" }}\n"
        ))
        .unwrap();
        assert_eq!(ok.cache.default_ttl, Duration::from_secs(15));
        assert_eq!(ok.cache.ttl["commits_list"], Duration::from_secs(120));
        assert!(ok.cache.enabled && ok.cache.stale_for == Duration::from_secs(600));
        let bad = parse(&format!("{upstream}[cache]\nttl = {{ x = \"soon\" }}\n"));
        assert!(format!("{:#}", bad.unwrap_err()).contains("x: \"soon\" is not a duration"));
        let bad = parse(&format!(
            "{upstream}[[fallback]]\ntool = \"a\"\nwith = \"b\"\narguments = {{ q = \"${{steps.x}}\" }}\n"
        ));
        assert!(format!("{:#}", bad.unwrap_err()).contains("`${steps.x}` is not a reference"));

        let fallback = &ok.fallback[0];
        let input = serde_json::json!({ "pod": "worker-1", "text": "OOM" });
        let args = fallback.arguments_for(input.as_object().unwrap()).unwrap();
        assert_eq!(
            Value::Object(args),
            serde_json::json!({ "name": "worker-1" })
        );
        let missing = fallback.arguments_for(&Map::new()).unwrap_err();
        assert!(missing.contains("input.pod"), "{missing}");
    }

    #[test]
    fn filters_match_names_and_annotations() {
        assert!(glob("pods_*", "pods_list") && glob("*", "x") && glob("a*c*e", "abcde"));
        assert!(!glob("pods_*", "pod_logs") && !glob("a*c", "abcd") && glob("exact", "exact"));
        let spec: UpstreamSpec = toml::from_str(
            "name = \"k\"\ncommand = \"x\"\ntools = [\"pod*\"]\nexclude = [\"*_delete\"]\nread_only = true\n",
        )
        .unwrap();
        let tool = |name: &str, read_only: bool| {
            rmcp::model::Tool::new(name.to_owned(), "t", std::sync::Arc::new(Map::new()))
                .annotate(rmcp::model::ToolAnnotations::new().read_only(read_only))
        };
        assert!(spec.offers(&tool("pods_list", true)));
        assert!(!spec.offers(&tool("pods_list", false)));
        assert!(!spec.offers(&tool("pod_delete", true)));
        assert!(!spec.offers(&tool("nodes_list", true)));
    }
}
