//! The house rules a reader relies on, checked over every crate of the workspace: no two source
//! files of a crate import each other, directly or around a circle, and every module says what
//! it is in a `//!` header.
//!
//! Imports are read from `use` items and from `crate::`/`super::`/`self::` paths in code (unit
//! test modules excluded: they import their parent by design); `mod` declarations are not
//! imports.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

use opsmcp_e2e::workspace_root;

/// A crate's files by module path (`[]` is the root, `["kube", "api"]` is `kube/api.rs`).
type Modules = BTreeMap<Vec<String>, PathBuf>;

fn crate_sources() -> Vec<PathBuf> {
    let root = workspace_root();
    let mut sources = Vec::new();
    for group in ["crates", "servers"] {
        for entry in std::fs::read_dir(root.join(group)).unwrap().flatten() {
            if entry.path().join("src").is_dir() {
                sources.push(entry.path().join("src"));
            }
        }
    }
    sources.push(root.join("tests/src"));
    sources
}

fn modules(src: &Path) -> Modules {
    fn walk(dir: &Path, prefix: &[String], out: &mut Modules) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if prefix.is_empty() && name == "bin" {
                    continue; // binaries are crates of their own
                }
                let mut p = prefix.to_vec();
                p.push(name);
                walk(&path, &p, out);
            } else if let Some(stem) = name.strip_suffix(".rs") {
                let module = match (prefix.is_empty(), stem) {
                    (true, "lib") => Vec::new(),
                    // A binary beside a library is a crate of its own.
                    (true, "main") if dir.join("lib.rs").exists() => continue,
                    (true, "main") => Vec::new(),
                    (false, "mod") => prefix.to_vec(),
                    _ => [prefix, &[stem.to_owned()]].concat(),
                };
                out.insert(module, path);
            }
        }
    }
    let mut out = Modules::new();
    walk(src, &[], &mut out);
    out
}

/// The code of a file without comments and without its unit-test module.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap();
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else {
        return vec![tree];
    };
    let (prefix, rest) = tree.split_at(open);
    let inner = &rest[1..rest.len() - 1];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand(p).into_iter().map(|q| format!("{prefix}{q}")))
        .collect()
}

/// Every relative path the code names: `use` trees expanded, and `crate::`/`super::`/`self::`
/// paths anywhere else.
fn paths(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("use ") {
        let before = rest[..at].chars().last();
        rest = &rest[at + 4..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(end) = rest.find(';') {
            found.extend(expand(&rest[..end]));
        }
    }
    let bytes = code.as_bytes();
    for start in ["crate::", "super::", "self::"] {
        for (i, _) in code.match_indices(start) {
            if i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_') {
                continue;
            }
            let end = code[i..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .map_or(code.len(), |e| i + e);
            // `super::{a, b}` is a use tree, read above; the bare prefix names no module.
            if !code[i..end].ends_with("::") {
                found.push(code[i..end].to_owned());
            }
        }
    }
    found
}

/// The module file a path leads to from `module` (the longest module prefix), if any.
fn resolve(path: &str, module: &[String], modules: &Modules) -> Option<Vec<String>> {
    let mut segments = path.split("::").filter(|s| !s.is_empty());
    let mut base: Vec<String> = match segments.next()? {
        "crate" => Vec::new(),
        "self" => module.to_vec(),
        // `super` in `a/b.rs` is `a`; in `a/mod.rs` (module `a`) it is the root.
        "super" => module[..module.len().saturating_sub(1)].to_vec(),
        _ => return None,
    };
    for s in segments {
        if s == "super" {
            base.pop();
            continue;
        }
        let mut next = base.clone();
        next.push(s.to_owned());
        if modules.contains_key(&next) {
            base = next;
        } else {
            break;
        }
    }
    Some(base)
}

#[test]
fn no_source_file_imports_another_around_a_circle() {
    let mut circles = Vec::new();
    for src in crate_sources() {
        let modules = modules(&src);
        let mut edges: BTreeMap<&Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
        for (module, file) in &modules {
            let text = std::fs::read_to_string(file).unwrap();
            let targets = paths(&code(&text))
                .iter()
                .filter_map(|p| resolve(p, module, &modules))
                .filter(|t| t != module)
                .collect();
            edges.insert(module, targets);
        }
        // A circle is a path back to where it started; report each once, from its smallest
        // member.
        for start in edges.keys() {
            let mut stack = vec![(vec![(*start).clone()], (*start).clone())];
            let mut seen = BTreeSet::new();
            while let Some((trail, at)) = stack.pop() {
                for next in edges.get(&at).into_iter().flatten() {
                    if next == *start {
                        if trail.iter().all(|m| m >= *start) {
                            let names: Vec<String> = trail
                                .iter()
                                .chain([next])
                                .map(|m| {
                                    modules[m].strip_prefix(&src).unwrap().display().to_string()
                                })
                                .collect();
                            circles.push(format!("{}: {}", src.display(), names.join(" → ")));
                        }
                    } else if next > *start && seen.insert(next.clone()) {
                        let mut t = trail.clone();
                        t.push(next.clone());
                        stack.push((t, next.clone()));
                    }
                }
            }
        }
    }
    assert!(
        circles.is_empty(),
        "files that import each other:\n{}",
        circles.join("\n")
    );
}

#[test]
fn every_module_says_what_it_is() {
    let mut silent = Vec::new();
    for src in crate_sources() {
        for file in modules(&src).values() {
            let text = std::fs::read_to_string(file).unwrap();
            if !text.trim_start().starts_with("//!") {
                silent.push(file.display().to_string());
            }
        }
    }
    assert!(
        silent.is_empty(),
        "modules without a //! header:\n{}",
        silent.join("\n")
    );
}

#[test]
fn use_trees_expand() {
    assert_eq!(
        expand("super::{cluster::Cluster, sim::{Behavior, Dice}}"),
        [
            "super::cluster::Cluster",
            "super::sim::Behavior",
            "super::sim::Dice"
        ]
    );
}
