//! The disruption controller ("disruption", acting as disruption-controller): keeps each
//! PodDisruptionBudget's status (currentHealthy, desiredHealthy, expectedPods,
//! disruptionsAllowed, the DisruptionAllowed condition), which `kubectl get pdb` shows and the
//! API server's eviction checks.

mod budget;

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, PostParams};

use super::{SyncError, SyncResult};
use crate::cache::{Cache, Change};
use crate::context::Context;
use crate::events::Recorder;
use crate::queue::{ObjectKey, Queue};

/// The ServiceAccount the controller acts as.
const ACCOUNT: &str = "disruption-controller";

struct Controller {
    client: kube::Client,
    recorder: Recorder,
    budgets: Cache<PodDisruptionBudget>,
    pods: Cache<Pod>,
    replicasets: Cache<ReplicaSet>,
    deployments: Cache<Deployment>,
    statefulsets: Cache<StatefulSet>,
}

pub(super) async fn run(ctx: Context) {
    let Some(client) = ctx.client(ACCOUNT).await else {
        return;
    };
    let budgets = ctx.informer::<PodDisruptionBudget>();
    let pods = ctx.informer::<Pod>();
    let replicasets = ctx.informer::<ReplicaSet>();
    let deployments = ctx.informer::<Deployment>();
    let statefulsets = ctx.informer::<StatefulSet>();
    let queue = Queue::new();
    let mut tasks = tokio::task::JoinSet::new();
    {
        let queue = queue.clone();
        super::on_change(&mut tasks, budgets.subscribe(), move |change| {
            if let Change::Applied { new, .. } = change {
                queue.add(ObjectKey::of(new.as_ref()));
            }
        });
    }
    {
        // A pod counts for the budgets selecting it, before or after the change.
        let (queue, cache) = (queue.clone(), budgets.cache());
        super::on_change(&mut tasks, pods.subscribe(), move |change| {
            let (old, new) = match &change {
                Change::Applied { old, new } => (old.as_deref(), Some(new.as_ref())),
                Change::Deleted(old) => (Some(old.as_ref()), None),
                Change::Synced => return,
            };
            let Some(namespace) = new.or(old).and_then(|p| p.metadata.namespace.clone()) else {
                return;
            };
            let candidates: Vec<&Pod> = old.into_iter().chain(new).collect();
            for pdb in cache.list(&namespace) {
                if !budget::selected(&pdb, &candidates).is_empty() {
                    queue.add(ObjectKey::of(pdb.as_ref()));
                }
            }
        });
    }
    // Scaling a controller changes what budgets by percentage or maxUnavailable expect.
    for changes in [
        namespaces_of(&mut tasks, replicasets.subscribe()),
        namespaces_of(&mut tasks, deployments.subscribe()),
        namespaces_of(&mut tasks, statefulsets.subscribe()),
    ] {
        let (queue, cache) = (queue.clone(), budgets.cache());
        let mut changes = changes;
        tasks.spawn(async move {
            while let Some(namespace) = changes.recv().await {
                for pdb in cache.list(&namespace) {
                    if budget::needs_scale(&pdb) {
                        queue.add(ObjectKey::of(pdb.as_ref()));
                    }
                }
            }
        });
    }
    tokio::select! {
        () = async {
            budgets.synced().await;
            pods.synced().await;
            replicasets.synced().await;
            deployments.synced().await;
            statefulsets.synced().await;
        } => {}
        () = ctx.stopped() => return,
    }
    let controller = Arc::new(Controller {
        recorder: ctx.recorder(client.clone(), "controllermanager"),
        client,
        budgets: budgets.cache(),
        pods: pods.cache(),
        replicasets: replicasets.cache(),
        deployments: deployments.cache(),
        statefulsets: statefulsets.cache(),
    });
    super::spawn_workers(
        &mut tasks,
        &queue,
        ctx.settings().concurrent_syncs,
        "disruption",
        move |key| {
            let controller = controller.clone();
            async move { controller.sync(&key).await }
        },
    );
    super::run_until_stopped(&ctx, "disruption", tasks).await;
}

