//! Command-line configuration shared by every server: flags, environment variables and an
//! optional TOML file, in that order of precedence.
//!
//! A server describes its own options as a `clap::Args` struct (every field with `long` and
//! `env`); [`parse`] wraps it with the transport options of [`TransportArgs`] and the global
//! `--config` flag. Values from the TOML file become clap *defaults*, so a flag or an
//! environment variable always wins over the file and the file wins over built-in defaults.
//!
//! Secrets are [`Secret`] values: their `Debug` and `Display` never show the value, their
//! arguments are declared with `hide_env_values = true` so `--help` does not print them, and a
//! default that came from the config file is hidden from `--help` as well.
//!
//! This module does not know about MCP.

use std::{
    collections::BTreeMap,
    ffi::OsString,
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    str::FromStr,
};

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::policy::{Mode, Thresholds};

/// A configuration value that must never be printed (tokens, passwords).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value itself; call this only where the value is sent to a backend.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

/// The whole command line of a server: its own options, `--config` and the transport.
#[derive(Debug, Parser)]
#[command(version, propagate_version = true, disable_help_subcommand = true)]
pub struct Cli<A: Args> {
    /// Optional TOML file with defaults for any flag below (keys are flag names)
    #[arg(long, env = "OPSMCP_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub server: A,

    #[command(flatten)]
    pub safety: SafetyArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands; none means stdio.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve streamable HTTP at /mcp, legacy HTTP+SSE at /sse and /message, plus /healthz,
    /// /readyz and /metrics
    Serve(HttpArgs),
    /// Work with the audit log
    #[command(subcommand)]
    Audit(AuditCommand),
}

/// `audit …` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain of the audit log (and the files rotated out of it); exit 1 and
    /// name the first broken record if it is not intact, 3 if keyed records could not be
    /// checked without the key
    Verify {
        /// The log to check (default: --audit-log, OPSMCP_AUDIT_LOG or the state directory)
        file: Option<PathBuf>,
        /// The key of a keyed chain (default: --audit-key-file, OPSMCP_AUDIT_KEY_FILE)
        #[arg(long, value_name = "FILE")]
        key_file: Option<PathBuf>,
    },
}

/// How changes are decided, asked for and recorded (the safety engine), common to every server.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Safety")]
pub struct SafetyArgs {
    /// plan: only preview changes; approval: ask the user (MCP elicitation); yolo: execute when
    /// the host's confidence is high enough. OPSMCP_<SERVER>_MODE (e.g. OPSMCP_KUBERNETES_MODE)
    /// overrides OPSMCP_MODE for one server
    #[arg(long, env = "OPSMCP_MODE", value_enum, default_value_t = Mode::Approval)]
    pub mode: Mode,

    /// Offer only tools that read; every change is refused
    #[arg(long, env = "OPSMCP_READ_ONLY")]
    pub read_only: bool,

    /// Allow high-risk changes (deletes, creates, bulk changes); still asked or previewed per mode
    #[arg(long, env = "OPSMCP_ENABLE_DESTRUCTIVE")]
    pub enable_destructive: bool,

    /// yolo: execute low- and medium-risk changes at or above this confidence
    #[arg(long, env = "OPSMCP_YOLO_EXECUTE", default_value_t = 0.8, value_parser = unit_interval)]
    pub yolo_execute: f64,

    /// yolo: execute high-risk changes at or above this confidence
    #[arg(long, env = "OPSMCP_YOLO_EXECUTE_HIGH", default_value_t = 0.9, value_parser = unit_interval)]
    pub yolo_execute_high: f64,

    /// yolo: below this confidence, skip instead of asking
    #[arg(long, env = "OPSMCP_YOLO_SKIP_BELOW", default_value_t = 0.7, value_parser = unit_interval)]
    pub yolo_skip_below: f64,

    /// Seconds the user has to answer an approval; no answer counts as decline
    #[arg(long, env = "OPSMCP_APPROVAL_TIMEOUT", default_value_t = 300)]
    pub approval_timeout_secs: u64,

