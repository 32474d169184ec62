//! The proxier: takes a [`ServiceModel`], plans this node's listeners and pools
//! ([`crate::plan`]), and carries the plan out on real sockets.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use tracing::{debug, info, warn};

use crate::TARGET;
use crate::listener::{BoundSet, Listener, Pool};
use crate::model::{ServiceModel, ServicePort, ServicePortName, Unsupported};
use crate::plan::{
    self, Conflict, ListenerChange, ListenerSpec, PoolChange, PoolKey, PoolSpec, PortChange,
};

/// One node's proxy state: the listeners it holds and the pools behind them.
///
/// [`Proxier::sync`] is the only way in; the watch loop feeds it from the API, and tests can feed
/// it models directly.
pub struct Proxier {
    node_name: String,
    node_ips: Vec<Ipv4Addr>,
    model: ServiceModel,
    pools: BTreeMap<PoolKey, (PoolSpec, Arc<Pool>)>,
    listeners: BTreeMap<SocketAddr, Listener>,
    bound: BoundSet,
    /// Unsupported ports and address conflicts already logged, so each is said once.
    reported_unsupported: BTreeSet<Unsupported>,
    reported_conflicts: BTreeSet<(SocketAddr, ServicePortName)>,
}

impl Proxier {
    /// A proxier for `node_name` (whose endpoints the Local policies keep), with node ports on
    /// `node_ips`. It serves nothing until the first [`Proxier::sync`].
    pub fn new(node_name: impl Into<String>, node_ips: Vec<Ipv4Addr>) -> Proxier {
        Proxier {
            node_name: node_name.into(),
            node_ips,
            model: ServiceModel::default(),
            pools: BTreeMap::new(),
            listeners: BTreeMap::new(),
            bound: BoundSet::default(),
            reported_unsupported: BTreeSet::new(),
            reported_conflicts: BTreeSet::new(),
        }
    }

    /// Makes the listeners and pools match `model`. Endpoint changes apply to the next accepted
    /// connection; closed listeners leave their spliced connections running. On return every
    /// new listener has made its first bind attempt, and every closed one is closed.
    pub async fn sync(&mut self, model: ServiceModel) {
        self.report_unsupported(&model);
        for change in plan::diff_ports(&self.model, &model) {
            log_port_change(&change, &model);
        }
        let plan = plan::plan(&model, &self.node_name, &self.node_ips);
        self.report_conflicts(&plan.conflicts);

        let current_pools: BTreeMap<PoolKey, PoolSpec> = self
            .pools
            .iter()
            .map(|(key, (spec, _))| (key.clone(), spec.clone()))
            .collect();
        let mut removed_pools = Vec::new();
        for change in plan::diff_pools(&current_pools, &plan.pools) {
            match change {
                PoolChange::Add(key, spec) => {
                    log_endpoints(&key, &spec);
                    let pool = Pool::new(key.clone(), &spec);
                    self.pools.insert(key, (spec, pool));
                }
                PoolChange::Update(key, spec) => {
                    if let Some((now, pool)) = self.pools.get_mut(&key) {
                        if now.endpoints != spec.endpoints {
                            log_endpoints(&key, &spec);
                        }
                        pool.set(&spec);
                        *now = spec;
                    }
                }
                // Removed only after the listeners, which may still point at it, have moved.
                PoolChange::Remove(key) => removed_pools.push(key),
            }
        }

        let current: BTreeMap<SocketAddr, ListenerSpec> = self
            .listeners
            .iter()
            .map(|(addr, listener)| (*addr, listener.spec.clone()))
            .collect();
        for change in plan::diff_listeners(&current, &plan.listeners) {
            match change {
                ListenerChange::Close(addr) => {
                    if let Some(listener) = self.listeners.remove(&addr) {
                        listener.close().await;
                    }
                }
                ListenerChange::Retarget(addr, spec) => {
                    let pool = self.pool(&spec.pool);
                    if let (Some(listener), Some(pool)) = (self.listeners.get_mut(&addr), pool) {
                        debug!(target: TARGET, servicePort = %addr, portName = %spec.pool, "Retargeting port");
                        listener.retarget(spec, pool);
                    }
                }
                ListenerChange::Open(addr, spec) => {
                    if let Some(pool) = self.pool(&spec.pool) {
                        let listener = Listener::open(addr, spec, pool, self.bound.clone());
                        self.listeners.insert(addr, listener);
                    }
                }
            }
        }
        for key in removed_pools {
            self.pools.remove(&key);
            if model.ports.contains_key(&key.port) {
                info!(
                    target: TARGET,
                    portName = %key,
                    "Service port has no ready endpoints; its ports are closed, so connections are refused"
                );
            }
        }
        self.model = model;
    }

