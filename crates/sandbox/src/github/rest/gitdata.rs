//! Git data and comparisons: `compare/base...head` (commits, files, ahead/behind), refs (get,
//! create — 422 when it exists — and update, refusing a non-fast-forward unless forced), blobs,
//! trees (with `base_tree`) and commits, written as real git objects.

use axum::{Json, body::Bytes, extract::State, http::StatusCode, response::IntoResponse};
use base64::Engine;
use git2::Oid;
use serde_json::{Value, json};

use super::common::{
    Answer, Asker, Base, InRepo, Refusal, Shared, body, commit_json, diff_entry, error, git_person,
    internal, node_id, repo, repo_api, repo_mut,
};
use crate::github::{
    RepoState,
    git::{Edit, Entry, Person},
};

fn sha(text: &str) -> Result<Oid, Refusal> {
    Oid::from_str(text).map_err(|_| {
        error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("Invalid SHA: {text}"),
        )
    })
}

/// A ref as `git-ref`.
fn ref_json(b: &Base, r: &RepoState, name: &str, oid: Oid) -> Value {
    json!({
        "ref": name, "node_id": node_id("Ref", name),
        "url": format!("{}/git/{name}", repo_api(b, r)),
        "object": { "type": "commit", "sha": oid.to_string(), "url": format!("{}/git/commits/{oid}", repo_api(b, r)) },
    })
}

pub(super) async fn ref_get(
    State(gh): Shared,
    InRepo(b, owner, name, reference): InRepo<String>,
) -> Answer {
    let repos = gh.repos();
    let r = repo(&repos, &owner, &name)?;
    let full = format!("refs/{}", reference.trim_start_matches("refs/"));
    let oid = r
        .git
        .refs
        .get(&full)
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "Not Found"))?;
    Ok(Json(ref_json(&b, r, &full, *oid)).into_response())
}

pub(super) async fn ref_create(
    State(gh): Shared,
    InRepo(b, owner, name, ()): InRepo,
    bytes: Bytes,
) -> Answer {
    let v = body(&bytes)?;
    let mut repos = gh.repos();
    let r = repo_mut(&mut repos, &owner, &name)?;
    let full = v["ref"].as_str().unwrap_or_default().to_owned();
    if !full.starts_with("refs/") || full.matches('/').count() < 2 {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Reference name must start with 'refs/' and have at least two slashes.",
        ));
    }
    let oid = sha(v["sha"].as_str().unwrap_or_default())?;
    if !r.git.is_commit(oid) {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Object does not exist",
        ));
    }
    if r.git.refs.contains_key(&full) {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Reference already exists",
        ));
    }
    r.git.refs.insert(full.clone(), oid);
    Ok((StatusCode::CREATED, Json(ref_json(&b, r, &full, oid))).into_response())
}

pub(super) async fn ref_update(
    State(gh): Shared,
    InRepo(b, owner, name, reference): InRepo<String>,
    bytes: Bytes,
) -> Answer {
    let v = body(&bytes)?;
    let mut repos = gh.repos();
    let r = repo_mut(&mut repos, &owner, &name)?;
    let full = format!("refs/{}", reference.trim_start_matches("refs/"));
    let old = *r
        .git
        .refs
        .get(&full)
        .ok_or_else(|| error(StatusCode::UNPROCESSABLE_ENTITY, "Reference does not exist"))?;
    refuse_protected(r, &full)?;
    let new = sha(v["sha"].as_str().unwrap_or_default())?;
    if !r.git.is_commit(new) {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Object does not exist",
        ));
    }
    if v["force"] != true && !r.git.fast_forward(old, new) {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Update is not a fast forward",
        ));
    }
    r.git.refs.insert(full.clone(), new);
    Ok(Json(ref_json(&b, r, &full, new)).into_response())
}

/// A protected branch takes changes only through a pull request.
fn refuse_protected(r: &RepoState, full: &str) -> Result<(), Refusal> {
    match full.strip_prefix("refs/heads/") {
        Some(branch) if r.is_protected(branch) => Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("Protected branch update failed for {full}."),
        )),
        _ => Ok(()),
    }
}

pub(super) async fn ref_delete(
    State(gh): Shared,
    InRepo(_, owner, name, reference): InRepo<String>,
) -> Answer {
    let mut repos = gh.repos();
    let r = repo_mut(&mut repos, &owner, &name)?;
    let full = format!("refs/{}", reference.trim_start_matches("refs/"));
    if !r.git.refs.contains_key(&full) {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Reference does not exist",
        ));
    }
    refuse_protected(r, &full)?;
    r.git.refs.remove(&full);
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn blob_create(
    State(gh): Shared,
    InRepo(b, owner, name, ()): InRepo,
    bytes: Bytes,
) -> Answer {
    let v = body(&bytes)?;
    let repos = gh.repos();
    let r = repo(&repos, &owner, &name)?;
    let content = v["content"]
        .as_str()
        .ok_or_else(|| error(StatusCode::UNPROCESSABLE_ENTITY, "content is missing"))?;
    let data = match v["encoding"].as_str().unwrap_or("utf-8") {
        "base64" => base64::engine::general_purpose::STANDARD
            .decode(content.replace('\n', ""))
            .map_err(|_| {
                error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "content is not valid base64",
                )
            })?,
        "utf-8" => content.as_bytes().to_vec(),
        other => {
            return Err(error(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("encoding {other} is not supported: use utf-8 or base64"),
            ));
        }
    };
    let oid = r.git.write_blob(&data).map_err(internal)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "url": format!("{}/git/blobs/{oid}", repo_api(&b, r)), "sha": oid.to_string() })),
    )
        .into_response())
}

