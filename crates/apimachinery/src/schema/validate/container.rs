//! Container checks: names, images, ports, environment and mounts; resources and probes have
//! their own modules.

use std::collections::BTreeSet;

use serde_json::Value;

use super::field::{
    child, duplicate, forbidden, index, invalid, list_of, not_found, not_supported, present,
    required, str_of,
};
use super::{probes, resources};
use crate::schema::names;
use crate::status::Cause;

/// The kind of list a container sits in, which decides what it may set.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Regular,
    Init,
}

/// Checks one container; `volumes` are the pod's volume names.
pub(crate) fn container(
    errs: &mut Vec<Cause>,
    c: &Value,
    path: &str,
    role: Role,
    volumes: &BTreeSet<String>,
) {
    let name = str_of(c, "name");
    let name_path = child(path, "name");
    if name.is_empty() {
        errs.push(required(&name_path, ""));
    } else {
        for msg in names::is_dns1123_label(name) {
            errs.push(invalid(&name_path, &Value::String(name.into()), &msg));
        }
    }
    if str_of(c, "image").is_empty() {
        errs.push(required(&child(path, "image"), ""));
    }
    match str_of(c, "terminationMessagePolicy") {
        "File" | "FallbackToLogsOnError" => {}
        "" => errs.push(required(&child(path, "terminationMessagePolicy"), "")),
        other => errs.push(not_supported(
            &child(path, "terminationMessagePolicy"),
            &Value::String(other.into()),
            &["File", "FallbackToLogsOnError"],
        )),
    }
    ports(errs, c, &child(path, "ports"));
    env(errs, c, &child(path, "env"));
    env_from(errs, c, &child(path, "envFrom"));
    volume_mounts(errs, c, &child(path, "volumeMounts"), volumes);
    match str_of(c, "imagePullPolicy") {
        "Always" | "IfNotPresent" | "Never" => {}
        "" => errs.push(required(&child(path, "imagePullPolicy"), "")),
        other => errs.push(not_supported(
            &child(path, "imagePullPolicy"),
            &Value::String(other.into()),
            &["Always", "IfNotPresent", "Never"],
        )),
    }
    if let Some(resources) = present(c, "resources") {
        resources::resource_requirements(errs, resources, &child(path, "resources"));
    }
    if let Some(sc) = present(c, "securityContext") {
        resources::id_ranges(errs, sc, &child(path, "securityContext"));
    }
    let restartable = str_of(c, "restartPolicy") == "Always";
    match role {
        Role::Regular => {
            probes::hooks_and_probes(errs, c, path);
            if present(c, "restartPolicy").is_some() {
                errs.push(forbidden(
                    &child(path, "restartPolicy"),
                    "may not be set for non-init containers",
                ));
            }
        }
        Role::Init => {
            if let Some(policy) = present(c, "restartPolicy")
                && !restartable
            {
                errs.push(not_supported(
                    &child(path, "restartPolicy"),
                    policy,
                    &["Always"],
                ));
            }
            if restartable {
                probes::hooks_and_probes(errs, c, path);
            } else {
                for field in [
                    "lifecycle",
                    "livenessProbe",
                    "readinessProbe",
                    "startupProbe",
                ] {
                    if present(c, field).is_some() {
                        errs.push(forbidden(
                            &child(path, field),
                            "may not be set for init containers without restartPolicy=Always",
                        ));
                    }
                }
            }
        }
    }
}

