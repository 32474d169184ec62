//! Keeping the mirror pods in the API server: create the missing ones, replace stale ones, and
//! post their status, every 10 seconds once the Node exists. Errors are logged and retried.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use tokio::sync::watch;

use crate::call::call;
use crate::error::Result;
use crate::mirror::{MIRROR_ANNOTATION, NAMESPACE, Run, StaticPod};

/// How often the mirror pods are checked (a deleted one comes back within this).
pub const SYNC_INTERVAL: Duration = Duration::from_secs(10);
/// The wait after a failed sync before the next try.
const RETRY: Duration = Duration::from_secs(2);

/// What the mirror loop works on.
pub(crate) struct MirrorSync {
    pub api: Api<Pod>,
    pub pods: Arc<[StaticPod]>,
    pub node_ip: Ipv4Addr,
    pub run: Run,
}

impl MirrorSync {
    /// Syncs every mirror pod while the Node exists, until `stop`.
    pub async fn run(
        self,
        mut node_uid: watch::Receiver<Option<String>>,
        mut stop: watch::Receiver<bool>,
    ) {
        if self.pods.is_empty() {
            return;
        }
        loop {
            let uid = node_uid.borrow_and_update().clone();
            let wait = match uid {
                None => {
                    tokio::select! {
                        _ = node_uid.changed() => continue,
                        _ = stop.changed() => return,
                    }
                }
                Some(uid) => {
                    let all = async {
                        let mut ok = true;
                        for pod in self.pods.iter() {
                            if let Err(e) = self.sync(pod, &uid).await {
                                tracing::warn!(target: "kubelet", pod = %pod.name, error = %e, "mirror pod sync failed");
                                ok = false;
                            }
                        }
                        ok
                    };
                    let ok = tokio::select! {
                        ok = all => ok,
                        _ = stop.changed() => return,
                    };
                    if ok { SYNC_INTERVAL } else { RETRY }
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                // A new Node (registered again) owns the pods from now on: sync at once.
                _ = node_uid.changed() => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// Makes one mirror pod right: replaced if stale, created if missing, status posted if it
    /// does not show this run.
    async fn sync(&self, pod: &StaticPod, node_uid: &str) -> Result<()> {
        let existing = call(
            &format!("reading pod {NAMESPACE}/{}", pod.name),
            self.api.get_opt(&pod.name),
        )
        .await?;
        let existing = match existing {
            Some(existing) => match pod.stale_reason(&existing, node_uid) {
                Some(reason) => {
                    tracing::info!(target: "kubelet", pod = %pod.name, reason, "deleting a stale mirror pod");
                    delete(&self.api, &existing).await?;
                    None
                }
                None => Some(existing),
            },
            None => None,
        };
        let current = match existing {
            Some(current) => current,
            None => {
                tracing::info!(target: "kubelet", pod = %pod.name, "creating mirror pod");
                let mirror = pod.mirror(node_uid, self.run.started);
                call(
                    &format!("creating mirror pod {NAMESPACE}/{}", pod.name),
                    self.api.create(&PostParams::default(), &mirror),
                )
                .await?
            }
        };
        if !pod.status_is_current(&current, self.node_ip, &self.run) {
            let patch = Patch::Merge(pod.status_patch(self.node_ip, &self.run));
            call(
                &format!("updating the status of pod {NAMESPACE}/{}", pod.name),
                self.api
                    .patch_status(&pod.name, &PatchParams::default(), &patch),
            )
            .await?;
        }
        Ok(())
    }
}

/// Deletes a pod at once (a mirror pod has nothing to stop), only if it is still the one read.
async fn delete(api: &Api<Pod>, existing: &Pod) -> Result<()> {
    let name = existing.metadata.name.clone().unwrap_or_default();
    let params = DeleteParams {
        grace_period_seconds: Some(0),
        preconditions: Some(Preconditions {
            uid: existing.metadata.uid.clone(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match call(
        &format!("deleting pod {NAMESPACE}/{name}"),
        api.delete(&name, &params),
    )
    .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some(404) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Deletes this node's mirror pods (when the node leaves for good). Pods of the same names that
/// are not this node's mirror pods are left alone. Failures are logged.
pub(crate) async fn remove(api: &Api<Pod>, pods: &[StaticPod]) {
    for pod in pods {
        let found = call(
            &format!("reading pod {NAMESPACE}/{}", pod.name),
            api.get_opt(&pod.name),
        )
        .await;
        let existing = match found {
            Ok(Some(existing)) => existing,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(target: "kubelet", pod = %pod.name, error = %e, "cannot remove mirror pod");
                continue;
            }
        };
        let is_mirror = existing
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(MIRROR_ANNOTATION));
        let on_this_node = existing.spec.as_ref().and_then(|s| s.node_name.as_deref())
            == Some(pod.node_name.as_str());
        if !(is_mirror && on_this_node) {
            continue;
        }
        match delete(api, &existing).await {
            Ok(()) => tracing::info!(target: "kubelet", pod = %pod.name, "mirror pod removed"),
            Err(e) => {
                tracing::warn!(target: "kubelet", pod = %pod.name, error = %e, "cannot remove mirror pod")
            }
        }
    }
}
