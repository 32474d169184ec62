//! The pod garbage collector ("podgc", acting as pod-garbage-collector): every 20 s it force-deletes
//! pods bound to nodes that no longer exist (after a 40 s quarantine and a live check), pods
//! terminating without ever being scheduled, terminating pods on out-of-service nodes, and the
//! oldest finished pods past the terminated-pod threshold.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use serde_json::json;
use tokio::sync::Mutex;

use super::{TARGET, pods};
use crate::cache::Cache;
use crate::context::Context;

/// The ServiceAccount the controller acts as.
const ACCOUNT: &str = "pod-garbage-collector";
/// How often pods are looked over (kube: 20 s).
const PERIOD: Duration = Duration::from_secs(20);
/// How long a node must be missing before its pods go (kube: 40 s), so a node just added is not
/// mistaken for a gone one.
const QUARANTINE: Duration = Duration::from_secs(40);
const OUT_OF_SERVICE: &str = "node.kubernetes.io/out-of-service";

/// Why a pod is collected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Reason {
    /// Finished, and more finished pods than the threshold exist.
    Terminated,
    /// Bound to a node that no longer exists.
    Orphaned,
    /// Being deleted but never scheduled: no kubelet will ever finish it.
    UnscheduledTerminating,
    /// Being deleted on a node marked out of service (and not ready).
    OutOfService,
}

/// The pods to collect now, with why; `missing_long_enough` says whether a missing node has
/// been missing for the whole quarantine.
pub(super) fn collect(
    pods: &[Arc<Pod>],
    nodes: &[Arc<Node>],
    threshold: usize,
    missing_long_enough: impl Fn(&str) -> bool,
) -> Vec<(Arc<Pod>, Reason)> {
    let names: HashSet<&str> = nodes
        .iter()
        .filter_map(|n| n.metadata.name.as_deref())
        .collect();
    let out_of_service: HashSet<&str> = nodes
        .iter()
        .filter(|n| {
            super::taints::node_taints(n)
                .iter()
                .any(|t| t.key == OUT_OF_SERVICE && t.effect == "NoExecute")
                && !node_ready(n)
        })
        .filter_map(|n| n.metadata.name.as_deref())
        .collect();
    let mut collected: Vec<(Arc<Pod>, Reason)> = Vec::new();
    let mut finished: Vec<&Arc<Pod>> = Vec::new();
    for pod in pods {
        let node = pods::node_name(pod);
        if !node.is_empty() && !names.contains(node) {
            if missing_long_enough(node) {
                collected.push((pod.clone(), Reason::Orphaned));
            }
            continue;
        }
        if pods::is_terminating(pod) && node.is_empty() {
            collected.push((pod.clone(), Reason::UnscheduledTerminating));
        } else if pods::is_terminating(pod) && out_of_service.contains(node) {
            collected.push((pod.clone(), Reason::OutOfService));
        } else if pods::is_terminal(pod) && !pods::is_terminating(pod) {
            finished.push(pod);
        }
    }
    if finished.len() > threshold {
        finished.sort_by_key(|p| p.metadata.creation_timestamp.clone());
        let excess = finished.len() - threshold;
        collected.extend(
            finished
                .into_iter()
                .take(excess)
                .map(|p| (p.clone(), Reason::Terminated)),
        );
    }
    collected
}

fn node_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or(&[])
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == "True")
}

struct Collector {
    client: kube::Client,
    pods: Cache<Pod>,
    nodes: Cache<Node>,
    threshold: usize,
    /// Nodes seen missing, and since when.
    missing: Mutex<HashMap<String, Timestamp>>,
}

pub(super) async fn run(ctx: Context) {
    let Some(client) = ctx.client(ACCOUNT).await else {
        return;
    };
    let pods = ctx.informer::<Pod>();
    let nodes = ctx.informer::<Node>();
    tokio::select! {
        () = async { pods.synced().await; nodes.synced().await } => {}
        () = ctx.stopped() => return,
    }
    let collector = Arc::new(Collector {
        client,
        pods: pods.cache(),
        nodes: nodes.cache(),
        threshold: ctx.settings().terminated_pod_gc_threshold,
        missing: Mutex::new(HashMap::new()),
    });
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(super::every(PERIOD, move || {
        let collector = collector.clone();
        async move { collector.pass().await }
    }));
    super::run_until_stopped(&ctx, "podgc", tasks).await;
}

