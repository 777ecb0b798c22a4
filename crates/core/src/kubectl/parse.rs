//! A kubectl argument list parsed the way kubectl parses it: cobra finds the command (the first
//! words that name one, flags allowed before and between them), then pflag reads every flag of
//! that command and the global ones anywhere, with its rules — `--name=value`, `--name value`
//! (not for a bool or a flag with an implicit value), `-n value`, `-nvalue`, `-n=value`,
//! combined shorthands (`-As URL` is `-A` and `-s URL`), `--` ending the flags. An unknown
//! command or flag is an error, as it is for kubectl.
//!
//! The result, [`Command`], is the one value every guard reads; [`Command::argv`] writes it back
//! in a canonical spelling (command, `--name=value` flags, names, `--` and a program), which is
//! what runs, so what was checked is what runs.

use super::table::{Arity, CommandSpec, TABLE, Table};

/// Why an argument list cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("empty kubectl command")]
    Empty,
    #[error(
        "`{0}` is not a kubectl command (kubectl would look for a plugin `kubectl-{0}`, which is not allowed)"
    )]
    UnknownCommand(String),
    #[error("unknown flag `{flag}` for `kubectl {command}`")]
    UnknownFlag { flag: String, command: String },
    #[error("flag `{0}` needs a value")]
    MissingValue(String),
    #[error("bad flag syntax: `{0}`")]
    BadSyntax(String),
    #[error("`{flag}` takes true or false, not `{value}`")]
    NotBool { flag: String, value: String },
}

/// One flag as kubectl understood it: its long name and its value (`true`/`false` for a bool).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    pub name: String,
    pub value: String,
    /// Given without a value where the flag has an implicit one (`--dry-run`, `--cascade`): it
    /// runs as written, bare, and `value` is empty.
    pub implicit: bool,
}

/// A parsed kubectl command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Command {
    /// The command's path: `["get"]`, `["rollout", "restart"]`, `["create", "secret", "generic"]`.
    pub path: Vec<String>,
    /// Every flag in the order given, by long name.
    pub flags: Vec<Flag>,
    /// The names and other words (for commands without a program, also those after `--`).
    pub args: Vec<String>,
    /// What follows `--` for a command that runs a program (`exec`, `run`, `debug`, …).
    pub program: Option<Vec<String>>,
}

impl Command {
    /// The command's path as one string: `rollout restart`.
    pub fn name(&self) -> String {
        self.path.join(" ")
    }

    pub fn verb(&self) -> &str {
        self.path.first().map(String::as_str).unwrap_or_default()
    }

    /// The value of a flag (the last one given wins, as in pflag).
    pub fn value(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .rev()
            .find(|f| f.name == name)
            .map(|f| f.value.as_str())
    }

    /// Every value of a repeatable flag, comma lists split as pflag's string slices split them.
    pub fn values(&self, name: &str) -> Vec<&str> {
        self.flags
            .iter()
            .filter(|f| f.name == name)
            .flat_map(|f| f.value.split(','))
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// Whether a bool flag is on.
    pub fn on(&self, name: &str) -> bool {
        self.value(name) == Some("true")
    }

    pub fn has(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f.name == name)
    }

    /// The canonical argument list: the command, each flag as `--name=value`, the names, then
    /// `--` and the program. With `dry_run`, `--dry-run=server` is placed among the flags
    /// (replacing any given), never after `--`.
    pub fn argv(&self, dry_run: bool) -> Vec<String> {
        let mut out = self.path.clone();
        out.extend(
            self.flags
                .iter()
                .filter(|f| !(dry_run && f.name == "dry-run"))
                .map(|f| {
                    if f.implicit {
                        format!("--{}", f.name)
                    } else {
                        format!("--{}={}", f.name, f.value)
                    }
                }),
        );
        if dry_run {
            out.push("--dry-run=server".into());
        }
        out.extend(self.args.iter().cloned());
        if let Some(program) = &self.program {
            out.push("--".into());
            out.extend(program.iter().cloned());
        }
        out
    }
}

/// The flags that decide which words are a command in cobra's search: a `--flag` or `-f` without
/// `=` that is not a bool or implicit-value flag of `path` takes the next word with it. An unknown
/// flag is taken to need a value, as cobra's `stripFlags` does.
fn takes_next(table: &Table, path: &[String], arg: &str) -> bool {
    if arg.contains('=') {
        return false;
    }
    let spec = if let Some(long) = arg.strip_prefix("--") {
        table.long(path, long)
    } else if let Some(short) = arg.strip_prefix('-').filter(|s| s.chars().count() == 1) {
        table.short(path, short.chars().next().unwrap_or_default())
    } else {
        return false;
    };
    !matches!(spec.map(|s| s.arity), Some(Arity::Bool | Arity::Optional))
}

