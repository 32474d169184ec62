//! A PodDisruptionBudget's status from the pods it selects: how many are healthy, how many must
//! be, how many are expected (the pods themselves for an integer minAvailable, else their
//! controllers' replicas), and so how many disruptions are allowed now. Pure.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::core::{Selector, SelectorExt};

use crate::cluster::pods;

const CONDITION: &str = "DisruptionAllowed";
/// How long an eviction recorded in status.disruptedPods may wait for its pod's deletion
/// before the pod counts again (kube's DeletionTimeout).
const DISRUPTION_TIMEOUT_SECONDS: i64 = 120;

/// The pods `pdb` selects (a null selector selects none, an empty one all in its namespace).
pub(crate) fn selected<'a>(pdb: &PodDisruptionBudget, candidates: &[&'a Pod]) -> Vec<&'a Pod> {
    let Some(selector) = pdb.spec.as_ref().and_then(|s| s.selector.clone()) else {
        return Vec::new();
    };
    let Ok(selector) = Selector::try_from(selector) else {
        return Vec::new();
    };
    let empty = Default::default();
    candidates
        .iter()
        .filter(|p| p.metadata.namespace == pdb.metadata.namespace)
        .filter(|p| selector.matches(p.metadata.labels.as_ref().unwrap_or(&empty)))
        .copied()
        .collect()
}

/// Whether the budget counts its pods' controllers' replicas (a percentage or maxUnavailable)
/// rather than the pods themselves (an integer minAvailable).
pub(crate) fn needs_scale(pdb: &PodDisruptionBudget) -> bool {
    let spec = pdb.spec.as_ref();
    let min = spec.and_then(|s| s.min_available.as_ref());
    let max = spec.and_then(|s| s.max_unavailable.as_ref());
    !(max.is_none() && matches!(min, Some(IntOrString::Int(_)) | None))
}

/// `value` of `total`, a percentage rounded up.
fn scaled(value: &IntOrString, total: i32) -> Result<i32, String> {
    match value {
        IntOrString::Int(n) => Ok(*n),
        IntOrString::String(s) => {
            let percent: i64 = s
                .strip_suffix('%')
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| format!("invalid value for IntOrString: invalid value {s:?}"))?;
            Ok(((percent * i64::from(total) + 99) / 100) as i32)
        }
    }
}

