//! The ReplicaSet controller ("replicaset"): keeps `spec.replicas` pods from the template,
//! adopting matching orphans and releasing pods that stop matching, and reports status.
//! Decisions are in `plan.rs` and `ranking.rs`, event handlers in `handlers.rs`; this file
//! syncs one ReplicaSet from the informer caches, acting as the ServiceAccount
//! kube-system/replicaset-controller.

mod handlers;
mod plan;
mod ranking;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use futures::future::{BoxFuture, join_all};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use tokio::task::JoinSet;

use crate::TARGET;
use crate::apps::expectations::Expectations;
use crate::apps::ownership::{self, Claim};
use crate::apps::{api_code, api_message, object_reference, pod, run_workers};
use crate::cache::Cache;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::events::Recorder;
use crate::queue::{ObjectKey, Queue};

use plan::{Failure, Scale};

/// The controller's ServiceAccount and Event source.
const NAME: &str = "replicaset-controller";

pub(crate) fn controller(ctx: Context) -> BoxFuture<'static, ()> {
    Box::pin(run(ctx))
}

async fn run(ctx: Context) {
    let Some(client) = ctx.client(NAME).await else {
        return;
    };
    let replica_sets = ctx.informer::<ReplicaSet>();
    let pods = ctx.informer::<Pod>();
    let controller = Arc::new(ReplicaSetController {
        recorder: ctx.recorder(client.clone(), NAME),
        client,
        replica_sets: replica_sets.cache(),
        pods: pods.cache(),
        queue: Queue::new(),
        expectations: Mutex::new(Expectations::default()),
    });
    let mut handlers = JoinSet::new();
    let mut changes = replica_sets.subscribe();
    let c = controller.clone();
    handlers.spawn(async move {
        while let Some(change) = changes.recv().await {
            c.on_replica_set(change);
        }
    });
    let mut changes = pods.subscribe();
    let c = controller.clone();
    handlers.spawn(async move {
        while let Some(change) = changes.recv().await {
            c.on_pod(change);
        }
    });
    tokio::select! {
        () = async { replica_sets.synced().await; pods.synced().await } => {}
        () = ctx.stopped() => return,
    }
    tracing::info!(target: TARGET, controller = "replicaset", "Caches are synced");
    let c = controller.clone();
    run_workers(
        &ctx,
        "replicaset",
        controller.queue.clone(),
        ctx.settings().concurrent_syncs,
        move |key| {
            let c = c.clone();
            async move { c.sync(&key).await }
        },
    )
    .await;
}

struct ReplicaSetController {
    client: kube::Client,
    recorder: Recorder,
    replica_sets: Cache<ReplicaSet>,
    pods: Cache<Pod>,
    queue: Arc<Queue>,
    expectations: Mutex<Expectations>,
}

fn pod_key(pod: &Pod) -> String {
    ObjectKey::of(pod).to_string()
}

impl ReplicaSetController {
    pub(super) fn expectations(&self) -> MutexGuard<'_, Expectations> {
        self.expectations
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn sync(&self, key: &ObjectKey) -> Result<()> {
        let Some(rs) = self.replica_sets.get(&key.namespace, &key.name) else {
            self.expectations().forget(key);
            return Ok(());
        };
        let needs_sync = self.expectations().satisfied(key, Instant::now());
        let selector = match ownership::selector(rs.spec.as_ref().map(|s| &s.selector)) {
            Ok(selector) => selector,
            Err(e) => {
                tracing::warn!(target: TARGET, "ReplicaSet {key} has an invalid selector: {e}");
                return Ok(());
            }
        };
        let active: Vec<Arc<Pod>> = self
            .pods
            .list(&key.namespace)
            .into_iter()
            .filter(|p| pod::is_active(p))
            .collect();
        let (owned, claim_error) = self.claim(&rs, &selector, active).await;
        let failure = if needs_sync && rs.metadata.deletion_timestamp.is_none() {
            self.manage(&rs, key, &owned).await
        } else {
            None
        };
        let status = plan::status(&rs, &owned, failure.as_ref(), jiff::Timestamp::now());
        if plan::status_changed(&rs, &status) {
            self.update_status(&rs, status.clone()).await?;
        }
        if let Some(failure) = failure {
            return Err(Error::Sync(format!(
                "{}: {}",
                failure.reason, failure.message
            )));
        }
        if let Some(e) = claim_error {
            return Err(e);
        }
        if let Some(delay) = plan::recheck_availability(&rs, &status) {
            self.queue.add_after(key.clone(), delay);
        }
        Ok(())
    }