/// cobra's `Find`: the command named by the first non-flag words, and the argument list with
/// those words taken out.
fn find_command<'t>(
    table: &'t Table,
    argv: &[String],
) -> Result<(&'t CommandSpec, Vec<String>), ParseError> {
    let mut path: Vec<String> = Vec::new();
    let mut spec: Option<&CommandSpec> = None;
    let mut rest = argv.to_vec();
    loop {
        // The first word that is not a flag or a flag's value, before `--`.
        let mut at = None;
        let mut i = 0;
        while i < rest.len() {
            let arg = &rest[i];
            if arg == "--" {
                break;
            }
            if arg.starts_with('-') && arg.len() > 1 {
                i += if takes_next(table, &path, arg) { 2 } else { 1 };
                continue;
            }
            // cobra's search passes over `""` and `-` as it does over flags.
            if arg.is_empty() || arg == "-" {
                i += 1;
                continue;
            }
            at = Some(i);
            break;
        }
        let Some(at) = at else { break };
        let word = rest[at].clone();
        match table.child(&path, &word) {
            Some(child) => {
                path = child.path.clone();
                spec = Some(child);
                rest.remove(at);
            }
            None if path.is_empty() => return Err(ParseError::UnknownCommand(word)),
            // Not a subcommand: a name, for a command that takes names.
            None => break,
        }
    }
    let spec = spec.ok_or(ParseError::Empty)?;
    Ok((spec, rest))
}

/// Parse a kubectl argument list (without `kubectl`) as kubectl would.
pub fn parse(argv: &[String]) -> Result<Command, ParseError> {
    parse_with(&TABLE, argv)
}

pub(crate) fn parse_with(table: &Table, argv: &[String]) -> Result<Command, ParseError> {
    let (spec, rest) = find_command(table, argv)?;
    let path = spec.path.clone();
    let mut cmd = Command {
        path: path.clone(),
        ..Command::default()
    };
    let command = cmd.name();
    let unknown = |flag: &str| ParseError::UnknownFlag {
        flag: flag.to_owned(),
        command: command.clone(),
    };
    let mut args = rest.into_iter();
    let mut after_dash: Option<Vec<String>> = None;
    while let Some(arg) = args.next() {
        if arg == "--" {
            after_dash = Some(args.by_ref().collect());
            break;
        }
        if !arg.starts_with('-') || arg == "-" {
            cmd.args.push(arg);
            continue;
        }
        if let Some(long) = arg.strip_prefix("--") {
            if long.starts_with('-') || long.starts_with('=') {
                return Err(ParseError::BadSyntax(arg));
            }
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (long, None),
            };
            let flag = table.long(&path, name).ok_or_else(|| unknown(&arg))?;
            let value = match (inline, flag.arity) {
                (Some(v), _) => v,
                (None, Arity::Bool) => "true".into(),
                (None, Arity::Optional) => String::new(),
                (None, _) => args
                    .next()
                    .ok_or_else(|| ParseError::MissingValue(arg.clone()))?,
            };
            push(&mut cmd, &flag.long, flag.arity, value, &arg)?;
            continue;
        }
        // Shorthands: each letter a flag; the first that takes a value takes the rest of the
        // word (after an optional `=`) or, at the end of the word, the next argument.
        let mut shorts = &arg[1..];
        while let Some(c) = shorts.chars().next() {
            let flag = table
                .short(&path, c)
                .ok_or_else(|| unknown(&format!("-{c}")))?;
            let after = &shorts[c.len_utf8()..];
            let (value, remaining) = if let Some(v) = after.strip_prefix('=') {
                (v.to_owned(), "")
            } else if matches!(flag.arity, Arity::Bool) {
                ("true".to_owned(), after)
            } else if matches!(flag.arity, Arity::Optional) {
                (String::new(), after)
            } else if !after.is_empty() {
                (after.to_owned(), "")
            } else {
                let v = args
                    .next()
                    .ok_or_else(|| ParseError::MissingValue(format!("-{c}")))?;
                (v, "")
            };
            push(&mut cmd, &flag.long, flag.arity, value, &arg)?;
            shorts = remaining;
        }
    }
    if let Some(rest) = after_dash {
        if spec.takes_program {
            cmd.program = Some(rest);
        } else {
            cmd.args.extend(rest);
        }
    }
    Ok(cmd)
}

