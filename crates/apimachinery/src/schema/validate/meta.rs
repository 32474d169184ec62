//! Object metadata checks shared by every kind (name, namespace, labels, annotations, owner
//! references, finalizers, managed fields) and label selector checks.

use serde_json::Value;

use super::field::{
    IMMUTABLE, child, forbidden, go_string_slice, go_time, index, invalid, invalid_shown, list_of,
    present, required, str_of, too_long,
};
use crate::schema::names::{self, NameRule};
use crate::status::Cause;

/// The annotation size limit: 256 KiB of keys and values together.
const ANNOTATIONS_LIMIT: usize = 256 * 1024;

/// Label keys and values, each problem on the map's own path as Kubernetes reports it.
pub(crate) fn labels(errs: &mut Vec<Cause>, path: &str, value: Option<&Value>) {
    let Some(map) = value.and_then(Value::as_object) else {
        return;
    };
    for (k, v) in map {
        for msg in names::is_qualified_name(k) {
            errs.push(invalid(path, &Value::String(k.clone()), &msg));
        }
        let v = v.as_str().unwrap_or("");
        for msg in names::is_label_value(v) {
            errs.push(invalid(path, &Value::String(v.to_string()), &msg));
        }
    }
}

/// Annotation keys (case-insensitive qualified names) and the total size.
pub(crate) fn annotations(errs: &mut Vec<Cause>, path: &str, value: Option<&Value>) {
    let Some(map) = value.and_then(Value::as_object) else {
        return;
    };
    let mut size = 0;
    for (k, v) in map {
        for msg in names::is_qualified_name(&k.to_lowercase()) {
            errs.push(invalid(path, &Value::String(k.clone()), &msg));
        }
        size += k.len() + v.as_str().map_or(0, str::len);
    }
    if size > ANNOTATIONS_LIMIT {
        errs.push(too_long(path, ANNOTATIONS_LIMIT));
    }
}

