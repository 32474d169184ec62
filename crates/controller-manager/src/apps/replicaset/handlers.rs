//! The ReplicaSet controller's event handlers: which ReplicaSet to sync when a ReplicaSet or a
//! pod changes, and which expected creations and deletions a pod event fulfils.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;

use super::{ReplicaSetController, pod_key};
use crate::apps::{ownership, pod};
use crate::cache::Change;
use crate::queue::ObjectKey;

impl ReplicaSetController {
    pub(super) fn on_replica_set(&self, change: Change<ReplicaSet>) {
        match change {
            Change::Applied { new, .. } => self.queue.add(ObjectKey::of(new.as_ref())),
            Change::Deleted(old) => {
                let key = ObjectKey::of(old.as_ref());
                self.expectations().forget(&key);
                self.queue.add(key);
            }
            Change::Synced => {}
        }
    }

    /// The ReplicaSet a pod's controller reference names, if it is in the cache with that UID.
    pub(super) fn owner_of(&self, pod: &Pod) -> Option<Arc<ReplicaSet>> {
        let reference = ownership::controller_of(&pod.metadata)?;
        if reference.kind != "ReplicaSet" || !reference.api_version.starts_with("apps/") {
            return None;
        }
        let namespace = pod.metadata.namespace.as_deref().unwrap_or("");
        let rs = self.replica_sets.get(namespace, &reference.name)?;
        (rs.metadata.uid.as_deref() == Some(reference.uid.as_str())).then_some(rs)
    }

    /// The ReplicaSets whose selector matches an orphan pod.
    pub(super) fn matching(&self, pod: &Pod) -> Vec<ObjectKey> {
        let namespace = pod.metadata.namespace.as_deref().unwrap_or("");
        self.replica_sets
            .list(namespace)
            .iter()
            .filter(|rs| {
                let selector = rs.spec.as_ref().map(|s| &s.selector);
                ownership::selector(selector)
                    .is_ok_and(|s| !s.is_empty() && ownership::matches(&s, &pod.metadata))
            })
            .map(|rs| ObjectKey::of(rs.as_ref()))
            .collect()
    }

    pub(super) fn on_pod(&self, change: Change<Pod>) {
        match change {
            Change::Applied { old: None, new } => self.pod_added(&new),
            Change::Applied {
                old: Some(old),
                new,
            } => self.pod_updated(&old, &new),
            Change::Deleted(old) => self.pod_deleted(&old),
            Change::Synced => {}
        }
    }

    pub(super) fn pod_added(&self, pod: &Pod) {
        if pod.metadata.deletion_timestamp.is_some() {
            // Seen for the first time already terminating (after a relist): it is going.
            self.pod_deleted(pod);
            return;
        }
        if ownership::controller_of(&pod.metadata).is_some() {
            if let Some(rs) = self.owner_of(pod) {
                let key = ObjectKey::of(rs.as_ref());
                self.expectations().creation_observed(&key);
                self.queue.add(key);
            }
            return;
        }
        for key in self.matching(pod) {
            self.queue.add(key);
        }
    }

    pub(super) fn pod_updated(&self, old: &Pod, new: &Pod) {
        let labels_changed = old.metadata.labels != new.metadata.labels;
        if new.metadata.deletion_timestamp.is_some() {
            // A terminating pod no longer counts: treat it as deleted now, as kube does, so the
            // replacement is made without waiting for the kubelet.
            self.pod_deleted(new);
            if labels_changed {
                self.pod_deleted(old);
            }
            return;
        }
        let old_ref = ownership::controller_of(&old.metadata);
        let new_ref = ownership::controller_of(&new.metadata);
        let ref_changed = old_ref != new_ref;
        if ref_changed
            && old_ref.is_some()
            && let Some(rs) = self.owner_of(old)
        {
            self.queue.add(ObjectKey::of(rs.as_ref()));
        }
        if new_ref.is_some() {
            if let Some(rs) = self.owner_of(new) {
                let key = ObjectKey::of(rs.as_ref());
                let min_ready = rs
                    .spec
                    .as_ref()
                    .and_then(|s| s.min_ready_seconds)
                    .unwrap_or(0);
                if min_ready > 0 && !pod::is_ready(old) && pod::is_ready(new) {
                    // Count it as available once minReadySeconds have passed.
                    self.queue.add_after(
                        key.clone(),
                        Duration::from_secs(min_ready as u64) + Duration::from_millis(100),
                    );
                }
                self.queue.add(key);
            }
            return;
        }
        if labels_changed || ref_changed {
            for key in self.matching(new) {
                self.queue.add(key);
            }
        }
    }

    pub(super) fn pod_deleted(&self, pod: &Pod) {
        if let Some(rs) = self.owner_of(pod) {
            let key = ObjectKey::of(rs.as_ref());
            self.expectations().deletion_observed(&key, &pod_key(pod));
            self.queue.add(key);
        }
    }
}
