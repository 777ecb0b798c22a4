//! Objects go through the Kubernetes types of `k8s-openapi` on every write, as they go through
//! the API server's typed decoding: a field of the wrong type is rejected with the decoder's
//! message, unknown fields and nulls are dropped, and equal objects have equal JSON (which the
//! pod-template hash relies on).

use serde_json::Value;

fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(
    object: Value,
) -> Result<Value, String> {
    let typed: T = serde_json::from_value(object).map_err(|e| e.to_string())?;
    serde_json::to_value(typed).map_err(|e| e.to_string())
}

/// The defaults the API server fills in on write, for the fields the sandbox's readers show;
/// a Secret's `stringData` is merged into `data` (base64), as the API server does.
fn defaults(kind: &str, object: &mut Value) {
    if kind == "Secret"
        && let Some(Value::Object(plain)) =
            object.as_object_mut().and_then(|o| o.remove("stringData"))
    {
        use base64::Engine;
        let data = object
            .as_object_mut()
            .expect("a Secret is an object")
            .entry("data")
            .or_insert_with(|| serde_json::json!({}));
        for (key, value) in plain {
            let text = value.as_str().unwrap_or_default().as_bytes().to_vec();
            data[key] = base64::engine::general_purpose::STANDARD
                .encode(text)
                .into();
        }
    }
    if kind == "Service"
        && let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut)
    {
        spec.entry("type").or_insert_with(|| "ClusterIP".into());
        spec.entry("sessionAffinity")
            .or_insert_with(|| "None".into());
        spec.entry("ipFamilies")
            .or_insert_with(|| serde_json::json!(["IPv4"]));
        spec.entry("ipFamilyPolicy")
            .or_insert_with(|| "SingleStack".into());
        if let Some(ip) = spec.get("clusterIP").cloned() {
            spec.entry("clusterIPs")
                .or_insert_with(|| serde_json::json!([ip]));
        }
        for port in spec
            .get_mut("ports")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if let Some(port) = port.as_object_mut() {
                port.entry("protocol").or_insert_with(|| "TCP".into());
                if let Some(p) = port.get("port").cloned() {
                    port.entry("targetPort").or_insert(p);
                }
            }
        }
    }
}

/// `object` (with `apiVersion` and `kind` set) in its canonical form, with the API server's
/// defaults.
pub fn normalize(kind: &str, mut object: Value) -> Result<Value, String> {
    defaults(kind, &mut object);
    use k8s_openapi::api::{apps::v1 as apps, core::v1 as core, rbac::v1 as rbac};
    match kind {
        "Pod" => round_trip::<core::Pod>(object),
        "Namespace" => round_trip::<core::Namespace>(object),
        "Node" => round_trip::<core::Node>(object),
        "Service" => round_trip::<core::Service>(object),
        "Endpoints" => round_trip::<core::Endpoints>(object),
        "Event" => round_trip::<core::Event>(object),
        "ConfigMap" => round_trip::<core::ConfigMap>(object),
        "Secret" => round_trip::<core::Secret>(object),
        "ResourceQuota" => round_trip::<core::ResourceQuota>(object),
        "ServiceAccount" => round_trip::<core::ServiceAccount>(object),
        "PersistentVolume" => round_trip::<core::PersistentVolume>(object),
        "PersistentVolumeClaim" => round_trip::<core::PersistentVolumeClaim>(object),
        "Deployment" => round_trip::<apps::Deployment>(object),
        "ReplicaSet" => round_trip::<apps::ReplicaSet>(object),
        "Lease" => round_trip::<k8s_openapi::api::coordination::v1::Lease>(object),
        "PodDisruptionBudget" => {
            round_trip::<k8s_openapi::api::policy::v1::PodDisruptionBudget>(object)
        }
        "ClusterRole" => round_trip::<rbac::ClusterRole>(object),
        "ClusterRoleBinding" => round_trip::<rbac::ClusterRoleBinding>(object),
        "Role" => round_trip::<rbac::Role>(object),
        "RoleBinding" => round_trip::<rbac::RoleBinding>(object),
        "CustomResourceDefinition" => round_trip::<
            k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
        >(object),
        _ => Ok(object),
    }
}

/// The fields of `object` (a write of `kind`) its type does not declare, as paths
/// (`spec.replicass`, `spec.template.spec.containers[0].imagee`): what typed decoding drops and
/// what `fieldValidation=Strict` refuses. Kinds the sandbox does not decode (custom resources)
/// have none.
pub fn unknown_fields(kind: &str, object: &Value) -> Vec<String> {
    let Ok(decoded) = normalize(kind, object.clone()) else {
        return Vec::new();
    };
    if &decoded == object {
        return Vec::new();
    }
    let mut unknown = Vec::new();
    walk_unknown(object, &decoded, String::new(), &mut unknown);
    unknown
}

