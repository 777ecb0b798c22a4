//! Server-side printing: the `meta.k8s.io/v1` `Table` that `kubectl get` asks for, with the
//! columns a real API server prints for each type (`priority: 1` columns appear with `-o wide`).

use serde_json::{Value, json};

use super::resources::ResourceType;

/// "5m", "3h", "2d4h", as kubectl's human durations.
pub fn age(timestamp: Option<&str>) -> String {
    let Some(ts) = timestamp.and_then(|t| t.parse::<jiff::Timestamp>().ok()) else {
        return "<unknown>".into();
    };
    let secs = (jiff::Timestamp::now().as_second() - ts.as_second()).max(0);
    human(secs)
}

pub fn human(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 600 => format!("{}m{}s", s / 60, s % 60),
        s if s < 3 * 3600 => format!("{}m", s / 60),
        s if s < 8 * 3600 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        s if s < 48 * 3600 => format!("{}h", s / 3600),
        s if s < 8 * 86400 => format!("{}d{}h", s / 86400, (s % 86400) / 3600),
        s => format!("{}d", s / 86400),
    }
}

fn s(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn created(o: &Value) -> String {
    age(o
        .pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str))
}

/// The pod's STATUS as kubectl prints it: a container's waiting or terminated reason wins over
/// the phase; `Terminating` while being deleted.
pub fn pod_status(pod: &Value) -> String {
    let mut reason = pod
        .pointer("/status/reason")
        .and_then(Value::as_str)
        .or_else(|| pod.pointer("/status/phase").and_then(Value::as_str))
        .unwrap_or("Pending")
        .to_owned();
    for c in pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(r) = c.pointer("/state/waiting/reason").and_then(Value::as_str) {
            reason = r.to_owned();
        } else if let Some(r) = c
            .pointer("/state/terminated/reason")
            .and_then(Value::as_str)
        {
            reason = r.to_owned();
        }
    }
    if pod.pointer("/metadata/deletionTimestamp").is_some() {
        reason = "Terminating".into();
    }
    reason
}

/// READY "1/2" and RESTARTS "3 (2m ago)" of a pod.
pub fn pod_ready_restarts(pod: &Value) -> (String, String) {
    let statuses = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let total = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map_or(statuses.len(), Vec::len);
    let ready = statuses.iter().filter(|c| c["ready"] == true).count();
    let restarts: i64 = statuses
        .iter()
        .filter_map(|c| c["restartCount"].as_i64())
        .sum();
    let last = statuses
        .iter()
        .filter_map(|c| {
            c.pointer("/lastState/terminated/finishedAt")
                .and_then(Value::as_str)
        })
        .max();
    let restarts = match last {
        Some(at) if restarts > 0 => format!("{restarts} ({} ago)", age(Some(at))),
        _ => restarts.to_string(),
    };
    (format!("{ready}/{total}"), restarts)
}

fn col(name: &str, kind: &str, priority: u8, description: &str) -> Value {
    json!({ "name": name, "type": kind, "format": if name == "Name" { "name" } else { "" }, "description": description, "priority": priority })
}