/// Record a flag with its canonical value: a bool as `true`/`false` (pflag's spellings), an
/// implicit value left empty where none was given.
fn push(
    cmd: &mut Command,
    name: &str,
    arity: Arity,
    value: String,
    arg: &str,
) -> Result<(), ParseError> {
    let implicit = arity == Arity::Optional && value.is_empty() && !arg.contains('=');
    let value = match arity {
        Arity::Bool => match value.as_str() {
            "1" | "t" | "T" | "true" | "TRUE" | "True" => "true".to_owned(),
            "0" | "f" | "F" | "false" | "FALSE" | "False" => "false".to_owned(),
            _ => {
                return Err(ParseError::NotBool {
                    flag: arg.to_owned(),
                    value,
                });
            }
        },
        _ => value,
    };
    cmd.flags.push(Flag {
        name: name.to_owned(),
        value,
        implicit,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    fn p(s: &str) -> Command {
        parse(&argv(s)).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn a_dash_dash_ends_the_flags_and_the_dry_run_stays_a_flag() {
        let c = p("set image deploy/web -n shop -- web=busybox:evil");
        assert_eq!(c.name(), "set image");
        assert_eq!(c.args, ["deploy/web", "web=busybox:evil"]);
        assert_eq!(
            c.argv(true),
            argv("set image --namespace=shop --dry-run=server deploy/web web=busybox:evil")
        );
        let run = p("run pod --image=busybox -- sleep 1");
        assert_eq!(run.program, Some(argv("sleep 1")));
        assert_eq!(
            run.argv(true),
            argv("run --image=busybox --dry-run=server pod -- sleep 1")
        );
    }

    #[test]
    fn shorthands_glue_and_combine_as_in_pflag() {
        let c = p("get pods -Rnbatch");
        assert_eq!(c.value("namespace"), Some("batch"));
        assert!(c.on("recursive"));
        let c = p("get pods -As https://evil");
        assert!(c.on("all-namespaces"));
        assert_eq!(c.value("server"), Some("https://evil"));
        assert_eq!(
            p("get pods -shttps://evil").value("server"),
            Some("https://evil")
        );
        assert_eq!(p("get pods -n=shop").value("namespace"), Some("shop"));
        assert_eq!(
            p("get pods -A=false").value("all-namespaces"),
            Some("false")
        );
    }

    #[test]
    fn value_flags_are_known_so_the_first_word_is_the_kind() {
        let c = p("delete --request-timeout 0 namespace x");
        assert_eq!(c.args, ["namespace", "x"]);
        let c = p("delete -v 0 ns x");
        assert_eq!(c.args, ["ns", "x"]);
        // A bool flag never takes the next word.
        let c = p("delete --wait false ns x");
        assert_eq!(c.args, ["false", "ns", "x"]);
        // An implicit value only with `=`.
        let c = p("delete --dry-run ns x");
        assert_eq!(c.args, ["ns", "x"]);
        assert_eq!(c.value("dry-run"), Some(""));
    }

    #[test]
    fn flags_may_come_before_the_command() {
        let c = p("-n shop rollout -n web restart deploy/web");
        assert_eq!(c.name(), "rollout restart");
        assert_eq!(c.value("namespace"), Some("web"));
        assert_eq!(c.args, ["deploy/web"]);
        let c = p("create deploy web --image=nginx -- sleep 1");
        assert_eq!(c.name(), "create deployment");
        assert_eq!(c.program, Some(argv("sleep 1")));
        // cobra passes over "" and "-" while it looks for the command.
        let c = parse(&["cluster-info".into(), String::new(), "dump".into()]).unwrap();
        assert_eq!(c.name(), "cluster-info dump");
        assert_eq!(p("cluster-info - dump").name(), "cluster-info dump");
    }

    #[test]
    fn unknown_commands_and_flags_are_errors() {
        assert!(matches!(
            parse(&argv("krew install x")),
            Err(ParseError::UnknownCommand(_))
        ));
        assert!(matches!(
            parse(&argv("get pods --frobnicate")),
            Err(ParseError::UnknownFlag { .. })
        ));
        assert!(matches!(
            parse(&argv("get pods -n")),
            Err(ParseError::MissingValue(_))
        ));
        assert!(matches!(
            parse(&argv("get pods ---x")),
            Err(ParseError::BadSyntax(_))
        ));
        assert!(matches!(
            parse(&argv("delete --all=maybe pods")),
            Err(ParseError::NotBool { .. })
        ));
        assert_eq!(parse(&[]), Err(ParseError::Empty));
        assert_eq!(parse(&argv("-n shop")), Err(ParseError::Empty));
    }
}
