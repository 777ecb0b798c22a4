//! Who is asking and what they may do, as kube-apiserver decides it: bearer tokens name users
//! (an administrator in `system:masters` and a read-only user bound to the `view` ClusterRole),
//! every request is resolved to its attributes (verb, API group, resource, subresource,
//! namespace, name, or a non-resource path) and allowed only when a Role or ClusterRole bound
//! to the user or one of their groups has a matching rule; else 403 with the API server's
//! wording. `SelfSubjectAccessReview`, `SelfSubjectRulesReview` and `SelfSubjectReview` answer
//! from the same rules (`kubectl auth can-i`, `kubectl auth can-i --list`, `kubectl auth
//! whoami`). The bootstrap roles are the real ones' rules for the types the sandbox serves.

use serde_json::{Value, json};

use super::{resources, store::ApiError, store::Store};

/// An authenticated user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub user: String,
    pub groups: Vec<String>,
}

impl Subject {
    pub fn anonymous() -> Self {
        Self {
            user: "system:anonymous".into(),
            groups: vec!["system:unauthenticated".into()],
        }
    }

    fn authenticated(user: &str, extra: &[&str]) -> Self {
        Self {
            user: user.into(),
            groups: extra
                .iter()
                .map(|g| (*g).to_owned())
                .chain(["system:authenticated".to_owned()])
                .collect(),
        }
    }
}

/// The users the sandbox's kubeconfig carries, by bearer token.
#[derive(Debug, Clone)]
pub struct Users {
    pub admin_token: String,
    pub viewer_token: String,
}

/// The administrator (in `system:masters`, bound to `cluster-admin`).
pub const ADMIN: &str = "sandbox-admin";
/// The read-only user (bound to `view` across namespaces).
pub const VIEWER: &str = "sandbox-viewer";

impl Default for Users {
    fn default() -> Self {
        let token = || uuid::Uuid::new_v4().simple().to_string();
        Self {
            admin_token: token(),
            viewer_token: token(),
        }
    }
}

impl Users {
    /// The subject of an `Authorization` header: `None` when a token is given but unknown
    /// (401), anonymous when there is none.
    pub fn authenticate(&self, authorization: Option<&str>) -> Option<Subject> {
        let Some(header) = authorization else {
            return Some(Subject::anonymous());
        };
        let token = header.strip_prefix("Bearer ")?.trim();
        if token == self.admin_token {
            Some(Subject::authenticated(ADMIN, &["system:masters"]))
        } else if token == self.viewer_token {
            Some(Subject::authenticated(VIEWER, &[]))
        } else {
            None
        }
    }
}

/// What a request asks to do, as the API server's request-info resolver reads it from the
/// method and path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes {
    pub verb: String,
    /// `None`: a non-resource request (discovery, `/version`, `/openapi/v3`, …).
    pub resource: Option<ResourceAttributes>,
    pub path: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceAttributes {
    pub group: String,
    pub resource: String,
    pub subresource: String,
    pub namespace: String,
    pub name: String,
}

impl Attributes {
    /// Resolve `method path?query`.
    pub fn of(method: &str, path: &str, watch: bool) -> Self {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let rest = match segments.as_slice() {
            ["api", _version, rest @ ..] if !rest.is_empty() => Some(("", rest)),
            ["apis", group, _version, rest @ ..] if !rest.is_empty() => Some((*group, rest)),
            _ => None,
        };
        let Some((group, rest)) = rest else {
            let verb = match method {
                "POST" => "post",
                "PUT" => "put",
                "PATCH" => "patch",
                "DELETE" => "delete",
                "HEAD" => "head",
                _ => "get",
            };
            return Self {
                verb: verb.into(),
                resource: None,
                path: path.into(),
            };
        };
        let mut r = ResourceAttributes {
            group: group.into(),
            ..ResourceAttributes::default()
        };
        let at = |i: usize| rest.get(i).map_or("", |s| *s).to_owned();
        if rest[0] == "namespaces" && rest.len() >= 3 {
            r.namespace = at(1);
            r.resource = at(2);
            r.name = at(3);
            r.subresource = at(4);
        } else if rest[0] == "namespaces" && rest.len() == 2 {
            // `/api/v1/namespaces/shop` is the namespace itself.
            r.namespace = at(1);
            r.resource = "namespaces".into();
            r.name = at(1);
        } else {
            r.resource = at(0);
            r.name = at(1);
            r.subresource = at(2);
        }
        let verb = match (method, r.name.is_empty()) {
            // A WebSocket upgrade to exec or attach needs `create`, as since Kubernetes 1.30.
            ("GET", false)
                if matches!(r.subresource.as_str(), "exec" | "attach" | "portforward") =>
            {
                "create"
            }
            ("GET" | "HEAD", _) if watch => "watch",
            ("GET" | "HEAD", false) => "get",
            ("GET" | "HEAD", true) => "list",
            ("POST", _) => "create",
            ("PUT", _) => "update",
            ("PATCH", _) => "patch",
            ("DELETE", false) => "delete",
            ("DELETE", true) => "deletecollection",
            _ => "get",
        };
        Self {
            verb: verb.into(),
            resource: Some(r),
            path: path.into(),
        }
    }
}

