//! The read cache: answers of the tools their servers annotate read-only, kept per caller (the
//! HTTP principal; one partition over stdio) under the tool's name and its arguments.
//!
//! - Fresh for the tool's TTL ([`CacheConfig`]: short for live state, longer for history; `0s`
//!   never caches it). Absolute times in the arguments within the last day are floored to the
//!   TTL, so an agent asking "the last hour" twice a few seconds apart hits; relative ones
//!   (`now-1h`, `6h`) are the same text anyway.
//! - Errors are never kept: only complete answers without `isError`.
//! - After its TTL an answer is kept `stale_for` longer, to be served — marked with its age —
//!   only when the fresh call fails.
//!
//! Entries live in a `moka` cache (bounded, TinyLFU eviction, lock-free reads).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use rmcp::model::{CallToolResult, JsonObject};
use serde_json::Value;

use crate::config::CacheConfig;

/// Times within this long before now are floored to the TTL in cache keys.
const RECENT: Duration = Duration::from_secs(24 * 3600);

pub struct ReadCache {
    config: CacheConfig,
    entries: moka::sync::Cache<String, Arc<Entry>>,
}

impl std::fmt::Debug for ReadCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadCache")
            .field("entries", &self.entries.entry_count())
            .finish()
    }
}

/// A kept answer.
#[derive(Debug)]
pub struct Entry {
    pub result: CallToolResult,
    pub at: Instant,
    pub ttl: Duration,
}

impl Entry {
    pub fn age(&self) -> Duration {
        self.at.elapsed()
    }
}

impl ReadCache {
    pub fn new(config: CacheConfig) -> Self {
        let longest = config
            .ttl
            .values()
            .copied()
            .chain([config.default_ttl])
            .max()
            .unwrap_or_default();
        let entries = moka::sync::Cache::builder()
            .max_capacity(config.max_entries)
            .time_to_live((longest + config.stale_for).max(Duration::from_millis(1)))
            .build();
        Self { config, entries }
    }

    /// How long answers of `tool` (as the gateway lists it) stay fresh; `None` when they are
    /// not cached (it is not read-only, or its TTL is zero).
    pub fn ttl(&self, tool: &str, read_only: bool) -> Option<Duration> {
        if !self.config.enabled || !read_only {
            return None;
        }
        let ttl = self
            .config
            .ttl
            .get(tool)
            .copied()
            .unwrap_or(self.config.default_ttl);
        (!ttl.is_zero()).then_some(ttl)
    }

    /// The key of a call: caller, tool and arguments, recent times floored to `ttl`.
    pub fn key(caller: &str, tool: &str, arguments: Option<&JsonObject>, ttl: Duration) -> String {
        let now = jiff::Timestamp::now();
        let arguments = arguments
            .map(|a| bucket(&Value::Object(a.clone()), now, ttl))
            .unwrap_or(Value::Null);
        format!("{caller}\n{tool}\n{arguments}")
    }

    /// A fresh answer under `key`.
    pub fn fresh(&self, key: &str) -> Option<Arc<Entry>> {
        self.entries.get(key).filter(|e| e.age() < e.ttl)
    }

    /// An answer under `key` too old to be fresh but young enough to stand in for a failed
    /// call.
    pub fn stale(&self, key: &str) -> Option<Arc<Entry>> {
        self.entries
            .get(key)
            .filter(|e| e.age() < e.ttl + self.config.stale_for)
    }

    /// Keep `result` if it is a complete answer without an error.
    pub fn store(&self, key: String, result: &CallToolResult, ttl: Duration) {
        if result.is_error == Some(true) {
            return;
        }
        self.entries.insert(
            key,
            Arc::new(Entry {
                result: result.clone(),
                at: Instant::now(),
                ttl,
            }),
        );
    }
}

/// `value` with every string that is a time in the last day floored to `ttl`.
fn bucket(value: &Value, now: jiff::Timestamp, ttl: Duration) -> Value {
    match value {
        Value::String(s) => match s.parse::<jiff::Timestamp>() {
            Ok(t) if t <= now && now.duration_since(t).unsigned_abs() < RECENT => {
                let step = ttl.as_secs().max(1) as i64;
                let floored = t.as_second().div_euclid(step) * step;
                jiff::Timestamp::from_second(floored)
                    .map_or_else(|_| value.clone(), |t| Value::String(t.to_string()))
            }
            _ => value.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(|v| bucket(v, now, ttl)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), bucket(v, now, ttl)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use rmcp::model::ContentBlock as Content;
    use serde_json::json;

    use super::*;

    #[test]
    fn only_read_only_tools_and_only_answers_without_errors_are_kept() {
        let config: CacheConfig =
            toml::from_str("ttl = { logs_tail = \"0s\", commits_list = \"2m\" }").unwrap();
        let cache = ReadCache::new(config);
        assert_eq!(cache.ttl("pods_list", true), Some(Duration::from_secs(10)));
        assert_eq!(
            cache.ttl("commits_list", true),
            Some(Duration::from_secs(120))
        );
        assert_eq!(cache.ttl("logs_tail", true), None);
        assert_eq!(cache.ttl("pod_delete", false), None);

        let ttl = Duration::from_secs(10);
        let key = ReadCache::key("", "pods_list", None, ttl);
        cache.store(
            key.clone(),
            &CallToolResult::error(vec![Content::text("down")]),
            ttl,
        );
        assert!(cache.fresh(&key).is_none() && cache.stale(&key).is_none());
        cache.store(
            key.clone(),
            &CallToolResult::success(vec![Content::text("pods")]),
            ttl,
        );
        assert!(cache.fresh(&key).is_some());
        // Callers do not share answers.
        assert!(
            cache
                .fresh(&ReadCache::key("bearer sha256:ab", "pods_list", None, ttl))
                .is_none()
        );
    }

    #[test]
    fn recent_times_are_floored_to_the_ttl_and_others_kept() {
        let now: jiff::Timestamp = "2026-12-01T07:22:17Z".parse().unwrap();
        let ttl = Duration::from_secs(30);
        let args = json!({ "start": "2026-12-01T06:22:17Z", "end": "now", "since": "1h",
            "old": "2026-11-01T00:00:07Z", "nested": ["2026-12-01T07:22:01Z"] });
        assert_eq!(
            bucket(&args, now, ttl),
            json!({ "start": "2026-12-01T06:22:00Z", "end": "now", "since": "1h",
                "old": "2026-11-01T00:00:07Z", "nested": ["2026-12-01T07:22:00Z"] })
        );
    }
}
