//! NodePorts: a pod's host ports must be free on the node.

use crate::pod_info::PodInfo;
use crate::snapshot::NodeInfo;
use crate::status::{Plugin, Status};

pub const REASON: &str = "node(s) didn't have free ports for the requested pod ports";

pub fn filter(pod: &PodInfo, node: &NodeInfo) -> Result<(), Status> {
    let taken = pod
        .host_ports
        .iter()
        .any(|want| node.used_ports.keys().any(|used| used.conflicts(want)));
    if taken {
        Err(Status::unschedulable(Plugin::NodePorts, REASON))
    } else {
        Ok(())
    }
}
