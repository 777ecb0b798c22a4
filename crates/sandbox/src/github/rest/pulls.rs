//! Pull requests over the repository's branches: list, get (also as a diff or patch), create
//! (GitHub's 422s: a missing branch, no commits between, one already open), update, files,
//! commits, reviews, requested reviewers and merge (merge commit, squash or rebase as real git
//! objects; a protected base needs an approving review; a stale `sha` is a 409).

use axum::{
    Json,
    body::Bytes,
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
};
use git2::Oid;
use serde_json::{Value, json};

use super::{
    common::{
        Answer, Asker, Base, InRepo, Media, Params, Refusal, Shared, body, commit_json, diff_entry,
        error, format_patch, internal, invalid, iso, login_user, node_id, page_of, repo, repo_api,
        repo_mut, repo_web,
    },
    issues::issue_labels,
    repos::repository,
};
use crate::github::{
    GitHub, Issue, Merged, Pull, RepoState, Review,
    git::{CommitInfo, FileChange, Person},
};

/// The pull request's base and head commits now, and their merge base.
struct Tips {
    base: Oid,
    head: Oid,
    merge_base: Oid,
}

fn tips(r: &RepoState, p: &Pull) -> Result<Tips, Refusal> {
    let live = |branch: &str, kept: &str| {
        r.git
            .refs
            .get(&format!("refs/heads/{branch}"))
            .copied()
            .or_else(|| Oid::from_str(kept).ok())
            .ok_or_else(|| error(StatusCode::INTERNAL_SERVER_ERROR, "lost ref"))
    };
    let head = live(&p.head, &p.head_sha)?;
    // A merged pull request is read against the base it was merged into.
    let base = match &p.merged {
        Some(m) => Oid::from_str(&m.base).map_err(internal)?,
        None => live(&p.base, "")?,
    };
    let merge_base = r.git.merge_base(base, head).unwrap_or(base);
    Ok(Tips {
        base,
        head,
        merge_base,
    })
}

fn changes(r: &RepoState, t: &Tips) -> Result<Vec<FileChange>, Refusal> {
    let from = r.git.tree_of(t.merge_base).map_err(internal)?;
    let to = r.git.tree_of(t.head).map_err(internal)?;
    r.git.tree_changes(Some(from), to).map_err(internal)
}

fn commits(r: &RepoState, t: &Tips) -> Result<Vec<CommitInfo>, Refusal> {
    r.git.between(t.merge_base, t.head).map_err(internal)
}

fn pull_of(r: &RepoState, number: u64) -> Result<(&Issue, &Pull), Refusal> {
    r.issues
        .get(&number)
        .and_then(|i| Some((i, i.pull.as_ref()?)))
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "Not Found"))
}

fn side(gh: &GitHub, b: &Base, r: &RepoState, branch: &str, sha: Oid) -> Value {
    json!({
        "label": format!("{}:{branch}", r.owner), "ref": branch, "sha": sha.to_string(),
        "user": login_user(gh, b, &r.owner), "repo": repository(gh, b, r, false),
    })
}

