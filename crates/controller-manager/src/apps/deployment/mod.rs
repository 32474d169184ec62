//! The Deployment controller ("deployment"): rolls a Deployment's pod template out through
//! ReplicaSets named `<deployment>-<pod-template-hash>`, by RollingUpdate or Recreate, scales
//! them when the Deployment is resized or paused, keeps `revisionHistoryLimit` old ones, and
//! reports status and conditions. The decisions are pure: sizing in `rollout.rs`, annotations
//! in `revision.rs`, status in `status.rs`, the template hash in `template.rs`. The IO reads the
//! informer caches and acts as the ServiceAccount kube-system/deployment-controller: event
//! handlers in `handlers.rs`, ReplicaSet writes in `replica_sets.rs`, the strategies and status
//! writes in `steps.rs`, and the sync that picks a strategy here.

mod handlers;
mod replica_sets;
mod revision;
mod rollout;
mod status;
mod steps;
mod template;

use std::sync::Arc;

use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use tokio::task::JoinSet;

use crate::TARGET;
use crate::apps::ownership;
use crate::apps::{object_reference, run_workers};
use crate::cache::{Cache, Change};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::events::Recorder;
use crate::queue::{ObjectKey, Queue};

use rollout::Strategy;

/// The controller's ServiceAccount and Event source.
const NAME: &str = "deployment-controller";

pub(crate) fn controller(ctx: Context) -> BoxFuture<'static, ()> {
    Box::pin(run(ctx))
}

async fn run(ctx: Context) {
    let Some(client) = ctx.client(NAME).await else {
        return;
    };
    let deployments = ctx.informer::<Deployment>();
    let replica_sets = ctx.informer::<ReplicaSet>();
    let pods = ctx.informer::<Pod>();
    let controller = Arc::new(DeploymentController {
        recorder: ctx.recorder(client.clone(), NAME),
        client,
        deployments: deployments.cache(),
        replica_sets: replica_sets.cache(),
        pods: pods.cache(),
        queue: Queue::new(),
    });
    let mut handlers = JoinSet::new();
    let mut changes = deployments.subscribe();
    let c = controller.clone();
    handlers.spawn(async move {
        while let Some(change) = changes.recv().await {
            c.on_deployment(change);
        }
    });
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
            if let Change::Deleted(pod) = change {
                c.on_pod_deleted(&pod);
            }
        }
    });
    tokio::select! {
        () = async {
            deployments.synced().await;
            replica_sets.synced().await;
            pods.synced().await;
        } => {}
        () = ctx.stopped() => return,
    }
    tracing::info!(target: TARGET, controller = "deployment", "Caches are synced");
    let c = controller.clone();
    run_workers(
        &ctx,
        "deployment",
        controller.queue.clone(),
        ctx.settings().concurrent_syncs,
        move |key| {
            let c = c.clone();
            async move { c.sync(&key).await }
        },
    )
    .await;
}

struct DeploymentController {
    client: kube::Client,
    recorder: Recorder,
    deployments: Cache<Deployment>,
    replica_sets: Cache<ReplicaSet>,
    pods: Cache<Pod>,
    queue: Arc<Queue>,
}

/// One sync's view of a Deployment: the object (refreshed after each write) and its sizing.
struct Sync {
    d: Deployment,
    strategy: Strategy,
    key: ObjectKey,
}

impl Sync {
    fn namespace(&self) -> &str {
        &self.key.namespace
    }

    fn name(&self) -> &str {
        &self.key.name
    }

    fn has_progress_deadline(&self) -> bool {
        self.d
            .spec
            .as_ref()
            .and_then(|s| s.progress_deadline_seconds)
            .is_some_and(|s| s != i32::MAX)
    }
}

fn name_of(rs: &ReplicaSet) -> &str {
    rs.metadata.name.as_deref().unwrap_or("")
}

/// `sets` with `updated` in place of the ReplicaSet of the same name.
fn replace(sets: &mut [ReplicaSet], updated: ReplicaSet) {
    if let Some(slot) = sets.iter_mut().find(|rs| name_of(rs) == name_of(&updated)) {
        *slot = updated;
    }
}

/// A whole-second "now": the API server keeps condition times in seconds, so comparing a
/// status we computed with the one read back stays exact.
fn now() -> jiff::Timestamp {
    jiff::Timestamp::from_second(jiff::Timestamp::now().as_second())
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

impl DeploymentController {
    async fn sync(&self, key: &ObjectKey) -> Result<()> {
        let Some(d) = self.deployments.get(&key.namespace, &key.name) else {
            return Ok(());
        };
        let mut d = (*d).clone();
        let strategy = match Strategy::of(&d) {
            Ok(strategy) => strategy,
            Err(e) => {
                tracing::warn!(target: TARGET, "Deployment {key} has an invalid strategy: {e}");
                return Ok(());
            }
        };
        let selector = d
            .spec
            .as_ref()
            .map(|s| s.selector.clone())
            .unwrap_or_default();
        if selector == LabelSelector::default() {
            self.recorder
                .warning(
                    &object_reference(&d),
                    "SelectingAll",
                    "This deployment is selecting all pods. A non-empty selector is required.",
                )
                .await;
            let mut status = d.status.clone().unwrap_or_default();
            if status.observed_generation < d.metadata.generation {
                status.observed_generation = d.metadata.generation;
                let mut s = Sync {
                    d,
                    strategy,
                    key: key.clone(),
                };
                self.update_status(&mut s, status).await?;
            }
            return Ok(());
        }
        let selector = ownership::selector(Some(&selector)).map_err(Error::Sync)?;
        let sets = self.claim_replica_sets(&d, &selector).await?;
        if d.metadata.deletion_timestamp.is_some() {
            let mut s = Sync {
                d,
                strategy,
                key: key.clone(),
            };
            return self.sync_status_only(&mut s, sets).await;
        }
        if let Some(status) = status::paused_condition(&d, now()) {
            let mut s = Sync {
                d,
                strategy,
                key: key.clone(),
            };
            self.update_status(&mut s, status).await?;
            d = s.d;
        }
        let mut s = Sync {
            d,
            strategy,
            key: key.clone(),
        };
        let paused =
            s.d.spec
                .as_ref()
                .and_then(|spec| spec.paused)
                .unwrap_or(false);
        let refs: Vec<&ReplicaSet> = sets.iter().collect();
        if paused || rollout::is_scaling_event(&s.strategy, &refs) {
            return self.scale(&mut s, sets).await;
        }
        if s.strategy.rolling {
            self.rolling(&mut s, sets).await
        } else {
            self.recreate(&mut s, sets).await
        }
    }
}
