//! The Kubernetes protobuf bodies kubectl sends where its typed clients prefer protobuf (the
//! self-subject reviews of `kubectl auth can-i` and `auth whoami`, the evictions of `kubectl
//! drain`): the `k8s\0` envelope (`runtime.Unknown`: type meta, raw object) decoded with prost
//! into the JSON the API would have received. So are the objects `kubectl create configmap`,
//! `create secret` and `create namespace` send as protobuf (their metadata's name, namespace,
//! labels and annotations, and their data). Answers go back as JSON, which those clients also
//! accept. Other kinds are refused with a message to send JSON (`kubectl apply` and `create -f`
//! send JSON).

use std::collections::BTreeMap;

use prost::Message;
use serde_json::{Value, json};

/// The media type.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

const MAGIC: &[u8] = b"k8s\0";

#[derive(Clone, PartialEq, Message)]
struct Unknown {
    #[prost(message, optional, tag = "1")]
    type_meta: Option<TypeMeta>,
    #[prost(bytes = "vec", tag = "2")]
    raw: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
struct TypeMeta {
    #[prost(string, tag = "1")]
    api_version: String,
    #[prost(string, tag = "2")]
    kind: String,
}

/// `SelfSubjectAccessReview`: its spec is field 2.
#[derive(Clone, PartialEq, Message)]
struct AccessReview {
    #[prost(message, optional, tag = "2")]
    spec: Option<AccessReviewSpec>,
}

/// `SelfSubjectRulesReview`: its spec is field 2.
#[derive(Clone, PartialEq, Message)]
struct RulesReview {
    #[prost(message, optional, tag = "2")]
    spec: Option<RulesReviewSpec>,
}

#[derive(Clone, PartialEq, Message)]
struct AccessReviewSpec {
    #[prost(message, optional, tag = "1")]
    resource_attributes: Option<ResourceAttributes>,
    #[prost(message, optional, tag = "2")]
    non_resource_attributes: Option<NonResourceAttributes>,
}

#[derive(Clone, PartialEq, Message)]
struct ResourceAttributes {
    #[prost(string, tag = "1")]
    namespace: String,
    #[prost(string, tag = "2")]
    verb: String,
    #[prost(string, tag = "3")]
    group: String,
    #[prost(string, tag = "4")]
    version: String,
    #[prost(string, tag = "5")]
    resource: String,
    #[prost(string, tag = "6")]
    subresource: String,
    #[prost(string, tag = "7")]
    name: String,
}

#[derive(Clone, PartialEq, Message)]
struct NonResourceAttributes {
    #[prost(string, tag = "1")]
    path: String,
    #[prost(string, tag = "2")]
    verb: String,
}

/// `policy/v1` Eviction: the pod's metadata and the delete options.
#[derive(Clone, PartialEq, Message)]
struct Eviction {
    #[prost(message, optional, tag = "1")]
    metadata: Option<ObjectMeta>,
    #[prost(message, optional, tag = "2")]
    delete_options: Option<DeleteOptions>,
}

#[derive(Clone, PartialEq, Message)]
struct ObjectMeta {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    generate_name: String,
    #[prost(string, tag = "3")]
    namespace: String,
    #[prost(btree_map = "string, string", tag = "11")]
    labels: BTreeMap<String, String>,
    #[prost(btree_map = "string, string", tag = "12")]
    annotations: BTreeMap<String, String>,
}

impl ObjectMeta {
    fn json(&self) -> Value {
        let mut meta = serde_json::Map::new();
        for (key, value) in [
            ("name", &self.name),
            ("generateName", &self.generate_name),
            ("namespace", &self.namespace),
        ] {
            if !value.is_empty() {
                meta.insert(key.into(), json!(value));
            }
        }
        if !self.labels.is_empty() {
            meta.insert("labels".into(), json!(self.labels));
        }
        if !self.annotations.is_empty() {
            meta.insert("annotations".into(), json!(self.annotations));
        }
        Value::Object(meta)
    }
}

/// `v1` ConfigMap, as `kubectl create configmap` sends it.
#[derive(Clone, PartialEq, Message)]
struct ConfigMap {
    #[prost(message, optional, tag = "1")]
    metadata: Option<ObjectMeta>,
    #[prost(btree_map = "string, string", tag = "2")]
    data: BTreeMap<String, String>,
    #[prost(btree_map = "string, bytes", tag = "3")]
    binary_data: BTreeMap<String, Vec<u8>>,
    #[prost(bool, optional, tag = "4")]
    immutable: Option<bool>,
}

/// `v1` Secret, as `kubectl create secret` sends it.
#[derive(Clone, PartialEq, Message)]
struct Secret {
    #[prost(message, optional, tag = "1")]
    metadata: Option<ObjectMeta>,
    #[prost(btree_map = "string, bytes", tag = "2")]
    data: BTreeMap<String, Vec<u8>>,
    #[prost(string, tag = "3")]
    r#type: String,
    #[prost(btree_map = "string, string", tag = "4")]
    string_data: BTreeMap<String, String>,
    #[prost(bool, optional, tag = "5")]
    immutable: Option<bool>,
}

/// `v1` Namespace, as `kubectl create namespace` sends it.
#[derive(Clone, PartialEq, Message)]
struct Namespace {
    #[prost(message, optional, tag = "1")]
    metadata: Option<ObjectMeta>,
}

/// Bytes as the JSON API carries them: base64.
fn base64_values(map: &BTreeMap<String, Vec<u8>>) -> Value {
    use base64::Engine as _;
    map.iter()
        .map(|(k, v)| {
            (
                k.clone(),
                json!(base64::engine::general_purpose::STANDARD.encode(v)),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

#[derive(Clone, PartialEq, Message)]
struct DeleteOptions {
    #[prost(int64, optional, tag = "1")]
    grace_period_seconds: Option<i64>,
    #[prost(string, repeated, tag = "5")]
    dry_run: Vec<String>,
}

#[derive(Clone, PartialEq, Message)]
struct RulesReviewSpec {
    #[prost(string, tag = "1")]
    namespace: String,
}

/// The JSON of a protobuf body of `kind`, or why it cannot be read.
pub fn decode(kind: &str, body: &[u8]) -> Result<Value, String> {
    let envelope = body
        .strip_prefix(MAGIC)
        .ok_or("the protobuf body lacks the k8s envelope")?;
    let unknown = Unknown::decode(envelope).map_err(|e| e.to_string())?;
    let meta = unknown.type_meta.unwrap_or_default();
    if meta.kind != kind {
        return Err(format!("the body is a {}, not a {kind}", meta.kind));
    }
    let raw = unknown.raw.as_slice();
    let spec = match kind {
        "SelfSubjectAccessReview" => {
            let spec = AccessReview::decode(raw)
                .map_err(|e| e.to_string())?
                .spec
                .unwrap_or_default();
            let mut out = json!({});
            if let Some(r) = spec.resource_attributes {
                out["resourceAttributes"] = json!({
                    "namespace": r.namespace, "verb": r.verb, "group": r.group,
                    "version": r.version, "resource": r.resource,
                    "subresource": r.subresource, "name": r.name,
                });
            }
            if let Some(n) = spec.non_resource_attributes {
                out["nonResourceAttributes"] = json!({ "path": n.path, "verb": n.verb });
            }
            out
        }
        "SelfSubjectRulesReview" => {
            let spec = RulesReview::decode(raw)
                .map_err(|e| e.to_string())?
                .spec
                .unwrap_or_default();
            json!({ "namespace": spec.namespace })
        }
        "SelfSubjectReview" => json!({}),
        "Eviction" => {
            let eviction = Eviction::decode(raw).map_err(|e| e.to_string())?;
            let pod = eviction.metadata.unwrap_or_default();
            let options = eviction.delete_options.unwrap_or_default();
            let mut delete_options = json!({ "dryRun": options.dry_run });
            if let Some(grace) = options.grace_period_seconds {
                delete_options["gracePeriodSeconds"] = json!(grace);
            }
            return Ok(json!({
                "apiVersion": meta.api_version,
                "kind": kind,
                "metadata": { "name": pod.name, "namespace": pod.namespace },
                "deleteOptions": delete_options,
            }));
        }
        "ConfigMap" => {
            let map = ConfigMap::decode(raw).map_err(|e| e.to_string())?;
            let mut out = json!({
                "apiVersion": meta.api_version, "kind": kind,
                "metadata": map.metadata.unwrap_or_default().json(),
                "data": map.data,
            });
            if !map.binary_data.is_empty() {
                out["binaryData"] = base64_values(&map.binary_data);
            }
            if let Some(immutable) = map.immutable {
                out["immutable"] = json!(immutable);
            }
            return Ok(out);
        }
        "Secret" => {
            let secret = Secret::decode(raw).map_err(|e| e.to_string())?;
            let mut out = json!({
                "apiVersion": meta.api_version, "kind": kind,
                "metadata": secret.metadata.unwrap_or_default().json(),
                "data": base64_values(&secret.data),
            });
            if !secret.r#type.is_empty() {
                out["type"] = json!(secret.r#type);
            }
            if !secret.string_data.is_empty() {
                out["stringData"] = json!(secret.string_data);
            }
            if let Some(immutable) = secret.immutable {
                out["immutable"] = json!(immutable);
            }
            return Ok(out);
        }
        "Namespace" => {
            let namespace = Namespace::decode(raw).map_err(|e| e.to_string())?;
            return Ok(json!({
                "apiVersion": meta.api_version, "kind": kind,
                "metadata": namespace.metadata.unwrap_or_default().json(),
            }));
        }
        _ => {
            return Err(format!(
                "{kind} is not accepted as protobuf here; send JSON"
            ));
        }
    };
    Ok(json!({ "apiVersion": meta.api_version, "kind": kind, "metadata": {}, "spec": spec }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_access_review_decodes_from_its_envelope() {
        let review = AccessReview {
            spec: Some(AccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    namespace: "shop".into(),
                    verb: "create".into(),
                    resource: "pods".into(),
                    ..Default::default()
                }),
                non_resource_attributes: None,
            }),
        };
        let envelope = Unknown {
            type_meta: Some(TypeMeta {
                api_version: "authorization.k8s.io/v1".into(),
                kind: "SelfSubjectAccessReview".into(),
            }),
            raw: review.encode_to_vec(),
        };
        let body = [MAGIC, &envelope.encode_to_vec()].concat();
        let decoded = decode("SelfSubjectAccessReview", &body).unwrap();
        assert_eq!(decoded["spec"]["resourceAttributes"]["verb"], "create");
        assert_eq!(decoded["spec"]["resourceAttributes"]["namespace"], "shop");
        assert!(decode("SelfSubjectRulesReview", &body).is_err());
        assert!(decode("SelfSubjectAccessReview", b"{}").is_err());
    }

    #[test]
    fn a_secret_decodes_with_its_metadata_and_base64_data() {
        let secret = Secret {
            metadata: Some(ObjectMeta {
                name: "db".into(),
                namespace: "shop".into(),
                labels: BTreeMap::from([("app".into(), "web".into())]),
                ..Default::default()
            }),
            data: BTreeMap::from([("password".into(), b"hunter2".to_vec())]),
            r#type: "Opaque".into(),
            ..Default::default()
        };
        let envelope = Unknown {
            type_meta: Some(TypeMeta {
                api_version: "v1".into(),
                kind: "Secret".into(),
            }),
            raw: secret.encode_to_vec(),
        };
        let body = [MAGIC, &envelope.encode_to_vec()].concat();
        assert_eq!(
            decode("Secret", &body).unwrap(),
            json!({
                "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": { "name": "db", "namespace": "shop", "labels": { "app": "web" } },
                "data": { "password": "aHVudGVyMg==" }
            })
        );
    }
}