fn ports(errs: &mut Vec<Cause>, c: &Value, path: &str) {
    let mut seen = BTreeSet::new();
    for (i, port) in list_of(c, "ports").iter().enumerate() {
        let p = index(path, i);
        let name = str_of(port, "name");
        if !name.is_empty() {
            let msgs = names::is_valid_port_name(name);
            if !msgs.is_empty() {
                for msg in msgs {
                    errs.push(invalid(
                        &child(&p, "name"),
                        &Value::String(name.into()),
                        &msg,
                    ));
                }
            } else if !seen.insert(name.to_string()) {
                errs.push(duplicate(&child(&p, "name"), &Value::String(name.into())));
            }
        }
        let container_port = port
            .get("containerPort")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if container_port == 0 {
            errs.push(required(&child(&p, "containerPort"), ""));
        } else {
            for msg in names::is_valid_port_num(container_port) {
                errs.push(invalid(
                    &child(&p, "containerPort"),
                    &Value::from(container_port),
                    &msg,
                ));
            }
        }
        let host_port = port.get("hostPort").and_then(Value::as_i64).unwrap_or(0);
        if host_port != 0 {
            for msg in names::is_valid_port_num(host_port) {
                errs.push(invalid(
                    &child(&p, "hostPort"),
                    &Value::from(host_port),
                    &msg,
                ));
            }
        }
        protocol(errs, port, &p);
    }
}

/// `protocol` of a container, service or endpoint port.
pub(crate) fn protocol(errs: &mut Vec<Cause>, port: &Value, path: &str) {
    match str_of(port, "protocol") {
        "TCP" | "UDP" | "SCTP" => {}
        "" => errs.push(required(&child(path, "protocol"), "")),
        other => errs.push(not_supported(
            &child(path, "protocol"),
            &Value::String(other.into()),
            &["SCTP", "TCP", "UDP"],
        )),
    }
}

/// Host ports must be unique per protocol and host IP across the given containers.
pub(crate) fn host_port_conflicts(errs: &mut Vec<Cause>, containers: &[Value], path: &str) {
    let mut seen = BTreeSet::new();
    for (ci, c) in containers.iter().enumerate() {
        for (pi, port) in list_of(c, "ports").iter().enumerate() {
            let host_port = port.get("hostPort").and_then(Value::as_i64).unwrap_or(0);
            if host_port == 0 {
                continue;
            }
            let id = format!(
                "{}/{}/{host_port}",
                str_of(port, "protocol"),
                str_of(port, "hostIP")
            );
            if !seen.insert(id.clone()) {
                let p = child(&index(&child(&index(path, ci), "ports"), pi), "hostPort");
                errs.push(duplicate(&p, &Value::String(id)));
            }
        }
    }
}

const ENV_FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

