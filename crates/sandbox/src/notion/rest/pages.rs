//! Pages — create (under a page, in a data source or a database with one source, with
//! properties and children), retrieve, update (properties, icon, trash) — and search by title
//! over pages and data sources.

use axum::{Json, body::Bytes, extract::State, response::IntoResponse};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Answer, PathId, Refusal, Shared, Speaks, body, id, invalid, list, not_found, paging};
use crate::notion::{
    blocks,
    model::{Page, Parent, Stamp, Store, Version, plain},
    properties::{row_properties, title_only},
};

/// The `archived`/`in_trash` of an update, as the version names it.
pub(super) fn trash_flag(v: &Value, version: Version) -> Result<Option<bool>, Refusal> {
    if v.get("archived").is_some() && version == Version::V2026 {
        return Err(invalid(
            "body failed validation: body.archived is not a field in this version; use in_trash.",
        ));
    }
    Ok(v["in_trash"].as_bool().or_else(|| v["archived"].as_bool()))
}

/// Where a new page goes, and the data source whose schema its properties follow.
fn parent_of(store: &Store, parent: &Value) -> Result<(Parent, Option<Uuid>), Refusal> {
    let uuid = |key: &str| {
        parent[key]
            .as_str()
            .map(|s| id(s, &format!("body.parent.{key}")))
            .transpose()
    };
    if let Some(ds) = uuid("data_source_id")? {
        let source = store
            .data_sources
            .get(&ds)
            .ok_or_else(|| not_found("data source", ds))?;
        return Ok((
            Parent::DataSource {
                data_source: ds,
                database: source.database,
            },
            Some(ds),
        ));
    }
    if let Some(db) = uuid("database_id")? {
        let database = store
            .databases
            .get(&db)
            .ok_or_else(|| not_found("database", db))?;
        let [only] = database.data_sources.as_slice() else {
            return Err(invalid(
                "Databases with multiple data sources are not supported in this API version: use parent.data_source_id.",
            ));
        };
        return Ok((
            Parent::DataSource {
                data_source: *only,
                database: db,
            },
            Some(*only),
        ));
    }
    if let Some(page) = uuid("page_id")? {
        if !store.pages.contains_key(&page) || store.trashed(page) {
            return Err(not_found("page", page));
        }
        return Ok((Parent::Page(page), None));
    }
    if parent["workspace"] == true {
        return Ok((Parent::Workspace, None));
    }
    Err(invalid(
        "body failed validation: body.parent should define page_id, data_source_id, database_id or workspace.",
    ))
}

pub(super) async fn page_create(
    State(notion): Shared,
    axum::Extension(version): Speaks,
    bytes: Bytes,
) -> Answer {
    let v = body(&bytes)?;
    if v.get("markdown").is_some() || v.get("content").is_some() {
        return Err(invalid(
            "body failed validation: this workspace takes a page's content as children blocks.",
        ));
    }
    let mut count = 0;
    let children = match v.get("children") {
        None | Some(Value::Null) => Vec::new(),
        Some(c) => blocks::blocks(c, "body.children", 1, &mut count).map_err(invalid)?,
    };
    let mut store = notion.store();
    let (parent, source) = parent_of(&store, &v["parent"])?;
    let properties = match source {
        Some(ds) => {
            let mut schema = store.data_sources.remove(&ds).expect("found above");
            let result = row_properties(&store, &mut schema, &v["properties"], None);
            store.data_sources.insert(ds, schema);
            result.map_err(invalid)?
        }
        None => title_only(&v["properties"]).map_err(invalid)?,
    };
    let now = jiff::Timestamp::now().as_second();
    let stamp = Stamp::new(now, notion.bot);
    let page = Page {
        id: Uuid::new_v4(),
        parent: parent.clone(),
        properties,
        children: Vec::new(),
        icon: v.get("icon").cloned().filter(|i| !i.is_null()),
        in_trash: false,
        stamp: stamp.clone(),
    };
    let pid = page.id;
    store.pages.insert(pid, page);
    store.insert_blocks(pid, children, None, &stamp);
    // A page under a page is also a `child_page` block of it.
    if let Parent::Page(container) = parent {
        let block = crate::notion::blocks::NewBlock {
            kind: "child_page".into(),
            content: json!({ "title": store.pages[&pid].title() }),
            children: Vec::new(),
        };
        store.insert_blocks(container, vec![block], None, &stamp);
    }
    Ok(Json(store.pages[&pid].json(version)).into_response())
}

