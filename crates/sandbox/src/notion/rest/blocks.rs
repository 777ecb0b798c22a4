//! Blocks: retrieve (a page answers as its `child_page` block), update a block's content or
//! trash it, delete (to the trash), list children one level at a time with `has_children`, and
//! append children at the end or after a block (`after` in 2025-09-03, `position` from
//! 2026-03-11), answering with the new first-level blocks.

use axum::{
    Json,
    body::Bytes,
    extract::{Query, State},
    response::IntoResponse,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    Answer, PathId, Refusal, Shared, Speaks, body, id, invalid, list, not_found, pages::trash_flag,
    query_paging,
};
use crate::notion::{
    blocks,
    model::{Block, Stamp, Store, Version},
};

/// A page or a block as a block.
fn as_block(store: &Store, bid: Uuid, version: Version) -> Result<Value, Refusal> {
    if let Some(b) = store.blocks.get(&bid) {
        return Ok(b.json(version));
    }
    let page = store
        .pages
        .get(&bid)
        .ok_or_else(|| not_found("block", bid))?;
    let block = Block {
        id: page.id,
        parent: page.parent.clone(),
        kind: "child_page".into(),
        content: json!({ "title": page.title() }),
        children: page.children.clone(),
        in_trash: page.in_trash,
        stamp: page.stamp.clone(),
    };
    Ok(block.json(version))
}

pub(super) async fn block_get(
    State(notion): Shared,
    axum::Extension(version): Speaks,
    PathId(bid): PathId,
) -> Answer {
    let store = notion.store();
    Ok(Json(as_block(&store, bid, version)?).into_response())
}

pub(super) async fn block_update(
    State(notion): Shared,
    axum::Extension(version): Speaks,
    PathId(bid): PathId,
    bytes: Bytes,
) -> Answer {
    let v = body(&bytes)?;
    let trash = trash_flag(&v, version)?;
    let mut store = notion.store();
    let block = store
        .blocks
        .get(&bid)
        .ok_or_else(|| not_found("block", bid))?
        .clone();
    if block.in_trash && trash != Some(false) {
        return Err(invalid(
            "Can't edit block that is archived. You must unarchive the block before editing.",
        ));
    }
    let content = match v.get(&block.kind) {
        None => None,
        Some(given) => {
            if given.get("children").is_some() {
                return Err(invalid(format!(
                    "body failed validation: body.{}.children should be appended with PATCH /v1/blocks/{{id}}/children.",
                    block.kind
                )));
            }
            let mut count = 0;
            let item = json!([{ "type": block.kind, (block.kind.clone()): given }]);
            let mut checked = blocks::blocks(&item, "body", 2, &mut count).map_err(invalid)?;
            Some(checked.remove(0).content)
        }
    };
    if let Some(other) = v.as_object().and_then(|m| {
        m.keys()
            .find(|k| !matches!(k.as_str(), "in_trash" | "archived" | "type") && **k != block.kind)
    }) {
        return Err(invalid(format!(
            "body failed validation: body.{other} does not match the block's type ({}).",
            block.kind
        )));
    }
    let now = jiff::Timestamp::now().as_second();
    let stored = store.blocks.get_mut(&bid).expect("found above");
    if let Some(c) = content {
        stored.content = c;
    }
    if let Some(t) = trash {
        stored.in_trash = t;
    }
    stored.stamp.edited = now;
    stored.stamp.edited_by = notion.bot;
    Ok(Json(stored.json(version)).into_response())
}

pub(super) async fn block_delete(
    State(notion): Shared,
    axum::Extension(version): Speaks,
    PathId(bid): PathId,
) -> Answer {
    let mut store = notion.store();
    let now = jiff::Timestamp::now().as_second();
    if let Some(page) = store.pages.get_mut(&bid) {
        page.in_trash = true;
        page.stamp.edited = now;
    } else {
        let block = store
            .blocks
            .get_mut(&bid)
            .ok_or_else(|| not_found("block", bid))?;
        block.in_trash = true;
        block.stamp.edited = now;
    }
    Ok(Json(as_block(&store, bid, version)?).into_response())
}

fn container(store: &Store, pid: Uuid) -> Result<(), Refusal> {
    if (store.pages.contains_key(&pid) || store.blocks.contains_key(&pid)) && !store.trashed(pid) {
        Ok(())
    } else {
        Err(not_found("block", pid))
    }
}

pub(super) async fn children_list(
    State(notion): Shared,
    axum::Extension(version): Speaks,
    PathId(pid): PathId,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Answer {
    let (size, cursor) = query_paging(&q)?;
    let store = notion.store();
    container(&store, pid)?;
    let items = store
        .children(pid)
        .into_iter()
        .map(|b| (b.id, b.json(version)))
        .collect();
    list(items, size, cursor, "block")
}

pub(super) async fn children_append(
    State(notion): Shared,
    axum::Extension(version): Speaks,
    PathId(pid): PathId,
    bytes: Bytes,
) -> Answer {
    let v = body(&bytes)?;
    let mut count = 0;
    let new = blocks::blocks(&v["children"], "body.children", 1, &mut count).map_err(invalid)?;
    let after = match version {
        Version::V2025 => {
            if v.get("position").is_some() {
                return Err(invalid(
                    "body failed validation: body.position is a field of Notion-Version 2026-03-11; this request speaks 2025-09-03 (use after).",
                ));
            }
            v["after"]
                .as_str()
                .map(|s| id(s, "body.after"))
                .transpose()?
                .map(Some)
        }
        Version::V2026 => {
            if v.get("after").is_some() {
                return Err(invalid(
                    "body failed validation: body.after was replaced by body.position in 2026-03-11.",
                ));
            }
            match v["position"]["type"].as_str() {
                None | Some("end") => None,
                Some("start") => Some(None),
                Some("after_block") => Some(Some(id(
                    v["position"]["after_block"]["id"]
                        .as_str()
                        .unwrap_or_default(),
                    "body.position.after_block.id",
                )?)),
                Some(other) => {
                    return Err(invalid(format!(
                        "body failed validation: body.position.type should be `after_block`, `start` or `end`, instead was {other:?}."
                    )));
                }
            }
        }
    };
    let mut store = notion.store();
    container(&store, pid)?;
    let siblings: Vec<Uuid> = store.child_ids(pid).cloned().unwrap_or_default();
    // `Some(None)`: at the start; `Some(Some(id))`: after that child; `None`: at the end.
    let at = match after {
        None => None,
        Some(None) => Some(0),
        Some(Some(after)) => Some(
            siblings
                .iter()
                .position(|c| *c == after)
                .map(|i| i + 1)
                .ok_or_else(|| invalid(format!("Block {after} is not a child of {pid}.")))?,
        ),
    };
    let now = jiff::Timestamp::now().as_second();
    let stamp = Stamp::new(now, notion.bot);
    let ids = store.insert_blocks(pid, new, at, &stamp);
    if let Some(page) = store.pages.get_mut(&pid) {
        page.stamp.edited = now;
    }
    let items = ids
        .iter()
        .filter_map(|i| store.blocks.get(i))
        .map(|b| (b.id, b.json(version)))
        .collect();
    list(items, 100, None, "block")
}
