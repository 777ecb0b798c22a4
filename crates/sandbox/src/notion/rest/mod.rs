//! Notion's API as its clients use it: `Notion-Version` required (2025-09-03 and later),
//! `Authorization: Bearer`, error bodies `{object:"error",status,code,message,request_id}`,
//! bodies of at most 500 KB, a per-token rate limit (429 `rate_limited` with `Retry-After`),
//! lists as `{object:"list",results,next_cursor,has_more,type}` of at most 100.
//!
//! Handlers by concern: [`pages`] (pages and search), [`blocks`] (blocks and their children),
//! [`data`] (databases, data sources, queries), [`people`] (users and comments).

mod blocks;
mod data;
mod pages;
mod people;

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{FromRequestParts, MatchedPath, Path, Request, State},
    http::{HeaderValue, StatusCode, header, request::Parts},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Notion, model::Version};

pub(super) type Shared = State<Arc<Notion>>;

/// The version a request speaks, set by the gate.
pub(super) type Speaks = axum::Extension<Version>;

/// A refusal with Notion's error body.
#[derive(Debug)]
pub(super) struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = json!({
            "object": "error", "status": self.status.as_u16(), "code": self.code,
            "message": self.message, "request_id": Uuid::new_v4(),
        });
        (self.status, Json(body)).into_response()
    }
}

pub(super) fn refuse(
    status: StatusCode,
    code: &'static str,
    message: impl Into<String>,
) -> Refusal {
    Refusal {
        status,
        code,
        message: message.into(),
    }
}

pub(super) fn invalid(message: impl Into<String>) -> Refusal {
    refuse(StatusCode::BAD_REQUEST, "validation_error", message)
}

/// Not found, or not shared with the integration (Notion cannot tell them apart either).
pub(super) fn not_found(kind: &str, id: impl std::fmt::Display) -> Refusal {
    refuse(
        StatusCode::NOT_FOUND,
        "object_not_found",
        format!(
            "Could not find {kind} with ID: {id}. Make sure the relevant pages and databases are shared with your integration."
        ),
    )
}

pub(super) type Answer = Result<Response, Refusal>;

/// An id from a path, with or without dashes.
pub(super) fn id(text: &str, name: &str) -> Result<Uuid, Refusal> {
    Uuid::parse_str(text).map_err(|_| {
        invalid(format!(
            "path failed validation: path.{name} should be a valid uuid, instead was `{text:?}`."
        ))
    })
}

/// The object a `/v1/{objects}/{id}…` path names, checked as Notion checks it: an id that is
/// not a UUID is a 400 naming the parameter after the route's kind of object (`path.page_id`,
/// `path.block_id`, `path.data_source_id`…).
pub(super) struct PathId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Refusal> {
        let name = parts
            .extensions
            .get::<MatchedPath>()
            .and_then(|m| m.as_str().split('/').take_while(|s| *s != "{id}").last())
            .map_or_else(
                || "id".to_owned(),
                |kind| format!("{}_id", kind.trim_end_matches('s')),
            );
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| invalid(format!("path failed validation: {e}")))?;
        id(&raw, &name).map(Self)
    }
}

/// A JSON body that must be an object.
pub(super) fn body(bytes: &[u8]) -> Result<Value, Refusal> {
    if bytes.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice::<Value>(bytes)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| {
            refuse(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                "Error parsing JSON body.",
            )
        })
}

/// `page_size` (≤ 100, default 100) and where to start (`start_cursor`: the id of the first
/// item), from a query or a body.
pub(super) fn paging(
    size: Option<&Value>,
    cursor: Option<&Value>,
) -> Result<(usize, Option<Uuid>), Refusal> {
    let size = match size {
        None | Some(Value::Null) => 100,
        Some(v) => {
            let n = v
                .as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .ok_or_else(|| {
                    invalid("body failed validation: body.page_size should be a number.")
                })?;
            if !(1..=100).contains(&n) {
                return Err(invalid(format!(
                    "body failed validation: body.page_size should be ≤ `100`, instead was `{n}`."
                )));
            }
            n as usize
        }
    };
    let cursor = match cursor {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_str()
                .and_then(|s| Uuid::parse_str(s).ok())
                .ok_or_else(|| {
                    invalid("body failed validation: body.start_cursor should be a valid cursor.")
                })?,
        ),
    };
    Ok((size, cursor))
}

