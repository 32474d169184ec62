//! The cluster controllers of kube-controller-manager: endpoints and EndpointSlices, namespace
//! deletion, garbage collection, node lifecycle with taint-based eviction, ServiceAccounts and
//! their tokens, the root CA ConfigMap, DaemonSets, pod GC and disruption budgets.
//!
//! Each controller reads through the term's shared informers (the manager's own identity), decides
//! in pure code (the `desired`/`plan`/`decide` modules, table-tested), and writes through its own
//! ServiceAccount client, as kube-controller-manager does with `--use-service-account-credentials`.

mod daemonset;
mod disruption;
mod endpoints;
mod endpointslice;
mod garbagecollector;
mod namespace;
mod nodelifecycle;
mod podgc;
mod pods;
mod rootca;
mod serviceaccount;
mod taints;
mod token;
mod trigger_time;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use kube::Resource;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::cache::Change;
use crate::context::{Context, ControllerFn};
use crate::queue::{ObjectKey, Queue};

/// The tracing target every controller logs under.
const TARGET: &str = "kube-controller-manager";

/// The cluster controllers, under kube-controller-manager's `--controllers` names.
pub(crate) fn controllers() -> Vec<(&'static str, ControllerFn)> {
    vec![
        ("endpoints", |ctx| Box::pin(endpoints::run(ctx))),
        ("endpointslice", |ctx| Box::pin(endpointslice::run(ctx))),
        ("nodelifecycle", |ctx| Box::pin(nodelifecycle::run(ctx))),
        ("garbagecollector", |ctx| {
            Box::pin(garbagecollector::run(ctx))
        }),
        ("namespace", |ctx| Box::pin(namespace::run(ctx))),
        ("serviceaccount", |ctx| Box::pin(serviceaccount::run(ctx))),
        ("root-ca-cert-publisher", |ctx| Box::pin(rootca::run(ctx))),
        ("podgc", |ctx| Box::pin(podgc::run(ctx))),
        ("daemonset", |ctx| Box::pin(daemonset::run(ctx))),
        ("disruption", |ctx| Box::pin(disruption::run(ctx))),
        ("serviceaccount-token", |ctx| {
            Box::pin(async move {
                let client = ctx.manager_client();
                token::run(ctx, client).await;
            })
        }),
    ]
}

/// Why one sync failed; the key is retried after its backoff.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SyncError {
    /// A request to the API server failed.
    #[error("{what}: {source}")]
    Api {
        what: String,
        #[source]
        source: kube::Error,
    },
    /// The caches are behind what the controller itself wrote, or something it waits for is
    /// not there yet; a later sync will see it.
    #[error("{0}")]
    NotYet(String),
}

pub(crate) type SyncResult = Result<(), SyncError>;

impl SyncError {
    fn api(what: impl Into<String>, source: kube::Error) -> SyncError {
        SyncError::Api {
            what: what.into(),
            source,
        }
    }
}

/// The HTTP status of a failed request, if the server answered one.
fn status_code(error: &kube::Error) -> Option<u16> {
    match error {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

fn is_not_found(error: &kube::Error) -> bool {
    status_code(error) == Some(404)
}

fn is_conflict(error: &kube::Error) -> bool {
    status_code(error) == Some(409)
}

fn is_already_exists(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 409 && status.reason == "AlreadyExists")
}

/// Whether a create was refused because its namespace is being deleted: retrying cannot help.
fn is_namespace_terminating(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 403
        && status.message.contains("because it is being terminated"))
}

/// Runs `workers` tasks syncing the keys of `queue` with `sync`, retrying failures after their
/// backoff, until `tasks` is dropped.
fn spawn_workers<F, Fut>(
    tasks: &mut JoinSet<()>,
    queue: &Arc<Queue>,
    workers: usize,
    controller: &'static str,
    sync: F,
) where
    F: Fn(ObjectKey) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = SyncResult> + Send,
{
    for _ in 0..workers.max(1) {
        let queue = queue.clone();
        let sync = sync.clone();
        tasks.spawn(async move {
            loop {
                let key = queue.next().await;
                match sync(key.clone()).await {
                    Ok(()) => queue.forget(&key),
                    Err(SyncError::NotYet(why)) => {
                        tracing::debug!(target: TARGET, "{controller}: {key}: {why}");
                        queue.retry(key.clone());
                    }
                    Err(e) => {
                        tracing::warn!(target: TARGET, "{controller}: error syncing {key}, retrying: {e}");
                        queue.retry(key.clone());
                    }
                }
                queue.done(&key);
            }
        });
    }
}

/// Feeds every change of a shared informer to `handler`, until `tasks` is dropped.
fn on_change<K, F>(
    tasks: &mut JoinSet<()>,
    mut changes: mpsc::UnboundedReceiver<Change<K>>,
    mut handler: F,
) where
    K: Send + Sync + 'static,
    F: FnMut(Change<K>) + Send + 'static,
{
    tasks.spawn(async move {
        while let Some(change) = changes.recv().await {
            handler(change);
        }
    });
}

/// Holds a controller's tasks until the term ends, then drops (aborts) them.
async fn run_until_stopped(ctx: &Context, controller: &str, tasks: JoinSet<()>) {
    tracing::info!(target: TARGET, "Starting controller {controller}");
    ctx.stopped().await;
    drop(tasks);
    tracing::info!(target: TARGET, "Shutting down controller {controller}");
}

/// Runs `pass` every `period` until the term ends.
async fn every<F, Fut>(period: Duration, mut pass: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        pass().await;
    }
}

/// An ObjectReference to `object`, for Events and targetRefs.
fn reference<K: Resource<DynamicType = ()>>(object: &K) -> ObjectReference {
    let meta = object.meta();
    ObjectReference {
        api_version: Some(K::api_version(&()).into_owned()),
        kind: Some(K::kind(&()).into_owned()),
        namespace: meta.namespace.clone(),
        name: meta.name.clone(),
        uid: meta.uid.clone(),
        ..ObjectReference::default()
    }
}

/// The ownerReference a controller puts on what it makes (controller and blockOwnerDeletion).
fn controller_reference<K: Resource<DynamicType = ()>>(owner: &K) -> OwnerReference {
    let meta = owner.meta();
    OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: meta.name.clone().unwrap_or_default(),
        uid: meta.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// The owner marked as controller, if any.
fn controller_of(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> Option<&OwnerReference> {
    meta.owner_references
        .as_deref()?
        .iter()
        .find(|o| o.controller == Some(true))
}

/// Every object a cache holds, in all namespaces.
fn all<K: Resource>(cache: &crate::cache::Cache<K>) -> Vec<Arc<K>> {
    cache
        .read()
        .snapshot()
        .into_iter()
        .filter_map(|change| match change {
            Change::Applied { new, .. } => Some(new),
            _ => None,
        })
        .collect()
}

/// `now` at whole seconds, as the API stores Times (so comparisons with stored values hold).
fn now_seconds() -> Time {
    let now = jiff::Timestamp::now();
    Time(jiff::Timestamp::from_second(now.as_second()).unwrap_or(now))
}
