//! The fix as a pull request, in one call (medium risk): a new branch from a base, file changes
//! (whole new contents, exact search-and-replace edits checked against the base, deletions),
//! one commit, the pull request with its body and @-mentions, requested reviewers. The plan
//! shows the unified diff and every request. A branch that exists — the default or a protected
//! one above all — is never written: fixes only arrive through a new branch's pull request.
//! Merging is a separate, high-risk change.

use std::collections::BTreeMap;

use octocrab::models::{IssueState, pulls::PullRequest, repos::Content};
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
    client::GhError,
    gate::Change,
    pulls::pr_state,
    render::{RepoArgs, failure, line, or_fail, sha7, text},
};

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct PrCreateArgs {
    #[serde(flatten)]
    pub repo: RepoArgs,
    /// Pull request and commit title
    pub title: String,
    /// Markdown
    pub body: Option<String>,
    /// Branch to merge into (default: the default branch)
    pub base: Option<String>,
    /// New branch (default fix/<title>); must not exist
    pub branch: Option<String>,
    /// File changes, one commit
    pub changes: Vec<FileChange>,
    /// Logins asked to review
    #[serde(default)]
    pub reviewers: Vec<String>,
    /// Logins to @-mention in the body (e.g. the on-call engineer)
    #[serde(default)]
    pub mention: Vec<String>,
    #[serde(default)]
    pub draft: bool,
    /// 0-1; yolo runs confident changes unasked
    pub confidence: Option<f64>,
}

