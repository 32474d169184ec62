//! Pod checks: the pod spec (shared with every pod template), pod-only rules on create, and the
//! short list of pod fields an update may change.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::container::{self, Role};
use super::field::{
    child, duplicate, forbidden, index, invalid, list_of, present, required, str_of,
};
use super::{equivalent, meta, scheduling};
use crate::schema::names;
use crate::status::Cause;

/// The volume sources, in the order Kubernetes checks them.
const VOLUME_SOURCES: &[&str] = &[
    "emptyDir",
    "hostPath",
    "gitRepo",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "flocker",
    "persistentVolumeClaim",
    "rbd",
    "cinder",
    "cephfs",
    "quobyte",
    "downwardAPI",
    "fc",
    "flexVolume",
    "configMap",
    "azureFile",
    "vsphereVolume",
    "photonPersistentDisk",
    "portworxVolume",
    "azureDisk",
    "storageos",
    "projected",
    "scaleIO",
    "csi",
    "ephemeral",
    "image",
];

const FILE_MODE_MSG: &str = "must be a number between 0 and 0777 (octal), both inclusive";

fn volumes(errs: &mut Vec<Cause>, spec: &Value, path: &str) -> BTreeSet<String> {
    let mut names_seen = BTreeSet::new();
    for (i, volume) in list_of(spec, "volumes").iter().enumerate() {
        let p = index(path, i);
        let mut own = Vec::new();
        let mut count = 0;
        for source in VOLUME_SOURCES {
            let Some(src) = present(volume, source) else {
                continue;
            };
            if count > 0 {
                own.push(forbidden(
                    &child(&p, source),
                    "may not specify more than 1 volume type",
                ));
                continue;
            }
            count += 1;
            volume_source(&mut own, source, src, &child(&p, source));
        }
        if count == 0 {
            own.push(required(&p, "must specify a volume type"));
        }
        let name = str_of(volume, "name");
        let name_path = child(&p, "name");
        if name.is_empty() {
            own.push(required(&name_path, ""));
        } else {
            for msg in names::is_dns1123_label(name) {
                own.push(invalid(&name_path, &Value::String(name.into()), &msg));
            }
        }
        if names_seen.contains(name) {
            own.push(duplicate(&name_path, &Value::String(name.into())));
        }
        if own.is_empty() {
            names_seen.insert(name.to_string());
        }
        errs.extend(own);
    }
    names_seen
}

fn volume_source(errs: &mut Vec<Cause>, source: &str, src: &Value, path: &str) {
    let required_field = match source {
        "hostPath" => Some("path"),
        "secret" => Some("secretName"),
        "configMap" => Some("name"),
        "persistentVolumeClaim" => Some("claimName"),
        "nfs" => Some("server"),
        _ => None,
    };
    if let Some(field) = required_field
        && str_of(src, field).is_empty()
    {
        errs.push(required(&child(path, field), ""));
    }
    if let Some(mode) = src.get("defaultMode").and_then(Value::as_i64)
        && !(0..=0o777).contains(&mode)
    {
        errs.push(invalid(
            &child(path, "defaultMode"),
            &Value::from(mode),
            FILE_MODE_MSG,
        ));
    }
}