/// Field labels the downward API can convert at all.
const CONVERTIBLE_FIELD_PATHS: &[&str] = &[
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.serviceAccountName",
    "spec.schedulerName",
    "status.phase",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

fn env(errs: &mut Vec<Cause>, c: &Value, path: &str) {
    for (i, var) in list_of(c, "env").iter().enumerate() {
        let p = index(path, i);
        let name = str_of(var, "name");
        if name.is_empty() {
            errs.push(required(&child(&p, "name"), ""));
        } else {
            for msg in names::is_env_var_name(name) {
                errs.push(invalid(
                    &child(&p, "name"),
                    &Value::String(name.into()),
                    &msg,
                ));
            }
        }
        let Some(from) = present(var, "valueFrom") else {
            continue;
        };
        let from_path = child(&p, "valueFrom");
        let sources = [
            "fieldRef",
            "resourceFieldRef",
            "configMapKeyRef",
            "secretKeyRef",
        ];
        let count = sources
            .iter()
            .filter(|s| present(from, s).is_some())
            .count();
        if let Some(field_ref) = present(from, "fieldRef") {
            field_selector(errs, field_ref, &child(&from_path, "fieldRef"));
        }
        for selector in ["configMapKeyRef", "secretKeyRef"] {
            if let Some(sel) = present(from, selector) {
                key_selector(errs, sel, &child(&from_path, selector));
            }
        }
        let empty = Value::String(String::new());
        if count == 0 {
            errs.push(invalid(
                &from_path,
                &empty,
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            ));
        } else if !str_of(var, "value").is_empty() {
            errs.push(invalid(
                &from_path,
                &empty,
                "may not be specified when `value` is not empty",
            ));
        } else if count > 1 {
            errs.push(invalid(
                &from_path,
                &empty,
                "may not have more than one field specified at a time",
            ));
        }
    }
}

fn field_selector(errs: &mut Vec<Cause>, sel: &Value, path: &str) {
    let api_version = str_of(sel, "apiVersion");
    let field_path = str_of(sel, "fieldPath");
    if api_version.is_empty() {
        errs.push(required(&child(path, "apiVersion"), ""));
        return;
    }
    if field_path.is_empty() {
        errs.push(required(&child(path, "fieldPath"), ""));
        return;
    }
    let base = field_path.split('[').next().unwrap_or(field_path);
    let subscripted = base.len() != field_path.len();
    let convertible = api_version == "v1"
        && CONVERTIBLE_FIELD_PATHS.contains(&base)
        && (!subscripted || matches!(base, "metadata.labels" | "metadata.annotations"));
    if !convertible {
        let why = if api_version == "v1" {
            format!("field label not supported: {field_path}")
        } else {
            format!("unsupported pod version: {api_version}")
        };
        errs.push(invalid(
            &child(path, "fieldPath"),
            &Value::String(field_path.into()),
            &format!("error converting fieldPath: {why}"),
        ));
    } else if !subscripted && !ENV_FIELD_PATHS.contains(&field_path) {
        errs.push(not_supported(
            &child(path, "fieldPath"),
            &Value::String(field_path.into()),
            ENV_FIELD_PATHS,
        ));
    }
}

fn key_selector(errs: &mut Vec<Cause>, sel: &Value, path: &str) {
    let name = str_of(sel, "name");
    for msg in names::is_dns1123_subdomain(name) {
        errs.push(invalid(
            &child(path, "name"),
            &Value::String(name.into()),
            &msg,
        ));
    }
    let k = str_of(sel, "key");
    if k.is_empty() {
        errs.push(required(&child(path, "key"), ""));
    } else {
        for msg in names::is_config_map_key(k) {
            errs.push(invalid(&child(path, "key"), &Value::String(k.into()), &msg));
        }
    }
}

fn env_from(errs: &mut Vec<Cause>, c: &Value, path: &str) {
    for (i, source) in list_of(c, "envFrom").iter().enumerate() {
        let p = index(path, i);
        let prefix = str_of(source, "prefix");
        if !prefix.is_empty() {
            for msg in names::is_env_var_name(prefix) {
                errs.push(invalid(
                    &child(&p, "prefix"),
                    &Value::String(prefix.into()),
                    &msg,
                ));
            }
        }
        let mut count = 0;
        for reference in ["configMapRef", "secretRef"] {
            if let Some(r) = present(source, reference) {
                count += 1;
                let name = str_of(r, "name");
                let name_path = child(&child(&p, reference), "name");
                if name.is_empty() {
                    errs.push(required(&name_path, ""));
                } else {
                    for msg in names::name_is_dns_subdomain(name, true) {
                        errs.push(invalid(&name_path, &Value::String(name.into()), &msg));
                    }
                }
            }
        }
        let empty = Value::String(String::new());
        if count == 0 {
            errs.push(invalid(
                path,
                &empty,
                "must specify one of: `configMapRef` or `secretRef`",
            ));
        } else if count > 1 {
            errs.push(invalid(
                path,
                &empty,
                "may not have more than one field specified at a time",
            ));
        }
    }
}

fn volume_mounts(errs: &mut Vec<Cause>, c: &Value, path: &str, volumes: &BTreeSet<String>) {
    let mut mount_points = BTreeSet::new();
    for (i, mount) in list_of(c, "volumeMounts").iter().enumerate() {
        let p = index(path, i);
        let name = str_of(mount, "name");
        if name.is_empty() {
            errs.push(required(&child(&p, "name"), ""));
        }
        if !volumes.contains(name) {
            errs.push(not_found(&child(&p, "name"), &Value::String(name.into())));
        }
        let mount_path = str_of(mount, "mountPath");
        if mount_path.is_empty() {
            errs.push(required(&child(&p, "mountPath"), ""));
        }
        if !mount_points.insert(mount_path.to_string()) {
            errs.push(invalid(
                &child(&p, "mountPath"),
                &Value::String(mount_path.into()),
                "must be unique",
            ));
        }
    }
}
