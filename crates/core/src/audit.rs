//! The tamper-evident audit log: one JSON line per decision (planned, asked, approved, declined,
//! executed, failed, refused, skipped), each carrying the SHA-256 of the previous line, written
//! and fsync'd before the tool answers. [`verify`] walks a log (and the files rotated out of
//! it) and reports the first record that does not chain, or a torn last line.
//!
//! - Several processes may write one file: each append takes an exclusive lock on
//!   `<file>.lock`, reads the hash of the last line under the lock, writes one complete line
//!   with a single `write` and fsyncs. Lines never interleave and the chain stays single.
//! - Size-based rotation: when the file would grow past `max_bytes` it becomes `<file>.1`
//!   (older ones shift to `.2`, …, up to `keep`), and the new file opens with a `rotated`
//!   record chained to the last record of the old one, so the chain runs across files.
//! - Arguments are redacted before they are written: values under keys that name secrets
//!   (token, password, secret, key, authorization, credential, cookie) become `***`, and so do
//!   secrets written inside values (`--from-literal=password=…`, bearer tokens, keys).
//! - A keyed chain (`--audit-key-file`): each record is sealed with HMAC-SHA-256 under the key
//!   instead of a bare SHA-256 (`"chain": "hmac-sha256"` on the line), so whoever can write the
//!   file but not read the key cannot rewrite the chain with fresh hashes. What each form can
//!   and cannot detect is in SAFETY.md.
//!
//! Plain Rust: no MCP and no backend types.

use std::{
    fs::{File, OpenOptions},
    io::{Read, Seek, SeekFrom, Write},
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    sync::Mutex,
};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The hash that the first line chains to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The decision of the record that opens a file after rotation.
pub const ROTATED: &str = "rotated";

/// The `chain` of a record sealed with the key.
pub const KEYED: &str = "hmac-sha256";

/// The key of a keyed chain, read from `--audit-key-file` (at least 32 bytes).
#[derive(Clone)]
pub struct AuditKey(aws_lc_rs::hmac::Key);

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(…)")
    }
}

impl AuditKey {
    /// Shortest key accepted, in bytes.
    pub const MIN_BYTES: usize = 32;

    /// The key in `path` (its bytes, a trailing newline dropped).
    pub fn from_file(path: &Path) -> Result<Self, AuditError> {
        let bytes = std::fs::read(path).map_err(io_error(path))?;
        let key = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
        if key.len() < Self::MIN_BYTES {
            return Err(AuditError::ShortKey {
                path: path.to_owned(),
                len: key.len(),
            });
        }
        Ok(Self::new(key))
    }

    pub fn new(key: &[u8]) -> Self {
        Self(aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key))
    }
}

/// One decision, as the caller describes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// RFC 3339.
    pub time: String,
    pub server: String,
    pub tool: String,
    pub arguments: Value,
    pub risk: String,
    /// Why the action has that risk.
    pub reason: String,
    pub mode: String,
    pub confidence: Option<f64>,
    /// planned, asked, approved, declined, executed, failed, refused, skipped (or rotated)
    pub decision: String,
    /// What came of it: why it was decided so, a short result or the error.
    pub outcome: String,
    pub duration_ms: u64,
    /// Who asked, as the client declares itself: its name and version (untrusted).
    pub caller: String,
    /// Who asked, as the transport authenticated them (absent on stdio and without a token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
}

impl Entry {
    /// The current time in RFC 3339, for [`Entry::time`].
    pub fn now() -> String {
        jiff::Timestamp::now().to_string()
    }
}

