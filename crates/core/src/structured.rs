//! Structured results for the callers that ask for them: the opsmcp gateway, whose workflows
//! refer to fields of earlier results (`${steps.incident.service.id}`).
//!
//! A tool that can describe its answer as data declares an output schema
//! ([`crate::host::ToolHost::with_output_schemas`]) and puts the data in `structuredContent`
//! ([`with_structured`]) beside its text. Hosts see neither unless they ask: a `tools/list`
//! or `tools/call` whose `_meta` holds `"opsmcp/structured": true` gets the output schemas and
//! the structured content; every other caller gets the text alone. A host's context carries
//! each answer once (text) and its listing carries no output schemas, which in measurements
//! cost more than the tools' descriptions (see ARCHITECTURE.md, "Structured results").

use std::sync::Arc;

use rmcp::model::{CallToolResult, JsonObject, RequestMetaObject};
use schemars::JsonSchema;
use serde::Serialize;

/// The `_meta` key of a request that wants output schemas and structured content.
pub const META_KEY: &str = "opsmcp/structured";

/// Whether a request asked for structured results.
pub fn requested(meta: &RequestMetaObject) -> bool {
    meta.get(META_KEY).and_then(serde_json::Value::as_bool) == Some(true)
}

/// The output schema of `T`, compacted like input schemas but saying where `null` may stand.
pub fn schema_for<T: JsonSchema + std::any::Any>() -> Arc<JsonObject> {
    crate::tools::compact_output_schema(&rmcp::handler::server::common::schema_for_output::<T>())
}

/// `result` (a text answer) with `data` as its structured content.
pub fn with_structured(mut result: CallToolResult, data: &impl Serialize) -> CallToolResult {
    result.structured_content = serde_json::to_value(data).ok();
    result
}
