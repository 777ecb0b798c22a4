//! Page property values: a request's values checked against the data source's schema (or, for a
//! page under a page, its title) and stored as Notion returns them (`{id,type,<type>:…}`); new
//! select and multi-select options are added as Notion adds them, a status must exist.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    blocks::{Invalid, MAX_URL, rich_text},
    model::{DataSource, Property, Store},
};

const OPTION_COLORS: &[&str] = &[
    "blue", "green", "orange", "purple", "red", "yellow", "pink", "brown", "gray",
];

fn option<'a>(p: &'a mut Property, name: &str, create: bool) -> Option<&'a Value> {
    let options = p.config.get_mut("options")?.as_array_mut()?;
    if let Some(i) = options.iter().position(|o| o["name"] == name) {
        return options.get(i);
    }
    if !create {
        return None;
    }
    let color = OPTION_COLORS[options.len() % OPTION_COLORS.len()];
    options.push(json!({ "id": Uuid::new_v4().simple().to_string()[..4], "name": name, "color": color, "description": null }));
    options.last()
}

/// One value, checked against its schema property; the stored `{id,type,<type>}`.
fn value(
    store: &Store,
    name: &str,
    p: &mut Property,
    given: &Value,
    path: &str,
) -> Result<Value, Invalid> {
    let kind = p.kind.clone();
    let v = given.get(&kind).unwrap_or(given);
    let bad = |what: &str| format!("{path}.{kind} {what}.");
    let stored = match kind.as_str() {
        "title" | "rich_text" => rich_text(v, &format!("{path}.{kind}"))?,
        "number" => match v {
            Value::Null => Value::Null,
            Value::Number(_) => v.clone(),
            _ => return Err(bad("should be a number or `null`")),
        },
        "checkbox" => match v {
            Value::Bool(_) => v.clone(),
            _ => return Err(bad("should be a boolean")),
        },
        "url" | "email" | "phone_number" => match v {
            Value::Null => Value::Null,
            Value::String(s) if s.len() <= MAX_URL => v.clone(),
            _ => {
                return Err(bad(
                    "should be a string of at most 2000 characters, or `null`",
                ));
            }
        },
        "select" | "status" => match v {
            Value::Null => Value::Null,
            _ => {
                let wanted = v["name"]
                    .as_str()
                    .ok_or_else(|| bad("should have a `name`"))?;
                match option(p, wanted, kind == "select") {
                    Some(o) => o.clone(),
                    None => {
                        return Err(format!(
                            "Invalid status option. Status option {wanted:?} does not exist for property {name:?}."
                        ));
                    }
                }
            }
        },
        "multi_select" => {
            let items = v.as_array().ok_or_else(|| bad("should be an array"))?;
            let mut out = Vec::new();
            for item in items {
                let n = item["name"]
                    .as_str()
                    .ok_or_else(|| bad("items should have a `name`"))?;
                if let Some(o) = option(p, n, true) {
                    out.push(o.clone());
                }
            }
            Value::Array(out)
        }
        "date" => match v {
            Value::Null => Value::Null,
            _ => {
                let start = v["start"]
                    .as_str()
                    .ok_or_else(|| bad("should have a `start`"))?;
                if parse_date(start).is_none() {
                    return Err(bad(&format!(
                        "start should be an ISO 8601 date, instead was {start:?}"
                    )));
                }
                if let Some(end) = v["end"].as_str()
                    && parse_date(end).is_none()
                {
                    return Err(bad(&format!(
                        "end should be an ISO 8601 date, instead was {end:?}"
                    )));
                }
                json!({ "start": start, "end": v["end"], "time_zone": v["time_zone"] })
            }
        },
        "people" => {
            let items = v.as_array().ok_or_else(|| bad("should be an array"))?;
            let mut out = Vec::new();
            for item in items {
                let id = item["id"]
                    .as_str()
                    .and_then(|s| Uuid::parse_str(s).ok())
                    .ok_or_else(|| bad("items should have a user `id`"))?;
                let user = store
                    .users
                    .iter()
                    .find(|u| u.id == id)
                    .ok_or_else(|| format!("Could not find user with ID: {id}."))?;
                out.push(user.json());
            }
            Value::Array(out)
        }
        other => {
            return Err(format!(
                "{path} is a {other} property, which cannot be written."
            ));
        }
    };
    Ok(json!({ "id": p.id, "type": kind, (kind.clone()): stored }))
}

/// A date or date-time of Notion's (`2026-11-30`, `2026-11-30T14:05:00Z`, with an offset).
pub fn parse_date(text: &str) -> Option<i64> {
    if let Ok(t) = text.parse::<jiff::Timestamp>() {
        return Some(t.as_second());
    }
    let date: jiff::civil::Date = text.parse().ok()?;
    date.to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp().as_second())
}

/// The properties of a new or updated row of `source`: each given value checked, the rest
/// empty (new rows) or kept (updates).
pub fn row_properties(
    store: &Store,
    source: &mut DataSource,
    given: &Value,
    existing: Option<&BTreeMap<String, Value>>,
) -> Result<BTreeMap<String, Value>, Invalid> {
    let given = match given {
        Value::Null => serde_json::Map::new(),
        Value::Object(m) => m.clone(),
        _ => return Err("body failed validation: body.properties should be an object.".into()),
    };
    for key in given.keys() {
        if !source.properties.contains_key(key) && !source.properties.values().any(|p| &p.id == key)
        {
            return Err(format!(
                "{key} is not a property that exists. Valid properties: {}.",
                source
                    .properties
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    let mut out = BTreeMap::new();
    let names: Vec<String> = source.properties.keys().cloned().collect();
    for name in names {
        let p = source.properties.get_mut(&name).expect("listed above");
        let supplied = given.get(&name).or_else(|| given.get(&p.id));
        let stored = match (supplied, existing.and_then(|e| e.get(&name))) {
            (Some(v), _) => value(store, &name, p, v, &format!("body.properties.{name}"))?,
            (None, Some(kept)) => kept.clone(),
            (None, None) => json!({ "id": p.id, "type": p.kind, (p.kind.clone()): empty(&p.kind) }),
        };
        out.insert(name, stored);
    }
    Ok(out)
}

/// The empty value of a property type.
pub fn empty(kind: &str) -> Value {
    match kind {
        "title" | "rich_text" | "multi_select" | "people" | "relation" | "files" => json!([]),
        "checkbox" => json!(false),
        "created_time" | "last_edited_time" => Value::Null,
        _ => Value::Null,
    }
}

/// The properties of a page under a page or the workspace: only its title.
pub fn title_only(given: &Value) -> Result<BTreeMap<String, Value>, Invalid> {
    let title = given
        .get("title")
        .map(|t| t.get("title").unwrap_or(t))
        .or_else(|| {
            given
                .as_object()
                .and_then(|m| m.values().find_map(|v| v.get("title")))
        })
        .cloned()
        .unwrap_or_else(|| json!([]));
    let title = rich_text(&title, "body.properties.title.title")?;
    if let Some(other) = given.as_object().and_then(|m| {
        m.keys()
            .find(|k| *k != "title" && m[*k].get("title").is_none())
    }) {
        return Err(format!(
            "{other} is not a property that exists. A page that is not in a database has only a title."
        ));
    }
    Ok(BTreeMap::from([(
        "title".to_owned(),
        json!({ "id": "title", "type": "title", "title": title }),
    )]))
}
