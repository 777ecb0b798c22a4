//! Alerting: alerts and rules as Prometheus evaluates them, Alertmanager's alerts and silences,
//! and creating and expiring silences, which go through the safety engine (medium risk:
//! planned, asked for or run automatically as the operator's mode says, and audited).

use crate::client::PrometheusApi;
use jiff::{SignedDuration, Timestamp};
use opsmcp_core::{
    approval::{Exchange, Gate, Proposal},
    output::{Table, parse_duration},
    risk::{Action, RiskLevel},
};
use reqwest::Method;
use rmcp::{
    ErrorData,
    handler::server::wrapper::Parameters,
    model::{CallToolResponse, CallToolResult},
    schemars::{self, JsonSchema},
    tool, tool_router,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    PrometheusServer,
    render::{Labels, failure, number, or_fail, sample, text},
};

/// Alert states Prometheus reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    #[default]
    All,
    Firing,
    Pending,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct AlertsArgs {
    /// firing, pending or all (default)
    pub state: Option<AlertState>,
    /// Text to find in labels or annotations (any case)
    pub filter: Option<String>,
}

/// Rule kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RuleKind {
    Alert,
    Record,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RulesArgs {
    /// Only alerting or only recording rules
    #[serde(rename = "type")]
    pub kind: Option<RuleKind>,
    /// Only rules whose last evaluation failed
    #[serde(default)]
    pub unhealthy_only: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct AmAlertsArgs {
    /// Label matchers such as severity="critical" or alertname=~"High.*"
    #[serde(default)]
    pub matchers: Vec<String>,
    /// Include silenced ones (default true)
    pub silenced: Option<bool>,
    /// Include inhibited ones (default true)
    pub inhibited: Option<bool>,
    /// Include active ones (default true)
    pub active: Option<bool>,
}

/// Silence states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SilenceState {
    Active,
    Pending,
    Expired,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SilencesArgs {
    /// Only silences in this state (default: active and pending)
    pub state: Option<SilenceState>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct SilenceCreateArgs {
    /// Label matchers, e.g. alertname="HighMemory", pod=~"leaky.*"
    pub matchers: Vec<String>,
    /// How long, e.g. 2h
    pub duration: String,
    /// Why (everyone sees it)
    pub comment: String,
    /// 0-1; yolo mode runs confident changes unasked
    pub confidence: Option<f64>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct SilenceExpireArgs {
    /// Silence ID
    pub id: String,
    /// 0-1; yolo mode runs confident changes unasked
    pub confidence: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromAlerts {
    alerts: Vec<PromAlert>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromAlert {
    labels: Labels,
    annotations: Labels,
    state: String,
    active_at: Option<String>,
    value: Option<String>,
}

/// One Alertmanager label matcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    pub name: String,
    pub value: String,
    pub is_regex: bool,
    pub is_equal: bool,
}

impl Matcher {
    /// Parse `name="value"`, `name!="value"`, `name=~"re"` or `name!~"re"` (quotes optional).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let ops = [
            ("!~", true, false),
            ("=~", true, true),
            ("!=", false, false),
            ("=", false, true),
        ];
        for (op, is_regex, is_equal) in ops {
            if let Some((name, value)) = text.split_once(op) {
                let name = name.trim();
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(format!("invalid label name in matcher `{text}`"));
                }
                let value = value.trim();
                let value = value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(value)
                    .to_owned();
                return Ok(Self {
                    name: name.to_owned(),
                    value,
                    is_regex,
                    is_equal,
                });
            }
        }
        Err(format!(
            "invalid matcher `{text}`: expected name=\"value\", name!=\"value\", name=~\"regex\" or name!~\"regex\""
        ))
    }

    fn to_filter(&self) -> String {
        let op = match (self.is_regex, self.is_equal) {
            (false, true) => "=",
            (false, false) => "!=",
            (true, true) => "=~",
            (true, false) => "!~",
        };
        format!("{}{op}\"{}\"", self.name, self.value.replace('"', "\\\""))
    }
}

fn labels_text(labels: &Labels, skip: &[&str]) -> String {
    labels
        .iter()
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn since(at: &str, now: Timestamp) -> String {
    match at.parse::<Timestamp>() {
        Ok(t) => {
            let secs = now.duration_since(t).as_secs().max(0);
            let ago = match secs {
                s if s < 120 => format!("{s}s"),
                s if s < 7200 => format!("{}m", s / 60),
                s if s < 172_800 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
                s => format!("{}d", s / 86400),
            };
            format!("{} ({ago} ago)", t.round(jiff::Unit::Second).unwrap_or(t))
        }
        Err(_) => at.to_owned(),
    }
}

#[tool_router(router = alerts_router, vis = "pub(crate)")]
impl PrometheusServer {
    /// Alerts as Prometheus evaluates them: firing first, with since, labels and summary.
    #[tool]
    pub async fn alerts_list(
        &self,
        Parameters(args): Parameters<AlertsArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let mut alerts = or_fail!(
            self.prometheus()
                .prometheus::<PromAlerts>("api/v1/alerts", &[])
                .await
        )
        .data
        .alerts;
        let state = args.state.unwrap_or_default();
        let filter = args.filter.as_deref().unwrap_or("").to_lowercase();
        alerts.retain(|a| {
            let state_ok = match state {
                AlertState::All => true,
                AlertState::Firing => a.state == "firing",
                AlertState::Pending => a.state == "pending",
            };
            let text_ok = filter.is_empty()
                || a.labels
                    .values()
                    .chain(a.annotations.values())
                    .any(|v| v.to_lowercase().contains(&filter));
            state_ok && text_ok
        });
        if alerts.is_empty() {
            return Ok(text("no alerts match"));
        }
        alerts.sort_by(|a, b| {
            (a.state != "firing", &a.active_at).cmp(&(b.state != "firing", &b.active_at))
        });
        let now = Timestamp::now();
        let firing = alerts.iter().filter(|a| a.state == "firing").count();
        let mut table = Table::new(["ALERT", "STATE", "SINCE", "VALUE", "LABELS", "SUMMARY"]);
        for a in &alerts {
            let summary = a
                .annotations
                .get("summary")
                .or_else(|| a.annotations.get("description"))
                .cloned()
                .unwrap_or_default();
            table.row([
                a.labels.get("alertname").cloned().unwrap_or_default(),
                a.state.clone(),
                a.active_at
                    .as_deref()
                    .map(|t| since(t, now))
                    .unwrap_or_default(),
                a.value
                    .as_deref()
                    .map(|v| number(sample(v)))
                    .unwrap_or_default(),
                labels_text(&a.labels, &["alertname"]),
                summary,
            ]);
        }
        Ok(text(format!(
            "{} alerts, {firing} firing\n{}",
            alerts.len(),
            table.render()
        )))
    }

    /// Alerting and recording rules with their state, health and last error.
    #[tool]
    pub async fn rules_list(
        &self,
        Parameters(args): Parameters<RulesArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let mut query = Vec::new();
        if let Some(kind) = args.kind {
            query.push((
                "type",
                if kind == RuleKind::Alert {
                    "alert"
                } else {
                    "record"
                }
                .to_owned(),
            ));
        }
        let groups = or_fail!(
            self.prometheus()
                .prometheus::<Value>("api/v1/rules", &query)
                .await
        )
        .data;
        let mut table = Table::new([
            "GROUP",
            "RULE",
            "TYPE",
            "STATE",
            "HEALTH",
            "LAST ERROR",
            "EXPR",
        ]);
        let mut count = 0;
        for group in groups
            .get("groups")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let group_name = group.get("name").and_then(Value::as_str).unwrap_or("");
            for rule in group
                .get("rules")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let field = |k: &str| rule.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
                if args.unhealthy_only && field("health") == "ok" {
                    continue;
                }
                count += 1;
                table.row([
                    group_name.to_owned(),
                    field("name"),
                    field("type")
                        .replace("alerting", "alert")
                        .replace("recording", "record"),
                    field("state"),
                    field("health"),
                    field("lastError"),
                    field("query"),
                ]);
            }
        }
        if count == 0 {
            return Ok(text(if args.unhealthy_only {
                "every rule evaluated fine"
            } else {
                "no rules are loaded"
            }));
        }
        Ok(text(format!("{count} rules\n{}", table.render())))
    }
}

