//! Pull requests as a responder reads them: the list (open by default) in a table, and one
//! pull request with its branches, mergeability, reviews, requested reviewers, the checks of its
//! head, files and body.

use jiff::Timestamp;
use octocrab::{
    models::{IssueState, pulls::PullRequest},
    params::State,
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
    render::{
        RepoArgs, Table, at, failure, fenced, first_lines, from_chrono, limit, line, or_fail, text,
    },
};

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct PrsListArgs {
    #[serde(flatten)]
    pub repo: RepoArgs,
    /// open (default), closed or all
    pub state: Option<String>,
    /// Base branch
    pub base: Option<String>,
    /// Head branch
    pub head: Option<String>,
    /// Max 100 (default 20)
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct PrGetArgs {
    #[serde(flatten)]
    pub repo: RepoArgs,
    /// Pull request number
    pub number: u64,
}

/// `open`, `closed` or `all` as octocrab's state.
pub(crate) fn state(s: Option<&str>) -> Result<State, String> {
    match s.unwrap_or("open") {
        "open" => Ok(State::Open),
        "closed" => Ok(State::Closed),
        "all" => Ok(State::All),
        other => Err(format!("state is open, closed or all, not {other:?}")),
    }
}

/// `open`, `draft`, `merged` or `closed`.
pub(crate) fn pr_state(p: &PullRequest) -> &'static str {
    if p.merged_at.is_some() {
        "merged"
    } else if p.state == Some(IssueState::Closed) {
        "closed"
    } else if p.draft == Some(true) {
        "draft"
    } else {
        "open"
    }
}

#[tool_router(router = pulls_router, vis = "pub(crate)")]
impl GitHubServer {
    /// Pull requests (open by default), newest first.
    #[tool]
    pub async fn prs_list(
        &self,
        Parameters(args): Parameters<PrsListArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let (owner, repo) = or_fail!(self.target(&args.repo));
        let wanted = or_fail!(state(args.state.as_deref()));
        let max = limit(args.limit, 20, 100);
        let what = format!("repository {owner}/{repo}");
        let page = or_fail!(
            self.gh()
                .read(&what, |c| {
                    let (owner, repo, args) = (&owner, &repo, &args);
                    async move {
                        let handler = c.pulls(owner, repo);
                        let mut list = handler.list().state(wanted).per_page(max as u8);
                        if let Some(b) = &args.base {
                            list = list.base(b.clone());
                        }
                        if let Some(h) = &args.head {
                            list = list.head(if h.contains(':') {
                                h.clone()
                            } else {
                                format!("{owner}:{h}")
                            });
                        }
                        list.send().await
                    }
                })
                .await
        );
        let now = Timestamp::now();
        if page.items.is_empty() {
            return Ok(text(format!("{owner}/{repo}: no pull requests match")));
        }
        let mut table = Table::new(["#", "STATE", "AUTHOR", "BRANCH", "UPDATED", "TITLE"]);
        for p in &page.items {
            table.row([
                p.number.to_string(),
                pr_state(p).into(),
                p.user.as_ref().map_or("?".into(), |u| u.login.clone()),
                format!(
                    "{} → {}",
                    line(&p.head.ref_field, 40),
                    line(&p.base.ref_field, 40)
                ),
                p.updated_at
                    .as_ref()
                    .map_or("?".into(), |t| at(from_chrono(t), now)),
                line(p.title.as_deref().unwrap_or_default(), 90),
            ]);
        }
        let more = if page.next.is_some() {
            format!("\nMore than {max}: raise limit or filter by base/head.")
        } else {
            String::new()
        };
        Ok(text(format!("{owner}/{repo}:\n{}{more}", table.render())))
    }

