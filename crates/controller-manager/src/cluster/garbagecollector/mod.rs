//! The garbage collector ("garbagecollector", acting as generic-garbage-collector): watches the
//! metadata of every deletable resource the API serves (found through discovery, refreshed every
//! 30 s), keeps the ownerReferences graph (`graph.rs`), and deletes dependents whose owners are
//! all gone (background), deletes the dependents of an owner deleting in the foreground before
//! dropping its `foregroundDeletion` finalizer, and orphans the dependents of an owner carrying
//! the `orphan` finalizer before dropping that.

mod decide;
mod graph;
mod monitors;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{
    Api, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions, PropagationPolicy,
};
use kube::discovery::ApiResource;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinSet};

use super::{SyncError, SyncResult, TARGET};
use crate::context::Context;
use crate::queue::{ObjectKey, Queue};
use decide::Action;
use graph::{FOREGROUND, Graph, Node, ORPHAN, OwnerState, Task};

/// The ServiceAccount the collector acts as.
const ACCOUNT: &str = "generic-garbage-collector";
/// How often the served resources are discovered again (kube: 30 s).
const REDISCOVERY: Duration = Duration::from_secs(30);
/// How long the first pass waits for every monitor to list before it starts anyway.
const SYNC_WAIT: Duration = Duration::from_secs(60);
/// Resources never collected: Events come and go by TTL, and are many.
const IGNORED: [(&str, &str); 2] = [("", "events"), ("events.k8s.io", "events")];
/// The queue keys name their task in the namespace slot ("attempt/<uid>", "orphan/<uid>"),
/// since the queue is keyed by ObjectKey.
const ATTEMPT: &str = "attempt";
const ORPHANING: &str = "orphan";

/// The served kinds, to reach an owner named by apiVersion and kind.
#[derive(Default)]
struct Kinds {
    by_kind: HashMap<(String, String), (ApiResource, bool)>,
}

struct Collector {
    client: kube::Client,
    graph: Mutex<Graph>,
    kinds: RwLock<Kinds>,
    queue: Arc<Queue>,
}

/// One watched resource: its task and whether it has listed once.
struct Monitor {
    task: AbortHandle,
    synced: watch::Receiver<bool>,
}

fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

fn task_key(task: Task) -> ObjectKey {
    match task {
        Task::Attempt(uid) => ObjectKey::new(ATTEMPT, &uid),
        Task::Orphan(uid) => ObjectKey::new(ORPHANING, &uid),
    }
}

pub(super) async fn run(ctx: Context) {
    let Some(client) = ctx.client(ACCOUNT).await else {
        return;
    };
    let collector = Arc::new(Collector {
        client,
        graph: Mutex::new(Graph::default()),
        kinds: RwLock::new(Kinds::default()),
        queue: Queue::new(),
    });
    let mut tasks = JoinSet::new();
    let mut monitors: HashMap<(String, String), Monitor> = HashMap::new();
    // The first discovery is retried until it works: nothing can be collected without it.
    loop {
        match collector.discover().await {
            Ok(found) => {
                collector.sync_monitors(&mut tasks, &mut monitors, found);
                break;
            }
            Err(e) => {
                tracing::warn!(target: TARGET, "garbage collector: discovery failed, retrying: {e}");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(5)) => {}
                    () = ctx.stopped() => return,
                }
            }
        }
    }
    let waits: Vec<watch::Receiver<bool>> = monitors.values().map(|m| m.synced.clone()).collect();
    let all_synced = futures::future::join_all(waits.into_iter().map(|mut synced| async move {
        let _ = synced.wait_for(|s| *s).await;
    }));
    tokio::select! {
        _ = tokio::time::timeout(SYNC_WAIT, all_synced) => {}
        () = ctx.stopped() => return,
    }
    tracing::info!(target: TARGET, "garbage collector: all resource monitors have synced ({} objects)",
        collector.graph().len());
    // Objects whose owners were never seen are checked once the graph is whole.
    {
        let graph = collector.graph();
        for uid in graph.with_unknown_owners() {
            collector.queue.add(task_key(Task::Attempt(uid)));
        }
        for uid in graph.virtual_nodes() {
            collector.queue.add(task_key(Task::Attempt(uid)));
        }
    }
    {
        let collector = collector.clone();
        let workers = ctx.settings().concurrent_syncs.max(1) * 4;
        let queue = collector.queue.clone();
        super::spawn_workers(
            &mut tasks,
            &queue,
            workers,
            "garbagecollector",
            move |key| {
                let collector = collector.clone();
                async move { collector.sync(&key).await }
            },
        );
    }
    tracing::info!(target: TARGET, "Starting controller garbagecollector");
    loop {
        tokio::select! {
            () = tokio::time::sleep(REDISCOVERY) => {}
            () = ctx.stopped() => break,
        }
        match collector.discover().await {
            Ok(found) => collector.sync_monitors(&mut tasks, &mut monitors, found),
            Err(e) => tracing::debug!(target: TARGET, "garbage collector: rediscovery failed: {e}"),
        }
    }
    drop(tasks);
    tracing::info!(target: TARGET, "Shutting down controller garbagecollector");
}

