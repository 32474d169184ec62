//! Starting a container instance's probes: the startup probe first, then (once it passed, or
//! without one) the liveness and readiness probes, each reporting to the worker.

use std::sync::Arc;
use std::time::Instant;

use super::{RuntimeEvent, SlotId, Worker};
use crate::probe::{self, ProbeKind, Tracker};
use crate::probe_run::{self, ProbeTarget};

impl Worker {
    /// Starts the instance's probes: the startup probe first if it has one (`first`), else (or
    /// once it passed) the liveness and readiness probes.
    pub(super) fn start_probes(&mut self, id: SlotId, first: bool) {
        let pod_ip = self.ip;
        let runtime_exe = self.ctx.runtime_exe.clone();
        let user_agent = self.ctx.probe_user_agent.clone();
        let events = self.events_tx.clone();
        let slot = self.slot(id);
        let spec = slot.spec.clone();
        let Some(running) = slot.instance.as_mut() else {
            return;
        };
        let kinds: &[ProbeKind] = if first && spec.startup_probe.is_some() {
            &[ProbeKind::Startup]
        } else {
            &[ProbeKind::Liveness, ProbeKind::Readiness]
        };
        running.probes.retain(|(kind, task)| {
            let keep = *kind != ProbeKind::Startup;
            if !keep {
                task.abort();
            }
            keep
        });
        let target = Arc::new(ProbeTarget {
            pod_ip,
            image: spec.image.clone().unwrap_or_default(),
            env: running.env.clone(),
            workdir: running.workdir.clone(),
            runtime_exe,
            user_agent,
        });
        let started = Instant::now();
        for &kind in kinds {
            let Some(probe) = kind.of(&spec) else {
                continue;
            };
            let probe = probe::probe_spec(kind, probe, &spec);
            running
                .trackers
                .push((kind, Tracker::new(kind, probe.timing)));
            let events = events.clone();
            let instance = running.id;
            let task = probe_run::spawn(probe, target.clone(), started, move |kind, result| {
                let _ = events.send(RuntimeEvent::Probe {
                    slot: id,
                    instance,
                    kind,
                    result,
                });
            });
            running.probes.push((kind, task));
        }
        if !first || spec.startup_probe.is_none() {
            slot.view.started = true;
            slot.view.ready = spec.readiness_probe.is_none();
        }
    }
}
