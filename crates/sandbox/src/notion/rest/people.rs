//! Users (the people and the integration's bot, `me`) and comments on pages and blocks (a new
//! discussion, or a reply to one).

use axum::{
    Json,
    body::Bytes,
    extract::{Query, State},
    response::IntoResponse,
};
use uuid::Uuid;

use super::{Answer, PathId, Shared, body, id, invalid, list, not_found, query_paging};
use crate::notion::{
    blocks::rich_text,
    model::{Comment, Parent, Stamp},
};

pub(super) async fn users_list(
    State(notion): Shared,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Answer {
    let (size, cursor) = query_paging(&q)?;
    let store = notion.store();
    let items = store.users.iter().map(|u| (u.id, u.json())).collect();
    list(items, size, cursor, "user")
}

pub(super) async fn user_get(State(notion): Shared, PathId(uid): PathId) -> Answer {
    let store = notion.store();
    let user = store
        .users
        .iter()
        .find(|u| u.id == uid)
        .ok_or_else(|| not_found("user", uid))?;
    Ok(Json(user.json()).into_response())
}

pub(super) async fn me(State(notion): Shared) -> Answer {
    let store = notion.store();
    let user = store
        .users
        .iter()
        .find(|u| u.id == notion.bot)
        .ok_or_else(|| not_found("user", notion.bot))?;
    Ok(Json(user.json()).into_response())
}

pub(super) async fn comments_list(
    State(notion): Shared,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Answer {
    let target = id(
        q.get("block_id").map_or("", String::as_str),
        "query.block_id",
    )?;
    let (size, cursor) = query_paging(&q)?;
    let store = notion.store();
    if !store.pages.contains_key(&target) && !store.blocks.contains_key(&target) {
        return Err(not_found("block", target));
    }
    let items = store
        .comments
        .iter()
        .filter(|c| matches!(c.parent, Parent::Page(p) | Parent::Block(p) if p == target))
        .map(|c| (c.id, c.json()))
        .collect();
    list(items, size, cursor, "comment")
}

pub(super) async fn comment_create(State(notion): Shared, bytes: Bytes) -> Answer {
    let v = body(&bytes)?;
    let text = rich_text(&v["rich_text"], "body.rich_text").map_err(invalid)?;
    let mut store = notion.store();
    let (parent, discussion) = if let Some(d) = v["discussion_id"].as_str() {
        let d = id(d, "body.discussion_id")?;
        let first = store
            .comments
            .iter()
            .find(|c| c.discussion == d)
            .ok_or_else(|| not_found("discussion", d))?;
        (first.parent.clone(), d)
    } else if let Some(p) = v["parent"]["page_id"].as_str() {
        let p = id(p, "body.parent.page_id")?;
        if !store.pages.contains_key(&p) {
            return Err(not_found("page", p));
        }
        (Parent::Page(p), Uuid::new_v4())
    } else if let Some(b) = v["parent"]["block_id"].as_str() {
        let b = id(b, "body.parent.block_id")?;
        if !store.blocks.contains_key(&b) {
            return Err(not_found("block", b));
        }
        (Parent::Block(b), Uuid::new_v4())
    } else {
        return Err(invalid(
            "body failed validation: body should define parent (page_id or block_id) or discussion_id.",
        ));
    };
    let comment = Comment {
        id: Uuid::new_v4(),
        parent,
        discussion,
        rich_text: text,
        stamp: Stamp::new(jiff::Timestamp::now().as_second(), notion.bot),
    };
    let json = comment.json();
    store.comments.push(comment);
    Ok(Json(json).into_response())
}
