//! opsmcp-core: what every opsmcp server shares.
//!
//! - [`serve`]: the process bootstrap (stdio, streamable HTTP, legacy SSE, probes, metrics);
//! - [`config`]: flags, environment variables and an optional TOML file;
//! - [`http`]: the outbound HTTP client with timeouts, retries and redaction;
//! - [`output`]: tables, cursors, token budgets and time parsing for tool output;
//! - [`metrics`]: Prometheus metrics of tool calls and backend requests;
//! - [`tools`]: tool annotations derived from each tool's declared effect.
//!
//! Only [`serve`], [`legacy_sse`] and [`tools`] touch rmcp types; the rest is plain Rust.

pub mod config;
pub mod http;
pub mod legacy_sse;
pub mod metrics;
pub mod output;
pub mod risk;
pub mod serve;
pub mod tools;

pub use rmcp;