/// Columns and cells for one type.
fn columns(t: &ResourceType) -> Vec<Value> {
    let name = col(
        "Name",
        "string",
        0,
        "Name must be unique within a namespace.",
    );
    let age = col(
        "Age",
        "string",
        0,
        "CreationTimestamp is a timestamp representing the server time when this object was created.",
    );
    match t.kind {
        "Pod" => vec![
            name,
            col(
                "Ready",
                "string",
                0,
                "The aggregate readiness state of this pod for accepting traffic.",
            ),
            col(
                "Status",
                "string",
                0,
                "The aggregate status of the containers in this pod.",
            ),
            col(
                "Restarts",
                "string",
                0,
                "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
            ),
            age,
            col("IP", "string", 1, "IP address allocated to the pod."),
            col(
                "Node",
                "string",
                1,
                "Name of the node where the pod is running.",
            ),
            col(
                "Nominated Node",
                "string",
                1,
                "Name of the node nominated by the scheduler.",
            ),
            col("Readiness Gates", "string", 1, "Pod readiness gates."),
        ],
        "Deployment" => vec![
            name,
            col("Ready", "string", 0, "Number of the pod with ready state"),
            col(
                "Up-to-date",
                "string",
                0,
                "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
            ),
            col(
                "Available",
                "string",
                0,
                "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
            ),
            age,
            col(
                "Containers",
                "string",
                1,
                "Names of each container in the template.",
            ),
            col(
                "Images",
                "string",
                1,
                "Images referenced by each container in the template.",
            ),
            col("Selector", "string", 1, "Label selector for pods."),
        ],
        "ReplicaSet" => vec![
            name,
            col("Desired", "integer", 0, "Number of desired pods."),
            col("Current", "integer", 0, "Number of actual replicas."),
            col(
                "Ready",
                "integer",
                0,
                "The number of ready replicas for this replica set.",
            ),
            age,
            col(
                "Containers",
                "string",
                1,
                "Names of each container in the template.",
            ),
            col(
                "Images",
                "string",
                1,
                "Images referenced by each container in the template.",
            ),
            col("Selector", "string", 1, "Label selector for pods."),
        ],
        "Service" => vec![
            name,
            col("Type", "string", 0, "The type of service."),
            col("Cluster-IP", "string", 0, "The cluster IP of the service."),
            col(
                "External-IP",
                "string",
                0,
                "The external IP of the service.",
            ),
            col("Port(s)", "string", 0, "The ports of the service."),
            age,
            col(
                "Selector",
                "string",
                1,
                "Route service traffic to pods with label keys and values matching this selector.",
            ),
        ],
        "Node" => vec![
            name,
            col("Status", "string", 0, "The status of the node"),
            col("Roles", "string", 0, "The roles of the node"),
            age,
            col(
                "Version",
                "string",
                0,
                "Kubelet Version reported by the node.",
            ),
            col("Internal-IP", "string", 1, "List of internal IPs."),
        ],
        "Namespace" => vec![
            name,
            col("Status", "string", 0, "The status of the namespace"),
            age,
        ],
        "Event" => vec![
            col(
                "Last Seen",
                "string",
                0,
                "Time when the event last occurred.",
            ),
            col("Type", "string", 0, "Type of this event."),
            col("Reason", "string", 0, "Why the action was taken."),
            col("Object", "string", 0, "The object this event is about."),
            col(
                "Message",
                "string",
                0,
                "A human-readable description of the status of this operation.",
            ),
        ],
        "ConfigMap" => vec![name, col("Data", "integer", 0, "Number of keys."), age],
        "Secret" => vec![
            name,
            col("Type", "string", 0, "The type of the secret"),
            col("Data", "integer", 0, "Number of keys."),
            age,
        ],
        "Endpoints" => vec![
            name,
            col("Endpoints", "string", 0, "Endpoints of the service."),
            age,
        ],
        "EndpointSlice" => vec![
            name,
            col(
                "AddressType",
                "string",
                0,
                "Type of address carried by this EndpointSlice.",
            ),
            col("Ports", "string", 0, "Ports present on the EndpointSlice."),
            col(
                "Endpoints",
                "string",
                0,
                "Addresses present on the EndpointSlice.",
            ),
            age,
        ],
        "PodDisruptionBudget" => vec![
            name,
            col(
                "Min Available",
                "string",
                0,
                "The minimum number of pods that must be available.",
            ),
            col(
                "Max Unavailable",
                "string",
                0,
                "The maximum number of pods that may be unavailable.",
            ),
            col(
                "Allowed Disruptions",
                "integer",
                0,
                "Calculated number of pods that may be disrupted at this time.",
            ),
            age,
        ],
        "Lease" => vec![
            name,
            col("Holder", "string", 0, "The holder of the lease."),
            age,
        ],
        _ => vec![name, age],
    }
}

