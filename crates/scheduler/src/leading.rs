//! The work done while this instance leads: keep the snapshot current from the watches, take
//! pending pods from the queue, decide (pure), assume the pod on its node at once so the next
//! decision sees it, and write bindings, events and conditions concurrently.

mod watched;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Namespace, Node, Pod, Service};
use k8s_openapi::jiff::Timestamp;
use kube::api::Api;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::{error, info, warn};

use crate::actions;
use crate::cache::{Input, spawn_watch};
use crate::decide::schedule_pod;
use crate::events::{PodRef, Record, Recorder};
use crate::fit_error::PreemptionCandidate;
use crate::pod_info::PodInfo;
use crate::queue::{Popped, SchedulingQueue};
use crate::snapshot::Snapshot;

use watched::pod_placed;

/// Bindings written at once; more decisions wait until some finish.
const MAX_BINDS_IN_FLIGHT: usize = 32;
/// Other API writes (events, conditions, evictions) at once.
const MAX_OTHER_WRITES: usize = 16;
/// Decisions made before looking at new input again.
const DECISIONS_PER_TURN: usize = 64;

/// What the scheduler is configured with, shared with each leadership term.
pub struct Context {
    pub client: kube::Client,
    pub scheduler_name: String,
    pub identity: String,
}

/// What the loop knows of a pod from the watch.
struct Known {
    uid: String,
    bound: bool,
}

/// A pod assumed on a node while its binding is written.
struct Assumed {
    uid: String,
    node: String,
}

const WATCHES: usize = 4;

struct Leading {
    ctx: Arc<Context>,
    snapshot: Snapshot,
    queue: SchedulingQueue,
    pods: HashMap<String, Known>,
    nodes: HashSet<String>,
    namespaces: HashSet<String>,
    services: HashSet<String>,
    assumed: HashMap<String, Assumed>,
    synced: [bool; WATCHES],
    binds_in_flight: usize,
    tasks: JoinSet<()>,
    writes: Arc<Semaphore>,
    recorder: Recorder,
    tx: mpsc::Sender<Input>,
}

/// Runs until `stop` turns true (leadership lost, or shutdown); everything it started stops
/// with it.
pub async fn lead(ctx: Arc<Context>, mut stop: watch::Receiver<bool>) {
    let (tx, mut rx) = mpsc::channel(1024);
    let client = ctx.client.clone();
    let watches = [
        spawn_watch(
            Api::<Node>::all(client.clone()),
            tx.clone(),
            Input::Nodes,
            "*v1.Node",
        ),
        spawn_watch(
            Api::<Pod>::all(client.clone()),
            tx.clone(),
            Input::Pods,
            "*v1.Pod",
        ),
        spawn_watch(
            Api::<Namespace>::all(client.clone()),
            tx.clone(),
            Input::Namespaces,
            "*v1.Namespace",
        ),
        spawn_watch(
            Api::<Service>::all(client.clone()),
            tx.clone(),
            Input::Services,
            "*v1.Service",
        ),
    ];
    let writes = Arc::new(Semaphore::new(MAX_OTHER_WRITES));
    let mut state = Leading {
        recorder: Recorder::new(client, reporting_instance(&ctx.identity), writes.clone()),
        ctx,
        snapshot: Snapshot::default(),
        queue: SchedulingQueue::new(),
        pods: HashMap::new(),
        nodes: HashSet::new(),
        namespaces: HashSet::new(),
        services: HashSet::new(),
        assumed: HashMap::new(),
        synced: [false; WATCHES],
        binds_in_flight: 0,
        tasks: JoinSet::new(),
        writes,
        tx,
    };
    let far = || Instant::now() + std::time::Duration::from_secs(3600);
    loop {
        if *stop.borrow() {
            break;
        }
        let more = state.schedule_some();
        let deadline = state.queue.next_deadline();
        tokio::select! {
            biased;
            _ = stop.changed() => {}
            input = rx.recv() => {
                let Some(input) = input else { break };
                state.handle(input);
                // Take whatever else is waiting before deciding again.
                for _ in 0..1024 {
                    match rx.try_recv() {
                        Ok(input) => state.handle(input),
                        Err(_) => break,
                    }
                }
            }
            Some(_) = state.tasks.join_next(), if !state.tasks.is_empty() => {}
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(far)), if deadline.is_some() => {
                let moved = state.queue.flush_unschedulable(Instant::now());
                if moved > 0 {
                    tracing::debug!(target: "kube-scheduler", pods = moved, "Moving unschedulable pods back to the active queue after the flush interval");
                }
            }
            _ = std::future::ready(()), if more => {}
        }
    }
    for w in watches {
        w.abort();
    }
    state.tasks.shutdown().await;
}

