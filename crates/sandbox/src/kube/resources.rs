//! The resource types the simulated cluster serves, as discovery describes them: group,
//! version, kind, plural, scope, short names and verbs. kubectl resolves `po`, `deploy`,
//! `pods.v1.`, … from exactly this.

use serde_json::{Value, json};

/// One served resource type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceType {
    /// "" for the core group.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    /// Served read-only (computed, e.g. metrics).
    pub read_only: bool,
}

const RW: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
const RO: &[&str] = &["get", "list"];

macro_rules! rt {
    ($group:expr, $version:expr, $kind:expr, $plural:expr, $singular:expr, $namespaced:expr, [$($short:expr),*]) => {
        ResourceType { group: $group, version: $version, kind: $kind, plural: $plural, singular: $singular, namespaced: $namespaced, short_names: &[$($short),*], read_only: false }
    };
}

/// Everything the sandbox serves.
pub const TYPES: &[ResourceType] = &[
    rt!(
        "",
        "v1",
        "Namespace",
        "namespaces",
        "namespace",
        false,
        ["ns"]
    ),
    rt!("", "v1", "Node", "nodes", "node", false, ["no"]),
    rt!("", "v1", "Pod", "pods", "pod", true, ["po"]),
    rt!("", "v1", "Service", "services", "service", true, ["svc"]),
    rt!(
        "",
        "v1",
        "Endpoints",
        "endpoints",
        "endpoints",
        true,
        ["ep"]
    ),
    rt!("", "v1", "Event", "events", "event", true, ["ev"]),
    rt!(
        "",
        "v1",
        "ConfigMap",
        "configmaps",
        "configmap",
        true,
        ["cm"]
    ),
    rt!("", "v1", "Secret", "secrets", "secret", true, []),
    rt!(
        "",
        "v1",
        "ResourceQuota",
        "resourcequotas",
        "resourcequota",
        true,
        ["quota"]
    ),
    rt!(
        "",
        "v1",
        "ServiceAccount",
        "serviceaccounts",
        "serviceaccount",
        true,
        ["sa"]
    ),
    rt!(
        "",
        "v1",
        "PersistentVolume",
        "persistentvolumes",
        "persistentvolume",
        false,
        ["pv"]
    ),
    rt!(
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        "persistentvolumeclaim",
        true,
        ["pvc"]
    ),
    rt!(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        "deployment",
        true,
        ["deploy"]
    ),
    rt!(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        "replicaset",
        true,
        ["rs"]
    ),
    rt!(
        "discovery.k8s.io",
        "v1",
        "EndpointSlice",
        "endpointslices",
        "endpointslice",
        true,
        []
    ),
    rt!(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        "customresourcedefinition",
        false,
        ["crd", "crds"]
    ),
    rt!(
        "coordination.k8s.io",
        "v1",
        "Lease",
        "leases",
        "lease",
        true,
        []
    ),
    rt!(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        "poddisruptionbudget",
        true,
        ["pdb"]
    ),
    rt!(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        "clusterrole",
        false,
        []
    ),
    rt!(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        "clusterrolebinding",
        false,
        []
    ),
    rt!(
        "rbac.authorization.k8s.io",
        "v1",
        "Role",
        "roles",
        "role",
        true,
        []
    ),
    rt!(
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        "rolebinding",
        true,
        []
    ),
    rt!(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        "",
        false,
        []
    ),
    rt!(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectRulesReview",
        "selfsubjectrulesreviews",
        "",
        false,
        []
    ),
    rt!(
        "authentication.k8s.io",
        "v1",
        "SelfSubjectReview",
        "selfsubjectreviews",
        "",
        false,
        []
    ),
    ResourceType {
        group: "metrics.k8s.io",
        version: "v1beta1",
        kind: "PodMetrics",
        plural: "pods",
        singular: "",
        namespaced: true,
        short_names: &[],
        read_only: true,
    },
    ResourceType {
        group: "metrics.k8s.io",
        version: "v1beta1",
        kind: "NodeMetrics",
        plural: "nodes",
        singular: "",
        namespaced: false,
        short_names: &[],
        read_only: true,
    },
];

/// The Kubernetes version the sandbox reports (`/version`, the OpenAPI documents); kubectl's
/// dispatcher picks the matching kubectl minor.
pub const VERSION: (&str, &str) = ("1", "33");

