//! Table tests of Deployment status and conditions.

use super::*;
use k8s_openapi::api::apps::v1::{
    DeploymentSpec, ReplicaSetCondition, ReplicaSetSpec, ReplicaSetStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

fn at(seconds: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_700_000_000 + seconds).unwrap()
}

fn strategy(desired: i32) -> Strategy {
    Strategy {
        desired,
        rolling: true,
        max_surge: 1,
        max_unavailable: 1,
    }
}

fn deployment(desired: i32, status: DeploymentStatus) -> Deployment {
    Deployment {
        metadata: ObjectMeta {
            name: Some("web".into()),
            generation: Some(2),
            ..ObjectMeta::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(desired),
            progress_deadline_seconds: Some(600),
            ..DeploymentSpec::default()
        }),
        status: Some(status),
    }
}

/// A ReplicaSet of `size`, with `actual` pods of which `ready` are ready and `available` are
/// available.
fn rs(name: &str, size: i32, actual: i32, ready: i32, available: i32) -> ReplicaSet {
    ReplicaSet {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        spec: Some(ReplicaSetSpec {
            replicas: Some(size),
            ..ReplicaSetSpec::default()
        }),
        status: Some(ReplicaSetStatus {
            replicas: actual,
            ready_replicas: Some(ready),
            available_replicas: Some(available),
            ..ReplicaSetStatus::default()
        }),
    }
}

fn counts(s: &DeploymentStatus) -> [i32; 5] {
    [
        n(s.replicas),
        n(s.updated_replicas),
        n(s.ready_replicas),
        n(s.available_replicas),
        n(s.unavailable_replicas),
    ]
}

fn reason_of(s: &DeploymentStatus, type_: &str) -> Option<(String, String)> {
    get(s, type_).map(|c| (c.status.clone(), c.reason.clone().unwrap_or_default()))
}

#[test]
fn counts_come_from_the_replica_sets() {
    // (new, old, want [replicas, updated, ready, available, unavailable], Available)
    let cases = [
        (
            rs("new", 3, 3, 3, 3),
            rs("old", 0, 0, 0, 0),
            [3, 3, 3, 3, 0],
            "True",
        ),
        (
            rs("new", 1, 1, 0, 0),
            rs("old", 3, 3, 3, 3),
            [4, 1, 3, 3, 1],
            "True",
        ),
        (
            rs("new", 2, 2, 1, 0),
            rs("old", 1, 2, 2, 1),
            [4, 2, 3, 1, 2],
            "False",
        ),
        (
            rs("new", 3, 0, 0, 0),
            rs("old", 0, 0, 0, 0),
            [0, 0, 0, 0, 3],
            "False",
        ),
    ];
    for (new, old, want, available) in cases {
        let d = deployment(3, DeploymentStatus::default());
        let s = calculate(&d, &strategy(3), &[&old, &new], Some(&new), at(0));
        assert_eq!(counts(&s), want);
        assert_eq!(s.observed_generation, Some(2));
        let c = get(&s, AVAILABLE).unwrap();
        assert_eq!(c.status, available);
        let message = if available == "True" {
            "Deployment has minimum availability."
        } else {
            "Deployment does not have minimum availability."
        };
        assert_eq!(c.message.as_deref(), Some(message));
    }
}

#[test]
fn conditions_keep_their_times_until_they_change() {
    let mut s = DeploymentStatus::default();
    set(
        &mut s,
        condition(AVAILABLE, "False", MIN_UNAVAILABLE, "x".into(), at(0)),
    );
    set(
        &mut s,
        condition(AVAILABLE, "False", MIN_UNAVAILABLE, "y".into(), at(5)),
    );
    let c = get(&s, AVAILABLE).unwrap();
    assert_eq!(
        (c.message.as_deref(), c.last_update_time.clone()),
        (Some("x"), Some(Time(at(0))))
    );
    set(
        &mut s,
        condition(AVAILABLE, "False", "Other", "z".into(), at(9)),
    );
    let c = get(&s, AVAILABLE).unwrap();
    assert_eq!(
        c.last_transition_time,
        Some(Time(at(0))),
        "same status keeps the transition"
    );
    assert_eq!(c.last_update_time, Some(Time(at(9))));
    set(
        &mut s,
        condition(AVAILABLE, "True", MIN_AVAILABLE, "ok".into(), at(12)),
    );
    assert_eq!(
        get(&s, AVAILABLE).unwrap().last_transition_time,
        Some(Time(at(12)))
    );
    assert_eq!(s.conditions.as_ref().unwrap().len(), 1);
    remove(&mut s, AVAILABLE);
    assert!(s.conditions.is_none());
}

