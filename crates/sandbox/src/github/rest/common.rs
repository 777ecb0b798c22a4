//! What every handler of the GitHub stand-in shares: GitHub's error body, the base URLs from
//! the request's host, the repository lookup (404 for what the token cannot see), the JSON of
//! users and commits, paging with `Link`, and time parameters.

use std::{collections::HashMap, sync::Arc};

use axum::{
    Json,
    extract::{FromRequestParts, Path, Query, State},
    http::{HeaderMap, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use base64::Engine;
use serde_json::{Value, json};

use crate::github::{
    GitHub, RepoState, User,
    git::{CommitInfo, FileChange, Person},
};

pub(super) type Shared = State<Arc<GitHub>>;

/// Who is asking: the login changes are made as, and the repositories the credentials may see
/// (`None`: all of them).
#[derive(Debug, Clone)]
pub(super) struct Caller {
    pub login: String,
    pub scope: Option<Vec<String>>,
}

impl Caller {
    pub fn sees(&self, full_name: &str) -> bool {
        self.scope
            .as_ref()
            .is_none_or(|s| s.iter().any(|r| r.eq_ignore_ascii_case(full_name)))
    }
}

pub(super) type Asker = axum::Extension<Caller>;
pub(super) type Params = Query<HashMap<String, String>>;

pub(super) const DOCS: &str = "https://docs.github.com/rest";

/// A refusal with GitHub's error body (`message`, `documentation_url`, `status`, and for a
/// 422 "Validation Failed" the `errors` array).
#[derive(Debug)]
pub(super) struct Refusal {
    status: StatusCode,
    message: String,
    errors: Option<Value>,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut body = json!({ "message": self.message, "documentation_url": DOCS, "status": self.status.as_u16().to_string() });
        if let Some(errors) = self.errors {
            body["errors"] = errors;
        }
        (self.status, Json(body)).into_response()
    }
}

pub(super) fn error(status: StatusCode, message: &str) -> Refusal {
    Refusal {
        status,
        message: message.to_owned(),
        errors: None,
    }
}

pub(super) type Answer = Result<Response, Refusal>;

/// What a `/repos/{owner}/{repo}/…` request starts from: the base URLs the client reached, the
/// repository's owner and name, and the path's one further parameter (`()` when there is none;
/// an issue's number, a ref, a sha…). Every repository handler takes it, so what they share
/// about the path changes here.
pub(super) struct InRepo<T = ()>(pub Base, pub String, pub String, pub T);

/// The path parameter after `{owner}/{repo}`, parsed: a number GitHub cannot read is a 404, as
/// for a path it does not serve.
pub(super) trait PathTail: Sized {
    fn parse(values: &[(String, String)]) -> Option<Self>;
}

impl PathTail for () {
    fn parse(values: &[(String, String)]) -> Option<Self> {
        (values.len() == 2).then_some(())
    }
}

impl PathTail for String {
    fn parse(values: &[(String, String)]) -> Option<Self> {
        match values {
            [_, _, (_, value)] => Some(value.clone()),
            _ => None,
        }
    }
}

impl PathTail for u64 {
    fn parse(values: &[(String, String)]) -> Option<Self> {
        String::parse(values)?.parse().ok()
    }
}

impl<S: Send + Sync, T: PathTail> FromRequestParts<S> for InRepo<T> {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Refusal> {
        let not_found = || error(StatusCode::NOT_FOUND, "Not Found");
        let Path(values) = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|_| not_found())?;
        let rest = T::parse(&values).ok_or_else(not_found)?;
        let [(_, owner), (_, name), ..] = values.as_slice() else {
            return Err(not_found());
        };
        Ok(Self(
            base(&parts.headers),
            owner.clone(),
            name.clone(),
            rest,
        ))
    }
}

/// The API's and the web's base URLs, from the request's host.
pub(super) struct Base {
    pub api: String,
    pub web: String,
}

pub(super) fn base(headers: &HeaderMap) -> Base {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    Base {
        api: format!("http://{host}"),
        web: format!("http://{host}/web"),
    }
}

pub(super) fn iso(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// A user as `simple-user`.
pub(super) fn simple_user(b: &Base, u: &User) -> Value {
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
        "type": if u.bot { "Bot" } else { "User" }, "site_admin": false, "user_view_type": "public",
    })
}

pub(super) fn node_id(kind: &str, id: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{kind}:{id}"))
}

/// The repository, if the token may see it (404 otherwise, as GitHub answers for a private
/// repository without access).
pub(super) fn repo<'a>(
    repos: &'a std::collections::BTreeMap<String, RepoState>,
    owner: &str,
    name: &str,
) -> Result<&'a RepoState, Refusal> {
    repos
        .get(&format!("{owner}/{name}"))
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "Not Found"))
}

pub(super) fn git_person(p: &Person) -> Value {
    json!({ "name": p.name, "email": p.email, "date": iso(p.time) })
}