/// A line of the log: the entry, the previous line's hash and its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    #[serde(flatten)]
    pub entry: Entry,
    pub prev: String,
    /// [`KEYED`] when the hash is an HMAC under the audit key; absent for SHA-256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
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
    #[error(
        "audit log {path}, line {line}: the last line is torn (the writer stopped mid-line); \
         keep the file as evidence, move it aside and a new chain starts"
    )]
    Torn { path: PathBuf, line: usize },
    #[error(
        "audit key {path}: {len} bytes; use at least 32 (e.g. `head -c 32 /dev/urandom > {path}`)"
    )]
    ShortKey { path: PathBuf, len: usize },
    #[error(
        "audit log {path}: no record is keyed although a key was given (the chain was rewritten \
         without the key, or written before --audit-key-file was set)"
    )]
    Unkeyed { path: PathBuf },
}

/// The hash of a record, over the entry, the previous hash and (keyed) the chain form, as
/// compact JSON: SHA-256, or HMAC-SHA-256 under `key`.
fn hash_of(entry: &Entry, prev: &str, key: Option<&AuditKey>) -> String {
    #[derive(Serialize)]
    struct Hashed<'a> {
        #[serde(flatten)]
        entry: &'a Entry,
        prev: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        chain: Option<&'a str>,
    }
    let hashed = Hashed {
        entry,
        prev,
        chain: key.map(|_| KEYED),
    };
    let bytes = serde_json::to_vec(&hashed).expect("entries serialize");
    match key {
        None => hex::encode(Sha256::digest(bytes)),
        Some(key) => hex::encode(aws_lc_rs::hmac::sign(&key.0, &bytes)),
    }
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
        Value::String(text) => Value::String(crate::output::redact_secrets(text)),
        other => other.clone(),
    }
}

/// When the log rotates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Rotate before a line would take the file past this size.
    pub max_bytes: u64,
    /// How many rotated files to keep (`<file>.1` … `<file>.<keep>`).
    pub keep: usize,
}

impl Default for Rotation {
    fn default() -> Self {
        Self {
            max_bytes: 16 * 1024 * 1024,
            keep: 5,
        }
    }
}

/// The default location: `$XDG_STATE_HOME/opsmcp/audit.jsonl`, else
/// `~/.local/state/opsmcp/audit.jsonl` (the XDG base-directory default), else the temp dir.
pub fn default_path() -> PathBuf {
    let non_empty = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    non_empty("XDG_STATE_HOME")
        .filter(|p| p.is_absolute())
        .or_else(|| non_empty("HOME").map(|home| home.join(".local").join("state")))
        .unwrap_or_else(std::env::temp_dir)
        .join("opsmcp")
        .join("audit.jsonl")
}

/// The last line of the current file, as seen by this process: lets an append skip re-reading
/// the tail when no other process wrote since.
#[derive(Debug, Clone)]
struct Tail {
    inode: u64,
    len: u64,
    hash: String,
}

/// An append-only audit log file, safe to share between threads and processes.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    lock_path: PathBuf,
    rotation: Rotation,
    key: Option<AuditKey>,
    tail: Mutex<Option<Tail>>,
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> AuditError + '_ {
    move |source| AuditError::Io {
        path: path.to_owned(),
        source,
    }
}