    /// The addresses bound right now.
    pub fn listening(&self) -> Vec<SocketAddr> {
        self.bound.list()
    }

    /// Every address this proxy serves or keeps trying to bind.
    pub fn listeners(&self) -> Vec<SocketAddr> {
        self.listeners.keys().copied().collect()
    }

    /// The model of the last sync.
    pub fn model(&self) -> &ServiceModel {
        &self.model
    }

    /// A shared view of the bound addresses that outlives borrows of the proxier.
    pub(crate) fn bound(&self) -> BoundSet {
        self.bound.clone()
    }

    /// Closes every listener. Spliced connections keep running until their ends close them.
    pub async fn shutdown(mut self) {
        for (_, listener) in std::mem::take(&mut self.listeners) {
            listener.close().await;
        }
    }

    fn pool(&self, key: &PoolKey) -> Option<Arc<Pool>> {
        self.pools.get(key).map(|(_, pool)| pool.clone())
    }

    fn report_unsupported(&mut self, model: &ServiceModel) {
        for unsupported in model.unsupported.difference(&self.reported_unsupported) {
            warn!(
                target: TARGET,
                service = %unsupported.service,
                "{} not supported: the service's {} ports are not proxied",
                unsupported.protocol,
                unsupported.protocol
            );
        }
        // Forget Services that went away, so one created again under the name is reported too.
        self.reported_unsupported = model.unsupported.clone();
    }

    fn report_conflicts(&mut self, conflicts: &[Conflict]) {
        let now: BTreeSet<(SocketAddr, ServicePortName)> = conflicts
            .iter()
            .map(|c| (c.addr, c.dropped.clone()))
            .collect();
        for conflict in conflicts {
            if !self
                .reported_conflicts
                .contains(&(conflict.addr, conflict.dropped.clone()))
            {
                warn!(
                    target: TARGET,
                    servicePort = %conflict.addr,
                    "Service ports {} and {} both want {}; {} keeps it",
                    conflict.kept,
                    conflict.dropped,
                    conflict.addr,
                    conflict.kept
                );
            }
        }
        self.reported_conflicts = now;
    }
}

fn log_port_change(change: &PortChange, model: &ServiceModel) {
    match change {
        PortChange::Added(name) => info!(
            target: TARGET,
            portName = %name,
            servicePort = %describe(model.ports.get(name)),
            "Adding new service port"
        ),
        PortChange::Updated(name) => info!(
            target: TARGET,
            portName = %name,
            servicePort = %describe(model.ports.get(name)),
            "Updating existing service port"
        ),
        PortChange::Removed(name) => {
            info!(target: TARGET, portName = %name, "Removing service port");
        }
    }
}

/// A service port the way kube-proxy prints one: `10.96.0.1:443/TCP`, here with the node port.
fn describe(port: Option<&ServicePort>) -> String {
    let Some(port) = port else {
        return String::new();
    };
    let mut out: Vec<String> = port.cluster_addrs().map(|a| format!("{a}/TCP")).collect();
    if out.is_empty() {
        out.push(format!("None:{}/TCP", port.port));
    }
    if let Some(node_port) = port.node_port {
        out.push(format!("nodePort {node_port}/TCP"));
    }
    out.join(", ")
}

fn log_endpoints(key: &PoolKey, spec: &PoolSpec) {
    let endpoints: Vec<String> = spec.endpoints.iter().map(ToString::to_string).collect();
    info!(
        target: TARGET,
        portName = %key,
        endpoints = ?endpoints,
        "Setting endpoints for service port"
    );
}
