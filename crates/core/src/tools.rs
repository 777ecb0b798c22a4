//! Tool-schema helpers: every tool declares its [`Effect`], and the MCP annotations
//! (`readOnlyHint`, `destructiveHint`, `idempotentHint`, `openWorldHint`) are derived from it
//! in one place, so no tool can forget one and no two tools spell the same effect differently.
//! Also the instrumented dispatch that records each call in [`Metrics`].

use std::time::Instant;

use rmcp::{
    ErrorData,
    handler::server::{router::tool::ToolRouter, tool::ToolCallContext},
    model::{
        CacheScope, CallToolResponse, JsonObject, ListPromptsResult, ListResourceTemplatesResult,
        ListResourcesResult, ListToolsResult, ReadResourceResult, Resource, ResourceContents, Tool,
        ToolAnnotations,
    },
};

use crate::metrics::{METRICS_RESOURCE_URI, Metrics, Outcome};

/// What a tool does to the world it talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Reads only.
    Read,
    /// Changes something. `destructive`: the change removes or overwrites state that cannot be
    /// recovered by calling another tool; `idempotent`: repeating the call changes nothing more.
    Write { destructive: bool, idempotent: bool },
}

impl Effect {
    pub fn is_read_only(self) -> bool {
        matches!(self, Effect::Read)
    }
}

/// The annotations implied by `effect`. `open_world` is true for tools that reach an external
/// system (a cluster, an API), false for tools that only compute. `destructiveHint` and
/// `idempotentHint` mean something only when `readOnlyHint` is false, so read tools leave them
/// out: every tool definition is paid for in tokens in every conversation.
pub fn annotations(effect: Effect, open_world: bool) -> ToolAnnotations {
    let base = ToolAnnotations::new().open_world(open_world);
    match effect {
        Effect::Read => base.read_only(true),
        Effect::Write {
            destructive,
            idempotent,
        } => base
            .read_only(false)
            .destructive(destructive)
            .idempotent(idempotent),
    }
}

/// A read-only tool described by hand rather than by a `#[tool]` function (the gateway's own
/// tools): `schema` is its input schema, a JSON object literal.
pub fn read_tool(
    name: &'static str,
    description: &'static str,
    schema: serde_json::Value,
    open_world: bool,
) -> Tool {
    let serde_json::Value::Object(schema) = schema else {
        panic!("the input schema of {name} is not a JSON object");
    };
    Tool::new(name, description, compact_schema(&schema))
        .annotate(annotations(Effect::Read, open_world))
}