/// The groups and their versions, in discovery order.
pub const GROUPS: &[(&str, &str)] = &[
    ("apiextensions.k8s.io", "v1"),
    ("apps", "v1"),
    ("authentication.k8s.io", "v1"),
    ("authorization.k8s.io", "v1"),
    ("autoscaling", "v1"),
    ("coordination.k8s.io", "v1"),
    ("discovery.k8s.io", "v1"),
    ("policy", "v1"),
    ("rbac.authorization.k8s.io", "v1"),
    ("metrics.k8s.io", "v1beta1"),
];

impl ResourceType {
    /// `apiVersion` of its objects.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The store key prefix: `pods`, `deployments.apps`, `pods.metrics.k8s.io`.
    pub fn key(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_owned()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// A review the API answers without storing it (`SelfSubjectAccessReview`, …): create only.
    pub fn is_review(&self) -> bool {
        self.plural.starts_with("selfsubject")
    }

    fn verbs(&self) -> &'static [&'static str] {
        if self.read_only {
            RO
        } else if self.is_review() {
            &["create"]
        } else {
            RW
        }
    }

    /// The `APIResource` entries of this type (and its subresources) for legacy discovery.
    fn api_resources(&self) -> Vec<Value> {
        let mut out = vec![json!({
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": self.verbs(),
            "shortNames": self.short_names,
            "categories": if matches!(self.kind, "Pod" | "Service" | "Deployment" | "ReplicaSet") { vec!["all"] } else { vec![] },
        })];
        match self.kind {
            "Pod" => {
                out.push(json!({ "name": "pods/log", "singularName": "", "namespaced": true, "kind": "Pod", "verbs": ["get"] }));
                out.push(json!({ "name": "pods/exec", "singularName": "", "namespaced": true, "kind": "PodExecOptions", "verbs": ["create", "get"] }));
                out.push(json!({ "name": "pods/eviction", "singularName": "", "namespaced": true, "group": "policy", "version": "v1", "kind": "Eviction", "verbs": ["create"] }));
                out.push(json!({ "name": "pods/status", "singularName": "", "namespaced": true, "kind": "Pod", "verbs": ["get", "patch", "update"] }));
            }
            "Node" => {
                out.push(json!({ "name": "nodes/proxy", "singularName": "", "namespaced": false, "kind": "NodeProxyOptions", "verbs": ["create", "delete", "get", "patch", "update"] }));
            }
            "Deployment" => {
                out.push(json!({ "name": "deployments/scale", "singularName": "", "namespaced": true, "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"] }));
                out.push(json!({ "name": "deployments/status", "singularName": "", "namespaced": true, "kind": "Deployment", "verbs": ["get", "patch", "update"] }));
            }
            "ReplicaSet" => {
                out.push(json!({ "name": "replicasets/scale", "singularName": "", "namespaced": true, "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"] }));
            }
            _ => {}
        }
        out
    }
}

/// The type served at `group/version/plural`.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
    TYPES
        .iter()
        .find(|t| t.group == group && t.version == version && t.plural == plural)
}

/// The type of objects of `kind` (first match), for ownerReferences and events.
pub fn by_kind(kind: &str) -> Option<&'static ResourceType> {
    TYPES.iter().find(|t| t.kind == kind && !t.read_only)
}

/// The types one cluster serves: the built-in ones and the custom resources its
/// CustomResourceDefinitions declare.
#[derive(Debug, Clone, Copy)]
pub struct Catalog<'a> {
    pub custom: &'a [&'static ResourceType],
}

