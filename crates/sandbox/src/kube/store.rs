//! The cluster's state: every object as the JSON the API serves, with the bookkeeping a real
//! API server does on write (uid, resourceVersion, generation, creationTimestamp,
//! generateName) and a stream of watch events.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use tokio::sync::broadcast;

use super::resources::ResourceType;

/// (type key, namespace or "", name)
pub type Key = (String, String, String);

/// A change, as a watch streams it.
#[derive(Debug, Clone)]
pub struct Change {
    /// ADDED, MODIFIED or DELETED.
    pub kind: &'static str,
    pub type_key: String,
    pub namespace: String,
    pub object: Value,
}

/// Why a write failed, with the HTTP status and `Status.reason` the API would answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    /// `Status.details.causes`, when the error names fields (an apply's conflicts).
    pub causes: Vec<Value>,
}

impl ApiError {
    pub fn not_found(t: &ResourceType, name: &str) -> Self {
        Self {
            code: 404,
            reason: "NotFound",
            message: format!("{} \"{name}\" not found", qualified(t)),
            causes: Vec::new(),
        }
    }

    pub fn conflict(t: &ResourceType, name: &str) -> Self {
        Self {
            code: 409,
            reason: "Conflict",
            message: format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                qualified(t)
            ),
            causes: Vec::new(),
        }
    }

    pub fn exists(t: &ResourceType, name: &str) -> Self {
        Self {
            code: 409,
            reason: "AlreadyExists",
            message: format!("{} \"{name}\" already exists", qualified(t)),
            causes: Vec::new(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            code: 400,
            reason: "BadRequest",
            message: message.into(),
            causes: Vec::new(),
        }
    }

    pub fn invalid(t: &ResourceType, name: &str, why: impl std::fmt::Display) -> Self {
        Self {
            code: 422,
            reason: "Invalid",
            message: format!("{} \"{name}\" is invalid: {why}", t.kind),
            causes: Vec::new(),
        }
    }

    /// Invalid request options (`PatchOptions`, …), as the API server words them.
    pub fn invalid_options(why: impl std::fmt::Display) -> Self {
        Self {
            code: 422,
            reason: "Invalid",
            message: format!("PatchOptions.meta.k8s.io \"\" is invalid: {why}"),
            causes: Vec::new(),
        }
    }

    /// A body that does not decode as the type (the API server's wording).
    pub fn undecodable(t: &ResourceType, why: impl std::fmt::Display) -> Self {
        Self {
            code: 400,
            reason: "BadRequest",
            message: format!(
                "{} in version \"{}\" cannot be handled as a {}: {why}",
                t.kind, t.version, t.kind
            ),
            causes: Vec::new(),
        }
    }

    pub fn method_not_allowed(what: &str) -> Self {
        Self {
            code: 405,
            reason: "MethodNotAllowed",
            message: format!(
                "the server does not allow this method on the requested resource ({what})"
            ),
            causes: Vec::new(),
        }
    }

    /// The `Status` object of this error.
    pub fn status(&self, t: Option<&ResourceType>, name: Option<&str>) -> Value {
        let mut details = Map::new();
        if let Some(name) = name {
            details.insert("name".into(), json!(name));
        }
        if let Some(t) = t {
            if !t.group.is_empty() {
                details.insert("group".into(), json!(t.group));
            }
            details.insert("kind".into(), json!(t.plural));
        }
        if !self.causes.is_empty() {
            details.insert("causes".into(), json!(self.causes));
        } else if self.reason == "Invalid"
            && let Some((_, why)) = self.message.split_once(" is invalid: ")
        {
            details.insert(
                "causes".into(),
                json!([{ "reason": "FieldValueInvalid", "message": why.split_once(": ").map_or(why, |(_, m)| m), "field": why.split_once(": ").map_or("", |(f, _)| f) }]),
            );
        }
        json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": details,
            "code": self.code,
        })
    }
}

/// `pods` or `deployments.apps`, as error messages name a resource.
fn qualified(t: &ResourceType) -> String {
    if t.group.is_empty() {
        t.plural.to_owned()
    } else {
        format!("{}.{}", t.plural, t.group)
    }
}