/// Set the annotations of every tool in `router` from `effects` (by tool name). Fails with the
/// names of tools that have no declared effect, and of declared names that are not tools.
pub fn declare_effects<S>(
    router: &mut ToolRouter<S>,
    effects: &[(&str, Effect)],
    open_world: bool,
) -> Result<(), String> {
    let mut problems = Vec::new();
    for (name, effect) in effects {
        match router.map.get_mut(*name) {
            Some(route) => route.attr.annotations = Some(annotations(*effect, open_world)),
            None => problems.push(format!("`{name}` has an effect but is not a tool")),
        }
    }
    for name in router.map.keys() {
        if !effects.iter().any(|(n, _)| *n == name.as_ref()) {
            problems.push(format!("tool `{name}` declares no effect"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        problems.sort();
        Err(problems.join("; "))
    }
}

/// Make the input schemas of every tool in `router` as small as they can be without losing
/// meaning, since hosts send them with every conversation: drop `$schema`, inline `$defs`,
/// turn one-of-constants enums into `enum`, drop `null` from optional types (absence already
/// says it), and drop `format` hints on integers and empty defaults.
pub fn compact_schemas<S>(router: &mut ToolRouter<S>) {
    for route in router.map.values_mut() {
        route.attr.input_schema = compact_schema(&route.attr.input_schema);
    }
}

/// One schema compacted as [`compact_schemas`] does: `$defs` inlined, `$schema` dropped.
pub fn compact_schema(schema: &rmcp::model::JsonObject) -> std::sync::Arc<rmcp::model::JsonObject> {
    compact_root(schema, Nulls::Drop)
}

/// An output schema compacted like an input schema, but `null` stays where a value may be
/// `null`: an answer's absent value is serialized as one, and a validator must accept it.
pub fn compact_output_schema(
    schema: &rmcp::model::JsonObject,
) -> std::sync::Arc<rmcp::model::JsonObject> {
    compact_root(schema, Nulls::Keep)
}

/// Whether `null` is dropped from optional types (inputs: absence says it) or kept (outputs).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Nulls {
    Drop,
    Keep,
}

fn compact_root(
    schema: &rmcp::model::JsonObject,
    nulls: Nulls,
) -> std::sync::Arc<rmcp::model::JsonObject> {
    let mut schema = serde_json::Value::Object(schema.clone());
    let defs = schema.as_object_mut().and_then(|o| o.remove("$defs"));
    if let Some(o) = schema.as_object_mut() {
        o.remove("$schema");
    }
    compact(&mut schema, defs.as_ref(), nulls);
    match schema {
        serde_json::Value::Object(o) => std::sync::Arc::new(o),
        _ => unreachable!("an object stays an object"),
    }
}

fn compact(node: &mut serde_json::Value, defs: Option<&serde_json::Value>, nulls: Nulls) {
    use serde_json::Value;
    let Value::Object(o) = node else {
        if let Value::Array(items) = node {
            items.iter_mut().for_each(|i| compact(i, defs, nulls));
        }
        return;
    };
    // {"anyOf": [{"$ref": …}, {"type": "null"}]} → the referenced schema.
    if let Some(Value::Array(any)) = o.get("anyOf")
        && any.len() == 2
        && any
            .iter()
            .any(|a| a.get("type") == Some(&Value::from("null")))
        && let Some(other) = any
            .iter()
            .find(|a| a.get("type") != Some(&Value::from("null")))
            .cloned()
    {
        o.remove("anyOf");
        let mut inner = other;
        if let Some(reference) = inner.get("$ref").and_then(Value::as_str)
            && let Some(def) = reference
                .strip_prefix("#/$defs/")
                .and_then(|name| defs?.get(name))
        {
            inner = def.clone();
        }
        if let Value::Object(inner) = inner {
            for (k, v) in inner {
                // The property's own description wins over the type's.
                o.entry(k).or_insert(v);
            }
        }
        if nulls == Nulls::Keep
            && let Some(Value::String(t)) = o.get("type")
        {
            let nullable = Value::from(vec![t.clone(), "null".into()]);
            o.insert("type".into(), nullable);
        }
    }
    if let Some(reference) = o.get("$ref").and_then(Value::as_str).map(str::to_owned)
        && let Some(def) = reference
            .strip_prefix("#/$defs/")
            .and_then(|name| defs?.get(name))
    {
        o.remove("$ref");
        if let Value::Object(def) = def.clone() {
            for (k, v) in def {
                o.entry(k).or_insert(v);
            }
        }
    }
    // oneOf of string constants → enum.
    if let Some(Value::Array(one)) = o.get("oneOf")
        && one
            .iter()
            .all(|c| c.get("const").is_some_and(Value::is_string))
    {
        let values: Vec<Value> = one.iter().filter_map(|c| c.get("const").cloned()).collect();
        o.remove("oneOf");
        o.insert("type".into(), "string".into());
        o.insert("enum".into(), Value::Array(values));
    }
    if nulls == Nulls::Drop
        && let Some(Value::Array(types)) = o.get("type")
    {
        let kept: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        if kept.len() == 1 {
            o.insert("type".into(), kept[0].clone());
        }
    }
    // `format: int64 / uint32 / double` tells a model nothing the type does not.
    if matches!(
        o.get("type").and_then(Value::as_str),
        Some("integer" | "number")
    ) {
        o.remove("format");
    }
    if matches!(o.get("default"), Some(Value::Array(a)) if a.is_empty())
        || o.get("default") == Some(&Value::Null)
    {
        o.remove("default");
    }
    o.remove("title");
    // An object without properties says it is closed: strict hosts (OpenAI's Agents SDK,
    // Gemini) refuse an object that may hold anything.
    if nulls == Nulls::Drop
        && o.get("type") == Some(&Value::from("object"))
        && !o.contains_key("additionalProperties")
        && o.get("properties")
            .is_none_or(|p| p.as_object().is_some_and(|p| p.is_empty()))
    {
        o.insert("properties".into(), Value::Object(Default::default()));
        o.insert("additionalProperties".into(), Value::Bool(false));
    }
    for (key, value) in o.iter_mut() {
        match key.as_str() {
            // Maps of names to schemas: the names are a tool's own (a parameter called `title`).
            "properties" | "patternProperties" | "$defs" | "definitions" => {
                if let Value::Object(schemas) = value {
                    schemas.values_mut().for_each(|v| compact(v, defs, nulls));
                }
            }
            // Values, not schemas.
            "enum" | "const" | "default" | "examples" | "required" => {}
            _ => compact(value, defs, nulls),
        }
    }
}

/// Remove the arguments a strict host sends for "not given": strict hosts (OpenAI's Agents SDK,
/// Gemini) make every parameter required and send `null` for one the model leaves out, and
/// models write `""`, `[]` or `{}` for an optional value they do not have. `null` always means
/// absent; an empty string, list or object means absent for an optional parameter; so does `0`
/// for an optional integer (a limit, a line, a timeout: each has a positive default).
pub fn drop_not_given(schema: &JsonObject, arguments: &mut JsonObject) {
    use serde_json::Value;
    let required = |name: &str| {
        schema
            .get("required")
            .and_then(Value::as_array)
            .is_some_and(|r| r.iter().any(|n| n == name))
    };
    let property = |name: &str| schema.get("properties").and_then(|p| p.get(name));
    arguments.retain(|name, value| {
        let empty = match value {
            Value::Null => return false,
            Value::String(s) => s.is_empty(),
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
            // Every optional count of these tools has a positive default; 0 asks for nothing.
            Value::Number(n) => {
                n.as_u64() == Some(0)
                    && property(name).and_then(|p| p.get("type")) == Some(&Value::from("integer"))
            }
            Value::Bool(_) => false,
        };
        !empty || required(name)
    });
}

/// Problems with the annotations of `tools`: each must say whether it is read-only and whether
/// it reaches an open world and, if it writes, whether it is destructive and idempotent.
pub fn annotation_problems(tools: &[Tool]) -> Vec<String> {
    let mut problems = Vec::new();
    for tool in tools {
        let Some(a) = &tool.annotations else {
            problems.push(format!("{}: no annotations", tool.name));
            continue;
        };
        let mut missing = Vec::new();
        if a.read_only_hint.is_none() {
            missing.push("readOnlyHint");
        }
        let writes = a.read_only_hint == Some(false);
        if writes && a.destructive_hint.is_none() {
            missing.push("destructiveHint");
        }
        if writes && a.idempotent_hint.is_none() {
            missing.push("idempotentHint");
        }
        if a.open_world_hint.is_none() {
            missing.push("openWorldHint");
        }
        if a.read_only_hint == Some(true) && a.destructive_hint == Some(true) {
            problems.push(format!("{}: read-only and destructive at once", tool.name));
        }
        if !missing.is_empty() {
            problems.push(format!("{}: missing {}", tool.name, missing.join(", ")));
        }
    }
    problems
}

/// Decode the arguments of `tool` into its parameter type. A mismatch is an invalid-params
/// protocol error that names the field and what was expected, e.g.
/// `invalid arguments for echo: text: invalid type: integer `42`, expected a string`.
pub fn arguments<T: serde::de::DeserializeOwned>(
    tool: &str,
    args: Option<JsonObject>,
) -> Result<T, ErrorData> {
    let value = serde_json::Value::Object(args.unwrap_or_default());
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = if path == "." {
            format!("invalid arguments for {tool}: {}", e.inner())
        } else {
            format!("invalid arguments for {tool}: {path}: {}", e.inner())
        };
        ErrorData::invalid_params(message, None)
    })
}

