//! ConfigMap, Secret, Namespace and Node checks.

use serde_json::Value;

use super::field::{
    IMMUTABLE, child, duplicate_shown, forbidden, index, invalid, key, list_of, not_supported,
    present, required, str_of, too_long,
};
use crate::schema::decode::decode_base64;
use crate::schema::names;
use crate::status::Cause;

/// The size limit of a ConfigMap's or Secret's data: 1 MiB.
pub(crate) const MAX_DATA_SIZE: usize = 1024 * 1024;

fn data_keys(errs: &mut Vec<Cause>, obj: &Value, field: &str) {
    if let Some(map) = obj.get(field).and_then(Value::as_object) {
        for k in map.keys() {
            for msg in names::is_config_map_key(k) {
                errs.push(invalid(&key(field, k), &Value::String(k.clone()), &msg));
            }
        }
    }
}

fn decoded_len(value: &Value) -> usize {
    value
        .as_str()
        .and_then(|s| decode_base64(s).ok())
        .map_or(0, |b| b.len())
}

/// `ValidateConfigMap`.
pub(crate) fn config_map(errs: &mut Vec<Cause>, obj: &Value) {
    let binary = obj.get("binaryData").and_then(Value::as_object);
    let mut size = 0;
    if let Some(data) = obj.get("data").and_then(Value::as_object) {
        for (k, v) in data {
            for msg in names::is_config_map_key(k) {
                errs.push(invalid(&key("data", k), &Value::String(k.clone()), &msg));
            }
            if binary.is_some_and(|b| b.contains_key(k)) {
                errs.push(invalid(
                    &key("data", k),
                    &Value::String(k.clone()),
                    "duplicate of key present in binaryData",
                ));
            }
            size += v.as_str().map_or(0, str::len);
        }
    }
    data_keys(errs, obj, "binaryData");
    size += binary.map_or(0, |b| b.values().map(decoded_len).sum());
    if size > MAX_DATA_SIZE {
        errs.push(too_long("", MAX_DATA_SIZE));
    }
}

fn immutable_data(errs: &mut Vec<Cause>, obj: &Value, old: &Value, fields: &[&str]) {
    if old.get("immutable").and_then(Value::as_bool) != Some(true) {
        return;
    }
    let msg = "field is immutable when `immutable` is set";
    if obj.get("immutable").and_then(Value::as_bool) != Some(true) {
        errs.push(forbidden("immutable", msg));
    }
    for field in fields {
        if present(obj, field) != present(old, field) {
            errs.push(forbidden(field, msg));
        }
    }
}

/// A ConfigMap update: nothing may change once `immutable` is set.
pub(crate) fn config_map_update(errs: &mut Vec<Cause>, obj: &Value, old: &Value) {
    immutable_data(errs, obj, old, &["data", "binaryData"]);
}

/// `ValidateSecret`.
pub(crate) fn secret(errs: &mut Vec<Cause>, obj: &Value) {
    data_keys(errs, obj, "data");
    let data = obj.get("data").and_then(Value::as_object);
    let size: usize = data.map_or(0, |d| d.values().map(decoded_len).sum());
    if size > MAX_DATA_SIZE {
        errs.push(too_long("data", MAX_DATA_SIZE));
    }
    let has = |k: &str| data.is_some_and(|d| d.contains_key(k));
    let require = |errs: &mut Vec<Cause>, k: &str| errs.push(required(&key("data", k), ""));
    match str_of(obj, "type") {
        "kubernetes.io/service-account-token" => {
            let name = obj
                .pointer("/metadata/annotations/kubernetes.io~1service-account.name")
                .and_then(Value::as_str)
                .unwrap_or("");
            if name.is_empty() {
                errs.push(required(
                    "metadata.annotations[kubernetes.io/service-account.name]",
                    "",
                ));
            }
        }
        kind @ ("kubernetes.io/dockercfg" | "kubernetes.io/dockerconfigjson") => {
            let k = if kind == "kubernetes.io/dockercfg" {
                ".dockercfg"
            } else {
                ".dockerconfigjson"
            };
            match data.and_then(|d| d.get(k)) {
                None => require(errs, k),
                Some(v) => {
                    let bytes = v
                        .as_str()
                        .and_then(|s| decode_base64(s).ok())
                        .unwrap_or_default();
                    if let Err(e) = serde_json::from_slice::<serde_json::Map<String, Value>>(&bytes)
                    {
                        errs.push(invalid(
                            &key("data", k),
                            &Value::String("<secret contents redacted>".into()),
                            &e.to_string(),
                        ));
                    }
                }
            }
        }
        "kubernetes.io/basic-auth" if !has("username") && !has("password") => {
            require(errs, "username");
            require(errs, "password");
        }
        "kubernetes.io/ssh-auth"
            if data
                .and_then(|d| d.get("ssh-privatekey"))
                .is_none_or(|v| decoded_len(v) == 0) =>
        {
            require(errs, "ssh-privatekey");
        }
        "kubernetes.io/tls" => {
            for k in ["tls.crt", "tls.key"] {
                if !has(k) {
                    require(errs, k);
                }
            }
        }
        _ => {}
    }
}