/// Whether `subject` may do `attributes`, and why (the binding and role that allow it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub reason: String,
}

fn strings(value: &Value) -> impl Iterator<Item = &str> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

fn binds(binding: &Value, subject: &Subject) -> Option<String> {
    for s in binding["subjects"].as_array().into_iter().flatten() {
        let name = s["name"].as_str().unwrap_or_default();
        let matches = match s["kind"].as_str() {
            Some("User") => name == subject.user,
            Some("Group") => subject.groups.iter().any(|g| g == name),
            Some("ServiceAccount") => {
                subject.user
                    == format!(
                        "system:serviceaccount:{}:{name}",
                        s["namespace"].as_str().unwrap_or_default()
                    )
            }
            _ => false,
        };
        if matches {
            return Some(format!(
                "{} \"{name}\"",
                s["kind"].as_str().unwrap_or_default()
            ));
        }
    }
    None
}

fn rule_allows(rule: &Value, a: &Attributes) -> bool {
    let has = |field: &str, wanted: &str| strings(&rule[field]).any(|v| v == "*" || v == wanted);
    if !has("verbs", &a.verb) {
        return false;
    }
    match &a.resource {
        Some(r) => {
            let combined = if r.subresource.is_empty() {
                r.resource.clone()
            } else {
                format!("{}/{}", r.resource, r.subresource)
            };
            let resource_matches = strings(&rule["resources"]).any(|v| {
                v == "*"
                    || v == combined
                    || (!r.subresource.is_empty() && v == format!("*/{}", r.subresource))
            });
            let names: Vec<&str> = strings(&rule["resourceNames"]).collect();
            has("apiGroups", &r.group)
                && resource_matches
                && (names.is_empty() || (!r.name.is_empty() && names.contains(&r.name.as_str())))
        }
        None => strings(&rule["nonResourceURLs"]).any(|u| match u.strip_suffix('*') {
            Some(prefix) => a.path.starts_with(prefix),
            None => u == a.path,
        }),
    }
}

fn rbac_type(plural: &str) -> &'static resources::ResourceType {
    resources::find("rbac.authorization.k8s.io", "v1", plural).expect("the sandbox serves RBAC")
}

/// The rules that apply to `subject` in `namespace` ("" for cluster-wide only), each with the
/// binding that grants it.
fn rules<'s>(store: &'s Store, subject: &Subject, namespace: &str) -> Vec<(&'s Value, String)> {
    let role_rules = |kind: &str, name: &str, ns: &str| -> Vec<&'s Value> {
        let (plural, ns) = if kind == "ClusterRole" {
            ("clusterroles", "")
        } else {
            ("roles", ns)
        };
        store
            .get(rbac_type(plural), ns, name)
            .and_then(|role| role["rules"].as_array())
            .map(|rules| rules.iter().collect())
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    let mut grant = |binding: &'s Value, kind: &str, ns: &str| {
        let Some(who) = binds(binding, subject) else {
            return;
        };
        let role_kind = binding["roleRef"]["kind"].as_str().unwrap_or_default();
        let role = binding["roleRef"]["name"].as_str().unwrap_or_default();
        let why = format!(
            "RBAC: allowed by {kind} \"{}\" of {role_kind} \"{role}\" to {who}",
            binding["metadata"]["name"].as_str().unwrap_or_default()
        );
        for rule in role_rules(role_kind, role, ns) {
            out.push((rule, why.clone()));
        }
    };
    for binding in store.list(rbac_type("clusterrolebindings"), None) {
        grant(binding, "ClusterRoleBinding", "");
    }
    if !namespace.is_empty() {
        for binding in store.list(rbac_type("rolebindings"), Some(namespace)) {
            grant(binding, "RoleBinding", namespace);
        }
    }
    out
}