impl Catalog<'_> {
    pub fn types(&self) -> impl Iterator<Item = &'static ResourceType> + '_ {
        TYPES.iter().chain(self.custom.iter().copied())
    }

    /// Group versions, built-in first.
    pub fn groups(&self) -> Vec<(&'static str, &'static str)> {
        let mut groups = GROUPS.to_vec();
        for t in self.custom {
            if !groups.contains(&(t.group, t.version)) {
                groups.push((t.group, t.version));
            }
        }
        groups
    }

    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
        self.types()
            .find(|t| t.group == group && t.version == version && t.plural == plural)
    }

    /// `GET /api/v1` or `/apis/<group>/<version>`: an `APIResourceList`.
    pub fn resource_list(&self, group: &str, version: &str) -> Option<Value> {
        let known = group.is_empty() && version == "v1"
            || self
                .groups()
                .iter()
                .any(|(g, v)| *g == group && *v == version);
        if !known {
            return None;
        }
        let resources: Vec<Value> = self
            .types()
            .filter(|t| t.group == group && t.version == version)
            .flat_map(|t| t.api_resources())
            .collect();
        let group_version = if group.is_empty() {
            version.to_owned()
        } else {
            format!("{group}/{version}")
        };
        Some(json!({
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": group_version,
            "resources": resources,
        }))
    }

    /// `GET /apis`: `APIGroupList`.
    pub fn group_list(&self) -> Value {
        let groups: Vec<Value> = self
            .groups()
            .iter()
            .map(|(g, v)| {
                let gv = json!({ "groupVersion": format!("{g}/{v}"), "version": v });
                json!({ "name": g, "versions": [gv.clone()], "preferredVersion": gv })
            })
            .collect();
        json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": groups })
    }

    /// The aggregated discovery document (`apidiscovery.k8s.io/v2` `APIGroupDiscoveryList`) of the
    /// core group (`core = true`, for `/api`) or of every named group (for `/apis`): with it,
    /// kubectl learns every resource from two requests.
    pub fn aggregated(&self, core: bool) -> Value {
        let groups: Vec<(&str, &str)> = if core {
            vec![("", "v1")]
        } else {
            self.groups()
        };
        let items: Vec<Value> = groups
            .iter()
            .map(|(group, version)| {
                let resources: Vec<Value> = self
                    .types()
                    .filter(|t| t.group == *group && t.version == *version)
                    .map(|t| {
                        let subresources: Vec<Value> = match t.kind {
                            "Pod" => vec![
                                json!({ "subresource": "log", "responseKind": { "group": "", "version": "v1", "kind": "Pod" }, "verbs": ["get"] }),
                                json!({ "subresource": "exec", "responseKind": { "group": "", "version": "v1", "kind": "PodExecOptions" }, "verbs": ["create", "get"] }),
                                json!({ "subresource": "eviction", "responseKind": { "group": "policy", "version": "v1", "kind": "Eviction" }, "verbs": ["create"] }),
                                json!({ "subresource": "status", "responseKind": { "group": "", "version": "v1", "kind": "Pod" }, "verbs": ["get", "patch", "update"] }),
                            ],
                            "Deployment" | "ReplicaSet" => vec![
                                json!({ "subresource": "scale", "responseKind": { "group": "autoscaling", "version": "v1", "kind": "Scale" }, "verbs": ["get", "patch", "update"] }),
                                json!({ "subresource": "status", "responseKind": { "group": t.group, "version": t.version, "kind": t.kind }, "verbs": ["get", "patch", "update"] }),
                            ],
                            _ => vec![],
                        };
                        let mut r = json!({
                            "resource": t.plural,
                            "responseKind": { "group": t.group, "version": t.version, "kind": t.kind },
                            "scope": if t.namespaced { "Namespaced" } else { "Cluster" },
                            "singularResource": if t.singular.is_empty() { t.plural.trim_end_matches('s') } else { t.singular },
                            "verbs": t.verbs(),
                        });
                        if !t.short_names.is_empty() {
                            r["shortNames"] = json!(t.short_names);
                        }
                        if matches!(t.kind, "Pod" | "Service" | "Deployment" | "ReplicaSet") {
                            r["categories"] = json!(["all"]);
                        }
                        if !subresources.is_empty() {
                            r["subresources"] = json!(subresources);
                        }
                        r
                    })
                    .collect();
                json!({
                    "metadata": { "name": group },
                    "versions": [{ "version": version, "resources": resources, "freshness": "Current" }],
                })
            })
            .collect();
        json!({
            "kind": "APIGroupDiscoveryList",
            "apiVersion": "apidiscovery.k8s.io/v2",
            "metadata": {},
            "items": items,
        })
    }

    /// `GET /apis/<group>`: `APIGroup`.
    pub fn group(&self, name: &str) -> Option<Value> {
        let groups = self.groups();
        let (g, v) = groups.iter().find(|(g, _)| *g == name)?;
        let gv = json!({ "groupVersion": format!("{g}/{v}"), "version": v });
        Some(
            json!({ "kind": "APIGroup", "apiVersion": "v1", "name": g, "versions": [gv.clone()], "preferredVersion": gv }),
        )
    }
}

/// `GET /api`: `APIVersions`.
pub fn core_versions() -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{ "clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1" }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_declares_scale_as_autoscaling_v1() {
        let catalog = Catalog { custom: &[] };
        let apps = catalog.resource_list("apps", "v1").unwrap();
        let scale = apps["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "deployments/scale")
            .unwrap();
        assert_eq!(
            (&scale["group"], &scale["version"]),
            (&json!("autoscaling"), &json!("v1"))
        );
        assert!(catalog.resource_list("nope", "v1").is_none());
        assert_eq!(find("", "v1", "pods").unwrap().kind, "Pod");
    }
}