/// `ValidatePodSpec`, for a Pod (`is_pod`) or a pod template.
pub(crate) fn pod_spec(errs: &mut Vec<Cause>, spec: &Value, path: &str, is_pod: bool) {
    if present(spec, "terminationGracePeriodSeconds").is_none() {
        errs.push(required(&child(path, "terminationGracePeriodSeconds"), ""));
    }
    let vols = volumes(errs, spec, &child(path, "volumes"));
    let containers = list_of(spec, "containers");
    let containers_path = child(path, "containers");
    if containers.is_empty() {
        errs.push(required(&containers_path, ""));
    }
    let mut all_names = BTreeSet::new();
    for (i, c) in containers.iter().enumerate() {
        let p = index(&containers_path, i);
        container::container(errs, c, &p, Role::Regular, &vols);
        let name = str_of(c, "name");
        if !all_names.insert(name.to_string()) {
            errs.push(duplicate(&child(&p, "name"), &Value::String(name.into())));
        }
    }
    container::host_port_conflicts(errs, containers, &containers_path);
    let init_path = child(path, "initContainers");
    for (i, c) in list_of(spec, "initContainers").iter().enumerate() {
        let p = index(&init_path, i);
        container::container(errs, c, &p, Role::Init, &vols);
        let name = str_of(c, "name");
        if all_names.contains(name) {
            errs.push(duplicate(&child(&p, "name"), &Value::String(name.into())));
        } else if !name.is_empty() {
            all_names.insert(name.to_string());
        }
        container::host_port_conflicts(errs, std::slice::from_ref(c), &init_path);
    }
    host_network(errs, spec, path, is_pod);
    match str_of(spec, "restartPolicy") {
        "Always" | "OnFailure" | "Never" => {}
        "" => errs.push(required(&child(path, "restartPolicy"), "")),
        other => errs.push(super::field::not_supported(
            &child(path, "restartPolicy"),
            &Value::String(other.into()),
            &["Always", "OnFailure", "Never"],
        )),
    }
    match str_of(spec, "dnsPolicy") {
        "ClusterFirstWithHostNet" | "ClusterFirst" | "Default" | "None" => {}
        "" => errs.push(required(&child(path, "dnsPolicy"), "")),
        other => errs.push(super::field::not_supported(
            &child(path, "dnsPolicy"),
            &Value::String(other.into()),
            &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        )),
    }
    meta::labels(errs, &child(path, "nodeSelector"), spec.get("nodeSelector"));
    if let Some(sc) = present(spec, "securityContext") {
        super::resources::id_ranges(errs, sc, &child(path, "securityContext"));
    }
    if let Some(affinity) = present(spec, "affinity") {
        scheduling::affinity(errs, affinity, &child(path, "affinity"));
    }
    if str_of(spec, "dnsPolicy") == "None" {
        let nameservers = spec
            .pointer("/dnsConfig/nameservers")
            .and_then(Value::as_array);
        if present(spec, "dnsConfig").is_none() {
            errs.push(required(
                &child(path, "dnsConfig"),
                "must provide `dnsConfig` when `dnsPolicy` is None",
            ));
        } else if nameservers.is_none_or(|n| n.is_empty()) {
            errs.push(required(
                &child(&child(path, "dnsConfig"), "nameservers"),
                "must provide at least one DNS nameserver when `dnsPolicy` is None",
            ));
        }
    }
    for (field, rule) in [
        (
            "serviceAccountName",
            names::name_is_dns_subdomain as names::NameRule,
        ),
        ("nodeName", names::name_is_dns_subdomain),
        ("priorityClassName", names::name_is_dns_subdomain),
    ] {
        let value = str_of(spec, field);
        if !value.is_empty() {
            for msg in rule(value, false) {
                errs.push(invalid(
                    &child(path, field),
                    &Value::String(value.into()),
                    &msg,
                ));
            }
        }
    }
    if let Some(deadline) = spec.get("activeDeadlineSeconds").and_then(Value::as_i64)
        && !(1..=i64::from(i32::MAX)).contains(&deadline)
    {
        errs.push(invalid(
            &child(path, "activeDeadlineSeconds"),
            &Value::from(deadline),
            &names::inclusive_range_error(1, i64::from(i32::MAX)),
        ));
    }
    for field in ["hostname", "subdomain"] {
        let value = str_of(spec, field);
        if !value.is_empty() {
            for msg in names::is_dns1123_label(value) {
                errs.push(invalid(
                    &child(path, field),
                    &Value::String(value.into()),
                    &msg,
                ));
            }
        }
    }
    scheduling::tolerations(
        errs,
        list_of(spec, "tolerations"),
        &child(path, "tolerations"),
    );
    if present(spec, "preemptionPolicy").is_some() {
        match str_of(spec, "preemptionPolicy") {
            "PreemptLowerPriority" | "Never" => {}
            "" => errs.push(required(&child(path, "preemptionPolicy"), "")),
            other => errs.push(super::field::not_supported(
                &child(path, "preemptionPolicy"),
                &Value::String(other.into()),
                &["PreemptLowerPriority", "Never"],
            )),
        }
    }
}

fn host_network(errs: &mut Vec<Cause>, spec: &Value, path: &str, is_pod: bool) {
    if spec.get("hostNetwork").and_then(Value::as_bool) != Some(true) {
        return;
    }
    for (i, c) in list_of(spec, "containers").iter().enumerate() {
        for (j, port) in list_of(c, "ports").iter().enumerate() {
            let host = port.get("hostPort").and_then(Value::as_i64).unwrap_or(0);
            let cont = port
                .get("containerPort")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if (is_pod || host != 0) && host != cont {
                let p = index(&child(&index(&child(path, "containers"), i), "ports"), j);
                errs.push(invalid(
                    &child(&p, "hostPort"),
                    &Value::from(host),
                    "must match `containerPort` when `hostNetwork` is true",
                ));
            }
        }
    }
}