pub(super) async fn page_get(
    State(notion): Shared,
    axum::Extension(version): Speaks,
    PathId(pid): PathId,
) -> Answer {
    let store = notion.store();
    let page = store
        .pages
        .get(&pid)
        .ok_or_else(|| not_found("page", pid))?;
    Ok(Json(page.json(version)).into_response())
}

pub(super) async fn page_update(
    State(notion): Shared,
    axum::Extension(version): Speaks,
    PathId(pid): PathId,
    bytes: Bytes,
) -> Answer {
    let v = body(&bytes)?;
    let trash = trash_flag(&v, version)?;
    let mut store = notion.store();
    let page = store
        .pages
        .get(&pid)
        .ok_or_else(|| not_found("page", pid))?
        .clone();
    if page.in_trash && trash != Some(false) {
        return Err(invalid(
            "Can't edit page that is archived. You must unarchive the page before editing.",
        ));
    }
    let properties = match (&page.parent, v.get("properties")) {
        (_, None) => page.properties.clone(),
        (Parent::DataSource { data_source, .. }, Some(given)) => {
            let mut schema = store
                .data_sources
                .remove(data_source)
                .ok_or_else(|| not_found("data source", data_source))?;
            let result = row_properties(&store, &mut schema, given, Some(&page.properties));
            store.data_sources.insert(*data_source, schema);
            result.map_err(invalid)?
        }
        (_, Some(given)) => title_only(given).map_err(invalid)?,
    };
    let now = jiff::Timestamp::now().as_second();
    let stored = store.pages.get_mut(&pid).expect("found above");
    stored.properties = properties;
    if let Some(t) = trash {
        stored.in_trash = t;
    }
    if let Some(icon) = v.get("icon") {
        stored.icon = Some(icon.clone()).filter(|i| !i.is_null());
    }
    stored.stamp.edited = now;
    stored.stamp.edited_by = notion.bot;
    Ok(Json(stored.json(version)).into_response())
}

/// `POST /v1/search`: pages and data sources whose title holds the query.
pub(super) async fn search(
    State(notion): Shared,
    axum::Extension(version): Speaks,
    bytes: Bytes,
) -> Answer {
    let v = body(&bytes)?;
    let (size, cursor) = paging(v.get("page_size"), v.get("start_cursor"))?;
    let query = v["query"].as_str().unwrap_or_default().to_lowercase();
    let only = match (&v["filter"]["property"], v["filter"]["value"].as_str()) {
        (Value::Null, _) => None,
        (p, Some(kind @ ("page" | "data_source"))) if p == "object" => Some(kind),
        (_, Some("database")) => {
            return Err(invalid(
                "body failed validation: body.filter.value should be `page` or `data_source`, instead was `\"database\"` (databases hold data sources since 2025-09-03).",
            ));
        }
        _ => {
            return Err(invalid(
                "body failed validation: body.filter should be { property: \"object\", value: \"page\" | \"data_source\" }.",
            ));
        }
    };
    let descending = match v["sort"]["direction"].as_str() {
        None | Some("descending") => true,
        Some("ascending") => false,
        Some(d) => {
            return Err(invalid(format!(
                "body failed validation: body.sort.direction should be `ascending` or `descending`, instead was {d:?}."
            )));
        }
    };
    let store = notion.store();
    let mut found: Vec<(i64, Uuid, Value)> = Vec::new();
    if only != Some("data_source") {
        for p in store.pages.values().filter(|p| !store.trashed(p.id)) {
            if p.title().to_lowercase().contains(&query) {
                found.push((p.stamp.edited, p.id, p.json(version)));
            }
        }
    }
    if only != Some("page") {
        for d in store
            .data_sources
            .values()
            .filter(|d| !store.trashed(d.database))
        {
            let title = store
                .databases
                .get(&d.database)
                .map(|db| plain(&db.title))
                .unwrap_or_default();
            if d.name.to_lowercase().contains(&query) || title.to_lowercase().contains(&query) {
                found.push((d.stamp.edited, d.id, d.json(&store, version)));
            }
        }
    }
    found.sort_by_key(|(t, id, _)| (*t, *id));
    if descending {
        found.reverse();
    }
    list(
        found.into_iter().map(|(_, id, v)| (id, v)).collect(),
        size,
        cursor,
        "page_or_data_source",
    )
}
