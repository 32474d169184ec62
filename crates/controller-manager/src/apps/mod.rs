//! The workload controllers of the `apps` group: Deployments and ReplicaSets.

pub(crate) mod deployment;
pub(crate) mod expectations;
pub(crate) mod ownership;
pub(crate) mod pod;
pub(crate) mod replicaset;

use std::future::Future;
use std::sync::Arc;

use k8s_openapi::api::core::v1::ObjectReference;
use kube::Resource;
use tokio::task::JoinSet;

use crate::TARGET;
use crate::context::{Context, ControllerFn};
use crate::error::Result;
use crate::queue::{ObjectKey, Queue};

/// This module's controllers, under kube-controller-manager's `--controllers` names.
pub(crate) fn controllers() -> Vec<(&'static str, ControllerFn)> {
    vec![
        ("deployment", deployment::controller),
        ("replicaset", replicaset::controller),
    ]
}

/// A reference to `object` for its Events.
pub(crate) fn object_reference<K: Resource<DynamicType = ()>>(object: &K) -> ObjectReference {
    let meta = object.meta();
    ObjectReference {
        api_version: Some(K::api_version(&()).into_owned()),
        kind: Some(K::kind(&()).into_owned()),
        namespace: meta.namespace.clone(),
        name: meta.name.clone(),
        uid: meta.uid.clone(),
        resource_version: meta.resource_version.clone(),
        ..ObjectReference::default()
    }
}

/// The API server's own message for an error (what kube puts in Events and conditions).
pub(crate) fn api_message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => other.to_string(),
    }
}

/// The HTTP code of an API error, if it is one.
pub(crate) fn api_code(error: &kube::Error) -> Option<u16> {
    match error {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

/// Runs `workers` workers over `queue` until the context stops: each takes a key, syncs it,
/// and on failure queues it again with backoff. A conflict (a stale cache) is logged quietly: the
/// watch brings the newer version within milliseconds.
pub(crate) async fn run_workers<S, F>(
    ctx: &Context,
    controller: &'static str,
    queue: Arc<Queue>,
    workers: usize,
    sync: S,
) where
    S: Fn(ObjectKey) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Result<()>> + Send + 'static,
{
    let mut tasks = JoinSet::new();
    for _ in 0..workers.max(1) {
        let queue = queue.clone();
        let sync = sync.clone();
        tasks.spawn(async move {
            loop {
                let key = queue.next().await;
                match sync(key.clone()).await {
                    Ok(()) => queue.forget(&key),
                    Err(e) if e.is_conflict() => {
                        tracing::debug!(target: TARGET, controller, "conflict syncing {key}: {e}");
                        queue.retry(key.clone());
                    }
                    Err(e) => {
                        tracing::warn!(target: TARGET, controller, "error syncing {key}: {e}");
                        queue.retry(key.clone());
                    }
                }
                queue.done(&key);
            }
        });
    }
    ctx.stopped().await;
    tasks.abort_all();
}