    /// TOML file of rules that raise (or, where allowed, lower) the risk of matching actions
    #[arg(long, env = "OPSMCP_RISK_RULES", value_name = "FILE")]
    pub risk_rules: Option<PathBuf>,

    /// The audit log (JSON Lines, hash-chained) [default: $XDG_STATE_HOME/opsmcp/audit.jsonl]
    #[arg(long, env = "OPSMCP_AUDIT_LOG", value_name = "FILE")]
    pub audit_log: Option<PathBuf>,

    /// Seal the audit log with HMAC-SHA-256 under the key in this file (at least 32 bytes): a
    /// keyed chain, which whoever can write the log but not read the key cannot rewrite
    #[arg(long, env = "OPSMCP_AUDIT_KEY_FILE", value_name = "FILE")]
    pub audit_key_file: Option<PathBuf>,

    /// Rotate the audit log before it grows past this many bytes
    #[arg(long, env = "OPSMCP_AUDIT_MAX_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub audit_max_bytes: u64,

    /// Rotated audit files to keep
    #[arg(long, env = "OPSMCP_AUDIT_KEEP", default_value_t = 5)]
    pub audit_keep: usize,

    /// Consecutive failed executions that open the circuit breaker (no automatic execution)
    #[arg(long, env = "OPSMCP_BREAKER_FAILURES", default_value_t = 5)]
    pub breaker_failures: u32,

    /// Successful executions that close an open breaker
    #[arg(long, env = "OPSMCP_BREAKER_SUCCESSES", default_value_t = 2)]
    pub breaker_successes: u32,

    /// Seconds after which an open breaker closes by itself
    #[arg(long, env = "OPSMCP_BREAKER_OPEN_SECS", default_value_t = 300)]
    pub breaker_open_secs: u64,
}

impl SafetyArgs {
    /// The audit log's path: the flag, `OPSMCP_AUDIT_LOG` or the default in the state directory.
    pub fn audit_path(&self) -> PathBuf {
        self.audit_log
            .clone()
            .unwrap_or_else(crate::audit::default_path)
    }

    /// The yolo thresholds.
    pub fn thresholds(&self) -> Thresholds {
        Thresholds {
            execute: self.yolo_execute,
            execute_high: self.yolo_execute_high,
            skip_below: self.yolo_skip_below,
        }
    }
}

fn unit_interval(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is not between 0 and 1"))
    }
}

impl<A: Args> Cli<A> {
    /// Run `audit verify` if that is what the command line asks for: prints the report and
    /// returns the exit code (0 intact, 1 broken). `None` for every other command.
    pub fn audit_command(&self) -> Option<i32> {
        let Some(Command::Audit(AuditCommand::Verify { file, key_file })) = &self.command else {
            return None;
        };
        let path = file.clone().unwrap_or_else(|| self.safety.audit_path());
        let key = match key_file.as_ref().or(self.safety.audit_key_file.as_ref()) {
            Some(key_file) => match crate::audit::AuditKey::from_file(key_file) {
                Ok(key) => Some(key),
                Err(e) => {
                    println!("cannot check: {e}");
                    return Some(2);
                }
            },
            None => None,
        };
        Some(match crate::audit::verify(&path, key.as_ref()) {
            // Links intact, but the content of keyed records unchecked without the key.
            Ok(report) if report.unchecked > 0 => {
                println!("{report}");
                3
            }
            Ok(report) => {
                println!("{report}");
                0
            }
            Err(e) => {
                println!("broken: {e}");
                1
            }
        })
    }
}

/// How the process talks MCP.
#[derive(Debug, Clone)]
pub enum TransportArgs {
    /// Newline-delimited JSON-RPC on stdin/stdout.
    Stdio,
    /// HTTP server.
    Http(HttpArgs),
}

