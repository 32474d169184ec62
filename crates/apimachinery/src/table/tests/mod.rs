//! Tests of the table printers: every resource's columns and cells against what kube-apiserver
//! 1.33 answers for the same object, and the Table document around them.

mod core;
mod groups;
mod pods;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::{Column, cells, columns, find, is_include_object, table};
use crate::resource::RESOURCES;

/// The server's clock in every test: 2024-05-01T10:00:00Z.
fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_714_557_600)
}

/// Checks each object's cells, naming the case that fails.
fn assert_rows(group: &str, plural: &str, cases: &[(&str, Value, Value)]) {
    for (case, obj, want) in cases {
        let got = Value::Array(cells(group, plural, obj, now()));
        assert_eq!(&got, want, "{plural}: {case}");
        assert_eq!(
            got.as_array().map(Vec::len),
            Some(columns(group, plural).len()),
            "{plural}: {case}: one cell per column"
        );
    }
}

/// Object metadata: a name and a creation time, plus whatever else `extra` holds.
fn meta(name: &str, created: &str, extra: Value) -> Value {
    let mut meta = json!({"name": name, "creationTimestamp": created});
    if let (Some(meta), Value::Object(extra)) = (meta.as_object_mut(), extra) {
        meta.extend(extra);
    }
    meta
}

/// Served resources that kube-apiserver prints with the default table: RBAC roles have no
/// printer, and reviews are answered, never listed.
const DEFAULT_TABLE: &[(&str, &str)] = &[
    ("rbac.authorization.k8s.io", "roles"),
    ("rbac.authorization.k8s.io", "clusterroles"),
    ("authentication.k8s.io", "selfsubjectreviews"),
    ("authentication.k8s.io", "tokenreviews"),
    ("authorization.k8s.io", "selfsubjectaccessreviews"),
    ("authorization.k8s.io", "selfsubjectrulesreviews"),
    ("authorization.k8s.io", "subjectaccessreviews"),
];

#[test]
fn every_resource_has_a_printer_or_is_known_to_use_the_default() {
    for r in RESOURCES {
        let printed = find(r.group, r.plural).is_some();
        let by_default = DEFAULT_TABLE.contains(&(r.group, r.plural));
        assert!(
            printed != by_default,
            "{}: a printer of its own xor the default table",
            r.qualified_plural()
        );
    }
}

#[test]
fn columns_are_well_formed() {
    let kinds = ["string", "integer", "number", "boolean", "date"];
    for r in RESOURCES {
        let cols = columns(r.group, r.plural);
        let names: Vec<&Column> = cols.iter().filter(|c| c.format == "name").collect();
        assert_eq!(names.len(), 1, "{}: one name column", r.plural);
        for c in &cols {
            assert!(
                kinds.contains(&c.kind),
                "{}: {} type {}",
                r.plural,
                c.name,
                c.kind
            );
            assert!(c.priority <= 1, "{}: {}", r.plural, c.name);
            assert!(!c.description.is_empty(), "{}: {}", r.plural, c.name);
        }
        // An empty object still yields one cell per column, never a panic.
        let row = cells(r.group, r.plural, &json!({}), now());
        assert_eq!(row.len(), cols.len(), "{}", r.plural);
    }
}

#[test]
fn column_names_and_priorities_match_kube() {
    let cases: &[(&str, &str, &[&str], &[&str])] = &[
        (
            "",
            "nodes",
            &["Name", "Status", "Roles", "Age", "Version"],
            &[
                "Internal-IP",
                "External-IP",
                "OS-Image",
                "Kernel-Version",
                "Container-Runtime",
            ],
        ),
        (
            "",
            "pods",
            &["Name", "Ready", "Status", "Restarts", "Age"],
            &["IP", "Node", "Nominated Node", "Readiness Gates"],
        ),
        (
            "apps",
            "deployments",
            &["Name", "Ready", "Up-to-date", "Available", "Age"],
            &["Containers", "Images", "Selector"],
        ),
        (
            "",
            "services",
            &[
                "Name",
                "Type",
                "Cluster-IP",
                "External-IP",
                "Port(s)",
                "Age",
            ],
            &["Selector"],
        ),
        (
            "",
            "events",
            &["Last Seen", "Type", "Reason", "Object", "Message"],
            &["Subobject", "Source", "First Seen", "Count", "Name"],
        ),
        ("", "secrets", &["Name", "Type", "Data", "Age"], &[]),
        ("", "configmaps", &["Name", "Data", "Age"], &[]),
        ("", "namespaces", &["Name", "Status", "Age"], &[]),
        ("", "serviceaccounts", &["Name", "Secrets", "Age"], &[]),
        ("", "endpoints", &["Name", "Endpoints", "Age"], &[]),
        (
            "apps",
            "replicasets",
            &["Name", "Desired", "Current", "Ready", "Age"],
            &["Containers", "Images", "Selector"],
        ),
        (
            "apps",
            "daemonsets",
            &[
                "Name",
                "Desired",
                "Current",
                "Ready",
                "Up-to-date",
                "Available",
                "Node Selector",
                "Age",
            ],
            &["Containers", "Images", "Selector"],
        ),
        (
            "apps",
            "statefulsets",
            &["Name", "Ready", "Age"],
            &["Containers", "Images"],
        ),
        (
            "apps",
            "controllerrevisions",
            &["Name", "Controller", "Revision", "Age"],
            &[],
        ),
        (
            "policy",
            "poddisruptionbudgets",
            &[
                "Name",
                "Min Available",
                "Max Unavailable",
                "Allowed Disruptions",
                "Age",
            ],
            &[],
        ),
        (
            "rbac.authorization.k8s.io",
            "roles",
            &["Name", "Created At"],
            &[],
        ),
        (
            "rbac.authorization.k8s.io",
            "clusterroles",
            &["Name", "Created At"],
            &[],
        ),
        (
            "rbac.authorization.k8s.io",
            "rolebindings",
            &["Name", "Role", "Age"],
            &["Users", "Groups", "ServiceAccounts"],
        ),
        (
            "rbac.authorization.k8s.io",
            "clusterrolebindings",
            &["Name", "Role", "Age"],
            &["Users", "Groups", "ServiceAccounts"],
        ),
        (
            "coordination.k8s.io",
            "leases",
            &["Name", "Holder", "Age"],
            &[],
        ),
        (
            "discovery.k8s.io",
            "endpointslices",
            &["Name", "AddressType", "Ports", "Endpoints", "Age"],
            &[],
        ),
        (
            "storage.k8s.io",
            "storageclasses",
            &[
                "Name",
                "Provisioner",
                "ReclaimPolicy",
                "VolumeBindingMode",
                "AllowVolumeExpansion",
                "Age",
            ],
            &[],
        ),
        (
            "authorization.k8s.io",
            "subjectaccessreviews",
            &["Name", "Created At"],
            &[],
        ),
    ];
    for (group, plural, shown, wide) in cases {
        let cols = columns(group, plural);
        let by_priority = |p: u8| -> Vec<&str> {
            cols.iter()
                .filter(|c| c.priority == p)
                .map(|c| c.name)
                .collect()
        };
        assert_eq!(by_priority(0), *shown, "{plural}");
        assert_eq!(by_priority(1), *wide, "{plural}");
    }
}

