//! The ports a node listens on: real Kubernetes' ports, each node on its own address.

/// The API server's secure port (minikube's 8443), on every control-plane node and on the VIP.
pub const APISERVER: u16 = 8443;
/// The store's client port.
pub const ETCD_CLIENT: u16 = 2379;
/// The store's peer port.
pub const ETCD_PEER: u16 = 2380;
/// The kubelet API.
pub const KUBELET: u16 = 10250;
/// The kubelet's plain health endpoint.
pub const KUBELET_HEALTHZ: u16 = 10248;

/// What each port is, for preflight messages.
pub fn control_plane() -> [(u16, &'static str); 5] {
    [
        (APISERVER, "kube-apiserver"),
        (ETCD_CLIENT, "etcd client"),
        (ETCD_PEER, "etcd peer"),
        (KUBELET, "kubelet"),
        (KUBELET_HEALTHZ, "kubelet healthz"),
    ]
}

/// A worker's ports.
pub fn worker() -> [(u16, &'static str); 2] {
    [(KUBELET, "kubelet"), (KUBELET_HEALTHZ, "kubelet healthz")]
}
