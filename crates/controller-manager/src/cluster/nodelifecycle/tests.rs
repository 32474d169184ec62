//! Table tests of node health, condition taints, pod marking and taint-based eviction.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{Node, NodeCondition, NodeSpec, NodeStatus, Taint, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};

use super::decide::{self, Eviction, desired_taints, eviction, not_ready_status};
use super::health::Monitor;
use crate::cluster::pods::fixtures::{pod, time};

const GRACE: Duration = Duration::from_secs(40);
const STARTUP: Duration = Duration::from_secs(60);

fn condition(type_: &str, status: &str, heartbeat: i64) -> NodeCondition {
    NodeCondition {
        type_: type_.into(),
        status: status.into(),
        last_heartbeat_time: Some(time(heartbeat)),
        last_transition_time: Some(time(0)),
        ..NodeCondition::default()
    }
}

fn node(conditions: Vec<NodeCondition>, taints: Vec<Taint>) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some("n1".into()),
            creation_timestamp: Some(time(0)),
            ..ObjectMeta::default()
        },
        spec: Some(NodeSpec {
            taints: (!taints.is_empty()).then_some(taints),
            ..NodeSpec::default()
        }),
        status: Some(NodeStatus {
            conditions: Some(conditions),
            ..NodeStatus::default()
        }),
    }
}

fn healthy(heartbeat: i64) -> Node {
    node(
        vec![
            condition("Ready", "True", heartbeat),
            condition("MemoryPressure", "False", heartbeat),
            condition("DiskPressure", "False", heartbeat),
            condition("PIDPressure", "False", heartbeat),
        ],
        vec![],
    )
}

fn lease(renewed: i64) -> Lease {
    Lease {
        spec: Some(LeaseSpec {
            renew_time: Some(MicroTime(time(renewed).0)),
            ..LeaseSpec::default()
        }),
        ..Lease::default()
    }
}

#[test]
fn silence_makes_every_condition_unknown() {
    let mut monitor = Monitor::default();
    let at = |s: i64| time(s).0;
    // First look at second 100: heard from now.
    let v = monitor.observe(&healthy(90), None, at(100), GRACE, STARTUP);
    assert_eq!(
        (v.observed_ready.as_str(), v.new_status.is_none()),
        ("True", true)
    );
    // The heartbeat never moves again; the lease keeps the node alive until second 130.
    for s in [110, 120, 130] {
        let v = monitor.observe(&healthy(90), Some(&lease(s)), at(s + 1), GRACE, STARTUP);
        assert!(v.new_status.is_none(), "alive at {s}");
    }
    // 40 s after the last renewal was seen it is still within grace; past it, silent.
    let v = monitor.observe(&healthy(90), Some(&lease(130)), at(171), GRACE, STARTUP);
    assert!(v.new_status.is_none());
    let v = monitor.observe(&healthy(90), Some(&lease(130)), at(172), GRACE, STARTUP);
    assert_eq!(v.current_ready.as_deref(), Some("Unknown"));
    let status = v.new_status.expect("conditions set to Unknown");
    for c in status.conditions.unwrap() {
        assert_eq!(c.status, "Unknown", "{}", c.type_);
        assert_eq!(c.reason.as_deref(), Some("NodeStatusUnknown"));
        assert_eq!(
            c.message.as_deref(),
            Some("Kubelet stopped posting node status.")
        );
        assert_eq!(c.last_transition_time, Some(time(172)));
    }
    // Already Unknown: nothing more to write, still Unknown.
    let mut written = healthy(90);
    for c in written
        .status
        .as_mut()
        .unwrap()
        .conditions
        .as_mut()
        .unwrap()
    {
        c.status = "Unknown".into();
    }
    let v = monitor.observe(&written, Some(&lease(130)), at(180), GRACE, STARTUP);
    assert_eq!(
        (v.observed_ready.as_str(), v.new_status.is_none()),
        ("Unknown", true)
    );
    // The kubelet comes back: a new heartbeat counts.
    let v = monitor.observe(&healthy(185), Some(&lease(130)), at(186), GRACE, STARTUP);
    assert_eq!(v.current_ready.as_deref(), Some("True"));
}

#[test]
fn a_node_that_never_reported_gets_the_startup_grace() {
    let mut monitor = Monitor::default();
    let silent = node(vec![], vec![]);
    assert!(
        monitor
            .observe(&silent, None, time(59).0, GRACE, STARTUP)
            .new_status
            .is_none()
    );
    let v = monitor.observe(&silent, None, time(61).0, GRACE, STARTUP);
    let conditions = v.new_status.unwrap().conditions.unwrap();
    assert_eq!(conditions.len(), 4);
    assert!(
        conditions
            .iter()
            .all(|c| c.reason.as_deref() == Some("NodeStatusNeverUpdated"))
    );
}

fn taint(key: &str, effect: &str, added: i64) -> Taint {
    Taint {
        key: key.into(),
        effect: effect.into(),
        value: None,
        time_added: Some(time(added)),
    }
}

fn keys(taints: &[Taint]) -> Vec<String> {
    taints
        .iter()
        .map(|t| format!("{}:{}", t.key, t.effect))
        .collect()
}

