//! `logs_patterns`: what kinds of lines (errors, by default) a service logs and how many of
//! each — from Loki's `patterns` endpoint when it has one (the pattern ingester), otherwise by
//! mining templates from the newest lines here (`opsmcp_logql::patterns`, Drain-style).

use std::fmt::Write as _;

use jiff::Timestamp;
use opsmcp_core::{
    or_fail,
    output::Table,
    structured::with_structured,
    tools::{failure, text},
};
use opsmcp_logql::{escape_string, patterns::Miner};
use reqwest::StatusCode;
use rmcp::{
    ErrorData,
    handler::server::wrapper::Parameters,
    model::CallToolResult,
    schemars::{self, JsonSchema},
    tool, tool_router,
};
use serde::{Deserialize, Serialize};

use crate::{
    LokiServer,
    client::{ApiError, LokiApi, PatternResult, QueryData, StreamResult},
    logs::{Range, human, local_error},
};

/// The default line filter: lines that report a problem.
pub const ERROR_FILTER: &str = "(?i)(error|exception|fail|fatal|panic|timeout|refused)";

/// Lines mined locally when Loki has no pattern endpoint.
const LOCAL_LINES: usize = 5000;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct PatternArgs {
    /// Service (value of the service label); or give selector
    pub service: Option<String>,
    /// Stream selector, e.g. {namespace="shop"}
    pub selector: Option<String>,
    /// Regex lines must match (default: error-like lines); ".*" for all lines
    pub filter: Option<String>,
    /// Default now-1h
    pub start: Option<String>,
    pub end: Option<String>,
    /// Most patterns (default 10)
    pub limit: Option<usize>,
}

/// One pattern with its count and when it was seen.
#[derive(Debug, Clone)]
struct Found {
    template: String,
    count: u64,
    first: i64,
    last: i64,
}

/// `logs_patterns` as data (for callers that ask, see `opsmcp_core::structured`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct Patterns {
    /// The LogQL the lines came from
    pub query: String,
    /// Loki's pattern ingester, or mined by the server
    pub source: String,
    /// Lines grouped, in every pattern
    pub lines: u64,
    /// Most frequent first, at most `limit`
    pub patterns: Vec<PatternItem>,
    /// Patterns beyond `limit`
    pub more: usize,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PatternItem {
    /// `<_>` marks what varies
    pub pattern: String,
    pub count: u64,
    /// RFC 3339
    pub first: String,
    pub last: String,
}

impl Patterns {
    fn of(query: &str, found: &[Found], limit: usize, source: &str) -> Self {
        let rfc3339 = |secs: i64| {
            Timestamp::from_second(secs).map_or_else(|_| secs.to_string(), |t| t.to_string())
        };
        Self {
            query: query.to_owned(),
            source: source.to_owned(),
            lines: found.iter().map(|f| f.count).sum(),
            patterns: found
                .iter()
                .take(limit)
                .map(|f| PatternItem {
                    pattern: readable(&f.template),
                    count: f.count,
                    first: rfc3339(f.first),
                    last: rfc3339(f.last),
                })
                .collect(),
            more: found.len().saturating_sub(limit),
        }
    }
}

#[tool_router(router = patterns_router, vis = "pub(crate)")]
impl LokiServer {
    /// Group a service's log lines (errors by default) into patterns with counts and
    /// first/last seen: what kinds of errors, and how many of each.
    #[tool]
    pub async fn logs_patterns(
        &self,
        Parameters(args): Parameters<PatternArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let selector = match (&args.selector, &args.service) {
            (Some(s), _) => s.clone(),
            (None, Some(service)) => {
                format!("{{{}={}}}", self.service_label(), escape_string(service))
            }
            (None, None) => return Ok(failure("give a service or a selector")),
        };
        if let Err(e) = opsmcp_logql::parse_selector(&selector) {
            return Ok(failure(local_error(&selector, &e)));
        }
        let filter = args
            .filter
            .clone()
            .unwrap_or_else(|| ERROR_FILTER.to_owned());
        let query = if filter.is_empty() || filter == ".*" {
            selector.clone()
        } else {
            format!("{selector} |~ {}", escape_string(&filter))
        };
        if let Err(e) = opsmcp_logql::check(&query) {
            return Ok(failure(local_error(&query, &e)));
        }
        let range = or_fail!(Range::parse(
            args.start.as_deref(),
            args.end.as_deref(),
            "1h"
        ));
        let limit = args.limit.unwrap_or(10).max(1);
        let (found, source) = match self.backend_patterns(&query, range).await {
            Ok(found) => (found, "Loki's pattern ingester".to_owned()),
            Err(e) if unsupported(&e) => {
                let (found, lines, capped) = or_fail!(self.mine(&query, range).await);
                (
                    found,
                    format!(
                        "mined here from the {}{lines} matching lines (Loki has no patterns endpoint)",
                        if capped { "newest " } else { "" }
                    ),
                )
            }
            Err(e) => return Ok(failure(self.explain(&query, e))),
        };
        Ok(with_structured(
            text(render(&query, range, &found, limit, &source)),
            &Patterns::of(&query, &found, limit, &source),
        ))
    }
}

