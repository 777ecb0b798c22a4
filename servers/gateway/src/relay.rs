//! What travels from the upstreams back to the hosts besides answers: progress of a forwarded
//! call, updates of resources hosts subscribed to, and word that an upstream's tools or
//! resources changed.
//!
//! A forwarded call carries the progress token of its upstream connection (rmcp numbers them
//! per connection), so two hosts' tokens never meet upstream; [`Relay::route_progress`] sends
//! its notifications back to the host that asked, under the host's own token. Resource updates
//! go to every host subscribed to the resource (`resources/subscribe`) and to every listening
//! stream (`subscriptions/listen`).

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use rmcp::{
    ClientHandler, Peer, RoleClient, RoleServer,
    model::{
        ClientCapabilities, ClientConfig, Implementation, ProgressNotificationParam, ProgressToken,
        ResourceUpdatedNotificationParam,
    },
    service::NotificationContext,
};
use tokio::sync::{broadcast, watch};

/// A resource as an upstream names it: (upstream index, its URI there).
pub type UpstreamUri = (usize, String);

/// A host subscribed to a resource, and the URI it knows the resource by.
type Subscriber = (Peer<RoleServer>, String);

/// A progress token as an upstream connection knows it: (upstream index, token).
type UpstreamToken = (usize, ProgressToken);

/// Progress that arrived before its call's route was booked (the route is booked as soon as
/// the request is sent, so this is a race of microseconds), kept this long, this many.
const EARLY_PROGRESS_TTL: Duration = Duration::from_secs(5);
const EARLY_PROGRESS_MAX: usize = 64;

/// The state shared by every upstream connection's client handler.
pub struct Relay {
    progress: Mutex<Progress>,
    /// Hosts subscribed with `resources/subscribe`, and the URI each knows it by.
    subscribers: Mutex<HashMap<UpstreamUri, Vec<Subscriber>>>,
    /// What the gateway subscribed to upstream (once asked for, kept: an update nobody
    /// listens to costs one notification).
    upstream_subscriptions: Mutex<HashSet<UpstreamUri>>,
    /// Every update, for listening streams (2026-07-28 hosts).
    updates: broadcast::Sender<UpstreamUri>,
    /// Bumped whenever an upstream's tools or resources may have changed.
    epoch: watch::Sender<u64>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("epoch", &self.epoch())
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Progress {
    routes: HashMap<UpstreamToken, (Peer<RoleServer>, ProgressToken)>,
    early: VecDeque<(Instant, usize, ProgressNotificationParam)>,
}

impl Default for Relay {
    fn default() -> Self {
        Self {
            progress: Mutex::default(),
            subscribers: Mutex::default(),
            upstream_subscriptions: Mutex::default(),
            updates: broadcast::channel(256).0,
            epoch: watch::channel(0).0,
        }
    }
}

/// A progress route, removed when the forwarded call ends.
pub struct ProgressRoute {
    relay: Arc<Relay>,
    key: UpstreamToken,
}

impl Drop for ProgressRoute {
    fn drop(&mut self) {
        self.relay.progress.lock().unwrap().routes.remove(&self.key);
    }
}

impl Relay {
    /// Send the progress upstream `index` reports under `upstream_token` to `host` under
    /// `host_token`, until the route is dropped.
    pub fn route_progress(
        self: &Arc<Self>,
        index: usize,
        upstream_token: ProgressToken,
        host: Peer<RoleServer>,
        host_token: ProgressToken,
    ) -> ProgressRoute {
        let key = (index, upstream_token);
        let early: Vec<ProgressNotificationParam> = {
            let mut progress = self.progress.lock().unwrap();
            progress
                .routes
                .insert(key.clone(), (host.clone(), host_token.clone()));
            let (mine, others) = std::mem::take(&mut progress.early)
                .into_iter()
                .partition(|(_, i, p)| *i == index && p.progress_token == key.1);
            progress.early = others;
            mine.into_iter().map(|(_, _, p)| p).collect()
        };
        if !early.is_empty() {
            tokio::spawn(async move {
                for mut params in early {
                    params.progress_token = host_token.clone();
                    let _ = host.notify_progress(params).await;
                }
            });
        }
        ProgressRoute {
            relay: self.clone(),
            key,
        }
    }

    /// Tell `host` when `resource` changes, as `exposed` (the URI the gateway lists).
    pub fn subscribe(&self, resource: UpstreamUri, host: Peer<RoleServer>, exposed: String) {
        let mut subscribers = self.subscribers.lock().unwrap();
        let hosts = subscribers.entry(resource).or_default();
        hosts.retain(|(peer, _)| !peer.is_transport_closed());
        hosts.push((host, exposed));
    }