/// One file's change: `content`, or `edits`, or `delete`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct FileChange {
    pub path: String,
    /// The whole new contents
    pub content: Option<String>,
    /// Exact replacements in the base's file; each search must occur exactly once
    #[serde(default)]
    pub edits: Vec<Edit>,
    #[serde(default)]
    pub delete: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct Edit {
    pub search: String,
    pub replace: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct PrMergeArgs {
    #[serde(flatten)]
    pub repo: RepoArgs,
    pub number: u64,
    /// squash (default), merge or rebase
    pub method: Option<String>,
    /// Head sha expected (refused if the branch moved)
    pub sha: Option<String>,
    /// 0-1; yolo runs confident changes unasked
    pub confidence: Option<f64>,
}

/// A branch name from a title: `fix/free-the-batch-buffer`.
fn branch_for(title: &str) -> String {
    let slug: String = title
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let words: Vec<&str> = slug.split('-').filter(|w| !w.is_empty()).take(6).collect();
    format!("fix/{}", words.join("-"))
}

/// Whether git accepts `name` as a branch (the rules of `git check-ref-format`, simplified).
/// A branch as the agent may name it (`refs/heads/main`) in the short form git and the API
/// compare (`main`).
fn short_branch(name: &str) -> String {
    name.trim().trim_start_matches("refs/heads/").to_owned()
}

/// Files whose change reaches past the code: CI workflows and actions run with the repository's
/// secrets as soon as the branch is pushed, before anyone merges; submodules pull other code in;
/// CODEOWNERS and dependabot decide who reviews and what updates itself.
fn policy_file(path: &str) -> bool {
    path.starts_with(".github/workflows/")
        || path.starts_with(".github/actions/")
        || matches!(
            path,
            ".gitmodules"
                | "CODEOWNERS"
                | ".github/CODEOWNERS"
                | "docs/CODEOWNERS"
                | ".github/dependabot.yml"
                | ".github/dependabot.yaml"
                | "action.yml"
                | "action.yaml"
        )
}

fn valid_branch(name: &str) -> bool {
    !name.is_empty()
        && name != "HEAD"
        && name != "@"
        && !name.starts_with("refs/")
        && !name.starts_with(['/', '-', '.'])
        && !name.ends_with(['/', '.'])
        && !name.ends_with(".lock")
        && !name.contains("..")
        && !name.contains("//")
        && !name.contains("@{")
        && !name
            .chars()
            .any(|c| c.is_control() || " ~^:?*[\\".contains(c))
}

/// Apply exact edits to `text`; each search must occur exactly once.
fn apply(path: &str, text: &str, edits: &[Edit]) -> Result<String, String> {
    let mut out = text.to_owned();
    for (i, e) in edits.iter().enumerate() {
        if e.search.is_empty() {
            return Err(format!("{path}: edit {} has an empty search", i + 1));
        }
        match out.matches(&e.search).count() {
            1 => out = out.replacen(&e.search, &e.replace, 1),
            0 => {
                return Err(format!(
                    "{path}: edit {}'s search text is not in the file at the base (read it with file_get and copy the lines exactly)",
                    i + 1
                ));
            }
            n => {
                return Err(format!(
                    "{path}: edit {}'s search text occurs {n} times; include more lines so it is unique",
                    i + 1
                ));
            }
        }
    }
    Ok(out)
}

/// `diff --git` text of one file, as the plan shows it.
fn unified(path: &str, old: Option<&str>, new: Option<&str>) -> String {
    let diff = similar::TextDiff::from_lines(old.unwrap_or_default(), new.unwrap_or_default());
    let (a, b) = (
        old.map_or("/dev/null".into(), |_| format!("a/{path}")),
        new.map_or("/dev/null".into(), |_| format!("b/{path}")),
    );
    format!(
        "diff --git a/{path} b/{path}\n{}",
        diff.unified_diff().context_radius(3).header(&a, &b)
    )
}

fn decode(c: &Content) -> Result<String, String> {
    use base64::Engine;
    let raw = c.content.as_deref().unwrap_or_default().replace('\n', "");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(raw)
        .map_err(|e| format!("{}: GitHub sent content that is not base64: {e}", c.path))?;
    String::from_utf8(bytes).map_err(|_| format!("{}: a binary file cannot be edited here", c.path))
}

/// The file changes resolved against the base: path → (old, new) contents.
type Resolved = BTreeMap<String, (Option<String>, Option<String>)>;

impl GitHubServer {
    /// The repository (its default branch above all).
    pub(crate) async fn repository(
        &self,
        owner: &str,
        repo: &str,
    ) -> Result<octocrab::models::Repository, GhError> {
        let what = format!("repository {owner}/{repo}");
        self.gh()
            .read(&what, |c| async move { c.repos(owner, repo).get().await })
            .await
    }

    /// A file at `sha`, or `None` when it is not there.
    async fn file_at(
        &self,
        owner: &str,
        repo: &str,
        path: &str,
        sha: &str,
    ) -> Result<Option<String>, String> {
        let what = format!("{path} in {owner}/{repo}");
        let found = self
            .gh()
            .read(&what, |c| async move {
                c.repos(owner, repo)
                    .get_content()
                    .path(path)
                    .r#ref(sha)
                    .send()
                    .await
            })
            .await;
        match found {
            Ok(mut items) => {
                let items = items.take_items();
                match items.as_slice() {
                    [one] if one.r#type == "file" => decode(one).map(Some),
                    _ => Err(format!("{path} is a directory, not a file")),
                }
            }
            Err(GhError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Each change's old and new contents, checked.
    async fn resolve(
        &self,
        owner: &str,
        repo: &str,
        base_sha: &str,
        changes: &[FileChange],
    ) -> Result<Resolved, String> {
        let mut resolved = Resolved::new();
        for ch in changes {
            let path = ch.path.trim_matches('/').to_owned();
            if path.is_empty()
                || path
                    .split('/')
                    .any(|p| p.is_empty() || p == ".." || p == "." || p == ".git")
            {
                return Err(format!(
                    "{:?} is not a file path in the repository",
                    ch.path
                ));
            }
            if resolved.contains_key(&path) {
                return Err(format!("{path} is changed twice; give one change per file"));
            }
            let kinds = usize::from(ch.content.is_some())
                + usize::from(!ch.edits.is_empty())
                + usize::from(ch.delete);
            if kinds != 1 {
                return Err(format!(
                    "{path}: give exactly one of content (whole file), edits (search and replace) or delete"
                ));
            }
            let old = self.file_at(owner, repo, &path, base_sha).await?;
            let new = match (&old, ch) {
                (
                    _,
                    FileChange {
                        content: Some(c), ..
                    },
                ) => Some(c.clone()),
                (None, FileChange { delete: true, .. }) => {
                    return Err(format!(
                        "{path} does not exist at the base; nothing to delete"
                    ));
                }
                (Some(_), FileChange { delete: true, .. }) => None,
                (None, _) => {
                    return Err(format!(
                        "{path} does not exist at the base; give its whole content to create it"
                    ));
                }
                (Some(text), _) => Some(apply(&path, text, &ch.edits)?),
            };
            if old == new {
                return Err(format!("{path}: the change leaves the file as it is"));
            }
            resolved.insert(path, (old, new));
        }
        Ok(resolved)
    }

    /// Every login exists on GitHub.
    async fn check_logins(&self, logins: &[String]) -> Result<(), String> {
        for login in logins {
            let login = login.trim_start_matches('@');
            let what = format!("user {login}");
            match self
                .gh()
                .read(&what, |c| async move { c.users(login).profile().await })
                .await
            {
                Ok(_) => {}
                Err(GhError::NotFound(_)) => {
                    return Err(format!(
                        "{login} is not a GitHub login (users_find turns an email into one)"
                    ));
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(())
    }
}

/// The steps of the fix, for the plan and to run.
struct Fix {
    owner: String,
    repo: String,
    base: String,
    base_sha: String,
    base_tree: String,
    branch: String,
    tree: Value,
    commit: Value,
    pull: Value,
    reviewers: Vec<String>,
}

impl Fix {
    fn route(&self, tail: &str) -> String {
        format!("/repos/{}/{}/{tail}", self.owner, self.repo)
    }
}

impl GitHubServer {
    /// Tree, commit, branch, pull request and reviewers; `Ok` names what GitHub now holds.
    async fn open_fix(&self, fix: &Fix) -> Result<String, String> {
        let what = format!("repository {}/{}", fix.owner, fix.repo);
        let post = |route: String, body: Value| {
            let what = what.clone();
            async move {
                self.gh()
                    .write::<Value, _, _>(&what, |c| {
                        let (route, body) = (&route, &body);
                        async move { c.post(route, Some(body)).await }
                    })
                    .await
                    .map_err(|e| e.to_string())
            }
        };
        let tree = post(fix.route("git/trees"), fix.tree.clone()).await?;
        let tree_sha = tree["sha"]
            .as_str()
            .ok_or("GitHub's tree answer has no sha")?;
        let mut commit = fix.commit.clone();
        commit["tree"] = json!(tree_sha);
        let commit = post(fix.route("git/commits"), commit).await?;
        let commit_sha = commit["sha"]
            .as_str()
            .ok_or("GitHub's commit answer has no sha")?
            .to_owned();
        let reference = json!({ "ref": format!("refs/heads/{}", fix.branch), "sha": commit_sha });
        post(fix.route("git/refs"), reference).await?;
        let pull: PullRequest = self
            .gh()
            .write(&what, |c| {
                let route = fix.route("pulls");
                async move { c.post(&route, Some(&fix.pull)).await }
            })
            .await
            .map_err(|e| {
                format!(
                    "branch {} holds the fix ({}), but the pull request was not opened: {e}",
                    fix.branch,
                    sha7(&commit_sha)
                )
            })?;
        let n = pull.number;
        let mut asked = String::new();
        if !fix.reviewers.is_empty() {
            let route = fix.route(&format!("pulls/{n}/requested_reviewers"));
            match post(route, json!({ "reviewers": fix.reviewers })).await {
                Ok(_) => asked = format!("; review requested from @{}", fix.reviewers.join(", @")),
                Err(e) => asked = format!("; the review request failed: {e}"),
            }
        }
        if pull.head.sha != commit_sha {
            return Err(format!(
                "opened #{n}, but its head is {} instead of the fix's commit {}",
                sha7(&pull.head.sha),
                sha7(&commit_sha)
            ));
        }
        Ok(format!(
            "opened #{n} {} ({} → {}, commit {}, {} file{}){asked}\n{}",
            line(pull.title.as_deref().unwrap_or_default(), 120),
            fix.branch,
            fix.base,
            sha7(&commit_sha),
            pull.changed_files.unwrap_or(0),
            if pull.changed_files == Some(1) {
                ""
            } else {
                "s"
            },
            pull.html_url.map(|u| u.to_string()).unwrap_or_default()
        ))
    }
}

#[tool_router(router = pr_changes_router, vis = "pub(crate)")]
impl GitHubServer {
    /// Open a fix pull request in one call: new branch, file changes, one commit, the PR, reviewers.
    #[tool]
    pub async fn pr_create(
        &self,
        exchange: Exchange,
        Parameters(args): Parameters<PrCreateArgs>,
    ) -> Result<CallToolResponse, ErrorData> {
        let (owner, repo) = or_fail!(self.write_target(&args.repo));
        let title = args.title.trim();
        if title.is_empty() {
            return Ok(failure("the title is empty").into());
        }
        if args.changes.is_empty() {
            return Ok(failure("no changes: give at least one file change").into());
        }
        let r = or_fail!(self.repository(&owner, &repo).await);
        let default = r.default_branch.clone().unwrap_or_else(|| "main".into());
        let base = args
            .base
            .as_deref()
            .map(short_branch)
            .unwrap_or_else(|| default.clone());
        let branch = args
            .branch
            .as_deref()
            .map(short_branch)
            .unwrap_or_else(|| branch_for(title));
        if !valid_branch(&base) {
            return Ok(failure(format!("{base:?} is not a valid branch name")).into());
        }
        if !valid_branch(&branch) {
            return Ok(failure(format!("{branch:?} is not a valid branch name")).into());
        }
        // The branch must be new: an existing one (the default above all) is never written.
        let existing = format!("/repos/{owner}/{repo}/branches/{branch}");
        let found = self
            .gh()
            .get::<Value>(&format!("branch {branch}"), &existing, &[])
            .await;
        match found {
            Err(GhError::NotFound(_)) => {}
            Err(e) => return Ok(failure(e).into()),
            Ok(b) if branch == default || b["protected"] == true => {
                let change = Change {
                    tool: "pr_create",
                    verb: "push",
                    resource: "branch",
                    target: format!("{owner}/{repo} {branch}"),
                    risk: RiskLevel::Forbidden,
                    detail: "writing to the default or a protected branch directly; fixes go through a pull request from a new branch".into(),
                    requests: vec![self.request("PATCH", &format!("/repos/{owner}/{repo}/git/refs/heads/{branch}"), &Value::Null)],
                };
                return self
                    .change(exchange, &args, change, None, || async {
                        Err("refused".to_owned())
                    })
                    .await;
            }
            Ok(_) => {
                return Ok(failure(format!(
                    "branch {branch} already exists; name a new branch (pr_create never writes to an existing one)"
                ))
                .into());
            }
        }
        let head: Value = or_fail!(
            self.gh()
                .get(
                    &format!("branch {base}"),
                    &format!("/repos/{owner}/{repo}/git/ref/heads/{base}"),
                    &[]
                )
                .await
        );
        let Some(base_sha) = head["object"]["sha"].as_str().map(str::to_owned) else {
            return Ok(failure(format!("GitHub gave no commit for branch {base}")).into());
        };
        let commit: Value = or_fail!(
            self.gh()
                .get(
                    &format!("commit {base_sha}"),
                    &format!("/repos/{owner}/{repo}/git/commits/{base_sha}"),
                    &[]
                )
                .await
        );
        let base_tree = commit["tree"]["sha"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let resolved = match self.resolve(&owner, &repo, &base_sha, &args.changes).await {
            Ok(r) => r,
            Err(e) => return Ok(failure(e).into()),
        };
        let mut logins = args.reviewers.clone();
        logins.extend(args.mention.iter().cloned());
        if let Err(e) = self.check_logins(&logins).await {
            return Ok(failure(e).into());
        }
        let mentions: Vec<String> = args
            .mention
            .iter()
            .map(|m| format!("@{}", m.trim_start_matches('@')))
            .collect();
        let mut body = args.body.clone().unwrap_or_default().trim_end().to_owned();
        if !mentions.is_empty() {
            body.push_str(&format!("\n\ncc {}", mentions.join(" ")));
        }
        let entries: Vec<Value> = resolved
            .iter()
            .map(|(path, (_, new))| match new {
                Some(content) => {
                    json!({ "path": path, "mode": "100644", "type": "blob", "content": content })
                }
                None => json!({ "path": path, "mode": "100644", "type": "blob", "sha": null }),
            })
            .collect();
        let fix = Fix {
            owner: owner.clone(),
            repo: repo.clone(),
            base: base.clone(),
            base_sha: base_sha.clone(),
            base_tree: base_tree.clone(),
            branch: branch.clone(),
            tree: json!({ "base_tree": base_tree, "tree": entries }),
            commit: json!({ "message": title, "parents": [base_sha] }),
            pull: json!({
                "title": title, "head": branch, "base": base, "body": body.trim_start(),
                "draft": args.draft,
            }),
            reviewers: args
                .reviewers
                .iter()
                .map(|r| r.trim_start_matches('@').to_owned())
                .collect(),
        };
        let diff: String = resolved
            .iter()
            .map(|(path, (old, new))| unified(path, old.as_deref(), new.as_deref()))
            .collect();
        let mut requests = vec![
            self.request("POST", &fix.route("git/trees"), &json!({ "base_tree": fix.base_tree, "tree": format!("{} entries", resolved.len()) })),
            self.request("POST", &fix.route("git/commits"), &json!({ "message": title, "parents": [fix.base_sha], "tree": "<the tree>" })),
            self.request("POST", &fix.route("git/refs"), &json!({ "ref": format!("refs/heads/{branch}"), "sha": "<the commit>" })),
            self.request("POST", &fix.route("pulls"), &fix.pull),
        ];
        if !fix.reviewers.is_empty() {
            requests.push(self.request(
                "POST",
                &fix.route("pulls/<number>/requested_reviewers"),
                &json!({ "reviewers": fix.reviewers }),
            ));
        }
        let policy: Vec<&str> = resolved
            .keys()
            .map(String::as_str)
            .filter(|p| policy_file(p))
            .collect();
        let (risk, detail) = if policy.is_empty() {
            (
                RiskLevel::Medium,
                "a new branch and a pull request; nothing is merged".to_owned(),
            )
        } else {
            (
                RiskLevel::High,
                format!(
                    "it changes {}: repository policy (CI workflows run with the repository's secrets as soon as the branch is pushed, before anyone merges; submodules, code owners and update bots decide what else runs and who reviews)",
                    policy.join(", ")
                ),
            )
        };
        let change = Change {
            tool: "pr_create",
            verb: "create",
            resource: "pull request",
            target: format!("{owner}/{repo} {branch} → {base}"),
            risk,
            detail,
            requests,
        };
        let preview = format!(
            "{branch} → {base} from {}: {}\n{diff}",
            sha7(&base_sha),
            line(title, 120)
        );
        self.change(exchange, &args, change, Some(preview), || {
            self.open_fix(&fix)
        })
        .await
    }

    /// Merge a pull request (high risk: it changes the base branch).
    #[tool]
    pub async fn pr_merge(
        &self,
        exchange: Exchange,
        Parameters(args): Parameters<PrMergeArgs>,
    ) -> Result<CallToolResponse, ErrorData> {
        let (owner, repo) = or_fail!(self.write_target(&args.repo));
        let method = args.method.as_deref().unwrap_or("squash");
        if !matches!(method, "squash" | "merge" | "rebase") {
            return Ok(failure("method is squash, merge or rebase").into());
        }
        let n = args.number;
        let what = format!("pull request #{n} in {owner}/{repo}");
        let pr = or_fail!(
            self.gh()
                .read(&what, |c| {
                    let (owner, repo) = (&owner, &repo);
                    async move { c.pulls(owner, repo).get(n).await }
                })
                .await
        );
        match pr_state(&pr) {
            "merged" => {
                return Ok(text(format!("#{n} is already merged; nothing to do")).into());
            }
            "closed" => {
                return Ok(failure(format!("#{n} is closed; reopen it before merging")).into());
            }
            _ => {}
        }
        if pr.state == Some(IssueState::Open) && pr.mergeable == Some(false) {
            return Ok(failure(format!(
                "#{n} conflicts with {}; it cannot be merged",
                pr.base.ref_field
            ))
            .into());
        }
        let sha = args.sha.clone().unwrap_or_else(|| pr.head.sha.clone());
        let route = format!("/repos/{owner}/{repo}/pulls/{n}/merge");
        let body = json!({ "merge_method": method, "sha": sha });
        let change = Change {
            tool: "pr_merge",
            verb: "merge",
            resource: "pull request",
            target: format!("{owner}/{repo}#{n} into {}", pr.base.ref_field),
            risk: RiskLevel::High,
            detail: format!("changes {} (deploys may follow)", pr.base.ref_field),
            requests: vec![self.request("PUT", &route, &body)],
        };
        let preview = format!(
            "#{n} {} — {} → {}, head {}, {method}",
            line(pr.title.as_deref().unwrap_or_default(), 120),
            pr.head.ref_field,
            pr.base.ref_field,
            sha7(&sha)
        );
        self.change(exchange, &args, change, Some(preview), || async {
            let merged: Value = self
                .gh()
                .write(&what, |c| {
                    let (route, body) = (&route, &body);
                    async move { c.put(route, Some(body)).await }
                })
                .await
                .map_err(|e| e.to_string())?;
            match (merged["merged"].as_bool(), merged["sha"].as_str()) {
                (Some(true), Some(sha)) => Ok(format!("merged #{n} as {}", sha7(sha))),
                _ => Err(format!("GitHub did not merge #{n}: {merged}")),
            }
        })
        .await
    }
}
