//! A pod worker's starting point: each container's slot, fresh for a new pod, or rebuilt from
//! the pod's status when a restarted kubelet finds a pod it ran before. Containers that were
//! running died with the previous kubelet: they count as ended (reason Unknown, exit code 255)
//! and restart as the pod's restart policy says, with their restart count bumped.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Container, ContainerStateTerminated, ContainerStatus, PodStatus};

use super::{Slot, Worker};
use crate::backoff::Backoff;
use crate::registry::LogFile;
use crate::status::{ContainerView, State, Terminated};

/// How a container that was running when the previous kubelet stopped is shown.
const UNKNOWN_EXIT: i32 = 255;

fn terminated(t: &ContainerStateTerminated) -> Terminated {
    Terminated {
        exit_code: t.exit_code,
        reason: t.reason.clone().unwrap_or_else(|| "Error".to_string()),
        message: t.message.clone(),
        started_at: t.started_at.as_ref().map(|t| t.0),
        finished_at: t.finished_at.as_ref().map_or_else(Timestamp::now, |t| t.0),
        container_id: t.container_id.clone(),
    }
}

/// A container's state as the previous kubelet left it: (state, last state, whether an
/// instance ran).
pub(super) fn previous_state(status: &ContainerStatus) -> Option<(State, Option<Terminated>)> {
    let last = status
        .last_state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .map(terminated);
    let state = status.state.as_ref()?;
    if let Some(running) = &state.running {
        let ended = Terminated {
            exit_code: UNKNOWN_EXIT,
            reason: "Unknown".to_string(),
            message: Some("the container stopped with the node's previous kubelet".to_string()),
            started_at: running.started_at.as_ref().map(|t| t.0),
            finished_at: Timestamp::now(),
            container_id: status.container_id.clone(),
        };
        return Some((State::Terminated(ended), last));
    }
    if let Some(t) = &state.terminated {
        return Some((State::Terminated(terminated(t)), last));
    }
    let waiting = state.waiting.as_ref()?;
    // Waiting after an instance ran (CrashLoopBackOff): runs again at once.
    last.is_some().then(|| {
        (
            State::waiting(
                waiting.reason.as_deref().unwrap_or("ContainerCreating"),
                waiting.message.clone(),
            ),
            last,
        )
    })
}

impl Worker {
    /// Builds the slots from the pod's spec and, after a kubelet restart, its status.
    pub(super) fn restore(&mut self) {
        let spec = self.pod.spec.clone().unwrap_or_default();
        let status = self.pod.status.clone().unwrap_or_default();
        if let Some(start) = &status.start_time {
            self.start_time = start.0;
        }
        let finished = matches!(status.phase.as_deref(), Some("Succeeded" | "Failed"));
        let initialized = status
            .conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "Initialized" && c.status == "True");
        let has_init = spec.init_containers.as_ref().is_some_and(|i| !i.is_empty());
        let init: Vec<Slot> = spec
            .init_containers
            .unwrap_or_default()
            .into_iter()
            .map(|c| {
                let done = finished || initialized;
                self.slot_from(c, true, status.init_container_statuses.as_deref(), done)
            })
            .collect();
        let waiting = if has_init {
            "PodInitializing"
        } else {
            "ContainerCreating"
        };
        let main: Vec<Slot> = spec
            .containers
            .into_iter()
            .map(|c| {
                let mut slot =
                    self.slot_from(c, false, status.container_statuses.as_deref(), false);
                if let State::Waiting { reason, .. } = &mut slot.view.state
                    && !slot.ran
                {
                    *reason = waiting.to_string();
                }
                slot
            })
            .collect();
        self.init = init;
        self.main = main;
        if finished {
            // Finished before this run: shown as it was, never run again.
            self.terminal = true;
            self.ip_released = true;
            self.reason = reason_of(&status);
        }
    }

    fn slot_from(
        &self,
        spec: Container,
        init: bool,
        statuses: Option<&[ContainerStatus]>,
        init_done: bool,
    ) -> Slot {
        let kind = if init { "initContainers" } else { "containers" };
        let name = spec.name.clone();
        let mut view = ContainerView {
            name: name.clone(),
            image: spec.image.clone().unwrap_or_default(),
            image_id: String::new(),
            state: State::waiting("PodInitializing", None),
            last: None,
            restart_count: 0,
            ready: false,
            started: false,
        };
        let mut ran = false;
        let logs = self.dir.join("logs").join(&name);
        let (mut log, mut previous_log) = (None, None);
        if let Some(status) = statuses.into_iter().flatten().find(|s| s.name == name) {
            view.restart_count = status.restart_count;
            view.image_id = status.image_id.clone();
            if let Some((state, last)) = previous_state(status) {
                view.state = state;
                view.last = last;
                ran = true;
                log = finished_log(&logs, status.restart_count);
                previous_log = status
                    .restart_count
                    .checked_sub(1)
                    .and_then(|n| finished_log(&logs, n));
            }
        }
        let succeeded = matches!(&view.state, State::Terminated(t) if t.exit_code == 0);
        if init && init_done && !succeeded {
            // The pod was initialized: its init containers are not run again.
            view.state = State::Terminated(Terminated {
                exit_code: 0,
                reason: "Completed".to_string(),
                message: None,
                started_at: None,
                finished_at: Timestamp::now(),
                container_id: None,
            });
        }
        Slot {
            field_path: format!("spec.{kind}{{{name}}}"),
            spec,
            view,
            backoff: Backoff::default(),
            pull_backoff: Backoff::default(),
            retry_at: None,
            instance: None,
            ran,
            restart_now: false,
            log,
            previous_log,
        }
    }
}

/// The log of instance `n` of an earlier run, if it is still there.
fn finished_log(dir: &std::path::Path, n: i32) -> Option<LogFile> {
    let path = dir.join(format!("{n}.log"));
    path.exists().then(|| LogFile::finished(path))
}

fn reason_of(status: &PodStatus) -> Option<(String, String)> {
    Some((
        status.reason.clone()?,
        status.message.clone().unwrap_or_default(),
    ))
}
