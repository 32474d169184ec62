//! Static pods and their mirror pods. Each role the node runs (etcd, kube-apiserver, kube-vip...)
//! is shown as a static pod, and the API server sees it through a mirror pod `<role>-<node>` in
//! kube-system, as kubeadm's control-plane pods appear. Pure: building the pods, their status, and
//! deciding whether an existing mirror pod is still the right one.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStatus, HostIP, Pod, PodCondition,
    PodIP, PodSpec, PodStatus, Toleration,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::MirrorPod;
use crate::node::hex;

/// Where static pods' mirror pods live.
pub const NAMESPACE: &str = "kube-system";
/// Marks a mirror pod; its value is the static pod's hash.
pub const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";
pub const HASH_ANNOTATION: &str = "kubernetes.io/config.hash";
pub const SOURCE_ANNOTATION: &str = "kubernetes.io/config.source";
pub const SEEN_ANNOTATION: &str = "kubernetes.io/config.seen";
/// The priority class of pods a node cannot do without, and the value it resolves to.
const PRIORITY_CLASS: &str = "system-node-critical";
const PRIORITY: i32 = 2_000_001_000;
/// The pod conditions of a running, ready pod, in the order the kubelet lists them.
const READY_CONDITIONS: [&str; 5] = [
    "PodReadyToStartContainers",
    "Initialized",
    "Ready",
    "ContainersReady",
    "PodScheduled",
];

/// One run of this kubelet: the roles' "containers" start with the node process, so their
/// container IDs and start times belong to the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub started: Timestamp,
    /// Distinguishes this run from every other (hex).
    pub id: String,
}

impl Run {
    /// A run of the kubelet of `node_name`, started at `started` by process `pid`.
    pub fn new(node_name: &str, started: Timestamp, pid: u32) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(node_name.as_bytes());
        hasher.update(started.as_nanosecond().to_be_bytes());
        hasher.update(pid.to_be_bytes());
        Run {
            started,
            id: hex(&hasher.finalize()),
        }
    }

    /// The container ID of a role in this run, shaped like a container runtime's
    /// (`<runtime>://<64 hex digits>`).
    pub fn container_id(&self, role: &str) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.id.as_bytes());
        hasher.update([0]);
        hasher.update(role.as_bytes());
        format!("hakube://{}", hex(&hasher.finalize()))
    }
}

/// A role of the node, as a static pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticPod {
    pub role: String,
    pub image: String,
    pub log_file: PathBuf,
    pub node_name: String,
    /// `<role>-<node>`.
    pub name: String,
    /// Identifies the manifest: a mirror pod with another hash shows an older manifest.
    pub hash: String,
}

impl StaticPod {
    pub fn new(mirror: &MirrorPod, node_name: &str) -> Self {
        let mut pod = StaticPod {
            role: mirror.role.clone(),
            image: mirror.image.clone(),
            log_file: mirror.log_file.clone(),
            node_name: node_name.to_string(),
            name: format!("{}-{node_name}", mirror.role),
            hash: String::new(),
        };
        // The hash covers what the manifest says (name, labels, spec), as a kubelet hashes the
        // pod it read from a file. serde_json writes struct fields and maps in a fixed order.
        let manifest = serde_json::to_vec(&pod.manifest()).unwrap_or_default();
        pod.hash = hex(&Sha256::digest(&manifest)[..16]);
        pod
    }

