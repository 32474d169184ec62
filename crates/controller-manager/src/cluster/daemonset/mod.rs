//! The DaemonSet controller ("daemonset", acting as daemon-set-controller): one pod per eligible
//! node, pinned there by required node affinity on metadata.name so the scheduler binds it;
//! RollingUpdate under maxUnavailable (maxSurge is not implemented: it is taken as 0);
//! ControllerRevisions for `kubectl rollout history/undo`; and the DaemonSet's status.

mod plan;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::api::{Api, DeleteParams, PostParams, Preconditions};
use tokio::time::Instant;

use super::{SyncError, SyncResult, TARGET};
use crate::cache::{Cache, Change};
use crate::context::Context;
use crate::events::Recorder;
use crate::queue::{ObjectKey, Queue};

/// The ServiceAccount the controller acts as.
const ACCOUNT: &str = "daemon-set-controller";
/// How long creations and deletions the caches have not shown yet hold back the next changes
/// (kube's expectations; kube waits up to 5 minutes, the caches here lag milliseconds).
const EXPECTATION_TIMEOUT: Duration = Duration::from_secs(30);
/// kube's default revisionHistoryLimit.
const HISTORY_LIMIT: i32 = 10;

/// Writes issued but not yet seen in the caches.
#[derive(Default)]
struct Expectation {
    /// Nodes a pod was created for.
    creates: HashSet<String>,
    /// UIDs of pods deleted.
    deletes: HashSet<String>,
    since: Option<Instant>,
}

struct Controller {
    client: kube::Client,
    recorder: Recorder,
    daemonsets: Cache<DaemonSet>,
    nodes: Cache<Node>,
    pods: Cache<Pod>,
    revisions: Cache<ControllerRevision>,
    expectations: Mutex<HashMap<ObjectKey, Expectation>>,
}

pub(super) async fn run(ctx: Context) {
    let Some(client) = ctx.client(ACCOUNT).await else {
        return;
    };
    let daemonsets = ctx.informer::<DaemonSet>();
    let nodes = ctx.informer::<Node>();
    let pods = ctx.informer::<Pod>();
    let revisions = ctx.informer::<ControllerRevision>();
    let queue = Queue::new();
    let mut tasks = tokio::task::JoinSet::new();
    {
        let queue = queue.clone();
        super::on_change(
            &mut tasks,
            daemonsets.subscribe(),
            move |change| match change {
                Change::Applied { new, .. } => queue.add(ObjectKey::of(new.as_ref())),
                Change::Deleted(old) => queue.add(ObjectKey::of(old.as_ref())),
                Change::Synced => {}
            },
        );
    }
    {
        let queue = queue.clone();
        super::on_change(&mut tasks, pods.subscribe(), move |change| {
            let (old, new) = match &change {
                Change::Applied { old, new } => (old.as_deref(), Some(new.as_ref())),
                Change::Deleted(old) => (Some(old.as_ref()), None),
                Change::Synced => return,
            };
            for pod in old.into_iter().chain(new) {
                if let Some(key) = owner_key(pod) {
                    queue.add(key);
                }
            }
        });
    }
    {
        let (queue, daemonsets) = (queue.clone(), daemonsets.cache());
        super::on_change(&mut tasks, nodes.subscribe(), move |change| {
            let relevant = match &change {
                Change::Applied {
                    old: Some(old),
                    new,
                } => node_changed(old, new),
                Change::Applied { old: None, .. } | Change::Deleted(_) => true,
                Change::Synced => false,
            };
            if relevant {
                for ds in super::all(&daemonsets) {
                    queue.add(ObjectKey::of(ds.as_ref()));
                }
            }
        });
    }
    tokio::select! {
        () = async {
            daemonsets.synced().await;
            nodes.synced().await;
            pods.synced().await;
            revisions.synced().await;
        } => {}
        () = ctx.stopped() => return,
    }
    let controller = Arc::new(Controller {
        recorder: ctx.recorder(client.clone(), "daemonset-controller"),
        client,
        daemonsets: daemonsets.cache(),
        nodes: nodes.cache(),
        pods: pods.cache(),
        revisions: revisions.cache(),
        expectations: Mutex::new(HashMap::new()),
    });
    super::spawn_workers(
        &mut tasks,
        &queue,
        ctx.settings().concurrent_syncs,
        "daemonset",
        move |key| {
            let controller = controller.clone();
            async move { controller.sync(&key).await }
        },
    );
    super::run_until_stopped(&ctx, "daemonset", tasks).await;
}

