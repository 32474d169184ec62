//! Rows of the core group's resources, pods aside, from realistic objects.

use serde_json::{Value, json};

use super::{assert_rows, meta};

#[test]
fn node_rows() {
    let cases = [
        (
            "ready control plane",
            json!({
                "metadata": meta("cp-1", "2024-04-28T09:00:00Z", json!({"labels": {
                    "kubernetes.io/hostname": "cp-1",
                    "node-role.kubernetes.io/control-plane": "",
                    "node.kubernetes.io/exclude-from-external-load-balancers": "",
                }})),
                "spec": {"podCIDR": "10.244.0.0/24"},
                "status": {
                    "conditions": [
                        {"type": "MemoryPressure", "status": "False"},
                        {"type": "DiskPressure", "status": "False"},
                        {"type": "Ready", "status": "True", "reason": "KubeletReady"},
                    ],
                    "addresses": [{"type": "InternalIP", "address": "10.0.0.10"}, {"type": "Hostname", "address": "cp-1"}],
                    "nodeInfo": {
                        "kubeletVersion": "v1.33.1",
                        "osImage": "Debian GNU/Linux 12 (bookworm)",
                        "kernelVersion": "6.1.0-21-amd64",
                        "containerRuntimeVersion": "containerd://1.7.13",
                    },
                },
            }),
            json!([
                "cp-1",
                "Ready",
                "control-plane",
                "3d1h",
                "v1.33.1",
                "10.0.0.10",
                "<none>",
                "Debian GNU/Linux 12 (bookworm)",
                "6.1.0-21-amd64",
                "containerd://1.7.13"
            ]),
        ),
        (
            "cordoned worker that stopped reporting",
            json!({
                "metadata": meta("w-1", "2024-05-01T09:00:00Z", json!({"labels": {
                    "kubernetes.io/role": "worker", "node-role.kubernetes.io/": "", "node-role.kubernetes.io/infra": "",
                }})),
                "spec": {"unschedulable": true},
                "status": {
                    "conditions": [{"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown"}],
                    "addresses": [{"type": "ExternalIP", "address": "203.0.113.7"}, {"type": "InternalIP", "address": "10.0.0.11"}],
                    "nodeInfo": {"kubeletVersion": "v1.33.1"},
                },
            }),
            json!([
                "w-1",
                "NotReady,SchedulingDisabled",
                "infra,worker",
                "60m",
                "v1.33.1",
                "10.0.0.11",
                "203.0.113.7",
                "<unknown>",
                "<unknown>",
                "<unknown>"
            ]),
        ),
        (
            "just registered",
            json!({"metadata": meta("new", "2024-05-01T09:59:58Z", json!({}))}),
            json!([
                "new",
                "Unknown",
                "<none>",
                "2s",
                "",
                "<none>",
                "<none>",
                "<unknown>",
                "<unknown>",
                "<unknown>"
            ]),
        ),
    ];
    assert_rows("", "nodes", &cases);
}

#[test]
fn service_rows() {
    let svc = |name: &str, spec: Value, status: Value| json!({"metadata": meta(name, "2024-05-01T09:50:00Z", json!({})), "spec": spec, "status": status});
    let cases = [
        (
            "node port",
            svc(
                "web",
                json!({
                    "type": "NodePort",
                    "clusterIP": "10.96.12.34",
                    "clusterIPs": ["10.96.12.34"],
                    "selector": {"app": "web", "tier": "front"},
                    "ports": [
                        {"name": "http", "port": 80, "targetPort": 8080, "nodePort": 31000, "protocol": "TCP"},
                        {"name": "dns", "port": 53, "nodePort": 31053, "protocol": "UDP"},
                    ],
                }),
                json!({}),
            ),
            json!([
                "web",
                "NodePort",
                "10.96.12.34",
                "<none>",
                "80:31000/TCP,53:31053/UDP",
                "10m",
                "app=web,tier=front"
            ]),
        ),
        (
            "headless",
            svc(
                "db",
                json!({"type": "ClusterIP", "clusterIP": "None", "ports": [{"port": 5432, "protocol": "TCP"}]}),
                json!({}),
            ),
            json!([
                "db",
                "ClusterIP",
                "None",
                "<none>",
                "5432/TCP",
                "10m",
                "<none>"
            ]),
        ),
        (
            "load balancer waiting for an address",
            svc(
                "lb",
                json!({"type": "LoadBalancer", "clusterIPs": ["10.96.0.50"], "ports": [{"port": 443, "nodePort": 30443}]}),
                json!({}),
            ),
            json!([
                "lb",
                "LoadBalancer",
                "10.96.0.50",
                "<pending>",
                "443:30443/TCP",
                "10m",
                "<none>"
            ]),
        ),
        (
            "load balancer with ingress points and an external IP",
            svc(
                "lb2",
                json!({"type": "LoadBalancer", "clusterIP": "10.96.0.51", "externalIPs": ["198.51.100.9"], "ports": []}),
                json!({"loadBalancer": {"ingress": [{"ip": "203.0.113.20"}, {"hostname": "lb.example.com"}, {"ip": "203.0.113.20"}]}}),
            ),
            json!([
                "lb2",
                "LoadBalancer",
                "10.96.0.51",
                "203.0.113.20,lb.example.com,198.51.100.9",
                "<none>",
                "10m",
                "<none>"
            ]),
        ),
        (
            "external name",
            svc(
                "ext",
                json!({"type": "ExternalName", "externalName": "db.example.com"}),
                json!({}),
            ),
            json!([
                "ext",
                "ExternalName",
                "<none>",
                "db.example.com",
                "<none>",
                "10m",
                "<none>"
            ]),
        ),
    ];
    assert_rows("", "services", &cases);
}

