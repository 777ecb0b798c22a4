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
//! The built-in documents are computed once, on first use; a custom resource's document from
//! its CustomResourceDefinition's `openAPIV3Schema` when asked for.

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
            apps::v1 as apps, authentication::v1 as authentication,
            authorization::v1 as authorization, autoscaling::v1 as autoscaling,
            coordination::v1 as coordination, core::v1 as core, discovery::v1 as discovery,
            policy::v1 as policy, rbac::v1 as rbac,
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
        "coordination.k8s.io" "v1" "Lease" => coordination::Lease,
        "policy" "v1" "PodDisruptionBudget" => policy::PodDisruptionBudget,
        "policy" "v1" "Eviction" => policy::Eviction,
        "rbac.authorization.k8s.io" "v1" "ClusterRole" => rbac::ClusterRole,
        "rbac.authorization.k8s.io" "v1" "ClusterRoleBinding" => rbac::ClusterRoleBinding,
        "rbac.authorization.k8s.io" "v1" "Role" => rbac::Role,
        "rbac.authorization.k8s.io" "v1" "RoleBinding" => rbac::RoleBinding,
        "authorization.k8s.io" "v1" "SelfSubjectAccessReview" => authorization::SelfSubjectAccessReview,
        "authorization.k8s.io" "v1" "SelfSubjectRulesReview" => authorization::SelfSubjectRulesReview,
        "authentication.k8s.io" "v1" "SelfSubjectReview" => authentication::SelfSubjectReview,
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
    TYPES
        .iter()
        .filter(|t| t.group == group && t.version == version && !t.read_only && !t.is_review())
        .map(|t| patch_path(group, version, t.kind, t.plural, t.namespaced))
        .collect()
}

/// One kind's object path with its PATCH operation.
fn patch_path(
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
    namespaced: bool,
) -> (String, Value) {
    let query = |name: &str| json!({ "name": name, "in": "query", "schema": { "type": "string", "uniqueItems": true } });
    let scope = if namespaced {
        "namespaces/{namespace}/"
    } else {
        ""
    };
    let path = format!("/{}/{scope}{plural}/{{name}}", gv_path(group, version));
    let operation = json!({
        "patch": {
            "operationId": format!("patch{kind}"),
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": { "group": group, "kind": kind, "version": version },
            "parameters": [query("dryRun"), query("fieldManager"), query("fieldValidation"), query("force")],
            "responses": { "200": { "description": "OK" } },
        },
    });
    (path, operation)
}

/// `/openapi/v3/<path>` of a group-version: `api/v1`, `apis/apps/v1`.
fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// The built-in definitions as the v3 documents carry them.
fn v3_definitions() -> &'static Map<String, Value> {
    static DEFINITIONS: OnceLock<Map<String, Value>> = OnceLock::new();
    DEFINITIONS.get_or_init(|| definitions(SchemaSettings::openapi3()))
}

fn document(paths: Map<String, Value>, schemas: &Map<String, Value>) -> Value {
    json!({
        "openapi": "3.0.0",
        "info": { "title": "Kubernetes", "version": format!("v{}.{}.0", VERSION.0, VERSION.1) },
        "paths": paths,
        "components": { "schemas": schemas },
    })
}

fn hash_of(document: &Value) -> String {
    hex::encode_upper(Sha256::digest(document.to_string().as_bytes()))
}

/// The v3 documents by group-version path, each with the hash its URL carries.
fn v3_documents() -> &'static Vec<(String, String, Value)> {
    static DOCUMENTS: OnceLock<Vec<(String, String, Value)>> = OnceLock::new();
    DOCUMENTS.get_or_init(|| {
        let definitions = v3_definitions();
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
                let document = document(paths_of(group, version), definitions);
                let hash = hash_of(&document);
                (gv_path(group, version), hash, document)
            })
            .collect()
    })
}