    fn labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("component".to_string(), self.role.clone()),
            ("tier".to_string(), "control-plane".to_string()),
        ])
    }

    /// The static pod as its manifest would say it: no status, no annotations.
    fn manifest(&self) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                namespace: Some(NAMESPACE.to_string()),
                labels: Some(self.labels()),
                ..ObjectMeta::default()
            },
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: self.role.clone(),
                    image: Some(self.image.clone()),
                    image_pull_policy: Some("IfNotPresent".to_string()),
                    ..Container::default()
                }],
                host_network: Some(true),
                node_name: Some(self.node_name.clone()),
                priority: Some(PRIORITY),
                priority_class_name: Some(PRIORITY_CLASS.to_string()),
                restart_policy: Some("Always".to_string()),
                tolerations: Some(vec![Toleration {
                    operator: Some("Exists".to_string()),
                    effect: Some("NoExecute".to_string()),
                    ..Toleration::default()
                }]),
                ..PodSpec::default()
            }),
            status: None,
        }
    }

    fn annotations(&self, seen: Timestamp, mirror: bool) -> BTreeMap<String, String> {
        let mut annotations = BTreeMap::from([
            (HASH_ANNOTATION.to_string(), self.hash.clone()),
            (SOURCE_ANNOTATION.to_string(), "file".to_string()),
            (SEEN_ANNOTATION.to_string(), seen.to_string()),
        ]);
        if mirror {
            annotations.insert(MIRROR_ANNOTATION.to_string(), self.hash.clone());
        }
        annotations
    }

    /// The mirror pod to create: owned (and controlled) by the Node, so it goes with it.
    pub fn mirror(&self, node_uid: &str, seen: Timestamp) -> Pod {
        let mut pod = self.manifest();
        pod.metadata.annotations = Some(self.annotations(seen, true));
        pod.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "v1".to_string(),
            kind: "Node".to_string(),
            name: self.node_name.clone(),
            uid: node_uid.to_string(),
            controller: Some(true),
            ..OwnerReference::default()
        }]);
        pod
    }

    /// The static pod as this kubelet runs it (for its own `/pods`): its UID is its hash, as a
    /// kubelet names static pods, and it carries its status.
    pub fn running(&self, node_ip: Ipv4Addr, run: &Run) -> Pod {
        let mut pod = self.manifest();
        pod.metadata.uid = Some(self.hash.clone());
        pod.metadata.annotations = Some(self.annotations(run.started, false));
        pod.status = Some(self.status(node_ip, run));
        pod
    }

    /// A running, ready pod whose one container started with this run.
    pub fn status(&self, node_ip: Ipv4Addr, run: &Run) -> PodStatus {
        let ip = node_ip.to_string();
        let started = Time(run.started);
        PodStatus {
            phase: Some("Running".to_string()),
            host_ip: Some(ip.clone()),
            host_ips: Some(vec![HostIP { ip: ip.clone() }]),
            pod_ip: Some(ip.clone()),
            pod_ips: Some(vec![PodIP { ip }]),
            start_time: Some(started.clone()),
            qos_class: Some("BestEffort".to_string()),
            conditions: Some(
                READY_CONDITIONS
                    .iter()
                    .map(|type_| PodCondition {
                        type_: type_.to_string(),
                        status: "True".to_string(),
                        last_transition_time: Some(started.clone()),
                        ..PodCondition::default()
                    })
                    .collect(),
            ),
            container_statuses: Some(vec![ContainerStatus {
                name: self.role.clone(),
                ready: true,
                started: Some(true),
                restart_count: 0,
                image: self.image.clone(),
                image_id: format!("sha256:{}", hex(&Sha256::digest(self.image.as_bytes()))),
                container_id: Some(run.container_id(&self.role)),
                state: Some(ContainerState {
                    running: Some(ContainerStateRunning {
                        started_at: Some(started),
                    }),
                    ..ContainerState::default()
                }),
                ..ContainerStatus::default()
            }]),
            ..PodStatus::default()
        }
    }

    /// The merge patch for pods/status.
    pub fn status_patch(&self, node_ip: Ipv4Addr, run: &Run) -> Value {
        json!({ "status": self.status(node_ip, run) })
    }

    /// Why an existing pod of this name must be deleted and created again, if it must: it is not
    /// a mirror pod, shows another manifest, is being deleted, is bound elsewhere, or belongs to
    /// an earlier Node of the same name. `None` means only its status may need a refresh.
    pub fn stale_reason(&self, existing: &Pod, node_uid: &str) -> Option<&'static str> {
        let meta = &existing.metadata;
        let annotation = |key: &str| meta.annotations.as_ref().and_then(|a| a.get(key));
        let Some(mirror_hash) = annotation(MIRROR_ANNOTATION) else {
            return Some("it is not a mirror pod");
        };
        if *mirror_hash != self.hash {
            return Some("its static pod changed");
        }
        if meta.deletion_timestamp.is_some() {
            return Some("it is being deleted");
        }
        let node = existing.spec.as_ref().and_then(|s| s.node_name.as_deref());
        if node != Some(self.node_name.as_str()) {
            return Some("it is bound to another node");
        }
        let owned = meta
            .owner_references
            .iter()
            .flatten()
            .any(|o| o.kind == "Node" && o.uid == node_uid);
        if !owned {
            return Some("it belongs to an earlier Node");
        }
        None
    }

    /// Whether an existing pod already shows this run's status (every field the kubelet sets).
    pub fn status_is_current(&self, existing: &Pod, node_ip: Ipv4Addr, run: &Run) -> bool {
        let (Ok(want), Ok(have)) = (
            serde_json::to_value(self.status(node_ip, run)),
            serde_json::to_value(&existing.status),
        ) else {
            return false;
        };
        want.as_object()
            .into_iter()
            .flatten()
            .all(|(key, value)| have.get(key) == Some(value))
    }
}

#[cfg(test)]
mod tests;
