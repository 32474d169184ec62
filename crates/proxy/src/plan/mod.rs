//! What this node's proxy should be doing, decided purely: the listeners it should hold, the
//! endpoint pools behind them, and the changes that take the current state there.
//!
//! A listener is one TCP socket address (a cluster IP and port, or a node IP and node port). A
//! pool is the set of endpoints connections are spread over; the cluster-IP and node-port
//! listeners of one Service port share a pool (and so one round-robin and one affinity table)
//! unless a Local traffic policy narrows one of them to this node's endpoints.

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use crate::model::{Endpoint, ServiceModel, ServicePort, ServicePortName};

/// What a listening address is, which decides how a failed bind is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ListenerKind {
    /// A Service's cluster IP. Every node's proxy wants it and only one can bind it, so a busy
    /// address is normal: another node serves it.
    ClusterIp,
    /// A node port on one of this node's IPs; only this proxy should ever bind it.
    NodePort,
}

impl fmt::Display for ListenerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ListenerKind::ClusterIp => "ClusterIP",
            ListenerKind::NodePort => "NodePort",
        })
    }
}

/// Which endpoints of a Service port a pool holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Every endpoint, wherever it runs.
    Cluster,
    /// Only this node's endpoints (a `Local` traffic policy).
    Node,
}

/// Names one pool: a Service port, narrowed or not to this node.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PoolKey {
    pub port: ServicePortName,
    pub scope: Scope,
}

impl fmt::Display for PoolKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scope {
            Scope::Cluster => write!(f, "{}", self.port),
            Scope::Node => write!(f, "{} (node-local)", self.port),
        }
    }
}

/// The endpoints of one pool and how connections stick to them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolSpec {
    /// Never empty: a Service port without usable endpoints gets no pool and no listener.
    pub endpoints: Vec<SocketAddr>,
    /// ClientIP session affinity and its timeout.
    pub affinity: Option<Duration>,
}

/// One wanted listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenerSpec {
    pub kind: ListenerKind,
    pub pool: PoolKey,
}

/// Two Service ports want one address; the first in name order keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    pub addr: SocketAddr,
    pub kept: ServicePortName,
    pub dropped: ServicePortName,
}

/// Everything this node's proxy should serve.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub listeners: BTreeMap<SocketAddr, ListenerSpec>,
    pub pools: BTreeMap<PoolKey, PoolSpec>,
    pub conflicts: Vec<Conflict>,
}

/// Decides the listeners and pools of the proxy on `node_name`, whose node ports listen on
/// `node_ips`.
///
/// A Service port with no usable endpoints gets no listener at all, so a client's connect is
/// refused by the kernel, which is what kube-proxy's REJECT rule makes a client see.
pub fn plan(model: &ServiceModel, node_name: &str, node_ips: &[Ipv4Addr]) -> Plan {
    let mut plan = Plan::default();
    for (name, port) in &model.ports {
        let cluster = pool_key(name, port.internal_local);
        let cluster_addrs: Vec<SocketAddr> = port.cluster_addrs().collect();
        plan.add(
            &cluster,
            port,
            node_name,
            cluster_addrs,
            ListenerKind::ClusterIp,
        );
        if let Some(node_port) = port.node_port {
            let external = pool_key(name, port.external_local);
            let addrs = node_ips
                .iter()
                .map(|ip| SocketAddr::V4(SocketAddrV4::new(*ip, node_port)))
                .collect();
            plan.add(&external, port, node_name, addrs, ListenerKind::NodePort);
        }
    }
    plan
}

fn pool_key(name: &ServicePortName, local: bool) -> PoolKey {
    PoolKey {
        port: name.clone(),
        scope: if local { Scope::Node } else { Scope::Cluster },
    }
}

impl Plan {
    fn add(
        &mut self,
        key: &PoolKey,
        port: &ServicePort,
        node_name: &str,
        addrs: Vec<SocketAddr>,
        kind: ListenerKind,
    ) {
        if addrs.is_empty() {
            return;
        }
        let node = (key.scope == Scope::Node).then_some(node_name);
        let endpoints = usable_endpoints(&port.endpoints, node);
        if endpoints.is_empty() {
            return;
        }
        let mut used = false;
        for addr in addrs {
            if let Some(holder) = self.listeners.get(&addr) {
                self.conflicts.push(Conflict {
                    addr,
                    kept: holder.pool.port.clone(),
                    dropped: key.port.clone(),
                });
                continue;
            }
            used = true;
            let pool = key.clone();
            self.listeners.insert(addr, ListenerSpec { kind, pool });
        }
        if used {
            let affinity = port.affinity;
            self.pools.insert(
                key.clone(),
                PoolSpec {
                    endpoints,
                    affinity,
                },
            );
        }
    }
}