impl Collector {
    fn graph(&self) -> std::sync::MutexGuard<'_, Graph> {
        self.graph.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn enqueue(&self, tasks: Vec<Task>) {
        for task in tasks {
            self.queue.add(task_key(task));
        }
    }

    /// The API for objects of `api_version`/`kind` in `namespace`, and whether the kind is
    /// namespaced. `None` when the kind is not served.
    fn api_for(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
    ) -> Option<(Api<DynamicObject>, bool)> {
        let kinds = self.kinds.read().unwrap_or_else(|p| p.into_inner());
        let (resource, namespaced) = kinds
            .by_kind
            .get(&(group_of(api_version).to_string(), kind.to_string()))?;
        let api = match (namespaced, namespace) {
            (true, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, resource),
            _ => Api::all_with(self.client.clone(), resource),
        };
        Some((api, *namespaced))
    }

    async fn sync(&self, key: &ObjectKey) -> SyncResult {
        match key.namespace.as_str() {
            ATTEMPT => self.attempt(&key.name).await,
            ORPHANING => self.orphan(&key.name).await,
            _ => Ok(()),
        }
    }

    async fn attempt(&self, uid: &str) -> SyncResult {
        let Some(node) = self.graph().node(uid).cloned() else {
            return Ok(());
        };
        if !node.observed {
            return self.settle_virtual(&node).await;
        }
        if node.deleting_dependents() {
            return self.finish_foreground(&node).await;
        }
        if node.deleting || node.owners.is_empty() {
            return Ok(());
        }
        let mut states = Vec::with_capacity(node.owners.len());
        for owner in &node.owners {
            let known = self.graph().owner_state(owner);
            let state = match known {
                OwnerState::Unknown => {
                    self.look_up(owner, node.identity.namespace.as_deref())
                        .await?
                }
                state => state,
            };
            states.push((owner.clone(), state));
        }
        match decide::attempt(&node, &states) {
            Action::Nothing => Ok(()),
            Action::Delete(policy) => self.delete(&node, policy).await,
            Action::SetOwners(owners) => self.set_owners(&node, owners).await,
        }
    }

    /// What an owner the graph does not know is, asked of the API server.
    async fn look_up(
        &self,
        owner: &OwnerReference,
        namespace: Option<&str>,
    ) -> Result<OwnerState, SyncError> {
        let Some((api, namespaced)) = self.api_for(&owner.api_version, &owner.kind, namespace)
        else {
            // A kind not served (yet): never delete on a guess.
            tracing::debug!(target: TARGET, "garbage collector: owner kind {} {} is not served", owner.api_version, owner.kind);
            return Ok(OwnerState::Solid);
        };
        if namespaced && namespace.is_none() {
            // A cluster-scoped object cannot be owned by a namespaced one.
            self.enqueue(self.graph().mark_absent(&owner.uid));
            return Ok(OwnerState::Dangling);
        }
        let found = api.get_metadata_opt(&owner.name).await.map_err(|e| {
            SyncError::api(format!("looking up owner {} {}", owner.kind, owner.name), e)
        })?;
        match found {
            Some(meta) if meta.metadata.uid.as_deref() == Some(owner.uid.as_str()) => {
                let foreground = meta.metadata.deletion_timestamp.is_some()
                    && meta
                        .metadata
                        .finalizers
                        .iter()
                        .flatten()
                        .any(|f| f == FOREGROUND);
                Ok(if foreground {
                    OwnerState::Waiting
                } else {
                    OwnerState::Solid
                })
            }
            _ => {
                let tasks = self.graph().mark_absent(&owner.uid);
                self.enqueue(tasks);
                Ok(OwnerState::Dangling)
            }
        }
    }

    /// A virtual owner: found to exist (nothing to do) or absent (its dependents are looked at).
    async fn settle_virtual(&self, node: &Node) -> SyncResult {
        let owner = OwnerReference {
            api_version: node.identity.api_version.clone(),
            kind: node.identity.kind.clone(),
            name: node.identity.name.clone(),
            uid: node.identity.uid.clone(),
            ..OwnerReference::default()
        };
        self.look_up(&owner, node.identity.namespace.as_deref())
            .await?;
        Ok(())
    }

