//! Per-resource rules for writes, as kube-apiserver's registry strategies have them: what the
//! server fills in on create (uid, timestamps, generation, initial status), what an update may
//! change (spec versus status), and when a change bumps `metadata.generation`. Pure: time and
//! randomness are passed in.

use apimachinery::ResourceInfo;
use serde_json::{Map, Value, json};

/// What the server supplies that clients do not: the time and fresh identifiers.
#[derive(Debug, Clone)]
pub struct Stamp {
    /// RFC 3339 with seconds, as Kubernetes writes `metav1.Time`.
    pub now: String,
    pub uid: String,
}

impl Stamp {
    /// The present time, to the second, and a fresh random (version 4) UUID.
    pub fn now() -> Stamp {
        let now = jiff::Timestamp::now();
        let now = jiff::Timestamp::from_second(now.as_second()).unwrap_or(now);
        let bytes: [u8; 16] = rand::random();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        // The version nibble is 4 and the variant bits are 10, as RFC 9562 sets them.
        let uid = format!(
            "{}-{}-4{}-{:x}{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[13..16],
            8 | (bytes[8] & 0x3),
            &hex[17..20],
            &hex[20..32]
        );
        Stamp {
            now: now.to_string(),
            uid,
        }
    }
}

/// Resources whose spec changes bump `metadata.generation`, which their controllers report back
/// as `status.observedGeneration`.
fn tracks_generation(info: &ResourceInfo) -> bool {
    matches!(
        (info.group, info.plural),
        ("apps", _)
            | ("policy", "poddisruptionbudgets")
            | ("", "pods")
            | ("", "services")
            | ("", "namespaces")
    ) && !matches!(info.plural, "controllerrevisions")
}

/// Resources whose status is only written through the `status` subresource.
pub fn has_status_subresource(info: &ResourceInfo) -> bool {
    info.subresource("status").is_some()
}

fn meta_mut(object: &mut Value) -> &mut Map<String, Value> {
    if !object.get("metadata").is_some_and(Value::is_object) {
        object["metadata"] = json!({});
    }
    object["metadata"]
        .as_object_mut()
        .expect("metadata is an object")
}

/// Fills in what the server owns on create and clears what a client may not set.
pub fn prepare_create(info: &ResourceInfo, object: &mut Value, stamp: &Stamp) {
    let meta = meta_mut(object);
    for field in [
        "resourceVersion",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
    ] {
        meta.remove(field);
    }
    meta.insert("uid".into(), json!(stamp.uid));
    meta.insert("creationTimestamp".into(), json!(stamp.now));
    if !info.namespaced {
        meta.remove("namespace");
    }
    if tracks_generation(info) {
        meta.insert("generation".into(), json!(1));
    } else {
        meta.remove("generation");
    }
    initial_status(info, object);
}

/// The status an object starts with: controllers and kubelets fill it in later.
fn initial_status(info: &ResourceInfo, object: &mut Value) {
    let obj = object.as_object_mut().expect("objects are JSON objects");
    match (info.group, info.plural) {
        ("", "pods") => {
            let qos = qos_class(obj.get("spec").unwrap_or(&Value::Null));
            obj.insert(
                "status".into(),
                json!({"phase": "Pending", "qosClass": qos}),
            );
        }
        ("", "namespaces") => {
            obj.insert("status".into(), json!({"phase": "Active"}));
        }
        ("", "services") => {
            obj.insert("status".into(), json!({"loadBalancer": {}}));
        }
        ("apps", "deployments" | "replicasets" | "statefulsets" | "daemonsets") => {
            let status = if info.plural == "daemonsets" {
                json!({"currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0, "numberReady": 0})
            } else if info.plural == "statefulsets" {
                json!({"replicas": 0, "availableReplicas": 0})
            } else if info.plural == "replicasets" {
                json!({"replicas": 0})
            } else {
                json!({})
            };
            obj.insert("status".into(), status);
        }
        ("policy", "poddisruptionbudgets") => {
            obj.insert(
                "status".into(),
                json!({"currentHealthy": 0, "desiredHealthy": 0, "disruptionsAllowed": 0, "expectedPods": 0}),
            );
        }
        _ => {}
    }
}

/// A pod's QoS class from its containers' requests and limits: Guaranteed when every container
/// has equal cpu and memory requests and limits, BestEffort when none has any, else Burstable.
pub fn qos_class(spec: &Value) -> &'static str {
    let containers: Vec<&Value> = ["containers", "initContainers"]
        .iter()
        .filter_map(|k| spec.get(*k).and_then(Value::as_array))
        .flatten()
        .collect();
    let mut any = false;
    let mut guaranteed = !containers.is_empty();
    for container in containers {
        let resources = container.get("resources").cloned().unwrap_or(Value::Null);
        let requests = resources
            .get("requests")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let limits = resources
            .get("limits")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for resource in ["cpu", "memory"] {
            let request = requests.get(resource).or(limits.get(resource));
            let limit = limits.get(resource);
            any |= request.is_some() || limit.is_some();
            if limit.is_none() || request != limit {
                guaranteed = false;
            }
        }
    }
    if guaranteed {
        "Guaranteed"
    } else if any {
        "Burstable"
    } else {
        "BestEffort"
    }
}

/// The part of an object that counts as its spec for generation tracking: everything but
/// metadata and status.
fn spec_part(object: &Value) -> Map<String, Value> {
    let mut map = object.as_object().cloned().unwrap_or_default();
    for field in ["metadata", "status", "kind", "apiVersion"] {
        map.remove(field);
    }
    map
}

/// Carries over what an update of the main resource may not change, and bumps the generation
/// when the spec changed.
pub fn prepare_update(info: &ResourceInfo, new: &mut Value, old: &Value) {
    let old_meta = old.get("metadata").cloned().unwrap_or(json!({}));
    {
        let meta = meta_mut(new);
        for field in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "namespace",
        ] {
            match old_meta.get(field) {
                Some(value) => meta.insert(field.into(), value.clone()),
                None => meta.remove(field),
            };
        }
        meta.remove("selfLink");
    }
    if has_status_subresource(info) {
        match old.get("status") {
            Some(status) => new["status"] = status.clone(),
            None => {
                new.as_object_mut().expect("object").remove("status");
            }
        }
    }
    if tracks_generation(info) && spec_part(new) != spec_part(old) {
        let generation = old_meta
            .get("generation")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            + 1;
        meta_mut(new).insert("generation".into(), json!(generation));
    }
}

