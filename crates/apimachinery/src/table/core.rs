//! Tables of the core group (`/api/v1`), pods aside: nodes, services, endpoints, events,
//! namespaces, secrets, config maps and service accounts.

use std::collections::BTreeSet;
use std::time::SystemTime;

use serde_json::Value;

use super::age::{self, Timestamp};
use super::object::{self, count, field, flag, int, items, text};
use super::{AGE, Column, NAME, Printer, labels};

pub(super) const PRINTERS: &[Printer] = &[
    Printer::new("", "nodes", NODE_COLUMNS, node_row),
    Printer::new("", "services", SERVICE_COLUMNS, service_row),
    Printer::new("", "endpoints", ENDPOINTS_COLUMNS, endpoints_row),
    Printer::new("", "events", EVENT_COLUMNS, event_row),
    Printer::new("", "namespaces", NAMESPACE_COLUMNS, namespace_row),
    Printer::new("", "secrets", SECRET_COLUMNS, secret_row),
    Printer::new("", "configmaps", CONFIG_MAP_COLUMNS, config_map_row),
    Printer::new(
        "",
        "serviceaccounts",
        SERVICE_ACCOUNT_COLUMNS,
        service_account_row,
    ),
];

const NODE_COLUMNS: &[Column] = &[
    NAME,
    Column::text(
        "Status",
        "Whether the node is ready, and whether scheduling on it is disabled.",
    ),
    Column::text("Roles", "The roles named by the node's role labels."),
    AGE,
    Column::text("Version", "Version of the node's kubelet."),
    Column::text("Internal-IP", "The node's first internal address.").wide(),
    Column::text("External-IP", "The node's first external address.").wide(),
    Column::text("OS-Image", "Operating system image the node reports.").wide(),
    Column::text("Kernel-Version", "Kernel version the node reports.").wide(),
    Column::text(
        "Container-Runtime",
        "Container runtime and its version on the node.",
    )
    .wide(),
];

/// Prefix of the labels that give a node a role: `node-role.kubernetes.io/control-plane`.
const NODE_ROLE_PREFIX: &str = "node-role.kubernetes.io/";
/// The older label whose value names the node's role.
const NODE_ROLE_LABEL: &str = "kubernetes.io/role";

fn node_row(node: &Value, now: SystemTime) -> Vec<Value> {
    let status = &node["status"];
    let mut state: Vec<String> = items(status, &["conditions"])
        .iter()
        // A repeated condition type counts once, as its last entry.
        .rfind(|c| text(c, &["type"]) == "Ready")
        .map(|c| match text(c, &["status"]) {
            "True" => "Ready".to_string(),
            _ => "NotReady".to_string(),
        })
        .into_iter()
        .collect();
    if state.is_empty() {
        state.push("Unknown".to_string());
    }
    if flag(node, &["spec", "unschedulable"]) {
        state.push("SchedulingDisabled".to_string());
    }

    let roles: BTreeSet<&str> = object::string_map(node, &["metadata", "labels"])
        .into_iter()
        .filter_map(|(key, value)| match key.strip_prefix(NODE_ROLE_PREFIX) {
            Some(role) if !role.is_empty() => Some(role),
            Some(_) => None,
            None => (key == NODE_ROLE_LABEL && !value.is_empty()).then_some(value),
        })
        .collect();
    let roles = roles.into_iter().collect::<Vec<_>>().join(",");

    let info = &status["nodeInfo"];
    let or_unknown = |key: &str| match text(info, &[key]) {
        "" => "<unknown>".to_string(),
        v => v.to_string(),
    };
    vec![
        object::name(node),
        Value::from(state.join(",")),
        Value::from(object::or_none(&roles)),
        object::age(node, now),
        Value::from(text(info, &["kubeletVersion"])),
        Value::from(node_address(status, "InternalIP")),
        Value::from(node_address(status, "ExternalIP")),
        Value::from(or_unknown("osImage")),
        Value::from(or_unknown("kernelVersion")),
        Value::from(or_unknown("containerRuntimeVersion")),
    ]
}

fn node_address(status: &Value, kind: &str) -> String {
    let found = items(status, &["addresses"])
        .iter()
        .find(|a| text(a, &["type"]) == kind);
    object::or_none(found.map_or("", |a| text(a, &["address"])))
}

