//! The Deployment controller's event handlers: which Deployment to sync when a Deployment,
//! one of its ReplicaSets or (for Recreate) one of their pods changes.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;

use super::DeploymentController;
use crate::apps::ownership;
use crate::cache::Change;
use crate::queue::ObjectKey;

impl DeploymentController {
    pub(super) fn on_deployment(&self, change: Change<Deployment>) {
        match change {
            Change::Applied { new, .. } => self.queue.add(ObjectKey::of(new.as_ref())),
            Change::Deleted(old) => self.queue.add(ObjectKey::of(old.as_ref())),
            Change::Synced => {}
        }
    }

    /// The Deployment a ReplicaSet's controller reference names, if cached with that UID.
    pub(super) fn owner_of(&self, rs: &ReplicaSet) -> Option<ObjectKey> {
        let reference = ownership::controller_of(&rs.metadata)?;
        if reference.kind != "Deployment" {
            return None;
        }
        let namespace = rs.metadata.namespace.as_deref().unwrap_or("");
        let d = self.deployments.get(namespace, &reference.name)?;
        (d.metadata.uid.as_deref() == Some(reference.uid.as_str()))
            .then(|| ObjectKey::of(d.as_ref()))
    }

    /// The Deployments whose selector matches an orphan ReplicaSet.
    pub(super) fn matching(&self, rs: &ReplicaSet) -> Vec<ObjectKey> {
        let namespace = rs.metadata.namespace.as_deref().unwrap_or("");
        self.deployments
            .list(namespace)
            .iter()
            .filter(|d| {
                let selector = d.spec.as_ref().map(|s| &s.selector);
                ownership::selector(selector)
                    .is_ok_and(|s| !s.is_empty() && ownership::matches(&s, &rs.metadata))
            })
            .map(|d| ObjectKey::of(d.as_ref()))
            .collect()
    }

    pub(super) fn on_replica_set(&self, change: Change<ReplicaSet>) {
        match change {
            Change::Applied { old, new } => {
                let new_ref = ownership::controller_of(&new.metadata);
                let old_ref = old
                    .as_ref()
                    .and_then(|o| ownership::controller_of(&o.metadata));
                let ref_changed = old.is_some() && old_ref != new_ref;
                if ref_changed && let Some(key) = old.as_ref().and_then(|o| self.owner_of(o)) {
                    self.queue.add(key);
                }
                if new_ref.is_some() {
                    if let Some(key) = self.owner_of(&new) {
                        self.queue.add(key);
                    }
                    return;
                }
                let labels_changed = old
                    .as_ref()
                    .is_none_or(|o| o.metadata.labels != new.metadata.labels);
                if new.metadata.deletion_timestamp.is_none() && (labels_changed || ref_changed) {
                    for key in self.matching(&new) {
                        self.queue.add(key);
                    }
                }
            }
            Change::Deleted(old) => {
                if let Some(key) = self.owner_of(&old) {
                    self.queue.add(key);
                }
            }
            Change::Synced => {}
        }
    }

    /// A Recreate rollout waits for old pods to be gone: look again when one goes.
    pub(super) fn on_pod_deleted(&self, pod: &Pod) {
        let Some(reference) = ownership::controller_of(&pod.metadata) else {
            return;
        };
        let namespace = pod.metadata.namespace.as_deref().unwrap_or("");
        let Some(rs) = self.replica_sets.get(namespace, &reference.name) else {
            return;
        };
        let Some(key) = self.owner_of(&rs) else {
            return;
        };
        let recreate = self
            .deployments
            .get(&key.namespace, &key.name)
            .is_some_and(|d| {
                d.spec
                    .as_ref()
                    .and_then(|s| s.strategy.as_ref())
                    .and_then(|s| s.type_.as_deref())
                    == Some("Recreate")
            });
        if recreate {
            self.queue.add(key);
        }
    }
}