/// The status for `pdb` over its selected `pods`; `scale` is the sum of their controllers'
/// replicas when [`needs_scale`] (or why it could not be found).
pub(crate) fn status(
    pdb: &PodDisruptionBudget,
    pods: &[&Pod],
    scale: Result<i32, String>,
    now: &Time,
) -> PodDisruptionBudgetStatus {
    let current = pdb.status.clone().unwrap_or_default();
    // Pods an eviction let go (recorded by the API server) do not count while their deletion
    // is on its way; an entry is dropped once the pod is deleting, gone, or overdue.
    let mut disrupted = current.disrupted_pods.clone().unwrap_or_default();
    disrupted.retain(|name, at| {
        let pending = pods
            .iter()
            .any(|p| p.metadata.name.as_deref() == Some(name.as_str()) && !pods::is_terminating(p));
        pending && now.0.as_second() - at.0.as_second() < DISRUPTION_TIMEOUT_SECONDS
    });
    let healthy = pods
        .iter()
        .filter(|p| !pods::is_terminating(p) && pods::is_ready(p))
        .filter(|p| !disrupted.contains_key(p.metadata.name.as_deref().unwrap_or("")))
        .count() as i32;
    let spec = pdb.spec.clone().unwrap_or_default();
    let computed: Result<(i32, i32), String> = (|| {
        if let Some(max) = &spec.max_unavailable {
            let expected = scale.clone()?;
            let max = scaled(max, expected)?;
            return Ok((expected, (expected - max).max(0)));
        }
        match spec.min_available.as_ref().unwrap_or(&IntOrString::Int(1)) {
            IntOrString::Int(n) => Ok((pods.len() as i32, *n)),
            percent => {
                let expected = scale.clone()?;
                Ok((expected, scaled(percent, expected)?))
            }
        }
    })();
    let (expected, desired, allowed, condition) = match computed {
        Ok((expected, desired)) => {
            let allowed = (healthy - desired).max(0);
            let (status, reason) = if allowed > 0 {
                ("True", "SufficientPods")
            } else {
                ("False", "InsufficientPods")
            };
            (expected, desired, allowed, (status, reason, String::new()))
        }
        Err(message) => (0, 0, 0, ("False", "SyncFailed", message)),
    };
    let (status, reason, message) = condition;
    let previous = current
        .conditions
        .as_ref()
        .and_then(|c| c.iter().find(|c| c.type_ == CONDITION));
    let since = match previous {
        Some(p) if p.status == status => p.last_transition_time.clone(),
        _ => now.clone(),
    };
    PodDisruptionBudgetStatus {
        observed_generation: pdb.metadata.generation,
        current_healthy: healthy,
        desired_healthy: desired,
        expected_pods: expected,
        disruptions_allowed: allowed,
        disrupted_pods: (!disrupted.is_empty()).then_some(disrupted),
        conditions: Some(vec![Condition {
            type_: CONDITION.into(),
            status: status.into(),
            reason: reason.into(),
            message,
            last_transition_time: since,
            observed_generation: pdb.metadata.generation,
        }]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::pods::fixtures::{pod, time};
    use k8s_openapi::api::policy::v1::PodDisruptionBudgetSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

    fn pdb(min: Option<IntOrString>, max: Option<IntOrString>) -> PodDisruptionBudget {
        PodDisruptionBudget {
            metadata: ObjectMeta {
                namespace: Some("ns".into()),
                name: Some("web".into()),
                generation: Some(2),
                ..ObjectMeta::default()
            },
            spec: Some(PodDisruptionBudgetSpec {
                min_available: min,
                max_unavailable: max,
                selector: Some(LabelSelector {
                    match_labels: Some([("app".to_string(), "web".to_string())].into()),
                    ..LabelSelector::default()
                }),
                ..PodDisruptionBudgetSpec::default()
            }),
            status: None,
        }
    }

    fn summary(s: &PodDisruptionBudgetStatus) -> (i32, i32, i32, i32, String) {
        let c = &s.conditions.as_ref().unwrap()[0];
        (
            s.current_healthy,
            s.desired_healthy,
            s.expected_pods,
            s.disruptions_allowed,
            format!("{} {}", c.status, c.reason),
        )
    }

    #[test]
    fn budgets() {
        let web = |name: &str, ready: bool| pod("ns", name, &[("app", "web")], ready);
        let mut going = web("d", true);
        going.metadata.deletion_timestamp = Some(time(1));
        let all = [
            web("a", true),
            web("b", true),
            web("c", false),
            going,
            pod("ns", "x", &[("app", "db")], true),
        ];
        let refs: Vec<&Pod> = all.iter().collect();
        let cases = [
            (
                "minAvailable 2 with 2 healthy",
                pdb(Some(IntOrString::Int(2)), None),
                Ok(4),
                (2, 2, 4, 0, "False InsufficientPods".into()),
            ),
            (
                "minAvailable 1",
                pdb(Some(IntOrString::Int(1)), None),
                Ok(4),
                (2, 1, 4, 1, "True SufficientPods".into()),
            ),
            (
                "maxUnavailable 1 of 3 replicas",
                pdb(None, Some(IntOrString::Int(1))),
                Ok(3),
                (2, 2, 3, 0, "False InsufficientPods".into()),
            ),
            (
                "minAvailable 50% of 3",
                pdb(Some(IntOrString::String("50%".into())), None),
                Ok(3),
                (2, 2, 3, 0, "False InsufficientPods".into()),
            ),
            (
                "maxUnavailable 50% of 2",
                pdb(None, Some(IntOrString::String("50%".into()))),
                Ok(2),
                (2, 1, 2, 1, "True SufficientPods".into()),
            ),
            (
                "no controller to scale by",
                pdb(None, Some(IntOrString::Int(1))),
                Err("found no controllers for pod \"a\"".to_string()),
                (2, 0, 0, 0, "False SyncFailed".into()),
            ),
        ];
        for (name, budget, scale, expected) in cases {
            let selected = selected(&budget, &refs);
            assert_eq!(selected.len(), 4, "{name}");
            assert_eq!(
                summary(&status(&budget, &selected, scale, &time(5))),
                expected,
                "{name}"
            );
        }
        assert!(!needs_scale(&pdb(Some(IntOrString::Int(2)), None)));
        assert!(needs_scale(&pdb(None, Some(IntOrString::Int(1)))));
        let mut none = pdb(Some(IntOrString::Int(1)), None);
        none.spec.as_mut().unwrap().selector = None;
        assert!(selected(&none, &refs).is_empty());
    }

    #[test]
    fn evicted_pods_do_not_count_until_deleted_or_overdue() {
        let budget = |at: i64| {
            let mut b = pdb(Some(IntOrString::Int(1)), None);
            b.status = Some(PodDisruptionBudgetStatus {
                disrupted_pods: Some([("a".to_string(), time(at))].into()),
                ..PodDisruptionBudgetStatus::default()
            });
            b
        };
        let (a, b) = (
            pod("ns", "a", &[("app", "web")], true),
            pod("ns", "b", &[("app", "web")], true),
        );
        let fresh = status(&budget(100), &[&a, &b], Ok(2), &time(150));
        assert_eq!((fresh.current_healthy, fresh.disruptions_allowed), (1, 0));
        assert!(fresh.disrupted_pods.is_some());
        let overdue = status(&budget(100), &[&a, &b], Ok(2), &time(300));
        assert_eq!((overdue.current_healthy, overdue.disrupted_pods), (2, None));
        let mut deleting = a.clone();
        deleting.metadata.deletion_timestamp = Some(time(140));
        let gone = status(&budget(100), &[&deleting, &b], Ok(2), &time(150));
        assert_eq!((gone.current_healthy, gone.disrupted_pods), (1, None));
    }

    #[test]
    fn transition_time_moves_only_with_the_status() {
        let budget = pdb(Some(IntOrString::Int(0)), None);
        let p = pod("ns", "a", &[("app", "web")], true);
        let first = status(&budget, &[&p], Ok(1), &time(5));
        let mut again = budget.clone();
        again.status = Some(first.clone());
        let second = status(&again, &[&p], Ok(1), &time(9));
        assert_eq!(second.conditions.unwrap()[0].last_transition_time, time(5));
        assert_eq!(first.observed_generation, Some(2));
    }
}