fn owner_references(errs: &mut Vec<Cause>, meta: &Value) {
    let path = "metadata.ownerReferences";
    let mut controller: Option<String> = None;
    for owner in list_of(meta, "ownerReferences") {
        let api_version = str_of(owner, "apiVersion");
        let version = api_version.rsplit('/').next().unwrap_or("");
        let kind = str_of(owner, "kind");
        if version.is_empty() {
            errs.push(invalid(
                &child(path, "apiVersion"),
                &Value::String(api_version.into()),
                "version must not be empty",
            ));
        }
        if kind.is_empty() {
            errs.push(invalid(
                &child(path, "kind"),
                &Value::String(String::new()),
                "kind must not be empty",
            ));
        }
        if str_of(owner, "name").is_empty() {
            errs.push(invalid(
                &child(path, "name"),
                &Value::String(String::new()),
                "name must not be empty",
            ));
        }
        if str_of(owner, "uid").is_empty() {
            errs.push(invalid(
                &child(path, "uid"),
                &Value::String(String::new()),
                "uid must not be empty",
            ));
        }
        if api_version == "v1" && kind == "Event" {
            errs.push(invalid_shown(
                path,
                &format!("{owner}"),
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if owner.get("controller").and_then(Value::as_bool) == Some(true) {
            let this = format!("{kind}/{}", str_of(owner, "name"));
            match &controller {
                Some(first) => errs.push(invalid_shown(
                    path,
                    &Value::Array(list_of(meta, "ownerReferences").to_vec()).to_string(),
                    &format!(
                        "Only one reference can have Controller set to true. Found \"true\" in references for {first} and {this}"
                    ),
                )),
                None => controller = Some(this),
            }
        }
    }
}

/// Finalizer names: qualified names, and unprefixed ones must be Kubernetes' own.
fn finalizers(errs: &mut Vec<Cause>, meta: &Value) {
    let path = "metadata.finalizers";
    let list = list_of(meta, "finalizers");
    let mut kube_errs = Vec::new();
    for (i, f) in list.iter().enumerate() {
        let name = f.as_str().unwrap_or("");
        for msg in names::is_qualified_name(name) {
            errs.push(invalid(path, f, &msg));
        }
        if !name.contains('/') && !matches!(name, "kubernetes" | "orphan" | "foregroundDeletion") {
            kube_errs.push(invalid(
                &index(path, i),
                f,
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
    let has = |n: &str| list.iter().any(|f| f.as_str() == Some(n));
    if has("orphan") && has("foregroundDeletion") {
        errs.push(invalid_shown(
            path,
            &go_string_slice(meta.get("finalizers")),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    errs.extend(kube_errs);
}

fn managed_fields(errs: &mut Vec<Cause>, meta: &Value) {
    for (i, entry) in list_of(meta, "managedFields").iter().enumerate() {
        let path = index("metadata.managedFields", i);
        let op = str_of(entry, "operation");
        if op != "Apply" && op != "Update" {
            errs.push(invalid(
                &child(&path, "operation"),
                &Value::String(op.into()),
                "must be `Apply` or `Update`",
            ));
        }
        let ty = str_of(entry, "fieldsType");
        if !ty.is_empty() && ty != "FieldsV1" {
            errs.push(invalid(
                &child(&path, "fieldsType"),
                &Value::String(ty.into()),
                "must be `FieldsV1`",
            ));
        }
    }
}

/// Checks common to create and update.
fn common(errs: &mut Vec<Cause>, meta: &Value) {
    labels(errs, "metadata.labels", meta.get("labels"));
    annotations(errs, "metadata.annotations", meta.get("annotations"));
    owner_references(errs, meta);
    finalizers(errs, meta);
    managed_fields(errs, meta);
}

/// `ValidateObjectMeta`: the metadata of an object being created.
pub(crate) fn create(errs: &mut Vec<Cause>, obj: &Value, namespaced: bool, rule: NameRule) {
    let empty = Value::Null;
    let meta = obj.get("metadata").unwrap_or(&empty);
    let generate_name = str_of(meta, "generateName");
    if !generate_name.is_empty() {
        for msg in rule(generate_name, true) {
            errs.push(invalid(
                "metadata.generateName",
                &Value::String(generate_name.into()),
                &msg,
            ));
        }
    }
    let name = str_of(meta, "name");
    if name.is_empty() {
        errs.push(required(
            "metadata.name",
            "name or generateName is required",
        ));
    } else {
        for msg in rule(name, false) {
            errs.push(invalid("metadata.name", &Value::String(name.into()), &msg));
        }
    }
    let namespace = str_of(meta, "namespace");
    if namespaced {
        if namespace.is_empty() {
            errs.push(required("metadata.namespace", ""));
        } else {
            for msg in names::name_is_dns_label(namespace, false) {
                errs.push(invalid(
                    "metadata.namespace",
                    &Value::String(namespace.into()),
                    &msg,
                ));
            }
        }
    } else if !namespace.is_empty() {
        errs.push(forbidden("metadata.namespace", "not allowed on this type"));
    }
    super::field::nonnegative(errs, "metadata.generation", meta.get("generation"));
    common(errs, meta);
}

/// `ValidateObjectMetaUpdate`: what may not change between the stored and the new metadata.
pub(crate) fn update(errs: &mut Vec<Cause>, obj: &Value, old: &Value) {
    let empty = Value::Null;
    let meta = obj.get("metadata").unwrap_or(&empty);
    let old_meta = old.get("metadata").unwrap_or(&empty);
    if present(old_meta, "deletionTimestamp").is_some() {
        let old_list = list_of(old_meta, "finalizers");
        let mut added: Vec<Value> = list_of(meta, "finalizers")
            .iter()
            .filter(|f| !old_list.contains(f))
            .cloned()
            .collect();
        added.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        added.dedup();
        if !added.is_empty() {
            errs.push(forbidden(
                "metadata.finalizers",
                &format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers {}",
                    go_string_slice(Some(&Value::Array(added)))
                ),
            ));
        }
    }
    for field in ["name", "namespace"] {
        if str_of(meta, field) != str_of(old_meta, field) {
            errs.push(invalid(
                &child("metadata", field),
                &Value::String(str_of(meta, field).into()),
                IMMUTABLE,
            ));
        }
    }
    // Kubernetes restores these from the stored object when the request omits them, so only a
    // different value is an error.
    let uid = str_of(meta, "uid");
    if !uid.is_empty() && uid != str_of(old_meta, "uid") {
        errs.push(invalid(
            "metadata.uid",
            &Value::String(uid.into()),
            IMMUTABLE,
        ));
    }
    for field in ["creationTimestamp", "deletionTimestamp"] {
        let new = str_of(meta, field);
        if !new.is_empty() && new != str_of(old_meta, field) {
            errs.push(invalid_shown(
                &child("metadata", field),
                &go_time(new),
                IMMUTABLE,
            ));
        }
    }
    if let Some(grace) = present(meta, "deletionGracePeriodSeconds")
        && Some(grace) != present(old_meta, "deletionGracePeriodSeconds")
    {
        errs.push(invalid(
            "metadata.deletionGracePeriodSeconds",
            grace,
            IMMUTABLE,
        ));
    }
    common(errs, meta);
}

/// `ValidateLabelSelector`: keys, operators and values of a `metav1.LabelSelector`.
pub(crate) fn label_selector(errs: &mut Vec<Cause>, path: &str, selector: &Value) {
    labels(
        errs,
        &child(path, "matchLabels"),
        selector.get("matchLabels"),
    );
    for (i, req) in list_of(selector, "matchExpressions").iter().enumerate() {
        let req_path = index(&child(path, "matchExpressions"), i);
        let values = list_of(req, "values");
        let op = str_of(req, "operator");
        match op {
            "In" | "NotIn" => {
                if values.is_empty() {
                    errs.push(required(
                        &child(&req_path, "values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    errs.push(forbidden(
                        &child(&req_path, "values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            _ => errs.push(invalid(
                &child(&req_path, "operator"),
                &Value::String(op.into()),
                "not a valid selector operator",
            )),
        }
        let key = str_of(req, "key");
        for msg in names::is_qualified_name(key) {
            errs.push(invalid(
                &child(&req_path, "key"),
                &Value::String(key.into()),
                &msg,
            ));
        }
        for (j, v) in values.iter().enumerate() {
            for msg in names::is_label_value(v.as_str().unwrap_or("")) {
                errs.push(invalid(&index(&child(&req_path, "values"), j), v, &msg));
            }
        }
    }
}
