//! Turning Prometheus data into compact text for a model: numbers with SI suffixes, series in
//! PromQL notation with the labels every series shares printed once, and times in RFC 3339.

use std::collections::BTreeMap;

use jiff::Timestamp;

pub type Labels = BTreeMap<String, String>;

pub use opsmcp_core::{
    or_fail,
    tools::{failure, text},
};

/// A number in at most four significant digits, with k/M/G/T for large magnitudes.
pub fn number(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let a = v.abs();
    if a >= 1e4 {
        let (div, suffix) = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]
            .into_iter()
            .find(|(d, _)| a >= *d)
            .unwrap();
        return format!("{}{suffix}", trim(format!("{:.3}", v / div)));
    }
    if v.fract() == 0.0 {
        return format!("{v:.0}");
    }
    if a >= 0.01 {
        return trim(format!("{v:.4}"))
            .chars()
            .take(if v < 0.0 { 7 } else { 6 })
            .collect::<String>()
            .trim_end_matches('.')
            .to_owned();
    }
    format!("{v:.3e}")
}

fn trim(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// Parse a sample value as Prometheus sends it (a string).
pub fn sample(v: &str) -> f64 {
    match v {
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().unwrap_or(f64::NAN),
    }
}

/// Unix seconds (as Prometheus sends them) as RFC 3339 to the second.
pub fn time(secs: f64) -> String {
    Timestamp::from_second(secs.floor() as i64)
        .map_or_else(|_| format!("{secs}"), |t| t.to_string())
}

/// The labels that have the same value in every series (only meaningful for two or more).
pub fn common_labels<'a>(series: impl IntoIterator<Item = &'a Labels>) -> Labels {
    let mut iter = series.into_iter();
    let Some(first) = iter.next() else {
        return Labels::new();
    };
    let mut common = first.clone();
    let mut count = 1;
    for labels in iter {
        count += 1;
        common.retain(|k, v| labels.get(k) == Some(v));
    }
    if count < 2 {
        common.retain(|k, _| k == "__name__");
    }
    common
}

/// A series in PromQL notation without the labels in `skip`: `name{a="b", c="d"}`.
pub fn series(labels: &Labels, skip: &Labels) -> String {
    let name = labels
        .get("__name__")
        .filter(|_| !skip.contains_key("__name__"));
    let rest: Vec<String> = labels
        .iter()
        .filter(|(k, _)| k.as_str() != "__name__" && !skip.contains_key(*k))
        .map(|(k, v)| format!("{k}=\"{v}\""))
        .collect();
    match (name, rest.is_empty()) {
        (Some(n), true) => n.clone(),
        (Some(n), false) => format!("{n}{{{}}}", rest.join(", ")),
        (None, true) => "{}".into(),
        (None, false) => format!("{{{}}}", rest.join(", ")),
    }
}

/// The line that states the shared labels once, if there are any.
pub fn common_line(common: &Labels) -> Option<String> {
    (!common.is_empty()).then(|| format!("common labels: {}", series(common, &Labels::new())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn numbers() {
        assert_eq!(number(0.0), "0");
        assert_eq!(number(42.0), "42");
        assert_eq!(number(1234.5), "1234.5");
        assert_eq!(number(1_000_000_000.0), "1G");
        assert_eq!(number(152_345_678.0), "152.346M");
        assert_eq!(number(0.123456), "0.1235");
        assert_eq!(number(-0.5), "-0.5");
        assert_eq!(number(0.000123), "1.230e-4");
        assert_eq!(number(f64::NAN), "NaN");
    }

    #[test]
    fn common_labels_are_factored_out() {
        let a = labels(&[("__name__", "up"), ("job", "node"), ("instance", "a:9100")]);
        let b = labels(&[("__name__", "up"), ("job", "node"), ("instance", "b:9100")]);
        let common = common_labels([&a, &b]);
        assert_eq!(common, labels(&[("__name__", "up"), ("job", "node")]));
        assert_eq!(series(&a, &common), "{instance=\"a:9100\"}");
        assert_eq!(
            common_line(&common).unwrap(),
            "common labels: up{job=\"node\"}"
        );
        // A single series keeps its labels.
        assert_eq!(
            series(&a, &common_labels([&a])),
            "{instance=\"a:9100\", job=\"node\"}"
        );
    }

    #[test]
    fn times() {
        assert_eq!(time(1_764_000_000.0), "2025-11-24T16:00:00Z");
    }
}