pub(super) async fn blob_get(
    State(gh): Shared,
    InRepo(b, owner, name, blob): InRepo<String>,
) -> Answer {
    let repos = gh.repos();
    let r = repo(&repos, &owner, &name)?;
    let oid = sha(&blob)?;
    let data = r
        .git
        .blob(oid)
        .map_err(|_| error(StatusCode::NOT_FOUND, "Not Found"))?;
    Ok(Json(json!({
        "sha": blob, "node_id": node_id("Blob", &blob), "size": data.len(),
        "url": format!("{}/git/blobs/{blob}", repo_api(&b, r)),
        "content": base64::engine::general_purpose::STANDARD.encode(&data), "encoding": "base64",
    }))
    .into_response())
}

/// A tree as `git-tree` (one level).
fn tree_json(b: &Base, r: &RepoState, oid: Oid) -> Result<Value, Refusal> {
    let Some(Entry::Dir(entries)) = r.git.at_path(oid, "").map_err(internal)? else {
        return Err(error(StatusCode::NOT_FOUND, "Not Found"));
    };
    let items: Vec<Value> = entries
        .iter()
        .map(|(name, dir, sha, size)| {
            let mut e = json!({
                "path": name, "mode": if *dir { "040000" } else { "100644" },
                "type": if *dir { "tree" } else { "blob" }, "sha": sha,
                "url": format!("{}/git/{}/{sha}", repo_api(b, r), if *dir { "trees" } else { "blobs" }),
            });
            if !dir {
                e["size"] = json!(size);
            }
            e
        })
        .collect();
    Ok(
        json!({ "sha": oid.to_string(), "url": format!("{}/git/trees/{oid}", repo_api(b, r)), "truncated": false, "tree": items }),
    )
}

pub(super) async fn tree_get(
    State(gh): Shared,
    InRepo(b, owner, name, tree): InRepo<String>,
) -> Answer {
    let repos = gh.repos();
    let r = repo(&repos, &owner, &name)?;
    let oid = sha(&tree)?;
    if !r.git.is_tree(oid) {
        return Err(error(StatusCode::NOT_FOUND, "Not Found"));
    }
    Ok(Json(tree_json(&b, r, oid)?).into_response())
}

pub(super) async fn tree_create(
    State(gh): Shared,
    InRepo(b, owner, name, ()): InRepo,
    bytes: Bytes,
) -> Answer {
    let v = body(&bytes)?;
    let repos = gh.repos();
    let r = repo(&repos, &owner, &name)?;
    let base_tree = v["base_tree"].as_str().map(sha).transpose()?;
    if let Some(t) = base_tree
        && !r.git.is_tree(t)
    {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "base_tree is not a valid tree oid",
        ));
    }
    let mut edits = Vec::new();
    for entry in v["tree"].as_array().into_iter().flatten() {
        let path = entry["path"]
            .as_str()
            .ok_or_else(|| error(StatusCode::UNPROCESSABLE_ENTITY, "tree.path is missing"))?
            .to_owned();
        edits.push(match (&entry["content"], &entry["sha"]) {
            (Value::String(content), _) => Edit::Write(path, content.clone().into_bytes()),
            (_, Value::Null) if entry.get("sha").is_some() => Edit::Remove(path),
            (_, Value::String(blob)) => Edit::Blob(path, sha(blob)?),
            _ => {
                return Err(error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "each tree entry needs content or sha",
                ));
            }
        });
    }
    let oid = r
        .git
        .tree(base_tree, &edits)
        .map_err(|e| error(StatusCode::UNPROCESSABLE_ENTITY, e.message()))?;
    Ok((StatusCode::CREATED, Json(tree_json(&b, r, oid)?)).into_response())
}