fn walk_unknown(given: &Value, kept: &Value, at: String, unknown: &mut Vec<String>) {
    match (given, kept) {
        (Value::Object(given), Value::Object(kept)) => {
            for (key, value) in given {
                let path = if at.is_empty() {
                    key.clone()
                } else {
                    format!("{at}.{key}")
                };
                match kept.get(key) {
                    Some(k) => walk_unknown(value, k, path, unknown),
                    // Nulls are dropped, not unknown.
                    None if !value.is_null() => unknown.push(path),
                    None => {}
                }
            }
        }
        (Value::Array(given), Value::Array(kept)) => {
            for (i, (g, k)) in given.iter().zip(kept).enumerate() {
                walk_unknown(g, k, format!("{at}[{i}]"), unknown);
            }
        }
        _ => {}
    }
}

/// The fields of a custom resource `object` its CRD's structural `schema` does not declare
/// (where the schema lists `properties` and neither preserves unknown fields nor allows
/// additional ones), as [`unknown_fields`] names them; `apiVersion`, `kind` and `metadata` are
/// the API's own.
pub fn unknown_custom_fields(object: &Value, schema: &Value) -> Vec<String> {
    let mut unknown = Vec::new();
    if let Value::Object(fields) = object {
        for (key, value) in fields {
            if matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                continue;
            }
            walk_schema(value, schema, key, key.clone(), &mut unknown);
        }
    }
    unknown
}

fn walk_schema(value: &Value, parent: &Value, key: &str, at: String, unknown: &mut Vec<String>) {
    let open = parent["x-kubernetes-preserve-unknown-fields"] == true
        || parent.get("additionalProperties").is_some()
        || parent.get("properties").is_none();
    let Some(schema) = parent["properties"].get(key) else {
        if !open && !value.is_null() {
            unknown.push(at);
        }
        return;
    };
    match value {
        Value::Object(fields) => {
            for (k, v) in fields {
                walk_schema(v, schema, k, format!("{at}.{k}"), unknown);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if let Value::Object(fields) = item {
                    for (k, v) in fields {
                        walk_schema(v, &schema["items"], k, format!("{at}[{i}].{k}"), unknown);
                    }
                }
            }
        }
        _ => {}
    }
}

/// A pod template in canonical form (what the template hash is taken over).
pub fn template(template: &Value) -> Value {
    round_trip::<k8s_openapi::api::core::v1::PodTemplateSpec>(template.clone())
        .unwrap_or_else(|_| template.clone())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn unknown_fields_are_named_by_their_paths() {
        let object = json!({ "apiVersion": "apps/v1", "kind": "Deployment", "metadata": { "name": "x", "labelz": {} }, "spec": { "replicas": 1, "selector": {}, "template": { "spec": { "containers": [{ "name": "w", "imagee": "i", "image": null }] } } } });
        assert_eq!(
            unknown_fields("Deployment", &object),
            ["metadata.labelz", "spec.template.spec.containers[0].imagee"]
        );
        let fine = json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "x" }, "data": { "a": "1" } });
        assert!(unknown_fields("ConfigMap", &fine).is_empty());
    }

    #[test]
    fn unknown_custom_fields_follow_the_structural_schema() {
        let schema = json!({ "type": "object", "properties": {
            "spec": { "type": "object", "properties": {
                "size": { "type": "integer" },
                "parts": { "type": "array", "items": { "type": "object", "properties": { "name": { "type": "string" } } } },
                "labels": { "type": "object", "additionalProperties": { "type": "string" } },
                "free": { "type": "object", "x-kubernetes-preserve-unknown-fields": true }
            } }
        } });
        let object = json!({ "apiVersion": "example.com/v1", "kind": "Widget", "metadata": { "name": "w" },
            "spec": { "size": 1, "sise": 2, "parts": [{ "name": "a", "nmae": "b" }], "labels": { "any": "x" }, "free": { "any": { "thing": 1 } } },
            "status": {} });
        assert_eq!(
            unknown_custom_fields(&object, &schema),
            ["spec.parts[0].nmae", "spec.sise", "status"]
        );
    }

    #[test]
    fn typed_decoding_rejects_wrong_types_and_drops_nulls() {
        let bad = json!({ "apiVersion": "apps/v1", "kind": "Deployment", "metadata": { "name": "x" }, "spec": { "replicas": "three", "selector": {}, "template": {} } });
        assert!(
            normalize("Deployment", bad)
                .unwrap_err()
                .contains("invalid type")
        );
        let a = template(
            &json!({ "metadata": { "creationTimestamp": null, "labels": { "app": "w" } }, "spec": { "containers": [{ "name": "w", "image": "i" }] } }),
        );
        let b = template(
            &json!({ "metadata": { "labels": { "app": "w" } }, "spec": { "containers": [{ "image": "i", "name": "w" }] } }),
        );
        assert_eq!(a, b);
    }
}