/// All objects.
#[derive(Debug)]
pub struct Store {
    objects: BTreeMap<Key, Value>,
    resource_version: u64,
    changes: broadcast::Sender<Change>,
    /// While a scenario's past is written: the instant it happens at (unix seconds).
    clock: Option<i64>,
}

impl Default for Store {
    fn default() -> Self {
        Self {
            objects: BTreeMap::new(),
            resource_version: 1000,
            changes: broadcast::channel(4096).0,
            clock: None,
        }
    }
}

pub fn now() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .unwrap_or_else(|_| jiff::Timestamp::now())
        .to_string()
}

/// `secs` (unix seconds) as the API writes times.
pub fn time_of(secs: i64) -> String {
    jiff::Timestamp::from_second(secs).map_or_else(|_| now(), |t| t.to_string())
}

pub fn name_of(object: &Value) -> &str {
    object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

pub fn namespace_of(object: &Value) -> &str {
    object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Whether `container` of `pod` is running now (its status says so): a container waiting in
/// CrashLoopBackOff or not yet started has no cgroup, so no usage in metrics.k8s.io and no
/// cAdvisor series.
pub fn container_running(pod: &Value, container: &str) -> bool {
    pod.pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .and_then(|s| s.iter().find(|s| s["name"] == container))
        .is_some_and(|s| s.pointer("/state/running").is_some())
}

/// Five lowercase letters and digits, as generateName suffixes look.
/// A pod and the container a request names (or the pod's only one), with the API server's
/// errors when it names none of them or none at all.
pub fn pod_container(
    store: &Store,
    ns: &str,
    pod: &str,
    wanted: Option<&str>,
) -> Result<(Value, String), ApiError> {
    let t = super::resources::find("", "v1", "pods").expect("pods are served");
    let Some(object) = store.get(t, ns, pod).cloned() else {
        return Err(ApiError::not_found(t, pod));
    };
    let names: Vec<String> = object
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_owned))
        .collect();
    let name = match wanted {
        Some(c) if names.iter().any(|n| n == c) => c.to_owned(),
        Some(c) => {
            return Err(ApiError::bad_request(format!(
                "container {c} is not valid for pod {pod}"
            )));
        }
        None if names.len() == 1 => names[0].clone(),
        None => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {pod}, choose one of: [{}]",
                names.join(" ")
            )));
        }
    };
    Ok((object, name))
}

pub fn suffix(len: usize) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    uuid::Uuid::new_v4()
        .as_bytes()
        .iter()
        .take(len)
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

impl Store {
    /// The time writes are stamped with: the scenario's clock while its past is written, else
    /// now.
    pub fn now(&self) -> String {
        self.clock.map_or_else(now, time_of)
    }