/// `page_size` and `start_cursor` of a GET's query.
pub(super) fn query_paging(
    q: &std::collections::HashMap<String, String>,
) -> Result<(usize, Option<Uuid>), Refusal> {
    paging(
        q.get("page_size").map(|s| json!(s)).as_ref(),
        q.get("start_cursor").map(|s| json!(s)).as_ref(),
    )
}

/// One page of `items` (each with its id) as Notion's list of `kind`.
pub(super) fn list(
    items: Vec<(Uuid, Value)>,
    size: usize,
    cursor: Option<Uuid>,
    kind: &str,
) -> Answer {
    let start = match cursor {
        None => 0,
        Some(c) => items
            .iter()
            .position(|(id, _)| *id == c)
            .ok_or_else(|| invalid("The start_cursor provided is invalid."))?,
    };
    let next = items.get(start + size).map(|(id, _)| *id);
    let results: Vec<Value> = items
        .into_iter()
        .skip(start)
        .take(size)
        .map(|(_, v)| v)
        .collect();
    Ok(Json(json!({
        "object": "list", "results": results, "next_cursor": next, "has_more": next.is_some(),
        "type": kind, (kind): {}, "request_id": Uuid::new_v4(),
    }))
    .into_response())
}

pub fn router(notion: Arc<Notion>) -> Router {
    Router::new()
        .route("/v1/search", post(pages::search))
        .route("/v1/pages", post(pages::page_create))
        .route(
            "/v1/pages/{id}",
            get(pages::page_get).patch(pages::page_update),
        )
        .route(
            "/v1/blocks/{id}",
            get(blocks::block_get)
                .patch(blocks::block_update)
                .delete(blocks::block_delete),
        )
        .route(
            "/v1/blocks/{id}/children",
            get(blocks::children_list).patch(blocks::children_append),
        )
        .route("/v1/databases/{id}", get(data::database_get))
        .route("/v1/data_sources/{id}", get(data::data_source_get))
        .route("/v1/data_sources/{id}/query", post(data::query))
        .route(
            "/v1/comments",
            get(people::comments_list).post(people::comment_create),
        )
        .route("/v1/users", get(people::users_list))
        .route("/v1/users/me", get(people::me))
        .route("/v1/users/{id}", get(people::user_get))
        .fallback(|| async {
            refuse(
                StatusCode::BAD_REQUEST,
                "invalid_request_url",
                "Invalid request URL.",
            )
        })
        .layer(middleware::from_fn_with_state(notion.clone(), gate))
        .with_state(notion)
}

/// Largest body Notion takes.
const MAX_BODY: usize = 500 * 1000;

/// The version header, the token, the body's size and the rate limit, in Notion's order.
async fn gate(State(notion): Shared, mut request: Request, next: Next) -> Response {
    let headers = request.headers();
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if token != Some(notion.token.as_str()) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "API token is invalid.",
        )
        .into_response();
    }
    let Some(version) = headers.get("notion-version").and_then(|v| v.to_str().ok()) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "missing_version",
            "Notion-Version header failed validation: Notion-Version header should be defined, instead was `undefined`.",
        )
        .into_response();
    };
    let version = match Version::parse(version) {
        Ok(v) => v,
        Err(message) => return invalid(message).into_response(),
    };
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    if length > MAX_BODY {
        return invalid(format!(
            "body failed validation: the request body is {length} bytes; the limit is 500KB."
        ))
        .into_response();
    }
    if let Err(seconds) = notion.admit() {
        let mut limited = refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "You have been rate limited. Please try again in a few minutes.",
        )
        .into_response();
        limited
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        return limited;
    }
    request.extensions_mut().insert(version);
    next.run(request).await
}
