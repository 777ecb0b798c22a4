//! Users by login, the token's own, and the rate limit the credentials have left.

use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
};
use serde_json::{Value, json};

use super::common::{Answer, Asker, Base, Shared, base, error, simple_user};
use crate::github::{GitHub, User};

/// A user as `public-user`.
pub(super) fn public_user(b: &Base, u: &User) -> Value {
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

pub(super) async fn user_get(
    State(gh): Shared,
    headers: HeaderMap,
    Path(login): Path<String>,
) -> Answer {
    user(&gh, &headers, &login)
}

pub(super) async fn user_me(
    State(gh): Shared,
    axum::Extension(caller): Asker,
    headers: HeaderMap,
) -> Answer {
    if caller.scope.is_some() {
        return Err(error(
            StatusCode::FORBIDDEN,
            "Resource not accessible by integration",
        ));
    }
    user(&gh, &headers, &caller.login)
}

pub(super) fn user(gh: &GitHub, headers: &HeaderMap, login: &str) -> Answer {
    let u = gh
        .users
        .iter()
        .find(|u| u.login.eq_ignore_ascii_case(login))
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "Not Found"))?;
    Ok(Json(public_user(&base(headers), u)).into_response())
}

/// `GET /rate_limit` (it does not count against the limit).
pub(super) async fn rate_limit() -> Answer {
    let reset = jiff::Timestamp::now().as_second() + 3600;
    let window =
        |limit: u64| json!({ "limit": limit, "remaining": limit - 1, "reset": reset, "used": 1 });
    Ok(Json(json!({
        "resources": { "core": window(5000), "search": window(30), "graphql": window(5000) },
        "rate": window(5000),
    }))
    .into_response())
}
