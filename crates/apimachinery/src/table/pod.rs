//! The pods table, whose STATUS is kubectl's well-known summary of a pod: `Init:1/2`,
//! `ContainerCreating`, `CrashLoopBackOff`, `Completed`, `Terminating`, `Unknown`...

use std::time::SystemTime;

use serde_json::{Value, json};

use super::age::{self, Timestamp};
use super::object::{self, field, flag, int, is_set, items, text};
use super::{AGE, Column, NAME, Printer};

pub(super) const PRINTERS: &[Printer] = &[Printer {
    conditions,
    ..Printer::new("", "pods", COLUMNS, row)
}];

const COLUMNS: &[Column] = &[
    NAME,
    Column::text("Ready", "Ready containers out of all the pod's containers."),
    Column::text(
        "Status",
        "A summary of the pod's phase and its containers' states.",
    ),
    Column::text(
        "Restarts",
        "Restarts of the pod's containers, and how long ago the latest one was.",
    ),
    AGE,
    Column::text("IP", "The pod's primary IP address.").wide(),
    Column::text("Node", "The node the pod is bound to.").wide(),
    Column::text(
        "Nominated Node",
        "The node the scheduler means to place the pod on once preemption frees room.",
    )
    .wide(),
    Column::text(
        "Readiness Gates",
        "The pod's readiness gates that are met, out of all it declares.",
    )
    .wide(),
];

/// The pod's reason when its node stopped responding and the node controller is deleting it.
const NODE_LOST: &str = "NodeLost";

fn row(pod: &Value, now: SystemTime) -> Vec<Value> {
    let summary = Summary::of(pod);
    let restarts = match summary.last_restart {
        Some(at) if summary.restarts != 0 => {
            format!("{} ({} ago)", summary.restarts, age::since(Some(at), now))
        }
        _ => summary.restarts.to_string(),
    };
    let status = &pod["status"];
    vec![
        object::name(pod),
        Value::from(format!("{}/{}", summary.ready, summary.total)),
        Value::from(summary.reason),
        Value::from(restarts),
        object::age(pod, now),
        Value::from(object::or_none(pod_ip(status))),
        Value::from(object::or_none(text(pod, &["spec", "nodeName"]))),
        Value::from(object::or_none(text(status, &["nominatedNodeName"]))),
        Value::from(readiness_gates(pod)),
    ]
}

/// A finished pod's row is marked `Completed`, which lets clients tell it from a live one.
fn conditions(pod: &Value) -> Option<Value> {
    let (reason, message) = match text(pod, &["status", "phase"]) {
        "Succeeded" => ("Succeeded", "The pod has completed successfully."),
        "Failed" => ("Failed", "The pod failed."),
        _ => return None,
    };
    Some(json!([{
        "type": "Completed",
        "status": "True",
        "reason": reason,
        "message": message,
    }]))
}

/// The primary IP. `podIP` wins over `podIPs[0]` when both are set, as in kube's conversion.
fn pod_ip(status: &Value) -> &str {
    match text(status, &["podIP"]) {
        "" => items(status, &["podIPs"])
            .first()
            .map_or("", |ip| text(ip, &["ip"])),
        ip => ip,
    }
}

fn readiness_gates(pod: &Value) -> String {
    let gates = items(pod, &["spec", "readinessGates"]);
    if gates.is_empty() {
        return "<none>".to_string();
    }
    let conditions = items(pod, &["status", "conditions"]);
    let met = gates
        .iter()
        .filter(|gate| {
            let wanted = text(gate, &["conditionType"]);
            conditions
                .iter()
                .find(|c| text(c, &["type"]) == wanted)
                .is_some_and(|c| text(c, &["status"]) == "True")
        })
        .count();
    format!("{met}/{}", gates.len())
}

/// What the READY, STATUS and RESTARTS cells say about a pod.
#[derive(Debug)]
struct Summary {
    ready: usize,
    total: usize,
    reason: String,
    restarts: i64,
    last_restart: Option<Timestamp>,
}

