//! Expectation tests of the Node a kubelet registers.

use super::*;

fn registration(control_plane: bool) -> Registration {
    Registration {
        name: "n1".to_string(),
        ip: Ipv4Addr::new(10, 0, 0, 11),
        control_plane,
        version: "v1.33.0".to_string(),
        port: 10250,
        arch: "amd64".to_string(),
        pod_cidr: Some("127.49.129.0/24".to_string()),
    }
}

fn host() -> HostFacts {
    HostFacts {
        os_image: "Ubuntu 24.04.1 LTS".to_string(),
        kernel_version: "6.8.0-45-generic".to_string(),
        machine_id: "0123456789abcdef0123456789abcdef".to_string(),
        boot_id: "6f1c7a52-2a5e-4a4d-9d7e-0f3a6c1b2d4e".to_string(),
        cpus: 4,
        memory_kib: 16318884,
    }
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_750_000_000 + seconds).unwrap()
}

#[test]
fn labels_by_role() {
    let common = [
        ("beta.kubernetes.io/arch", "amd64"),
        ("beta.kubernetes.io/os", "linux"),
        ("kubernetes.io/arch", "amd64"),
        ("kubernetes.io/hostname", "n1"),
        ("kubernetes.io/os", "linux"),
    ];
    let control_plane = [
        ("node-role.kubernetes.io/control-plane", ""),
        (
            "node.kubernetes.io/exclude-from-external-load-balancers",
            "",
        ),
    ];
    let cases: [(bool, Vec<(&str, &str)>); 2] = [
        (false, common.to_vec()),
        (true, common.iter().chain(&control_plane).copied().collect()),
    ];
    for (is_control_plane, want) in cases {
        let want: BTreeMap<String, String> = want
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(
            registration(is_control_plane).labels(),
            want,
            "{is_control_plane}"
        );
    }
}

#[test]
fn label_patch_removes_the_control_plane_labels_of_a_worker() {
    let worker = registration(false).label_patch();
    assert_eq!(
        worker["metadata"]["labels"][CONTROL_PLANE_ROLE_LABEL],
        Value::Null
    );
    assert!(
        worker["metadata"]["labels"]
            .as_object()
            .unwrap()
            .contains_key(CONTROL_PLANE_ROLE_LABEL)
    );
    assert_eq!(worker["metadata"]["labels"]["kubernetes.io/hostname"], "n1");
    let control_plane = registration(true).label_patch();
    assert_eq!(
        control_plane["metadata"]["labels"][EXCLUDE_FROM_LB_LABEL],
        ""
    );
}

#[test]
fn a_new_node_in_full() {
    let node = serde_json::to_value(registration(true).node(&host(), at(0))).unwrap();
    let heartbeat = "2025-06-15T15:06:40Z";
    let condition = |type_: &str, status: &str, reason: &str, message: &str| {
        json!({
            "type": type_, "status": status, "reason": reason, "message": message,
            "lastHeartbeatTime": heartbeat, "lastTransitionTime": heartbeat,
        })
    };
    let want = json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": "n1",
            "labels": {
                "beta.kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/hostname": "n1",
                "kubernetes.io/os": "linux",
                "node-role.kubernetes.io/control-plane": "",
                "node.kubernetes.io/exclude-from-external-load-balancers": "",
            },
        },
        "spec": {"podCIDR": "127.49.129.0/24", "podCIDRs": ["127.49.129.0/24"]},
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": "10.0.0.11"},
                {"type": "Hostname", "address": "n1"},
            ],
            "allocatable": {"cpu": "4", "memory": "16216484Ki", "pods": "110"},
            "capacity": {"cpu": "4", "memory": "16318884Ki", "pods": "110"},
            "conditions": [
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": "6f1c7a52-2a5e-4a4d-9d7e-0f3a6c1b2d4e",
                "containerRuntimeVersion": format!("hakube://{}", env!("CARGO_PKG_VERSION")),
                "kernelVersion": "6.8.0-45-generic",
                "kubeProxyVersion": "v1.33.0",
                "kubeletVersion": "v1.33.0",
                "machineID": machine_id("0123456789abcdef0123456789abcdef", "n1"),
                "operatingSystem": "linux",
                "osImage": "Ubuntu 24.04.1 LTS",
                "systemUUID": system_uuid("0123456789abcdef0123456789abcdef", "n1"),
            },
        },
    });
    assert_eq!(node, want);
}

