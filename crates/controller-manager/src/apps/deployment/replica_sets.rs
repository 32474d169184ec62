//! The Deployment controller's ReplicaSet work: claiming them, finding or creating the new one
//! (with its revision and the Deployment's), resizing them and deleting old history.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};

use super::{DeploymentController, Sync, name_of, now, revision, rollout, status, template};
use crate::TARGET;
use crate::apps::ownership::{self, Claim};
use crate::apps::{api_code, api_message, object_reference};
use crate::error::{Error, Result};

impl DeploymentController {
    /// The ReplicaSets `d` controls after adopting matching orphans and releasing those that
    /// stopped matching.
    pub(super) async fn claim_replica_sets(
        &self,
        d: &Deployment,
        selector: &apimachinery::selector::LabelSelector,
    ) -> Result<Vec<ReplicaSet>> {
        let namespace = d.metadata.namespace.as_deref().unwrap_or("");
        let api: Api<ReplicaSet> = Api::namespaced(self.client.clone(), namespace);
        let d_uid = d.metadata.uid.clone().unwrap_or_default();
        let mut owned = Vec::new();
        let mut may_adopt = None;
        for rs in self.replica_sets.list(namespace) {
            let matching = ownership::matches(selector, &rs.metadata);
            let name = name_of(&rs).to_string();
            match ownership::claim(&d.metadata, &rs.metadata, matching) {
                Claim::Keep => owned.push((*rs).clone()),
                Claim::Ignore => {}
                Claim::Adopt => {
                    if may_adopt.is_none() {
                        may_adopt = Some(self.still_current(d).await);
                    }
                    if may_adopt != Some(true) {
                        continue;
                    }
                    let reference = ownership::controller_ref("apps/v1", "Deployment", &d.metadata);
                    let patch = ownership::adopt_patch(&rs.metadata, &reference);
                    match api
                        .patch(&name, &PatchParams::default(), &Patch::Strategic(&patch))
                        .await
                    {
                        Ok(adopted) => owned.push(adopted),
                        Err(e) if api_code(&e) == Some(404) => {}
                        Err(e) => return Err(Error::api(format!("adopting ReplicaSet {name}"), e)),
                    }
                }
                Claim::Release => {
                    let patch = ownership::release_patch(&rs.metadata, &d_uid);
                    match api
                        .patch(&name, &PatchParams::default(), &Patch::Strategic(&patch))
                        .await
                    {
                        Ok(_) => {}
                        Err(e) if matches!(api_code(&e), Some(404 | 422)) => {}
                        Err(e) => {
                            return Err(Error::api(format!("releasing ReplicaSet {name}"), e));
                        }
                    }
                }
            }
        }
        Ok(owned)
    }

    /// Whether the Deployment, read fresh, is still the cached one and not being deleted.
    pub(super) async fn still_current(&self, d: &Deployment) -> bool {
        let api: Api<Deployment> = Api::namespaced(
            self.client.clone(),
            d.metadata.namespace.as_deref().unwrap_or(""),
        );
        match api.get(d.metadata.name.as_deref().unwrap_or("")).await {
            Ok(fresh) => {
                fresh.metadata.uid == d.metadata.uid && fresh.metadata.deletion_timestamp.is_none()
            }
            Err(e) => {
                tracing::debug!(target: TARGET, "cannot recheck Deployment before adopting: {e}");
                false
            }
        }
    }

