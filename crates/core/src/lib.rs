//! opsmcp-core: what every opsmcp server shares.
//!
//! - [`serve`]: the process bootstrap (stdio, streamable HTTP, legacy SSE, probes, metrics);
//! - [`config`]: flags, environment variables and an optional TOML file;
//! - [`http`]: the outbound HTTP client with timeouts, retries and redaction;
//! - [`output`]: tables, cursors, token budgets and time parsing for tool output;
//! - [`metrics`]: Prometheus metrics of tool calls and backend requests;
//! - [`tools`]: tool annotations derived from each tool's declared effect;
//! - [`structured`]: output schemas and structured content for callers that ask (the gateway);
//! - [`units`]: Kubernetes resource quantities;
//! - the safety engine: [`risk`] (classification), [`policy`] (the decision), [`breaker`]
//!   (automatic execution stops after repeated failures) and [`audit`] (the hash-chained log),
//!   put to work in tool calls by [`approval`] (elicitation, request state, audit records).
//!
//! Only [`serve`], [`legacy_sse`], [`host`], [`tools`], [`structured`] and [`approval`] touch rmcp
//! types; the rest is plain Rust, and
//! `risk`, `policy`, `breaker` and `audit` know nothing of MCP or of any backend.

pub mod approval;
pub mod audit;
pub mod breaker;
pub mod config;
pub mod host;
pub mod http;
pub mod kubectl;
pub mod legacy_sse;
pub mod listener;
pub mod metrics;
pub mod output;
pub mod policy;
pub mod remote;
pub mod risk;
pub mod series;
pub mod serve;
pub mod structured;
pub mod tools;
pub mod units;

pub use rmcp;