#[test]
fn progress_moves_the_progressing_condition() {
    let progressing_since = |reason: &str, t: i64| DeploymentStatus {
        replicas: Some(4),
        updated_replicas: Some(1),
        ready_replicas: Some(3),
        available_replicas: Some(3),
        conditions: Some(vec![condition(
            PROGRESSING,
            "True",
            reason,
            "before".into(),
            at(t),
        )]),
        ..DeploymentStatus::default()
    };
    let new = rs("web-abc", 2, 2, 1, 0);
    let old = rs("web-old", 3, 3, 3, 3);
    let complete_new = rs("web-abc", 3, 3, 3, 3);
    let idle_old = rs("web-old", 0, 0, 0, 0);
    let no_progress_new = rs("web-abc", 1, 1, 0, 0);
    // (name, current status, (new, old), now, want (status, reason), want message)
    let cases = [
        (
            "more updated pods",
            progressing_since(NEW_RS_CREATED, 0),
            (&new, &old),
            700,
            ("True", RS_UPDATED),
            "ReplicaSet \"web-abc\" is progressing.",
        ),
        (
            "done",
            progressing_since(RS_UPDATED, 0),
            (&complete_new, &idle_old),
            10,
            ("True", NEW_RS_AVAILABLE),
            "ReplicaSet \"web-abc\" has successfully progressed.",
        ),
        (
            "no progress past the deadline",
            progressing_since(RS_UPDATED, 0),
            (&no_progress_new, &old),
            601,
            ("False", TIMED_OUT),
            "ReplicaSet \"web-abc\" has timed out progressing.",
        ),
        (
            "no progress within the deadline",
            progressing_since(RS_UPDATED, 0),
            (&no_progress_new, &old),
            599,
            ("True", RS_UPDATED),
            "before",
        ),
    ];
    for (name, current, (new, old), now, (want_status, want_reason), want_message) in cases {
        let d = deployment(3, current);
        let calculated = calculate(&d, &strategy(3), &[old, new], Some(new), at(now));
        let s = rollout_status(
            &d,
            &strategy(3),
            calculated,
            &[old, new],
            Some(new),
            at(now),
        );
        let c = get(&s, PROGRESSING).unwrap();
        assert_eq!(
            (c.status.as_str(), c.reason.as_deref().unwrap()),
            (want_status, want_reason),
            "{name}"
        );
        assert_eq!(c.message.as_deref(), Some(want_message), "{name}");
        if want_reason == RS_UPDATED && want_message != "before" {
            assert_eq!(
                c.last_transition_time,
                Some(Time(at(0))),
                "{name}: still True"
            );
            assert_eq!(
                c.last_update_time,
                Some(Time(at(now))),
                "{name}: progress noted"
            );
        }
    }
}

#[test]
fn no_deadline_means_no_progressing_condition() {
    let mut d = deployment(1, DeploymentStatus::default());
    d.spec.as_mut().unwrap().progress_deadline_seconds = Some(i32::MAX);
    let new = rs("web-abc", 1, 1, 1, 1);
    let calculated = calculate(&d, &strategy(1), &[&new], Some(&new), at(0));
    let s = rollout_status(&d, &strategy(1), calculated, &[&new], Some(&new), at(0));
    assert!(get(&s, PROGRESSING).is_none());
    assert!(get(&s, AVAILABLE).is_some());
}

