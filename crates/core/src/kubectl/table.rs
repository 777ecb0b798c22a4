//! kubectl's commands and flags, as data: every command path (`get`, `rollout restart`,
//! `create secret generic`) with its aliases, its own flags and whether it takes a program after
//! `--`, plus the global flags of `kubectl options`. The parser reads only this table, so it knows
//! a flag's arity exactly as kubectl does (a bool flag never takes the next word; a flag with an
//! implicit value, such as `--dry-run`, does not either).
//!
//! `flags.txt` is generated from the installed kubectl's own help (`kubectl <command> --help`,
//! `kubectl options`, and `kubectl <command> -h --<flag>` to find the flags with an implicit
//! value); a test regenerates it and fails when kubectl disagrees
//! (`UPDATE_SNAPSHOTS=1 cargo test -p opsmcp-core --lib kubectl::table` rewrites it).

use std::{collections::BTreeMap, sync::LazyLock};

/// What a flag takes after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    /// A boolean: `--all`, `--all=false`; never the next word.
    Bool,
    /// A value: `--namespace shop`, `--namespace=shop`, `-nshop`, `-n=shop`.
    Value,
    /// A value that may be left out (`--dry-run` means `--dry-run=unchanged`): only the `=` form
    /// gives it one.
    Optional,
    /// A value that may be repeated and accumulates (`-f a -f b`, `--from-literal`).
    List,
}

/// One flag of a command or of every command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagSpec {
    pub long: String,
    pub short: Option<char>,
    pub arity: Arity,
}

/// One command path and its own flags (the global ones are apart).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandSpec {
    pub path: Vec<String>,
    pub aliases: Vec<String>,
    /// The words after `--` are a program and its arguments (`exec`, `run`, `debug`,
    /// `create deployment|job|cronjob`), not more names.
    pub takes_program: bool,
    pub flags: Vec<FlagSpec>,
}

/// kubectl's commands (by path, joined with spaces) and global flags.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Table {
    /// The kubectl version the table was read from.
    pub version: String,
    pub global: Vec<FlagSpec>,
    pub commands: BTreeMap<String, CommandSpec>,
}

/// The table of the kubectl this build knows.
pub static TABLE: LazyLock<Table> =
    LazyLock::new(|| Table::parse(include_str!("flags.txt")).expect("flags.txt is well formed"));

impl Table {
    /// The child of `path` named (or aliased) `word`.
    pub fn child(&self, path: &[String], word: &str) -> Option<&CommandSpec> {
        self.commands.values().find(|c| {
            c.path.len() == path.len() + 1
                && c.path[..path.len()] == *path
                && (c.path[path.len()] == word || c.aliases.iter().any(|a| a == word))
        })
    }

    pub fn command(&self, path: &[String]) -> Option<&CommandSpec> {
        self.commands.get(&path.join(" "))
    }

    /// A flag of the command at `path` or a global one, by long name.
    pub fn long(&self, path: &[String], name: &str) -> Option<&FlagSpec> {
        self.flags(path).find(|f| f.long == name)
    }

    /// A flag of the command at `path` or a global one, by shorthand.
    pub fn short(&self, path: &[String], c: char) -> Option<&FlagSpec> {
        self.flags(path).find(|f| f.short == Some(c))
    }

    fn flags(&self, path: &[String]) -> impl Iterator<Item = &FlagSpec> {
        self.command(path)
            .map(|c| c.flags.as_slice())
            .unwrap_or_default()
            .iter()
            .chain(&self.global)
            .chain(std::iter::once(&*HELP))
    }

