//! The fields objects set, their fieldsV1 JSON, and path printing.

use serde_json::{Value, json};

use crate::apply::{FieldPath, FieldSet, PathElement, owned_fields};

fn deployment_config() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{
                    "name": "nginx",
                    "image": "nginx:1.27",
                    "ports": [{"containerPort": 80}],
                    "env": [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                    "args": ["-v"]
                }]}
            }
        },
        "status": {"replicas": 2}
    })
}

#[test]
fn field_sets_of_typical_objects() {
    let cases: Vec<(&str, &str, bool, Value, Value)> = vec![
        (
            "a ConfigMap: each data key, no \".\" for maps an applier sets",
            "ConfigMap",
            false,
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "c", "namespace": "default", "uid": "u", "resourceVersion": "1",
                                "labels": {"app": "x"}},
                   "data": {"a": "1", "b": "2"}}),
            json!({"f:data": {"f:a": {}, "f:b": {}}, "f:metadata": {"f:labels": {"f:app": {}}}}),
        ),
        (
            "a Deployment: containers keyed by name, ports by containerPort and the defaulted protocol, \
             atomic selector, fieldRef and args, status ignored",
            "Deployment",
            true,
            deployment_config(),
            json!({
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {
                        "f:metadata": {"f:labels": {"f:app": {}}},
                        "f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {
                            ".": {},
                            "f:args": {},
                            "f:env": {"k:{\"name\":\"A\"}": {
                                ".": {},
                                "f:name": {},
                                "f:valueFrom": {"f:fieldRef": {}}
                            }},
                            "f:image": {},
                            "f:name": {},
                            "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {
                                ".": {},
                                "f:containerPort": {}
                            }}
                        }}}
                    }
                }
            }),
        ),
        (
            "status is owned where it is not a subresource",
            "Deployment",
            false,
            json!({"status": {"replicas": 2}}),
            json!({"f:status": {"f:replicas": {}}}),
        ),
        (
            "finalizers are a set of values",
            "ConfigMap",
            false,
            json!({"metadata": {"finalizers": ["example.com/a", "kubernetes"]}}),
            json!({"f:metadata": {"f:finalizers": {"v:\"example.com/a\"": {}, "v:\"kubernetes\"": {}}}}),
        ),
        (
            "empty objects and nulls are owned as leaves; an empty granular list owns nothing",
            "Pod",
            false,
            json!({"spec": {"securityContext": {}, "nodeName": null, "volumes": []}}),
            json!({"f:spec": {"f:nodeName": {}, "f:securityContext": {}}}),
        ),
        (
            "Service ports are keyed by port and protocol, the selector is atomic",
            "Service",
            false,
            json!({"spec": {"selector": {"app": "web"},
                            "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53}]}}),
            json!({"f:spec": {
                "f:ports": {
                    "k:{\"port\":53,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}},
                    "k:{\"port\":53,\"protocol\":\"UDP\"}": {".": {}, "f:port": {}, "f:protocol": {}}
                },
                "f:selector": {}
            }}),
        ),
        (
            "unknown kinds still key owner references by uid; other lists are atomic",
            "Widget",
            false,
            json!({"metadata": {"ownerReferences": [{"uid": "1", "name": "o", "kind": "K"}]},
                   "spec": {"items": [{"name": "a"}]}}),
            json!({
                "f:metadata": {"f:ownerReferences": {"k:{\"uid\":\"1\"}": {
                    ".": {}, "f:kind": {}, "f:name": {}, "f:uid": {}
                }}},
                "f:spec": {"f:items": {}}
            }),
        ),
    ];
    for (name, kind, status_subresource, object, want) in cases {
        let set = owned_fields(&object, kind, status_subresource).expect(name);
        assert_eq!(set.to_fields_v1(), want, "{name}");
    }
}

#[test]
fn fields_v1_round_trips() {
    let cases = [
        json!({"f:metadata": {"f:labels": {".": {}, "f:app": {}}}, "f:data": {".": {}, "f:a": {}}}),
        json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {
            ".": {}, "f:image": {},
            "f:ports": {".": {}, "k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}
        }}}}}}),
        json!({"f:metadata": {"f:finalizers": {".": {}, "v:\"a\"": {}, "v:\"b\"": {}}}}),
        json!({"f:items": {"i:0": {}, "i:1": {"f:x": {}}}}),
        json!({}),
    ];
    for fields in cases {
        let set = FieldSet::from_fields_v1(&fields).expect("valid fieldsV1");
        assert_eq!(set.to_fields_v1(), fields);
    }
}

