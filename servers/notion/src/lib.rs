//! opsmcp-notion: a Markdown-first MCP server for Notion — runbooks to read, incident reports
//! and post-mortems to write.
//!
//! [`NotionServer`] holds the API client ([`client`]) and the tool router; each tool group
//! lives in its own module: [`pages`] (search, a page as Markdown), [`databases`] (schemas,
//! queries in the short syntax of [`filter`]), [`comments`], [`writes`] (create, append,
//! archive — the Markdown of [`markdown`] sent in requests of Notion's size) and [`reports`]
//! (an incident report or a post-mortem in one call). Every change goes through the safety
//! engine. Notion is never contacted at start-up.

pub mod client;
pub mod comments;
pub mod config;
pub mod databases;
pub mod filter;
pub mod markdown;
pub mod pages;
pub mod reports;
pub mod scope;
pub mod writes;

use std::sync::Arc;

use opsmcp_core::{
    approval::Safety, host::ToolHost, metrics::Metrics, structured::schema_for, tools::Effect,
};

use crate::{
    client::{Nt, normalize_id},
    config::{NotionArgs, SetupError},
};

const WRITE: Effect = Effect::Write {
    destructive: false,
    idempotent: false,
};

/// Every tool and what it does to the world; annotations are derived from this table.
const EFFECTS: &[(&str, Effect)] = &[
    ("pages_search", Effect::Read),
    ("page_read", Effect::Read),
    ("database_schema", Effect::Read),
    ("database_query", Effect::Read),
    ("comments_list", Effect::Read),
    ("page_create", WRITE),
    ("page_append", WRITE),
    ("comment_add", WRITE),
    ("incident_report_create", WRITE),
    ("postmortem_create", WRITE),
    (
        "page_archive",
        Effect::Write {
            destructive: true,
            idempotent: true,
        },
    ),
];

struct Inner {
    nt: Nt,
    host: ToolHost<NotionServer>,
    incidents: Option<String>,
    runbooks: Option<String>,
    template: Option<String>,
    /// `NOTION_WRITE_PARENTS`, as ids.
    write_parents: Vec<String>,
    /// The page holding the configured template, read on the first write.
    template_parent: tokio::sync::OnceCell<Option<String>>,
}

/// The server; cheap to clone (one clone per MCP session).
#[derive(Clone)]
pub struct NotionServer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for NotionServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotionServer")
            .field("tools", &self.inner.host.tools().len())
            .finish()
    }
}

impl NotionServer {
    /// Build the server from its options; Notion is not contacted.
    pub fn new(args: &NotionArgs, safety: Safety, metrics: Metrics) -> Result<Self, SetupError> {
        let nt = args.api(&metrics)?;
        let mut router = Self::pages_router() + Self::databases_router() + Self::comments_router();
        if !safety.read_only() {
            router +=
                Self::writes_router() + Self::reports_router() + Self::comment_changes_router();
        }
        let host = ToolHost::new(router, EFFECTS, metrics, safety)
            .with_output_schemas(&[("pages_search", schema_for::<pages::PageList>())]);
        let id = |v: &Option<String>| {
            v.as_deref()
                .map(|s| normalize_id(s).unwrap_or_else(|| s.to_owned()))
        };
        Ok(Self {
            inner: Arc::new(Inner {
                nt,
                host,
                incidents: id(&args.notion_database_id),
                runbooks: id(&args.notion_runbooks_id),
                template: id(&args.notion_postmortem_template_id),
                write_parents: scope::parse_parents(&args.notion_write_parents),
                template_parent: tokio::sync::OnceCell::new(),
            }),
        })
    }

    fn host(&self) -> &ToolHost<Self> {
        &self.inner.host
    }

    pub(crate) fn nt(&self) -> &Nt {
        &self.inner.nt
    }

    pub(crate) fn safety(&self) -> &Safety {
        self.inner.host.safety()
    }

    /// The incidents database (`NOTION_DATABASE_ID`).
    pub(crate) fn incidents(&self) -> Option<&str> {
        self.inner.incidents.as_deref()
    }

    /// The runbooks database (`NOTION_RUNBOOKS_ID`).
    pub(crate) fn runbooks(&self) -> Option<&str> {
        self.inner.runbooks.as_deref()
    }

    /// The post-mortem template page, if configured.
    pub(crate) fn template(&self) -> Option<&str> {
        self.inner.template.as_deref()
    }

    /// `NOTION_WRITE_PARENTS`, as ids (empty: the default scope).
    pub(crate) fn write_parents_configured(&self) -> &[String] {
        &self.inner.write_parents
    }

    /// Where the template's page was read to sit, once.
    pub(crate) fn template_parent_cell(&self) -> &tokio::sync::OnceCell<Option<String>> {
        &self.inner.template_parent
    }
}

impl opsmcp_core::serve::Ready for NotionServer {
    /// Readiness for `/readyz`: Notion answers the integration's own user.
    async fn ready(&self) -> Result<(), String> {
        self.nt()
            .get("v1/users/me", "the integration")
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

opsmcp_core::tool_server!(
    NotionServer,
    "Notion for incident response, in Markdown. pages_search finds runbooks and past incidents \
     (runbooks=true for the runbooks database); page_read returns a page as Markdown (long pages \
     in parts with a cursor). database_query filters rows in a short syntax, e.g. `Status = Open \
     and Severity in (SEV1, SEV2) and Started > now-7d`. incident_report_create writes the \
     incident report into NOTION_DATABASE_ID in one call; postmortem_create fills the \
     post-mortem template. Changes go through the safety mode. Pages must be shared with the \
     integration.",
);