/// `ValidatePodTemplateSpec`: template labels and annotations, then its pod spec.
pub(crate) fn template(errs: &mut Vec<Cause>, template: &Value, path: &str) {
    let empty = Value::Null;
    let template_meta = template.get("metadata").unwrap_or(&empty);
    meta::labels(errs, &child(path, "labels"), template_meta.get("labels"));
    meta::annotations(
        errs,
        &child(path, "annotations"),
        template_meta.get("annotations"),
    );
    let spec = template.get("spec").unwrap_or(&empty);
    pod_spec(errs, spec, &child(path, "spec"), false);
    if !list_of(spec, "ephemeralContainers").is_empty() {
        errs.push(forbidden(
            &child(&child(path, "spec"), "ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
}

fn image_whitespace(errs: &mut Vec<Cause>, spec: &Value, list: &str) {
    for (i, c) in list_of(spec, list).iter().enumerate() {
        let image = str_of(c, "image");
        if image.trim() != image {
            errs.push(invalid(
                &child(&index(&child("spec", list), i), "image"),
                &Value::String(image.into()),
                "must not have leading or trailing whitespace",
            ));
        }
    }
}

/// The spec checks of a Pod, on create and on update.
fn pod_metadata_and_spec(errs: &mut Vec<Cause>, pod: &Value) {
    let empty = Value::Null;
    let spec = pod.get("spec").unwrap_or(&empty);
    pod_spec(errs, spec, "spec", true);
    image_whitespace(errs, spec, "containers");
    image_whitespace(errs, spec, "initContainers");
}

/// A Pod being created.
pub(crate) fn pod_create(errs: &mut Vec<Cause>, pod: &Value) {
    pod_metadata_and_spec(errs, pod);
    let empty = Value::Null;
    let spec = pod.get("spec").unwrap_or(&empty);
    if !list_of(spec, "ephemeralContainers").is_empty() {
        errs.push(forbidden(
            "spec.ephemeralContainers",
            "cannot be set on create",
        ));
    }
    if !str_of(spec, "nodeName").is_empty() && !list_of(spec, "schedulingGates").is_empty() {
        errs.push(forbidden(
            "spec.nodeName",
            "cannot be set until all schedulingGates have been cleared",
        ));
    }
}

const UPDATABLE_POD_FIELDS: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// A Pod being updated: only images, the deadline, added tolerations and a negative grace
/// period may change.
pub(crate) fn pod_update(errs: &mut Vec<Cause>, pod: &Value, old: &Value) {
    pod_metadata_and_spec(errs, pod);
    let empty = Value::Object(Map::new());
    let spec = pod.get("spec").unwrap_or(&empty);
    let old_spec = old.get("spec").unwrap_or(&empty);
    for list in ["containers", "initContainers"] {
        let (new, before) = (list_of(spec, list), list_of(old_spec, list));
        if new.len() != before.len() {
            errs.push(forbidden(
                &child("spec", list),
                "pod updates may not add or remove containers",
            ));
            return;
        }
        for (i, c) in new.iter().enumerate() {
            if str_of(c, "image").is_empty() {
                errs.push(required(
                    &child(&index(&child("spec", list), i), "image"),
                    "",
                ));
            }
        }
    }
    let deadline = spec.get("activeDeadlineSeconds").and_then(Value::as_i64);
    let old_deadline = old_spec
        .get("activeDeadlineSeconds")
        .and_then(Value::as_i64);
    match (deadline, old_deadline) {
        (Some(d), _) if !(0..=i64::from(i32::MAX)).contains(&d) => {
            errs.push(invalid(
                "spec.activeDeadlineSeconds",
                &Value::from(d),
                &names::inclusive_range_error(0, i64::from(i32::MAX)),
            ));
            return;
        }
        (Some(d), Some(old)) if old < d => {
            errs.push(invalid(
                "spec.activeDeadlineSeconds",
                &Value::from(d),
                "must be less than or equal to previous value",
            ));
            return;
        }
        (None, Some(_)) => errs.push(invalid(
            "spec.activeDeadlineSeconds",
            &Value::Null,
            "must not update from a positive integer to nil value",
        )),
        _ => {}
    }
    scheduling::only_added_tolerations(
        errs,
        list_of(spec, "tolerations"),
        list_of(old_spec, "tolerations"),
    );
    let mut munged = spec.clone();
    for list in ["containers", "initContainers"] {
        let before = list_of(old_spec, list);
        if let Some(items) = munged.get_mut(list).and_then(Value::as_array_mut) {
            for (c, old_c) in items.iter_mut().zip(before) {
                if let Some(image) = old_c.get("image") {
                    c["image"] = image.clone();
                }
            }
        }
    }
    for field in ["activeDeadlineSeconds", "schedulingGates", "tolerations"] {
        match old_spec.get(field) {
            Some(v) => munged[field] = v.clone(),
            None => {
                if let Some(m) = munged.as_object_mut() {
                    m.remove(field);
                }
            }
        }
    }
    let old_grace = old_spec
        .get("terminationGracePeriodSeconds")
        .and_then(Value::as_i64);
    let new_grace = munged
        .get("terminationGracePeriodSeconds")
        .and_then(Value::as_i64);
    if old_grace.is_some_and(|g| g < 0) && new_grace == Some(1) {
        munged["terminationGracePeriodSeconds"] = Value::from(old_grace.unwrap_or(0));
    }
    if !equivalent(&munged, old_spec) {
        errs.push(forbidden(
            "spec",
            &format!(
                "pod updates may not change fields other than {UPDATABLE_POD_FIELDS}\n{}",
                super::diff::spec_diff("core.PodSpec", old_spec, &munged)
            ),
        ));
    }
}
