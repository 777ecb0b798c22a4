//! Data source queries: Notion's filter grammar (`and`/`or` nested two deep, a condition per
//! property type, timestamp filters) checked against the schema with Notion's messages, and
//! sorts by property or timestamp.

use std::cmp::Ordering;

use serde_json::Value;

use super::{
    blocks::Invalid,
    model::{DataSource, Page, plain},
    properties::parse_date,
};

/// Conditions each property type takes.
fn operators(kind: &str) -> &'static [&'static str] {
    match kind {
        "title" | "rich_text" | "url" | "email" | "phone_number" => &[
            "equals",
            "does_not_equal",
            "contains",
            "does_not_contain",
            "starts_with",
            "ends_with",
            "is_empty",
            "is_not_empty",
        ],
        "number" => &[
            "equals",
            "does_not_equal",
            "greater_than",
            "less_than",
            "greater_than_or_equal_to",
            "less_than_or_equal_to",
            "is_empty",
            "is_not_empty",
        ],
        "checkbox" => &["equals", "does_not_equal"],
        "select" | "status" => &["equals", "does_not_equal", "is_empty", "is_not_empty"],
        "multi_select" | "people" | "relation" => {
            &["contains", "does_not_contain", "is_empty", "is_not_empty"]
        }
        "date" | "created_time" | "last_edited_time" => &[
            "equals",
            "before",
            "after",
            "on_or_before",
            "on_or_after",
            "is_empty",
            "is_not_empty",
            "past_week",
            "past_month",
            "past_year",
            "this_week",
            "next_week",
            "next_month",
            "next_year",
        ],
        _ => &[],
    }
}

/// A checked filter.
#[derive(Debug, Clone)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    /// A property (by name) or a timestamp, its type, the operator and the operand.
    Condition {
        property: Option<String>,
        kind: String,
        op: String,
        operand: Value,
    },
}

/// Check `value` against `source`'s schema.
pub fn parse(value: &Value, source: &DataSource, depth: usize) -> Result<Filter, Invalid> {
    for (key, ctor) in [
        ("and", Filter::And as fn(Vec<Filter>) -> Filter),
        ("or", Filter::Or),
    ] {
        if let Some(list) = value.get(key) {
            if depth >= 2 {
                return Err(
                    "body failed validation: body.filter is nested more than two levels deep."
                        .into(),
                );
            }
            let items = list.as_array().ok_or_else(|| {
                format!("body failed validation: body.filter.{key} should be an array.")
            })?;
            return items
                .iter()
                .map(|f| parse(f, source, depth + 1))
                .collect::<Result<Vec<_>, _>>()
                .map(ctor);
        }
    }
    let (property, kind) = if let Some(ts) = value["timestamp"].as_str() {
        if !matches!(ts, "created_time" | "last_edited_time") {
            return Err(format!(
                "body failed validation: body.filter.timestamp should be `created_time` or `last_edited_time`, instead was {ts:?}."
            ));
        }
        (None, ts.to_owned())
    } else {
        let name = value["property"].as_str().ok_or_else(|| {
            "body failed validation: body.filter should define `property`, `timestamp`, `and` or `or`.".to_owned()
        })?;
        let p = source
            .properties
            .get(name)
            .or_else(|| source.properties.values().find(|p| p.id == name))
            .ok_or_else(|| format!("Could not find property with name or id: {name}"))?;
        let name = source
            .properties
            .iter()
            .find(|(_, q)| q.id == p.id)
            .map(|(n, _)| n.clone())
            .unwrap_or_default();
        (Some(name), p.kind.clone())
    };
    // The condition sits under the property's type (or `date` for a date-like formula).
    let body = value.get(&kind).and_then(Value::as_object).ok_or_else(|| {
        format!(
            "body failed validation: body.filter.{kind} should be defined for a {kind} property."
        )
    })?;
    let (op, operand) = body.iter().next().ok_or_else(|| {
        format!("body failed validation: body.filter.{kind} should name a condition.")
    })?;
    if !operators(&kind).contains(&op.as_str()) {
        return Err(format!(
            "body failed validation: body.filter.{kind}.{op} is not a condition of a {kind} property; use one of {}.",
            operators(&kind).join(", ")
        ));
    }
    Ok(Filter::Condition {
        property,
        kind,
        op: op.clone(),
        operand: operand.clone(),
    })
}

/// The comparable forms of a page's property: its text, number or time(s), and its items.
struct Cell {
    text: String,
    number: Option<f64>,
    time: Option<i64>,
    items: Vec<String>,
    empty: bool,
}

