//! Defaulting: each default Kubernetes fills in, checked on the objects users create.

use serde_json::{Value, json};

use super::{hello_deployment, hello_service, info, pod, prepared};
use crate::schema::apply_defaults;
use crate::schema::defaults::pull_policy;

fn at<'a>(obj: &'a Value, pointer: &str) -> &'a Value {
    obj.pointer(pointer)
        .unwrap_or_else(|| panic!("{pointer} missing in {obj:#}"))
}

fn defaulted(group: &str, kind: &str, mut obj: Value) -> Value {
    apply_defaults(info(group, kind), &mut obj);
    obj
}

#[test]
fn hello_deployment_reads_back_as_kubernetes_shows_it() {
    let obj = prepared("apps", "Deployment", &hello_deployment());
    let expected = [
        ("/spec/replicas", json!(3)),
        ("/spec/revisionHistoryLimit", json!(10)),
        ("/spec/progressDeadlineSeconds", json!(600)),
        ("/spec/strategy/type", json!("RollingUpdate")),
        ("/spec/strategy/rollingUpdate/maxUnavailable", json!("100%")),
        ("/spec/strategy/rollingUpdate/maxSurge", json!("25%")),
        ("/spec/template/metadata/creationTimestamp", Value::Null),
        ("/spec/template/spec/restartPolicy", json!("Always")),
        ("/spec/template/spec/dnsPolicy", json!("ClusterFirst")),
        (
            "/spec/template/spec/schedulerName",
            json!("default-scheduler"),
        ),
        ("/spec/template/spec/securityContext", json!({})),
        (
            "/spec/template/spec/terminationGracePeriodSeconds",
            json!(1),
        ),
        (
            "/spec/template/spec/containers/0/imagePullPolicy",
            json!("Always"),
        ),
        (
            "/spec/template/spec/containers/0/terminationMessagePath",
            json!("/dev/termination-log"),
        ),
        (
            "/spec/template/spec/containers/0/terminationMessagePolicy",
            json!("File"),
        ),
        ("/spec/template/spec/containers/0/resources", json!({})),
        (
            "/spec/template/spec/containers/0/ports/0/protocol",
            json!("TCP"),
        ),
        ("/status", json!({})),
    ];
    for (pointer, value) in expected {
        assert_eq!(at(&obj, pointer), &value, "{pointer}");
    }
    // Only Pods get service links; templates do not.
    assert!(
        obj.pointer("/spec/template/spec/enableServiceLinks")
            .is_none()
    );
}

#[test]
fn deployment_strategy_defaults() {
    let cases = [
        (
            json!({}),
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}),
        ),
        (json!({"type": "Recreate"}), json!({"type": "Recreate"})),
        (
            json!({"rollingUpdate": {"maxSurge": 1}}),
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 1}}),
        ),
    ];
    for (strategy, expected) in cases {
        let obj = defaulted(
            "apps",
            "Deployment",
            json!({"spec": {"strategy": strategy}}),
        );
        assert_eq!(obj["spec"]["strategy"], expected);
        assert_eq!(obj["spec"]["replicas"], 1);
    }
}

