//! DefaultPreemption, the PostFilter stage, as a dry run: on each node that failed only for
//! reasons eviction can fix, would removing lower-priority pods make room? The answer is either
//! a candidate node with its victims, or the second half of the FailedScheduling message
//! (`preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.`).
//!
//! Not modelled: PodDisruptionBudgets when choosing victims (kube prefers nodes that violate
//! fewer), and pods nominated to a node by an earlier preemption.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::filter::{self, AffinityState};
use crate::fit_error::{FitError, PreemptionCandidate};
use crate::pod_info::PodInfo;
use crate::snapshot::{NodeInfo, Snapshot};
use crate::status::{Code, Plugin, Status};

pub const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
pub const NO_VICTIMS: &str = "No preemption victims found for incoming pod";
pub const NOT_ELIGIBLE_POLICY: &str = "not eligible due to preemptionPolicy=Never.";
pub const NOT_ELIGIBLE_TERMINATING: &str =
    "not eligible due to a terminating pod on the nominated node.";

/// What preemption concluded.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The pod may not preempt (yet); the message says why.
    NotEligible(&'static str),
    /// No node would fit the pod even after evictions; the message is a FitError's.
    NoCandidate(String),
    /// Evicting these pods makes room.
    Candidate(PreemptionCandidate),
}

impl Outcome {
    /// The PostFilter message kube appends to the FitError, if any.
    pub fn message(&self) -> Option<String> {
        match self {
            Outcome::NotEligible(msg) => Some(format!("preemption: {msg}")),
            Outcome::NoCandidate(msg) => Some(format!("preemption: {msg}")),
            Outcome::Candidate(_) => None,
        }
    }
}

fn eligible(
    pod: &PodInfo,
    snapshot: &Snapshot,
    statuses: &BTreeMap<String, Status>,
) -> Result<(), &'static str> {
    if pod.never_preempts {
        return Err(NOT_ELIGIBLE_POLICY);
    }
    if pod.nominated_node.is_empty() {
        return Ok(());
    }
    // A nominated node that can no longer work is fair game for a new preemption.
    if statuses
        .get(&pod.nominated_node)
        .is_some_and(|s| s.code == Code::UnschedulableAndUnresolvable)
    {
        return Ok(());
    }
    // Otherwise wait while an earlier round's victims are still terminating there.
    if let Some(node) = snapshot.node(&pod.nominated_node)
        && node
            .pods
            .iter()
            .any(|p| p.priority < pod.priority && p.terminating)
    {
        return Err(NOT_ELIGIBLE_TERMINATING);
    }
    Ok(())
}

/// Which pods on `node` must go for `pod` to fit, fewest and least important first.
fn select_victims(
    pod: &PodInfo,
    node: &NodeInfo,
    affinity: &AffinityState,
    snapshot: &Snapshot,
) -> Result<Vec<Arc<PodInfo>>, Status> {
    let mut node = node.clone();
    let mut state = affinity.clone();
    let mut potential: Vec<Arc<PodInfo>> = node
        .pods
        .iter()
        .filter(|p| p.priority < pod.priority)
        .cloned()
        .collect();
    if potential.is_empty() {
        return Err(Status::unresolvable(Plugin::DefaultPreemption, NO_VICTIMS));
    }
    for victim in &potential {
        node.remove_pod(&victim.namespace, &victim.name);
        state.remove_pod(pod, victim, &node, snapshot);
    }
    filter::run(pod, &state, &node, snapshot)?;
    // Give back as many pods as possible, most important (highest priority, oldest) first.
    potential.sort_by(|a, b| {
        b.priority
            .cmp(&a.priority)
            .then(a.start_time.cmp(&b.start_time))
    });
    let mut victims = Vec::new();
    for candidate in potential {
        node.add_pod(candidate.clone());
        state.add_pod(pod, &candidate, &node, snapshot);
        if filter::run(pod, &state, &node, snapshot).is_err() {
            node.remove_pod(&candidate.namespace, &candidate.name);
            state.remove_pod(pod, &candidate, &node, snapshot);
            victims.push(candidate);
        }
    }
    Ok(victims)
}

/// kube's order for picking among candidate nodes: the lowest highest-priority victim, then the
/// lowest sum of priorities, then the fewest victims, then the latest start among the
/// highest-priority victims; the first node (by name) wins a full tie.
fn better(a: &PreemptionCandidate, b: &PreemptionCandidate) -> bool {
    let highest = |c: &PreemptionCandidate| {
        c.victims
            .iter()
            .map(|v| v.priority)
            .max()
            .unwrap_or(i32::MIN)
    };
    let sum = |c: &PreemptionCandidate| {
        c.victims
            .iter()
            .map(|v| i64::from(v.priority) + i64::from(i32::MAX) + 1)
            .sum::<i64>()
    };
    let earliest_top = |c: &PreemptionCandidate| {
        let top = highest(c);
        c.victims
            .iter()
            .filter(|v| v.priority == top)
            .map(|v| v.start_time)
            .min()
            .unwrap_or(i64::MAX)
    };
    (
        highest(a),
        sum(a),
        a.victims.len(),
        std::cmp::Reverse(earliest_top(a)),
    ) < (
        highest(b),
        sum(b),
        b.victims.len(),
        std::cmp::Reverse(earliest_top(b)),
    )
}

/// Runs the preemption dry run for a pod the filters rejected everywhere.
pub fn preempt(
    pod: &PodInfo,
    snapshot: &Snapshot,
    fit: &FitError,
    affinity: &AffinityState,
) -> Outcome {
    if let Err(msg) = eligible(pod, snapshot, &fit.statuses) {
        return Outcome::NotEligible(msg);
    }
    let mut statuses: BTreeMap<String, Status> = BTreeMap::new();
    let mut best: Option<PreemptionCandidate> = None;
    for node in snapshot.nodes() {
        // Nodes rejected in PreFilter, or for reasons eviction cannot fix, are skipped.
        let helpful = fit.pre_filter.is_none()
            && fit
                .statuses
                .get(&node.name)
                .is_some_and(|s| s.code == Code::Unschedulable);
        if !helpful {
            statuses.insert(
                node.name.clone(),
                Status::unresolvable(Plugin::DefaultPreemption, NOT_HELPFUL),
            );
            continue;
        }
        match select_victims(pod, node, affinity, snapshot) {
            Ok(victims) if !victims.is_empty() => {
                let candidate = PreemptionCandidate {
                    node: node.name.clone(),
                    victims,
                };
                if best.as_ref().is_none_or(|b| better(&candidate, b)) {
                    best = Some(candidate);
                }
            }
            // Removing pods was enough but every one could be given back: the pod fits
            // as is, which the filters just said it does not. Treat it as no room.
            Ok(_) => {
                statuses.insert(
                    node.name.clone(),
                    Status::unresolvable(Plugin::DefaultPreemption, NO_VICTIMS),
                );
            }
            Err(status) => {
                statuses.insert(node.name.clone(), status);
            }
        }
    }
    match best {
        Some(candidate) => Outcome::Candidate(candidate),
        None => {
            let inner = FitError {
                num_all_nodes: fit.num_all_nodes,
                pre_filter: None,
                statuses,
                absent: Some(Status::unresolvable(Plugin::DefaultPreemption, NOT_HELPFUL)),
                post_filter_msg: None,
                preemption: None,
            };
            Outcome::NoCandidate(inner.message())
        }
    }
}
