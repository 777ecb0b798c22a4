//! Field ownership and server-side apply, as the API server's structured-merge-diff keeps them:
//! every write records which manager set which fields (`metadata.managedFields`, in the
//! `FieldsV1` format: `f:` fields, `k:` list items by their merge key, `.` for an item itself);
//! an apply (`application/apply-patch+yaml`) merges the manager's configuration into the live
//! object, removes the fields the manager applied before and no longer does (unless another
//! manager owns them), and refuses to change a field another manager set to another value
//! unless forced, with the conflicting fields and their managers.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::{patch::merge_key, resources::ResourceType, store::ApiError};

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    /// An object's field.
    Field(String),
    /// A list item by its merge key, as compact JSON (`{"name":"worker"}`).
    Key(String),
}

type Path = Vec<Step>;
type FieldSet = BTreeSet<Path>;

/// The fields of an object a manager owns are the ones below these roots; the rest is the API
/// server's bookkeeping (or the status, which the main resource's writes do not own).
fn tracked(field: &str) -> bool {
    !matches!(field, "apiVersion" | "kind" | "status")
}

const UNTRACKED_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

/// The fields `object` sets: leaves (scalars, atomic lists, empty objects) and keyed list items.
fn fields_of(object: &Value) -> FieldSet {
    let mut set = FieldSet::new();
    if let Value::Object(map) = object {
        for (field, value) in map {
            if !tracked(field) {
                continue;
            }
            let path = vec![Step::Field(field.clone())];
            if field == "metadata" {
                if let Value::Object(meta) = value {
                    for (k, v) in meta {
                        if !UNTRACKED_METADATA.contains(&k.as_str()) {
                            let mut p = path.clone();
                            p.push(Step::Field(k.clone()));
                            walk(v, k, p, &mut set);
                        }
                    }
                }
                continue;
            }
            walk(value, field, path, &mut set);
        }
    }
    set
}

fn walk(value: &Value, field: &str, path: Path, set: &mut FieldSet) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let mut p = path.clone();
                p.push(Step::Field(k.clone()));
                walk(v, k, p, set);
            }
        }
        Value::Array(items) if keyed(field, items).is_some() => {
            let key = keyed(field, items).unwrap_or_default();
            for item in items {
                let mut p = path.clone();
                p.push(Step::Key(item_key(item, key)));
                set.insert(p.clone());
                if let Value::Object(map) = item {
                    for (k, v) in map {
                        let mut q = p.clone();
                        q.push(Step::Field(k.clone()));
                        walk(v, k, q, set);
                    }
                }
            }
        }
        _ => {
            set.insert(path);
        }
    }
}

/// The merge key of a list, when every item is an object carrying it (else the list is atomic).
fn keyed(field: &str, items: &[Value]) -> Option<&'static str> {
    let key = merge_key(field)?;
    items.iter().all(|i| i.get(key).is_some()).then_some(key)
}

fn item_key(item: &Value, key: &str) -> String {
    json!({ key: item[key] }).to_string()
}

/// The item of `items` a `k:` step names.
fn find_item(items: &[Value], key: &str) -> Option<usize> {
    let wanted: Map<String, Value> = serde_json::from_str(key).ok()?;
    items
        .iter()
        .position(|i| wanted.iter().all(|(k, v)| i.get(k) == Some(v)))
}

fn value_at<'a>(object: &'a Value, path: &[Step]) -> Option<&'a Value> {
    path.iter().try_fold(object, |at, step| match step {
        Step::Field(f) => at.get(f),
        Step::Key(k) => {
            let items = at.as_array()?;
            find_item(items, k).map(|i| &items[i])
        }
    })
}

fn remove_at(object: &mut Value, path: &[Step]) {
    let Some((last, parent)) = path.split_last() else {
        return;
    };
    let mut at = object;
    for step in parent {
        let next = match step {
            Step::Field(f) => at.get_mut(f),
            Step::Key(k) => {
                let Some(i) = at.as_array().and_then(|items| find_item(items, k)) else {
                    return;
                };
                at.get_mut(i)
            }
        };
        let Some(next) = next else { return };
        at = next;
    }
    match (last, at) {
        (Step::Field(f), Value::Object(map)) => {
            map.remove(f);
        }
        (Step::Key(k), Value::Array(items)) => {
            if let Some(i) = find_item(items, k) {
                items.remove(i);
            }
        }
        _ => {}
    }
}