impl<A: Args> Cli<A> {
    pub fn transport(&self) -> TransportArgs {
        match &self.command {
            None => TransportArgs::Stdio,
            Some(Command::Serve(http)) => TransportArgs::Http(http.clone()),
            Some(Command::Audit(_)) => TransportArgs::Stdio,
        }
    }
}

/// Options of `serve`.
#[derive(Debug, Clone, Args)]
pub struct HttpArgs {
    /// Address to listen on
    #[arg(long, env = "OPSMCP_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Bearer token required on /mcp, /sse and /message (required on non-loopback addresses)
    #[arg(
        long,
        env = "OPSMCP_HTTP_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub http_token: Option<Secret>,

    /// Extra accepted Host header values (host or host:port), e.g. the proxy's public name
    #[arg(
        long,
        env = "OPSMCP_ALLOWED_HOSTS",
        value_delimiter = ',',
        value_name = "HOST"
    )]
    pub allowed_hosts: Vec<String>,

    /// Extra accepted browser Origins (scheme://host[:port]); loopback origins are always accepted
    #[arg(
        long,
        env = "OPSMCP_ALLOWED_ORIGINS",
        value_delimiter = ',',
        value_name = "ORIGIN"
    )]
    pub allowed_origins: Vec<String>,

    /// Serve /mcp without sessions: every POST is answered on its own
    #[arg(long, env = "OPSMCP_STATELESS")]
    pub stateless: bool,

    /// Largest accepted request body in bytes
    #[arg(long, env = "OPSMCP_MAX_BODY_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Seconds to let open requests finish after SIGINT/SIGTERM
    #[arg(long, env = "OPSMCP_SHUTDOWN_GRACE", default_value_t = 10)]
    pub shutdown_grace_secs: u64,

    /// Connections served at once; more wait until one closes
    #[arg(long, env = "OPSMCP_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,

    /// Seconds a client has to send a request's headers (and an idle keep-alive connection stays open)
    #[arg(long, env = "OPSMCP_HEADER_TIMEOUT", default_value_t = 10)]
    pub header_timeout_secs: u64,

    /// MCP sessions open at once (streamable HTTP and legacy SSE each); a new one beyond it gets 503
    #[arg(long, env = "OPSMCP_MAX_SESSIONS", default_value_t = 512)]
    pub max_sessions: usize,

    /// Seconds after which a streamable HTTP session nobody uses is closed
    #[arg(long, env = "OPSMCP_SESSION_IDLE", default_value_t = 300)]
    pub session_idle_secs: u64,
}

/// Why the configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {message}")]
    Toml { path: PathBuf, message: String },
    #[error("config file {path}: unknown key `{key}` (known keys: {known})")]
    UnknownKey {
        path: PathBuf,
        key: String,
        known: String,
    },
    #[error("config file {path}: key `{key}` must be a string, number, boolean or array of them")]
    BadValue { path: PathBuf, key: String },
    #[error(transparent)]
    Clap(#[from] clap::Error),
}

impl ConfigError {
    /// Print the error the way clap would (help and version go to stdout with exit code 0).
    pub fn exit(self) -> ! {
        match self {
            ConfigError::Clap(e) => e.exit(),
            other => {
                eprintln!("error: {other}");
                std::process::exit(2)
            }
        }
    }
}

/// Who a server is: its package name, version and one-line description. Build it with
/// [`crate::identity!`] so the values come from the server's own `Cargo.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    pub name: &'static str,
    pub version: &'static str,
    pub about: &'static str,
}

/// The [`Identity`] of the calling crate, from its `Cargo.toml`.
#[macro_export]
macro_rules! identity {
    () => {
        $crate::config::Identity {
            name: env!("CARGO_PKG_NAME"),
            version: env!("CARGO_PKG_VERSION"),
            about: env!("CARGO_PKG_DESCRIPTION"),
        }
    };
}

/// Parse the process's arguments and environment, applying the config file if one is given.
/// Prints help, version or the error and exits when that is what the command line asks for.
pub fn parse<A: Args>(identity: Identity) -> Cli<A> {
    parse_from::<A, _, _>(identity, std::env::args_os()).unwrap_or_else(|e| e.exit())
}

