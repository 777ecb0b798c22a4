//! The safety engine at work inside a tool call: a change proposed by a tool is classified
//! ([`crate::risk`] plus the operator's rules), decided ([`crate::policy`] with the circuit
//! breaker), asked for when the policy says so, recorded ([`crate::audit`]) and only then run.
//!
//! A mutating tool takes an [`Exchange`] (extracted by rmcp like `Parameters`), describes the
//! change as a [`Proposal`] and calls [`Safety::gate`]:
//!
//! ```ignore
//! let ticket = match self.safety.gate(&exchange, proposal, async { None }).await? {
//!     Gate::Proceed(ticket) => ticket,
//!     Gate::Stop(answer) => return Ok(answer),
//! };
//! let outcome = do_the_change().await;      // Result<String, String>
//! Ok(ticket.finish(outcome).await)
//! ```
//!
//! Asking the user has two paths, chosen by the client's protocol:
//! - 2026-07-28 clients get an input-required result carrying a form elicitation and a
//!   `requestState` sealed with this process's key, bound to the tool and a digest of its
//!   arguments, with a time-to-live of the approval timeout and a one-time nonce. On the retry
//!   the state is opened (a forged, altered, expired or replayed state, or changed arguments,
//!   are refused) and the user's answer is read from the input responses.
//! - Older clients that declared form elicitation are asked with `elicitation/create` and the
//!   approval timeout; no answer in time counts as a decline.
//! - Anyone else gets a refusal that says how to proceed (fail closed).
//!
//! Every decision is written to the audit log before the tool answers; if it cannot be
//! written, the change does not run.

use std::{
    collections::HashMap,
    fmt::Write as _,
    future::Future,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric},
    metrics::{counter::Counter, family::Family, gauge::ConstGauge},
};
use rmcp::{
    ErrorData, RoleServer,
    handler::server::{common::FromContextPart, tool::ToolCallContext},
    model::{
        CallToolResponse, ElicitRequestParams, ElicitationAction, InputRequests,
        InputRequiredResult, InputResponses, ReadResourceResult, RequestStateCodec, Resource,
        ResourceContents, SealOptions,
    },
    service::RequestContext,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{
    audit::{AuditError, AuditLog, Entry, Rotation},
    breaker::{Breaker, BreakerConfig, BreakerState},
    config::{Identity, SafetyArgs},
    metrics::Metrics,
    policy::{Decision, Mode, Switches, Thresholds, decide},
    risk::{Action, Assessment, RiskLevel, RiskRules, RulesError},
    tools::failure,
};

/// URI of the resource with the most recent audit records.
pub const AUDIT_RESOURCE_URI: &str = "opsmcp://audit/recent";

/// The key under which the approval form is sent and answered (2026-07-28 path).
const APPROVAL_INPUT: &str = "approval";

/// The HTTP principal of a request, set by the transport's bearer-token guard: a fingerprint
/// of the token, never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal(pub String);

/// Who asked for a change, as the audit log records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The client's name and version as it declared them (untrusted, cleaned).
    pub client: String,
    /// The principal the HTTP transport authenticated, if any.
    pub principal: Option<String>,
}

impl std::fmt::Display for Caller {
    /// "client 1.2.3 (bearer sha256:…)".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.client)?;
        match &self.principal {
            Some(principal) => write!(f, " ({principal})"),
            None => Ok(()),
        }
    }
}

/// Why the safety engine could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SafetyError {
    #[error(transparent)]
    Rules(#[from] RulesError),
    #[error(transparent)]
    AuditKey(#[from] crate::audit::AuditError),
}

/// What a tool call brings besides its arguments: the request context (client, peer,
/// transport) and, on a 2026-07-28 retry, the input responses and request state.
pub struct Exchange {
    cx: RequestContext<RoleServer>,
    responses: Option<InputResponses>,
    state: Option<String>,
}

impl<S> FromContextPart<ToolCallContext<'_, S>> for Exchange {
    fn from_context_part(context: &mut ToolCallContext<'_, S>) -> Result<Self, ErrorData> {
        Ok(Self {
            cx: context.request_context.clone(),
            responses: context.input_responses.take(),
            state: context.request_state.take(),
        })
    }
}