/// `path` as the API server names a field in a conflict: `.spec.containers[name="worker"].image`.
fn display(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Field(f) => {
                out.push('.');
                out.push_str(f);
            }
            Step::Key(k) => {
                let key: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
                let inner: Vec<String> = key.iter().map(|(k, v)| format!("{k}={v}")).collect();
                out.push_str(&format!("[{}]", inner.join(",")));
            }
        }
    }
    out
}

/// A field set as `FieldsV1`.
fn to_fields_v1(set: &FieldSet) -> Value {
    let mut root = Map::new();
    for path in set {
        let mut node = &mut root;
        for step in path {
            let name = match step {
                Step::Field(f) => format!("f:{f}"),
                Step::Key(k) => format!("k:{k}"),
            };
            node = node
                .entry(name)
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("field set nodes are objects");
        }
        // A path that is also the parent of others (a list item) is marked by `.`.
        node.insert(".".into(), json!({}));
    }
    strip_lone_dots(&mut root);
    Value::Object(root)
}

/// `{".": {}}` alone is written `{}` (a leaf).
fn strip_lone_dots(node: &mut Map<String, Value>) {
    for child in node.values_mut() {
        if let Value::Object(child) = child {
            strip_lone_dots(child);
            if child.len() == 1 && child.contains_key(".") {
                child.clear();
            }
        }
    }
}

fn from_fields_v1(value: &Value) -> FieldSet {
    fn go(node: &Map<String, Value>, path: &Path, set: &mut FieldSet) {
        for (name, child) in node {
            if name == "." {
                set.insert(path.clone());
                continue;
            }
            let step = if let Some(f) = name.strip_prefix("f:") {
                Step::Field(f.to_owned())
            } else if let Some(k) = name.strip_prefix("k:") {
                Step::Key(k.to_owned())
            } else {
                continue; // `v:` and `i:` steps: lists the sandbox keeps atomic
            };
            let mut p = path.clone();
            p.push(step);
            match child.as_object() {
                Some(c) if !c.is_empty() => go(c, &p, set),
                _ => {
                    set.insert(p);
                }
            }
        }
    }
    let mut set = FieldSet::new();
    if let Some(node) = value.as_object() {
        go(node, &Vec::new(), &mut set);
    }
    set
}

/// One `managedFields` entry.
#[derive(Debug, Clone)]
struct Entry {
    manager: String,
    operation: String,
    api_version: String,
    time: String,
    fields: FieldSet,
    /// What else the entry carried (`subresource`), kept as it was.
    rest: Map<String, Value>,
}

impl Entry {
    fn parse(value: &Value) -> Option<Self> {
        let mut rest = value.as_object()?.clone();
        let mut take = |k: &str| {
            rest.remove(k)
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        };
        let (manager, operation, api_version, time) = (
            take("manager"),
            take("operation"),
            take("apiVersion"),
            take("time"),
        );
        rest.remove("fieldsType");
        let fields = rest
            .remove("fieldsV1")
            .map(|f| from_fields_v1(&f))
            .unwrap_or_default();
        Some(Self {
            manager,
            operation,
            api_version,
            time,
            fields,
            rest,
        })
    }

    fn to_value(&self) -> Value {
        let mut out = self.rest.clone();
        out.insert("manager".into(), json!(self.manager));
        out.insert("operation".into(), json!(self.operation));
        out.insert("apiVersion".into(), json!(self.api_version));
        out.insert("time".into(), json!(self.time));
        out.insert("fieldsType".into(), json!("FieldsV1"));
        out.insert("fieldsV1".into(), to_fields_v1(&self.fields));
        Value::Object(out)
    }

    fn is(&self, manager: &str, operation: &str) -> bool {
        self.manager == manager
            && self.operation == operation
            && !self.rest.contains_key("subresource")
    }
}

fn entries(object: &Value) -> Vec<Entry> {
    object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Entry::parse)
        .collect()
}

fn store_entries(object: &mut Value, entries: Vec<Entry>) {
    let list: Vec<Value> = entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(Entry::to_value)
        .collect();
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        if list.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert("managedFields".into(), Value::Array(list));
        }
    }
}

