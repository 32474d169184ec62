//! A pod as the scheduler reads it, worked out once: its requests, host ports, tolerations,
//! and its node and pod (anti-)affinity compiled into selectors, so that every filter and score
//! on every node reuses them.

use std::collections::{BTreeMap, BTreeSet};

use apimachinery::selector::{LabelSelector, Operator, Requirement};
use k8s_openapi::api::core::v1::{
    NodeSelectorRequirement, NodeSelectorTerm, Pod, PodAffinityTerm, Toleration,
    WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;

use crate::resources::{PodRequests, pod_requests};

/// The priority of the well-known system classes, used when a pod names one but the API
/// server did not resolve it into `spec.priority`.
const SYSTEM_NODE_CRITICAL: i32 = 2_000_001_000;
const SYSTEM_CLUSTER_CRITICAL: i32 = 2_000_000_000;

/// A host port a pod's container claims on its node.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostPort {
    /// `0.0.0.0` when the container did not name an address.
    pub ip: String,
    pub protocol: String,
    pub port: i32,
}

impl HostPort {
    const ANY_IP: &'static str = "0.0.0.0";

    /// Whether two claims collide: same protocol and port, and the same address or either
    /// one on every address.
    pub fn conflicts(&self, other: &HostPort) -> bool {
        self.port == other.port
            && self.protocol == other.protocol
            && (self.ip == other.ip || self.ip == Self::ANY_IP || other.ip == Self::ANY_IP)
    }
}

/// One `requiredDuringScheduling` (or weighted preferred) pod affinity term, compiled.
#[derive(Debug, Clone)]
pub struct AffinityTerm {
    /// The namespaces named by the term; the owning pod's own namespace when the term names
    /// neither namespaces nor a namespace selector.
    pub namespaces: BTreeSet<String>,
    /// Matches nothing when the term has no `namespaceSelector`; `{}` matches every namespace.
    pub namespace_selector: LabelSelector,
    /// Matches nothing when the term has no `labelSelector`, as in kube.
    pub selector: LabelSelector,
    pub topology_key: String,
}

impl AffinityTerm {
    /// Whether `pod` (whose namespace carries `namespace_labels`) is one this term selects.
    pub fn matches(&self, pod: &PodInfo, namespace_labels: &BTreeMap<String, String>) -> bool {
        (self.namespaces.contains(&pod.namespace)
            || self.namespace_selector.matches(namespace_labels))
            && self.selector.matches(&pod.labels)
    }
}

/// A preferred pod affinity term with its weight.
#[derive(Debug, Clone)]
pub struct WeightedAffinityTerm {
    pub weight: i64,
    pub term: AffinityTerm,
}

/// One node selector term, compiled: label requirements and `metadata.name` field requirements,
/// all of which must hold. A term with neither, or one that does not parse, matches no node.
#[derive(Debug, Clone)]
pub struct NodeSelectorTermMatcher {
    labels: Option<LabelSelector>,
    /// `(true, names)` for `In`, `(false, names)` for `NotIn`.
    names: Vec<(bool, Vec<String>)>,
}

impl NodeSelectorTermMatcher {
    pub fn matches(&self, node_name: &str, node_labels: &BTreeMap<String, String>) -> bool {
        let Some(labels) = &self.labels else {
            return false;
        };
        if labels.requirements().is_empty() && self.names.is_empty() {
            return false;
        }
        labels.matches(node_labels)
            && self
                .names
                .iter()
                .all(|(is_in, names)| names.iter().any(|n| n == node_name) == *is_in)
    }

    /// The node names the term pins with `metadata.name In`, if it does (their intersection).
    pub fn pinned_names(&self) -> Option<BTreeSet<String>> {
        let mut pinned: Option<BTreeSet<String>> = None;
        for (is_in, names) in &self.names {
            if !is_in {
                continue;
            }
            let set: BTreeSet<String> = names.iter().cloned().collect();
            pinned = Some(match pinned {
                None => set,
                Some(p) => p.intersection(&set).cloned().collect(),
            });
        }
        pinned
    }
}

