//! Validation of objects on create and update, with kube-apiserver's field errors: the same
//! paths, reasons and wording, returned as one 422 `Invalid` error.
//!
//! Callers run [`validate`] after decoding and defaulting. On update they also restore what
//! Kubernetes restores before validating (resourceVersion, allocated cluster IPs and node ports,
//! the namespace from the URL); this module only judges.

mod cluster;
mod config;
mod container;
mod diff;
mod endpoints;
mod field;
mod meta;
mod pod;
mod probes;
mod rbac;
mod resources;
mod scheduling;
mod service;
mod workloads;

use serde_json::Value;

use crate::resource::ResourceInfo;
use crate::schema::names::{self, NameRule};
use crate::status::{ApiError, Cause};

/// Semantic equality as Kubernetes compares API objects: a missing field, `null`, an empty
/// list, an empty map and an empty string are all the same zero value.
pub(crate) fn equivalent(a: &Value, b: &Value) -> bool {
    fn is_zero(v: &Value) -> bool {
        match v {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            Value::Array(a) => a.is_empty(),
            Value::Object(m) => m.is_empty(),
            Value::Bool(b) => !b,
            Value::Number(_) => false,
        }
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let null = Value::Null;
            x.iter()
                .all(|(k, v)| equivalent(v, y.get(k).unwrap_or(&null)))
                && y.iter().all(|(k, v)| x.contains_key(k) || is_zero(v))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equivalent(p, q))
        }
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ if is_zero(a) && is_zero(b) => true,
        _ => a == b,
    }
}

/// How names of a resource's objects are checked.
fn name_rule(info: &ResourceInfo) -> NameRule {
    match (info.group, info.kind) {
        ("", "Namespace") | ("apps", "StatefulSet") => names::name_is_dns_label,
        ("", "Service") => names::name_is_dns1035_label,
        ("rbac.authorization.k8s.io", _) => names::name_is_path_segment,
        _ => names::name_is_dns_subdomain,
    }
}

/// Checks an object about to be created (`old` is `None`) or to replace `old`.
///
/// Returns 422 Invalid listing every problem, as `kubectl` prints them:
/// `Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or
/// equal to 0`.
pub fn validate(info: &ResourceInfo, obj: &Value, old: Option<&Value>) -> Result<(), ApiError> {
    let mut errs: Vec<Cause> = Vec::new();
    match old {
        None => meta::create(&mut errs, obj, info.namespaced, name_rule(info)),
        Some(old) => meta::update(&mut errs, obj, old),
    }
    kind_specific(&mut errs, info, obj, old);
    if errs.is_empty() {
        return Ok(());
    }
    let mut unique: Vec<Cause> = Vec::with_capacity(errs.len());
    for e in errs {
        if !unique.contains(&e) {
            unique.push(e);
        }
    }
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    Err(ApiError::invalid(info.group, info.kind, name, unique))
}

fn kind_specific(errs: &mut Vec<Cause>, info: &ResourceInfo, obj: &Value, old: Option<&Value>) {
    match (info.group, info.kind) {
        ("", "Pod") => match old {
            None => pod::pod_create(errs, obj),
            Some(old) => pod::pod_update(errs, obj, old),
        },
        ("", "Service") => {
            if let Some(old) = old {
                service::service_update(errs, obj, old);
            }
            service::service(errs, obj);
        }
        ("", "Endpoints") => endpoints::endpoints(errs, obj),
        ("", "ConfigMap") => {
            if let Some(old) = old {
                config::config_map_update(errs, obj, old);
            }
            config::config_map(errs, obj);
        }
        ("", "Secret") => {
            if let Some(old) = old {
                config::secret_update(errs, obj, old);
            }
            config::secret(errs, obj);
        }
        ("", "Namespace") if old.is_none() => config::namespace(errs, obj),
        ("", "Node") => {
            config::node(errs, obj);
            if let Some(old) = old {
                config::node_update(errs, obj, old);
            }
        }
        ("apps", "Deployment") => {
            workloads::deployment(errs, obj);
            if let Some(old) = old {
                workloads::selector_immutable(errs, obj, old);
            }
        }
        ("apps", "ReplicaSet") => {
            workloads::replica_set(errs, obj);
            if let Some(old) = old {
                workloads::selector_immutable(errs, obj, old);
            }
        }
        ("apps", "DaemonSet") => {
            workloads::daemon_set(errs, obj);
            if let Some(old) = old {
                workloads::selector_immutable(errs, obj, old);
            }
        }
        ("apps", "StatefulSet") => {
            workloads::stateful_set(errs, obj);
            if let Some(old) = old {
                workloads::stateful_set_update(errs, obj, old);
            }
        }
        ("apps", "ControllerRevision") => workloads::controller_revision(errs, obj, old),
        ("coordination.k8s.io", "Lease") => cluster::lease(errs, obj),
        ("discovery.k8s.io", "EndpointSlice") => endpoints::endpoint_slice(errs, obj),
        ("policy", "PodDisruptionBudget") => cluster::pod_disruption_budget(errs, obj),
        ("storage.k8s.io", "StorageClass") => {
            cluster::storage_class(errs, obj);
            if let Some(old) = old {
                cluster::storage_class_update(errs, obj, old);
            }
        }
        ("rbac.authorization.k8s.io", "Role") => rbac::role(errs, obj, true),
        ("rbac.authorization.k8s.io", "ClusterRole") => rbac::role(errs, obj, false),
        ("rbac.authorization.k8s.io", kind @ ("RoleBinding" | "ClusterRoleBinding")) => {
            rbac::binding(errs, obj, kind == "RoleBinding");
            if let Some(old) = old {
                rbac::binding_update(errs, obj, old);
            }
        }
        _ => {}
    }
}
