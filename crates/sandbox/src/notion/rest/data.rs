//! Databases (containers of data sources), data sources (their schema) and queries of a data
//! source with Notion's filters and sorts, paged.

use axum::{Json, body::Bytes, extract::State, response::IntoResponse};
use serde_json::Value;

use super::{Answer, PathId, Shared, Speaks, body, invalid, list, not_found, paging};
use crate::notion::{model::Parent, query};

pub(super) async fn database_get(
    State(notion): Shared,
    axum::Extension(version): Speaks,
    PathId(did): PathId,
) -> Answer {
    let store = notion.store();
    let db = store
        .databases
        .get(&did)
        .ok_or_else(|| not_found("database", did))?;
    Ok(Json(db.json(&store, version)).into_response())
}

pub(super) async fn data_source_get(
    State(notion): Shared,
    axum::Extension(version): Speaks,
    PathId(sid): PathId,
) -> Answer {
    let store = notion.store();
    let ds = store
        .data_sources
        .get(&sid)
        .ok_or_else(|| not_found("data source", sid))?;
    Ok(Json(ds.json(&store, version)).into_response())
}

/// `POST /v1/data_sources/{id}/query`: rows matching the filter, in the sorts' order (newest
/// created first without sorts), paged.
pub(super) async fn query(
    State(notion): Shared,
    axum::Extension(version): Speaks,
    PathId(sid): PathId,
    bytes: Bytes,
) -> Answer {
    let v = body(&bytes)?;
    let (size, cursor) = paging(v.get("page_size"), v.get("start_cursor"))?;
    let store = notion.store();
    let source = store
        .data_sources
        .get(&sid)
        .ok_or_else(|| not_found("data source", sid))?;
    let filter = match v.get("filter") {
        None | Some(Value::Null) => None,
        Some(f) => Some(query::parse(f, source, 0).map_err(invalid)?),
    };
    let in_trash = v["in_trash"] == true || v["archived"] == true;
    let now = jiff::Timestamp::now().as_second();
    let mut rows: Vec<_> = store
        .pages
        .values()
        .filter(
            |p| matches!(&p.parent, Parent::DataSource { data_source, .. } if *data_source == sid),
        )
        .filter(|p| p.in_trash == in_trash)
        .filter(|p| filter.as_ref().is_none_or(|f| query::matches(f, p, now)))
        .collect();
    rows.sort_by_key(|p| std::cmp::Reverse((p.stamp.created, p.id)));
    query::sort(&mut rows, &v["sorts"], source).map_err(invalid)?;
    let items = rows.iter().map(|p| (p.id, p.json(version))).collect();
    list(items, size, cursor, "page_or_data_source")
}