/// Caching hints (`ttlMs`, `cacheScope`, SEP-2549) on the results that carry them, so a host
/// knows how long a listing stays valid.
pub trait CachingHints: Sized {
    fn cache(self, ttl_ms: u64, scope: CacheScope) -> Self;
}

macro_rules! caching_hints {
    ($($result:ty),*) => {$(
        impl CachingHints for $result {
            fn cache(mut self, ttl_ms: u64, scope: CacheScope) -> Self {
                self.ttl_ms = Some(ttl_ms);
                self.cache_scope = Some(scope);
                self
            }
        }
    )*};
}

caching_hints!(
    ListToolsResult,
    ListPromptsResult,
    ListResourcesResult,
    ListResourceTemplatesResult,
    ReadResourceResult
);

/// URI of the resource with a server's health: its backend ready or why not, its breaker (read
/// through [`crate::host::ToolHost::health`]).
pub const HEALTH_RESOURCE_URI: &str = "opsmcp://health";

/// The listing of [`HEALTH_RESOURCE_URI`].
pub fn health_resource() -> Resource {
    Resource::new(HEALTH_RESOURCE_URI, "health")
        .with_description(
            "This server's health as JSON: its backend ready (or why not), its circuit breaker, its tool count",
        )
        .with_mime_type("application/json")
}

