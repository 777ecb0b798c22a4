//! Risk classification: how much harm an action can do, with a reason a person can read.
//!
//! - [`classify_kubectl`] takes a kubectl argv (an array, never a shell string), refuses argument
//!   injection (credentials, servers, impersonation, contexts outside the allowed ones, names that
//!   start with `-`) and assigns low / medium / high / forbidden.
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
    fn raise(&mut self, level: RiskLevel, reason: impl Into<String>) {
        if level > self.level {
            self.level = level;
            self.reason = reason.into();
        }
    }
}

/// A kubectl argv refused before classification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgvError {
    #[error("empty kubectl command")]
    Empty,
    #[error("`{flag}` is not allowed: {why}")]
    Injection { flag: String, why: &'static str },
    #[error("context `{0}` is not one of the allowed contexts")]
    Context(String),
    #[error("`{0}` looks like a flag where a name is expected")]
    DashName(String),
}

/// Flags that would change who kubectl is or where it connects.
const INJECTION: &[(&str, &str)] = &[
    (
        "--server",
        "the API server comes from the server's kubeconfig",
    ),
    ("-s", "the API server comes from the server's kubeconfig"),
    ("--token", "credentials come from the server's kubeconfig"),
    ("--kubeconfig", "the kubeconfig is the server's own"),
    ("--as", "impersonation is not allowed"),
    ("--as-group", "impersonation is not allowed"),
    ("--as-uid", "impersonation is not allowed"),
    (
        "--username",
        "credentials come from the server's kubeconfig",
    ),
    (
        "--password",
        "credentials come from the server's kubeconfig",
    ),
    (
        "--client-key",
        "credentials come from the server's kubeconfig",
    ),
    (
        "--client-certificate",
        "credentials come from the server's kubeconfig",
    ),
    (
        "--certificate-authority",
        "TLS trust comes from the server's kubeconfig",
    ),
    (
        "--insecure-skip-tls-verify",
        "TLS verification cannot be turned off",
    ),
    ("--cache-dir", "the cache directory is the server's own"),
];

/// Flags that take a value in the next argument when written without `=`.
const VALUE_FLAGS: &[&str] = &[
    "-n",
    "--namespace",
    "--context",
    "-l",
    "--selector",
    "-o",
    "--output",
    "-f",
    "--filename",
    "-c",
    "--container",
    "--field-selector",
    "--replicas",
    "--current-replicas",
    "--tail",
    "--since",
    "--to-revision",
    "-p",
    "--patch",
    "--type",
    "--image",
    "--limits",
    "--requests",
    "--sort-by",
    "--timeout",
    "--grace-period",
    "-k",
    "--kustomize",
    "--cluster",
    "--user",
    "-L",
    "--label-columns",
    "--template",
    "--chunk-size",
    "--since-time",
    "--max-log-requests",
];

const LOW_VERBS: &[&str] = &[
    "get",
    "describe",
    "logs",
    "top",
    "explain",
    "api-resources",
    "api-versions",
    "version",
    "events",
    "cluster-info",
];
const MEDIUM_VERBS: &[&str] = &["scale", "label", "annotate", "cordon", "uncordon"];
const FORBIDDEN_DELETE: &[(&str, &str)] = &[
    ("namespace", "namespace"),
    ("namespaces", "namespace"),
    ("ns", "namespace"),
    ("node", "node"),
    ("nodes", "node"),
    ("no", "node"),
    ("persistentvolume", "persistent volume"),
    ("persistentvolumes", "persistent volume"),
    ("pv", "persistent volume"),
    ("persistentvolumeclaim", "persistent volume claim"),
    ("persistentvolumeclaims", "persistent volume claim"),
    ("pvc", "persistent volume claim"),
];

/// The parts of a kubectl argv that matter for risk.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct KubectlCommand {
    pub verb: String,
    pub subverb: Option<String>,
    pub positionals: Vec<String>,
    pub namespace: Option<String>,
    pub context: Option<String>,
    pub all: bool,
    pub all_namespaces: bool,
    /// `Some("")` when a selector was given but is empty (it matches everything).
    pub selector: Option<String>,
}