const SERVICE_COLUMNS: &[Column] = &[
    NAME,
    Column::text(
        "Type",
        "How the service is exposed: ClusterIP, NodePort, LoadBalancer or ExternalName.",
    ),
    Column::text(
        "Cluster-IP",
        "The virtual IP the service has inside the cluster.",
    ),
    Column::text(
        "External-IP",
        "Addresses that reach the service from outside the cluster.",
    ),
    Column::text(
        "Port(s)",
        "The service's ports, with node ports and protocols.",
    ),
    AGE,
    Column::text("Selector", "Labels of the pods that back the service.").wide(),
];

fn service_row(svc: &Value, now: SystemTime) -> Vec<Value> {
    let spec = &svc["spec"];
    // Defaulting gives every stored service a type and every port a protocol.
    let kind = match text(spec, &["type"]) {
        "" => "ClusterIP",
        kind => kind,
    };
    // `clusterIP` wins over `clusterIPs[0]` when both are set, as in kube's conversion.
    let cluster_ip = match text(spec, &["clusterIP"]) {
        "" => items(spec, &["clusterIPs"])
            .first()
            .and_then(Value::as_str)
            .unwrap_or(""),
        ip => ip,
    };
    let ports = items(spec, &["ports"])
        .iter()
        .map(|p| {
            let protocol = match text(p, &["protocol"]) {
                "" => "TCP",
                protocol => protocol,
            };
            match int(p, &["nodePort"]) {
                node_port if node_port > 0 => {
                    format!("{}:{node_port}/{protocol}", int(p, &["port"]))
                }
                _ => format!("{}/{protocol}", int(p, &["port"])),
            }
        })
        .collect::<Vec<_>>()
        .join(",");
    vec![
        object::name(svc),
        Value::from(kind),
        Value::from(object::or_none(cluster_ip)),
        Value::from(service_external_ip(svc, kind)),
        Value::from(object::or_none(&ports)),
        object::age(svc, now),
        Value::from(labels::format_labels(spec, &["selector"])),
    ]
}

fn service_external_ip(svc: &Value, kind: &str) -> String {
    let external: Vec<&str> = items(svc, &["spec", "externalIPs"])
        .iter()
        .filter_map(Value::as_str)
        .collect();
    match kind {
        "ClusterIP" | "NodePort" if external.is_empty() => "<none>".to_string(),
        "ClusterIP" | "NodePort" => external.join(","),
        "LoadBalancer" => {
            // Ingress points are de-duplicated and sorted. The server prints wide, so a long
            // list is never clipped.
            let ingress: BTreeSet<&str> = items(svc, &["status", "loadBalancer", "ingress"])
                .iter()
                .map(|i| match text(i, &["ip"]) {
                    "" => text(i, &["hostname"]),
                    ip => ip,
                })
                .filter(|s| !s.is_empty())
                .collect();
            let all: Vec<&str> = ingress.into_iter().chain(external).collect();
            if all.is_empty() {
                "<pending>".to_string()
            } else {
                all.join(",")
            }
        }
        "ExternalName" => text(svc, &["spec", "externalName"]).to_string(),
        _ => "<unknown>".to_string(),
    }
}

const ENDPOINTS_COLUMNS: &[Column] = &[
    NAME,
    Column::text(
        "Endpoints",
        "Addresses and ports of the service's endpoints.",
    ),
    AGE,
];

/// How many endpoints a cell lists before it sums up the rest.
const ENDPOINTS_SHOWN: usize = 3;

fn endpoints_row(ep: &Value, now: SystemTime) -> Vec<Value> {
    let subsets = items(ep, &["subsets"]);
    let cell = if subsets.is_empty() {
        "<none>".to_string()
    } else {
        let mut all = Vec::new();
        for subset in subsets {
            let addresses = items(subset, &["addresses"]);
            let ports = items(subset, &["ports"]);
            if ports.is_empty() {
                // A headless service may have no ports.
                all.extend(addresses.iter().map(|a| text(a, &["ip"]).to_string()));
            }
            for port in ports {
                for address in addresses {
                    all.push(host_port(text(address, &["ip"]), int(port, &["port"])));
                }
            }
        }
        let shown = all.len().min(ENDPOINTS_SHOWN);
        let list = all[..shown].join(",");
        if all.len() > ENDPOINTS_SHOWN {
            format!("{list} + {} more...", all.len() - ENDPOINTS_SHOWN)
        } else {
            list
        }
    };
    vec![object::name(ep), Value::from(cell), object::age(ep, now)]
}

/// `ip:port`, with an IPv6 address in brackets.
fn host_port(ip: &str, port: i64) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

