//! Issues as a responder reads them: the list (open by default, pull requests left out), one
//! issue with its latest comments, and a search across issues and pull requests.

use jiff::Timestamp;
use octocrab::models::{IssueState, issues::Issue};
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
    pulls::state,
    render::{
        RepoArgs, Table, at, failure, fenced, first_lines, from_chrono, limit, line, or_fail,
        parse_time, text, to_chrono,
    },
};

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct IssuesListArgs {
    #[serde(flatten)]
    pub repo: RepoArgs,
    /// open (default), closed or all
    pub state: Option<String>,
    /// All of these labels
    #[serde(default)]
    pub labels: Vec<String>,
    /// Login, none or *
    pub assignee: Option<String>,
    /// Updated since (e.g. 7d)
    pub since: Option<String>,
    /// Max 100 (default 20)
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct IssueGetArgs {
    #[serde(flatten)]
    pub repo: RepoArgs,
    /// Issue number
    pub number: u64,
    /// Latest comments shown (default 10)
    pub comments: Option<usize>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct IssuesSearchArgs {
    /// GitHub search, e.g. "OOM is:issue is:closed" (repo: added from the defaults)
    pub query: String,
    /// Name or owner/name (default: the default repository)
    pub repo: Option<String>,
    /// Max 100 (default 20)
    pub limit: Option<usize>,
}

fn issue_row(i: &Issue, now: Timestamp) -> [String; 6] {
    let kind = if i.pull_request.is_some() {
        "pr"
    } else {
        "issue"
    };
    let state = match (&i.state, i.state_reason.as_ref()) {
        (IssueState::Open, _) => "open".to_owned(),
        (_, Some(reason)) => format!("closed ({})", format!("{reason:?}").to_lowercase()),
        _ => "closed".to_owned(),
    };
    let labels: Vec<String> = i.labels.iter().map(|l| line(&l.name, 30)).collect();
    [
        format!("#{} {kind}", i.number),
        state,
        i.user.login.clone(),
        at(from_chrono(&i.updated_at), now),
        labels.join(","),
        line(&i.title, 90),
    ]
}

fn table(items: &[Issue], now: Timestamp) -> String {
    let mut t = Table::new(["#", "STATE", "AUTHOR", "UPDATED", "LABELS", "TITLE"]);
    for i in items {
        t.row(issue_row(i, now));
    }
    t.render()
}

#[tool_router(router = issues_router, vis = "pub(crate)")]
impl GitHubServer {
    /// Issues (open by default; pull requests left out), recently updated first.
    #[tool]
    pub async fn issues_list(
        &self,
        Parameters(args): Parameters<IssuesListArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let (owner, repo) = or_fail!(self.target(&args.repo));
        let wanted = or_fail!(state(args.state.as_deref()));
        let now = Timestamp::now();
        let since = match args.since.as_deref() {
            Some(s) => Some(or_fail!(parse_time(s, now))),
            None => None,
        };
        let max = limit(args.limit, 20, 100);
        let what = format!("repository {owner}/{repo}");
        let page = or_fail!(
            self.gh()
                .read(&what, |c| {
                    let (owner, repo, args) = (&owner, &repo, &args);
                    async move {
                        let handler = c.issues(owner, repo);
                        let mut list = handler
                            .list()
                            .state(wanted)
                            .sort(octocrab::params::issues::Sort::Updated)
                            .per_page(max as u8);
                        if !args.labels.is_empty() {
                            list = list.labels(&args.labels);
                        }
                        if let Some(a) = args.assignee.as_deref() {
                            list = list.assignee(match a {
                                "none" => octocrab::params::issues::Filter::None,
                                "*" => octocrab::params::issues::Filter::Any,
                                a => octocrab::params::issues::Filter::Matches(a),
                            });
                        }
                        if let Some(s) = since {
                            list = list.since(to_chrono(s));
                        }
                        list.send().await
                    }
                })
                .await
        );
        let issues: Vec<Issue> = page
            .items
            .into_iter()
            .filter(|i| i.pull_request.is_none())
            .collect();
        if issues.is_empty() {
            return Ok(text(format!("{owner}/{repo}: no issues match")));
        }
        Ok(text(format!("{owner}/{repo}:\n{}", table(&issues, now))))
    }

    /// One issue with its body and latest comments.
    #[tool]
    pub async fn issue_get(
        &self,
        Parameters(args): Parameters<IssueGetArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let (owner, repo) = or_fail!(self.target(&args.repo));
        let n = args.number;
        let what = format!("issue #{n} in {owner}/{repo}");
        let (issue, comments) = or_fail!(futures::try_join!(
            self.gh().read(&what, |c| {
                let (owner, repo) = (&owner, &repo);
                async move { c.issues(owner, repo).get(n).await }
            }),
            self.gh().read(&what, |c| {
                let (owner, repo) = (&owner, &repo);
                async move {
                    c.issues(owner, repo)
                        .list_comments(n)
                        .per_page(100u8)
                        .send()
                        .await
                }
            }),
        ));
        let now = Timestamp::now();
        let [number, state, author, updated, labels, title] = issue_row(&issue, now);
        let assignees: Vec<String> = issue
            .assignees
            .iter()
            .map(|a| format!("@{}", a.login))
            .collect();
        let mut out = format!(
            "{number} {title} [{state}] by {author}, updated {updated}\nopened {}{}{}\n",
            at(from_chrono(&issue.created_at), now),
            if labels.is_empty() {
                String::new()
            } else {
                format!(" · labels {labels}")
            },
            if assignees.is_empty() {
                String::new()
            } else {
                format!(" · assigned {}", assignees.join(", "))
            },
        );
        if let Some(body) = issue.body.as_deref().filter(|b| !b.trim().is_empty()) {
            let (shown, left) = first_lines(body.trim_end(), 60);
            out.push_str(&fenced("issue body", shown.trim_end()));
            out.push('\n');
            if left > 0 {
                out.push_str(&format!("… {left} more lines of the body\n"));
            }
        }
        let keep = limit(args.comments, 10, 100);
        let skipped = comments.items.len().saturating_sub(keep);
        if skipped > 0 {
            out.push_str(&format!("… {skipped} earlier comments\n"));
        }
        for c in comments.items.iter().skip(skipped) {
            let body = c.body.as_deref().unwrap_or_default();
            let (shown, _) = first_lines(body.trim_end(), 20);
            out.push_str(&format!(
                "comment by {} {}:\n",
                c.user.login,
                at(from_chrono(&c.created_at), now)
            ));
            out.push_str(&fenced("comment", shown.trim_end()));
            out.push('\n');
        }
        Ok(text(out.trim_end().to_owned()))
    }

    /// Search issues and pull requests (GitHub search syntax).
    #[tool]
    pub async fn issues_search(
        &self,
        Parameters(args): Parameters<IssuesSearchArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        if args.query.trim().is_empty() {
            return Ok(failure(
                "the query is empty: give words or qualifiers (is:issue label:incident)",
            ));
        }
        let mut query = args.query.clone();
        if !query.contains("repo:") && !query.contains("org:") && !query.contains("user:") {
            let (o, r) = or_fail!(self.gh().repo(None, args.repo.as_deref()));
            query.push_str(&format!(" repo:{o}/{r}"));
        }
        let max = limit(args.limit, 20, 100);
        let found = or_fail!(
            self.gh()
                .read("issue search", |c| {
                    let query = &query;
                    async move {
                        c.search()
                            .issues_and_pull_requests(query)
                            .per_page(max as u8)
                            .send()
                            .await
                    }
                })
                .await
        );
        if found.items.is_empty() {
            return Ok(text(format!("nothing matches `{query}`")));
        }
        let total = found.total_count.unwrap_or(found.items.len() as u64);
        Ok(text(format!(
            "{total} match `{query}`:\n{}",
            table(&found.items, Timestamp::now())
        )))
    }
}
