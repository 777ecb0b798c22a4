//! The tamper-evident audit log: one JSON line per decision (planned, asked, approved, denied,
//! executed, failed, refused, skipped), each carrying the SHA-256 of the previous line, written
//! and fsync'd before the tool answers. [`verify`] walks a log and reports the first line that
//! does not chain.
//!
//! Arguments are redacted before they are written: values under keys that name secrets
//! (token, password, secret, key, authorization, credential, cookie) become `***`.
//!
//! Plain Rust: no MCP and no backend types.

use std::{
    fs::{File, OpenOptions},
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    sync::Mutex,
};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The hash that the first line chains to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One decision, as the caller describes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// RFC 3339.
    pub time: String,
    pub server: String,
    pub tool: String,
    pub arguments: Value,
    pub risk: String,
    pub mode: String,
    pub confidence: Option<f64>,
    /// planned, asked, approved, denied, executed, failed, refused, skipped
    pub decision: String,
    /// What came of it: a short result or error.
    pub outcome: String,
    pub duration_ms: u64,
    /// Who asked: the client's name, a user if known.
    pub caller: String,
}

/// A line of the log: the entry, the previous line's hash and its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    #[serde(flatten)]
    pub entry: Entry,
    pub prev: String,
    pub hash: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit log {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("audit log {path}, line {line}: {problem}")]
    Broken {
        path: PathBuf,
        line: usize,
        problem: String,
    },
}

/// The hash of a record: SHA-256 over the entry and the previous hash, as compact JSON.
fn hash_of(entry: &Entry, prev: &str) -> String {
    #[derive(Serialize)]
    struct Hashed<'a> {
        #[serde(flatten)]
        entry: &'a Entry,
        prev: &'a str,
    }
    let bytes = serde_json::to_vec(&Hashed { entry, prev }).expect("entries serialize");
    hex::encode(Sha256::digest(bytes))
}

const SECRET_KEYS: &[&str] = &[
    "token",
    "password",
    "passwd",
    "secret",
    "key",
    "authorization",
    "credential",
    "cookie",
];

/// `value` with every value under a secret-looking key replaced by `***`.
pub fn redact(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let lower = k.to_lowercase();
                    if SECRET_KEYS.iter().any(|s| lower.contains(s)) {
                        (k.clone(), Value::String("***".into()))
                    } else {
                        (k.clone(), redact(v))
                    }
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

/// An append-only audit log file.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    state: Mutex<(File, String)>,
}

impl AuditLog {
    /// Open (or create) the log and continue its chain; a broken log refuses to open.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, AuditError> {
        let path = path.as_ref().to_path_buf();
        let io = |source| AuditError::Io {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let last = if path.exists() {
            verify(&path)?.1
        } else {
            GENESIS.to_owned()
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io)?;
        Ok(Self {
            path,
            state: Mutex::new((file, last)),
        })
    }

    /// Append one entry (arguments redacted) and fsync before returning.
    pub fn append(&self, mut entry: Entry) -> Result<Record, AuditError> {
        entry.arguments = redact(&entry.arguments);
        let mut state = self.state.lock().unwrap();
        let (file, last) = &mut *state;
        let hash = hash_of(&entry, last);
        let record = Record {
            entry,
            prev: last.clone(),
            hash: hash.clone(),
        };
        let mut line = serde_json::to_vec(&record).expect("records serialize");
        line.push(b'\n');
        let io = |source| AuditError::Io {
            path: self.path.clone(),
            source,
        };
        file.write_all(&line).map_err(io)?;
        file.sync_data().map_err(io)?;
        *last = hash;
        Ok(record)
    }
}

/// Check every line of a log: valid JSON, chained to the line before, hash matching its content.
/// Returns the number of records and the last hash.
pub fn verify(path: &Path) -> Result<(usize, String), AuditError> {
    let file = File::open(path).map_err(|source| AuditError::Io {
        path: path.to_owned(),
        source,
    })?;
    let broken = |line: usize, problem: String| AuditError::Broken {
        path: path.to_owned(),
        line,
        problem,
    };
    let mut last = GENESIS.to_owned();
    let mut count = 0;
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|source| AuditError::Io {
            path: path.to_owned(),
            source,
        })?;
        let n = i + 1;
        let record: Record =
            serde_json::from_str(&line).map_err(|e| broken(n, format!("not a record: {e}")))?;
        if record.prev != last {
            return Err(broken(
                n,
                "does not chain to the line before (a line was removed, reordered or inserted)"
                    .into(),
            ));
        }
        if hash_of(&record.entry, &record.prev) != record.hash {
            return Err(broken(
                n,
                "its content does not match its hash (the line was edited)".into(),
            ));
        }
        last = record.hash;
        count += 1;
    }
    Ok((count, last))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn temp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!(
            "opsmcp-audit-{}-{name}-{}.jsonl",
            std::process::id(),
            uuid::Uuid::new_v4()
        ))
    }

    fn entry(i: u64) -> Entry {
        Entry {
            time: "2026-11-24T08:00:00Z".into(),
            server: "kubernetes".into(),
            tool: "deployments_scale".into(),
            arguments: json!({ "name": "web", "replicas": i, "token": "s3cret", "nested": { "apiKey": "k" } }),
            risk: "medium".into(),
            mode: "approval".into(),
            confidence: Some(0.85),
            decision: "executed".into(),
            outcome: "scaled".into(),
            duration_ms: i,
            caller: "claude-desktop".into(),
        }
    }

    #[test]
    fn chains_redacts_and_reopens() {
        let path = temp("chain");
        let log = AuditLog::open(&path).unwrap();
        let first = log.append(entry(1)).unwrap();
        assert_eq!(first.prev, GENESIS);
        assert_eq!(first.entry.arguments["token"], "***");
        assert_eq!(first.entry.arguments["nested"]["apiKey"], "***");
        let second = log.append(entry(2)).unwrap();
        assert_eq!(second.prev, first.hash);
        drop(log);
        // Reopening continues the chain.
        let log = AuditLog::open(&path).unwrap();
        let third = log.append(entry(3)).unwrap();
        assert_eq!(third.prev, second.hash);
        assert_eq!(verify(&path).unwrap().0, 3);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("s3cret"));
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn tampering_is_found_with_its_line() {
        let path = temp("tamper");
        let log = AuditLog::open(&path).unwrap();
        for i in 0..4 {
            log.append(entry(i)).unwrap();
        }
        drop(log);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();

        let edited = text.replacen(
            "\"outcome\":\"scaled\"",
            "\"outcome\":\"nothing happened\"",
            1,
        );
        std::fs::write(&path, &edited).unwrap();
        let err = verify(&path).unwrap_err().to_string();
        assert!(
            err.contains("line 1: its content does not match its hash"),
            "{err}"
        );

        let removed = [lines[0], lines[2], lines[3]].join("\n") + "\n";
        std::fs::write(&path, removed).unwrap();
        let err = verify(&path).unwrap_err().to_string();
        assert!(err.contains("line 2: does not chain"), "{err}");
        assert!(
            AuditLog::open(&path).is_err(),
            "a broken log does not take new lines"
        );
        std::fs::remove_file(&path).unwrap();
    }
}