    /// The pods `rs` owns after adopting matching orphans and releasing pods that stopped
    /// matching, and the first error met doing so.
    async fn claim(
        &self,
        rs: &ReplicaSet,
        selector: &apimachinery::selector::LabelSelector,
        pods: Vec<Arc<Pod>>,
    ) -> (Vec<Arc<Pod>>, Option<Error>) {
        let mut owned = Vec::new();
        let mut error = None;
        let mut may_adopt: Option<bool> = None;
        let api: Api<Pod> = Api::namespaced(
            self.client.clone(),
            rs.metadata.namespace.as_deref().unwrap_or(""),
        );
        let rs_uid = rs.metadata.uid.clone().unwrap_or_default();
        for p in pods {
            let matching = ownership::matches(selector, &p.metadata);
            match ownership::claim(&rs.metadata, &p.metadata, matching) {
                Claim::Keep => owned.push(p),
                Claim::Ignore => {}
                Claim::Adopt => {
                    if may_adopt.is_none() {
                        may_adopt = Some(self.still_current(rs).await);
                    }
                    if may_adopt != Some(true) {
                        continue;
                    }
                    let reference =
                        ownership::controller_ref("apps/v1", "ReplicaSet", &rs.metadata);
                    let patch = ownership::adopt_patch(&p.metadata, &reference);
                    let name = p.metadata.name.clone().unwrap_or_default();
                    match api
                        .patch(&name, &PatchParams::default(), &Patch::Strategic(&patch))
                        .await
                    {
                        Ok(adopted) => owned.push(Arc::new(adopted)),
                        Err(e) if api_code(&e) == Some(404) => {}
                        Err(e) => {
                            error.get_or_insert(Error::api(format!("adopting pod {name}"), e));
                        }
                    }
                }
                Claim::Release => {
                    let name = p.metadata.name.clone().unwrap_or_default();
                    let patch = ownership::release_patch(&p.metadata, &rs_uid);
                    match api
                        .patch(&name, &PatchParams::default(), &Patch::Strategic(&patch))
                        .await
                    {
                        Ok(_) => {}
                        // Gone, or its UID changed (deleted and made again): nothing to release.
                        Err(e) if matches!(api_code(&e), Some(404 | 422)) => {}
                        Err(e) => {
                            error.get_or_insert(Error::api(format!("releasing pod {name}"), e));
                        }
                    }
                }
            }
        }
        (owned, error)
    }

    /// Whether `rs`, as read from the API server now, is still the one cached and not being
    /// deleted (kube rechecks before adopting, since the cache may be stale).
    async fn still_current(&self, rs: &ReplicaSet) -> bool {
        let api: Api<ReplicaSet> = Api::namespaced(
            self.client.clone(),
            rs.metadata.namespace.as_deref().unwrap_or(""),
        );
        match api.get(rs.metadata.name.as_deref().unwrap_or("")).await {
            Ok(fresh) => {
                fresh.metadata.uid == rs.metadata.uid && fresh.metadata.deletion_timestamp.is_none()
            }
            Err(e) => {
                tracing::debug!(target: TARGET, "cannot recheck ReplicaSet before adopting: {e}");
                false
            }
        }
    }

    /// Creates or deletes pods toward `spec.replicas`; the failure, if any, for the condition.
    async fn manage(
        &self,
        rs: &ReplicaSet,
        key: &ObjectKey,
        owned: &[Arc<Pod>],
    ) -> Option<Failure> {
        let desired = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        match plan::scale(desired, owned.len()) {
            Scale::Hold => None,
            Scale::Create(count) => self.create_pods(rs, key, count).await,
            Scale::Delete(count) => self.delete_pods(rs, key, owned, count).await,
        }
    }

