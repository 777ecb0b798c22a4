//! Log lines: `logs_query` (any LogQL log query) and `logs_search` (a service and a text, the
//! LogQL written for the model). Output groups lines by stream, states the labels every stream
//! shares once, shows each stream's lines oldest first with the time of day, cuts long lines
//! with a marker, and ends with what was returned and how to get the rest. A cost guard checks
//! `index/stats` before broad queries over long ranges.

use std::fmt::Write as _;

use jiff::{SignedDuration, Timestamp};
use opsmcp_core::{
    or_fail,
    output::{fenced, parse_time, untrusted_line},
    series::{common_labels, series},
    tools::{failure, text},
};
use opsmcp_logql::{escape_regex, escape_string};
use rmcp::{
    ErrorData,
    handler::server::wrapper::Parameters,
    model::CallToolResult,
    schemars::{self, JsonSchema},
    tool, tool_router,
};
use serde::Deserialize;
use serde_json::Value;

use crate::{
    LokiServer,
    client::{IndexStats, Labels, LokiApi, QueryData, StreamResult, nanos},
};

/// backward (newest lines, default) or forward (oldest lines)
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    #[default]
    Backward,
    Forward,
}

/// compact (default) or raw
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LineStyle {
    /// JSON lines as a table (field names once) or key=value; repeated times dropped
    #[default]
    Compact,
    /// Lines exactly as stored
    Raw,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct QueryArgs {
    /// LogQL log query, e.g. {app="checkout"} |= "timeout" | json | status >= 500
    pub query: String,
    #[serde(flatten)]
    pub window: Window,
}

/// Range, paging and shaping shared by the log tools.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct Window {
    /// now-1h (default), 30m (ago), RFC 3339, unix seconds
    pub start: Option<String>,
    /// Default now
    pub end: Option<String>,
    /// Most lines (default 100, max 5000)
    pub limit: Option<usize>,
    pub direction: Option<Direction>,
    /// Cut lines longer than this (default 300)
    pub max_line_chars: Option<usize>,
    pub lines: Option<LineStyle>,
    /// Run even if the cost guard refuses
    pub allow_large_scan: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchArgs {
    /// Service: value of the service label (LOKI_SERVICE_LABEL, default app)
    pub service: String,
    /// Literal text to find (escaped for you)
    pub text: Option<String>,
    /// Case-insensitive match
    pub ignore_case: Option<bool>,
    pub namespace: Option<String>,
    /// Label to match the service against instead of the default
    pub label: Option<String>,
    #[serde(flatten)]
    pub window: Window,
}

/// A resolved time range.
#[derive(Debug, Clone, Copy)]
pub struct Range {
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Range {
    /// `start` (default `default_start` ago) and `end` (default now).
    pub fn parse(
        start: Option<&str>,
        end: Option<&str>,
        default_start: &str,
    ) -> Result<Self, String> {
        let now = Timestamp::now();
        let start = parse_time(start.unwrap_or(default_start), now).map_err(|e| e.to_string())?;
        let end = end
            .map(|e| parse_time(e, now))
            .transpose()
            .map_err(|e| e.to_string())?
            .unwrap_or(now);
        if end <= start {
            return Err(format!(
                "the range is empty: start {start} is not before end {end}"
            ));
        }
        Ok(Self { start, end })
    }

    pub fn span(&self) -> SignedDuration {
        self.end.duration_since(self.start)
    }

    pub fn params(&self) -> [(&'static str, String); 2] {
        [("start", nanos(self.start)), ("end", nanos(self.end))]
    }
}

#[tool_router(router = logs_router, vis = "pub(crate)")]
impl LokiServer {
    /// Run a LogQL log query over a range. Lines grouped by stream (shared labels once),
    /// oldest first; the footer says whether more exist and how to page.
    #[tool]
    pub async fn logs_query(
        &self,
        Parameters(args): Parameters<QueryArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        self.run_log_query(&args.query, &args.window, "").await
    }

    /// Find a text in a service's logs without writing LogQL (the query is built and shown).
    #[tool]
    pub async fn logs_search(
        &self,
        Parameters(args): Parameters<SearchArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let label = args.label.as_deref().unwrap_or(self.service_label());
        let query = search_query(
            label,
            &args.service,
            args.namespace.as_deref(),
            args.text.as_deref(),
            args.ignore_case.unwrap_or(false),
        );
        let shown = format!("query: {query}\n");
        self.run_log_query(&query, &args.window, &shown).await
    }
}

/// `{label="service", namespace="ns"} |= "text"` (or `|~ "(?i)…"` ignoring case), with the
/// text escaped so it matches literally.
pub fn search_query(
    label: &str,
    service: &str,
    namespace: Option<&str>,
    text: Option<&str>,
    ignore_case: bool,
) -> String {
    let mut q = format!("{{{label}={}", escape_string(service));
    if let Some(ns) = namespace {
        let _ = write!(q, ", namespace={}", escape_string(ns));
    }
    q.push('}');
    match text.filter(|t| !t.is_empty()) {
        Some(t) if ignore_case => {
            let _ = write!(
                q,
                " |~ {}",
                escape_string(&format!("(?i){}", escape_regex(t)))
            );
        }
        Some(t) => {
            let _ = write!(q, " |= {}", escape_string(t));
        }
        None => {}
    }
    q
}

impl LokiServer {
    /// Run a log query and render it, `prefix` first.
    async fn run_log_query(
        &self,
        query: &str,
        window: &Window,
        prefix: &str,
    ) -> Result<CallToolResult, ErrorData> {
        if let Err(e) = opsmcp_logql::check(query) {
            return Ok(failure(format!("{prefix}{}", local_error(query, &e))));
        }
        let range = or_fail!(Range::parse(
            window.start.as_deref(),
            window.end.as_deref(),
            "1h"
        ));
        let limit = window.limit.unwrap_or(100).clamp(1, 5000);
        let direction = window.direction.unwrap_or_default();
        if let Err(refusal) = self
            .guard(query, range, window.allow_large_scan.unwrap_or(false))
            .await
        {
            return Ok(failure(format!("{prefix}{refusal}")));
        }
        let mut params = vec![
            ("query", query.to_owned()),
            ("limit", limit.to_string()),
            (
                "direction",
                match direction {
                    Direction::Backward => "backward",
                    Direction::Forward => "forward",
                }
                .into(),
            ),
        ];
        params.extend(range.params());
        let data: QueryData = or_fail!(
            self.api()
                .loki("loki/api/v1/query_range", &params)
                .await
                .map_err(|e| format!("{prefix}{}", self.explain(query, e)))
        );
        if data.result_type != "streams" {
            return Ok(failure(format!(
                "`{query}` is a metric query ({}); use logs_metric_query for it",
                data.result_type
            )));
        }
        let streams: Vec<StreamResult> = or_fail!(
            serde_json::from_value(data.result)
                .map_err(|e| format!("Loki answered an unexpected shape: {e}"))
        );
        let shape = Shape {
            limit,
            direction,
            max_line_chars: window.max_line_chars.unwrap_or(300).max(20),
            style: window.lines.unwrap_or_default(),
        };
        Ok(text(format!("{prefix}{}", render_streams(streams, &shape))))
    }

    /// Refuse a query that would scan more than the configured bytes: every stream selector is
    /// sized with `index/stats` over what the query reads — its range, widened by its longest
    /// range window and offset (`[30d]`) — whatever its matchers look like. A query that cannot
    /// be sized (unparsable here, `index/stats` failing) is refused too, unless `allow`.
    pub(crate) async fn guard(&self, query: &str, range: Range, allow: bool) -> Result<(), String> {
        if allow || self.max_scan_bytes() == 0 {
            return Ok(());
        }
        let cannot = |why: String| {
            format!(
                "cost guard: cannot size this query ({why}), so it is not run. Pass allow_large_scan=true to run it anyway."
            )
        };
        let selectors = opsmcp_logql::stream_selectors(query).map_err(|e| cannot(e.message))?;
        let lookback = opsmcp_logql::lookback(query).map_err(|e| cannot(e.message))?;
        let read = Range {
            start: range.start - SignedDuration::from_secs_f64(lookback),
            end: range.end,
        };
        let mut total = IndexStats::default();
        for (selector, _) in &selectors {
            let mut params = vec![("query", selector.clone())];
            params.extend(read.params());
            let stats = self
                .api()
                .get_json::<IndexStats>("loki/api/v1/index/stats", &params)
                .await
                .map_err(|e| cannot(format!("index/stats failed: {e}")))?;
            total.streams += stats.streams;
            total.entries += stats.entries;
            total.bytes += stats.bytes;
        }
        let range = read;
        let limit = self.max_scan_bytes();
        if total.bytes <= limit {
            return Ok(());
        }
        Err(format!(
            "cost guard: this query would scan {} ({} streams, {} entries) over {} — more than the {} limit.\n\
             Narrow it: add a selective matcher such as app=\"…\" (logs_label_values lists them), shorten the range, \
             or pass allow_large_scan=true to run it anyway.",
            bytes(total.bytes),
            total.streams,
            total.entries,
            human(range.span()),
            bytes(limit),
        ))
    }
}

/// A LogQL error found before sending, with a caret under its position.
pub fn local_error(query: &str, e: &opsmcp_logql::ParseError) -> String {
    let mut out = format!("LogQL {}", e.render(query));
    if let Some(p) = e.position {
        let column = query[..p.min(query.len())].chars().count();
        let _ = write!(out, "\n  {query}\n  {}^", " ".repeat(column));
    }
    out.push_str("\n(checked locally; nothing was sent to Loki)");
    out
}

pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

pub fn human(d: SignedDuration) -> String {
    let s = d.as_secs();
    match s {
        s if s >= 86_400 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// How lines are shown.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub limit: usize,
    pub direction: Direction,
    pub max_line_chars: usize,
    pub style: LineStyle,
}

/// Streams as text: shared labels once, then each stream's own labels and its lines oldest
/// first, then a footer.
pub fn render_streams(mut streams: Vec<StreamResult>, shape: &Shape) -> String {
    let total: usize = streams.iter().map(|s| s.values.len()).sum();
    if total == 0 {
        return "no lines matched in the range. Widen the range, loosen the filters, or check the selector's labels with logs_series.".into();
    }
    let common = if streams.len() > 1 {
        common_labels(streams.iter().map(|s| &s.stream))
    } else {
        streams[0].stream.clone()
    };
    let mut times: Vec<i128> = Vec::with_capacity(total);
    for s in &mut streams {
        s.values
            .sort_by_key(|(ts, _)| ts.parse::<i128>().unwrap_or(0));
        times.extend(
            s.values
                .iter()
                .filter_map(|(ts, _)| ts.parse::<i128>().ok()),
        );
    }
    streams.sort_by_key(|s| std::cmp::Reverse(s.values.len()));
    let (first, last) = (
        times.iter().min().copied().unwrap_or(0),
        times.iter().max().copied().unwrap_or(0),
    );
    let day = |ns: i128| {
        Timestamp::from_nanosecond(ns)
            .map(|t| t.strftime("%Y-%m-%d").to_string())
            .unwrap_or_default()
    };
    let one_day = day(first) == day(last);
    let mut out = String::new();
    let _ = write!(
        out,
        "{} — {} stream{}, {total} line{}, {}{} to {} UTC, oldest first per stream",
        series(&common, &Labels::new()),
        streams.len(),
        if streams.len() == 1 { "" } else { "s" },
        if total == 1 { "" } else { "s" },
        if one_day {
            format!("{} ", day(first))
        } else {
            String::new()
        },
        clock(first, !one_day),
        clock(last, !one_day),
    );
    // The lines are upstream text: each cleaned and kept on one line, all of them fenced.
    let mut body = String::new();
    let mut cut = 0;
    for s in &streams {
        if streams.len() > 1 {
            let _ = write!(
                body,
                "\n── {} ({})",
                own_labels(&s.stream, &common),
                s.values.len()
            );
        }
        let stamps: Vec<i128> = s
            .values
            .iter()
            .map(|(ts, _)| ts.parse::<i128>().unwrap_or(0))
            .collect();
        let clocks = clocks(&stamps, !one_day, shape.style == LineStyle::Raw);
        if shape.style == LineStyle::Compact
            && let Some(table) = json_table(&s.values, &clocks, shape.max_line_chars)
        {
            cut += table.1;
            let _ = write!(body, "\n{}", table.0);
            continue;
        }
        for (((_, line), ns), clock) in s.values.iter().zip(&stamps).zip(&clocks) {
            let ns = *ns;
            let shown = match shape.style {
                LineStyle::Compact => compact_line(line, ns),
                LineStyle::Raw => line.clone(),
            };
            let (shown, was_cut) = cut_line(&untrusted_line(&shown), shape.max_line_chars);
            cut += usize::from(was_cut);
            let _ = write!(body, "\n{clock} {shown}");
        }
    }
    let _ = write!(
        out,
        "\n{}\n",
        fenced("log lines", body.trim_start_matches('\n'))
    );
    if total >= shape.limit {
        let (edge, param) = match shape.direction {
            Direction::Backward => (first, format!("end={first}")),
            Direction::Forward => (last, format!("start={}", last + 1)),
        };
        let _ = write!(
            out,
            "{total} lines returned: the limit was reached, more exist. {} lines: call again with {param} ({}) or a higher limit.",
            match shape.direction {
                Direction::Backward => "Older",
                Direction::Forward => "Newer",
            },
            Timestamp::from_nanosecond(edge)
                .map(|t| t.to_string())
                .unwrap_or_default(),
        );
    } else {
        let _ = write!(out, "{total} lines returned: every match in the range.");
    }
    if cut > 0 {
        let _ = write!(
            out,
            " {cut} long line{} cut (max_line_chars).",
            if cut == 1 { " was" } else { "s were" }
        );
    }
    out
}

/// A stream whose every line is a JSON object, as a table: one column per field in the order
/// first seen, the field names once in the header (they are much of a JSON line's tokens), and
/// a time field that repeats the entry's time left out. Returns the table and how many cells
/// were cut.
fn json_table(
    values: &[(String, String)],
    clocks: &[String],
    max_chars: usize,
) -> Option<(String, usize)> {
    if values.len() < 2 {
        return None;
    }
    let mut rows: Vec<(i128, Vec<(String, String)>)> = Vec::with_capacity(values.len());
    for (ts, line) in values {
        let map: indexmap::IndexMap<String, Value> = serde_json::from_str(line.trim()).ok()?;
        let mut fields = Vec::with_capacity(map.len());
        for (k, v) in &map {
            flatten_pairs(k, v, &mut fields);
        }
        rows.push((ts.parse().unwrap_or(0), fields));
    }
    let mut columns: Vec<String> = Vec::new();
    for (_, fields) in &rows {
        for (k, _) in fields {
            if !columns.contains(k) {
                columns.push(k.clone());
            }
        }
    }
    columns.retain(|c| {
        !(TIME_KEYS.contains(&c.as_str())
            && rows.iter().all(|(ns, fields)| {
                fields
                    .iter()
                    .find(|(k, _)| k == c)
                    .is_some_and(|(_, v)| same_time(v, *ns))
            }))
    });
    let cell = |fields: &[(String, String)], c: &str| {
        fields
            .iter()
            .find(|(k, _)| k == c)
            .map_or_else(|| "-".to_owned(), |(_, v)| cell_value(v))
    };
    // Fields with one value in every line are stated once.
    let (constant, varying): (Vec<String>, Vec<String>) = columns.into_iter().partition(|c| {
        rows.len() >= 3 && {
            let first = cell(&rows[0].1, c);
            rows.iter().all(|(_, f)| cell(f, c) == first)
        }
    });
    // Fields most lines lack go last, so a line without them simply ends earlier.
    let present = |c: &String| {
        rows.iter()
            .filter(|(_, f)| f.iter().any(|(k, _)| k == c))
            .count()
    };
    let (mut varying, sparse): (Vec<String>, Vec<String>) = varying
        .into_iter()
        .partition(|c| present(c) * 2 >= rows.len());
    varying.extend(sparse);
    let mut out = String::new();
    if !constant.is_empty() {
        let pairs: Vec<String> = constant
            .iter()
            .map(|c| format!("{c}={}", cell(&rows[0].1, c)))
            .collect();
        let _ = writeln!(out, "in every line: {}", pairs.join(" "));
    }
    let _ = write!(out, "TIME {} (\" = as the line above)", varying.join(" "));
    let mut cut = 0;
    let mut previous: Vec<String> = Vec::new();
    for ((_, fields), clock) in rows.iter().zip(clocks) {
        let mut line = clock.clone();
        let mut cells = Vec::with_capacity(varying.len());
        // Trailing absent fields are left off.
        let last = varying
            .iter()
            .rposition(|c| fields.iter().any(|(k, _)| k == c))
            .map_or(0, |i| i + 1);
        for (i, c) in varying.iter().enumerate().take(last) {
            let (value, was_cut) = cut_line(&untrusted_line(&cell(fields, c)), max_chars);
            cut += usize::from(was_cut);
            line.push(' ');
            // A repeated long value reads as a ditto mark.
            if value.len() >= 8 && previous.get(i) == Some(&value) {
                line.push('"');
            } else {
                line.push_str(&value);
            }
            cells.push(value);
        }
        previous = cells;
        out.push('\n');
        out.push_str(&line);
    }
    Some((out, cut))
}

/// Flattened fields of a JSON value with their raw text (strings unquoted).
fn flatten_pairs(key: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                flatten_pairs(&format!("{key}.{k}"), v, out);
            }
        }
        Value::String(s) => out.push((key.to_owned(), s.clone())),
        Value::Null => out.push((key.to_owned(), String::new())),
        other => out.push((key.to_owned(), other.to_string())),
    }
}

/// A table cell: quoted when it has spaces (or is empty), so columns stay readable.
fn cell_value(v: &str) -> String {
    if v.is_empty() || v.contains(char::is_whitespace) {
        format!("{v:?}")
    } else {
        v.to_owned()
    }
}

/// `a="b" c="d"` without the braces, for a stream's own labels.
fn own_labels(labels: &Labels, common: &Labels) -> String {
    let text = series(labels, common);
    text.trim_start_matches('{')
        .trim_end_matches('}')
        .to_owned()
}

fn clock(ns: i128, with_date: bool) -> String {
    clock_with(ns, with_date, true)
}

fn clock_with(ns: i128, with_date: bool, millis: bool) -> String {
    let Ok(t) = Timestamp::from_nanosecond(ns) else {
        return ns.to_string();
    };
    let format = match (with_date, millis) {
        (true, true) => "%m-%d %H:%M:%S%.3f",
        (true, false) => "%m-%d %H:%M:%S",
        (false, true) => "%H:%M:%S%.3f",
        (false, false) => "%H:%M:%S",
    };
    t.strftime(format).to_string()
}

/// Times of a stream's lines (ascending): to the millisecond when `exact` or where a
/// neighbour falls in the same second (so order and bursts stay visible), else to the second.
fn clocks(stamps: &[i128], with_date: bool, exact: bool) -> Vec<String> {
    let second = |i: usize| stamps.get(i).map(|ns| ns.div_euclid(1_000_000_000));
    (0..stamps.len())
        .map(|i| {
            let busy = exact || (i > 0 && second(i - 1) == second(i)) || second(i + 1) == second(i);
            clock_with(stamps[i], with_date, busy)
        })
        .collect()
}

/// Cut at `max` characters with a marker saying how much was left out.
fn cut_line(line: &str, max: usize) -> (String, bool) {
    let count = line.chars().count();
    if count <= max {
        return (line.to_owned(), false);
    }
    let kept: String = line.chars().take(max).collect();
    (format!("{kept}…[+{} chars]", count - max), true)
}

/// Keys that hold the line's own timestamp.
const TIME_KEYS: [&str; 5] = ["ts", "time", "timestamp", "@timestamp", "t"];

/// A line as a model reads it best: a JSON object as `key=value` pairs, and a leading or
/// embedded timestamp dropped when it repeats the entry's time.
pub fn compact_line(line: &str, ns: i128) -> String {
    let trimmed = line.trim();
    if trimmed.starts_with('{')
        && let Ok(map) = serde_json::from_str::<indexmap::IndexMap<String, Value>>(trimmed)
    {
        // The line's own field order (level and message usually first) is kept.
        let mut fields = Vec::with_capacity(map.len());
        for (k, v) in &map {
            if TIME_KEYS.contains(&k.as_str()) && v.as_str().is_some_and(|s| same_time(s, ns)) {
                continue;
            }
            flatten_pairs(k, v, &mut fields);
        }
        let parts: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{k}={}", logfmt_value(v)))
            .collect();
        return parts.join(" ");
    }
    if let Some((first, rest)) = trimmed.split_once(' ')
        && same_time(first, ns)
    {
        return rest.to_owned();
    }
    trimmed.to_owned()
}

fn logfmt_value(s: &str) -> String {
    if s.is_empty() || s.contains([' ', '=', '"', '\t', '\n']) {
        format!("{s:?}")
    } else {
        s.to_owned()
    }
}

/// Whether `text` is an RFC 3339 time within two seconds of `ns`.
fn same_time(text: &str, ns: i128) -> bool {
    text.parse::<Timestamp>()
        .is_ok_and(|t| (t.as_nanosecond() - ns).abs() <= 2_000_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_queries_escape_what_they_quote() {
        assert_eq!(
            search_query("app", "checkout", Some("shop"), Some(r#"say "hi""#), false),
            r#"{app="checkout", namespace="shop"} |= "say \"hi\"""#
        );
        let q = search_query("app", "web", None, Some("GET /a.b?(x)"), true);
        assert_eq!(q, r#"{app="web"} |~ "(?i)GET /a\\.b\\?\\(x\\)""#);
        opsmcp_logql::parse(&q).unwrap();
    }

    #[test]
    fn json_lines_become_key_values_without_their_repeated_time() {
        let ns = 1_764_000_000_000_000_000_i128;
        let line = r#"{"ts":"2025-11-24T16:00:00.100Z","level":"error","msg":"payment failed","status":502,"req":{"path":"/pay"}}"#;
        assert_eq!(
            compact_line(line, ns),
            r#"level=error msg="payment failed" status=502 req.path=/pay"#
        );
        assert_eq!(
            compact_line("2025-11-24T16:00:01Z INFO started", ns),
            "INFO started"
        );
        assert_eq!(
            compact_line("2025-11-24T17:00:00Z INFO later", ns),
            "2025-11-24T17:00:00Z INFO later"
        );
    }

    #[test]
    fn milliseconds_show_where_lines_share_a_second() {
        let s = 1_764_000_000_000_000_000_i128;
        let shown = clocks(
            &[s, s + 1_000_000_000, s + 1_250_000_000, s + 5_000_000_000],
            false,
            false,
        );
        assert_eq!(
            shown,
            ["16:00:00", "16:00:01.000", "16:00:01.250", "16:00:05"]
        );
        assert_eq!(clocks(&[s], false, true), ["16:00:00.000"]);
    }

    #[test]
    fn long_lines_are_cut_with_a_marker() {
        let (cut, was) = cut_line(&"x".repeat(50), 20);
        assert!(was);
        assert_eq!(cut, format!("{}…[+30 chars]", "x".repeat(20)));
    }

    #[test]
    fn streams_render_with_shared_labels_once_and_a_paging_footer() {
        let stream = |pod: &str, lines: &[(&str, &str)]| StreamResult {
            stream: [("app", "checkout"), ("pod", pod)]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            values: lines
                .iter()
                .map(|(t, l)| (t.to_string(), l.to_string()))
                .collect(),
        };
        let out = render_streams(
            vec![
                stream(
                    "a",
                    &[
                        ("1764000002000000000", "two"),
                        ("1764000001000000000", "one"),
                    ],
                ),
                stream("b", &[("1764000003000000000", "three")]),
            ],
            &Shape {
                limit: 3,
                direction: Direction::Backward,
                max_line_chars: 100,
                style: LineStyle::Compact,
            },
        );
        assert!(out.starts_with("{app=\"checkout\"} — 2 streams, 3 lines, 2025-11-24 16:00:01.000 to 16:00:03.000 UTC"), "{out}");
        assert!(
            out.contains("── pod=\"a\" (2)\n16:00:01 one\n16:00:02 two"),
            "{out}"
        );
        assert!(
            out.contains("more exist. Older lines: call again with end=1764000001000000000"),
            "{out}"
        );
    }
}
