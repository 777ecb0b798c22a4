//! A PagerDuty stand-in that PagerDuty's official Python client and the real Alertmanager
//! accept: REST API v2 for incident response ([`rest`]), Events API v2 ([`events`]), webhooks
//! v3 out ([`webhooks`]), incidents with their lifecycle and log entries ([`incidents`]),
//! on-calls computed from schedules ([`oncall`]), and the shop's account ([`seed`]).
//!
//! It is served over HTTPS on a port of its own (the official client takes only `https://`
//! base URLs); it knows nothing of the cluster or the other stand-ins.

pub mod events;
pub mod failure;
pub mod incidents;
pub mod model;
pub mod oncall;
pub mod rest;
pub mod seed;
pub mod webhooks;

use std::{
    collections::HashMap,
    sync::{
        Mutex, MutexGuard,
        atomic::{AtomicU32, Ordering},
    },
};

pub use self::failure::Failure;
use self::{incidents::Emitted, model::Account};

/// API tokens the stand-in accepts: an account key, and a user key (for `/users/me`).
#[derive(Debug, Clone)]
pub struct Tokens {
    pub account: String,
    pub user: (String, String),
}

/// The stand-in's state.
#[derive(Debug)]
pub struct PagerDuty {
    account: Mutex<Account>,
    pub tokens: Tokens,
    /// Answer this many coming REST requests with 429 (fault tests; bounded, as the official
    /// client retries 429 without end).
    throttle: AtomicU32,
    /// Requests allowed per minute and key before 429 (PagerDuty: 960).
    rate_limit: AtomicU32,
    /// Requests per key in the current minute.
    windows: Mutex<HashMap<String, (i64, u32)>>,
    outbox: webhooks::Outbox,
}

impl PagerDuty {
    pub fn new(account: Account, tokens: Tokens) -> Self {
        Self {
            account: Mutex::new(account),
            tokens,
            throttle: AtomicU32::new(0),
            rate_limit: AtomicU32::new(960),
            windows: Mutex::default(),
            outbox: webhooks::Outbox::default(),
        }
    }

    /// The account, with time brought up to now first (snoozes that ran out, timeouts).
    pub fn account(&self) -> MutexGuard<'_, Account> {
        let mut account = self.account.lock().unwrap_or_else(|e| e.into_inner());
        let due = account.tick(jiff::Timestamp::now());
        if !due.is_empty() {
            self.outbox.send(&account, due);
        }
        account
    }

    /// Deliver webhook events for changes just made.
    pub fn announce(&self, account: &Account, emitted: Vec<Emitted>) {
        self.outbox.send(account, emitted);
    }

    /// Count a request with `token` in the current minute; returns the count.
    fn count_request(&self, token: &str) -> u32 {
        let minute = jiff::Timestamp::now().as_second() / 60;
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let window = windows.entry(token.to_owned()).or_insert((minute, 0));
        if window.0 != minute {
            *window = (minute, 0);
        }
        window.1 += 1;
        window.1
    }

    /// The URLs webhook payloads name: where the stand-in serves.
    pub fn serving_at(&self, urls: model::Urls) {
        self.outbox.set_urls(urls);
    }

    /// Subscribe `url` to every incident event of the account, signed with `secret` (what a
    /// scenario or an operator sets up once); returns the subscription's id.
    pub fn subscribe(&self, url: &str, secret: &str) -> String {
        let mut account = self.account();
        let id = account.new_id();
        account.subscriptions.push(model::Subscription {
            id: id.clone(),
            url: url.to_owned(),
            secret: secret.to_owned(),
            events: webhooks::INCIDENT_EVENTS
                .iter()
                .map(|e| (*e).to_owned())
                .collect(),
            filter: ("account_reference".into(), None),
            description: "opsmcp".into(),
            custom_headers: Vec::new(),
            active: true,
        });
        id
    }

    /// Requests allowed per minute and key before 429.
    pub fn rate_limit(&self) -> u32 {
        self.rate_limit.load(Ordering::Relaxed)
    }

    /// Allow `per_minute` requests per minute and key (PagerDuty's is 960; the soak opens it
    /// up to measure the server rather than the limit).
    pub fn limit(&self, per_minute: u32) {
        self.rate_limit.store(per_minute, Ordering::Relaxed);
    }

    /// Answer the next `n` REST requests with 429.
    pub fn throttle(&self, n: u32) {
        self.throttle.store(n, Ordering::SeqCst);
    }

    /// Take one throttled answer, if any are left.
    fn throttled(&self) -> bool {
        self.throttle
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    /// Webhook deliveries attempted so far (for tests): (url, status or error).
    pub fn deliveries(&self) -> Vec<(String, String)> {
        self.outbox.log()
    }
}