    /// Parse the text form (`flags.txt`).
    pub fn parse(text: &str) -> Result<Table, String> {
        let mut table = Table::default();
        for (n, line) in text.lines().enumerate() {
            let fail = |why: &str| format!("flags.txt line {}: {why}", n + 1);
            if let Some(v) = line.strip_prefix("# kubectl ") {
                table.version = v.split_whitespace().next().unwrap_or_default().to_owned();
                continue;
            }
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let mut fields = line.split('\t');
            let (Some(path), Some(attrs), Some(flags)) =
                (fields.next(), fields.next(), fields.next())
            else {
                return Err(fail("expected `path<TAB>attributes<TAB>flags`"));
            };
            let flags = flags
                .split_whitespace()
                .map(|f| FlagSpec::parse(f).ok_or_else(|| fail(&format!("bad flag `{f}`"))))
                .collect::<Result<Vec<_>, _>>()?;
            if path == "*" {
                table.global = flags;
                continue;
            }
            let mut spec = CommandSpec {
                path: path.split(' ').map(str::to_owned).collect(),
                flags,
                ..CommandSpec::default()
            };
            for attr in attrs.split(',').filter(|a| !a.is_empty() && *a != "-") {
                match attr.split_once('=') {
                    None if attr == "program" => spec.takes_program = true,
                    Some(("aliases", list)) => {
                        spec.aliases = list.split('|').map(str::to_owned).collect()
                    }
                    _ => return Err(fail(&format!("unknown attribute `{attr}`"))),
                }
            }
            table.commands.insert(path.to_owned(), spec);
        }
        Ok(table)
    }

    /// The text form, one command a line.
    pub fn render(&self) -> String {
        let mut out = format!(
            "# kubectl {} — generated from its help; do not edit: \
             UPDATE_SNAPSHOTS=1 cargo test -p opsmcp-core --lib kubectl::table rewrites it\n\
             # path<TAB>attributes<TAB>flags; a flag is [s/]long:kind with kind b (bool), \
             v (value), o (optional value), l (repeatable value)\n",
            self.version
        );
        let flags = |flags: &[FlagSpec]| {
            flags
                .iter()
                .map(FlagSpec::render)
                .collect::<Vec<_>>()
                .join(" ")
        };
        out.push_str(&format!("*\t-\t{}\n", flags(&self.global)));
        for (path, spec) in &self.commands {
            let mut attrs = Vec::new();
            if spec.takes_program {
                attrs.push("program".to_owned());
            }
            if !spec.aliases.is_empty() {
                attrs.push(format!("aliases={}", spec.aliases.join("|")));
            }
            let attrs = if attrs.is_empty() {
                "-".to_owned()
            } else {
                attrs.join(",")
            };
            out.push_str(&format!("{path}\t{attrs}\t{}\n", flags(&spec.flags)));
        }
        out
    }
}

/// `-h`/`--help`, which cobra adds to every command without listing it.
static HELP: LazyLock<FlagSpec> = LazyLock::new(|| FlagSpec {
    long: "help".into(),
    short: Some('h'),
    arity: Arity::Bool,
});

impl FlagSpec {
    fn parse(text: &str) -> Option<FlagSpec> {
        let (name, kind) = text.rsplit_once(':')?;
        let (short, long) = match name.split_once('/') {
            Some((s, l)) => {
                let mut chars = s.chars();
                let c = chars.next()?;
                if chars.next().is_some() {
                    return None;
                }
                (Some(c), l)
            }
            None => (None, name),
        };
        let arity = match kind {
            "b" => Arity::Bool,
            "v" => Arity::Value,
            "o" => Arity::Optional,
            "l" => Arity::List,
            _ => return None,
        };
        Some(FlagSpec {
            long: long.to_owned(),
            short,
            arity,
        })
    }

    fn render(&self) -> String {
        let kind = match self.arity {
            Arity::Bool => "b",
            Arity::Value => "v",
            Arity::Optional => "o",
            Arity::List => "l",
        };
        match self.short {
            Some(s) => format!("{s}/{}:{kind}", self.long),
            None => format!("{}:{kind}", self.long),
        }
    }
}

#[cfg(test)]
mod tests {
    //! The table is what the installed kubectl says of itself.
    use std::process::Command;

    use super::*;

    /// Run kubectl with nothing of this machine's configuration and no cluster to reach.
    fn kubectl(args: &[&str]) -> (bool, String) {
        let out = Command::new(std::env::var("K8S_KUBECTL").unwrap_or_else(|_| "kubectl".into()))
            .args(args)
            .env("KUBECONFIG", "/nonexistent/opsmcp-kubeconfig")
            .env("HOME", std::env::temp_dir())
            .env_remove("KUBECTL_EXTERNAL_DIFF")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("kubectl is not on PATH: install it (the Kubernetes tests need it too)");
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        (out.status.success(), text)
    }

