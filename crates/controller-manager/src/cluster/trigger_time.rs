//! The `endpoints.kubernetes.io/last-change-trigger-time` annotation: when the earliest change
//! that the next Endpoints/EndpointSlice write reflects happened (a pod's readiness flip or the
//! Service's creation), so latency SLIs can measure from it. Pure.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::pods;

/// The annotation the endpoints controllers set.
pub(super) const ANNOTATION: &str = "endpoints.kubernetes.io/last-change-trigger-time";

/// What was last seen per Service: the trigger time of each pod and of the Service.
#[derive(Default)]
pub(super) struct TriggerTimes {
    services: HashMap<(String, String), Seen>,
}

#[derive(Default)]
struct Seen {
    pods: HashMap<String, Time>,
    service: Option<Time>,
}

impl TriggerTimes {
    /// The earliest trigger time among the changes since the Service was last computed, and
    /// remembers the current ones. `None` when nothing with a time changed.
    pub(super) fn compute(&mut self, service: &Service, pods: &[&Pod]) -> Option<Time> {
        let key = (
            service.metadata.namespace.clone().unwrap_or_default(),
            service.metadata.name.clone().unwrap_or_default(),
        );
        let seen = self.services.entry(key).or_default();
        let mut earliest: Option<Time> = None;
        let mut consider = |time: &Time| {
            if earliest.as_ref().is_none_or(|e| time < e) {
                earliest = Some(time.clone());
            }
        };
        let mut current = HashMap::new();
        for pod in pods {
            let Some(time) = pods::ready_transition(pod) else {
                continue;
            };
            let name = pod.metadata.name.clone().unwrap_or_default();
            if seen.pods.get(&name).is_none_or(|before| &time > before) {
                consider(&time);
            }
            current.insert(name, time);
        }
        let created = service.metadata.creation_timestamp.clone();
        if let Some(created) = &created
            && seen.service.as_ref().is_none_or(|before| created > before)
        {
            consider(created);
        }
        seen.pods = current;
        seen.service = created;
        earliest
    }

    /// Forgets a deleted Service.
    pub(super) fn forget(&mut self, namespace: &str, name: &str) {
        self.services
            .remove(&(namespace.to_string(), name.to_string()));
    }
}

/// The annotation's value: RFC 3339 with nanoseconds, in UTC, as kube writes it.
pub(super) fn format(time: &Time) -> String {
    time.0.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::pods::fixtures::{pod, time};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn service(created: i64) -> Service {
        Service {
            metadata: ObjectMeta {
                namespace: Some("ns".into()),
                name: Some("web".into()),
                creation_timestamp: Some(time(created)),
                ..ObjectMeta::default()
            },
            ..Service::default()
        }
    }

    fn ready_at(name: &str, at: i64) -> Pod {
        let mut p = pod("ns", name, &[], true);
        p.status.as_mut().unwrap().conditions.as_mut().unwrap()[0].last_transition_time =
            Some(time(at));
        p
    }

    #[test]
    fn reports_the_earliest_unseen_change() {
        let mut times = TriggerTimes::default();
        let svc = service(50);
        let (a, b) = (ready_at("a", 100), ready_at("b", 120));
        // First sight: the Service's creation is the earliest trigger.
        assert_eq!(times.compute(&svc, &[&a, &b]), Some(time(50)));
        // Nothing changed since.
        assert_eq!(times.compute(&svc, &[&a, &b]), None);
        // b flipped later; a new pod c too: the earliest new change wins.
        let (b2, c) = (ready_at("b", 200), ready_at("c", 180));
        assert_eq!(times.compute(&svc, &[&a, &b2, &c]), Some(time(180)));
        times.forget("ns", "web");
        assert_eq!(times.compute(&svc, &[&a]), Some(time(50)));
    }

    #[test]
    fn formats_like_kube() {
        assert_eq!(format(&time(0)), "1970-01-01T00:00:00Z");
    }
}