#[test]
fn replica_set_failures_surface_on_the_deployment() {
    let mut failing = rs("web-abc", 2, 0, 0, 0);
    failing.status.as_mut().unwrap().conditions = Some(vec![ReplicaSetCondition {
        type_: REPLICA_FAILURE.into(),
        status: "True".into(),
        reason: Some("FailedCreate".into()),
        message: Some("pods \"web-abc-\" is forbidden".into()),
        last_transition_time: Some(Time(at(3))),
    }]);
    let d = deployment(2, DeploymentStatus::default());
    let calculated = calculate(&d, &strategy(2), &[&failing], Some(&failing), at(5));
    let s = rollout_status(
        &d,
        &strategy(2),
        calculated,
        &[&failing],
        Some(&failing),
        at(5),
    );
    assert_eq!(
        reason_of(&s, REPLICA_FAILURE),
        Some(("True".into(), "FailedCreate".into()))
    );
    let healthy = rs("web-abc", 2, 2, 2, 2);
    let d = deployment(2, s);
    let calculated = calculate(&d, &strategy(2), &[&healthy], Some(&healthy), at(9));
    let s = rollout_status(
        &d,
        &strategy(2),
        calculated,
        &[&healthy],
        Some(&healthy),
        at(9),
    );
    assert!(get(&s, REPLICA_FAILURE).is_none());
}

#[test]
fn pausing_and_resuming_mark_progressing_unknown() {
    let mut d = deployment(1, DeploymentStatus::default());
    d.spec.as_mut().unwrap().paused = Some(true);
    let paused = paused_condition(&d, at(0)).unwrap();
    assert_eq!(
        reason_of(&paused, PROGRESSING),
        Some(("Unknown".into(), PAUSED.into()))
    );
    d.status = Some(paused);
    assert!(paused_condition(&d, at(1)).is_none(), "already paused");
    d.spec.as_mut().unwrap().paused = Some(false);
    let resumed = paused_condition(&d, at(2)).unwrap();
    assert_eq!(
        get(&resumed, PROGRESSING).unwrap().message.as_deref(),
        Some("Deployment is resumed")
    );
    // A timed-out rollout stays reported as such.
    let mut timed_out = deployment(1, DeploymentStatus::default());
    set(
        timed_out.status.as_mut().unwrap(),
        condition(PROGRESSING, "False", TIMED_OUT, "late".into(), at(0)),
    );
    timed_out.spec.as_mut().unwrap().paused = Some(true);
    assert!(paused_condition(&timed_out, at(1)).is_none());
}

#[test]
fn stuck_rollouts_are_rechecked_at_their_deadline() {
    let mut current = DeploymentStatus::default();
    set(
        &mut current,
        condition(PROGRESSING, "True", RS_UPDATED, "p".into(), at(0)),
    );
    let d = deployment(3, current.clone());
    // (now, want)
    let cases = [
        (0, Some(Duration::from_secs(601))),
        (500, Some(Duration::from_secs(101))),
        (599, Some(Duration::from_secs(2))),
        (700, Some(Duration::from_secs(1))),
    ];
    for (now, want) in cases {
        assert_eq!(
            recheck_progress(&d, &strategy(3), &current, at(now)),
            want,
            "{now}"
        );
    }
    let done = DeploymentStatus {
        replicas: Some(3),
        updated_replicas: Some(3),
        available_replicas: Some(3),
        observed_generation: Some(2),
        ..DeploymentStatus::default()
    };
    assert_eq!(recheck_progress(&d, &strategy(3), &done, at(0)), None);
}

#[test]
fn absent_and_zero_counts_are_the_same_status() {
    let a = DeploymentStatus {
        replicas: Some(0),
        conditions: Some(Vec::new()),
        ..DeploymentStatus::default()
    };
    assert!(same(&a, &DeploymentStatus::default()));
    let b = DeploymentStatus {
        replicas: Some(1),
        ..DeploymentStatus::default()
    };
    assert!(!same(&a, &b));
}