/// A commit as `commit` (without `files` and `stats`, as lists give it).
pub(super) fn commit_json(gh: &GitHub, b: &Base, r: &RepoState, c: &CommitInfo) -> Value {
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
pub(super) fn paging(p: &HashMap<String, String>) -> (usize, usize) {
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
pub(super) fn link(
    b: &Base,
    path: &str,
    p: &HashMap<String, String>,
    page: usize,
    more: bool,
) -> String {
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

pub(super) fn time_param(p: &HashMap<String, String>, key: &str) -> Result<Option<i64>, Refusal> {
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

/// A git error as a 500.
pub(super) fn internal(e: git2::Error) -> Refusal {
    error(StatusCode::INTERNAL_SERVER_ERROR, e.message())
}

/// A changed file as `diff-entry`, its URLs at the commit `at`.
pub(super) fn diff_entry(b: &Base, r: &RepoState, at: &str, f: &FileChange) -> Value {
    let repo_api = format!("{}/repos/{}/{}", b.api, r.owner, r.name);
    let repo_web = format!("{}/{}/{}", b.web, r.owner, r.name);
    json!({
        "sha": f.blob, "filename": f.path, "status": f.status,
        "additions": f.additions, "deletions": f.deletions, "changes": f.additions + f.deletions,
        "blob_url": format!("{repo_web}/blob/{at}/{}", f.path),
        "raw_url": format!("{repo_web}/raw/{at}/{}", f.path),
        "contents_url": format!("{repo_api}/contents/{}?ref={at}", f.path),
        "patch": f.patch,
    })
}

/// One page of `items` as a JSON array, with `Link` to its neighbours.
pub(super) fn page_of(
    b: &Base,
    path: &str,
    p: &HashMap<String, String>,
    items: Vec<Value>,
) -> Response {
    let (per_page, page) = paging(p);
    let more = items.len() > page * per_page;
    let items: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    with_link(Json(items).into_response(), &link(b, path, p, page, more))
}

pub(super) fn with_link(mut response: Response, link: &str) -> Response {
    if !link.is_empty()
        && let Ok(v) = axum::http::HeaderValue::from_str(link)
    {
        response.headers_mut().insert(header::LINK, v);
    }
    response
}

/// A JSON request body that must be an object (400 "Problems parsing JSON" otherwise).
pub(super) fn body(bytes: &[u8]) -> Result<Value, Refusal> {
    serde_json::from_slice::<Value>(bytes)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| error(StatusCode::BAD_REQUEST, "Problems parsing JSON"))
}

pub(super) fn repo_mut<'a>(
    repos: &'a mut std::collections::BTreeMap<String, RepoState>,
    owner: &str,
    name: &str,
) -> Result<&'a mut RepoState, Refusal> {
    repos
        .get_mut(&format!("{owner}/{name}"))
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "Not Found"))
}

/// GitHub's 422 "Validation Failed" with its `errors` array.
pub(super) fn invalid(resource: &str, field: &str, code: &str, message: Option<&str>) -> Refusal {
    let mut e = json!({ "resource": resource, "field": field, "code": code });
    if let Some(m) = message {
        e["message"] = json!(m);
    }
    Refusal {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        message: "Validation Failed".into(),
        errors: Some(json!([e])),
    }
}

/// The repository's API URL.
pub(super) fn repo_api(b: &Base, r: &RepoState) -> String {
    format!("{}/repos/{}/{}", b.api, r.owner, r.name)
}

pub(super) fn repo_web(b: &Base, r: &RepoState) -> String {
    format!("{}/{}/{}", b.web, r.owner, r.name)
}

/// A login as `simple-user` (a user the stand-in does not know becomes a bare one).
pub(super) fn login_user(gh: &GitHub, b: &Base, login: &str) -> Value {
    match gh.user(login) {
        Some(u) => simple_user(b, u),
        None => simple_user(
            b,
            &User {
                login: login.to_owned(),
                id: 0,
                name: String::new(),
                email: String::new(),
                bot: login.ends_with("[bot]"),
            },
        ),
    }
}

/// The diff and patch media types (`application/vnd.github.diff`, `….v3.patch`…).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Media {
    Diff,
    Patch,
}

impl Media {
    pub fn asked(headers: &HeaderMap) -> Option<Self> {
        let accept = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if accept.contains("vnd.github.diff") || accept.contains("vnd.github.v3.diff") {
            Some(Self::Diff)
        } else if accept.contains("vnd.github.patch") || accept.contains("vnd.github.v3.patch") {
            Some(Self::Patch)
        } else {
            None
        }
    }

    pub fn answer(self, body: String) -> Response {
        let media = match self {
            Self::Patch => "text/x-patch; charset=utf-8",
            Self::Diff => "text/x-diff; charset=utf-8",
        };
        ([(header::CONTENT_TYPE, media)], body).into_response()
    }
}

/// One commit as `git format-patch` writes it.
pub(super) fn format_patch(info: &CommitInfo, diff: &str) -> String {
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
}
