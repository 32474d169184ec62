//! Why a pod fits no node, and the message kube-scheduler 1.33 writes for it in the
//! FailedScheduling event and the PodScheduled condition:
//! `0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match pod anti-affinity
//! rules. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.`

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use crate::pod_info::PodInfo;
use crate::status::{Plugin, PluginSet, Status};

/// kube's message when the cluster has no nodes at all.
pub const NO_NODES_AVAILABLE: &str = "no nodes available to schedule pods";

/// Pods to evict so the pod fits on a node, found by the preemption dry run.
#[derive(Debug, Clone)]
pub struct PreemptionCandidate {
    pub node: String,
    pub victims: Vec<Arc<PodInfo>>,
}

/// The outcome of a scheduling attempt that found no node.
#[derive(Debug, Clone)]
pub struct FitError {
    pub num_all_nodes: usize,
    /// Set when a PreFilter step rejected the pod outright; its reasons replace the per-node
    /// histogram in the message.
    pub pre_filter: Option<Status>,
    /// The nodes the filters looked at and rejected, by name.
    pub statuses: BTreeMap<String, Status>,
    /// The status of every node not in `statuses` (nodes a PreFilter step excluded).
    pub absent: Option<Status>,
    /// What preemption (the PostFilter stage) had to say, already prefixed with `preemption: `.
    pub post_filter_msg: Option<String>,
    /// Set when preemption found pods whose eviction would make room.
    pub preemption: Option<PreemptionCandidate>,
}

impl FitError {
    /// The error for a cluster without nodes.
    pub fn no_nodes() -> FitError {
        FitError {
            num_all_nodes: 0,
            pre_filter: None,
            statuses: BTreeMap::new(),
            absent: None,
            post_filter_msg: None,
            preemption: None,
        }
    }

    /// The sorted `"<count> <reason>"` entries of the per-node histogram.
    pub fn histogram(&self) -> Vec<String> {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for status in self.statuses.values() {
            for reason in &status.reasons {
                *counts.entry(reason).or_default() += 1;
            }
        }
        if self.statuses.len() < self.num_all_nodes
            && let Some(absent) = &self.absent
        {
            for reason in &absent.reasons {
                *counts.entry(reason).or_default() += self.num_all_nodes - self.statuses.len();
            }
        }
        // kube sorts the formatted strings, count first, as plain strings.
        let mut entries: Vec<String> = counts
            .into_iter()
            .map(|(reason, count)| format!("{count} {reason}"))
            .collect();
        entries.sort();
        entries
    }

    /// The message in Kubernetes' words.
    pub fn message(&self) -> String {
        if self.num_all_nodes == 0 {
            return NO_NODES_AVAILABLE.to_string();
        }
        let mut msg = format!("0/{} nodes are available:", self.num_all_nodes);
        match &self.pre_filter {
            Some(status) => {
                msg.push(' ');
                msg.push_str(&status.reasons.join(", "));
                msg.push('.');
            }
            None => {
                let histogram = self.histogram();
                if !histogram.is_empty() {
                    msg.push(' ');
                    msg.push_str(&histogram.join(", "));
                    msg.push('.');
                }
            }
        }
        if let Some(post) = &self.post_filter_msg {
            msg.push(' ');
            msg.push_str(post);
        }
        msg
    }

    /// The plugins that rejected the pod somewhere; only cluster changes that concern one of
    /// them can make it schedulable.
    pub fn rejecting_plugins(&self) -> PluginSet {
        let mut set: PluginSet = self.statuses.values().map(|s| s.plugin).collect();
        if let Some(s) = &self.pre_filter {
            set.insert(s.plugin);
        }
        if let Some(s) = &self.absent {
            set.insert(s.plugin);
        }
        if self.num_all_nodes == 0 {
            // Only a new node helps, and every plugin listens for those.
            set.insert(Plugin::NodeResourcesFit);
        }
        set
    }
}

impl fmt::Display for FitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for FitError {}
