//! Validation: each rule users meet, with the exact message kube-apiserver 1.33 answers.

use serde_json::{Value, json};

use super::{hello_deployment, hello_service, info, pod, prepared};
use crate::schema::validate;

/// The full `Status` message for an invalid create, or `None` when the object is valid.
fn create_error(group: &str, kind: &str, body: &Value) -> Option<String> {
    let obj = prepared(group, kind, body);
    validate(info(group, kind), &obj, None).err().map(|e| {
        assert_eq!(e.code, 422);
        assert_eq!(e.reason, "Invalid");
        e.message
    })
}

fn update_error(group: &str, kind: &str, old: &Value, new: &Value) -> Option<String> {
    let (old, new) = (prepared(group, kind, old), prepared(group, kind, new));
    validate(info(group, kind), &new, Some(&old))
        .err()
        .map(|e| e.message)
}

fn edited(mut body: Value, pointer: &str, value: Value) -> Value {
    let (parent, last) = pointer.rsplit_once('/').unwrap();
    let slot = body.pointer_mut(parent).unwrap();
    match last.parse::<usize>() {
        Ok(i) => slot[i] = value,
        Err(_) => slot[last] = value,
    }
    body
}

fn removed(mut body: Value, pointer: &str) -> Value {
    let (parent, last) = pointer.rsplit_once('/').unwrap();
    body.pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .unwrap()
        .remove(last);
    body
}

const SUBDOMAIN: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

#[test]
fn tutorial_objects_are_valid() {
    assert_eq!(
        create_error("apps", "Deployment", &hello_deployment()),
        None
    );
    assert_eq!(create_error("", "Service", &hello_service()), None);
}