/// A pull request as `pull-request-simple` (lists) or `pull-request` (`full`).
fn pull_json(
    gh: &GitHub,
    b: &Base,
    r: &RepoState,
    i: &Issue,
    p: &Pull,
    full: bool,
) -> Result<Value, Refusal> {
    let t = tips(r, p)?;
    let api = format!("{}/pulls/{}", repo_api(b, r), i.number);
    let issue_api = format!("{}/issues/{}", repo_api(b, r), i.number);
    let html = format!("{}/pull/{}", repo_web(b, r), i.number);
    let statuses = format!("{}/statuses/{}", repo_api(b, r), t.head);
    let assignees: Vec<Value> = i.assignees.iter().map(|a| login_user(gh, b, a)).collect();
    let links = json!({
        "self": { "href": api }, "html": { "href": html }, "issue": { "href": issue_api },
        "comments": { "href": format!("{issue_api}/comments") },
        "review_comments": { "href": format!("{api}/comments") },
        "review_comment": { "href": format!("{}/pulls/comments{{/number}}", repo_api(b, r)) },
        "commits": { "href": format!("{api}/commits") },
        "statuses": { "href": format!("{}/statuses/{}", repo_api(b, r), t.head) },
    });
    let mut v = json!({
        "url": api, "id": p.id, "node_id": node_id("PullRequest", &p.id.to_string()),
        "html_url": html, "diff_url": format!("{html}.diff"), "patch_url": format!("{html}.patch"),
        "issue_url": issue_api, "commits_url": format!("{api}/commits"),
        "review_comments_url": format!("{api}/comments"),
        "review_comment_url": format!("{}/pulls/comments{{/number}}", repo_api(b, r)),
        "comments_url": format!("{issue_api}/comments"), "statuses_url": statuses,
        "number": i.number, "state": if i.open { "open" } else { "closed" }, "locked": false,
        "title": i.title, "user": login_user(gh, b, &i.user), "body": i.body,
        "labels": issue_labels(b, r, i), "milestone": null, "active_lock_reason": null,
        "created_at": iso(i.created), "updated_at": iso(i.updated),
        "closed_at": i.closed.map(iso), "merged_at": p.merged.as_ref().map(|m| iso(m.at)),
        "merge_commit_sha": p.merged.as_ref().map(|m| m.sha.clone()),
        "assignee": assignees.first().cloned().unwrap_or(Value::Null), "assignees": assignees,
        "requested_reviewers": p.requested_reviewers.iter().map(|u| login_user(gh, b, u)).collect::<Vec<_>>(),
        "requested_teams": [],
        "head": side(gh, b, r, &p.head, t.head), "base": side(gh, b, r, &p.base, t.base),
        "_links": links,
        "author_association": "MEMBER", "auto_merge": null, "draft": p.draft,
    });
    if full {
        let files = changes(r, &t)?;
        let commits = commits(r, &t)?;
        let clean = p.merged.is_none()
            && r.git
                .merge_tree(t.base, t.head)
                .map_err(internal)?
                .is_some();
        let extra = json!({
            "merged": p.merged.is_some(),
            "mergeable": if i.open { json!(clean) } else { Value::Null },
            "rebaseable": if i.open { json!(clean) } else { Value::Null },
            "mergeable_state": if !i.open { "unknown" } else if clean { "clean" } else { "dirty" },
            "merged_by": p.merged.as_ref().map_or(Value::Null, |m| login_user(gh, b, &m.by)),
            "comments": i.comments.len(), "review_comments": 0, "maintainer_can_modify": false,
            "commits": commits.len(),
            "additions": files.iter().map(|f| f.additions).sum::<usize>(),
            "deletions": files.iter().map(|f| f.deletions).sum::<usize>(),
            "changed_files": files.len(),
        });
        if let (Some(map), Some(more)) = (v.as_object_mut(), extra.as_object()) {
            map.extend(more.clone());
        }
    }
    Ok(v)
}

pub(super) async fn pulls_list(
    State(gh): Shared,
    InRepo(b, owner, name, ()): InRepo,
    Query(p): Params,
) -> Answer {
    let repos = gh.repos();
    let r = repo(&repos, &owner, &name)?;
    let state = p.get("state").map_or("open", String::as_str);
    let head = p
        .get("head")
        .map(|h| h.split_once(':').map_or(h.as_str(), |(_, branch)| branch));
    let mut found: Vec<(&Issue, &Pull)> = r
        .issues
        .values()
        .filter_map(|i| Some((i, i.pull.as_ref()?)))
        .filter(|(i, _)| match state {
            "all" => true,
            "closed" => !i.open,
            _ => i.open,
        })
        .filter(|(_, pr)| head.is_none_or(|h| pr.head == h))
        .filter(|(_, pr)| p.get("base").is_none_or(|b| &pr.base == b))
        .collect();
    let updated = p.get("sort").is_some_and(|s| s == "updated");
    found.sort_by_key(|(i, _)| std::cmp::Reverse(if updated { i.updated } else { i.created }));
    if p.get("direction").is_some_and(|d| d == "asc") {
        found.reverse();
    }
    let items = found
        .into_iter()
        .map(|(i, pr)| pull_json(&gh, &b, r, i, pr, false))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(page_of(
        &b,
        &format!("/repos/{owner}/{name}/pulls"),
        &p,
        items,
    ))
}

