//! Risk classification: how much harm an action can do, with a reason a person can read.
//!
//! - kubectl command lines are parsed and classified in [`crate::kubectl`], on their parsed form.
//! - [`classify_action`] takes a server's structured action (a tool and its arguments) and raises
//!   its base risk for system namespaces, scaling to zero and bulk scope.
//! - [`RiskRules`] are operator rules from a TOML file that raise (or, where explicitly allowed,
//!   lower) a level.
//!
//! Plain Rust: no MCP and no backend types.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How much harm an action can do. Ordered: `Low < Medium < High < Forbidden`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RiskLevel {
    /// Reads only.
    Low,
    /// Reversible changes (scale, rollout restart/undo, label, annotate, cordon).
    Medium,
    /// Deletes, applies, execs, anything in a system namespace or over everything.
    High,
    /// Never executed, in any mode.
    Forbidden,
}

impl RiskLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::Low => "low",
            RiskLevel::Medium => "medium",
            RiskLevel::High => "high",
            RiskLevel::Forbidden => "forbidden",
        }
    }
}

impl fmt::Display for RiskLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A level with the reason for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assessment {
    pub level: RiskLevel,
    pub reason: String,
}

impl Assessment {
    pub fn new(level: RiskLevel, reason: impl Into<String>) -> Self {
        Self {
            level,
            reason: reason.into(),
        }
    }

    /// Raise to `level` (never lower) and say why.
    pub(crate) fn raise(&mut self, level: RiskLevel, reason: impl Into<String>) {
        if level > self.level {
            self.level = level;
            self.reason = reason.into();
        }
    }
}

/// A server's structured action (its tool and the facts of its arguments).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Action {
    pub server: String,
    pub tool: String,
    /// What the tool does: delete, scale, restart, rollback, patch, create, …
    pub verb: String,
    pub resource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// Target replicas of a scale.
    pub replicas: Option<i64>,
    /// Replicas before the scale, when known.
    pub current_replicas: Option<i64>,
    /// The action covers many objects (a selector, `all`).
    pub bulk: bool,
    /// The tool's own risk.
    pub base: Option<RiskLevel>,
    /// What the tool says about this action (e.g. "the ReplicaSet will recreate it").
    pub detail: Option<String>,
}

/// Classify a structured action: its base risk, raised for system namespaces, scaling to zero,
/// bulk scope and deletion of the forbidden kinds.
pub fn classify_action(action: &Action) -> Assessment {
    let target = match (&action.resource, &action.name) {
        (Some(r), Some(n)) => format!("{r} {n}"),
        (Some(r), None) => r.clone(),
        (None, Some(n)) => n.clone(),
        (None, None) => action.tool.clone(),
    };
    let where_ = action
        .namespace
        .as_deref()
        .map(|n| format!(" in {n}"))
        .unwrap_or_default();
    let base = action.base.unwrap_or(RiskLevel::High);
    let detail = action
        .detail
        .as_deref()
        .map(|d| format!("; {d}"))
        .unwrap_or_default();
    let mut a = Assessment::new(base, format!("{} {target}{where_}{detail}", action.verb));
    if action.verb == "delete"
        && let Some(what) = action
            .resource
            .as_deref()
            .and_then(crate::kubectl::forbidden_kind)
    {
        return Assessment::new(
            RiskLevel::Forbidden,
            format!("deleting a {what} is never executed"),
        );
    }
    if base > RiskLevel::Low {
        if let Some(ns) = action
            .namespace
            .as_deref()
            .filter(|n| n.starts_with("kube-"))
        {
            a.raise(
                RiskLevel::High,
                format!("{} {target} in the system namespace {ns}", action.verb),
            );
        }
        if action.replicas == Some(0) {
            a.raise(
                RiskLevel::High,
                format!("scales {target}{where_} to zero: the service stops serving"),
            );
        }
        if let Some(why) = action
            .replicas
            .and_then(|r| scale_out_of_bounds(r, action.current_replicas))
        {
            a.raise(RiskLevel::High, format!("scales {target}{where_}: {why}"));
        }
        if action.bulk {
            a.raise(
                RiskLevel::High,
                format!("{} many objects at once{where_}", action.verb),
            );
        }
    }
    a
}

/// The most replicas a scale may ask for before it is high risk, whatever the current count.
pub const SCALE_CEILING: i64 = 100;