impl Summary {
    fn of(pod: &Value) -> Summary {
        let spec = &pod["spec"];
        let status = &pod["status"];
        let init_specs = items(spec, &["initContainers"]);
        // Sidecars are init containers that keep running; they count as the pod's containers.
        let is_sidecar = |name: &str| {
            init_specs
                .iter()
                .any(|c| text(c, &["name"]) == name && text(c, &["restartPolicy"]) == "Always")
        };
        let sidecars = init_specs
            .iter()
            .filter(|c| text(c, &["restartPolicy"]) == "Always")
            .count();

        let phase = text(status, &["phase"]);
        let mut reason = match text(status, &["reason"]) {
            "" => phase.to_string(),
            r => r.to_string(),
        };
        let gated = items(status, &["conditions"]).iter().any(|c| {
            text(c, &["type"]) == "PodScheduled" && text(c, &["reason"]) == "SchedulingGated"
        });
        if gated {
            reason = "SchedulingGated".to_string();
        }

        let mut summary = Summary {
            ready: 0,
            total: items(spec, &["containers"]).len() + sidecars,
            reason,
            restarts: 0,
            last_restart: None,
        };
        let mut sidecar_restarts = 0;
        let mut last_sidecar_restart = None;
        let mut initializing = false;
        for (i, cs) in items(status, &["initContainerStatuses"]).iter().enumerate() {
            let sidecar = is_sidecar(text(cs, &["name"]));
            summary.restarts += int(cs, &["restartCount"]);
            later(&mut summary.last_restart, last_termination(cs));
            if sidecar {
                sidecar_restarts += int(cs, &["restartCount"]);
                later(&mut last_sidecar_restart, last_termination(cs));
            }
            let terminated = field(cs, &["state", "terminated"]);
            let waiting_reason = text(cs, &["state", "waiting", "reason"]);
            if !terminated.is_null() && int(terminated, &["exitCode"]) == 0 {
                continue;
            }
            if sidecar && flag(cs, &["started"]) {
                if flag(cs, &["ready"]) {
                    summary.ready += 1;
                }
                continue;
            }
            summary.reason = if !terminated.is_null() {
                format!("Init:{}", termination_reason(terminated))
            } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
                format!("Init:{waiting_reason}")
            } else {
                format!("Init:{i}/{}", init_specs.len())
            };
            initializing = true;
            break;
        }

        if !initializing || has_condition(status, "Initialized") {
            summary.restarts = sidecar_restarts;
            summary.last_restart = last_sidecar_restart;
            let mut has_running = false;
            // Walking backwards leaves the first container's state as the pod's reason.
            for cs in items(status, &["containerStatuses"]).iter().rev() {
                summary.restarts += int(cs, &["restartCount"]);
                later(&mut summary.last_restart, last_termination(cs));
                let waiting_reason = text(cs, &["state", "waiting", "reason"]);
                let terminated = field(cs, &["state", "terminated"]);
                if !waiting_reason.is_empty() {
                    summary.reason = waiting_reason.to_string();
                } else if !terminated.is_null() {
                    summary.reason = termination_reason(terminated);
                } else if flag(cs, &["ready"]) && is_set(cs, &["state", "running"]) {
                    has_running = true;
                    summary.ready += 1;
                }
            }
            // A pod whose first container finished while others still run is not Completed.
            if summary.reason == "Completed" && has_running {
                summary.reason = if has_condition(status, "Ready") {
                    "Running".to_string()
                } else {
                    "NotReady".to_string()
                };
            }
        }

        if is_set(pod, &["metadata", "deletionTimestamp"]) {
            if text(status, &["reason"]) == NODE_LOST {
                summary.reason = "Unknown".to_string();
            } else if phase != "Succeeded" && phase != "Failed" {
                summary.reason = "Terminating".to_string();
            }
        }
        summary
    }
}

/// When the container last terminated, if it ever restarted.
fn last_termination(cs: &Value) -> Option<Timestamp> {
    Timestamp::from_value(field(cs, &["lastState", "terminated", "finishedAt"]))
        .filter(|t| !t.is_zero())
}

/// Keeps the later of two instants in `latest`.
fn later(latest: &mut Option<Timestamp>, candidate: Option<Timestamp>) {
    if candidate > *latest {
        *latest = candidate;
    }
}

/// A terminated state's reason, else its signal or exit code (`Signal:9`, `ExitCode:1`).
fn termination_reason(terminated: &Value) -> String {
    match text(terminated, &["reason"]) {
        "" if int(terminated, &["signal"]) != 0 => {
            format!("Signal:{}", int(terminated, &["signal"]))
        }
        "" => format!("ExitCode:{}", int(terminated, &["exitCode"])),
        reason => reason.to_string(),
    }
}

/// Whether the pod condition of this type is `True`.
fn has_condition(status: &Value, kind: &str) -> bool {
    items(status, &["conditions"])
        .iter()
        .find(|c| text(c, &["type"]) == kind)
        .is_some_and(|c| text(c, &["status"]) == "True")
}
