//! Tables of the `apps` group: deployments, replica sets, daemon sets, stateful sets and
//! controller revisions.

use std::time::SystemTime;

use serde_json::Value;

use super::object::{self, field, int, int_or, items, text};
use super::{AGE, CONTAINERS, Column, IMAGES, NAME, Printer, labels};

pub(super) const PRINTERS: &[Printer] = &[
    Printer::new("apps", "deployments", DEPLOYMENT_COLUMNS, deployment_row),
    Printer::new("apps", "replicasets", REPLICA_SET_COLUMNS, replica_set_row),
    Printer::new("apps", "daemonsets", DAEMON_SET_COLUMNS, daemon_set_row),
    Printer::new(
        "apps",
        "statefulsets",
        STATEFUL_SET_COLUMNS,
        stateful_set_row,
    ),
    Printer::new(
        "apps",
        "controllerrevisions",
        CONTROLLER_REVISION_COLUMNS,
        controller_revision_row,
    ),
];

const SELECTOR: Column = Column::text(
    "Selector",
    "The label selector that picks the pods it manages.",
)
.wide();
const READY_OF_DESIRED: Column = Column::text("Ready", "Ready pods out of the desired number.");

/// The names and the images of a pod template's containers, each joined with commas.
fn containers(obj: &Value) -> [Value; 2] {
    let containers = items(obj, &["spec", "template", "spec", "containers"]);
    let join = |key: &str| {
        containers
            .iter()
            .map(|c| text(c, &[key]))
            .collect::<Vec<_>>()
            .join(",")
    };
    [Value::from(join("name")), Value::from(join("image"))]
}

/// `spec.replicas`, which defaulting sets to 1 when a manifest leaves it out.
fn desired_replicas(obj: &Value) -> i64 {
    int_or(obj, &["spec", "replicas"], 1)
}

const DEPLOYMENT_COLUMNS: &[Column] = &[
    NAME,
    READY_OF_DESIRED,
    Column::text("Up-to-date", "Pods running the current pod template."),
    Column::text(
        "Available",
        "Pods that have been ready for at least minReadySeconds.",
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

fn deployment_row(deploy: &Value, now: SystemTime) -> Vec<Value> {
    let status = &deploy["status"];
    let ready = int(status, &["readyReplicas"]);
    // Unlike the other workloads, an empty selector prints as an empty cell, not `<none>`.
    let selector = labels::selector_string(field(deploy, &["spec", "selector"]))
        .unwrap_or_else(|| "<invalid>".to_string());
    let [names, images] = containers(deploy);
    vec![
        object::name(deploy),
        Value::from(format!("{ready}/{}", desired_replicas(deploy))),
        Value::from(int(status, &["updatedReplicas"])),
        Value::from(int(status, &["availableReplicas"])),
        object::age(deploy, now),
        names,
        images,
        Value::from(selector),
    ]
}

const REPLICA_SET_COLUMNS: &[Column] = &[
    NAME,
    Column::new("Desired", "integer", "The number of pods wanted."),
    Column::new("Current", "integer", "The number of pods that exist."),
    Column::new("Ready", "integer", "The number of pods that are ready."),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

fn replica_set_row(rs: &Value, now: SystemTime) -> Vec<Value> {
    let status = &rs["status"];
    let [names, images] = containers(rs);
    vec![
        object::name(rs),
        Value::from(desired_replicas(rs)),
        Value::from(int(status, &["replicas"])),
        Value::from(int(status, &["readyReplicas"])),
        object::age(rs, now),
        names,
        images,
        Value::from(labels::format_selector(field(rs, &["spec", "selector"]))),
    ]
}

const DAEMON_SET_COLUMNS: &[Column] = &[
    NAME,
    Column::new(
        "Desired",
        "integer",
        "Nodes that should run the daemon pod.",
    ),
    Column::new("Current", "integer", "Nodes that run the daemon pod."),
    Column::new("Ready", "integer", "Nodes whose daemon pod is ready."),
    Column::new(
        "Up-to-date",
        "integer",
        "Nodes that run the current daemon pod template.",
    ),
    Column::new(
        "Available",
        "integer",
        "Nodes whose daemon pod is available.",
    ),
    Column::text(
        "Node Selector",
        "Labels a node needs to run the daemon pod.",
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

fn daemon_set_row(ds: &Value, now: SystemTime) -> Vec<Value> {
    let status = &ds["status"];
    let [names, images] = containers(ds);
    vec![
        object::name(ds),
        Value::from(int(status, &["desiredNumberScheduled"])),
        Value::from(int(status, &["currentNumberScheduled"])),
        Value::from(int(status, &["numberReady"])),
        Value::from(int(status, &["updatedNumberScheduled"])),
        Value::from(int(status, &["numberAvailable"])),
        Value::from(labels::format_labels(
            ds,
            &["spec", "template", "spec", "nodeSelector"],
        )),
        object::age(ds, now),
        names,
        images,
        Value::from(labels::format_selector(field(ds, &["spec", "selector"]))),
    ]
}

const STATEFUL_SET_COLUMNS: &[Column] = &[NAME, READY_OF_DESIRED, AGE, CONTAINERS, IMAGES];

fn stateful_set_row(sts: &Value, now: SystemTime) -> Vec<Value> {
    let ready = int(sts, &["status", "readyReplicas"]);
    let [names, images] = containers(sts);
    vec![
        object::name(sts),
        Value::from(format!("{ready}/{}", desired_replicas(sts))),
        object::age(sts, now),
        names,
        images,
    ]
}

const CONTROLLER_REVISION_COLUMNS: &[Column] = &[
    NAME,
    Column::text(
        "Controller",
        "The object that owns the revision, as kind.group/name.",
    ),
    Column::text("Revision", "The revision's number in its owner's history."),
    AGE,
];

fn controller_revision_row(rev: &Value, now: SystemTime) -> Vec<Value> {
    let controller = items(rev, &["metadata", "ownerReferences"])
        .iter()
        .find(|r| object::flag(r, &["controller"]))
        .map_or_else(
            || "<none>".to_string(),
            |r| {
                // The group is what precedes the version in apiVersion; the core group has none.
                let group = text(r, &["apiVersion"])
                    .rsplit_once('/')
                    .map_or("", |(group, _)| group);
                let kind = text(r, &["kind"]);
                let group_kind = match (kind, group) {
                    ("", "") => String::new(),
                    (kind, "") => kind.to_string(),
                    (kind, group) => format!("{kind}.{group}"),
                };
                let name = text(r, &["name"]);
                if group_kind.is_empty() {
                    name.to_string()
                } else {
                    format!("{}/{name}", group_kind.to_lowercase())
                }
            },
        );
    vec![
        object::name(rev),
        Value::from(controller),
        Value::from(int(rev, &["revision"])),
        object::age(rev, now),
    ]
}
