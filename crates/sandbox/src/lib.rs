//! opsmcp-sandbox: the simulated world of an incident, for opsmcp's tests and demo — services
//! that cannot run on the machines they run on, stateful and faithful enough that each one's
//! real clients accept it.
//!
//! One folder per simulated service, each holding its state and its HTTP face:
//! - [`kube`]: a Kubernetes cluster that the real `kubectl` accepts (API, controllers, kubelet,
//!   metrics for Prometheus, incident scenarios);
//! - [`loki`]: a Loki stand-in (streams per tenant, LogQL, Loki's HTTP API);
//! - [`pagerduty`]: a PagerDuty stand-in (REST v2, Events API v2, webhooks v3) over HTTPS with
//!   a CA of the sandbox's own ([`tls`]);
//! - [`github`]: a GitHub stand-in over real git objects (REST v3: repositories, commits,
//!   contents, git data, pull requests, issues, search, Actions, releases, deployments, Apps);
//! - [`notion`]: a Notion stand-in (pages, blocks, databases with data sources, queries,
//!   comments, users) for `Notion-Version` 2025-09-03 and later.
//!
//! [`world`] builds them from one [`scenario`] (its past on one [`timeline`]) and wires the
//! flows between them through the narrow interfaces of [`flows`]; no service reaches into
//! another.

pub mod flows;
pub mod github;
pub mod kube;
pub mod loki;
pub mod notion;
pub mod pagerduty;
pub mod scenario;
pub mod timeline;
pub mod tls;
pub mod world;

pub use kube::Cluster;
pub use world::Sandbox;
