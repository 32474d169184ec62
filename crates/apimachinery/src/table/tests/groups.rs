//! Rows of the named groups' resources (apps, RBAC, coordination, discovery, policy, storage,
//! reviews), from realistic objects.

use serde_json::{Value, json};

use super::{assert_rows, meta};
use crate::table::labels;

fn workload_spec(replicas: Option<i64>) -> Value {
    let mut spec = json!({
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [
                {"name": "nginx", "image": "nginx:1.27"},
                {"name": "log", "image": "busybox:1.36"},
            ]},
        },
    });
    if let Some(n) = replicas {
        spec["replicas"] = json!(n);
    }
    spec
}

#[test]
fn apps_rows() {
    let deployment = json!({
        "metadata": meta("web", "2024-04-26T10:00:00Z", json!({"namespace": "default", "generation": 1})),
        "spec": workload_spec(Some(3)),
        "status": {"replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3, "observedGeneration": 1},
    });
    assert_rows(
        "apps",
        "deployments",
        &[
            (
                "three replicas",
                deployment,
                json!([
                    "web",
                    "3/3",
                    3,
                    3,
                    "5d",
                    "nginx,log",
                    "nginx:1.27,busybox:1.36",
                    "app=web"
                ]),
            ),
            (
                "new, replicas defaulted",
                json!({"metadata": meta("new", "2024-05-01T09:59:59Z", json!({})), "spec": {}}),
                json!(["new", "0/1", 0, 0, "1s", "", "", ""]),
            ),
        ],
    );

    let replica_set = json!({
        "metadata": meta("web-5d4f", "2024-04-26T10:00:00Z", json!({})),
        "spec": workload_spec(Some(3)),
        "status": {"replicas": 3, "readyReplicas": 2},
    });
    assert_rows(
        "apps",
        "replicasets",
        &[(
            "rolling",
            replica_set,
            json!([
                "web-5d4f",
                3,
                3,
                2,
                "5d",
                "nginx,log",
                "nginx:1.27,busybox:1.36",
                "app=web"
            ]),
        )],
    );

    let mut ds_spec = workload_spec(None);
    ds_spec["template"]["spec"]["nodeSelector"] = json!({"kubernetes.io/os": "linux"});
    ds_spec["selector"] = json!({"matchLabels": {"k8s-app": "kube-proxy"}, "matchExpressions": [
        {"key": "tier", "operator": "NotIn", "values": ["test", "dev"]},
        {"key": "canary", "operator": "DoesNotExist"},
    ]});
    let daemon_set = json!({
        "metadata": meta("kube-proxy", "2024-04-28T09:00:00Z", json!({})),
        "spec": ds_spec,
        "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                   "updatedNumberScheduled": 3, "numberAvailable": 2},
    });
    assert_rows(
        "apps",
        "daemonsets",
        &[(
            "three nodes",
            daemon_set,
            json!([
                "kube-proxy",
                3,
                3,
                2,
                3,
                2,
                "kubernetes.io/os=linux",
                "3d1h",
                "nginx,log",
                "nginx:1.27,busybox:1.36",
                "!canary,k8s-app=kube-proxy,tier notin (dev,test)"
            ]),
        )],
    );

    let stateful_set = json!({
        "metadata": meta("db", "2024-05-01T09:00:00Z", json!({})),
        "spec": workload_spec(Some(2)),
        "status": {"replicas": 2, "readyReplicas": 1},
    });
    assert_rows(
        "apps",
        "statefulsets",
        &[(
            "one of two ready",
            stateful_set,
            json!(["db", "1/2", "60m", "nginx,log", "nginx:1.27,busybox:1.36"]),
        )],
    );

    let revision = |owners: Value| {
        json!({
            "metadata": meta("kube-proxy-7d5f", "2024-04-28T09:00:00Z", json!({"ownerReferences": owners})),
            "revision": 2,
            "data": {},
        })
    };
    assert_rows(
        "apps",
        "controllerrevisions",
        &[
            (
                "owned by a daemon set",
                revision(json!([
                    {"apiVersion": "v1", "kind": "Pod", "name": "other", "uid": "1"},
                    {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "kube-proxy", "uid": "2", "controller": true},
                ])),
                json!(["kube-proxy-7d5f", "daemonset.apps/kube-proxy", 2, "3d1h"]),
            ),
            (
                "orphaned",
                revision(json!(null)),
                json!(["kube-proxy-7d5f", "<none>", 2, "3d1h"]),
            ),
        ],
    );
}

#[test]
fn rbac_rows() {
    let binding = json!({
        "metadata": meta("dev-edit", "2024-04-30T10:00:00Z", json!({"namespace": "dev"})),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": [
            {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"},
            {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "bob"},
            {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "devs"},
            {"kind": "ServiceAccount", "name": "deployer", "namespace": "ci"},
        ],
    });
    assert_rows(
        "rbac.authorization.k8s.io",
        "rolebindings",
        &[(
            "mixed subjects",
            binding,
            json!([
                "dev-edit",
                "ClusterRole/edit",
                "24h",
                "alice, bob",
                "devs",
                "ci/deployer"
            ]),
        )],
    );

    let cluster_binding = json!({
        "metadata": meta("cluster-admin", "2024-04-28T09:00:00Z", json!({})),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "system:masters"}],
    });
    assert_rows(
        "rbac.authorization.k8s.io",
        "clusterrolebindings",
        &[(
            "masters",
            cluster_binding,
            json!([
                "cluster-admin",
                "ClusterRole/cluster-admin",
                "3d1h",
                "",
                "system:masters",
                ""
            ]),
        )],
    );

    let role =
        json!({"metadata": meta("pod-reader", "2024-04-30T10:00:00.5Z", json!({})), "rules": []});
    assert_rows(
        "rbac.authorization.k8s.io",
        "roles",
        &[
            (
                "default table",
                role,
                json!(["pod-reader", "2024-04-30T10:00:00Z"]),
            ),
            (
                "no creation time",
                json!({"metadata": {"name": "x"}}),
                json!(["x", "0001-01-01T00:00:00Z"]),
            ),
        ],
    );
}