pub(super) async fn pull_get(
    State(gh): Shared,
    headers: HeaderMap,
    InRepo(b, owner, name, number): InRepo<u64>,
) -> Answer {
    let repos = gh.repos();
    let r = repo(&repos, &owner, &name)?;
    let (i, p) = pull_of(r, number)?;
    if let Some(media) = Media::asked(&headers) {
        let t = tips(r, p)?;
        let body = match media {
            Media::Diff => r
                .git
                .diff_text(
                    Some(r.git.tree_of(t.merge_base).map_err(internal)?),
                    r.git.tree_of(t.head).map_err(internal)?,
                )
                .map_err(internal)?,
            Media::Patch => {
                let mut out = String::new();
                for c in commits(r, &t)? {
                    let oid = Oid::from_str(&c.sha).map_err(internal)?;
                    let parent = c.parents.first().and_then(|s| Oid::from_str(s).ok());
                    let from = parent
                        .map(|p| r.git.tree_of(p))
                        .transpose()
                        .map_err(internal)?;
                    let diff = r
                        .git
                        .diff_text(from, r.git.tree_of(oid).map_err(internal)?)
                        .map_err(internal)?;
                    out.push_str(&format_patch(&c, &diff));
                }
                out
            }
        };
        return Ok(media.answer(body));
    }
    Ok(Json(pull_json(&gh, &b, r, i, p, true)?).into_response())
}

/// A head as `branch` or `owner:branch` (this stand-in has no forks).
fn head_branch<'a>(r: &RepoState, head: &'a str) -> Option<&'a str> {
    match head.split_once(':') {
        Some((owner, branch)) if owner.eq_ignore_ascii_case(&r.owner) => Some(branch),
        Some(_) => None,
        None => Some(head),
    }
}

fn custom(message: &str) -> Refusal {
    invalid("PullRequest", "", "custom", Some(message))
}

pub(super) async fn pull_create(
    State(gh): Shared,
    axum::Extension(caller): Asker,
    InRepo(b, owner, name, ()): InRepo,
    bytes: Bytes,
) -> Answer {
    let v = body(&bytes)?;
    let mut repos = gh.repos();
    let r = repo_mut(&mut repos, &owner, &name)?;
    let (Some(head), Some(base_branch)) = (v["head"].as_str(), v["base"].as_str()) else {
        let field = if v["head"].is_string() {
            "base"
        } else {
            "head"
        };
        return Err(invalid("PullRequest", field, "missing_field", None));
    };
    let Some(title) = v["title"].as_str().filter(|t| !t.trim().is_empty()) else {
        return Err(invalid("PullRequest", "title", "missing_field", None));
    };
    let head_ref = head_branch(r, head)
        .and_then(|h| Some((h.to_owned(), *r.git.refs.get(&format!("refs/heads/{h}"))?)));
    let Some((head, head_oid)) = head_ref else {
        return Err(invalid("PullRequest", "head", "invalid", None));
    };
    let Some(base_oid) = r
        .git
        .refs
        .get(&format!("refs/heads/{base_branch}"))
        .copied()
    else {
        return Err(invalid("PullRequest", "base", "invalid", None));
    };
    if r.git.fast_forward(head_oid, base_oid) {
        return Err(custom(&format!(
            "No commits between {base_branch} and {head}"
        )));
    }
    if r.issues.values().any(|i| {
        i.open
            && i.pull
                .as_ref()
                .is_some_and(|p| p.head == head && p.base == base_branch)
    }) {
        return Err(custom(&format!(
            "A pull request already exists for {}:{head}.",
            r.owner
        )));
    }
    let now = jiff::Timestamp::now().as_second();
    let issue = Issue {
        number: r.next_number(),
        id: gh.next_id(),
        title: title.to_owned(),
        body: v["body"].as_str().map(str::to_owned),
        user: caller.login.clone(),
        open: true,
        state_reason: None,
        labels: Vec::new(),
        assignees: Vec::new(),
        comments: Vec::new(),
        created: now,
        updated: now,
        closed: None,
        pull: Some(Pull {
            id: gh.next_id(),
            head,
            base: base_branch.to_owned(),
            head_sha: head_oid.to_string(),
            draft: v["draft"] == true,
            requested_reviewers: Vec::new(),
            reviews: Vec::new(),
            merged: None,
        }),
    };
    let number = issue.number;
    r.issues.insert(number, issue);
    let (i, p) = pull_of(r, number)?;
    Ok((
        StatusCode::CREATED,
        Json(pull_json(&gh, &b, r, i, p, true)?),
    )
        .into_response())
}

