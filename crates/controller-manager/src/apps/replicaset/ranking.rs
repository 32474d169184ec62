//! Which pods a ReplicaSet deletes first when it has too many: kube's ActivePodsWithRanks order,
//! with the PodDeletionCost and LogarithmicScaleDown features on (their default since 1.22).

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;

use crate::apps::pod;

/// The annotation that lets users say which pods are cheaper to delete.
pub(crate) const DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

/// The `count` pods of `pods` to delete first. `related` are the active pods of every
/// ReplicaSet with the same owner (this one's included); a pod on a node crowded with related
/// pods goes before one that is alone on its node.
pub(crate) fn pods_to_delete(
    pods: &[Arc<Pod>],
    related: &[Arc<Pod>],
    count: usize,
    now: jiff::Timestamp,
) -> Vec<Arc<Pod>> {
    if count >= pods.len() {
        return pods.to_vec();
    }
    let mut on_node: HashMap<&str, usize> = HashMap::new();
    for p in related.iter().filter(|p| pod::is_active(p)) {
        *on_node.entry(node_of(p)).or_default() += 1;
    }
    let mut ranked: Vec<(usize, &Arc<Pod>)> = pods
        .iter()
        .map(|p| (on_node.get(node_of(p)).copied().unwrap_or(0), p))
        .collect();
    ranked.sort_by(|(rank_a, a), (rank_b, b)| delete_first(a, *rank_a, b, *rank_b, now));
    ranked
        .into_iter()
        .take(count)
        .map(|(_, p)| p.clone())
        .collect()
}

fn node_of(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or("")
}

fn phase_order(pod: &Pod) -> u8 {
    match pod.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Pending") => 0,
        Some("Unknown") => 1,
        Some("Running") => 2,
        _ => 3,
    }
}

fn deletion_cost(pod: &Pod) -> i32 {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(DELETION_COST))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// `Less` when `a` should be deleted before `b`.
fn delete_first(a: &Pod, rank_a: usize, b: &Pod, rank_b: usize, now: jiff::Timestamp) -> Ordering {
    // 1. Unscheduled before scheduled.
    let (node_a, node_b) = (node_of(a), node_of(b));
    if node_a != node_b && (node_a.is_empty() || node_b.is_empty()) {
        return if node_a.is_empty() {
            Ordering::Less
        } else {
            Ordering::Greater
        };
    }
    // 2. Pending before Unknown before Running.
    let by_phase = phase_order(a).cmp(&phase_order(b));
    if by_phase != Ordering::Equal {
        return by_phase;
    }
    // 3. Not ready before ready.
    let (ready_a, ready_b) = (pod::is_ready(a), pod::is_ready(b));
    if ready_a != ready_b {
        return if ready_a {
            Ordering::Greater
        } else {
            Ordering::Less
        };
    }
    // 4. Lower deletion cost first.
    let by_cost = deletion_cost(a).cmp(&deletion_cost(b));
    if by_cost != Ordering::Equal {
        return by_cost;
    }
    // 5. More related pods on the same node first.
    if rank_a != rank_b {
        return rank_b.cmp(&rank_a);
    }
    // 6. Ready for less time first, in log2 buckets.
    if ready_a && ready_b {
        let (since_a, since_b) = (pod::ready_since(a), pod::ready_since(b));
        if since_a != since_b {
            return newer_first(since_a, since_b, a, b, now);
        }
    }
    // 7. More container restarts first.
    let by_restarts = pod::max_restarts(b).cmp(&pod::max_restarts(a));
    if by_restarts != Ordering::Equal {
        return by_restarts;
    }
    // 8. Newer first, in log2 buckets.
    let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
    if created(a) != created(b) {
        return newer_first(created(a), created(b), a, b, now);
    }
    Ordering::Equal
}

/// kube's comparison of two times where the newer goes first: an unknown time first, then by
/// the log2 of the age, ties broken by UID so the order is stable.
fn newer_first(
    a: Option<jiff::Timestamp>,
    b: Option<jiff::Timestamp>,
    pod_a: &Pod,
    pod_b: &Pod,
    now: jiff::Timestamp,
) -> Ordering {
    let (Some(a), Some(b)) = (a, b) else {
        // Unknown first.
        return match (a, b) {
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            _ => Ordering::Equal,
        };
    };
    let by_bucket = age_bucket(a, now).cmp(&age_bucket(b, now));
    if by_bucket != Ordering::Equal {
        return by_bucket;
    }
    pod_a.metadata.uid.cmp(&pod_b.metadata.uid)
}