fn cell(page: &Page, property: Option<&str>, kind: &str) -> Cell {
    let (value, time) = match property {
        None => {
            let t = if kind == "created_time" {
                page.stamp.created
            } else {
                page.stamp.edited
            };
            (Value::Null, Some(t))
        }
        Some(name) => {
            let v = page
                .properties
                .get(name)
                .map(|p| p[kind].clone())
                .unwrap_or(Value::Null);
            let t = match kind {
                "date" => v["start"].as_str().and_then(parse_date),
                _ => None,
            };
            (v, t)
        }
    };
    let text = match kind {
        "title" | "rich_text" => plain(&value),
        "select" | "status" => value["name"].as_str().unwrap_or_default().to_owned(),
        _ => value.as_str().unwrap_or_default().to_owned(),
    };
    let items: Vec<String> = match kind {
        "multi_select" => value
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| o["name"].as_str().map(str::to_owned))
            .collect(),
        "people" | "relation" => value
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| o["id"].as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    let empty = match kind {
        "multi_select" | "people" | "relation" => items.is_empty(),
        "number" => value.is_null(),
        "date" | "created_time" | "last_edited_time" => time.is_none(),
        "checkbox" => false,
        _ => text.is_empty(),
    };
    Cell {
        number: value.as_f64(),
        text,
        time,
        items,
        empty,
    }
}

const DAY: i64 = 86_400;

fn date_matches(op: &str, operand: &Value, at: Option<i64>, now: i64) -> bool {
    let Some(t) = at else {
        return op == "is_empty";
    };
    let given = operand.as_str().and_then(parse_date);
    // A date without a time compares by day.
    let day_only = operand.as_str().is_some_and(|s| s.len() == 10);
    let day = |x: i64| x.div_euclid(DAY);
    match (op, given) {
        ("is_not_empty", _) => true,
        ("is_empty", _) => false,
        ("equals", Some(g)) if day_only => day(t) == day(g),
        ("equals", Some(g)) => t == g,
        ("before", Some(g)) if day_only => day(t) < day(g),
        ("before", Some(g)) => t < g,
        ("after", Some(g)) if day_only => day(t) > day(g),
        ("after", Some(g)) => t > g,
        ("on_or_before", Some(g)) if day_only => day(t) <= day(g),
        ("on_or_before", Some(g)) => t <= g,
        ("on_or_after", Some(g)) if day_only => day(t) >= day(g),
        ("on_or_after", Some(g)) => t >= g,
        ("past_week", _) => t <= now && t >= now - 7 * DAY,
        ("past_month", _) => t <= now && t >= now - 30 * DAY,
        ("past_year", _) => t <= now && t >= now - 365 * DAY,
        ("next_week", _) => t >= now && t <= now + 7 * DAY,
        ("next_month", _) => t >= now && t <= now + 30 * DAY,
        ("next_year", _) => t >= now && t <= now + 365 * DAY,
        ("this_week", _) => day(t) / 7 == day(now) / 7,
        _ => false,
    }
}

/// Whether `page` passes `filter` at `now`.
pub fn matches(filter: &Filter, page: &Page, now: i64) -> bool {
    match filter {
        Filter::And(all) => all.iter().all(|f| matches(f, page, now)),
        Filter::Or(any) => any.iter().any(|f| matches(f, page, now)),
        Filter::Condition {
            property,
            kind,
            op,
            operand,
        } => {
            let c = cell(page, property.as_deref(), kind);
            let s = operand.as_str().unwrap_or_default();
            let lower = |x: &str| x.to_lowercase();
            match (kind.as_str(), op.as_str()) {
                (_, "is_empty")
                    if !matches!(kind.as_str(), "date" | "created_time" | "last_edited_time") =>
                {
                    c.empty
                }
                (_, "is_not_empty")
                    if !matches!(kind.as_str(), "date" | "created_time" | "last_edited_time") =>
                {
                    !c.empty
                }
                ("date" | "created_time" | "last_edited_time", _) => {
                    date_matches(op, operand, c.time, now)
                }
                ("number", _) => {
                    let (Some(x), Some(y)) = (c.number, operand.as_f64()) else {
                        return false;
                    };
                    match op.as_str() {
                        "equals" => x == y,
                        "does_not_equal" => x != y,
                        "greater_than" => x > y,
                        "less_than" => x < y,
                        "greater_than_or_equal_to" => x >= y,
                        _ => x <= y,
                    }
                }
                ("checkbox", "equals") => {
                    page.properties
                        .get(property.as_deref().unwrap_or_default())
                        .map(|p| p["checkbox"].clone())
                        == Some(operand.clone())
                }
                ("checkbox", _) => {
                    page.properties
                        .get(property.as_deref().unwrap_or_default())
                        .map(|p| p["checkbox"].clone())
                        != Some(operand.clone())
                }
                ("multi_select" | "people" | "relation", "contains") => {
                    c.items.iter().any(|i| i == s)
                }
                ("multi_select" | "people" | "relation", _) => !c.items.iter().any(|i| i == s),
                (_, "equals") => c.text == s,
                (_, "does_not_equal") => c.text != s,
                (_, "contains") => lower(&c.text).contains(&lower(s)),
                (_, "does_not_contain") => !lower(&c.text).contains(&lower(s)),
                (_, "starts_with") => lower(&c.text).starts_with(&lower(s)),
                (_, "ends_with") => lower(&c.text).ends_with(&lower(s)),
                _ => false,
            }
        }
    }
}

