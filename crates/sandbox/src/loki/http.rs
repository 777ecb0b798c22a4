//! Loki's HTTP API with the documented response shapes: `query_range` (streams or matrix),
//! `query` (vector), `labels`, `label/<name>/values`, `series`, `index/stats`, `patterns`,
//! `tail` (WebSocket), `push` (JSON), `ready`, `status/buildinfo`. Tenants come from
//! `X-Scope-OrgID`; errors are plain-text 400s like Loki's.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{
        Path, RawQuery, State,
        ws::{Message, WebSocket, WebSocketUpgrade},
    },
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use opsmcp_logql::{LogQuery, Query, Stage, parse, parse_selector, patterns::Miner};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    DEFAULT_TENANT, Labels, Loki, Stream,
    eval::{self, Evaluated, Stats},
};

/// Loki's default `max_entries_limit_per_query`.
const MAX_ENTRIES: usize = 5000;
/// Loki's limit on points per series of a range query.
const MAX_POINTS: i64 = 11_000;
pub const VERSION: &str = "3.4.2";

type Shared = State<Arc<Loki>>;

pub fn router(loki: Arc<Loki>) -> Router {
    Router::new()
        .route("/ready", get(|| async { "ready\n" }))
        .route("/loki/api/v1/status/buildinfo", get(buildinfo))
        .route("/loki/api/v1/query_range", get(query_range))
        .route("/loki/api/v1/query", get(query_instant))
        .route("/loki/api/v1/labels", get(label_names))
        .route("/loki/api/v1/label/{name}/values", get(label_values))
        .route("/loki/api/v1/series", get(series).post(series_form))
        .route("/loki/api/v1/index/stats", get(index_stats))
        .route("/loki/api/v1/patterns", get(patterns))
        .route("/loki/api/v1/tail", get(tail))
        .route("/loki/api/v1/push", post(push))
        .with_state(loki)
}

async fn buildinfo() -> Json<Value> {
    Json(json!({
        "version": VERSION, "revision": "sandbox", "branch": "HEAD",
        "buildUser": "opsmcp-sandbox", "buildDate": "", "goVersion": "",
    }))
}

/// A 400 with Loki's plain-text body.
#[derive(Debug)]
pub struct BadRequest(String);

impl IntoResponse for BadRequest {
    fn into_response(self) -> Response {
        (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{}\n", self.0),
        )
            .into_response()
    }
}

fn bad_request(message: impl Into<String>) -> BadRequest {
    BadRequest(message.into())
}

type Answer = Result<Response, BadRequest>;

fn tenant(headers: &HeaderMap) -> String {
    headers
        .get("x-scope-orgid")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .unwrap_or(DEFAULT_TENANT)
        .to_owned()
}

/// Query parameters, repeated ones (`match[]`) kept.
struct Params(Vec<(String, String)>);

