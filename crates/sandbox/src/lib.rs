//! opsmcp-sandbox: the simulated world of an incident, for opsmcp's tests and demo — services
//! that cannot run on the machines they run on, stateful and faithful enough that each one's
//! real clients accept it.
//!
//! One folder per simulated service, each holding its state and its HTTP face:
//! - [`kube`]: a Kubernetes cluster that the real `kubectl` accepts (API, controllers, kubelet,
//!   metrics for Prometheus, incident scenarios);
//! - [`loki`]: a Loki stand-in (streams per tenant, LogQL, Loki's HTTP API).
//!
//! [`world`] builds them from one scenario and wires the flows between them through the narrow
//! interfaces of [`flows`]; no service reaches into another.

pub mod flows;
pub mod kube;
pub mod loki;
pub mod world;

pub use kube::{Cluster, scenario};
pub use world::Sandbox;
