//! NodeUnschedulable: a cordoned node (`spec.unschedulable`) takes only pods that tolerate the
//! `node.kubernetes.io/unschedulable:NoSchedule` taint, as DaemonSet pods do.

use k8s_openapi::api::core::v1::Taint;

use super::taint_toleration::tolerated;
use crate::pod_info::PodInfo;
use crate::snapshot::NodeSpec;
use crate::status::{Plugin, Status};

pub const REASON: &str = "node(s) were unschedulable";
const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";

pub fn filter(pod: &PodInfo, node: &NodeSpec) -> Result<(), Status> {
    if !node.unschedulable {
        return Ok(());
    }
    let taint = Taint {
        key: UNSCHEDULABLE_TAINT.to_string(),
        effect: "NoSchedule".to_string(),
        ..Taint::default()
    };
    if tolerated(&pod.tolerations, &taint) {
        Ok(())
    } else {
        Err(Status::unresolvable(Plugin::NodeUnschedulable, REASON))
    }
}