#[test]
fn fields_v1_members() {
    let set =
        FieldSet::from_fields_v1(&json!({"f:data": {".": {}, "f:a": {}}, "f:spec": {"f:x": {}}}))
            .expect("valid");
    let shown: Vec<String> = set.iter().map(FieldPath::to_string).collect();
    assert_eq!(shown, [".data", ".data.a", ".spec.x"]);
}

#[test]
fn fields_v1_errors() {
    let cases = [
        (json!({"f:a": 1}), "expected an object under \"f:a\""),
        (
            json!({"k:{": {}}),
            "EOF while parsing an object at line 1 column 1",
        ),
        (json!({"x": {}}), "key must be 2 characters long:"),
        (json!({"fa": {}}), "missing colon: fa"),
        (json!([]), "fieldsV1 must be an object"),
    ];
    for (fields, want) in cases {
        assert_eq!(
            FieldSet::from_fields_v1(&fields).unwrap_err(),
            want,
            "{fields}"
        );
    }
    // Kinds of key a later version may add are skipped, as kube skips them.
    let set = FieldSet::from_fields_v1(&json!({"z:future": {}, "f:a": {}})).expect("skips");
    assert_eq!(set.len(), 1);
}

#[test]
fn paths_print_as_kube_prints_them() {
    let cases = [
        (FieldPath::fields(&["data", "color"]), ".data.color"),
        (
            FieldPath(vec![
                PathElement::field("spec"),
                PathElement::field("containers"),
                PathElement::key(vec![("name".into(), json!("app"))]),
                PathElement::field("image"),
            ]),
            ".spec.containers[name=\"app\"].image",
        ),
        (
            FieldPath(vec![
                PathElement::field("ports"),
                PathElement::key(vec![
                    ("protocol".into(), json!("TCP")),
                    ("containerPort".into(), json!(80)),
                ]),
            ]),
            ".ports[containerPort=80,protocol=\"TCP\"]",
        ),
        (
            FieldPath(vec![
                PathElement::field("finalizers"),
                PathElement::Value(json!("a")),
            ]),
            ".finalizers[=\"a\"]",
        ),
    ];
    for (path, want) in cases {
        assert_eq!(path.to_string(), want);
    }
}

#[test]
fn bad_lists_are_refused_as_kube_refuses_them() {
    let cases = [
        (
            "Pod",
            json!({"spec": {"containers": [{"image": "x"}]}}),
            ".spec.containers: element 0: associative list with keys has an element that omits all key fields [\"name\"] (and doesn't have default values for any key fields)",
        ),
        (
            "Pod",
            json!({"spec": {"containers": [{"name": "a"}, {"name": "a"}]}}),
            ".spec.containers: duplicate entries for key [name=\"a\"]",
        ),
        (
            "ConfigMap",
            json!({"metadata": {"finalizers": [{"a": 1}]}}),
            ".metadata.finalizers: element 0: associative list without keys has an element that's a map type",
        ),
    ];
    for (kind, object, want) in cases {
        let err = owned_fields(&object, kind, false).unwrap_err();
        assert_eq!(err.to_string(), want);
    }
}

#[test]
fn skeletons_parse() {
    let kinds = [
        "Pod",
        "PodTemplate",
        "Deployment",
        "ReplicaSet",
        "StatefulSet",
        "DaemonSet",
        "Job",
        "CronJob",
        "ReplicationController",
        "Namespace",
        "PersistentVolume",
        "PodDisruptionBudget",
        "Service",
        "Ingress",
        "Node",
        "PersistentVolumeClaim",
        "Role",
        "ClusterRole",
        "RoleBinding",
        "ClusterRoleBinding",
        "NetworkPolicy",
        "HorizontalPodAutoscaler",
        "Lease",
        "EndpointSlice",
        "Event",
        "ConfigMap",
    ];
    for kind in kinds {
        let skeleton: Value = serde_json::from_str(&crate::apply::schema::skeleton_json(kind))
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert!(skeleton.is_object(), "{kind}");
    }
}
