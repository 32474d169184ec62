//! Kubernetes' defaulting for the served kinds, applied to JSON objects after decoding so that
//! stored objects read back as kube-apiserver 1.33 shows them (`kubectl get -o yaml`).
//!
//! Sources: `pkg/apis/*/v1/defaults.go` and the generated `zz_generated.defaults.go` files, plus
//! the few strategy steps every create runs (namespace finalizers). Fields the server allocates
//! (cluster IPs, node ports, IP families) and fields admission plugins set are not touched here.

mod admission;
mod pod;

use serde_json::{Map, Value, json};

use crate::resource::ResourceInfo;

pub use admission::admit_pod;
#[cfg(test)]
pub(crate) use pod::pull_policy;
pub(crate) use pod::{pod_defaults, pod_spec_defaults};

/// Fills in Kubernetes' defaults for an object of `info`'s resource, in place.
pub fn apply_defaults(info: &ResourceInfo, obj: &mut Value) {
    match (info.group, info.kind) {
        ("", "Pod") => pod_defaults(obj),
        ("", "Service") => service(obj),
        ("", "Secret") => set(obj, "type", json!("Opaque")),
        ("", "Namespace") => namespace(obj),
        ("", "Endpoints") => endpoints(obj),
        ("", "Node") => node(obj),
        ("apps", "Deployment") => deployment(obj),
        ("apps", "ReplicaSet") => replica_set(obj),
        ("apps", "DaemonSet") => daemon_set(obj),
        ("apps", "StatefulSet") => stateful_set(obj),
        ("discovery.k8s.io", "EndpointSlice") => endpoint_slice(obj),
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => binding(obj),
        ("storage.k8s.io", "StorageClass") => {
            set(obj, "reclaimPolicy", json!("Delete"));
            set(obj, "volumeBindingMode", json!("Immediate"));
        }
        _ => {}
    }
}

/// Sets `key` when it is absent or null.
pub(crate) fn set(obj: &mut Value, key: &str, value: Value) {
    if let Value::Object(map) = obj {
        let slot = map.entry(key).or_insert(Value::Null);
        if slot.is_null() {
            *slot = value;
        }
    }
}

/// The object at `key`, created empty when absent or null; `None` when `obj` is not an object
/// or `key` holds something else.
pub(crate) fn child<'a>(obj: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    let map = obj.as_object_mut()?;
    let slot = map.entry(key).or_insert(Value::Null);
    if slot.is_null() {
        *slot = Value::Object(Map::new());
    }
    slot.is_object().then_some(slot)
}

/// The object at `key` if it exists, without creating it.
pub(crate) fn existing<'a>(obj: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    obj.get_mut(key).filter(|v| v.is_object())
}

/// Each element of the list at `key`, if it is one.
pub(crate) fn each<'a>(obj: &'a mut Value, key: &str) -> impl Iterator<Item = &'a mut Value> {
    obj.get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
}

fn str_at<'a>(obj: &'a Value, key: &str) -> &'a str {
    obj.get(key).and_then(Value::as_str).unwrap_or("")
}

