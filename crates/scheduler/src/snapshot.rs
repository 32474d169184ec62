//! The scheduler's view of the cluster: every node with the pods bound (or assumed) to it and
//! what they use, plus the namespace labels and Service selectors that affinity and spreading
//! read. The IO side keeps one `Snapshot` up to date from watches; decisions only read it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod, Taint};

use crate::pod_info::{HostPort, PodInfo};
use crate::resources::Resources;

/// The parts of a Node the scheduler reads.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSpec {
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    pub unschedulable: bool,
    pub allocatable: Resources,
}

impl NodeSpec {
    pub fn new(node: &Node) -> NodeSpec {
        let spec = node.spec.as_ref();
        NodeSpec {
            labels: node.metadata.labels.clone().unwrap_or_default(),
            taints: spec.and_then(|s| s.taints.clone()).unwrap_or_default(),
            unschedulable: spec.and_then(|s| s.unschedulable).unwrap_or(false),
            allocatable: Resources::allocatable(node),
        }
    }
}

/// What changed when a node was added or updated, so the queue only retries pods that the
/// change could help.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeChange {
    pub added: bool,
    pub labels: bool,
    pub taints: bool,
    pub unschedulable: bool,
    pub allocatable: bool,
}

impl NodeChange {
    pub fn any(self) -> bool {
        self.added || self.labels || self.taints || self.unschedulable || self.allocatable
    }
}

/// One node and what is placed on it.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    pub name: String,
    /// `None` while pods name a node the scheduler has not seen (or no longer sees).
    pub spec: Option<NodeSpec>,
    pub pods: Vec<Arc<PodInfo>>,
    /// The sum of the pods' requests.
    pub requested: Resources,
    /// The sum of the pods' non-zero CPU and memory requests, for scoring.
    pub non_zero_milli_cpu: i64,
    pub non_zero_memory: i64,
    /// Host ports in use, with how many pods claim each.
    pub used_ports: HashMap<HostPort, usize>,
}

impl NodeInfo {
    fn empty(name: &str) -> NodeInfo {
        NodeInfo {
            name: name.to_string(),
            spec: None,
            pods: Vec::new(),
            requested: Resources::default(),
            non_zero_milli_cpu: 0,
            non_zero_memory: 0,
            used_ports: HashMap::new(),
        }
    }

    /// A node with no pods (useful to tests and benchmarks).
    pub fn with_spec(name: &str, spec: NodeSpec) -> NodeInfo {
        NodeInfo {
            spec: Some(spec),
            ..NodeInfo::empty(name)
        }
    }

    pub fn labels(&self) -> &BTreeMap<String, String> {
        static EMPTY: BTreeMap<String, String> = BTreeMap::new();
        self.spec.as_ref().map(|s| &s.labels).unwrap_or(&EMPTY)
    }

    pub fn add_pod(&mut self, pod: Arc<PodInfo>) {
        self.requested.add(&pod.requests.requests);
        self.non_zero_milli_cpu += pod.requests.non_zero_milli_cpu;
        self.non_zero_memory += pod.requests.non_zero_memory;
        for p in &pod.host_ports {
            *self.used_ports.entry(p.clone()).or_default() += 1;
        }
        self.pods.push(pod);
    }

    /// Removes the pod with this namespace and name; returns it if it was here.
    pub fn remove_pod(&mut self, namespace: &str, name: &str) -> Option<Arc<PodInfo>> {
        let at = self
            .pods
            .iter()
            .position(|p| p.namespace == namespace && p.name == name)?;
        let pod = self.pods.swap_remove(at);
        self.requested.subtract(&pod.requests.requests);
        self.non_zero_milli_cpu -= pod.requests.non_zero_milli_cpu;
        self.non_zero_memory -= pod.requests.non_zero_memory;
        for p in &pod.host_ports {
            if let Some(count) = self.used_ports.get_mut(p) {
                *count -= 1;
                if *count == 0 {
                    self.used_ports.remove(p);
                }
            }
        }
        Some(pod)
    }
}

/// A Service's selector, for spreading its pods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSelector {
    pub namespace: String,
    pub selector: BTreeMap<String, String>,
}

/// The cluster as the scheduler sees it.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// By name, so every pass over the nodes goes in the same order.
    nodes: BTreeMap<String, NodeInfo>,
    /// Where each placed pod is, by `namespace/name`.
    placements: HashMap<String, String>,
    namespaces: HashMap<String, BTreeMap<String, String>>,
    services: BTreeMap<String, ServiceSelector>,
}

static NO_LABELS: BTreeMap<String, String> = BTreeMap::new();