impl AuditLog {
    /// Open (or create) the log with the default rotation.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, AuditError> {
        Self::open_with(path, Rotation::default())
    }

    /// Open (or create) the log now. An existing file must end in an intact line: a torn or
    /// unparsable last line refuses to open (it would break the chain).
    pub fn open_with(path: impl AsRef<Path>, rotation: Rotation) -> Result<Self, AuditError> {
        let log = Self::lazy(path, rotation);
        log.locked(|file, tail| {
            *tail = Some(log.read_tail(file)?);
            Ok(())
        })?;
        Ok(log)
    }

    /// The log at `path`, touched only by the first append: a server that never changes
    /// anything never creates it, and start-up does no file I/O. Problems (an unwritable
    /// directory, a torn tail) surface on that append, which then refuses.
    pub fn lazy(path: impl AsRef<Path>, rotation: Rotation) -> Self {
        let path = path.as_ref().to_path_buf();
        let mut lock_path = path.clone().into_os_string();
        lock_path.push(".lock");
        Self {
            lock_path: lock_path.into(),
            path,
            rotation,
            key: None,
            tail: Mutex::new(None),
        }
    }

    /// Seal every record from now on with `key` (a keyed chain).
    pub fn with_key(mut self, key: Option<AuditKey>) -> Self {
        self.key = key;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Run `f` on the current file under the cross-process lock.
    fn locked<T>(
        &self,
        f: impl FnOnce(&mut File, &mut Option<Tail>) -> Result<T, AuditError>,
    ) -> Result<T, AuditError> {
        let mut tail = self.tail.lock().unwrap_or_else(|e| e.into_inner());
        if tail.is_none()
            && let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(io_error(&self.path))?;
        }
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock_path)
            .map_err(io_error(&self.lock_path))?;
        lock.lock().map_err(io_error(&self.lock_path))?;
        let mut file = self.open_current()?;
        let result = f(&mut file, &mut tail);
        drop(lock); // closing the descriptor releases the lock
        result
    }

    fn open_current(&self) -> Result<File, AuditError> {
        OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&self.path)
            .map_err(io_error(&self.path))
    }

    /// The hash of the file's last record (or [`GENESIS`] for an empty file).
    fn read_tail(&self, file: &mut File) -> Result<Tail, AuditError> {
        let meta = file.metadata().map_err(io_error(&self.path))?;
        let (inode, len) = (meta.ino(), meta.len());
        if len == 0 {
            return Ok(Tail {
                inode,
                len,
                hash: GENESIS.to_owned(),
            });
        }
        let (line, start) = last_line(file, len).map_err(io_error(&self.path))?;
        let Some(line) = line.strip_suffix(b"\n") else {
            return Err(AuditError::Torn {
                path: self.path.clone(),
                line: line_number(&self.path, start),
            });
        };
        let record: Record = serde_json::from_slice(line).map_err(|e| AuditError::Broken {
            path: self.path.clone(),
            line: line_number(&self.path, start),
            problem: format!("the last line is not a record: {e}"),
        })?;
        Ok(Tail {
            inode,
            len,
            hash: record.hash,
        })
    }

    /// Append one entry (arguments redacted) and fsync before returning.
    pub fn append(&self, mut entry: Entry) -> Result<Record, AuditError> {
        entry.arguments = redact(&entry.arguments);
        self.locked(|file, cached| {
            let meta = file.metadata().map_err(io_error(&self.path))?;
            let mut tail = match cached.take() {
                Some(t) if t.inode == meta.ino() && t.len == meta.len() => t,
                _ => self.read_tail(file)?,
            };
            // The line's size does not depend on the previous hash (always 64 hex digits);
            // prev, chain and hash take under 190 bytes.
            let size = serde_json::to_vec(&entry).map_or(0, |v| v.len()) as u64 + 190;
            if tail.len > 0 && tail.len + size > self.rotation.max_bytes {
                *file = self.rotate(&tail)?;
                tail = self.read_tail(file)?;
            }
            let (record, line) = seal(entry, &tail.hash, self.key.as_ref());
            self.write_line(file, &line)?;
            *cached = Some(Tail {
                inode: tail.inode,
                len: tail.len + line.len() as u64,
                hash: record.hash.clone(),
            });
            Ok(record)
        })
    }

    fn write_line(&self, file: &mut File, line: &[u8]) -> Result<(), AuditError> {
        // One write of the whole line: with O_APPEND, concurrent writers cannot split it.
        file.write_all(line).map_err(io_error(&self.path))?;
        file.sync_data().map_err(io_error(&self.path))
    }

    /// Shift `<file>.N` to `<file>.N+1`, move the file to `<file>.1` and start a new one whose
    /// first record continues the chain. Runs under the lock.
    fn rotate(&self, tail: &Tail) -> Result<File, AuditError> {
        let keep = self.rotation.keep.max(1);
        let _ = std::fs::remove_file(rotated(&self.path, keep));
        for n in (1..keep).rev() {
            let from = rotated(&self.path, n);
            if from.exists() {
                std::fs::rename(&from, rotated(&self.path, n + 1)).map_err(io_error(&from))?;
            }
        }
        let first = rotated(&self.path, 1);
        std::fs::rename(&self.path, &first).map_err(io_error(&self.path))?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(dir) = File::open(dir)
        {
            let _ = dir.sync_all();
        }
        let mut file = self.open_current()?;
        let entry = Entry {
            time: Entry::now(),
            decision: ROTATED.into(),
            outcome: format!(
                "continues {} (its last record {})",
                first.file_name().unwrap_or_default().to_string_lossy(),
                &tail.hash[..16]
            ),
            ..Entry::default()
        };
        let (_, line) = seal(entry, &tail.hash, self.key.as_ref());
        self.write_line(&mut file, &line)?;
        Ok(file)
    }

    /// The last `n` records of the current file, oldest first.
    pub fn recent(&self, n: usize) -> Result<Vec<Record>, AuditError> {
        let mut file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error(&self.path)(e)),
        };
        let len = file.metadata().map_err(io_error(&self.path))?.len();
        let start = len.saturating_sub(256 * 1024);
        file.seek(SeekFrom::Start(start))
            .map_err(io_error(&self.path))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io_error(&self.path))?;
        let mut lines: Vec<&[u8]> = bytes.split_inclusive(|b| *b == b'\n').collect();
        if start > 0 && !lines.is_empty() {
            lines.remove(0); // probably cut at the front
        }
        let records: Vec<Record> = lines
            .iter()
            .filter(|l| l.ends_with(b"\n"))
            .filter_map(|l| serde_json::from_slice(l).ok())
            .collect();
        Ok(records[records.len().saturating_sub(n)..].to_vec())
    }
}

