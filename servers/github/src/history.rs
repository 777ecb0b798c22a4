//! What changed, as an incident responder asks it: the commits of a window (newest first, with
//! the files each changed and their +/- counts), one commit's diff per file (bounded, with a
//! notice, or one file's patch), and what differs between two refs, releases or deployments.

use futures::{StreamExt, stream};
use jiff::Timestamp;
use octocrab::models::repos::{DiffEntry, RepoCommit};
use opsmcp_core::structured::with_structured;
use rmcp::{
    ErrorData,
    handler::server::wrapper::Parameters,
    model::CallToolResult,
    schemars::{self, JsonSchema},
    tool, tool_router,
};
use serde::{Deserialize, Serialize};

use crate::{
    GitHubServer,
    client::GhError,
    render::{
        RepoArgs, at, failure, fenced, first_lines, from_chrono, limit, line, login, or_fail,
        parse_time, sha7, text, to_chrono,
    },
};

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct CommitsListArgs {
    #[serde(flatten)]
    pub repo: RepoArgs,
    /// Default 24h (ago); or now-2h, RFC 3339
    pub since: Option<String>,
    /// Default now
    pub until: Option<String>,
    /// Branch, tag or sha (default: the default branch)
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    /// Only commits touching this path
    pub path: Option<String>,
    /// Login or email
    pub author: Option<String>,
    /// Files changed per commit (default true)
    pub files: Option<bool>,
    /// Max 100 (default 30)
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct CommitGetArgs {
    #[serde(flatten)]
    pub repo: RepoArgs,
    /// Sha, branch or tag
    #[serde(rename = "ref")]
    pub reference: String,
    /// Only this file's patch
    pub path: Option<String>,
    /// Diff lines shown (default 300)
    pub max_lines: Option<usize>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct CompareArgs {
    #[serde(flatten)]
    pub repo: RepoArgs,
    /// Older ref: branch, tag (a release) or sha
    pub base: String,
    /// Newer ref (default: the default branch)
    pub head: Option<String>,
}

/// `worker.c +1 -1, deploy/worker.yaml +1 -1`.
fn file_counts(files: &[DiffEntry]) -> String {
    files
        .iter()
        .map(|f| {
            let renamed = f
                .previous_filename
                .as_deref()
                .map(|p| format!("{} → ", line(p, 80)))
                .unwrap_or_default();
            format!(
                "{renamed}{} +{} -{}",
                line(&f.filename, 120),
                f.additions,
                f.deletions
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn commit_time(c: &RepoCommit) -> Option<Timestamp> {
    c.commit
        .committer
        .as_ref()
        .or(c.commit.author.as_ref())
        .and_then(|p| p.date.as_ref())
        .map(from_chrono)
}

/// Who made a commit: their login, or the name in the commit.
fn commit_author(c: &RepoCommit) -> String {
    match (c.author.as_ref(), c.commit.author.as_ref()) {
        (Some(a), _) => a.login.clone(),
        (None, Some(p)) => line(&p.name, 40),
        _ => "?".into(),
    }
}

/// One commit as a line: short sha, time, login, title.
fn commit_line(c: &RepoCommit, now: Timestamp) -> String {
    let when = commit_time(c).map_or_else(|| "?".into(), |t| at(t, now));
    format!(
        "{}  {when}  {}  {}",
        sha7(&c.sha),
        commit_author(c),
        line(&c.commit.message, 100)
    )
}

/// `commits_list` as data (for callers that ask, see `opsmcp_core::structured`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct CommitList {
    /// owner/name
    pub repository: String,
    /// Newest first
    pub commits: Vec<CommitItem>,
    /// More commits in the window than those listed
    pub more: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CommitItem {
    pub sha: String,
    /// RFC 3339
    pub time: Option<String>,
    /// Login, or the name in the commit
    pub author: String,
    /// The message's first line
    pub title: String,
    /// The files it changed, when asked (`files`, the default)
    pub files: Option<Vec<String>>,
    pub additions: Option<u64>,
    pub deletions: Option<u64>,
}

impl CommitItem {
    fn of(c: &RepoCommit, files: Option<&[DiffEntry]>) -> Self {
        let sum = |count: fn(&DiffEntry) -> u64| files.map(|f| f.iter().map(count).sum());
        Self {
            sha: c.sha.clone(),
            time: commit_time(c).map(|t| t.to_string()),
            author: commit_author(c),
            title: line(&c.commit.message, 200),
            files: files.map(|f| f.iter().map(|e| e.filename.clone()).collect()),
            additions: sum(|e| e.additions),
            deletions: sum(|e| e.deletions),
        }
    }
}

/// A patch header and body for one file, within `budget` lines; what is left of the budget.
fn file_patch(f: &DiffEntry, budget: usize) -> (String, usize) {
    let status = format!("{:?}", f.status).to_lowercase();
    let mut out = format!(
        "--- {} ({status} +{} -{})\n",
        line(&f.filename, 200),
        f.additions,
        f.deletions
    );
    match f.patch.as_deref() {
        None => out.push_str("(no patch: binary or too large for GitHub's diff)\n"),
        Some(patch) => {
            let (shown, left) = first_lines(patch, budget);
            out.push_str(&shown);
            if !shown.ends_with('\n') {
                out.push('\n');
            }
            if left > 0 {
                out.push_str(&format!("… {left} more lines of this file's patch\n"));
            }
            return (out, budget.saturating_sub(patch.lines().count()));
        }
    }
    (out, budget)
}

impl GitHubServer {
    /// One commit with its files and stats.
    pub(crate) async fn commit(
        &self,
        owner: &str,
        repo: &str,
        reference: &str,
    ) -> Result<RepoCommit, GhError> {
        let what = format!("commit {reference} in {owner}/{repo}");
        self.gh()
            .read(&what, |c| async move {
                c.commits(owner, repo).get(reference).await
            })
            .await
    }
}

#[tool_router(router = history_router, vis = "pub(crate)")]
impl GitHubServer {
    /// Commits of a window (default the last 24h), newest first, with the files each changed.
    #[tool]
    pub async fn commits_list(
        &self,
        Parameters(args): Parameters<CommitsListArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let (owner, repo) = or_fail!(self.target(&args.repo));
        let now = Timestamp::now();
        let since = or_fail!(parse_time(args.since.as_deref().unwrap_or("24h"), now));
        let until = match args.until.as_deref() {
            Some(u) => Some(or_fail!(parse_time(u, now))),
            None => None,
        };
        let max = limit(args.limit, 30, 100);
        let what = format!("repository {owner}/{repo}");
        let page = or_fail!(
            self.gh()
                .read(&what, |c| {
                    let args = &args;
                    let (owner, repo) = (&owner, &repo);
                    async move {
                        let handler = c.repos(owner, repo);
                        let mut list = handler
                            .list_commits()
                            .since(to_chrono(since))
                            .per_page(max as u8);
                        if let Some(u) = until {
                            list = list.until(to_chrono(u));
                        }
                        if let Some(r) = &args.reference {
                            list = list.sha(r.clone());
                        }
                        if let Some(p) = &args.path {
                            list = list.path(p.clone());
                        }
                        if let Some(a) = &args.author {
                            list = list.author(a.clone());
                        }
                        list.send().await
                    }
                })
                .await
        );
        let window = format!(
            "since {}{}",
            at(since, now),
            until
                .map(|u| format!(" until {}", at(u, now)))
                .unwrap_or_default()
        );
        let on = args.reference.as_deref().unwrap_or("the default branch");
        if page.items.is_empty() {
            return Ok(text(format!(
                "{owner}/{repo} {on}: no commits {window}. Widen since, or check ref and path."
            )));
        }
        // Files of each commit (the list does not carry them), four requests at a time.
        let files: Vec<Option<Vec<DiffEntry>>> = if args.files.unwrap_or(true) {
            let shas: Vec<String> = page.items.iter().map(|c| c.sha.clone()).collect();
            stream::iter(shas)
                .map(|sha| {
                    let (this, owner, repo) = (self.clone(), owner.clone(), repo.clone());
                    async move {
                        this.commit(&owner, &repo, &sha)
                            .await
                            .ok()
                            .and_then(|full| full.files)
                    }
                })
                .buffered(4)
                .collect()
                .await
        } else {
            vec![None; page.items.len()]
        };
        let mut out = format!(
            "{owner}/{repo} {on}: {} commit{} {window}, newest first\n",
            page.items.len(),
            if page.items.len() == 1 { "" } else { "s" }
        );
        let mut data = CommitList {
            repository: format!("{owner}/{repo}"),
            commits: Vec::with_capacity(page.items.len()),
            more: page.next.is_some(),
        };
        for (c, files) in page.items.iter().zip(files) {
            out.push_str(&commit_line(c, now));
            out.push('\n');
            if let Some(files) = &files {
                out.push_str(&format!("         {}\n", file_counts(files)));
            }
            data.commits.push(CommitItem::of(c, files.as_deref()));
        }
        if page.next.is_some() {
            out.push_str(&format!(
                "More commits in this window than the {max} shown: narrow it (until, path, author).\n"
            ));
        }
        out.push_str("commit_get ref=<sha> shows a diff.");
        Ok(with_structured(text(out), &data))
    }

    /// One commit: message, author, files and the diff per file (bounded).
    #[tool]
    pub async fn commit_get(
        &self,
        Parameters(args): Parameters<CommitGetArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let (owner, repo) = or_fail!(self.target(&args.repo));
        let c = or_fail!(self.commit(&owner, &repo, &args.reference).await);
        let now = Timestamp::now();
        let files = c.files.clone().unwrap_or_default();
        let (adds, dels) = files
            .iter()
            .fold((0, 0), |(a, d), f| (a + f.additions, d + f.deletions));
        let author = c.commit.author.as_ref();
        let when = commit_time(&c).map_or_else(|| "?".into(), |t| at(t, now));
        let parents: Vec<&str> = c
            .parents
            .iter()
            .filter_map(|p| p.sha.as_deref())
            .map(sha7)
            .collect();
        let mut out = format!(
            "{} {owner}/{repo}  {when}\nauthor {} ({}) · parent {}\n{} file{} +{adds} -{dels}\n",
            c.sha,
            login(c.author.as_ref()),
            author.map_or_else(|| "?".into(), |a| line(&a.name, 60)),
            if parents.is_empty() {
                "none".into()
            } else {
                parents.join(", ")
            },
            files.len(),
            if files.len() == 1 { "" } else { "s" },
        );
        out.push_str(&fenced("commit message", c.commit.message.trim_end()));
        out.push('\n');
        let chosen: Vec<&DiffEntry> = match &args.path {
            Some(p) => {
                let found: Vec<&DiffEntry> = files.iter().filter(|f| &f.filename == p).collect();
                if found.is_empty() {
                    return Ok(failure(format!(
                        "{p} is not among this commit's files: {}",
                        files
                            .iter()
                            .map(|f| f.filename.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
                found
            }
            None => files.iter().collect(),
        };
        let mut budget = limit(args.max_lines, 300, 5_000);
        let mut diff = String::new();
        let mut skipped = Vec::new();
        for f in chosen {
            if budget == 0 {
                skipped.push(f.filename.as_str());
                continue;
            }
            let (patch, left) = file_patch(f, budget);
            diff.push_str(&patch);
            budget = left;
        }
        out.push_str(&fenced("diff", &diff));
        if !skipped.is_empty() {
            out.push_str(&format!(
                "\nDiff cut at the line budget; not shown: {}. Read one with path=, or raise max_lines.",
                skipped.join(", ")
            ));
        }
        Ok(text(out))
    }

    /// What changed between two refs (tags, releases, branches, shas): commits and files.
    #[tool]
    pub async fn compare(
        &self,
        Parameters(args): Parameters<CompareArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let (owner, repo) = or_fail!(self.target(&args.repo));
        let head = match &args.head {
            Some(h) => h.clone(),
            None => {
                let r = or_fail!(self.repository(&owner, &repo).await);
                r.default_branch.unwrap_or_else(|| "main".into())
            }
        };
        let what = format!("{}...{head} in {owner}/{repo}", args.base);
        let cmp = or_fail!(
            self.gh()
                .read(&what, |c| {
                    let (owner, repo, base, head) = (&owner, &repo, &args.base, &head);
                    async move { c.commits(owner, repo).compare(base, head).send().await }
                })
                .await
        );
        let now = Timestamp::now();
        let status = format!("{:?}", cmp.status).to_lowercase();
        let mut out = format!(
            "{owner}/{repo} {}...{head}: {status}, {} ahead, {} behind\n",
            args.base, cmp.ahead_by, cmp.behind_by
        );
        for c in cmp.commits.iter().rev().take(50) {
            let when = c
                .commit
                .committer
                .as_ref()
                .and_then(|p| p.date.as_ref())
                .and_then(|t| t.parse::<Timestamp>().ok())
                .map_or_else(|| "?".into(), |t| at(t, now));
            out.push_str(&format!(
                "{}  {when}  {}  {}\n",
                sha7(&c.sha),
                c.author.as_ref().map_or("?", |a| a.login.as_str()),
                line(&c.commit.message, 100)
            ));
        }
        if cmp.commits.len() > 50 {
            out.push_str(&format!("… {} older commits\n", cmp.commits.len() - 50));
        }
        let files = cmp.files.unwrap_or_default();
        if !files.is_empty() {
            out.push_str(&format!("files: {}\n", file_counts(&files)));
        }
        out.push_str("commit_get ref=<sha> shows one commit's diff.");
        Ok(text(out))
    }
}