#[test]
fn other_group_rows() {
    let class = json!({
        "metadata": meta("standard", "2024-04-24T10:00:00Z", json!({"annotations": {
            "storageclass.kubernetes.io/is-default-class": "true",
        }})),
        "provisioner": "rancher.io/local-path",
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    });
    let plain = json!({
        "metadata": meta("fast", "2024-04-24T10:00:00Z", json!({})),
        "provisioner": "ebs.csi.aws.com",
        "allowVolumeExpansion": true,
    });
    assert_rows(
        "storage.k8s.io",
        "storageclasses",
        &[
            (
                "default class",
                class,
                json!([
                    "standard (default)",
                    "rancher.io/local-path",
                    "Delete",
                    "WaitForFirstConsumer",
                    false,
                    "7d"
                ]),
            ),
            (
                "defaults filled in",
                plain,
                json!(["fast", "ebs.csi.aws.com", "Delete", "Immediate", true, "7d"]),
            ),
        ],
    );

    let lease = json!({
        "metadata": meta("kube-scheduler", "2024-04-28T09:00:00Z", json!({"namespace": "kube-system"})),
        "spec": {"holderIdentity": "cp-1_6f1c", "leaseDurationSeconds": 15},
    });
    assert_rows(
        "coordination.k8s.io",
        "leases",
        &[
            (
                "held",
                lease,
                json!(["kube-scheduler", "cp-1_6f1c", "3d1h"]),
            ),
            (
                "free",
                json!({"metadata": meta("free", "2024-04-28T09:00:00Z", json!({})), "spec": {}}),
                json!(["free", "", "3d1h"]),
            ),
        ],
    );

    let slice = json!({
        "metadata": meta("web-abc12", "2024-05-01T09:50:00Z", json!({})),
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "metrics"}, {}, {"port": 1}],
        "endpoints": [{"addresses": ["10.244.1.5"]}, {"addresses": ["10.244.2.7"], "conditions": {"ready": true}}],
    });
    assert_rows(
        "discovery.k8s.io",
        "endpointslices",
        &[
            (
                "ports and endpoints",
                slice,
                json!([
                    "web-abc12",
                    "IPv4",
                    "8080,metrics,* + 1 more...",
                    "10.244.1.5,10.244.2.7",
                    "10m"
                ]),
            ),
            (
                "empty",
                json!({"metadata": meta("e", "2024-05-01T09:50:00Z", json!({})), "addressType": "IPv6"}),
                json!(["e", "IPv6", "<unset>", "<unset>", "10m"]),
            ),
        ],
    );

    let budget = |spec: Value| {
        json!({
            "metadata": meta("web", "2024-05-01T09:50:00Z", json!({})),
            "spec": spec,
            "status": {"disruptionsAllowed": 1},
        })
    };
    assert_rows(
        "policy",
        "poddisruptionbudgets",
        &[
            (
                "min available",
                budget(json!({"minAvailable": 2})),
                json!(["web", "2", "N/A", 1, "10m"]),
            ),
            (
                "max unavailable percent",
                budget(json!({"maxUnavailable": "25%"})),
                json!(["web", "N/A", "25%", 1, "10m"]),
            ),
        ],
    );

    let review = json!({"metadata": {"creationTimestamp": null}, "spec": {"token": "x"}});
    assert_rows(
        "authentication.k8s.io",
        "tokenreviews",
        &[("unnamed", review, json!(["", "0001-01-01T00:00:00Z"]))],
    );
}

#[test]
fn label_selector_text() {
    let cases = [
        (json!(null), Some("")),
        (json!({}), Some("")),
        (
            json!({"matchLabels": {"b": "2", "a": "1"}}),
            Some("a=1,b=2"),
        ),
        (
            json!({"matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}]}),
            Some("env in (prod)"),
        ),
        (
            json!({"matchExpressions": [{"key": "x", "operator": "Exists"}, {"key": "a", "operator": "Exists"}]}),
            Some("a,x"),
        ),
        (
            json!({"matchExpressions": [{"key": "env", "operator": "In", "values": []}]}),
            None,
        ),
        (
            json!({"matchExpressions": [{"key": "env", "operator": "Exists", "values": ["a"]}]}),
            None,
        ),
        (
            json!({"matchExpressions": [{"key": "env", "operator": "Like"}]}),
            None,
        ),
    ];
    for (selector, want) in cases {
        assert_eq!(
            labels::selector_string(&selector).as_deref(),
            want,
            "{selector}"
        );
    }
    assert_eq!(labels::format_selector(&json!({})), "<none>");
    assert_eq!(
        labels::format_selector(&json!({"matchExpressions": [{"key": "k", "operator": "?"}]})),
        "<error>"
    );
}