impl Snapshot {
    /// A snapshot of these nodes and pods; pods that are not bound to a node, or have
    /// finished, are left out.
    pub fn new(nodes: impl IntoIterator<Item = Node>, pods: impl IntoIterator<Item = Pod>) -> Self {
        let mut snapshot = Snapshot::default();
        for node in nodes {
            snapshot.upsert_node(&node);
        }
        for pod in pods {
            snapshot.upsert_pod(&pod);
        }
        snapshot
    }

    /// Adds or updates a node and says what changed.
    pub fn upsert_node(&mut self, node: &Node) -> NodeChange {
        let name = node.metadata.name.clone().unwrap_or_default();
        let spec = NodeSpec::new(node);
        let info = self
            .nodes
            .entry(name.clone())
            .or_insert_with(|| NodeInfo::empty(&name));
        let change = match &info.spec {
            None => NodeChange {
                added: true,
                ..NodeChange::default()
            },
            Some(old) => NodeChange {
                added: false,
                labels: old.labels != spec.labels,
                taints: old.taints != spec.taints,
                unschedulable: old.unschedulable != spec.unschedulable,
                allocatable: old.allocatable != spec.allocatable,
            },
        };
        info.spec = Some(spec);
        change
    }

    /// Forgets a node; pods still bound to it stay accounted until they go.
    pub fn remove_node(&mut self, name: &str) {
        if let Some(info) = self.nodes.get_mut(name) {
            info.spec = None;
            if info.pods.is_empty() {
                self.nodes.remove(name);
            }
        }
    }

    /// Adds or updates a bound pod; a pod that is not bound or has finished is removed
    /// instead. Returns the pod's previous info, if it was placed.
    pub fn upsert_pod(&mut self, pod: &Pod) -> Option<Arc<PodInfo>> {
        let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        let node_name = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .unwrap_or_default();
        let finished = matches!(
            pod.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        );
        let old = self.remove_pod(namespace, name);
        if !node_name.is_empty() && !finished {
            self.place(Arc::new(PodInfo::new(pod)));
        }
        old
    }

    /// Places a pod on the node its `node_name` names; the scheduler "assumes" a pod this way
    /// as soon as it decides, before the binding is written.
    pub fn place(&mut self, pod: Arc<PodInfo>) {
        let key = pod.key();
        if let Some(node) = self.placements.get(&key).cloned()
            && let Some(info) = self.nodes.get_mut(&node)
        {
            info.remove_pod(&pod.namespace, &pod.name);
        }
        let node = pod.node_name.clone();
        self.placements.insert(key, node.clone());
        self.nodes
            .entry(node.clone())
            .or_insert_with(|| NodeInfo::empty(&node))
            .add_pod(pod);
    }

    /// Takes a pod off its node; returns it if it was placed.
    pub fn remove_pod(&mut self, namespace: &str, name: &str) -> Option<Arc<PodInfo>> {
        let node = self.placements.remove(&format!("{namespace}/{name}"))?;
        let info = self.nodes.get_mut(&node)?;
        let pod = info.remove_pod(namespace, name);
        if info.spec.is_none() && info.pods.is_empty() {
            self.nodes.remove(&node);
        }
        pod
    }

    /// The pod placed under this key, if any.
    pub fn placed(&self, namespace: &str, name: &str) -> Option<&Arc<PodInfo>> {
        let node = self.placements.get(&format!("{namespace}/{name}"))?;
        self.nodes
            .get(node)?
            .pods
            .iter()
            .find(|p| p.namespace == namespace && p.name == name)
    }

    /// Records a namespace's labels (namespace selectors in affinity terms read them); says
    /// whether they changed.
    pub fn set_namespace(&mut self, name: &str, labels: BTreeMap<String, String>) -> bool {
        self.namespaces.insert(name.to_string(), labels.clone()) != Some(labels)
    }

    pub fn remove_namespace(&mut self, name: &str) {
        self.namespaces.remove(name);
    }

    pub fn namespace_labels(&self, name: &str) -> &BTreeMap<String, String> {
        self.namespaces.get(name).unwrap_or(&NO_LABELS)
    }

    /// Records a Service's selector under `namespace/name`; a Service without a selector is
    /// forgotten, as it selects no pods.
    pub fn set_service(
        &mut self,
        namespace: &str,
        name: &str,
        selector: Option<BTreeMap<String, String>>,
    ) {
        let key = format!("{namespace}/{name}");
        match selector.filter(|s| !s.is_empty()) {
            Some(selector) => {
                self.services.insert(
                    key,
                    ServiceSelector {
                        namespace: namespace.to_string(),
                        selector,
                    },
                );
            }
            None => {
                self.services.remove(&key);
            }
        }
    }

