//! GitHub's REST API v3 as octocrab and githubkit read it:
//! `Authorization: Bearer|token <token>` (401 `{"message","documentation_url"}` otherwise),
//! `x-ratelimit-*` headers, `Link` pagination with `per_page` ≤ 100, 404 for a private
//! repository or anything that is not there, and every absolute URL built from the host the
//! request came to. Response objects carry the fields GitHub's OpenAPI description requires.

//!
//! [`common`] holds what every handler shares; [`repos`] (repositories, branches),
//! [`commits`], [`contents`], [`gitdata`] (compare, refs, blobs, trees, commits), [`pulls`],
//! [`issues`], [`search`], [`actions`] (workflows, runs, jobs, logs, check runs),
//! [`releases`] (and deployments), [`apps`] (the App's JWT, installation tokens) and
//! [`users`] hold the handlers.

mod actions;
mod apps;
mod commits;
mod common;
mod contents;
mod gitdata;
mod issues;
mod pulls;
mod releases;
mod repos;
mod search;
mod users;

use std::sync::Arc;

use axum::{
    Router,
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, patch, post, put},
};

use self::{
    actions::{
        job_get, job_logs, log_download, run_get, run_jobs, runs_list, workflow_runs,
        workflows_list,
    },
    apps::{app_get, installation_repositories, installation_token},
    commits::{commit_get, commits_list},
    common::{Caller, Refusal, Shared, error},
    contents::{contents_get, contents_root},
    gitdata::{
        blob_create, blob_get, commit_create, compare, git_commit_get, ref_create, ref_delete,
        ref_get, ref_update, tree_create, tree_get,
    },
    issues::{
        comment_create, comments_list, issue_create, issue_get, issue_update, issues_list,
        labels_add, labels_list,
    },
    pulls::{
        pull_commits, pull_create, pull_files, pull_get, pull_merge, pull_update, pulls_list,
        review_create, reviewers_get, reviewers_request, reviews_list,
    },
    releases::{
        deployment_statuses, deployments_list, release_by_tag, release_latest, releases_list,
    },
    repos::{branch_get, branches_list, my_repos, owner_repos, repo_get},
    search::{search_code, search_issues, search_users},
    users::{rate_limit, user_get, user_me},
};
use super::GitHub;

pub fn router(gh: Arc<GitHub>) -> Router {
    Router::new()
        .route("/app", get(app_get))
        .route(
            "/app/installations/{id}/access_tokens",
            post(installation_token),
        )
        .route("/installation/repositories", get(installation_repositories))
        .route("/repos/{owner}/{repo}", get(repo_get))
        .route("/orgs/{owner}/repos", get(owner_repos))
        .route("/users/{owner}/repos", get(owner_repos))
        .route("/user/repos", get(my_repos))
        .route("/repos/{owner}/{repo}/branches", get(branches_list))
        .route("/repos/{owner}/{repo}/branches/{*branch}", get(branch_get))
        .route(
            "/repos/{owner}/{repo}/pulls",
            get(pulls_list).post(pull_create),
        )
        .route(
            "/repos/{owner}/{repo}/pulls/{number}",
            get(pull_get).patch(pull_update),
        )
        .route(
            "/repos/{owner}/{repo}/pulls/{number}/files",
            get(pull_files),
        )
        .route(
            "/repos/{owner}/{repo}/pulls/{number}/commits",
            get(pull_commits),
        )
        .route(
            "/repos/{owner}/{repo}/pulls/{number}/reviews",
            get(reviews_list).post(review_create),
        )
        .route(
            "/repos/{owner}/{repo}/pulls/{number}/requested_reviewers",
            get(reviewers_get).post(reviewers_request),
        )
        .route(
            "/repos/{owner}/{repo}/pulls/{number}/merge",
            put(pull_merge),
        )
        .route(
            "/repos/{owner}/{repo}/issues",
            get(issues_list).post(issue_create),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}",
            get(issue_get).patch(issue_update),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}/comments",
            get(comments_list).post(comment_create),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}/labels",
            post(labels_add),
        )
        .route("/repos/{owner}/{repo}/labels", get(labels_list))
        .route(
            "/repos/{owner}/{repo}/actions/workflows",
            get(workflows_list),
        )
        .route(
            "/repos/{owner}/{repo}/actions/workflows/{workflow}/runs",
            get(workflow_runs),
        )
        .route("/repos/{owner}/{repo}/actions/runs", get(runs_list))
        .route("/repos/{owner}/{repo}/actions/runs/{id}", get(run_get))
        .route(
            "/repos/{owner}/{repo}/actions/runs/{id}/jobs",
            get(run_jobs),
        )
        .route("/repos/{owner}/{repo}/actions/jobs/{id}", get(job_get))
        .route(
            "/repos/{owner}/{repo}/actions/jobs/{id}/logs",
            get(job_logs),
        )
        .route("/repos/{owner}/{repo}/releases", get(releases_list))
        .route("/repos/{owner}/{repo}/releases/latest", get(release_latest))
        .route(
            "/repos/{owner}/{repo}/releases/tags/{tag}",
            get(release_by_tag),
        )
        .route("/repos/{owner}/{repo}/deployments", get(deployments_list))
        .route(
            "/repos/{owner}/{repo}/deployments/{id}/statuses",
            get(deployment_statuses),
        )
        .route("/search/code", get(search_code))
        .route("/search/issues", get(search_issues))
        .route("/search/users", get(search_users))
        .route("/repos/{owner}/{repo}/compare/{basehead}", get(compare))
        .route("/repos/{owner}/{repo}/git/ref/{*reference}", get(ref_get))
        .route("/repos/{owner}/{repo}/git/refs", post(ref_create))
        .route(
            "/repos/{owner}/{repo}/git/refs/{*reference}",
            patch(ref_update).delete(ref_delete),
        )
        .route("/repos/{owner}/{repo}/git/blobs", post(blob_create))
        .route("/repos/{owner}/{repo}/git/blobs/{sha}", get(blob_get))
        .route("/repos/{owner}/{repo}/git/trees", post(tree_create))
        .route("/repos/{owner}/{repo}/git/trees/{sha}", get(tree_get))
        .route("/repos/{owner}/{repo}/git/commits", post(commit_create))
        .route(
            "/repos/{owner}/{repo}/git/commits/{sha}",
            get(git_commit_get),
        )
        .route("/repos/{owner}/{repo}/commits", get(commits_list))
        .route(
            "/repos/{owner}/{repo}/commits/{*reference}",
            get(commit_get),
        )
        .route("/repos/{owner}/{repo}/contents", get(contents_root))
        .route("/repos/{owner}/{repo}/contents/", get(contents_root))
        .route("/repos/{owner}/{repo}/contents/{*path}", get(contents_get))
        .route("/users/{login}", get(user_get))
        .route("/user", get(user_me))
        .route("/rate_limit", get(rate_limit))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "Not Found").into_response() })
        .layer(middleware::from_fn_with_state(gh.clone(), gate))
        // Log downloads are signed URLs, outside the API's token check (as GitHub's are).
        .route("/_logs/{owner}/{repo}/jobs/{id}", get(log_download))
        .with_state(gh)
}