/// The namespaces of a controller kind's changes.
fn namespaces_of<K: kube::Resource + Send + Sync + 'static>(
    tasks: &mut tokio::task::JoinSet<()>,
    mut changes: tokio::sync::mpsc::UnboundedReceiver<Change<K>>,
) -> tokio::sync::mpsc::UnboundedReceiver<String> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tasks.spawn(async move {
        while let Some(change) = changes.recv().await {
            let namespace = match &change {
                Change::Applied { new, .. } => new.meta().namespace.clone(),
                Change::Deleted(old) => old.meta().namespace.clone(),
                Change::Synced => None,
            };
            if let Some(namespace) = namespace
                && tx.send(namespace).is_err()
            {
                return;
            }
        }
    });
    rx
}

impl Controller {
    async fn sync(&self, key: &ObjectKey) -> SyncResult {
        let Some(pdb) = self.budgets.get(&key.namespace, &key.name) else {
            return Ok(());
        };
        let pods = self.pods.list(&key.namespace);
        let candidates: Vec<&Pod> = pods.iter().map(Arc::as_ref).collect();
        let selected = budget::selected(&pdb, &candidates);
        if selected.is_empty() {
            self.recorder
                .normal(
                    &super::reference(pdb.as_ref()),
                    "NoPods",
                    "No matching pods found",
                )
                .await;
        }
        let scale = if budget::needs_scale(&pdb) {
            self.expected_scale(&selected)
        } else {
            Ok(selected.len() as i32)
        };
        if let Err(message) = &scale {
            self.recorder
                .warning(
                    &super::reference(pdb.as_ref()),
                    "CalculateExpectedPodCountFailed",
                    &format!("Failed to calculate the number of expected pods: {message}"),
                )
                .await;
        }
        let status = budget::status(&pdb, &selected, scale, &super::now_seconds());
        if pdb.status.as_ref() == Some(&status) {
            return Ok(());
        }
        let mut updated = pdb.as_ref().clone();
        updated.status = Some(status);
        let api: Api<PodDisruptionBudget> = Api::namespaced(self.client.clone(), &key.namespace);
        match api
            .replace_status(&key.name, &PostParams::default(), &updated)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if super::is_not_found(&e) => Ok(()),
            Err(e) if super::is_conflict(&e) => {
                Err(SyncError::NotYet(format!("budget {key} changed meanwhile")))
            }
            Err(e) => Err(SyncError::api(format!("updating budget {key} status"), e)),
        }
    }

    /// The replicas the selected pods' controllers want, each controller counted once: a
    /// ReplicaSet's Deployment (if it has one), else the ReplicaSet, or a StatefulSet.
    fn expected_scale(&self, pods: &[&Pod]) -> Result<i32, String> {
        let mut controllers: HashMap<String, i32> = HashMap::new();
        for pod in pods {
            let namespace = pod.metadata.namespace.as_deref().unwrap_or("");
            let name = pod.metadata.name.as_deref().unwrap_or("");
            let missing = || format!("found no controllers for pod {name:?}");
            let owner = super::controller_of(&pod.metadata).ok_or_else(missing)?;
            let (uid, replicas) = match owner.kind.as_str() {
                "ReplicaSet" => {
                    let rs = self
                        .replicasets
                        .get(namespace, &owner.name)
                        .ok_or_else(missing)?;
                    let deployment = super::controller_of(&rs.metadata)
                        .filter(|o| o.kind == "Deployment")
                        .and_then(|o| self.deployments.get(namespace, &o.name));
                    match deployment {
                        Some(d) => (
                            d.metadata.uid.clone().unwrap_or_default(),
                            d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                        ),
                        None => (
                            rs.metadata.uid.clone().unwrap_or_default(),
                            rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                        ),
                    }
                }
                "StatefulSet" => {
                    let sts = self
                        .statefulsets
                        .get(namespace, &owner.name)
                        .ok_or_else(missing)?;
                    (
                        sts.metadata.uid.clone().unwrap_or_default(),
                        sts.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                    )
                }
                _ => return Err(missing()),
            };
            controllers.insert(uid, replicas);
        }
        Ok(controllers.values().sum())
    }
}
