//! Workload checks (Deployment, ReplicaSet, StatefulSet, DaemonSet, ControllerRevision): selectors
//! that match their templates, rollout strategies, and what an update may change.

use serde_json::Value;

use super::field::{
    IMMUTABLE, NEGATIVE, child, forbidden, go_int_or_string, go_label_selector, go_string_map,
    invalid, invalid_shown, nonnegative, not_supported, not_supported_shown, present, required,
    str_of,
};
use super::{equivalent, meta, pod};
use crate::schema::names;
use crate::selector::LabelSelector;
use crate::status::Cause;

fn empty() -> &'static Value {
    static NULL: Value = Value::Null;
    &NULL
}

/// Selector presence and shape; returns the parsed selector when it can be used for matching.
fn selector(errs: &mut Vec<Cause>, spec: &Value, kind: &str) -> Option<LabelSelector> {
    let Some(sel) = present(spec, "selector") else {
        errs.push(required("spec.selector", ""));
        // A missing selector selects nothing, so the template check below fails too.
        return Some(LabelSelector::nothing());
    };
    meta::label_selector(errs, "spec.selector", sel);
    let count = sel
        .get("matchLabels")
        .and_then(Value::as_object)
        .map_or(0, |m| m.len())
        + sel
            .get("matchExpressions")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
    if count == 0 {
        errs.push(invalid_shown(
            "spec.selector",
            &go_label_selector(sel),
            &format!("empty selector is invalid for {kind}"),
        ));
    }
    match LabelSelector::from_json(sel) {
        Ok(parsed) => Some(parsed),
        Err(_) => {
            errs.push(invalid_shown(
                "spec.selector",
                &go_label_selector(sel),
                "invalid label selector",
            ));
            None
        }
    }
}

fn labels_match(errs: &mut Vec<Cause>, selector: &LabelSelector, template: &Value) {
    let labels = template.pointer("/metadata/labels");
    if !selector.is_empty() && !selector.matches_value(labels) {
        errs.push(invalid_shown(
            "spec.template.metadata.labels",
            &go_string_map(labels),
            "`selector` does not match template `labels`",
        ));
    }
}

/// Template rules shared by the replica-managing kinds: the template is a valid pod template
/// that restarts always and has no deadline.
fn replica_template(
    errs: &mut Vec<Cause>,
    spec: &Value,
    selector: Option<&LabelSelector>,
    what: &str,
) {
    let template = spec.get("template").unwrap_or(empty());
    if let Some(sel) = selector {
        labels_match(errs, sel, template);
    }
    pod::template(errs, template, "spec.template");
    restart_always(errs, template, what);
}

fn restart_always(errs: &mut Vec<Cause>, template: &Value, what: &str) {
    let policy = template
        .pointer("/spec/restartPolicy")
        .and_then(Value::as_str)
        .unwrap_or("");
    if policy != "Always" {
        errs.push(not_supported(
            "spec.template.spec.restartPolicy",
            &Value::String(policy.into()),
            &["Always"],
        ));
    }
    if template
        .pointer("/spec/activeDeadlineSeconds")
        .is_some_and(|v| !v.is_null())
    {
        errs.push(forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            &format!("activeDeadlineSeconds in {what} is not Supported"),
        ));
    }
}

/// The whole-number value of an IntOrString, a percentage's number, as Kubernetes compares them.
fn int_or_percent_value(value: Option<&Value>) -> i64 {
    match value {
        Some(Value::String(s)) => s
            .strip_suffix('%')
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
        Some(v) => v.as_i64().unwrap_or(0),
        None => 0,
    }
}

/// `ValidatePositiveIntOrPercent` and, when `max_100`, `IsNotMoreThan100Percent`.
fn int_or_percent(errs: &mut Vec<Cause>, value: Option<&Value>, path: &str, max_100: bool) {
    match value {
        Some(Value::String(s)) => {
            for msg in names::is_valid_percent(s) {
                errs.push(invalid_shown(path, &go_int_or_string(value), &msg));
            }
            if max_100 && names::is_valid_percent(s).is_empty() && int_or_percent_value(value) > 100
            {
                errs.push(invalid_shown(
                    path,
                    &go_int_or_string(value),
                    "must not be greater than 100%",
                ));
            }
        }
        Some(v) => nonnegative(errs, path, Some(v)),
        None => {}
    }
}