#[test]
fn core_rows() {
    let secret = json!({
        "metadata": meta("db-creds", "2024-05-01T09:00:00Z", json!({"namespace": "default"})),
        "type": "Opaque",
        "data": {"username": "YWRtaW4=", "password": "czNjcjN0"},
    });
    assert_rows(
        "",
        "secrets",
        &[("opaque", secret, json!(["db-creds", "Opaque", 2, "60m"]))],
    );

    let config_map = json!({
        "metadata": meta("settings", "2024-05-01T09:59:15Z", json!({})),
        "data": {"LOG_LEVEL": "info"},
        "binaryData": {"logo.png": "iVBORw0KGgo="},
    });
    assert_rows(
        "",
        "configmaps",
        &[("text and binary", config_map, json!(["settings", 2, "45s"]))],
    );

    let namespace = json!({"metadata": meta("kube-system", "2024-04-28T09:00:00Z", json!({})), "status": {"phase": "Active"}});
    assert_rows(
        "",
        "namespaces",
        &[(
            "active",
            namespace,
            json!(["kube-system", "Active", "3d1h"]),
        )],
    );

    let account = json!({"metadata": meta("default", "2024-04-28T09:00:00Z", json!({}))});
    assert_rows(
        "",
        "serviceaccounts",
        &[("no secrets", account, json!(["default", 0, "3d1h"]))],
    );

    let endpoints = |subsets: Value| json!({"metadata": meta("web", "2024-05-01T09:50:00Z", json!({})), "subsets": subsets});
    assert_rows(
        "",
        "endpoints",
        &[
            (
                "none",
                endpoints(json!(null)),
                json!(["web", "<none>", "10m"]),
            ),
            (
                "two",
                endpoints(json!([{
                    "addresses": [{"ip": "10.244.1.5"}, {"ip": "fd00::7"}],
                    "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                }])),
                json!(["web", "10.244.1.5:8080,[fd00::7]:8080", "10m"]),
            ),
            (
                "many",
                endpoints(json!([
                    {"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}, {"ip": "10.0.0.3"}], "ports": [{"port": 80}, {"port": 443}]},
                    {"addresses": [{"ip": "10.0.0.9"}]},
                ])),
                json!([
                    "web",
                    "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 4 more...",
                    "10m"
                ]),
            ),
        ],
    );
}

#[test]
fn event_rows() {
    let legacy = json!({
        "metadata": meta("web-0.17c3a5b1", "2024-05-01T09:50:00Z", json!({"namespace": "default"})),
        "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web-0", "fieldPath": "spec.containers{web}"},
        "reason": "BackOff",
        "message": "Back-off restarting failed container web in pod web-0_default\n",
        "source": {"component": "kubelet", "host": "w-1"},
        "firstTimestamp": "2024-05-01T09:50:00Z",
        "lastTimestamp": "2024-05-01T09:58:00Z",
        "count": 3,
        "type": "Warning",
    });
    let series = json!({
        "metadata": meta("web.17c3a5b2", "2024-05-01T09:57:00Z", json!({"namespace": "default"})),
        "involvedObject": {"kind": "Deployment", "name": "web"},
        "reason": "ScalingReplicaSet",
        "message": "Scaled up replica set web-5d4f to 3",
        "firstTimestamp": null,
        "lastTimestamp": null,
        "eventTime": "2024-05-01T09:57:00.000000Z",
        "series": {"count": 4, "lastObservedTime": "2024-05-01T09:59:00.500000Z"},
        "reportingComponent": "deployment-controller",
        "reportingInstance": "",
        "type": "Normal",
    });
    let cluster_wide = json!({
        "metadata": meta("x", "2024-05-01T09:59:00Z", json!({})),
        "involvedObject": {"kind": "Namespace"},
        "eventTime": "2024-05-01T09:59:00.000000Z",
        "reportingComponent": "kube-apiserver",
        "reportingInstance": "cp-1",
        "type": "Normal",
        "reason": "Created",
    });
    assert_rows(
        "",
        "events",
        &[
            (
                "kubelet back-off",
                legacy,
                json!([
                    "2m",
                    "Warning",
                    "BackOff",
                    "pod/web-0",
                    "spec.containers{web}",
                    "kubelet, w-1",
                    "Back-off restarting failed container web in pod web-0_default",
                    "10m",
                    3,
                    "web-0.17c3a5b1"
                ]),
            ),
            (
                "series from events.k8s.io",
                series,
                json!([
                    "59s",
                    "Normal",
                    "ScalingReplicaSet",
                    "deployment/web",
                    "",
                    "deployment-controller",
                    "Scaled up replica set web-5d4f to 3",
                    "3m",
                    4,
                    "web.17c3a5b2"
                ]),
            ),
            (
                "singleton without a name",
                cluster_wide,
                json!([
                    "60s",
                    "Normal",
                    "Created",
                    "namespace",
                    "",
                    "kube-apiserver, cp-1",
                    "",
                    "60s",
                    1,
                    "x"
                ]),
            ),
        ],
    );
}