    async fn create_pods(&self, rs: &ReplicaSet, key: &ObjectKey, count: usize) -> Option<Failure> {
        self.expectations()
            .expect_creations(key, count, Instant::now());
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &key.namespace);
        let template = plan::pod_from_template(rs);
        let params = PostParams::default();
        let reference = object_reference(rs);
        let mut created = 0;
        let mut failure = None;
        for batch in plan::slow_start_batches(count) {
            let results = join_all((0..batch).map(|_| api.create(&params, &template))).await;
            for result in results {
                match result {
                    Ok(p) => {
                        created += 1;
                        let name = p.metadata.name.unwrap_or_default();
                        self.recorder
                            .normal(
                                &reference,
                                "SuccessfulCreate",
                                &format!("Created pod: {name}"),
                            )
                            .await;
                    }
                    Err(e) if namespace_terminating(&e) => {
                        // kube does not report these: the namespace is going away.
                    }
                    Err(e) => {
                        let message = api_message(&e);
                        self.recorder
                            .warning(
                                &reference,
                                "FailedCreate",
                                &format!("Error creating: {message}"),
                            )
                            .await;
                        failure.get_or_insert(Failure {
                            reason: "FailedCreate",
                            message,
                        });
                    }
                }
            }
            if failure.is_some() {
                break;
            }
        }
        // Pods that failed or were never tried will not show up in the informer.
        let mut expectations = self.expectations();
        for _ in created..count {
            expectations.creation_observed(key);
        }
        failure
    }

    async fn delete_pods(
        &self,
        rs: &ReplicaSet,
        key: &ObjectKey,
        owned: &[Arc<Pod>],
        count: usize,
    ) -> Option<Failure> {
        let related = self.related_pods(rs, owned);
        let victims = ranking::pods_to_delete(owned, &related, count, jiff::Timestamp::now());
        self.expectations().expect_deletions(
            key,
            victims.iter().map(|p| pod_key(p)).collect(),
            Instant::now(),
        );
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &key.namespace);
        let reference = object_reference(rs);
        let results = join_all(victims.iter().map(|p| {
            let name = p.metadata.name.clone().unwrap_or_default();
            let api = api.clone();
            async move {
                (
                    name.clone(),
                    api.delete(&name, &DeleteParams::default()).await,
                )
            }
        }))
        .await;
        let mut failure = None;
        for (name, result) in results {
            match result {
                Ok(_) => {
                    self.recorder
                        .normal(
                            &reference,
                            "SuccessfulDelete",
                            &format!("Deleted pod: {name}"),
                        )
                        .await;
                }
                Err(e) => {
                    self.expectations()
                        .deletion_observed(key, &format!("{}/{name}", key.namespace));
                    if api_code(&e) == Some(404) {
                        continue;
                    }
                    let message = api_message(&e);
                    self.recorder
                        .warning(
                            &reference,
                            "FailedDelete",
                            &format!("Error deleting: {message}"),
                        )
                        .await;
                    failure.get_or_insert(Failure {
                        reason: "FailedDelete",
                        message,
                    });
                }
            }
        }
        failure
    }

    /// The active pods of every ReplicaSet with the same controller as `rs` (kube ranks pods on
    /// nodes crowded with these first), or just `owned` when `rs` has no controller.
    fn related_pods(&self, rs: &ReplicaSet, owned: &[Arc<Pod>]) -> Vec<Arc<Pod>> {
        let Some(owner) = ownership::controller_of(&rs.metadata) else {
            return owned.to_vec();
        };
        let namespace = rs.metadata.namespace.as_deref().unwrap_or("");
        let siblings: Vec<String> = self
            .replica_sets
            .list(namespace)
            .iter()
            .filter(|s| ownership::controller_of(&s.metadata).is_some_and(|o| o.uid == owner.uid))
            .filter_map(|s| s.metadata.uid.clone())
            .collect();
        self.pods
            .list(namespace)
            .into_iter()
            .filter(|p| pod::is_active(p))
            .filter(|p| {
                ownership::controller_of(&p.metadata).is_some_and(|o| siblings.contains(&o.uid))
            })
            .collect()
    }

    /// Writes `status`; after a conflict, once more on the object as the API server has it.
    async fn update_status(
        &self,
        rs: &ReplicaSet,
        status: k8s_openapi::api::apps::v1::ReplicaSetStatus,
    ) -> Result<()> {
        let namespace = rs.metadata.namespace.as_deref().unwrap_or("");
        let name = rs.metadata.name.as_deref().unwrap_or("");
        let api: Api<ReplicaSet> = Api::namespaced(self.client.clone(), namespace);
        let mut updated = rs.clone();
        updated.status = Some(status.clone());
        match api
            .replace_status(name, &PostParams::default(), &updated)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if api_code(&e) == Some(404) => Ok(()),
            Err(e) if api_code(&e) == Some(409) => {
                let mut fresh = api
                    .get(name)
                    .await
                    .map_err(|e| Error::api(format!("getting ReplicaSet {namespace}/{name}"), e))?;
                let mut status = status;
                if fresh.metadata.generation != rs.metadata.generation {
                    // Spec changed meanwhile: do not claim to have observed it.
                    status.observed_generation =
                        fresh.status.as_ref().and_then(|s| s.observed_generation);
                }
                fresh.status = Some(status);
                api.replace_status(name, &PostParams::default(), &fresh)
                    .await
                    .map(drop)
                    .map_err(|e| {
                        Error::api(
                            format!("updating status of ReplicaSet {namespace}/{name}"),
                            e,
                        )
                    })
            }
            Err(e) => Err(Error::api(
                format!("updating status of ReplicaSet {namespace}/{name}"),
                e,
            )),
        }
    }
}

/// Whether a create failed because its namespace is being deleted.
fn namespace_terminating(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status)
        if status.code == 403 && status.message.contains("because it is being terminated"))
}