/// [`parse`] over explicit arguments (the first is the program name); for tests.
pub fn parse_from<A, I, T>(identity: Identity, args: I) -> Result<Cli<A>, ConfigError>
where
    A: Args,
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let mut command = Cli::<A>::command()
        .name(identity.name)
        .bin_name(identity.name)
        .version(identity.version)
        .about(identity.about);
    // OPSMCP_<SERVER>_MODE, when set, takes the place of OPSMCP_MODE for this server.
    let server_mode_env = format!(
        "OPSMCP_{}_MODE",
        identity
            .name
            .trim_start_matches("opsmcp-")
            .to_uppercase()
            .replace('-', "_")
    );
    if std::env::var_os(&server_mode_env).is_some() {
        command = command.mut_arg("mode", |arg| arg.env(server_mode_env));
    }
    if let Some(path) = config_path(&args) {
        let table = read_table(&path)?;
        command = apply_file_defaults(command, &table, &path)?;
    }
    // The usual spellings of a boolean in a variable (`OPSMCP_READ_ONLY=1`, `yes`, `On`), and
    // the server's flags on either side of `serve` (`serve --listen … --mode plan`).
    command = boolish(command).mut_args(|arg| {
        // clap allows neither a positional nor a required argument to be global.
        if arg.is_positional() || arg.is_required_set() {
            arg
        } else {
            arg.global(true)
        }
    });
    let matches = command
        .clone()
        .try_get_matches_from(args)
        .map_err(|e| name_the_variable(e, &command))?;
    Ok(Cli::<A>::from_arg_matches(&matches)?)
}

/// Boolean flags read from a variable accept `1/0`, `yes/no`, `on/off`, `true/false` in any case.
fn boolish(command: clap::Command) -> clap::Command {
    command
        .mut_args(|arg| {
            if matches!(arg.get_action(), clap::ArgAction::SetTrue) && arg.get_env().is_some() {
                arg.value_parser(clap::builder::BoolishValueParser::new())
            } else {
                arg
            }
        })
        .mut_subcommands(boolish)
}

/// An invalid value that came from a variable says so: a desktop host shows only this line.
fn name_the_variable(error: clap::Error, command: &clap::Command) -> clap::Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(
        error.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return error;
    }
    let Some(ContextValue::String(flag)) = error.get(ContextKind::InvalidArg) else {
        return error;
    };
    let long = flag.split_whitespace().next().unwrap_or_default();
    let variable = std::iter::once(command)
        .chain(command.get_subcommands())
        .flat_map(|c| c.get_arguments())
        .find(|a| a.get_long().is_some_and(|l| format!("--{l}") == long))
        .and_then(|a| a.get_env())
        .filter(|env| std::env::var_os(env).is_some());
    match variable {
        Some(env) => clap::Error::raw(
            error.kind(),
            format!(
                "{} (from the environment variable {})\n",
                error
                    .to_string()
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .trim_start_matches("error: "),
                env.to_string_lossy()
            ),
        ),
        None => error,
    }
}

/// `--config FILE`, `--config=FILE` or `OPSMCP_CONFIG`, found before clap runs.
fn config_path(args: &[OsString]) -> Option<PathBuf> {
    let mut iter = args.iter().skip(1);
    while let Some(arg) = iter.next() {
        let arg = arg.to_string_lossy();
        if arg == "--config" {
            return iter.next().map(PathBuf::from);
        }
        if let Some(value) = arg.strip_prefix("--config=") {
            return Some(PathBuf::from(value));
        }
    }
    std::env::var_os("OPSMCP_CONFIG").map(PathBuf::from)
}

fn read_table(path: &Path) -> Result<toml::Table, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    text.parse::<toml::Table>().map_err(|e| ConfigError::Toml {
        path: path.to_owned(),
        message: e.to_string().trim().replace('\n', " "),
    })
}

