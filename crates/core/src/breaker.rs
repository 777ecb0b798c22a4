//! The circuit breaker for automatic execution, one per server: after `failures_to_open`
//! consecutive failed executions it opens, and while open the policy asks instead of executing
//! automatically. It closes after `open_for` or after `successes_to_close` successful
//! (user-approved) executions. Time is passed in, so tests need no clock.
//!
//! Plain Rust: no MCP and no backend types.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use serde::Serialize;

/// Breaker thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    pub failures_to_open: u32,
    pub successes_to_close: u32,
    pub open_for: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failures_to_open: 5,
            successes_to_close: 2,
            open_for: Duration::from_secs(300),
        }
    }
}

/// What the breaker looks like now, for tool results and `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BreakerState {
    pub open: bool,
    pub consecutive_failures: u32,
    pub successes_while_open: u32,
    /// Seconds until it closes by itself, when open.
    pub closes_in_secs: Option<u64>,
}

#[derive(Debug, Default)]
struct Inner {
    consecutive_failures: u32,
    opened_at: Option<Instant>,
    successes_while_open: u32,
}

#[derive(Debug, Default)]
pub struct Breaker {
    config: BreakerConfig,
    inner: Mutex<Inner>,
}

impl Breaker {
    pub fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            inner: Mutex::default(),
        }
    }

    /// Close the breaker if its open time is over.
    fn expire(&self, inner: &mut Inner, now: Instant) {
        if inner
            .opened_at
            .is_some_and(|at| now.duration_since(at) >= self.config.open_for)
        {
            *inner = Inner::default();
        }
    }

    pub fn is_open(&self, now: Instant) -> bool {
        let mut inner = self.inner.lock().unwrap();
        self.expire(&mut inner, now);
        inner.opened_at.is_some()
    }

    pub fn record_success(&self, now: Instant) {
        let mut inner = self.inner.lock().unwrap();
        self.expire(&mut inner, now);
        inner.consecutive_failures = 0;
        if inner.opened_at.is_some() {
            inner.successes_while_open += 1;
            if inner.successes_while_open >= self.config.successes_to_close {
                *inner = Inner::default();
            }
        }
    }

    pub fn record_failure(&self, now: Instant) {
        let mut inner = self.inner.lock().unwrap();
        self.expire(&mut inner, now);
        inner.consecutive_failures += 1;
        inner.successes_while_open = 0;
        if inner.opened_at.is_none() && inner.consecutive_failures >= self.config.failures_to_open {
            inner.opened_at = Some(now);
        }
    }

    pub fn state(&self, now: Instant) -> BreakerState {
        let mut inner = self.inner.lock().unwrap();
        self.expire(&mut inner, now);
        BreakerState {
            open: inner.opened_at.is_some(),
            consecutive_failures: inner.consecutive_failures,
            successes_while_open: inner.successes_while_open,
            closes_in_secs: inner.opened_at.map(|at| {
                self.config
                    .open_for
                    .saturating_sub(now.duration_since(at))
                    .as_secs()
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_five_consecutive_failures() {
        let b = Breaker::new(BreakerConfig::default());
        let t = Instant::now();
        for _ in 0..4 {
            b.record_failure(t);
        }
        assert!(!b.is_open(t));
        b.record_success(t);
        for _ in 0..4 {
            b.record_failure(t);
        }
        assert!(!b.is_open(t), "a success in between resets the count");
        b.record_failure(t);
        assert!(b.is_open(t));
        assert_eq!(b.state(t).closes_in_secs, Some(300));
    }

    #[test]
    fn closes_after_five_minutes() {
        let b = Breaker::new(BreakerConfig::default());
        let t = Instant::now();
        (0..5).for_each(|_| b.record_failure(t));
        assert!(b.is_open(t + Duration::from_secs(299)));
        assert!(!b.is_open(t + Duration::from_secs(300)));
        assert_eq!(
            b.state(t + Duration::from_secs(300)).consecutive_failures,
            0
        );
    }

    #[test]
    fn closes_after_two_successes() {
        let b = Breaker::new(BreakerConfig::default());
        let t = Instant::now();
        (0..5).for_each(|_| b.record_failure(t));
        b.record_success(t);
        assert!(b.is_open(t));
        b.record_failure(t);
        b.record_success(t);
        assert!(b.is_open(t), "the successes must be consecutive");
        b.record_success(t);
        assert!(!b.is_open(t));
    }

    #[test]
    fn thresholds_are_configurable() {
        let b = Breaker::new(BreakerConfig {
            failures_to_open: 2,
            successes_to_close: 1,
            open_for: Duration::from_secs(10),
        });
        let t = Instant::now();
        b.record_failure(t);
        b.record_failure(t);
        assert!(b.is_open(t));
        b.record_success(t);
        assert!(!b.is_open(t));
    }
}
