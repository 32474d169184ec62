//! Table tests of where daemon pods run and what the controller does about it.

use k8s_openapi::api::apps::v1::{
    DaemonSet, DaemonSetSpec, DaemonSetUpdateStrategy, RollingUpdateDaemonSet,
};
use k8s_openapi::api::core::v1::{Node, NodeSpec, Pod, PodSpec, PodTemplateSpec, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::plan::{self, Plan, REVISION_HASH_LABEL, plan, should_run};
use crate::cluster::pods::fixtures::{on_node, pod, time};

fn daemonset(selector: &[(&str, &str)], max_unavailable: i32) -> DaemonSet {
    DaemonSet {
        metadata: ObjectMeta {
            namespace: Some("kube-system".into()),
            name: Some("agent".into()),
            uid: Some("ds-uid".into()),
            generation: Some(3),
            ..ObjectMeta::default()
        },
        spec: Some(DaemonSetSpec {
            selector: LabelSelector::default(),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some([("app".to_string(), "agent".to_string())].into()),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    node_selector: (!selector.is_empty()).then(|| {
                        selector
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                            .collect()
                    }),
                    ..PodSpec::default()
                }),
            },
            update_strategy: Some(DaemonSetUpdateStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDaemonSet {
                    max_unavailable: Some(IntOrString::Int(max_unavailable)),
                    max_surge: None,
                }),
            }),
            ..DaemonSetSpec::default()
        }),
        status: None,
    }
}

fn node(name: &str, labels: &[(&str, &str)], taints: &[(&str, &str)]) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..ObjectMeta::default()
        },
        spec: Some(NodeSpec {
            taints: Some(
                taints
                    .iter()
                    .map(|(key, effect)| Taint {
                        key: key.to_string(),
                        effect: effect.to_string(),
                        ..Taint::default()
                    })
                    .collect(),
            ),
            ..NodeSpec::default()
        }),
        status: None,
    }
}

#[test]
fn where_daemons_run() {
    let ds = daemonset(&[("role", "edge")], 1);
    let cases = [
        (node("a", &[("role", "edge")], &[]), (true, true)),
        (node("b", &[], &[]), (false, false)),
        // The controller's own tolerations cover unhealthy and cordoned nodes.
        (
            node(
                "c",
                &[("role", "edge")],
                &[
                    ("node.kubernetes.io/unreachable", "NoExecute"),
                    ("node.kubernetes.io/unschedulable", "NoSchedule"),
                ],
            ),
            (true, true),
        ),
        // An untolerated NoSchedule taint: no new pod, but one there may stay.
        (
            node("d", &[("role", "edge")], &[("dedicated", "NoSchedule")]),
            (false, true),
        ),
        (
            node("e", &[("role", "edge")], &[("dedicated", "NoExecute")]),
            (false, false),
        ),
        (
            node("f", &[("role", "edge")], &[("soft", "PreferNoSchedule")]),
            (true, true),
        ),
    ];
    for (node, expected) in cases {
        assert_eq!(should_run(&ds, &node), expected, "{:?}", node.metadata.name);
    }
}

#[test]
fn new_pods_are_pinned_and_tolerant() {
    let ds = daemonset(&[], 1);
    let pod = plan::new_pod(&ds, "node-7", "h1");
    assert_eq!(pod.metadata.generate_name.as_deref(), Some("agent-"));
    let labels = pod.metadata.labels.as_ref().unwrap();
    assert_eq!(labels[REVISION_HASH_LABEL], "h1");
    assert_eq!(labels["pod-template-generation"], "3");
    assert_eq!(labels["app"], "agent");
    let owner = &pod.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.controller),
        ("DaemonSet", Some(true))
    );
    assert_eq!(plan::target_node(&pod).as_deref(), Some("node-7"));
    let keys: Vec<String> = pod
        .spec
        .unwrap()
        .tolerations
        .unwrap()
        .iter()
        .map(|t| format!("{}:{}", t.key.clone().unwrap(), t.effect.clone().unwrap()))
        .collect();
    assert_eq!(
        keys,
        [
            "node.kubernetes.io/not-ready:NoExecute",
            "node.kubernetes.io/unreachable:NoExecute",
            "node.kubernetes.io/disk-pressure:NoSchedule",
            "node.kubernetes.io/memory-pressure:NoSchedule",
            "node.kubernetes.io/pid-pressure:NoSchedule",
            "node.kubernetes.io/unschedulable:NoSchedule",
        ]
    );
}

