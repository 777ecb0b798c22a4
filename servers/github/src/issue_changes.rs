//! Changes to issues (medium risk, through [`crate::gate`]): create one (labels, assignees),
//! comment on an issue or pull request, close one as completed or not planned. Each answer is
//! checked for the change before it is reported as done.

use octocrab::models::{IssueState, issues::Issue};
use opsmcp_core::{approval::Exchange, risk::RiskLevel};
use rmcp::{
    ErrorData,
    handler::server::wrapper::Parameters,
    model::CallToolResponse,
    schemars::{self, JsonSchema},
    tool, tool_router,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    GitHubServer,
    gate::Change,
    render::{RepoArgs, failure, line, or_fail, text},
};

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct IssueCreateArgs {
    #[serde(flatten)]
    pub repo: RepoArgs,
    pub title: String,
    /// Markdown
    pub body: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    /// Logins
    #[serde(default)]
    pub assignees: Vec<String>,
    /// 0-1; yolo runs confident changes unasked
    pub confidence: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct IssueCommentArgs {
    #[serde(flatten)]
    pub repo: RepoArgs,
    /// Issue or pull request number
    pub number: u64,
    /// Markdown
    pub body: String,
    /// 0-1; yolo runs confident changes unasked
    pub confidence: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct IssueCloseArgs {
    #[serde(flatten)]
    pub repo: RepoArgs,
    pub number: u64,
    /// completed (default) or not_planned
    pub reason: Option<String>,
    /// Comment first
    pub comment: Option<String>,
    /// 0-1; yolo runs confident changes unasked
    pub confidence: Option<f64>,
}

/// GitHub keeps bodies of at most 65,536 characters.
const MAX_BODY: usize = 65_536;

fn too_long(body: &str) -> bool {
    body.chars().count() > MAX_BODY
}

impl GitHubServer {
    async fn issue(
        &self,
        owner: &str,
        repo: &str,
        n: u64,
    ) -> Result<Issue, crate::client::GhError> {
        let what = format!("issue #{n} in {owner}/{repo}");
        self.gh()
            .read(&what, |c| async move { c.issues(owner, repo).get(n).await })
            .await
    }
}

#[tool_router(router = issue_changes_router, vis = "pub(crate)")]
impl GitHubServer {
    /// Open an issue (e.g. the incident's follow-up).
    #[tool]
    pub async fn issue_create(
        &self,
        exchange: Exchange,
        Parameters(args): Parameters<IssueCreateArgs>,
    ) -> Result<CallToolResponse, ErrorData> {
        let (owner, repo) = or_fail!(self.write_target(&args.repo));
        let title = args.title.trim();
        if title.is_empty() {
            return Ok(failure("the title is empty").into());
        }
        if args.body.as_deref().is_some_and(too_long) {
            return Ok(failure("GitHub keeps issue bodies of at most 65,536 characters").into());
        }
        let route = format!("/repos/{owner}/{repo}/issues");
        let body = json!({
            "title": title, "body": args.body, "labels": args.labels, "assignees": args.assignees,
        });
        let change = Change {
            tool: "issue_create",
            verb: "create",
            resource: "issue",
            target: format!("{owner}/{repo}"),
            risk: RiskLevel::Medium,
            detail: "opens an issue; watchers are notified".into(),
            requests: vec![self.request("POST", &route, &body)],
        };
        let preview = format!("new issue in {owner}/{repo}: {}", line(title, 120));
        self.change(exchange, &args, change, Some(preview), || async {
            let created: Issue = self
                .gh()
                .write(&format!("repository {owner}/{repo}"), |c| {
                    let (route, body) = (&route, &body);
                    async move { c.post(route, Some(body)).await }
                })
                .await
                .map_err(|e| e.to_string())?;
            Ok(format!(
                "opened #{} {} {}",
                created.number,
                line(&created.title, 120),
                created.html_url
            ))
        })
        .await
    }

    /// Comment on an issue or pull request.
    #[tool]
    pub async fn issue_comment(
        &self,
        exchange: Exchange,
        Parameters(args): Parameters<IssueCommentArgs>,
    ) -> Result<CallToolResponse, ErrorData> {
        let (owner, repo) = or_fail!(self.write_target(&args.repo));
        let text = args.body.trim();
        if text.is_empty() {
            return Ok(failure("the comment is empty").into());
        }
        if too_long(text) {
            return Ok(failure("GitHub keeps comments of at most 65,536 characters").into());
        }
        let n = args.number;
        let issue = or_fail!(self.issue(&owner, &repo, n).await);
        let route = format!("/repos/{owner}/{repo}/issues/{n}/comments");
        let body = json!({ "body": text });
        let change = Change {
            tool: "issue_comment",
            verb: "comment",
            resource: "issue",
            target: format!("{owner}/{repo}#{n}"),
            risk: RiskLevel::Medium,
            detail: "adds a comment; participants are notified".into(),
            requests: vec![self.request("POST", &route, &body)],
        };
        let preview = format!("comment on #{n} {}", line(&issue.title, 120));
        self.change(exchange, &args, change, Some(preview), || async {
            let created: Value = self
                .gh()
                .write(&format!("issue #{n} in {owner}/{repo}"), |c| {
                    let (route, body) = (&route, &body);
                    async move { c.post(route, Some(body)).await }
                })
                .await
                .map_err(|e| e.to_string())?;
            match created["html_url"].as_str() {
                Some(url) => Ok(format!("commented on #{n}: {url}")),
                None => Err("GitHub's answer carries no comment".into()),
            }
        })
        .await
    }

    /// Close an issue as completed or not planned, with an optional last comment.
    #[tool]
    pub async fn issue_close(
        &self,
        exchange: Exchange,
        Parameters(args): Parameters<IssueCloseArgs>,
    ) -> Result<CallToolResponse, ErrorData> {
        let (owner, repo) = or_fail!(self.write_target(&args.repo));
        let reason = args.reason.as_deref().unwrap_or("completed");
        if !matches!(reason, "completed" | "not_planned") {
            return Ok(failure("reason is completed or not_planned").into());
        }
        let n = args.number;
        let issue = or_fail!(self.issue(&owner, &repo, n).await);
        if issue.state == IssueState::Closed {
            return Ok(text(format!("#{n} is already closed; nothing to do")).into());
        }
        if issue.pull_request.is_some() {
            return Ok(failure(format!(
                "#{n} is a pull request; closing one without merging is not done here — comment on it instead"
            ))
            .into());
        }
        let route = format!("/repos/{owner}/{repo}/issues/{n}");
        let comment_route = format!("{route}/comments");
        let body = json!({ "state": "closed", "state_reason": reason });
        let comment = args
            .comment
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(|c| json!({ "body": c }));
        let mut requests = Vec::new();
        if let Some(c) = &comment {
            requests.push(self.request("POST", &comment_route, c));
        }
        requests.push(self.request("PATCH", &route, &body));
        let change = Change {
            tool: "issue_close",
            verb: "close",
            resource: "issue",
            target: format!("{owner}/{repo}#{n}"),
            risk: RiskLevel::Medium,
            detail: format!("closes it as {reason} (it can be reopened)"),
            requests,
        };
        let preview = format!("close #{n} {} as {reason}", line(&issue.title, 120));
        let what = format!("issue #{n} in {owner}/{repo}");
        self.change(exchange, &args, change, Some(preview), || async {
            if let Some(c) = &comment {
                self.gh()
                    .write::<Value, _, _>(&what, |crab| {
                        let (comment_route, c) = (&comment_route, c);
                        async move { crab.post(comment_route, Some(c)).await }
                    })
                    .await
                    .map_err(|e| e.to_string())?;
            }
            let closed: Issue = self
                .gh()
                .write(&what, |c| {
                    let (route, body) = (&route, &body);
                    async move { c.patch(route, Some(body)).await }
                })
                .await
                .map_err(|e| e.to_string())?;
            if closed.state == IssueState::Closed {
                Ok(format!("closed #{n} as {reason}"))
            } else {
                Err(format!(
                    "GitHub accepted the request but #{n} is still open"
                ))
            }
        })
        .await
    }
}
