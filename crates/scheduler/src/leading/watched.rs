//! How the scheduling loop follows the watches: each node, pod, namespace and Service change
//! updates the snapshot and the queue, and changes that could help unschedulable pods send
//! those pods (only the ones a change concerns) back for another attempt.

use std::collections::HashSet;

use k8s_openapi::api::core::v1::{Namespace, Node, Pod, Service};
use tokio::time::Instant;
use tracing::info;

use super::{Known, Leading};
use crate::cache::Change;
use crate::snapshot::NodeChange;
use crate::status::{Plugin, PluginSet};

pub(super) fn pod_key(pod: &Pod) -> (String, String, String) {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    (format!("{ns}/{name}"), ns, name)
}

fn plugins(list: &[Plugin]) -> PluginSet {
    list.iter().copied().collect()
}

/// The plugins a freed slot (a pod deleted or finished) can help.
fn pod_gone() -> PluginSet {
    plugins(&[
        Plugin::NodeResourcesFit,
        Plugin::NodePorts,
        Plugin::InterPodAffinity,
    ])
}

/// The plugins a newly placed pod (or new pod labels) can help: affinity waiting for company.
pub(super) fn pod_placed() -> PluginSet {
    plugins(&[Plugin::InterPodAffinity])
}

fn node_changed(change: NodeChange) -> PluginSet {
    if change.added {
        return PluginSet::all();
    }
    let mut set = PluginSet::default();
    if change.labels {
        set.insert(Plugin::NodeAffinity);
        set.insert(Plugin::InterPodAffinity);
    }
    if change.taints {
        set.insert(Plugin::TaintToleration);
    }
    if change.unschedulable {
        set.insert(Plugin::NodeUnschedulable);
    }
    if change.allocatable {
        set.insert(Plugin::NodeResourcesFit);
    }
    set
}

impl Leading {
    pub(super) fn mark_synced(&mut self, watch: usize) {
        let was = self.synced();
        self.synced[watch] = true;
        if !was && self.synced() {
            info!(
                target: "kube-scheduler",
                nodes = self.snapshot.node_count(),
                pods = self.pods.len(),
                pending = self.queue.len(),
                "Caches are synced",
            );
        }
    }

    pub(super) fn nodes_changed(&mut self, change: Change<Node>, now: Instant) {
        match change {
            Change::Applied(node) => self.node_applied(&node, now),
            Change::Deleted(node) => {
                let name = node.metadata.name.unwrap_or_default();
                self.nodes.remove(&name);
                self.snapshot.remove_node(&name);
            }
            Change::Listed(nodes) => {
                let listed: HashSet<String> = nodes
                    .iter()
                    .filter_map(|n| n.metadata.name.clone())
                    .collect();
                for gone in self.nodes.difference(&listed).cloned().collect::<Vec<_>>() {
                    self.nodes.remove(&gone);
                    self.snapshot.remove_node(&gone);
                }
                for node in &nodes {
                    self.node_applied(node, now);
                }
                self.mark_synced(0);
            }
        }
    }

    fn node_applied(&mut self, node: &Node, now: Instant) {
        self.nodes
            .insert(node.metadata.name.clone().unwrap_or_default());
        let change = self.snapshot.upsert_node(node);
        if change.any() {
            self.queue.cluster_changed(node_changed(change), now);
        }
    }

    pub(super) fn pods_changed(&mut self, change: Change<Pod>, now: Instant) {
        match change {
            Change::Applied(pod) => self.pod_applied(*pod, now),
            Change::Deleted(pod) => {
                let (key, ns, name) = pod_key(&pod);
                self.pod_deleted(&key, &ns, &name, now);
            }
            Change::Listed(pods) => {
                let listed: HashSet<String> = pods.iter().map(|p| pod_key(p).0).collect();
                let gone: Vec<String> = self
                    .pods
                    .keys()
                    .filter(|k| !listed.contains(*k))
                    .cloned()
                    .collect();
                for key in gone {
                    let (ns, name) = key.split_once('/').unwrap_or_default();
                    let (ns, name) = (ns.to_string(), name.to_string());
                    self.pod_deleted(&key, &ns, &name, now);
                }
                for pod in pods {
                    self.pod_applied(pod, now);
                }
                self.mark_synced(1);
            }
        }
    }

