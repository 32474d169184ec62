//! How a pod worker takes its processes' exits (how the instance ended, whether and when it
//! runs again: at once, after the crash-loop back-off, or never) and its probes' results
//! (started, ready, or killed to be restarted).

use std::time::Instant;

use super::{RuntimeEvent, SlotId, Worker, grace_period, pod_ref, restart_policy, restartable};
use crate::backoff::go_duration;
use crate::events::EventType;
use crate::probe::ProbeKind;
use crate::process::Exit;
use crate::status::{State, Terminated};

impl Worker {
    pub(super) fn on_event(&mut self, event: RuntimeEvent) {
        match event {
            RuntimeEvent::Exited {
                slot,
                instance,
                exit,
            } => self.on_exit(slot, instance, exit),
            RuntimeEvent::Probe {
                slot,
                instance,
                kind,
                result,
            } => self.on_probe(slot, instance, kind, result),
        }
    }

    /// An instance ended: record how, and decide whether and when it runs again.
    fn on_exit(&mut self, id: SlotId, instance: u64, exit: Exit) {
        let policy = restart_policy(&self.pod).to_string();
        let pod_ref = pod_ref(&self.pod);
        let terminal = self.terminal;
        let pod = format!("{}/{}", self.namespace, self.name);
        let slot = self.slot(id);
        if slot.instance.as_ref().map(|i| i.id) != Some(instance) {
            return;
        }
        slot.instance = None;
        tracing::info!(target: "kubelet", %pod, container = %slot.spec.name, code = exit.code, "container exited");
        let (started_at, container_id) = match &slot.view.state {
            State::Running {
                started_at,
                container_id,
            } => (Some(*started_at), Some(container_id.clone())),
            _ => (None, None),
        };
        let ended = Terminated {
            exit_code: exit.code,
            reason: if exit.code == 0 { "Completed" } else { "Error" }.to_string(),
            message: None,
            started_at,
            finished_at: exit.finished_at,
            container_id,
        };
        self.after_exit(id, ended, &policy, &pod_ref, terminal);
    }

    /// Records how an instance ended (or failed to start) and schedules its restart.
    pub(super) fn after_exit(
        &mut self,
        id: SlotId,
        ended: Terminated,
        policy: &str,
        pod_ref: &str,
        terminal: bool,
    ) {
        let slot = self.slot(id);
        slot.view.ready = false;
        slot.view.started = false;
        slot.view.state = State::Terminated(ended.clone());
        let restart_now = std::mem::take(&mut slot.restart_now);
        if terminal || !(restart_now || restartable(policy, id.init, ended.exit_code)) {
            return;
        }
        slot.retry_at = None;
        if restart_now {
            slot.view.last = Some(ended);
            slot.view.state = State::waiting("ContainerCreating", None);
            return;
        }
        let now = Instant::now();
        if let Some((delay, until)) = slot.backoff.wait_after(now, now) {
            let name = slot.spec.name.clone();
            slot.view.last = Some(ended);
            slot.view.state = State::waiting(
                "CrashLoopBackOff",
                Some(format!(
                    "back-off {} restarting failed container={name} pod={pod_ref}",
                    go_duration(delay)
                )),
            );
            slot.retry_at = Some(until);
            let message = format!("Back-off restarting failed container {name} in pod {pod_ref}");
            self.record_for(id, EventType::Warning, "BackOff", message);
        }
    }

    fn on_probe(&mut self, id: SlotId, instance: u64, kind: ProbeKind, result: Result<(), String>) {
        let grace = grace_period(&self.pod);
        let slot = self.slot(id);
        let Some(running) = slot
            .instance
            .as_mut()
            .filter(|i| i.id == instance && !i.stopping)
        else {
            return;
        };
        let Some((_, tracker)) = running.trackers.iter_mut().find(|(k, _)| *k == kind) else {
            return;
        };
        let verdict = tracker.record(result.is_ok());
        let name = slot.spec.name.clone();
        if let Err(message) = &result {
            let message = format!("{} probe failed: {message}", kind.label());
            self.record_for(id, EventType::Warning, "Unhealthy", message);
        }
        let Some(verdict) = verdict else {
            return;
        };
        match (kind, verdict) {
            (ProbeKind::Startup, true) => {
                self.slot(id).view.started = true;
                self.start_probes(id, false);
            }
            (ProbeKind::Readiness, ready) => {
                let slot = self.slot(id);
                slot.view.ready = ready && slot.view.started;
            }
            (ProbeKind::Startup | ProbeKind::Liveness, false) => {
                let which = if kind == ProbeKind::Startup {
                    "startup"
                } else {
                    "liveness"
                };
                let message = format!("Container {name} failed {which} probe, will be restarted");
                let slot = self.slot(id);
                if let Some(running) = &mut slot.instance {
                    running.stopping = true;
                    running.process.stop(grace);
                }
                self.record_for(id, EventType::Normal, "Killing", message);
            }
            (ProbeKind::Liveness, true) => {}
        }
    }
}