/// Who the credentials are: the App itself (a JWT, only for `/app…`), the token's user, or
/// the installation's bot (which sees only the installation's repositories).
fn caller(gh: &GitHub, path: &str, token: Option<&str>) -> Result<Caller, Refusal> {
    let now = jiff::Timestamp::now().as_second();
    let token = token.ok_or_else(|| error(StatusCode::UNAUTHORIZED, "Requires authentication"))?;
    if path.starts_with("/app/") || path == "/app" {
        gh.app
            .verify(token, now)
            .map_err(|e| error(StatusCode::UNAUTHORIZED, e.message()))?;
        return Ok(Caller {
            login: gh.app.slug.clone(),
            scope: Some(Vec::new()),
        });
    }
    if token == gh.token {
        return Ok(Caller {
            login: gh.token_user.clone(),
            scope: None,
        });
    }
    if gh.app.accepts(token, now) {
        return Ok(Caller {
            login: gh.app.bot(),
            scope: Some(gh.app.repositories.clone()),
        });
    }
    Err(error(StatusCode::UNAUTHORIZED, "Bad credentials"))
}

/// The credentials (a repository they may not see is 404, as GitHub answers), the secondary
/// rate limit when a test asked for it, and rate-limit headers on every answer.
async fn gate(State(gh): Shared, mut request: Request, next: Next) -> Response {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|auth| auth.split_once(' '))
        .filter(|(scheme, _)| {
            scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token")
        })
        .map(|(_, t)| t.trim().to_owned());
    let path = request.uri().path().to_owned();
    let repository = path
        .strip_prefix("/repos/")
        .map(|rest| rest.splitn(3, '/').take(2).collect::<Vec<_>>().join("/"));
    let mut response = match caller(&gh, &path, token.as_deref()) {
        Err(refused) => refused.into_response(),
        Ok(who) if repository.as_ref().is_some_and(|r| !who.sees(r)) => {
            error(StatusCode::NOT_FOUND, "Not Found").into_response()
        }
        Ok(who) => match gh.secondary_limited() {
            Some(seconds) => {
                let mut refused = error(
                    StatusCode::FORBIDDEN,
                    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                )
                .into_response();
                refused
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
                refused
            }
            None => {
                request.extensions_mut().insert(who);
                next.run(request).await
            }
        },
    };
    let reset = jiff::Timestamp::now().as_second() + 3600;
    let h = response.headers_mut();
    h.insert("x-ratelimit-limit", HeaderValue::from(5000));
    h.insert("x-ratelimit-remaining", HeaderValue::from(4999));
    h.insert("x-ratelimit-used", HeaderValue::from(1));
    h.insert("x-ratelimit-reset", HeaderValue::from(reset));
    h.insert("x-ratelimit-resource", HeaderValue::from_static("core"));
    response
}
