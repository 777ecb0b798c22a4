//! What keeps nodes current besides the scheduler: each node's Lease in `kube-node-lease`,
//! renewed every 10 s as the kubelet renews it (what `kubectl describe node` shows and the node
//! lifecycle controller watches), and the `node.kubernetes.io/unschedulable` taint the node
//! lifecycle controller keeps on a cordoned node.

use serde_json::{Value, json};

use super::{
    cluster::Cluster,
    resources::find,
    store::{Store, name_of},
};

/// How often the kubelet renews its Lease, and how long the Lease holds.
const RENEW_SECS: i64 = 10;
const LEASE_SECS: i64 = 40;

const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";

/// `MicroTime` as the API writes it.
fn micro_time(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// One pass over the nodes.
pub fn reconcile(cluster: &Cluster) {
    let node_t = find("", "v1", "nodes").expect("nodes are served");
    let mut store = cluster.store();
    let nodes: Vec<Value> = store.list(node_t, None).into_iter().cloned().collect();
    for node in &nodes {
        taint(&mut store, node);
        renew(&mut store, node);
    }
}

fn taint(store: &mut Store, node: &Value) {
    let cordoned = node.pointer("/spec/unschedulable") == Some(&json!(true));
    let tainted = node
        .pointer("/spec/taints")
        .and_then(Value::as_array)
        .is_some_and(|t| t.iter().any(|t| t["key"] == UNSCHEDULABLE_TAINT));
    if cordoned == tainted {
        return;
    }
    let node_t = find("", "v1", "nodes").expect("nodes are served");
    store.modify(node_t, "", name_of(node), |n| {
        let mut taints: Vec<Value> = n
            .pointer("/spec/taints")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        taints.retain(|t| t["key"] != UNSCHEDULABLE_TAINT);
        if cordoned {
            taints.push(json!({ "key": UNSCHEDULABLE_TAINT, "effect": "NoSchedule", "timeAdded": super::store::now() }));
        }
        if taints.is_empty() {
            if let Some(spec) = n["spec"].as_object_mut() {
                spec.remove("taints");
            }
        } else {
            n["spec"]["taints"] = json!(taints);
        }
    });
}

fn renew(store: &mut Store, node: &Value) {
    let lease_t = find("coordination.k8s.io", "v1", "leases").expect("leases are served");
    let name = name_of(node);
    let now = jiff::Timestamp::now();
    let Some(lease) = store.get(lease_t, "kube-node-lease", name) else {
        let lease = json!({
            "metadata": {
                "name": name,
                "ownerReferences": [{ "apiVersion": "v1", "kind": "Node", "name": name, "uid": node["metadata"]["uid"] }],
            },
            "spec": { "holderIdentity": name, "leaseDurationSeconds": LEASE_SECS, "renewTime": micro_time(now) },
        });
        let _ = store.create(lease_t, "kube-node-lease", lease, false);
        return;
    };
    let renewed = lease
        .pointer("/spec/renewTime")
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<jiff::Timestamp>().ok());
    if renewed.is_none_or(|r| now.as_second() - r.as_second() >= RENEW_SECS) {
        store.modify(lease_t, "kube-node-lease", name, |l| {
            l["spec"]["renewTime"] = json!(micro_time(now));
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_get_leases_and_cordoned_ones_a_taint() {
        let cluster = Cluster::default();
        super::super::seed::baseline(&cluster);
        let node_t = find("", "v1", "nodes").unwrap();
        cluster.store().modify(node_t, "", "node-a", |n| {
            n["spec"]["unschedulable"] = json!(true);
        });
        reconcile(&cluster);
        let store = cluster.store();
        let lease_t = find("coordination.k8s.io", "v1", "leases").unwrap();
        let lease = store.get(lease_t, "kube-node-lease", "node-b").unwrap();
        assert_eq!(lease["spec"]["holderIdentity"], "node-b");
        assert!(lease["spec"]["renewTime"].as_str().unwrap().ends_with('Z'));
        let taints = |n: &str| store.get(node_t, "", n).unwrap()["spec"]["taints"].clone();
        assert_eq!(taints("node-a")[0]["key"], UNSCHEDULABLE_TAINT);
        assert!(taints("node-b").is_null());
    }
}
