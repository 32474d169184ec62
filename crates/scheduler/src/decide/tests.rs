//! Whole decisions: which node wins, and the exact FailedScheduling message when none does.

use serde_json::json;

use crate::decide::schedule_one;
use crate::snapshot::Snapshot;
use crate::testing::{N, P, node, pod};

/// (case, incoming pod, nodes, placed pods, expected node or message)
type Case = (&'static str, P, Vec<N>, Vec<P>, &'static str);

fn cluster(nodes: Vec<N>, placed: Vec<P>) -> Snapshot {
    Snapshot::new(
        nodes.into_iter().map(N::build),
        placed.into_iter().map(P::build),
    )
}

fn message(p: P, snapshot: &Snapshot) -> String {
    match schedule_one(&p.build(), snapshot) {
        Ok(node) => panic!("expected no fit, got {node}"),
        Err(e) => e.message(),
    }
}

#[test]
fn failed_scheduling_messages_read_like_kube() {
    const HOST: &str = "kubernetes.io/hostname";
    let three = || vec![node("n1"), node("n2"), node("n3")];
    let hello = |name: &str, on: &str| pod(name).label("app", "hello").on(on);
    let cases: Vec<Case> = vec![
        (
            "the tutorial's fourth replica",
            pod("p").label("app", "hello").anti_affinity("app", "hello", HOST),
            three(),
            vec![hello("a", "n1"), hello("b", "n2"), hello("c", "n3")],
            "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. \
             preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.",
        ),
        (
            "reasons sorted as strings, unresolvable nodes not helped by preemption",
            pod("p").requests("3", ""),
            vec![node("n1").taint("dedicated", "gpu", "NoSchedule"), node("n2"), node("n3")],
            vec![pod("a").requests("2", "").on("n2"), pod("b").requests("2", "").on("n3")],
            "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu. \
             preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, \
             2 No preemption victims found for incoming pod.",
        ),
        (
            "one node short of two resources counts twice",
            pod("p").requests("5", "9Gi"),
            vec![node("n1")],
            vec![],
            "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory. \
             preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
        ),
        (
            "all unresolvable",
            pod("p").node_selector("disk", "ssd"),
            vec![node("n1").unschedulable(), node("n2"), node("n3")],
            vec![],
            "0/3 nodes are available: 1 node(s) were unschedulable, 2 node(s) didn't match Pod's node affinity/selector. \
             preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
        ),
        (
            "existing anti-affinity and host ports",
            pod("p").label("app", "web").host_port(80, "TCP", ""),
            vec![node("n1"), node("n2")],
            vec![
                pod("a").anti_affinity("app", "web", HOST).on("n1"),
                pod("b").host_port(80, "TCP", "").on("n2"),
            ],
            "0/2 nodes are available: 1 node(s) didn't have free ports for the requested pod ports, \
             1 node(s) didn't satisfy existing pods anti-affinity rules. \
             preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.",
        ),
        (
            "a DaemonSet pod pinned to a full node",
            pod("p").requests("5", "").affinity(json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]}]
            }}})),
            three(),
            vec![],
            "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't satisfy plugin(s) [NodeAffinity]. \
             preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, \
             2 Preemption is not helpful for scheduling.",
        ),
        (
            "node name pins that contradict each other",
            pod("p").affinity(json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchFields": [
                    {"key": "metadata.name", "operator": "In", "values": ["n1"]},
                    {"key": "metadata.name", "operator": "In", "values": ["n2"]}
                ]}]
            }}})),
            three(),
            vec![],
            "0/3 nodes are available: pod affinity terms conflict. \
             preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
        ),
        (
            "a pod that may not preempt",
            pod("p").requests("5", "").never_preempt(),
            vec![node("n1")],
            vec![],
            "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.",
        ),
        (
            "evicting every lower-priority pod would still not make room",
            pod("p").priority(100).requests("3", ""),
            vec![node("n1")],
            vec![pod("low").priority(0).requests("1", "").on("n1"), pod("high").priority(1000).requests("2", "").on("n1")],
            "0/1 nodes are available: 1 Insufficient cpu. \
             preemption: 0/1 nodes are available: 1 Insufficient cpu.",
        ),
        (
            "two-digit counts sort before one-digit ones, as strings",
            pod("p").requests("5", ""),
            (1..=12)
                .map(|i| if i <= 2 { node(&format!("n{i}")).unschedulable() } else { node(&format!("n{i}")) })
                .collect(),
            vec![],
            "0/12 nodes are available: 10 Insufficient cpu, 2 node(s) were unschedulable. \
             preemption: 0/12 nodes are available: 10 No preemption victims found for incoming pod, \
             2 Preemption is not helpful for scheduling.",
        ),
        ("no nodes at all", pod("p"), vec![], vec![], "no nodes available to schedule pods"),
    ];
    for (name, p, nodes, placed, want) in cases {
        let snapshot = cluster(nodes, placed);
        assert_eq!(message(p, &snapshot), want, "{name}");
    }
}

