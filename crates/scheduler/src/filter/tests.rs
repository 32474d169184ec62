//! Table tests of each filter through `filter::run`, on one node or a small cluster.

use serde_json::json;

use super::{AffinityState, run};
use crate::pod_info::PodInfo;
use crate::snapshot::Snapshot;
use crate::status::Code;
use crate::testing::{N, P, node, pod};

const UNRESOLVABLE: Code = Code::UnschedulableAndUnresolvable;
const UNSCHEDULABLE: Code = Code::Unschedulable;

type Verdict = Result<(), (Code, Vec<String>)>;

/// Runs the filters for `incoming` on node `target` of a cluster.
fn verdict(incoming: P, nodes: Vec<N>, placed: Vec<P>, target: &str) -> Verdict {
    let snapshot = Snapshot::new(
        nodes.into_iter().map(N::build),
        placed.into_iter().map(P::build),
    );
    let pod = PodInfo::new(&incoming.build());
    let affinity = AffinityState::new(&pod, &snapshot);
    let node = snapshot.node(target).expect("target node");
    run(&pod, &affinity, node, &snapshot).map_err(|s| (s.code, s.reasons))
}

fn one_node(incoming: P, n: N) -> Verdict {
    verdict(incoming, vec![n], vec![], "n1")
}

fn fail(code: Code, reason: &str) -> Verdict {
    Err((code, vec![reason.to_string()]))
}

#[test]
fn node_unschedulable() {
    let reason = "node(s) were unschedulable";
    let cases: Vec<(&str, P, N, Verdict)> = vec![
        ("schedulable node", pod("p"), node("n1"), Ok(())),
        ("cordoned node", pod("p"), node("n1").unschedulable(), fail(UNRESOLVABLE, reason)),
        (
            "tolerates the unschedulable taint",
            pod("p").toleration(json!({"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"})),
            node("n1").unschedulable(),
            Ok(()),
        ),
        (
            "tolerates everything",
            pod("p").toleration(json!({"operator": "Exists"})),
            node("n1").unschedulable(),
            Ok(()),
        ),
        (
            "a NoExecute toleration does not cover it",
            pod("p").toleration(json!({"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoExecute"})),
            node("n1").unschedulable(),
            fail(UNRESOLVABLE, reason),
        ),
    ];
    for (name, p, n, want) in cases {
        assert_eq!(one_node(p, n), want, "{name}");
    }
}