#[tool_router(router = alertmanager_router, vis = "pub(crate)")]
impl PrometheusServer {
    /// Alertmanager's alerts (active, silenced, inhibited), filtered by label matchers.
    #[tool]
    pub async fn alertmanager_alerts(
        &self,
        Parameters(args): Parameters<AmAlertsArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let Some(am) = self.alertmanager() else {
            return Ok(failure("no Alertmanager configured: set ALERTMANAGER_URL"));
        };
        let mut query = Vec::new();
        for m in &args.matchers {
            match Matcher::parse(m) {
                Ok(m) => query.push(("filter", m.to_filter())),
                Err(e) => return Ok(failure(e)),
            }
        }
        for (key, value) in [
            ("active", args.active),
            ("silenced", args.silenced),
            ("inhibited", args.inhibited),
        ] {
            query.push((key, value.unwrap_or(true).to_string()));
        }
        let alerts = or_fail!(am.get_json::<Vec<Value>>("api/v2/alerts", &query).await);
        if alerts.is_empty() {
            return Ok(text("Alertmanager has no alerts matching that"));
        }
        let now = Timestamp::now();
        let mut table = Table::new([
            "ALERT",
            "STATE",
            "SINCE",
            "SILENCED BY",
            "LABELS",
            "SUMMARY",
        ]);
        for a in &alerts {
            let labels: Labels =
                serde_json::from_value(a.get("labels").cloned().unwrap_or_default())
                    .unwrap_or_default();
            let state = a
                .pointer("/status/state")
                .and_then(Value::as_str)
                .unwrap_or("?");
            let silenced: Vec<&str> = a
                .pointer("/status/silencedBy")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            table.row([
                labels.get("alertname").cloned().unwrap_or_default(),
                state.to_owned(),
                a.get("startsAt")
                    .and_then(Value::as_str)
                    .map(|t| since(t, now))
                    .unwrap_or_default(),
                silenced.join(","),
                labels_text(&labels, &["alertname"]),
                a.pointer("/annotations/summary")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
            ]);
        }
        Ok(text(format!("{} alerts\n{}", alerts.len(), table.render())))
    }

