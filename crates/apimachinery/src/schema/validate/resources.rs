//! Compute resources and security IDs: resource names, non-negative quantities, requests not
//! above limits, and user and group IDs in range.

use std::collections::BTreeMap;

use serde_json::Value;

use super::field::{NEGATIVE, child, invalid, key};
use crate::schema::names;
use crate::status::Cause;

/// Run-as user and group IDs must fit in 31 bits.
pub(crate) fn id_ranges(errs: &mut Vec<Cause>, sc: &Value, path: &str) {
    for field in ["runAsUser", "runAsGroup", "fsGroup"] {
        if let Some(id) = sc.get(field).and_then(Value::as_i64)
            && !(0..=i64::from(i32::MAX)).contains(&id)
        {
            errs.push(invalid(
                &child(path, field),
                &Value::from(id),
                &names::inclusive_range_error(0, i64::from(i32::MAX)),
            ));
        }
    }
}

/// A quantity's value in base units, for comparisons; `None` when it does not parse.
pub(crate) fn quantity_value(s: &str) -> Option<f64> {
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exp => 10f64.powi(exp.get(1..)?.parse().ok()?),
    };
    Some(number * scale)
}

fn quantity_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn resource_name(errs: &mut Vec<Cause>, name: &str, path: &str) {
    let msgs = names::is_qualified_name(name);
    if !msgs.is_empty() {
        for msg in msgs {
            errs.push(invalid(path, &Value::String(name.into()), &msg));
        }
        return;
    }
    let standard = matches!(name, "cpu" | "memory" | "ephemeral-storage")
        || name.starts_with("hugepages-")
        || name.starts_with("requests.hugepages-");
    if !name.contains('/') && !standard {
        errs.push(invalid(
            path,
            &Value::String(name.into()),
            "must be a standard resource for containers",
        ));
    }
}

/// Resource names, non-negative quantities and requests not above limits.
pub(crate) fn resource_requirements(errs: &mut Vec<Cause>, resources: &Value, path: &str) {
    let empty = serde_json::Map::new();
    let limits = resources
        .get("limits")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let requests = resources
        .get("requests")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let lim_path = child(path, "limits");
    let req_path = child(path, "requests");
    let check = |errs: &mut Vec<Cause>, list: &BTreeMap<&String, &Value>, base: &str| {
        for (name, q) in list {
            let p = key(base, name);
            resource_name(errs, name, &p);
            let text = quantity_text(q);
            if quantity_value(&text).is_some_and(|v| v < 0.0) {
                errs.push(invalid(&p, &Value::String(text), NEGATIVE));
            }
        }
    };
    check(errs, &limits.iter().collect(), &lim_path);
    check(errs, &requests.iter().collect(), &req_path);
    for (name, q) in requests {
        let Some(limit) = limits.get(name) else {
            continue;
        };
        let (request, limit) = (quantity_text(q), quantity_text(limit));
        if let (Some(r), Some(l)) = (quantity_value(&request), quantity_value(&limit)) {
            let overcommit = !name.starts_with("hugepages-") && name.as_str() != "nvidia.com/gpu";
            if r != l && !overcommit {
                errs.push(invalid(
                    &req_path,
                    &Value::String(request.clone()),
                    &format!("must be equal to {name} limit of {limit}"),
                ));
            } else if r > l {
                errs.push(invalid(
                    &req_path,
                    &Value::String(request),
                    &format!("must be less than or equal to {name} limit of {limit}"),
                ));
            }
        }
    }
}