impl Exchange {
    /// The request context (progress notifications, cancellation).
    pub fn context(&self) -> &RequestContext<RoleServer> {
        &self.cx
    }

    /// Who asks: the client as it declares itself and the principal the transport
    /// authenticated, kept apart (a client cannot name itself after a principal).
    pub fn caller(&self) -> Caller {
        let client = self
            .cx
            .client_info()
            .map(|c| crate::output::untrusted_line(&format!("{} {}", c.name, c.version)))
            .unwrap_or_else(|| "unknown client".to_owned());
        let principal = self
            .cx
            .extensions
            .get::<http::request::Parts>()
            .and_then(|p| p.extensions.get::<Principal>())
            .map(|p| p.0.clone());
        Caller { client, principal }
    }

    /// The client speaks 2026-07-28 or later: no server-to-client requests mid-call.
    fn modern(&self) -> bool {
        self.cx
            .meta
            .protocol_version()
            .is_some_and(|v| !v.has_initialize())
    }

    /// The client declared form elicitation (for either protocol path).
    fn can_elicit(&self) -> bool {
        self.cx
            .client_capabilities()
            .and_then(|c| c.elicitation)
            .is_some_and(|e| e.form.is_some() || e.url.is_none())
    }
}

/// A change a tool wants to make.
#[derive(Debug, Clone)]
pub struct Proposal {
    /// The facts the classifier and the rules look at.
    pub action: Action,
    /// The tool's arguments as given (redacted before they are audited).
    pub arguments: Value,
    /// The host's confidence (0–1), from the tool's `confidence` argument.
    pub confidence: Option<f64>,
    /// The exact request or command that would run (for Kubernetes, the kubectl line).
    pub command: String,
}

impl Proposal {
    /// A proposal for `action` with `arguments` serialized from the tool's parameters; the
    /// confidence is taken from their `confidence` field.
    pub fn new(action: Action, arguments: &impl Serialize, command: impl Into<String>) -> Self {
        let arguments = serde_json::to_value(arguments).unwrap_or(Value::Null);
        let confidence = arguments.get("confidence").and_then(Value::as_f64);
        Self {
            action,
            arguments,
            confidence,
            command: command.into(),
        }
    }

    /// SHA-256 of the arguments without `confidence`: what an approval is bound to.
    fn digest(&self) -> String {
        let mut args = self.arguments.clone();
        if let Value::Object(map) = &mut args {
            map.remove("confidence");
        }
        // serde_json's map is ordered by key, so the text is canonical.
        let text = serde_json::to_string(&args).unwrap_or_default();
        hex::encode(Sha256::digest(format!("{}\n{text}", self.action.tool)))
    }
}

/// What to do after [`Safety::gate`].
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "one per tool call, matched at once and never stored"
)]
pub enum Gate {
    /// Run the change, then [`Ticket::finish`].
    Proceed(Ticket),
    /// Do not run it; answer the call with this (a preview, a question, a refusal).
    Stop(CallToolResponse),
}

