//! Node health as the node lifecycle controller judges it: a node is heard from when its Ready
//! condition's heartbeat or its kube-node-lease Lease's renewTime moves; one not heard from for
//! the grace period gets Ready, MemoryPressure, DiskPressure and PIDPressure set to Unknown.
//! Time is local (when a change was *seen*), as kube's, so clock skew between nodes does not
//! matter. Pure: time is passed in.

use std::collections::HashMap;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition, NodeStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};

/// The conditions set to Unknown when a node goes silent (NetworkUnavailable is the network
/// plugin's, and is left alone, as kube does).
const SILENT_CONDITIONS: [&str; 4] = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

/// What was last seen of one node.
struct Seen {
    heartbeat: Option<Time>,
    transition: Option<Time>,
    ready_seen: bool,
    lease_renew: Option<MicroTime>,
    /// When a heartbeat or lease renewal was last seen to move.
    probed_at: Timestamp,
}

/// The verdict on one node at one moment.
#[derive(Debug, PartialEq)]
pub(crate) struct Verdict {
    /// The Ready status before this look ("True", "False", "Unknown"; "Unknown" if absent).
    pub(crate) observed_ready: String,
    /// The Ready status after it (differs when the node was just found silent).
    pub(crate) current_ready: Option<String>,
    /// The status to write back when the node was just found silent.
    pub(crate) new_status: Option<NodeStatus>,
}

/// Every node's last-seen heartbeats.
#[derive(Default)]
pub(crate) struct Monitor {
    nodes: HashMap<String, Seen>,
}

fn ready_condition(status: Option<&NodeStatus>) -> Option<&NodeCondition> {
    status?
        .conditions
        .as_deref()?
        .iter()
        .find(|c| c.type_ == "Ready")
}

impl Monitor {
    /// Looks at `node` (and its Lease) at `now`.
    pub(crate) fn observe(
        &mut self,
        node: &Node,
        lease: Option<&Lease>,
        now: Timestamp,
        grace: Duration,
        startup_grace: Duration,
    ) -> Verdict {
        let name = node.metadata.name.clone().unwrap_or_default();
        let ready = ready_condition(node.status.as_ref());
        let created = node
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0)
            .unwrap_or(now);
        // A node that never reported gets the longer startup grace, counted from its creation.
        let (grace, never_reported) = match ready {
            Some(_) => (grace, false),
            None => (startup_grace, true),
        };
        let heartbeat = ready.and_then(|c| c.last_heartbeat_time.clone());
        let transition = ready.and_then(|c| c.last_transition_time.clone());
        let seen = self.nodes.entry(name).or_insert_with(|| Seen {
            heartbeat: heartbeat.clone(),
            transition: transition.clone(),
            ready_seen: ready.is_some(),
            lease_renew: None,
            probed_at: if never_reported { created } else { now },
        });
        // A Ready condition appearing, vanishing, or beating again all count as news.
        if seen.ready_seen != ready.is_some() || seen.heartbeat != heartbeat {
            seen.heartbeat = heartbeat;
            seen.transition = transition;
            seen.ready_seen = ready.is_some();
            seen.probed_at = now;
        }
        let renew = lease
            .and_then(|l| l.spec.as_ref())
            .and_then(|s| s.renew_time.clone());
        if let Some(renew) = renew
            && seen
                .lease_renew
                .as_ref()
                .is_none_or(|before| &renew > before)
        {
            seen.lease_renew = Some(renew);
            seen.probed_at = now;
        }
        let observed_ready = ready
            .map(|c| c.status.clone())
            .unwrap_or_else(|| "Unknown".into());
        let silent = now > seen.probed_at + grace;
        if !silent {
            return Verdict {
                observed_ready,
                current_ready: ready.map(|c| c.status.clone()),
                new_status: None,
            };
        }
        let mut status = node.status.clone().unwrap_or_default();
        let conditions = status.conditions.get_or_insert_with(Vec::new);
        let stamp = Time(Timestamp::from_second(now.as_second()).unwrap_or(now));
        let mut changed = false;
        for type_ in SILENT_CONDITIONS {
            match conditions.iter_mut().find(|c| c.type_ == type_) {
                Some(condition) if condition.status != "Unknown" => {
                    condition.status = "Unknown".into();
                    condition.reason = Some("NodeStatusUnknown".into());
                    condition.message = Some("Kubelet stopped posting node status.".into());
                    condition.last_transition_time = Some(stamp.clone());
                    changed = true;
                }
                Some(_) => {}
                None => {
                    conditions.push(NodeCondition {
                        type_: type_.into(),
                        status: "Unknown".into(),
                        reason: Some("NodeStatusNeverUpdated".into()),
                        message: Some("Kubelet never posted node status.".into()),
                        last_heartbeat_time: Some(Time(created)),
                        last_transition_time: Some(stamp.clone()),
                    });
                    changed = true;
                }
            }
        }
        Verdict {
            observed_ready,
            current_ready: Some("Unknown".into()),
            new_status: changed.then_some(status),
        }
    }

    /// Forgets a deleted node.
    pub(crate) fn forget(&mut self, name: &str) {
        self.nodes.remove(name);
    }

    /// Counts a node as heard from now (after a disruption ends, every node gets a fresh grace
    /// period before it can be judged silent again).
    pub(crate) fn refresh(&mut self, name: &str, now: Timestamp) {
        if let Some(seen) = self.nodes.get_mut(name) {
            seen.probed_at = now;
        }
    }
}
