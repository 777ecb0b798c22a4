//! opsmcp-github: an MCP server for GitHub during an incident.
//!
//! [`GitHubServer`] holds the API client ([`client`], octocrab) and the tool router; each tool
//! group lives in its own module: [`history`] (commits, one commit's diff, comparisons),
//! [`files`] (files and code search), [`pulls`] and [`issues`] (reading them), [`actions`]
//! (workflow runs, a failed job's log), [`releases`] (releases, deployments), [`users`] (an
//! on-call email to a login), [`pr_changes`] (the fix pull request in one call, merging) and
//! [`issue_changes`] (create, comment, close) — the changes through the safety gate in
//! [`gate`]. [`render`] holds the compact text every group shares. GitHub is never contacted
//! at start-up.

pub mod actions;
pub mod client;
pub mod config;
pub mod files;
pub mod gate;
pub mod history;
pub mod issue_changes;
pub mod issues;
pub mod pr_changes;
pub mod pulls;
pub mod releases;
pub mod render;
pub mod users;

use std::sync::Arc;

use opsmcp_core::{
    approval::Safety, host::ToolHost, metrics::Metrics, structured::schema_for, tools::Effect,
};
use rmcp::handler::server::router::tool::ToolRouter;

use crate::{
    client::{Gh, GhError},
    config::{GitHubArgs, SetupError},
};

const WRITE: Effect = Effect::Write {
    destructive: false,
    idempotent: false,
};

/// Every tool and what it does to the world; annotations are derived from this table.
const EFFECTS: &[(&str, Effect)] = &[
    ("commits_list", Effect::Read),
    ("commit_get", Effect::Read),
    ("compare", Effect::Read),
    ("file_get", Effect::Read),
    ("code_search", Effect::Read),
    ("prs_list", Effect::Read),
    ("pr_get", Effect::Read),
    ("issues_list", Effect::Read),
    ("issue_get", Effect::Read),
    ("issues_search", Effect::Read),
    ("workflow_runs_list", Effect::Read),
    ("job_logs", Effect::Read),
    ("releases_list", Effect::Read),
    ("deploy_history", Effect::Read),
    ("users_find", Effect::Read),
    ("pr_create", WRITE),
    ("issue_create", WRITE),
    ("issue_comment", WRITE),
    (
        "issue_close",
        Effect::Write {
            destructive: false,
            idempotent: true,
        },
    ),
    (
        "pr_merge",
        Effect::Write {
            destructive: true,
            idempotent: true,
        },
    ),
];

struct Inner {
    gh: Gh,
    host: ToolHost<GitHubServer>,
}

/// The server; cheap to clone (one clone per MCP session).
#[derive(Clone)]
pub struct GitHubServer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for GitHubServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHubServer")
            .field("tools", &self.inner.host.tools().len())
            .finish()
    }
}

impl GitHubServer {
    /// Build the server from its options; GitHub is not contacted.
    pub fn new(args: &GitHubArgs, safety: Safety, metrics: Metrics) -> Result<Self, SetupError> {
        let gh = args.client(&metrics)?;
        let mut router = ToolRouter::new();
        for toolset in args.toolsets()? {
            let (reads, writes) = match toolset {
                "repos" => (Self::history_router() + Self::files_router(), None),
                "pull_requests" => (Self::pulls_router(), Some(Self::pr_changes_router())),
                "issues" => (Self::issues_router(), Some(Self::issue_changes_router())),
                "actions" => (Self::actions_router(), None),
                "releases" => (Self::releases_router(), None),
                "users" => (Self::users_router(), None),
                _ => continue,
            };
            router += reads;
            if let Some(writes) = writes
                && !safety.read_only()
            {
                router += writes;
            }
        }
        let host = ToolHost::new(router, EFFECTS, metrics, safety)
            .with_output_schemas(&[("commits_list", schema_for::<history::CommitList>())]);
        Ok(Self {
            inner: Arc::new(Inner { gh, host }),
        })
    }

    fn host(&self) -> &ToolHost<Self> {
        &self.inner.host
    }

    pub(crate) fn gh(&self) -> &Gh {
        &self.inner.gh
    }

    /// The owner and repository a tool's arguments name (or the configured defaults).
    pub(crate) fn target(&self, args: &render::RepoArgs) -> Result<(String, String), GhError> {
        self.gh().repo(args.owner.as_deref(), args.repo.as_deref())
    }

    /// The repository a write tool changes: [`Self::target`], held to the writable ones.
    pub(crate) fn write_target(
        &self,
        args: &render::RepoArgs,
    ) -> Result<(String, String), GhError> {
        let (owner, repo) = self.target(args)?;
        self.gh().writable(&owner, &repo)?;
        Ok((owner, repo))
    }

    pub(crate) fn safety(&self) -> &Safety {
        self.inner.host.safety()
    }
}

impl opsmcp_core::serve::Ready for GitHubServer {
    /// Readiness for `/readyz`: GitHub answers an authenticated request.
    async fn ready(&self) -> Result<(), String> {
        self.gh()
            .get::<serde_json::Value>("the rate limit", "/rate_limit", &[])
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

opsmcp_core::tool_server!(
    GitHubServer,
    "GitHub for incident response. commits_list shows what changed before an incident (since \
     24h, with files); commit_get shows one commit's diff; file_get reads a file with line \
     numbers; users_find turns an on-call email into a login to @-mention. pr_create opens a fix \
     pull request in one call (branch, edits, commit, PR, reviewers); changes go through the \
     safety mode and never write to the default branch directly. Owner and repo default to \
     GITHUB_REPO_OWNER / GITHUB_REPO_NAME. Times accept 24h, now-1h, RFC 3339 or unix seconds.",
);
