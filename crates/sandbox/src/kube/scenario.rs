//! The cluster's part of a scenario ([`crate::scenario`]): objects to create, changes to make
//! once the controllers have acted on them (so deployments have a revision history), and how
//! each image behaves.

use serde::Deserialize;
use serde_json::Value;

use crate::timeline::Timeline;

use super::{
    cluster::Cluster,
    controller,
    patch::{PatchType, apply},
    resources::by_kind,
    sim::Behaviors,
};

#[derive(Debug, Deserialize)]
pub struct Scenario {
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub images: Behaviors,
    #[serde(default)]
    pub objects: Vec<Value>,
    #[serde(default)]
    pub then: Vec<Change>,
}

/// A merge patch applied after the objects exist.
#[derive(Debug, Deserialize)]
pub struct Change {
    pub kind: String,
    #[serde(default)]
    pub namespace: String,
    pub name: String,
    pub merge_patch: Value,
}

impl Scenario {
    pub fn parse(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| format!("invalid scenario: {e}"))
    }

    /// Create the objects, let the controllers act, then make the changes — each at its
    /// instant on `timeline` (an object when the image it runs went live, a change when the image
    /// it rolls out did), so that ages, revisions and events tell the world's past.
    pub fn apply(&self, cluster: &Cluster, timeline: &Timeline) -> Result<(), String> {
        let mut behaviors = cluster.behaviors();
        behaviors.0.extend(self.images.0.clone());
        cluster.set_behaviors(behaviors);
        let mut objects: Vec<&Value> = self.objects.iter().collect();
        objects.sort_by_key(|o| timeline.created(o));
        for object in objects {
            let kind = object["kind"].as_str().unwrap_or_default();
            let t = by_kind(kind)
                .ok_or_else(|| format!("the scenario names an unknown kind `{kind}`"))?;
            let ns = object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or_default();
            // The team's manifests, as `kubectl apply` (client-side) wrote them.
            let mut manifest = object.clone();
            super::apply::record_update(
                None,
                &mut manifest,
                &super::apply::Writer::new(super::apply::CLIENT_SIDE_APPLY, t),
            );
            let mut store = cluster.store();
            store.set_clock(Some(timeline.created(object)));
            store.create(t, ns, manifest, false).map_err(|e| {
                format!(
                    "creating {kind} {}: {}",
                    object.pointer("/metadata/name").unwrap_or(&Value::Null),
                    e.message
                )
            })?;
            drop(store);
            controller::reconcile(cluster);
        }
        for change in &self.then {
            let t =
                by_kind(&change.kind).ok_or_else(|| format!("unknown kind `{}`", change.kind))?;
            let mut store = cluster.store();
            let current = store
                .get(t, &change.namespace, &change.name)
                .cloned()
                .ok_or_else(|| format!("{} {} does not exist", change.kind, change.name))?;
            let patched = apply(PatchType::Strategic, &current, &change.merge_patch)?;
            let at = patched
                .pointer("/spec/template/spec/containers/0/image")
                .and_then(Value::as_str)
                .and_then(|image| timeline.deployed(image))
                .unwrap_or(timeline.epoch);
            store.set_clock(Some(at));
            store
                .update(t, &change.namespace, &change.name, patched, false)
                .map_err(|e| e.message)?;
            drop(store);
            controller::reconcile(cluster);
        }
        cluster.store().set_clock(None);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[test]
    fn the_incident_scenario_applies() {
        let cluster = Cluster::default();
        crate::kube::seed::baseline(&cluster);
        let scenario = Scenario::parse(crate::scenario::INCIDENT).unwrap();
        let epoch = 1_800_000_000;
        let deployed = [
            ("shop/worker:1.4.1".to_owned(), epoch - 72 * 3600),
            ("shop/worker:1.4.2".to_owned(), epoch - 19 * 3600),
        ];
        let timeline = Timeline::new(epoch, deployed.into_iter().collect(), &[]);
        scenario.apply(&cluster, &timeline).unwrap();
        let rs = cluster.listed(
            crate::kube::resources::find("apps", "v1", "replicasets").unwrap(),
            Some("shop"),
        );
        let worker: Vec<&Value> = rs
            .iter()
            .filter(|r| {
                r["metadata"]["name"]
                    .as_str()
                    .unwrap()
                    .starts_with("worker-")
            })
            .collect();
        assert_eq!(worker.len(), 2, "revision 1 (1.4.1) and 2 (1.4.2)");
        // Each revision came to be when its image went live; objects of no known deploy a
        // month before the epoch.
        let created = |image: &str| {
            let rs = worker
                .iter()
                .find(|r| r["spec"]["template"]["spec"]["containers"][0]["image"] == image)
                .unwrap();
            jiff::Timestamp::from_str(rs["metadata"]["creationTimestamp"].as_str().unwrap())
                .unwrap()
                .as_second()
        };
        assert_eq!(created("shop/worker:1.4.1"), epoch - 72 * 3600);
        assert_eq!(created("shop/worker:1.4.2"), epoch - 19 * 3600);
        let quota = cluster
            .store()
            .get(
                crate::kube::resources::find("", "v1", "resourcequotas").unwrap(),
                "batch",
                "batch-quota",
            )
            .cloned()
            .unwrap();
        assert_eq!(
            quota["metadata"]["creationTimestamp"],
            crate::kube::store::time_of(epoch - 30 * 24 * 3600)
        );
    }
}