    /// The flags of one help text's `Options:` block (or of `kubectl options`).
    fn options(help: &str) -> Vec<(Option<char>, String, String)> {
        let mut flags = Vec::new();
        let mut inside = false;
        for line in help.lines() {
            if line.starts_with("Options:") || line.starts_with("The following options") {
                inside = true;
                continue;
            }
            if inside && !line.starts_with(' ') && !line.starts_with('\t') && !line.is_empty() {
                inside = false;
            }
            let Some(spec) = line.strip_prefix("    ").filter(|_| inside) else {
                continue;
            };
            let Some(spec) = spec.strip_suffix(':') else {
                continue;
            };
            let (short, rest) = match spec.strip_prefix('-').and_then(|s| s.split_once(", ")) {
                Some((s, rest)) if s.len() == 1 => (s.chars().next(), rest),
                _ => (None, spec),
            };
            let Some((long, default)) = rest.strip_prefix("--").and_then(|r| r.split_once('='))
            else {
                continue;
            };
            flags.push((short, long.to_owned(), default.to_owned()));
        }
        flags
    }

    /// The subcommands a help text lists (the root's grouped lists, or `Available Commands:`).
    fn subcommands(help: &str, root: bool) -> Vec<String> {
        let mut names = Vec::new();
        let mut inside = root;
        for line in help.lines() {
            if line.starts_with("Available Commands:") {
                inside = true;
                continue;
            }
            if line.starts_with("Usage:") || line.starts_with("Options:") {
                inside = false;
            }
            if !root && line.is_empty() {
                inside = false;
            }
            if !inside {
                continue;
            }
            let Some(rest) = line.strip_prefix("  ") else {
                continue;
            };
            let name: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
            let described = rest[name.len()..].starts_with("  ");
            if !name.is_empty()
                && described
                && name.chars().all(|c| c.is_ascii_lowercase() || c == '-')
            {
                names.push(name);
            }
        }
        names
    }

    /// Whether `kubectl <path> -h --<flag>` parses: a flag with an implicit value lets the help
    /// print; any other value flag fails with "flag needs an argument". Nothing runs either way.
    fn has_implicit_value(path: &[String], flag: &str) -> bool {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        let flag = format!("--{flag}");
        args.extend(["-h", flag.as_str()]);
        let (_, out) = kubectl(&args);
        !out.contains("flag needs an argument")
    }

    /// A flag's arity from its help default; `probe` says whether a value flag has an implicit
    /// value (asked of kubectl apart, many at a time).
    fn arity(default: &str, probe: impl FnOnce() -> bool) -> Arity {
        if default == "true" || default == "false" {
            Arity::Bool
        } else if default.starts_with('[') {
            Arity::List
        } else if probe() {
            Arity::Optional
        } else {
            Arity::Value
        }
    }

