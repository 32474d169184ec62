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

/// The ports a node listens on, with what each is (for preflight messages): every role of a
/// control-plane node (without the store's when the etcd is external), or a worker's kubelet.
pub fn for_node(control_plane: bool, stacked: bool) -> Vec<(u16, &'static str)> {
    let mut ports = vec![(KUBELET, "kubelet"), (KUBELET_HEALTHZ, "kubelet healthz")];
    if control_plane {
        ports.push((APISERVER, "kube-apiserver"));
        if stacked {
            ports.extend([(ETCD_CLIENT, "etcd client"), (ETCD_PEER, "etcd peer")]);
        }
    }
    ports
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_follow_the_roles() {
        let cases = [
            (
                true,
                true,
                vec![KUBELET, KUBELET_HEALTHZ, APISERVER, ETCD_CLIENT, ETCD_PEER],
            ),
            (true, false, vec![KUBELET, KUBELET_HEALTHZ, APISERVER]),
            (false, true, vec![KUBELET, KUBELET_HEALTHZ]),
            (false, false, vec![KUBELET, KUBELET_HEALTHZ]),
        ];
        for (control_plane, stacked, want) in cases {
            let got: Vec<u16> = for_node(control_plane, stacked)
                .into_iter()
                .map(|(p, _)| p)
                .collect();
            assert_eq!(got, want, "control_plane={control_plane} stacked={stacked}");
        }
    }
}