#[test]
fn taints_and_tolerations() {
    let gpu = "node(s) had untolerated taint {dedicated: gpu}";
    let cases: Vec<(&str, P, N, Verdict)> = vec![
        ("no taints", pod("p"), node("n1"), Ok(())),
        ("NoSchedule", pod("p"), node("n1").taint("dedicated", "gpu", "NoSchedule"), fail(UNRESOLVABLE, gpu)),
        ("NoExecute", pod("p"), node("n1").taint("dedicated", "gpu", "NoExecute"), fail(UNRESOLVABLE, gpu)),
        ("PreferNoSchedule only scores", pod("p"), node("n1").taint("dedicated", "gpu", "PreferNoSchedule"), Ok(())),
        (
            "not-ready taint has an empty value",
            pod("p"),
            node("n1").taint("node.kubernetes.io/not-ready", "", "NoSchedule"),
            fail(UNRESOLVABLE, "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"),
        ),
        (
            "the default NoExecute tolerations do not cover the NoSchedule not-ready taint",
            pod("p").toleration(json!({"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300})),
            node("n1").taint("node.kubernetes.io/not-ready", "", "NoSchedule"),
            fail(UNRESOLVABLE, "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"),
        ),
        (
            "Equal with the right value",
            pod("p").toleration(json!({"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"})),
            node("n1").taint("dedicated", "gpu", "NoSchedule"),
            Ok(()),
        ),
        (
            "operator defaults to Equal",
            pod("p").toleration(json!({"key": "dedicated", "value": "gpu"})),
            node("n1").taint("dedicated", "gpu", "NoSchedule"),
            Ok(()),
        ),
        (
            "Equal with another value",
            pod("p").toleration(json!({"key": "dedicated", "operator": "Equal", "value": "cpu", "effect": "NoSchedule"})),
            node("n1").taint("dedicated", "gpu", "NoSchedule"),
            fail(UNRESOLVABLE, gpu),
        ),
        (
            "Exists on the key, any effect",
            pod("p").toleration(json!({"key": "dedicated", "operator": "Exists"})),
            node("n1").taint("dedicated", "gpu", "NoExecute"),
            Ok(()),
        ),
        (
            "wrong effect",
            pod("p").toleration(json!({"key": "dedicated", "operator": "Exists", "effect": "NoExecute"})),
            node("n1").taint("dedicated", "gpu", "NoSchedule"),
            fail(UNRESOLVABLE, gpu),
        ),
        (
            "the first untolerated taint is reported",
            pod("p").toleration(json!({"key": "a", "operator": "Exists"})),
            node("n1").taint("a", "1", "NoSchedule").taint("b", "2", "NoSchedule").taint("c", "3", "NoSchedule"),
            fail(UNRESOLVABLE, "node(s) had untolerated taint {b: 2}"),
        ),
    ];
    for (name, p, n, want) in cases {
        assert_eq!(one_node(p, n), want, "{name}");
    }
}

#[test]
fn node_selector_and_affinity() {
    let reason = "node(s) didn't match Pod's node affinity/selector";
    let required = |terms: serde_json::Value| json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}});
    let expr = |key: &str, op: &str, values: &[&str]| json!([{"matchExpressions": [{"key": key, "operator": op, "values": values}]}]);
    let disk = || node("n1").label("disk", "ssd").label("cores", "8");
    let cases: Vec<(&str, P, N, Verdict)> = vec![
        ("nodeSelector matches", pod("p").node_selector("disk", "ssd"), disk(), Ok(())),
        ("nodeSelector value differs", pod("p").node_selector("disk", "hdd"), disk(), fail(UNRESOLVABLE, reason)),
        ("nodeSelector label missing", pod("p").node_selector("zone", "a"), disk(), fail(UNRESOLVABLE, reason)),
        ("In", pod("p").affinity(required(expr("disk", "In", &["ssd", "nvme"]))), disk(), Ok(())),
        ("In misses", pod("p").affinity(required(expr("disk", "In", &["hdd"]))), disk(), fail(UNRESOLVABLE, reason)),
        ("NotIn", pod("p").affinity(required(expr("disk", "NotIn", &["hdd"]))), disk(), Ok(())),
        ("NotIn hits", pod("p").affinity(required(expr("disk", "NotIn", &["ssd"]))), disk(), fail(UNRESOLVABLE, reason)),
        ("Exists", pod("p").affinity(required(expr("disk", "Exists", &[]))), disk(), Ok(())),
        ("DoesNotExist", pod("p").affinity(required(expr("gpu", "DoesNotExist", &[]))), disk(), Ok(())),
        ("DoesNotExist hits", pod("p").affinity(required(expr("disk", "DoesNotExist", &[]))), disk(), fail(UNRESOLVABLE, reason)),
        ("Gt", pod("p").affinity(required(expr("cores", "Gt", &["4"]))), disk(), Ok(())),
        ("Gt misses", pod("p").affinity(required(expr("cores", "Gt", &["8"]))), disk(), fail(UNRESOLVABLE, reason)),
        ("Lt", pod("p").affinity(required(expr("cores", "Lt", &["16"]))), disk(), Ok(())),
        (
            "terms are ORed",
            pod("p").affinity(required(json!([
                {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["hdd"]}]},
                {"matchExpressions": [{"key": "cores", "operator": "In", "values": ["8"]}]},
            ]))),
            disk(),
            Ok(()),
        ),
        (
            "expressions in a term are ANDed",
            pod("p").affinity(required(json!([
                {"matchExpressions": [
                    {"key": "disk", "operator": "In", "values": ["ssd"]},
                    {"key": "cores", "operator": "In", "values": ["4"]},
                ]},
            ]))),
            disk(),
            fail(UNRESOLVABLE, reason),
        ),
        ("an empty term matches nothing", pod("p").affinity(required(json!([{}]))), disk(), fail(UNRESOLVABLE, reason)),
        (
            "matchFields on the node name",
            pod("p").affinity(required(json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]))),
            disk(),
            Ok(()),
        ),
        (
            "nodeSelector and affinity must both match",
            pod("p").node_selector("disk", "hdd").affinity(required(expr("disk", "Exists", &[]))),
            disk(),
            fail(UNRESOLVABLE, reason),
        ),
    ];
    for (name, p, n, want) in cases {
        assert_eq!(one_node(p, n), want, "{name}");
    }
}