    /// Write what follows at `at` (unix seconds), or at the live time again with `None`.
    pub fn set_clock(&mut self, at: Option<i64>) {
        self.clock = at;
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    pub fn resource_version(&self) -> u64 {
        self.resource_version
    }

    fn next_version(&mut self) -> String {
        self.resource_version += 1;
        self.resource_version.to_string()
    }

    pub fn get(&self, t: &ResourceType, namespace: &str, name: &str) -> Option<&Value> {
        self.objects
            .get(&(t.key(), scope(t, namespace), name.to_owned()))
    }

    /// Objects of a type, in one namespace or (with `None`) all of them, by namespace and name.
    pub fn list(&self, t: &ResourceType, namespace: Option<&str>) -> Vec<&Value> {
        let key = t.key();
        self.objects
            .iter()
            .filter(|((k, ns, _), _)| *k == key && namespace.is_none_or(|n| n == ns))
            .map(|(_, v)| v)
            .collect()
    }

    /// Create `object` (its name from `metadata.name` or `generateName`). With `dry_run`, the
    /// object is returned as it would be stored, and nothing changes.
    pub fn create(
        &mut self,
        t: &ResourceType,
        namespace: &str,
        mut object: Value,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        if !object.is_object() {
            return Err(ApiError::bad_request("the body is not a JSON object"));
        }
        let meta = object
            .as_object_mut()
            .unwrap()
            .entry("metadata")
            .or_insert_with(|| json!({}));
        let mut name = meta["name"].as_str().unwrap_or_default().to_owned();
        if name.is_empty() {
            let Some(prefix) = meta["generateName"].as_str() else {
                return Err(ApiError::invalid(
                    t,
                    "",
                    "metadata.name: Required value: name or generateName is required",
                ));
            };
            name = format!("{prefix}{}", suffix(5));
        }
        if t.namespaced && namespace.is_empty() {
            return Err(ApiError::bad_request("a namespace is required"));
        }
        let ns = scope(t, namespace);
        if t.namespaced
            && t.kind != "Namespace"
            && !self
                .objects
                .contains_key(&("namespaces".to_owned(), String::new(), ns.clone()))
        {
            return Err(ApiError {
                code: 404,
                reason: "NotFound",
                message: format!("namespaces \"{ns}\" not found"),
                causes: Vec::new(),
            });
        }
        let key = (t.key(), ns.clone(), name.clone());
        if self.objects.contains_key(&key) {
            return Err(ApiError::exists(t, &name));
        }
        let version = if dry_run {
            (self.resource_version + 1).to_string()
        } else {
            self.next_version()
        };
        let obj = object.as_object_mut().unwrap();
        obj.insert("apiVersion".into(), json!(t.api_version()));
        obj.insert("kind".into(), json!(t.kind));
        let meta = obj["metadata"].as_object_mut().unwrap();
        meta.insert("name".into(), json!(name));
        if t.namespaced {
            meta.insert("namespace".into(), json!(ns));
        } else {
            meta.remove("namespace");
        }
        meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
        meta.insert("resourceVersion".into(), json!(version));
        meta.insert("creationTimestamp".into(), json!(self.now()));
        if has_generation(t) {
            meta.insert("generation".into(), json!(1));
        }
        let object =
            super::schema::normalize(t.kind, object).map_err(|e| ApiError::undecodable(t, e))?;
        if !dry_run {
            self.objects.insert(key, object.clone());
            self.notify("ADDED", t, &ns, &object);
        }
        Ok(object)
    }

    /// Replace an object. A `resourceVersion` in the new object must match the stored one
    /// (optimistic concurrency); `generation` goes up when the spec changes.
    pub fn update(
        &mut self,
        t: &ResourceType,
        namespace: &str,
        name: &str,
        mut object: Value,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let ns = scope(t, namespace);
        let key = (t.key(), ns.clone(), name.to_owned());
        let Some(current) = self.objects.get(&key) else {
            return Err(ApiError::not_found(t, name));
        };
        if !object.is_object() {
            return Err(ApiError::bad_request("the body is not a JSON object"));
        }
        if let Some(rv) = object
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .filter(|rv| !rv.is_empty())
            && Some(rv)
                != current
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
        {
            return Err(ApiError::conflict(t, name));
        }
        if name_of(&object) != name && !name_of(&object).is_empty() {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                name_of(&object)
            )));
        }
        // Immutable bookkeeping comes from the stored object.
        let mut meta = object.get("metadata").cloned().unwrap_or_else(|| json!({}));
        for field in ["uid", "creationTimestamp", "generation", "namespace"] {
            match current["metadata"].get(field) {
                Some(v) => meta[field] = v.clone(),
                None => {
                    if let Some(m) = meta.as_object_mut() {
                        m.remove(field);
                    }
                }
            }
        }
        meta["name"] = json!(name);
        if has_generation(t) && current.get("spec") != object.get("spec") {
            let g = current
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            meta["generation"] = json!(g + 1);
        }
        // The new version is given only to a write that changes something; a dry run is
        // answered with the stored one, as etcd's store answers it (so that `kubectl diff`
        // shows only what would change).
        meta["resourceVersion"] = current["metadata"]["resourceVersion"].clone();
        let obj = object.as_object_mut().unwrap();
        obj.insert("metadata".into(), meta);
        obj.insert("apiVersion".into(), json!(t.api_version()));
        obj.insert("kind".into(), json!(t.kind));
        let mut object =
            super::schema::normalize(t.kind, object).map_err(|e| ApiError::undecodable(t, e))?;
        // A write that changes nothing is not one: the stored object is answered, as etcd's
        // store answers it.
        if object == *current {
            return Ok(object);
        }
        if !dry_run {
            object["metadata"]["resourceVersion"] = json!(self.next_version());
            self.objects.insert(key, object.clone());
            self.notify("MODIFIED", t, &ns, &object);
        }
        Ok(object)
    }

    /// Change an object in place (controllers and status updates): `f` edits a copy, which is
    /// stored with a new resourceVersion only if it differs.
    pub fn modify(
        &mut self,
        t: &ResourceType,
        namespace: &str,
        name: &str,
        f: impl FnOnce(&mut Value),
    ) -> Option<Value> {
        let ns = scope(t, namespace);
        let key = (t.key(), ns.clone(), name.to_owned());
        let mut object = self.objects.get(&key)?.clone();
        let before = object.clone();
        f(&mut object);
        if object == before {
            return Some(object);
        }
        if has_generation(t) && before.get("spec") != object.get("spec") {
            let g = before
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            object["metadata"]["generation"] = json!(g + 1);
        }
        object["metadata"]["resourceVersion"] = json!(self.next_version());
        self.objects.insert(key, object.clone());
        self.notify("MODIFIED", t, &ns, &object);
        Some(object)
    }

    pub fn delete(
        &mut self,
        t: &ResourceType,
        namespace: &str,
        name: &str,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let ns = scope(t, namespace);
        let key = (t.key(), ns.clone(), name.to_owned());
        let Some(object) = self.objects.get(&key).cloned() else {
            return Err(ApiError::not_found(t, name));
        };
        if !dry_run {
            self.objects.remove(&key);
            self.resource_version += 1;
            let mut gone = object.clone();
            gone["metadata"]["resourceVersion"] = json!(self.resource_version.to_string());
            self.notify("DELETED", t, &ns, &gone);
        }
        Ok(object)
    }

    fn notify(&self, kind: &'static str, t: &ResourceType, namespace: &str, object: &Value) {
        let _ = self.changes.send(Change {
            kind,
            type_key: t.key(),
            namespace: namespace.to_owned(),
            object: object.clone(),
        });
    }
}

