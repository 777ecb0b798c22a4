//! Repositories and branches: one repository as `full-repository`, the repositories of an
//! owner or of the token's user, and branches (with their protection) as GitHub lists them.

use axum::{
    Json,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode, Uri},
    response::IntoResponse,
};
use serde_json::{Value, json};

use super::common::{
    Answer, Asker, Base, InRepo, Params, Shared, base, commit_json, error, internal, login_user,
    node_id, page_of, repo, repo_api, repo_web,
};
use crate::github::{GitHub, RepoState};

/// The repository's URL templates below its API URL.
const URL_TEMPLATES: &[(&str, &str)] = &[
    ("archive_url", "/{archive_format}{/ref}"),
    ("assignees_url", "/assignees{/user}"),
    ("blobs_url", "/git/blobs{/sha}"),
    ("branches_url", "/branches{/branch}"),
    ("collaborators_url", "/collaborators{/collaborator}"),
    ("comments_url", "/comments{/number}"),
    ("commits_url", "/commits{/sha}"),
    ("compare_url", "/compare/{base}...{head}"),
    ("contents_url", "/contents/{+path}"),
    ("contributors_url", "/contributors"),
    ("deployments_url", "/deployments"),
    ("downloads_url", "/downloads"),
    ("events_url", "/events"),
    ("forks_url", "/forks"),
    ("git_commits_url", "/git/commits{/sha}"),
    ("git_refs_url", "/git/refs{/sha}"),
    ("git_tags_url", "/git/tags{/sha}"),
    ("hooks_url", "/hooks"),
    ("issue_comment_url", "/issues/comments{/number}"),
    ("issue_events_url", "/issues/events{/number}"),
    ("issues_url", "/issues{/number}"),
    ("keys_url", "/keys{/key_id}"),
    ("labels_url", "/labels{/name}"),
    ("languages_url", "/languages"),
    ("merges_url", "/merges"),
    ("milestones_url", "/milestones{/number}"),
    (
        "notifications_url",
        "/notifications{?since,all,participating}",
    ),
    ("pulls_url", "/pulls{/number}"),
    ("releases_url", "/releases{/id}"),
    ("stargazers_url", "/stargazers"),
    ("statuses_url", "/statuses/{sha}"),
    ("subscribers_url", "/subscribers"),
    ("subscription_url", "/subscription"),
    ("tags_url", "/tags"),
    ("teams_url", "/teams"),
    ("trees_url", "/git/trees{/sha}"),
];

/// A repository as `repository` (what a pull request's `head.repo` holds); `full-repository`
/// adds a few counts.
pub(super) fn repository(gh: &GitHub, b: &Base, r: &RepoState, full: bool) -> Value {
    let api = repo_api(b, r);
    let web = repo_web(b, r);
    let at = super::common::iso(r.created);
    let pushed = r
        .git
        .resolve(&r.default_branch)
        .and_then(|oid| r.git.info(oid).ok())
        .map_or_else(|| at.clone(), |c| super::common::iso(c.committer.time));
    let open = r.issues.values().filter(|i| i.open).count();
    let host = b.web.trim_start_matches("http://");
    let mut v = json!({
        "id": r.id, "node_id": node_id("Repository", &r.id.to_string()),
        "name": r.name, "full_name": r.full_name(),
        "owner": login_user(gh, b, &r.owner),
        "private": r.private, "visibility": if r.private { "private" } else { "public" },
        "html_url": web, "description": r.description, "fork": false, "url": api,
        "clone_url": format!("{web}.git"), "svn_url": web, "mirror_url": null,
        "git_url": format!("git://{host}/{}.git", r.full_name()),
        "ssh_url": format!("git@{host}:{}.git", r.full_name()),
        "homepage": null, "language": r.language,
        "forks_count": 0, "forks": 0, "stargazers_count": 0, "watchers_count": 0, "watchers": 0,
        "size": 64, "default_branch": r.default_branch,
        "open_issues_count": open, "open_issues": open, "is_template": false, "topics": [],
        "has_issues": true, "has_projects": false, "has_wiki": false, "has_pages": false,
        "has_downloads": true, "has_discussions": false, "archived": false, "disabled": false,
        "pushed_at": pushed, "created_at": at, "updated_at": pushed, "license": null,
    });
    v["permissions"] =
        json!({ "admin": false, "maintain": true, "push": true, "triage": true, "pull": true });
    for flag in [
        "allow_rebase_merge",
        "allow_squash_merge",
        "allow_merge_commit",
    ] {
        v[flag] = json!(true);
    }
    v["delete_branch_on_merge"] = json!(false);
    for (key, path) in URL_TEMPLATES {
        v[*key] = json!(format!("{api}{path}"));
    }
    if full {
        v["network_count"] = json!(0);
        v["subscribers_count"] = json!(5);
    }
    v
}

