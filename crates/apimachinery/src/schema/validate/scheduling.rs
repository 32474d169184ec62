//! Scheduling constraints in a pod spec: tolerations, node affinity and pod (anti-)affinity.

use serde_json::Value;

use super::field::{
    child, forbidden, index, invalid, list_of, not_supported, present, required, str_of,
};
use super::meta;
use crate::schema::names;
use crate::status::Cause;

fn label_name(errs: &mut Vec<Cause>, path: &str, key: &str) {
    for msg in names::is_qualified_name(key) {
        errs.push(invalid(path, &Value::String(key.into()), &msg));
    }
}

/// `ValidateTolerations`.
pub(crate) fn tolerations(errs: &mut Vec<Cause>, list: &[Value], path: &str) {
    for (i, t) in list.iter().enumerate() {
        let p = index(path, i);
        let key = str_of(t, "key");
        let operator = str_of(t, "operator");
        let effect = str_of(t, "effect");
        let value = str_of(t, "value");
        if !key.is_empty() {
            label_name(errs, &child(&p, "key"), key);
        }
        if key.is_empty() && operator != "Exists" {
            errs.push(invalid(
                &child(&p, "operator"),
                &Value::String(operator.into()),
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if present(t, "tolerationSeconds").is_some() && effect != "NoExecute" {
            errs.push(invalid(
                &child(&p, "effect"),
                &Value::String(effect.into()),
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match operator {
            "Equal" | "" => {
                let msgs = names::is_label_value(value);
                if !msgs.is_empty() {
                    errs.push(invalid(
                        &child(&p, "operator"),
                        &Value::String(value.into()),
                        &msgs.join(";"),
                    ));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    errs.push(invalid(
                        &child(&p, "operator"),
                        &Value::String(value.into()),
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => errs.push(not_supported(
                &child(&p, "operator"),
                &Value::String(other.into()),
                &["Equal", "Exists"],
            )),
        }
        if !effect.is_empty() && !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute")
        {
            errs.push(not_supported(
                &child(&p, "effect"),
                &Value::String(effect.into()),
                &["NoSchedule", "PreferNoSchedule", "NoExecute"],
            ));
        }
    }
}

/// On a pod update, existing tolerations may only change their `tolerationSeconds`.
pub(crate) fn only_added_tolerations(errs: &mut Vec<Cause>, new: &[Value], old: &[Value]) {
    let without_seconds = |t: &Value| {
        let mut t = t.clone();
        if let Some(m) = t.as_object_mut() {
            m.remove("tolerationSeconds");
        }
        t
    };
    for before in old {
        let before = without_seconds(before);
        if !new
            .iter()
            .any(|t| super::equivalent(&without_seconds(t), &before))
        {
            errs.push(forbidden(
                "spec.tolerations",
                "existing toleration can not be modified except its tolerationSeconds",
            ));
            return;
        }
    }
}

fn node_selector_requirement(errs: &mut Vec<Cause>, req: &Value, path: &str) {
    let values = list_of(req, "values");
    let operator = str_of(req, "operator");
    match operator {
        "In" | "NotIn" if values.is_empty() => errs.push(required(
            &child(path, "values"),
            "must be specified when `operator` is 'In' or 'NotIn'",
        )),
        "Exists" | "DoesNotExist" if !values.is_empty() => errs.push(forbidden(
            &child(path, "values"),
            "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        )),
        "Gt" | "Lt" if values.len() != 1 => errs.push(required(
            &child(path, "values"),
            "must be specified single value when `operator` is 'Lt' or 'Gt'",
        )),
        "In" | "NotIn" | "Exists" | "DoesNotExist" | "Gt" | "Lt" => {}
        other => errs.push(invalid(
            &child(path, "operator"),
            &Value::String(other.into()),
            "not a valid selector operator",
        )),
    }
    label_name(errs, &child(path, "key"), str_of(req, "key"));
}

fn node_selector_term(errs: &mut Vec<Cause>, term: &Value, path: &str, check_values: bool) {
    for (j, req) in list_of(term, "matchExpressions").iter().enumerate() {
        let p = index(&child(path, "matchExpressions"), j);
        node_selector_requirement(errs, req, &p);
        if check_values {
            for (k, v) in list_of(req, "values").iter().enumerate() {
                for msg in names::is_label_value(v.as_str().unwrap_or("")) {
                    errs.push(invalid(&index(&child(&p, "values"), k), v, &msg));
                }
            }
        }
    }
    for (j, req) in list_of(term, "matchFields").iter().enumerate() {
        let p = index(&child(path, "matchFields"), j);
        let operator = str_of(req, "operator");
        match operator {
            "In" | "NotIn" => {
                if list_of(req, "values").len() != 1 {
                    errs.push(required(
                        &child(&p, "values"),
                        "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
                    ));
                }
            }
            other => errs.push(invalid(
                &child(&p, "operator"),
                &Value::String(other.into()),
                "not a valid selector operator",
            )),
        }
        let key = str_of(req, "key");
        if key != "metadata.name" {
            errs.push(invalid(
                &child(&p, "key"),
                &Value::String(key.into()),
                "not a valid field selector key",
            ));
        }
    }
}

fn weight(errs: &mut Vec<Cause>, item: &Value, path: &str) {
    let w = item.get("weight").and_then(Value::as_i64).unwrap_or(0);
    if !(1..=100).contains(&w) {
        errs.push(invalid(
            &child(path, "weight"),
            &Value::from(w),
            "must be in the range 1-100",
        ));
    }
}

fn pod_affinity_term(errs: &mut Vec<Cause>, term: &Value, path: &str) {
    for selector in ["labelSelector", "namespaceSelector"] {
        if let Some(sel) = present(term, selector) {
            meta::label_selector(errs, &child(path, selector), sel);
        }
    }
    for ns in list_of(term, "namespaces") {
        for msg in names::is_dns1123_label(ns.as_str().unwrap_or("")) {
            errs.push(invalid(&child(path, "namespace"), ns, &msg));
        }
    }
    let topology_key = str_of(term, "topologyKey");
    if topology_key.is_empty() {
        errs.push(required(&child(path, "topologyKey"), "can not be empty"));
    }
    label_name(errs, &child(path, "topologyKey"), topology_key);
}

fn pod_affinity(errs: &mut Vec<Cause>, affinity: &Value, path: &str) {
    let required_path = child(path, "requiredDuringSchedulingIgnoredDuringExecution");
    for (i, term) in list_of(affinity, "requiredDuringSchedulingIgnoredDuringExecution")
        .iter()
        .enumerate()
    {
        pod_affinity_term(errs, term, &index(&required_path, i));
    }
    let preferred_path = child(path, "preferredDuringSchedulingIgnoredDuringExecution");
    for (i, item) in list_of(affinity, "preferredDuringSchedulingIgnoredDuringExecution")
        .iter()
        .enumerate()
    {
        let p = index(&preferred_path, i);
        weight(errs, item, &p);
        let empty = Value::Null;
        let term = item.get("podAffinityTerm").unwrap_or(&empty);
        pod_affinity_term(errs, term, &child(&p, "podAffinityTerm"));
    }
}

/// `validateAffinity`.
pub(crate) fn affinity(errs: &mut Vec<Cause>, affinity: &Value, path: &str) {
    if let Some(node) = present(affinity, "nodeAffinity") {
        let p = child(path, "nodeAffinity");
        if let Some(sel) = present(node, "requiredDuringSchedulingIgnoredDuringExecution") {
            let terms_path = child(
                &child(&p, "requiredDuringSchedulingIgnoredDuringExecution"),
                "nodeSelectorTerms",
            );
            let terms = list_of(sel, "nodeSelectorTerms");
            if terms.is_empty() {
                errs.push(required(
                    &terms_path,
                    "must have at least one node selector term",
                ));
            }
            for (i, term) in terms.iter().enumerate() {
                node_selector_term(errs, term, &index(&terms_path, i), true);
            }
        }
        let preferred_path = child(&p, "preferredDuringSchedulingIgnoredDuringExecution");
        for (i, item) in list_of(node, "preferredDuringSchedulingIgnoredDuringExecution")
            .iter()
            .enumerate()
        {
            let ip = index(&preferred_path, i);
            weight(errs, item, &ip);
            let empty = Value::Null;
            let term = item.get("preference").unwrap_or(&empty);
            node_selector_term(errs, term, &child(&ip, "preference"), false);
        }
    }
    for kind in ["podAffinity", "podAntiAffinity"] {
        if let Some(a) = present(affinity, kind) {
            pod_affinity(errs, a, &child(path, kind));
        }
    }
}