/// Sort `pages` by `sorts` (`[{property|timestamp, direction}]`), checked against `source`.
pub fn sort(pages: &mut [&Page], sorts: &Value, source: &DataSource) -> Result<(), Invalid> {
    let Some(sorts) = sorts.as_array() else {
        return Ok(());
    };
    let mut keys = Vec::new();
    for (i, s) in sorts.iter().enumerate() {
        let descending = match s["direction"].as_str() {
            Some("ascending") | None => false,
            Some("descending") => true,
            Some(d) => {
                return Err(format!(
                    "body failed validation: body.sorts[{i}].direction should be `ascending` or `descending`, instead was {d:?}."
                ));
            }
        };
        let key = match (s["property"].as_str(), s["timestamp"].as_str()) {
            (Some(name), _) => {
                let p = source.properties.get(name).ok_or_else(|| {
                    format!("Could not find sort property with name or id: {name}")
                })?;
                (Some(name.to_owned()), p.kind.clone())
            }
            (None, Some(ts @ ("created_time" | "last_edited_time"))) => (None, ts.to_owned()),
            _ => {
                return Err(format!(
                    "body failed validation: body.sorts[{i}] should have `property` or `timestamp`."
                ));
            }
        };
        keys.push((key, descending));
    }
    pages.sort_by(|a, b| {
        for ((property, kind), descending) in &keys {
            let (x, y) = (
                cell(a, property.as_deref(), kind),
                cell(b, property.as_deref(), kind),
            );
            let order = match (x.time, y.time, x.number, y.number) {
                (Some(p), Some(q), _, _) => p.cmp(&q),
                (_, _, Some(p), Some(q)) => p.partial_cmp(&q).unwrap_or(Ordering::Equal),
                _ => x.text.cmp(&y.text),
            };
            let order = if *descending { order.reverse() } else { order };
            if order != Ordering::Equal {
                return order;
            }
        }
        Ordering::Equal
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::notion::seed;

    #[test]
    fn conditions_are_checked_against_the_schema_and_evaluated() {
        let (notion, ids) = seed::shop(1_800_000_000, "t".into());
        let store = notion.store();
        let source = &store.data_sources[&ids.incidents.1];
        let unknown = parse(
            &json!({ "property": "Nope", "select": { "equals": "x" } }),
            source,
            0,
        );
        assert_eq!(
            unknown.unwrap_err(),
            "Could not find property with name or id: Nope"
        );
        let wrong = parse(
            &json!({ "property": "Severity", "select": { "contains": "SEV" } }),
            source,
            0,
        )
        .unwrap_err();
        assert!(
            wrong.contains("use one of equals, does_not_equal, is_empty, is_not_empty"),
            "{wrong}"
        );
        let deep = json!({ "and": [{ "or": [{ "and": [] }] }] });
        assert!(parse(&deep, source, 0).unwrap_err().contains("two levels"));
        let report = store
            .pages
            .values()
            .find(|p| p.title() == "Worker OOM-killed after the 1.3 rollout")
            .unwrap();
        let now = 1_800_000_000;
        // Dates are relative to the `now` the filters are matched at, never to the calendar.
        let tomorrow = jiff::Timestamp::from_second(now + DAY)
            .unwrap()
            .strftime("%Y-%m-%d")
            .to_string();
        for (filter, expected) in [
            (
                json!({ "property": "Severity", "select": { "equals": "SEV2" } }),
                true,
            ),
            (
                json!({ "property": "Duration (min)", "number": { "greater_than": 100 } }),
                true,
            ),
            (
                json!({ "property": "Started", "date": { "past_week": {} } }),
                false,
            ),
            (
                json!({ "property": "Started", "date": { "past_month": {} } }),
                false,
            ),
            (
                json!({ "property": "Started", "date": { "past_year": {} } }),
                true,
            ),
            (
                json!({ "property": "Title", "title": { "contains": "oom" } }),
                true,
            ),
            (
                json!({ "timestamp": "created_time", "created_time": { "before": tomorrow } }),
                true,
            ),
            (
                json!({ "or": [{ "property": "Status", "status": { "equals": "Open" } }, { "property": "PR", "url": { "is_not_empty": true } }] }),
                true,
            ),
        ] {
            let f = parse(&filter, source, 0).unwrap();
            assert_eq!(matches(&f, report, now), expected, "{filter}");
        }
    }
}
