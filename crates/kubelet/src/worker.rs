//! The pod worker: one task per pod that runs its containers. It reacts to the pod's updates,
//! to its processes' exits and probe results, and to its own timers (back-offs, the active
//! deadline); after each it decides what to start, then publishes the pod's status. Starting a
//! container is in `start`, stopping and the pod's end in `stop`, the state after a kubelet
//! restart in `restore`; taking exits and probe results in `react`; the status in `publish`.

mod environment;
mod probes;
mod publish;
mod react;
mod restore;
mod start;
mod stop;

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Container, Pod, PodCondition};
use kube::Api;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::backoff::Backoff;
use crate::context::NodeContext;
use crate::events::{EventType, reference};
use crate::probe::{ProbeKind, Tracker};
use crate::process::{Exit, Process};
use crate::registry::LogFile;
use crate::status::{ContainerView, State};
use crate::status_writer::StatusWriter;

/// Which container of the pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SlotId {
    pub init: bool,
    pub index: usize,
}

/// What the pod's processes and probes report.
#[derive(Debug)]
pub(crate) enum RuntimeEvent {
    Exited {
        slot: SlotId,
        instance: u64,
        exit: Exit,
    },
    Probe {
        slot: SlotId,
        instance: u64,
        kind: ProbeKind,
        result: Result<(), String>,
    },
}

/// A running instance of a container.
struct Instance {
    id: u64,
    process: Process,
    env: Arc<Vec<(String, String)>>,
    workdir: PathBuf,
    probes: Vec<(ProbeKind, JoinHandle<()>)>,
    trackers: Vec<(ProbeKind, Tracker)>,
    /// A stop was asked for (probe failure, spec change, the pod's end).
    stopping: bool,
}

impl Drop for Instance {
    fn drop(&mut self) {
        for (_, probe) in &self.probes {
            probe.abort();
        }
    }
}

/// One container of the pod spec and what became of it.
struct Slot {
    spec: Container,
    /// `spec.containers{name}` or `spec.initContainers{name}`, for events.
    field_path: String,
    view: ContainerView,
    backoff: Backoff,
    pull_backoff: Backoff,
    /// When the next start attempt is due; `None` means as soon as it may start.
    retry_at: Option<Instant>,
    instance: Option<Instance>,
    /// Whether an instance has ever run (so the next one is a restart).
    ran: bool,
    /// Restart at once when the instance ends, whatever the policy (its spec changed).
    restart_now: bool,
    log: Option<LogFile>,
    previous_log: Option<LogFile>,
}

/// The pod worker.
pub(crate) struct Worker {
    ctx: Arc<NodeContext>,
    pod: Pod,
    uid: String,
    name: String,
    namespace: String,
    ip: Ipv4Addr,
    dir: PathBuf,
    start_time: Timestamp,
    init: Vec<Slot>,
    main: Vec<Slot>,
    /// The containers are stopped for good: the pod was deleted or failed as a whole.
    terminal: bool,
    /// Why the pod failed as a whole.
    reason: Option<(String, String)>,
    next_instance: u64,
    events_tx: mpsc::UnboundedSender<RuntimeEvent>,
    events_rx: mpsc::UnboundedReceiver<RuntimeEvent>,
    /// Gone once the pod's end is being written.
    writer: Option<StatusWriter>,
    /// The IP was given back (the pod finished).
    ip_released: bool,
    /// The conditions last published.
    conditions: Option<Vec<PodCondition>>,
}

fn restart_policy(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("Always")
}

/// Whether a container that exited with `code` runs again under the pod's restart policy. Init
/// containers run until they succeed, unless the policy is Never.
pub(crate) fn restartable(policy: &str, init: bool, code: i32) -> bool {
    match (policy, init) {
        ("Never", _) => false,
        (_, true) => code != 0,
        ("OnFailure", false) => code != 0,
        _ => true,
    }
}

/// `name_namespace(uid)`, as the kubelet names a pod in messages.
fn pod_ref(pod: &Pod) -> String {
    let meta = &pod.metadata;
    format!(
        "{}_{}({})",
        meta.name.as_deref().unwrap_or_default(),
        meta.namespace.as_deref().unwrap_or_default(),
        meta.uid.as_deref().unwrap_or_default()
    )
}

