//! Table-driven tests for decoding, defaulting, validation and names, built around the objects
//! of the minikube HA tutorial (a 3-replica hello Deployment and its NodePort Service).

mod decode;
mod defaults;
mod names;
mod validate;

use serde_json::{Value, json};

use crate::resource::{self, ResourceInfo};

/// The registry entry for a kind.
pub(super) fn info(group: &str, kind: &str) -> &'static ResourceInfo {
    resource::RESOURCES
        .iter()
        .find(|r| r.group == group && r.kind == kind)
        .unwrap_or_else(|| panic!("{group}/{kind} is not served"))
}

/// The tutorial's Deployment: three replicas spread by a required anti-affinity, all of them
/// replaceable at once.
pub(super) fn hello_deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "hello", "namespace": "default"},
        "spec": {
            "replicas": 3,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "100%"}},
            "selector": {"matchLabels": {"app": "hello"}},
            "template": {
                "metadata": {"labels": {"app": "hello"}},
                "spec": {
                    "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
                        "labelSelector": {"matchExpressions": [
                            {"key": "app", "operator": "In", "values": ["hello"]}
                        ]},
                        "topologyKey": "kubernetes.io/hostname"
                    }]}},
                    "containers": [{
                        "name": "hello-from",
                        "image": "pbitty/hello-from:latest",
                        "ports": [{"name": "http", "containerPort": 80}]
                    }],
                    "terminationGracePeriodSeconds": 1
                }
            }
        }
    })
}

/// The tutorial's NodePort Service on 31000.
pub(super) fn hello_service() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "hello", "namespace": "default"},
        "spec": {
            "type": "NodePort",
            "selector": {"app": "hello"},
            "ports": [{"protocol": "TCP", "nodePort": 31000, "port": 80, "targetPort": "http"}]
        }
    })
}

/// A minimal Pod.
pub(super) fn pod(containers: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"containers": containers}
    })
}

/// Decode then default, as the server prepares a new object.
pub(super) fn prepared(group: &str, kind: &str, body: &Value) -> Value {
    let info = info(group, kind);
    let (mut obj, warnings) =
        super::decode(info, body, super::FieldValidation::Strict).expect("decodes");
    assert!(warnings.is_empty(), "{warnings:?}");
    super::apply_defaults(info, &mut obj);
    obj
}