#[test]
fn column_types_match_kube() {
    let types =
        |group, plural| -> Vec<&str> { columns(group, plural).iter().map(|c| c.kind).collect() };
    assert_eq!(
        types("", "pods")[3],
        "string",
        "RESTARTS carries the time of the last one"
    );
    assert_eq!(types("apps", "replicasets")[1..4], ["integer"; 3]);
    assert_eq!(
        types("rbac.authorization.k8s.io", "roles"),
        ["string", "date"]
    );
    assert_eq!(types("policy", "poddisruptionbudgets")[3], "integer");
    let name = columns("", "pods")[0];
    assert_eq!(
        (name.name, name.kind, name.format),
        ("Name", "string", "name")
    );
}

fn pod(name: &str, phase: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": format!("uid-{name}"),
            "resourceVersion": "41",
            "creationTimestamp": "2024-05-01T09:00:00Z",
        },
        "spec": {"containers": [{"name": "app", "image": "busybox"}]},
        "status": {"phase": phase},
    })
}

#[test]
fn table_document_with_metadata_rows() {
    let objects = [pod("a", "Running"), pod("b", "Succeeded")];
    let got = table(
        "",
        "pods",
        &objects,
        json!({"resourceVersion": "42", "continue": "token", "remainingItemCount": 7}),
        "Metadata",
        now(),
    );
    assert_eq!(got["kind"], "Table");
    assert_eq!(got["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(
        got["metadata"],
        json!({"resourceVersion": "42", "continue": "token", "remainingItemCount": 7})
    );
    assert_eq!(
        got["columnDefinitions"][5],
        json!({
            "name": "IP",
            "type": "string",
            "format": "",
            "description": columns("", "pods")[5].description,
            "priority": 1,
        })
    );
    assert_eq!(got["columnDefinitions"].as_array().map(Vec::len), Some(9));

    let rows = got["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0]["cells"],
        json!([
            "a", "0/1", "Running", "0", "60m", "<none>", "<none>", "<none>", "<none>"
        ])
    );
    assert_eq!(
        rows[0]["object"],
        json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": objects[0]["metadata"],
        })
    );
    assert!(
        rows[0].get("conditions").is_none(),
        "a running pod has no row conditions"
    );
    assert_eq!(
        rows[1]["conditions"],
        json!([{
            "type": "Completed",
            "status": "True",
            "reason": "Succeeded",
            "message": "The pod has completed successfully.",
        }])
    );
}

#[test]
fn table_row_objects_follow_include_object() {
    let objects = [pod("a", "Failed")];
    let cases = [
        ("None", Value::Null),
        ("Object", objects[0].clone()),
        (
            "",
            json!({
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": objects[0]["metadata"],
            }),
        ),
    ];
    for (include, want) in cases {
        assert!(is_include_object(include));
        let got = table(
            "",
            "pods",
            &objects,
            json!({"resourceVersion": "9"}),
            include,
            now(),
        );
        assert_eq!(got["rows"][0]["object"], want, "includeObject={include}");
        assert_eq!(got["rows"][0]["conditions"][0]["reason"], "Failed");
        assert_eq!(got["metadata"], json!({"resourceVersion": "9"}));
    }
    assert!(!is_include_object("metadata"));
}

#[test]
fn empty_list_has_columns_and_no_rows() {
    let got = table(
        "rbac.authorization.k8s.io",
        "roles",
        &[],
        Value::Null,
        "",
        now(),
    );
    assert_eq!(got["rows"], json!([]));
    assert_eq!(got["metadata"], json!({}));
    assert_eq!(
        got["columnDefinitions"][1]["type"], "date",
        "the default table's second column is a date"
    );
}
