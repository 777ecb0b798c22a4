//! The compact text every tool group shares: the repository arguments, short shas, times as
//! people read them, logins, lines of upstream text made safe, and bounded blocks of it
//! (messages, bodies, files, patches, logs) fenced so a model sees where they start and end.

use jiff::Timestamp;
pub use opsmcp_core::{
    or_fail,
    output::{Table, ago, fenced, parse_time, short, span, untrusted, when},
    tools::{failure, text},
};
use rmcp::schemars::{self, JsonSchema};
use serde::{Deserialize, Serialize};

/// The repository a tool works on; both default to GITHUB_REPO_OWNER / GITHUB_REPO_NAME.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct RepoArgs {
    /// Default: GITHUB_REPO_OWNER
    pub owner: Option<String>,
    /// Name or owner/name; default: GITHUB_REPO_NAME
    pub repo: Option<String>,
}

/// The first 7 characters of a sha.
pub fn sha7(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

/// A chrono time (octocrab's models) as a jiff one.
pub fn from_chrono(t: &chrono::DateTime<chrono::Utc>) -> Timestamp {
    Timestamp::from_second(t.timestamp()).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A jiff time as chrono (octocrab's builders).
pub fn to_chrono(t: Timestamp) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(t.as_second(), 0).unwrap_or_default()
}

/// `11-30 06:12Z (20h ago)`.
pub fn at(t: Timestamp, now: Timestamp) -> String {
    format!("{} ({} ago)", short(t, now), ago(t, now))
}

/// One line of upstream text (a title, a name) made safe and cut to `max` characters.
pub fn line(text: &str, max: usize) -> String {
    let first = text.lines().next().unwrap_or_default();
    let clean = untrusted(first);
    if clean.chars().count() > max {
        let cut: String = clean.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    } else {
        clean
    }
}

/// At most `max` lines of `text`, and how many were left out.
pub fn first_lines(text: &str, max: usize) -> (String, usize) {
    let total = text.lines().count();
    if total <= max {
        return (text.to_owned(), 0);
    }
    let kept: Vec<&str> = text.lines().take(max).collect();
    (kept.join("\n") + "\n", total - max)
}

/// A limit from a tool's arguments, within `1..=max`.
pub fn limit(asked: Option<usize>, default: usize, max: usize) -> usize {
    asked.unwrap_or(default).clamp(1, max)
}

/// A login, or `?` for a commit whose email GitHub does not map to an account.
pub fn login(author: Option<&octocrab::models::Author>) -> &str {
    author.map_or("?", |a| a.login.as_str())
}