/// `GET /openapi/v3`: where each group-version's document is, the custom resources' of `crds`
/// (the stored CustomResourceDefinitions) included.
pub fn v3_discovery(crds: &[&Value]) -> Value {
    let builtin = v3_documents()
        .iter()
        .map(|(path, hash, _)| (path.clone(), hash.clone()));
    let custom = custom_group_versions(crds).into_iter().filter_map(|path| {
        // The built-in definitions a custom document also carries never change: the hash of
        // the custom part stands for the whole.
        let (paths, schemas) = custom_parts(&path, crds)?;
        Some((path, hash_of(&json!([paths, schemas]))))
    });
    let paths: Map<String, Value> = builtin
        .chain(custom)
        .map(|(path, hash)| {
            let url = format!("/openapi/v3/{path}?hash={hash}");
            (path, json!({ "serverRelativeURL": url }))
        })
        .collect();
    json!({ "paths": paths })
}

/// `GET /openapi/v3/<path>`: one built-in group-version's document, if the sandbox serves it.
pub fn v3_document(path: &str) -> Option<&'static Value> {
    v3_documents()
        .iter()
        .find(|(p, _, _)| p == path)
        .map(|(_, _, document)| document)
}

/// The `apis/<group>/<version>` paths the served versions of `crds` declare.
fn custom_group_versions(crds: &[&Value]) -> Vec<String> {
    let mut paths: Vec<String> = crds
        .iter()
        .flat_map(|crd| {
            let group = crd["spec"]["group"].as_str().unwrap_or_default();
            served_versions(crd).map(move |(version, _)| gv_path(group, version))
        })
        .collect();
    paths.sort_unstable();
    paths.dedup();
    paths
}

/// A CRD's served versions with their `openAPIV3Schema`.
pub fn served_versions(crd: &Value) -> impl Iterator<Item = (&str, &Value)> {
    crd["spec"]["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["served"] != false)
        .filter_map(|v| Some((v["name"].as_str()?, &v["schema"]["openAPIV3Schema"])))
}

/// `GET /openapi/v3/apis/<group>/<version>` of custom resources: each kind's `openAPIV3Schema`
/// under the name the API server gives it (`com.example.v1.Widget`), with the standard
/// `apiVersion`, `kind` and `metadata`, its group-version-kind and its PATCH operation (the
/// sandbox validates custom resources against their schemas: [`super::schema::unknown_fields`]).
pub fn custom_document(path: &str, crds: &[&Value]) -> Option<Value> {
    let (paths, custom) = custom_parts(path, crds)?;
    let mut schemas = v3_definitions().clone();
    schemas.extend(custom);
    Some(document(paths, &schemas))
}

/// The PATCH paths and the schemas of the custom kinds of a group-version, if any.
fn custom_parts(path: &str, crds: &[&Value]) -> Option<(Map<String, Value>, Map<String, Value>)> {
    let (group, version) = path.strip_prefix("apis/")?.split_once('/')?;
    let mut schemas = Map::new();
    let mut paths = Map::new();
    for crd in crds.iter().filter(|c| c["spec"]["group"] == group) {
        let names = &crd["spec"]["names"];
        let kind = names["kind"].as_str().unwrap_or_default();
        let plural = names["plural"].as_str().unwrap_or_default();
        let namespaced = crd["spec"]["scope"] != "Cluster";
        for (_, schema) in served_versions(crd).filter(|(v, _)| *v == version) {
            let mut schema = if schema.is_object() {
                schema.clone()
            } else {
                json!({ "type": "object" })
            };
            if let Some(Value::Object(properties)) = schema
                .as_object_mut()
                .map(|o| o.entry("properties").or_insert_with(|| json!({})))
            {
                properties.insert("apiVersion".into(), json!({ "type": "string" }));
                properties.insert("kind".into(), json!({ "type": "string" }));
                properties.insert(
                    "metadata".into(),
                    json!({ "$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" }),
                );
            }
            schema["x-kubernetes-group-version-kind"] =
                json!([{ "group": group, "kind": kind, "version": version }]);
            let reversed: Vec<&str> = group.split('.').rev().collect();
            schemas.insert(format!("{}.{version}.{kind}", reversed.join(".")), schema);
            let (path, operation) = patch_path(group, version, kind, plural, namespaced);
            paths.insert(path, operation);
        }
    }
    (!paths.is_empty()).then_some((paths, schemas))
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