/// Decide `attributes` for `subject`.
pub fn authorize(store: &Store, subject: &Subject, attributes: &Attributes) -> Decision {
    let namespace = attributes
        .resource
        .as_ref()
        .map_or("", |r| r.namespace.as_str());
    match rules(store, subject, namespace)
        .into_iter()
        .find(|(rule, _)| rule_allows(rule, attributes))
    {
        Some((_, why)) => Decision {
            allowed: true,
            reason: why,
        },
        None => Decision {
            allowed: false,
            reason: String::new(),
        },
    }
}

/// The 403 of a refused request, worded as kube-apiserver words it.
pub fn forbidden(subject: &Subject, a: &Attributes) -> ApiError {
    let message = match &a.resource {
        Some(r) => {
            let qualified = if r.group.is_empty() {
                r.resource.clone()
            } else {
                format!("{}.{}", r.resource, r.group)
            };
            let object = if r.name.is_empty() {
                qualified
            } else {
                format!("{qualified} \"{}\"", r.name)
            };
            let resource = if r.subresource.is_empty() {
                r.resource.clone()
            } else {
                format!("{}/{}", r.resource, r.subresource)
            };
            let scope = if r.namespace.is_empty() {
                "at the cluster scope".to_owned()
            } else {
                format!("in the namespace \"{}\"", r.namespace)
            };
            format!(
                "{object} is forbidden: User \"{}\" cannot {} resource \"{resource}\" in API group \"{}\" {scope}",
                subject.user, a.verb, r.group
            )
        }
        None => format!(
            "forbidden: User \"{}\" cannot {} path \"{}\"",
            subject.user, a.verb, a.path
        ),
    };
    ApiError {
        code: 403,
        reason: "Forbidden",
        message,
        causes: Vec::new(),
    }
}

/// The 401 of an unknown token.
pub fn unauthorized() -> ApiError {
    ApiError {
        code: 401,
        reason: "Unauthorized",
        message: "Unauthorized".into(),
        causes: Vec::new(),
    }
}

/// Answer a review (`SelfSubjectAccessReview`, `SelfSubjectRulesReview`, `SelfSubjectReview`)
/// for `subject`: the request object with its `status` filled in.
pub fn review(
    store: &Store,
    subject: &Subject,
    kind: &str,
    mut request: Value,
) -> Result<Value, ApiError> {
    let status = match kind {
        "SelfSubjectAccessReview" => {
            let spec = &request["spec"];
            let text = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_owned();
            let attributes = if let Some(r) = spec.get("resourceAttributes") {
                Attributes {
                    verb: text(r, "verb"),
                    resource: Some(ResourceAttributes {
                        group: text(r, "group"),
                        resource: text(r, "resource"),
                        subresource: text(r, "subresource"),
                        namespace: text(r, "namespace"),
                        name: text(r, "name"),
                    }),
                    path: String::new(),
                }
            } else if let Some(n) = spec.get("nonResourceAttributes") {
                Attributes {
                    verb: text(n, "verb"),
                    resource: None,
                    path: text(n, "path"),
                }
            } else {
                return Err(ApiError {
                    code: 422,
                    reason: "Invalid",
                    message: "SelfSubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified".into(),
                    causes: Vec::new(),
                });
            };
            let decision = authorize(store, subject, &attributes);
            let mut status = json!({ "allowed": decision.allowed });
            if decision.allowed {
                status["reason"] = json!(decision.reason);
            }
            status
        }
        "SelfSubjectRulesReview" => {
            let namespace = request["spec"]["namespace"].as_str().unwrap_or_default();
            let mut resource_rules = Vec::new();
            let mut non_resource_rules = Vec::new();
            for (rule, _) in rules(store, subject, namespace) {
                let field = |k: &str| rule.get(k).cloned().unwrap_or_else(|| json!([]));
                if rule.get("nonResourceURLs").is_some() {
                    non_resource_rules
                        .push(json!({ "verbs": field("verbs"), "nonResourceURLs": field("nonResourceURLs") }));
                } else {
                    let mut r = json!({ "verbs": field("verbs"), "apiGroups": field("apiGroups"), "resources": field("resources") });
                    if rule.get("resourceNames").is_some() {
                        r["resourceNames"] = field("resourceNames");
                    }
                    resource_rules.push(r);
                }
            }
            json!({ "resourceRules": resource_rules, "nonResourceRules": non_resource_rules, "incomplete": false })
        }
        _ => json!({ "userInfo": { "username": subject.user, "groups": subject.groups } }),
    };
    request["status"] = status;
    request["metadata"] = json!({ "creationTimestamp": null });
    Ok(request)
}

