//! What every pod worker shares: the node's identity, the API client, the runtime's paths and
//! the shared state (events, Services, the registry, pid records, pod IPs).

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::Service;
use kube::runtime::reflector::Store;

use crate::env::Allocatable;
use crate::events::Recorder;
use crate::pids::PidRecords;
use crate::pod_ip::IpAllocator;
use crate::registry::PodRegistry;

/// The node's side of every pod.
pub(crate) struct NodeContext {
    pub node_name: String,
    pub node_ip: Ipv4Addr,
    pub client: kube::Client,
    /// The hakube binary, which runs the built-in images.
    pub runtime_exe: PathBuf,
    /// Where pods keep their directories and logs (`<state dir>/<ns>_<name>_<uid>`).
    pub pods_dir: PathBuf,
    pub recorder: Recorder,
    pub services: Store<Service>,
    pub registry: Arc<PodRegistry>,
    pub pids: PidRecords,
    /// Pod IPs; `None` without a pod CIDR, when pods share the node's IP.
    pub ips: Option<Arc<Mutex<IpAllocator>>>,
    pub allocatable: Allocatable,
    /// The node's static pods, which count against its pods too.
    pub static_pods: usize,
    /// `kube-probe/<major.minor>`.
    pub probe_user_agent: String,
}

impl NodeContext {
    /// Frees a pod's IP.
    pub(crate) fn release_ip(&self, uid: &str) {
        if let Some(ips) = &self.ips {
            ips.lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .release(uid);
        }
    }
}

/// `kube-probe/1.33` for kubelet version `v1.33.0`.
pub(crate) fn probe_user_agent(version: &str) -> String {
    let version = version.trim_start_matches('v');
    let mut parts = version.split('.');
    match (parts.next(), parts.next()) {
        (Some(major), Some(minor)) => format!("kube-probe/{major}.{minor}"),
        _ => format!("kube-probe/{version}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn user_agents() {
        assert_eq!(super::probe_user_agent("v1.33.0"), "kube-probe/1.33");
        assert_eq!(super::probe_user_agent("dev"), "kube-probe/dev");
    }
}