    /// One pull request: branches, state, mergeability, reviews, checks, files and body.
    #[tool]
    pub async fn pr_get(
        &self,
        Parameters(args): Parameters<PrGetArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let (owner, repo) = or_fail!(self.target(&args.repo));
        let n = args.number;
        let what = format!("pull request #{n} in {owner}/{repo}");
        let (pr, files, reviews) = or_fail!(futures::try_join!(
            self.gh().read(&what, |c| {
                let (owner, repo) = (&owner, &repo);
                async move { c.pulls(owner, repo).get(n).await }
            }),
            self.gh().read(&what, |c| {
                let (owner, repo) = (&owner, &repo);
                async move { c.pulls(owner, repo).list_files(n).await }
            }),
            self.gh().read(&what, |c| {
                let (owner, repo) = (&owner, &repo);
                async move { c.pulls(owner, repo).list_reviews(n).send().await }
            }),
        ));
        let now = Timestamp::now();
        let mut out = format!(
            "#{n} {} [{}] by {}\n{} → {} · head {} · {} commit{}, {} file{} +{} -{}\n",
            line(pr.title.as_deref().unwrap_or_default(), 120),
            pr_state(&pr),
            pr.user.as_ref().map_or("?".into(), |u| u.login.clone()),
            line(&pr.head.ref_field, 60),
            line(&pr.base.ref_field, 60),
            &pr.head.sha[..pr.head.sha.len().min(7)],
            pr.commits.unwrap_or(0),
            if pr.commits == Some(1) { "" } else { "s" },
            pr.changed_files.unwrap_or(files.items.len() as u64),
            if pr.changed_files == Some(1) { "" } else { "s" },
            pr.additions.unwrap_or(0),
            pr.deletions.unwrap_or(0),
        );
        if let Some(t) = pr.created_at.as_ref() {
            out.push_str(&format!("opened {}", at(from_chrono(t), now)));
        }
        if let (Some(t), Some(by)) = (pr.merged_at.as_ref(), pr.merged_by.as_ref()) {
            out.push_str(&format!(
                " · merged {} by {}",
                at(from_chrono(t), now),
                by.login
            ));
        } else if pr.state == Some(IssueState::Open) {
            let mergeable = match pr.mergeable {
                Some(true) => "mergeable",
                Some(false) => "conflicts with its base",
                None => "mergeability not computed yet",
            };
            out.push_str(&format!(" · {mergeable}"));
        }
        out.push('\n');
        let requested: Vec<String> = pr
            .requested_reviewers
            .iter()
            .flatten()
            .map(|u| format!("@{}", u.login))
            .collect();
        if !requested.is_empty() {
            out.push_str(&format!("review requested from {}\n", requested.join(", ")));
        }
        for r in &reviews.items {
            out.push_str(&format!(
                "review: {} {:?}{}\n",
                r.user.as_ref().map_or("?", |u| u.login.as_str()),
                r.state
                    .unwrap_or(octocrab::models::pulls::ReviewState::Pending),
                r.submitted_at
                    .as_ref()
                    .map(|t| format!(" {}", at(from_chrono(t), now)))
                    .unwrap_or_default()
            ));
        }
        // The checks of the head commit (CI's verdict on the change).
        let route = format!("/repos/{owner}/{repo}/commits/{}/check-runs", pr.head.sha);
        if let Ok(checks) = self
            .gh()
            .get::<serde_json::Value>(&what, &route, &[("per_page", "30".into())])
            .await
        {
            let runs: Vec<String> = checks["check_runs"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    format!(
                        "{} {}",
                        line(c["name"].as_str().unwrap_or("?"), 40),
                        c["conclusion"]
                            .as_str()
                            .or(c["status"].as_str())
                            .unwrap_or("?")
                    )
                })
                .collect();
            if !runs.is_empty() {
                out.push_str(&format!("checks: {}\n", runs.join(", ")));
            }
        }
        let names: Vec<String> = files
            .items
            .iter()
            .map(|f| {
                format!(
                    "{} +{} -{}",
                    line(&f.filename, 120),
                    f.additions,
                    f.deletions
                )
            })
            .collect();
        if !names.is_empty() {
            out.push_str(&format!("files: {}\n", names.join(", ")));
        }
        if let Some(body) = pr.body.as_deref().filter(|b| !b.trim().is_empty()) {
            let (shown, left) = first_lines(body.trim_end(), 60);
            out.push_str(&fenced("pull request body", shown.trim_end()));
            if left > 0 {
                out.push_str(&format!("\n… {left} more lines of the body"));
            }
        }
        if pr.number != n {
            return Ok(failure("GitHub answered with another pull request"));
        }
        Ok(text(out))
    }
}