impl Leading {
    fn synced(&self) -> bool {
        self.synced.iter().all(|s| *s)
    }

    fn responsible(&self, pod: &Pod) -> bool {
        crate::queue::waits_for(pod, &self.ctx.scheduler_name)
    }

    fn handle(&mut self, input: Input) {
        let now = Instant::now();
        match input {
            Input::Nodes(change) => self.nodes_changed(change, now),
            Input::Pods(change) => self.pods_changed(change, now),
            Input::Namespaces(change) => self.namespaces_changed(change, now),
            Input::Services(change) => self.services_changed(change),
            Input::Bound {
                key,
                uid,
                node,
                result,
            } => self.bound(key, uid, node, result, now),
        }
    }

    /// Makes up to a turn's worth of decisions; says whether more are ready.
    fn schedule_some(&mut self) -> bool {
        if !self.synced() {
            return false;
        }
        let now = Instant::now();
        for _ in 0..DECISIONS_PER_TURN {
            if self.binds_in_flight >= MAX_BINDS_IN_FLIGHT {
                return false;
            }
            let Some(popped) = self.queue.pop(now) else {
                return false;
            };
            self.schedule(popped, now);
        }
        self.binds_in_flight < MAX_BINDS_IN_FLIGHT && self.queue.has_ready(now)
    }

    fn schedule(&mut self, popped: Popped, now: Instant) {
        match schedule_pod(&popped.info, &self.snapshot) {
            Ok(node) => self.assume_and_bind(popped, node),
            Err(fit) => {
                let message = fit.message();
                info!(target: "kube-scheduler", pod = %popped.key, err = %message, "Unable to schedule pod; no fit; waiting");
                self.queue
                    .unschedulable(&popped.key, fit.rejecting_plugins(), now);
                self.recorder.record(
                    Record {
                        pod: PodRef::of(&popped.pod),
                        type_: "Warning",
                        reason: "FailedScheduling",
                        action: "Scheduling",
                        message: message.clone(),
                    },
                    &mut self.tasks,
                );
                let nominated = fit.preemption.as_ref().map(|c| c.node.as_str());
                if let Some(patch) = actions::unschedulable_status_patch(
                    &popped.pod,
                    &message,
                    nominated,
                    Timestamp::now(),
                ) {
                    let (client, limit) = (self.ctx.client.clone(), self.writes.clone());
                    let (ns, name) = (popped.info.namespace.clone(), popped.info.name.clone());
                    self.tasks.spawn(async move {
                        let _permit = limit.acquire_owned().await;
                        if let Err(e) = actions::patch_status(client, &ns, &name, patch).await {
                            warn!(target: "kube-scheduler", pod = format!("{ns}/{name}"), err = %crate::error::chain(&e), "Error updating pod condition");
                        }
                    });
                }
                if let Some(candidate) = fit.preemption {
                    self.preempt(&popped, candidate);
                }
            }
        }
    }

    fn assume_and_bind(&mut self, popped: Popped, node: String) {
        let mut assumed = PodInfo::clone(&popped.info);
        assumed.node_name = node.clone();
        self.snapshot.place(Arc::new(assumed));
        self.assumed.insert(
            popped.key.clone(),
            Assumed {
                uid: popped.info.uid.clone(),
                node: node.clone(),
            },
        );
        self.binds_in_flight += 1;
        let (client, tx) = (self.ctx.client.clone(), self.tx.clone());
        let info = popped.info;
        let key = popped.key;
        self.tasks.spawn(async move {
            let result = actions::bind(client, &info.namespace, &info.name, &info.uid, &node).await;
            let _ = tx
                .send(Input::Bound {
                    key,
                    uid: info.uid.clone(),
                    node,
                    result,
                })
                .await;
        });
    }