/// Turn the keys of the file into defaults of the matching arguments. Top-level keys belong to
/// the server's own options; a `[serve]` table to the HTTP options.
fn apply_file_defaults(
    mut command: clap::Command,
    table: &toml::Table,
    path: &Path,
) -> Result<clap::Command, ConfigError> {
    for (key, value) in table {
        if key == "serve" {
            let toml::Value::Table(serve) = value else {
                return Err(ConfigError::BadValue {
                    path: path.to_owned(),
                    key: key.clone(),
                });
            };
            for (key, value) in serve {
                let (id, values) =
                    file_entry(command.find_subcommand("serve").unwrap(), key, value, path)?;
                command = command.mut_subcommand("serve", |sub| set_default(sub, &id, values));
            }
        } else {
            let (id, values) = file_entry(&command, key, value, path)?;
            command = set_default(command, &id, values);
        }
    }
    Ok(command)
}

fn file_entry(
    command: &clap::Command,
    key: &str,
    value: &toml::Value,
    path: &Path,
) -> Result<(String, Vec<String>), ConfigError> {
    let id = key.replace('-', "_");
    let known: BTreeMap<String, ()> = command
        .get_arguments()
        .filter(|a| a.get_long().is_some() && a.get_id() != "config")
        .map(|a| (a.get_id().as_str().to_owned(), ()))
        .collect();
    if !known.contains_key(&id) {
        return Err(ConfigError::UnknownKey {
            path: path.to_owned(),
            key: key.to_owned(),
            known: known
                .keys()
                .map(|k| k.replace('_', "-"))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let bad = || ConfigError::BadValue {
        path: path.to_owned(),
        key: key.to_owned(),
    };
    let scalar = |v: &toml::Value| match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    };
    let values = match value {
        toml::Value::Array(items) => items
            .iter()
            .map(scalar)
            .collect::<Option<Vec<_>>>()
            .ok_or_else(bad)?,
        other => vec![scalar(other).ok_or_else(bad)?],
    };
    Ok((id, values))
}

fn set_default(command: clap::Command, id: &str, values: Vec<String>) -> clap::Command {
    command.mut_arg(id, |arg| {
        // A secret keeps its value out of --help even when it came from the file.
        let secret = arg.is_hide_env_values_set();
        let arg = arg.default_values(values);
        if secret {
            arg.hide_default_value(true)
        } else {
            arg
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: Identity = Identity {
        name: "opsmcp-demo",
        version: "9.9.9",
        about: "demo server",
    };

    #[derive(Debug, Args)]
    struct Demo {
        /// Backend URL
        #[arg(long, env = "OPSMCP_TEST_DEMO_URL", default_value = "http://builtin")]
        url: String,
        /// API key
        #[arg(long, env = "OPSMCP_TEST_DEMO_KEY", hide_env_values = true)]
        api_key: Option<Secret>,
    }

    #[derive(Debug, Args)]
    struct Needs {
        /// A file the server cannot start without
        #[arg(long, required = true)]
        file: PathBuf,
    }

    #[test]
    fn a_servers_flags_go_on_either_side_of_serve_and_required_ones_stay_required() {
        let cli = parse_from::<Needs, _, _>(
            ID,
            [
                "x",
                "--file",
                "f",
                "serve",
                "--listen",
                "127.0.0.1:1",
                "--mode",
                "plan",
            ],
        )
        .unwrap();
        assert_eq!(cli.safety.mode, Mode::Plan);
        assert_eq!(cli.server.file, PathBuf::from("f"));
        let missing = parse_from::<Needs, _, _>(ID, ["x", "serve"]).unwrap_err();
        assert!(format!("{missing:?}").contains("--file"), "{missing:?}");
    }

    fn write(contents: &str) -> (tempdir::Dir, PathBuf) {
        let dir = tempdir::Dir::new();
        let path = dir.path().join("opsmcp.toml");
        std::fs::write(&path, contents).unwrap();
        (dir, path)
    }

    /// A minimal temporary directory, removed on drop, so tests need no extra crate.
    mod tempdir {
        pub struct Dir(std::path::PathBuf);
        impl Dir {
            pub fn new() -> Self {
                let path =
                    std::env::temp_dir().join(format!("opsmcp-cfg-{}", uuid::Uuid::new_v4()));
                std::fs::create_dir_all(&path).unwrap();
                Self(path)
            }
            pub fn path(&self) -> &std::path::Path {
                &self.0
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn file_values_are_defaults_and_flags_win() {
        let (_dir, path) = write("url = \"http://file\"\n[serve]\nlisten = \"127.0.0.1:9999\"\n");
        let p = path.to_str().unwrap();
        let cli = parse_from::<Demo, _, _>(ID, ["x", "--config", p, "serve"]).unwrap();
        assert_eq!(cli.server.url, "http://file");
        let TransportArgs::Http(http) = cli.transport() else {
            panic!("expected http")
        };
        assert_eq!(http.listen.port(), 9999);

        let cli =
            parse_from::<Demo, _, _>(ID, ["x", "--config", p, "--url", "http://flag"]).unwrap();
        assert_eq!(cli.server.url, "http://flag");
        assert!(matches!(cli.transport(), TransportArgs::Stdio));
    }

    #[test]
    fn version_is_the_servers() {
        let text = parse_from::<Demo, _, _>(ID, ["x", "--version"])
            .unwrap_err()
            .to_string();
        assert_eq!(text.trim(), "opsmcp-demo 9.9.9");
    }

    #[test]
    fn built_in_default_without_file() {
        let cli = parse_from::<Demo, _, _>(ID, ["x"]).unwrap();
        assert_eq!(cli.server.url, "http://builtin");
    }

    #[test]
    fn unknown_key_is_named() {
        let (_dir, path) = write("urll = \"x\"\n");
        let err =
            parse_from::<Demo, _, _>(ID, ["x", "--config", path.to_str().unwrap()]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("unknown key `urll`"), "{text}");
        assert!(text.contains("url"), "{text}");
    }

    #[test]
    fn secrets_from_the_file_stay_out_of_help() {
        let (_dir, path) = write("api-key = \"s3cr3t-value\"\n");
        let p = path.to_str().unwrap();
        let cli = parse_from::<Demo, _, _>(ID, ["x", "--config", p]).unwrap();
        assert_eq!(
            cli.server.api_key.as_ref().unwrap().expose(),
            "s3cr3t-value"
        );
        assert_eq!(format!("{:?}", cli.server.api_key), "Some(Secret(***))");
        let help = parse_from::<Demo, _, _>(ID, ["x", "--config", p, "--help"])
            .unwrap_err()
            .to_string();
        assert!(!help.contains("s3cr3t-value"), "{help}");
        assert!(help.contains("OPSMCP_TEST_DEMO_KEY"), "{help}");
    }

    #[test]
    fn help_lists_every_flag_with_its_environment_variable() {
        let help = parse_from::<Demo, _, _>(ID, ["x", "serve", "--help"])
            .unwrap_err()
            .to_string();
        for env in [
            "OPSMCP_LISTEN",
            "OPSMCP_HTTP_TOKEN",
            "OPSMCP_ALLOWED_HOSTS",
            "OPSMCP_ALLOWED_ORIGINS",
            "OPSMCP_STATELESS",
            "OPSMCP_MAX_BODY_BYTES",
            "OPSMCP_CONFIG",
        ] {
            assert!(help.contains(env), "{env} missing from:\n{help}");
        }
    }

    #[test]
    fn invalid_toml_reports_the_file() {
        let (_dir, path) = write("url = \n");
        let err =
            parse_from::<Demo, _, _>(ID, ["x", "--config", path.to_str().unwrap()]).unwrap_err();
        assert!(err.to_string().contains("not valid TOML"), "{err}");
    }
}