/// What the sealed request state of a question carries.
#[derive(Debug, Serialize, Deserialize)]
struct AskState {
    /// One-time nonce: an answered question cannot be answered again.
    nonce: String,
    /// The risk level when asked: if the rules changed since, ask again.
    risk: RiskLevel,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
struct DecisionLabels {
    decision: &'static str,
    risk: &'static str,
}

struct Inner {
    server: String,
    mode: Mode,
    thresholds: Thresholds,
    read_only: bool,
    destructive_enabled: bool,
    destructive_switch: String,
    ask_timeout: Duration,
    rules: RiskRules,
    breaker: Arc<Breaker>,
    breaker_config: BreakerConfig,
    audit: Arc<AuditLog>,
    codec: RequestStateCodec,
    /// Nonces of answered questions, with when they stop mattering (their state expired).
    answered: Mutex<HashMap<String, Instant>>,
    decisions: Family<DecisionLabels, Counter>,
}

/// The safety engine of one server process; cheap to clone, shared by every session.
#[derive(Clone)]
pub struct Safety {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Safety {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Safety")
            .field("server", &self.inner.server)
            .field("mode", &self.inner.mode)
            .finish_non_exhaustive()
    }
}

/// Publishes the breaker on `/metrics` at scrape time (so a breaker that closed by itself
/// shows closed without a call in between).
#[derive(Debug)]
struct BreakerCollector(Arc<Breaker>);

impl Collector for BreakerCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let state = self.0.state(Instant::now());
        let open = ConstGauge::new(i64::from(state.open));
        open.encode(encoder.encode_descriptor(
            "breaker_open",
            "1 while the circuit breaker stops automatic execution",
            None,
            open.metric_type(),
        )?)?;
        let failures = ConstGauge::new(i64::from(state.consecutive_failures));
        failures.encode(encoder.encode_descriptor(
            "breaker_consecutive_failures",
            "Failed executions in a row",
            None,
            failures.metric_type(),
        )?)?;
        Ok(())
    }
}

fn random_key() -> Vec<u8> {
    [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()]
        .iter()
        .flat_map(|u| *u.as_bytes())
        .collect()
}

impl Safety {
    /// Set up the engine from the common options: load the risk rules (an invalid file is an
    /// error naming its line); the audit log opens with its first record. `identity` names the
    /// server in records.
    pub fn new(
        identity: Identity,
        args: &SafetyArgs,
        metrics: &Metrics,
    ) -> Result<Self, SafetyError> {
        let rules = match &args.risk_rules {
            Some(path) => RiskRules::load(path)?,
            None => RiskRules::default(),
        };
        // Opened on the first record: start-up stays free of file I/O, and a server that
        // never changes anything never creates the file.
        let key = args
            .audit_key_file
            .as_deref()
            .map(crate::audit::AuditKey::from_file)
            .transpose()?;
        let audit = AuditLog::lazy(
            args.audit_path(),
            Rotation {
                max_bytes: args.audit_max_bytes,
                keep: args.audit_keep,
            },
        )
        .with_key(key);
        let breaker_config = BreakerConfig {
            failures_to_open: args.breaker_failures.max(1),
            successes_to_close: args.breaker_successes.max(1),
            open_for: Duration::from_secs(args.breaker_open_secs),
        };
        let breaker = Arc::new(Breaker::new(breaker_config));
        metrics.register_collector(BreakerCollector(breaker.clone()));
        let decisions = Family::<DecisionLabels, Counter>::default();
        metrics.register(
            "safety_decisions",
            "Decisions of the safety engine by decision and risk",
            decisions.clone(),
        );
        Ok(Self {
            inner: Arc::new(Inner {
                server: identity.name.trim_start_matches("opsmcp-").to_owned(),
                mode: args.mode,
                thresholds: args.thresholds(),
                read_only: args.read_only,
                destructive_enabled: args.enable_destructive,
                destructive_switch: "--enable-destructive (OPSMCP_ENABLE_DESTRUCTIVE=true)".into(),
                ask_timeout: Duration::from_secs(args.approval_timeout_secs.max(1)),
                rules,
                breaker,
                breaker_config,
                audit: Arc::new(audit),
                codec: RequestStateCodec::try_new(random_key())
                    .expect("a 32-byte key is long enough"),
                answered: Mutex::default(),
                decisions,
            }),
        })
    }