fn deployment_strategy(errs: &mut Vec<Cause>, spec: &Value) {
    let strategy = spec.get("strategy").unwrap_or(empty());
    let rolling = present(strategy, "rollingUpdate");
    match str_of(strategy, "type") {
        "Recreate" => {
            if rolling.is_some() {
                errs.push(forbidden(
                    "spec.strategy.rollingUpdate",
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        "RollingUpdate" => match rolling {
            None => errs.push(required(
                "spec.strategy.rollingUpdate",
                "this should be defaulted and never be nil",
            )),
            Some(r) => {
                let path = "spec.strategy.rollingUpdate";
                let unavailable = r.get("maxUnavailable");
                let surge = r.get("maxSurge");
                int_or_percent(errs, unavailable, &child(path, "maxUnavailable"), false);
                int_or_percent(errs, surge, &child(path, "maxSurge"), false);
                if int_or_percent_value(unavailable) == 0 && int_or_percent_value(surge) == 0 {
                    errs.push(invalid_shown(
                        &child(path, "maxUnavailable"),
                        &go_int_or_string(unavailable),
                        "may not be 0 when `maxSurge` is 0",
                    ));
                }
                if let Some(Value::String(s)) = unavailable
                    && names::is_valid_percent(s).is_empty()
                    && int_or_percent_value(unavailable) > 100
                {
                    errs.push(invalid_shown(
                        &child(path, "maxUnavailable"),
                        &go_int_or_string(unavailable),
                        "must not be greater than 100%",
                    ));
                }
            }
        },
        other => errs.push(not_supported_shown(
            "spec.strategy",
            &format!(
                "apps.DeploymentStrategy{{Type:{}, RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}}",
                crate::selector::go_quote(other)
            ),
            &["Recreate", "RollingUpdate"],
        )),
    }
}

/// Deployment spec, on create and update alike.
pub(crate) fn deployment(errs: &mut Vec<Cause>, obj: &Value) {
    let spec = obj.get("spec").unwrap_or(empty());
    nonnegative(errs, "spec.replicas", spec.get("replicas"));
    let sel = selector(errs, spec, "deployment");
    replica_template(errs, spec, sel.as_ref(), "ReplicaSet");
    deployment_strategy(errs, spec);
    nonnegative(errs, "spec.minReadySeconds", spec.get("minReadySeconds"));
    nonnegative(
        errs,
        "spec.revisionHistoryLimit",
        spec.get("revisionHistoryLimit"),
    );
    if let Some(deadline) = present(spec, "progressDeadlineSeconds") {
        nonnegative(errs, "spec.progressDeadlineSeconds", Some(deadline));
        let min_ready = spec
            .get("minReadySeconds")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if deadline.as_i64().unwrap_or(0) <= min_ready {
            errs.push(invalid(
                "spec.progressDeadlineSeconds",
                deadline,
                "must be greater than minReadySeconds",
            ));
        }
    }
}

/// ReplicaSet spec.
pub(crate) fn replica_set(errs: &mut Vec<Cause>, obj: &Value) {
    let spec = obj.get("spec").unwrap_or(empty());
    nonnegative(errs, "spec.replicas", spec.get("replicas"));
    nonnegative(errs, "spec.minReadySeconds", spec.get("minReadySeconds"));
    let sel = selector(errs, spec, "deployment");
    replica_template(errs, spec, sel.as_ref(), "ReplicaSet");
}

/// DaemonSet spec.
pub(crate) fn daemon_set(errs: &mut Vec<Cause>, obj: &Value) {
    let spec = obj.get("spec").unwrap_or(empty());
    let template = spec.get("template").unwrap_or(empty());
    if let Some(sel) = present(spec, "selector") {
        meta::label_selector(errs, "spec.selector", sel);
        if let Ok(parsed) = LabelSelector::from_json(sel)
            && !parsed.matches_value(template.pointer("/metadata/labels"))
        {
            errs.push(invalid_shown(
                "spec.template.metadata.labels",
                &go_string_map(template.pointer("/metadata/labels")),
                "`selector` does not match template `labels`",
            ));
        }
        if sel
            .get("matchLabels")
            .and_then(Value::as_object)
            .is_none_or(|m| m.is_empty())
            && sel
                .get("matchExpressions")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty)
        {
            errs.push(invalid_shown(
                "spec.selector",
                &go_label_selector(sel),
                "empty selector is invalid for daemonset",
            ));
        }
    } else if !LabelSelector::nothing().matches_value(template.pointer("/metadata/labels")) {
        errs.push(invalid_shown(
            "spec.template.metadata.labels",
            &go_string_map(template.pointer("/metadata/labels")),
            "`selector` does not match template `labels`",
        ));
    }
    pod::template(errs, template, "spec.template");
    restart_always(errs, template, "DaemonSet");
    nonnegative(errs, "spec.minReadySeconds", spec.get("minReadySeconds"));
    let strategy = spec.get("updateStrategy").unwrap_or(empty());
    match str_of(strategy, "type") {
        "OnDelete" => {}
        "RollingUpdate" => match present(strategy, "rollingUpdate") {
            None => errs.push(required("spec.updateStrategy.rollingUpdate", "")),
            Some(r) => {
                let path = "spec.updateStrategy.rollingUpdate";
                let unavailable = r.get("maxUnavailable");
                let surge = r.get("maxSurge");
                int_or_percent(errs, unavailable, &child(path, "maxUnavailable"), true);
                int_or_percent(errs, surge, &child(path, "maxSurge"), true);
                let has_unavailable = int_or_percent_value(unavailable) != 0;
                let has_surge = int_or_percent_value(surge) != 0;
                if has_unavailable && has_surge {
                    errs.push(invalid_shown(
                        &child(path, "maxSurge"),
                        &go_int_or_string(surge),
                        "may not be set when maxUnavailable is non-zero",
                    ));
                } else if !has_unavailable && !has_surge {
                    errs.push(required(
                        &child(path, "maxUnavailable"),
                        "cannot be 0 when maxSurge is 0",
                    ));
                }
            }
        },
        other => errs.push(not_supported_shown(
            "spec.updateStrategy",
            &format!(
                "apps.DaemonSetUpdateStrategy{{Type:{}, RollingUpdate:(*apps.RollingUpdateDaemonSet)(nil)}}",
                crate::selector::go_quote(other)
            ),
            &["RollingUpdate", "OnDelete"],
        )),
    }
    nonnegative(
        errs,
        "spec.revisionHistoryLimit",
        spec.get("revisionHistoryLimit"),
    );
}

/// StatefulSet spec.
pub(crate) fn stateful_set(errs: &mut Vec<Cause>, obj: &Value) {
    let spec = obj.get("spec").unwrap_or(empty());
    match str_of(spec, "podManagementPolicy") {
        "OrderedReady" | "Parallel" => {}
        "" => errs.push(required("spec.podManagementPolicy", "")),
        other => errs.push(invalid(
            "spec.podManagementPolicy",
            &Value::String(other.into()),
            "must be 'OrderedReady' or 'Parallel'",
        )),
    }
    let strategy = spec.get("updateStrategy").unwrap_or(empty());
    match str_of(strategy, "type") {
        "" => errs.push(required("spec.updateStrategy", "")),
        "OnDelete" => {
            if let Some(r) = present(strategy, "rollingUpdate") {
                errs.push(invalid_shown(
                    "spec.updateStrategy.rollingUpdate",
                    &r.to_string(),
                    "only allowed for updateStrategy 'RollingUpdate'",
                ));
            }
        }
        "RollingUpdate" => {
            if let Some(r) = present(strategy, "rollingUpdate") {
                nonnegative(
                    errs,
                    "spec.updateStrategy.rollingUpdate.partition",
                    r.get("partition"),
                );
            }
        }
        _ => errs.push(invalid_shown(
            "spec.updateStrategy",
            &strategy.to_string(),
            "must be 'RollingUpdate' or 'OnDelete'",
        )),
    }
    if let Some(policy) = present(spec, "persistentVolumeClaimRetentionPolicy") {
        for field in ["whenDeleted", "whenScaled"] {
            let value = str_of(policy, field);
            if value != "Retain" && value != "Delete" {
                errs.push(not_supported(
                    &child("spec.persistentVolumeClaimRetentionPolicy", field),
                    &Value::String(value.into()),
                    &["Retain", "Delete"],
                ));
            }
        }
    }
    nonnegative(errs, "spec.replicas", spec.get("replicas"));
    nonnegative(errs, "spec.minReadySeconds", spec.get("minReadySeconds"));
    if let Some(start) = spec.pointer("/ordinals/start") {
        nonnegative(errs, "spec.ordinals.start", Some(start));
    }
    let service_name = str_of(spec, "serviceName");
    if !service_name.is_empty() {
        for msg in names::is_dns1123_label(service_name) {
            errs.push(invalid(
                "spec.serviceName",
                &Value::String(service_name.into()),
                &msg,
            ));
        }
    }
    let sel = selector(errs, spec, "statefulset");
    let template = spec.get("template").unwrap_or(empty());
    if let Some(sel) = &sel {
        labels_match(errs, sel, template);
    }
    // Kubernetes checks only the labels and annotations of a StatefulSet's template, not its
    // pod spec.
    let template_meta = template.get("metadata").unwrap_or(empty());
    meta::labels(errs, "spec.template.labels", template_meta.get("labels"));
    meta::annotations(
        errs,
        "spec.template.annotations",
        template_meta.get("annotations"),
    );
    restart_always(errs, template, "StatefulSet");
}

/// What a StatefulSet update may change: replicas, ordinals, template, update strategy, claim
/// retention and minReadySeconds.
pub(crate) fn stateful_set_update(errs: &mut Vec<Cause>, obj: &Value, old: &Value) {
    let mutable = [
        "replicas",
        "ordinals",
        "template",
        "updateStrategy",
        "persistentVolumeClaimRetentionPolicy",
        "minReadySeconds",
    ];
    let strip = |v: &Value| {
        let mut spec = v.get("spec").cloned().unwrap_or(Value::Null);
        if let Some(m) = spec.as_object_mut() {
            m.retain(|k, _| !mutable.contains(&k.as_str()));
        }
        spec
    };
    if !equivalent(&strip(obj), &strip(old)) {
        errs.push(forbidden(
            "spec",
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        ));
    }
}

/// The selector of Deployments, ReplicaSets and DaemonSets cannot change in apps/v1.
pub(crate) fn selector_immutable(errs: &mut Vec<Cause>, obj: &Value, old: &Value) {
    let new = obj.pointer("/spec/selector").unwrap_or(empty());
    let before = old.pointer("/spec/selector").unwrap_or(empty());
    if !equivalent(new, before) {
        errs.push(invalid_shown(
            "spec.selector",
            &go_label_selector(new),
            IMMUTABLE,
        ));
    }
}

/// ControllerRevision: data is mandatory and the revision non-negative; data never changes.
pub(crate) fn controller_revision(errs: &mut Vec<Cause>, obj: &Value, old: Option<&Value>) {
    if present(obj, "data").is_none() {
        errs.push(required("data", "data is mandatory"));
    }
    if let Some(n) = obj.get("revision").and_then(Value::as_i64)
        && n < 0
    {
        errs.push(invalid("revision", &Value::from(n), NEGATIVE));
    }
    if let Some(old) = old {
        let (new_data, old_data) = (obj.get("data"), old.get("data"));
        if new_data != old_data {
            errs.push(invalid_shown(
                "data",
                &new_data
                    .map(Value::to_string)
                    .unwrap_or_else(|| "null".into()),
                IMMUTABLE,
            ));
        }
    }
}
