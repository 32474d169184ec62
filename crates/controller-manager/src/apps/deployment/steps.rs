//! The Deployment controller's strategies (RollingUpdate, Recreate, scaling and pausing) and
//! its status writes.

use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet};
use kube::api::{Api, PostParams};

use super::{DeploymentController, Sync, name_of, now, replace, revision, rollout, status};
use crate::apps::ownership;
use crate::error::{Error, Result};

impl DeploymentController {
    /// RollingUpdate: grow the new ReplicaSet within the surge, else shrink old ones within
    /// the unavailability; clean history once complete.
    pub(super) async fn rolling(&self, s: &mut Sync, sets: Vec<ReplicaSet>) -> Result<()> {
        let (new, mut old) = self.new_and_old(s, sets, true).await?;
        let Some(mut new) = new else {
            return Ok(());
        };
        let all: Vec<&ReplicaSet> = old.iter().chain(std::iter::once(&new)).collect();
        if let Some(to) = rollout::scale_new(&s.strategy, &all, &new) {
            let (scaled, updated) = self.scale_replica_set(s, &new, to).await?;
            new = updated;
            if scaled {
                return self.rollout_status(s, &old, Some(&new)).await;
            }
        }
        let old_refs: Vec<&ReplicaSet> = old.iter().collect();
        let resizes = rollout::scale_down_old(&s.strategy, Some(&new), &old_refs);
        let mut scaled_down = false;
        for resize in resizes {
            let Some(rs) = old.iter().find(|rs| name_of(rs) == resize.name).cloned() else {
                continue;
            };
            let (scaled, updated) = self.scale_replica_set(s, &rs, resize.to).await?;
            scaled_down |= scaled;
            replace(&mut old, updated);
        }
        if scaled_down {
            return self.rollout_status(s, &old, Some(&new)).await;
        }
        let current = s.d.status.clone().unwrap_or_default();
        if status::complete(&s.d, &s.strategy, &current) {
            self.clean_history(s, &old).await;
        }
        self.rollout_status(s, &old, Some(&new)).await
    }

    /// Recreate: empty every old ReplicaSet, wait for their pods to be gone, then bring the
    /// new ReplicaSet up to size at once.
    pub(super) async fn recreate(&self, s: &mut Sync, sets: Vec<ReplicaSet>) -> Result<()> {
        let uids: Vec<String> = sets
            .iter()
            .filter_map(|rs| rs.metadata.uid.clone())
            .collect();
        let (new, mut old) = self.new_and_old(s, sets, false).await?;
        let mut scaled_down = false;
        for rs in old.clone() {
            if rollout::replicas(&rs) == 0 {
                continue;
            }
            let (scaled, updated) = self.scale_replica_set(s, &rs, 0).await?;
            scaled_down |= scaled;
            replace(&mut old, updated);
        }
        if scaled_down {
            return self.rollout_status(s, &old, new.as_ref()).await;
        }
        if self.old_pods_running(new.as_ref(), &old, &uids, s.namespace()) {
            return self.rollout_status(s, &old, new.as_ref()).await;
        }
        let (new, old) = match new {
            Some(new) => (new, old),
            // No new ReplicaSet yet: every one is old, so all of them go to the lookup again.
            None => match self.new_and_old(s, old, true).await? {
                (Some(new), old) => (new, old),
                (None, _) => return Ok(()),
            },
        };
        let mut new = new;
        if rollout::replicas(&new) != s.strategy.desired
            || revision::replicas_annotations_stale(&new, &s.strategy)
        {
            let desired = s.strategy.desired;
            let (scaled, updated) = self.scale_replica_set(s, &new, desired).await?;
            new = updated;
            if scaled {
                return self.rollout_status(s, &old, Some(&new)).await;
            }
        }
        let current = s.d.status.clone().unwrap_or_default();
        if status::complete(&s.d, &s.strategy, &current) {
            self.clean_history(s, &old).await;
        }
        self.rollout_status(s, &old, Some(&new)).await
    }

    /// Whether any old ReplicaSet still has pods, or any pod of theirs has not finished.
    pub(super) fn old_pods_running(
        &self,
        new: Option<&ReplicaSet>,
        old: &[ReplicaSet],
        uids: &[String],
        namespace: &str,
    ) -> bool {
        if old
            .iter()
            .any(|rs| rs.status.as_ref().is_some_and(|st| st.replicas > 0))
        {
            return true;
        }
        let new_uid = new.and_then(|rs| rs.metadata.uid.as_deref());
        self.pods.list(namespace).iter().any(|p| {
            let Some(owner) = ownership::controller_of(&p.metadata) else {
                return false;
            };
            if Some(owner.uid.as_str()) == new_uid || !uids.contains(&owner.uid) {
                return false;
            }
            let phase = p.status.as_ref().and_then(|st| st.phase.as_deref());
            !matches!(phase, Some("Succeeded" | "Failed"))
        })
    }

