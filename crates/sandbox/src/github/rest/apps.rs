//! GitHub App authentication: the App as its JWT sees it, installation tokens minted for the
//! shop's installation (201 with `token` and `expires_at`; 404 for another installation), and
//! the repositories an installation token may see.

use axum::{
    Json,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
};
use serde_json::{Value, json};

use super::{
    common::{Answer, Asker, Params, Shared, base, error, iso, login_user, node_id, paging},
    repos::repository,
};

pub(super) async fn app_get(State(gh): Shared, headers: HeaderMap) -> Answer {
    let b = base(&headers);
    let app = &gh.app;
    Ok(Json(json!({
        "id": app.id, "slug": app.slug, "node_id": node_id("Integration", &app.id.to_string()),
        "client_id": format!("Iv23li{}", app.id), "owner": login_user(&gh, &b, "shop"),
        "name": app.name, "description": "Reads incidents' context and opens fix pull requests",
        "external_url": "https://opsmcp.example", "html_url": format!("{}/apps/{}", b.web, app.slug),
        "created_at": "2026-06-01T09:00:00Z", "updated_at": "2026-06-01T09:00:00Z",
        "permissions": { "contents": "write", "pull_requests": "write", "issues": "write", "actions": "read", "metadata": "read" },
        "events": [], "installations_count": 1,
    }))
    .into_response())
}

pub(super) async fn installation_token(
    State(gh): Shared,
    headers: HeaderMap,
    Path(id): Path<u64>,
) -> Answer {
    let b = base(&headers);
    if id != gh.app.installation {
        return Err(error(StatusCode::NOT_FOUND, "Not Found"));
    }
    let (token, expires) = gh.app.mint(jiff::Timestamp::now().as_second());
    let repos = gh.repos();
    let repositories: Vec<Value> = gh
        .app
        .repositories
        .iter()
        .filter_map(|name| repos.get(name))
        .map(|r| repository(&gh, &b, r, false))
        .collect();
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "token": token, "expires_at": iso(expires),
            "permissions": { "contents": "write", "pull_requests": "write", "issues": "write", "actions": "read", "metadata": "read" },
            "repository_selection": "selected", "repositories": repositories,
        })),
    )
        .into_response())
}

pub(super) async fn installation_repositories(
    State(gh): Shared,
    headers: HeaderMap,
    axum::Extension(caller): Asker,
    Query(p): Params,
) -> Answer {
    let b = base(&headers);
    let Some(scope) = &caller.scope else {
        return Err(error(
            StatusCode::FORBIDDEN,
            "This endpoint requires an installation access token",
        ));
    };
    let repos = gh.repos();
    let all: Vec<Value> = scope
        .iter()
        .filter_map(|name| repos.get(name))
        .map(|r| repository(&gh, &b, r, false))
        .collect();
    let (per_page, page) = paging(&p);
    let window: Vec<Value> = all
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .cloned()
        .collect();
    Ok(Json(json!({
        "total_count": all.len(), "repository_selection": "selected", "repositories": window,
    }))
    .into_response())
}