/// floor(log2(age in nanoseconds)), or -1 for no age.
fn age_bucket(t: jiff::Timestamp, now: jiff::Timestamp) -> i32 {
    let age = now.as_nanosecond() - t.as_nanosecond();
    if age <= 0 {
        -1
    } else {
        127 - age.leading_zeros() as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apps::pod::tests::{at, pod};
    use k8s_openapi::api::core::v1::{ContainerStatus, PodSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn named(mut p: Pod, name: &str, node: &str, created: i64) -> Arc<Pod> {
        p.metadata.name = Some(name.into());
        p.metadata.uid = Some(name.into());
        p.metadata.creation_timestamp = Some(Time(at(created)));
        p.spec = Some(PodSpec {
            node_name: (!node.is_empty()).then(|| node.to_string()),
            ..PodSpec::default()
        });
        Arc::new(p)
    }

    fn names(pods: &[Arc<Pod>]) -> Vec<&str> {
        pods.iter()
            .map(|p| p.metadata.name.as_deref().unwrap())
            .collect()
    }

    #[test]
    fn unscheduled_pending_and_unready_go_first() {
        let now = at(10_000);
        let pods = vec![
            named(pod("Running", Some(0)), "running-ready", "n1", 0),
            named(pod("Running", None), "running-unready", "n1", 0),
            named(pod("Pending", None), "pending", "n1", 0),
            named(pod("Pending", None), "unscheduled", "", 0),
            named(pod("Unknown", None), "unknown", "n1", 0),
        ];
        let order = pods_to_delete(&pods, &pods, 4, now);
        assert_eq!(
            names(&order),
            ["unscheduled", "pending", "unknown", "running-unready"]
        );
    }

    #[test]
    fn cost_crowding_readiness_restarts_and_age_break_ties() {
        let now = at(100_000);
        let mut cheap = pod("Running", Some(0));
        cheap.metadata.annotations = Some([(DELETION_COST.to_string(), "-5".to_string())].into());
        let mut restarts = pod("Running", Some(0));
        restarts.status.as_mut().unwrap().container_statuses = Some(vec![ContainerStatus {
            restart_count: 3,
            ..ContainerStatus::default()
        }]);
        let pods = vec![
            named(pod("Running", Some(0)), "old", "n1", 0),
            named(pod("Running", Some(0)), "crowded", "n2", 0),
            named(cheap, "cheap", "n1", 0),
            named(pod("Running", Some(99_000)), "recently-ready", "n1", 0),
            named(restarts, "restarts", "n1", 0),
            named(pod("Running", Some(0)), "new", "n1", 99_990),
        ];
        // n2 holds six active related pods; n1 holds five (the finished pod there does not count).
        let mut related: Vec<Arc<Pod>> = pods.clone();
        related.push(named(pod("Running", Some(0)), "sibling-1", "n2", 0));
        related.push(named(pod("Running", Some(0)), "sibling-2", "n2", 0));
        related.push(named(pod("Running", Some(0)), "sibling-3", "n2", 0));
        related.push(named(pod("Running", Some(0)), "sibling-4", "n2", 0));
        related.push(named(pod("Running", Some(0)), "sibling-5", "n2", 0));
        related.push(named(pod("Succeeded", None), "done", "n1", 0));
        let order = pods_to_delete(&pods, &related, 5, now);
        assert_eq!(
            names(&order),
            ["cheap", "crowded", "recently-ready", "restarts", "new"]
        );
    }

    #[test]
    fn close_ages_fall_in_one_bucket_and_order_by_uid() {
        let now = at(1_000_000);
        // Both about 11.6 days old: the same log2 bucket, so the UID decides.
        let pods = vec![
            named(pod("Running", None), "b", "n1", 1),
            named(pod("Running", None), "a", "n1", 0),
        ];
        assert_eq!(names(&pods_to_delete(&pods, &pods, 1, now)), ["a"]);
        assert_eq!(age_bucket(at(0), at(0)), -1);
        assert_eq!(age_bucket(at(0), at(1)), 29, "one second is 2^29.9 ns");
    }

    #[test]
    fn deleting_all_keeps_the_order_given() {
        let pods = vec![named(pod("Running", None), "x", "n1", 0)];
        assert_eq!(names(&pods_to_delete(&pods, &[], 3, at(0))), ["x"]);
    }
}