/// The manager `kubectl apply` (client-side) writes as: the seed's and scenarios' objects are
/// the team's manifests, applied that way.
pub const CLIENT_SIDE_APPLY: &str = "kubectl-client-side-apply";

/// Who wrote, as the entry names them.
pub struct Writer<'a> {
    pub manager: &'a str,
    pub api_version: String,
    pub time: String,
}

impl<'a> Writer<'a> {
    /// `manager` writing an object of type `t` now.
    pub fn new(manager: &'a str, t: &ResourceType) -> Self {
        Self {
            manager,
            api_version: t.api_version(),
            time: super::store::now(),
        }
    }
}

/// Record a create or update (`before` is `None` for a create): `writer` owns the fields whose
/// value it set or changed, they leave the other managers' sets, and fields that no longer
/// exist leave every set. `after`'s own `managedFields` are ignored (the stored ones count).
pub fn record_update(before: Option<&Value>, after: &mut Value, writer: &Writer<'_>) {
    let mut list = before.map(entries).unwrap_or_default();
    let now = fields_of(after);
    let changed: FieldSet = now
        .iter()
        .filter(|p| before.and_then(|b| value_at(b, p)) != value_at(after, p))
        .cloned()
        .collect();
    for entry in &mut list {
        entry
            .fields
            .retain(|p| now.contains(p) && !changed.contains(p));
    }
    if !changed.is_empty() {
        match list.iter_mut().find(|e| e.is(writer.manager, "Update")) {
            Some(entry) => {
                entry.fields.extend(changed);
                entry.api_version = writer.api_version.clone();
                entry.time = writer.time.clone();
            }
            None => list.push(Entry {
                manager: writer.manager.to_owned(),
                operation: "Update".into(),
                api_version: writer.api_version.clone(),
                time: writer.time.clone(),
                fields: changed,
                rest: Map::new(),
            }),
        }
    }
    store_entries(after, list);
}

/// A field another manager set to another value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub field: String,
    pub manager: String,
    pub api_version: String,
}

