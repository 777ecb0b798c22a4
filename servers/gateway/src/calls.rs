//! What every call through the gateway shares: the read cache, the fallbacks, the history and
//! the metrics (the gateway's own families beside the core's per-tool ones).

use std::collections::HashMap;

use opsmcp_core::metrics::Metrics;
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family},
};

use crate::{
    cache::ReadCache,
    config::{Config, Fallback},
    history::{Cache, History},
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct CacheLabels {
    tool: String,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct FallbackLabels {
    pub tool: String,
    pub fallback: String,
}

/// The parts shared by every call: cache, fallbacks, history, metrics.
pub struct Calls {
    pub cache: ReadCache,
    pub history: History,
    pub metrics: Metrics,
    pub(crate) fallbacks: HashMap<String, Fallback>,
    cache_lookups: Family<CacheLabels, Counter>,
    pub(crate) fallbacks_used: Family<FallbackLabels, Counter>,
}

impl Calls {
    pub fn new(config: &Config, metrics: Metrics) -> Self {
        let cache_lookups = Family::<CacheLabels, Counter>::default();
        metrics.register(
            "gateway_cache_lookups",
            "Read cache lookups by tool and result (hit, miss, stale, bypass)",
            cache_lookups.clone(),
        );
        let fallbacks_used = Family::<FallbackLabels, Counter>::default();
        metrics.register(
            "gateway_fallbacks",
            "Failed calls answered by their fallback tool",
            fallbacks_used.clone(),
        );
        Self {
            cache: ReadCache::new(config.cache.clone()),
            history: History::default(),
            metrics,
            fallbacks: config
                .fallback
                .iter()
                .map(|f| (f.tool.clone(), f.clone()))
                .collect(),
            cache_lookups,
            fallbacks_used,
        }
    }

    pub(crate) fn looked_up(&self, tool: &str, result: Cache) {
        let result = match result {
            Cache::Hit => "hit",
            Cache::Miss => "miss",
            Cache::Stale => "stale",
            Cache::Bypass => "bypass",
        };
        self.cache_lookups
            .get_or_create(&CacheLabels {
                tool: tool.to_owned(),
                result,
            })
            .inc();
    }
}
