//! What the credentials may do: before a change, one `SelfSubjectAccessReview` per request the
//! change will make, so that a change the context's user may not make is refused before
//! anything runs (in plan mode too), naming each verb and resource it lacks.

use futures::future::join_all;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};

use crate::client::Connection;

/// One request a change will make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub verb: &'static str,
    /// API group ("" for the core group).
    pub group: String,
    /// Plural resource name, e.g. `deployments`.
    pub resource: String,
    pub subresource: Option<&'static str>,
    /// "" for a cluster-scoped resource.
    pub namespace: String,
    pub name: Option<String>,
}

impl Request {
    pub fn new(verb: &'static str, group: &str, resource: &str, namespace: &str) -> Self {
        Self {
            verb,
            group: group.to_owned(),
            resource: resource.to_owned(),
            subresource: None,
            namespace: namespace.to_owned(),
            name: None,
        }
    }

    pub fn named(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    pub fn subresource(mut self, subresource: &'static str) -> Self {
        self.subresource = Some(subresource);
        self
    }

    /// `patch deployments.apps "worker" in namespace shop`.
    fn describe(&self) -> String {
        let mut resource = self.resource.clone();
        if let Some(sub) = self.subresource {
            resource = format!("{resource}/{sub}");
        }
        if !self.group.is_empty() {
            resource = format!("{resource}.{}", self.group);
        }
        let name = self
            .name
            .as_ref()
            .map(|n| format!(" \"{n}\""))
            .unwrap_or_default();
        let scope = if self.namespace.is_empty() {
            " (cluster-wide)".to_owned()
        } else {
            format!(" in namespace {}", self.namespace)
        };
        format!("{} {resource}{name}{scope}", self.verb)
    }

    fn review(&self) -> SelfSubjectAccessReview {
        SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(self.verb.to_owned()),
                    group: Some(self.group.clone()),
                    resource: Some(self.resource.clone()),
                    subresource: self.subresource.map(str::to_owned),
                    namespace: Some(self.namespace.clone()).filter(|n| !n.is_empty()),
                    name: self.name.clone(),
                    ..ResourceAttributes::default()
                }),
                ..SelfSubjectAccessReviewSpec::default()
            },
            ..SelfSubjectAccessReview::default()
        }
    }
}

/// Ask the API server whether the context's user may make every request; `Err` names the
/// ones it may not. A cluster that cannot answer (no authorization API, the review itself
/// refused) is not a denial: the change's own requests will be authorized when they run.
pub async fn check(conn: &Connection, requests: &[Request]) -> Result<(), String> {
    let api: Api<SelfSubjectAccessReview> = Api::all(conn.client.clone());
    let mut unique: Vec<&Request> = Vec::new();
    for r in requests {
        if !unique.contains(&r) {
            unique.push(r);
        }
    }
    let answers = join_all(unique.iter().map(|r| {
        let api = api.clone();
        async move { api.create(&PostParams::default(), &r.review()).await }
    }))
    .await;
    let denied: Vec<String> = unique
        .iter()
        .zip(answers)
        .filter_map(|(r, answer)| match answer {
            Ok(review) if !review.status.as_ref().is_some_and(|s| s.allowed) => Some(r.describe()),
            _ => None,
        })
        .collect();
    if denied.is_empty() {
        return Ok(());
    }
    Err(format!(
        "the credentials of context `{}` may not {}; nothing was changed. Use a context whose user has a role that allows it, or ask a cluster administrator for one.",
        conn.context,
        denied.join(", nor ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_read_as_the_permission_they_need() {
        let r = Request::new("patch", "apps", "deployments", "shop").named("worker");
        assert_eq!(
            r.describe(),
            "patch deployments.apps \"worker\" in namespace shop"
        );
        let r = Request::new("create", "", "pods", "shop")
            .named("web-1")
            .subresource("eviction");
        assert_eq!(
            r.describe(),
            "create pods/eviction \"web-1\" in namespace shop"
        );
        assert_eq!(
            Request::new("patch", "", "nodes", "")
                .named("node-a")
                .describe(),
            "patch nodes \"node-a\" (cluster-wide)"
        );
    }
}
