//! The node's Lease in `kube-node-lease`: the cheap heartbeat the node lifecycle controller
//! watches. Building it is pure; [`run`] renews it every 10 seconds once the Node exists.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference};
use kube::Api;
use kube::api::PostParams;
use tokio::sync::watch;

use crate::call::call;
use crate::error::Result;

/// Where node leases live.
pub const NAMESPACE: &str = "kube-node-lease";
/// How long a lease lasts without renewal (the kubelet's default).
pub const DURATION_SECONDS: i32 = 40;
/// How often it is renewed: a quarter of its duration, as the kubelet does, so three renewals
/// can fail before it lapses.
pub const RENEW_INTERVAL: Duration = Duration::from_secs(10);
/// The first wait after a failed renewal; it doubles up to [`RENEW_INTERVAL`].
const RETRY_FIRST: Duration = Duration::from_millis(500);

/// The Node as an owner: deleting the Node lets the garbage collector remove its Lease.
pub fn node_owner(node_name: &str, node_uid: &str) -> OwnerReference {
    OwnerReference {
        api_version: "v1".to_string(),
        kind: "Node".to_string(),
        name: node_name.to_string(),
        uid: node_uid.to_string(),
        ..OwnerReference::default()
    }
}

/// A new Lease for the node, renewed now.
pub fn lease(node_name: &str, node_uid: &str, now: Timestamp) -> Lease {
    renewed(
        Lease {
            metadata: ObjectMeta {
                name: Some(node_name.to_string()),
                namespace: Some(NAMESPACE.to_string()),
                ..ObjectMeta::default()
            },
            spec: None,
        },
        node_name,
        node_uid,
        now,
    )
}

/// An existing Lease renewed now. Its resourceVersion is kept, so the update fails rather than
/// overwrite a change made since it was read. Owner references to another Node (an earlier
/// registration with another uid) give way to the current one; others are kept.
pub fn renewed(mut existing: Lease, node_name: &str, node_uid: &str, now: Timestamp) -> Lease {
    let mut spec = existing.spec.take().unwrap_or_default();
    spec.holder_identity = Some(node_name.to_string());
    spec.lease_duration_seconds = Some(DURATION_SECONDS);
    spec.renew_time = Some(MicroTime(now));
    existing.spec = Some(spec);
    let mut owners = existing
        .metadata
        .owner_references
        .take()
        .unwrap_or_default();
    owners.retain(|o| !(o.kind == "Node" && o.api_version == "v1"));
    owners.push(node_owner(node_name, node_uid));
    existing.metadata.owner_references = Some(owners);
    existing
}

/// Renews the Lease (creating it if missing) once.
pub(crate) async fn renew(api: &Api<Lease>, node_name: &str, node_uid: &str) -> Result<()> {
    let what = format!("renewing Lease {NAMESPACE}/{node_name}");
    match call(&what, api.get_opt(node_name)).await? {
        None => {
            let fresh = lease(node_name, node_uid, Timestamp::now());
            call(&what, api.create(&PostParams::default(), &fresh)).await?;
        }
        Some(existing) => {
            let update = renewed(existing, node_name, node_uid, Timestamp::now());
            call(
                &what,
                api.replace(node_name, &PostParams::default(), &update),
            )
            .await?;
        }
    }
    Ok(())
}

/// Renews the Lease every [`RENEW_INTERVAL`] while the Node exists (`node_uid` is set), retrying
/// sooner after a failure, until `stop`.
pub(crate) async fn run(
    api: Api<Lease>,
    node_name: String,
    mut node_uid: watch::Receiver<Option<String>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut retry = RETRY_FIRST;
    loop {
        let uid = node_uid.borrow_and_update().clone();
        let wait = match uid {
            None => {
                // Not registered (yet, or again): wait for the Node.
                tokio::select! {
                    _ = node_uid.changed() => continue,
                    _ = stop.changed() => return,
                }
            }
            Some(uid) => match renew(&api, &node_name, &uid).await {
                Ok(()) => {
                    tracing::debug!(target: "kubelet", node = %node_name, "lease renewed");
                    retry = RETRY_FIRST;
                    RENEW_INTERVAL
                }
                Err(e) => {
                    tracing::warn!(target: "kubelet", node = %node_name, error = %e, "lease renewal failed");
                    let wait = retry;
                    retry = (retry * 2).min(RENEW_INTERVAL);
                    wait
                }
            },
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_750_000_000 + seconds).unwrap()
    }

    #[test]
    fn a_new_lease() {
        let lease = serde_json::to_value(lease("n1", "uid-1", at(0))).unwrap();
        assert_eq!(
            lease,
            json!({
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {
                    "name": "n1",
                    "namespace": "kube-node-lease",
                    "ownerReferences": [
                        {"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": "uid-1"},
                    ],
                },
                "spec": {
                    "holderIdentity": "n1",
                    "leaseDurationSeconds": 40,
                    "renewTime": "2025-06-15T15:06:40.000000Z",
                },
            })
        );
    }

    #[test]
    fn renewal_keeps_the_version_and_other_owners_and_moves_to_the_current_node() {
        let mut existing = lease("n1", "old-uid", at(0));
        existing.metadata.resource_version = Some("42".to_string());
        existing
            .metadata
            .owner_references
            .as_mut()
            .unwrap()
            .push(OwnerReference {
                api_version: "example.com/v1".to_string(),
                kind: "Thing".to_string(),
                name: "t".to_string(),
                uid: "t-uid".to_string(),
                ..OwnerReference::default()
            });
        let renewed = renewed(existing, "n1", "new-uid", at(10));
        assert_eq!(renewed.metadata.resource_version.as_deref(), Some("42"));
        let owners: Vec<(&str, &str)> = renewed
            .metadata
            .owner_references
            .iter()
            .flatten()
            .map(|o| (o.kind.as_str(), o.uid.as_str()))
            .collect();
        assert_eq!(owners, [("Thing", "t-uid"), ("Node", "new-uid")]);
        let spec = renewed.spec.unwrap();
        assert_eq!(spec.renew_time, Some(MicroTime(at(10))));
        assert_eq!(spec.lease_duration_seconds, Some(40));
    }
}