/// Why scaling to `replicas` (from `current`, when known) is out of the ordinary: above
/// [`SCALE_CEILING`], or more than three times the current count and ten more (a typo's extra
/// zeros can starve a cluster).
pub fn scale_out_of_bounds(replicas: i64, current: Option<i64>) -> Option<String> {
    if replicas > SCALE_CEILING {
        return Some(format!(
            "{replicas} replicas is above the ceiling of {SCALE_CEILING}"
        ));
    }
    let current = current?;
    (replicas > (current * 3).max(current + 10))
        .then(|| format!("{replicas} replicas is more than three times the current {current}"))
}

/// What a workload object could do to the node it runs on or the cluster's credentials: the
/// powers that make applying it high risk whatever its namespace. Reads a Pod's spec, a
/// workload's pod template (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job,
/// ReplicationController, CronJob) and Secrets of a service account's token type.
pub fn object_powers(object: &serde_json::Value) -> Vec<String> {
    let kind = object["kind"].as_str().unwrap_or_default();
    let mut powers = Vec::new();
    if kind == "Secret" && object["type"] == "kubernetes.io/service-account-token" {
        powers.push("it holds a service account's API token".to_owned());
    }
    let spec = match kind {
        "Pod" => object.get("spec"),
        "CronJob" => object.pointer("/spec/jobTemplate/spec/template/spec"),
        _ => object.pointer("/spec/template/spec"),
    };
    let Some(spec) = spec else { return powers };
    for (field, what) in [
        ("hostPID", "the host's processes"),
        ("hostIPC", "the host's IPC"),
        ("hostNetwork", "the host's network"),
    ] {
        if spec[field] == true {
            powers.push(format!("it shares {what} ({field})"));
        }
    }
    let host_paths: Vec<&str> = spec["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| {
            v.pointer("/hostPath/path")
                .and_then(serde_json::Value::as_str)
        })
        .collect();
    if !host_paths.is_empty() {
        powers.push(format!("it mounts the host's {}", host_paths.join(", ")));
    }
    let containers = ["containers", "initContainers", "ephemeralContainers"]
        .iter()
        .flat_map(|k| spec[*k].as_array().into_iter().flatten());
    for c in containers {
        let name = c["name"].as_str().unwrap_or("?");
        let security = &c["securityContext"];
        if security["privileged"] == true {
            powers.push(format!("container {name} is privileged"));
        }
        let added: Vec<&str> = security
            .pointer("/capabilities/add")
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(serde_json::Value::as_str)
            .collect();
        if !added.is_empty() {
            powers.push(format!(
                "container {name} adds capabilities {}",
                added.join(", ")
            ));
        }
    }
    powers
}

/// One operator rule: every given field must match; `*` in namespace and name is a wildcard.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub server: Option<String>,
    pub tool: Option<String>,
    pub verb: Option<String>,
    pub resource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub level: RiskLevel,
    pub reason: String,
    /// Let this rule lower a level (off: rules only raise).
    #[serde(default)]
    pub allow_lower: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default, rename = "rule")]
    rules: Vec<Rule>,
}

/// A rules file that could not be used; start-up stops with this.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("risk rules {path}, line {line}: {problem}")]
pub struct RulesError {
    pub path: String,
    pub line: usize,
    pub problem: String,
}

/// Operator rules (`OPSMCP_RISK_RULES`), applied after the built-in classification.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RiskRules {
    rules: Vec<Rule>,
}

impl RiskRules {
    /// Parse a rules file; errors name the line and the problem.
    pub fn parse(path: &str, text: &str) -> Result<Self, RulesError> {
        let error = |span: Option<std::ops::Range<usize>>, problem: String| RulesError {
            path: path.to_owned(),
            line: span.map_or(0, |s| {
                text[..s.start.min(text.len())].matches('\n').count() + 1
            }),
            problem,
        };
        let file: RulesFile =
            toml::from_str(text).map_err(|e| error(e.span(), e.message().to_owned()))?;
        for (i, rule) in file.rules.iter().enumerate() {
            if rule.reason.trim().is_empty() {
                let at = text
                    .match_indices("[[rule]]")
                    .nth(i)
                    .map(|(at, _)| at..at + 1);
                return Err(error(
                    at,
                    "a rule needs a non-empty `reason`: it is what the user is shown".into(),
                ));
            }
        }
        Ok(Self { rules: file.rules })
    }