impl Worker {
    /// A worker for `pod`, with its IP already allocated.
    pub(crate) fn new(ctx: Arc<NodeContext>, pod: Pod, ip: Ipv4Addr) -> Self {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let dir = ctx.pods_dir.join(format!("{namespace}_{name}_{uid}"));
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);
        let writer = StatusWriter::start(api, name.clone(), uid.clone());
        let mut worker = Worker {
            ctx,
            pod,
            uid,
            name,
            namespace,
            ip,
            dir,
            start_time: Timestamp::now(),
            init: Vec::new(),
            main: Vec::new(),
            terminal: false,
            reason: None,
            next_instance: 0,
            events_tx,
            events_rx,
            writer: Some(writer),
            ip_released: false,
            conditions: None,
        };
        worker.restore();
        worker
    }

    /// Runs the pod until it is deleted (or gone from the API server), or the kubelet stops.
    pub(crate) async fn run(
        mut self,
        mut pod_rx: watch::Receiver<Option<Pod>>,
        mut stop: watch::Receiver<bool>,
    ) -> String {
        tracing::info!(target: "kubelet", pod = %format!("{}/{}", self.namespace, self.name), ip = %self.ip, "running pod");
        loop {
            if self.pod.metadata.deletion_timestamp.is_some() {
                self.terminate().await;
                return self.uid;
            }
            let wake = self.sync(Instant::now()).await;
            self.publish();
            let sleep = async {
                match wake {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                // The kubelet's stop comes first: the pod loop's end must not look like the pod's.
                biased;
                _ = stop.changed() => {
                    self.shutdown().await;
                    return self.uid;
                }
                changed = pod_rx.changed() => {
                    let latest = match changed {
                        Ok(()) => pod_rx.borrow_and_update().clone(),
                        Err(_) => None,
                    };
                    match latest {
                        Some(pod) => self.update(pod),
                        None => {
                            self.vanished().await;
                            return self.uid;
                        }
                    }
                }
                Some(event) = self.events_rx.recv() => self.on_event(event),
                () = sleep => {}
            }
        }
    }

    fn slot(&mut self, id: SlotId) -> &mut Slot {
        if id.init {
            &mut self.init[id.index]
        } else {
            &mut self.main[id.index]
        }
    }

    /// Starts whatever is due; returns when to look again.
    async fn sync(&mut self, now: Instant) -> Option<Instant> {
        if self.terminal {
            return None;
        }
        if self.check_deadline().await {
            return None;
        }
        let policy = restart_policy(&self.pod).to_string();
        let wake = if let Some(index) = self.init.iter().position(|s| !init_succeeded(s)) {
            let slot = &self.init[index];
            let failed_for_good = policy == "Never"
                && matches!(&slot.view.state, State::Terminated(t) if t.exit_code != 0);
            if slot.instance.is_none() && !failed_for_good && due(slot, now) {
                self.start(SlotId { init: true, index }, now).await;
            }
            let slot = &self.init[index];
            slot.retry_at
                .filter(|_| slot.instance.is_none() && !failed_for_good)
        } else {
            for index in 0..self.main.len() {
                let slot = &self.main[index];
                if slot.instance.is_none() && wants_to_run(slot, &policy) && due(slot, now) {
                    self.start(SlotId { init: false, index }, now).await;
                }
            }
            self.main
                .iter()
                .filter(|s| s.instance.is_none() && wants_to_run(s, &policy))
                .filter_map(|s| s.retry_at)
                .min()
        };
        [wake, self.deadline_at()].into_iter().flatten().min()
    }

    /// A new version of the pod from the API server.
    fn update(&mut self, pod: Pod) {
        for (init, slots) in [(true, &mut self.init), (false, &mut self.main)] {
            let specs = pod.spec.as_ref().map(|s| {
                if init {
                    s.init_containers.clone().unwrap_or_default()
                } else {
                    s.containers.clone()
                }
            });
            for (slot, spec) in slots.iter_mut().zip(specs.into_iter().flatten()) {
                // The image is the one container field an update may change: the container
                // restarts with the new one, as the kubelet restarts a changed container.
                if slot.spec.image != spec.image {
                    slot.view.image = spec.image.clone().unwrap_or_default();
                    if let Some(instance) = &mut slot.instance
                        && !instance.stopping
                    {
                        instance.stopping = true;
                        instance.process.stop(grace_period(&pod));
                        slot.restart_now = true;
                        let message = format!(
                            "Container {} definition changed, will be restarted",
                            spec.name
                        );
                        let object = reference(&pod, Some(&slot.field_path));
                        self.ctx
                            .recorder
                            .record(object, EventType::Normal, "Killing", message);
                    }
                    slot.retry_at = None;
                    slot.pull_backoff = Backoff::default();
                }
                slot.spec = spec;
            }
        }
        self.pod = pod;
    }
}

fn init_succeeded(slot: &Slot) -> bool {
    slot.instance.is_none() && matches!(&slot.view.state, State::Terminated(t) if t.exit_code == 0)
}

/// Whether a container not running now should run (again).
fn wants_to_run(slot: &Slot, policy: &str) -> bool {
    match &slot.view.state {
        State::Waiting { .. } => true,
        State::Running { .. } => false,
        State::Terminated(t) => slot.restart_now || restartable(policy, false, t.exit_code),
    }
}

fn due(slot: &Slot, now: Instant) -> bool {
    slot.retry_at.is_none_or(|at| at <= now)
}

/// The pod's grace period: what its deletion says, else its spec's (30 s by default).
pub(crate) fn grace_period(pod: &Pod) -> Duration {
    let seconds = pod
        .metadata
        .deletion_grace_period_seconds
        .or_else(|| {
            pod.spec
                .as_ref()
                .and_then(|s| s.termination_grace_period_seconds)
        })
        .unwrap_or(30);
    Duration::from_secs(u64::try_from(seconds).unwrap_or(0))
}

#[cfg(test)]
mod tests;