    /// Name this server's own destructive switch (e.g. `K8S_ENABLE_DESTRUCTIVE_OPERATIONS`)
    /// and whether it is on, in addition to the generic `--enable-destructive`.
    pub fn with_destructive_switch(mut self, name: &str, enabled: bool) -> Self {
        let inner = Arc::get_mut(&mut self.inner).expect("configured before it is shared");
        inner.destructive_enabled |= enabled;
        inner.destructive_switch = format!("{name}=true or --enable-destructive");
        self
    }

    pub fn mode(&self) -> Mode {
        self.inner.mode
    }

    /// `--read-only`: servers leave every non-read tool out of `tools/list`.
    pub fn read_only(&self) -> bool {
        self.inner.read_only
    }

    pub fn breaker_state(&self) -> BreakerState {
        self.inner.breaker.state(Instant::now())
    }

    /// The risk of an action: the classifier, then the operator's rules.
    pub fn assess(&self, action: &Action) -> Assessment {
        let mut action = action.clone();
        action.server.clone_from(&self.inner.server);
        self.inner
            .rules
            .apply(&action, crate::risk::classify_action(&action))
    }

    /// The whole life of a change: [`Safety::gate`] it, and when it may proceed run `change`
    /// and finish the ticket with its outcome (`Ok`: what the backend now holds; `Err`: why
    /// not). A stopped change (planned, declined, refused) answers with the gate's text.
    pub async fn apply<Fut>(
        &self,
        exchange: &Exchange,
        proposal: Proposal,
        preview: impl Future<Output = Option<String>>,
        change: impl FnOnce() -> Fut,
    ) -> Result<CallToolResponse, ErrorData>
    where
        Fut: Future<Output = Result<String, String>>,
    {
        match self.gate(exchange, proposal, preview).await? {
            Gate::Proceed(ticket) => Ok(ticket.finish(change().await).await),
            Gate::Stop(answer) => Ok(answer),
        }
    }

    /// Classify, decide, ask if needed and record. `preview` is awaited only when it is shown
    /// (plan mode and questions): the server's dry run or description of the effect.
    pub async fn gate(
        &self,
        exchange: &Exchange,
        proposal: Proposal,
        preview: impl Future<Output = Option<String>>,
    ) -> Result<Gate, ErrorData> {
        let started = Instant::now();
        let assessment = self.assess(&proposal.action);
        if let Some(c) = proposal.confidence
            && !(0.0..=1.0).contains(&c)
        {
            return Err(ErrorData::invalid_params(
                format!("confidence must be between 0 and 1, got {c}"),
                None,
            ));
        }
        let switches = Switches {
            read_only: self.inner.read_only,
            destructive_enabled: self.inner.destructive_enabled,
            breaker_open: self.inner.breaker.is_open(Instant::now()),
        };
        let verdict = decide(
            self.inner.mode,
            assessment.level,
            proposal.confidence,
            switches,
            self.inner.thresholds,
            &self.inner.destructive_switch,
        );
        let mut record = Record {
            safety: self,
            proposal: &proposal,
            assessment: &assessment,
            caller: exchange.caller(),
            started,
        };
        match verdict.decision {
            Decision::Refuse => {
                record.write("refused", &verdict.reason).await?;
                Ok(Gate::Stop(refusal(&proposal, &assessment, &verdict.reason)))
            }
            Decision::Skip => {
                record.write("skipped", &verdict.reason).await?;
                Ok(Gate::Stop(refusal(&proposal, &assessment, &verdict.reason)))
            }
            Decision::Preview => {
                let preview = preview.await;
                record.write("planned", &verdict.reason).await?;
                Ok(Gate::Stop(plan(&proposal, &assessment, preview.as_deref())))
            }
            Decision::Execute => {
                let how = if assessment.level == RiskLevel::Low {
                    verdict.reason.clone()
                } else {
                    format!("automatic: {}", verdict.reason)
                };
                record.write("approved", &how).await?;
                Ok(Gate::Proceed(self.ticket(
                    &proposal,
                    &assessment,
                    how,
                    &record,
                )))
            }
            Decision::Ask => {
                self.ask(
                    exchange,
                    &proposal,
                    &assessment,
                    &verdict.reason,
                    preview,
                    &mut record,
                )
                .await
            }
        }
    }