fn compile_node_term(term: &NodeSelectorTerm) -> NodeSelectorTermMatcher {
    let labels = term
        .match_expressions
        .iter()
        .flatten()
        .map(node_requirement)
        .collect::<Option<Vec<_>>>()
        .map(LabelSelector::from_requirements);
    let mut names = Vec::new();
    let mut valid = labels.is_some();
    for field in term.match_fields.iter().flatten() {
        let values = field.values.clone().unwrap_or_default();
        match (field.key.as_str(), field.operator.as_str()) {
            ("metadata.name", "In") if values.len() == 1 => names.push((true, values)),
            ("metadata.name", "NotIn") if values.len() == 1 => names.push((false, values)),
            _ => valid = false,
        }
    }
    NodeSelectorTermMatcher {
        labels: if valid { labels } else { None },
        names,
    }
}

fn node_requirement(r: &NodeSelectorRequirement) -> Option<Requirement> {
    let operator = match r.operator.as_str() {
        "In" => Operator::In,
        "NotIn" => Operator::NotIn,
        "Exists" => Operator::Exists,
        "DoesNotExist" => Operator::DoesNotExist,
        "Gt" => Operator::GreaterThan,
        "Lt" => Operator::LessThan,
        _ => return None,
    };
    Requirement::new(
        r.key.clone(),
        operator,
        r.values.clone().unwrap_or_default(),
    )
    .ok()
}

/// Compiles a `metav1.LabelSelector`; `None` (absent) matches nothing, and a selector that does
/// not parse matches nothing either.
pub fn label_selector(selector: Option<&meta::LabelSelector>) -> LabelSelector {
    let Some(selector) = selector else {
        return LabelSelector::nothing();
    };
    serde_json::to_value(selector)
        .ok()
        .and_then(|v| LabelSelector::from_json(&v).ok())
        .unwrap_or_else(LabelSelector::nothing)
}

fn compile_affinity_term(namespace: &str, term: &PodAffinityTerm) -> AffinityTerm {
    let mut namespaces: BTreeSet<String> = term.namespaces.iter().flatten().cloned().collect();
    if namespaces.is_empty() && term.namespace_selector.is_none() {
        namespaces.insert(namespace.to_string());
    }
    AffinityTerm {
        namespaces,
        namespace_selector: label_selector(term.namespace_selector.as_ref()),
        selector: label_selector(term.label_selector.as_ref()),
        topology_key: term.topology_key.clone(),
    }
}

fn compile_weighted(
    namespace: &str,
    terms: &[WeightedPodAffinityTerm],
) -> Vec<WeightedAffinityTerm> {
    terms
        .iter()
        .map(|w| WeightedAffinityTerm {
            weight: i64::from(w.weight),
            term: compile_affinity_term(namespace, &w.pod_affinity_term),
        })
        .collect()
}

/// Everything the scheduler needs to know about one pod.
#[derive(Debug, Clone)]
pub struct PodInfo {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub labels: BTreeMap<String, String>,
    /// Empty while the pod is not bound.
    pub node_name: String,
    pub priority: i32,
    /// `preemptionPolicy: Never`.
    pub never_preempts: bool,
    /// The pod has a deletion timestamp.
    pub terminating: bool,
    /// `status.nominatedNodeName`, set by an earlier preemption.
    pub nominated_node: String,
    /// When the pod started (or was created), in seconds; preemption prefers to evict the
    /// youngest pods.
    pub start_time: i64,
    pub requests: PodRequests,
    pub host_ports: Vec<HostPort>,
    pub tolerations: Vec<Toleration>,
    pub node_selector: BTreeMap<String, String>,
    /// The required node affinity terms (ORed); `None` when the pod has none.
    pub required_node_terms: Option<Vec<NodeSelectorTermMatcher>>,
    pub preferred_node_terms: Vec<(i64, NodeSelectorTermMatcher)>,
    pub required_affinity: Vec<AffinityTerm>,
    pub required_anti_affinity: Vec<AffinityTerm>,
    pub preferred_affinity: Vec<WeightedAffinityTerm>,
    pub preferred_anti_affinity: Vec<WeightedAffinityTerm>,
    /// The UID of the controller (ReplicaSet, StatefulSet...) that owns the pod.
    pub controller_uid: Option<String>,
}

