//! The controllers a real cluster runs, reduced to what incidents need: Deployment →
//! ReplicaSet (one per pod template, revision annotations, rollout and rollback) → Pods
//! (created, scheduled, started, replaced when deleted), Service → Endpoints, and the events
//! each step emits. The kubelet part (container start, readiness, logs, memory) lives in
//! [`super::kubelet`].

use std::{sync::Arc, time::Duration};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{
    cluster::Cluster,
    events,
    resources::{ResourceType, find},
    selectors::LabelSelector,
    store::{Store, name_of, namespace_of, suffix},
};

fn rt(group: &str, plural: &str) -> &'static ResourceType {
    find(group, "v1", plural).expect("a served type")
}

/// Run the controllers every `tick` until the process ends.
pub fn spawn(cluster: Arc<Cluster>, tick: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            interval.tick().await;
            reconcile(&cluster);
        }
    })
}

/// One pass of every controller.
pub fn reconcile(cluster: &Cluster) {
    deployments(cluster);
    replicasets(cluster);
    super::kubelet::pods(cluster);
    endpoints(cluster);
    quota_status(cluster);
    replicaset_status(cluster);
    deployment_status(cluster);
    super::nodes::reconcile(cluster);
    super::disruption::reconcile(cluster);
}

fn uid(o: &Value) -> &str {
    o.pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn owned_by<'a>(objects: Vec<&'a Value>, owner: &str) -> Vec<&'a Value> {
    objects
        .into_iter()
        .filter(|o| {
            o.pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .is_some_and(|r| r.iter().any(|r| r["uid"] == owner))
        })
        .collect()
}

fn owner_ref(owner: &Value, kind: &str, api_version: &str) -> Value {
    json!([{ "apiVersion": api_version, "kind": kind, "name": name_of(owner), "uid": uid(owner), "controller": true, "blockOwnerDeletion": true }])
}

fn revision(o: &Value) -> i64 {
    o.pointer("/metadata/annotations/deployment.kubernetes.io~1revision")
        .and_then(Value::as_str)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// The `pod-template-hash` of a template: stable, 9–10 characters of [a-z0-9] like the real one.
pub fn template_hash(template: &Value) -> String {
    let mut t = super::schema::template(template);
    if let Some(labels) = t
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove("pod-template-hash");
    }
    let digest = Sha256::digest(serde_json::to_vec(&t).unwrap_or_default());
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    digest
        .iter()
        .take(10)
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

fn deployments(cluster: &Cluster) {
    let mut store = cluster.store();
    let (deploy_t, rs_t) = (rt("apps", "deployments"), rt("apps", "replicasets"));
    let all: Vec<Value> = store.list(deploy_t, None).into_iter().cloned().collect();
    for d in all {
        let ns = namespace_of(&d).to_owned();
        let template = d.pointer("/spec/template").cloned().unwrap_or(json!({}));
        let hash = template_hash(&template);
        let replicas = d
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let owned: Vec<Value> = owned_by(store.list(rs_t, Some(&ns)), uid(&d))
            .into_iter()
            .cloned()
            .collect();
        let max_revision = owned.iter().map(revision).max().unwrap_or(0);
        let current = owned.iter().find(|rs| {
            rs.pointer("/metadata/labels/pod-template-hash")
                .and_then(Value::as_str)
                == Some(hash.as_str())
        });
        let new_name = match current {
            Some(rs) => {
                let name = name_of(rs).to_owned();
                // A rollback re-uses an old ReplicaSet: it becomes the newest revision.
                if revision(rs) < max_revision {
                    store.modify(rs_t, &ns, &name, |rs| {
                        rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] =
                            json!((max_revision + 1).to_string());
                    });
                }
                name
            }
            None => {
                let name = format!("{}-{hash}", name_of(&d));
                let mut template = template.clone();
                template["metadata"]["labels"]["pod-template-hash"] = json!(hash);
                let mut selector = d.pointer("/spec/selector").cloned().unwrap_or(json!({}));
                selector["matchLabels"]["pod-template-hash"] = json!(hash);
                let labels = template["metadata"]["labels"].clone();
                let created = store.create(
                    rs_t,
                    &ns,
                    json!({
                        "metadata": {
                            "name": name, "labels": labels,
                            "annotations": {
                                "deployment.kubernetes.io/revision": (max_revision + 1).to_string(),
                                "deployment.kubernetes.io/desired-replicas": replicas.to_string(),
                                "deployment.kubernetes.io/max-replicas": (replicas + 1).to_string(),
                            },
                            "ownerReferences": owner_ref(&d, "Deployment", "apps/v1"),
                        },
                        "spec": { "replicas": 0, "selector": selector, "template": template },
                    }),
                    false,
                );
                if created.is_err() {
                    continue;
                }
                name
            }
        };
        for rs in &owned {
            let name = name_of(rs);
            let desired = rs
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if name != new_name && desired != 0 {
                scale_rs(&mut store, &ns, name, 0, &d);
            }
        }
        // The deployment carries its current revision, as the real controller writes it.
        let current_revision = store.get(rs_t, &ns, &new_name).map(revision).unwrap_or(1);
        store.modify(deploy_t, &ns, name_of(&d), |d| {
            d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] =
                json!(current_revision.to_string());
        });
        let new_desired = store
            .get(rs_t, &ns, &new_name)
            .and_then(|rs| rs.pointer("/spec/replicas").and_then(Value::as_i64))
            .unwrap_or(0);
        if new_desired != replicas {
            scale_rs(&mut store, &ns, &new_name, replicas, &d);
        }
    }
}