fn joined(items: Option<&Value>, field: &str) -> String {
    items
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c[field].as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn cells(t: &ResourceType, o: &Value) -> Vec<Value> {
    let name = json!(
        o.pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
    );
    let i = |p: &str| o.pointer(p).and_then(Value::as_i64).unwrap_or(0);
    match t.kind {
        "Pod" => {
            let (ready, restarts) = pod_ready_restarts(o);
            let or_none = |p: &str| {
                let v = s(o.pointer(p));
                json!(if v.is_empty() { "<none>".to_owned() } else { v })
            };
            vec![
                name,
                json!(ready),
                json!(pod_status(o)),
                json!(restarts),
                json!(created(o)),
                or_none("/status/podIP"),
                or_none("/spec/nodeName"),
                json!("<none>"),
                json!("<none>"),
            ]
        }
        "Deployment" => vec![
            name,
            json!(format!(
                "{}/{}",
                i("/status/readyReplicas"),
                i("/spec/replicas")
            )),
            json!(i("/status/updatedReplicas")),
            json!(i("/status/availableReplicas")),
            json!(created(o)),
            json!(joined(o.pointer("/spec/template/spec/containers"), "name")),
            json!(joined(o.pointer("/spec/template/spec/containers"), "image")),
            json!(super::selectors::LabelSelector::to_string_from_object(
                o.pointer("/spec/selector").unwrap_or(&Value::Null)
            )),
        ],
        "ReplicaSet" => vec![
            name,
            json!(i("/spec/replicas")),
            json!(i("/status/replicas")),
            json!(i("/status/readyReplicas")),
            json!(created(o)),
            json!(joined(o.pointer("/spec/template/spec/containers"), "name")),
            json!(joined(o.pointer("/spec/template/spec/containers"), "image")),
            json!(super::selectors::LabelSelector::to_string_from_object(
                o.pointer("/spec/selector").unwrap_or(&Value::Null)
            )),
        ],
        "Service" => {
            let ports: Vec<String> = o
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|p| {
                    format!(
                        "{}/{}",
                        s(p.get("port")),
                        p["protocol"].as_str().unwrap_or("TCP")
                    )
                })
                .collect();
            let selector: Vec<String> = o
                .pointer("/spec/selector")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect();
            vec![
                name,
                json!(
                    o.pointer("/spec/type")
                        .and_then(Value::as_str)
                        .unwrap_or("ClusterIP")
                ),
                json!(s(o.pointer("/spec/clusterIP"))),
                json!("<none>"),
                json!(ports.join(",")),
                json!(created(o)),
                json!(if selector.is_empty() {
                    "<none>".to_owned()
                } else {
                    selector.join(",")
                }),
            ]
        }
        "Node" => {
            let ready = o
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|c| c["type"] == "Ready")
                .map_or("Unknown", |c| {
                    if c["status"] == "True" {
                        "Ready"
                    } else {
                        "NotReady"
                    }
                });
            let roles: Vec<&str> = o
                .pointer("/metadata/labels")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .filter_map(|(k, _)| k.strip_prefix("node-role.kubernetes.io/"))
                .collect();
            let ip = o
                .pointer("/status/addresses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|a| a["type"] == "InternalIP")
                .map(|a| s(a.get("address")))
                .unwrap_or_default();
            let status = if o.pointer("/spec/unschedulable") == Some(&json!(true)) {
                format!("{ready},SchedulingDisabled")
            } else {
                ready.to_owned()
            };
            vec![
                name,
                json!(status),
                json!(if roles.is_empty() {
                    "<none>".to_owned()
                } else {
                    roles.join(",")
                }),
                json!(created(o)),
                json!(s(o.pointer("/status/nodeInfo/kubeletVersion"))),
                json!(ip),
            ]
        }
        "Namespace" => vec![
            name,
            json!(
                o.pointer("/status/phase")
                    .and_then(Value::as_str)
                    .unwrap_or("Active")
            ),
            json!(created(o)),
        ],
        "Event" => vec![
            json!(age(o
                .get("lastTimestamp")
                .and_then(Value::as_str)
                .or_else(|| o.get("eventTime").and_then(Value::as_str)))),
            json!(s(o.get("type"))),
            json!(s(o.get("reason"))),
            json!(format!(
                "{}/{}",
                o.pointer("/involvedObject/kind")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_lowercase(),
                s(o.pointer("/involvedObject/name"))
            )),
            json!(s(o.get("message"))),
        ],
        "ConfigMap" => vec![
            name,
            json!(
                o.get("data")
                    .and_then(Value::as_object)
                    .map_or(0, |d| d.len())
                    + o.get("binaryData")
                        .and_then(Value::as_object)
                        .map_or(0, |d| d.len())
            ),
            json!(created(o)),
        ],
        "Secret" => vec![
            name,
            json!(o.get("type").and_then(Value::as_str).unwrap_or("Opaque")),
            json!(
                o.get("data")
                    .and_then(Value::as_object)
                    .map_or(0, |d| d.len())
            ),
            json!(created(o)),
        ],
        "Endpoints" => {
            let eps: Vec<String> = o
                .get("subsets")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .flat_map(|ss| {
                    let ports: Vec<String> = ss["ports"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|p| s(p.get("port")))
                        .collect();
                    ss["addresses"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .flat_map(move |a| {
                            let ip = s(a.get("ip"));
                            ports.clone().into_iter().map(move |p| format!("{ip}:{p}"))
                        })
                        .collect::<Vec<_>>()
                })
                .collect();
            vec![
                name,
                json!(if eps.is_empty() {
                    "<none>".to_owned()
                } else {
                    eps.join(",")
                }),
                json!(created(o)),
            ]
        }
        "EndpointSlice" => {
            let ports: Vec<String> = o
                .get("ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|p| s(p.get("port")))
                .collect();
            let addresses: Vec<String> = o
                .get("endpoints")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .flat_map(|e| e["addresses"].as_array().cloned().unwrap_or_default())
                .map(|a| s(Some(&a)))
                .collect();
            vec![
                name,
                json!(s(o.get("addressType"))),
                json!(if ports.is_empty() {
                    "<unset>".to_owned()
                } else {
                    ports.join(",")
                }),
                json!(if addresses.is_empty() {
                    "<unset>".to_owned()
                } else {
                    addresses.join(",")
                }),
                json!(created(o)),
            ]
        }
        "PodDisruptionBudget" => {
            let or_na = |field: &str| {
                o.pointer(&format!("/spec/{field}"))
                    .map_or_else(|| "N/A".to_owned(), |v| s(Some(v)))
            };
            vec![
                name,
                json!(or_na("minAvailable")),
                json!(or_na("maxUnavailable")),
                o.pointer("/status/disruptionsAllowed")
                    .cloned()
                    .unwrap_or(json!(0)),
                json!(created(o)),
            ]
        }
        "Lease" => vec![
            name,
            json!(s(o.pointer("/spec/holderIdentity"))),
            json!(created(o)),
        ],
        _ => vec![name, json!(created(o))],
    }
}

/// The Table of `objects`; rows carry the object's metadata (`includeObject=Metadata`, the
/// default) or the whole object (`includeObject=Object`).
pub fn table(t: &ResourceType, objects: &[&Value], resource_version: u64, include: &str) -> Value {
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let object = match include {
                "None" => Value::Null,
                "Object" => (*o).clone(),
                _ => json!({
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": o.get("metadata").cloned().unwrap_or(Value::Null),
                }),
            };
            json!({ "cells": cells(t, o), "object": object })
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": { "resourceVersion": resource_version.to_string() },
        "columnDefinitions": columns(t),
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_status_prefers_container_reasons() {
        let pod = json!({ "spec": { "containers": [{ "name": "a" }] }, "status": { "phase": "Running", "containerStatuses": [
            { "name": "a", "ready": false, "restartCount": 4, "state": { "waiting": { "reason": "CrashLoopBackOff" } },
              "lastState": { "terminated": { "reason": "OOMKilled", "finishedAt": "2020-01-01T00:00:00Z" } } }
        ] } });
        assert_eq!(pod_status(&pod), "CrashLoopBackOff");
        let (ready, restarts) = pod_ready_restarts(&pod);
        assert_eq!(ready, "0/1");
        assert!(restarts.starts_with("4 ("), "{restarts}");
        assert_eq!(human(59), "59s");
        assert_eq!(human(3 * 86400 + 7200), "3d2h");
    }
}
