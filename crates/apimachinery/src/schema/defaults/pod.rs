//! Pod and pod-template defaults: the pod spec, its containers, probes and volumes.

use serde_json::{Value, json};

use super::{child, each, existing, set};

/// Sets a string field that is absent, null or empty, as Go's `if x == ""` checks do.
fn set_if_empty(obj: &mut Value, key: &str, value: &str) {
    let empty = obj
        .get(key)
        .is_none_or(|v| v.is_null() || v.as_str() == Some(""));
    if empty && obj.is_object() {
        obj[key] = json!(value);
    }
}

/// Sets a number field that is absent, null or zero, as Go's `if x == 0` checks do.
fn set_if_zero(obj: &mut Value, key: &str, value: i64) {
    let zero = obj
        .get(key)
        .is_none_or(|v| v.is_null() || v.as_i64() == Some(0));
    if zero && obj.is_object() {
        obj[key] = json!(value);
    }
}

/// Defaults for a Pod object: everything a pod template gets, plus the Pod-only ones.
pub(crate) fn pod_defaults(pod: &mut Value) {
    let Some(spec) = child(pod, "spec") else {
        return;
    };
    for list in ["containers", "initContainers"] {
        for container in each(spec, list) {
            requests_from_limits(container);
        }
    }
    set(spec, "enableServiceLinks", json!(true));
    if spec.get("hostNetwork").and_then(Value::as_bool) == Some(true) {
        for list in ["containers", "initContainers"] {
            for container in each(spec, list) {
                for port in each(container, "ports") {
                    let host = port.get("hostPort").and_then(Value::as_i64).unwrap_or(0);
                    if host == 0
                        && let Some(cp) = port.get("containerPort").cloned()
                    {
                        port["hostPort"] = cp;
                    }
                }
            }
        }
    }
    pod_spec_defaults(spec);
}

/// A container with limits but no request for a resource requests its limit.
fn requests_from_limits(container: &mut Value) {
    let Some(limits) = container
        .pointer("/resources/limits")
        .and_then(Value::as_object)
        .cloned()
    else {
        return;
    };
    let Some(requests) = child(container, "resources").and_then(|r| child(r, "requests")) else {
        return;
    };
    for (name, quantity) in limits {
        set(requests, &name, quantity);
    }
}

/// Go writes a template's zero creation time as an explicit null (until Kubernetes 1.34).
pub(crate) fn template_metadata(template: &mut Value) {
    if let Some(meta) = child(template, "metadata")
        && meta.get("creationTimestamp").is_none()
    {
        meta["creationTimestamp"] = Value::Null;
    }
}

/// Defaults for a pod spec, in a Pod or in any pod template.
pub(crate) fn pod_spec_defaults(spec: &mut Value) {
    set_if_empty(spec, "dnsPolicy", "ClusterFirst");
    set_if_empty(spec, "restartPolicy", "Always");
    set(spec, "securityContext", json!({}));
    set(spec, "terminationGracePeriodSeconds", json!(30));
    set_if_empty(spec, "schedulerName", "default-scheduler");
    // The v1 API keeps the deprecated `serviceAccount` as a mirror of `serviceAccountName`.
    let account = spec
        .get("serviceAccountName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .or_else(|| spec.get("serviceAccount").and_then(Value::as_str))
        .unwrap_or("")
        .to_string();
    if !account.is_empty() {
        spec["serviceAccountName"] = json!(account);
        spec["serviceAccount"] = json!(account);
    }
    for volume in each(spec, "volumes") {
        volume_defaults(volume);
    }
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        for container in each(spec, list) {
            container_defaults(container);
        }
    }
}