/// The DaemonSet controlling a pod.
fn owner_key(pod: &Pod) -> Option<ObjectKey> {
    let owner = super::controller_of(&pod.metadata)?;
    (owner.kind == "DaemonSet" && owner.api_version.starts_with("apps/"))
        .then(|| ObjectKey::new(pod.metadata.namespace.as_deref().unwrap_or(""), &owner.name))
}

/// Whether a node update can change where daemons run (not the 10 s heartbeats).
fn node_changed(old: &Node, new: &Node) -> bool {
    let statuses = |n: &Node| -> Vec<(String, String)> {
        n.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .map(|c| {
                c.iter()
                    .map(|c| (c.type_.clone(), c.status.clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let spec = |n: &Node| n.spec.as_ref().map(|s| (s.taints.clone(), s.unschedulable));
    old.metadata.labels != new.metadata.labels
        || spec(old) != spec(new)
        || statuses(old) != statuses(new)
}

impl Controller {
    async fn sync(&self, key: &ObjectKey) -> SyncResult {
        let Some(ds) = self.daemonsets.get(&key.namespace, &key.name) else {
            self.expectations().remove(key);
            return Ok(());
        };
        if ds.metadata.deletion_timestamp.is_some() {
            return Ok(());
        }
        let uid = ds.metadata.uid.clone().unwrap_or_default();
        let owned = |meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
            super::controller_of(meta).is_some_and(|o| o.uid == uid)
        };
        let revisions: Vec<Arc<ControllerRevision>> = self
            .revisions
            .list(&key.namespace)
            .into_iter()
            .filter(|r| owned(&r.metadata))
            .collect();
        let hash = self.current_revision(&ds, &revisions).await?;
        let pods: Vec<Arc<Pod>> = self
            .pods
            .list(&key.namespace)
            .into_iter()
            .filter(|p| owned(&p.metadata))
            .collect();
        let pod_refs: Vec<&Pod> = pods.iter().map(Arc::as_ref).collect();
        let nodes = self.nodes.list("");
        let node_refs: Vec<&Node> = nodes.iter().map(Arc::as_ref).collect();
        let plan = plan::plan(&ds, &node_refs, &pod_refs, &hash, jiff::Timestamp::now());
        if self.satisfied(key, &pod_refs) {
            self.create_pods(key, &ds, &hash, &plan.create).await;
            self.delete_pods(key, &ds, &pods, &plan.delete).await;
        }
        self.update_status(&ds, plan.status).await?;
        self.truncate_history(&ds, &revisions, &pod_refs, &hash)
            .await;
        Ok(())
    }

    fn expectations(&self) -> std::sync::MutexGuard<'_, HashMap<ObjectKey, Expectation>> {
        self.expectations.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether every create and delete issued earlier shows in the caches (or took too long
    /// to), so a new plan does not act twice.
    fn satisfied(&self, key: &ObjectKey, pods: &[&Pod]) -> bool {
        let mut expectations = self.expectations();
        let Some(expectation) = expectations.get_mut(key) else {
            return true;
        };
        let present: HashSet<String> = pods.iter().filter_map(|p| plan::target_node(p)).collect();
        let alive: HashSet<&str> = pods
            .iter()
            .filter(|p| !super::pods::is_terminating(p))
            .filter_map(|p| p.metadata.uid.as_deref())
            .collect();
        expectation.creates.retain(|node| !present.contains(node));
        expectation
            .deletes
            .retain(|uid| alive.contains(uid.as_str()));
        let expired = expectation
            .since
            .is_some_and(|t| t.elapsed() > EXPECTATION_TIMEOUT);
        if expired || (expectation.creates.is_empty() && expectation.deletes.is_empty()) {
            expectations.remove(key);
            return true;
        }
        false
    }

    async fn create_pods(&self, key: &ObjectKey, ds: &DaemonSet, hash: &str, nodes: &[String]) {
        if nodes.is_empty() {
            return;
        }
        {
            let mut expectations = self.expectations();
            let expectation = expectations.entry(key.clone()).or_default();
            expectation.creates.extend(nodes.iter().cloned());
            expectation.since = Some(Instant::now());
        }
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &key.namespace);
        let creates = nodes.iter().map(|node| {
            let pod = plan::new_pod(ds, node, hash);
            let api = api.clone();
            async move { (node, api.create(&PostParams::default(), &pod).await) }
        });
        for (node, result) in futures::future::join_all(creates).await {
            match result {
                Ok(pod) => {
                    let name = pod.metadata.name.unwrap_or_default();
                    self.recorder
                        .normal(
                            &super::reference(ds),
                            "SuccessfulCreate",
                            &format!("Created pod: {name}"),
                        )
                        .await;
                }
                Err(e) => {
                    if let Some(expectation) = self.expectations().get_mut(key) {
                        expectation.creates.remove(node);
                    }
                    if !super::is_namespace_terminating(&e) {
                        self.recorder
                            .warning(
                                &super::reference(ds),
                                "FailedCreate",
                                &format!("Error creating: {e}"),
                            )
                            .await;
                    }
                }
            }
        }
    }

    async fn delete_pods(
        &self,
        key: &ObjectKey,
        ds: &DaemonSet,
        pods: &[Arc<Pod>],
        names: &[(String, &'static str)],
    ) {
        if names.is_empty() {
            return;
        }
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &key.namespace);
        for (name, why) in names {
            let Some(pod) = pods.iter().find(|p| p.metadata.name.as_ref() == Some(name)) else {
                continue;
            };
            let uid = pod.metadata.uid.clone().unwrap_or_default();
            {
                let mut expectations = self.expectations();
                let expectation = expectations.entry(key.clone()).or_default();
                expectation.deletes.insert(uid.clone());
                expectation.since = Some(Instant::now());
            }
            tracing::debug!(target: TARGET, "daemonset {key}: deleting {why} pod {name}");
            let params = DeleteParams {
                preconditions: Some(Preconditions {
                    uid: Some(uid.clone()),
                    resource_version: None,
                }),
                ..DeleteParams::default()
            };
            match api.delete(name, &params).await {
                Ok(_) => {
                    self.recorder
                        .normal(
                            &super::reference(ds),
                            "SuccessfulDelete",
                            &format!("Deleted pod: {name}"),
                        )
                        .await;
                }
                Err(e) if super::is_not_found(&e) || super::is_conflict(&e) => {
                    if let Some(expectation) = self.expectations().get_mut(key) {
                        expectation.deletes.remove(&uid);
                    }
                }
                Err(e) => {
                    if let Some(expectation) = self.expectations().get_mut(key) {
                        expectation.deletes.remove(&uid);
                    }
                    self.recorder
                        .warning(
                            &super::reference(ds),
                            "FailedDelete",
                            &format!("Error deleting: {e}"),
                        )
                        .await;
                }
            }
        }
    }

    /// The hash of the current template's revision, making (or renumbering) its
    /// ControllerRevision as needed.
    async fn current_revision(
        &self,
        ds: &DaemonSet,
        revisions: &[Arc<ControllerRevision>],
    ) -> Result<String, SyncError> {
        let template = ds
            .spec
            .as_ref()
            .map(|s| s.template.clone())
            .unwrap_or_default();
        let data = plan::revision_data(&template);
        let max = revisions.iter().map(|r| r.revision).max().unwrap_or(0);
        let namespace = ds.metadata.namespace.clone().unwrap_or_default();
        let api: Api<ControllerRevision> = Api::namespaced(self.client.clone(), &namespace);
        if let Some(existing) = revisions
            .iter()
            .find(|r| r.data.as_ref().map(|d| &d.0) == Some(&data))
        {
            let hash = existing
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(plan::REVISION_HASH_LABEL).cloned())
                .unwrap_or_else(|| plan::template_hash(&template, 0));
            if existing.revision < max {
                // Rolled back to an earlier template: it becomes the newest revision again.
                let mut renumbered = existing.as_ref().clone();
                renumbered.revision = max + 1;
                let name = renumbered.metadata.name.clone().unwrap_or_default();
                if let Err(e) = api
                    .replace(&name, &PostParams::default(), &renumbered)
                    .await
                    && !super::is_conflict(&e)
                {
                    return Err(SyncError::api(
                        format!("renumbering revision {namespace}/{name}"),
                        e,
                    ));
                }
            }
            return Ok(hash);
        }
        let collisions = ds
            .status
            .as_ref()
            .and_then(|s| s.collision_count)
            .unwrap_or(0);
        let hash = plan::template_hash(&template, collisions);
        let revision = ControllerRevision {
            metadata: plan::revision_meta(ds, &hash),
            data: Some(RawExtension(data)),
            revision: max + 1,
        };
        match api.create(&PostParams::default(), &revision).await {
            Ok(_) => Ok(hash),
            Err(e) if super::is_already_exists(&e) => Err(SyncError::NotYet(format!(
                "revision {namespace}/{} exists with other data (a hash collision or a stale cache)",
                revision.metadata.name.as_deref().unwrap_or("")
            ))),
            Err(e) if super::is_namespace_terminating(&e) => Ok(hash),
            Err(e) => Err(SyncError::api(
                format!("creating a revision for daemonset {namespace}"),
                e,
            )),
        }
    }

    async fn update_status(&self, ds: &DaemonSet, mut status: DaemonSetStatus) -> SyncResult {
        let current = ds.status.clone().unwrap_or_default();
        status.conditions = current.conditions.clone();
        if status == current {
            return Ok(());
        }
        let namespace = ds.metadata.namespace.clone().unwrap_or_default();
        let name = ds.metadata.name.clone().unwrap_or_default();
        let mut updated = ds.clone();
        updated.status = Some(status);
        let api: Api<DaemonSet> = Api::namespaced(self.client.clone(), &namespace);
        match api
            .replace_status(&name, &PostParams::default(), &updated)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if super::is_not_found(&e) => Ok(()),
            Err(e) if super::is_conflict(&e) => Err(SyncError::NotYet(format!(
                "daemonset {namespace}/{name} changed meanwhile"
            ))),
            Err(e) => Err(SyncError::api(
                format!("updating daemonset {namespace}/{name} status"),
                e,
            )),
        }
    }

    /// Deletes the oldest revisions past revisionHistoryLimit that no pod runs.
    async fn truncate_history(
        &self,
        ds: &DaemonSet,
        revisions: &[Arc<ControllerRevision>],
        pods: &[&Pod],
        hash: &str,
    ) {
        let limit = ds
            .spec
            .as_ref()
            .and_then(|s| s.revision_history_limit)
            .unwrap_or(HISTORY_LIMIT)
            .max(0) as usize;
        let live: HashSet<&str> = pods
            .iter()
            .filter_map(|p| {
                p.metadata
                    .labels
                    .as_ref()?
                    .get(plan::REVISION_HASH_LABEL)
                    .map(String::as_str)
            })
            .chain([hash])
            .collect();
        let mut old: Vec<&Arc<ControllerRevision>> = revisions
            .iter()
            .filter(|r| {
                let revision_hash = r
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(plan::REVISION_HASH_LABEL));
                !revision_hash.is_some_and(|h| live.contains(h.as_str()))
            })
            .collect();
        if old.len() <= limit {
            return;
        }
        old.sort_by_key(|r| r.revision);
        let api: Api<ControllerRevision> = Api::namespaced(
            self.client.clone(),
            ds.metadata.namespace.as_deref().unwrap_or(""),
        );
        for revision in &old[..old.len() - limit] {
            let name = revision.metadata.name.clone().unwrap_or_default();
            if let Err(e) = api.delete(&name, &DeleteParams::default()).await
                && !super::is_not_found(&e)
            {
                tracing::debug!(target: TARGET, "daemonset: deleting old revision {name}: {e}");
            }
        }
    }
}
