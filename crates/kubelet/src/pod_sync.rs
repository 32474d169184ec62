//! The pods bound to this node: a watch on `spec.nodeName=<node>` (mirror pods, which stand for
//! this kubelet's own static pods, are left out) feeds one worker per pod. A new pod is admitted
//! (at most [`MAX_PODS`] unfinished pods), gets its IP, and its worker starts; updates and
//! deletions go to its worker. After a (re)list, pods no longer listed are gone; on the first
//! list after a kubelet restart, pods keep the IPs their status shows.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Pod, PodStatus};
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::context::NodeContext;
use crate::events::{EventType, reference};
use crate::mirror::MIRROR_ANNOTATION;
use crate::status_writer;
use crate::worker::Worker;

/// The most unfinished pods this node runs (the kubelet's maxPods).
pub(crate) const MAX_PODS: usize = 110;
/// How long the loop waits for its workers at shutdown.
const WORKERS_STOP: Duration = Duration::from_secs(8);

fn is_mirror(pod: &Pod) -> bool {
    pod.metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(MIRROR_ANNOTATION))
}

fn is_finished(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    matches!(phase, Some("Succeeded" | "Failed"))
}

fn uid(pod: &Pod) -> String {
    pod.metadata.uid.clone().unwrap_or_default()
}

/// The IP a pod's status shows.
fn status_ip(pod: &Pod) -> Option<Ipv4Addr> {
    pod.status.as_ref()?.pod_ip.as_deref()?.parse().ok()
}

/// The pod loop's state.
struct PodSync {
    ctx: Arc<NodeContext>,
    stop: watch::Receiver<bool>,
    workers: HashMap<String, watch::Sender<Option<Pod>>>,
    tasks: JoinSet<String>,
    /// Pods whose workers finished (deleted for good) until their deletion is seen.
    ended: HashSet<String>,
    /// Pods refused admission.
    rejected: HashSet<String>,
    /// Pods waiting for a free IP.
    waiting_for_ip: HashMap<String, Pod>,
}

/// Runs the pods bound to this node until `stop`; then waits (a while) for their workers to
/// stop their containers.
pub(crate) async fn run(ctx: Arc<NodeContext>, stop: watch::Receiver<bool>) {
    let api: Api<Pod> = Api::all(ctx.client.clone());
    let selector = format!("spec.nodeName={}", ctx.node_name);
    let mut stream = watcher::watcher(api, watcher::Config::default().fields(&selector))
        .default_backoff()
        .boxed();
    let mut sync = PodSync {
        ctx,
        stop: stop.clone(),
        workers: HashMap::new(),
        tasks: JoinSet::new(),
        ended: HashSet::new(),
        rejected: HashSet::new(),
        waiting_for_ip: HashMap::new(),
    };
    let mut stop = stop;
    let mut listing: Option<Vec<Pod>> = None;
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            Some(done) = sync.tasks.join_next() => {
                if let Ok(uid) = done {
                    sync.workers.remove(&uid);
                    sync.ended.insert(uid);
                }
                // An IP may have come free.
                let waiting: Vec<Pod> = sync.waiting_for_ip.drain().map(|(_, p)| p).collect();
                for pod in waiting {
                    sync.apply(pod).await;
                }
            }
            event = stream.next() => match event {
                None => break,
                Some(Err(e)) => {
                    tracing::warn!(target: "kubelet", error = %e, "watching this node's pods failed; retrying");
                }
                Some(Ok(Event::Init)) => listing = Some(Vec::new()),
                Some(Ok(Event::InitApply(pod))) => listing.get_or_insert_with(Vec::new).push(pod),
                Some(Ok(Event::InitDone)) => {
                    let pods = listing.take().unwrap_or_default();
                    sync.relisted(pods).await;
                }
                Some(Ok(Event::Apply(pod))) => sync.apply(pod).await,
                Some(Ok(Event::Delete(pod))) => sync.deleted(&pod),
            }
        }
    }
    // The workers see the same stop and stop their containers.
    let _ = tokio::time::timeout(WORKERS_STOP, async {
        while sync.tasks.join_next().await.is_some() {}
    })
    .await;
}

/// Removes the directories of pods that are gone (deleted while the kubelet was down): a pod's
/// directory is named `<namespace>_<name>_<uid>`.
async fn remove_stale_dirs(pods_dir: &std::path::Path, keep: &HashSet<String>) {
    let Ok(mut entries) = tokio::fs::read_dir(pods_dir).await else {
        return;
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let name = entry.file_name();
        let Some(uid) = name
            .to_str()
            .and_then(|n| n.rsplit_once('_'))
            .map(|(_, uid)| uid)
        else {
            continue;
        };
        if !keep.contains(uid) && entry.path().is_dir() {
            tracing::info!(target: "kubelet", dir = %entry.path().display(), "removing the directory of a pod that is gone");
            let _ = tokio::fs::remove_dir_all(entry.path()).await;
        }
    }
}

