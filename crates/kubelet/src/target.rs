//! A running container as the streaming endpoints (exec, attach, port-forward) need it: where it
//! runs, with which environment, and its process.

use std::net::Ipv4Addr;
use std::path::PathBuf;

/// A running container of a pod this kubelet runs, found by
/// [`KubeletApi::container_target`](crate::server::KubeletApi::container_target).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContainerTarget {
    /// The pod's own loopback IP (what its programs bind to).
    pub pod_ip: Ipv4Addr,
    /// The container's environment, as its process got it (name, value), in order.
    pub env: Vec<(String, String)>,
    /// The container's working directory.
    pub workdir: PathBuf,
    /// The pod's hostname (its name).
    pub hostname: String,
    /// The container's main process.
    pub pid: u32,
}
