//! The pods this kubelet runs, as the kubelet API serves them: each pod's latest state, where its
//! containers run, and their log files. Pod workers publish here; `/pods`, `/containerLogs` and
//! the streaming endpoints read.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use k8s_openapi::api::core::v1::Pod;
use tokio::sync::watch;

use crate::target::ContainerTarget;

/// One log file of a container instance.
#[derive(Debug, Clone)]
pub(crate) struct LogFile {
    pub path: PathBuf,
    /// Turns true once the instance has ended and its output is written.
    pub done: watch::Receiver<bool>,
}

impl LogFile {
    /// A log file nothing writes any more (an instance of an earlier run).
    pub(crate) fn finished(path: PathBuf) -> Self {
        let (_, done) = watch::channel(true);
        LogFile { path, done }
    }
}

/// A running container's process and environment.
#[derive(Debug, Clone)]
pub(crate) struct Running {
    pub pid: u32,
    pub env: Arc<Vec<(String, String)>>,
    pub workdir: PathBuf,
}

/// One container of a pod.
#[derive(Debug, Clone)]
pub(crate) struct ContainerRecord {
    pub name: String,
    pub running: Option<Running>,
    /// The current (or last) instance's log.
    pub log: Option<LogFile>,
    /// The instance before it.
    pub previous_log: Option<LogFile>,
    /// Why it is not running, when it waits (`ErrImagePull`, `ContainerCreating`...).
    pub waiting: Option<String>,
}

/// One pod.
#[derive(Debug, Clone)]
pub(crate) struct PodRecord {
    /// The pod with the status this kubelet last computed.
    pub pod: Arc<Pod>,
    pub pod_ip: Ipv4Addr,
    pub hostname: String,
    /// Init containers first, then the containers, in spec order.
    pub containers: Vec<ContainerRecord>,
}

impl PodRecord {
    fn key(&self) -> (&str, &str) {
        (
            self.pod.metadata.namespace.as_deref().unwrap_or_default(),
            self.pod.metadata.name.as_deref().unwrap_or_default(),
        )
    }

    /// The pod's first container, as the kubelet picks one when none is named.
    fn default_container(&self) -> Option<&str> {
        let spec = self.pod.spec.as_ref()?;
        spec.containers.first().map(|c| c.name.as_str())
    }
}

/// The pods by uid.
#[derive(Debug, Default)]
pub(crate) struct PodRegistry {
    pods: RwLock<HashMap<String, PodRecord>>,
}

impl PodRegistry {
    pub(crate) fn set(&self, uid: &str, record: PodRecord) {
        self.write().insert(uid.to_string(), record);
    }

    pub(crate) fn remove(&self, uid: &str) {
        self.write().remove(uid);
    }

    /// A pod by namespace and name.
    pub(crate) fn find(&self, namespace: &str, name: &str) -> Option<PodRecord> {
        self.read()
            .values()
            .find(|r| r.key() == (namespace, name))
            .cloned()
    }

    /// Every pod, sorted by namespace and name.
    pub(crate) fn pods(&self) -> Vec<Arc<Pod>> {
        let pods = self.read();
        let mut records: Vec<&PodRecord> = pods.values().collect();
        records.sort_by(|a, b| a.key().cmp(&b.key()));
        records.into_iter().map(|r| r.pod.clone()).collect()
    }

    /// How many pods there are.
    pub(crate) fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether the pod has finished (Succeeded or Failed). Pods not (yet) here have not.
    pub(crate) fn is_finished(&self, uid: &str) -> bool {
        self.read().get(uid).is_some_and(|r| {
            let phase = r.pod.status.as_ref().and_then(|s| s.phase.as_deref());
            matches!(phase, Some("Succeeded" | "Failed"))
        })
    }

    /// A running container: the one named, or the pod's first.
    pub(crate) fn container_target(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
    ) -> Option<ContainerTarget> {
        let record = self.find(namespace, pod)?;
        let name = container.or_else(|| record.default_container())?;
        let found = record.containers.iter().find(|c| c.name == name)?;
        let running = found.running.as_ref()?;
        Some(ContainerTarget {
            pod_ip: record.pod_ip,
            env: running.env.as_ref().clone(),
            workdir: running.workdir.clone(),
            hostname: record.hostname.clone(),
            pid: running.pid,
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, PodRecord>> {
        self.pods
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, PodRecord>> {
        self.pods
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
