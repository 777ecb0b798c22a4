//! The simulated Kubernetes cluster that the real `kubectl` accepts.
//!
//! - [`api`]: the HTTP API (discovery, CRUD, selectors, Table printing, watch, patches,
//!   server-side apply, scale, dry run, logs, `Status` errors);
//! - [`store`]: objects as JSON with the API server's bookkeeping and a change stream;
//! - [`rbac`]: users by bearer token, every request authorized by Roles and bindings, the
//!   self-subject reviews;
//! - [`apply`]: field ownership (`managedFields`) on every write and server-side apply with
//!   its conflicts;
//! - [`controller`] and [`kubelet`]: Deployment → ReplicaSet → Pod, Service → Endpoints,
//!   container start, readiness, logs, usage; [`nodes`]: Leases and the cordon taint;
//!   [`disruption`]: PodDisruptionBudget status and evictions; [`exec`]: commands in a
//!   simulated container over kubectl's WebSocket protocol; [`node_proxy`]: the kubelet's
//!   Summary API and kernel log; [`events`] records what they did;
//! - [`cluster`]: the objects and the state the simulation keeps beside them ([`sim`]),
//!   computed metrics, garbage collection; its log agent ships to a [`crate::flows::LogSink`];
//! - [`leak`]: a leaking process's run by its age, for [`history`] (what the containers wrote
//!   before the sandbox started, and the line formats) and the kubelet alike; [`dice`] makes
//!   generated lines reproducible;
//! - [`exporter`]: cAdvisor and kube-state-metrics series for a real Prometheus;
//! - [`scenario`], [`seed`]: the baseline cluster and incident scenarios;
//! - [`resources`], [`selectors`], [`patch`], [`table`], [`schema`], [`quantity`],
//!   [`protobuf`]: the API's vocabulary.

pub mod api;
pub mod apply;
pub mod cluster;
pub mod controller;
pub mod dice;
pub mod disruption;
pub mod events;
pub mod exec;
pub mod exporter;
pub mod history;
pub mod kubelet;
pub mod leak;
pub mod node_proxy;
pub mod nodes;
pub mod openapi;
pub mod patch;
pub mod protobuf;
pub mod quantity;
pub mod rbac;
pub mod resources;
pub mod scenario;
pub mod schema;
pub mod seed;
pub mod selectors;
pub mod sim;
pub mod store;
pub mod table;

pub use cluster::Cluster;