/// A Secret update: its type never changes, and nothing changes once `immutable` is set.
pub(crate) fn secret_update(errs: &mut Vec<Cause>, obj: &Value, old: &Value) {
    if str_of(obj, "type") != str_of(old, "type") {
        errs.push(invalid(
            "type",
            &Value::String(str_of(obj, "type").into()),
            IMMUTABLE,
        ));
    }
    immutable_data(errs, obj, old, &["data"]);
}

/// `ValidateNamespace`: spec finalizers are qualified names or Kubernetes' own.
pub(crate) fn namespace(errs: &mut Vec<Cause>, obj: &Value) {
    let path = "spec.finalizers";
    for f in obj
        .pointer("/spec/finalizers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = f.as_str().unwrap_or("");
        for msg in names::is_qualified_name(name) {
            errs.push(invalid(path, f, &msg));
        }
        if !name.contains('/') && !matches!(name, "kubernetes" | "orphan" | "foregroundDeletion") {
            errs.push(invalid(
                path,
                f,
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
}

fn taints(errs: &mut Vec<Cause>, spec: &Value) {
    let mut seen = std::collections::BTreeSet::new();
    for (i, taint) in list_of(spec, "taints").iter().enumerate() {
        // Kubernetes reports taint problems under metadata, not spec.
        let p = index("metadata.taints", i);
        let k = str_of(taint, "key");
        for msg in names::is_qualified_name(k) {
            errs.push(invalid(&child(&p, "key"), &Value::String(k.into()), &msg));
        }
        let v = str_of(taint, "value");
        let msgs = names::is_label_value(v);
        if !msgs.is_empty() {
            errs.push(invalid(
                &child(&p, "value"),
                &Value::String(v.into()),
                &msgs.join(";"),
            ));
        }
        let effect = str_of(taint, "effect");
        match effect {
            "" => errs.push(required(&child(&p, "effect"), "")),
            "NoSchedule" | "PreferNoSchedule" | "NoExecute" => {}
            other => errs.push(not_supported(
                &child(&p, "effect"),
                &Value::String(other.into()),
                &["NoSchedule", "PreferNoSchedule", "NoExecute"],
            )),
        }
        if !seen.insert((effect.to_string(), k.to_string())) {
            errs.push(duplicate_shown(
                &p,
                &format!("{taint}: taints must be unique by key and effect pair"),
            ));
        }
    }
}

/// `ValidateNode`: taints.
pub(crate) fn node(errs: &mut Vec<Cause>, obj: &Value) {
    let empty = Value::Null;
    taints(errs, obj.get("spec").unwrap_or(&empty));
}

/// A Node update: pod CIDRs and the provider ID are set once.
pub(crate) fn node_update(errs: &mut Vec<Cause>, obj: &Value, old: &Value) {
    let empty = Value::Null;
    let (spec, old_spec) = (
        obj.get("spec").unwrap_or(&empty),
        old.get("spec").unwrap_or(&empty),
    );
    let old_cidrs = list_of(old_spec, "podCIDRs");
    if !old_cidrs.is_empty() && list_of(spec, "podCIDRs") != old_cidrs {
        errs.push(forbidden(
            "spec.podCIDRs",
            "node updates may not change podCIDR except from \"\" to valid",
        ));
    }
    let old_provider = str_of(old_spec, "providerID");
    if !old_provider.is_empty() && old_provider != str_of(spec, "providerID") {
        errs.push(forbidden(
            "spec.providerID",
            "node updates may not change providerID except from \"\" to valid",
        ));
    }
}