    /// A scaling event or a paused Deployment: resize proportionally, then report status.
    pub(super) async fn scale(&self, s: &mut Sync, sets: Vec<ReplicaSet>) -> Result<()> {
        let (mut new, mut old) = self.new_and_old(s, sets, false).await?;
        let old_refs: Vec<&ReplicaSet> = old.iter().collect();
        let status_replicas = s.d.status.as_ref().and_then(|st| st.replicas).unwrap_or(0);
        let resizes = rollout::proportional(&s.strategy, new.as_ref(), &old_refs, status_replicas);
        for resize in resizes {
            if new.as_ref().is_some_and(|rs| name_of(rs) == resize.name) {
                let rs = new.clone().expect("checked above");
                let (_, updated) = self.scale_replica_set(s, &rs, resize.to).await?;
                new = Some(updated);
            } else if let Some(rs) = old.iter().find(|rs| name_of(rs) == resize.name).cloned() {
                let (_, updated) = self.scale_replica_set(s, &rs, resize.to).await?;
                replace(&mut old, updated);
            }
        }
        if s.d
            .spec
            .as_ref()
            .and_then(|spec| spec.paused)
            .unwrap_or(false)
        {
            self.clean_history(s, &old).await;
        }
        self.deployment_status(s, &old, new.as_ref()).await
    }

    /// A Deployment being deleted: only its status.
    pub(super) async fn sync_status_only(&self, s: &mut Sync, sets: Vec<ReplicaSet>) -> Result<()> {
        let (new, old) = self.new_and_old(s, sets, false).await?;
        self.deployment_status(s, &old, new.as_ref()).await
    }

    /// Status after a rollout step, with the Progressing condition moved on; a rollout that
    /// shows no progress is looked at again when its deadline would pass.
    pub(super) async fn rollout_status(
        &self,
        s: &mut Sync,
        old: &[ReplicaSet],
        new: Option<&ReplicaSet>,
    ) -> Result<()> {
        let at = now();
        let all: Vec<&ReplicaSet> = old.iter().chain(new).collect();
        let calculated = status::calculate(&s.d, &s.strategy, &all, new, at);
        let next = status::rollout_status(&s.d, &s.strategy, calculated, &all, new, at);
        let current = s.d.status.clone().unwrap_or_default();
        if status::same(&current, &next) {
            if let Some(after) = status::recheck_progress(&s.d, &s.strategy, &next, at) {
                self.queue.add_after(s.key.clone(), after);
            }
            return Ok(());
        }
        self.update_status(s, next).await
    }

    /// Status after scaling (no Progressing changes).
    pub(super) async fn deployment_status(
        &self,
        s: &mut Sync,
        old: &[ReplicaSet],
        new: Option<&ReplicaSet>,
    ) -> Result<()> {
        let all: Vec<&ReplicaSet> = old.iter().chain(new).collect();
        let next = status::calculate(&s.d, &s.strategy, &all, new, now());
        let current = s.d.status.clone().unwrap_or_default();
        if status::same(&current, &next) {
            return Ok(());
        }
        self.update_status(s, next).await
    }

    pub(super) async fn update_status(&self, s: &mut Sync, status: DeploymentStatus) -> Result<()> {
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), s.namespace());
        let mut d = s.d.clone();
        d.status = Some(status);
        s.d = api
            .replace_status(s.name(), &PostParams::default(), &d)
            .await
            .map_err(|e| Error::api(format!("updating status of Deployment {}", s.key), e))?;
        Ok(())
    }

    /// Records the new ReplicaSet's revision on the Deployment (what `kubectl describe` and
    /// `rollout history` show as the current revision).
    pub(super) async fn set_revision(&self, s: &mut Sync, revision: &str) -> Result<()> {
        let current =
            s.d.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(revision::REVISION));
        if current.map(String::as_str) == Some(revision) {
            return Ok(());
        }
        let mut d = s.d.clone();
        d.metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(revision::REVISION.into(), revision.into());
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), s.namespace());
        s.d = api
            .replace(s.name(), &PostParams::default(), &d)
            .await
            .map_err(|e| Error::api(format!("updating revision of Deployment {}", s.key), e))?;
        Ok(())
    }
}
