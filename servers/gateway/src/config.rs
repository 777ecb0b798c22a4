//! The gateway's options and its upstreams file (TOML):
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
//! prefix = "vendor_"   # foreign tool names get a prefix; opsmcp's are unique already
//! ```
//!
//! A file that does not parse, an upstream with neither or both of `command` and `url`, or two
//! upstreams of one name fail at start-up with the reason.

use std::{collections::BTreeMap, path::PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

#[derive(Debug, Clone, clap::Args)]
pub struct GatewayArgs {
    /// The upstreams file (TOML, `[[upstream]]` tables)
    #[arg(long, env = "OPSMCP_GATEWAY_UPSTREAMS")]
    pub upstreams: PathBuf,
}

impl GatewayArgs {
    /// Read and check the upstreams file.
    pub fn load(&self) -> Result<Vec<UpstreamSpec>> {
        let text = std::fs::read_to_string(&self.upstreams)
            .with_context(|| format!("reading {}", self.upstreams.display()))?;
        parse(&text).with_context(|| format!("in {}", self.upstreams.display()))
    }
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
    /// Put before each of its tool names (for servers whose names may collide).
    #[serde(default)]
    pub prefix: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    upstream: Vec<UpstreamSpec>,
}

/// Parse an upstreams file.
pub fn parse(text: &str) -> Result<Vec<UpstreamSpec>> {
    let file: File = toml::from_str(text)?;
    if file.upstream.is_empty() {
        bail!("no [[upstream]] is declared");
    }
    let mut names = std::collections::BTreeSet::new();
    for u in &file.upstream {
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
    Ok(file.upstream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upstream_is_a_command_or_a_url_and_names_are_unique() {
        let ok = parse("[[upstream]]\nname = \"a\"\ncommand = \"x\"\n[[upstream]]\nname = \"b\"\nurl = \"http://h/mcp\"\n").unwrap();
        assert_eq!(ok.len(), 2);
        let both = parse("[[upstream]]\nname = \"a\"\ncommand = \"x\"\nurl = \"http://h\"\n");
        assert!(format!("{:#}", both.unwrap_err()).contains("exactly one of"));
        let twice = parse(
            "[[upstream]]\nname = \"a\"\ncommand = \"x\"\n[[upstream]]\nname = \"a\"\ncommand = \"y\"\n",
        );
        assert!(format!("{:#}", twice.unwrap_err()).contains("two upstreams"));
        let typo = parse("[[upstream]]\nname = \"a\"\ncomand = \"x\"\n");
        assert!(format!("{:#}", typo.unwrap_err()).contains("comand"));
    }
}
