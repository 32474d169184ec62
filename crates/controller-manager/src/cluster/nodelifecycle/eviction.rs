//! Taint-based eviction (kube's TaintEvictionController, run here under node-controller's
//! account because hakube's bootstrap RBAC has no taint-eviction-controller role): a pod on a
//! node with a NoExecute taint it does not tolerate is deleted at once; one tolerating it for
//! tolerationSeconds is deleted when they run out, unless the taint goes first.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, ObjectReference, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use serde_json::json;
use tokio::task::JoinSet;

use super::decide::{self, Eviction};
use crate::cache::{Cache, Change};
use crate::cluster::{SyncError, SyncResult, TARGET, pods, taints};
use crate::context::Context;
use crate::events::Recorder;
use crate::informer::Informer;
use crate::queue::{ObjectKey, Queue};

struct TaintEviction {
    client: kube::Client,
    recorder: Recorder,
    nodes: Cache<Node>,
    pods: Cache<Pod>,
    /// Pods with a deletion scheduled, and since when it has been counting.
    scheduled: Mutex<HashMap<ObjectKey, Timestamp>>,
    queue: Arc<Queue>,
}

/// Starts taint-based eviction on `tasks`.
pub(super) fn start(
    tasks: &mut JoinSet<()>,
    ctx: &Context,
    client: kube::Client,
    nodes: &Informer<Node>,
    pods: &Informer<Pod>,
) {
    let controller = Arc::new(TaintEviction {
        recorder: ctx.recorder(client.clone(), "taint-eviction-controller"),
        client,
        nodes: nodes.cache(),
        pods: pods.cache(),
        scheduled: Mutex::new(HashMap::new()),
        queue: Queue::new(),
    });
    {
        // A node's NoExecute taints changing concerns every pod on it.
        let (queue, pods) = (controller.queue.clone(), pods.cache());
        crate::cluster::on_change(tasks, nodes.subscribe(), move |change| {
            let (old, new) = match &change {
                Change::Applied { old, new } => (old.as_deref(), Some(new.as_ref())),
                Change::Deleted(old) => (Some(old.as_ref()), None),
                Change::Synced => return,
            };
            let before = old.map(decide::no_execute_taints).unwrap_or_default();
            let after = new.map(decide::no_execute_taints).unwrap_or_default();
            if old.is_some() && before == after {
                return;
            }
            let name = new
                .or(old)
                .and_then(|n| n.metadata.name.clone())
                .unwrap_or_default();
            for pod in crate::cluster::all(&pods) {
                if pods::node_name(&pod) == name {
                    queue.add(ObjectKey::of(pod.as_ref()));
                }
            }
        });
    }
    {
        // A pod newly bound, or with new tolerations, is judged on its own.
        let queue = controller.queue.clone();
        crate::cluster::on_change(tasks, pods.subscribe(), move |change| match change {
            Change::Applied { old, new } => {
                let same = old.as_deref().is_some_and(|old| {
                    pods::node_name(old) == pods::node_name(&new)
                        && taints::pod_tolerations(old) == taints::pod_tolerations(&new)
                });
                if !same && !pods::node_name(&new).is_empty() {
                    queue.add(ObjectKey::of(new.as_ref()));
                }
            }
            Change::Deleted(old) => queue.add(ObjectKey::of(old.as_ref())),
            Change::Synced => {}
        });
    }
    let queue = controller.queue.clone();
    crate::cluster::spawn_workers(tasks, &queue, 4, "taint-eviction-controller", move |key| {
        let controller = controller.clone();
        async move { controller.sync(&key).await }
    });
}

impl TaintEviction {
    async fn sync(&self, key: &ObjectKey) -> SyncResult {
        let pod = self
            .pods
            .get(&key.namespace, &key.name)
            .filter(|p| !pods::is_terminating(p));
        let node = pod
            .as_ref()
            .and_then(|p| self.nodes.get("", pods::node_name(p)));
        let (Some(pod), Some(node)) = (pod, node) else {
            self.cancel(key).await;
            return Ok(());
        };
        let now = Timestamp::now();
        let since = self.scheduled().get(key).copied();
        let decision = decide::eviction(
            taints::pod_tolerations(&pod),
            &decide::no_execute_taints(&node),
            now,
            since,
        );
        match decision {
            Eviction::Keep => {
                self.cancel(key).await;
                Ok(())
            }
            Eviction::At { when, since } => {
                self.scheduled().insert(key.clone(), since);
                let wait = now.duration_until(when).unsigned_abs();
                self.queue.add_after(key.clone(), wait);
                Ok(())
            }
            Eviction::Now => {
                self.delete(key, &pod).await?;
                self.scheduled().remove(key);
                Ok(())
            }
        }
    }

    /// Drops a scheduled deletion, telling the pod's Events.
    async fn cancel(&self, key: &ObjectKey) {
        if self.scheduled().remove(key).is_some() {
            self.recorder
                .normal(
                    &pod_reference(key),
                    "TaintManagerEviction",
                    &format!("Cancelling deletion of Pod {key}"),
                )
                .await;
        }
    }

    /// Marks the pod as a disruption target, then deletes it.
    async fn delete(&self, key: &ObjectKey, pod: &Pod) -> SyncResult {
        tracing::info!(target: TARGET, "Deleting pod {key} (taint-eviction-controller)");
        self.recorder
            .normal(
                &pod_reference(key),
                "TaintManagerEviction",
                &format!("Marking for deletion Pod {key}"),
            )
            .await;
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &key.namespace);
        if pods::condition(pod, "DisruptionTarget").is_none_or(|c| c.status != "True") {
            let mut conditions = pod
                .status
                .as_ref()
                .and_then(|s| s.conditions.clone())
                .unwrap_or_default();
            conditions.retain(|c| c.type_ != "DisruptionTarget");
            conditions.push(k8s_openapi::api::core::v1::PodCondition {
                type_: "DisruptionTarget".into(),
                status: "True".into(),
                reason: Some("DeletionByTaintManager".into()),
                message: Some("Taint manager: deleting due to NoExecute taint".into()),
                last_transition_time: Some(crate::cluster::now_seconds()),
                ..Default::default()
            });
            let patch = json!({"status": {"conditions": conditions}});
            match api
                .patch_status(&key.name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => {}
                Err(e) if crate::cluster::is_not_found(&e) => return Ok(()),
                Err(e) => {
                    return Err(SyncError::api(
                        format!("marking pod {key} as a disruption target"),
                        e,
                    ));
                }
            }
        }
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: pod.metadata.uid.clone(),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match api.delete(&key.name, &params).await {
            Ok(_) => Ok(()),
            Err(e) if crate::cluster::is_not_found(&e) || crate::cluster::is_conflict(&e) => Ok(()),
            Err(e) => Err(SyncError::api(format!("deleting pod {key}"), e)),
        }
    }

    fn scheduled(&self) -> std::sync::MutexGuard<'_, HashMap<ObjectKey, Timestamp>> {
        self.scheduled.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn pod_reference(key: &ObjectKey) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Pod".into()),
        namespace: Some(key.namespace.clone()),
        name: Some(key.name.clone()),
        ..ObjectReference::default()
    }
}
