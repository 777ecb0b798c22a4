//! The world's one clock for its past: an epoch (now, or earlier for a world that has been
//! running) and when each image went live. A deploy is one instant that the cluster's
//! ReplicaSet, PagerDuty's change event and GitHub's deployment agree on; everything else the
//! seeds place in the past is relative to the epoch.

use std::collections::BTreeMap;

use serde::Deserialize;

/// An image that went live `hours_ago` (before the world's epoch), for images no repository of
/// the GitHub stand-in releases.
#[derive(Debug, Clone, Deserialize)]
pub struct Deploy {
    pub image: String,
    pub hours_ago: f64,
}

/// The one clock of the world's past (unix seconds).
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    /// When the world was seeded: now, or earlier for a world that has been running (an aged
    /// world). Commits, deploys, past incidents and pages are placed relative to it; what keeps
    /// going (a leaking worker's runs, logs, metrics) follows the live clock.
    pub epoch: i64,
    /// When each image went live in production.
    pub deployed: BTreeMap<String, i64>,
}

/// How long the cluster's objects have been there when no deploy of theirs is known.
const CLUSTER_AGE_SECS: i64 = 30 * 24 * 3600;

impl Timeline {
    /// The timeline at `epoch`: `went_live` (GitHub's production deployments) and the
    /// scenario's own `deploys`.
    pub fn new(epoch: i64, went_live: BTreeMap<String, i64>, deploys: &[Deploy]) -> Self {
        let mut deployed = went_live;
        for d in deploys {
            deployed
                .entry(d.image.clone())
                .or_insert(epoch - (d.hours_ago * 3600.0) as i64);
        }
        Self { epoch, deployed }
    }

    /// When `image` went live, if it did.
    pub fn deployed(&self, image: &str) -> Option<i64> {
        self.deployed.get(image).copied()
    }

    /// When an object of the cluster came to be: the deploy of the image its pods run, else a
    /// month before the epoch.
    pub fn created(&self, object: &serde_json::Value) -> i64 {
        object
            .pointer("/spec/template/spec/containers/0/image")
            .and_then(serde_json::Value::as_str)
            .and_then(|image| self.deployed(image))
            .unwrap_or(self.epoch - CLUSTER_AGE_SECS)
    }
}
