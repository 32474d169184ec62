//! What one watch event says about a pod's progress: bound to a node, started, ended, or what it
//! is waiting for. Pure.

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

/// How far a pod has come, as one event shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// The node the pod is bound to (spec.nodeName), if any.
    pub node: Option<String>,
    /// Whether the pod counts as started: phase Running and every container running. This is
    /// the end point of Kubernetes' pod start-up SLO ("all its containers are reported as
    /// started"); readiness is left out because it depends on probes the pod may not have.
    pub running: bool,
    /// Whether the pod has ended (phase Failed or Succeeded) and so will never count as started.
    pub ended: bool,
    /// What the pod is waiting for, or how it ended, in words that are the same for pods in the
    /// same situation, so that the report can group them. "Running" for a started pod.
    pub detail: String,
}

/// Reads a pod as the benchmark needs it.
pub fn observe(pod: &Pod) -> Observation {
    let node = pod
        .spec
        .as_ref()
        .and_then(|spec| spec.node_name.clone())
        .filter(|node| !node.is_empty());
    let status = pod.status.as_ref();
    let phase = status
        .and_then(|status| status.phase.as_deref())
        .unwrap_or("Pending");
    let statuses: &[ContainerStatus] = status
        .and_then(|status| status.container_statuses.as_deref())
        .unwrap_or_default();
    let containers: Vec<&str> = pod.spec.as_ref().map_or_else(Vec::new, |spec| {
        spec.containers.iter().map(|c| c.name.as_str()).collect()
    });
    let first_not_running = containers
        .iter()
        .find(|name| !statuses.iter().any(|s| s.name == **name && is_running(s)));

    if phase == "Failed" || phase == "Succeeded" {
        let reason = status.and_then(|status| status.reason.as_deref());
        let message = status.and_then(|status| status.message.as_deref());
        let detail = match (reason, message) {
            (Some(reason), Some(message)) => format!("{phase}: {reason}: {message}"),
            (Some(reason), None) => format!("{phase}: {reason}"),
            (None, Some(message)) => format!("{phase}: {message}"),
            (None, None) => match statuses.iter().find_map(terminated) {
                Some(terminated) => format!("{phase}, a container {terminated}"),
                None => phase.to_owned(),
            },
        };
        return Observation {
            node,
            running: false,
            ended: true,
            detail,
        };
    }
    let running = phase == "Running" && !containers.is_empty() && first_not_running.is_none();
    let detail = if running {
        "Running".to_owned()
    } else if node.is_none() {
        not_scheduled(pod)
    } else {
        match first_not_running {
            Some(name) => match statuses.iter().find(|s| s.name == *name) {
                Some(status) => format!("{phase} on a node, container {}", waiting(status)),
                None => format!("{phase} on a node, no container status yet"),
            },
            None => format!("{phase} on a node"),
        }
    };
    Observation {
        node,
        running,
        ended: false,
        detail,
    }
}

fn is_running(status: &ContainerStatus) -> bool {
    status
        .state
        .as_ref()
        .is_some_and(|state| state.running.is_some())
}

/// What a container that is not running is doing, as "waiting: ImagePullBackOff: …".
fn waiting(status: &ContainerStatus) -> String {
    let state = status.state.as_ref();
    if let Some(waiting) = state.and_then(|state| state.waiting.as_ref()) {
        return match (waiting.reason.as_deref(), waiting.message.as_deref()) {
            (Some(reason), Some(message)) => format!("waiting: {reason}: {message}"),
            (Some(reason), None) => format!("waiting: {reason}"),
            (None, Some(message)) => format!("waiting: {message}"),
            (None, None) => "waiting".to_owned(),
        };
    }
    if let Some(terminated) = terminated(status) {
        return terminated;
    }
    "not started".to_owned()
}

/// "terminated: Error (exit code 1)" for a container that has ended.
fn terminated(status: &ContainerStatus) -> Option<String> {
    let terminated = status.state.as_ref()?.terminated.as_ref()?;
    let code = terminated.exit_code;
    Some(match terminated.reason.as_deref() {
        Some(reason) => format!("terminated: {reason} (exit code {code})"),
        None => format!("terminated (exit code {code})"),
    })
}

