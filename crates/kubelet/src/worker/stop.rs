//! The end of a pod's containers: graceful termination when the pod is deleted (SIGTERM, then
//! SIGKILL after its grace period, the final status, and the kubelet's final delete), a kill when
//! the pod vanished from the API server, the active deadline, and the kubelet's own shutdown.

use std::time::{Duration, Instant};

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{DeleteParams, Preconditions};

use super::{Worker, grace_period};
use crate::call::call;
use crate::events::{EventType, reference};

/// How long past the grace period the worker waits for processes to report their exit.
const EXIT_MARGIN: Duration = Duration::from_secs(3);
/// The grace period of containers of a pod that vanished, and at the kubelet's shutdown.
pub(crate) const SHORT_GRACE: Duration = Duration::from_secs(2);
/// Attempts at the final delete before the pod is left to the next sync of a later run.
const DELETE_ATTEMPTS: u32 = 5;

impl Worker {
    /// Stops every running instance within `grace`, and waits for them to exit.
    async fn stop_all(&mut self, grace: Duration, record: bool) {
        self.terminal = true;
        let pod = self.pod.clone();
        for slot in self.init.iter_mut().chain(self.main.iter_mut()) {
            slot.retry_at = None;
            let Some(instance) = &mut slot.instance else {
                continue;
            };
            instance.stopping = true;
            instance.process.stop(grace);
            if record {
                let object = reference(&pod, Some(&slot.field_path));
                let message = format!("Stopping container {}", slot.spec.name);
                self.ctx
                    .recorder
                    .record(object, EventType::Normal, "Killing", message);
            }
        }
        let deadline = tokio::time::Instant::now() + grace + EXIT_MARGIN;
        while self
            .init
            .iter()
            .chain(&self.main)
            .any(|s| s.instance.is_some())
        {
            match tokio::time::timeout_at(deadline, self.events_rx.recv()).await {
                Ok(Some(event)) => self.on_event(event),
                Ok(None) | Err(_) => break,
            }
        }
    }

    /// The pod was deleted (it has a deletionTimestamp): stop its containers within its grace
    /// period, write the final status, and delete the pod object for good.
    pub(super) async fn terminate(&mut self) {
        let grace = grace_period(&self.pod);
        tracing::info!(target: "kubelet", pod = %format!("{}/{}", self.namespace, self.name), ?grace, "terminating pod");
        self.stop_all(grace, true).await;
        self.publish();
        if let Some(writer) = self.writer.take() {
            writer.close().await;
        }
        self.final_delete().await;
        self.cleanup().await;
    }

    /// The pod is gone from the API server: its processes are killed at once.
    pub(super) async fn vanished(&mut self) {
        tracing::info!(target: "kubelet", pod = %format!("{}/{}", self.namespace, self.name), "pod deleted; killing its containers");
        if let Some(writer) = self.writer.take() {
            writer.abort();
        }
        self.stop_all(SHORT_GRACE, false).await;
        self.cleanup().await;
    }

    /// The kubelet stops: the containers stop with it; the pod object and its files stay, so
    /// the next run starts the pod again.
    pub(super) async fn shutdown(&mut self) {
        if let Some(writer) = self.writer.take() {
            writer.abort();
        }
        self.stop_all(SHORT_GRACE, false).await;
        self.ctx.registry.remove(&self.uid);
    }

    /// Deletes the pod object (grace period 0, only this pod: its uid is a precondition).
    async fn final_delete(&self) {
        let api: Api<Pod> = Api::namespaced(self.ctx.client.clone(), &self.namespace);
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: Some(self.uid.clone()),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        let what = format!("deleting pod {}/{}", self.namespace, self.name);
        let mut wait = Duration::from_millis(500);
        for _ in 0..DELETE_ATTEMPTS {
            match call(&what, api.delete(&self.name, &params)).await {
                Ok(_) => return,
                // Gone already, or another pod of that name now.
                Err(e) if matches!(e.code(), Some(404 | 409)) => return,
                Err(e) => {
                    tracing::warn!(target: "kubelet", error = %e, "final delete failed; retrying");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
            }
        }
    }

    /// Forgets the pod: its record, its IP and its directory.
    async fn cleanup(&mut self) {
        self.ctx.registry.remove(&self.uid);
        self.ctx.release_ip(&self.uid);
        if let Err(e) = tokio::fs::remove_dir_all(&self.dir).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(target: "kubelet", dir = %self.dir.display(), error = %e, "cannot remove a pod's directory");
        }
    }

    /// When the pod's active deadline (`activeDeadlineSeconds` after it started) passes.
    pub(super) fn deadline_at(&self) -> Option<Instant> {
        let seconds = self.pod.spec.as_ref()?.active_deadline_seconds?;
        let deadline = self
            .start_time
            .checked_add(jiff::SignedDuration::from_secs(seconds))
            .ok()?;
        let left = deadline.duration_since(Timestamp::now());
        let left = Duration::try_from(left).unwrap_or(Duration::ZERO);
        Some(Instant::now() + left)
    }

    /// Fails the pod if its active deadline has passed; true if it did.
    pub(super) async fn check_deadline(&mut self) -> bool {
        if self.deadline_at().is_none_or(|at| at > Instant::now()) {
            return false;
        }
        let message = "Pod was active on the node longer than the specified deadline";
        self.reason = Some(("DeadlineExceeded".to_string(), message.to_string()));
        let object = reference(&self.pod, None);
        self.ctx.recorder.record(
            object,
            EventType::Normal,
            "DeadlineExceeded",
            message.to_string(),
        );
        self.stop_all(grace_period(&self.pod), true).await;
        true
    }
}
