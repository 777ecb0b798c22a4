//! Contents: a file as base64 (or raw), a directory as a listing.

use axum::{
    Json,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::IntoResponse,
};
use base64::Engine;
use serde_json::{Value, json};

use super::common::{Answer, InRepo, Params, Shared, base, error, internal, repo};
use crate::github::git::Entry;

pub(super) async fn contents_root(
    state: Shared,
    headers: HeaderMap,
    InRepo(_, owner, name, ()): InRepo,
    query: Params,
) -> Answer {
    contents(state, headers, owner, name, String::new(), query).await
}

pub(super) async fn contents_get(
    state: Shared,
    headers: HeaderMap,
    InRepo(_, owner, name, path): InRepo<String>,
    query: Params,
) -> Answer {
    contents(state, headers, owner, name, path, query).await
}

/// A file (base64, or raw with the raw media type) or a directory listing.
pub(super) async fn contents(
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
