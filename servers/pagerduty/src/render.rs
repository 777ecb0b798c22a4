//! The compact text every tool group shares: times as people read them during an incident,
//! references by name, upstream text made safe, and a short form of alert details.

use jiff::Timestamp;
pub use opsmcp_core::{
    or_fail,
    output::{Table, ago, short, span, untrusted_line, when},
    tools::{failure, text},
};
use serde_json::Value;

/// A PagerDuty time.
pub fn parse(t: &Value) -> Option<Timestamp> {
    t.as_str()?.parse().ok()
}

/// The readable name of a reference (`summary`, else `name`, else `id`), made safe.
pub fn name(reference: &Value) -> String {
    untrusted_line(
        reference["summary"]
            .as_str()
            .or_else(|| reference["name"].as_str())
            .or_else(|| reference["id"].as_str())
            .unwrap_or("—"),
    )
}

/// The assignees of an incident (user references).
pub fn assignees(incident: &Value) -> Vec<&Value> {
    incident["assignments"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| &a["assignee"])
        .collect()
}

/// Who acknowledged an incident, and when: `Maya Chen 14:06Z`.
pub fn acknowledgers(incident: &Value, now: Timestamp) -> Vec<String> {
    incident["acknowledgements"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            format!(
                "{} {}",
                name(&a["acknowledger"]),
                parse(&a["at"]).map_or_else(String::new, |t| short(t, now))
            )
        })
        .collect()
}

/// Names of several references, comma-separated.
pub fn names<'a>(references: impl IntoIterator<Item = &'a Value>) -> String {
    let all: Vec<String> = references.into_iter().map(name).collect();
    if all.is_empty() {
        "—".into()
    } else {
        all.join(", ")
    }
}

/// A table whose columns after the first `fixed` are stated once above it when every row has
/// the same value (`every row: status triggered · service worker`), so a long list of alike
/// rows costs only what differs. Cells are cut at `max_cell` characters.
pub fn shared_columns(
    headers: &[&str],
    rows: Vec<Vec<String>>,
    fixed: usize,
    max_cell: usize,
) -> String {
    let shared: Vec<usize> = (fixed..headers.len())
        .filter(|&c| rows.len() > 1 && rows.iter().all(|r| r[c] == rows[0][c]))
        .collect();
    let kept: Vec<usize> = (0..headers.len()).filter(|c| !shared.contains(c)).collect();
    let mut table = Table::new(kept.iter().map(|&c| headers[c])).max_cell(Some(max_cell));
    for row in &rows {
        table.row(kept.iter().map(|&c| row[c].clone()));
    }
    let mut out = String::new();
    if !shared.is_empty() {
        let said: Vec<String> = shared
            .iter()
            .map(|&c| format!("{} {}", headers[c], rows[0][c]))
            .collect();
        out.push_str(&format!("every row: {}\n", said.join(" · ")));
    }
    out.push_str(&table.render());
    out
}

/// `text` cut to `max` characters with `…`.
pub fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// Alert or incident details on one line: `key=value` pairs, nested text (Alertmanager's
/// "Labels: - a = b" blocks) flattened, empty values dropped, cut at `max` characters.
pub fn details(value: &Value, max: usize) -> String {
    let flat = |s: &str| -> String {
        s.lines()
            .map(|l| l.trim().trim_start_matches("- ").replace(" = ", "="))
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let text = match value {
        Value::Object(map) => map
            .iter()
            .filter(|(_, v)| !(v.is_null() || v.as_str().is_some_and(str::is_empty)))
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}: {}", flat(s)),
                other => format!("{k}: {other}"),
            })
            .collect::<Vec<_>>()
            .join("; "),
        Value::String(s) => flat(s),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    cut(&untrusted_line(&text), max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_like_a_person_says_them() {
        assert_eq!(span(42), "42s");
        assert_eq!(span(12 * 60), "12m");
        assert_eq!(span(3 * 3600 + 5 * 60), "3h05m");
        assert_eq!(span(20 * 3600), "20h");
        assert_eq!(span(21 * 86_400), "21d");
        assert_eq!(span(21 * 86_400 - 3), "21d", "just under is still 21 days");
        assert_eq!(span(20 * 3600 - 2), "20h");
    }

    #[test]
    fn columns_alike_in_every_row_are_said_once() {
        let rows = vec![
            vec!["1".into(), "disk".into(), "triggered".into()],
            vec!["2".into(), "cpu".into(), "triggered".into()],
        ];
        assert_eq!(
            shared_columns(&["#", "title", "status"], rows, 2, 60),
            "every row: status triggered\n#  title\n1  disk\n2  cpu"
        );
    }

    #[test]
    fn alertmanager_details_flatten() {
        let d = serde_json::json!({
            "firing": "Labels:\n - alertname = ContainerOOMKilled\n - pod = worker-1\nAnnotations:\n - summary = OOM\n",
            "num_firing": "1", "resolved": "",
        });
        assert_eq!(
            details(&d, 200),
            "firing: Labels: alertname=ContainerOOMKilled pod=worker-1 Annotations: summary=OOM; num_firing: 1"
        );
    }
}