    /// Alertmanager silences (active and pending by default).
    #[tool]
    pub async fn silences_list(
        &self,
        Parameters(args): Parameters<SilencesArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let Some(am) = self.alertmanager() else {
            return Ok(failure("no Alertmanager configured: set ALERTMANAGER_URL"));
        };
        let silences = or_fail!(am.get_json::<Vec<Value>>("api/v2/silences", &[]).await);
        let wanted = |state: &str| match args.state {
            Some(SilenceState::Active) => state == "active",
            Some(SilenceState::Pending) => state == "pending",
            Some(SilenceState::Expired) => state == "expired",
            None => state != "expired",
        };
        let mut table = Table::new(["ID", "STATE", "MATCHERS", "ENDS", "BY", "COMMENT"]);
        let mut count = 0;
        for s in &silences {
            let state = s
                .pointer("/status/state")
                .and_then(Value::as_str)
                .unwrap_or("?");
            if !wanted(state) {
                continue;
            }
            count += 1;
            let matchers: Vec<String> = s
                .get("matchers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|m| {
                    let matcher = Matcher {
                        name: m
                            .get("name")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_owned(),
                        value: m
                            .get("value")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_owned(),
                        is_regex: m.get("isRegex").and_then(Value::as_bool).unwrap_or(false),
                        is_equal: m.get("isEqual").and_then(Value::as_bool).unwrap_or(true),
                    };
                    matcher.to_filter()
                })
                .collect();
            let field = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            table.row([
                field("id"),
                state.to_owned(),
                matchers.join(", "),
                field("endsAt"),
                field("createdBy"),
                field("comment"),
            ]);
        }
        if count == 0 {
            return Ok(text("no silences in that state"));
        }
        Ok(text(format!("{count} silences\n{}", table.render())))
    }
}