impl Params {
    fn from_raw(raw: Option<&str>) -> Self {
        Self(
            form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A time parameter as nanoseconds, `default` without it.
    fn time(&self, key: &str, default: i64) -> Result<i64, BadRequest> {
        self.get(key)
            .map_or(Ok(default), |v| parse_time(v).map_err(bad_request))
    }

    /// `start`/`end`/`since` as nanoseconds; the range defaults to the last `default_span`.
    fn range(&self, default_span: Duration) -> Result<(i64, i64), BadRequest> {
        let end = self.time("end", now_ns())?;
        let start = match (self.get("start"), self.get("since")) {
            (Some(v), _) => parse_time(v).map_err(bad_request)?,
            (None, Some(since)) => end - (parse_step(since).map_err(bad_request)? * 1e9) as i64,
            (None, None) => end - default_span.as_nanos() as i64,
        };
        if end < start {
            return Err(bad_request(
                "the end time must be greater than or equal to the start time",
            ));
        }
        Ok((start, end))
    }

    fn limit(&self) -> Result<usize, BadRequest> {
        let limit = match self.get("limit") {
            Some(v) => v
                .parse::<usize>()
                .map_err(|_| bad_request(format!("invalid limit {v:?}: not a number")))?,
            None => 100,
        };
        if limit == 0 {
            return Err(bad_request("limit must be a positive value"));
        }
        if limit > MAX_ENTRIES {
            return Err(bad_request(format!(
                "max entries limit per query exceeded, limit > max_entries_limit_per_query ({limit} > {MAX_ENTRIES})"
            )));
        }
        Ok(limit)
    }

    fn backward(&self) -> Result<bool, BadRequest> {
        match self
            .get("direction")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("backward") => Ok(true),
            Some("forward") => Ok(false),
            Some(other) => Err(bad_request(format!(
                "invalid direction {other:?}: must be forward or backward"
            ))),
        }
    }

    fn query(&self) -> Result<(String, Query), BadRequest> {
        let text = self
            .get("query")
            .ok_or_else(|| bad_request("parse error : syntax error: the query is empty"))?;
        parse(text)
            .map(|q| (text.to_owned(), q))
            .map_err(|e| bad_request(e.render(text)))
    }
}

fn now_ns() -> i64 {
    jiff::Timestamp::now().as_nanosecond() as i64
}

/// Nanoseconds (integers of more than 10 digits), seconds (shorter integers or decimals) or
/// RFC 3339, as Loki reads `start`, `end` and `time`.
pub fn parse_time(v: &str) -> Result<i64, String> {
    if let Ok(n) = v.parse::<i64>() {
        return Ok(if v.trim_start_matches('-').len() > 10 {
            n
        } else {
            n.saturating_mul(1_000_000_000)
        });
    }
    if let Ok(f) = v.parse::<f64>() {
        return Ok((f * 1e9) as i64);
    }
    v.parse::<jiff::Timestamp>()
        .map(|t| t.as_nanosecond() as i64)
        .map_err(|_| {
            format!("could not parse {v:?} as a timestamp (nanoseconds, seconds or RFC 3339)")
        })
}

/// `5m` or a number of seconds.
fn parse_step(v: &str) -> Result<f64, String> {
    v.parse::<f64>()
        .ok()
        .or_else(|| opsmcp_logql::parse_duration(v))
        .filter(|s| *s >= 0.0)
        .ok_or_else(|| format!("invalid duration {v:?}"))
}

/// Loki's default step: the range over 250 points, at least a second.
fn default_step(start: i64, end: i64) -> f64 {
    (((end - start) as f64 / 1e9) / 250.0).floor().max(1.0)
}

fn stats_json(stats: Stats, started: Instant, returned: usize) -> Value {
    let secs = started.elapsed().as_secs_f64().max(1e-6);
    json!({
        "summary": {
            "bytesProcessedPerSecond": (stats.bytes as f64 / secs) as u64,
            "linesProcessedPerSecond": (stats.lines as f64 / secs) as u64,
            "totalBytesProcessed": stats.bytes,
            "totalLinesProcessed": stats.lines,
            "execTime": secs,
            "queueTime": 0,
            "subqueries": 0,
            "totalEntriesReturned": returned,
            "splits": 0,
            "shards": 0,
            "totalPostFilterLines": returned,
            "totalStructuredMetadataBytesProcessed": 0,
        },
        "querier": { "store": { "totalChunksRef": 0, "totalChunksDownloaded": 0 } },
        "ingester": { "totalReached": 1, "totalChunksMatched": 0, "totalBatches": 0, "totalLinesSent": returned },
    })
}

fn streams_json(streams: Vec<(Labels, Vec<super::Entry>)>) -> Vec<Value> {
    streams
        .into_iter()
        .map(|(labels, entries)| {
            let values: Vec<Value> = entries
                .into_iter()
                .map(|(ts, line)| json!([ts.to_string(), line]))
                .collect();
            json!({ "stream": labels, "values": values })
        })
        .collect()
}

/// Seconds as a JSON number, integral when it is.
fn seconds(ns: i64) -> Value {
    if ns % 1_000_000_000 == 0 {
        json!(ns / 1_000_000_000)
    } else {
        json!(ns as f64 / 1e9)
    }
}

fn sample_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        v.to_string()
    }
}

fn success(result_type: &str, result: Value, stats: Value) -> Response {
    Json(json!({
        "status": "success",
        "data": { "resultType": result_type, "result": result, "stats": stats },
    }))
    .into_response()
}

async fn query_range(State(loki): Shared, headers: HeaderMap, RawQuery(raw): RawQuery) -> Answer {
    let p = Params::from_raw(raw.as_deref());
    run_range(&loki, &tenant(&headers), &p)
}