#[test]
fn condition_taints() {
    let now = time(500);
    let custom = taint("dedicated", "NoSchedule", 1);
    let cases: Vec<(&str, Node, bool, Option<Vec<&str>>)> = vec![
        ("healthy, untainted", healthy(1), true, None),
        (
            "unreachable",
            node(vec![condition("Ready", "Unknown", 1)], vec![custom.clone()]),
            true,
            Some(vec![
                "dedicated:NoSchedule",
                "node.kubernetes.io/unreachable:NoSchedule",
                "node.kubernetes.io/unreachable:NoExecute",
            ]),
        ),
        (
            "not ready swaps unreachable for not-ready",
            node(
                vec![condition("Ready", "False", 1)],
                vec![
                    taint("node.kubernetes.io/unreachable", "NoSchedule", 1),
                    taint("node.kubernetes.io/unreachable", "NoExecute", 1),
                ],
            ),
            true,
            Some(vec![
                "node.kubernetes.io/not-ready:NoSchedule",
                "node.kubernetes.io/not-ready:NoExecute",
            ]),
        ),
        (
            "ready again: taints go, others stay",
            node(
                vec![
                    condition("Ready", "True", 1),
                    condition("DiskPressure", "True", 1),
                ],
                vec![
                    custom.clone(),
                    taint("node.kubernetes.io/not-ready", "NoExecute", 1),
                ],
            ),
            true,
            Some(vec![
                "dedicated:NoSchedule",
                "node.kubernetes.io/disk-pressure:NoSchedule",
            ]),
        ),
        (
            "everything down: no NoExecute",
            node(
                vec![condition("Ready", "Unknown", 1)],
                vec![taint("node.kubernetes.io/unreachable", "NoExecute", 1)],
            ),
            false,
            Some(vec!["node.kubernetes.io/unreachable:NoSchedule"]),
        ),
    ];
    for (name, node, evictions, expected) in cases {
        let got = desired_taints(&node, evictions, &now).map(|t| keys(&t));
        let expected = expected.map(|e| e.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(got, expected, "{name}");
    }
    // A cordoned node gets the unschedulable taint; a taint that stays keeps its timeAdded.
    let mut cordoned = node(
        vec![condition("Ready", "Unknown", 1)],
        vec![taint("node.kubernetes.io/unreachable", "NoExecute", 7)],
    );
    cordoned.spec.as_mut().unwrap().unschedulable = Some(true);
    let taints = desired_taints(&cordoned, true, &now).unwrap();
    assert!(keys(&taints).contains(&"node.kubernetes.io/unschedulable:NoSchedule".to_string()));
    let kept = taints.iter().find(|t| t.effect == "NoExecute").unwrap();
    assert_eq!(kept.time_added, Some(time(7)));
    assert_eq!(decide::ready_status(&cordoned), Some("Unknown"));
}

#[test]
fn marking_pods_not_ready() {
    let now = time(9);
    let ready = pod("ns", "a", &[], true);
    let status = not_ready_status(&ready, &now).expect("flipped");
    let c = status
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(
        (c.status.as_str(), c.last_transition_time),
        ("False", Some(now.clone()))
    );
    assert!(not_ready_status(&pod("ns", "b", &[], false), &now).is_none());
}

fn toleration(key: &str, seconds: Option<i64>) -> Toleration {
    Toleration {
        key: Some(key.into()),
        operator: Some("Exists".into()),
        effect: Some("NoExecute".into()),
        toleration_seconds: seconds,
        value: None,
    }
}

#[test]
fn taint_based_eviction() {
    let unreachable = [taint("node.kubernetes.io/unreachable", "NoExecute", 0)];
    let now = time(1000).0;
    let at = |s: i64| time(s).0;
    type Case<'a> = (&'a str, Vec<Toleration>, &'a [Taint], Option<i64>, Eviction);
    let cases: Vec<Case> = vec![
        ("no taint", vec![], &[], None, Eviction::Keep),
        ("not tolerated", vec![], &unreachable, None, Eviction::Now),
        (
            "tolerated forever",
            vec![toleration("node.kubernetes.io/unreachable", None)],
            &unreachable,
            None,
            Eviction::Keep,
        ),
        (
            "default 300 s",
            vec![toleration("node.kubernetes.io/unreachable", Some(300))],
            &unreachable,
            None,
            Eviction::At {
                when: at(1300),
                since: now,
            },
        ),
        (
            "counting from the first look",
            vec![toleration("node.kubernetes.io/unreachable", Some(300))],
            &unreachable,
            Some(800),
            Eviction::At {
                when: at(1100),
                since: at(800),
            },
        ),
        (
            "ran out",
            vec![toleration("node.kubernetes.io/unreachable", Some(300))],
            &unreachable,
            Some(600),
            Eviction::Now,
        ),
        (
            "zero seconds",
            vec![toleration("node.kubernetes.io/unreachable", Some(0))],
            &unreachable,
            None,
            Eviction::Now,
        ),
        (
            "the shortest toleration wins",
            vec![
                toleration("node.kubernetes.io/unreachable", Some(300)),
                toleration("", Some(60)),
            ],
            &unreachable,
            None,
            Eviction::At {
                when: at(1060),
                since: now,
            },
        ),
    ];
    for (name, tolerations, taints, since, expected) in cases {
        assert_eq!(
            eviction(&tolerations, taints, now, since.map(at)),
            expected,
            "{name}"
        );
    }
}