/// A silence action for the safety engine: medium (reversible by expiring or recreating), high
/// when `broad` says why it reaches further than the alert at hand.
fn silence_action(
    tool: &str,
    verb: &str,
    name: String,
    detail: &str,
    broad: Option<String>,
) -> Action {
    Action {
        tool: tool.into(),
        verb: verb.into(),
        resource: Some("silence".into()),
        name: Some(name),
        base: Some(if broad.is_some() {
            RiskLevel::High
        } else {
            RiskLevel::Medium
        }),
        detail: Some(match broad {
            Some(why) => format!("{detail}; {why}"),
            None => detail.into(),
        }),
        ..Action::default()
    }
}

/// Who a silence is by: the client that asked for it (what Alertmanager shows the on-call team,
/// and what `silences_expire` compares to know whose silence it is).
fn author(exchange: &Exchange) -> String {
    format!("opsmcp for {}", exchange.caller())
}

/// Longer than this, a silence is high risk (it outlives the incident at hand).
const LONG_SILENCE: SignedDuration = SignedDuration::from_hours(24);

/// Why a silence reaches further than one alert: a negative matcher (everything but …), a regex
/// that matches names unrelated to each other, no `alertname` it is tied to, or a long duration.
fn silence_breadth(matchers: &[Matcher], duration: SignedDuration) -> Option<String> {
    // Label values no narrow regex would match all of.
    const PROBES: &[&str] = &["", "HighMemoryUsage", "KubeNodeNotReady", "zz-unrelated-42"];
    let broad = |m: &Matcher| -> Option<String> {
        if !m.is_equal {
            return Some(format!(
                "{}{}\"{}\" matches every alert but some",
                m.name,
                if m.is_regex { "!~" } else { "!=" },
                m.value
            ));
        }
        if m.is_regex {
            // Alertmanager anchors its regexes (RE2, as the regex crate).
            let hits = match regex::Regex::new(&format!("^(?:{})$", m.value)) {
                Ok(re) => PROBES.iter().filter(|p| re.is_match(p)).count(),
                Err(_) => PROBES.len(),
            };
            if hits >= 2 {
                return Some(format!("{}=~\"{}\" matches broadly", m.name, m.value));
            }
        }
        None
    };
    if let Some(why) = matchers.iter().find_map(broad) {
        return Some(why);
    }
    if !matchers.iter().any(|m| m.name == "alertname") {
        return Some("it is tied to no alertname: every alert with these labels is muted".into());
    }
    (duration > LONG_SILENCE).then(|| "it lasts more than a day".into())
}