fn run_range(loki: &Loki, tenant: &str, p: &Params) -> Answer {
    let (_, query) = p.query()?;
    let (start, end) = p.range(Duration::from_secs(3600))?;
    let started = Instant::now();
    match query {
        Query::Log(q) => {
            let (limit, backward) = (p.limit()?, p.backward()?);
            let (streams, stats) =
                loki.with_tenant(tenant, |s| eval::logs(s, &q, start, end, limit, backward));
            let returned = streams.iter().map(|s| s.1.len()).sum();
            Ok(success(
                "streams",
                json!(streams_json(streams)),
                stats_json(stats, started, returned),
            ))
        }
        Query::Metric(m) => {
            let step = match p.get("step") {
                Some(v) => parse_step(v).map_err(bad_request)?,
                None => default_step(start, end),
            };
            if step <= 0.0 {
                return Err(bad_request(
                    "zero or negative query resolution step widths are not accepted. Try a positive integer",
                ));
            }
            let step_ns = (step * 1e9) as i64;
            if (end - start) / step_ns > MAX_POINTS {
                return Err(bad_request(
                    "exceeded maximum resolution of 11,000 points per timeseries. Try increasing the value of the step parameter",
                ));
            }
            let mut stats = Stats::default();
            let mut series: BTreeMap<Labels, Vec<Value>> = BTreeMap::new();
            let mut t = start;
            while t <= end {
                let at = loki
                    .with_tenant(tenant, |s| eval::instant(s, &m, t, &mut stats))
                    .map_err(|e| bad_request(e.0))?;
                let samples = match at {
                    Evaluated::Vector(v) => v,
                    Evaluated::Scalar(x) => vec![(Labels::new(), x)],
                };
                for (labels, v) in samples {
                    series
                        .entry(labels)
                        .or_default()
                        .push(json!([seconds(t), sample_value(v)]));
                }
                t += step_ns;
            }
            let result: Vec<Value> = series
                .into_iter()
                .map(|(metric, values)| json!({ "metric": metric, "values": values }))
                .collect();
            let returned = result.len();
            Ok(success(
                "matrix",
                json!(result),
                stats_json(stats, started, returned),
            ))
        }
    }
}

async fn query_instant(State(loki): Shared, headers: HeaderMap, RawQuery(raw): RawQuery) -> Answer {
    let p = Params::from_raw(raw.as_deref());
    let (_, query) = p.query()?;
    let Query::Metric(m) = query else {
        return Err(bad_request(
            "log queries are not supported as an instant query type, please change your query to a range query type",
        ));
    };
    let t = p.time("time", now_ns())?;
    let started = Instant::now();
    let mut stats = Stats::default();
    let value = loki
        .with_tenant(&tenant(&headers), |s| eval::instant(s, &m, t, &mut stats))
        .map_err(|e| bad_request(e.0))?;
    Ok(match value {
        Evaluated::Scalar(x) => success(
            "scalar",
            json!([seconds(t), sample_value(x)]),
            stats_json(stats, started, 1),
        ),
        Evaluated::Vector(v) => {
            let n = v.len();
            let result: Vec<Value> = v
                    .into_iter()
                    .map(|(metric, x)| json!({ "metric": metric, "value": [seconds(t), sample_value(x)] }))
                    .collect();
            success("vector", json!(result), stats_json(stats, started, n))
        }
    })
}

/// Streams with entries in the range (and matching `query`, when given).
fn streams_in<'a>(
    streams: &'a BTreeMap<Labels, Stream>,
    selector: Option<&'a LogQuery>,
    start: i64,
    end: i64,
) -> impl Iterator<Item = (&'a Labels, &'a Stream)> + 'a {
    streams.iter().filter(move |(labels, stream)| {
        !stream.between(start, end).is_empty() && selector.is_none_or(|q| eval::selects(q, labels))
    })
}

fn optional_selector(p: &Params) -> Result<Option<LogQuery>, BadRequest> {
    match p.get("query") {
        None => Ok(None),
        Some(_) => match p.query()? {
            (_, Query::Log(q)) => Ok(Some(q)),
            (text, Query::Metric(_)) => Err(bad_request(format!(
                "parse error : only a stream selector is accepted here, got {text:?}"
            ))),
        },
    }
}

fn data(values: impl IntoIterator<Item = Value>) -> Response {
    Json(json!({ "status": "success", "data": values.into_iter().collect::<Vec<_>>() }))
        .into_response()
}

async fn label_names(State(loki): Shared, headers: HeaderMap, RawQuery(raw): RawQuery) -> Answer {
    let p = Params::from_raw(raw.as_deref());
    let (start, end) = p.range(Duration::from_secs(6 * 3600))?;
    let selector = optional_selector(&p)?;
    let names: BTreeSet<String> = loki.with_tenant(&tenant(&headers), |s| {
        streams_in(s, selector.as_ref(), start, end)
            .flat_map(|(l, _)| l.keys().cloned())
            .collect()
    });
    Ok(data(names.into_iter().map(Value::String)))
}

