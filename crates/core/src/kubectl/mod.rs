//! The kubectl tool's guard: an argument list parsed as kubectl parses it ([`parse`], from a
//! table of kubectl's own commands and flags kept true by a test against the installed kubectl,
//! [`table`]), then checked on that parsed form ([`check`]): what is refused, its risk, the
//! namespaces it touches, and a preview that runs nothing kubectl would not dry-run.
//!
//! Plain Rust: no MCP and no backend types; the Kubernetes server runs what [`check`] returns.

pub mod check;
pub mod parse;
pub mod table;

pub use check::{Checked, Defaults, Preview, Refusal, Scope, check, forbidden_kind, raw_path};
pub use parse::{Command, Flag, ParseError, parse};