    /// The new ReplicaSet (its template is the Deployment's) and the old ones, with the new
    /// one's revision raised above the old ones and the Deployment's revision following it;
    /// the new ReplicaSet is created if missing and `create` is set.
    pub(super) async fn new_and_old(
        &self,
        s: &mut Sync,
        mut sets: Vec<ReplicaSet>,
        create: bool,
    ) -> Result<(Option<ReplicaSet>, Vec<ReplicaSet>)> {
        let template =
            s.d.spec
                .as_ref()
                .map(|spec| spec.template.clone())
                .unwrap_or_default();
        sets.sort_by(rollout::by_creation);
        let position = sets.iter().position(|rs| {
            rs.spec
                .as_ref()
                .and_then(|spec| spec.template.as_ref())
                .is_some_and(|t| template::equal_ignoring_hash(t, &template))
        });
        let existing = position.map(|i| sets.remove(i));
        let old = sets;
        let old_refs: Vec<&ReplicaSet> = old.iter().collect();
        let new_revision = revision::max_revision(&old_refs) + 1;
        if let Some(existing) = existing {
            let mut copy = existing.clone();
            let annotated =
                revision::set_new_annotations(&s.d, &mut copy, new_revision, true, &s.strategy);
            let min_ready = s.d.spec.as_ref().and_then(|spec| spec.min_ready_seconds);
            let spec = copy.spec.get_or_insert_with(ReplicaSetSpec::default);
            let min_ready_changed = spec.min_ready_seconds.unwrap_or(0) != min_ready.unwrap_or(0);
            if annotated || min_ready_changed {
                spec.min_ready_seconds = min_ready;
                let updated = self.update_replica_set(&copy).await?;
                return Ok((Some(updated), old));
            }
            let rs_revision = copy
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(revision::REVISION))
                .cloned()
                .unwrap_or_default();
            self.set_revision(s, &rs_revision).await?;
            let current = s.d.status.clone().unwrap_or_default();
            if s.has_progress_deadline() && status::get(&current, status::PROGRESSING).is_none() {
                let mut next = current;
                status::set(
                    &mut next,
                    status::condition(
                        status::PROGRESSING,
                        "True",
                        status::FOUND_NEW_RS,
                        format!("Found new replica set {:?}", name_of(&copy)),
                        now(),
                    ),
                );
                self.update_status(s, next).await?;
            }
            return Ok((Some(copy), old));
        }
        if !create {
            return Ok((None, old));
        }
        let created = self.create_new(s, &template, &old, new_revision).await?;
        Ok((Some(created), old))
    }

    pub(super) async fn create_new(
        &self,
        s: &mut Sync,
        template: &PodTemplateSpec,
        old: &[ReplicaSet],
        new_revision: i64,
    ) -> Result<ReplicaSet> {
        let collisions = s.d.status.as_ref().and_then(|st| st.collision_count);
        let hash = template::pod_template_hash(template, collisions);
        let rs_template = template::with_hash_label(template, &hash);
        let mut selector =
            s.d.spec
                .as_ref()
                .map(|spec| spec.selector.clone())
                .unwrap_or_default();
        selector
            .match_labels
            .get_or_insert_with(Default::default)
            .insert(template::POD_TEMPLATE_HASH.into(), hash.clone());
        let name = format!("{}-{hash}", s.name());
        let mut new = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(s.namespace().to_string()),
                labels: rs_template.metadata.as_ref().and_then(|m| m.labels.clone()),
                owner_references: Some(vec![ownership::controller_ref(
                    "apps/v1",
                    "Deployment",
                    &s.d.metadata,
                )]),
                ..ObjectMeta::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds: s.d.spec.as_ref().and_then(|spec| spec.min_ready_seconds),
                selector,
                template: Some(rs_template),
            }),
            status: None,
        };
        let all: Vec<&ReplicaSet> = old.iter().chain(std::iter::once(&new)).collect();
        let replicas = rollout::new_replicas(&s.strategy, &all, 0);
        new.spec.as_mut().expect("spec set above").replicas = Some(replicas);
        revision::set_new_annotations(&s.d, &mut new, new_revision, false, &s.strategy);

        let api: Api<ReplicaSet> = Api::namespaced(self.client.clone(), s.namespace());
        let (created, already_existed) = match api.create(&PostParams::default(), &new).await {
            Ok(created) => (created, false),
            Err(e) if api_code(&e) == Some(409) => {
                let existing = api
                    .get(&name)
                    .await
                    .map_err(|e| Error::api(format!("getting ReplicaSet {name}"), e))?;
                let ours = ownership::controller_of(&existing.metadata)
                    .is_some_and(|r| Some(&r.uid) == s.d.metadata.uid.as_ref());
                let same = existing
                    .spec
                    .as_ref()
                    .and_then(|spec| spec.template.as_ref())
                    .is_some_and(|t| template::equal_ignoring_hash(t, template));
                if !(ours && same) {
                    // A hash collision: another template owns this name. Bump the collision
                    // count so the next sync hashes to a different name.
                    let mut status = s.d.status.clone().unwrap_or_default();
                    status.collision_count = Some(status.collision_count.unwrap_or(0) + 1);
                    self.update_status(s, status).await?;
                    tracing::info!(target: TARGET,
                        "Found a hash collision for deployment {} - bumping collisionCount to resolve it",
                        s.key);
                    return Err(Error::Sync(format!("ReplicaSet {name} already exists")));
                }
                (existing, true)
            }
            Err(e) => {
                let message = format!(
                    "Failed to create new replica set {name:?}: {}",
                    api_message(&e)
                );
                if s.has_progress_deadline() {
                    let mut status = s.d.status.clone().unwrap_or_default();
                    status::set(
                        &mut status,
                        status::condition(
                            status::PROGRESSING,
                            "False",
                            status::FAILED_RS_CREATE,
                            message.clone(),
                            now(),
                        ),
                    );
                    let _ = self.update_status(s, status).await;
                }
                self.recorder
                    .warning(&object_reference(&s.d), status::FAILED_RS_CREATE, &message)
                    .await;
                return Err(Error::api(format!("creating ReplicaSet {name}"), e));
            }
        };
        if !already_existed && replicas > 0 {
            self.recorder
                .normal(
                    &object_reference(&s.d),
                    "ScalingReplicaSet",
                    &format!("Scaled up replica set {name} from 0 to {replicas}"),
                )
                .await;
        }
        self.set_revision(s, &new_revision.to_string()).await?;
        if !already_existed && s.has_progress_deadline() {
            let mut status = s.d.status.clone().unwrap_or_default();
            status::set(
                &mut status,
                status::condition(
                    status::PROGRESSING,
                    "True",
                    status::NEW_RS_CREATED,
                    format!("Created new replica set {name:?}"),
                    now(),
                ),
            );
            self.update_status(s, status).await?;
        }
        Ok(created)
    }

    /// Sets the ReplicaSet's size and replica annotations if either differs, recording a
    /// ScalingReplicaSet event when the size changes. Whether it was resized, and the
    /// ReplicaSet as it is now.
    pub(super) async fn scale_replica_set(
        &self,
        s: &Sync,
        rs: &ReplicaSet,
        to: i32,
    ) -> Result<(bool, ReplicaSet)> {
        let from = rollout::replicas(rs);
        let resize = from != to;
        if !resize && !revision::replicas_annotations_stale(rs, &s.strategy) {
            return Ok((false, rs.clone()));
        }
        let mut copy = rs.clone();
        copy.spec
            .get_or_insert_with(ReplicaSetSpec::default)
            .replicas = Some(to);
        revision::set_replicas_annotations(&mut copy, &s.strategy);
        let updated = self.update_replica_set(&copy).await?;
        if resize {
            let direction = if from < to { "up" } else { "down" };
            self.recorder
                .normal(
                    &object_reference(&s.d),
                    "ScalingReplicaSet",
                    &format!(
                        "Scaled {direction} replica set {} from {from} to {to}",
                        name_of(rs)
                    ),
                )
                .await;
        }
        Ok((resize, updated))
    }

    pub(super) async fn update_replica_set(&self, rs: &ReplicaSet) -> Result<ReplicaSet> {
        let namespace = rs.metadata.namespace.as_deref().unwrap_or("");
        let api: Api<ReplicaSet> = Api::namespaced(self.client.clone(), namespace);
        api.replace(name_of(rs), &PostParams::default(), rs)
            .await
            .map_err(|e| {
                Error::api(
                    format!("updating ReplicaSet {namespace}/{}", name_of(rs)),
                    e,
                )
            })
    }

    /// Deletes old ReplicaSets beyond `revisionHistoryLimit` (best effort; retried next sync).
    pub(super) async fn clean_history(&self, s: &Sync, old: &[ReplicaSet]) {
        let refs: Vec<&ReplicaSet> = old.iter().collect();
        let limit =
            s.d.spec
                .as_ref()
                .and_then(|spec| spec.revision_history_limit);
        let api: Api<ReplicaSet> = Api::namespaced(self.client.clone(), s.namespace());
        for name in revision::history_to_delete(limit, &refs) {
            tracing::debug!(target: TARGET, "Trying to cleanup replica set {name} for deployment {}", s.key);
            match api.delete(&name, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(e) if api_code(&e) == Some(404) => {}
                Err(e) => {
                    tracing::warn!(target: TARGET, "cleaning up ReplicaSet {name} of {}: {e}", s.key);
                }
            }
        }
    }
}