fn service(obj: &mut Value) {
    // Go writes a new Service's zero status as `status: {loadBalancer: {}}`.
    if let Some(status) = child(obj, "status") {
        set(status, "loadBalancer", json!({}));
    }
    let Some(spec) = child(obj, "spec") else {
        return;
    };
    set(spec, "sessionAffinity", json!("None"));
    match str_at(spec, "sessionAffinity") {
        "None" => {
            if let Some(map) = spec.as_object_mut() {
                map.remove("sessionAffinityConfig");
            }
        }
        "ClientIP" => {
            let has_timeout = spec
                .pointer("/sessionAffinityConfig/clientIP/timeoutSeconds")
                .is_some_and(|v| !v.is_null());
            if !has_timeout {
                spec["sessionAffinityConfig"] = json!({"clientIP": {"timeoutSeconds": 10800}});
            }
        }
        _ => {}
    }
    set(spec, "type", json!("ClusterIP"));
    for port in each(spec, "ports") {
        set(port, "protocol", json!("TCP"));
        let target_unset = match port.get("targetPort") {
            None | Some(Value::Null) => true,
            Some(Value::Number(n)) => n.as_i64() == Some(0),
            Some(Value::String(s)) => s.is_empty(),
            _ => false,
        };
        if target_unset && let Some(p) = port.get("port").cloned() {
            port["targetPort"] = p;
        }
    }
    let kind = str_at(spec, "type").to_string();
    let has_external_ips = spec
        .get("externalIPs")
        .and_then(Value::as_array)
        .is_some_and(|ips| !ips.is_empty());
    let externally_accessible =
        kind == "LoadBalancer" || kind == "NodePort" || (kind == "ClusterIP" && has_external_ips);
    if externally_accessible && str_at(spec, "externalTrafficPolicy").is_empty() {
        spec["externalTrafficPolicy"] = json!("Cluster");
    }
    if matches!(kind.as_str(), "ClusterIP" | "NodePort" | "LoadBalancer") {
        set(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if kind == "LoadBalancer" {
        set(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
}

fn namespace(obj: &mut Value) {
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if !name.is_empty()
        && let Some(labels) = child(obj, "metadata").and_then(|m| child(m, "labels"))
    {
        labels["kubernetes.io/metadata.name"] = Value::String(name);
    }
    if let Some(spec) = child(obj, "spec") {
        set(spec, "finalizers", json!(["kubernetes"]));
    }
    if let Some(status) = child(obj, "status") {
        set(status, "phase", json!("Active"));
    }
}

fn endpoints(obj: &mut Value) {
    for subset in each(obj, "subsets") {
        for port in each(subset, "ports") {
            set(port, "protocol", json!("TCP"));
        }
    }
}

fn node(obj: &mut Value) {
    let Some(status) = existing(obj, "status") else {
        return;
    };
    if status.get("allocatable").is_none_or(Value::is_null)
        && let Some(capacity) = status.get("capacity").filter(|c| c.is_object()).cloned()
    {
        status["allocatable"] = capacity;
    }
}

/// Defaults shared by every workload's pod template.
fn template(spec: &mut Value) {
    let Some(template) = child(spec, "template") else {
        return;
    };
    pod::template_metadata(template);
    if let Some(pod_spec) = child(template, "spec") {
        pod_spec_defaults(pod_spec);
    }
}

/// Go writes the zero status of a new workload as `status: {}`.
fn empty_status(obj: &mut Value) {
    set(obj, "status", json!({}));
}

fn deployment(obj: &mut Value) {
    empty_status(obj);
    let Some(spec) = child(obj, "spec") else {
        return;
    };
    set(spec, "replicas", json!(1));
    if let Some(strategy) = child(spec, "strategy") {
        set(strategy, "type", json!("RollingUpdate"));
        if str_at(strategy, "type") == "RollingUpdate"
            && let Some(rolling) = child(strategy, "rollingUpdate")
        {
            set(rolling, "maxUnavailable", json!("25%"));
            set(rolling, "maxSurge", json!("25%"));
        }
    }
    set(spec, "revisionHistoryLimit", json!(10));
    set(spec, "progressDeadlineSeconds", json!(600));
    template(spec);
}

fn replica_set(obj: &mut Value) {
    empty_status(obj);
    let Some(spec) = child(obj, "spec") else {
        return;
    };
    set(spec, "replicas", json!(1));
    template(spec);
}

fn daemon_set(obj: &mut Value) {
    empty_status(obj);
    let Some(spec) = child(obj, "spec") else {
        return;
    };
    if let Some(strategy) = child(spec, "updateStrategy") {
        set(strategy, "type", json!("RollingUpdate"));
        if str_at(strategy, "type") == "RollingUpdate"
            && let Some(rolling) = child(strategy, "rollingUpdate")
        {
            set(rolling, "maxUnavailable", json!(1));
            set(rolling, "maxSurge", json!(0));
        }
    }
    set(spec, "revisionHistoryLimit", json!(10));
    template(spec);
}

fn stateful_set(obj: &mut Value) {
    empty_status(obj);
    let Some(spec) = child(obj, "spec") else {
        return;
    };
    set(spec, "podManagementPolicy", json!("OrderedReady"));
    if let Some(strategy) = child(spec, "updateStrategy") {
        if str_at(strategy, "type").is_empty() {
            strategy["type"] = json!("RollingUpdate");
            set(strategy, "rollingUpdate", json!({}));
        }
        if str_at(strategy, "type") == "RollingUpdate"
            && let Some(rolling) = existing(strategy, "rollingUpdate")
        {
            set(rolling, "partition", json!(0));
        }
    }
    if let Some(policy) = child(spec, "persistentVolumeClaimRetentionPolicy") {
        set(policy, "whenDeleted", json!("Retain"));
        set(policy, "whenScaled", json!("Retain"));
    }
    set(spec, "replicas", json!(1));
    set(spec, "revisionHistoryLimit", json!(10));
    template(spec);
    for claim in each(spec, "volumeClaimTemplates") {
        if let Some(claim_spec) = child(claim, "spec") {
            set(claim_spec, "volumeMode", json!("Filesystem"));
        }
        if let Some(status) = child(claim, "status") {
            set(status, "phase", json!("Pending"));
        }
    }
}

fn endpoint_slice(obj: &mut Value) {
    for port in each(obj, "ports") {
        set(port, "name", json!(""));
        set(port, "protocol", json!("TCP"));
    }
}

fn binding(obj: &mut Value) {
    if let Some(role_ref) = existing(obj, "roleRef")
        && str_at(role_ref, "apiGroup").is_empty()
    {
        role_ref["apiGroup"] = json!("rbac.authorization.k8s.io");
    }
    for subject in each(obj, "subjects") {
        if str_at(subject, "apiGroup").is_empty() {
            match str_at(subject, "kind") {
                "User" | "Group" => subject["apiGroup"] = json!("rbac.authorization.k8s.io"),
                // ServiceAccount subjects default to the core group, which Go omits.
                _ => {}
            }
        }
    }
}
