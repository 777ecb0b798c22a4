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
    client::{Nt, NtError, normalize_id},
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
    /// Turns for the reads that hold a page's tree or a query's rows until they are rendered.
    reads: tokio::sync::Semaphore,
    /// How long a read waits for its turn: half of `NOTION_TIMEOUT`, so that a read that had to
    /// wait still answers within it.
    turn_wait: std::time::Duration,
}

/// How many page reads, searches and queries run at once; the others wait their turn before
/// they fetch anything. Notion serves an integration about 3 requests a second, so more at once
/// only queue there, each holding its partial tree in the meantime (measured under `just soak`:
/// 64 reads at once held 35 MiB, 8 turns 24 MiB, at the same throughput). A read that gets no
/// turn in half of `NOTION_TIMEOUT` (Notion down or slow: the turns are held by reads waiting
/// on it) says so instead of waiting longer.
const READS_AT_ONCE: usize = 8;

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
                reads: tokio::sync::Semaphore::new(READS_AT_ONCE),
                turn_wait: std::time::Duration::from_secs(args.notion_timeout_secs) / 2,
            }),
        })
    }

    fn host(&self) -> &ToolHost<Self> {
        &self.inner.host
    }

    pub(crate) fn nt(&self) -> &Nt {
        &self.inner.nt
    }

    /// A turn for a read that builds a large answer ([`READS_AT_ONCE`]), held until it is done.
    pub(crate) async fn read_turn(&self) -> Result<tokio::sync::SemaphorePermit<'_>, NtError> {
        let busy = || {
            NtError::Other(format!(
                "Notion is answering slowly: the {READS_AT_ONCE} reads served at once have all been waiting on it for {} s; try again shortly",
                self.inner.turn_wait.as_secs()
            ))
        };
        match tokio::time::timeout(self.inner.turn_wait, self.inner.reads.acquire()).await {
            Ok(Ok(turn)) => Ok(turn),
            Ok(Err(_)) | Err(_) => Err(busy()),
        }
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