pub(super) async fn pull_update(
    State(gh): Shared,
    InRepo(b, owner, name, number): InRepo<u64>,
    bytes: Bytes,
) -> Answer {
    let v = body(&bytes)?;
    let mut repos = gh.repos();
    let r = repo_mut(&mut repos, &owner, &name)?;
    pull_of(r, number)?;
    if let Some(base_branch) = v["base"].as_str()
        && !r
            .git
            .refs
            .contains_key(&format!("refs/heads/{base_branch}"))
    {
        return Err(invalid("PullRequest", "base", "invalid", None));
    }
    let now = jiff::Timestamp::now().as_second();
    let i = r.issues.get_mut(&number).expect("checked above");
    let merged = i.pull.as_ref().is_some_and(|p| p.merged.is_some());
    if let Some(t) = v["title"].as_str() {
        i.title = t.to_owned();
    }
    if !v["body"].is_null() {
        i.body = v["body"].as_str().map(str::to_owned);
    }
    match v["state"].as_str() {
        Some("closed") if i.open => {
            i.open = false;
            i.closed = Some(now);
        }
        Some("open") if !i.open && !merged => {
            i.open = true;
            i.closed = None;
        }
        _ => {}
    }
    if let (Some(base_branch), Some(p)) = (v["base"].as_str(), i.pull.as_mut()) {
        p.base = base_branch.to_owned();
    }
    i.updated = now;
    let (i, p) = pull_of(r, number)?;
    Ok(Json(pull_json(&gh, &b, r, i, p, true)?).into_response())
}

pub(super) async fn pull_files(
    State(gh): Shared,
    InRepo(b, owner, name, number): InRepo<u64>,
    Query(q): Params,
) -> Answer {
    let repos = gh.repos();
    let r = repo(&repos, &owner, &name)?;
    let (_, p) = pull_of(r, number)?;
    let t = tips(r, p)?;
    let head = t.head.to_string();
    let items = changes(r, &t)?
        .iter()
        .map(|f| diff_entry(&b, r, &head, f))
        .collect();
    Ok(page_of(
        &b,
        &format!("/repos/{owner}/{name}/pulls/{number}/files"),
        &q,
        items,
    ))
}

pub(super) async fn pull_commits(
    State(gh): Shared,
    InRepo(b, owner, name, number): InRepo<u64>,
    Query(q): Params,
) -> Answer {
    let repos = gh.repos();
    let r = repo(&repos, &owner, &name)?;
    let (_, p) = pull_of(r, number)?;
    let items = commits(r, &tips(r, p)?)?
        .iter()
        .map(|c| commit_json(&gh, &b, r, c))
        .collect();
    Ok(page_of(
        &b,
        &format!("/repos/{owner}/{name}/pulls/{number}/commits"),
        &q,
        items,
    ))
}

fn review_json(gh: &GitHub, b: &Base, r: &RepoState, number: u64, rv: &Review) -> Value {
    let html = format!(
        "{}/pull/{number}#pullrequestreview-{}",
        repo_web(b, r),
        rv.id
    );
    let pr = format!("{}/pulls/{number}", repo_api(b, r));
    json!({
        "id": rv.id, "node_id": node_id("PullRequestReview", &rv.id.to_string()),
        "user": login_user(gh, b, &rv.user), "body": rv.body, "state": rv.state,
        "html_url": html, "pull_request_url": pr, "commit_id": rv.commit,
        "submitted_at": iso(rv.submitted), "author_association": "MEMBER",
        "_links": { "html": { "href": html }, "pull_request": { "href": pr } },
    })
}