#[test]
fn object_meta_rules() {
    let d = hello_deployment();
    let cases = [
        (
            removed(d.clone(), "/metadata/name"),
            "Deployment.apps \"\" is invalid: metadata.name: Required value: name or generateName is required",
        ),
        (
            edited(d.clone(), "/metadata/name", json!("Hello_World")),
            &format!(
                "Deployment.apps \"Hello_World\" is invalid: metadata.name: Invalid value: \"Hello_World\": {SUBDOMAIN}"
            ) as &str,
        ),
        (
            removed(d.clone(), "/metadata/namespace"),
            "Deployment.apps \"hello\" is invalid: metadata.namespace: Required value",
        ),
        (
            edited(d.clone(), "/metadata/labels", json!({"app": "a b"})),
            "Deployment.apps \"hello\" is invalid: metadata.labels: Invalid value: \"a b\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
        ),
        (
            edited(
                d.clone(),
                "/metadata/annotations",
                json!({"big": "x".repeat(256 * 1024)}),
            ),
            "Deployment.apps \"hello\" is invalid: metadata.annotations: Too long: may not be more than 262144 bytes",
        ),
        (
            edited(d.clone(), "/metadata/finalizers", json!(["cleanup"])),
            "Deployment.apps \"hello\" is invalid: metadata.finalizers[0]: Invalid value: \"cleanup\": name is neither a standard finalizer name nor is it fully qualified",
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(
            create_error("apps", "Deployment", &body).as_deref(),
            Some(expected)
        );
    }
    let generated = edited(
        removed(d, "/metadata/name"),
        "/metadata/generateName",
        json!("hello-"),
    );
    let obj = prepared("apps", "Deployment", &generated);
    let errs = validate(info("apps", "Deployment"), &obj, None).unwrap_err();
    assert_eq!(errs.causes.len(), 1, "{}", errs.message);
    assert_eq!(errs.causes[0].field, "metadata.name");
}

#[test]
fn name_rules_per_resource() {
    let cases = [
        (
            "",
            "Namespace",
            json!({"metadata": {"name": "team.a"}}),
            "Namespace \"team.a\" is invalid: metadata.name: Invalid value: \"team.a\": must not contain dots",
        ),
        (
            "",
            "Service",
            edited(hello_service(), "/metadata/name", json!("1hello")),
            "Service \"1hello\" is invalid: metadata.name: Invalid value: \"1hello\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
        ),
        (
            "rbac.authorization.k8s.io",
            "ClusterRole",
            json!({"metadata": {"name": "a/b"}}),
            "ClusterRole.rbac.authorization.k8s.io \"a/b\" is invalid: metadata.name: Invalid value: \"a/b\": may not contain '/'",
        ),
        (
            "rbac.authorization.k8s.io",
            "ClusterRole",
            json!({"metadata": {"name": "system:view", "namespace": "default"}}),
            "ClusterRole.rbac.authorization.k8s.io \"system:view\" is invalid: metadata.namespace: Forbidden: not allowed on this type",
        ),
    ];
    for (group, kind, body, expected) in cases {
        let mut body = body;
        body["apiVersion"] = json!(info(group, kind).api_version());
        body["kind"] = json!(kind);
        assert_eq!(
            create_error(group, kind, &body).as_deref(),
            Some(expected),
            "{kind}"
        );
    }
}

#[test]
fn deployment_rules() {
    let d = hello_deployment();
    let prefix = "Deployment.apps \"hello\" is invalid: ";
    let cases = [
        (
            edited(
                d.clone(),
                "/spec/template/metadata/labels",
                json!({"app": "goodbye"}),
            ),
            "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"goodbye\"}: `selector` does not match template `labels`",
        ),
        (
            removed(d.clone(), "/spec/selector"),
            "[spec.selector: Required value, spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"hello\"}: `selector` does not match template `labels`]",
        ),
        (
            edited(d.clone(), "/spec/replicas", json!(-1)),
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
        ),
        (
            edited(
                d.clone(),
                "/spec/template/spec/restartPolicy",
                json!("Never"),
            ),
            "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"",
        ),
        (
            edited(
                d.clone(),
                "/spec/strategy/rollingUpdate",
                json!({"maxUnavailable": 0, "maxSurge": 0}),
            ),
            "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}: may not be 0 when `maxSurge` is 0",
        ),
        (
            edited(
                d.clone(),
                "/spec/strategy/rollingUpdate/maxUnavailable",
                json!("110%"),
            ),
            "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"110%\"}: must not be greater than 100%",
        ),
        (
            edited(d.clone(), "/spec/selector", json!({})),
            "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment",
        ),
        (
            edited(d.clone(), "/spec/progressDeadlineSeconds", json!(5)),
            "",
        ),
    ];
    for (body, expected) in cases {
        let mut body = body;
        if expected.is_empty() {
            // progressDeadlineSeconds must exceed minReadySeconds.
            body["spec"]["minReadySeconds"] = json!(10);
            assert_eq!(
                create_error("apps", "Deployment", &body).as_deref(),
                Some(&*format!(
                    "{prefix}spec.progressDeadlineSeconds: Invalid value: 5: must be greater than minReadySeconds"
                ))
            );
            continue;
        }
        assert_eq!(
            create_error("apps", "Deployment", &body).as_deref(),
            Some(&*format!("{prefix}{expected}"))
        );
    }
}

#[test]
fn deployment_selector_is_immutable() {
    let old = hello_deployment();
    let scaled = edited(old.clone(), "/spec/replicas", json!(5));
    assert_eq!(update_error("apps", "Deployment", &old, &scaled), None);
    let mut moved = edited(
        old.clone(),
        "/spec/selector/matchLabels",
        json!({"app": "hi"}),
    );
    moved["spec"]["template"]["metadata"]["labels"] = json!({"app": "hi"});
    assert_eq!(
        update_error("apps", "Deployment", &old, &moved).as_deref(),
        Some(
            "Deployment.apps \"hello\" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"hi\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"
        )
    );
    let renamed = edited(old.clone(), "/metadata/name", json!("other"));
    assert_eq!(
        update_error("apps", "Deployment", &old, &renamed).as_deref(),
        Some(
            "Deployment.apps \"other\" is invalid: metadata.name: Invalid value: \"other\": field is immutable"
        )
    );
}

#[test]
fn pod_rules() {
    let prefix = "Pod \"p\" is invalid: ";
    let cases = [
        (json!([]), "spec.containers: Required value"),
        (
            json!([{"name": "c"}]),
            "spec.containers[0].image: Required value",
        ),
        (
            json!([{"name": "c", "image": "x"}, {"name": "c", "image": "y"}]),
            "spec.containers[1].name: Duplicate value: \"c\"",
        ),
        (
            json!([{"name": "C", "image": "x"}]),
            "spec.containers[0].name: Invalid value: \"C\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        ),
        (
            json!([{"name": "c", "image": "x", "ports": [{"containerPort": 70000}]}]),
            "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
        ),
        (
            json!([{"name": "c", "image": "x", "ports": [{"containerPort": 80, "protocol": "HTTP"}]}]),
            "spec.containers[0].ports[0].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
        ),
        (
            json!([{"name": "c", "image": "x", "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]),
            "spec.containers[0].volumeMounts[0].name: Not found: \"data\"",
        ),
        (
            json!([{"name": "c", "image": "x", "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}]),
            "spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1",
        ),
        (
            json!([{"name": "c", "image": "x", "livenessProbe": {"tcpSocket": {"port": 8080}, "successThreshold": 2}}]),
            "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
        ),
        (
            json!([{"name": "c", "image": "x", "readinessProbe": {"periodSeconds": 5}}]),
            "spec.containers[0].readinessProbe: Required value: must specify a handler type",
        ),
        (
            json!([{"name": "c", "image": " x"}]),
            "spec.containers[0].image: Invalid value: \" x\": must not have leading or trailing whitespace",
        ),
    ];
    for (containers, expected) in cases {
        assert_eq!(
            create_error("", "Pod", &pod(containers)).as_deref(),
            Some(&*format!("{prefix}{expected}"))
        );
    }
    let mut bad_policy = pod(json!([{"name": "c", "image": "x"}]));
    bad_policy["spec"]["restartPolicy"] = json!("Sometimes");
    assert_eq!(
        create_error("", "Pod", &bad_policy).as_deref(),
        Some(
            "Pod \"p\" is invalid: spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\""
        )
    );
}

#[test]
fn pod_updates_are_limited() {
    let old = pod(json!([{"name": "c", "image": "nginx:1.25"}]));
    let new_image = pod(json!([{"name": "c", "image": "nginx:1.26"}]));
    assert_eq!(update_error("", "Pod", &old, &new_image), None);
    let mut tolerated = old.clone();
    tolerated["spec"]["tolerations"] = json!([{"key": "k", "operator": "Exists"}]);
    assert_eq!(update_error("", "Pod", &old, &tolerated), None);

    let new_env =
        pod(json!([{"name": "c", "image": "nginx:1.25", "env": [{"name": "A", "value": "1"}]}]));
    let message = update_error("", "Pod", &old, &new_env).unwrap();
    assert!(
        message.starts_with("Pod \"p\" is invalid: spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n  core.PodSpec{\n"),
        "{message}"
    );
    let two = pod(json!([{"name": "c", "image": "x"}, {"name": "d", "image": "y"}]));
    assert_eq!(
        update_error("", "Pod", &old, &two).as_deref(),
        Some(
            "Pod \"p\" is invalid: spec.containers: Forbidden: pod updates may not add or remove containers"
        )
    );
}

#[test]
fn service_rules() {
    let s = hello_service();
    let prefix = "Service \"hello\" is invalid: ";
    let cases = [
        (
            edited(s.clone(), "/spec/ports/0/nodePort", json!(40000)),
            "spec.ports[0].nodePort: Invalid value: 40000: provided port is not in the valid range. The range of valid ports is 30000-32767",
        ),
        (
            edited(s.clone(), "/spec/ports/0/port", json!(0)),
            "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
        ),
        (
            edited(s.clone(), "/spec/ports", json!([])),
            "spec.ports: Required value",
        ),
        (
            edited(s.clone(), "/spec/type", json!("Internal")),
            "spec.type: Unsupported value: \"Internal\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"",
        ),
        (
            edited(
                s.clone(),
                "/spec/ports",
                json!([{"name": "a", "port": 80}, {"name": "b", "port": 80}]),
            ),
            "spec.ports[1]: Duplicate value: core.ServicePort{Name:\"\", Protocol:\"TCP\", AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}",
        ),
        (
            edited(
                s.clone(),
                "/spec/ports",
                json!([{"port": 80}, {"name": "b", "port": 81}]),
            ),
            "spec.ports[0].name: Required value",
        ),
        (
            edited(s.clone(), "/spec/type", json!("ClusterIP")),
            "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
        ),
        (
            edited(
                s.clone(),
                "/spec/loadBalancerClass",
                json!("example.com/lb"),
            ),
            "spec.loadBalancerClass: Forbidden: may only be used when `type` is 'LoadBalancer'",
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(
            create_error("", "Service", &body).as_deref(),
            Some(&*format!("{prefix}{expected}"))
        );
    }
}

#[test]
fn service_cluster_ip_is_immutable() {
    let mut old = hello_service();
    old["spec"]["clusterIP"] = json!("10.96.0.10");
    old["spec"]["clusterIPs"] = json!(["10.96.0.10"]);
    let mut new = old.clone();
    new["spec"]["clusterIP"] = json!("10.96.0.11");
    new["spec"]["clusterIPs"] = json!(["10.96.0.11"]);
    assert_eq!(
        update_error("", "Service", &old, &new).as_deref(),
        Some(
            "Service \"hello\" is invalid: spec.clusterIPs[0]: Invalid value: []string{\"10.96.0.11\"}: may not change once set"
        )
    );
}

#[test]
fn config_and_secret_rules() {
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}, "data": {"a b": "1"}});
    assert_eq!(
        create_error("", "ConfigMap", &cm).as_deref(),
        Some(
            "ConfigMap \"c\" is invalid: data[a b]: Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
        )
    );
    let big = crate::schema::decode::encode_base64(&vec![0u8; 1024 * 1024 + 1]);
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"}, "data": {"blob": big}});
    assert_eq!(
        create_error("", "Secret", &secret).as_deref(),
        Some("Secret \"s\" is invalid: data: Too long: may not be more than 1048576 bytes")
    );
    let tls = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"}, "type": "kubernetes.io/tls", "data": {}});
    assert_eq!(
        create_error("", "Secret", &tls).as_deref(),
        Some(
            "Secret \"s\" is invalid: [data[tls.crt]: Required value, data[tls.key]: Required value]"
        )
    );
    let frozen = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}, "immutable": true, "data": {"a": "1"}});
    let changed = edited(frozen.clone(), "/data/a", json!("2"));
    assert_eq!(
        update_error("", "ConfigMap", &frozen, &changed).as_deref(),
        Some(
            "ConfigMap \"c\" is invalid: data: Forbidden: field is immutable when `immutable` is set"
        )
    );
}

#[test]
fn rbac_rules() {
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "read", "namespace": "default"},
        "roleRef": {"kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "User", "name": "jane"}]
    });
    assert_eq!(
        create_error("rbac.authorization.k8s.io", "RoleBinding", &binding),
        None
    );
    let nameless = edited(binding.clone(), "/roleRef/name", json!(""));
    assert_eq!(
        create_error("rbac.authorization.k8s.io", "RoleBinding", &nameless).as_deref(),
        Some(
            "RoleBinding.rbac.authorization.k8s.io \"read\" is invalid: roleRef.name: Required value"
        )
    );
    let retargeted = edited(binding.clone(), "/roleRef/name", json!("edit"));
    assert_eq!(
        update_error(
            "rbac.authorization.k8s.io",
            "RoleBinding",
            &binding,
            &retargeted
        )
        .as_deref(),
        Some(
            "RoleBinding.rbac.authorization.k8s.io \"read\" is invalid: roleRef: Invalid value: rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", Kind:\"ClusterRole\", Name:\"edit\"}: cannot change roleRef"
        )
    );
    let role = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "r", "namespace": "default"},
        "rules": [{"apiGroups": [""], "resources": ["pods"]}]
    });
    assert_eq!(
        create_error("rbac.authorization.k8s.io", "Role", &role).as_deref(),
        Some(
            "Role.rbac.authorization.k8s.io \"r\" is invalid: rules[0].verbs: Required value: verbs must contain at least one value"
        )
    );
}

#[test]
fn lease_and_budget_rules() {
    let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "n1", "namespace": "kube-node-lease"}, "spec": {"leaseDurationSeconds": 0}});
    assert_eq!(
        create_error("coordination.k8s.io", "Lease", &lease).as_deref(),
        Some(
            "Lease.coordination.k8s.io \"n1\" is invalid: spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"
        )
    );
    let pdb = json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "b", "namespace": "default"}, "spec": {"minAvailable": "150%", "selector": {"matchLabels": {"app": "hello"}}}});
    assert_eq!(
        create_error("policy", "PodDisruptionBudget", &pdb).as_deref(),
        Some(
            "PodDisruptionBudget.policy \"b\" is invalid: spec.minAvailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"150%\"}: must not be greater than 100%"
        )
    );
}