impl PodSync {
    /// A full list: pods not in it are gone; listed pods keep the IPs their status shows.
    async fn relisted(&mut self, pods: Vec<Pod>) {
        let listed: HashSet<String> = pods.iter().map(uid).collect();
        for (uid, tx) in &self.workers {
            if !listed.contains(uid) {
                tx.send_replace(None);
            }
        }
        self.ended.retain(|uid| listed.contains(uid));
        self.rejected.retain(|uid| listed.contains(uid));
        self.waiting_for_ip.retain(|uid, _| listed.contains(uid));
        if let Some(ips) = &self.ctx.ips {
            let mut ips = ips.lock().unwrap_or_else(|p| p.into_inner());
            for pod in pods.iter().filter(|p| !is_mirror(p) && !is_finished(p)) {
                if let Some(ip) = status_ip(pod) {
                    ips.adopt(&uid(pod), ip);
                }
            }
        }
        let keep: HashSet<String> = listed
            .union(&self.workers.keys().cloned().collect())
            .cloned()
            .collect();
        remove_stale_dirs(&self.ctx.pods_dir, &keep).await;
        for pod in pods {
            self.apply(pod).await;
        }
    }

    fn deleted(&mut self, pod: &Pod) {
        let uid = uid(pod);
        if let Some(tx) = self.workers.get(&uid) {
            tx.send_replace(None);
        }
        self.ended.remove(&uid);
        self.rejected.remove(&uid);
        self.waiting_for_ip.remove(&uid);
    }

    /// A pod added or changed.
    async fn apply(&mut self, pod: Pod) {
        if is_mirror(&pod) {
            return;
        }
        let uid = uid(&pod);
        if let Some(tx) = self.workers.get(&uid) {
            tx.send_replace(Some(pod));
            return;
        }
        if self.ended.contains(&uid) || self.rejected.contains(&uid) {
            return;
        }
        let finished = is_finished(&pod);
        let active = self.ctx.static_pods
            + self
                .workers
                .keys()
                .filter(|u| !self.ctx.registry.is_finished(u))
                .count();
        if !finished && pod.metadata.deletion_timestamp.is_none() && active >= MAX_PODS {
            self.reject(&pod, active).await;
            return;
        }
        let Some(ip) = self.ip_for(&pod, finished) else {
            self.waiting_for_ip.insert(uid, pod);
            return;
        };
        let (tx, rx) = watch::channel(Some(pod.clone()));
        let worker = Worker::new(self.ctx.clone(), pod, ip);
        self.tasks.spawn(worker.run(rx, self.stop.clone()));
        self.workers.insert(uid, tx);
    }

    /// The pod's IP: the node's for host-network pods (and without a pod CIDR), the status's for
    /// a finished pod, else one of the pod CIDR. `None` when the range is used up.
    fn ip_for(&self, pod: &Pod, finished: bool) -> Option<Ipv4Addr> {
        let host_network = pod.spec.as_ref().and_then(|s| s.host_network) == Some(true);
        let node_ip = self.ctx.node_ip;
        let Some(ips) = self.ctx.ips.as_ref().filter(|_| !host_network) else {
            return Some(node_ip);
        };
        if finished {
            return Some(status_ip(pod).unwrap_or(node_ip));
        }
        let uid = uid(pod);
        let mut ips = ips.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(ip) = status_ip(pod)
            && ips.adopt(&uid, ip)
        {
            return Some(ip);
        }
        match ips.allocate(&uid) {
            Ok(ip) => Some(ip),
            Err(e) => {
                let message = format!("Failed to create pod sandbox: {e}");
                let object = reference(pod, None);
                self.ctx.recorder.record(
                    object,
                    EventType::Warning,
                    "FailedCreatePodSandBox",
                    message,
                );
                None
            }
        }
    }

    /// Refuses a pod the node has no room for: it fails with OutOfpods, as a full kubelet
    /// rejects one.
    async fn reject(&mut self, pod: &Pod, used: usize) {
        let message = format!(
            "Pod was rejected: Node didn't have enough resource: pods, requested: 1, used: {used}, capacity: {MAX_PODS}"
        );
        tracing::warn!(target: "kubelet", pod = ?pod.metadata.name, "{message}");
        let object = reference(pod, None);
        self.ctx
            .recorder
            .record(object, EventType::Warning, "OutOfpods", message.clone());
        let status = PodStatus {
            phase: Some("Failed".to_string()),
            reason: Some("OutOfpods".to_string()),
            message: Some(message),
            ..PodStatus::default()
        };
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(self.ctx.client.clone(), &namespace);
        if let Err(e) = status_writer::write(&api, &name, &uid(pod), &status).await {
            tracing::warn!(target: "kubelet", pod = %name, error = %e, "cannot write a rejected pod's status");
        }
        self.rejected.insert(uid(pod));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn directories_of_gone_pods_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["default_web_u1", "default_old_u2", "pids"] {
            std::fs::create_dir(dir.path().join(name)).unwrap();
        }
        std::fs::write(dir.path().join("default_file_u3"), "not a directory").unwrap();
        let keep = HashSet::from(["u1".to_string()]);
        remove_stale_dirs(dir.path(), &keep).await;
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["default_file_u3", "default_web_u1", "pids"]);
    }

    #[test]
    fn mirror_and_finished_pods() {
        let pod = |value: serde_json::Value| -> Pod { serde_json::from_value(value).unwrap() };
        let mirror = pod(serde_json::json!({
            "metadata": {"annotations": {MIRROR_ANNOTATION: "abc"}},
        }));
        assert!(is_mirror(&mirror));
        assert!(!is_mirror(&pod(serde_json::json!({"metadata": {}}))));
        for (phase, finished) in [("Succeeded", true), ("Failed", true), ("Running", false)] {
            let p = pod(serde_json::json!({"status": {"phase": phase, "podIP": "10.0.0.5"}}));
            assert_eq!(is_finished(&p), finished);
            assert_eq!(status_ip(&p), Some(Ipv4Addr::new(10, 0, 0, 5)));
        }
    }
}