pub(super) async fn reviews_list(
    State(gh): Shared,
    InRepo(b, owner, name, number): InRepo<u64>,
    Query(q): Params,
) -> Answer {
    let repos = gh.repos();
    let r = repo(&repos, &owner, &name)?;
    let (_, p) = pull_of(r, number)?;
    let items = p
        .reviews
        .iter()
        .map(|rv| review_json(&gh, &b, r, number, rv))
        .collect();
    Ok(page_of(
        &b,
        &format!("/repos/{owner}/{name}/pulls/{number}/reviews"),
        &q,
        items,
    ))
}

pub(super) async fn review_create(
    State(gh): Shared,
    axum::Extension(caller): Asker,
    InRepo(b, owner, name, number): InRepo<u64>,
    bytes: Bytes,
) -> Answer {
    let v = body(&bytes)?;
    let mut repos = gh.repos();
    let r = repo_mut(&mut repos, &owner, &name)?;
    let (i, p) = pull_of(r, number)?;
    let state = match v["event"].as_str() {
        Some("APPROVE") => "APPROVED",
        Some("REQUEST_CHANGES") => "CHANGES_REQUESTED",
        Some("COMMENT") => "COMMENTED",
        _ => return Err(invalid("PullRequestReview", "event", "invalid", None)),
    };
    if state != "COMMENTED" && i.user == caller.login {
        let what = if state == "APPROVED" {
            "Can not approve your own pull request"
        } else {
            "Can not request changes on your own pull request"
        };
        return Err(invalid("PullRequestReview", "", "custom", Some(what)));
    }
    let commit = tips(r, p)?.head.to_string();
    let review = Review {
        id: gh.next_id(),
        user: caller.login.clone(),
        state: state.into(),
        body: v["body"].as_str().unwrap_or_default().to_owned(),
        commit,
        submitted: jiff::Timestamp::now().as_second(),
    };
    let json = review_json(&gh, &b, r, number, &review);
    if let Some(p) = r.issues.get_mut(&number).and_then(|i| i.pull.as_mut()) {
        p.requested_reviewers.retain(|u| *u != review.user);
        p.reviews.push(review);
    }
    Ok(Json(json).into_response())
}

pub(super) async fn reviewers_get(
    State(gh): Shared,
    InRepo(b, owner, name, number): InRepo<u64>,
) -> Answer {
    let repos = gh.repos();
    let r = repo(&repos, &owner, &name)?;
    let (_, p) = pull_of(r, number)?;
    let users: Vec<Value> = p
        .requested_reviewers
        .iter()
        .map(|u| login_user(&gh, &b, u))
        .collect();
    Ok(Json(json!({ "users": users, "teams": [] })).into_response())
}

pub(super) async fn reviewers_request(
    State(gh): Shared,
    InRepo(b, owner, name, number): InRepo<u64>,
    bytes: Bytes,
) -> Answer {
    let v = body(&bytes)?;
    let mut repos = gh.repos();
    let r = repo_mut(&mut repos, &owner, &name)?;
    let (i, _) = pull_of(r, number)?;
    let wanted: Vec<String> = v["reviewers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if wanted.iter().any(|u| u.eq_ignore_ascii_case(&i.user)) {
        return Err(invalid(
            "PullRequest",
            "",
            "custom",
            Some("Review cannot be requested from pull request author."),
        ));
    }
    if wanted.iter().any(|u| gh.user(u).is_none()) {
        return Err(invalid(
            "PullRequest",
            "",
            "custom",
            Some(&format!(
                "Reviews may only be requested from collaborators. One or more of the users or teams you specified is not a collaborator of the {} repository.",
                r.full_name()
            )),
        ));
    }
    if let Some(p) = r.issues.get_mut(&number).and_then(|i| i.pull.as_mut()) {
        for login in wanted {
            let login = gh.user(&login).map_or(login, |u| u.login.clone());
            if !p.requested_reviewers.contains(&login) {
                p.requested_reviewers.push(login);
            }
        }
    }
    let (i, p) = pull_of(r, number)?;
    Ok((
        StatusCode::CREATED,
        Json(pull_json(&gh, &b, r, i, p, false)?),
    )
        .into_response())
}