#[test]
fn the_pod_cidr_is_set_only_on_a_node_without_one() {
    let with = |cidr: Option<&str>| Node {
        spec: Some(NodeSpec {
            pod_cidr: cidr.map(str::to_string),
            ..NodeSpec::default()
        }),
        ..Node::default()
    };
    let patch = json!({"spec": {"podCIDR": "127.49.129.0/24", "podCIDRs": ["127.49.129.0/24"]}});
    let cases = [
        (with(None), Some(patch.clone())),
        (with(Some("")), Some(patch)),
        (with(Some("127.49.129.0/24")), None),
        (with(Some("10.0.0.0/24")), None),
    ];
    for (node, want) in cases {
        assert_eq!(registration(false).pod_cidr_patch(&node), want);
    }
    let mut without = registration(false);
    without.pod_cidr = None;
    assert_eq!(without.pod_cidr_patch(&with(None)), None);
}

#[test]
fn transition_times_survive_heartbeats_but_not_changes() {
    let first = conditions(&[], at(0));
    let second = conditions(&first, at(10));
    for c in &second {
        assert_eq!(c.last_heartbeat_time, Some(Time(at(10))), "{}", c.type_);
        assert_eq!(c.last_transition_time, Some(Time(at(0))), "{}", c.type_);
    }
    // The node lifecycle controller marked the node Unknown while the kubelet was away.
    let mut unknown = second.clone();
    unknown[3].status = "Unknown".to_string();
    let third = conditions(&unknown, at(60));
    assert_eq!(third[3].status, "True");
    assert_eq!(third[3].last_transition_time, Some(Time(at(60))));
    assert_eq!(third[0].last_transition_time, Some(Time(at(0))));
}

#[test]
fn status_patch_heartbeats_now() {
    let patch = registration(false).status_patch(&host(), at(20), &conditions(&[], at(0)));
    let ready = &patch["status"]["conditions"][3];
    assert_eq!(ready["type"], "Ready");
    assert_eq!(ready["lastHeartbeatTime"], "2025-06-15T15:07:00Z");
    assert_eq!(ready["lastTransitionTime"], "2025-06-15T15:06:40Z");
}

#[test]
fn machine_ids_differ_per_node_and_keep_their_form() {
    let machine = "0123456789abcdef0123456789abcdef";
    let (a, b) = (machine_id(machine, "n1"), machine_id(machine, "n2"));
    assert_ne!(a, b);
    assert_eq!(a, machine_id(machine, "n1"), "stable across restarts");
    assert_eq!(a.len(), 32);
    assert!(
        a.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert_ne!(machine_id("", "n1"), machine_id("", "n2"));

    let uuid = system_uuid(machine, "n1");
    let groups: Vec<usize> = uuid.split('-').map(str::len).collect();
    assert_eq!(groups, [8, 4, 4, 4, 12]);
    assert_eq!(&uuid[14..15], "8", "version 8");
    assert!(
        matches!(&uuid[19..20], "8" | "9" | "a" | "b"),
        "RFC variant"
    );
    assert_ne!(uuid, system_uuid(machine, "n2"));
}

#[test]
fn memory_smaller_than_the_eviction_threshold_allocates_nothing() {
    let mut small = host();
    small.memory_kib = 1024;
    let status = registration(false).status(&small, at(0), &[]);
    assert_eq!(
        status.allocatable.unwrap()["memory"],
        Quantity("0Ki".to_string())
    );
}
