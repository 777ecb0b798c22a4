//! Output helpers, shared with every server that renders Prometheus-style series.

pub use opsmcp_core::{
    or_fail,
    series::{Labels, common_labels, common_line, number, sample, series, time},
    tools::{failure, text},
};