/// `PUT …/pulls/{n}/merge`: `merge`, `squash` or `rebase`, as real commits on the base.
pub(super) async fn pull_merge(
    State(gh): Shared,
    axum::Extension(caller): Asker,
    InRepo(_, owner, name, number): InRepo<u64>,
    bytes: Bytes,
) -> Answer {
    let v = if bytes.is_empty() {
        json!({})
    } else {
        body(&bytes)?
    };
    let mut repos = gh.repos();
    let r = repo_mut(&mut repos, &owner, &name)?;
    let (i, p) = pull_of(r, number)?;
    let not_mergeable = || {
        error(
            StatusCode::METHOD_NOT_ALLOWED,
            "Pull Request is not mergeable",
        )
    };
    if !i.open || p.merged.is_some() {
        return Err(not_mergeable());
    }
    let t = tips(r, p)?;
    if let Some(sha) = v["sha"].as_str()
        && sha != t.head.to_string()
    {
        return Err(error(
            StatusCode::CONFLICT,
            "Head branch was modified. Review and try the merge again.",
        ));
    }
    if r.is_protected(&p.base) && !p.reviews.iter().any(|rv| rv.state == "APPROVED") {
        return Err(error(
            StatusCode::METHOD_NOT_ALLOWED,
            "At least 1 approving review is required by reviewers with write access.",
        ));
    }
    let Some(tree) = r.git.merge_tree(t.base, t.head).map_err(internal)? else {
        return Err(not_mergeable());
    };
    let now = jiff::Timestamp::now().as_second();
    let merger = gh.user(&caller.login).map_or_else(
        || Person {
            name: caller.login.clone(),
            email: String::new(),
            time: now,
        },
        |u| Person {
            name: u.name.clone(),
            email: u.email.clone(),
            time: now,
        },
    );
    let title = v["commit_title"]
        .as_str()
        .map_or_else(|| format!("{} (#{number})", i.title), str::to_owned);
    let message = match v["commit_message"].as_str() {
        Some(m) => format!("{title}\n\n{m}"),
        None => title,
    };
    let method = v["merge_method"].as_str().unwrap_or("merge");
    let sha = match method {
        "merge" => r
            .git
            .commit(tree, &[t.base, t.head], &merger, &merger, &message)
            .map_err(internal)?,
        "squash" => r
            .git
            .commit(tree, &[t.base], &merger, &merger, &message)
            .map_err(internal)?,
        "rebase" => {
            let mut onto = t.base;
            for c in commits(r, &t)? {
                let oid = Oid::from_str(&c.sha).map_err(internal)?;
                let Some(tree) = r.git.replay(oid, onto).map_err(internal)? else {
                    return Err(not_mergeable());
                };
                let committer = Person {
                    time: now,
                    ..merger.clone()
                };
                onto = r
                    .git
                    .commit(tree, &[onto], &c.author, &committer, &c.message)
                    .map_err(internal)?;
            }
            onto
        }
        _ => return Err(invalid("PullRequest", "merge_method", "invalid", None)),
    };
    let base_ref = format!("refs/heads/{}", p.base);
    r.git.refs.insert(base_ref, sha);
    let i = r.issues.get_mut(&number).expect("checked above");
    i.open = false;
    i.closed = Some(now);
    i.updated = now;
    if let Some(p) = i.pull.as_mut() {
        p.head_sha = t.head.to_string();
        p.merged = Some(Merged {
            base: t.base.to_string(),
            at: now,
            sha: sha.to_string(),
            by: caller.login.clone(),
        });
    }
    Ok(Json(json!({ "sha": sha.to_string(), "merged": true, "message": "Pull Request successfully merged" })).into_response())
}