#[test]
fn host_ports() {
    let reason = "node(s) didn't have free ports for the requested pod ports";
    let cases: Vec<(&str, P, P, Verdict)> = vec![
        (
            "free",
            pod("p").host_port(8080, "TCP", ""),
            pod("q").host_port(9090, "TCP", ""),
            Ok(()),
        ),
        (
            "same port",
            pod("p").host_port(8080, "TCP", ""),
            pod("q").host_port(8080, "TCP", ""),
            fail(UNSCHEDULABLE, reason),
        ),
        (
            "other protocol",
            pod("p").host_port(53, "UDP", ""),
            pod("q").host_port(53, "TCP", ""),
            Ok(()),
        ),
        (
            "different addresses",
            pod("p").host_port(80, "TCP", "127.0.0.1"),
            pod("q").host_port(80, "TCP", "127.0.0.2"),
            Ok(()),
        ),
        (
            "any address against one",
            pod("p").host_port(80, "TCP", ""),
            pod("q").host_port(80, "TCP", "127.0.0.2"),
            fail(UNSCHEDULABLE, reason),
        ),
        (
            "one address against any",
            pod("p").host_port(80, "TCP", "127.0.0.1"),
            pod("q").host_port(80, "TCP", "0.0.0.0"),
            fail(UNSCHEDULABLE, reason),
        ),
        (
            "no host port",
            pod("p"),
            pod("q").host_port(80, "TCP", ""),
            Ok(()),
        ),
    ];
    for (name, p, existing, want) in cases {
        assert_eq!(
            verdict(p, vec![node("n1")], vec![existing.on("n1")], "n1"),
            want,
            "{name}"
        );
    }
}

#[test]
fn resources_fit() {
    let cpu = || "Insufficient cpu".to_string();
    let memory = || "Insufficient memory".to_string();
    let cases: Vec<(&str, P, N, Vec<P>, Verdict)> = vec![
        ("fits", pod("p").requests("1", "1Gi"), node("n1"), vec![pod("q").requests("2", "2Gi")], Ok(())),
        ("exactly fills", pod("p").requests("2", "6Gi"), node("n1"), vec![pod("q").requests("2", "2Gi")], Ok(())),
        (
            "cpu short",
            pod("p").requests("2500m", ""),
            node("n1"),
            vec![pod("q").requests("2", "")],
            Err((UNSCHEDULABLE, vec![cpu()])),
        ),
        (
            "cpu and memory short",
            pod("p").requests("3", "7Gi"),
            node("n1"),
            vec![pod("q").requests("2", "2Gi")],
            Err((UNSCHEDULABLE, vec![cpu(), memory()])),
        ),
        (
            "too many pods",
            pod("p"),
            node("n1").allocatable("4", "8Gi", "1"),
            vec![pod("q")],
            Err((UNSCHEDULABLE, vec!["Too many pods".to_string()])),
        ),
        (
            "too many pods and short of cpu",
            pod("p").requests("4", ""),
            node("n1").allocatable("4", "8Gi", "1"),
            vec![pod("q").requests("1", "")],
            Err((UNSCHEDULABLE, vec!["Too many pods".to_string(), cpu()])),
        ),
        (
            "finished pods free their resources",
            pod("p").requests("4", ""),
            node("n1"),
            vec![pod("q").requests("4", "").phase("Succeeded")],
            Ok(()),
        ),
        (
            "limits stand in for missing requests",
            pod("p").container(json!({"name": "d", "resources": {"limits": {"cpu": "5"}}})),
            node("n1"),
            vec![],
            Err((UNSCHEDULABLE, vec![cpu()])),
        ),
        (
            "the largest init container counts",
            pod("p").requests("1", "").init_container(json!({"name": "i", "resources": {"requests": {"cpu": "4500m"}}})),
            node("n1"),
            vec![],
            Err((UNSCHEDULABLE, vec![cpu()])),
        ),
        (
            "init containers do not add up with containers",
            pod("p").requests("3", "").init_container(json!({"name": "i", "resources": {"requests": {"cpu": "4"}}})),
            node("n1"),
            vec![],
            Ok(()),
        ),
        (
            "sidecars add to the containers",
            pod("p").requests("3", "").init_container(json!({"name": "s", "restartPolicy": "Always", "resources": {"requests": {"cpu": "1500m"}}})),
            node("n1"),
            vec![],
            Err((UNSCHEDULABLE, vec![cpu()])),
        ),
        (
            "extended resources",
            pod("p").container(json!({"name": "g", "resources": {"requests": {"example.com/gpu": "2"}}})),
            node("n1").extended("example.com/gpu", "1"),
            vec![],
            Err((UNSCHEDULABLE, vec!["Insufficient example.com/gpu".to_string()])),
        ),
        (
            "a pod that requests nothing fits a full node",
            pod("p"),
            node("n1"),
            vec![pod("q").requests("4", "8Gi")],
            Ok(()),
        ),
    ];
    for (name, p, n, placed, want) in cases {
        let placed = placed.into_iter().map(|q| q.on("n1")).collect();
        assert_eq!(verdict(p, vec![n], placed, "n1"), want, "{name}");
    }
}