/// The record of `entry` chained to `prev` (sealed with `key` when given), and its line.
fn seal(entry: Entry, prev: &str, key: Option<&AuditKey>) -> (Record, Vec<u8>) {
    let hash = hash_of(&entry, prev, key);
    let record = Record {
        entry,
        prev: prev.to_owned(),
        chain: key.map(|_| KEYED.to_owned()),
        hash,
    };
    let mut line = serde_json::to_vec(&record).expect("records serialize");
    line.push(b'\n');
    (record, line)
}

/// `<file>.<n>`.
fn rotated(path: &Path, n: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    name.into()
}

/// The last line of a file of `len > 0` bytes (with its newline, if it has one) and the
/// offset where it starts, reading backwards from the end.
fn last_line(file: &mut File, len: u64) -> std::io::Result<(Vec<u8>, u64)> {
    const CHUNK: u64 = 8192;
    let mut end = len;
    let mut buf: Vec<u8> = Vec::new();
    let start = loop {
        let from = end.saturating_sub(CHUNK);
        let mut chunk = vec![0; (end - from) as usize];
        file.seek(SeekFrom::Start(from))?;
        file.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&buf);
        buf = chunk;
        // The final newline ends the last line; the one before it starts it.
        let search = buf.strip_suffix(b"\n").unwrap_or(&buf);
        if let Some(pos) = search.iter().rposition(|b| *b == b'\n') {
            break from + pos as u64 + 1;
        }
        if from == 0 {
            break 0;
        }
        end = from;
    };
    let offset = (start - (len - buf.len() as u64)) as usize;
    Ok((buf[offset..].to_vec(), start))
}