/// A commit as `git-commit`.
fn git_commit_json(b: &Base, r: &RepoState, oid: Oid) -> Result<Value, Refusal> {
    let c = r
        .git
        .info(oid)
        .map_err(|_| error(StatusCode::NOT_FOUND, "Not Found"))?;
    Ok(json!({
        "sha": c.sha, "node_id": node_id("Commit", &c.sha),
        "url": format!("{}/git/commits/{}", repo_api(b, r), c.sha),
        "html_url": format!("{}/{}/{}/commit/{}", b.web, r.owner, r.name, c.sha),
        "author": git_person(&c.author), "committer": git_person(&c.committer),
        "message": c.message,
        "tree": { "sha": c.tree, "url": format!("{}/git/trees/{}", repo_api(b, r), c.tree) },
        "parents": c.parents.iter().map(|p| json!({
            "sha": p, "url": format!("{}/git/commits/{p}", repo_api(b, r)),
            "html_url": format!("{}/{}/{}/commit/{p}", b.web, r.owner, r.name),
        })).collect::<Vec<_>>(),
        "verification": { "verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null },
    }))
}

pub(super) async fn git_commit_get(
    State(gh): Shared,
    InRepo(b, owner, name, commit): InRepo<String>,
) -> Answer {
    let repos = gh.repos();
    let r = repo(&repos, &owner, &name)?;
    Ok(Json(git_commit_json(&b, r, sha(&commit)?)?).into_response())
}

pub(super) async fn commit_create(
    State(gh): Shared,
    axum::Extension(caller): Asker,
    InRepo(b, owner, name, ()): InRepo,
    bytes: Bytes,
) -> Answer {
    let v = body(&bytes)?;
    let repos = gh.repos();
    let r = repo(&repos, &owner, &name)?;
    let message = v["message"]
        .as_str()
        .ok_or_else(|| error(StatusCode::UNPROCESSABLE_ENTITY, "message is missing"))?;
    let tree = sha(v["tree"].as_str().unwrap_or_default())?;
    if !r.git.is_tree(tree) {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Tree SHA does not exist",
        ));
    }
    let mut parents = Vec::new();
    for p in v["parents"].as_array().into_iter().flatten() {
        let p = sha(p.as_str().unwrap_or_default())?;
        if !r.git.is_commit(p) {
            return Err(error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Parent SHA does not exist or is not a commit object",
            ));
        }
        parents.push(p);
    }
    // The author defaults to the token's user, now.
    let me = gh.users.iter().find(|u| u.login == caller.login);
    let now = jiff::Timestamp::now().as_second();
    let person = |p: &Value| Person {
        name: p["name"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| me.map(|u| u.name.clone()))
            .unwrap_or_default(),
        email: p["email"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| me.map(|u| u.email.clone()))
            .unwrap_or_default(),
        time: p["date"]
            .as_str()
            .and_then(|d| d.parse::<jiff::Timestamp>().ok())
            .map_or(now, |t| t.as_second()),
    };
    let author = person(&v["author"]);
    let committer = if v["committer"].is_object() {
        person(&v["committer"])
    } else {
        author.clone()
    };
    let oid = r
        .git
        .commit(tree, &parents, &author, &committer, message)
        .map_err(internal)?;
    Ok((StatusCode::CREATED, Json(git_commit_json(&b, r, oid)?)).into_response())
}

pub(super) async fn compare(
    State(gh): Shared,
    InRepo(b, owner, name, basehead): InRepo<String>,
) -> Answer {
    let repos = gh.repos();
    let r = repo(&repos, &owner, &name)?;
    let (from, to) = basehead
        .split_once("...")
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "Not Found"))?;
    let resolve = |name: &str| {
        r.git.resolve(name).ok_or_else(|| {
            error(
                StatusCode::NOT_FOUND,
                &format!("No commit found for {name}"),
            )
        })
    };
    let (base_oid, head_oid) = (resolve(from)?, resolve(to)?);
    let merge_base = r.git.merge_base(base_oid, head_oid).ok_or_else(|| {
        error(
            StatusCode::NOT_FOUND,
            "No common ancestor between the two refs",
        )
    })?;
    let ahead = r.git.between(base_oid, head_oid).map_err(internal)?;
    let behind = r.git.between(head_oid, base_oid).map_err(internal)?;
    let status = match (ahead.is_empty(), behind.is_empty()) {
        (true, true) => "identical",
        (false, true) => "ahead",
        (true, false) => "behind",
        (false, false) => "diverged",
    };
    let files = r
        .git
        .tree_changes(
            Some(r.git.tree_of(merge_base).map_err(internal)?),
            r.git.tree_of(head_oid).map_err(internal)?,
        )
        .map_err(internal)?;
    let repo_api = repo_api(&b, r);
    let repo_web = format!("{}/{}/{}", b.web, r.owner, r.name);
    let info = |oid: Oid| r.git.info(oid).map_err(internal);
    let head = head_oid.to_string();
    Ok(Json(json!({
        "url": format!("{repo_api}/compare/{basehead}"),
        "html_url": format!("{repo_web}/compare/{basehead}"),
        "permalink_url": format!("{repo_web}/compare/{base_oid}...{head_oid}"),
        "diff_url": format!("{repo_web}/compare/{basehead}.diff"),
        "patch_url": format!("{repo_web}/compare/{basehead}.patch"),
        "base_commit": commit_json(&gh, &b, r, &info(base_oid)?),
        "merge_base_commit": commit_json(&gh, &b, r, &info(merge_base)?),
        "status": status, "ahead_by": ahead.len(), "behind_by": behind.len(),
        "total_commits": ahead.len(),
        "commits": ahead.iter().map(|c| commit_json(&gh, &b, r, c)).collect::<Vec<_>>(),
        "files": files.iter().map(|f| diff_entry(&b, r, &head, f)).collect::<Vec<_>>(),
    }))
    .into_response())
}
