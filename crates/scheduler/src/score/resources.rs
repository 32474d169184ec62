//! The resource scores: least allocated (NodeResourcesFit's default strategy) prefers nodes
//! with the most CPU and memory left after placing the pod; balanced allocation prefers nodes
//! whose CPU and memory would be used in similar proportions.

use super::MAX_NODE_SCORE;
use crate::pod_info::PodInfo;
use crate::snapshot::NodeInfo;

fn least_requested(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 || requested > capacity {
        return 0;
    }
    (capacity - requested) * MAX_NODE_SCORE / capacity
}

/// CPU and memory weigh the same. Requests count with kube's non-zero defaults (100m CPU,
/// 200Mi memory per container), so pods that request nothing still fill nodes up.
pub fn least_allocated(pod: &PodInfo, node: &NodeInfo) -> i64 {
    let Some(spec) = &node.spec else { return 0 };
    let cpu = least_requested(
        node.non_zero_milli_cpu + pod.requests.non_zero_milli_cpu,
        spec.allocatable.milli_cpu,
    );
    let memory = least_requested(
        node.non_zero_memory + pod.requests.non_zero_memory,
        spec.allocatable.memory,
    );
    (cpu + memory) / 2
}

/// `(1 - |cpu fraction - memory fraction| / 2) * 100` over the actual requests; a pod that
/// requests nothing gets no opinion (0 everywhere), as kube skips this plugin for it.
pub fn balanced_allocation(pod: &PodInfo, node: &NodeInfo) -> i64 {
    let Some(spec) = &node.spec else { return 0 };
    let want = &pod.requests.requests;
    if want.milli_cpu == 0 && want.memory == 0 {
        return 0;
    }
    let mut fractions = Vec::with_capacity(2);
    for (requested, allocatable) in [
        (
            node.requested.milli_cpu + want.milli_cpu,
            spec.allocatable.milli_cpu,
        ),
        (node.requested.memory + want.memory, spec.allocatable.memory),
    ] {
        if allocatable == 0 {
            continue;
        }
        fractions.push((requested as f64 / allocatable as f64).min(1.0));
    }
    let std = match fractions.as_slice() {
        [a, b] => ((a - b) / 2.0).abs(),
        _ => 0.0,
    };
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
}