fn scope(t: &ResourceType, namespace: &str) -> String {
    if t.namespaced {
        namespace.to_owned()
    } else {
        String::new()
    }
}

fn has_generation(t: &ResourceType) -> bool {
    matches!(t.kind, "Deployment" | "ReplicaSet")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::resources::find;

    #[test]
    fn writes_keep_bookkeeping_and_detect_conflicts() {
        let mut s = Store::default();
        let ns = find("", "v1", "namespaces").unwrap();
        let deploy = find("apps", "v1", "deployments").unwrap();
        s.create(ns, "", json!({ "metadata": { "name": "shop" } }), false)
            .unwrap();
        let created = s
            .create(
                deploy,
                "shop",
                json!({ "metadata": { "name": "web" }, "spec": { "replicas": 1 } }),
                false,
            )
            .unwrap();
        assert_eq!(created["metadata"]["generation"], 1);
        assert_eq!(created["kind"], "Deployment");
        let rv = created["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .to_owned();

        let mut changed = created.clone();
        changed["spec"]["replicas"] = json!(3);
        let updated = s
            .update(deploy, "shop", "web", changed.clone(), false)
            .unwrap();
        assert_eq!(updated["metadata"]["generation"], 2);
        assert_ne!(updated["metadata"]["resourceVersion"], json!(rv));
        // The old resourceVersion now conflicts.
        let err = s.update(deploy, "shop", "web", changed, false).unwrap_err();
        assert_eq!((err.code, err.reason), (409, "Conflict"));

        let dry = s.delete(deploy, "shop", "web", true).unwrap();
        assert_eq!(dry["metadata"]["name"], "web");
        assert!(
            s.get(deploy, "shop", "web").is_some(),
            "dry run deletes nothing"
        );
        assert_eq!(
            s.create(
                deploy,
                "nowhere",
                json!({ "metadata": { "name": "x" } }),
                false
            )
            .unwrap_err()
            .message,
            "namespaces \"nowhere\" not found"
        );
    }
}