fn scale_rs(store: &mut Store, ns: &str, name: &str, to: i64, deployment: &Value) {
    let rs_t = rt("apps", "replicasets");
    let from = store
        .get(rs_t, ns, name)
        .and_then(|rs| rs.pointer("/spec/replicas").and_then(Value::as_i64))
        .unwrap_or(0);
    store.modify(rs_t, ns, name, |rs| {
        rs["spec"]["replicas"] = json!(to);
        rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] =
            json!(to.to_string());
    });
    let direction = if to > from { "up" } else { "down" };
    events::record(
        store,
        deployment,
        "Normal",
        "ScalingReplicaSet",
        &format!("Scaled {direction} replica set {name} from {from} to {to}"),
        "deployment-controller",
    );
}

fn replicasets(cluster: &Cluster) {
    let mut store = cluster.store();
    let (rs_t, pod_t) = (rt("apps", "replicasets"), rt("", "pods"));
    let all: Vec<Value> = store.list(rs_t, None).into_iter().cloned().collect();
    for rs in all {
        let ns = namespace_of(&rs).to_owned();
        let desired = rs
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            .max(0) as usize;
        // Terminating pods no longer count: their replacements start right away.
        let mut pods: Vec<Value> = owned_by(store.list(pod_t, Some(&ns)), uid(&rs))
            .into_iter()
            .filter(|p| p.pointer("/metadata/deletionTimestamp").is_none())
            .cloned()
            .collect();
        // Newest last, so scale-down removes the newest first.
        pods.sort_by(|a, b| {
            a["metadata"]["creationTimestamp"]
                .as_str()
                .cmp(&b["metadata"]["creationTimestamp"].as_str())
        });
        for _ in pods.len()..desired {
            let name = format!("{}-{}", name_of(&rs), suffix(5));
            let template = rs.pointer("/spec/template").cloned().unwrap_or(json!({}));
            if let Some(refusal) = quota_refusal(&store, &ns, &name, &template) {
                events::record(
                    &mut store,
                    &rs,
                    "Warning",
                    "FailedCreate",
                    &refusal,
                    "replicaset-controller",
                );
                break;
            }
            let mut spec = rs
                .pointer("/spec/template/spec")
                .cloned()
                .unwrap_or(json!({}));
            spec["restartPolicy"] = spec
                .get("restartPolicy")
                .cloned()
                .unwrap_or(json!("Always"));
            let created = store.create(
                pod_t,
                &ns,
                json!({
                    "metadata": {
                        "name": name,
                        "labels": rs.pointer("/spec/template/metadata/labels").cloned().unwrap_or(json!({})),
                        "annotations": rs.pointer("/spec/template/metadata/annotations").cloned().unwrap_or(json!({})),
                        "ownerReferences": owner_ref(&rs, "ReplicaSet", "apps/v1"),
                    },
                    "spec": spec,
                    "status": { "phase": "Pending", "qosClass": "Burstable" },
                }),
                false,
            );
            if let Ok(pod) = created {
                events::record(
                    &mut store,
                    &rs,
                    "Normal",
                    "SuccessfulCreate",
                    &format!("Created pod: {}", name_of(&pod)),
                    "replicaset-controller",
                );
            }
        }
        if pods.len() > desired {
            let extra: Vec<String> = pods
                .iter()
                .rev()
                .take(pods.len() - desired)
                .map(|p| name_of(p).to_owned())
                .collect();
            drop(store);
            for name in extra {
                if cluster.delete(pod_t, &ns, &name, false, None).is_ok() {
                    let mut store = cluster.store();
                    events::record(
                        &mut store,
                        &rs,
                        "Normal",
                        "SuccessfulDelete",
                        &format!("Deleted pod: {name}"),
                        "replicaset-controller",
                    );
                }
            }
            store = cluster.store();
        }
    }
}

