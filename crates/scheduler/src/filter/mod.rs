//! The Filter stage: each plugin in kube-scheduler's default order, stopping at the first one
//! that rejects the node, as kube's framework does.

pub mod inter_pod_affinity;
pub mod node_affinity;
pub mod node_ports;
pub mod node_unschedulable;
pub mod resources_fit;
pub mod taint_toleration;

use crate::pod_info::PodInfo;
use crate::snapshot::{NodeInfo, Snapshot};
use crate::status::Status;

pub use inter_pod_affinity::AffinityState;

/// Runs every filter on one node: NodeUnschedulable, TaintToleration, NodeAffinity, NodePorts,
/// NodeResourcesFit, then InterPodAffinity.
pub fn run(
    pod: &PodInfo,
    affinity: &AffinityState,
    node: &NodeInfo,
    snapshot: &Snapshot,
) -> Result<(), Status> {
    let Some(spec) = &node.spec else {
        // Only nodes with a spec are ever candidates; see Snapshot::nodes.
        return Ok(());
    };
    node_unschedulable::filter(pod, spec)?;
    taint_toleration::filter(pod, spec)?;
    node_affinity::filter(pod, &node.name, &spec.labels)?;
    node_ports::filter(pod, node)?;
    resources_fit::filter(pod, node, spec)?;
    inter_pod_affinity::filter(pod, affinity, node, snapshot)?;
    Ok(())
}

#[cfg(test)]
mod tests;
