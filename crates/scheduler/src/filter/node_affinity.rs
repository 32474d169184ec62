//! NodeAffinity: `spec.nodeSelector` and required node affinity must both match the node;
//! terms that pin `metadata.name` narrow the candidate nodes before filtering (DaemonSet pods);
//! preferred terms add their weights when scoring.

use std::collections::{BTreeMap, BTreeSet};

use crate::pod_info::PodInfo;
use crate::status::{Plugin, Status};

pub const REASON: &str = "node(s) didn't match Pod's node affinity/selector";
/// The PreFilter message when every term pins node names and no name satisfies them all.
pub const REASON_CONFLICT: &str = "pod affinity terms conflict";

/// Whether the pod's node selector and required node affinity accept this node.
pub fn matches(pod: &PodInfo, node_name: &str, labels: &BTreeMap<String, String>) -> bool {
    let selector_ok = pod
        .node_selector
        .iter()
        .all(|(k, v)| labels.get(k) == Some(v));
    let affinity_ok = match &pod.required_node_terms {
        None => true,
        Some(terms) => terms.iter().any(|t| t.matches(node_name, labels)),
    };
    selector_ok && affinity_ok
}

pub fn filter(
    pod: &PodInfo,
    node_name: &str,
    labels: &BTreeMap<String, String>,
) -> Result<(), Status> {
    if matches(pod, node_name, labels) {
        Ok(())
    } else {
        Err(Status::unresolvable(Plugin::NodeAffinity, REASON))
    }
}

/// The PreFilter step: `Ok(Some(names))` when every required term pins node names (only those
/// nodes are looked at), `Ok(None)` when all nodes are candidates, and an error when the pins
/// leave no name at all.
pub fn pre_filter(pod: &PodInfo) -> Result<Option<BTreeSet<String>>, Status> {
    let Some(terms) = &pod.required_node_terms else {
        return Ok(None);
    };
    let mut names: Option<BTreeSet<String>> = None;
    for term in terms {
        // A term without a name pin admits every node, and terms are ORed.
        let Some(pinned) = term.pinned_names() else {
            return Ok(None);
        };
        names.get_or_insert_with(BTreeSet::new).extend(pinned);
    }
    match names {
        Some(names) if names.is_empty() => {
            Err(Status::unresolvable(Plugin::NodeAffinity, REASON_CONFLICT))
        }
        other => Ok(other),
    }
}

/// The sum of the weights of the preferred terms this node matches.
pub fn preferred_score(pod: &PodInfo, node_name: &str, labels: &BTreeMap<String, String>) -> i64 {
    pod.preferred_node_terms
        .iter()
        .filter(|(_, term)| term.matches(node_name, labels))
        .map(|(weight, _)| weight)
        .sum()
}