/// Whether Loki lacks the endpoint (older versions, or the pattern ingester is off).
fn unsupported(e: &ApiError) -> bool {
    match e {
        ApiError::Http(h) => h.status() == Some(StatusCode::NOT_FOUND),
        ApiError::Rejected { kind, message, .. } => {
            kind == "404" || message.contains("pattern") && message.contains("not enabled")
        }
        _ => false,
    }
}

impl LokiServer {
    async fn backend_patterns(&self, query: &str, range: Range) -> Result<Vec<Found>, ApiError> {
        let mut params = vec![("query", query.to_owned())];
        params.extend(range.params());
        let patterns: Vec<PatternResult> = self.api().loki("loki/api/v1/patterns", &params).await?;
        let mut found: Vec<Found> = patterns
            .into_iter()
            .filter_map(|p| {
                let seen: Vec<&(i64, u64)> = p.samples.iter().filter(|s| s.1 > 0).collect();
                Some(Found {
                    count: seen.iter().map(|s| s.1).sum(),
                    first: seen.first()?.0,
                    last: seen.last()?.0,
                    template: p.pattern,
                })
            })
            .collect();
        found.sort_by_key(|f| std::cmp::Reverse(f.count));
        Ok(found)
    }

    /// Mine the newest lines here; returns the patterns, how many lines, and whether the cap
    /// was reached.
    async fn mine(&self, query: &str, range: Range) -> Result<(Vec<Found>, usize, bool), String> {
        let mut params = vec![
            ("query", query.to_owned()),
            ("limit", LOCAL_LINES.to_string()),
            ("direction", "backward".to_owned()),
        ];
        params.extend(range.params());
        let data: QueryData = self
            .api()
            .loki("loki/api/v1/query_range", &params)
            .await
            .map_err(|e| self.explain(query, e))?;
        let streams: Vec<StreamResult> =
            serde_json::from_value(data.result).map_err(|e| e.to_string())?;
        let mut miner = Miner::default();
        let mut lines = 0;
        for s in &streams {
            for (ts, line) in &s.values {
                lines += 1;
                miner.add(ts.parse().unwrap_or(0), line);
            }
        }
        let found = miner
            .patterns()
            .into_iter()
            .map(|p| Found {
                template: p.template,
                count: p.count,
                first: p.first_ns / 1_000_000_000,
                last: p.last_ns / 1_000_000_000,
            })
            .collect();
        Ok((found, lines, lines >= LOCAL_LINES))
    }
}

fn clock(secs: i64) -> String {
    Timestamp::from_second(secs)
        .map_or_else(|_| secs.to_string(), |t| t.strftime("%H:%M:%S").to_string())
}

/// A JSON template (`{"level":"error","msg":"x",…}`) read as `level=error msg=x …`, with the
/// time field dropped; other templates as they are.
fn readable(template: &str) -> String {
    let t = template.trim();
    if !(t.starts_with("{\"") && t.ends_with('}')) {
        return t.to_owned();
    }
    t[1..t.len() - 1]
        .split(",\"")
        .filter_map(|field| {
            let field = field.trim_start_matches('"');
            let (key, value) = field.split_once("\":")?;
            if ["ts", "time", "timestamp", "@timestamp"].contains(&key) {
                return None;
            }
            let value = value.trim_matches('"');
            Some(if value.contains(' ') {
                format!("{key}=\"{value}\"")
            } else {
                format!("{key}={value}")
            })
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn render(query: &str, range: Range, found: &[Found], limit: usize, source: &str) -> String {
    let total: u64 = found.iter().map(|f| f.count).sum();
    if total == 0 {
        return format!(
            "no lines match {query} over the last {}: nothing to group. Try filter=\".*\" for all lines or a wider range.",
            human(range.span())
        );
    }
    let mut out = format!(
        "{} patterns in {total} lines of {query} over {} ({source}); <_> marks what varies",
        found.len(),
        human(range.span())
    );
    let mut table = Table::new(["COUNT", "SHARE", "FIRST", "LAST", "PATTERN"]).max_cell(Some(240));
    for f in found.iter().take(limit) {
        table.row([
            f.count.to_string(),
            format!("{:.0}%", 100.0 * f.count as f64 / total as f64),
            clock(f.first),
            clock(f.last),
            readable(&f.template),
        ]);
    }
    let _ = write!(out, "\n{}", table.render());
    if found.len() > limit {
        let rest: u64 = found[limit..].iter().map(|f| f.count).sum();
        let _ = write!(
            out,
            "\n… {} more patterns with {rest} lines (raise limit)",
            found.len() - limit
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_templates_read_as_key_values() {
        assert_eq!(
            readable(
                r#"{"ts":"<_>","level":"error","msg":"payment authorization failed","status":<_>,"path":"/api/<_>"}"#
            ),
            r#"level=error msg="payment authorization failed" status=<_> path=/api/<_>"#
        );
        assert_eq!(
            readable("INFO allocated chunk #<_>"),
            "INFO allocated chunk #<_>"
        );
    }
}
