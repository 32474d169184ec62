//! Expectation tests of static pods, their mirror pods and the restart decisions.

use super::*;

fn static_pod(image: &str) -> StaticPod {
    StaticPod::new(
        &MirrorPod {
            role: "etcd".to_string(),
            image: image.to_string(),
            log_file: PathBuf::from("/var/log/hakube/etcd.log"),
        },
        "n1",
    )
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_750_000_000 + seconds).unwrap()
}

fn run() -> Run {
    Run::new("n1", at(0), 4242)
}

const IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 11);

#[test]
fn the_mirror_pod_in_full() {
    let pod = static_pod("hakube/etcd:0.1.0");
    assert_eq!(pod.name, "etcd-n1");
    assert_eq!(pod.hash.len(), 32);
    let hash = pod.hash.clone();
    let mirror = serde_json::to_value(pod.mirror("node-uid", at(0))).unwrap();
    let want = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "etcd-n1",
            "namespace": "kube-system",
            "labels": {"component": "etcd", "tier": "control-plane"},
            "annotations": {
                "kubernetes.io/config.hash": hash,
                "kubernetes.io/config.mirror": hash,
                "kubernetes.io/config.seen": "2025-06-15T15:06:40Z",
                "kubernetes.io/config.source": "file",
            },
            "ownerReferences": [{
                "apiVersion": "v1", "kind": "Node", "name": "n1", "uid": "node-uid",
                "controller": true,
            }],
        },
        "spec": {
            "containers": [{
                "name": "etcd", "image": "hakube/etcd:0.1.0", "imagePullPolicy": "IfNotPresent",
            }],
            "hostNetwork": true,
            "nodeName": "n1",
            "priority": 2000001000,
            "priorityClassName": "system-node-critical",
            "restartPolicy": "Always",
            "tolerations": [{"operator": "Exists", "effect": "NoExecute"}],
        },
    });
    assert_eq!(mirror, want);
}

#[test]
fn the_status_of_a_running_pod() {
    let pod = static_pod("hakube/etcd:0.1.0");
    let run = run();
    let status = serde_json::to_value(pod.status(IP, &run)).unwrap();
    let t = "2025-06-15T15:06:40Z";
    let condition = |type_: &str| json!({"type": type_, "status": "True", "lastTransitionTime": t});
    let want = json!({
        "phase": "Running",
        "hostIP": "10.0.0.11",
        "hostIPs": [{"ip": "10.0.0.11"}],
        "podIP": "10.0.0.11",
        "podIPs": [{"ip": "10.0.0.11"}],
        "startTime": t,
        "qosClass": "BestEffort",
        "conditions": [
            condition("PodReadyToStartContainers"),
            condition("Initialized"),
            condition("Ready"),
            condition("ContainersReady"),
            condition("PodScheduled"),
        ],
        "containerStatuses": [{
            "name": "etcd",
            "ready": true,
            "started": true,
            "restartCount": 0,
            "image": "hakube/etcd:0.1.0",
            "imageID": format!("sha256:{}", hex(&Sha256::digest(b"hakube/etcd:0.1.0"))),
            "containerID": run.container_id("etcd"),
            "state": {"running": {"startedAt": t}},
        }],
    });
    assert_eq!(status, want);
}

#[test]
fn hashes_follow_the_manifest() {
    assert_eq!(static_pod("a:1").hash, static_pod("a:1").hash);
    assert_ne!(static_pod("a:1").hash, static_pod("a:2").hash);
}

#[test]
fn container_ids_are_stable_within_a_run_and_differ_between_runs() {
    let (a, b) = (run(), Run::new("n1", at(60), 4242));
    assert_eq!(a.container_id("etcd"), run().container_id("etcd"));
    assert_ne!(a.container_id("etcd"), b.container_id("etcd"));
    assert_ne!(a.container_id("etcd"), a.container_id("kube-apiserver"));
    let id = a.container_id("etcd");
    assert_eq!(id.strip_prefix("hakube://").map(str::len), Some(64));
}

#[test]
fn stale_mirror_pods() {
    let pod = static_pod("hakube/etcd:0.1.0");
    let fresh = pod.mirror("node-uid", at(0));
    type Change = fn(&mut Pod);
    let cases: [(&str, Change, Option<&str>); 6] = [
        ("as created", |_| {}, None),
        (
            "not a mirror pod",
            |p| {
                p.metadata
                    .annotations
                    .as_mut()
                    .unwrap()
                    .remove(MIRROR_ANNOTATION);
            },
            Some("it is not a mirror pod"),
        ),
        (
            "another manifest",
            |p| {
                p.metadata
                    .annotations
                    .as_mut()
                    .unwrap()
                    .insert(MIRROR_ANNOTATION.to_string(), "0".repeat(32));
            },
            Some("its static pod changed"),
        ),
        (
            "terminating",
            |p| p.metadata.deletion_timestamp = Some(Time(at(5))),
            Some("it is being deleted"),
        ),
        (
            "elsewhere",
            |p| p.spec.as_mut().unwrap().node_name = Some("n2".to_string()),
            Some("it is bound to another node"),
        ),
        (
            "an earlier Node",
            |p| p.metadata.owner_references.as_mut().unwrap()[0].uid = "old".to_string(),
            Some("it belongs to an earlier Node"),
        ),
    ];
    for (name, change, want) in cases {
        let mut existing = fresh.clone();
        change(&mut existing);
        assert_eq!(pod.stale_reason(&existing, "node-uid"), want, "{name}");
    }
}

#[test]
fn status_is_current_only_for_this_run() {
    let pod = static_pod("hakube/etcd:0.1.0");
    let mut existing = pod.mirror("node-uid", at(0));
    existing.status = Some(PodStatus {
        phase: Some("Pending".to_string()),
        qos_class: Some("BestEffort".to_string()),
        ..PodStatus::default()
    });
    assert!(!pod.status_is_current(&existing, IP, &run()), "as created");
    existing.status = Some(pod.status(IP, &run()));
    assert!(pod.status_is_current(&existing, IP, &run()));
    // Fields the kubelet does not set do not matter.
    existing.status.as_mut().unwrap().nominated_node_name = Some("x".to_string());
    assert!(pod.status_is_current(&existing, IP, &run()));
    let next = Run::new("n1", at(60), 4343);
    assert!(
        !pod.status_is_current(&existing, IP, &next),
        "after a restart"
    );
}

#[test]
fn the_running_static_pod_is_named_by_its_hash() {
    let pod = static_pod("hakube/etcd:0.1.0");
    let running = pod.running(IP, &run());
    assert_eq!(running.metadata.uid.as_deref(), Some(pod.hash.as_str()));
    let annotations = running.metadata.annotations.unwrap();
    assert!(!annotations.contains_key(MIRROR_ANNOTATION));
    assert_eq!(annotations[SOURCE_ANNOTATION], "file");
    assert_eq!(running.status.unwrap().phase.as_deref(), Some("Running"));
}
