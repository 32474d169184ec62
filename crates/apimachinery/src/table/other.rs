//! Tables of the smaller groups: leases (`coordination.k8s.io`), endpoint slices
//! (`discovery.k8s.io`), pod disruption budgets (`policy`) and storage classes
//! (`storage.k8s.io`).

use std::time::SystemTime;

use serde_json::Value;

use super::object::{self, field, flag, int, items, text};
use super::{AGE, Column, NAME, Printer};

pub(super) const PRINTERS: &[Printer] = &[
    Printer::new("coordination.k8s.io", "leases", LEASE_COLUMNS, lease_row),
    Printer::new(
        "discovery.k8s.io",
        "endpointslices",
        ENDPOINT_SLICE_COLUMNS,
        endpoint_slice_row,
    ),
    Printer::new(
        "policy",
        "poddisruptionbudgets",
        DISRUPTION_BUDGET_COLUMNS,
        disruption_budget_row,
    ),
    Printer::new(
        "storage.k8s.io",
        "storageclasses",
        STORAGE_CLASS_COLUMNS,
        storage_class_row,
    ),
];

const LEASE_COLUMNS: &[Column] = &[
    NAME,
    Column::text("Holder", "Identity of whoever holds the lease now."),
    AGE,
];

fn lease_row(lease: &Value, now: SystemTime) -> Vec<Value> {
    vec![
        object::name(lease),
        Value::from(text(lease, &["spec", "holderIdentity"])),
        object::age(lease, now),
    ]
}

const ENDPOINT_SLICE_COLUMNS: &[Column] = &[
    NAME,
    Column::text(
        "AddressType",
        "The kind of address the slice holds: IPv4, IPv6 or FQDN.",
    ),
    Column::text("Ports", "The ports of the slice's endpoints."),
    Column::text("Endpoints", "Addresses of the slice's endpoints."),
    AGE,
];

/// How many ports or addresses a cell lists before it sums up the rest.
const SLICE_ITEMS_SHOWN: usize = 3;

fn endpoint_slice_row(slice: &Value, now: SystemTime) -> Vec<Value> {
    let ports: Vec<String> = items(slice, &["ports"])
        .iter()
        .map(|p| {
            if object::is_set(p, &["port"]) {
                int(p, &["port"]).to_string()
            } else if object::is_set(p, &["name"]) {
                text(p, &["name"]).to_string()
            } else {
                // A port left unset means all ports.
                "*".to_string()
            }
        })
        .collect();
    let addresses: Vec<String> = items(slice, &["endpoints"])
        .iter()
        .flat_map(|e| items(e, &["addresses"]))
        .map(|a| a.as_str().unwrap_or("").to_string())
        .collect();
    vec![
        object::name(slice),
        Value::from(text(slice, &["addressType"])),
        Value::from(list_with_more(&ports)),
        Value::from(list_with_more(&addresses)),
        object::age(slice, now),
    ]
}

/// The first few entries joined with commas, then `+ N more...`; `<unset>` when empty.
fn list_with_more(all: &[String]) -> String {
    if all.is_empty() {
        return "<unset>".to_string();
    }
    let shown = all.len().min(SLICE_ITEMS_SHOWN);
    let list = all[..shown].join(",");
    if all.len() > SLICE_ITEMS_SHOWN {
        format!("{list} + {} more...", all.len() - SLICE_ITEMS_SHOWN)
    } else {
        list
    }
}

const DISRUPTION_BUDGET_COLUMNS: &[Column] = &[
    NAME,
    Column::text(
        "Min Available",
        "Pods that must stay available through a disruption.",
    ),
    Column::text(
        "Max Unavailable",
        "Pods that may be unavailable during a disruption.",
    ),
    Column::new(
        "Allowed Disruptions",
        "integer",
        "How many pods may be disrupted right now.",
    ),
    AGE,
];

fn disruption_budget_row(pdb: &Value, now: SystemTime) -> Vec<Value> {
    // Either bound is a number or a percentage; the one left out prints as N/A.
    let bound = |key: &str| match field(pdb, &["spec", key]) {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => "N/A".to_string(),
    };
    vec![
        object::name(pdb),
        Value::from(bound("minAvailable")),
        Value::from(bound("maxUnavailable")),
        Value::from(int(pdb, &["status", "disruptionsAllowed"])),
        object::age(pdb, now),
    ]
}

const STORAGE_CLASS_COLUMNS: &[Column] = &[
    NAME,
    Column::text(
        "Provisioner",
        "The volume plugin that provisions volumes of this class.",
    ),
    Column::text(
        "ReclaimPolicy",
        "What becomes of a volume once its claim is released.",
    ),
    Column::text(
        "VolumeBindingMode",
        "When volumes are provisioned and bound to claims.",
    ),
    Column::text(
        "AllowVolumeExpansion",
        "Whether volumes of this class can be grown.",
    ),
    AGE,
];

/// Annotations that mark the cluster's default storage class, current and beta spelling.
const DEFAULT_CLASS_ANNOTATIONS: [&str; 2] = [
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
];

fn storage_class_row(class: &Value, now: SystemTime) -> Vec<Value> {
    let is_default = DEFAULT_CLASS_ANNOTATIONS
        .iter()
        .any(|a| text(class, &["metadata", "annotations", a]) == "true");
    let name = text(class, &["metadata", "name"]);
    let name = if is_default {
        format!("{name} (default)")
    } else {
        name.to_string()
    };
    let or = |key: &str, default: &'static str| match text(class, &[key]) {
        "" => default.to_string(),
        v => v.to_string(),
    };
    vec![
        Value::from(name),
        Value::from(text(class, &["provisioner"])),
        Value::from(or("reclaimPolicy", "Delete")),
        Value::from(or("volumeBindingMode", "Immediate")),
        Value::from(flag(class, &["allowVolumeExpansion"])),
        object::age(class, now),
    ]
}
