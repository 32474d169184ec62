//! The Node object a kubelet registers and keeps current: labels, addresses, system info,
//! capacity and conditions. Pure: a function of the node's settings, the host's facts and the time.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    DaemonEndpoint, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints, NodeSpec, NodeStatus,
    NodeSystemInfo,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::host::HostFacts;

/// The label kubectl's ROLES column reads (any `node-role.kubernetes.io/<role>` label).
pub const CONTROL_PLANE_ROLE_LABEL: &str = "node-role.kubernetes.io/control-plane";
/// Keeps control-plane nodes out of cloud load balancers' backends, as kubeadm labels them.
pub const EXCLUDE_FROM_LB_LABEL: &str = "node.kubernetes.io/exclude-from-external-load-balancers";

/// Pods a kubelet admits by default (its `maxPods`).
const MAX_PODS: &str = "110";
/// The kubelet's default hard eviction threshold for memory (`memory.available<100Mi`), which it
/// takes off the capacity to get the allocatable memory.
pub(crate) const EVICTION_MEMORY_KIB: u64 = 100 * 1024;

/// The conditions a healthy kubelet reports: type, status, reason, message. A node that runs
/// nothing yet has no pressure of any kind.
const HEALTHY: [(&str, &str, &str, &str); 4] = [
    (
        "MemoryPressure",
        "False",
        "KubeletHasSufficientMemory",
        "kubelet has sufficient memory available",
    ),
    (
        "DiskPressure",
        "False",
        "KubeletHasNoDiskPressure",
        "kubelet has no disk pressure",
    ),
    (
        "PIDPressure",
        "False",
        "KubeletHasSufficientPID",
        "kubelet has sufficient PID available",
    ),
    (
        "Ready",
        "True",
        "KubeletReady",
        "kubelet is posting ready status",
    ),
];

/// What this kubelet registers itself as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub name: String,
    pub ip: Ipv4Addr,
    pub control_plane: bool,
    /// kubeletVersion and kubeProxyVersion, e.g. `v1.33.0`.
    pub version: String,
    /// The kubelet API's port (status.daemonEndpoints).
    pub port: u16,
    /// Go's architecture name: `amd64`, `arm64`...
    pub arch: String,
    /// The node's pod range (spec.podCIDR and spec.podCIDRs).
    pub pod_cidr: Option<String>,
}

impl Registration {
    /// The Node's labels. Control-plane nodes carry the role label but no taint: like minikube's
    /// HA clusters, every node here runs workloads.
    pub fn labels(&self) -> BTreeMap<String, String> {
        let mut labels = BTreeMap::from([
            ("kubernetes.io/hostname".to_string(), self.name.clone()),
            ("kubernetes.io/os".to_string(), "linux".to_string()),
            ("kubernetes.io/arch".to_string(), self.arch.clone()),
            ("beta.kubernetes.io/os".to_string(), "linux".to_string()),
            ("beta.kubernetes.io/arch".to_string(), self.arch.clone()),
        ]);
        if self.control_plane {
            labels.insert(CONTROL_PLANE_ROLE_LABEL.to_string(), String::new());
            labels.insert(EXCLUDE_FROM_LB_LABEL.to_string(), String::new());
        }
        labels
    }

    /// The merge patch that brings an existing Node's labels up to date on a restart: ours are
    /// set, the control-plane ones removed from a node that is no longer one, others kept.
    pub fn label_patch(&self) -> Value {
        let mut labels: serde_json::Map<String, Value> = self
            .labels()
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        if !self.control_plane {
            labels.insert(CONTROL_PLANE_ROLE_LABEL.to_string(), Value::Null);
            labels.insert(EXCLUDE_FROM_LB_LABEL.to_string(), Value::Null);
        }
        json!({ "metadata": { "labels": labels } })
    }

    /// The patch that gives an existing Node its pod range, if it should get one: only a Node
    /// without one (spec.podCIDR cannot change once set).
    pub fn pod_cidr_patch(&self, existing: &Node) -> Option<Value> {
        let cidr = self.pod_cidr.as_ref()?;
        let current = existing.spec.as_ref().and_then(|s| s.pod_cidr.as_deref());
        if current.is_some_and(|c| !c.is_empty()) {
            return None;
        }
        Some(json!({ "spec": { "podCIDR": cidr, "podCIDRs": [cidr] } }))
    }

