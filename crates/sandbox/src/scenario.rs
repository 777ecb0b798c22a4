//! A scenario: one JSON document describing the whole world — the cluster's objects and image
//! behaviours (see [`crate::kube::scenario`]), under `pagerduty` the PagerDuty account (see
//! [`crate::pagerduty::seed`]), and under `deploys` when the images no repository releases went
//! live. `incident` (built in, `scenarios/incident.json`) is the shop on a bad day.
//! The world's past is placed on one [`crate::timeline::Timeline`].

use crate::{kube, pagerduty::seed::Seed, timeline::Deploy};

/// The built-in incident scenario.
pub const INCIDENT: &str = include_str!("../scenarios/incident.json");

/// The Events API routing key of the worker's service in [`INCIDENT`] (what Alertmanager's
/// `pagerduty_configs` name to page the worker's on-call).
pub const WORKER_ROUTING_KEY: &str = "9f1c2b7e4d8a4f0b8c3e6a5d2f7b1c90";

#[derive(Debug)]
pub struct Scenario {
    pub kube: kube::scenario::Scenario,
    pub pagerduty: Option<Seed>,
    pub deploys: Vec<Deploy>,
}

impl Scenario {
    pub fn parse(text: &str) -> Result<Self, String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("invalid scenario: {e}"))?;
        let pagerduty = value
            .get("pagerduty")
            .map(|p| serde_json::from_value(p.clone()))
            .transpose()
            .map_err(|e| format!("invalid scenario: pagerduty: {e}"))?;
        let deploys = value
            .get("deploys")
            .map(|d| serde_json::from_value(d.clone()))
            .transpose()
            .map_err(|e| format!("invalid scenario: deploys: {e}"))?
            .unwrap_or_default();
        Ok(Self {
            kube: kube::scenario::Scenario::parse(text)?,
            pagerduty,
            deploys,
        })
    }
}