#[test]
fn pod_affinity_and_anti_affinity() {
    const HOST: &str = "kubernetes.io/hostname";
    const ZONE: &str = "topology.kubernetes.io/zone";
    let anti = "node(s) didn't match pod anti-affinity rules";
    let affinity = "node(s) didn't match pod affinity rules";
    let existing_anti = "node(s) didn't satisfy existing pods anti-affinity rules";
    let cluster = || {
        vec![
            node("n1").label(ZONE, "a"),
            node("n2").label(ZONE, "a"),
            node("n3").label(ZONE, "b"),
        ]
    };
    // (name, incoming, placed pods, node to check, verdict)
    let cases: Vec<(&str, P, Vec<P>, &str, Verdict)> = vec![
        (
            "anti-affinity: a matching pod on the node",
            pod("p").label("app", "hello").anti_affinity("app", "hello", HOST),
            vec![pod("q").label("app", "hello").on("n1")],
            "n1",
            fail(UNSCHEDULABLE, anti),
        ),
        (
            "anti-affinity: the matching pod is on another host",
            pod("p").label("app", "hello").anti_affinity("app", "hello", HOST),
            vec![pod("q").label("app", "hello").on("n1")],
            "n2",
            Ok(()),
        ),
        (
            "anti-affinity per zone",
            pod("p").anti_affinity("app", "db", ZONE),
            vec![pod("q").label("app", "db").on("n1")],
            "n2",
            fail(UNSCHEDULABLE, anti),
        ),
        (
            "anti-affinity per zone, other zone",
            pod("p").anti_affinity("app", "db", ZONE),
            vec![pod("q").label("app", "db").on("n1")],
            "n3",
            Ok(()),
        ),
        (
            "anti-affinity ignores pods in other namespaces",
            pod("p").anti_affinity("app", "hello", HOST),
            vec![pod("q").namespace("other").label("app", "hello").on("n1")],
            "n1",
            Ok(()),
        ),
        (
            "anti-affinity with an empty namespaceSelector sees every namespace",
            pod("p").affinity(json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "hello"}}, "topologyKey": HOST, "namespaceSelector": {}}
            ]}})),
            vec![pod("q").namespace("other").label("app", "hello").on("n1")],
            "n1",
            fail(UNSCHEDULABLE, anti),
        ),
        (
            "anti-affinity with matchExpressions",
            pod("p").affinity(json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["a", "b"]}]}, "topologyKey": HOST}
            ]}})),
            vec![pod("q").label("app", "b").on("n1")],
            "n1",
            fail(UNSCHEDULABLE, anti),
        ),
        (
            "affinity: matching pod in the same zone",
            pod("p").pod_affinity("app", "db", ZONE),
            vec![pod("q").label("app", "db").on("n1")],
            "n2",
            Ok(()),
        ),
        (
            "affinity: matching pod only in another zone",
            pod("p").pod_affinity("app", "db", ZONE),
            vec![pod("q").label("app", "db").on("n1")],
            "n3",
            fail(UNRESOLVABLE, affinity),
        ),
        (
            "affinity: nothing matches anywhere and the pod does not match itself",
            pod("p").pod_affinity("app", "db", HOST),
            vec![],
            "n1",
            fail(UNRESOLVABLE, affinity),
        ),
        (
            "affinity: the first pod of a group that matches itself may go anywhere",
            pod("p").label("app", "db").pod_affinity("app", "db", HOST),
            vec![],
            "n1",
            Ok(()),
        ),
        (
            "affinity: the node lacks the topology key",
            pod("p").label("app", "db").pod_affinity("app", "db", "rack"),
            vec![],
            "n1",
            fail(UNRESOLVABLE, affinity),
        ),
        (
            "existing pod's anti-affinity repels the pod",
            pod("p").label("app", "web"),
            vec![pod("q").anti_affinity("app", "web", HOST).on("n1")],
            "n1",
            fail(UNSCHEDULABLE, existing_anti),
        ),
        (
            "existing pod's zone anti-affinity repels the pod from the whole zone",
            pod("p").label("app", "web"),
            vec![pod("q").anti_affinity("app", "web", ZONE).on("n1")],
            "n2",
            fail(UNSCHEDULABLE, existing_anti),
        ),
        (
            "existing pod's anti-affinity does not reach other zones",
            pod("p").label("app", "web"),
            vec![pod("q").anti_affinity("app", "web", ZONE).on("n1")],
            "n3",
            Ok(()),
        ),
        (
            "existing pod's anti-affinity only covers its own namespace",
            pod("p").namespace("other").label("app", "web"),
            vec![pod("q").anti_affinity("app", "web", HOST).on("n1")],
            "n1",
            Ok(()),
        ),
        (
            "a term without a labelSelector matches no pod",
            pod("p").affinity(json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"topologyKey": HOST}
            ]}})),
            vec![pod("q").label("app", "x").on("n1")],
            "n1",
            Ok(()),
        ),
    ];
    for (name, p, placed, target, want) in cases {
        assert_eq!(verdict(p, cluster(), placed, target), want, "{name}");
    }
}

