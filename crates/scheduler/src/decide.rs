//! The scheduling decision for one pod over a snapshot: PreFilter, Filter on every node,
//! PostFilter (the preemption dry run) when nothing fits, then Score and pick.
//!
//! Ties between the best-scoring nodes are broken deterministically: the node whose name hashes
//! lowest together with the pod's key wins. The same pod and snapshot always give the same
//! node, yet different pods break the same tie differently, so equal nodes share the load.
//! Every node is evaluated (kube's percentageOfNodesToScore only matters past 100 nodes).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;

use crate::filter::{self, AffinityState, node_affinity};
use crate::fit_error::FitError;
use crate::pod_info::PodInfo;
use crate::preemption::{self, Outcome};
use crate::score;
use crate::snapshot::{NodeInfo, Snapshot};
use crate::status::{Plugin, Status};

/// Picks the node for `pod`, or says why none fits.
#[expect(
    clippy::result_large_err,
    reason = "benchmarks and callers take the FitError by value; one is built per failed decision"
)]
pub fn schedule_one(pod: &Pod, snapshot: &Snapshot) -> Result<String, FitError> {
    schedule_pod(&PodInfo::new(pod), snapshot)
}

/// [`schedule_one`] for a pod already read into a [`PodInfo`].
#[expect(
    clippy::result_large_err,
    reason = "benchmarks and callers take the FitError by value; one is built per failed decision"
)]
pub fn schedule_pod(pod: &PodInfo, snapshot: &Snapshot) -> Result<String, FitError> {
    let num_all_nodes = snapshot.node_count();
    if num_all_nodes == 0 {
        return Err(FitError::no_nodes());
    }
    let affinity = AffinityState::new(pod, snapshot);
    let mut fit = FitError {
        num_all_nodes,
        pre_filter: None,
        statuses: BTreeMap::new(),
        absent: None,
        post_filter_msg: None,
        preemption: None,
    };
    let candidates: Vec<&NodeInfo> = match node_affinity::pre_filter(pod) {
        Err(status) => {
            fit.pre_filter = Some(status.clone());
            fit.absent = Some(status);
            Vec::new()
        }
        Ok(None) => snapshot.nodes().collect(),
        Ok(Some(names)) => {
            fit.absent = Some(Status::unresolvable(
                Plugin::NodeAffinity,
                format!(
                    "node(s) didn't satisfy plugin(s) [{}]",
                    Plugin::NodeAffinity
                ),
            ));
            names.iter().filter_map(|n| snapshot.node(n)).collect()
        }
    };
    let mut feasible = Vec::with_capacity(candidates.len());
    for node in candidates {
        match filter::run(pod, &affinity, node, snapshot) {
            Ok(()) => feasible.push(node),
            Err(status) => {
                fit.statuses.insert(node.name.clone(), status);
            }
        }
    }
    match feasible.len() {
        0 => {
            let outcome = preemption::preempt(pod, snapshot, &fit, &affinity);
            fit.post_filter_msg = outcome.message();
            if let Outcome::Candidate(candidate) = outcome {
                fit.preemption = Some(candidate);
            }
            Err(fit)
        }
        // With one feasible node there is nothing to compare, as in kube.
        1 => Ok(feasible[0].name.clone()),
        _ => {
            let scores = score::score(pod, &feasible, snapshot);
            let key = pod.key();
            let best = feasible
                .iter()
                .zip(&scores)
                .max_by(|(a, sa), (b, sb)| {
                    sa.total()
                        .cmp(&sb.total())
                        // Lower hash wins, so it compares as greater.
                        .then_with(|| tie_hash(&key, &b.name).cmp(&tie_hash(&key, &a.name)))
                })
                .map(|(node, _)| node.name.clone());
            Ok(best.unwrap_or_default())
        }
    }
}

/// FNV-1a over the pod key and the node name.
fn tie_hash(pod_key: &str, node: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in pod_key.bytes().chain([0]).chain(node.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests;
