//! Table tests of the rollout arithmetic, with cases taken from kube's documented behaviour.

use super::*;
use k8s_openapi::api::apps::v1::{
    DeploymentSpec, DeploymentStrategy, ReplicaSetSpec, ReplicaSetStatus, RollingUpdateDeployment,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

fn int(n: i32) -> IntOrString {
    IntOrString::Int(n)
}

fn pct(s: &str) -> IntOrString {
    IntOrString::String(s.into())
}

fn rolling(desired: i32, surge: i32, unavailable: i32) -> Strategy {
    Strategy {
        desired,
        rolling: true,
        max_surge: surge,
        max_unavailable: unavailable,
    }
}

/// A ReplicaSet named `name`, created at second `created`, of `size` with `available` pods.
fn rs(name: &str, created: i64, size: i32, available: i32) -> ReplicaSet {
    ReplicaSet {
        metadata: ObjectMeta {
            name: Some(name.into()),
            creation_timestamp: Some(Time(
                jiff::Timestamp::from_second(1_700_000_000 + created).unwrap(),
            )),
            ..ObjectMeta::default()
        },
        spec: Some(ReplicaSetSpec {
            replicas: Some(size),
            ..ReplicaSetSpec::default()
        }),
        status: Some(ReplicaSetStatus {
            replicas: size,
            available_replicas: Some(available),
            ..ReplicaSetStatus::default()
        }),
    }
}

fn annotated(mut set: ReplicaSet, desired: i32, max: i32) -> ReplicaSet {
    set.metadata.annotations = Some(
        [
            (DESIRED_REPLICAS.to_string(), desired.to_string()),
            (MAX_REPLICAS.to_string(), max.to_string()),
        ]
        .into(),
    );
    set
}

#[test]
fn percentages_round_surge_up_and_unavailability_down() {
    // (surge, unavailable, desired, want)
    let cases = [
        (pct("25%"), pct("25%"), 10, Ok((3, 2))),
        (pct("25%"), pct("25%"), 4, Ok((1, 1))),
        (pct("25%"), pct("25%"), 1, Ok((1, 0))),
        (pct("25%"), pct("25%"), 0, Ok((0, 1))),
        (int(0), pct("1%"), 2, Ok((0, 1))),
        (pct("1%"), pct("25%"), 2, Ok((1, 0))),
        (int(2), int(0), 10, Ok((2, 0))),
        (int(0), int(0), 10, Ok((0, 1))),
        (pct("0%"), pct("0%"), 10, Ok((0, 1))),
        (pct("100%"), pct("100%"), 3, Ok((3, 3))),
        (pct("33%"), pct("33%"), 10, Ok((4, 3))),
        (pct("x%"), int(1), 10, Err(())),
        (pct("25"), int(1), 10, Err(())),
    ];
    for (surge, unavailable, desired, want) in cases {
        let got = resolve_fenceposts(Some(&surge), Some(&unavailable), desired).map_err(drop);
        assert_eq!(got, want, "{surge:?} {unavailable:?} of {desired}");
    }
}

fn deployment(replicas: i32, strategy: Option<DeploymentStrategy>) -> Deployment {
    Deployment {
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            strategy,
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

#[test]
fn strategies_resolve_from_the_deployment() {
    let rolling_update = |surge, unavailable| {
        Some(DeploymentStrategy {
            type_: Some("RollingUpdate".into()),
            rolling_update: Some(RollingUpdateDeployment {
                max_surge: Some(surge),
                max_unavailable: Some(unavailable),
            }),
        })
    };
    let recreate = Some(DeploymentStrategy {
        type_: Some("Recreate".into()),
        rolling_update: None,
    });
    let cases = [
        (deployment(10, None), rolling(10, 3, 2)),
        (
            deployment(10, rolling_update(int(1), int(0))),
            rolling(10, 1, 0),
        ),
        // maxUnavailable never exceeds the replicas, and is 0 with no replicas.
        (
            deployment(2, rolling_update(int(0), int(5))),
            rolling(2, 0, 2),
        ),
        (
            deployment(0, rolling_update(int(1), int(1))),
            rolling(0, 1, 0),
        ),
        (
            deployment(5, recreate),
            Strategy {
                desired: 5,
                rolling: false,
                max_surge: 0,
                max_unavailable: 0,
            },
        ),
    ];
    for (d, want) in cases {
        assert_eq!(Strategy::of(&d).unwrap(), want);
    }
    assert!(Strategy::of(&deployment(3, rolling_update(pct("a"), int(1)))).is_err());
}

#[test]
fn the_new_replica_set_grows_within_the_surge() {
    // (strategy, old size, new size, want)
    let cases = [
        (rolling(10, 0, 1), 10, 0, None),
        (rolling(10, 2, 0), 10, 0, Some(2)),
        (rolling(10, 2, 0), 5, 0, Some(7)),
        (rolling(10, 2, 0), 0, 9, Some(10)),
        (rolling(10, 2, 0), 2, 11, Some(10)),
        (rolling(10, 2, 0), 0, 10, None),
        (rolling(3, 1, 0), 3, 1, None),
        (
            Strategy {
                desired: 4,
                rolling: false,
                max_surge: 0,
                max_unavailable: 0,
            },
            0,
            0,
            Some(4),
        ),
    ];
    for (strategy, old_size, new_size, want) in cases {
        let old = rs("old", 0, old_size, old_size);
        let new = rs("new", 1, new_size, 0);
        assert_eq!(
            scale_new(&strategy, &[&old, &new], &new),
            want,
            "{strategy:?} old {old_size} new {new_size}"
        );
    }
}

#[test]
fn old_replica_sets_shrink_within_the_unavailability() {
    // (strategy, old size, old available, new size, new available, want old size)
    let cases = [
        (rolling(10, 0, 1), 10, 10, 0, 0, Some(9)),
        (rolling(10, 0, 2), 10, 10, 0, 0, Some(8)),
        // Unhealthy old pods go first...
        (rolling(10, 0, 2), 10, 8, 0, 0, Some(8)),
        // ... then healthy ones, as far as availability allows.
        (rolling(10, 0, 2), 10, 9, 0, 0, Some(8)),
        // The new ReplicaSet's unavailable pods hold old ones back.
        (rolling(10, 0, 2), 8, 8, 2, 0, None),
        (rolling(10, 2, 0), 10, 10, 2, 2, Some(8)),
        (rolling(10, 2, 0), 10, 10, 2, 1, Some(9)),
        (rolling(3, 1, 0), 3, 3, 1, 0, None),
    ];
    for (strategy, old_size, old_available, new_size, new_available, want) in cases {
        let old = rs("old", 0, old_size, old_available);
        let new = rs("new", 1, new_size, new_available);
        let got = scale_down_old(&strategy, Some(&new), &[&old]);
        let want: Vec<Resize> = want
            .into_iter()
            .map(|to| Resize {
                name: "old".into(),
                from: old_size,
                to,
            })
            .collect();
        assert_eq!(
            got, want,
            "{strategy:?} old {old_size}/{old_available} new {new_size}/{new_available}"
        );
    }
}

#[test]
fn the_oldest_replica_sets_shrink_first() {
    let older = rs("v1", 0, 2, 2);
    let old = rs("v2", 1, 2, 2);
    let new = rs("v3", 2, 2, 2);
    let got = scale_down_old(&rolling(4, 1, 1), Some(&new), &[&old, &older]);
    assert_eq!(
        got,
        [
            Resize {
                name: "v1".into(),
                from: 2,
                to: 0
            },
            Resize {
                name: "v2".into(),
                from: 2,
                to: 1
            }
        ]
    );
}

/// Runs rolling-update steps as the controller does (scale the new ReplicaSet up, else the old
/// ones down), with new pods becoming available at once or never, and returns the trace.
fn roll(strategy: Strategy, start: i32, new_pods_ready: bool) -> Vec<String> {
    let mut old = rs("old", 0, start, start);
    let mut new = rs("new", 1, 0, 0);
    let mut trace = Vec::new();
    for _ in 0..20 {
        if let Some(to) = scale_new(&strategy, &[&old, &new], &new) {
            new.spec.as_mut().unwrap().replicas = Some(to);
            trace.push(format!("new {to}"));
        } else {
            let resized = scale_down_old(&strategy, Some(&new), &[&old]);
            if resized.is_empty() {
                break;
            }
            old.spec.as_mut().unwrap().replicas = Some(resized[0].to);
            trace.push(format!("old {}", resized[0].to));
        }
        // Old pods go at once; new ones become available if they can.
        let old_size = replicas(&old);
        old.status.as_mut().unwrap().available_replicas = Some(old_size);
        if new_pods_ready {
            let size = replicas(&new);
            new.status.as_mut().unwrap().available_replicas = Some(size);
        }
    }
    trace
}

#[test]
fn rolling_updates_alternate_within_the_fenceposts() {
    assert_eq!(
        roll(rolling(4, 1, 1), 4, true),
        ["new 1", "old 2", "new 3", "old 0", "new 4"]
    );
    assert_eq!(
        roll(rolling(3, 1, 0), 3, true),
        ["new 1", "old 2", "new 2", "old 1", "new 3", "old 0"]
    );
    // maxSurge 0: old pods must go first.
    assert_eq!(
        roll(rolling(2, 0, 1), 2, true),
        ["old 1", "new 1", "old 0", "new 2"]
    );
    // New pods that never become available stall the rollout at the minimum available.
    assert_eq!(
        roll(rolling(4, 1, 1), 4, false),
        ["new 1", "old 3", "new 2"]
    );
}

#[test]
fn proportional_scaling_spreads_a_resize_over_active_replica_sets() {
    // (desired now, desired before, new size, old sizes newest first, want new, want olds)
    // with maxSurge 0 and maxUnavailable 0, as in kube's own scaling cases.
    type Case = (i32, i32, i32, &'static [i32], i32, &'static [i32]);
    let cases: [Case; 8] = [
        (12, 10, 10, &[], 12, &[]),
        (5, 10, 10, &[], 5, &[]),
        (10, 5, 2, &[3], 4, &[6]),
        (3, 5, 2, &[3], 1, &[2]),
        (4, 9, 8, &[1], 4, &[0]),
        (10, 7, 2, &[3, 2], 3, &[4, 3]),
        (8, 13, 2, &[8, 3], 1, &[5, 2]),
        (4, 3, 1, &[1, 1], 2, &[1, 1]),
    ];
    for (desired, before, new_size, olds, want_new, want_olds) in cases {
        let strategy = Strategy::of(&deployment(
            desired,
            Some(DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(int(0)),
                    max_unavailable: Some(int(0)),
                }),
            }),
        ))
        .unwrap();
        let new = annotated(rs("new", 100, new_size, 0), before, before);
        let old: Vec<ReplicaSet> = olds
            .iter()
            .enumerate()
            .map(|(i, size)| {
                annotated(
                    rs(&format!("old{i}"), 50 - i as i64, *size, 0),
                    before,
                    before,
                )
            })
            .collect();
        let old_refs: Vec<&ReplicaSet> = old.iter().collect();
        let resized = proportional(&strategy, Some(&new), &old_refs, before);
        let size_of = |name: &str, current: i32| {
            resized
                .iter()
                .find(|r| r.name == name)
                .map_or(current, |r| r.to)
        };
        let got_olds: Vec<i32> = olds
            .iter()
            .enumerate()
            .map(|(i, size)| size_of(&format!("old{i}"), *size))
            .collect();
        assert_eq!(
            (size_of("new", new_size), got_olds.as_slice()),
            (want_new, want_olds),
            "{before} -> {desired}: new {new_size} olds {olds:?}"
        );
    }
}

