//! A pod's status as the kubelet reports it: container statuses from the containers' states, the
//! phase (Kubernetes' rules for restart policies and init containers) and the conditions. Pure:
//! the worker describes its containers and gets the `PodStatus` to write.

use std::net::Ipv4Addr;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus, HostIP, Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// How a container instance ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Terminated {
    pub exit_code: i32,
    /// `Completed`, `Error`, `StartError`...
    pub reason: String,
    pub message: Option<String>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Timestamp,
    pub container_id: Option<String>,
}

/// A container's current state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum State {
    Waiting {
        reason: String,
        message: Option<String>,
    },
    Running {
        started_at: Timestamp,
        container_id: String,
    },
    Terminated(Terminated),
}

impl State {
    pub(crate) fn waiting(reason: &str, message: Option<String>) -> State {
        State::Waiting {
            reason: reason.to_string(),
            message,
        }
    }
}

/// What the worker knows of one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContainerView {
    pub name: String,
    pub image: String,
    /// Empty while the image is not available.
    pub image_id: String,
    pub state: State,
    /// How the previous instance ended.
    pub last: Option<Terminated>,
    pub restart_count: i32,
    pub ready: bool,
    pub started: bool,
}

/// What the worker knows of the pod.
#[derive(Debug, Clone)]
pub(crate) struct PodView<'a> {
    /// The pod as the API server has it: its spec, and the conditions others set.
    pub pod: &'a Pod,
    pub pod_ip: Option<Ipv4Addr>,
    pub host_ip: Ipv4Addr,
    pub start_time: Timestamp,
    pub init: &'a [ContainerView],
    pub containers: &'a [ContainerView],
    /// The pod's IP and directories are set up, and it is not being torn down.
    pub sandbox_ready: bool,
    /// The pod's containers are stopped for good (it was deleted or failed as a whole): its
    /// phase is Succeeded or Failed.
    pub terminal: bool,
    /// Why the whole pod failed (`DeadlineExceeded`, `OutOfpods`), with a message.
    pub reason: Option<(String, String)>,
    /// The conditions this kubelet last computed, whose transition times carry over; without
    /// them, the pod's own (a status written before the API server has shown it back must not
    /// look changed).
    pub previous: Option<&'a [PodCondition]>,
    pub now: Timestamp,
}

/// The conditions the kubelet owns, in the order it lists them.
const OWN_CONDITIONS: [&str; 5] = [
    "PodReadyToStartContainers",
    "Initialized",
    "Ready",
    "ContainersReady",
    "PodScheduled",
];

fn restart_policy(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("Always")
}

/// Whether an init container has done its work.
fn init_done(c: &ContainerView) -> bool {
    matches!(&c.state, State::Terminated(t) if t.exit_code == 0)
}

