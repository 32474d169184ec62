//! The Score stage: each of kube-scheduler's default scoring plugins rates every feasible node
//! from 0 to 100, and the weighted sum decides. Weights are kube's defaults: TaintToleration 3,
//! NodeAffinity 2, InterPodAffinity 2, spreading 2 (PodTopologySpread's weight, given here to
//! selector spreading), NodeResourcesFit (least allocated) 1, NodeResourcesBalancedAllocation 1.

mod inter_pod_affinity;
mod resources;
mod spread;

use crate::filter::{node_affinity, taint_toleration};
use crate::pod_info::PodInfo;
use crate::snapshot::{NodeInfo, Snapshot};

pub const MAX_NODE_SCORE: i64 = 100;

const TAINT_TOLERATION_WEIGHT: i64 = 3;
const NODE_AFFINITY_WEIGHT: i64 = 2;
const INTER_POD_AFFINITY_WEIGHT: i64 = 2;
const SPREAD_WEIGHT: i64 = 2;
const LEAST_ALLOCATED_WEIGHT: i64 = 1;
const BALANCED_ALLOCATION_WEIGHT: i64 = 1;

/// kube's default normalisation: scale to 0..100 by the highest raw score, optionally reversed
/// (for "fewer is better" counts). All zeros stay 0, or become 100 when reversed.
pub fn normalize(scores: &mut [i64], reverse: bool) {
    let max = scores.iter().copied().max().unwrap_or(0);
    if max == 0 {
        if reverse {
            scores.fill(MAX_NODE_SCORE);
        }
        return;
    }
    for s in scores.iter_mut() {
        let scaled = MAX_NODE_SCORE * *s / max;
        *s = if reverse {
            MAX_NODE_SCORE - scaled
        } else {
            scaled
        };
    }
}

/// One node's scores, per plugin, already normalised and weighted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeScore {
    pub taint_toleration: i64,
    pub node_affinity: i64,
    pub inter_pod_affinity: i64,
    pub spread: i64,
    pub least_allocated: i64,
    pub balanced_allocation: i64,
}

impl NodeScore {
    pub fn total(&self) -> i64 {
        self.taint_toleration
            + self.node_affinity
            + self.inter_pod_affinity
            + self.spread
            + self.least_allocated
            + self.balanced_allocation
    }
}

/// Scores each feasible node for the pod, in the order given.
pub fn score(pod: &PodInfo, nodes: &[&NodeInfo], snapshot: &Snapshot) -> Vec<NodeScore> {
    let mut taints: Vec<i64> = nodes
        .iter()
        .map(|n| {
            n.spec.as_ref().map_or(0, |s| {
                taint_toleration::intolerable_prefer_no_schedule(pod, s)
            })
        })
        .collect();
    normalize(&mut taints, true);
    let mut affinity: Vec<i64> = nodes
        .iter()
        .map(|n| node_affinity::preferred_score(pod, &n.name, n.labels()))
        .collect();
    normalize(&mut affinity, false);
    let pod_affinity = inter_pod_affinity::scores(pod, nodes, snapshot);
    let spread = spread::scores(pod, nodes, snapshot);
    nodes
        .iter()
        .enumerate()
        .map(|(i, node)| NodeScore {
            taint_toleration: TAINT_TOLERATION_WEIGHT * taints[i],
            node_affinity: NODE_AFFINITY_WEIGHT * affinity[i],
            inter_pod_affinity: INTER_POD_AFFINITY_WEIGHT * pod_affinity[i],
            spread: SPREAD_WEIGHT * spread[i],
            least_allocated: LEAST_ALLOCATED_WEIGHT * resources::least_allocated(pod, node),
            balanced_allocation: BALANCED_ALLOCATION_WEIGHT
                * resources::balanced_allocation(pod, node),
        })
        .collect()
}

#[cfg(test)]
mod tests;
