//! A Loki stand-in: streams per tenant, LogQL evaluation (the subset `opsmcp-logql` parses) and
//! the HTTP API with Loki's response shapes ([`http`]). It knows nothing of the cluster: a log
//! agent pushes into it through [`LogSink`] (what the world wires) or `POST /loki/api/v1/push`.

pub mod eval;
pub mod http;

use std::{
    collections::{BTreeMap, HashMap},
    sync::Mutex,
};

use tokio::sync::broadcast;

use crate::flows::LogSink;
pub use crate::flows::{Entry, Labels, labels};

/// Tenant used when a request names none (Loki with `auth_enabled: false`).
pub const DEFAULT_TENANT: &str = "fake";

/// Entries of a stream, oldest first.
#[derive(Debug, Default, Clone)]
pub struct Stream {
    pub entries: Vec<Entry>,
    pub bytes: u64,
}

impl Stream {
    fn push(&mut self, entry: Entry) {
        self.bytes += entry.1.len() as u64;
        // Agents send in order; an older entry is placed where it belongs.
        let at = match self.entries.last() {
            Some(last) if last.0 > entry.0 => self.entries.partition_point(|e| e.0 <= entry.0),
            _ => self.entries.len(),
        };
        self.entries.insert(at, entry);
    }

    /// Entries with `start <= ts < end`.
    pub fn between(&self, start: i64, end: i64) -> &[Entry] {
        let a = self.entries.partition_point(|e| e.0 < start);
        let b = self.entries.partition_point(|e| e.0 < end);
        &self.entries[a..b.max(a)]
    }
}

/// What was pushed, for tail subscribers.
#[derive(Debug, Clone)]
pub struct Pushed {
    pub tenant: String,
    pub labels: Labels,
    pub entries: Vec<Entry>,
}

/// Every tenant's streams.
#[derive(Debug)]
pub struct Loki {
    tenants: Mutex<HashMap<String, BTreeMap<Labels, Stream>>>,
    pushed: broadcast::Sender<Pushed>,
}

impl Default for Loki {
    fn default() -> Self {
        Self {
            tenants: Mutex::default(),
            pushed: broadcast::channel(1024).0,
        }
    }
}

impl Loki {
    /// Append entries to the stream with `labels`.
    pub fn push(&self, tenant: &str, labels: Labels, entries: Vec<Entry>) {
        if entries.is_empty() {
            return;
        }
        {
            let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
            let stream = tenants
                .entry(tenant.to_owned())
                .or_default()
                .entry(labels.clone())
                .or_default();
            for e in &entries {
                stream.push(e.clone());
            }
        }
        let _ = self.pushed.send(Pushed {
            tenant: tenant.to_owned(),
            labels,
            entries,
        });
    }

    /// Read a tenant's streams.
    pub fn with_tenant<T>(
        &self,
        tenant: &str,
        f: impl FnOnce(&BTreeMap<Labels, Stream>) -> T,
    ) -> T {
        let tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        match tenants.get(tenant) {
            Some(streams) => f(streams),
            None => f(&BTreeMap::new()),
        }
    }

    /// How many tails are following now.
    pub fn followers(&self) -> usize {
        self.pushed.receiver_count()
    }

    /// Entries pushed from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Pushed> {
        self.pushed.subscribe()
    }
}

/// A log agent without a tenant of its own ships into the default tenant.
impl LogSink for Loki {
    fn push(&self, labels: Labels, entries: Vec<Entry>) {
        Loki::push(self, DEFAULT_TENANT, labels, entries);
    }
}