#[tool_router(router = silence_writes_router, vis = "pub(crate)")]
impl PrometheusServer {
    /// Create an Alertmanager silence for matching alerts, starting now (a change: planned,
    /// asked or run per the safety mode).
    #[tool]
    pub async fn silences_create(
        &self,
        exchange: Exchange,
        Parameters(args): Parameters<SilenceCreateArgs>,
    ) -> Result<CallToolResponse, ErrorData> {
        let Some(am) = self.alertmanager() else {
            return Ok(failure("no Alertmanager configured: set ALERTMANAGER_URL").into());
        };
        if args.matchers.is_empty() {
            return Ok(failure(
                "a silence needs at least one matcher, e.g. alertname=\"HighMemory\"",
            )
            .into());
        }
        let mut matchers = Vec::new();
        let mut filters = Vec::new();
        let mut parsed = Vec::new();
        for m in &args.matchers {
            match Matcher::parse(m) {
                Ok(m) => {
                    filters.push(m.to_filter());
                    matchers.push(json!({ "name": m.name, "value": m.value, "isRegex": m.is_regex, "isEqual": m.is_equal }));
                    parsed.push(m);
                }
                Err(e) => return Ok(failure(e).into()),
            }
        }
        let duration = match parse_duration(&args.duration) {
            Ok(d) if d > SignedDuration::ZERO => d,
            Ok(_) => return Ok(failure("the duration must be positive").into()),
            Err(e) => return Ok(failure(format!("invalid duration: {e}")).into()),
        };
        if duration > self.silence_max() {
            return Ok(failure(format!(
                "a silence may last at most {:#} here (ALERTMANAGER_SILENCE_MAX_DURATION); {} is longer",
                self.silence_max(),
                args.duration
            ))
            .into());
        }
        if args.comment.trim().is_empty() {
            return Ok(failure("say why in `comment`: it is what the on-call team sees").into());
        }
        let now = Timestamp::now();
        let ends = (now + duration)
            .round(jiff::Unit::Second)
            .unwrap_or(now + duration);
        let mut body = json!({
            "matchers": matchers,
            "startsAt": now.to_string(),
            "endsAt": ends.to_string(),
            "createdBy": author(&exchange),
            "comment": args.comment,
        });
        let selector = format!("{{{}}}", filters.join(","));
        let proposal = Proposal::new(
            silence_action(
                "silences_create",
                "create",
                selector.clone(),
                &format!(
                    "mutes notifications of matching alerts for {}; expire it to undo",
                    args.duration
                ),
                silence_breadth(&parsed, duration),
            ),
            &args,
            format!("POST {} {}", am.url("api/v2/silences"), body),
        );
        let preview = async {
            let query: Vec<(&str, String)> =
                filters.iter().map(|f| ("filter", f.clone())).collect();
            Some(
                match am.get_json::<Vec<Value>>("api/v2/alerts", &query).await {
                    Ok(alerts) if alerts.is_empty() => {
                        format!("no alert matches {selector} now; the silence covers future ones")
                    }
                    Ok(alerts) => {
                        let names: Vec<String> = alerts.iter().take(10).map(alert_line).collect();
                        format!(
                            "would silence {} alert(s) now:\n{}",
                            alerts.len(),
                            names.join("\n")
                        )
                    }
                    Err(e) => format!("(could not list the matching alerts: {e})"),
                },
            )
        };
        let ticket = match self.safety().gate(&exchange, proposal, preview).await? {
            Gate::Proceed(ticket) => ticket,
            Gate::Stop(answer) => return Ok(answer),
        };
        // Start when it is actually created (an approval may have taken minutes).
        let now = Timestamp::now();
        body["startsAt"] = json!(now.to_string());
        body["endsAt"] = json!(
            (now + duration)
                .round(jiff::Unit::Second)
                .unwrap_or(now + duration)
                .to_string()
        );
        let outcome = am
            .send_json(Method::POST, "api/v2/silences", Some(&body))
            .await
            .map(|answer| {
                format!(
                    "silence {} created for {selector} until {}",
                    answer
                        .get("silenceID")
                        .and_then(Value::as_str)
                        .unwrap_or("?"),
                    body["endsAt"].as_str().unwrap_or("?")
                )
            })
            .map_err(|e| e.to_string());
        Ok(ticket.finish(outcome).await)
    }