    /// An owner deleting in the foreground: its finalizer goes once no dependent blocks it.
    async fn finish_foreground(&self, node: &Node) -> SyncResult {
        let blocking: Vec<(String, bool)> = self
            .graph()
            .blocking_dependents(&node.identity.uid)
            .iter()
            .map(|d| (d.identity.uid.clone(), d.deleting_dependents()))
            .collect();
        if blocking.is_empty() {
            return self.remove_finalizer(node, FOREGROUND).await;
        }
        for (uid, deleting_dependents) in blocking {
            if !deleting_dependents {
                self.queue.add(task_key(Task::Attempt(uid)));
            }
        }
        Ok(())
    }

    /// Orphans an owner's dependents, then drops its `orphan` finalizer.
    async fn orphan(&self, uid: &str) -> SyncResult {
        let Some(node) = self.graph().node(uid).cloned().filter(Node::orphaning) else {
            return Ok(());
        };
        let dependents: Vec<Node> = {
            let graph = self.graph();
            node.dependents
                .iter()
                .filter_map(|d| graph.node(d).cloned())
                .filter(|d| d.observed)
                .collect()
        };
        for dependent in dependents {
            let owners: Vec<OwnerReference> = dependent
                .owners
                .iter()
                .filter(|o| o.uid != uid)
                .cloned()
                .collect();
            if owners.len() != dependent.owners.len() {
                self.set_owners(&dependent, owners).await?;
            }
        }
        self.remove_finalizer(&node, ORPHAN).await
    }

    fn api_of(&self, node: &Node) -> Result<Api<DynamicObject>, SyncError> {
        let identity = &node.identity;
        self.api_for(
            &identity.api_version,
            &identity.kind,
            identity.namespace.as_deref(),
        )
        .map(|(api, _)| api)
        .ok_or_else(|| {
            SyncError::NotYet(format!(
                "{} {} is not served",
                identity.api_version, identity.kind
            ))
        })
    }

    fn describe(node: &Node) -> String {
        let id = &node.identity;
        match &id.namespace {
            Some(ns) => format!("{} {}/{} ({})", id.kind, ns, id.name, id.uid),
            None => format!("{} {} ({})", id.kind, id.name, id.uid),
        }
    }

    async fn delete(&self, node: &Node, policy: &str) -> SyncResult {
        let api = self.api_of(node)?;
        tracing::info!(target: TARGET, "garbage collector: deleting {} with propagationPolicy={policy}", Self::describe(node));
        let params = DeleteParams {
            propagation_policy: Some(match policy {
                "Orphan" => PropagationPolicy::Orphan,
                "Foreground" => PropagationPolicy::Foreground,
                _ => PropagationPolicy::Background,
            }),
            preconditions: Some(Preconditions {
                uid: Some(node.identity.uid.clone()),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match api.delete(&node.identity.name, &params).await {
            Ok(_) => Ok(()),
            Err(e) if super::is_not_found(&e) || super::is_conflict(&e) => Ok(()),
            Err(e) => Err(SyncError::api(
                format!("deleting {}", Self::describe(node)),
                e,
            )),
        }
    }

    /// A merge patch of the object's metadata, guarded by the resourceVersion last seen.
    async fn patch_metadata(&self, node: &Node, metadata: Value) -> SyncResult {
        let api = self.api_of(node)?;
        let mut metadata = metadata;
        if let Some(rv) = &node.resource_version {
            metadata["resourceVersion"] = json!(rv);
        }
        match api
            .patch(
                &node.identity.name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "metadata": metadata })),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if super::is_not_found(&e) => Ok(()),
            Err(e) if super::is_conflict(&e) => Err(SyncError::NotYet(format!(
                "{} changed meanwhile",
                Self::describe(node)
            ))),
            Err(e) => Err(SyncError::api(
                format!("patching {}", Self::describe(node)),
                e,
            )),
        }
    }

    async fn set_owners(&self, node: &Node, owners: Vec<OwnerReference>) -> SyncResult {
        tracing::info!(target: TARGET, "garbage collector: updating the ownerReferences of {}", Self::describe(node));
        let owners = if owners.is_empty() {
            Value::Null
        } else {
            json!(owners)
        };
        self.patch_metadata(node, json!({ "ownerReferences": owners }))
            .await
    }

    async fn remove_finalizer(&self, node: &Node, finalizer: &str) -> SyncResult {
        if !node.finalizers.iter().any(|f| f == finalizer) {
            return Ok(());
        }
        let left: Vec<&String> = node.finalizers.iter().filter(|f| *f != finalizer).collect();
        let left = if left.is_empty() {
            Value::Null
        } else {
            json!(left)
        };
        tracing::info!(target: TARGET, "garbage collector: removing the {finalizer} finalizer of {}", Self::describe(node));
        self.patch_metadata(node, json!({ "finalizers": left }))
            .await
    }
}