/// Split `argv` (without the leading `kubectl`) into verb, positionals and the flags that
/// matter, refusing injection.
pub fn parse_kubectl(
    argv: &[String],
    allowed_contexts: &[String],
) -> Result<KubectlCommand, ArgvError> {
    let mut cmd = KubectlCommand::default();
    let mut words = Vec::new();
    let mut iter = argv.iter().peekable();
    let mut after_dashdash = false;
    while let Some(arg) = iter.next() {
        if after_dashdash {
            if arg.starts_with('-') {
                return Err(ArgvError::DashName(arg.clone()));
            }
            words.push(arg.clone());
            continue;
        }
        if arg == "--" {
            after_dashdash = true;
            continue;
        }
        if !arg.starts_with('-') || arg == "-" {
            words.push(arg.clone());
            continue;
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f.to_owned(), Some(v.to_owned())),
            None if arg.starts_with("-n") && arg.len() > 2 && !arg.starts_with("--") => {
                ("-n".to_owned(), Some(arg[2..].to_owned()))
            }
            None => (arg.clone(), None),
        };
        if let Some((_, why)) = INJECTION.iter().find(|(f, _)| *f == flag) {
            return Err(ArgvError::Injection { flag, why });
        }
        let value = if inline.is_some() {
            inline
        } else if VALUE_FLAGS.contains(&flag.as_str()) {
            let v = iter.next().cloned();
            if v.as_deref().is_some_and(|v| {
                v.starts_with('-') && v.len() > 1 && flag != "-p" && flag != "--patch"
            }) {
                return Err(ArgvError::DashName(v.unwrap()));
            }
            v
        } else {
            None
        };
        // kubectl would take `-p --token=x` as a patch value, not a flag; refuse it anyway.
        if let Some(v) = &value
            && let Some((f, why)) = INJECTION
                .iter()
                .find(|(f, _)| v.split('=').next() == Some(*f))
        {
            return Err(ArgvError::Injection {
                flag: (*f).to_owned(),
                why,
            });
        }
        match flag.as_str() {
            "-n" | "--namespace" => cmd.namespace = value,
            "--context" => {
                let context = value.unwrap_or_default();
                if !allowed_contexts.contains(&context) {
                    return Err(ArgvError::Context(context));
                }
                cmd.context = Some(context);
            }
            "-A" | "--all-namespaces" => cmd.all_namespaces = value.as_deref() != Some("false"),
            "--all" => cmd.all = value.as_deref() != Some("false"),
            "-l" | "--selector" => cmd.selector = Some(value.unwrap_or_default()),
            _ => {}
        }
    }
    let mut words = words.into_iter();
    cmd.verb = words.next().ok_or(ArgvError::Empty)?.to_lowercase();
    if matches!(
        cmd.verb.as_str(),
        "rollout" | "set" | "auth" | "config" | "certificate"
    ) {
        cmd.subverb = words.next().map(|w| w.to_lowercase());
    }
    cmd.positionals = words.collect();
    Ok(cmd)
}

/// The resource types a kubectl command names: `pod`, `pods,svc`, `deploy/web` → type parts.
fn resource_types(positionals: &[String]) -> Vec<String> {
    let Some(first) = positionals.first() else {
        return Vec::new();
    };
    let mut types = Vec::new();
    // `type/name [type/name …]` or `type[,type] [name …]`.
    if positionals.iter().any(|p| p.contains('/')) {
        for p in positionals {
            if let Some((t, _)) = p.split_once('/') {
                types.push(t.to_lowercase());
            }
        }
    } else {
        types.extend(first.split(',').map(|t| t.to_lowercase()));
    }
    // `pods.v1.` / `namespaces.v1` → the plain type.
    types
        .into_iter()
        .map(|t| t.split('.').next().unwrap_or(&t).to_owned())
        .collect()
}

/// Conservatively: the word `delete` anywhere in `argv` followed by a forbidden kind (as the
/// first word after it, or in any `kind/name`) is a forbidden delete, even where kubectl itself
/// would read the command line differently or reject it.
fn forbidden_delete(argv: &[String]) -> Option<&'static str> {
    let kind_of = |word: &str| {
        word.split(',')
            .map(|t| {
                t.split('/')
                    .next()
                    .unwrap_or(t)
                    .split('.')
                    .next()
                    .unwrap_or(t)
                    .to_lowercase()
            })
            .find_map(|t| {
                FORBIDDEN_DELETE
                    .iter()
                    .find(|(alias, _)| *alias == t)
                    .map(|(_, what)| *what)
            })
    };
    for (at, _) in argv
        .iter()
        .enumerate()
        .filter(|(_, w)| w.eq_ignore_ascii_case("delete"))
    {
        let mut rest = argv[at + 1..].iter();
        let mut first = true;
        while let Some(word) = rest.next() {
            if word.starts_with('-') {
                if !word.contains('=') && VALUE_FLAGS.contains(&word.as_str()) {
                    rest.next();
                }
                continue;
            }
            if (first || word.contains('/'))
                && let Some(what) = kind_of(word)
            {
                return Some(what);
            }
            first = false;
        }
    }
    None
}

