//! InterPodAffinity: the pod's required affinity must find matching pods in the node's topology
//! domain, its required anti-affinity must find none there, and no pod already placed may have
//! a required anti-affinity term that the pod matches in that domain.
//!
//! As in kube, the counts per topology pair (`key=value`) are computed once per pod (PreFilter)
//! and each node is then a lookup; preemption adjusts the counts as it removes victims.

use std::collections::{BTreeMap, HashMap};

use crate::pod_info::{AffinityTerm, PodInfo};
use crate::snapshot::{NodeInfo, Snapshot};
use crate::status::{Plugin, Status};

pub const REASON_AFFINITY: &str = "node(s) didn't match pod affinity rules";
pub const REASON_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
pub const REASON_EXISTING_ANTI_AFFINITY: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";

type TopologyPair = (String, String);

/// The PreFilter state: per topology pair, how many placed pods match.
#[derive(Debug, Clone, Default)]
pub struct AffinityState {
    /// Placed pods whose required anti-affinity terms match the incoming pod.
    existing_anti_affinity: HashMap<TopologyPair, i64>,
    /// Placed pods that match all of the incoming pod's required affinity terms.
    affinity: HashMap<TopologyPair, i64>,
    /// Placed pods that match one of the incoming pod's required anti-affinity terms.
    anti_affinity: HashMap<TopologyPair, i64>,
}

fn bump(
    counts: &mut HashMap<TopologyPair, i64>,
    labels: &BTreeMap<String, String>,
    key: &str,
    by: i64,
) {
    if let Some(value) = labels.get(key) {
        let entry = counts.entry((key.to_string(), value.clone())).or_default();
        *entry += by;
        if *entry == 0 {
            counts.remove(&(key.to_string(), value.clone()));
        }
    }
}

/// Whether `pod` matches every term (and there is at least one).
pub fn matches_all(
    terms: &[AffinityTerm],
    pod: &PodInfo,
    namespace_labels: &BTreeMap<String, String>,
) -> bool {
    !terms.is_empty() && terms.iter().all(|t| t.matches(pod, namespace_labels))
}

impl AffinityState {
    pub fn new(pod: &PodInfo, snapshot: &Snapshot) -> AffinityState {
        let mut state = AffinityState::default();
        for node in snapshot.nodes() {
            for existing in &node.pods {
                state.account(pod, existing, node, snapshot, 1);
            }
        }
        state
    }

    /// Adds (`by` = 1) or removes (`by` = -1) one placed pod's contribution.
    fn account(
        &mut self,
        pod: &PodInfo,
        existing: &PodInfo,
        node: &NodeInfo,
        snapshot: &Snapshot,
        by: i64,
    ) {
        let labels = node.labels();
        if labels.is_empty() {
            return;
        }
        let pod_ns_labels = snapshot.namespace_labels(&pod.namespace);
        for term in &existing.required_anti_affinity {
            if term.matches(pod, pod_ns_labels) {
                bump(
                    &mut self.existing_anti_affinity,
                    labels,
                    &term.topology_key,
                    by,
                );
            }
        }
        if pod.required_affinity.is_empty() && pod.required_anti_affinity.is_empty() {
            return;
        }
        let existing_ns_labels = snapshot.namespace_labels(&existing.namespace);
        if matches_all(&pod.required_affinity, existing, existing_ns_labels) {
            for term in &pod.required_affinity {
                bump(&mut self.affinity, labels, &term.topology_key, by);
            }
        }
        for term in &pod.required_anti_affinity {
            if term.matches(existing, existing_ns_labels) {
                bump(&mut self.anti_affinity, labels, &term.topology_key, by);
            }
        }
    }

    /// Preemption's view: the state as if `existing` were not on `node`.
    pub fn remove_pod(
        &mut self,
        pod: &PodInfo,
        existing: &PodInfo,
        node: &NodeInfo,
        snapshot: &Snapshot,
    ) {
        self.account(pod, existing, node, snapshot, -1);
    }

    /// Preemption's view: the state with `existing` back on `node`.
    pub fn add_pod(
        &mut self,
        pod: &PodInfo,
        existing: &PodInfo,
        node: &NodeInfo,
        snapshot: &Snapshot,
    ) {
        self.account(pod, existing, node, snapshot, 1);
    }
}

fn satisfies_affinity(
    pod: &PodInfo,
    state: &AffinityState,
    labels: &BTreeMap<String, String>,
    snapshot: &Snapshot,
) -> bool {
    let mut pods_exist = true;
    for term in &pod.required_affinity {
        let Some(value) = labels.get(&term.topology_key) else {
            // Every topology key must be on the node.
            return false;
        };
        if state
            .affinity
            .get(&(term.topology_key.clone(), value.clone()))
            .copied()
            .unwrap_or(0)
            <= 0
        {
            pods_exist = false;
        }
    }
    if pods_exist {
        return true;
    }
    // The first pod of a group that has affinity to itself: when no placed pod matches at all,
    // the pod may go wherever the topology keys exist, if it matches its own terms.
    state.affinity.is_empty()
        && matches_all(
            &pod.required_affinity,
            pod,
            snapshot.namespace_labels(&pod.namespace),
        )
}

fn satisfies_anti_affinity(
    pod: &PodInfo,
    state: &AffinityState,
    labels: &BTreeMap<String, String>,
) -> bool {
    if state.anti_affinity.is_empty() {
        return true;
    }
    pod.required_anti_affinity.iter().all(|term| {
        labels.get(&term.topology_key).is_none_or(|value| {
            state
                .anti_affinity
                .get(&(term.topology_key.clone(), value.clone()))
                .copied()
                .unwrap_or(0)
                <= 0
        })
    })
}

fn satisfies_existing_anti_affinity(
    state: &AffinityState,
    labels: &BTreeMap<String, String>,
) -> bool {
    if state.existing_anti_affinity.is_empty() {
        return true;
    }
    labels.iter().all(|(k, v)| {
        state
            .existing_anti_affinity
            .get(&(k.clone(), v.clone()))
            .copied()
            .unwrap_or(0)
            <= 0
    })
}

pub fn filter(
    pod: &PodInfo,
    state: &AffinityState,
    node: &NodeInfo,
    snapshot: &Snapshot,
) -> Result<(), Status> {
    let labels = node.labels();
    if !satisfies_affinity(pod, state, labels, snapshot) {
        return Err(Status::unresolvable(
            Plugin::InterPodAffinity,
            REASON_AFFINITY,
        ));
    }
    if !satisfies_anti_affinity(pod, state, labels) {
        return Err(Status::unschedulable(
            Plugin::InterPodAffinity,
            REASON_ANTI_AFFINITY,
        ));
    }
    if !satisfies_existing_anti_affinity(state, labels) {
        return Err(Status::unschedulable(
            Plugin::InterPodAffinity,
            REASON_EXISTING_ANTI_AFFINITY,
        ));
    }
    Ok(())
}