/// A status update: the old object with the new status (and nothing else changed).
pub fn prepare_status_update(new: &Value, old: &Value) -> Value {
    let mut object = old.clone();
    match new.get("status") {
        Some(status) => object["status"] = status.clone(),
        None => {
            object.as_object_mut().expect("object").remove("status");
        }
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;
    use apimachinery::resource::find;

    fn stamp() -> Stamp {
        Stamp {
            now: "2026-11-21T10:00:00Z".into(),
            uid: "u-1".into(),
        }
    }

    #[test]
    fn create_fills_server_fields() {
        let deploy = find("apps", "v1", "deployments").unwrap();
        let mut object = json!({"metadata": {"name": "web", "resourceVersion": "9", "uid": "mine"}, "spec": {}, "status": {"replicas": 5}});
        prepare_create(deploy, &mut object, &stamp());
        assert_eq!(object["metadata"]["uid"], "u-1");
        assert_eq!(object["metadata"]["generation"], 1);
        assert_eq!(object["metadata"].get("resourceVersion"), None);
        assert_eq!(object["status"], json!({}));

        let pods = find("", "v1", "pods").unwrap();
        let mut pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}});
        prepare_create(pods, &mut pod, &stamp());
        assert_eq!(
            pod["status"],
            json!({"phase": "Pending", "qosClass": "BestEffort"})
        );

        let nodes = find("", "v1", "nodes").unwrap();
        let mut node =
            json!({"metadata": {"name": "n", "namespace": "x"}, "status": {"phase": "Running"}});
        prepare_create(nodes, &mut node, &stamp());
        assert_eq!(node["metadata"].get("namespace"), None);
        assert_eq!(node["status"]["phase"], "Running");
    }

    #[test]
    fn qos_classes() {
        let cases = [
            (json!({"containers": [{}]}), "BestEffort"),
            (
                json!({"containers": [{"resources": {"requests": {"cpu": "1"}}}]}),
                "Burstable",
            ),
            (
                json!({"containers": [{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}),
                "Guaranteed",
            ),
            (
                json!({"containers": [{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m", "memory": "1Gi"}}}]}),
                "Burstable",
            ),
        ];
        for (spec, class) in cases {
            assert_eq!(qos_class(&spec), class, "{spec}");
        }
    }

    #[test]
    fn updates_keep_status_and_bump_generation_on_spec_change() {
        let deploy = find("apps", "v1", "deployments").unwrap();
        let old = json!({"metadata": {"name": "web", "uid": "u", "generation": 3, "creationTimestamp": "t"}, "spec": {"replicas": 1}, "status": {"replicas": 1}});
        let mut new = json!({"metadata": {"name": "web", "labels": {"a": "b"}}, "spec": {"replicas": 2}, "status": {"replicas": 9}});
        prepare_update(deploy, &mut new, &old);
        assert_eq!(new["metadata"]["generation"], 4);
        assert_eq!(new["metadata"]["uid"], "u");
        assert_eq!(new["status"]["replicas"], 1);

        let mut labels_only =
            json!({"metadata": {"name": "web", "labels": {"a": "c"}}, "spec": {"replicas": 1}});
        prepare_update(deploy, &mut labels_only, &old);
        assert_eq!(labels_only["metadata"]["generation"], 3);
    }

    #[test]
    fn status_updates_change_only_status() {
        let old = json!({"metadata": {"name": "web"}, "spec": {"replicas": 1}, "status": {}});
        let new = json!({"metadata": {"name": "web", "labels": {"x": "y"}}, "spec": {"replicas": 7}, "status": {"replicas": 1}});
        let merged = prepare_status_update(&new, &old);
        assert_eq!(merged["spec"]["replicas"], 1);
        assert_eq!(merged["status"]["replicas"], 1);
        assert_eq!(merged["metadata"].get("labels"), None);
    }
}