    async fn ask(
        &self,
        exchange: &Exchange,
        proposal: &Proposal,
        assessment: &Assessment,
        why: &str,
        preview: impl Future<Output = Option<String>>,
        record: &mut Record<'_>,
    ) -> Result<Gate, ErrorData> {
        let digest = proposal.digest();
        // A 2026-07-28 retry carrying the user's answer.
        if let Some(answer) = exchange
            .responses
            .as_ref()
            .and_then(|r| r.get(APPROVAL_INPUT))
        {
            let state = self.open_state(exchange.state.as_deref(), &digest)?;
            if state.risk != assessment.level {
                // The rules changed between question and answer: ask again.
                return self
                    .question(exchange, proposal, assessment, why, preview, record)
                    .await;
            }
            return self.answered(proposal, assessment, answer, record).await;
        }
        self.question(exchange, proposal, assessment, why, preview, record)
            .await
    }

    /// Put the question to the user, on the path the client's protocol allows.
    async fn question(
        &self,
        exchange: &Exchange,
        proposal: &Proposal,
        assessment: &Assessment,
        why: &str,
        preview: impl Future<Output = Option<String>>,
        record: &mut Record<'_>,
    ) -> Result<Gate, ErrorData> {
        if !exchange.can_elicit() {
            let reason = format!(
                "{why}, but this client cannot ask the user (it did not declare form elicitation). \
                 Options: run in plan mode to preview the change (OPSMCP_MODE=plan); in yolo mode \
                 (OPSMCP_MODE=yolo) pass a `confidence` of at least {:.2}; or use a client that \
                 supports elicitation",
                if assessment.level == RiskLevel::High {
                    self.inner.thresholds.execute_high
                } else {
                    self.inner.thresholds.execute
                }
            );
            record.write("refused", &reason).await?;
            return Ok(Gate::Stop(refusal(proposal, assessment, &reason)));
        }
        let preview = preview.await;
        let message = form_message(proposal, assessment, why, preview.as_deref());
        let schema = json!({
            "type": "object",
            "properties": {
                "approve": {
                    "type": "boolean",
                    "title": "Run this change",
                    "description": "Yes runs it now; no leaves everything as it is",
                    "default": false
                }
            },
            "required": ["approve"]
        });
        record.write("asked", why).await?;
        if exchange.modern() {
            let state = self.seal_state(&proposal.digest(), assessment.level);
            let requests: InputRequests = serde_json::from_value(json!({
                APPROVAL_INPUT: {
                    "method": "elicitation/create",
                    "params": { "mode": "form", "message": message, "requestedSchema": schema }
                }
            }))
            .map_err(|e| ErrorData::internal_error(format!("approval form: {e}"), None))?;
            let mut result = InputRequiredResult::from_input_requests(requests);
            result.request_state = Some(state);
            return Ok(Gate::Stop(result.into()));
        }
        let params: ElicitRequestParams = serde_json::from_value(json!({
            "mode": "form", "message": message, "requestedSchema": schema
        }))
        .map_err(|e| ErrorData::internal_error(format!("approval form: {e}"), None))?;
        let answer = tokio::select! {
            answer = exchange.cx.peer.create_elicitation_with_timeout(params, Some(self.inner.ask_timeout)) => answer,
            () = exchange.cx.ct.cancelled() => {
                record.write("declined", "the call was cancelled while asking").await?;
                return Ok(Gate::Stop(refusal(proposal, assessment, "the call was cancelled before the user answered")));
            }
        };
        let answer = match answer {
            Ok(result) => json!({ "action": result.action, "content": result.content }),
            Err(e) => {
                let reason = if matches!(e, rmcp::service::ServiceError::Timeout { .. }) {
                    format!(
                        "no answer within {}s counts as a decline",
                        self.inner.ask_timeout.as_secs()
                    )
                } else {
                    format!("the question could not be asked ({e}); nothing was run")
                };
                record.write("declined", &reason).await?;
                return Ok(Gate::Stop(refusal(proposal, assessment, &reason)));
            }
        };
        self.answered(proposal, assessment, &answer, record).await
    }

