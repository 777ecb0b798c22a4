//! The compact text every tool group shares: times as people read them during an incident,
//! references by name, upstream text made safe, and a short form of alert details.

use jiff::{Timestamp, tz::TimeZone};
pub use opsmcp_core::{
    or_fail,
    output::{Table, untrusted},
    tools::{failure, text},
};
use serde_json::Value;

/// A PagerDuty time.
pub fn parse(t: &Value) -> Option<Timestamp> {
    t.as_str()?.parse().ok()
}

/// `2026-11-30 14:05Z`.
pub fn when(t: Timestamp) -> String {
    t.to_zoned(TimeZone::UTC)
        .strftime("%Y-%m-%d %H:%MZ")
        .to_string()
}

/// `14:05Z` for today, else `11-28 14:05Z`.
pub fn short(t: Timestamp, now: Timestamp) -> String {
    let (z, today) = (t.to_zoned(TimeZone::UTC), now.to_zoned(TimeZone::UTC));
    if z.date() == today.date() {
        z.strftime("%H:%MZ").to_string()
    } else {
        z.strftime("%m-%d %H:%MZ").to_string()
    }
}

/// A duration in its largest unit, rounded to the nearest: `45s`, `12m`, `3h05m`, `20h`, `2d`.
pub fn span(seconds: i64) -> String {
    let s = seconds.abs();
    match s {
        0..60 => format!("{s}s"),
        60..3570 => format!("{}m", (s + 30) / 60),
        3570..172_800 => {
            let minutes = (s + 30) / 60;
            let (h, m) = (minutes / 60, minutes % 60);
            if h < 10 && m > 0 {
                format!("{h}h{m:02}m")
            } else {
                format!("{}h", (s + 1800) / 3600)
            }
        }
        _ => format!("{}d", (s + 43_200) / 86_400),
    }
}

/// How long ago `t` was.
pub fn ago(t: Timestamp, now: Timestamp) -> String {
    span(now.as_second() - t.as_second())
}

/// The readable name of a reference (`summary`, else `name`, else `id`), made safe.
pub fn name(reference: &Value) -> String {
    untrusted(
        reference["summary"]
            .as_str()
            .or_else(|| reference["name"].as_str())
            .or_else(|| reference["id"].as_str())
            .unwrap_or("—"),
    )
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
    cut(&untrusted(&text), max)
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