/// The `opsmcp://metrics` resource every server lists: its own Prometheus metrics.
pub fn metrics_resource() -> Resource {
    Resource::new(METRICS_RESOURCE_URI, "metrics")
        .with_description(
            "This server's Prometheus metrics: tool calls, latency, backend requests, retries",
        )
        .with_mime_type("text/plain")
}

/// Read `opsmcp://metrics`; never cached (`ttlMs: 0`, private).
pub fn read_metrics(metrics: &Metrics) -> ReadResourceResult {
    let mut result = ReadResourceResult::new(vec![ResourceContents::text(
        metrics.render(),
        METRICS_RESOURCE_URI,
    )]);
    result.ttl_ms = Some(0);
    result.cache_scope = Some(CacheScope::Private);
    result
}

/// Dispatch a `tools/call` through `router` and record it in `metrics`: the call a server's
/// `ServerHandler::call_tool` makes.
pub async fn call_instrumented<S: Send + Sync + 'static>(
    router: &ToolRouter<S>,
    metrics: &Metrics,
    context: ToolCallContext<'_, S>,
) -> Result<CallToolResponse, ErrorData> {
    let name = context.name().to_owned();
    let started = Instant::now();
    let result = router.call(context).await;
    metrics.tool_call(&name, outcome_of(&result), started.elapsed());
    result
}

