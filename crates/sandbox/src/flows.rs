//! The narrow interfaces through which one simulated service feeds another. A service knows
//! these, never another service's internals; [`crate::world`] connects them.

use std::collections::BTreeMap;

/// A log stream's labels, sorted.
pub type Labels = BTreeMap<String, String>;

/// One log entry: nanoseconds since the epoch and the line.
pub type Entry = (i64, String);

/// Where a log agent ships lines (the cluster's containers and nodes → Loki).
pub trait LogSink: Send + Sync + std::fmt::Debug {
    /// Append `entries` (oldest first) to the stream with `labels`.
    fn push(&self, labels: Labels, entries: Vec<Entry>);
}

/// A sink that keeps nothing, for a cluster without a log store.
#[derive(Debug, Default)]
pub struct Discard;

impl LogSink for Discard {
    fn push(&self, _: Labels, _: Vec<Entry>) {}
}

/// Labels from pairs.
pub fn labels<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Labels {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}