    /// Act on the user's answer (an `ElicitResult` as JSON, from either path).
    async fn answered(
        &self,
        proposal: &Proposal,
        assessment: &Assessment,
        answer: &Value,
        record: &mut Record<'_>,
    ) -> Result<Gate, ErrorData> {
        let action = serde_json::from_value::<ElicitationAction>(answer["action"].clone()).ok();
        let approve = answer
            .pointer("/content/approve")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if action == Some(ElicitationAction::Accept) && approve {
            let how = "approved by the user".to_owned();
            record.write("approved", &how).await?;
            return Ok(Gate::Proceed(
                self.ticket(proposal, assessment, how, record),
            ));
        }
        let reason = match action {
            Some(ElicitationAction::Accept) => "the user answered no",
            Some(ElicitationAction::Decline) => "the user declined",
            Some(ElicitationAction::Cancel) => "the user dismissed the question",
            _ => "the answer was not understood",
        };
        record.write("declined", reason).await?;
        Ok(Gate::Stop(refusal(proposal, assessment, reason)))
    }

    fn seal_state(&self, digest: &str, risk: RiskLevel) -> String {
        let state = AskState {
            nonce: uuid::Uuid::new_v4().to_string(),
            risk,
        };
        self.inner
            .codec
            .seal_json_with(
                &state,
                &SealOptions::new()
                    .associated_data(digest.as_bytes())
                    .ttl(self.inner.ask_timeout),
            )
            .expect("the state always serializes")
    }

    /// Open and check a returned state: sealed by this process for these arguments, in time,
    /// and not answered before. Every failure gets the same answer (no oracle).
    fn open_state(&self, state: Option<&str>, digest: &str) -> Result<AskState, ErrorData> {
        let invalid = || {
            ErrorData::invalid_params(
                "requestState is missing, altered, expired, already used or was issued for \
                 other arguments; call the tool again without inputResponses to be asked anew",
                None,
            )
        };
        let state: AskState = self
            .inner
            .codec
            .open_json_with(state.ok_or_else(invalid)?, digest.as_bytes())
            .map_err(|e| {
                tracing::debug!(error = %e, "approval state refused");
                invalid()
            })?;
        let now = Instant::now();
        let mut answered = self
            .inner
            .answered
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        answered.retain(|_, until| *until > now);
        if answered
            .insert(state.nonce.clone(), now + self.inner.ask_timeout)
            .is_some()
        {
            return Err(invalid());
        }
        Ok(state)
    }

    fn ticket(
        &self,
        proposal: &Proposal,
        assessment: &Assessment,
        how: String,
        record: &Record<'_>,
    ) -> Ticket {
        Ticket {
            safety: self.clone(),
            proposal: proposal.clone(),
            assessment: assessment.clone(),
            how,
            caller: record.caller.clone(),
            started: Instant::now(),
        }
    }

    fn count(&self, decision: &'static str, risk: RiskLevel) {
        self.inner
            .decisions
            .get_or_create(&DecisionLabels {
                decision,
                risk: risk.as_str(),
            })
            .inc();
    }

    /// Write one record off the async threads (it fsyncs).
    async fn append(&self, entry: Entry) -> Result<crate::audit::Record, AuditError> {
        let audit = self.inner.audit.clone();
        tokio::task::spawn_blocking(move || audit.append(entry))
            .await
            .unwrap_or_else(|e| {
                Err(AuditError::Io {
                    path: self.inner.audit.path().to_owned(),
                    source: std::io::Error::other(e.to_string()),
                })
            })
    }