fn container_defaults(container: &mut Value) {
    let image = container
        .get("image")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    set_if_empty(container, "imagePullPolicy", pull_policy(&image));
    set_if_empty(container, "terminationMessagePath", "/dev/termination-log");
    set_if_empty(container, "terminationMessagePolicy", "File");
    // Go encodes the container's non-pointer resources struct even when it is empty.
    set(container, "resources", json!({}));
    for port in each(container, "ports") {
        set_if_empty(port, "protocol", "TCP");
    }
    for env in each(container, "env") {
        if let Some(field_ref) = existing(env, "valueFrom").and_then(|v| existing(v, "fieldRef")) {
            set_if_empty(field_ref, "apiVersion", "v1");
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(probe) = existing(container, probe) {
            probe_defaults(probe);
        }
    }
    if let Some(lifecycle) = existing(container, "lifecycle") {
        for hook in ["postStart", "preStop"] {
            if let Some(get) = existing(lifecycle, hook).and_then(|h| existing(h, "httpGet")) {
                http_get_defaults(get);
            }
        }
    }
}

fn probe_defaults(probe: &mut Value) {
    set_if_zero(probe, "timeoutSeconds", 1);
    set_if_zero(probe, "periodSeconds", 10);
    set_if_zero(probe, "successThreshold", 1);
    set_if_zero(probe, "failureThreshold", 3);
    if let Some(get) = existing(probe, "httpGet") {
        http_get_defaults(get);
    }
    if let Some(grpc) = existing(probe, "grpc") {
        set(grpc, "service", json!(""));
    }
}

fn http_get_defaults(get: &mut Value) {
    set_if_empty(get, "path", "/");
    set_if_empty(get, "scheme", "HTTP");
}

/// `Always` for `:latest` or untagged images, `IfNotPresent` for other tags, digests and
/// references that do not parse.
pub(crate) fn pull_policy(image: &str) -> &'static str {
    if image.is_empty() || image.trim() != image {
        return "IfNotPresent";
    }
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    let tag = last.split_once(':').map(|(_, tag)| tag);
    let repository = match tag {
        Some(tag) => &name[..name.len() - tag.len() - 1],
        None => name,
    };
    // The first component is a registry host when it looks like one; the rest must be
    // lowercase or the reference does not parse.
    let mut parts = repository.split('/');
    let first = parts.next().unwrap_or("");
    let is_host = repository.contains('/')
        && (first.contains('.') || first.contains(':') || first == "localhost");
    let path_ok = std::iter::once(first)
        .filter(|_| !is_host)
        .chain(parts)
        .all(|p| !p.is_empty() && !p.bytes().any(|c| c.is_ascii_uppercase()));
    if !path_ok {
        return "IfNotPresent";
    }
    match (tag, digest) {
        (Some("latest"), _) | (None, None) => "Always",
        _ => "IfNotPresent",
    }
}

fn volume_defaults(volume: &mut Value) {
    let has_source = volume
        .as_object()
        .is_some_and(|m| m.iter().any(|(k, v)| k != "name" && !v.is_null()));
    if !has_source {
        set(volume, "emptyDir", json!({}));
    }
    if let Some(host_path) = existing(volume, "hostPath") {
        set(host_path, "type", json!(""));
    }
    for source in ["secret", "configMap"] {
        if let Some(src) = existing(volume, source) {
            set(src, "defaultMode", json!(420));
        }
    }
    if let Some(downward) = existing(volume, "downwardAPI") {
        set(downward, "defaultMode", json!(420));
        downward_items(downward);
    }
    if let Some(projected) = existing(volume, "projected") {
        set(projected, "defaultMode", json!(420));
        for source in each(projected, "sources") {
            if let Some(downward) = existing(source, "downwardAPI") {
                downward_items(downward);
            }
            if let Some(token) = existing(source, "serviceAccountToken") {
                set(token, "expirationSeconds", json!(3600));
            }
        }
    }
    if let Some(claim) = existing(volume, "ephemeral")
        .and_then(|e| existing(e, "volumeClaimTemplate"))
        .and_then(|t| existing(t, "spec"))
    {
        set(claim, "volumeMode", json!("Filesystem"));
    }
}

fn downward_items(downward: &mut Value) {
    for item in each(downward, "items") {
        if let Some(field_ref) = existing(item, "fieldRef") {
            set_if_empty(field_ref, "apiVersion", "v1");
        }
    }
}
