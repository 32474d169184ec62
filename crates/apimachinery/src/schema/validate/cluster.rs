//! Checks for the remaining small kinds: Lease, PodDisruptionBudget and StorageClass.

use serde_json::Value;

use super::field::{
    IMMUTABLE, NEGATIVE, child, forbidden, go_int_or_string, invalid, invalid_shown, nonnegative,
    not_supported, present, required, str_of,
};
use super::meta;
use crate::schema::names;
use crate::status::Cause;

/// `ValidateLeaseSpec`.
pub(crate) fn lease(errs: &mut Vec<Cause>, obj: &Value) {
    let empty = Value::Null;
    let spec = obj.get("spec").unwrap_or(&empty);
    if let Some(d) = spec.get("leaseDurationSeconds").and_then(Value::as_i64)
        && d <= 0
    {
        errs.push(invalid(
            "spec.leaseDurationSeconds",
            &Value::from(d),
            "must be greater than 0",
        ));
    }
    if let Some(t) = spec.get("leaseTransitions").and_then(Value::as_i64)
        && t < 0
    {
        errs.push(invalid("spec.leaseTransitions", &Value::from(t), NEGATIVE));
    }
    if let Some(strategy) = spec.get("strategy").and_then(Value::as_str)
        && !strategy.contains('/')
        && strategy != "OldestEmulationVersion"
    {
        errs.push(not_supported(
            "spec.strategy.strategy",
            &Value::String(strategy.into()),
            &["OldestEmulationVersion"],
        ));
    }
    let preferred = str_of(spec, "preferredHolder");
    if !preferred.is_empty() && str_of(spec, "strategy").is_empty() {
        errs.push(forbidden(
            "spec.preferredHolder",
            "may only be specified if `strategy` is defined",
        ));
    }
}

fn budget_value(errs: &mut Vec<Cause>, spec: &Value, field: &str) {
    let path = child("spec", field);
    match spec.get(field) {
        Some(Value::String(s)) => {
            let msgs = names::is_valid_percent(s);
            let shown = go_int_or_string(spec.get(field));
            for msg in &msgs {
                errs.push(invalid_shown(&path, &shown, msg));
            }
            let percent: i64 = s.trim_end_matches('%').parse().unwrap_or(0);
            if msgs.is_empty() && percent > 100 {
                errs.push(invalid_shown(
                    &path,
                    &shown,
                    "must not be greater than 100%",
                ));
            }
        }
        Some(v) if !v.is_null() => nonnegative(errs, &path, Some(v)),
        _ => {}
    }
}

/// `ValidatePodDisruptionBudgetSpec`.
pub(crate) fn pod_disruption_budget(errs: &mut Vec<Cause>, obj: &Value) {
    let empty = Value::Null;
    let spec = obj.get("spec").unwrap_or(&empty);
    if present(spec, "minAvailable").is_some() && present(spec, "maxUnavailable").is_some() {
        errs.push(invalid_shown(
            "spec",
            &spec.to_string(),
            "minAvailable and maxUnavailable cannot be both set",
        ));
    }
    budget_value(errs, spec, "minAvailable");
    budget_value(errs, spec, "maxUnavailable");
    if let Some(selector) = present(spec, "selector") {
        meta::label_selector(errs, "spec.selector", selector);
    }
    if let Some(policy) = spec
        .get("unhealthyPodEvictionPolicy")
        .and_then(Value::as_str)
        && policy != "IfHealthyBudget"
        && policy != "AlwaysAllow"
    {
        errs.push(not_supported(
            "spec.unhealthyPodEvictionPolicy",
            &Value::String(policy.into()),
            &["AlwaysAllow", "IfHealthyBudget"],
        ));
    }
}

/// `ValidateStorageClass`.
pub(crate) fn storage_class(errs: &mut Vec<Cause>, obj: &Value) {
    let provisioner = str_of(obj, "provisioner");
    if provisioner.is_empty() {
        errs.push(required("provisioner", ""));
    } else {
        for msg in names::is_qualified_name(&provisioner.to_lowercase()) {
            errs.push(invalid(
                "provisioner",
                &Value::String(provisioner.into()),
                &msg,
            ));
        }
    }
    match str_of(obj, "reclaimPolicy") {
        "Delete" | "Retain" => {}
        other => errs.push(not_supported(
            "reclaimPolicy",
            &Value::String(other.into()),
            &["Delete", "Retain"],
        )),
    }
    match str_of(obj, "volumeBindingMode") {
        "Immediate" | "WaitForFirstConsumer" => {}
        "" => errs.push(required("volumeBindingMode", "")),
        other => errs.push(not_supported(
            "volumeBindingMode",
            &Value::String(other.into()),
            &["Immediate", "WaitForFirstConsumer"],
        )),
    }
}

/// A StorageClass update: parameters, provisioner, reclaim policy and binding mode are fixed.
pub(crate) fn storage_class_update(errs: &mut Vec<Cause>, obj: &Value, old: &Value) {
    if !super::equivalent(
        obj.get("parameters").unwrap_or(&Value::Null),
        old.get("parameters").unwrap_or(&Value::Null),
    ) {
        errs.push(forbidden(
            "parameters",
            "updates to parameters are forbidden.",
        ));
    }
    for field in ["provisioner", "reclaimPolicy"] {
        if str_of(obj, field) != str_of(old, field) {
            errs.push(forbidden(
                field,
                &format!("updates to {field} are forbidden."),
            ));
        }
    }
    let mode = str_of(obj, "volumeBindingMode");
    if mode != str_of(old, "volumeBindingMode") {
        errs.push(invalid(
            "volumeBindingMode",
            &Value::String(mode.into()),
            IMMUTABLE,
        ));
    }
}
