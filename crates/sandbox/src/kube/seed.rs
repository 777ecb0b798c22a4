//! The baseline cluster every sandbox starts with: the system namespaces, two worker nodes and
//! a healthy `web` service in `shop`. Incident scenarios add to it.

use serde_json::{Value, json};

use super::{cluster::Cluster, resources::find};

fn create(cluster: &Cluster, group: &str, plural: &str, ns: &str, mut object: Value) {
    let t = find(group, "v1", plural).expect("a served type");
    if !matches!(plural, "nodes" | "namespaces") {
        super::apply::record_update(
            None,
            &mut object,
            &super::apply::Writer::new(super::apply::CLIENT_SIDE_APPLY, t),
        );
    }
    cluster
        .store()
        .create(t, ns, object, false)
        .expect("the seed is consistent");
}

fn node(name: &str, ip: &str) -> Value {
    json!({
        "metadata": { "name": name, "labels": {
            "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
            "node.kubernetes.io/instance-type": "e2-standard-4", "topology.kubernetes.io/zone": "europe-west1-b",
        } },
        "spec": { "podCIDR": "10.244.0.0/24" },
        "status": {
            "capacity": { "cpu": "4", "memory": "16393232Ki", "pods": "110", "ephemeral-storage": "101445540Ki" },
            "allocatable": { "cpu": "3920m", "memory": "13605904Ki", "pods": "110", "ephemeral-storage": "47093746742" },
            "conditions": [
                { "type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory", "message": "kubelet has sufficient memory available", "lastHeartbeatTime": super::store::now(), "lastTransitionTime": super::store::now() },
                { "type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure", "message": "kubelet has no disk pressure", "lastHeartbeatTime": super::store::now(), "lastTransitionTime": super::store::now() },
                { "type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID", "message": "kubelet has sufficient PID available", "lastHeartbeatTime": super::store::now(), "lastTransitionTime": super::store::now() },
                { "type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status", "lastHeartbeatTime": super::store::now(), "lastTransitionTime": super::store::now() },
            ],
            "addresses": [{ "type": "InternalIP", "address": ip }, { "type": "Hostname", "address": name }],
            "nodeInfo": {
                "kubeletVersion": "v1.33.0", "kubeProxyVersion": "v1.33.0", "containerRuntimeVersion": "containerd://1.7.24",
                "osImage": "Container-Optimized OS", "kernelVersion": "6.1.100", "operatingSystem": "linux", "architecture": "amd64",
                "machineID": "", "systemUUID": "", "bootID": "",
            },
        },
    })
}

/// The baseline objects.
pub fn baseline(cluster: &Cluster) {
    for ns in [
        "default",
        "kube-system",
        "kube-public",
        "kube-node-lease",
        "shop",
    ] {
        create(
            cluster,
            "",
            "namespaces",
            "",
            json!({ "metadata": { "name": ns, "labels": { "kubernetes.io/metadata.name": ns } }, "spec": { "finalizers": ["kubernetes"] }, "status": { "phase": "Active" } }),
        );
    }
    for (plural, object) in super::rbac::bootstrap() {
        let t = find("rbac.authorization.k8s.io", "v1", plural).expect("a served type");
        cluster
            .store()
            .create(t, "", object, false)
            .expect("the bootstrap roles are consistent");
    }
    create(cluster, "", "nodes", "", node("node-a", "192.168.49.2"));
    create(cluster, "", "nodes", "", node("node-b", "192.168.49.3"));
    create(
        cluster,
        "apps",
        "deployments",
        "shop",
        json!({
            "metadata": { "name": "web", "labels": { "app": "web" } },
            "spec": {
                "replicas": 2,
                "selector": { "matchLabels": { "app": "web" } },
                "strategy": { "type": "RollingUpdate", "rollingUpdate": { "maxSurge": "25%", "maxUnavailable": "25%" } },
                "revisionHistoryLimit": 10,
                "template": {
                    "metadata": { "labels": { "app": "web" } },
                    "spec": { "containers": [{
                        "name": "web", "image": "shop/web:2.3.1",
                        "ports": [{ "containerPort": 8080, "protocol": "TCP" }],
                        "resources": { "requests": { "cpu": "50m", "memory": "64Mi" }, "limits": { "memory": "128Mi" } },
                    }] },
                },
            },
        }),
    );
    create(
        cluster,
        "",
        "services",
        "shop",
        json!({
            "metadata": { "name": "web", "labels": { "app": "web" } },
            "spec": { "type": "ClusterIP", "clusterIP": "10.96.12.40", "clusterIPs": ["10.96.12.40"], "selector": { "app": "web" },
                      "ports": [{ "name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP" }] },
        }),
    );
    create(
        cluster,
        "",
        "configmaps",
        "shop",
        json!({ "metadata": { "name": "web-config" }, "data": { "LOG_LEVEL": "info", "UPSTREAM": "http://checkout" } }),
    );
    create(
        cluster,
        "",
        "secrets",
        "shop",
        json!({ "metadata": { "name": "web-db" }, "type": "Opaque", "data": { "password": "c2VjcmV0", "username": "d2Vi" } }),
    );
}