const EVENT_COLUMNS: &[Column] = &[
    Column::text("Last Seen", "How long ago the event was last seen."),
    Column::text("Type", "Whether the event is Normal or a Warning."),
    Column::text("Reason", "A short, machine-readable cause of the event."),
    Column::text("Object", "The object the event is about, as kind/name."),
    Column::text(
        "Subobject",
        "The part of the object the event is about, such as a container.",
    )
    .wide(),
    Column::text(
        "Source",
        "The component, and host, that reported the event.",
    )
    .wide(),
    Column::text("Message", "What happened, for humans."),
    Column::text("First Seen", "How long ago the event was first seen.").wide(),
    Column::text("Count", "How many times the event has happened.").wide(),
    NAME.wide(),
];

fn event_row(event: &Value, now: SystemTime) -> Vec<Value> {
    let micro_since = |path: &[&str]| age::since(Timestamp::from_value(field(event, path)), now);
    let mut first_seen = object::since(event, &["firstTimestamp"], now);
    if !is_time_set(event, &["firstTimestamp"]) {
        first_seen = micro_since(&["eventTime"]);
    }
    let mut last_seen = object::since(event, &["lastTimestamp"], now);
    if !is_time_set(event, &["lastTimestamp"]) {
        last_seen = first_seen.clone();
    }
    let mut count = int(event, &["count"]);
    if object::is_set(event, &["series"]) {
        last_seen = micro_since(&["series", "lastObservedTime"]);
        count = int(event, &["series", "count"]);
    } else if count == 0 {
        // Events written through events.k8s.io leave the count unset when they happened once.
        count = 1;
    }

    let involved = &event["involvedObject"];
    let kind = text(involved, &["kind"]).to_lowercase();
    let target = match text(involved, &["name"]) {
        "" => kind,
        name => format!("{kind}/{name}"),
    };
    let first_non_empty = |a: &'static str, b: &'static str| match text(event, &["source", a]) {
        "" => text(event, &[b]),
        v => v,
    };
    let component = first_non_empty("component", "reportingComponent");
    let host = first_non_empty("host", "reportingInstance");
    let source = if host.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {host}")
    };
    vec![
        Value::from(last_seen),
        Value::from(text(event, &["type"])),
        Value::from(text(event, &["reason"])),
        Value::from(target),
        Value::from(text(involved, &["fieldPath"])),
        Value::from(source),
        Value::from(text(event, &["message"]).trim()),
        Value::from(first_seen),
        Value::from(count),
        object::name(event),
    ]
}

fn is_time_set(v: &Value, path: &[&str]) -> bool {
    Timestamp::from_value(field(v, path)).is_some_and(|t| !t.is_zero())
}

const NAMESPACE_COLUMNS: &[Column] = &[
    NAME,
    Column::text(
        "Status",
        "The namespace's lifecycle phase: Active or Terminating.",
    ),
    AGE,
];

fn namespace_row(ns: &Value, now: SystemTime) -> Vec<Value> {
    vec![
        object::name(ns),
        Value::from(text(ns, &["status", "phase"])),
        object::age(ns, now),
    ]
}

const SECRET_COLUMNS: &[Column] = &[
    NAME,
    Column::text(
        "Type",
        "The kind of secret, which decides the keys it must hold.",
    ),
    Column::text("Data", "How many keys the secret holds."),
    AGE,
];

fn secret_row(secret: &Value, now: SystemTime) -> Vec<Value> {
    vec![
        object::name(secret),
        Value::from(text(secret, &["type"])),
        Value::from(count(secret, &["data"])),
        object::age(secret, now),
    ]
}

const CONFIG_MAP_COLUMNS: &[Column] = &[
    NAME,
    Column::text(
        "Data",
        "How many keys the config map holds, text and binary.",
    ),
    AGE,
];

fn config_map_row(cm: &Value, now: SystemTime) -> Vec<Value> {
    vec![
        object::name(cm),
        Value::from(count(cm, &["data"]) + count(cm, &["binaryData"])),
        object::age(cm, now),
    ]
}

const SERVICE_ACCOUNT_COLUMNS: &[Column] = &[
    NAME,
    Column::text("Secrets", "How many secrets the service account lists."),
    AGE,
];

fn service_account_row(sa: &Value, now: SystemTime) -> Vec<Value> {
    vec![
        object::name(sa),
        Value::from(count(sa, &["secrets"])),
        object::age(sa, now),
    ]
}
