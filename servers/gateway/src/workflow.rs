//! Workflows: tools made of other tools' calls, declared in the configuration.
//!
//! ```toml
//! [[workflow]]
//! name = "incident_oncall"
//! description = "An incident and who is on call for its service"
//! input.incident = { type = "string", description = "Incident number or id" }
//!
//! [[workflow.step]]
//! id = "incident"
//! tool = "pagerduty/incident_get"          # upstream/tool (or the tool as the gateway lists it)
//! arguments = { id = "${input.incident}" }
//!
//! [[workflow.step]]
//! id = "oncall"
//! tool = "pagerduty/oncalls_list"
//! arguments = { service_id = "${steps.incident.service.id}" }
//! on_error = "continue"                    # or "stop" (default), or { fallback = "tool", arguments = {…} }
//! ```
//!
//! Checked twice before it is served: when the file is read ([`compile`]: inputs and steps that
//! references name exist, no step depends on itself, through others or not) and when the
//! upstreams have listed their tools ([`Workflow::check`]: each step's tool exists, and each
//! `${steps.ID.path}` exists in what that tool declares it returns — its output schema). A typo
//! fails at start-up with its line, not mid-incident.
//!
//! Steps run as soon as the steps they refer to have answered, those without a dependency
//! between them in parallel, each through the gateway's own pipeline (cache, retries,
//! history) asking for structured results. A write step still goes through its server's
//! safety engine: its question reaches the host (a 2026-07-28 host gets the input-required
//! result and retries the workflow; earlier reads then come from the cache).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Result, bail};
use base64::Engine;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, InputRequiredResult, JsonObject,
    RequestMetaObject, Tool, ToolAnnotations,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::{
    catalog::{Catalog, StepTools},
    history::text_of,
    template::Template,
};

/// How a workflow's request state starts (the state it wraps is a step's upstream's).
const STATE_PREFIX: &str = "opsmcp-workflow:";