    fn bound(
        &mut self,
        key: String,
        uid: String,
        node: String,
        result: crate::error::Result<()>,
        now: Instant,
    ) {
        self.binds_in_flight = self.binds_in_flight.saturating_sub(1);
        if self.pods.get(&key).is_none_or(|k| k.uid != uid) {
            // The pod was deleted (and perhaps recreated under its name) meanwhile; its
            // deletion already cleaned up after it.
            return;
        }
        let ours = self
            .assumed
            .get(&key)
            .is_some_and(|a| a.uid == uid && a.node == node);
        if ours {
            self.assumed.remove(&key);
        }
        let (ns, name) = key.split_once('/').unwrap_or_default();
        let (ns, name) = (ns.to_string(), name.to_string());
        let pod_ref = PodRef {
            namespace: ns.clone(),
            name: name.clone(),
            uid: uid.clone(),
            resource_version: String::new(),
        };
        match result {
            Ok(()) => {
                self.queue.remove(&key);
                self.recorder.forget(&uid);
                info!(
                    target: "kube-scheduler",
                    pod = %key,
                    node = %node,
                    evaluatedNodes = self.snapshot.node_count(),
                    "Successfully bound pod to node",
                );
                self.recorder.record(
                    Record {
                        pod: pod_ref,
                        type_: "Normal",
                        reason: "Scheduled",
                        action: "Binding",
                        message: format!("Successfully assigned {key} to {node}"),
                    },
                    &mut self.tasks,
                );
                // Pods waiting for company under pod affinity may fit now.
                self.queue.cluster_changed(pod_placed(), now);
            }
            Err(e) => {
                let bound_elsewhere = self.pods.get(&key).is_some_and(|k| k.bound);
                if ours && !bound_elsewhere {
                    // Forget the assumption: the node did not get the pod.
                    self.snapshot.remove_pod(&ns, &name);
                }
                if bound_elsewhere {
                    self.queue.remove(&key);
                    return;
                }
                error!(target: "kube-scheduler", pod = %key, node = %node, err = %crate::error::chain(&e), "Error scheduling pod; retrying");
                self.queue.retry_later(&key, now);
                if e.status_code() != Some(404) {
                    self.recorder.record(
                        Record {
                            pod: pod_ref,
                            type_: "Warning",
                            reason: "FailedScheduling",
                            action: "Scheduling",
                            message: format!(
                                "running Bind plugin \"DefaultBinder\": {}",
                                error_text(&e)
                            ),
                        },
                        &mut self.tasks,
                    );
                }
            }
        }
    }

    /// Evicts the victims preemption chose; the preemptor waits (nominated to the node) until
    /// they are gone and the pod deletions send it back to the queue.
    fn preempt(&mut self, preemptor: &Popped, candidate: PreemptionCandidate) {
        for victim in candidate.victims {
            info!(
                target: "kube-scheduler",
                pod = %victim.key(),
                preemptor = %preemptor.key,
                node = %candidate.node,
                "Preempting pod",
            );
            self.recorder.record(
                Record {
                    pod: PodRef {
                        namespace: victim.namespace.clone(),
                        name: victim.name.clone(),
                        uid: victim.uid.clone(),
                        resource_version: String::new(),
                    },
                    type_: "Normal",
                    reason: "Preempted",
                    action: "Preempting",
                    message: format!(
                        "Preempted by pod {} on node {}",
                        preemptor.info.uid, candidate.node
                    ),
                },
                &mut self.tasks,
            );
            let (client, limit) = (self.ctx.client.clone(), self.writes.clone());
            self.tasks.spawn(async move {
                let _permit = limit.acquire_owned().await;
                if let Err(e) = actions::preempt_victim(client, &victim.namespace, &victim.name, &victim.uid).await {
                    warn!(target: "kube-scheduler", pod = %victim.key(), err = %crate::error::chain(&e), "Error preempting pod");
                }
            });
        }
    }
}

/// The most useful words of an API error: the server's message when there is one.
fn error_text(e: &crate::error::Error) -> String {
    match e {
        crate::error::Error::Api {
            source: kube::Error::Api(status),
            ..
        } => status.message.clone(),
        other => crate::error::chain(other),
    }
}

/// kube-scheduler reports events as `default-scheduler-<hostname>`; the election identity is
/// `<node name>_<random suffix>`.
fn reporting_instance(identity: &str) -> String {
    let host = identity.rsplit_once('_').map_or(identity, |(host, _)| host);
    format!("{}-{host}", crate::events::COMPONENT)
}