/// How a `tools/call` ended, for [`Metrics::tool_call`].
pub fn outcome_of(result: &Result<CallToolResponse, ErrorData>) -> Outcome {
    match result {
        Ok(CallToolResponse::Complete(r)) if r.is_error == Some(true) => Outcome::ToolError,
        Ok(CallToolResponse::InputRequired(_)) => Outcome::InputRequired,
        Ok(_) => Outcome::Ok,
        Err(_) => Outcome::ProtocolError,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_schemas_say_where_null_may_stand_and_input_schemas_do_not() {
        #[derive(schemars::JsonSchema, serde::Serialize)]
        struct Inner {
            id: String,
        }
        #[derive(schemars::JsonSchema, serde::Serialize)]
        struct Out {
            resolved_at: Option<String>,
            service: Option<Inner>,
        }
        let raw = rmcp::handler::server::common::schema_for_output::<Out>();
        let output = compact_output_schema(&raw);
        let props = &output["properties"];
        assert_eq!(
            props["resolved_at"]["type"],
            serde_json::json!(["string", "null"])
        );
        assert_eq!(
            props["service"]["type"],
            serde_json::json!(["object", "null"])
        );
        assert_eq!(props["service"]["properties"]["id"]["type"], "string");
        let input = compact_schema(&raw);
        assert_eq!(input["properties"]["resolved_at"]["type"], "string");
        assert_eq!(input["properties"]["service"]["type"], "object");
    }

    #[test]
    fn a_parameter_may_be_called_title_and_an_empty_object_is_closed() {
        #[derive(schemars::JsonSchema, serde::Deserialize)]
        #[allow(dead_code)]
        struct Create {
            /// The page's title
            title: String,
            #[serde(default)]
            default: Option<String>,
        }
        #[derive(schemars::JsonSchema, serde::Deserialize)]
        struct Nothing {}
        let create = compact_schema(&rmcp::handler::server::common::schema_for_type::<Create>());
        assert_eq!(create["required"], serde_json::json!(["title"]));
        assert_eq!(create["properties"]["title"]["type"], "string");
        assert_eq!(create["properties"]["default"]["type"], "string");
        assert!(!create.contains_key("title"), "the keyword still goes");
        let nothing = compact_schema(&rmcp::handler::server::common::schema_for_type::<Nothing>());
        assert_eq!(
            serde_json::Value::Object((*nothing).clone()),
            serde_json::json!({ "type": "object", "properties": {}, "additionalProperties": false })
        );
    }

    #[test]
    fn what_a_strict_host_sends_for_not_given_is_not_given() {
        let schema = serde_json::json!({
            "type": "object",
            "required": ["title", "labels"],
            "properties": {
                "title": { "type": "string" }, "labels": { "type": "array" },
                "urgency": { "type": "string" }, "draft": { "type": "boolean" },
                "tail": { "type": "integer", "minimum": 0 }, "replicas": { "type": "integer" },
                "confidence": { "type": "number" },
                "extra": { "type": "object" }
            }
        });
        let mut args = serde_json::json!({
            "title": "", "labels": [], "urgency": "", "draft": null,
            "tail": 0, "replicas": 0, "extra": {}, "unknown": null, "confidence": 0
        });
        drop_not_given(schema.as_object().unwrap(), args.as_object_mut().unwrap());
        assert_eq!(
            args,
            serde_json::json!({ "title": "", "labels": [], "confidence": 0 })
        );
    }

    #[test]
    fn read_tools_are_never_destructive() {
        let a = annotations(Effect::Read, true);
        assert_eq!(a.read_only_hint, Some(true));
        assert_eq!(a.destructive_hint, None);
        assert_eq!(a.open_world_hint, Some(true));
        let w = annotations(
            Effect::Write {
                destructive: true,
                idempotent: false,
            },
            true,
        );
        assert_eq!(
            (w.read_only_hint, w.destructive_hint, w.idempotent_hint),
            (Some(false), Some(true), Some(false))
        );
    }

    #[test]
    fn argument_errors_name_the_field() {
        #[derive(Debug, serde::Deserialize)]
        struct Echo {
            #[allow(dead_code)]
            text: String,
        }
        let mut args = JsonObject::new();
        args.insert("text".into(), serde_json::json!(42));
        let err = arguments::<Echo>("echo", Some(args)).unwrap_err();
        assert_eq!(err.code, rmcp::model::ErrorCode::INVALID_PARAMS);
        assert!(
            err.message
                .contains("echo: text: invalid type: integer `42`, expected a string"),
            "{}",
            err.message
        );
        let err = arguments::<Echo>("echo", None).unwrap_err();
        assert!(
            err.message.contains("missing field `text`"),
            "{}",
            err.message
        );
    }

    #[test]
    fn problems_name_the_tool() {
        let schema = serde_json::Map::new();
        let bare = Tool::new("pods_list", "list pods", schema.clone());
        let good =
            Tool::new("pods_get", "get", schema).with_annotations(annotations(Effect::Read, true));
        let problems = annotation_problems(&[bare, good]);
        assert_eq!(problems, vec!["pods_list: no annotations".to_owned()]);
    }
}

#[cfg(test)]
mod router_tests {
    use rmcp::{handler::server::wrapper::Parameters, tool, tool_router};

    use super::*;

    #[derive(Debug, Clone)]
    struct Demo;

    #[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
    struct Name {
        /// Pod name
        name: String,
    }

    #[tool_router]
    impl Demo {
        /// List pods
        #[tool]
        fn pods_list(&self) -> String {
            "pods".into()
        }

        /// Delete a pod
        #[tool]
        fn pods_delete(&self, Parameters(Name { name }): Parameters<Name>) -> String {
            format!("deleted {name}")
        }
    }

    #[test]
    fn effects_become_annotations_and_gaps_are_named() {
        let mut router = Demo::tool_router();
        let effects = [
            ("pods_list", Effect::Read),
            (
                "pods_delete",
                Effect::Write {
                    destructive: true,
                    idempotent: true,
                },
            ),
        ];
        declare_effects(&mut router, &effects, true).unwrap();
        assert!(annotation_problems(&router.list_all()).is_empty());
        let list = router
            .get("pods_list")
            .unwrap()
            .annotations
            .clone()
            .unwrap();
        assert_eq!(
            list.destructive_hint, None,
            "read tools leave write hints out"
        );
        let delete = router
            .get("pods_delete")
            .unwrap()
            .annotations
            .clone()
            .unwrap();
        assert_eq!(delete.destructive_hint, Some(true));

        let mut router = Demo::tool_router();
        let err = declare_effects(
            &mut router,
            &[("pods_list", Effect::Read), ("nodes_list", Effect::Read)],
            true,
        )
        .unwrap_err();
        assert_eq!(
            err,
            "`nodes_list` has an effect but is not a tool; tool `pods_delete` declares no effect"
        );
    }
}

/// A successful tool result with one text block.
pub fn text(body: impl Into<String>) -> rmcp::model::CallToolResult {
    rmcp::model::CallToolResult::success(vec![rmcp::model::ContentBlock::text(body.into())])
}

/// A failed tool result (`isError: true`): what failed and what to try.
pub fn failure(body: impl std::fmt::Display) -> rmcp::model::CallToolResult {
    rmcp::model::CallToolResult::error(vec![rmcp::model::ContentBlock::text(body.to_string())])
}

/// Inside a tool returning `Result<CallToolResult, _>` or `Result<CallToolResponse, _>`: the
/// `Ok` value, or return the error as a failed tool result whose message is the error's.
#[macro_export]
macro_rules! or_fail {
    ($result:expr) => {
        match $result {
            Ok(value) => value,
            Err(e) => return Ok($crate::tools::failure(e).into()),
        }
    };
}
