//! InterPodAffinity scoring: the pod's preferred (anti-)affinity terms, and the preferred terms
//! and required affinity terms of pods already placed, add or subtract weight for every node in
//! the matching topology domain; the sums are then scaled between the lowest and highest.

use std::collections::{BTreeMap, HashMap};

use super::MAX_NODE_SCORE;
use crate::pod_info::{PodInfo, WeightedAffinityTerm};
use crate::snapshot::{NodeInfo, Snapshot};

/// The weight a placed pod's required affinity term gives the pods it matches (kube's
/// `hardPodAffinityWeight` default).
const HARD_POD_AFFINITY_WEIGHT: i64 = 1;

/// Score per topology key, per value.
type TopologyScore = HashMap<String, HashMap<String, i64>>;

fn add(scores: &mut TopologyScore, labels: &BTreeMap<String, String>, key: &str, weight: i64) {
    if let Some(value) = labels.get(key) {
        *scores
            .entry(key.to_string())
            .or_default()
            .entry(value.clone())
            .or_default() += weight;
    }
}

fn process_terms(
    scores: &mut TopologyScore,
    terms: &[WeightedAffinityTerm],
    target: &PodInfo,
    target_ns_labels: &BTreeMap<String, String>,
    labels: &BTreeMap<String, String>,
    sign: i64,
) {
    for t in terms {
        if t.term.matches(target, target_ns_labels) {
            add(scores, labels, &t.term.topology_key, sign * t.weight);
        }
    }
}

pub fn scores(pod: &PodInfo, nodes: &[&NodeInfo], snapshot: &Snapshot) -> Vec<i64> {
    let mut topology = TopologyScore::new();
    let pod_ns_labels = snapshot.namespace_labels(&pod.namespace);
    let pod_has_preferences =
        !(pod.preferred_affinity.is_empty() && pod.preferred_anti_affinity.is_empty());
    for node in snapshot.nodes() {
        let labels = node.labels();
        if labels.is_empty() {
            continue;
        }
        for existing in &node.pods {
            if pod_has_preferences {
                let existing_ns_labels = snapshot.namespace_labels(&existing.namespace);
                process_terms(
                    &mut topology,
                    &pod.preferred_affinity,
                    existing,
                    existing_ns_labels,
                    labels,
                    1,
                );
                process_terms(
                    &mut topology,
                    &pod.preferred_anti_affinity,
                    existing,
                    existing_ns_labels,
                    labels,
                    -1,
                );
            }
            for term in &existing.required_affinity {
                if term.matches(pod, pod_ns_labels) {
                    add(
                        &mut topology,
                        labels,
                        &term.topology_key,
                        HARD_POD_AFFINITY_WEIGHT,
                    );
                }
            }
            process_terms(
                &mut topology,
                &existing.preferred_affinity,
                pod,
                pod_ns_labels,
                labels,
                1,
            );
            process_terms(
                &mut topology,
                &existing.preferred_anti_affinity,
                pod,
                pod_ns_labels,
                labels,
                -1,
            );
        }
    }
    if topology.is_empty() {
        return vec![0; nodes.len()];
    }
    let raw: Vec<i64> = nodes
        .iter()
        .map(|n| {
            topology
                .iter()
                .filter_map(|(key, values)| values.get(n.labels().get(key)?))
                .sum()
        })
        .collect();
    let min = raw.iter().copied().min().unwrap_or(0);
    let max = raw.iter().copied().max().unwrap_or(0);
    raw.iter()
        .map(|s| {
            if max > min {
                (MAX_NODE_SCORE as f64 * (s - min) as f64 / (max - min) as f64) as i64
            } else {
                0
            }
        })
        .collect()
}
