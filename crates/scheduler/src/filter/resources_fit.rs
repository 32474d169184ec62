//! NodeResourcesFit: the pod's requests must fit in the node's allocatable minus what the pods
//! already there request, and the node must have room for one more pod. Every shortfall is a
//! reason of its own ("Too many pods", "Insufficient cpu", ...).

use crate::pod_info::PodInfo;
use crate::snapshot::{NodeInfo, NodeSpec};
use crate::status::{Code, Plugin, Status};

pub const TOO_MANY_PODS: &str = "Too many pods";

/// The resources the node lacks for this pod, as kube's reasons, in kube's order.
pub fn insufficient(pod: &PodInfo, node: &NodeInfo, spec: &NodeSpec) -> Vec<String> {
    let mut reasons = Vec::new();
    let allocatable = &spec.allocatable;
    if node.pods.len() as i64 + 1 > allocatable.allowed_pods {
        reasons.push(TOO_MANY_PODS.to_string());
    }
    let want = &pod.requests.requests;
    if want.is_zero() {
        return reasons;
    }
    let used = &node.requested;
    if want.milli_cpu > 0 && want.milli_cpu > allocatable.milli_cpu - used.milli_cpu {
        reasons.push("Insufficient cpu".to_string());
    }
    if want.memory > 0 && want.memory > allocatable.memory - used.memory {
        reasons.push("Insufficient memory".to_string());
    }
    if want.ephemeral_storage > 0
        && want.ephemeral_storage > allocatable.ephemeral_storage - used.ephemeral_storage
    {
        reasons.push("Insufficient ephemeral-storage".to_string());
    }
    for (name, amount) in &want.scalar {
        if *amount == 0 {
            continue;
        }
        let free = allocatable.scalar.get(name).copied().unwrap_or(0)
            - used.scalar.get(name).copied().unwrap_or(0);
        if *amount > free {
            reasons.push(format!("Insufficient {name}"));
        }
    }
    reasons
}

pub fn filter(pod: &PodInfo, node: &NodeInfo, spec: &NodeSpec) -> Result<(), Status> {
    let reasons = insufficient(pod, node, spec);
    if reasons.is_empty() {
        Ok(())
    } else {
        // Evicting pods can free resources, so preemption may help.
        Err(Status {
            code: Code::Unschedulable,
            plugin: Plugin::NodeResourcesFit,
            reasons,
        })
    }
}