/// The 1-based number of the line starting at `offset` (for error messages only: it reads
/// the file up to there).
fn line_number(path: &Path, offset: u64) -> usize {
    let Ok(file) = File::open(path) else {
        return 0;
    };
    let mut counted = 0;
    let mut reader = std::io::BufReader::new(file.take(offset));
    let mut block = [0u8; 64 * 1024];
    while let Ok(n) = reader.read(&mut block) {
        if n == 0 {
            break;
        }
        counted += block[..n].iter().filter(|b| **b == b'\n').count();
    }
    counted + 1
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Each file checked, oldest first, with its record count.
    pub files: Vec<(PathBuf, usize)>,
    pub records: usize,
    pub last_hash: String,
    /// The oldest file kept starts with a `rotated` record: older files were pruned.
    pub pruned_before: bool,
    /// Records sealed with the key, checked against it.
    pub keyed: usize,
    /// Records sealed with a key that was not given: linked, their content not checked.
    pub unchecked: usize,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let files = self
            .files
            .iter()
            .map(|(p, n)| format!("{} ({n})", p.display()))
            .collect::<Vec<_>>()
            .join(", ");
        write!(
            f,
            "intact: {} records in {} file(s): {files}; last hash {}",
            self.records,
            self.files.len(),
            self.last_hash
        )?;
        if self.pruned_before {
            write!(
                f,
                "; the chain starts at a rotation (older files were pruned)"
            )?;
        }
        if self.keyed > 0 {
            write!(f, "; {} keyed (HMAC-SHA-256) and checked", self.keyed)?;
            if self.keyed < self.records {
                write!(
                    f,
                    ", the {} before them hash-chained only",
                    self.records - self.keyed
                )?;
            }
        }
        if self.unchecked > 0 {
            write!(
                f,
                "; {} keyed records NOT checked: give the key (--key-file) to check them",
                self.unchecked
            )?;
        }
        Ok(())
    }
}

/// Check the log at `path` and the files rotated out of it (`<path>.N`, oldest first): every
/// line valid JSON ending in a newline, chained to the record before (across files), its hash
/// matching its content. Only the oldest file may start anywhere but [`GENESIS`], and then
/// only with a `rotated` record. With `key`, keyed records are checked against it, and once
/// one is keyed every later one must be (at least one must be).
pub fn verify(path: &Path, key: Option<&AuditKey>) -> Result<Report, AuditError> {
    let mut files: Vec<PathBuf> = (1..)
        .map(|n| rotated(path, n))
        .take_while(|p| p.exists())
        .collect();
    files.reverse();
    files.push(path.to_owned());
    let mut report = Report {
        files: Vec::new(),
        records: 0,
        last_hash: GENESIS.to_owned(),
        pruned_before: false,
        keyed: 0,
        unchecked: 0,
    };
    for (index, file) in files.iter().enumerate() {
        let count = verify_file(file, index == 0, key, &mut report)?;
        report.files.push((file.clone(), count));
        report.records += count;
    }
    if key.is_some() && report.records > 0 && report.keyed == 0 {
        return Err(AuditError::Unkeyed {
            path: path.to_owned(),
        });
    }
    Ok(report)
}