/// Why an unbound pod is not bound, from its PodScheduled condition, which the scheduler sets
/// when no node fits.
fn not_scheduled(pod: &Pod) -> String {
    let condition = pod
        .status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .and_then(|conditions| {
            conditions
                .iter()
                .find(|c| c.type_ == "PodScheduled" && c.status == "False")
        });
    match condition.map(|c| (c.reason.as_deref(), c.message.as_deref())) {
        Some((Some(reason), Some(message))) => format!("not scheduled: {reason}: {message}"),
        Some((Some(reason), None)) => format!("not scheduled: {reason}"),
        Some((None, Some(message))) => format!("not scheduled: {message}"),
        Some((None, None)) | None => "not scheduled yet".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(node: Option<&str>, status: serde_json::Value) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "bench-x7k2q-0"},
            "spec": {
                "nodeName": node,
                "containers": [{"name": "pause", "image": "hakube/pause"}],
            },
            "status": status,
        }))
        .expect("a valid pod")
    }

    fn running_container() -> serde_json::Value {
        serde_json::json!({
            "name": "pause", "image": "hakube/pause", "imageID": "", "ready": true,
            "restartCount": 0, "state": {"running": {}},
        })
    }

    #[test]
    fn reads_each_stage_of_a_pods_life() {
        // (node, status) -> (running, ended, detail)
        let cases = [
            (
                None,
                serde_json::json!({}),
                (false, false, "not scheduled yet"),
            ),
            (
                None,
                serde_json::json!({"phase": "Pending", "conditions": [{
                    "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                    "message": "0/3 nodes are available: 3 Insufficient cpu.",
                }]}),
                (
                    false,
                    false,
                    "not scheduled: Unschedulable: 0/3 nodes are available: 3 Insufficient cpu.",
                ),
            ),
            (
                Some("n1"),
                serde_json::json!({"phase": "Pending"}),
                (false, false, "Pending on a node, no container status yet"),
            ),
            (
                Some("n1"),
                serde_json::json!({"phase": "Pending", "containerStatuses": [{
                    "name": "pause", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
                    "state": {"waiting": {"reason": "ImagePullBackOff", "message": "no such image"}},
                }]}),
                (
                    false,
                    false,
                    "Pending on a node, container waiting: ImagePullBackOff: no such image",
                ),
            ),
            (
                Some("n1"),
                serde_json::json!({"phase": "Running", "containerStatuses": [{
                    "name": "pause", "image": "x", "imageID": "", "ready": false, "restartCount": 1,
                    "state": {"terminated": {"reason": "Error", "exitCode": 2}},
                }]}),
                (
                    false,
                    false,
                    "Running on a node, container terminated: Error (exit code 2)",
                ),
            ),
            (
                Some("n1"),
                serde_json::json!({"phase": "Running", "containerStatuses": [running_container()]}),
                (true, false, "Running"),
            ),
            (
                // A phase of Running before the container's status says so is not started yet.
                Some("n1"),
                serde_json::json!({"phase": "Running"}),
                (false, false, "Running on a node, no container status yet"),
            ),
            (
                Some("n1"),
                serde_json::json!({"phase": "Failed", "reason": "Evicted", "message": "low memory"}),
                (false, true, "Failed: Evicted: low memory"),
            ),
            (
                Some("n1"),
                serde_json::json!({"phase": "Succeeded", "containerStatuses": [{
                    "name": "pause", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
                    "state": {"terminated": {"reason": "Completed", "exitCode": 0}},
                }]}),
                (
                    false,
                    true,
                    "Succeeded, a container terminated: Completed (exit code 0)",
                ),
            ),
        ];
        for (node, status, (running, ended, detail)) in cases {
            let observed = observe(&pod(node, status.clone()));
            assert_eq!(
                (observed.running, observed.ended, observed.detail.as_str()),
                (running, ended, detail),
                "{status}"
            );
            assert_eq!(observed.node.as_deref(), node);
        }
    }

    #[test]
    fn every_container_must_run() {
        let mut two = pod(
            Some("n1"),
            serde_json::json!({"phase": "Running", "containerStatuses": [running_container()]}),
        );
        if let Some(spec) = two.spec.as_mut() {
            let mut sidecar = spec.containers[0].clone();
            sidecar.name = "sidecar".to_owned();
            spec.containers.push(sidecar);
        }
        let observed = observe(&two);
        assert!(!observed.running);
        assert_eq!(
            observed.detail,
            "Running on a node, no container status yet"
        );
    }

    #[test]
    fn an_empty_node_name_is_not_a_binding() {
        assert_eq!(observe(&pod(Some(""), serde_json::json!({}))).node, None);
    }
}