/// The bootstrap ClusterRoles and ClusterRoleBindings (the real ones' rules for the types the
/// sandbox serves), and the binding of the read-only user to `view`.
pub fn bootstrap() -> Vec<(&'static str, Value)> {
    let read = json!(["get", "list", "watch"]);
    let role = |name: &str, rules: Value| {
        (
            "clusterroles",
            json!({ "metadata": { "name": name, "labels": { "kubernetes.io/bootstrapping": "rbac-defaults" } }, "rules": rules }),
        )
    };
    let binding = |name: &str, role: &str, subjects: Value| {
        (
            "clusterrolebindings",
            json!({
                "metadata": { "name": name, "labels": { "kubernetes.io/bootstrapping": "rbac-defaults" } },
                "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role },
                "subjects": subjects,
            }),
        )
    };
    let group = |name: &str| json!({ "apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": name });
    vec![
        role(
            "cluster-admin",
            json!([
                { "apiGroups": ["*"], "resources": ["*"], "verbs": ["*"] },
                { "nonResourceURLs": ["*"], "verbs": ["*"] },
            ]),
        ),
        role(
            "view",
            json!([
                { "apiGroups": [""], "resources": ["configmaps", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services", "services/status"], "verbs": read },
                { "apiGroups": [""], "resources": ["bindings", "events", "limitranges", "namespaces/status", "pods/log", "pods/status", "replicationcontrollers/status", "resourcequotas", "resourcequotas/status"], "verbs": read },
                { "apiGroups": [""], "resources": ["namespaces"], "verbs": read },
                { "apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": read },
                { "apiGroups": ["apps"], "resources": ["controllerrevisions", "daemonsets", "daemonsets/status", "deployments", "deployments/scale", "deployments/status", "replicasets", "replicasets/scale", "replicasets/status", "statefulsets", "statefulsets/scale", "statefulsets/status"], "verbs": read },
                { "apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers", "horizontalpodautoscalers/status"], "verbs": read },
                { "apiGroups": ["batch"], "resources": ["cronjobs", "cronjobs/status", "jobs", "jobs/status"], "verbs": read },
                { "apiGroups": ["policy"], "resources": ["poddisruptionbudgets", "poddisruptionbudgets/status"], "verbs": read },
                { "apiGroups": ["networking.k8s.io"], "resources": ["ingresses", "ingresses/status", "networkpolicies"], "verbs": read },
                // metrics-server's system:aggregated-metrics-reader, aggregated to view.
                { "apiGroups": ["metrics.k8s.io"], "resources": ["pods", "nodes"], "verbs": read },
            ]),
        ),
        role(
            "system:basic-user",
            json!([
                { "apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], "verbs": ["create"] },
                { "apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"], "verbs": ["create"] },
            ]),
        ),
        role(
            "system:discovery",
            json!([{ "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"], "verbs": ["get"] }]),
        ),
        role(
            "system:public-info-viewer",
            json!([{ "nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"], "verbs": ["get"] }]),
        ),
        binding(
            "cluster-admin",
            "cluster-admin",
            json!([group("system:masters")]),
        ),
        binding(
            "system:basic-user",
            "system:basic-user",
            json!([group("system:authenticated")]),
        ),
        binding(
            "system:discovery",
            "system:discovery",
            json!([group("system:authenticated")]),
        ),
        binding(
            "system:public-info-viewer",
            "system:public-info-viewer",
            json!([
                group("system:authenticated"),
                group("system:unauthenticated")
            ]),
        ),
        binding(
            "sandbox-viewer-view",
            "view",
            json!([{ "apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": VIEWER }]),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_resolve_to_their_attributes() {
        let a = Attributes::of("GET", "/api/v1/namespaces/shop/pods", false);
        let r = a.resource.clone().unwrap();
        assert_eq!(
            (a.verb.as_str(), r.resource.as_str(), r.namespace.as_str()),
            ("list", "pods", "shop")
        );
        let a = Attributes::of(
            "PATCH",
            "/apis/apps/v1/namespaces/shop/deployments/worker/scale",
            false,
        );
        let r = a.resource.unwrap();
        assert_eq!(
            (
                a.verb.as_str(),
                r.group.as_str(),
                r.name.as_str(),
                r.subresource.as_str()
            ),
            ("patch", "apps", "worker", "scale")
        );
        let a = Attributes::of("GET", "/api/v1/namespaces/shop", false);
        assert_eq!(a.resource.unwrap().name, "shop");
        assert_eq!(Attributes::of("GET", "/api/v1/pods", true).verb, "watch");
        assert!(
            Attributes::of("GET", "/apis/apps/v1", false)
                .resource
                .is_none()
        );
        assert_eq!(
            Attributes::of("GET", "/api/v1/namespaces/shop/pods/web/exec", false).verb,
            "create"
        );
    }

    fn store() -> Store {
        let mut store = Store::default();
        for (plural, object) in bootstrap() {
            store.create(rbac_type(plural), "", object, false).unwrap();
        }
        store
    }

    #[test]
    fn the_viewer_reads_but_does_not_write_or_read_secrets() {
        let store = store();
        let users = Users::default();
        let viewer = users
            .authenticate(Some(&format!("Bearer {}", users.viewer_token)))
            .unwrap();
        let can =
            |method, path| authorize(&store, &viewer, &Attributes::of(method, path, false)).allowed;
        assert!(can("GET", "/api/v1/namespaces/shop/pods"));
        assert!(can(
            "GET",
            "/apis/apps/v1/namespaces/shop/deployments/worker"
        ));
        assert!(can("GET", "/apis"));
        assert!(!can(
            "PATCH",
            "/apis/apps/v1/namespaces/shop/deployments/worker"
        ));
        assert!(!can("GET", "/api/v1/namespaces/shop/secrets"));
        assert!(!can("GET", "/api/v1/nodes"));
        let refused = forbidden(
            &viewer,
            &Attributes::of(
                "PATCH",
                "/apis/apps/v1/namespaces/shop/deployments/worker",
                false,
            ),
        );
        assert_eq!(
            refused.message,
            "deployments.apps \"worker\" is forbidden: User \"sandbox-viewer\" cannot patch resource \"deployments\" in API group \"apps\" in the namespace \"shop\""
        );

        let admin = users
            .authenticate(Some(&format!("Bearer {}", users.admin_token)))
            .unwrap();
        let decision = authorize(
            &store,
            &admin,
            &Attributes::of("DELETE", "/api/v1/nodes/node-a", false),
        );
        assert!(decision.allowed);
        assert_eq!(
            decision.reason,
            "RBAC: allowed by ClusterRoleBinding \"cluster-admin\" of ClusterRole \"cluster-admin\" to Group \"system:masters\""
        );
        assert_eq!(users.authenticate(Some("Bearer nope")), None);
        assert!(
            !authorize(
                &store,
                &Subject::anonymous(),
                &Attributes::of("GET", "/api", false)
            )
            .allowed
        );
        assert!(
            authorize(
                &store,
                &Subject::anonymous(),
                &Attributes::of("GET", "/version", false)
            )
            .allowed
        );
    }
}
