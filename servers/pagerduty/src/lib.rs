//! opsmcp-pagerduty: an MCP server for PagerDuty incident response.
//!
//! [`PagerDutyServer`] holds the API client ([`client`]), the tool router and the webhook
//! events; each tool group lives in its own module: [`incidents`] (incidents, their timeline,
//! log entries, change events), [`oncall`] (who is on call, schedules, escalation policies),
//! [`directory`] (services, users, teams), [`changes`] (acknowledge, note, snooze, resolve,
//! reassign, escalate, create — each through the safety gate) and [`webhooks`]
//! (`events_recent`); [`inbox`] is the signed webhook receiver behind it and the
//! `pagerduty://events` resource. [`render`] holds
//! the compact text every group shares. PagerDuty is never contacted at start-up.

pub mod changes;
pub mod client;
pub mod config;
pub mod directory;
pub mod inbox;
pub mod incidents;
pub mod oncall;
pub mod render;
pub mod webhooks;

use std::sync::Arc;

use opsmcp_core::{
    approval::Safety, host::ToolHost, metrics::Metrics, structured::schema_for, tools::Effect,
};

use crate::{client::Pd, config::PagerDutyArgs, inbox::Events};

/// Every tool and what it does to the world; annotations are derived from this table.
const EFFECTS: &[(&str, Effect)] = &[
    ("incidents_list", Effect::Read),
    ("incident_get", Effect::Read),
    ("log_entries_list", Effect::Read),
    ("change_events_list", Effect::Read),
    ("oncalls_list", Effect::Read),
    ("schedules_list", Effect::Read),
    ("schedule_get", Effect::Read),
    ("escalation_policies_list", Effect::Read),
    ("services_list", Effect::Read),
    ("service_get", Effect::Read),
    ("users_list", Effect::Read),
    ("teams_list", Effect::Read),
    ("events_recent", Effect::Read),
    (
        "incident_acknowledge",
        Effect::Write {
            destructive: false,
            idempotent: true,
        },
    ),
    (
        "incident_note_add",
        Effect::Write {
            destructive: false,
            idempotent: false,
        },
    ),
    (
        "incident_snooze",
        Effect::Write {
            destructive: false,
            idempotent: true,
        },
    ),
    (
        "incident_resolve",
        Effect::Write {
            destructive: false,
            idempotent: true,
        },
    ),
    (
        "incident_reassign",
        Effect::Write {
            destructive: false,
            idempotent: true,
        },
    ),
    (
        "incident_escalate",
        Effect::Write {
            destructive: false,
            idempotent: true,
        },
    ),
    (
        "incident_create",
        Effect::Write {
            destructive: false,
            idempotent: false,
        },
    ),
    (
        "incidents_update",
        Effect::Write {
            destructive: true,
            idempotent: true,
        },
    ),
];

struct Inner {
    pd: Pd,
    host: ToolHost<PagerDutyServer>,
    events: Arc<Events>,
    default_services: Vec<String>,
    default_teams: Vec<String>,
    /// Services whose incidents may be changed (empty: every service).
    write_services: Vec<String>,
}

/// The server; cheap to clone (one clone per MCP session).
#[derive(Clone)]
pub struct PagerDutyServer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PagerDutyServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PagerDutyServer")
            .field("tools", &self.inner.host.tools().len())
            .finish()
    }
}

impl PagerDutyServer {
    /// Build the server from its options; PagerDuty is not contacted. With `--webhook-listen`
    /// the webhook receiver starts on that address too (it needs a running Tokio runtime).
    pub fn new(
        args: &PagerDutyArgs,
        safety: Safety,
        metrics: Metrics,
    ) -> Result<Self, config::SetupError> {
        let pd = args.api(&metrics)?;
        let events = Arc::new(Events::new(args.pagerduty_webhook_secret.clone()));
        let mut router = Self::incidents_router()
            + Self::oncall_router()
            + Self::directory_router()
            + Self::webhooks_router();
        if !safety.read_only() {
            router += Self::changes_router();
        }
        if let Some(addr) = args.webhook_listen {
            inbox::listen(addr, events.clone());
        }
        let host = ToolHost::new(router, EFFECTS, metrics, safety)
            .with_resources(events.clone())
            .with_output_schemas(&[
                ("incident_get", schema_for::<incidents::IncidentData>()),
                ("oncalls_list", schema_for::<oncall::Oncalls>()),
            ]);
        Ok(Self {
            inner: Arc::new(Inner {
                pd,
                host,
                events,
                default_services: args.pagerduty_service_ids.clone(),
                default_teams: args.pagerduty_team_ids.clone(),
                write_services: args.write_services(),
            }),
        })
    }

    fn host(&self) -> &ToolHost<Self> {
        &self.inner.host
    }

    pub(crate) fn pd(&self) -> &Pd {
        &self.inner.pd
    }

    pub(crate) fn safety(&self) -> &Safety {
        self.inner.host.safety()
    }

    pub(crate) fn events(&self) -> &Events {
        &self.inner.events
    }

    /// Services and teams incident lists default to.
    pub(crate) fn defaults(&self) -> (&[String], &[String]) {
        (&self.inner.default_services, &self.inner.default_teams)
    }

    /// Services whose incidents may be changed (empty: every service).
    pub(crate) fn write_services(&self) -> &[String] {
        &self.inner.write_services
    }
}

impl opsmcp_core::serve::Ready for PagerDutyServer {
    /// Readiness for `/readyz`: PagerDuty answers an authenticated request.
    async fn ready(&self) -> Result<(), String> {
        self.pd()
            .get("priorities", &[("limit", "1".into())])
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// The webhook receiver beside `/mcp` (it authenticates by signature).
    fn routes(&self) -> Option<axum::Router> {
        Some(inbox::router(self.inner.events.clone()))
    }
}

opsmcp_core::tool_server!(
    PagerDutyServer,
    "PagerDuty incident response. Start with incidents_list (open incidents) and incident_get \
     (alerts, notes, timeline, recent deploys, similar past incidents); oncalls_list says who is \
     on call. Changes (acknowledge, note, snooze, resolve, reassign, escalate) are made as \
     PAGERDUTY_USER_EMAIL and go through the safety mode. Subscribe to pagerduty://events to hear \
     of new incidents. Times accept now-1h, 15m (ago), RFC 3339 or unix seconds.",
);