    fn pod_applied(&mut self, pod: Pod, now: Instant) {
        let (key, ns, name) = pod_key(&pod);
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let node_name = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default();
        if self.pods.get(&key).is_some_and(|known| known.uid != uid) {
            // Deleted and recreated under the same name while the watch was away.
            self.pod_deleted(&key, &ns, &name, now);
        }
        self.pods.insert(
            key.clone(),
            Known {
                uid,
                bound: !node_name.is_empty(),
            },
        );
        if node_name.is_empty() {
            if self.assumed.contains_key(&key) {
                // Our binding is on its way; keep the assumption, take the newer object.
                if self.responsible(&pod) {
                    self.queue.upsert(pod, now);
                }
                return;
            }
            if self.responsible(&pod) {
                self.queue.upsert(pod, now);
            } else {
                self.queue.remove(&key);
            }
            return;
        }
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        let finished = matches!(
            pod.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        );
        let old = self.snapshot.upsert_pod(&pod);
        if !self.queue.in_flight(&key) {
            self.queue.remove(&key);
        }
        let helps = match &old {
            _ if finished => old.as_ref().map(|_| pod_gone()),
            None => Some(pod_placed()),
            Some(old) if old.labels != labels => Some(pod_placed()),
            Some(_) => None,
        };
        if let Some(plugins) = helps {
            self.queue.cluster_changed(plugins, now);
        }
    }

    fn pod_deleted(&mut self, key: &str, ns: &str, name: &str, now: Instant) {
        if let Some(known) = self.pods.remove(key) {
            self.recorder.forget(&known.uid);
        }
        self.queue.remove(key);
        self.assumed.remove(key);
        if self.snapshot.remove_pod(ns, name).is_some() {
            self.queue.cluster_changed(pod_gone(), now);
        }
    }

    pub(super) fn namespaces_changed(&mut self, change: Change<Namespace>, now: Instant) {
        let apply = |this: &mut Self, ns: &Namespace| {
            let name = ns.metadata.name.clone().unwrap_or_default();
            this.namespaces.insert(name.clone());
            if this
                .snapshot
                .set_namespace(&name, ns.metadata.labels.clone().unwrap_or_default())
            {
                this.queue.cluster_changed(pod_placed(), now);
            }
        };
        match change {
            Change::Applied(ns) => apply(self, &ns),
            Change::Deleted(ns) => {
                let name = ns.metadata.name.unwrap_or_default();
                self.namespaces.remove(&name);
                self.snapshot.remove_namespace(&name);
            }
            Change::Listed(list) => {
                let listed: HashSet<String> = list
                    .iter()
                    .filter_map(|n| n.metadata.name.clone())
                    .collect();
                for gone in self
                    .namespaces
                    .difference(&listed)
                    .cloned()
                    .collect::<Vec<_>>()
                {
                    self.namespaces.remove(&gone);
                    self.snapshot.remove_namespace(&gone);
                }
                for ns in &list {
                    apply(self, ns);
                }
                self.mark_synced(2);
            }
        }
    }

    pub(super) fn services_changed(&mut self, change: Change<Service>) {
        let key = |s: &Service| {
            (
                s.metadata.namespace.clone().unwrap_or_default(),
                s.metadata.name.clone().unwrap_or_default(),
            )
        };
        match change {
            Change::Applied(svc) => {
                let (ns, name) = key(&svc);
                self.services.insert(format!("{ns}/{name}"));
                self.snapshot
                    .set_service(&ns, &name, svc.spec.and_then(|s| s.selector));
            }
            Change::Deleted(svc) => {
                let (ns, name) = key(&svc);
                self.services.remove(&format!("{ns}/{name}"));
                self.snapshot.remove_service(&ns, &name);
            }
            Change::Listed(list) => {
                let listed: HashSet<String> = list
                    .iter()
                    .map(|s| {
                        let (ns, n) = key(s);
                        format!("{ns}/{n}")
                    })
                    .collect();
                for gone in self
                    .services
                    .difference(&listed)
                    .cloned()
                    .collect::<Vec<_>>()
                {
                    let (ns, name) = gone.split_once('/').unwrap_or_default();
                    self.snapshot.remove_service(ns, name);
                    self.services.remove(&gone);
                }
                for svc in list {
                    let (ns, name) = key(&svc);
                    self.services.insert(format!("{ns}/{name}"));
                    self.snapshot
                        .set_service(&ns, &name, svc.spec.and_then(|s| s.selector));
                }
                self.mark_synced(3);
            }
        }
    }
}
