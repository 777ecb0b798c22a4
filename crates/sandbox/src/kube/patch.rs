//! The three patch types the API accepts: JSON patch (RFC 6902) and JSON merge patch
//! (RFC 7396) through the `json-patch` crate, and Kubernetes' strategic merge patch, where
//! lists of named things merge by their key (containers by `name`, ports by `containerPort`, …)
//! and `$patch: delete|replace` directives apply.

use serde_json::{Map, Value};

/// The patch type of a `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    Strategic,
}

impl PatchType {
    pub fn from_content_type(ct: &str) -> Option<Self> {
        match ct.split(';').next().unwrap_or_default().trim() {
            "application/json-patch+json" => Some(Self::Json),
            "application/merge-patch+json" => Some(Self::Merge),
            "application/strategic-merge-patch+json" => Some(Self::Strategic),
            _ => None,
        }
    }
}

/// Apply `patch` of `kind` to `target`.
pub fn apply(kind: PatchType, target: &Value, patch: &Value) -> Result<Value, String> {
    let mut out = target.clone();
    match kind {
        PatchType::Json => {
            let ops: json_patch::Patch = serde_json::from_value(patch.clone())
                .map_err(|e| format!("invalid JSON patch: {e}"))?;
            json_patch::patch(&mut out, &ops).map_err(|e| format!("the JSON patch failed: {e}"))?;
        }
        PatchType::Merge => {
            if !patch.is_object() {
                return Err("a merge patch must be a JSON object".into());
            }
            json_patch::merge(&mut out, patch);
        }
        PatchType::Strategic => {
            if !patch.is_object() {
                return Err("a strategic merge patch must be a JSON object".into());
            }
            strategic(&mut out, patch, "");
        }
    }
    Ok(out)
}

/// The merge key of the list at `field` (the last path segment), as the API's
/// `x-kubernetes-patch-merge-key` declares it for the types the sandbox serves.
pub(super) fn merge_key(field: &str) -> Option<&'static str> {
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "conditions_by_type_unused" => "name",
        "ports" => "containerPort",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "conditions" => "type",
        "ownerReferences" => "uid",
        _ => return None,
    })
}

fn strategic(target: &mut Value, patch: &Value, field: &str) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if p.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut replaced = p.clone();
        replaced.remove("$patch");
        *target = Value::Object(replaced);
        return;
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let t = target.as_object_mut().unwrap();
    for (key, value) in p {
        if key.starts_with("$setElementOrder/") || key == "$retainKeys" || key == "$patch" {
            continue;
        }
        if value.is_null() {
            t.remove(key);
            continue;
        }
        match (t.get_mut(key), value) {
            (Some(Value::Array(existing)), Value::Array(items)) => {
                if let Some(mk) = merge_key(key) {
                    merge_list(existing, items, mk, key);
                } else {
                    *existing = items.clone();
                }
            }
            (Some(existing @ Value::Object(_)), Value::Object(_)) => {
                strategic(existing, value, key)
            }
            _ => {
                let mut fresh = Value::Null;
                strategic_fresh(&mut fresh, value, key);
                t.insert(key.clone(), fresh);
            }
        }
    }
    let _ = field;
}

/// A new value from a patch: directives are stripped.
fn strategic_fresh(target: &mut Value, patch: &Value, field: &str) {
    match patch {
        Value::Object(_) => strategic(target, patch, field),
        Value::Array(items) => {
            *target = Value::Array(
                items
                    .iter()
                    .filter(|i| i.get("$patch").and_then(Value::as_str) != Some("delete"))
                    .map(|i| {
                        let mut v = Value::Null;
                        strategic_fresh(&mut v, i, field);
                        v
                    })
                    .collect(),
            );
        }
        other => *target = other.clone(),
    }
}

fn merge_list(existing: &mut Vec<Value>, items: &[Value], key: &str, field: &str) {
    for item in items {
        let Some(id) = item.get(key) else {
            existing.push(item.clone());
            continue;
        };
        let position = existing.iter().position(|e| e.get(key) == Some(id));
        if item.get("$patch").and_then(Value::as_str) == Some("delete") {
            if let Some(i) = position {
                existing.remove(i);
            }
            continue;
        }
        match position {
            Some(i) => strategic(&mut existing[i], item, field),
            None => {
                let mut fresh = Value::Null;
                strategic_fresh(&mut fresh, item, field);
                existing.push(fresh);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deployment() -> Value {
        json!({ "spec": { "template": { "metadata": { "annotations": { "a": "1" } }, "spec": { "containers": [
            { "name": "app", "image": "app:1", "resources": { "limits": { "memory": "64Mi" } } },
            { "name": "sidecar", "image": "proxy:1" }
        ] } } } })
    }

    #[test]
    fn strategic_merges_containers_by_name() {
        let patch = json!({ "spec": { "template": { "spec": { "containers": [
            { "name": "app", "resources": { "limits": { "memory": "256Mi" } } }
        ] } } } });
        let out = apply(PatchType::Strategic, &deployment(), &patch).unwrap();
        let containers = out.pointer("/spec/template/spec/containers").unwrap();
        assert_eq!(containers.as_array().unwrap().len(), 2, "the sidecar stays");
        assert_eq!(containers[0]["image"], "app:1");
        assert_eq!(containers[0]["resources"]["limits"]["memory"], "256Mi");

        let delete = json!({ "spec": { "template": { "spec": { "containers": [{ "name": "sidecar", "$patch": "delete" }] } } } });
        let out = apply(PatchType::Strategic, &deployment(), &delete).unwrap();
        assert_eq!(
            out.pointer("/spec/template/spec/containers")
                .unwrap()
                .as_array()
                .unwrap()
                .len(),
            1
        );

        let annotate = json!({ "spec": { "template": { "metadata": { "annotations": { "kubectl.kubernetes.io/restartedAt": "now", "a": null } } } } });
        let out = apply(PatchType::Strategic, &deployment(), &annotate).unwrap();
        assert_eq!(
            out.pointer("/spec/template/metadata/annotations").unwrap(),
            &json!({ "kubectl.kubernetes.io/restartedAt": "now" })
        );
    }

    #[test]
    fn merge_replaces_lists_and_json_patch_applies_ops() {
        let merge = json!({ "spec": { "template": { "spec": { "containers": [{ "name": "app", "image": "app:2" }] } } } });
        let out = apply(PatchType::Merge, &deployment(), &merge).unwrap();
        assert_eq!(
            out.pointer("/spec/template/spec/containers")
                .unwrap()
                .as_array()
                .unwrap()
                .len(),
            1
        );
        let ops = json!([{ "op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "app:3" }]);
        let out = apply(PatchType::Json, &deployment(), &ops).unwrap();
        assert_eq!(
            out.pointer("/spec/template/spec/containers/0/image")
                .unwrap(),
            "app:3"
        );
        let bad = json!([{ "op": "test", "path": "/spec/nope", "value": 1 }]);
        assert!(apply(PatchType::Json, &deployment(), &bad).is_err());
    }
}
