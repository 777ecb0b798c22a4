//! PodDisruptionBudgets: their status as the disruption controller keeps it (expected, healthy
//! and desired pods, disruptions allowed), and evictions (`pods/<name>/eviction`, what
//! `kubectl drain` posts) allowed only while a budget has disruptions to spare — else 429 with
//! the API server's words, which drain retries.

use serde_json::{Value, json};

use super::{
    cluster::Cluster,
    resources::{ResourceType, find},
    selectors::LabelSelector,
    store::{ApiError, Store, name_of},
};

fn pdb_type() -> &'static ResourceType {
    find("policy", "v1", "poddisruptionbudgets").expect("PDBs are served")
}

fn pod_type() -> &'static ResourceType {
    find("", "v1", "pods").expect("pods are served")
}

fn ready(pod: &Value) -> bool {
    pod.pointer("/metadata/deletionTimestamp").is_none()
        && pod
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|c| {
                c.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            })
}

fn selects(pdb: &Value, pod: &Value) -> bool {
    let selector = pdb.pointer("/spec/selector").unwrap_or(&Value::Null);
    !selector.is_null()
        && LabelSelector::from_object(selector).matches(pod.pointer("/metadata/labels"))
}

/// An int-or-percent of `of`, rounded up as the disruption controller rounds.
fn scaled(value: &Value, of: i64) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => {
            let percent: i64 = s.strip_suffix('%')?.parse().ok()?;
            Some((percent * of + 99) / 100)
        }
        _ => None,
    }
}

/// (expected, currentHealthy, desiredHealthy, disruptionsAllowed) of a budget.
fn budget(store: &Store, pdb: &Value) -> (i64, i64, i64, i64) {
    let ns = pdb
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let pods: Vec<&Value> = store
        .list(pod_type(), Some(ns))
        .into_iter()
        .filter(|p| selects(pdb, p))
        .filter(|p| {
            !matches!(
                p.pointer("/status/phase").and_then(Value::as_str),
                Some("Succeeded" | "Failed")
            )
        })
        .collect();
    let expected = pods.len() as i64;
    let healthy = pods.iter().filter(|p| ready(p)).count() as i64;
    let spec = &pdb["spec"];
    let desired = if let Some(min) = spec.get("minAvailable").and_then(|m| scaled(m, expected)) {
        min
    } else if let Some(max) = spec.get("maxUnavailable").and_then(|m| scaled(m, expected)) {
        (expected - max).max(0)
    } else {
        0
    };
    (expected, healthy, desired, (healthy - desired).max(0))
}

/// Keep every budget's status current.
pub fn reconcile(cluster: &Cluster) {
    let mut store = cluster.store();
    let pdbs: Vec<Value> = store.list(pdb_type(), None).into_iter().cloned().collect();
    for pdb in pdbs {
        let (expected, healthy, desired, allowed) = budget(&store, &pdb);
        let ns = pdb["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let sufficient = allowed > 0;
        store.modify(pdb_type(), &ns, name_of(&pdb), |p| {
            let since = p
                .pointer("/status/conditions/0")
                .filter(|c| c["status"] == if sufficient { "True" } else { "False" })
                .map_or_else(
                    || json!(super::store::now()),
                    |c| c["lastTransitionTime"].clone(),
                );
            p["status"] = json!({
                "observedGeneration": p["metadata"]["generation"].as_i64().unwrap_or(1),
                "expectedPods": expected,
                "currentHealthy": healthy,
                "desiredHealthy": desired,
                "disruptionsAllowed": allowed,
                "conditions": [{
                    "type": "DisruptionAllowed",
                    "status": if sufficient { "True" } else { "False" },
                    "reason": if sufficient { "SufficientPods" } else { "InsufficientPods" },
                    "message": "",
                    "lastTransitionTime": since,
                    "observedGeneration": p["metadata"]["generation"].as_i64().unwrap_or(1),
                }],
            });
        });
    }
}

/// `POST pods/<name>/eviction`: delete the pod gracefully unless a budget forbids it.
pub fn evict(
    cluster: &Cluster,
    ns: &str,
    name: &str,
    grace: Option<i64>,
    dry_run: bool,
) -> Result<Value, ApiError> {
    {
        let store = cluster.store();
        let Some(pod) = store.get(pod_type(), ns, name) else {
            return Err(ApiError::not_found(pod_type(), name));
        };
        let budgets: Vec<&Value> = store
            .list(pdb_type(), Some(ns))
            .into_iter()
            .filter(|b| selects(b, pod))
            .collect();
        if budgets.len() > 1 {
            return Err(ApiError {
                code: 500,
                reason: "InternalError",
                message: "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.".into(),
                causes: Vec::new(),
            });
        }
        // A pod that is not ready disrupts nothing more by going.
        if let Some(pdb) = budgets.first()
            && ready(pod)
        {
            let (_, healthy, desired, allowed) = budget(&store, pdb);
            if allowed == 0 {
                return Err(ApiError {
                    code: 429,
                    reason: "TooManyRequests",
                    message: "Cannot evict pod as it would violate the pod's disruption budget."
                        .into(),
                    causes: vec![json!({
                        "reason": "DisruptionBudget",
                        "message": format!("The disruption budget {} needs {desired} healthy pods and has {healthy} currently", name_of(pdb)),
                    })],
                });
            }
        }
    }
    cluster.delete(pod_type(), ns, name, dry_run, grace)?;
    // The budget spends the disruption at once (the next eviction must not race the status).
    if !dry_run {
        reconcile(cluster);
    }
    Ok(
        json!({ "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201 }),
    )
}