pub(super) async fn repo_get(State(gh): Shared, InRepo(b, owner, name, ()): InRepo) -> Answer {
    let repos = gh.repos();
    let r = repo(&repos, &owner, &name)?;
    Ok(Json(repository(&gh, &b, r, true)).into_response())
}

/// `/orgs/{org}/repos` and `/users/{login}/repos`.
pub(super) async fn owner_repos(
    State(gh): Shared,
    axum::Extension(caller): Asker,
    headers: HeaderMap,
    uri: Uri,
    Path(owner): Path<String>,
    Query(p): Params,
) -> Answer {
    let b = base(&headers);
    let repos = gh.repos();
    let items: Vec<Value> = repos
        .values()
        .filter(|r| r.owner.eq_ignore_ascii_case(&owner) && caller.sees(&r.full_name()))
        .map(|r| repository(&gh, &b, r, false))
        .collect();
    if items.is_empty() && gh.user(&owner).is_none() {
        return Err(error(StatusCode::NOT_FOUND, "Not Found"));
    }
    Ok(page_of(&b, uri.path(), &p, items))
}

/// `/user/repos`: every repository the token can see.
pub(super) async fn my_repos(
    State(gh): Shared,
    axum::Extension(caller): Asker,
    headers: HeaderMap,
    Query(p): Params,
) -> Answer {
    let b = base(&headers);
    let repos = gh.repos();
    let items: Vec<Value> = repos
        .values()
        .filter(|r| caller.sees(&r.full_name()))
        .map(|r| repository(&gh, &b, r, false))
        .collect();
    Ok(page_of(&b, "/user/repos", &p, items))
}

fn branch_json(b: &Base, r: &RepoState, name: &str, oid: git2::Oid, full: bool) -> Value {
    let api = repo_api(b, r);
    let protected = r.is_protected(name);
    let commit = json!({ "sha": oid.to_string(), "url": format!("{api}/commits/{oid}") });
    let mut v = json!({ "name": name, "commit": commit, "protected": protected });
    if full {
        v["_links"] = json!({
            "self": format!("{api}/branches/{name}"),
            "html": format!("{}/tree/{name}", repo_web(b, r)),
        });
        v["protection"] = json!({
            "enabled": protected,
            "required_status_checks": { "enforcement_level": "off", "contexts": [], "checks": [] },
        });
        v["protection_url"] = json!(format!("{api}/branches/{name}/protection"));
    }
    v
}

pub(super) async fn branches_list(
    State(gh): Shared,
    InRepo(b, owner, name, ()): InRepo,
    Query(p): Params,
) -> Answer {
    let repos = gh.repos();
    let r = repo(&repos, &owner, &name)?;
    let only = p.get("protected").map(|v| v == "true");
    let items: Vec<Value> = r
        .git
        .refs
        .iter()
        .filter_map(|(full, oid)| Some((full.strip_prefix("refs/heads/")?, *oid)))
        .filter(|(branch, _)| only.is_none_or(|o| o == r.is_protected(branch)))
        .map(|(branch, oid)| branch_json(&b, r, branch, oid, false))
        .collect();
    Ok(page_of(
        &b,
        &format!("/repos/{owner}/{name}/branches"),
        &p,
        items,
    ))
}

pub(super) async fn branch_get(
    State(gh): Shared,
    InRepo(b, owner, name, branch): InRepo<String>,
) -> Answer {
    let repos = gh.repos();
    let r = repo(&repos, &owner, &name)?;
    let oid = *r
        .git
        .refs
        .get(&format!("refs/heads/{branch}"))
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "Branch not found"))?;
    let mut v = branch_json(&b, r, &branch, oid, true);
    // GitHub gives the branch's head as a full `commit`.
    let info = r.git.info(oid).map_err(internal)?;
    v["commit"] = commit_json(&gh, &b, r, &info);
    Ok(Json(v).into_response())
}