#[test]
fn namespace_selector_reads_namespace_labels() {
    let mut snapshot = Snapshot::new(
        [node("n1").build()],
        [pod("q")
            .namespace("team-a")
            .label("app", "db")
            .on("n1")
            .build()],
    );
    snapshot.set_namespace("team-a", [("team".to_string(), "a".to_string())].into());
    let incoming = PodInfo::new(
        &pod("p")
            .affinity(json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "kubernetes.io/hostname",
                 "namespaceSelector": {"matchLabels": {"team": "a"}}}
            ]}}))
            .build(),
    );
    let affinity = AffinityState::new(&incoming, &snapshot);
    let status = run(
        &incoming,
        &affinity,
        snapshot.node("n1").unwrap(),
        &snapshot,
    )
    .unwrap_err();
    assert_eq!(
        status.reasons,
        ["node(s) didn't match pod anti-affinity rules"]
    );
}

#[test]
fn filters_run_in_kube_order_and_stop_at_the_first_rejection() {
    // Cordoned, tainted, wrong labels and full: only the first plugin's reason shows.
    let n = node("n1")
        .unschedulable()
        .taint("dedicated", "gpu", "NoSchedule")
        .allocatable("1", "1Gi", "110");
    let p = pod("p").node_selector("disk", "ssd").requests("2", "");
    assert_eq!(
        one_node(p, n),
        fail(UNRESOLVABLE, "node(s) were unschedulable")
    );
    let n = node("n1")
        .taint("dedicated", "gpu", "NoSchedule")
        .allocatable("1", "1Gi", "110");
    let p = pod("p").node_selector("disk", "ssd").requests("2", "");
    assert_eq!(
        one_node(p, n),
        fail(
            UNRESOLVABLE,
            "node(s) had untolerated taint {dedicated: gpu}"
        )
    );
}