fn daemon(name: &str, node: &str, revision: &str, ready: bool, created: i64) -> Pod {
    let mut p = on_node(
        pod(
            "kube-system",
            name,
            &[(REVISION_HASH_LABEL, revision)],
            ready,
        ),
        node,
    );
    p.metadata.creation_timestamp = Some(time(created));
    p
}

fn run(ds: &DaemonSet, nodes: &[Node], pods: &[Pod], hash: &str) -> Plan {
    let nodes: Vec<&Node> = nodes.iter().collect();
    let pods: Vec<&Pod> = pods.iter().collect();
    plan(ds, &nodes, &pods, hash, time(1000).0)
}

fn deleted(plan: &Plan) -> Vec<(&str, &str)> {
    plan.delete
        .iter()
        .map(|(n, why)| (n.as_str(), *why))
        .collect()
}

#[test]
fn creates_missing_and_removes_extra_pods() {
    let ds = daemonset(&[("role", "edge")], 1);
    let nodes = [
        node("a", &[("role", "edge")], &[]),
        node("b", &[("role", "edge")], &[]),
        node("c", &[], &[]),
    ];
    let mut failed = daemon("b-1", "b", "h", false, 1);
    failed.status.as_mut().unwrap().phase = Some("Failed".into());
    let pods = [
        failed,
        daemon("b-2", "b", "h", true, 2),
        daemon("b-3", "b", "h", true, 3),
        daemon("c-1", "c", "h", true, 1),
        daemon("gone-1", "gone", "h", true, 1),
    ];
    let p = run(&ds, &nodes, &pods, "h");
    assert_eq!(p.create, ["a"]);
    assert_eq!(
        deleted(&p),
        [
            ("b-1", "failed"),
            ("b-3", "duplicate"),
            ("c-1", "misplaced"),
            ("gone-1", "misplaced")
        ]
    );
    assert_eq!(
        (
            p.status.desired_number_scheduled,
            p.status.current_number_scheduled,
            p.status.number_misscheduled
        ),
        (2, 1, 1)
    );
    assert_eq!(p.status.observed_generation, Some(3));
}

#[test]
fn rolling_update_respects_max_unavailable() {
    let nodes: Vec<Node> = ["a", "b", "c", "d"]
        .iter()
        .map(|n| node(n, &[], &[]))
        .collect();
    let old = |n: &str| daemon(&format!("{n}-old"), n, "v1", true, 1);
    // Two available old pods, one unavailable old pod, one updated pod.
    let mut unready = old("c");
    unready
        .status
        .as_mut()
        .unwrap()
        .conditions
        .as_mut()
        .unwrap()[0]
        .status = "False".into();
    let pods = [
        old("a"),
        old("b"),
        unready,
        daemon("d-new", "d", "v2", true, 5),
    ];
    let p = run(&daemonset(&[], 1), &nodes, &pods, "v2");
    // The unavailable old pod goes regardless; one available old pod fits the budget of 1.
    assert_eq!(deleted(&p), [("a-old", "outdated"), ("c-old", "outdated")]);
    assert_eq!(p.status.updated_number_scheduled, Some(1));
    assert_eq!(
        (
            p.status.number_ready,
            p.status.number_available,
            p.status.number_unavailable
        ),
        (3, Some(3), Some(1))
    );
    // A node still without its new pod uses the budget up.
    let pods = [old("a"), old("b"), daemon("d-new", "d", "v2", true, 5)];
    let p = run(&daemonset(&[], 1), &nodes, &pods, "v2");
    assert_eq!(p.create, ["c"]);
    assert!(deleted(&p).is_empty());
    // A wider budget replaces more at once.
    let pods = [old("a"), old("b"), old("c"), old("d")];
    let p = run(&daemonset(&[], 3), &nodes, &pods, "v2");
    assert_eq!(deleted(&p).len(), 3);
}

#[test]
fn hashes_are_stable_and_safe() {
    let ds = daemonset(&[], 1);
    let template = ds.spec.as_ref().unwrap().template.clone();
    let h = plan::template_hash(&template, 0);
    assert_eq!(h, plan::template_hash(&template, 0));
    assert_ne!(h, plan::template_hash(&template, 1));
    assert!(
        h.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)),
        "{h}"
    );
    let data = plan::revision_data(&template);
    assert_eq!(data["spec"]["template"]["$patch"], "replace");
}