async fn label_values(
    State(loki): Shared,
    Path(name): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Answer {
    let p = Params::from_raw(raw.as_deref());
    let (start, end) = p.range(Duration::from_secs(6 * 3600))?;
    let selector = optional_selector(&p)?;
    let values: BTreeSet<String> = loki.with_tenant(&tenant(&headers), |s| {
        streams_in(s, selector.as_ref(), start, end)
            .filter_map(|(l, _)| l.get(&name).cloned())
            .collect()
    });
    Ok(data(values.into_iter().map(Value::String)))
}

async fn series(State(loki): Shared, headers: HeaderMap, RawQuery(raw): RawQuery) -> Answer {
    run_series(&loki, &headers, &Params::from_raw(raw.as_deref()))
}

/// Loki also takes the series parameters as a form body.
async fn series_form(State(loki): Shared, headers: HeaderMap, body: Bytes) -> Answer {
    run_series(
        &loki,
        &headers,
        &Params::from_raw(std::str::from_utf8(&body).ok()),
    )
}

fn run_series(loki: &Loki, headers: &HeaderMap, p: &Params) -> Answer {
    let (start, end) = p.range(Duration::from_secs(6 * 3600))?;
    let matches = p.all("match[]");
    if matches.is_empty() {
        return Err(bad_request(
            "0 matchers provided, at least one match[] is required",
        ));
    }
    let mut selectors = Vec::new();
    for m in matches {
        let matchers = parse_selector(m).map_err(|e| bad_request(e.render(m)))?;
        selectors.push(LogQuery {
            selector: matchers,
            pipeline: Vec::new(),
        });
    }
    let found: BTreeSet<Labels> = loki.with_tenant(&tenant(headers), |s| {
        selectors
            .iter()
            .flat_map(|q| streams_in(s, Some(q), start, end).map(|(l, _)| l.clone()))
            .collect()
    });
    Ok(data(found.into_iter().map(|l| json!(l))))
}

/// Streams, chunks, entries and bytes a selector covers (a chunk here holds up to 1,000 entries).
async fn index_stats(State(loki): Shared, headers: HeaderMap, RawQuery(raw): RawQuery) -> Answer {
    let p = Params::from_raw(raw.as_deref());
    let (start, end) = p.range(Duration::from_secs(3600))?;
    let (_, query) = p.query()?;
    let Query::Log(q) = query else {
        return Err(bad_request(
            "parse error : index stats take a stream selector",
        ));
    };
    let (mut streams, mut chunks, mut entries, mut bytes) = (0u64, 0u64, 0u64, 0u64);
    loki.with_tenant(&tenant(&headers), |s| {
        for (_, stream) in streams_in(s, Some(&q), start, end) {
            let window = stream.between(start, end);
            streams += 1;
            chunks += (window.len() as u64).div_ceil(1000);
            entries += window.len() as u64;
            bytes += window.iter().map(|e| e.1.len() as u64).sum::<u64>();
        }
    });
    Ok(
        Json(json!({ "streams": streams, "chunks": chunks, "entries": entries, "bytes": bytes }))
            .into_response(),
    )
}

/// Patterns of the lines a selector (and line filters) picks, with counts per step.
async fn patterns(State(loki): Shared, headers: HeaderMap, RawQuery(raw): RawQuery) -> Answer {
    let p = Params::from_raw(raw.as_deref());
    let (start, end) = p.range(Duration::from_secs(3600))?;
    let (_, query) = p.query()?;
    let q = match query {
        Query::Log(q) if q.pipeline.iter().all(|s| matches!(s, Stage::Line(_))) => q,
        _ => {
            return Err(bad_request(
                "only a stream selector, optionally with line filters, is accepted by the patterns endpoint",
            ));
        }
    };
    let step = match p.get("step") {
        Some(v) => parse_step(v).map_err(bad_request)?,
        None => default_step(start, end).max(10.0),
    };
    let step_ns = (step * 1e9) as i64;
    // Mine templates, then count each template's lines per step.
    let mut miner = Miner::default();
    let mut lines: Vec<(i64, String)> = Vec::new();
    loki.with_tenant(&tenant(&headers), |s| {
        for (labels, stream) in eval::matching(s, &q) {
            for (ts, line) in stream.between(start, end) {
                if eval::process(&q.pipeline, labels, line).is_some() {
                    miner.add(*ts, line);
                    lines.push((*ts, line.clone()));
                }
            }
        }
    });
    let found = miner.patterns();
    let mut samples: Vec<BTreeMap<i64, u64>> = vec![BTreeMap::new(); found.len()];
    for (ts, line) in &lines {
        if let Some(i) = found
            .iter()
            .position(|pat| template_matches(&pat.template, line))
        {
            *samples[i]
                .entry(start + (ts - start) / step_ns * step_ns)
                .or_default() += 1;
        }
    }
    Ok(data(found.iter().zip(samples).map(|(pat, counts)| {
        let samples: Vec<Value> = counts
            .into_iter()
            .map(|(t, n)| json!([t / 1_000_000_000, n]))
            .collect();
        json!({ "pattern": pat.template, "samples": samples })
    })))
}

/// Whether `line` fits `template` (`<_>` stands for any text).
fn template_matches(template: &str, line: &str) -> bool {
    let parts: Vec<&str> = template.split(opsmcp_logql::patterns::WILDCARD).collect();
    let mut rest = line;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            let Some(at) = rest.find(part) else {
                return false;
            };
            rest = &rest[at + part.len()..];
        }
    }
    rest.is_empty()
}