    pub fn remove_service(&mut self, namespace: &str, name: &str) {
        self.services.remove(&format!("{namespace}/{name}"));
    }

    pub fn services(&self) -> impl Iterator<Item = &ServiceSelector> {
        self.services.values()
    }

    /// The nodes the scheduler can place pods on, by name.
    pub fn nodes(&self) -> impl Iterator<Item = &NodeInfo> {
        self.nodes.values().filter(|n| n.spec.is_some())
    }

    pub fn node(&self, name: &str) -> Option<&NodeInfo> {
        self.nodes.get(name).filter(|n| n.spec.is_some())
    }

    pub fn node_count(&self) -> usize {
        self.nodes().count()
    }

    /// Every placed pod, with the node it is on.
    pub fn pods(&self) -> impl Iterator<Item = (&NodeInfo, &Arc<PodInfo>)> {
        self.nodes
            .values()
            .flat_map(|n| n.pods.iter().map(move |p| (n, p)))
    }

    pub fn pod_count(&self) -> usize {
        self.placements.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};

    /// (node, pods on it, requested millicores) for every node, by name.
    fn layout(s: &Snapshot) -> Vec<(String, usize, i64)> {
        s.nodes
            .values()
            .map(|n| (n.name.clone(), n.pods.len(), n.requested.milli_cpu))
            .collect()
    }

    #[test]
    fn pods_and_nodes_come_and_go() {
        let mut s = Snapshot::new(
            [node("n1").build(), node("n2").build()],
            [
                pod("a").requests("1", "").on("n1").build(),
                pod("pending").requests("1", "").build(),
            ],
        );
        let own = |n: &str, pods: usize, cpu: i64| (n.to_string(), pods, cpu);
        assert_eq!(layout(&s), [own("n1", 1, 1000), own("n2", 0, 0)]);
        assert_eq!(s.pod_count(), 1, "unbound pods are not placed");

        // An update replaces the pod's accounting rather than adding to it.
        s.upsert_pod(&pod("a").requests("2", "").on("n1").build());
        assert_eq!(layout(&s), [own("n1", 1, 2000), own("n2", 0, 0)]);

        // Finished pods free their node.
        s.upsert_pod(
            &pod("a")
                .requests("2", "")
                .on("n1")
                .phase("Succeeded")
                .build(),
        );
        assert_eq!(layout(&s), [own("n1", 0, 0), own("n2", 0, 0)]);

        // A pod on a node not seen yet is accounted, but that node is no candidate.
        s.upsert_pod(&pod("b").requests("1", "").on("n3").build());
        assert_eq!(s.node_count(), 2);
        assert!(s.node("n3").is_none());
        assert_eq!(
            s.upsert_node(&node("n3").build()),
            NodeChange {
                added: true,
                ..NodeChange::default()
            }
        );
        assert_eq!(s.node("n3").unwrap().requested.milli_cpu, 1000);

        // Removing a node keeps its pods accounted until they go too.
        s.remove_node("n3");
        assert_eq!(s.node_count(), 2);
        assert_eq!(
            s.placed("default", "b").map(|p| p.node_name.as_str()),
            Some("n3")
        );
        s.remove_pod("default", "b");
        assert_eq!(layout(&s), [own("n1", 0, 0), own("n2", 0, 0)]);
    }

    #[test]
    fn node_updates_say_what_changed() {
        let mut s = Snapshot::new([node("n1").build()], []);
        let cases = [
            ("nothing", node("n1"), NodeChange::default()),
            (
                "labels",
                node("n1").label("disk", "ssd"),
                NodeChange {
                    labels: true,
                    ..NodeChange::default()
                },
            ),
            (
                "taints",
                node("n1")
                    .label("disk", "ssd")
                    .taint("k", "v", "NoSchedule"),
                NodeChange {
                    taints: true,
                    ..NodeChange::default()
                },
            ),
            (
                "cordon",
                node("n1")
                    .label("disk", "ssd")
                    .taint("k", "v", "NoSchedule")
                    .unschedulable(),
                NodeChange {
                    unschedulable: true,
                    ..NodeChange::default()
                },
            ),
            (
                "allocatable",
                node("n1")
                    .label("disk", "ssd")
                    .taint("k", "v", "NoSchedule")
                    .unschedulable()
                    .allocatable("8", "8Gi", "110"),
                NodeChange {
                    allocatable: true,
                    ..NodeChange::default()
                },
            ),
        ];
        for (name, n, want) in cases {
            assert_eq!(s.upsert_node(&n.build()), want, "{name}");
        }
    }
}
