//! TaintToleration: a node's NoSchedule and NoExecute taints keep out pods that do not
//! tolerate them (the node lifecycle controller marks unready nodes this way), and untolerated
//! PreferNoSchedule taints count against a node when scoring.

use k8s_openapi::api::core::v1::{Taint, Toleration};

use crate::pod_info::PodInfo;
use crate::snapshot::NodeSpec;
use crate::status::{Plugin, Status};

/// Whether one toleration tolerates one taint, by kube's rules: an empty effect matches every
/// effect, an empty key (with `Exists`) every key, and `Equal` (the default) compares values.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or("");
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or("");
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        "Equal" | "" => {
            toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
        }
        _ => false,
    }
}

pub fn tolerated(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| tolerates(t, taint))
}

/// The reason kube gives for the first untolerated taint: `{key: value}`.
pub fn reason(taint: &Taint) -> String {
    format!(
        "node(s) had untolerated taint {{{}: {}}}",
        taint.key,
        taint.value.as_deref().unwrap_or("")
    )
}

pub fn filter(pod: &PodInfo, node: &NodeSpec) -> Result<(), Status> {
    let untolerated = node.taints.iter().find(|taint| {
        matches!(taint.effect.as_str(), "NoSchedule" | "NoExecute")
            && !tolerated(&pod.tolerations, taint)
    });
    match untolerated {
        Some(taint) => Err(Status::unresolvable(Plugin::TaintToleration, reason(taint))),
        None => Ok(()),
    }
}

/// How many PreferNoSchedule taints the pod does not tolerate (lower is better). Only
/// tolerations with an empty or PreferNoSchedule effect count, as in kube.
pub fn intolerable_prefer_no_schedule(pod: &PodInfo, node: &NodeSpec) -> i64 {
    let tolerations: Vec<Toleration> = pod
        .tolerations
        .iter()
        .filter(|t| {
            matches!(
                t.effect.as_deref(),
                None | Some("") | Some("PreferNoSchedule")
            )
        })
        .cloned()
        .collect();
    node.taints
        .iter()
        .filter(|t| t.effect == "PreferNoSchedule" && !tolerated(&tolerations, t))
        .count() as i64
}