impl PodInfo {
    pub fn new(pod: &Pod) -> PodInfo {
        let meta = &pod.metadata;
        let namespace = meta.namespace.clone().unwrap_or_default();
        let spec = pod.spec.clone().unwrap_or_default();
        let status = pod.status.as_ref();
        let priority = spec
            .priority
            .unwrap_or(match spec.priority_class_name.as_deref() {
                Some("system-node-critical") => SYSTEM_NODE_CRITICAL,
                Some("system-cluster-critical") => SYSTEM_CLUSTER_CRITICAL,
                _ => 0,
            });
        let mut host_ports = Vec::new();
        let sidecars = spec
            .init_containers
            .iter()
            .flatten()
            .filter(|c| c.restart_policy.as_deref() == Some("Always"));
        for c in spec.containers.iter().chain(sidecars) {
            for p in c.ports.iter().flatten() {
                let Some(port) = p.host_port.filter(|p| *p > 0) else {
                    continue;
                };
                host_ports.push(HostPort {
                    ip: p
                        .host_ip
                        .clone()
                        .filter(|ip| !ip.is_empty())
                        .unwrap_or_else(|| HostPort::ANY_IP.to_string()),
                    protocol: p.protocol.clone().unwrap_or_else(|| "TCP".to_string()),
                    port,
                });
            }
        }
        let affinity = spec.affinity.clone().unwrap_or_default();
        let node_affinity = affinity.node_affinity.unwrap_or_default();
        let required_node_terms = node_affinity
            .required_during_scheduling_ignored_during_execution
            .map(|s| {
                s.node_selector_terms
                    .iter()
                    .map(compile_node_term)
                    .collect()
            });
        let preferred_node_terms = node_affinity
            .preferred_during_scheduling_ignored_during_execution
            .iter()
            .flatten()
            .map(|p| (i64::from(p.weight), compile_node_term(&p.preference)))
            .collect();
        let pod_affinity = affinity.pod_affinity.unwrap_or_default();
        let anti = affinity.pod_anti_affinity.unwrap_or_default();
        let required = |terms: Option<Vec<PodAffinityTerm>>| -> Vec<AffinityTerm> {
            terms
                .iter()
                .flatten()
                .map(|t| compile_affinity_term(&namespace, t))
                .collect()
        };
        let start_time = status
            .and_then(|s| s.start_time.as_ref())
            .or(meta.creation_timestamp.as_ref())
            .map(|t| t.0.as_second())
            .unwrap_or(0);
        PodInfo {
            name: meta.name.clone().unwrap_or_default(),
            uid: meta.uid.clone().unwrap_or_default(),
            labels: meta.labels.clone().unwrap_or_default(),
            node_name: spec.node_name.clone().unwrap_or_default(),
            priority,
            never_preempts: spec.preemption_policy.as_deref() == Some("Never"),
            terminating: meta.deletion_timestamp.is_some(),
            nominated_node: status
                .and_then(|s| s.nominated_node_name.clone())
                .unwrap_or_default(),
            start_time,
            requests: pod_requests(pod),
            host_ports,
            tolerations: spec.tolerations.clone().unwrap_or_default(),
            node_selector: spec.node_selector.clone().unwrap_or_default(),
            required_node_terms,
            preferred_node_terms,
            required_affinity: required(
                pod_affinity.required_during_scheduling_ignored_during_execution,
            ),
            required_anti_affinity: required(
                anti.required_during_scheduling_ignored_during_execution,
            ),
            preferred_affinity: compile_weighted(
                &namespace,
                pod_affinity
                    .preferred_during_scheduling_ignored_during_execution
                    .as_deref()
                    .unwrap_or_default(),
            ),
            preferred_anti_affinity: compile_weighted(
                &namespace,
                anti.preferred_during_scheduling_ignored_during_execution
                    .as_deref()
                    .unwrap_or_default(),
            ),
            controller_uid: meta
                .owner_references
                .iter()
                .flatten()
                .find(|o| o.controller == Some(true))
                .map(|o| o.uid.clone()),
            namespace,
        }
    }

    /// `namespace/name`, the key the scheduler's cache and queue use.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// Whether the pod has any pod affinity or anti-affinity term, required or preferred.
    pub fn has_pod_affinity(&self) -> bool {
        !(self.required_affinity.is_empty()
            && self.required_anti_affinity.is_empty()
            && self.preferred_affinity.is_empty()
            && self.preferred_anti_affinity.is_empty())
    }
}