fn verify_file(
    path: &Path,
    oldest: bool,
    key: Option<&AuditKey>,
    report: &mut Report,
) -> Result<usize, AuditError> {
    let bytes = std::fs::read(path).map_err(io_error(path))?;
    let broken = |line: usize, problem: &str| AuditError::Broken {
        path: path.to_owned(),
        line,
        problem: problem.to_owned(),
    };
    let mut count = 0;
    for (i, line) in bytes.split_inclusive(|b| *b == b'\n').enumerate() {
        let n = i + 1;
        let Some(line) = line.strip_suffix(b"\n") else {
            return Err(AuditError::Torn {
                path: path.to_owned(),
                line: n,
            });
        };
        let record: Record =
            serde_json::from_slice(line).map_err(|e| broken(n, &format!("not a record: {e}")))?;
        // The hash covers the record's fields; a line must be exactly the record written.
        if serde_json::to_vec(&record).ok().as_deref() != Some(line) {
            return Err(broken(
                n,
                "the line holds what its hash does not cover (a field was added, repeated or \
                 rewritten)",
            ));
        }
        let starts_here = n == 1 && oldest && report.last_hash == GENESIS;
        if starts_here && record.prev != GENESIS {
            if record.entry.decision != ROTATED {
                return Err(broken(
                    n,
                    "the first record does not start the chain (lines were removed from the start)",
                ));
            }
            report.pruned_before = true;
        } else if record.prev != report.last_hash {
            return Err(broken(
                n,
                if n == 1 {
                    "does not continue the file rotated before it (a file was removed or replaced)"
                } else {
                    "does not chain to the line before (a line was removed, reordered or inserted)"
                },
            ));
        }
        match (record.chain.as_deref(), key) {
            (None, _) if report.keyed > 0 || report.unchecked > 0 => {
                return Err(broken(
                    n,
                    "an unkeyed record after keyed ones (the chain was rewritten from here \
                     without the key)",
                ));
            }
            (None, _) => {
                if hash_of(&record.entry, &record.prev, None) != record.hash {
                    return Err(broken(
                        n,
                        "its content does not match its hash (the line was edited)",
                    ));
                }
            }
            (Some(KEYED), Some(key)) => {
                if hash_of(&record.entry, &record.prev, Some(key)) != record.hash {
                    return Err(broken(
                        n,
                        "its content does not match its HMAC (the line was edited, or sealed \
                         with another key)",
                    ));
                }
                report.keyed += 1;
            }
            (Some(KEYED), None) => report.unchecked += 1,
            (Some(other), _) => {
                return Err(broken(n, &format!("unknown chain form `{other}`")));
            }
        }
        report.last_hash = record.hash;
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn secrets_inside_values_are_redacted() {
        for (text, want) in [
            (
                "--from-literal=password=hunter2",
                "--from-literal=password=***",
            ),
            ("DB_TOKEN=abc123 other=1", "DB_TOKEN=*** other=1"),
            ("api_key: \"s3cr3t value\"", "api_key: ***"),
            (
                "Authorization: Bearer abcdefgh12345678",
                "Authorization: Bearer ***",
            ),
            (
                "curl -H 'x: Bearer abcdefgh12345678'",
                "curl -H 'x: Bearer ***'",
            ),
            (
                "https://user:pa55@example.com/x",
                "https://user:***@example.com/x",
            ),
            (
                "token ghp_abcdefghijklmnopqrstuvwxyz0123456789 used",
                "token *** used",
            ),
            ("key AKIAABCDEFGHIJKLMNOP", "key ***"),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
                "***",
            ),
            (
                "scale deploy/web --replicas=3",
                "scale deploy/web --replicas=3",
            ),
            ("memory_limit=256Mi", "memory_limit=256Mi"),
        ] {
            assert_eq!(crate::output::redact_secrets(text), want, "{text}");
        }
        let args = serde_json::json!({ "args": ["create", "secret", "generic", "db", "--from-literal=password=hunter2"], "password": "x" });
        assert_eq!(
            redact(&args),
            serde_json::json!({ "args": ["create", "secret", "generic", "db", "--from-literal=password=***"], "password": "***" })
        );
    }

    struct Dir(PathBuf);
    impl Dir {
        fn new() -> Self {
            let dir = std::env::temp_dir().join(format!("opsmcp-audit-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
        fn file(&self) -> PathBuf {
            self.0.join("audit.jsonl")
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn entry(i: u64) -> Entry {
        Entry {
            time: "2026-11-24T08:00:00Z".into(),
            server: "kubernetes".into(),
            tool: "deployments_scale".into(),
            arguments: json!({ "name": "web", "replicas": i, "token": "s3cret", "nested": { "apiKey": "k" } }),
            risk: "medium".into(),
            reason: "scales deployment web".into(),
            mode: "approval".into(),
            confidence: Some(0.85),
            decision: "executed".into(),
            outcome: "scaled".into(),
            duration_ms: i,
            caller: "claude-desktop".into(),
            principal: None,
        }
    }

    #[test]
    fn chains_redacts_and_reopens() {
        let dir = Dir::new();
        let path = dir.file();
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
        assert_eq!(verify(&path, None).unwrap().records, 3);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("s3cret"));
        let recent = log.recent(2).unwrap();
        assert_eq!(recent.len(), 2);
        assert_eq!(recent[1].hash, third.hash);
    }

    #[test]
    fn two_writers_on_one_file_keep_one_chain() {
        let dir = Dir::new();
        let path = dir.file();
        let a = AuditLog::open(&path).unwrap();
        let b = AuditLog::open(&path).unwrap();
        std::thread::scope(|s| {
            for log in [&a, &b] {
                s.spawn(move || {
                    for i in 0..50 {
                        log.append(entry(i)).unwrap();
                    }
                });
            }
        });
        assert_eq!(verify(&path, None).unwrap().records, 100);
    }

    #[test]
    fn tampering_is_found_with_its_line() {
        let dir = Dir::new();
        let path = dir.file();
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
        let err = verify(&path, None).unwrap_err().to_string();
        assert!(
            err.contains("line 1: its content does not match its hash"),
            "{err}"
        );

        let removed = [lines[0], lines[2], lines[3]].join("\n") + "\n";
        std::fs::write(&path, removed).unwrap();
        let err = verify(&path, None).unwrap_err().to_string();
        assert!(err.contains("line 2: does not chain"), "{err}");

        let headless = [lines[1], lines[2]].join("\n") + "\n";
        std::fs::write(&path, headless).unwrap();
        let err = verify(&path, None).unwrap_err().to_string();
        assert!(
            err.contains("line 1: the first record does not start"),
            "{err}"
        );
    }

    /// The whole log rewritten with fresh hashes: an unkeyed chain calls it intact, a keyed
    /// one does not.
    #[test]
    fn a_keyed_chain_finds_a_rewrite_an_unkeyed_chain_cannot() {
        let rewrite = |path: &Path| {
            let text = std::fs::read_to_string(path).unwrap();
            let mut prev = GENESIS.to_owned();
            let mut out = String::new();
            for line in text.lines() {
                let mut record: Record = serde_json::from_str(line).unwrap();
                record.entry.outcome = "nothing happened".into();
                let (sealed, line) = seal(record.entry, &prev, None);
                prev = sealed.hash;
                out.push_str(std::str::from_utf8(&line).unwrap());
            }
            std::fs::write(path, out).unwrap();
        };
        let dir = Dir::new();
        let plain = dir.0.join("plain.jsonl");
        let log = AuditLog::open(&plain).unwrap();
        (0..3).for_each(|i| drop(log.append(entry(i)).unwrap()));
        rewrite(&plain);
        assert_eq!(verify(&plain, None).unwrap().records, 3, "undetectable");

        let key = AuditKey::new(&[7; 32]);
        let keyed = dir.0.join("keyed.jsonl");
        // Records written before the key was configured stay hash-chained only.
        let log = AuditLog::open(&keyed).unwrap();
        log.append(entry(0)).unwrap();
        let log = AuditLog::open(&keyed).unwrap().with_key(Some(key.clone()));
        (1..4).for_each(|i| drop(log.append(entry(i)).unwrap()));
        let report = verify(&keyed, Some(&key)).unwrap();
        assert_eq!((report.records, report.keyed), (4, 3));
        assert!(
            report
                .to_string()
                .contains("3 keyed (HMAC-SHA-256) and checked, the 1 before")
        );
        let without = verify(&keyed, None).unwrap();
        assert!(
            without.to_string().contains("3 keyed records NOT checked"),
            "{without}"
        );
        let other = verify(&keyed, Some(&AuditKey::new(&[8; 32]))).unwrap_err();
        assert!(
            other
                .to_string()
                .contains("line 2: its content does not match its HMAC")
        );

        let text = std::fs::read_to_string(&keyed).unwrap();
        let mut lines: Vec<String> = text.lines().map(|l| format!("{l}\n")).collect();
        lines[1] = lines[1].replace("scaled", "nothing happened");
        std::fs::write(&keyed, lines.concat()).unwrap();
        let edited = verify(&keyed, Some(&key)).unwrap_err().to_string();
        assert!(
            edited.contains("line 2: its content does not match its HMAC"),
            "{edited}"
        );
        rewrite(&keyed);
        let err = verify(&keyed, Some(&key)).unwrap_err().to_string();
        assert!(
            err.contains("no record is keyed although a key was given"),
            "{err}"
        );

        let log = AuditLog::open(&keyed).unwrap();
        std::fs::remove_file(&keyed).unwrap();
        let log = log.with_key(Some(key.clone()));
        log.append(entry(9)).unwrap();
        let text = std::fs::read_to_string(&keyed).unwrap();
        std::fs::write(
            &keyed,
            text.replacen("{\"time\"", "{\"approved_by\":\"ceo\",\"time\"", 1),
        )
        .unwrap();
        let added = verify(&keyed, Some(&key)).unwrap_err().to_string();
        assert!(
            added.contains("line 1: the line holds what its hash does not cover"),
            "{added}"
        );

        let short = dir.0.join("short.key");
        std::fs::write(&short, "hunter2\n").unwrap();
        let err = AuditKey::from_file(&short).unwrap_err().to_string();
        assert!(err.contains("7 bytes; use at least 32"), "{err}");
    }

    #[test]
    fn a_torn_last_line_is_reported_and_refuses_appends() {
        let dir = Dir::new();
        let path = dir.file();
        let log = AuditLog::open(&path).unwrap();
        log.append(entry(1)).unwrap();
        log.append(entry(2)).unwrap();
        let mut text = std::fs::read(&path).unwrap();
        text.truncate(text.len() - 20);
        std::fs::write(&path, &text).unwrap();
        let err = verify(&path, None).unwrap_err().to_string();
        assert!(err.contains("line 2: the last line is torn"), "{err}");
        let err = log.append(entry(3)).unwrap_err().to_string();
        assert!(err.contains("torn"), "{err}");
        assert!(AuditLog::open(&path).is_err());
    }

    #[test]
    fn rotation_keeps_the_chain_across_files() {
        let dir = Dir::new();
        let path = dir.file();
        let log = AuditLog::open_with(
            &path,
            Rotation {
                max_bytes: 1500,
                keep: 2,
            },
        )
        .unwrap();
        for i in 0..20 {
            log.append(entry(i)).unwrap();
        }
        assert!(rotated(&path, 1).exists() && rotated(&path, 2).exists());
        assert!(!rotated(&path, 3).exists(), "only `keep` files are kept");
        let report = verify(&path, None).unwrap();
        assert_eq!(report.files.len(), 3);
        assert!(report.pruned_before, "{report}");
        let first = std::fs::read_to_string(&path).unwrap();
        assert!(
            first
                .lines()
                .next()
                .unwrap()
                .contains("\"decision\":\"rotated\"")
        );

        // Removing the middle file breaks the chain at the start of the next one.
        std::fs::remove_file(rotated(&path, 1)).unwrap();
        std::fs::rename(rotated(&path, 2), rotated(&path, 1)).unwrap();
        let err = verify(&path, None).unwrap_err().to_string();
        assert!(
            err.contains("does not continue the file rotated before it"),
            "{err}"
        );
    }

    #[test]
    fn long_lines_are_found_from_the_end() {
        let dir = Dir::new();
        let path = dir.file();
        let log = AuditLog::open(&path).unwrap();
        let mut big = entry(1);
        big.outcome = "x".repeat(20_000);
        log.append(big).unwrap();
        log.append(entry(2)).unwrap();
        drop(log);
        let log = AuditLog::open(&path).unwrap();
        log.append(entry(3)).unwrap();
        assert_eq!(verify(&path, None).unwrap().records, 3);
    }
}
