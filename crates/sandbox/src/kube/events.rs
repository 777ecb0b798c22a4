//! Kubernetes events as the controllers and the kubelet record them: one per object and reason,
//! counted when it repeats.

use serde_json::{Value, json};

use super::{
    resources::find,
    store::{Store, name_of, namespace_of},
};

/// Record an event about `object`, or bump the count of the same one.
pub fn record(
    store: &mut Store,
    object: &Value,
    kind: &str,
    reason: &str,
    message: &str,
    source: &str,
) {
    let events = find("", "v1", "events").expect("a served type");
    let ns = namespace_of(object).to_owned();
    let ns = if ns.is_empty() {
        "default".to_owned()
    } else {
        ns
    };
    let involved_uid = object
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let existing = store
        .list(events, Some(&ns))
        .into_iter()
        .find(|e| {
            e.pointer("/involvedObject/uid").and_then(Value::as_str) == Some(involved_uid.as_str())
                && e["reason"] == reason
                // Repeated admission failures name a new pod each time: one event, counted.
                && (e["message"] == message || reason == "FailedCreate")
        })
        .map(|e| name_of(e).to_owned());
    let ts = store.now();
    if let Some(name) = existing {
        store.modify(events, &ns, &name, |e| {
            e["count"] = json!(e["count"].as_i64().unwrap_or(1) + 1);
            e["lastTimestamp"] = json!(ts);
            e["message"] = json!(message);
        });
        return;
    }
    let name = format!(
        "{}.{:x}",
        name_of(object),
        uuid::Uuid::new_v4().as_u128() as u64
    );
    let _ = store.create(
        events,
        &ns,
        json!({
            "metadata": { "name": name },
            "involvedObject": {
                "kind": object["kind"], "namespace": namespace_of(object), "name": name_of(object),
                "uid": involved_uid, "apiVersion": object["apiVersion"],
                "resourceVersion": object.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null),
            },
            "reason": reason, "message": message, "type": kind,
            "source": { "component": source },
            "firstTimestamp": ts, "lastTimestamp": ts, "count": 1,
            "reportingComponent": source, "reportingInstance": "",
        }),
        false,
    );
}