impl Collector {
    async fn pass(&self) {
        let pods = super::all(&self.pods);
        let nodes = self.nodes.list("");
        let now = Timestamp::now();
        // Quarantine: how long each node named by a pod has been missing from the cache.
        let known: HashSet<&str> = nodes
            .iter()
            .filter_map(|n| n.metadata.name.as_deref())
            .collect();
        let mut long_gone = HashSet::new();
        {
            let mut missing = self.missing.lock().await;
            missing.retain(|name, _| !known.contains(name.as_str()));
            for pod in &pods {
                let node = pods::node_name(pod);
                if node.is_empty() || known.contains(node) {
                    continue;
                }
                let since = *missing.entry(node.to_string()).or_insert(now);
                if now.duration_since(since).unsigned_abs() >= QUARANTINE {
                    long_gone.insert(node.to_string());
                }
            }
        }
        // A node missing from the cache may only be slow to show up: ask the API server.
        let api: Api<Node> = Api::all(self.client.clone());
        let mut confirmed = HashSet::new();
        for node in long_gone {
            match api.get_opt(&node).await {
                Ok(None) => {
                    confirmed.insert(node);
                }
                Ok(Some(_)) => {}
                Err(e) => tracing::debug!(target: TARGET, "podgc: checking node {node}: {e}"),
            }
        }
        for (pod, reason) in collect(&pods, &nodes, self.threshold, |n| confirmed.contains(n)) {
            self.delete(&pod, reason).await;
        }
    }

    async fn delete(&self, pod: &Pod, reason: Reason) {
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &namespace);
        let message = match reason {
            Reason::Orphaned => Some("PodGC: node no longer exists"),
            Reason::OutOfService => Some("PodGC: node is out-of-service"),
            Reason::Terminated | Reason::UnscheduledTerminating => None,
        };
        tracing::info!(target: TARGET, "podgc: deleting pod {namespace}/{name} ({reason:?})");
        if let Some(message) = message {
            // Say why, as kube does, before the pod disappears.
            let mut conditions = pod
                .status
                .as_ref()
                .and_then(|s| s.conditions.clone())
                .unwrap_or_default();
            conditions.retain(|c| c.type_ != "DisruptionTarget");
            conditions.push(k8s_openapi::api::core::v1::PodCondition {
                type_: "DisruptionTarget".into(),
                status: "True".into(),
                reason: Some("DeletionByPodGC".into()),
                message: Some(message.into()),
                last_transition_time: Some(super::now_seconds()),
                ..Default::default()
            });
            let mut status = json!({ "conditions": conditions });
            if !pods::is_terminal(pod) {
                status["phase"] = json!("Failed");
            }
            if let Err(e) = api
                .patch_status(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({ "status": status })),
                )
                .await
                && !super::is_not_found(&e)
            {
                tracing::debug!(target: TARGET, "podgc: marking pod {namespace}/{name}: {e}");
            }
        }
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: pod.metadata.uid.clone(),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        if let Err(e) = api.delete(&name, &params).await
            && !super::is_not_found(&e)
            && !super::is_conflict(&e)
        {
            tracing::warn!(target: TARGET, "podgc: failed to delete pod {namespace}/{name}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::pods::fixtures::{on_node, pod, time};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn node(name: &str) -> Arc<Node> {
        Arc::new(Node {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            ..Node::default()
        })
    }

    fn finished(name: &str, created: i64) -> Arc<Pod> {
        let mut p = pod("ns", name, &[], false);
        p.status.as_mut().unwrap().phase = Some("Succeeded".into());
        p.metadata.creation_timestamp = Some(time(created));
        Arc::new(p)
    }

    fn names(collected: &[(Arc<Pod>, Reason)]) -> Vec<(String, Reason)> {
        collected
            .iter()
            .map(|(p, r)| (p.metadata.name.clone().unwrap(), *r))
            .collect()
    }

    #[test]
    fn what_gets_collected() {
        let nodes = vec![node("node-1")];
        let running = Arc::new(pod("ns", "running", &[], true));
        let orphan = Arc::new(on_node(pod("ns", "orphan", &[], true), "gone"));
        let mut unscheduled = on_node(pod("ns", "unscheduled", &[], false), "");
        unscheduled.metadata.deletion_timestamp = Some(time(1));
        let unscheduled = Arc::new(unscheduled);
        let pods = vec![
            running,
            orphan,
            unscheduled,
            finished("old", 1),
            finished("older", 0),
            finished("new", 5),
        ];
        // Within quarantine the orphan stays; the two oldest finished pods go past a threshold of 1.
        let got = names(&collect(&pods, &nodes, 1, |_| false));
        assert_eq!(
            got,
            [
                ("unscheduled".to_string(), Reason::UnscheduledTerminating),
                ("older".to_string(), Reason::Terminated),
                ("old".to_string(), Reason::Terminated),
            ]
        );
        let got = names(&collect(&pods, &nodes, 10, |n| n == "gone"));
        assert_eq!(
            got,
            [
                ("orphan".to_string(), Reason::Orphaned),
                ("unscheduled".to_string(), Reason::UnscheduledTerminating),
            ]
        );
    }
}