/// What a pod from `template` adds to each quota resource.
fn pod_usage(spec: &Value) -> Vec<(&'static str, f64)> {
    let sum = |path: &str| -> f64 {
        spec.pointer("/containers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| c.pointer(path).and_then(Value::as_str))
            .filter_map(super::quantity::parse)
            .sum()
    };
    vec![
        ("pods", 1.0),
        ("requests.memory", sum("/resources/requests/memory")),
        ("limits.memory", sum("/resources/limits/memory")),
        ("requests.cpu", sum("/resources/requests/cpu")),
        ("limits.cpu", sum("/resources/limits/cpu")),
    ]
}

fn format_quantity(resource: &str, v: f64) -> String {
    if resource.ends_with("memory") {
        let mib = v / 1024.0 / 1024.0;
        if mib >= 1024.0 && (mib / 1024.0).fract() == 0.0 {
            format!("{}Gi", mib / 1024.0)
        } else {
            format!("{mib}Mi")
        }
    } else if resource.ends_with("cpu") {
        format!("{}m", (v * 1000.0).round())
    } else {
        format!("{v}")
    }
}

/// The admission error a ResourceQuota gives a new pod, if it would exceed one; quota status
/// (`used`) is updated on the way, as the quota controller keeps it.
fn quota_refusal(store: &Store, ns: &str, pod: &str, template: &Value) -> Option<String> {
    let (quota_t, pod_t) = (rt("", "resourcequotas"), rt("", "pods"));
    let quotas: Vec<Value> = store.list(quota_t, Some(ns)).into_iter().cloned().collect();
    let running: Vec<Value> = store
        .list(pod_t, Some(ns))
        .into_iter()
        .filter(|p| p.pointer("/metadata/deletionTimestamp").is_none())
        .cloned()
        .collect();
    let adds = pod_usage(template.get("spec").unwrap_or(&Value::Null));
    for quota in quotas {
        let hard = quota
            .pointer("/spec/hard")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let mut exceeded = Vec::new();
        for (resource, add) in &adds {
            let Some(limit) = hard
                .get(*resource)
                .and_then(Value::as_str)
                .and_then(super::quantity::parse)
            else {
                continue;
            };
            let used: f64 = running
                .iter()
                .map(|p| {
                    pod_usage(p.get("spec").unwrap_or(&Value::Null))
                        .into_iter()
                        .find(|(r, _)| r == resource)
                        .map_or(0.0, |(_, v)| v)
                })
                .sum();
            if used + add > limit {
                exceeded.push((resource, *add, used, limit));
            }
        }
        if !exceeded.is_empty() {
            // (resource, requested, used, limited), as the admission error lists them.
            let list = |pick: fn(f64, f64, f64) -> f64| {
                exceeded
                    .iter()
                    .map(|(r, a, u, l)| format!("{r}={}", format_quantity(r, pick(*a, *u, *l))))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            return Some(format!(
                "Error creating: pods \"{pod}\" is forbidden: exceeded quota: {}, requested: {}, used: {}, limited: {}",
                name_of(&quota),
                list(|a, _, _| a),
                list(|_, u, _| u),
                list(|_, _, l| l),
            ));
        }
    }
    None
}

/// Keep every ResourceQuota's `status` (hard and used) current.
fn quota_status(cluster: &Cluster) {
    let mut store = cluster.store();
    let (quota_t, pod_t) = (rt("", "resourcequotas"), rt("", "pods"));
    let quotas: Vec<Value> = store.list(quota_t, None).into_iter().cloned().collect();
    for quota in quotas {
        let ns = namespace_of(&quota).to_owned();
        let pods: Vec<Value> = store
            .list(pod_t, Some(&ns))
            .into_iter()
            .filter(|p| p.pointer("/metadata/deletionTimestamp").is_none())
            .cloned()
            .collect();
        let hard = quota.pointer("/spec/hard").cloned().unwrap_or(json!({}));
        let mut used = serde_json::Map::new();
        for resource in hard
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k.clone())
        {
            let total: f64 = pods
                .iter()
                .map(|p| {
                    pod_usage(p.get("spec").unwrap_or(&Value::Null))
                        .into_iter()
                        .find(|(r, _)| *r == resource)
                        .map_or(0.0, |(_, v)| v)
                })
                .sum();
            used.insert(
                resource.clone(),
                json!(if resource == "pods" {
                    format!("{total}")
                } else {
                    format_quantity(&resource, total)
                }),
            );
        }
        store.modify(quota_t, &ns, name_of(&quota), |q| {
            q["status"] = json!({ "hard": hard, "used": used });
        });
    }
}

fn ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

fn replicaset_status(cluster: &Cluster) {
    let mut store = cluster.store();
    let (rs_t, pod_t) = (rt("apps", "replicasets"), rt("", "pods"));
    let all: Vec<Value> = store.list(rs_t, None).into_iter().cloned().collect();
    for rs in all {
        let ns = namespace_of(&rs).to_owned();
        let pods = owned_by(store.list(pod_t, Some(&ns)), uid(&rs));
        let (count, ready_count) = (pods.len(), pods.iter().filter(|p| ready(p)).count());
        let generation = rs["metadata"]["generation"].clone();
        store.modify(rs_t, &ns, name_of(&rs), |rs| {
            rs["status"] = json!({
                "replicas": count, "fullyLabeledReplicas": count, "readyReplicas": ready_count,
                "availableReplicas": ready_count, "observedGeneration": generation,
            });
        });
    }
}

fn deployment_status(cluster: &Cluster) {
    let mut store = cluster.store();
    let (deploy_t, rs_t) = (rt("apps", "deployments"), rt("apps", "replicasets"));
    let all: Vec<Value> = store.list(deploy_t, None).into_iter().cloned().collect();
    for d in all {
        let ns = namespace_of(&d).to_owned();
        let hash = template_hash(d.pointer("/spec/template").unwrap_or(&Value::Null));
        let owned: Vec<Value> = owned_by(store.list(rs_t, Some(&ns)), uid(&d))
            .into_iter()
            .cloned()
            .collect();
        let stat = |rs: &Value, f: &str| {
            rs.pointer(&format!("/status/{f}"))
                .and_then(Value::as_i64)
                .unwrap_or(0)
        };
        let total: i64 = owned.iter().map(|rs| stat(rs, "replicas")).sum();
        let ready_total: i64 = owned.iter().map(|rs| stat(rs, "readyReplicas")).sum();
        let new_rs = owned.iter().find(|rs| {
            rs.pointer("/metadata/labels/pod-template-hash")
                .and_then(Value::as_str)
                == Some(hash.as_str())
        });
        let updated = new_rs.map_or(0, |rs| stat(rs, "replicas"));
        let new_ready = new_rs.map_or(0, |rs| stat(rs, "readyReplicas"));
        let desired = d
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let old_pods: i64 = owned
            .iter()
            .filter(|rs| Some(*rs) != new_rs)
            .map(|rs| stat(rs, "replicas"))
            .sum();
        let complete = updated == desired && new_ready == desired && old_pods == 0;
        let ts = store.now();
        let rs_name = new_rs.map(|rs| name_of(rs).to_owned()).unwrap_or_default();
        let generation = d["metadata"]["generation"].clone();
        store.modify(deploy_t, &ns, name_of(&d), |d| {
            let old_conditions = d.pointer("/status/conditions").cloned().unwrap_or(json!([]));
            let condition = |kind: &str, status: bool, reason: &str, message: String| {
                let previous = old_conditions.as_array().and_then(|c| c.iter().find(|c| c["type"] == kind)).cloned();
                let status = if status { "True" } else { "False" };
                let unchanged = previous.as_ref().is_some_and(|p| p["status"] == status && p["reason"] == reason);
                let since = if unchanged { previous.as_ref().unwrap()["lastTransitionTime"].clone() } else { json!(ts) };
                let updated = if unchanged && previous.as_ref().unwrap()["message"] == message.as_str() { previous.as_ref().unwrap()["lastUpdateTime"].clone() } else { json!(ts) };
                json!({ "type": kind, "status": status, "reason": reason, "message": message, "lastTransitionTime": since, "lastUpdateTime": updated })
            };
            let available = ready_total >= desired.saturating_sub(1).max(if desired == 0 { 0 } else { 1 });
            let mut status = json!({
                "observedGeneration": generation,
                "replicas": total, "updatedReplicas": updated,
                "readyReplicas": ready_total, "availableReplicas": ready_total,
                "conditions": [
                    condition("Available", available, if available { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" },
                        if available { "Deployment has minimum availability.".into() } else { "Deployment does not have minimum availability.".into() }),
                    condition("Progressing", true, if complete { "NewReplicaSetAvailable" } else { "ReplicaSetUpdated" },
                        if complete { format!("ReplicaSet \"{rs_name}\" has successfully progressed.") } else { format!("ReplicaSet \"{rs_name}\" is progressing.") }),
                ],
            });
            if total > ready_total {
                status["unavailableReplicas"] = json!(total - ready_total);
            }
            d["status"] = status;
        });
    }
}

fn endpoints(cluster: &Cluster) {
    let mut store = cluster.store();
    let (svc_t, pod_t, ep_t) = (rt("", "services"), rt("", "pods"), rt("", "endpoints"));
    let services: Vec<Value> = store.list(svc_t, None).into_iter().cloned().collect();
    for svc in services {
        let ns = namespace_of(&svc).to_owned();
        let Some(selector) = svc
            .pointer("/spec/selector")
            .filter(|s| s.as_object().is_some_and(|m| !m.is_empty()))
        else {
            continue;
        };
        let selector = LabelSelector::from_object(&json!({ "matchLabels": selector }));
        let address = |p: &Value| {
            json!({
                "ip": p.pointer("/status/podIP").cloned().unwrap_or(Value::Null),
                "nodeName": p.pointer("/spec/nodeName").cloned().unwrap_or(Value::Null),
                "targetRef": { "kind": "Pod", "namespace": namespace_of(p), "name": name_of(p), "uid": uid(p) },
            })
        };
        let pods: Vec<&Value> = store
            .list(pod_t, Some(&ns))
            .into_iter()
            .filter(|p| {
                selector.matches(p.pointer("/metadata/labels"))
                    && p.pointer("/status/podIP").is_some()
            })
            .collect();
        let ready_addresses: Vec<Value> = pods
            .iter()
            .filter(|p| ready(p))
            .map(|p| address(p))
            .collect();
        let not_ready: Vec<Value> = pods
            .iter()
            .filter(|p| !ready(p))
            .map(|p| address(p))
            .collect();
        let ports: Vec<Value> = svc
            .pointer("/spec/ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|p| json!({ "name": p.get("name").cloned().unwrap_or(Value::Null), "port": p.get("targetPort").cloned().unwrap_or_else(|| p["port"].clone()), "protocol": p.get("protocol").cloned().unwrap_or(json!("TCP")) }))
            .collect();
        let mut subset = json!({ "ports": ports });
        if !ready_addresses.is_empty() {
            subset["addresses"] = json!(ready_addresses);
        }
        if !not_ready.is_empty() {
            subset["notReadyAddresses"] = json!(not_ready);
        }
        let subsets = if pods.is_empty() {
            json!([])
        } else {
            json!([subset])
        };
        // The same as an EndpointSlice, which is what kubectl describe service reads.
        let slice_endpoints: Vec<Value> = pods
            .iter()
            .map(|p| {
                let ready = ready(p);
                json!({
                    "addresses": [p.pointer("/status/podIP").cloned().unwrap_or(Value::Null)],
                    "conditions": { "ready": ready, "serving": ready, "terminating": p.pointer("/metadata/deletionTimestamp").is_some() },
                    "nodeName": p.pointer("/spec/nodeName").cloned().unwrap_or(Value::Null),
                    "targetRef": { "kind": "Pod", "namespace": namespace_of(p), "name": name_of(p), "uid": uid(p) },
                })
            })
            .collect();
        let slice_name = format!(
            "{}-{}",
            name_of(&svc),
            &template_hash(&json!(name_of(&svc)))[..5]
        );
        let slice_t = find("discovery.k8s.io", "v1", "endpointslices").expect("a served type");
        if store.get(slice_t, &ns, &slice_name).is_some() {
            let (endpoints, ports) = (json!(slice_endpoints), json!(ports));
            store.modify(slice_t, &ns, &slice_name, |s| {
                s["endpoints"] = endpoints;
                s["ports"] = ports;
            });
        } else {
            let _ = store.create(
                slice_t,
                &ns,
                json!({
                    "metadata": {
                        "name": slice_name,
                        "labels": {
                            "kubernetes.io/service-name": name_of(&svc),
                            "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                        },
                        "ownerReferences": owner_ref(&svc, "Service", "v1"),
                    },
                    "addressType": "IPv4",
                    "endpoints": slice_endpoints,
                    "ports": ports,
                }),
                false,
            );
        }
        let name = name_of(&svc).to_owned();
        if store.get(ep_t, &ns, &name).is_some() {
            store.modify(ep_t, &ns, &name, |ep| ep["subsets"] = subsets);
        } else {
            let _ = store.create(ep_t, &ns, json!({ "metadata": { "name": name, "labels": svc.pointer("/metadata/labels").cloned().unwrap_or(json!({})) }, "subsets": subsets }), false);
        }
    }
}