    /// Rules given directly (tests, embedders); the file format is the usual way.
    pub fn from_rules(rules: Vec<Rule>) -> Self {
        Self { rules }
    }

    pub fn load(path: &std::path::Path) -> Result<Self, RulesError> {
        let text = std::fs::read_to_string(path).map_err(|e| RulesError {
            path: path.display().to_string(),
            line: 0,
            problem: e.to_string(),
        })?;
        Self::parse(&path.display().to_string(), &text)
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Apply every matching rule to `assessment`. Rules raise; they lower only with
    /// `allow_lower`, and nothing ever lowers `Forbidden`.
    pub fn apply(&self, action: &Action, mut assessment: Assessment) -> Assessment {
        for rule in self.rules.iter().filter(|r| r.matches(action)) {
            let lowering = rule.level < assessment.level;
            if rule.level > assessment.level
                || (lowering && rule.allow_lower && assessment.level != RiskLevel::Forbidden)
            {
                assessment = Assessment::new(rule.level, rule.reason.clone());
            }
        }
        assessment
    }
}

impl Rule {
    fn matches(&self, a: &Action) -> bool {
        let eq = |want: &Option<String>, have: &str| {
            want.as_deref().is_none_or(|w| w.eq_ignore_ascii_case(have))
        };
        let glob_opt = |want: &Option<String>, have: Option<&str>| match want {
            None => true,
            Some(w) => have.is_some_and(|h| glob(w, h)),
        };
        eq(&self.server, &a.server)
            && eq(&self.tool, &a.tool)
            && eq(&self.verb, &a.verb)
            && glob_opt(&self.resource, a.resource.as_deref())
            && glob_opt(&self.namespace, a.namespace.as_deref())
            && glob_opt(&self.name, a.name.as_deref())
    }
}

/// `*` matches any run of characters; everything else literally.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else if let Some(at) = rest.find(part) {
            rest = &rest[at + part.len()..];
        } else {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_beyond_bounds_is_high() {
        let scale = |replicas, current| Action {
            verb: "scale".into(),
            resource: Some("deployment".into()),
            replicas: Some(replicas),
            current_replicas: current,
            base: Some(RiskLevel::Medium),
            ..Action::default()
        };
        assert_eq!(
            classify_action(&scale(100_000, Some(2))).level,
            RiskLevel::High
        );
        assert_eq!(classify_action(&scale(101, None)).level, RiskLevel::High);
        assert_eq!(classify_action(&scale(40, Some(3))).level, RiskLevel::High);
        assert_eq!(
            classify_action(&scale(12, Some(2))).level,
            RiskLevel::Medium
        );
        assert_eq!(classify_action(&scale(9, Some(3))).level, RiskLevel::Medium);
        assert_eq!(classify_action(&scale(60, None)).level, RiskLevel::Medium);
    }

    #[test]
    fn powerful_workloads_are_named() {
        let pod = serde_json::json!({ "kind": "Pod", "spec": { "hostPID": true,
            "volumes": [{ "name": "root", "hostPath": { "path": "/" } }],
            "containers": [{ "name": "x", "securityContext": { "privileged": true, "capabilities": { "add": ["SYS_ADMIN"] } } }] } });
        let powers = object_powers(&pod);
        assert_eq!(powers.len(), 4, "{powers:?}");
        let cron = serde_json::json!({ "kind": "CronJob", "spec": { "jobTemplate": { "spec": { "template": { "spec": {
            "hostNetwork": true, "containers": [{ "name": "c" }] } } } } } });
        assert_eq!(
            object_powers(&cron),
            ["it shares the host's network (hostNetwork)"]
        );
        let token =
            serde_json::json!({ "kind": "Secret", "type": "kubernetes.io/service-account-token" });
        assert_eq!(object_powers(&token).len(), 1);
        let plain = serde_json::json!({ "kind": "Deployment", "spec": { "template": { "spec": { "containers": [{ "name": "web" }] } } } });
        assert!(object_powers(&plain).is_empty());
    }

    #[test]
    fn structured_actions_are_raised_by_their_arguments() {
        let scale = |ns: &str, replicas| Action {
            server: "kubernetes".into(),
            tool: "deployments_scale".into(),
            verb: "scale".into(),
            resource: Some("deployment".into()),
            namespace: Some(ns.into()),
            name: Some("web".into()),
            replicas: Some(replicas),
            base: Some(RiskLevel::Medium),
            ..Action::default()
        };
        assert_eq!(classify_action(&scale("shop", 3)).level, RiskLevel::Medium);
        assert_eq!(classify_action(&scale("shop", 0)).level, RiskLevel::High);
        assert_eq!(
            classify_action(&scale("kube-system", 3)).level,
            RiskLevel::High
        );
        let delete_ns = Action {
            verb: "delete".into(),
            resource: Some("Namespace".into()),
            base: Some(RiskLevel::High),
            ..Action::default()
        };
        assert_eq!(classify_action(&delete_ns).level, RiskLevel::Forbidden);
        let restart = Action {
            verb: "delete".into(),
            resource: Some("pod".into()),
            name: Some("web-1".into()),
            namespace: Some("prod".into()),
            base: Some(RiskLevel::High),
            detail: Some("the ReplicaSet will recreate it".into()),
            ..Action::default()
        };
        assert_eq!(
            classify_action(&restart).reason,
            "delete pod web-1 in prod; the ReplicaSet will recreate it"
        );
    }

    #[test]
    fn rules_raise_and_only_lower_when_allowed() {
        let rules = RiskRules::parse(
            "rules.toml",
            r#"
[[rule]]
server = "kubernetes"
namespace = "prod-*"
level = "high"
reason = "production"

[[rule]]
tool = "pods_restart"
namespace = "sandbox"
level = "low"
reason = "the sandbox is disposable"
allow_lower = true

[[rule]]
verb = "delete"
level = "low"
reason = "cannot lower without allow_lower"
"#,
        )
        .unwrap();
        let action = |tool: &str, ns: &str, verb: &str| Action {
            server: "kubernetes".into(),
            tool: tool.into(),
            verb: verb.into(),
            namespace: Some(ns.into()),
            base: Some(RiskLevel::Medium),
            ..Action::default()
        };
        let a = action("deployments_scale", "prod-eu", "scale");
        assert_eq!(
            rules.apply(&a, classify_action(&a)),
            Assessment::new(RiskLevel::High, "production")
        );
        let a = action("pods_restart", "sandbox", "delete");
        assert_eq!(rules.apply(&a, classify_action(&a)).level, RiskLevel::Low);
        let a = action("pods_restart", "shop", "delete");
        assert_eq!(
            rules.apply(&a, classify_action(&a)).level,
            RiskLevel::Medium
        );
        let forbidden = Assessment::new(RiskLevel::Forbidden, "x");
        assert_eq!(
            rules
                .apply(&action("pods_restart", "sandbox", "delete"), forbidden)
                .level,
            RiskLevel::Forbidden
        );
    }

    #[test]
    fn invalid_rules_name_the_line() {
        let err = RiskRules::parse("r.toml", "[[rule]]\nlevel = \"severe\"\nreason = \"x\"\n")
            .unwrap_err();
        assert_eq!(err.line, 2, "{err}");
        assert!(
            err.to_string().starts_with("risk rules r.toml, line 2:"),
            "{err}"
        );
        let err = RiskRules::parse(
            "r.toml",
            "[[rule]]\nlevel = \"high\"\nreason = \"x\"\nnamespce = \"a\"\n",
        )
        .unwrap_err();
        assert_eq!(err.line, 4, "{err}");
        let err = RiskRules::parse("r.toml", "\n[[rule]]\nlevel = \"high\"\nreason = \" \"\n")
            .unwrap_err();
        assert_eq!(err.line, 2, "{err}");
    }

    #[test]
    fn globs() {
        assert!(glob("prod-*", "prod-eu"));
        assert!(glob("*-payments-*", "eu-payments-1"));
        assert!(!glob("prod-*", "staging"));
        assert!(glob("exact", "exact"));
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            /// No rule without allow_lower lowers anything, and nothing lowers Forbidden.
            #[test]
            fn rules_never_lower_forbidden(level in prop::sample::select(&[RiskLevel::Low, RiskLevel::Medium, RiskLevel::High][..]), allow_lower in any::<bool>()) {
                let rules = RiskRules { rules: vec![Rule { server: None, tool: None, verb: None, resource: None, namespace: None, name: None, level, reason: "r".into(), allow_lower }] };
                let out = rules.apply(&Action::default(), Assessment::new(RiskLevel::Forbidden, "f"));
                prop_assert_eq!(out.level, RiskLevel::Forbidden);
            }
        }
    }
}