// ---- what the file declares

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowSpec {
    pub name: String,
    pub description: String,
    #[serde(default)]
    pub input: BTreeMap<String, InputSpec>,
    pub step: Vec<toml::Spanned<StepSpec>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    #[serde(rename = "type", default)]
    pub kind: InputType,
    #[serde(default)]
    pub description: String,
    #[serde(default = "yes")]
    pub required: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputType {
    #[default]
    String,
    Integer,
    Number,
    Boolean,
}

impl InputType {
    fn name(self) -> &'static str {
        match self {
            InputType::String => "string",
            InputType::Integer => "integer",
            InputType::Number => "number",
            InputType::Boolean => "boolean",
        }
    }

    fn accepts(self, value: &Value) -> bool {
        match self {
            InputType::String => value.is_string(),
            InputType::Integer => value.is_i64() || value.is_u64(),
            InputType::Number => value.is_number(),
            InputType::Boolean => value.is_boolean(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    pub id: String,
    pub tool: String,
    #[serde(default)]
    pub arguments: Map<String, Value>,
    #[serde(default)]
    pub on_error: OnError,
}

/// What a failed step does to the workflow.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OnError {
    Action(Action),
    /// Another tool answers in its place.
    Fallback {
        fallback: String,
        #[serde(default)]
        arguments: Option<Map<String, Value>>,
    },
}

impl Default for OnError {
    fn default() -> Self {
        OnError::Action(Action::Stop)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// The steps not yet started do not run.
    Stop,
    /// Only the steps that refer to it are skipped.
    Continue,
}

// ---- compiled

#[derive(Debug, Clone)]
pub struct Workflow {
    pub name: String,
    pub description: String,
    inputs: BTreeMap<String, InputSpec>,
    steps: Vec<Step>,
    /// Step indexes by wave: a wave's steps depend only on earlier waves'.
    waves: Vec<Vec<usize>>,
}

#[derive(Debug, Clone)]
struct Step {
    id: String,
    tool: String,
    arguments: Template,
    on_error: OnError,
    /// The steps it refers to.
    needs: BTreeSet<usize>,
    line: usize,
    /// Each `${steps.…}` reference with its line.
    references: Vec<(Vec<String>, usize)>,
}

fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The text of the table whose header starts at `start`: up to the next header.
fn table_text(text: &str, start: usize) -> &str {
    let rest = text.get(start..).unwrap_or_default();
    let body = rest.find('\n').map_or(rest.len(), |i| i + 1);
    let end = rest[body..]
        .match_indices('\n')
        .map(|(i, _)| body + i + 1)
        .find(|&i| rest[i..].trim_start().starts_with('['))
        .unwrap_or(rest.len());
    &rest[..end]
}

/// Check the declared workflows against themselves; `text` is the file (for lines).
pub fn compile(specs: &[WorkflowSpec], text: &str) -> Result<Vec<Workflow>> {
    let mut names = BTreeSet::new();
    specs
        .iter()
        .map(|spec| {
            if !names.insert(spec.name.as_str()) {
                bail!("two workflows are named {:?}", spec.name);
            }
            compile_one(spec, text)
        })
        .collect()
}

fn compile_one(spec: &WorkflowSpec, text: &str) -> Result<Workflow> {
    let ids: Vec<&str> = spec.step.iter().map(|s| s.get_ref().id.as_str()).collect();
    let mut steps = Vec::with_capacity(spec.step.len());
    for (index, spanned) in spec.step.iter().enumerate() {
        let s = spanned.get_ref();
        let span = spanned.span();
        let line = line_at(text, span.start);
        let at = |message: String| {
            anyhow::anyhow!(
                "line {line}: workflow {}, step {}: {message}",
                spec.name,
                s.id
            )
        };
        if ids[..index].contains(&s.id.as_str()) {
            return Err(at("two steps have this id".into()));
        }
        let mut templates = vec![Value::Object(s.arguments.clone())];
        if let OnError::Fallback { arguments, .. } = &s.on_error {
            templates.push(Value::Object(arguments.clone().unwrap_or_default()));
        }
        let mut needs = BTreeSet::new();
        let mut references = Vec::new();
        for template in &templates {
            for path in Template::new(template.clone()).references() {
                let joined = path.join(".");
                let ref_line = table_text(text, span.start)
                    .find(&joined)
                    .map_or(line, |i| line_at(text, span.start + i));
                match (path.first().map(String::as_str), path.get(1)) {
                    (Some("input"), Some(name)) if spec.input.contains_key(name) => {}
                    (Some("input"), _) => {
                        return Err(anyhow::anyhow!(
                            "line {ref_line}: workflow {}, step {}: `${{{joined}}}` names no input (declared: {})",
                            spec.name,
                            s.id,
                            spec.input.keys().cloned().collect::<Vec<_>>().join(", ")
                        ));
                    }
                    (Some("steps"), Some(id)) => {
                        let Some(target) = ids.iter().position(|i| i == id) else {
                            return Err(anyhow::anyhow!(
                                "line {ref_line}: workflow {}, step {}: `${{{joined}}}` names no step (steps: {})",
                                spec.name,
                                s.id,
                                ids.join(", ")
                            ));
                        };
                        if target == index {
                            return Err(at(format!("`${{{joined}}}` refers to the step itself")));
                        }
                        needs.insert(target);
                        references.push((path.clone(), ref_line));
                    }
                    _ => {
                        return Err(anyhow::anyhow!(
                            "line {ref_line}: workflow {}, step {}: `${{{joined}}}` is neither `${{input.NAME}}` nor `${{steps.ID…}}`",
                            spec.name,
                            s.id
                        ));
                    }
                }
            }
        }
        steps.push(Step {
            id: s.id.clone(),
            tool: s.tool.clone(),
            arguments: Template::new(Value::Object(s.arguments.clone())),
            on_error: s.on_error.clone(),
            needs,
            line,
            references,
        });
    }
    let waves = waves(&steps).map_err(|cycle| {
        anyhow::anyhow!(
            "workflow {}: steps {} depend on each other in a circle",
            spec.name,
            cycle.join(", ")
        )
    })?;
    Ok(Workflow {
        name: spec.name.clone(),
        description: spec.description.clone(),
        inputs: spec.input.clone(),
        steps,
        waves,
    })
}

/// The steps in waves (Kahn's algorithm); `Err` names the steps of a cycle.
fn waves(steps: &[Step]) -> Result<Vec<Vec<usize>>, Vec<String>> {
    let mut done = BTreeSet::new();
    let mut waves = Vec::new();
    while done.len() < steps.len() {
        let wave: Vec<usize> = (0..steps.len())
            .filter(|i| !done.contains(i) && steps[*i].needs.is_subset(&done))
            .collect();
        if wave.is_empty() {
            return Err((0..steps.len())
                .filter(|i| !done.contains(i))
                .map(|i| steps[i].id.clone())
                .collect());
        }
        done.extend(wave.iter().copied());
        waves.push(wave);
    }
    Ok(waves)
}

impl Workflow {
    /// The catalog names of each step's tool and fallback, or why the workflow cannot run on
    /// `catalog`: a tool that is not there, or a reference into a result that the tool does
    /// not declare. `upstreams` are the upstreams' names by position.
    pub fn check(
        &self,
        catalog: &Catalog,
        upstreams: &[&str],
    ) -> Result<Vec<StepTools>, Vec<String>> {
        let mut problems = Vec::new();
        let mut resolved = Vec::new();
        for step in &self.steps {
            let at = |line: usize| format!("line {line}: workflow {}, step {}", self.name, step.id);
            let tool = resolve(catalog, upstreams, &step.tool).unwrap_or_else(|| {
                problems.push(format!(
                    "{}: no tool {} behind the gateway",
                    at(step.line),
                    step.tool
                ));
                String::new()
            });
            let fallback = match &step.on_error {
                OnError::Fallback { fallback, .. } => {
                    let found = resolve(catalog, upstreams, fallback);
                    if found.is_none() {
                        problems.push(format!(
                            "{}: no fallback tool {fallback} behind the gateway",
                            at(step.line)
                        ));
                    }
                    found
                }
                OnError::Action(_) => None,
            };
            resolved.push(StepTools { tool, fallback });
        }
        for step in &self.steps {
            for (path, line) in &step.references {
                let target = self
                    .steps
                    .iter()
                    .position(|s| s.id == path[1])
                    .expect("compiled");
                let Some(tool) = catalog
                    .tools
                    .iter()
                    .find(|t| t.name == resolved[target].tool)
                else {
                    continue; // reported above
                };
                // `${steps.ID}` alone is the step's whole result (its text without a schema).
                if path.len() > 2
                    && let Err(why) = follow(tool, &path[2..])
                {
                    problems.push(format!(
                        "line {line}: workflow {}, step {}: `${{{}}}`: {why}",
                        self.name,
                        step.id,
                        path.join(".")
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok(resolved)
        } else {
            Err(problems)
        }
    }

    /// The tool hosts call, annotated as its riskiest step (`tools` are the steps' tools).
    pub fn tool(&self, tools: &[&Tool]) -> Tool {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for (name, input) in &self.inputs {
            let mut schema = json!({ "type": input.kind.name() });
            if !input.description.is_empty() {
                schema["description"] = json!(input.description);
            }
            properties.insert(name.clone(), schema);
            if input.required {
                required.push(json!(name));
            }
        }
        let mut schema = JsonObject::new();
        schema.insert("type".into(), json!("object"));
        schema.insert("properties".into(), Value::Object(properties));
        if !required.is_empty() {
            schema.insert("required".into(), Value::Array(required));
        }
        let hint =
            |t: &&Tool, f: fn(&ToolAnnotations) -> Option<bool>| t.annotations.as_ref().and_then(f);
        let read_only = tools
            .iter()
            .all(|t| hint(t, |a| a.read_only_hint) == Some(true));
        let mut annotations = ToolAnnotations::new().read_only(read_only).open_world(
            tools
                .iter()
                .any(|t| hint(t, |a| a.open_world_hint) != Some(false)),
        );
        if !read_only {
            annotations = annotations.destructive(
                tools
                    .iter()
                    .any(|t| hint(t, |a| a.destructive_hint) == Some(true)),
            );
        }
        Tool::new(
            self.name.clone(),
            format!("{} (workflow: {})", self.description, self.step_summary()),
            opsmcp_core::tools::compact_schema(&schema),
        )
        .annotate(annotations)
    }

    fn step_summary(&self) -> String {
        self.waves
            .iter()
            .map(|wave| {
                wave.iter()
                    .map(|i| self.steps[*i].tool.as_str())
                    .collect::<Vec<_>>()
                    .join(" + ")
            })
            .collect::<Vec<_>>()
            .join(" → ")
    }
}

/// The catalog name of `tool`: `upstream/name` or a listed name.
fn resolve(catalog: &Catalog, upstreams: &[&str], tool: &str) -> Option<String> {
    if let Some((upstream, name)) = tool.split_once('/') {
        let index = upstreams.iter().position(|u| *u == upstream)?;
        return catalog
            .routes
            .iter()
            .find(|(_, r)| r.upstream == index && r.name == name)
            .map(|(listed, _)| listed.clone());
    }
    catalog.routes.contains_key(tool).then(|| tool.to_owned())
}

/// Follow `path` into what `tool` declares it returns.
fn follow(tool: &Tool, path: &[String]) -> Result<(), String> {
    let Some(schema) = &tool.output_schema else {
        return Err(format!(
            "{} declares no structured result to refer into",
            tool.name
        ));
    };
    let mut at = Value::Object((**schema).clone());
    let mut walked = Vec::new();
    for segment in path {
        let next = if let Some(items) = at.get("items") {
            if segment.parse::<usize>().is_err() {
                return Err(format!(
                    "{} is a list in {}'s result: index it by number",
                    shown(&walked),
                    tool.name
                ));
            }
            items.clone()
        } else if let Some(props) = at.get("properties").and_then(Value::as_object) {
            match props.get(segment) {
                Some(p) => p.clone(),
                None => {
                    return Err(format!(
                        "{}'s result has no `{segment}` in {} (it has {})",
                        tool.name,
                        shown(&walked),
                        props.keys().cloned().collect::<Vec<_>>().join(", ")
                    ));
                }
            }
        } else if at
            .get("additionalProperties")
            .is_some_and(|a| a != &json!(false))
            || at.get("type").is_none()
        {
            return Ok(()); // free-form from here on
        } else {
            return Err(format!(
                "{} in {}'s result is a {}, not an object",
                shown(&walked),
                tool.name,
                at["type"]
            ));
        };
        walked.push(segment.clone());
        at = next;
    }
    Ok(())
}

fn shown(walked: &[String]) -> String {
    if walked.is_empty() {
        "the top level".into()
    } else {
        format!("`{}`", walked.join("."))
    }
}

// ---- running

/// How one step ended.
#[derive(Debug)]
pub enum StepOutcome {
    /// Its result: structured content, or the text.
    Done {
        value: Value,
        text: String,
        via: Option<String>,
    },
    Failed(String),
    Skipped(String),
}

/// A workflow's request state: which step asked, and that step's upstream state.
#[derive(Debug, Serialize, Deserialize)]
pub struct Resume {
    pub step: String,
    pub state: Option<String>,
}

impl Resume {
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        format!(
            "{STATE_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
        )
    }

    pub fn decode(state: &str) -> Option<Self> {
        let b64 = state.strip_prefix(STATE_PREFIX)?;
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(b64)
            .ok()?;
        serde_json::from_slice(&json).ok()
    }
}

/// What a workflow run needs from the gateway: one step's call.
pub trait Caller {
    /// Call `params` (named as the catalog lists it) and return how it ended.
    fn call(
        &self,
        params: CallToolRequestParams,
    ) -> impl std::future::Future<Output = CallToolResponse> + Send;
}

impl Workflow {
    /// Check the call's arguments against the declared inputs.
    fn inputs(&self, arguments: Option<&JsonObject>) -> Result<Map<String, Value>, String> {
        let given = arguments.cloned().unwrap_or_default();
        for (name, input) in &self.inputs {
            match given.get(name) {
                None if input.required => return Err(format!("missing input `{name}`")),
                Some(v) if !input.kind.accepts(v) => {
                    return Err(format!("input `{name}` must be a {}", input.kind.name()));
                }
                _ => {}
            }
        }
        if let Some(unknown) = given.keys().find(|k| !self.inputs.contains_key(*k)) {
            return Err(format!("unknown input `{unknown}`"));
        }
        Ok(given)
    }

    /// Run the workflow; `tools` are the steps' tools (from [`Self::check`]);
    /// `resume` carries a 2026-07-28 host's answer to a step's question.
    pub async fn run(
        &self,
        caller: &impl Caller,
        tools: &[StepTools],
        arguments: Option<&JsonObject>,
        resume: Option<(Resume, rmcp::model::InputResponses)>,
    ) -> CallToolResponse {
        let input = match self.inputs(arguments) {
            Ok(input) => input,
            Err(why) => return opsmcp_core::tools::failure(format!("{}: {why}", self.name)).into(),
        };
        let mut context = json!({ "input": input, "steps": {} });
        let mut outcomes: Vec<Option<StepOutcome>> = (0..self.steps.len()).map(|_| None).collect();
        let mut stopped = false;
        for wave in &self.waves {
            let runnable: Vec<usize> = wave
                .iter()
                .copied()
                .filter(|i| {
                    let blocked = self.steps[*i]
                        .needs
                        .iter()
                        .find(|n| !matches!(outcomes[**n], Some(StepOutcome::Done { .. })));
                    match (stopped, blocked) {
                        (true, _) => {
                            outcomes[*i] =
                                Some(StepOutcome::Skipped("the workflow stopped".into()));
                            false
                        }
                        (false, Some(n)) => {
                            outcomes[*i] = Some(StepOutcome::Skipped(format!(
                                "needs {}, which did not answer",
                                self.steps[*n].id
                            )));
                            false
                        }
                        (false, None) => true,
                    }
                })
                .collect();
            let calls = runnable.iter().map(|&i| {
                let step = &self.steps[i];
                let answer = resume
                    .as_ref()
                    .filter(|(r, _)| r.step == step.id)
                    .map(|(r, responses)| (r.state.clone(), responses.clone()));
                self.run_step(caller, step, &tools[i], &context, answer)
            });
            let results = futures::future::join_all(calls).await;
            for (i, result) in runnable.into_iter().zip(results) {
                let step = &self.steps[i];
                match result {
                    Ok(outcome) => {
                        if let StepOutcome::Done { value, .. } = &outcome {
                            context["steps"][&step.id] = value.clone();
                        } else if matches!(step.on_error, OnError::Action(Action::Stop)) {
                            stopped = true;
                        }
                        outcomes[i] = Some(outcome);
                    }
                    // A question for the host: the whole workflow answers with it.
                    Err(mut asked) => {
                        asked.request_state = Some(
                            Resume {
                                step: step.id.clone(),
                                state: asked.request_state.take(),
                            }
                            .encode(),
                        );
                        return CallToolResponse::InputRequired(asked);
                    }
                }
            }
        }
        self.report(&outcomes).into()
    }

    /// One step: its arguments filled in, its call, its fallback if it fails.
    async fn run_step(
        &self,
        caller: &impl Caller,
        step: &Step,
        tools: &StepTools,
        context: &Value,
        answer: Option<(Option<String>, rmcp::model::InputResponses)>,
    ) -> Result<StepOutcome, InputRequiredResult> {
        let arguments = match step.arguments.resolve(context) {
            Ok(Value::Object(map)) => map,
            Ok(_) => unreachable!("an object template resolves to an object"),
            Err(why) => return Ok(StepOutcome::Failed(why)),
        };
        let mut params = CallToolRequestParams::new(tools.tool.clone()).with_arguments(arguments);
        params.meta = Some(structured_meta());
        if let Some((state, responses)) = answer {
            params.request_state = state;
            params.input_responses = Some(responses);
        }
        let failed = match caller.call(params).await {
            CallToolResponse::Complete(result) if result.is_error != Some(true) => {
                return Ok(done(result, None));
            }
            CallToolResponse::Complete(result) => text_of(&result),
            CallToolResponse::InputRequired(asked) => return Err(asked),
            other => format!("unexpected answer: {other:?}"),
        };
        let (
            OnError::Fallback {
                fallback,
                arguments,
            },
            Some(listed),
        ) = (&step.on_error, &tools.fallback)
        else {
            return Ok(StepOutcome::Failed(failed));
        };
        let arguments = match Template::new(Value::Object(arguments.clone().unwrap_or_default()))
            .resolve(context)
        {
            Ok(Value::Object(map)) => map,
            Ok(_) => unreachable!("an object template resolves to an object"),
            Err(why) => return Ok(StepOutcome::Failed(format!("{failed}; fallback: {why}"))),
        };
        let mut params = CallToolRequestParams::new(listed.clone()).with_arguments(arguments);
        params.meta = Some(structured_meta());
        match caller.call(params).await {
            CallToolResponse::Complete(result) if result.is_error != Some(true) => Ok(done(
                result,
                Some(format!(
                    "{} failed ({failed}); answered by {fallback}",
                    step.tool
                )),
            )),
            CallToolResponse::Complete(result) => Ok(StepOutcome::Failed(format!(
                "{failed}; fallback {fallback} failed too: {}",
                text_of(&result)
            ))),
            CallToolResponse::InputRequired(asked) => Err(asked),
            other => Ok(StepOutcome::Failed(format!(
                "{failed}; fallback: {other:?}"
            ))),
        }
    }

    /// The report: each step under its id, in declaration order.
    fn report(&self, outcomes: &[Option<StepOutcome>]) -> CallToolResult {
        let mut out = String::new();
        let mut failed = 0;
        let mut data = Map::new();
        for (step, outcome) in self.steps.iter().zip(outcomes) {
            out.push_str(&format!("## {} ({})\n", step.id, step.tool));
            match outcome {
                Some(StepOutcome::Done { text, via, value }) => {
                    if let Some(via) = via {
                        out.push_str(&format!("[{via}]\n"));
                    }
                    out.push_str(text.trim_end());
                    data.insert(step.id.clone(), value.clone());
                }
                Some(StepOutcome::Failed(why)) => {
                    failed += 1;
                    out.push_str(&format!("failed: {why}"));
                }
                Some(StepOutcome::Skipped(why)) => out.push_str(&format!("skipped: {why}")),
                None => out.push_str("not run"),
            }
            out.push_str("\n\n");
        }
        let head = if failed == 0 {
            format!("{}: {} steps answered\n\n", self.name, self.steps.len())
        } else {
            format!(
                "{}: partial, {failed} of {} steps failed\n\n",
                self.name,
                self.steps.len()
            )
        };
        let result = opsmcp_core::tools::text(head + out.trim_end());
        opsmcp_core::structured::with_structured(result, &Value::Object(data))
    }
}

fn structured_meta() -> RequestMetaObject {
    let mut meta = RequestMetaObject::new();
    meta.insert(opsmcp_core::structured::META_KEY.into(), json!(true));
    meta
}

fn done(result: CallToolResult, via: Option<String>) -> StepOutcome {
    let text = text_of(&result);
    StepOutcome::Done {
        value: result
            .structured_content
            .clone()
            .unwrap_or_else(|| Value::String(text.clone())),
        text,
        via,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Workflow>> {
        #[derive(Deserialize)]
        struct File {
            workflow: Vec<WorkflowSpec>,
        }
        let file: File = toml::from_str(text)?;
        compile(&file.workflow, text)
    }

    const TWO_STEPS: &str = r#"
[[workflow]]
name = "w"
description = "d"
input.incident = { type = "string" }

[[workflow.step]]
id = "incident"
tool = "pagerduty/incident_get"
arguments = { id = "${input.incident}" }

[[workflow.step]]
id = "oncall"
tool = "pagerduty/oncalls_list"
arguments = { service_id = "${steps.incident.service.id}" }
"#;

    #[test]
    fn references_are_checked_with_their_lines_and_steps_ordered_in_waves() {
        let w = &parse(TWO_STEPS).unwrap()[0];
        assert_eq!(w.waves, [vec![0], vec![1]]);
        assert_eq!(
            w.steps[1].references,
            [(
                vec![
                    "steps".to_owned(),
                    "incident".into(),
                    "service".into(),
                    "id".into()
                ],
                15
            )]
        );

        let typo = TWO_STEPS.replace("${input.incident}", "${input.incidnet}");
        let e = parse(&typo).unwrap_err().to_string();
        assert!(e.starts_with("line 10: workflow w, step incident: `${input.incidnet}` names no input (declared: incident)"), "{e}");
        let typo = TWO_STEPS.replace("steps.incident.service", "steps.incidents.service");
        let e = parse(&typo).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "line 15: workflow w, step oncall: `${steps.incidents.service.id}` names no step"
            ),
            "{e}"
        );
        let circle = TWO_STEPS.replace("${input.incident}", "${steps.oncall.x}");
        let e = parse(&circle).unwrap_err().to_string();
        assert!(
            e.contains("steps incident, oncall depend on each other in a circle"),
            "{e}"
        );
    }

    #[test]
    fn references_follow_output_schemas() {
        let schema = opsmcp_core::structured::schema_for::<Sample>();
        let tool = Tool::new("t", "d", std::sync::Arc::new(JsonObject::new()))
            .with_raw_output_schema(schema);
        let path = |p: &str| p.split('.').map(str::to_owned).collect::<Vec<_>>();
        assert!(follow(&tool, &path("service.id")).is_ok());
        assert!(follow(&tool, &path("items.0.name")).is_ok());
        let e = follow(&tool, &path("service.idd")).unwrap_err();
        assert_eq!(e, "t's result has no `idd` in `service` (it has id, name)");
        let e = follow(&tool, &path("items.name")).unwrap_err();
        assert_eq!(e, "`items` is a list in t's result: index it by number");
        let e = follow(&tool, &path("number.x")).unwrap_err();
        assert!(
            e.starts_with("`number` in t's result is a \"integer\""),
            "{e}"
        );
    }

    #[derive(Serialize, schemars::JsonSchema)]
    struct Sample {
        number: u32,
        service: Named,
        items: Vec<Named>,
    }

    #[derive(Serialize, schemars::JsonSchema)]
    struct Named {
        id: String,
        name: String,
    }

    #[test]
    fn a_workflow_state_round_trips() {
        let state = Resume {
            step: "resolve".into(),
            state: Some("sealed".into()),
        }
        .encode();
        let back = Resume::decode(&state).unwrap();
        assert_eq!(
            (back.step.as_str(), back.state.as_deref()),
            ("resolve", Some("sealed"))
        );
        assert!(Resume::decode("sealed").is_none());
    }
}
