//! Facts about a Pod that several controllers read the same way: readiness, whether it is
//! terminal or terminating, and its Ready condition's last transition.

use k8s_openapi::api::core::v1::{Pod, PodCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// The pod's condition of type `type_`, if it has one.
pub(super) fn condition<'a>(pod: &'a Pod, type_: &str) -> Option<&'a PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_deref()?
        .iter()
        .find(|c| c.type_ == type_)
}

/// Whether the pod's Ready condition is True.
pub(super) fn is_ready(pod: &Pod) -> bool {
    condition(pod, "Ready").is_some_and(|c| c.status == "True")
}

/// The pod's phase ("" when not reported yet).
pub(super) fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// Whether the pod finished for good (Succeeded or Failed): its containers never run again.
pub(super) fn is_terminal(pod: &Pod) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed")
}

/// Whether the pod is being deleted.
pub(super) fn is_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

/// The node the pod is bound to ("" when unscheduled).
pub(super) fn node_name(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or("")
}

/// The pod's IPs, primary first (podIPs, or the lone podIP of an older writer).
pub(super) fn ips(pod: &Pod) -> Vec<String> {
    let Some(status) = pod.status.as_ref() else {
        return Vec::new();
    };
    match status.pod_ips.as_deref() {
        Some(ips) if !ips.is_empty() => ips.iter().map(|ip| ip.ip.clone()).collect(),
        _ => status
            .pod_ip
            .iter()
            .filter(|ip| !ip.is_empty())
            .cloned()
            .collect(),
    }
}

/// When the pod's readiness last changed: what the endpoints controllers report as the trigger
/// of an endpoints change.
pub(super) fn ready_transition(pod: &Pod) -> Option<Time> {
    condition(pod, "Ready").and_then(|c| c.last_transition_time.clone())
}

/// Whether the pod is available: Ready for at least `min_ready_seconds` at `now`.
pub(super) fn is_available(pod: &Pod, min_ready_seconds: i32, now: jiff::Timestamp) -> bool {
    let Some(ready) = condition(pod, "Ready").filter(|c| c.status == "True") else {
        return false;
    };
    if min_ready_seconds <= 0 {
        return true;
    }
    ready.last_transition_time.as_ref().is_some_and(|since| {
        since.0 + jiff::SignedDuration::from_secs(i64::from(min_ready_seconds)) <= now
    })
}

#[cfg(test)]
pub(super) mod fixtures {
    //! Pods for the controllers' table tests.

    use k8s_openapi::api::core::v1::{Pod, PodCondition, PodIP, PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

    /// A running pod in `namespace` with `labels`, on `node`, with `ip`, Ready or not.
    pub(crate) fn pod(namespace: &str, name: &str, labels: &[(&str, &str)], ready: bool) -> Pod {
        Pod {
            metadata: ObjectMeta {
                namespace: Some(namespace.into()),
                name: Some(name.into()),
                uid: Some(format!("uid-{name}")),
                labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                ..ObjectMeta::default()
            },
            spec: Some(PodSpec {
                node_name: Some("node-1".into()),
                ..PodSpec::default()
            }),
            status: Some(PodStatus {
                phase: Some("Running".into()),
                pod_ip: Some("10.0.0.1".into()),
                pod_ips: Some(vec![PodIP {
                    ip: "10.0.0.1".into(),
                }]),
                conditions: Some(vec![PodCondition {
                    type_: "Ready".into(),
                    status: if ready { "True" } else { "False" }.into(),
                    last_transition_time: Some(time(100)),
                    ..PodCondition::default()
                }]),
                ..PodStatus::default()
            }),
        }
    }

    pub(crate) fn time(second: i64) -> Time {
        Time(jiff::Timestamp::from_second(second).expect("a valid second"))
    }

    pub(crate) fn with_ip(mut pod: Pod, ip: &str) -> Pod {
        let status = pod.status.get_or_insert_with(PodStatus::default);
        status.pod_ip = Some(ip.into());
        status.pod_ips = Some(vec![PodIP { ip: ip.into() }]);
        pod
    }

    pub(crate) fn on_node(mut pod: Pod, node: &str) -> Pod {
        pod.spec.get_or_insert_with(PodSpec::default).node_name = Some(node.into());
        pod
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{pod, time};
    use super::*;

    #[test]
    fn readiness_and_availability() {
        let now = time(130).0;
        let cases = [
            (pod("ns", "a", &[], true), 0, true, true),
            (pod("ns", "b", &[], true), 20, true, true),
            (pod("ns", "c", &[], true), 60, true, false),
            (pod("ns", "d", &[], false), 0, false, false),
        ];
        for (pod, min_ready, ready, available) in cases {
            assert_eq!(is_ready(&pod), ready, "{:?}", pod.metadata.name);
            assert_eq!(
                is_available(&pod, min_ready, now),
                available,
                "{:?}",
                pod.metadata.name
            );
        }
    }

    #[test]
    fn ips_prefer_the_list() {
        let mut p = pod("ns", "a", &[], true);
        assert_eq!(ips(&p), ["10.0.0.1"]);
        p.status.as_mut().unwrap().pod_ips = None;
        p.status.as_mut().unwrap().pod_ip = Some("10.0.0.9".into());
        assert_eq!(ips(&p), ["10.0.0.9"]);
        p.status.as_mut().unwrap().pod_ip = None;
        assert!(ips(&p).is_empty());
    }
}
