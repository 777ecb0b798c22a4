//! The OpenAPI documents kubectl downloads before `apply`, `explain` and `diff`: v3 (`/openapi/v3`
//! lists a document per group-version, `/openapi/v3/apis/apps/v1` is one) and v2
//! (`/openapi/v2`, one Swagger document; JSON only, not protobuf).
//!
//! The schemas are k8s-openapi's (its `schemars` feature: the definitions of the real API,
//! named as the API names them, `io.k8s.api.core.v1.Pod`), each kind marked with
//! `x-kubernetes-group-version-kind` as the API server marks it — that is how kubectl finds a
//! kind's schema — and the lists strategic merge patch merges by key marked with
//! `x-kubernetes-patch-merge-key` / `x-kubernetes-patch-strategy`, so the patch kubectl
//! computes for `apply` merges them as the sandbox's own strategic merge does ([`super::patch`]).
//! Computed once, on first use.

use std::sync::OnceLock;

use schemars::{JsonSchema, SchemaGenerator, generate::SchemaSettings};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::{
    patch::merge_key,
    resources::{TYPES, VERSION},
};

/// The definitions of every served kind, named as the API names them, under `definitions_path`.
fn definitions(settings: SchemaSettings) -> Map<String, Value> {
    use k8s_openapi::{
        api::{
            apps::v1 as apps, autoscaling::v1 as autoscaling, core::v1 as core,
            discovery::v1 as discovery,
        },
        apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions,
    };
    let mut generator = SchemaGenerator::new(settings);
    // (group, version, kind) of each root, with its schema's name.
    let mut roots: Vec<(&str, &str, &str, String)> = Vec::new();
    macro_rules! kinds {
        ($($group:literal $version:literal $kind:literal => $ty:ty),* $(,)?) => {
            $(
                generator.subschema_for::<$ty>();
                roots.push(($group, $version, $kind, <$ty as JsonSchema>::schema_name().into_owned()));
            )*
        };
    }
    kinds! {
        "" "v1" "Namespace" => core::Namespace,
        "" "v1" "Node" => core::Node,
        "" "v1" "Pod" => core::Pod,
        "" "v1" "Service" => core::Service,
        "" "v1" "Endpoints" => core::Endpoints,
        "" "v1" "Event" => core::Event,
        "" "v1" "ConfigMap" => core::ConfigMap,
        "" "v1" "Secret" => core::Secret,
        "" "v1" "ResourceQuota" => core::ResourceQuota,
        "" "v1" "ServiceAccount" => core::ServiceAccount,
        "" "v1" "PersistentVolume" => core::PersistentVolume,
        "" "v1" "PersistentVolumeClaim" => core::PersistentVolumeClaim,
        "apps" "v1" "Deployment" => apps::Deployment,
        "apps" "v1" "ReplicaSet" => apps::ReplicaSet,
        "autoscaling" "v1" "Scale" => autoscaling::Scale,
        "discovery.k8s.io" "v1" "EndpointSlice" => discovery::EndpointSlice,
        "apiextensions.k8s.io" "v1" "CustomResourceDefinition" => apiextensions::CustomResourceDefinition,
    }
    let mut definitions: Map<String, Value> =
        generator.take_definitions(true).into_iter().collect();
    for (group, version, kind, name) in roots {
        if let Some(Value::Object(schema)) = definitions.get_mut(&name) {
            schema.insert(
                "x-kubernetes-group-version-kind".into(),
                json!([{ "group": group, "kind": kind, "version": version }]),
            );
        }
    }
    for (name, schema) in &mut definitions {
        mark_merged_lists(name, schema);
    }
    definitions
}

/// The patch extensions of the lists of `schema` (the definition `name`) that strategic merge
/// patch merges by key.
fn mark_merged_lists(name: &str, schema: &mut Value) {
    let Some(Value::Object(properties)) = schema.get_mut("properties") else {
        return;
    };
    for (field, property) in properties {
        let Value::Object(property) = property else {
            continue;
        };
        if property.get("type").and_then(Value::as_str) != Some("array") {
            continue;
        }
        // A Service's ports merge by `port` (a container's by `containerPort`).
        let key = match (name, field.as_str()) {
            ("io.k8s.api.core.v1.ServiceSpec", "ports") => Some("port"),
            _ => merge_key(field),
        };
        let Some(key) = key else { continue };
        let strategy = if field == "volumes" {
            "merge,retainKeys"
        } else {
            "merge"
        };
        property.insert("x-kubernetes-patch-merge-key".into(), key.into());
        property.insert("x-kubernetes-patch-strategy".into(), strategy.into());
    }
}