#[test]
fn leftovers_go_to_the_largest_and_a_saturated_new_set_empties_the_old() {
    // 4 -> 3: the largest old ReplicaSet gives up the leftover.
    let strategy = rolling(3, 0, 1);
    let new = annotated(rs("v3", 3, 1, 0), 4, 4);
    let v2 = annotated(rs("v2", 2, 2, 0), 4, 4);
    let v1 = annotated(rs("v1", 1, 1, 0), 4, 4);
    let resized = proportional(&strategy, Some(&new), &[&v2, &v1], 4);
    let sizes: Vec<(String, i32)> = resized.into_iter().map(|r| (r.name, r.to)).collect();
    assert_eq!(
        sizes,
        [
            ("v2".to_string(), 1),
            ("v1".to_string(), 1),
            ("v3".to_string(), 1)
        ]
    );

    let strategy = rolling(2, 1, 0);
    let new = annotated(rs("v2", 2, 2, 2), 2, 3);
    let old = annotated(rs("v1", 1, 1, 1), 3, 4);
    assert!(is_saturated(&strategy, Some(&new)));
    assert!(is_scaling_event(&strategy, &[&new, &old]));
    assert_eq!(
        proportional(&strategy, Some(&new), &[&old], 3),
        [Resize {
            name: "v1".into(),
            from: 1,
            to: 0
        }]
    );
}

#[test]
fn one_active_or_the_newest_replica_set_takes_every_replica() {
    let strategy = rolling(5, 1, 1);
    let new = rs("v2", 2, 0, 0);
    let old = rs("v1", 1, 3, 3);
    assert_eq!(
        proportional(&strategy, Some(&new), &[&old], 3),
        [Resize {
            name: "v1".into(),
            from: 3,
            to: 5
        }]
    );
    let idle_old = rs("v1", 1, 0, 0);
    assert_eq!(
        proportional(&strategy, Some(&new), &[&idle_old], 0),
        [Resize {
            name: "v2".into(),
            from: 0,
            to: 5
        }]
    );
    let older = rs("v0", 0, 0, 0);
    assert_eq!(
        proportional(&strategy, None, &[&older, &idle_old], 0),
        [Resize {
            name: "v1".into(),
            from: 0,
            to: 5
        }]
    );
    assert!(
        !is_scaling_event(&strategy, &[&new, &old]),
        "no annotations: no event"
    );
}