    /// The `opsmcp://audit/recent` resource description.
    pub fn audit_resource() -> Resource {
        Resource::new(AUDIT_RESOURCE_URI, "audit-recent")
            .with_description(
                "The 50 most recent records of the audit log (JSON Lines, hash-chained): what \
                 was planned, asked, approved, declined, executed, failed or refused",
            )
            .with_mime_type("application/jsonl")
    }

    /// The resources every opsmcp server publishes: its metrics, the recent audit records and its
    /// health.
    pub fn server_resources() -> rmcp::model::ListResourcesResult {
        use crate::tools::CachingHints as _;
        rmcp::model::ListResourcesResult::with_all_items(vec![
            crate::tools::metrics_resource(),
            Self::audit_resource(),
            crate::tools::health_resource(),
        ])
        .cache(300_000, rmcp::model::CacheScope::Public)
    }

    /// Read one of [`Safety::server_resources`]; any other URI is not found.
    pub async fn read_server_resource(
        &self,
        uri: &str,
        metrics: &Metrics,
    ) -> Result<rmcp::model::ReadResourceResponse, ErrorData> {
        match uri {
            crate::metrics::METRICS_RESOURCE_URI => Ok(crate::tools::read_metrics(metrics).into()),
            AUDIT_RESOURCE_URI => Ok(self.read_audit().await?.into()),
            _ => Err(ErrorData::resource_not_found(
                "Resource not found",
                Some(json!({ "uri": uri })),
            )),
        }
    }

    /// The contents of [`AUDIT_RESOURCE_URI`].
    pub async fn read_audit(&self) -> Result<ReadResourceResult, ErrorData> {
        let audit = self.inner.audit.clone();
        let records = tokio::task::spawn_blocking(move || audit.recent(50))
            .await
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))?
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        let text: String = records
            .iter()
            .filter_map(|r| serde_json::to_string(r).ok())
            .map(|l| l + "\n")
            .collect();
        Ok(ReadResourceResult::new(vec![
            ResourceContents::text(text, AUDIT_RESOURCE_URI).with_mime_type("application/jsonl"),
        ]))
    }
}

/// Writes the records of one gate call.
struct Record<'a> {
    safety: &'a Safety,
    proposal: &'a Proposal,
    assessment: &'a Assessment,
    caller: Caller,
    started: Instant,
}

impl Record<'_> {
    async fn write(&mut self, decision: &'static str, outcome: &str) -> Result<(), ErrorData> {
        let safety = self.safety;
        safety.count(decision, self.assessment.level);
        let entry = entry(
            safety,
            self.proposal,
            self.assessment,
            decision,
            outcome,
            &self.caller,
            self.started,
        );
        safety.append(entry).await.map(drop).map_err(|e| {
            tracing::error!(error = %e, "audit log write failed: refusing the change");
            ErrorData::internal_error(
                format!("the audit log could not be written, so nothing was run: {e}"),
                None,
            )
        })
    }
}

fn entry(
    safety: &Safety,
    proposal: &Proposal,
    assessment: &Assessment,
    decision: &str,
    outcome: &str,
    caller: &Caller,
    started: Instant,
) -> Entry {
    Entry {
        time: Entry::now(),
        server: safety.inner.server.clone(),
        tool: proposal.action.tool.clone(),
        arguments: proposal.arguments.clone(),
        risk: assessment.level.to_string(),
        reason: assessment.reason.clone(),
        mode: safety.inner.mode.to_string(),
        confidence: proposal.confidence,
        decision: decision.to_owned(),
        outcome: outcome.to_owned(),
        duration_ms: started.elapsed().as_millis() as u64,
        caller: caller.client.clone(),
        principal: caller.principal.clone(),
    }
}

/// Permission to run one change; [`Ticket::finish`] records how it went.
#[derive(Debug)]
pub struct Ticket {
    safety: Safety,
    proposal: Proposal,
    assessment: Assessment,
    /// Who or what approved it, for the result.
    how: String,
    caller: Caller,
    started: Instant,
}

