//! Commits: the list (filters, `Link` paging) and one commit with stats, files and patches, or
//! as a diff or patch.

use axum::{
    Json,
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::IntoResponse,
};
use serde_json::{Value, json};

use super::common::{
    Answer, InRepo, Media, Params, Shared, commit_json, diff_entry, error, format_patch, internal,
    link, paging, repo, time_param,
};
use crate::github::git::CommitInfo;

pub(super) async fn commits_list(
    State(gh): Shared,
    InRepo(b, owner, name, ()): InRepo,
    Query(p): Params,
) -> Answer {
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
    let keep = |c: &CommitInfo, repo: &crate::github::git::Repo| {
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

pub(super) async fn commit_get(
    State(gh): Shared,
    headers: HeaderMap,
    InRepo(b, owner, name, reference): InRepo<String>,
) -> Answer {
    let repos = gh.repos();
    let r = repo(&repos, &owner, &name)?;
    // `commits/{ref}/check-runs` shares the path (a ref may hold slashes).
    if let Some(reference) = reference.strip_suffix("/check-runs") {
        return super::actions::check_runs(&gh, &headers, r, reference);
    }
    let oid = r.git.resolve(&reference).ok_or_else(|| {
        error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("No commit found for SHA: {reference}"),
        )
    })?;
    let info = r.git.info(oid).map_err(internal)?;
    let files = r.git.changes(oid).map_err(internal)?;
    if let Some(media) = Media::asked(&headers) {
        let parent = info
            .parents
            .first()
            .and_then(|p| git2::Oid::from_str(p).ok())
            .and_then(|p| r.git.tree_of(p).ok());
        let tree = git2::Oid::from_str(&info.tree).map_err(internal)?;
        let diff = r.git.diff_text(parent, tree).map_err(internal)?;
        let body = match media {
            Media::Patch => format_patch(&info, &diff),
            Media::Diff => diff,
        };
        return Ok(media.answer(body));
    }
    let mut v = commit_json(&gh, &b, r, &info);
    let (additions, deletions): (usize, usize) = files
        .iter()
        .fold((0, 0), |(a, d), f| (a + f.additions, d + f.deletions));
    v["stats"] =
        json!({ "total": additions + deletions, "additions": additions, "deletions": deletions });
    v["files"] = json!(
        files
            .iter()
            .map(|f| diff_entry(&b, r, &info.sha, f))
            .collect::<Vec<_>>()
    );
    Ok(Json(v).into_response())
}
