//! The ReplicaSet controller's decisions, without IO: how many pods to create or delete, in
//! which batches, what a new pod looks like, and the status to report.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetCondition, ReplicaSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use crate::apps::ownership;
use crate::apps::pod;

/// The most pods one sync creates or deletes (kube's BurstReplicas).
pub(crate) const BURST_REPLICAS: usize = 500;

/// The condition a ReplicaSet carries while it cannot create or delete pods.
pub(crate) const REPLICA_FAILURE: &str = "ReplicaFailure";

/// What to do about the number of pods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scale {
    Create(usize),
    Delete(usize),
    Hold,
}

/// From `active` pods toward `desired`, at most [`BURST_REPLICAS`] at a time.
pub(crate) fn scale(desired: i32, active: usize) -> Scale {
    let desired = desired.max(0) as usize;
    if active < desired {
        Scale::Create((desired - active).min(BURST_REPLICAS))
    } else if active > desired {
        Scale::Delete((active - desired).min(BURST_REPLICAS))
    } else {
        Scale::Hold
    }
}

/// kube's slow start: batches of 1, 2, 4, ... pods, so a template the API server rejects fails
/// once rather than `count` times. The next batch starts only when the previous one succeeded.
pub(crate) fn slow_start_batches(count: usize) -> Vec<usize> {
    let mut batches = Vec::new();
    let (mut left, mut size) = (count, 1);
    while left > 0 {
        let batch = size.min(left);
        batches.push(batch);
        left -= batch;
        size *= 2;
    }
    batches
}

/// Why managing the replicas failed, for the ReplicaFailure condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Failure {
    /// FailedCreate or FailedDelete.
    pub(crate) reason: &'static str,
    pub(crate) message: String,
}

/// A new pod for `rs`: the template's labels, annotations, finalizers and spec, named
/// `<rs>-<random>` by the API server and controlled by `rs`.
pub(crate) fn pod_from_template(rs: &ReplicaSet) -> Pod {
    let name = rs.metadata.name.clone().unwrap_or_default();
    let template = rs.spec.as_ref().and_then(|s| s.template.clone());
    let (meta, spec) = match template {
        Some(t) => (t.metadata.unwrap_or_default(), t.spec),
        None => (ObjectMeta::default(), None),
    };
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(generate_name(&name)),
            namespace: rs.metadata.namespace.clone(),
            labels: meta.labels,
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![ownership::controller_ref(
                "apps/v1",
                "ReplicaSet",
                &rs.metadata,
            )]),
            ..ObjectMeta::default()
        },
        spec,
        status: None,
    }
}

/// `<name>-`, unless that is no valid name prefix (too long), as kube's getPodsPrefix.
fn generate_name(owner: &str) -> String {
    let prefix = format!("{owner}-");
    if prefix.len() <= 253 {
        prefix
    } else {
        owner.to_string()
    }
}

