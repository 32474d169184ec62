//! The node lifecycle controller ("nodelifecycle", acting as node-controller): every
//! node-monitor-period it checks each node's heartbeats (Ready condition and kube-node-lease
//! Lease); a node silent for the grace period gets its conditions set to Unknown, its pods
//! marked not ready and the unreachable taints; Ready=False brings the not-ready taints; the
//! taints go once the node is Ready again. Taint-based eviction (`eviction.rs`) then deletes the
//! pods that do not tolerate a NoExecute taint.

mod decide;
mod eviction;
mod health;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, ObjectReference, Pod};
use kube::api::{Api, PostParams};

use super::{SyncError, SyncResult, TARGET};
use crate::Settings;
use crate::cache::{Cache, Change};
use crate::context::Context;
use crate::events::Recorder;
use crate::queue::{ObjectKey, Queue};
use health::Monitor;

/// The ServiceAccount the controller acts as.
const ACCOUNT: &str = "node-controller";
/// Where kubelets keep their heartbeat Leases.
const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";

struct Controller {
    client: kube::Client,
    recorder: Recorder,
    settings: Settings,
    nodes: Cache<Node>,
    leases: Cache<Lease>,
    pods: Cache<Pod>,
    monitor: Mutex<Monitor>,
    /// Nodes already announced with a RegisteredNode event.
    known: Mutex<HashSet<String>>,
    /// Nodes whose pods could not all be marked not ready; tried again next pass.
    retry_marking: Mutex<HashSet<String>>,
    /// Every node is down: no NoExecute taints (kube's "master disruption mode").
    disrupted: AtomicBool,
    taint_queue: Arc<Queue>,
}

pub(super) async fn run(ctx: Context) {
    let Some(client) = ctx.client(ACCOUNT).await else {
        return;
    };
    let nodes = ctx.informer::<Node>();
    let leases = ctx.informer::<Lease>();
    let pods = ctx.informer::<Pod>();
    let mut tasks = tokio::task::JoinSet::new();
    let controller = Arc::new(Controller {
        recorder: ctx.recorder(client.clone(), "node-controller"),
        client: client.clone(),
        settings: ctx.settings().clone(),
        nodes: nodes.cache(),
        leases: leases.cache(),
        pods: pods.cache(),
        monitor: Mutex::new(Monitor::default()),
        known: Mutex::new(HashSet::new()),
        retry_marking: Mutex::new(HashSet::new()),
        disrupted: AtomicBool::new(false),
        taint_queue: Queue::new(),
    });
    // Condition changes reported by kubelets (or cordons) retaint at once, not at the next pass.
    {
        let queue = controller.taint_queue.clone();
        super::on_change(&mut tasks, nodes.subscribe(), move |change| {
            if let Change::Applied { new, .. } = change {
                queue.add(ObjectKey::of(new.as_ref()));
            }
        });
    }
    tokio::select! {
        () = async { nodes.synced().await; leases.synced().await; pods.synced().await } => {}
        () = ctx.stopped() => return,
    }
    eviction::start(&mut tasks, &ctx, client, &nodes, &pods);
    {
        let controller = controller.clone();
        super::spawn_workers(
            &mut tasks,
            &controller.taint_queue.clone(),
            1,
            "nodelifecycle",
            move |key| {
                let controller = controller.clone();
                async move { controller.sync_taints(&key.name).await }
            },
        );
    }
    {
        let controller = controller.clone();
        let period = ctx.settings().node_monitor_period;
        tasks.spawn(super::every(period, move || {
            let controller = controller.clone();
            async move { controller.monitor_pass().await }
        }));
    }
    super::run_until_stopped(&ctx, "nodelifecycle", tasks).await;
}

fn node_reference(node: &Node) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Node".into()),
        name: node.metadata.name.clone(),
        uid: node.metadata.uid.clone(),
        ..ObjectReference::default()
    }
}

impl Controller {
    /// One look at every node's health (kube's monitorNodeHealth).
    async fn monitor_pass(&self) {
        let nodes = self.nodes.list("");
        self.announce(&nodes).await;
        let mut not_ready = 0;
        for node in &nodes {
            let name = node.metadata.name.clone().unwrap_or_default();
            let lease = self.leases.get(NODE_LEASE_NAMESPACE, &name);
            let verdict = self.monitor().observe(
                node,
                lease.as_deref(),
                jiff::Timestamp::now(),
                self.settings.node_monitor_grace_period,
                self.settings.node_startup_grace_period,
            );
            if let Some(status) = verdict.new_status {
                let mut silent = node.as_ref().clone();
                silent.status = Some(status);
                let api: Api<Node> = Api::all(self.client.clone());
                if let Err(e) = api
                    .replace_status(&name, &PostParams::default(), &silent)
                    .await
                {
                    tracing::warn!(target: TARGET, "Error updating node {name}: {e}");
                    continue;
                }
                tracing::info!(target: TARGET, "node {name} hasn't been updated for more than {:?}; marking its conditions Unknown",
                    self.settings.node_monitor_grace_period);
            }
            let current = verdict.current_ready.as_deref();
            if current != Some("True") {
                not_ready += 1;
            }
            let Some(current) = current else { continue };
            let retry = self.retry().contains(&name);
            let fell = verdict.observed_ready == "True" && current != "True";
            if fell {
                self.recorder
                    .normal(
                        &node_reference(node),
                        "NodeNotReady",
                        &format!("Node {name} status is now: NodeNotReady"),
                    )
                    .await;
            }
            if fell || (retry && current != "True") {
                if self.mark_pods_not_ready(&name).await {
                    self.retry().remove(&name);
                } else {
                    self.retry().insert(name.clone());
                }
            } else if current == "True" {
                self.retry().remove(&name);
            }
        }
        self.judge_disruption(&nodes, not_ready);
        for node in &nodes {
            self.taint_queue.add(ObjectKey::of(node.as_ref()));
        }
    }