#[test]
fn preemption_finds_the_fewest_least_important_victims() {
    let snapshot = cluster(
        vec![node("n1"), node("n2")],
        vec![
            pod("a").priority(10).requests("2", "").on("n1"),
            pod("b").priority(10).requests("2", "").on("n1"),
            pod("c").priority(5).requests("4", "").on("n2"),
        ],
    );
    let err =
        schedule_one(&pod("p").priority(100).requests("2", "").build(), &snapshot).unwrap_err();
    // No preemption suffix when preemption found a way.
    assert_eq!(
        err.message(),
        "0/2 nodes are available: 2 Insufficient cpu."
    );
    let candidate = err.preemption.expect("a candidate");
    // n2's only victim has the lowest priority.
    assert_eq!(candidate.node, "n2");
    let victims: Vec<&str> = candidate.victims.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(victims, ["c"]);

    // On one node, only as many victims as needed, the least important first.
    let snapshot = cluster(
        vec![node("n1")],
        vec![
            pod("old").priority(1).requests("2", "").on("n1"),
            pod("low").priority(0).requests("2", "").on("n1"),
        ],
    );
    let err =
        schedule_one(&pod("p").priority(100).requests("2", "").build(), &snapshot).unwrap_err();
    let victims: Vec<String> = err
        .preemption
        .unwrap()
        .victims
        .iter()
        .map(|v| v.name.clone())
        .collect();
    assert_eq!(victims, ["low"]);
}

#[test]
fn a_pod_waits_while_its_earlier_victims_terminate() {
    let mut p = pod("p").priority(100).requests("2", "");
    p.0["status"] = json!({"nominatedNodeName": "n1"});
    let snapshot = cluster(
        vec![node("n1")],
        vec![
            pod("a")
                .priority(0)
                .requests("3", "")
                .on("n1")
                .terminating(),
            pod("b").priority(0).requests("1", "").on("n1"),
        ],
    );
    assert_eq!(
        message(p, &snapshot),
        "0/1 nodes are available: 1 Insufficient cpu. \
         preemption: not eligible due to a terminating pod on the nominated node."
    );
}

#[test]
fn scoring_picks_the_best_node() {
    const HOST: &str = "kubernetes.io/hostname";
    // (name, incoming, nodes, placed, winner)
    let cases: Vec<Case> = vec![
        (
            "least allocated",
            pod("p").requests("1", "1Gi"),
            vec![node("n1"), node("n2")],
            vec![pod("a").requests("3", "6Gi").on("n1")],
            "n2",
        ),
        (
            "pods without requests still spread by their default requests",
            pod("p"),
            vec![node("n1"), node("n2")],
            vec![pod("a").on("n2"), pod("b").on("n2")],
            "n1",
        ),
        (
            "replicas of one controller spread out",
            pod("p").owner("rs-1"),
            vec![node("n1"), node("n2"), node("n3")],
            vec![
                pod("a").owner("rs-1").on("n1"),
                pod("b").owner("rs-1").on("n2"),
                pod("x").requests("100m", "").on("n3"),
                pod("y").requests("100m", "").on("n3"),
            ],
            "n3",
        ),
        (
            "preferred node affinity",
            pod("p").affinity(json!({"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 50, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}}
            ]}})),
            vec![node("n1"), node("n2").label("disk", "ssd")],
            vec![pod("a").requests("2", "4Gi").on("n2")],
            "n2",
        ),
        (
            "PreferNoSchedule taints are avoided",
            pod("p"),
            vec![node("n1").taint("spot", "true", "PreferNoSchedule"), node("n2")],
            vec![pod("a").requests("2", "4Gi").on("n2")],
            "n2",
        ),
        (
            "preferred pod anti-affinity",
            pod("p").affinity(json!({"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "cache"}}, "topologyKey": HOST}}
            ]}})),
            vec![node("n1"), node("n2")],
            vec![pod("a").label("app", "cache").on("n1"), pod("b").requests("1", "2Gi").on("n2")],
            "n2",
        ),
        (
            "preferred pod affinity",
            pod("p").affinity(json!({"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": HOST}}
            ]}})),
            vec![node("n1"), node("n2")],
            vec![pod("a").label("app", "db").requests("1", "2Gi").on("n2")],
            "n2",
        ),
        (
            "only one node fits",
            pod("p").node_selector("disk", "ssd"),
            vec![node("n1"), node("n2").label("disk", "ssd")],
            vec![],
            "n2",
        ),
    ];
    for (name, p, nodes, placed, want) in cases {
        let snapshot = cluster(nodes, placed);
        assert_eq!(schedule_one(&p.build(), &snapshot).unwrap(), want, "{name}");
    }
}

#[test]
fn ties_are_deterministic_and_spread_over_pods() {
    let snapshot = cluster(vec![node("n1"), node("n2"), node("n3")], vec![]);
    let mut chosen = std::collections::BTreeSet::new();
    for i in 0..30 {
        let p = pod(&format!("p{i}")).build();
        let first = schedule_one(&p, &snapshot).unwrap();
        assert_eq!(
            schedule_one(&p, &snapshot).unwrap(),
            first,
            "same pod, same node"
        );
        chosen.insert(first);
    }
    assert_eq!(chosen.len(), 3, "equal nodes all get pods: {chosen:?}");
}

#[test]
fn assumed_pods_count_for_the_next_decision() {
    // Three replicas with hostname anti-affinity land on three nodes when each decision sees
    // the previous one's assumed pod.
    let mut snapshot = cluster(vec![node("n1"), node("n2"), node("n3")], vec![]);
    let mut used = Vec::new();
    for i in 0..3 {
        let p = pod(&format!("r{i}")).label("app", "hello").anti_affinity(
            "app",
            "hello",
            "kubernetes.io/hostname",
        );
        let mut built = p.build();
        let chosen = schedule_one(&built, &snapshot).unwrap();
        built.spec.as_mut().unwrap().node_name = Some(chosen.clone());
        snapshot.place(std::sync::Arc::new(crate::PodInfo::new(&built)));
        used.push(chosen);
    }
    used.sort();
    assert_eq!(used, ["n1", "n2", "n3"]);
    let fourth =
        pod("r3")
            .label("app", "hello")
            .anti_affinity("app", "hello", "kubernetes.io/hostname");
    assert!(
        message(fourth, &snapshot).starts_with(
            "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules."
        )
    );
}