    /// `f` over `items` on a few threads (each call runs a kubectl process).
    fn parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
        let chunk = items.len().div_ceil(8).max(1);
        std::thread::scope(|scope| {
            let handles: Vec<_> = items
                .chunks(chunk)
                .map(|part| scope.spawn(|| part.iter().map(&f).collect::<Vec<R>>()))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("a probe thread panicked"))
                .collect()
        })
    }

    /// Read the whole table off the installed kubectl.
    fn generate() -> Table {
        let (_, version) = kubectl(&["version", "--client"]);
        let version = version
            .lines()
            .find_map(|l| l.strip_prefix("Client Version: "))
            .unwrap_or("unknown")
            .trim()
            .to_owned();
        // Every command's help, breadth first (the root lists the top-level commands).
        let (_, root) = kubectl(&["--help"]);
        let mut helps: Vec<(Vec<String>, String)> = Vec::new();
        let mut level: Vec<Vec<String>> = subcommands(&root, true)
            .into_iter()
            .map(|n| vec![n])
            .collect();
        while !level.is_empty() {
            let read = parallel(&level, |path| {
                let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
                args.push("--help");
                (path.clone(), kubectl(&args).1)
            });
            level = read
                .iter()
                .flat_map(|(path, help)| {
                    subcommands(help, false).into_iter().map(move |child| {
                        let mut p = path.clone();
                        p.push(child);
                        p
                    })
                })
                .collect();
            helps.extend(read);
        }
        // The value flags whose implicit value only kubectl can tell.
        let (_, globals) = kubectl(&["options"]);
        let global_flags = options(&globals);
        let mut candidates: Vec<(Vec<String>, String)> = global_flags
            .iter()
            .filter(|(_, _, d)| arity(d, || false) == Arity::Value)
            .map(|(_, long, _)| (Vec::new(), long.clone()))
            .collect();
        for (path, help) in &helps {
            candidates.extend(
                options(help)
                    .into_iter()
                    .filter(|(_, _, d)| arity(d, || false) == Arity::Value)
                    .map(|(_, long, _)| (path.clone(), long)),
            );
        }
        let implicit: Vec<(Vec<String>, String)> = candidates
            .iter()
            .zip(parallel(&candidates, |(path, flag)| {
                has_implicit_value(path, flag)
            }))
            .filter(|(_, yes)| *yes)
            .map(|(c, _)| c.clone())
            .collect();
        let spec = |path: &[String], (short, long, default): (Option<char>, String, String)| {
            let probe = || implicit.iter().any(|(p, f)| p == path && *f == long);
            FlagSpec {
                arity: arity(&default, probe),
                long,
                short,
            }
        };
        let mut table = Table {
            version,
            global: global_flags.into_iter().map(|f| spec(&[], f)).collect(),
            commands: BTreeMap::new(),
        };
        for (path, help) in helps {
            let usage = help
                .lines()
                .skip_while(|l| !l.starts_with("Usage:"))
                .nth(1)
                .unwrap_or_default()
                .to_owned();
            let aliases: Vec<String> = help
                .lines()
                .skip_while(|l| !l.starts_with("Aliases:"))
                .nth(1)
                .map(|l| {
                    l.split(", ")
                        .map(|a| a.trim().to_owned())
                        .filter(|a| Some(a) != path.last())
                        .collect()
                })
                .unwrap_or_default();
            let flags = options(&help).into_iter().map(|f| spec(&path, f)).collect();
            table.commands.insert(
                path.join(" "),
                CommandSpec {
                    takes_program: usage.contains(" -- "),
                    aliases,
                    flags,
                    path,
                },
            );
        }
        table
    }

    #[test]
    fn the_table_is_the_installed_kubectls() {
        let generated = generate();
        assert!(
            generated.commands.len() > 60 && generated.global.len() > 20,
            "kubectl's help was not read: {} commands, {} global flags",
            generated.commands.len(),
            generated.global.len()
        );
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/kubectl/flags.txt");
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::write(path, generated.render()).unwrap();
            return;
        }
        let stored = &*TABLE;
        if stored.version != generated.version {
            // Another kubectl: its table may differ; the stored one stays what the parser knows.
            eprintln!(
                "kubectl {} is installed, the table is of {}",
                generated.version, stored.version
            );
        }
        let mine = stored.render();
        let theirs = Table {
            version: stored.version.clone(),
            ..generated
        }
        .render();
        if mine != theirs {
            let diff: Vec<String> = theirs
                .lines()
                .filter(|l| !mine.lines().any(|m| m == *l))
                .map(|l| format!("kubectl says: {l}"))
                .chain(
                    mine.lines()
                        .filter(|l| !theirs.lines().any(|t| t == *l))
                        .map(|l| format!("the table says: {l}")),
                )
                .collect();
            panic!(
                "the kubectl flag table differs from the installed kubectl; run \
                 `UPDATE_SNAPSHOTS=1 cargo test -p opsmcp-core --lib kubectl::table` and review:\n{}",
                diff.join("\n")
            );
        }
    }

    #[test]
    fn the_text_form_round_trips() {
        let table = &*TABLE;
        assert_eq!(Table::parse(&table.render()).unwrap(), *table);
        let get = table.command(&["get".to_owned()]).unwrap();
        assert!(
            get.flags
                .iter()
                .any(|f| f.long == "raw" && f.arity == Arity::Value)
        );
        assert_eq!(
            table.long(&["get".into()], "namespace").unwrap().short,
            Some('n')
        );
        let dry = table.long(&["delete".into()], "dry-run").unwrap();
        assert_eq!(dry.arity, Arity::Optional);
        assert!(table.command(&["exec".into()]).unwrap().takes_program);
        assert!(table.child(&["create".into()], "deploy").is_some());
    }
}
