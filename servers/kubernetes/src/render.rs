//! Compact text for a model: ages, pod status the way kubectl reads it, resource quantities.

use jiff::Timestamp;
use k8s_openapi::{
    api::core::v1::{ContainerStatus, Pod},
    apimachinery::pkg::apis::meta::v1::Time,
};

/// "42s", "5m", "3h12m", "2d4h".
pub fn age(time: Option<&Time>) -> String {
    let Some(t) = time else {
        return "?".into();
    };
    ago(t.0)
}

pub fn ago(t: Timestamp) -> String {
    let s = (Timestamp::now().as_second() - t.as_second()).max(0);
    match s {
        s if s < 120 => format!("{s}s"),
        s if s < 3 * 3600 => format!("{}m", s / 60),
        s if s < 48 * 3600 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        s => format!("{}d{}h", s / 86400, (s % 86400) / 3600),
    }
}

/// The reason a container is not running (waiting or terminated), if any.
pub fn container_reason(c: &ContainerStatus) -> Option<String> {
    let state = c.state.as_ref()?;
    if let Some(w) = &state.waiting {
        return Some(w.reason.clone().unwrap_or_else(|| "Waiting".into()));
    }
    if let Some(t) = &state.terminated {
        return Some(
            t.reason
                .clone()
                .unwrap_or_else(|| format!("ExitCode:{}", t.exit_code)),
        );
    }
    None
}

/// STATUS as kubectl prints it: a container's waiting/terminated reason over the phase,
/// Terminating while being deleted; plus the last termination reason when it was OOMKilled
/// or an error (what an on-call engineer looks for first).
pub fn pod_status(pod: &Pod) -> String {
    let status = pod.status.as_ref();
    let mut reason = status
        .and_then(|s| s.reason.clone().or_else(|| s.phase.clone()))
        .unwrap_or_else(|| "Pending".into());
    for c in status
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
    {
        if let Some(r) = container_reason(c) {
            reason = r;
        }
    }
    if pod.metadata.deletion_timestamp.is_some() {
        reason = "Terminating".into();
    }
    if reason == "Pending"
        && let Some(c) = status.and_then(|s| s.conditions.as_ref()).and_then(|c| {
            c.iter()
                .find(|c| c.type_ == "PodScheduled" && c.status == "False")
        })
    {
        reason = format!("Pending ({})", c.reason.clone().unwrap_or_default());
    }
    reason
}

/// (ready, total) containers.
pub fn ready_count(pod: &Pod) -> (usize, usize) {
    let statuses = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.clone())
        .unwrap_or_default();
    let total = pod
        .spec
        .as_ref()
        .map_or(statuses.len(), |s| s.containers.len());
    (statuses.iter().filter(|c| c.ready).count(), total)
}

/// Restarts, with the last termination reason: "4 (OOMKilled 2m ago)".
pub fn restarts(pod: &Pod) -> String {
    let statuses = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.clone())
        .unwrap_or_default();
    let count: i32 = statuses.iter().map(|c| c.restart_count).sum();
    let last = statuses
        .iter()
        .filter_map(|c| c.last_state.as_ref()?.terminated.as_ref())
        .max_by_key(|t| t.finished_at.as_ref().map(|f| f.0));
    match last {
        Some(t) if count > 0 => format!(
            "{count} ({} {} ago)",
            t.reason
                .clone()
                .unwrap_or_else(|| format!("exit {}", t.exit_code)),
            age(t.finished_at.as_ref())
        ),
        _ => count.to_string(),
    }
}

pub use opsmcp_core::units::{bytes, quantity};

/// Drop managedFields and replace Secret values by their sizes.
pub fn scrub(value: &mut serde_json::Value) {
    if let Some(meta) = value
        .get_mut("metadata")
        .and_then(serde_json::Value::as_object_mut)
    {
        meta.remove("managedFields");
        if let Some(annotations) = meta
            .get_mut("annotations")
            .and_then(serde_json::Value::as_object_mut)
        {
            annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
        }
    }
    if value.get("kind").and_then(serde_json::Value::as_str) == Some("Secret") {
        for field in ["data", "stringData"] {
            if let Some(data) = value
                .get_mut(field)
                .and_then(serde_json::Value::as_object_mut)
            {
                for v in data.values_mut() {
                    let len = v.as_str().map_or(0, str::len);
                    *v = serde_json::Value::String(format!("<hidden: {len} bytes>"));
                }
            }
        }
    }
}