#[test]
fn pod_defaults() {
    let obj = defaulted(
        "",
        "Pod",
        pod(json!([{
            "name": "c",
            "image": "nginx:1.25",
            "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}},
            "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
            "livenessProbe": {"httpGet": {"port": 80}},
            "readinessProbe": {"grpc": {"port": 9000}, "periodSeconds": 0},
            "startupProbe": {"exec": {"command": ["true"]}, "failureThreshold": 30},
            "lifecycle": {"preStop": {"httpGet": {"port": 80, "path": "/quit"}}}
        }])),
    );
    let c = at(&obj, "/spec/containers/0");
    let expected = [
        ("/imagePullPolicy", json!("IfNotPresent")),
        (
            "/resources/requests",
            json!({"cpu": "500m", "memory": "1Gi"}),
        ),
        ("/env/0/valueFrom/fieldRef/apiVersion", json!("v1")),
        (
            "/livenessProbe",
            json!({"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}),
        ),
        ("/readinessProbe/periodSeconds", json!(10)),
        ("/readinessProbe/grpc/service", json!("")),
        ("/startupProbe/failureThreshold", json!(30)),
        (
            "/lifecycle/preStop/httpGet",
            json!({"port": 80, "path": "/quit", "scheme": "HTTP"}),
        ),
    ];
    for (pointer, value) in expected {
        assert_eq!(at(c, pointer), &value, "{pointer}");
    }
    assert_eq!(obj["spec"]["enableServiceLinks"], true);
    assert_eq!(obj["spec"]["terminationGracePeriodSeconds"], 30);
}

#[test]
fn pod_volume_defaults() {
    let mut p = pod(json!([{"name": "c", "image": "x"}]));
    p["spec"]["volumes"] = json!([
        {"name": "scratch"},
        {"name": "cfg", "configMap": {"name": "cfg"}},
        {"name": "sec", "secret": {"secretName": "s", "defaultMode": 256}},
        {"name": "host", "hostPath": {"path": "/var"}},
        {"name": "info", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
        {"name": "token", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}
    ]);
    let obj = defaulted("", "Pod", p);
    let v = at(&obj, "/spec/volumes");
    assert_eq!(v[0], json!({"name": "scratch", "emptyDir": {}}));
    assert_eq!(v[1]["configMap"]["defaultMode"], 420);
    assert_eq!(v[2]["secret"]["defaultMode"], 256);
    assert_eq!(v[3]["hostPath"]["type"], "");
    assert_eq!(v[4]["downwardAPI"]["defaultMode"], 420);
    assert_eq!(
        v[4]["downwardAPI"]["items"][0]["fieldRef"]["apiVersion"],
        "v1"
    );
    assert_eq!(v[5]["projected"]["defaultMode"], 420);
    assert_eq!(
        v[5]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"],
        3600
    );
}

#[test]
fn host_network_pods_publish_container_ports() {
    let mut p = pod(json!([{"name": "c", "image": "x", "ports": [{"containerPort": 8080}]}]));
    p["spec"]["hostNetwork"] = json!(true);
    let obj = defaulted("", "Pod", p);
    assert_eq!(obj["spec"]["containers"][0]["ports"][0]["hostPort"], 8080);
}

#[test]
fn image_pull_policy_follows_the_tag() {
    let cases = [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("pbitty/hello-from:latest", "Always"),
        ("localhost:5000/app", "Always"),
        ("registry.k8s.io/pause:3.10", "IfNotPresent"),
        ("nginx@sha256:0123abcd", "IfNotPresent"),
        ("nginx:latest@sha256:0123abcd", "Always"),
        ("Nginx", "IfNotPresent"),
        ("", "IfNotPresent"),
    ];
    for (image, expected) in cases {
        assert_eq!(pull_policy(image), expected, "{image}");
    }
}

#[test]
fn hello_service_defaults() {
    let obj = prepared("", "Service", &hello_service());
    let spec = &obj["spec"];
    assert_eq!(spec["sessionAffinity"], "None");
    assert_eq!(spec["externalTrafficPolicy"], "Cluster");
    assert_eq!(spec["internalTrafficPolicy"], "Cluster");
    assert_eq!(spec["ports"][0]["targetPort"], "http");
    assert_eq!(obj["status"], json!({"loadBalancer": {}}));
    assert!(spec.get("allocateLoadBalancerNodePorts").is_none());
}

#[test]
fn service_defaults_by_type() {
    let cases = [
        (
            json!({"ports": [{"port": 80}]}),
            json!({"type": "ClusterIP", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster", "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}]}),
        ),
        (
            json!({"type": "LoadBalancer", "ports": [{"port": 443, "targetPort": 0, "protocol": "UDP"}]}),
            json!({"type": "LoadBalancer", "sessionAffinity": "None", "externalTrafficPolicy": "Cluster", "internalTrafficPolicy": "Cluster", "allocateLoadBalancerNodePorts": true, "ports": [{"port": 443, "protocol": "UDP", "targetPort": 443}]}),
        ),
        (
            json!({"type": "ExternalName", "externalName": "example.com", "sessionAffinity": "ClientIP"}),
            json!({"type": "ExternalName", "externalName": "example.com", "sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}}}),
        ),
        (
            json!({"sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 5}}}),
            json!({"type": "ClusterIP", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster"}),
        ),
    ];
    for (spec, expected) in cases {
        let obj = defaulted("", "Service", json!({"spec": spec}));
        assert_eq!(obj["spec"], expected);
    }
}

#[test]
fn small_kinds() {
    let cases = [
        ("", "Secret", json!({}), "/type", json!("Opaque")),
        (
            "",
            "Secret",
            json!({"type": "kubernetes.io/tls"}),
            "/type",
            json!("kubernetes.io/tls"),
        ),
        (
            "",
            "Namespace",
            json!({"metadata": {"name": "dev"}}),
            "/spec/finalizers",
            json!(["kubernetes"]),
        ),
        (
            "",
            "Namespace",
            json!({"metadata": {"name": "dev"}}),
            "/status/phase",
            json!("Active"),
        ),
        (
            "",
            "Namespace",
            json!({"metadata": {"name": "dev"}}),
            "/metadata/labels",
            json!({"kubernetes.io/metadata.name": "dev"}),
        ),
        (
            "",
            "Node",
            json!({"status": {"capacity": {"cpu": "2"}}}),
            "/status/allocatable",
            json!({"cpu": "2"}),
        ),
        (
            "",
            "Endpoints",
            json!({"subsets": [{"ports": [{"port": 80}]}]}),
            "/subsets/0/ports/0/protocol",
            json!("TCP"),
        ),
        (
            "apps",
            "ReplicaSet",
            json!({"spec": {}}),
            "/spec/replicas",
            json!(1),
        ),
        (
            "apps",
            "DaemonSet",
            json!({"spec": {}}),
            "/spec/updateStrategy",
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}),
        ),
        (
            "apps",
            "DaemonSet",
            json!({"spec": {}}),
            "/spec/revisionHistoryLimit",
            json!(10),
        ),
        (
            "apps",
            "StatefulSet",
            json!({"spec": {}}),
            "/spec",
            json!({
                "podManagementPolicy": "OrderedReady",
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
                "replicas": 1,
                "revisionHistoryLimit": 10,
                "template": {"metadata": {"creationTimestamp": null}, "spec": {"dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "securityContext": {}, "terminationGracePeriodSeconds": 30, "schedulerName": "default-scheduler"}}
            }),
        ),
        (
            "apps",
            "StatefulSet",
            json!({"spec": {"updateStrategy": {"type": "OnDelete"}, "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {}}]}}),
            "/spec/volumeClaimTemplates/0",
            json!({"metadata": {"name": "data"}, "spec": {"volumeMode": "Filesystem"}, "status": {"phase": "Pending"}}),
        ),
        (
            "discovery.k8s.io",
            "EndpointSlice",
            json!({"ports": [{"port": 80}]}),
            "/ports/0",
            json!({"port": 80, "name": "", "protocol": "TCP"}),
        ),
        (
            "rbac.authorization.k8s.io",
            "RoleBinding",
            json!({"roleRef": {"kind": "Role", "name": "r"}, "subjects": [{"kind": "User", "name": "jane"}, {"kind": "ServiceAccount", "name": "default"}]}),
            "",
            json!({"roleRef": {"kind": "Role", "name": "r", "apiGroup": "rbac.authorization.k8s.io"}, "subjects": [{"kind": "User", "name": "jane", "apiGroup": "rbac.authorization.k8s.io"}, {"kind": "ServiceAccount", "name": "default"}]}),
        ),
        (
            "storage.k8s.io",
            "StorageClass",
            json!({"provisioner": "k8s.io/minikube-hostpath"}),
            "",
            json!({"provisioner": "k8s.io/minikube-hostpath", "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"}),
        ),
    ];
    for (group, kind, obj, pointer, expected) in cases {
        let obj = defaulted(group, kind, obj);
        assert_eq!(at(&obj, pointer), &expected, "{kind} {pointer}");
    }
}

#[test]
fn defaulting_twice_changes_nothing() {
    for (group, kind, body) in [
        ("apps", "Deployment", hello_deployment()),
        ("", "Service", hello_service()),
        ("", "Pod", pod(json!([{"name": "c", "image": "nginx"}]))),
    ] {
        let once = prepared(group, kind, &body);
        let twice = defaulted(group, kind, once.clone());
        assert_eq!(once, twice);
    }
}

#[test]
fn service_account_name_is_mirrored() {
    let mut p = pod(json!([{"name": "c", "image": "x"}]));
    p["spec"]["serviceAccountName"] = json!("builder");
    let obj = defaulted("", "Pod", p);
    assert_eq!(obj["spec"]["serviceAccount"], "builder");
    let mut legacy = pod(json!([{"name": "c", "image": "x"}]));
    legacy["spec"]["serviceAccount"] = json!("old");
    let obj = defaulted("", "Pod", legacy);
    assert_eq!(obj["spec"]["serviceAccountName"], "old");
}

#[test]
fn admission_defaults_for_new_pods() {
    let mut obj = pod(json!([{"name": "c", "image": "x"}]));
    obj["spec"]["tolerations"] = json!([{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60}]);
    crate::schema::admit_pod(&mut obj);
    let spec = &obj["spec"];
    assert_eq!(spec["serviceAccountName"], "default");
    assert_eq!(spec["serviceAccount"], "default");
    assert_eq!(spec["priority"], 0);
    assert_eq!(spec["preemptionPolicy"], "PreemptLowerPriority");
    assert_eq!(
        spec["tolerations"],
        json!([
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60},
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
        ])
    );
    let mut critical = pod(json!([{"name": "c", "image": "x"}]));
    critical["spec"]["priorityClassName"] = json!("system-node-critical");
    crate::schema::admit_pod(&mut critical);
    assert!(critical["spec"].get("priority").is_none());
}