    /// End an Alertmanager silence now (a change, like silences_create).
    #[tool]
    pub async fn silences_expire(
        &self,
        exchange: Exchange,
        Parameters(args): Parameters<SilenceExpireArgs>,
    ) -> Result<CallToolResponse, ErrorData> {
        let Some(am) = self.alertmanager() else {
            return Ok(failure("no Alertmanager configured: set ALERTMANAGER_URL").into());
        };
        if args.id.is_empty() || !args.id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Ok(failure(format!("`{}` is not a silence ID", args.id)).into());
        }
        let path = format!("api/v2/silence/{}", args.id);
        // Whose silence it is decides the risk: ending someone else's is high.
        let silence = am.get_json::<Value>(&path, &[]).await;
        let by = silence
            .as_ref()
            .ok()
            .and_then(|s| s.get("createdBy"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let someone_else = silence.is_ok() && by != author(&exchange);
        let proposal = Proposal::new(
            silence_action(
                "silences_expire",
                "expire",
                args.id.clone(),
                "notifications of the silenced alerts resume",
                someone_else.then(|| {
                    format!(
                        "the silence is {}'s, not this client's",
                        opsmcp_core::output::untrusted_line(&by)
                    )
                }),
            ),
            &args,
            format!("DELETE {}", am.url(&path)),
        );
        let preview = async {
            Some(match &silence {
                Ok(s) => format!(
                    "silence {} ({}): {} — {} by {}, ends {}",
                    args.id,
                    s.pointer("/status/state")
                        .and_then(Value::as_str)
                        .unwrap_or("?"),
                    s.get("matchers")
                        .and_then(Value::as_array)
                        .map(|m| m.iter().map(matcher_text).collect::<Vec<_>>().join(","))
                        .unwrap_or_default(),
                    s.get("comment").and_then(Value::as_str).unwrap_or(""),
                    s.get("createdBy").and_then(Value::as_str).unwrap_or("?"),
                    s.get("endsAt").and_then(Value::as_str).unwrap_or("?"),
                ),
                Err(e) => format!("(could not read the silence: {e})"),
            })
        };
        let ticket = match self.safety().gate(&exchange, proposal, preview).await? {
            Gate::Proceed(ticket) => ticket,
            Gate::Stop(answer) => return Ok(answer),
        };
        let outcome = am
            .send_json(Method::DELETE, &path, None)
            .await
            .map(|_| format!("silence {} expired", args.id))
            .map_err(|e| e.to_string());
        Ok(ticket.finish(outcome).await)
    }
}

/// `alertname{labels} state` of an Alertmanager alert.
fn alert_line(alert: &Value) -> String {
    let labels = alert.get("labels").and_then(Value::as_object);
    let name = labels
        .and_then(|l| l.get("alertname"))
        .and_then(Value::as_str)
        .unwrap_or("?");
    let rest: Vec<String> = labels
        .into_iter()
        .flatten()
        .filter(|(k, _)| *k != "alertname")
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    let state = alert
        .pointer("/status/state")
        .and_then(Value::as_str)
        .unwrap_or("?");
    format!("  {name}{{{}}} {state}", rest.join(","))
}

/// An Alertmanager matcher object as text.
fn matcher_text(m: &Value) -> String {
    let op = match (
        m.get("isEqual").and_then(Value::as_bool).unwrap_or(true),
        m.get("isRegex").and_then(Value::as_bool).unwrap_or(false),
    ) {
        (true, false) => "=",
        (false, false) => "!=",
        (true, true) => "=~",
        (false, true) => "!~",
    };
    format!(
        "{}{op}\"{}\"",
        m.get("name").and_then(Value::as_str).unwrap_or("?"),
        m.get("value").and_then(Value::as_str).unwrap_or("")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matchers() {
        let m = Matcher::parse("alertname=\"HighMemory\"").unwrap();
        assert_eq!(
            (m.name.as_str(), m.value.as_str(), m.is_regex, m.is_equal),
            ("alertname", "HighMemory", false, true)
        );
        let m = Matcher::parse("pod=~leaky.*").unwrap();
        assert_eq!(
            (m.is_regex, m.is_equal, m.to_filter()),
            (true, true, "pod=~\"leaky.*\"".to_owned())
        );
        assert!(!Matcher::parse("severity!=\"info\"").unwrap().is_equal);
        assert!(Matcher::parse("no operator").is_err());
        assert!(Matcher::parse("=\"x\"").is_err());
    }
}
