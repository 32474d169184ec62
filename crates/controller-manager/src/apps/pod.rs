//! What the workload controllers ask of a pod: is it active, ready, available.

use k8s_openapi::api::core::v1::Pod;

/// A pod that counts toward its controller's replicas: not terminating, not finished.
pub(crate) fn is_active(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    pod.metadata.deletion_timestamp.is_none() && !matches!(phase, Some("Succeeded" | "Failed"))
}

/// Whether the pod's Ready condition is True.
pub(crate) fn is_ready(pod: &Pod) -> bool {
    ready_condition(pod).is_some_and(|c| c.status == "True")
}

/// When the pod last became ready (its Ready condition's lastTransitionTime), if it is ready.
pub(crate) fn ready_since(pod: &Pod) -> Option<jiff::Timestamp> {
    let condition = ready_condition(pod).filter(|c| c.status == "True")?;
    condition.last_transition_time.as_ref().map(|t| t.0)
}

fn ready_condition(pod: &Pod) -> Option<&k8s_openapi::api::core::v1::PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
}

/// Ready for at least `min_ready_seconds` (kube's IsPodAvailable): with 0, ready is enough;
/// otherwise the Ready transition must be known and old enough.
pub(crate) fn is_available(pod: &Pod, min_ready_seconds: i32, now: jiff::Timestamp) -> bool {
    if !is_ready(pod) {
        return false;
    }
    if min_ready_seconds <= 0 {
        return true;
    }
    ready_since(pod).is_some_and(|since| {
        since + jiff::SignedDuration::from_secs(i64::from(min_ready_seconds)) < now
    })
}

/// The largest restart count among the pod's containers (kube ranks busier restarters first).
pub(crate) fn max_restarts(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map(|statuses| statuses.iter().map(|c| c.restart_count).max().unwrap_or(0))
        .unwrap_or(0)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    pub(crate) fn at(seconds: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_700_000_000 + seconds).unwrap()
    }

    /// A pod in `phase`, Ready since `ready_at` (seconds) if given.
    pub(crate) fn pod(phase: &str, ready_at: Option<i64>) -> Pod {
        Pod {
            status: Some(PodStatus {
                phase: Some(phase.into()),
                conditions: ready_at.map(|t| {
                    vec![PodCondition {
                        type_: "Ready".into(),
                        status: "True".into(),
                        last_transition_time: Some(Time(at(t))),
                        ..PodCondition::default()
                    }]
                }),
                ..PodStatus::default()
            }),
            ..Pod::default()
        }
    }

    #[test]
    fn activity_readiness_and_availability() {
        // (pod, active, ready, available with minReadySeconds 10 at t=100)
        let mut terminating = pod("Running", Some(0));
        terminating.metadata.deletion_timestamp = Some(Time(at(50)));
        let cases = [
            ("pending", pod("Pending", None), true, false, false),
            ("ready long ago", pod("Running", Some(0)), true, true, true),
            (
                "ready just now",
                pod("Running", Some(95)),
                true,
                true,
                false,
            ),
            ("succeeded", pod("Succeeded", None), false, false, false),
            ("failed", pod("Failed", None), false, false, false),
            ("terminating", terminating, false, true, true),
        ];
        for (name, p, active, ready, available) in cases {
            assert_eq!(is_active(&p), active, "{name} active");
            assert_eq!(is_ready(&p), ready, "{name} ready");
            assert_eq!(is_available(&p, 10, at(100)), available, "{name} available");
        }
        assert!(is_available(&pod("Running", Some(95)), 0, at(100)));
        assert!(
            !is_available(&pod("Running", Some(90)), 10, at(100)),
            "not strictly after"
        );
    }
}
