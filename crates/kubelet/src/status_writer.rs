//! Writing a pod's status through `pods/status`, off the pod worker's path: the worker hands over
//! each new status and goes on; the writer patches the latest one (statuses that were replaced
//! before they could be written are skipped) and retries failures with a short back-off.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, PodStatus};
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::call::call;
use crate::error::Result;

/// Status fields the kubelet owns that may go away; a merge patch must say so with a null.
const CLEARABLE: [&str; 5] = [
    "podIP",
    "podIPs",
    "initContainerStatuses",
    "reason",
    "message",
];
/// The first wait after a failed write; it doubles up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// The merge patch that sets a pod's status. The uid guards against writing to a pod of the same
/// name created since.
pub(crate) fn status_patch(uid: &str, status: &PodStatus) -> Value {
    let mut status = serde_json::to_value(status).unwrap_or_else(|_| json!({}));
    if let Some(map) = status.as_object_mut() {
        for key in CLEARABLE {
            map.entry(key).or_insert(Value::Null);
        }
    }
    json!({"metadata": {"uid": uid}, "status": status})
}

/// Writes one status now.
pub(crate) async fn write(api: &Api<Pod>, name: &str, uid: &str, status: &PodStatus) -> Result<()> {
    let patch = Patch::Merge(status_patch(uid, status));
    let what = format!("updating the status of pod {}/{name}", api_namespace(api));
    call(
        &what,
        api.patch_status(name, &PatchParams::default(), &patch),
    )
    .await?;
    Ok(())
}

fn api_namespace(api: &Api<Pod>) -> String {
    api.namespace().unwrap_or_default().to_string()
}

/// A pod's status writer.
pub(crate) struct StatusWriter {
    tx: watch::Sender<Option<PodStatus>>,
    task: tokio::task::JoinHandle<()>,
}

impl StatusWriter {
    pub(crate) fn start(api: Api<Pod>, name: String, uid: String) -> Self {
        let (tx, rx) = watch::channel(None);
        let task = tokio::spawn(run(api, name, uid, rx));
        StatusWriter { tx, task }
    }

    /// Hands over a status; it is written unless a newer one comes first.
    pub(crate) fn publish(&self, status: PodStatus) {
        self.tx.send_if_modified(|current| {
            if current.as_ref() == Some(&status) {
                return false;
            }
            *current = Some(status);
            true
        });
    }

    /// Stops the writer at once, dropping what it has not written.
    pub(crate) fn abort(self) {
        self.task.abort();
    }

    /// Stops the writer, letting a write in progress finish (bounded by the call timeout).
    pub(crate) async fn close(self) {
        drop(self.tx);
        let _ = self.task.await;
    }
}

async fn run(api: Api<Pod>, name: String, uid: String, mut rx: watch::Receiver<Option<PodStatus>>) {
    let mut written: Option<PodStatus> = None;
    let mut retry = RETRY_FIRST;
    while rx.changed().await.is_ok() {
        loop {
            let Some(want) = rx.borrow_and_update().clone() else {
                break;
            };
            if written.as_ref() == Some(&want) {
                break;
            }
            match write(&api, &name, &uid, &want).await {
                Ok(()) => {
                    written = Some(want);
                    retry = RETRY_FIRST;
                    break;
                }
                Err(e) if e.code() == Some(404) => return,
                // Closed: the worker writes the final status itself.
                Err(_) if rx.has_changed().is_err() => return,
                Err(e) => {
                    tracing::warn!(target: "kubelet", pod = %name, error = %e, "pod status update failed; retrying");
                    tokio::time::sleep(retry).await;
                    retry = (retry * 2).min(RETRY_MAX);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_clear_what_is_gone() {
        let status = PodStatus {
            phase: Some("Pending".into()),
            ..PodStatus::default()
        };
        assert_eq!(
            status_patch("u1", &status),
            json!({
                "metadata": {"uid": "u1"},
                "status": {
                    "phase": "Pending", "podIP": null, "podIPs": null,
                    "initContainerStatuses": null, "reason": null, "message": null,
                },
            })
        );
    }
}
