//! Compute resources as the scheduler counts them: a node's allocatable, a pod's effective
//! requests (containers, init containers, sidecars and overhead), and the non-zero requests
//! used for scoring so that pods without requests still spread out.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Node, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::quantity;

/// The CPU a container without a CPU request is taken to use when scoring, in millicores.
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// The memory a container without a memory request is taken to use when scoring (200 MiB).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// An amount of each resource the scheduler knows about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    /// Only meaningful for a node's allocatable: how many pods it takes.
    pub allowed_pods: i64,
    /// Extended resources (`example.com/gpu`), hugepages and attachable volumes, in whole units.
    pub scalar: BTreeMap<String, i64>,
}

/// Whether a resource name is one the scheduler counts as a scalar (extended) resource.
fn is_scalar(name: &str) -> bool {
    name.starts_with("hugepages-")
        || name.starts_with("attachable-volumes-")
        || (name.contains('/')
            && !name.contains("kubernetes.io/")
            && !name.starts_with("requests."))
}

impl Resources {
    /// Reads a resource list (`status.allocatable`, a container's `requests`).
    pub fn from_list(list: &BTreeMap<String, Quantity>) -> Resources {
        let mut r = Resources::default();
        r.add_list(list);
        r
    }

    fn add_list(&mut self, list: &BTreeMap<String, Quantity>) {
        for (name, q) in list {
            match name.as_str() {
                "cpu" => self.milli_cpu += quantity::milli_value(&q.0).unwrap_or(0),
                "memory" => self.memory += quantity::value(&q.0).unwrap_or(0),
                "ephemeral-storage" => self.ephemeral_storage += quantity::value(&q.0).unwrap_or(0),
                "pods" => self.allowed_pods += quantity::value(&q.0).unwrap_or(0),
                other if is_scalar(other) => {
                    *self.scalar.entry(other.to_string()).or_default() +=
                        quantity::value(&q.0).unwrap_or(0)
                }
                _ => {}
            }
        }
    }

    pub fn add(&mut self, other: &Resources) {
        self.milli_cpu += other.milli_cpu;
        self.memory += other.memory;
        self.ephemeral_storage += other.ephemeral_storage;
        self.allowed_pods += other.allowed_pods;
        for (k, v) in &other.scalar {
            *self.scalar.entry(k.clone()).or_default() += v;
        }
    }

    pub fn subtract(&mut self, other: &Resources) {
        self.milli_cpu -= other.milli_cpu;
        self.memory -= other.memory;
        self.ephemeral_storage -= other.ephemeral_storage;
        self.allowed_pods -= other.allowed_pods;
        for (k, v) in &other.scalar {
            let entry = self.scalar.entry(k.clone()).or_default();
            *entry -= v;
            if *entry == 0 {
                self.scalar.remove(k);
            }
        }
    }

    /// Raises each resource to at least `other`'s amount.
    fn set_max(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        for (k, v) in &other.scalar {
            let entry = self.scalar.entry(k.clone()).or_default();
            *entry = (*entry).max(*v);
        }
    }

    /// True when nothing at all is requested.
    pub fn is_zero(&self) -> bool {
        self.milli_cpu == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.scalar.values().all(|v| *v == 0)
    }

    /// A node's allocatable resources.
    pub fn allocatable(node: &Node) -> Resources {
        node.status
            .as_ref()
            .and_then(|s| s.allocatable.as_ref())
            .map(Resources::from_list)
            .unwrap_or_default()
    }
}

/// What a pod asks for: its effective requests and the non-zero CPU and memory used when scoring.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodRequests {
    pub requests: Resources,
    pub non_zero_milli_cpu: i64,
    pub non_zero_memory: i64,
}

/// A container's requests. A container that sets limits but no requests gets its limits as
/// requests, which is what the API server's defaulting stores.
fn container_requests(c: &Container) -> Resources {
    let Some(res) = c.resources.as_ref() else {
        return Resources::default();
    };
    let mut list = res.requests.clone().unwrap_or_default();
    for (name, q) in res.limits.iter().flatten() {
        list.entry(name.clone()).or_insert_with(|| q.clone());
    }
    Resources::from_list(&list)
}

/// The same container's requests with kube's scoring defaults for missing CPU and memory.
fn non_zero(c: &Container) -> (i64, i64) {
    let r = container_requests(c);
    let listed = |name: &str| {
        c.resources.as_ref().is_some_and(|res| {
            res.requests.as_ref().is_some_and(|m| m.contains_key(name))
                || res.limits.as_ref().is_some_and(|m| m.contains_key(name))
        })
    };
    let cpu = if listed("cpu") {
        r.milli_cpu
    } else {
        DEFAULT_MILLI_CPU_REQUEST
    };
    let memory = if listed("memory") {
        r.memory
    } else {
        DEFAULT_MEMORY_REQUEST
    };
    (cpu, memory)
}

fn is_sidecar(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

/// Computes a pod's requests the way kube's resource helper does: regular containers add up;
/// restartable init containers (sidecars) add to everything after them; each classic init
/// container runs alone (with the sidecars started before it), so only the largest counts;
/// pod overhead is added on top.
pub fn pod_requests(pod: &Pod) -> PodRequests {
    let Some(spec) = pod.spec.as_ref() else {
        return PodRequests::default();
    };
    let mut requests = Resources::default();
    let (mut nz_cpu, mut nz_mem) = (0i64, 0i64);
    for c in &spec.containers {
        requests.add(&container_requests(c));
        let (cpu, mem) = non_zero(c);
        nz_cpu += cpu;
        nz_mem += mem;
    }
    let mut sidecars = Resources::default();
    let (mut sidecar_cpu, mut sidecar_mem) = (0i64, 0i64);
    let mut init_max = Resources::default();
    let (mut init_max_cpu, mut init_max_mem) = (0i64, 0i64);
    for c in spec.init_containers.iter().flatten() {
        let r = container_requests(c);
        let (cpu, mem) = non_zero(c);
        if is_sidecar(c) {
            sidecars.add(&r);
            sidecar_cpu += cpu;
            sidecar_mem += mem;
            init_max.set_max(&sidecars);
            init_max_cpu = init_max_cpu.max(sidecar_cpu);
            init_max_mem = init_max_mem.max(sidecar_mem);
        } else {
            let mut with_sidecars = sidecars.clone();
            with_sidecars.add(&r);
            init_max.set_max(&with_sidecars);
            init_max_cpu = init_max_cpu.max(sidecar_cpu + cpu);
            init_max_mem = init_max_mem.max(sidecar_mem + mem);
        }
    }
    requests.add(&sidecars);
    nz_cpu += sidecar_cpu;
    nz_mem += sidecar_mem;
    requests.set_max(&init_max);
    nz_cpu = nz_cpu.max(init_max_cpu);
    nz_mem = nz_mem.max(init_max_mem);
    if let Some(overhead) = spec.overhead.as_ref() {
        let o = Resources::from_list(overhead);
        requests.add(&o);
        nz_cpu += o.milli_cpu;
        nz_mem += o.memory;
    }
    PodRequests {
        requests,
        non_zero_milli_cpu: nz_cpu,
        non_zero_memory: nz_mem,
    }
}