/// Classify a kubectl argv (without `kubectl`). Mutations in `kube-*` namespaces, with `--all`,
/// across all namespaces or with an empty selector are high; reads stay low wherever they look.
pub fn classify_kubectl(
    argv: &[String],
    allowed_contexts: &[String],
) -> Result<Assessment, ArgvError> {
    let cmd = parse_kubectl(argv, allowed_contexts)?;
    let verb = cmd.verb.as_str();
    let sub = cmd.subverb.as_deref().unwrap_or("");
    let types = resource_types(&cmd.positionals);
    let target = cmd.positionals.join(" ");
    let where_ = cmd
        .namespace
        .as_deref()
        .map(|n| format!(" in namespace {n}"))
        .unwrap_or_default();

    if let Some(what) = forbidden_delete(argv) {
        return Ok(Assessment::new(
            RiskLevel::Forbidden,
            format!(
                "deleting a {what} destroys what lives in it or on it and cannot be undone; it is never executed"
            ),
        ));
    }

    let mut a = match (verb, sub) {
        (v, _) if LOW_VERBS.contains(&v) => {
            Assessment::new(RiskLevel::Low, format!("`{v}` only reads"))
        }
        ("auth", "can-i")
        | ("rollout", "status" | "history")
        | ("config", "view" | "get-contexts" | "current-context") => {
            Assessment::new(RiskLevel::Low, format!("`{verb} {sub}` only reads"))
        }
        ("rollout", "restart") => Assessment::new(
            RiskLevel::Medium,
            format!("restarts the pods of {target}{where_} one by one; the rollout can be undone"),
        ),
        ("rollout", "undo") => Assessment::new(
            RiskLevel::Medium,
            format!(
                "rolls {target}{where_} back to an earlier revision; it can be rolled forward again"
            ),
        ),
        ("rollout", "pause" | "resume") => Assessment::new(
            RiskLevel::Medium,
            format!("{sub}s the rollout of {target}{where_}"),
        ),
        ("set", "resources" | "image") => Assessment::new(
            RiskLevel::Medium,
            format!("changes the {sub} of {target}{where_}, which starts a new rollout"),
        ),
        (v, _) if MEDIUM_VERBS.contains(&v) => Assessment::new(
            RiskLevel::Medium,
            format!("`{v}` on {target}{where_} is reversible"),
        ),
        ("delete", _) => {
            let recreated = types
                .iter()
                .any(|t| matches!(t.as_str(), "pod" | "pods" | "po"));
            Assessment::new(
                RiskLevel::High,
                if recreated {
                    format!(
                        "deletes {target}{where_}; a controller usually recreates pods, bare pods are gone"
                    )
                } else {
                    format!("deletes {target}{where_}")
                },
            )
        }
        ("exec" | "attach" | "debug" | "cp" | "port-forward" | "proxy", _) => Assessment::new(
            RiskLevel::High,
            format!("`{verb}` reaches into running containers or the network of {target}{where_}"),
        ),
        ("drain", _) => Assessment::new(
            RiskLevel::High,
            format!("drains node {target}: evicts every pod on it"),
        ),
        (v, _) => Assessment::new(
            RiskLevel::High,
            format!("`{v}` changes cluster state in ways that may not be reversible"),
        ),
    };
    if a.level > RiskLevel::Low {
        if let Some(ns) = cmd.namespace.as_deref().filter(|n| n.starts_with("kube-")) {
            a.raise(
                RiskLevel::High,
                format!("changes the system namespace {ns}"),
            );
        }
        if cmd.all {
            a.raise(
                RiskLevel::High,
                "`--all` changes every matching object at once",
            );
        }
        if cmd.all_namespaces {
            a.raise(RiskLevel::High, "changes objects across all namespaces");
        }
        if cmd.selector.as_deref().is_some_and(|s| s.trim().is_empty()) {
            a.raise(
                RiskLevel::High,
                "an empty label selector matches everything",
            );
        }
    }
    Ok(a)
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
        && let Some(r) = &action.resource
        && let Some((_, what)) = FORBIDDEN_DELETE
            .iter()
            .find(|(alias, _)| alias.eq_ignore_ascii_case(r))
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
        if action.bulk {
            a.raise(
                RiskLevel::High,
                format!("{} many objects at once{where_}", action.verb),
            );
        }
    }
    a
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

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn level(s: &str) -> RiskLevel {
        classify_kubectl(&argv(s), &["sandbox".into()])
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .level
    }

    #[test]
    fn kubectl_levels() {
        use RiskLevel::*;
        for (cmd, want) in [
            ("get pods -n shop", Low),
            ("get pods -A", Low),
            ("describe pod web-1", Low),
            ("logs web-1 --previous -c app", Low),
            ("top pod -n kube-system", Low),
            ("auth can-i delete pods", Low),
            ("rollout status deploy/web", Low),
            ("scale deploy/web --replicas=3 -n shop", Medium),
            ("rollout restart deploy/web", Medium),
            ("rollout undo deployment web --to-revision 2", Medium),
            ("label pod web-1 team=a", Medium),
            ("cordon node-1", Medium),
            ("set resources deploy/worker --limits=memory=128Mi", Medium),
            ("delete pod web-1 -n shop", High),
            ("apply -f x.yaml", High),
            ("exec web-1 -- ls", High),
            ("port-forward svc/web 8080:80", High),
            ("drain node-1", High),
            ("scale deploy/coredns --replicas=1 -n kube-system", High),
            ("label pods --all team=a", High),
            ("annotate pods -A x=y", High),
            ("delete pods -l app=web", High),
            ("delete pods -l=", High),
            ("frobnicate everything", High),
            ("delete namespace shop", Forbidden),
            ("delete ns shop", Forbidden),
            ("delete ns/shop", Forbidden),
            ("delete pods,namespaces x", Forbidden),
            ("delete Nodes node-1", Forbidden),
            ("delete no node-1", Forbidden),
            ("delete pv data", Forbidden),
            ("delete persistentvolumeclaims data", Forbidden),
            ("delete pvc/data -n shop", Forbidden),
            ("delete namespaces.v1 shop", Forbidden),
        ] {
            assert_eq!(level(cmd), want, "{cmd}");
        }
    }

    #[test]
    fn reasons_are_human() {
        let a = classify_kubectl(&argv("delete pod web-1 -n prod"), &[]).unwrap();
        assert_eq!(
            a.reason,
            "deletes pod web-1 in namespace prod; a controller usually recreates pods, bare pods are gone"
        );
    }

    #[test]
    fn injection_is_refused() {
        for cmd in [
            "get pods --server=https://evil",
            "get pods -s https://evil",
            "get pods --token abc",
            "get pods --kubeconfig /tmp/k",
            "get pods --as=admin",
            "get pods --as-group system:masters",
            "get pods --as-uid 0",
            "get pods --username u",
            "get pods --password p",
            "get pods --client-key k",
            "get pods --client-certificate c",
            "get pods --certificate-authority ca",
            "get pods --insecure-skip-tls-verify",
            "get pods --cache-dir /tmp",
            "patch deploy web -p --token=abc",
        ] {
            assert!(
                matches!(
                    classify_kubectl(&argv(cmd), &[]),
                    Err(ArgvError::Injection { .. })
                ),
                "{cmd}"
            );
        }
        assert_eq!(
            classify_kubectl(&argv("get pods --context prod"), &["sandbox".into()]),
            Err(ArgvError::Context("prod".into()))
        );
        assert!(classify_kubectl(&argv("get pods --context=sandbox"), &["sandbox".into()]).is_ok());
        assert_eq!(
            classify_kubectl(&argv("delete pod -- -rf"), &[]),
            Err(ArgvError::DashName("-rf".into()))
        );
        assert_eq!(
            classify_kubectl(&argv("get pods -n --all-namespaces"), &[]),
            Err(ArgvError::DashName("--all-namespaces".into()))
        );
        assert_eq!(classify_kubectl(&[], &[]), Err(ArgvError::Empty));
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

        const FORBIDDEN_TYPES: &[&str] = &[
            "namespace",
            "namespaces",
            "ns",
            "node",
            "nodes",
            "no",
            "persistentvolume",
            "persistentvolumes",
            "pv",
            "persistentvolumeclaim",
            "persistentvolumeclaims",
            "pvc",
            "Namespace",
            "NS",
            "PVC",
            "namespaces.v1",
        ];

        fn extra_args() -> impl Strategy<Value = Vec<String>> {
            prop::collection::vec(
                prop_oneof![
                    Just("--wait=false".to_owned()),
                    Just("--grace-period=0".to_owned()),
                    Just("--force".to_owned()),
                    Just("-n".to_owned()),
                    Just("kube-system".to_owned()),
                    Just("--all".to_owned()),
                    Just("-A".to_owned()),
                    Just("--dry-run=server".to_owned()),
                    "[a-z][a-z0-9-]{0,12}",
                ],
                0..5,
            )
        }

        proptest! {
            /// Deleting a forbidden kind is forbidden (or refused outright), whatever else is passed.
            #[test]
            fn forbidden_deletes_stay_forbidden(kind in prop::sample::select(FORBIDDEN_TYPES), slash in any::<bool>(), name in "[a-z][a-z0-9-]{0,12}", before in extra_args(), after in extra_args()) {
                let mut argv: Vec<String> = before;
                argv.push("delete".into());
                argv.push(if slash { format!("{kind}/{name}") } else { kind.to_owned() });
                if !slash { argv.push(name); }
                argv.extend(after);
                // An argv refused before classification is never executed either.
                if let Ok(a) = classify_kubectl(&argv, &[]) {
                    prop_assert_eq!(a.level, RiskLevel::Forbidden, "{:?}", argv);
                }
            }

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