    pub fn unsubscribe(&self, resource: &UpstreamUri, host: &Peer<RoleServer>) {
        if let Some(hosts) = self.subscribers.lock().unwrap().get_mut(resource) {
            hosts.retain(|(peer, _)| !same_peer(peer, host) && !peer.is_transport_closed());
        }
    }

    /// Whether the gateway still has to subscribe to `resource` upstream (it is booked as
    /// subscribed from now on; [`Self::subscription_failed`] takes that back).
    pub fn needs_subscription(&self, resource: &UpstreamUri) -> bool {
        self.upstream_subscriptions
            .lock()
            .unwrap()
            .insert(resource.clone())
    }

    pub fn subscription_failed(&self, resource: &UpstreamUri) {
        self.upstream_subscriptions.lock().unwrap().remove(resource);
    }

    /// The resources an upstream must be subscribed to again after it reconnects.
    pub fn subscribed(&self, upstream: usize) -> Vec<String> {
        self.upstream_subscriptions
            .lock()
            .unwrap()
            .iter()
            .filter(|(index, _)| *index == upstream)
            .map(|(_, uri)| uri.clone())
            .collect()
    }

    /// Updates for listening streams.
    pub fn updates(&self) -> broadcast::Receiver<UpstreamUri> {
        self.updates.subscribe()
    }

    pub fn epoch(&self) -> u64 {
        *self.epoch.borrow()
    }

    /// Woken when something an upstream lists changed.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.epoch.subscribe()
    }

    /// Something an upstream lists changed: the catalog is computed again.
    pub fn changed(&self) {
        self.epoch.send_modify(|epoch| *epoch += 1);
    }

    async fn progress(&self, index: usize, mut params: ProgressNotificationParam) {
        let route = {
            let mut progress = self.progress.lock().unwrap();
            let route = progress
                .routes
                .get(&(index, params.progress_token.clone()))
                .cloned();
            if route.is_none() {
                progress
                    .early
                    .retain(|(at, _, _)| at.elapsed() < EARLY_PROGRESS_TTL);
                if progress.early.len() == EARLY_PROGRESS_MAX {
                    progress.early.pop_front();
                }
                progress
                    .early
                    .push_back((Instant::now(), index, params.clone()));
            }
            route
        };
        if let Some((host, token)) = route {
            params.progress_token = token;
            let _ = host.notify_progress(params).await;
        }
    }

    /// Tell the hosts that `resource` changed.
    pub async fn updated(&self, resource: UpstreamUri) {
        let hosts = self
            .subscribers
            .lock()
            .unwrap()
            .get(&resource)
            .cloned()
            .unwrap_or_default();
        for (host, exposed) in hosts {
            let _ = host
                .notify_resource_updated(ResourceUpdatedNotificationParam::new(exposed))
                .await;
        }
        let _ = self.updates.send(resource);
    }
}

/// Whether two peers are one session: peers have no identity of their own, but a session's
/// clones share the client information it initialized with (`resources/subscribe` exists only
/// in sessions that initialized).
fn same_peer(a: &Peer<RoleServer>, b: &Peer<RoleServer>) -> bool {
    match (a.peer_info(), b.peer_info()) {
        (Some(a), Some(b)) => Arc::ptr_eq(&a, &b),
        _ => false,
    }
}

/// The client side of one upstream connection.
#[derive(Clone)]
pub struct UpstreamClient {
    pub index: usize,
    pub relay: Arc<Relay>,
    /// Set when the upstream's tools or resources changed (listed again on the next look).
    pub stale: Arc<AtomicBool>,
}

impl ClientHandler for UpstreamClient {
    /// No elicitation in the session: an upstream asks its questions as input-required results
    /// (the gateway forwards every call as 2026-07-28 with the host's capabilities), which the
    /// gateway can tie to the call that asked.
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION")),
        )
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _cx: NotificationContext<RoleClient>,
    ) {
        self.relay.progress(self.index, params).await;
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _cx: NotificationContext<RoleClient>,
    ) {
        self.relay.updated((self.index, params.uri)).await;
    }

    async fn on_tool_list_changed(&self, _cx: NotificationContext<RoleClient>) {
        self.stale.store(true, Ordering::Release);
        self.relay.changed();
    }

    async fn on_resource_list_changed(&self, _cx: NotificationContext<RoleClient>) {
        self.stale.store(true, Ordering::Release);
        self.relay.changed();
    }
}