#[derive(Deserialize)]
struct PushRequest {
    streams: Vec<PushStream>,
}

#[derive(Deserialize)]
struct PushStream {
    stream: Labels,
    values: Vec<(String, String)>,
}

async fn push(State(loki): Shared, headers: HeaderMap, body: Bytes) -> Answer {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return Ok((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the sandbox accepts JSON pushes only (Content-Type: application/json)\n",
        )
            .into_response());
    }
    let request: PushRequest = serde_json::from_slice(&body)
        .map_err(|e| bad_request(format!("loghttp.PushRequest: {e}")))?;
    let tenant = tenant(&headers);
    for stream in request.streams {
        if stream.stream.is_empty() {
            return Err(bad_request(
                "error at least one label pair is required per stream",
            ));
        }
        let mut entries = Vec::with_capacity(stream.values.len());
        for (ts, line) in stream.values {
            let ns = ts.parse::<i64>().map_err(|_| {
                bad_request(format!(
                    "invalid timestamp {ts:?}: expected nanoseconds as a string"
                ))
            })?;
            entries.push((ns, line));
        }
        loki.push(&tenant, stream.stream, entries);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Follow a log query over a WebSocket: the entries since `start` (up to `limit`), then new
/// ones as they arrive.
async fn tail(
    State(loki): Shared,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    ws: WebSocketUpgrade,
) -> Answer {
    let p = Params::from_raw(raw.as_deref());
    let (_, query) = p.query()?;
    let Query::Log(query) = query else {
        return Err(bad_request(
            "parse error : tail takes a log query, not a metric query",
        ));
    };
    let start = p.time("start", now_ns() - 3_600_000_000_000)?;
    let limit = p.limit()?;
    let tenant = tenant(&headers);
    Ok(ws.on_upgrade(move |socket| follow(socket, loki, tenant, query, start, limit)))
}

async fn follow(
    mut socket: WebSocket,
    loki: Arc<Loki>,
    tenant: String,
    query: LogQuery,
    start: i64,
    limit: usize,
) {
    let mut pushed = loki.subscribe();
    let (backlog, _) = loki.with_tenant(&tenant, |s| {
        eval::logs(s, &query, start, i64::MAX, limit, false)
    });
    if !backlog.is_empty() && !send(&mut socket, backlog).await {
        return;
    }
    loop {
        tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            got = pushed.recv() => match got {
                Ok(p) if p.tenant == tenant && eval::selects(&query, &p.labels) => {
                    let mut batch: BTreeMap<Labels, Vec<super::Entry>> = BTreeMap::new();
                    for (ts, line) in &p.entries {
                        if let Some(out) = eval::process(&query.pipeline, &p.labels, line) {
                            batch.entry(out.labels.into_owned()).or_default().push((*ts, out.line.into_owned()));
                        }
                    }
                    if !batch.is_empty() && !send(&mut socket, batch.into_iter().collect()).await {
                        return;
                    }
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => return,
            },
        }
    }
}

async fn send(socket: &mut WebSocket, streams: Vec<(Labels, Vec<super::Entry>)>) -> bool {
    let frame = json!({ "streams": streams_json(streams), "dropped_entries": null });
    socket
        .send(Message::Text(frame.to_string().into()))
        .await
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_as_loki_reads_them() {
        assert_eq!(parse_time("1700000000").unwrap(), 1_700_000_000_000_000_000);
        assert_eq!(
            parse_time("1700000000000000000").unwrap(),
            1_700_000_000_000_000_000
        );
        assert_eq!(
            parse_time("1700000000.5").unwrap(),
            1_700_000_000_500_000_000
        );
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z").unwrap(),
            1_700_000_000_000_000_000
        );
        assert!(parse_time("yesterday").is_err());
    }

    #[test]
    fn templates_match_their_lines() {
        assert!(template_matches("a <_> c <_>", "a bb c dd"));
        assert!(template_matches("<_> done", "job 7 done"));
        assert!(!template_matches("a <_> c", "a b d"));
    }
}
