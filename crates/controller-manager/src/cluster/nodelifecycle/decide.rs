//! The node lifecycle controller's decisions: which taints a node's conditions call for, how a
//! pod on an unhealthy node is marked not ready, and when taint-based eviction deletes a pod.
//! Pure: time is passed in.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, Pod, PodCondition, PodStatus, Taint, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::cluster::taints::{
    DISK_PRESSURE, MEMORY_PRESSURE, NETWORK_UNAVAILABLE, NO_EXECUTE, NO_SCHEDULE, NOT_READY,
    PID_PRESSURE, UNREACHABLE, UNSCHEDULABLE, matching_tolerations,
};

/// The NoSchedule taint each (condition, status) calls for, as kube's TaintNodesByCondition.
const CONDITION_TAINTS: [(&str, &str, &str); 6] = [
    ("Ready", "False", NOT_READY),
    ("Ready", "Unknown", UNREACHABLE),
    ("MemoryPressure", "True", MEMORY_PRESSURE),
    ("DiskPressure", "True", DISK_PRESSURE),
    ("NetworkUnavailable", "True", NETWORK_UNAVAILABLE),
    ("PIDPressure", "True", PID_PRESSURE),
];

/// Whether this controller owns a taint (and so adds and removes it).
fn is_managed(taint: &Taint) -> bool {
    match taint.effect.as_str() {
        NO_SCHEDULE => {
            taint.key == UNSCHEDULABLE
                || CONDITION_TAINTS.iter().any(|(_, _, key)| *key == taint.key)
        }
        NO_EXECUTE => taint.key == NOT_READY || taint.key == UNREACHABLE,
        _ => false,
    }
}

/// The node's Ready status, if it has the condition.
pub(crate) fn ready_status(node: &Node) -> Option<&str> {
    node.status
        .as_ref()?
        .conditions
        .as_deref()?
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.status.as_str())
}

/// The (key, effect) pairs the node's conditions and spec call for. NoExecute taints (which
/// evict) only when `evictions_allowed` (not while every node is down).
fn wanted(node: &Node, evictions_allowed: bool) -> Vec<(&'static str, &'static str)> {
    let conditions = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or(&[]);
    let mut wanted: Vec<(&str, &str)> = CONDITION_TAINTS
        .iter()
        .filter(|(type_, status, _)| {
            conditions
                .iter()
                .any(|c| c.type_ == *type_ && c.status == *status)
        })
        .map(|(_, _, key)| (*key, NO_SCHEDULE))
        .collect();
    if node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
        wanted.push((UNSCHEDULABLE, NO_SCHEDULE));
    }
    if evictions_allowed {
        match ready_status(node) {
            Some("False") => wanted.push((NOT_READY, NO_EXECUTE)),
            Some("Unknown") => wanted.push((UNREACHABLE, NO_EXECUTE)),
            _ => {}
        }
    }
    wanted
}

/// The node's taints as they should be, or `None` when they already are: managed taints follow
/// the conditions (keeping their timeAdded while they stay), every other taint is kept.
pub(crate) fn desired_taints(
    node: &Node,
    evictions_allowed: bool,
    now: &Time,
) -> Option<Vec<Taint>> {
    let current = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    let wanted = wanted(node, evictions_allowed);
    let is_wanted = |t: &Taint| wanted.iter().any(|(k, e)| t.key == *k && t.effect == *e);
    let mut taints: Vec<Taint> = current
        .iter()
        .filter(|t| !is_managed(t) || is_wanted(t))
        .cloned()
        .collect();
    for (key, effect) in &wanted {
        if !taints.iter().any(|t| t.key == *key && t.effect == *effect) {
            taints.push(Taint {
                key: key.to_string(),
                effect: effect.to_string(),
                value: None,
                time_added: Some(now.clone()),
            });
        }
    }
    (taints != current).then_some(taints)
}

/// The pod's status with its Ready condition set to False, or `None` when it already is or the
/// pod has no Ready condition (kube's MarkPodsNotReady changes only a Ready condition it finds).
pub(crate) fn not_ready_status(pod: &Pod, now: &Time) -> Option<PodStatus> {
    let mut status = pod.status.clone()?;
    let ready: &mut PodCondition = status
        .conditions
        .as_mut()?
        .iter_mut()
        .find(|c| c.type_ == "Ready")?;
    if ready.status == "False" {
        return None;
    }
    ready.status = "False".into();
    ready.last_transition_time = Some(now.clone());
    Some(status)
}

/// What taint-based eviction does with one pod.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Eviction {
    /// Nothing to do (no NoExecute taint, or tolerated forever); cancels a scheduled deletion.
    Keep,
    /// Delete now: a taint is not tolerated, or its tolerationSeconds ran out.
    Now,
    /// Delete at this moment, counted from `since` (when the eviction was first scheduled).
    At { when: Timestamp, since: Timestamp },
}

/// The eviction of a pod with `tolerations` on a node with `taints` (its NoExecute ones), at
/// `now`; `scheduled_since` is when an earlier decision started counting, kept so that a later
/// look never postpones the deletion.
pub(crate) fn eviction(
    tolerations: &[Toleration],
    taints: &[Taint],
    now: Timestamp,
    scheduled_since: Option<Timestamp>,
) -> Eviction {
    if taints.is_empty() {
        return Eviction::Keep;
    }
    let Some(used) = matching_tolerations(taints, tolerations) else {
        return Eviction::Now;
    };
    let mut shortest: Option<i64> = None;
    for toleration in used {
        if let Some(seconds) = toleration.toleration_seconds {
            shortest = Some(shortest.map_or(seconds, |s| s.min(seconds)));
        }
    }
    let Some(seconds) = shortest else {
        return Eviction::Keep;
    };
    if seconds <= 0 {
        return Eviction::Now;
    }
    let since = scheduled_since.unwrap_or(now);
    let when = since + Duration::from_secs(seconds as u64);
    if when <= now {
        Eviction::Now
    } else {
        Eviction::At { when, since }
    }
}

/// The node's NoExecute taints.
pub(crate) fn no_execute_taints(node: &Node) -> Vec<Taint> {
    crate::cluster::taints::node_taints(node)
        .iter()
        .filter(|t| t.effect == NO_EXECUTE)
        .cloned()
        .collect()
}
