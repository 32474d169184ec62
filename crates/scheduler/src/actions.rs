//! The API writes a scheduling decision leads to: the binding, the PodScheduled condition (and
//! nominated node) of a pod that fits nowhere, and the evictions preemption decides on.

use k8s_openapi::api::core::v1::{Binding, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::events::COMPONENT;

/// Binds a pod to a node through the `pods/binding` subresource, as kube's DefaultBinder.
pub async fn bind(
    client: kube::Client,
    namespace: &str,
    name: &str,
    uid: &str,
    node: &str,
) -> Result<()> {
    let api: Api<Pod> = Api::namespaced(client, namespace);
    let binding = Binding {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            uid: Some(uid.to_string()).filter(|u| !u.is_empty()),
            ..ObjectMeta::default()
        },
        target: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Node".into()),
            name: Some(node.to_string()),
            ..ObjectReference::default()
        },
    };
    // The API server answers with a Status, not a Pod.
    api.create_subresource::<Binding, Value>("binding", name, &PostParams::default(), &binding)
        .await
        .map_err(Error::api(format!(
            "binding pod {namespace}/{name} to node {node}"
        )))?;
    Ok(())
}

/// The PodScheduled condition the scheduler writes for a pod that fits nowhere, and the
/// nominated node preemption chose (or `None` to clear one). Returns the patch, or `None` when
/// the pod already says exactly this, so that retries do not rewrite the same status.
pub fn unschedulable_status_patch(
    pod: &Pod,
    message: &str,
    nominated: Option<&str>,
    now: Timestamp,
) -> Option<Value> {
    let status = pod.status.as_ref();
    let current = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled"));
    let current_nominated = status
        .and_then(|s| s.nominated_node_name.as_deref())
        .filter(|n| !n.is_empty());
    let same_condition = current.is_some_and(|c| {
        c.status == "False"
            && c.reason.as_deref() == Some("Unschedulable")
            && c.message.as_deref() == Some(message)
    });
    if same_condition && current_nominated == nominated {
        return None;
    }
    // The transition time moves only when the status flips.
    let transition = match current {
        Some(c) if c.status == "False" => c.last_transition_time.clone().unwrap_or(Time(now)),
        _ => Time(now),
    };
    let mut patch = json!({"status": {"conditions": [{
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": message,
        "lastProbeTime": null,
        "lastTransitionTime": transition,
    }]}});
    if nominated != current_nominated {
        patch["status"]["nominatedNodeName"] = match nominated {
            Some(node) => json!(node),
            None => Value::Null,
        };
    }
    Some(patch)
}

/// Writes a status patch made by [`unschedulable_status_patch`].
pub async fn patch_status(
    client: kube::Client,
    namespace: &str,
    name: &str,
    patch: Value,
) -> Result<()> {
    let api: Api<Pod> = Api::namespaced(client, namespace);
    api.patch_status(name, &PatchParams::default(), &Patch::Strategic(patch))
        .await
        .map_err(Error::api(format!(
            "updating the status of pod {namespace}/{name}"
        )))?;
    Ok(())
}

/// Evicts a preemption victim as kube-scheduler does: a DisruptionTarget condition saying why,
/// then a graceful delete guarded by the victim's UID.
pub async fn preempt_victim(
    client: kube::Client,
    namespace: &str,
    name: &str,
    uid: &str,
) -> Result<()> {
    let api: Api<Pod> = Api::namespaced(client, namespace);
    let condition = json!({"status": {"conditions": [{
        "type": "DisruptionTarget",
        "status": "True",
        "reason": "PreemptionByScheduler",
        "message": format!("{COMPONENT}: preempting to accommodate a higher priority pod"),
        "lastTransitionTime": Time(Timestamp::now()),
    }]}});
    match api
        .patch_status(name, &PatchParams::default(), &Patch::Strategic(condition))
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
        Err(e) => {
            return Err(Error::api(format!(
                "marking pod {namespace}/{name} for preemption"
            ))(e));
        }
    }
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: Some(uid.to_string()),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match api.delete(name, &params).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(Error::api(format!("preempting pod {namespace}/{name}"))(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::pod;

    #[test]
    fn the_condition_is_written_only_when_it_changes() {
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let earlier = "2023-01-01T00:00:00Z";
        let with_status = |status: Value| {
            let mut p = pod("p");
            p.0["status"] = status;
            p.build()
        };
        let msg = "0/1 nodes are available: 1 Insufficient cpu.";
        let unschedulable = json!({"conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": msg, "lastTransitionTime": earlier}]});
        // (case, pod status, nominated, expected patch's condition transition time or None)
        let cases: Vec<(&str, Value, Option<&str>, Option<&str>)> = vec![
            (
                "first failure",
                json!({}),
                None,
                Some("2023-11-14T22:13:20Z"),
            ),
            ("same message again", unschedulable.clone(), None, None),
            (
                "a new message keeps the transition time",
                {
                    let mut s = unschedulable.clone();
                    s["conditions"][0]["message"] = json!("older");
                    s
                },
                None,
                Some(earlier),
            ),
            (
                "nominating a node",
                unschedulable.clone(),
                Some("n1"),
                Some(earlier),
            ),
        ];
        for (name, status, nominated, want) in cases {
            let patch = unschedulable_status_patch(&with_status(status), msg, nominated, now);
            let got = patch.as_ref().map(|p| {
                p["status"]["conditions"][0]["lastTransitionTime"]
                    .as_str()
                    .unwrap()
                    .to_string()
            });
            assert_eq!(got.as_deref(), want, "{name}");
            if let Some(p) = patch {
                assert_eq!(p["status"]["conditions"][0]["message"], msg, "{name}");
                assert_eq!(
                    p["status"]["nominatedNodeName"].as_str(),
                    nominated,
                    "{name}"
                );
            }
        }
    }
}