impl Ticket {
    /// The risk assessment the change ran under.
    pub fn assessment(&self) -> &Assessment {
        &self.assessment
    }

    /// Record the outcome (`Ok(summary)` or `Err(what went wrong)`), feed the circuit breaker
    /// and build the tool's answer: the outcome, then a footer with risk, approval, breaker
    /// state and the audit record.
    pub async fn finish(self, outcome: Result<String, String>) -> CallToolResponse {
        let now = Instant::now();
        let breaker = &self.safety.inner.breaker;
        match &outcome {
            Ok(_) => breaker.record_success(now),
            Err(_) => breaker.record_failure(now),
        }
        let (decision, text) = match &outcome {
            Ok(t) => ("executed", t.as_str()),
            Err(e) => ("failed", e.as_str()),
        };
        self.safety.count(decision, self.assessment.level);
        let summary: String = text
            .lines()
            .next()
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect();
        let entry = entry(
            &self.safety,
            &self.proposal,
            &self.assessment,
            decision,
            &summary,
            &self.caller,
            self.started,
        );
        let audit = match self.safety.append(entry).await {
            Ok(record) => format!("audit {}", &record.hash[..12]),
            Err(e) => {
                tracing::error!(error = %e, "audit log write failed after a change ran");
                format!("WARNING: the change ran but its outcome could not be audited: {e}")
            }
        };
        let footer = format!(
            "\n— {} risk: {}; {}; {}; {audit}",
            self.assessment.level,
            self.assessment.reason,
            self.how,
            breaker_line(
                &self.safety.breaker_state(),
                &self.safety.inner.breaker_config
            ),
        );
        let body = format!("{text}{footer}");
        match outcome {
            Ok(_) => crate::tools::text(body).into(),
            Err(_) => failure(body).into(),
        }
    }
}

fn breaker_line(state: &BreakerState, config: &BreakerConfig) -> String {
    if state.open {
        format!(
            "circuit breaker OPEN after {} failures: no automatic execution for {}s or until {} approved successes",
            config.failures_to_open,
            state.closes_in_secs.unwrap_or(0),
            config.successes_to_close
        )
    } else {
        format!(
            "breaker closed ({} of {} failures)",
            state.consecutive_failures, config.failures_to_open
        )
    }
}

fn describe(proposal: &Proposal, assessment: &Assessment) -> String {
    format!(
        "{}\nrisk: {} — {}",
        proposal.command, assessment.level, assessment.reason
    )
}

/// Not executed: refused, skipped, declined.
fn refusal(proposal: &Proposal, assessment: &Assessment, why: &str) -> CallToolResponse {
    failure(format!(
        "NOT EXECUTED: {why}.\n{}",
        describe(proposal, assessment)
    ))
    .into()
}

/// Plan mode's answer: what would run, its risk and the preview.
fn plan(proposal: &Proposal, assessment: &Assessment, preview: Option<&str>) -> CallToolResponse {
    let mut text = format!(
        "PLAN (not executed; plan mode):\n{}",
        describe(proposal, assessment)
    );
    if let Some(p) = preview {
        let _ = write!(text, "\npreview:\n{p}");
    }
    crate::tools::text(text).into()
}

fn form_message(
    proposal: &Proposal,
    assessment: &Assessment,
    why: &str,
    preview: Option<&str>,
) -> String {
    let mut text = format!(
        "Approve this {}-risk change?\n{}\nrisk: {} — {}\n({why})",
        assessment.level, proposal.command, assessment.level, assessment.reason
    );
    if let Some(p) = preview {
        let _ = write!(text, "\npreview:\n{p}");
    }
    if let Some(c) = proposal.confidence {
        let _ = write!(text, "\nthe assistant's confidence: {c:.2}");
    }
    text
}
