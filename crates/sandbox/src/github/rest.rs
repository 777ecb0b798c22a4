//! GitHub's REST API v3 for commits, contents and users, as octocrab and githubkit read it:
//! `Authorization: Bearer|token <token>` (401 `{"message","documentation_url"}` otherwise),
//! `x-ratelimit-*` headers, `Link` pagination with `per_page` ≤ 100, 404 for a private
//! repository or anything that is not there, and every absolute URL built from the host the
//! request came to. Response objects carry the fields GitHub's OpenAPI description requires.

use std::{collections::HashMap, sync::Arc};

use axum::{
    Json, Router,
    extract::{Path, Query, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use base64::Engine;
use serde_json::{Value, json};

use super::{
    GitHub, RepoState, User,
    git::{CommitInfo, Entry, Person},
};

type Shared = State<Arc<GitHub>>;
type Params = Query<HashMap<String, String>>;

const DOCS: &str = "https://docs.github.com/rest";

pub fn router(gh: Arc<GitHub>) -> Router {
    Router::new()
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
        .fallback(|| async { error(StatusCode::NOT_FOUND, "Not Found").into_response() })
        .layer(middleware::from_fn_with_state(gh.clone(), gate))
        .with_state(gh)
}

/// A refusal with GitHub's error body (`message`, `documentation_url`, `status`).
#[derive(Debug)]
struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = json!({ "message": self.1, "documentation_url": DOCS, "status": self.0.as_u16().to_string() });
        (self.0, Json(body)).into_response()
    }
}

fn error(status: StatusCode, message: &str) -> Refusal {
    Refusal(status, message.to_owned())
}

type Answer = Result<Response, Refusal>;

/// The token, and rate-limit headers on every answer.
async fn gate(State(gh): Shared, request: Request, next: Next) -> Response {
    let auth = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let token = auth
        .split_once(' ')
        .filter(|(scheme, _)| {
            scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token")
        })
        .map(|(_, t)| t.trim());
    let mut response = match token {
        None => error(StatusCode::UNAUTHORIZED, "Requires authentication").into_response(),
        Some(t) if t != gh.token => {
            error(StatusCode::UNAUTHORIZED, "Bad credentials").into_response()
        }
        Some(_) => next.run(request).await,
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

/// The API's and the web's base URLs, from the request's host.
struct Base {
    api: String,
    web: String,
}

fn base(headers: &HeaderMap) -> Base {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    Base {
        api: format!("http://{host}"),
        web: format!("http://{host}/web"),
    }
}

fn iso(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// A user as `simple-user`.
fn simple_user(b: &Base, u: &User) -> Value {
    let url = format!("{}/users/{}", b.api, u.login);
    json!({
        "login": u.login, "id": u.id, "node_id": node_id("User", &u.id.to_string()),
        "avatar_url": format!("{}/avatars/{}", b.web, u.login), "gravatar_id": "",
        "url": url, "html_url": format!("{}/{}", b.web, u.login),
        "followers_url": format!("{url}/followers"),
        "following_url": format!("{url}/following{{/other_user}}"),
        "gists_url": format!("{url}/gists{{/gist_id}}"),
        "starred_url": format!("{url}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{url}/subscriptions"),
        "organizations_url": format!("{url}/orgs"),
        "repos_url": format!("{url}/repos"),
        "events_url": format!("{url}/events{{/privacy}}"),
        "received_events_url": format!("{url}/received_events"),
        "type": "User", "site_admin": false, "user_view_type": "public",
    })
}

fn node_id(kind: &str, id: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{kind}:{id}"))
}

/// The repository, if the token may see it (404 otherwise, as GitHub answers for a private
/// repository without access).
fn repo<'a>(
    repos: &'a std::collections::BTreeMap<String, RepoState>,
    owner: &str,
    name: &str,
) -> Result<&'a RepoState, Refusal> {
    repos
        .get(&format!("{owner}/{name}"))
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "Not Found"))
}

fn git_person(p: &Person) -> Value {
    json!({ "name": p.name, "email": p.email, "date": iso(p.time) })
}

