//! Releases (list newest first, the latest, by tag) and deployments (filters by sha, ref and
//! environment; statuses newest first): what went out when.

use axum::{
    Json,
    extract::{Query, State},
    http::StatusCode,
    response::IntoResponse,
};
use serde_json::{Value, json};

use super::common::{
    Answer, Base, InRepo, Params, Refusal, Shared, error, iso, login_user, node_id, page_of, repo,
    repo_api, repo_web,
};
use crate::github::{Deployment, GitHub, Release, RepoState};

fn release_json(gh: &GitHub, b: &Base, r: &RepoState, rel: &Release) -> Value {
    let api = format!("{}/releases/{}", repo_api(b, r), rel.id);
    json!({
        "id": rel.id, "node_id": node_id("Release", &rel.id.to_string()), "url": api,
        "html_url": format!("{}/releases/tag/{}", repo_web(b, r), rel.tag),
        "assets_url": format!("{api}/assets"),
        "upload_url": format!("{}/repos/{}/releases/{}/assets{{?name,label}}", b.api, r.full_name(), rel.id),
        "tarball_url": format!("{}/tarball/{}", repo_api(b, r), rel.tag),
        "zipball_url": format!("{}/zipball/{}", repo_api(b, r), rel.tag),
        "tag_name": rel.tag, "target_commitish": r.default_branch, "name": rel.name,
        "body": rel.body, "draft": false, "prerelease": false, "immutable": false,
        "created_at": iso(rel.created), "published_at": iso(rel.published), "updated_at": iso(rel.published),
        "author": login_user(gh, b, &rel.author), "assets": [],
    })
}

fn newest_first(r: &RepoState) -> Vec<&Release> {
    let mut all: Vec<&Release> = r.releases.iter().collect();
    all.sort_by_key(|rel| std::cmp::Reverse(rel.published));
    all
}

pub(super) async fn releases_list(
    State(gh): Shared,
    InRepo(b, owner, name, ()): InRepo,
    Query(p): Params,
) -> Answer {
    let repos = gh.repos();
    let r = repo(&repos, &owner, &name)?;
    let items = newest_first(r)
        .into_iter()
        .map(|rel| release_json(&gh, &b, r, rel))
        .collect();
    Ok(page_of(
        &b,
        &format!("/repos/{owner}/{name}/releases"),
        &p,
        items,
    ))
}

pub(super) async fn release_latest(
    State(gh): Shared,
    InRepo(b, owner, name, ()): InRepo,
) -> Answer {
    let repos = gh.repos();
    let r = repo(&repos, &owner, &name)?;
    let latest = newest_first(r)
        .into_iter()
        .next()
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "Not Found"))?;
    Ok(Json(release_json(&gh, &b, r, latest)).into_response())
}

pub(super) async fn release_by_tag(
    State(gh): Shared,
    InRepo(b, owner, name, tag): InRepo<String>,
) -> Answer {
    let repos = gh.repos();
    let r = repo(&repos, &owner, &name)?;
    let rel = r
        .releases
        .iter()
        .find(|rel| rel.tag == tag)
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "Not Found"))?;
    Ok(Json(release_json(&gh, &b, r, rel)).into_response())
}

fn deployment_json(gh: &GitHub, b: &Base, r: &RepoState, d: &Deployment) -> Value {
    let api = format!("{}/deployments/{}", repo_api(b, r), d.id);
    let updated = d.statuses.last().map_or(d.created, |s| s.created);
    json!({
        "id": d.id, "node_id": node_id("Deployment", &d.id.to_string()), "url": api,
        "sha": d.sha, "ref": d.reference, "task": "deploy", "payload": d.payload,
        "original_environment": d.environment, "environment": d.environment,
        "description": d.description, "creator": login_user(gh, b, &d.creator),
        "created_at": iso(d.created), "updated_at": iso(updated),
        "statuses_url": format!("{api}/statuses"), "repository_url": repo_api(b, r),
        "transient_environment": false, "production_environment": d.environment == "production",
    })
}

pub(super) async fn deployments_list(
    State(gh): Shared,
    InRepo(b, owner, name, ()): InRepo,
    Query(p): Params,
) -> Answer {
    let repos = gh.repos();
    let r = repo(&repos, &owner, &name)?;
    let mut found: Vec<&Deployment> = r
        .deployments
        .iter()
        .filter(|d| p.get("sha").is_none_or(|x| &d.sha == x))
        .filter(|d| p.get("ref").is_none_or(|x| &d.reference == x))
        .filter(|d| p.get("environment").is_none_or(|x| &d.environment == x))
        .filter(|_| p.get("task").is_none_or(|x| x == "deploy"))
        .collect();
    found.sort_by_key(|d| std::cmp::Reverse((d.created, d.id)));
    let items = found
        .into_iter()
        .map(|d| deployment_json(&gh, &b, r, d))
        .collect();
    Ok(page_of(
        &b,
        &format!("/repos/{owner}/{name}/deployments"),
        &p,
        items,
    ))
}

fn deployment_of(r: &RepoState, id: u64) -> Result<&Deployment, Refusal> {
    r.deployments
        .iter()
        .find(|d| d.id == id)
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "Not Found"))
}

pub(super) async fn deployment_statuses(
    State(gh): Shared,
    InRepo(b, owner, name, id): InRepo<u64>,
    Query(p): Params,
) -> Answer {
    let repos = gh.repos();
    let r = repo(&repos, &owner, &name)?;
    let d = deployment_of(r, id)?;
    let api = format!("{}/deployments/{}", repo_api(&b, r), d.id);
    let items = d
        .statuses
        .iter()
        .rev()
        .map(|s| {
            json!({
                "id": s.id, "node_id": node_id("DeploymentStatus", &s.id.to_string()),
                "url": format!("{api}/statuses/{}", s.id), "state": s.state,
                "creator": login_user(&gh, &b, &d.creator), "description": s.description,
                "environment": d.environment, "target_url": "", "log_url": "",
                "environment_url": "", "deployment_url": api, "repository_url": repo_api(&b, r),
                "created_at": iso(s.created), "updated_at": iso(s.created),
            })
        })
        .collect();
    Ok(page_of(
        &b,
        &format!("/repos/{owner}/{name}/deployments/{id}/statuses"),
        &p,
        items,
    ))
}