    /// RegisteredNode / RemovingNode events, and forgetting the health of deleted nodes.
    async fn announce(&self, nodes: &[Arc<Node>]) {
        let names: HashSet<String> = nodes
            .iter()
            .filter_map(|n| n.metadata.name.clone())
            .collect();
        let (added, removed) = {
            let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
            let added: Vec<String> = names.difference(&known).cloned().collect();
            let removed: Vec<String> = known.difference(&names).cloned().collect();
            *known = names;
            (added, removed)
        };
        for name in removed {
            self.monitor().forget(&name);
            self.retry().remove(&name);
            let node = ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Node".into()),
                name: Some(name.clone()),
                ..ObjectReference::default()
            };
            self.recorder
                .normal(
                    &node,
                    "RemovingNode",
                    &format!("Node {name} event: Removing Node {name} from Controller"),
                )
                .await;
        }
        for name in added {
            if let Some(node) = nodes
                .iter()
                .find(|n| n.metadata.name.as_deref() == Some(&name))
            {
                self.recorder
                    .normal(
                        &node_reference(node),
                        "RegisteredNode",
                        &format!("Node {name} event: Registered Node {name} in Controller"),
                    )
                    .await;
            }
        }
    }

    /// Every node down at once is more likely the control plane's own trouble than the nodes':
    /// evicting everything would make it worse, so NoExecute taints stop until one is back.
    fn judge_disruption(&self, nodes: &[Arc<Node>], not_ready: usize) {
        let all_down = !nodes.is_empty() && not_ready == nodes.len();
        let was = self.disrupted.swap(all_down, Ordering::SeqCst);
        if all_down && !was {
            tracing::warn!(target: TARGET, "Controller detected that all Nodes are not-Ready. Entering master disruption mode");
        }
        if !all_down && was {
            tracing::info!(target: TARGET, "Controller detected that some Nodes are Ready. Exiting master disruption mode");
            // Every node gets a fresh grace period, as it may have been cut off by the same
            // trouble.
            let now = jiff::Timestamp::now();
            let mut monitor = self.monitor();
            for node in nodes {
                monitor.refresh(node.metadata.name.as_deref().unwrap_or(""), now);
            }
        }
    }

    /// Sets Ready=False on every pod of `node` (so endpoints drop them). Whether all succeeded.
    async fn mark_pods_not_ready(&self, node: &str) -> bool {
        let now = super::now_seconds();
        let mut all = true;
        for pod in super::all(&self.pods) {
            if super::pods::node_name(&pod) != node {
                continue;
            }
            let Some(status) = decide::not_ready_status(&pod, &now) else {
                continue;
            };
            let namespace = pod.metadata.namespace.clone().unwrap_or_default();
            let name = pod.metadata.name.clone().unwrap_or_default();
            let api: Api<Pod> = Api::namespaced(self.client.clone(), &namespace);
            let mut updated = pod.as_ref().clone();
            updated.status = Some(status);
            match api
                .replace_status(&name, &PostParams::default(), &updated)
                .await
            {
                Ok(_) => {
                    self.recorder
                        .warning(
                            &super::reference(pod.as_ref()),
                            "NodeNotReady",
                            "Node is not ready",
                        )
                        .await;
                }
                Err(e) if super::is_not_found(&e) => {}
                Err(e) => {
                    tracing::info!(target: TARGET, "Failed to update status for pod {namespace}/{name}: {e}");
                    all = false;
                }
            }
        }
        all
    }

    /// Brings one node's taints in line with its conditions (read fresh: the write is guarded by
    /// its resourceVersion).
    async fn sync_taints(&self, name: &str) -> SyncResult {
        let api: Api<Node> = Api::all(self.client.clone());
        let Some(mut node) = api
            .get_opt(name)
            .await
            .map_err(|e| SyncError::api(format!("getting node {name}"), e))?
        else {
            return Ok(());
        };
        let evictions = !self.disrupted.load(Ordering::SeqCst);
        let Some(taints) = decide::desired_taints(&node, evictions, &super::now_seconds()) else {
            return Ok(());
        };
        node.spec.get_or_insert_with(Default::default).taints = Some(taints);
        match api.replace(name, &PostParams::default(), &node).await {
            Ok(_) => Ok(()),
            Err(e) if super::is_conflict(&e) => {
                Err(SyncError::NotYet(format!("node {name} changed meanwhile")))
            }
            Err(e) if super::is_not_found(&e) => Ok(()),
            Err(e) => Err(SyncError::api(format!("tainting node {name}"), e)),
        }
    }

    fn monitor(&self) -> std::sync::MutexGuard<'_, Monitor> {
        self.monitor.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn retry(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.retry_marking.lock().unwrap_or_else(|p| p.into_inner())
    }
}