/// The status `rs` should report with these active pods (those it owns), after managing them
/// with `failure` (if any).
pub(crate) fn status(
    rs: &ReplicaSet,
    active: &[Arc<Pod>],
    failure: Option<&Failure>,
    now: jiff::Timestamp,
) -> ReplicaSetStatus {
    let spec = rs.spec.as_ref();
    let min_ready = spec.and_then(|s| s.min_ready_seconds).unwrap_or(0);
    let template_labels = spec
        .and_then(|s| s.template.as_ref())
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let mut status = rs.status.clone().unwrap_or_default();
    let (mut labeled, mut ready, mut available) = (0, 0, 0);
    for p in active {
        let labels = p.metadata.labels.as_ref();
        if template_labels
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
        {
            labeled += 1;
        }
        if pod::is_ready(p) {
            ready += 1;
            if pod::is_available(p, min_ready, now) {
                available += 1;
            }
        }
    }
    let current = status
        .conditions
        .as_ref()
        .and_then(|c| c.iter().find(|c| c.type_ == REPLICA_FAILURE));
    match (failure, current.is_some()) {
        (Some(failure), false) => {
            let mut conditions = status.conditions.take().unwrap_or_default();
            conditions.push(ReplicaSetCondition {
                type_: REPLICA_FAILURE.into(),
                status: "True".into(),
                reason: Some(failure.reason.into()),
                message: Some(failure.message.clone()),
                last_transition_time: Some(Time(now)),
            });
            status.conditions = Some(conditions);
        }
        (None, true) => {
            let conditions: Vec<ReplicaSetCondition> = status
                .conditions
                .take()
                .unwrap_or_default()
                .into_iter()
                .filter(|c| c.type_ != REPLICA_FAILURE)
                .collect();
            status.conditions = (!conditions.is_empty()).then_some(conditions);
        }
        _ => {}
    }
    status.replicas = active.len() as i32;
    status.fully_labeled_replicas = Some(labeled);
    status.ready_replicas = Some(ready);
    status.available_replicas = Some(available);
    status.observed_generation = rs.metadata.generation;
    status
}

/// Whether `new` differs from what `rs` reports now (zero and absent counts are the same).
pub(crate) fn status_changed(rs: &ReplicaSet, new: &ReplicaSetStatus) -> bool {
    let old = rs.status.clone().unwrap_or_default();
    let n = |v: Option<i32>| v.unwrap_or(0);
    old.replicas != new.replicas
        || n(old.fully_labeled_replicas) != n(new.fully_labeled_replicas)
        || n(old.ready_replicas) != n(new.ready_replicas)
        || n(old.available_replicas) != n(new.available_replicas)
        || old.observed_generation != new.observed_generation
        || old.conditions.unwrap_or_default() != new.conditions.clone().unwrap_or_default()
}