/// Server-side apply of `config` (the manager's whole intent for the object) onto `live`
/// (`None`: the object is created). Answers the object to store, or the conflicts when another
/// manager set one of the fields to another value and `force` is off (with `force`, the fields
/// change hands).
pub fn apply(
    live: Option<&Value>,
    config: &Value,
    writer: &Writer<'_>,
    force: bool,
) -> Result<Value, Vec<Conflict>> {
    let mut list = live.map(entries).unwrap_or_default();
    let applied = fields_of(config);
    let leaves: Vec<&Path> = applied
        .iter()
        .filter(|p| {
            !applied
                .iter()
                .any(|q| q.len() > p.len() && q.starts_with(p))
        })
        .collect();
    let mut conflicts = Vec::new();
    let mut forced: BTreeMap<usize, Vec<Path>> = BTreeMap::new();
    for (i, entry) in list.iter().enumerate() {
        if entry.is(writer.manager, "Apply") {
            continue;
        }
        for path in &leaves {
            if entry.fields.contains(*path)
                && live.and_then(|l| value_at(l, path)) != value_at(config, path)
            {
                conflicts.push(Conflict {
                    field: display(path),
                    manager: entry.manager.clone(),
                    api_version: entry.api_version.clone(),
                });
                forced.entry(i).or_default().push((*path).clone());
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflicts);
    }
    for (i, paths) in forced {
        for p in paths {
            list[i].fields.remove(&p);
        }
    }
    let mut object = live.cloned().unwrap_or_else(|| json!({}));
    merge(&mut object, config, "");
    // What this manager applied before and no longer does, unless someone else owns it (or
    // something below it).
    let (previous, previous_time) = list
        .iter()
        .position(|e| e.is(writer.manager, "Apply"))
        .map(|i| list.remove(i))
        .map_or_else(Default::default, |e| (e.fields, Some(e.time)));
    let others: FieldSet = list.iter().flat_map(|e| e.fields.iter().cloned()).collect();
    let mut dropped: Vec<&Path> = previous
        .iter()
        .filter(|p| !applied.contains(*p) && !others.iter().any(|o| o.starts_with(p)))
        .collect();
    dropped.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for path in dropped {
        remove_at(&mut object, path);
    }
    // An apply that changes nothing keeps its entry's time (and so the object unchanged).
    let before = live.map(|l| without_managed_fields(l.clone()));
    let time = match previous_time {
        Some(t)
            if previous == applied && before == Some(without_managed_fields(object.clone())) =>
        {
            t
        }
        _ => writer.time.clone(),
    };
    list.push(Entry {
        manager: writer.manager.to_owned(),
        operation: "Apply".into(),
        api_version: writer.api_version.clone(),
        time,
        fields: applied,
        rest: Map::new(),
    });
    store_entries(&mut object, list);
    Ok(object)
}

fn without_managed_fields(mut object: Value) -> Value {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    object
}

/// `config` merged into `target`: objects field by field, keyed lists item by item (new items
/// appended), everything else replaced.
fn merge(target: &mut Value, config: &Value, field: &str) {
    match (target, config) {
        (Value::Object(t), Value::Object(c)) => {
            for (k, v) in c {
                if field.is_empty() && k == "status" {
                    continue;
                }
                if field.is_empty() && k == "metadata" {
                    let meta = t.entry(k).or_insert_with(|| json!({}));
                    if let (Value::Object(meta), Value::Object(given)) = (meta, v) {
                        for (mk, mv) in given {
                            if mk == "managedFields" {
                                continue;
                            }
                            match meta.get_mut(mk) {
                                Some(existing) => merge(existing, mv, mk),
                                None => {
                                    meta.insert(mk.clone(), mv.clone());
                                }
                            }
                        }
                    }
                    continue;
                }
                match t.get_mut(k) {
                    Some(existing) if !v.is_null() => merge(existing, v, k),
                    _ => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Value::Array(t), Value::Array(c)) => match keyed(field, c) {
            Some(key) if keyed(field, t) == Some(key) => {
                for item in c {
                    match t.iter().position(|i| i.get(key) == item.get(key)) {
                        Some(i) => merge(&mut t[i], item, field),
                        None => t.push(item.clone()),
                    }
                }
            }
            _ => *t = c.clone(),
        },
        (target, config) => *target = config.clone(),
    }
}

/// A refused apply as the API server answers it: 409 with the fields in `details.causes`.
pub fn conflict_error(conflicts: &[Conflict]) -> ApiError {
    ApiError {
        code: 409,
        reason: "Conflict",
        message: conflict_message(conflicts),
        causes: conflicts
            .iter()
            .map(|c| {
                json!({
                    "reason": "FieldManagerConflict",
                    "message": format!("conflict with \"{}\" using {}", c.manager, c.api_version),
                    "field": c.field,
                })
            })
            .collect(),
    }
}

/// The `Status` message of a refused apply, as the API server words it.
fn conflict_message(conflicts: &[Conflict]) -> String {
    if let [one] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with \"{}\" using {}: {}",
            one.manager, one.api_version, one.field
        );
    }
    let mut by_manager: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    for c in conflicts {
        by_manager
            .entry((&c.manager, &c.api_version))
            .or_default()
            .push(&c.field);
    }
    let mut out = format!("Apply failed with {} conflicts:", conflicts.len());
    for ((manager, version), fields) in by_manager {
        out.push_str(&format!(" conflicts with \"{manager}\" using {version}:"));
        for f in fields {
            out.push_str(&format!("\n- {f}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer(manager: &str) -> Writer<'_> {
        Writer {
            manager,
            api_version: "apps/v1".into(),
            time: "2026-12-01T00:00:00Z".into(),
        }
    }

    fn deployment(memory: &str, replicas: i64) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": { "name": "worker", "namespace": "shop", "labels": { "app": "worker" } },
            "spec": { "replicas": replicas, "template": { "spec": { "containers": [
                { "name": "worker", "image": "worker:1", "resources": { "limits": { "memory": memory } } }
            ] } } },
        })
    }

    #[test]
    fn fields_v1_round_trips_with_keyed_items() {
        let set = fields_of(&deployment("64Mi", 1));
        let v1 = to_fields_v1(&set);
        let item = &v1["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"worker\"}"];
        assert_eq!(item["."], json!({}));
        assert_eq!(item["f:image"], json!({}));
        assert_eq!(v1["f:metadata"]["f:labels"]["f:app"], json!({}));
        assert!(v1["f:metadata"].get("f:name").is_none());
        assert_eq!(from_fields_v1(&v1), set);
    }

    #[test]
    fn apply_conflicts_with_another_managers_value_unless_forced() {
        let mut live = deployment("64Mi", 1);
        record_update(None, &mut live, &writer("kubectl-client-side-apply"));
        // Same values: shared ownership, no conflict.
        let same = apply(
            Some(&live),
            &deployment("64Mi", 1),
            &writer("opsmcp"),
            false,
        )
        .unwrap();
        assert_eq!(
            same["metadata"]["managedFields"].as_array().unwrap().len(),
            2
        );
        // Another value: a conflict naming the field and its manager.
        let err = apply(
            Some(&live),
            &deployment("256Mi", 1),
            &writer("opsmcp"),
            false,
        )
        .unwrap_err();
        assert_eq!(
            err,
            vec![Conflict {
                field: ".spec.template.spec.containers[name=\"worker\"].resources.limits.memory"
                    .into(),
                manager: "kubectl-client-side-apply".into(),
                api_version: "apps/v1".into(),
            }]
        );
        assert!(conflict_message(&err).starts_with("Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.template"));
        // Forced: the field changes hands.
        let forced = apply(
            Some(&live),
            &deployment("256Mi", 1),
            &writer("opsmcp"),
            true,
        )
        .unwrap();
        assert_eq!(value_at(&forced, &fields_path()).unwrap(), "256Mi");
        let owners: Vec<String> = entries(&forced)
            .into_iter()
            .filter(|e| e.fields.contains(&fields_path()))
            .map(|e| e.manager)
            .collect();
        assert_eq!(owners, ["opsmcp"]);
    }

    fn fields_path() -> Path {
        ["spec", "template", "spec", "containers"]
            .iter()
            .map(|f| Step::Field((*f).into()))
            .chain([Step::Key("{\"name\":\"worker\"}".into())])
            .chain(
                ["resources", "limits", "memory"]
                    .iter()
                    .map(|f| Step::Field((*f).into())),
            )
            .collect()
    }

    #[test]
    fn a_field_no_longer_applied_is_removed_unless_another_manager_owns_it() {
        let first = apply(None, &deployment("64Mi", 1), &writer("opsmcp"), false).unwrap();
        let mut without_labels = deployment("64Mi", 1);
        without_labels["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("labels");
        let second = apply(Some(&first), &without_labels, &writer("opsmcp"), false).unwrap();
        assert!(second.pointer("/metadata/labels/app").is_none());

        // A label another manager also set stays.
        let mut edited = first.clone();
        edited["metadata"]["labels"]["team"] = json!("shop");
        record_update(Some(&first), &mut edited, &writer("kubectl-label"));
        let mut labelled = deployment("64Mi", 1);
        labelled["metadata"]["labels"]["team"] = json!("shop");
        let shared = apply(Some(&edited), &labelled, &writer("opsmcp"), false).unwrap();
        let dropped = apply(Some(&shared), &without_labels, &writer("opsmcp"), false).unwrap();
        assert_eq!(dropped["metadata"]["labels"], json!({ "team": "shop" }));
    }

    #[test]
    fn updates_take_the_fields_they_change() {
        let applied = apply(None, &deployment("64Mi", 1), &writer("opsmcp"), false).unwrap();
        let mut scaled = applied.clone();
        scaled["spec"]["replicas"] = json!(3);
        record_update(Some(&applied), &mut scaled, &writer("kubectl"));
        let list = entries(&scaled);
        let replicas = vec![Step::Field("spec".into()), Step::Field("replicas".into())];
        let owner: Vec<(&str, &str)> = list
            .iter()
            .filter(|e| e.fields.contains(&replicas))
            .map(|e| (e.manager.as_str(), e.operation.as_str()))
            .collect();
        assert_eq!(owner, [("kubectl", "Update")]);
        // Re-applying replicas: 1 now conflicts with kubectl's 3.
        let err = apply(
            Some(&scaled),
            &deployment("64Mi", 1),
            &writer("opsmcp"),
            false,
        )
        .unwrap_err();
        assert_eq!(err[0].field, ".spec.replicas");
    }
}
