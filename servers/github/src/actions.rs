//! CI as a responder reads it: workflow runs (failed first), and the log of a failed job cut to
//! its failed step's tail (fetched through GitHub's redirect to the plain-text download).

use jiff::Timestamp;
use octocrab::models::{
    RunId,
    workflows::{Conclusion, Job},
};
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
    render::{RepoArgs, Table, at, failure, fenced, from_chrono, limit, line, or_fail, sha7, text},
};

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct RunsListArgs {
    #[serde(flatten)]
    pub repo: RepoArgs,
    pub branch: Option<String>,
    /// failure, success, in_progress, completed…
    pub status: Option<String>,
    /// push, pull_request…
    pub event: Option<String>,
    /// Max 100 (default 15)
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct JobLogsArgs {
    #[serde(flatten)]
    pub repo: RepoArgs,
    /// A run: the logs of its failed jobs
    pub run_id: Option<u64>,
    /// One job
    pub job_id: Option<u64>,
    /// Tail lines per job (default 60, max 400)
    pub lines: Option<usize>,
}

/// `2026-11-30T20:12:01.1230000Z text` → `text`.
fn strip_stamp(l: &str) -> &str {
    match l.split_once(' ') {
        Some((stamp, rest))
            if stamp.len() >= 20 && stamp.ends_with('Z') && stamp.as_bytes()[4] == b'-' =>
        {
            rest
        }
        _ => l,
    }
}

/// The lines of the failed step (from its `##[group]` header to the next step's), or the whole
/// log when the step is not found.
fn failed_section<'a>(log: &'a str, step: Option<&str>) -> Vec<&'a str> {
    let lines: Vec<&str> = log.lines().map(strip_stamp).collect();
    let Some(step) = step else {
        return lines;
    };
    let header = format!("##[group]{step}");
    let Some(start) = lines.iter().position(|l| *l == header) else {
        return lines;
    };
    let end = lines[start + 1..]
        .iter()
        .position(|l| l.starts_with("##[group]Run ") || l.starts_with("Post job cleanup"))
        .map_or(lines.len(), |i| start + 1 + i);
    lines[start..end].to_vec()
}

fn conclusion(c: Option<&Conclusion>) -> String {
    c.map_or_else(|| "running".into(), |c| format!("{c:?}").to_lowercase())
}

#[tool_router(router = actions_router, vis = "pub(crate)")]
impl GitHubServer {
    /// Workflow runs, failed first, then newest.
    #[tool]
    pub async fn workflow_runs_list(
        &self,
        Parameters(args): Parameters<RunsListArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let (owner, repo) = or_fail!(self.target(&args.repo));
        let max = limit(args.limit, 15, 100);
        let what = format!("repository {owner}/{repo}");
        let page = or_fail!(
            self.gh()
                .read(&what, |c| {
                    let (owner, repo, args) = (&owner, &repo, &args);
                    async move {
                        let handler = c.workflows(owner, repo);
                        let mut list = handler.list_all_runs().per_page(max as u8);
                        if let Some(b) = &args.branch {
                            list = list.branch(b.clone());
                        }
                        if let Some(s) = &args.status {
                            list = list.status(s.clone());
                        }
                        if let Some(e) = &args.event {
                            list = list.event(e.clone());
                        }
                        list.send().await
                    }
                })
                .await
        );
        if page.items.is_empty() {
            return Ok(text(format!("{owner}/{repo}: no workflow runs match")));
        }
        let mut runs = page.items;
        runs.sort_by_key(|r| {
            (
                r.conclusion.as_deref() != Some("failure"),
                std::cmp::Reverse(r.created_at),
            )
        });
        let now = Timestamp::now();
        let mut table = Table::new([
            "RUN", "WORKFLOW", "RESULT", "EVENT", "BRANCH", "SHA", "STARTED", "TITLE",
        ]);
        for r in &runs {
            table.row([
                r.id.to_string(),
                format!("{} #{}", line(&r.name, 30), r.run_number),
                r.conclusion.clone().unwrap_or_else(|| r.status.clone()),
                r.event.clone(),
                line(&r.head_branch, 40),
                sha7(&r.head_sha).to_owned(),
                at(from_chrono(&r.created_at), now),
                line(&r.head_commit.message, 70),
            ]);
        }
        let failed = runs
            .iter()
            .filter(|r| r.conclusion.as_deref() == Some("failure"))
            .count();
        Ok(text(format!(
            "{owner}/{repo}: {} run{}, {failed} failed\n{}\njob_logs run_id=<RUN> shows why one failed.",
            runs.len(),
            if runs.len() == 1 { "" } else { "s" },
            table.render()
        )))
    }

    /// The failed step's log tail of a run's failed jobs (or of one job).
    #[tool]
    pub async fn job_logs(
        &self,
        Parameters(args): Parameters<JobLogsArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let (owner, repo) = or_fail!(self.target(&args.repo));
        let tail = limit(args.lines, 60, 400);
        let jobs: Vec<Job> = match (args.job_id, args.run_id) {
            (Some(job), _) => {
                let route = format!("/repos/{owner}/{repo}/actions/jobs/{job}");
                vec![or_fail!(
                    self.gh()
                        .get(&format!("job {job} in {owner}/{repo}"), &route, &[])
                        .await
                )]
            }
            (None, Some(run)) => {
                let what = format!("run {run} in {owner}/{repo}");
                let page = or_fail!(
                        self.gh()
                            .read(&what, |c| {
                                let (owner, repo) = (&owner, &repo);
                                async move {
                                    c.workflows(owner, repo).list_jobs(RunId(run)).send().await
                                }
                            })
                            .await
                    );
                let failed: Vec<Job> = page
                    .items
                    .into_iter()
                    .filter(|j| {
                        matches!(
                            j.conclusion,
                            Some(Conclusion::Failure | Conclusion::TimedOut)
                        )
                    })
                    .collect();
                if failed.is_empty() {
                    return Ok(text(format!(
                        "run {run} has no failed jobs; give job_id to read one job's log"
                    )));
                }
                failed
            }
            (None, None) => return Ok(failure("give run_id (its failed jobs) or job_id")),
        };
        let mut out = String::new();
        for job in jobs.iter().take(3) {
            let step = job.steps.iter().find(|s| {
                matches!(
                    s.conclusion,
                    Some(Conclusion::Failure | Conclusion::TimedOut)
                )
            });
            let route = format!("/repos/{owner}/{repo}/actions/jobs/{}/logs", job.id);
            let log = or_fail!(
                self.gh()
                    .text(&format!("the log of job {}", job.id), &route, "text/plain")
                    .await
            );
            let section = failed_section(&log, step.map(|s| s.name.as_str()));
            let skipped = section.len().saturating_sub(tail);
            out.push_str(&format!(
                "job {} {} ({}): {}\n",
                job.id,
                line(&job.name, 60),
                conclusion(job.conclusion.as_ref()),
                step.map_or_else(
                    || "no failed step; the log's tail".into(),
                    |s| format!("failed at {}", line(&s.name, 80))
                )
            ));
            if skipped > 0 {
                out.push_str(&format!("… {skipped} earlier lines\n"));
            }
            out.push_str(&fenced("job log", &section[skipped..].join("\n")));
            out.push('\n');
        }
        if jobs.len() > 3 {
            out.push_str(&format!(
                "{} more failed jobs: read them with job_id.\n",
                jobs.len() - 3
            ));
        }
        Ok(text(out.trim_end().to_owned()))
    }
}