/// A commit as `commit` (without `files` and `stats`, as lists give it).
fn commit_json(gh: &GitHub, b: &Base, r: &RepoState, c: &CommitInfo) -> Value {
    let repo_api = format!("{}/repos/{}/{}", b.api, r.owner, r.name);
    let repo_web = format!("{}/{}/{}", b.web, r.owner, r.name);
    let user = |p: &Person| {
        gh.user_by_email(&p.email)
            .map_or(Value::Null, |u| simple_user(b, u))
    };
    json!({
        "url": format!("{repo_api}/commits/{}", c.sha),
        "sha": c.sha,
        "node_id": node_id("Commit", &c.sha),
        "html_url": format!("{repo_web}/commit/{}", c.sha),
        "comments_url": format!("{repo_api}/commits/{}/comments", c.sha),
        "commit": {
            "url": format!("{repo_api}/git/commits/{}", c.sha),
            "author": git_person(&c.author),
            "committer": git_person(&c.committer),
            "message": c.message.trim_end(),
            "comment_count": 0,
            "tree": { "sha": c.tree, "url": format!("{repo_api}/git/trees/{}", c.tree) },
            "verification": { "verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null },
        },
        "author": user(&c.author),
        "committer": user(&c.committer),
        "parents": c.parents.iter().map(|p| json!({
            "sha": p, "url": format!("{repo_api}/commits/{p}"), "html_url": format!("{repo_web}/commit/{p}"),
        })).collect::<Vec<_>>(),
    })
}

/// `per_page` (≤ 100, default 30) and `page` (from 1).
fn paging(p: &HashMap<String, String>) -> (usize, usize) {
    let per_page = p
        .get("per_page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(30usize)
        .clamp(1, 100);
    let page = p
        .get("page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1usize)
        .max(1);
    (per_page, page)
}

/// `Link: <…page=N>; rel="next"`, and the first/prev pages after the first.
fn link(b: &Base, path: &str, p: &HashMap<String, String>, page: usize, more: bool) -> String {
    let url = |n: usize| {
        let mut q: Vec<(String, String)> = p
            .iter()
            .filter(|(k, _)| *k != "page")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        q.sort();
        q.push(("page".into(), n.to_string()));
        let query: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(q)
            .finish();
        format!("<{}{path}?{query}>", b.api)
    };
    let mut links = Vec::new();
    if more {
        links.push(format!("{}; rel=\"next\"", url(page + 1)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", url(page - 1)));
        links.push(format!("{}; rel=\"first\"", url(1)));
    }
    links.join(", ")
}

fn time_param(p: &HashMap<String, String>, key: &str) -> Result<Option<i64>, Refusal> {
    p.get(key)
        .map(|v| {
            v.parse::<jiff::Timestamp>()
                .map(|t| t.as_second())
                .map_err(|_| {
                    error(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        &format!("Invalid value for parameter '{key}': {v}"),
                    )
                })
        })
        .transpose()
}

async fn commits_list(
    State(gh): Shared,
    headers: HeaderMap,
    Path((owner, name)): Path<(String, String)>,
    Query(p): Params,
) -> Answer {
    let b = base(&headers);
    let repos = gh.repos();
    let r = repo(&repos, &owner, &name)?;
    let (since, until) = (time_param(&p, "since")?, time_param(&p, "until")?);
    let from = p
        .get("sha")
        .cloned()
        .unwrap_or_else(|| r.default_branch.clone());
    let start = r
        .git
        .resolve(&from)
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "Not Found"))?;
    let path = p.get("path").cloned();
    let author = p.get("author").cloned();
    let (per_page, page) = paging(&p);
    let keep = |c: &CommitInfo, repo: &super::git::Repo| {
        since.is_none_or(|s| c.committer.time >= s)
            && until.is_none_or(|u| c.committer.time <= u)
            && author.as_ref().is_none_or(|a| {
                c.author.email.eq_ignore_ascii_case(a)
                    || gh
                        .user_by_email(&c.author.email)
                        .is_some_and(|u| u.login.eq_ignore_ascii_case(a))
            })
            && path.as_ref().is_none_or(|path| {
                git2::Oid::from_str(&c.sha)
                    .ok()
                    .and_then(|oid| repo.changes(oid).ok())
                    .is_some_and(|files| {
                        files
                            .iter()
                            .any(|f| f.path == *path || f.path.starts_with(&format!("{path}/")))
                    })
            })
    };
    let (commits, more) = r
        .git
        .log(start, keep, (page - 1) * per_page, per_page)
        .map_err(internal)?;
    let items: Vec<Value> = commits.iter().map(|c| commit_json(&gh, &b, r, c)).collect();
    let mut response = Json(items).into_response();
    let link = link(
        &b,
        &format!("/repos/{owner}/{name}/commits"),
        &p,
        page,
        more,
    );
    if !link.is_empty()
        && let Ok(v) = HeaderValue::from_str(&link)
    {
        response.headers_mut().insert(header::LINK, v);
    }
    Ok(response)
}

async fn commit_get(
    State(gh): Shared,
    headers: HeaderMap,
    Path((owner, name, reference)): Path<(String, String, String)>,
) -> Answer {
    let b = base(&headers);
    let repos = gh.repos();
    let r = repo(&repos, &owner, &name)?;
    let oid = r.git.resolve(&reference).ok_or_else(|| {
        error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("No commit found for SHA: {reference}"),
        )
    })?;
    let info = r.git.info(oid).map_err(internal)?;
    let files = r.git.changes(oid).map_err(internal)?;
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if accept.contains("vnd.github.diff")
        || accept.contains("vnd.github.v3.diff")
        || accept.contains("vnd.github.patch")
        || accept.contains("vnd.github.v3.patch")
    {
        let parent = info
            .parents
            .first()
            .and_then(|p| git2::Oid::from_str(p).ok())
            .and_then(|p| r.git.tree_of(p).ok());
        let tree = git2::Oid::from_str(&info.tree).map_err(internal)?;
        let diff = r.git.diff_text(parent, tree).map_err(internal)?;
        let body = if accept.contains("patch") {
            let mut lines = info.message.trim_end().lines();
            let subject = lines.next().unwrap_or_default();
            let rest: Vec<&str> = lines.collect();
            let when = jiff::Timestamp::from_second(info.author.time)
                .map(|t| t.strftime("%a, %d %b %Y %H:%M:%S +0000").to_string())
                .unwrap_or_default();
            format!(
                "From {} Mon Sep 17 00:00:00 2001\nFrom: {} <{}>\nDate: {when}\nSubject: [PATCH] {subject}\n{}\n---\n{diff}--\n2.47.0\n",
                info.sha,
                info.author.name,
                info.author.email,
                rest.join("\n")
            )
        } else {
            diff
        };
        let media = if accept.contains("patch") {
            "text/x-patch; charset=utf-8"
        } else {
            "text/x-diff; charset=utf-8"
        };
        return Ok(([(header::CONTENT_TYPE, media)], body).into_response());
    }
    let repo_api = format!("{}/repos/{}/{}", b.api, r.owner, r.name);
    let repo_web = format!("{}/{}/{}", b.web, r.owner, r.name);
    let mut v = commit_json(&gh, &b, r, &info);
    let (additions, deletions): (usize, usize) = files
        .iter()
        .fold((0, 0), |(a, d), f| (a + f.additions, d + f.deletions));
    v["stats"] =
        json!({ "total": additions + deletions, "additions": additions, "deletions": deletions });
    v["files"] = json!(files
        .iter()
        .map(|f| json!({
            "sha": f.blob, "filename": f.path, "status": f.status,
            "additions": f.additions, "deletions": f.deletions, "changes": f.additions + f.deletions,
            "blob_url": format!("{repo_web}/blob/{}/{}", info.sha, f.path),
            "raw_url": format!("{repo_web}/raw/{}/{}", info.sha, f.path),
            "contents_url": format!("{repo_api}/contents/{}?ref={}", f.path, info.sha),
            "patch": f.patch,
        }))
        .collect::<Vec<_>>());
    Ok(Json(v).into_response())
}

async fn contents_root(
    state: Shared,
    headers: HeaderMap,
    Path((owner, name)): Path<(String, String)>,
    query: Params,
) -> Answer {
    contents(state, headers, owner, name, String::new(), query).await
}

async fn contents_get(
    state: Shared,
    headers: HeaderMap,
    Path((owner, name, path)): Path<(String, String, String)>,
    query: Params,
) -> Answer {
    contents(state, headers, owner, name, path, query).await
}

/// A file (base64, or raw with the raw media type) or a directory listing.
async fn contents(
    State(gh): Shared,
    headers: HeaderMap,
    owner: String,
    name: String,
    path: String,
    Query(p): Params,
) -> Answer {
    let b = base(&headers);
    let repos = gh.repos();
    let r = repo(&repos, &owner, &name)?;
    let reference = p
        .get("ref")
        .cloned()
        .unwrap_or_else(|| r.default_branch.clone());
    let tree = r
        .git
        .resolve(&reference)
        .and_then(|c| r.git.tree_of(c).ok())
        .ok_or_else(|| {
            error(
                StatusCode::NOT_FOUND,
                &format!("No commit found for the ref {reference}"),
            )
        })?;
    let repo_api = format!("{}/repos/{}/{}", b.api, r.owner, r.name);
    let repo_web = format!("{}/{}/{}", b.web, r.owner, r.name);
    let item = |path: &str, name: &str, kind: &str, sha: &str, size: usize| {
        let url = format!("{repo_api}/contents/{path}?ref={reference}");
        let git_url = format!(
            "{repo_api}/git/{}/{sha}",
            if kind == "dir" { "trees" } else { "blobs" }
        );
        let html_url = format!(
            "{repo_web}/{}/{reference}/{path}",
            if kind == "dir" { "tree" } else { "blob" }
        );
        let download = (kind == "file").then(|| format!("{repo_web}/raw/{reference}/{path}"));
        json!({
            "type": kind, "size": size, "name": name, "path": path, "sha": sha,
            "url": url, "git_url": git_url, "html_url": html_url, "download_url": download,
            "_links": { "self": url, "git": git_url, "html": html_url },
        })
    };
    match r.git.at_path(tree, &path).map_err(internal)? {
        Some(Entry::File { sha, content }) => {
            let accept = headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if accept.contains("vnd.github.raw") || accept.contains("vnd.github.v3.raw") {
                return Ok((
                    [(header::CONTENT_TYPE, "application/vnd.github.raw")],
                    content,
                )
                    .into_response());
            }
            let file_name = path.rsplit('/').next().unwrap_or(&path);
            let mut v = item(&path, file_name, "file", &sha, content.len());
            // GitHub wraps the base64 at 60 characters.
            let encoded = base64::engine::general_purpose::STANDARD.encode(&content);
            let wrapped: Vec<&str> = encoded
                .as_bytes()
                .chunks(60)
                .map(|c| std::str::from_utf8(c).unwrap_or_default())
                .collect();
            v["content"] = json!(wrapped.join("\n") + "\n");
            v["encoding"] = json!("base64");
            Ok(Json(v).into_response())
        }
        Some(Entry::Dir(entries)) => {
            let prefix = if path.is_empty() {
                String::new()
            } else {
                format!("{}/", path.trim_matches('/'))
            };
            let items: Vec<Value> = entries
                .iter()
                .map(|(entry, dir, sha, size)| {
                    item(
                        &format!("{prefix}{entry}"),
                        entry,
                        if *dir { "dir" } else { "file" },
                        sha,
                        *size,
                    )
                })
                .collect();
            Ok(Json(items).into_response())
        }
        None => Err(error(StatusCode::NOT_FOUND, "Not Found")),
    }
}

/// A git error as a 500.
fn internal(e: git2::Error) -> Refusal {
    error(StatusCode::INTERNAL_SERVER_ERROR, e.message())
}

/// A user as `public-user`.
fn public_user(b: &Base, u: &User) -> Value {
    let mut v = simple_user(b, u);
    let extra = json!({
        "name": u.name, "company": "Shop", "blog": "", "location": null, "email": u.email,
        "hireable": null, "bio": null, "twitter_username": null,
        "public_repos": 0, "public_gists": 0, "followers": 0, "following": 0,
        "created_at": "2021-03-01T09:00:00Z", "updated_at": "2026-11-01T09:00:00Z",
    });
    if let (Some(map), Some(more)) = (v.as_object_mut(), extra.as_object()) {
        map.extend(more.clone());
    }
    v
}

async fn user_get(State(gh): Shared, headers: HeaderMap, Path(login): Path<String>) -> Answer {
    user(&gh, &headers, &login)
}

async fn user_me(State(gh): Shared, headers: HeaderMap) -> Answer {
    user(&gh, &headers, &gh.token_user)
}

fn user(gh: &GitHub, headers: &HeaderMap, login: &str) -> Answer {
    let u = gh
        .users
        .iter()
        .find(|u| u.login.eq_ignore_ascii_case(login))
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "Not Found"))?;
    Ok(Json(public_user(&base(headers), u)).into_response())
}