/// The endpoints that take new connections, restricted to `node` when given: the ready ones, or,
/// when none is ready, the ones still serving while they terminate (kube-proxy's fallback, so a
/// rolling update's last old pod keeps answering until its replacement is ready).
pub fn usable_endpoints(endpoints: &[Endpoint], node: Option<&str>) -> Vec<SocketAddr> {
    let here = |e: &&Endpoint| node.is_none_or(|n| e.node_name.as_deref() == Some(n));
    let pick = |keep: fn(&Endpoint) -> bool| -> Vec<SocketAddr> {
        endpoints
            .iter()
            .filter(here)
            .filter(|e| keep(e))
            .map(|e| SocketAddr::V4(e.addr))
            .collect()
    };
    let ready = pick(|e| e.ready);
    if ready.is_empty() {
        pick(|e| e.serving && e.terminating)
    } else {
        ready
    }
}

/// A step from the current listeners to the planned ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListenerChange {
    /// Start listening (or trying to) on the address.
    Open(SocketAddr, ListenerSpec),
    /// Keep the socket, but send new connections to another pool (or report it as another kind).
    Retarget(SocketAddr, ListenerSpec),
    /// Stop listening; connections already accepted keep flowing.
    Close(SocketAddr),
}

/// The listener changes, closes first so an address is free before anything binds again.
pub fn diff_listeners(
    current: &BTreeMap<SocketAddr, ListenerSpec>,
    desired: &BTreeMap<SocketAddr, ListenerSpec>,
) -> Vec<ListenerChange> {
    let closes = current
        .keys()
        .filter(|addr| !desired.contains_key(addr))
        .map(|addr| ListenerChange::Close(*addr));
    let others = desired
        .iter()
        .filter_map(|(addr, spec)| match current.get(addr) {
            None => Some(ListenerChange::Open(*addr, spec.clone())),
            Some(now) if now != spec => Some(ListenerChange::Retarget(*addr, spec.clone())),
            Some(_) => None,
        });
    let mut changes: Vec<ListenerChange> = closes.collect();
    let (mut opens, retargets): (Vec<_>, Vec<_>) =
        others.partition(|c| matches!(c, ListenerChange::Open(..)));
    changes.extend(retargets);
    changes.append(&mut opens);
    changes
}

/// A step from the current pools to the planned ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PoolChange {
    Add(PoolKey, PoolSpec),
    /// New endpoints or affinity for an existing pool.
    Update(PoolKey, PoolSpec),
    Remove(PoolKey),
}

/// The pool changes, in key order.
pub fn diff_pools(
    current: &BTreeMap<PoolKey, PoolSpec>,
    desired: &BTreeMap<PoolKey, PoolSpec>,
) -> Vec<PoolChange> {
    let mut changes: Vec<PoolChange> = desired
        .iter()
        .filter_map(|(key, spec)| match current.get(key) {
            None => Some(PoolChange::Add(key.clone(), spec.clone())),
            Some(now) if now != spec => Some(PoolChange::Update(key.clone(), spec.clone())),
            Some(_) => None,
        })
        .collect();
    changes.extend(
        current
            .keys()
            .filter(|key| !desired.contains_key(key))
            .map(|key| PoolChange::Remove(key.clone())),
    );
    changes
}

/// A change to the set of Service ports, for kube-proxy's "Adding new service port" lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortChange {
    Added(ServicePortName),
    /// Its addresses, policies or affinity changed (endpoint changes are pool changes).
    Updated(ServicePortName),
    Removed(ServicePortName),
}

/// How the Service ports changed between two models, ignoring their endpoints.
pub fn diff_ports(before: &ServiceModel, after: &ServiceModel) -> Vec<PortChange> {
    let without_endpoints = |port: &ServicePort| ServicePort {
        endpoints: Vec::new(),
        ..port.clone()
    };
    let mut changes: Vec<PortChange> = after
        .ports
        .iter()
        .filter_map(|(name, port)| match before.ports.get(name) {
            None => Some(PortChange::Added(name.clone())),
            Some(old) if without_endpoints(old) != without_endpoints(port) => {
                Some(PortChange::Updated(name.clone()))
            }
            Some(_) => None,
        })
        .collect();
    changes.extend(
        before
            .ports
            .keys()
            .filter(|name| !after.ports.contains_key(name))
            .map(|name| PortChange::Removed(name.clone())),
    );
    changes
}