/// When to look again so pods that are ready but not yet available for minReadySeconds get
/// counted once they are (kube requeues after minReadySeconds).
pub(crate) fn recheck_availability(rs: &ReplicaSet, status: &ReplicaSetStatus) -> Option<Duration> {
    let spec = rs.spec.as_ref()?;
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let desired = spec.replicas.unwrap_or(1);
    let ready = status.ready_replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    (min_ready > 0 && ready == desired && available != desired)
        .then(|| Duration::from_secs(min_ready as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apps::pod::tests::{at, pod};
    use k8s_openapi::api::apps::v1::ReplicaSetSpec;
    use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec};
    use std::collections::BTreeMap;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn rs(replicas: i32, min_ready: i32) -> ReplicaSet {
        ReplicaSet {
            metadata: ObjectMeta {
                name: Some("web-abc".into()),
                namespace: Some("default".into()),
                uid: Some("rs-uid".into()),
                generation: Some(3),
                ..ObjectMeta::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(replicas),
                min_ready_seconds: Some(min_ready),
                template: Some(PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(labels(&[("app", "web"), ("tier", "front")])),
                        annotations: Some(labels(&[("note", "x")])),
                        ..ObjectMeta::default()
                    }),
                    spec: Some(PodSpec::default()),
                }),
                ..ReplicaSetSpec::default()
            }),
            status: None,
        }
    }

    #[test]
    fn scales_toward_desired_within_the_burst() {
        let cases = [
            (3, 0, Scale::Create(3)),
            (3, 3, Scale::Hold),
            (1, 3, Scale::Delete(2)),
            (0, 2, Scale::Delete(2)),
            (1000, 0, Scale::Create(BURST_REPLICAS)),
            (0, 900, Scale::Delete(BURST_REPLICAS)),
            (-1, 0, Scale::Hold),
        ];
        for (desired, active, want) in cases {
            assert_eq!(scale(desired, active), want, "{desired} from {active}");
        }
    }

    #[test]
    fn slow_start_doubles() {
        let cases: [(usize, &[usize]); 5] = [
            (0, &[]),
            (1, &[1]),
            (3, &[1, 2]),
            (10, &[1, 2, 4, 3]),
            (100, &[1, 2, 4, 8, 16, 32, 37]),
        ];
        for (count, want) in cases {
            assert_eq!(slow_start_batches(count), want, "{count}");
        }
    }

    #[test]
    fn new_pods_copy_the_template_and_point_at_their_owner() {
        let p = pod_from_template(&rs(1, 0));
        assert_eq!(p.metadata.generate_name.as_deref(), Some("web-abc-"));
        assert_eq!(p.metadata.namespace.as_deref(), Some("default"));
        assert_eq!(
            p.metadata.labels,
            Some(labels(&[("app", "web"), ("tier", "front")]))
        );
        assert_eq!(p.metadata.annotations, Some(labels(&[("note", "x")])));
        let owner = &p.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str(), owner.uid.as_str()),
            ("ReplicaSet", "web-abc", "rs-uid")
        );
        assert_eq!(
            (owner.controller, owner.block_owner_deletion),
            (Some(true), Some(true))
        );
        assert!(p.spec.is_some());
        assert_eq!(generate_name(&"x".repeat(253)), "x".repeat(253));
    }

    #[test]
    fn status_counts_labeled_ready_and_available_pods() {
        let now = at(100);
        let with_labels = |mut p: Pod, l: &[(&str, &str)]| {
            p.metadata.labels = Some(labels(l));
            Arc::new(p)
        };
        let full = [("app", "web"), ("tier", "front")];
        let active = vec![
            with_labels(pod("Running", Some(0)), &full),
            with_labels(pod("Running", Some(95)), &full),
            with_labels(pod("Pending", None), &full),
            with_labels(pod("Running", Some(0)), &[("app", "web")]),
        ];
        let s = status(&rs(4, 10), &active, None, now);
        assert_eq!(s.replicas, 4);
        assert_eq!(s.fully_labeled_replicas, Some(3));
        assert_eq!(s.ready_replicas, Some(3));
        assert_eq!(s.available_replicas, Some(2));
        assert_eq!(s.observed_generation, Some(3));
        assert!(s.conditions.is_none());
    }

    #[test]
    fn replica_failure_is_set_once_and_cleared_on_success() {
        let now = at(100);
        let failure = Failure {
            reason: "FailedCreate",
            message: "pods \"web-\" is forbidden: exceeded quota".into(),
        };
        let mut set = rs(2, 0);
        let s = status(&set, &[], Some(&failure), now);
        let conditions = s.conditions.clone().unwrap();
        assert_eq!(conditions.len(), 1);
        assert_eq!(conditions[0].type_, REPLICA_FAILURE);
        assert_eq!(conditions[0].reason.as_deref(), Some("FailedCreate"));
        assert_eq!(conditions[0].last_transition_time, Some(Time(now)));
        set.status = Some(s);
        // A second failure keeps the first condition (and its time).
        let again = status(&set, &[], Some(&failure), at(200));
        assert_eq!(
            again.conditions.as_ref().unwrap()[0].last_transition_time,
            Some(Time(now))
        );
        assert!(!status_changed(&set, &again));
        let cleared = status(&set, &[], None, at(300));
        assert!(cleared.conditions.is_none());
        assert!(status_changed(&set, &cleared));
    }

    #[test]
    fn availability_is_rechecked_after_min_ready_seconds() {
        let set = rs(2, 10);
        let waiting = ReplicaSetStatus {
            ready_replicas: Some(2),
            available_replicas: Some(1),
            ..ReplicaSetStatus::default()
        };
        assert_eq!(
            recheck_availability(&set, &waiting),
            Some(Duration::from_secs(10))
        );
        let done = ReplicaSetStatus {
            available_replicas: Some(2),
            ..waiting.clone()
        };
        assert_eq!(recheck_availability(&set, &done), None);
        assert_eq!(recheck_availability(&rs(2, 0), &waiting), None);
    }
}