/// The pod's phase by Kubernetes' rules.
pub(crate) fn phase(view: &PodView<'_>) -> &'static str {
    let policy = restart_policy(view.pod);
    let exited_ok = |c: &ContainerView| match &c.state {
        State::Terminated(t) => t.exit_code == 0,
        _ => false,
    };
    if view.terminal {
        let all_ok = view.init.iter().all(init_done) && view.containers.iter().all(exited_ok);
        return if all_ok { "Succeeded" } else { "Failed" };
    }
    let init_failed = view
        .init
        .iter()
        .any(|c| matches!(&c.state, State::Terminated(t) if t.exit_code != 0));
    if init_failed && policy == "Never" {
        return "Failed";
    }
    if !view.init.iter().all(init_done) {
        return "Pending";
    }
    let (mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for c in view.containers {
        match &c.state {
            State::Running { .. } => running += 1,
            State::Terminated(t) => {
                stopped += 1;
                if t.exit_code == 0 {
                    succeeded += 1;
                }
            }
            // A container waiting to be restarted has run: it counts as stopped.
            State::Waiting { .. } if c.last.is_some() => stopped += 1,
            State::Waiting { .. } => waiting += 1,
        }
    }
    let total = view.containers.len();
    if waiting > 0 {
        "Pending"
    } else if running > 0 {
        "Running"
    } else if stopped == total && total > 0 {
        match policy {
            "Always" => "Running",
            _ if stopped == succeeded => "Succeeded",
            "Never" => "Failed",
            _ => "Running",
        }
    } else {
        "Pending"
    }
}

/// The pod's status.
pub(crate) fn pod_status(view: &PodView<'_>) -> PodStatus {
    let phase = phase(view);
    let previous = view.pod.status.as_ref();
    let ip = view.pod_ip.map(|ip| ip.to_string());
    let host = view.host_ip.to_string();
    PodStatus {
        phase: Some(phase.to_string()),
        conditions: Some(conditions(view, phase)),
        host_ip: Some(host.clone()),
        host_ips: Some(vec![HostIP { ip: host }]),
        pod_ip: ip.clone(),
        pod_ips: ip.map(|ip| vec![PodIP { ip }]),
        start_time: Some(Time(view.start_time)),
        init_container_statuses: (!view.init.is_empty())
            .then(|| view.init.iter().map(container_status).collect()),
        container_statuses: Some(view.containers.iter().map(container_status).collect()),
        qos_class: previous.and_then(|s| s.qos_class.clone()),
        reason: view.reason.as_ref().map(|(r, _)| r.clone()),
        message: view.reason.as_ref().map(|(_, m)| m.clone()),
        ..PodStatus::default()
    }
}

fn names<'a>(containers: impl Iterator<Item = &'a ContainerView>) -> String {
    let names: Vec<&str> = containers.map(|c| c.name.as_str()).collect();
    format!("[{}]", names.join(" "))
}

fn conditions(view: &PodView<'_>, phase: &str) -> Vec<PodCondition> {
    let completed = phase == "Succeeded";
    let pending_init: Vec<&ContainerView> = view.init.iter().filter(|c| !init_done(c)).collect();
    let unready: Vec<&ContainerView> = view.containers.iter().filter(|c| !c.ready).collect();
    let initialized = if completed {
        (true, Some("PodCompleted".to_string()), None)
    } else if pending_init.is_empty() {
        (true, None, None)
    } else {
        (
            false,
            Some("ContainersNotInitialized".to_string()),
            Some(format!(
                "containers with incomplete status: {}",
                names(pending_init.into_iter())
            )),
        )
    };
    let containers_ready = if completed {
        (false, Some("PodCompleted".to_string()), None)
    } else if unready.is_empty() {
        (true, None, None)
    } else {
        (
            false,
            Some("ContainersNotReady".to_string()),
            Some(format!(
                "containers with unready status: {}",
                names(unready.into_iter())
            )),
        )
    };
    let ready = match (&containers_ready, readiness_gates(view.pod)) {
        ((true, _, _), Some(message)) => (
            false,
            Some("ReadinessGatesNotReady".to_string()),
            Some(message),
        ),
        (containers, _) => containers.clone(),
    };
    let own = [
        (view.sandbox_ready, None, None),
        initialized,
        ready,
        containers_ready,
        (true, None, None),
    ];
    let on_pod: &[PodCondition] = view
        .pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let previous = view.previous.unwrap_or(on_pod);
    let mut out: Vec<PodCondition> = OWN_CONDITIONS
        .iter()
        .zip(own)
        .map(|(type_, (status, reason, message))| {
            let status = if status { "True" } else { "False" };
            // A condition that keeps its status keeps the time it last changed.
            let since = previous
                .iter()
                .find(|c| c.type_ == *type_ && c.status == status)
                .and_then(|c| c.last_transition_time.clone())
                .unwrap_or(Time(view.now));
            PodCondition {
                type_: type_.to_string(),
                status: status.to_string(),
                reason,
                message,
                last_transition_time: Some(since),
                ..PodCondition::default()
            }
        })
        .collect();
    // Conditions others own (DisruptionTarget, readiness gates...) stay as they are.
    out.extend(
        on_pod
            .iter()
            .filter(|c| !OWN_CONDITIONS.contains(&c.type_.as_str()))
            .cloned(),
    );
    out
}

/// Why the pod's readiness gates hold it back, if they do.
fn readiness_gates(pod: &Pod) -> Option<String> {
    let gates = pod.spec.as_ref()?.readiness_gates.as_ref()?;
    let conditions = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let mut missing = Vec::new();
    for gate in gates {
        let type_ = &gate.condition_type;
        match conditions.iter().find(|c| &c.type_ == type_) {
            None => missing.push(format!(
                "corresponding condition of pod readiness gate {type_:?} does not exist."
            )),
            Some(c) if c.status != "True" => missing.push(format!(
                "the status of pod readiness gate {type_:?} is not \"True\", but {}",
                c.status
            )),
            Some(_) => {}
        }
    }
    (!missing.is_empty()).then(|| missing.join(", "))
}

fn terminated(t: &Terminated) -> ContainerStateTerminated {
    ContainerStateTerminated {
        exit_code: t.exit_code,
        reason: Some(t.reason.clone()),
        message: t.message.clone(),
        started_at: t.started_at.map(Time),
        finished_at: Some(Time(t.finished_at)),
        container_id: t.container_id.clone(),
        signal: None,
    }
}

fn container_status(c: &ContainerView) -> ContainerStatus {
    let (state, id) = match &c.state {
        State::Waiting { reason, message } => (
            ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some(reason.clone()),
                    message: message.clone(),
                }),
                ..ContainerState::default()
            },
            c.last.as_ref().and_then(|t| t.container_id.clone()),
        ),
        State::Running {
            started_at,
            container_id,
        } => (
            ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: Some(Time(*started_at)),
                }),
                ..ContainerState::default()
            },
            Some(container_id.clone()),
        ),
        State::Terminated(t) => (
            ContainerState {
                terminated: Some(terminated(t)),
                ..ContainerState::default()
            },
            t.container_id.clone(),
        ),
    };
    ContainerStatus {
        name: c.name.clone(),
        image: c.image.clone(),
        image_id: c.image_id.clone(),
        container_id: id,
        state: Some(state),
        last_state: Some(ContainerState {
            terminated: c.last.as_ref().map(terminated),
            ..ContainerState::default()
        }),
        ready: c.ready,
        started: Some(c.started),
        restart_count: c.restart_count,
        ..ContainerStatus::default()
    }
}

#[cfg(test)]
mod tests;