    /// A new Node, as created at the first registration (status included, as kubelets do).
    pub fn node(&self, host: &HostFacts, now: Timestamp) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                labels: Some(self.labels()),
                ..ObjectMeta::default()
            },
            spec: Some(NodeSpec {
                pod_cidr: self.pod_cidr.clone(),
                pod_cidrs: self.pod_cidr.clone().map(|cidr| vec![cidr]),
                ..NodeSpec::default()
            }),
            status: Some(self.status(host, now, &[])),
        }
    }

    /// The Node's status. `previous` are the conditions last posted: a condition whose status
    /// has not changed keeps its lastTransitionTime.
    pub fn status(
        &self,
        host: &HostFacts,
        now: Timestamp,
        previous: &[NodeCondition],
    ) -> NodeStatus {
        let (capacity, allocatable) = resources(host);
        NodeStatus {
            addresses: Some(vec![
                NodeAddress {
                    type_: "InternalIP".to_string(),
                    address: self.ip.to_string(),
                },
                NodeAddress {
                    type_: "Hostname".to_string(),
                    address: self.name.clone(),
                },
            ]),
            capacity: Some(capacity),
            allocatable: Some(allocatable),
            conditions: Some(conditions(previous, now)),
            daemon_endpoints: Some(NodeDaemonEndpoints {
                kubelet_endpoint: Some(DaemonEndpoint {
                    port: i32::from(self.port),
                }),
            }),
            node_info: Some(self.node_info(host)),
            ..NodeStatus::default()
        }
    }

    /// The merge patch for the nodes/status subresource. Lists (addresses, conditions) are
    /// replaced whole, which is what the kubelet wants: it owns them.
    pub fn status_patch(
        &self,
        host: &HostFacts,
        now: Timestamp,
        previous: &[NodeCondition],
    ) -> Value {
        json!({ "status": self.status(host, now, previous) })
    }

    fn node_info(&self, host: &HostFacts) -> NodeSystemInfo {
        NodeSystemInfo {
            architecture: self.arch.clone(),
            boot_id: host.boot_id.clone(),
            container_runtime_version: format!("hakube://{}", env!("CARGO_PKG_VERSION")),
            kernel_version: host.kernel_version.clone(),
            kube_proxy_version: self.version.clone(),
            kubelet_version: self.version.clone(),
            machine_id: machine_id(&host.machine_id, &self.name),
            operating_system: "linux".to_string(),
            os_image: host.os_image.clone(),
            system_uuid: system_uuid(&host.machine_id, &self.name),
            swap: None,
        }
    }
}

/// Capacity and allocatable: CPUs, memory and pods. Nothing is reserved for system daemons (the
/// kubelet's default), but the memory eviction threshold is not allocatable.
fn resources(host: &HostFacts) -> (BTreeMap<String, Quantity>, BTreeMap<String, Quantity>) {
    let quantities = |memory_kib: u64| {
        BTreeMap::from([
            ("cpu".to_string(), Quantity(host.cpus.to_string())),
            ("memory".to_string(), Quantity(format!("{memory_kib}Ki"))),
            ("pods".to_string(), Quantity(MAX_PODS.to_string())),
        ])
    };
    (
        quantities(host.memory_kib),
        quantities(host.memory_kib.saturating_sub(EVICTION_MEMORY_KIB)),
    )
}

/// The healthy conditions, heartbeat now; transition times carried over where nothing changed.
pub fn conditions(previous: &[NodeCondition], now: Timestamp) -> Vec<NodeCondition> {
    HEALTHY
        .iter()
        .map(|&(type_, status, reason, message)| {
            let transition = previous
                .iter()
                .find(|c| c.type_ == type_ && c.status == status)
                .and_then(|c| c.last_transition_time.clone())
                .unwrap_or(Time(now));
            NodeCondition {
                type_: type_.to_string(),
                status: status.to_string(),
                reason: Some(reason.to_string()),
                message: Some(message.to_string()),
                last_heartbeat_time: Some(Time(now)),
                last_transition_time: Some(transition),
            }
        })
        .collect()
}

/// The Node's machineID. Every node of a hakube cluster runs on one machine and would report the
/// same `/etc/machine-id`, yet tools take machineID as one per node. So it is derived from the
/// machine's ID and the node name: unique per node, stable across restarts, in machine-id form
/// (32 lowercase hex digits).
pub fn machine_id(host_machine_id: &str, node_name: &str) -> String {
    hex(&digest("machine-id", host_machine_id, node_name)[..16])
}

/// The Node's systemUUID: the machine's DMI UUID is as shared (and usually root-only) as its
/// machine-id, so it is derived the same way, as an RFC 9562 version 8 (custom) UUID.
pub fn system_uuid(host_machine_id: &str, node_name: &str) -> String {
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest("system-uuid", host_machine_id, node_name)[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let h = hex(&bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn digest(purpose: &str, host_machine_id: &str, node_name: &str) -> [u8; 32] {
    // NUL separators keep ("ab", "c") and ("a", "bc") apart.
    let mut hasher = Sha256::new();
    for part in ["hakube", purpose, host_machine_id, node_name] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher.finalize().into()
}

/// Lowercase hex of some bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