/// The object paths of a group-version's kinds with their PATCH operation, which is where
/// kubectl looks for the `fieldValidation` parameter before it leaves validation to the server
/// (`fieldValidation=Strict`) instead of validating against the schemas itself.
fn paths_of(group: &str, version: &str) -> Map<String, Value> {
    let query = |name: &str| json!({ "name": name, "in": "query", "schema": { "type": "string", "uniqueItems": true } });
    TYPES
        .iter()
        .filter(|t| t.group == group && t.version == version && !t.read_only)
        .map(|t| {
            let scope = if t.namespaced {
                "namespaces/{namespace}/"
            } else {
                ""
            };
            let path = format!("/{}/{scope}{}/{{name}}", gv_path(group, version), t.plural);
            let operation = json!({
                "patch": {
                    "operationId": format!("patch{}", t.kind),
                    "x-kubernetes-action": "patch",
                    "x-kubernetes-group-version-kind": { "group": group, "kind": t.kind, "version": version },
                    "parameters": [query("dryRun"), query("fieldManager"), query("fieldValidation"), query("force")],
                    "responses": { "200": { "description": "OK" } },
                },
            });
            (path, operation)
        })
        .collect()
}

/// `/openapi/v3/<path>` of a group-version: `api/v1`, `apis/apps/v1`.
fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// The v3 documents by group-version path, each with the hash its URL carries.
fn v3_documents() -> &'static Vec<(String, String, Value)> {
    static DOCUMENTS: OnceLock<Vec<(String, String, Value)>> = OnceLock::new();
    DOCUMENTS.get_or_init(|| {
        let definitions = definitions(SchemaSettings::openapi3());
        let mut paths: Vec<(&str, &str)> = TYPES
            .iter()
            .filter(|t| !t.read_only)
            .map(|t| (t.group, t.version))
            .chain([("autoscaling", "v1")])
            .collect();
        paths.sort_unstable();
        paths.dedup();
        paths
            .into_iter()
            .map(|(group, version)| {
                // Like the API server, every document carries the definitions its kinds
                // reach; the sandbox's are small enough to carry them all.
                let document = json!({
                    "openapi": "3.0.0",
                    "info": { "title": "Kubernetes", "version": format!("v{}.{}.0", VERSION.0, VERSION.1) },
                    "paths": paths_of(group, version),
                    "components": { "schemas": definitions },
                });
                let hash = hex::encode(Sha256::digest(document.to_string().as_bytes()));
                (gv_path(group, version), hash.to_uppercase(), document)
            })
            .collect()
    })
}

/// `GET /openapi/v3`: where each group-version's document is.
pub fn v3_discovery() -> Value {
    let paths: Map<String, Value> = v3_documents()
        .iter()
        .map(|(path, hash, _)| {
            (
                path.clone(),
                json!({ "serverRelativeURL": format!("/openapi/v3/{path}?hash={hash}") }),
            )
        })
        .collect();
    json!({ "paths": paths })
}

/// `GET /openapi/v3/<path>`: one group-version's document, if the sandbox serves it.
pub fn v3_document(path: &str) -> Option<&'static Value> {
    v3_documents()
        .iter()
        .find(|(p, _, _)| p == path)
        .map(|(_, _, document)| document)
}

/// `GET /openapi/v2`: the Swagger document of everything.
pub fn v2_document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let settings = SchemaSettings::draft07().with(|s| {
            s.definitions_path = "/definitions".into();
        });
        json!({
            "swagger": "2.0",
            "info": { "title": "Kubernetes", "version": format!("v{}.{}.0", VERSION.0, VERSION.1) },
            "paths": {},
            "definitions": definitions(settings),
        })
    })
}
