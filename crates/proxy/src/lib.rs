//! The service proxy (hakube's kube-proxy) for the process driver: a userspace TCP proxy that
//! answers on Service cluster IPs and node ports and spreads connections round-robin over the
//! Services' ready endpoints.
//!
//! Every address of the process driver is on loopback, so the proxy simply listens on them: the
//! node ports on this node's IPs, and the cluster IPs, which every node's proxy tries to bind
//! while only one can (the others retry every second, so one takes over when the holder dies).
//!
//! [`start`] watches Services and EndpointSlices (`informer.rs`) and syncs a [`Proxier`] on every
//! change. The decisions are pure: the model of Service ports and endpoints (`model/`), the
//! listeners and pools it asks for and the diff against the current ones (`plan/`), and the
//! round-robin with ClientIP affinity (`rotation.rs`). `listener.rs` and `proxier.rs` carry them
//! out on sockets. Logs go to the `kube-proxy` tracing target.

mod error;
mod event;
mod informer;
mod listener;
pub mod model;
pub mod plan;
mod proxier;
mod rotation;

use std::net::{Ipv4Addr, SocketAddr};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use listener::BoundSet;

pub use error::{Error, Result};
pub use listener::BIND_RETRY;
pub use model::{Endpoint, ServiceModel, ServicePort, ServicePortName};
pub use proxier::Proxier;
pub use rotation::RoundRobin;

/// The tracing target of every log line, so the node process can give the role its own log.
pub const TARGET: &str = "kube-proxy";

/// What one node's proxy needs.
pub struct ProxyConfig {
    /// The Node's name: endpoints on this node are the local ones for the Local traffic policies.
    pub node_name: String,
    /// The Node's IP, named in the logs; also the node-port address when
    /// `node_port_addresses` is empty.
    pub node_ip: Ipv4Addr,
    /// A client with the identity system:kube-proxy (role system:node-proxier).
    pub client: kube::Client,
    /// This node's IPs, where node ports listen.
    pub node_port_addresses: Vec<Ipv4Addr>,
}

/// A running proxy.
pub struct Proxy {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    bound: BoundSet,
}

/// Starts the proxy's tasks and returns at once; it serves once its first lists of Services and
/// EndpointSlices arrive. Must be called inside a Tokio runtime.
pub fn start(config: ProxyConfig) -> Result<Proxy> {
    let ProxyConfig {
        node_name,
        node_ip,
        client,
        mut node_port_addresses,
    } = config;
    if node_name.is_empty() {
        return Err(Error::Config("node_name is empty".to_string()));
    }
    if node_ip.is_unspecified() {
        return Err(Error::Config(format!("node_ip {node_ip} is unspecified")));
    }
    tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
    if node_port_addresses.is_empty() {
        node_port_addresses.push(node_ip);
    }
    node_port_addresses.sort_unstable();
    node_port_addresses.dedup();
    info!(
        target: TARGET,
        node = %node_name,
        nodeIP = %node_ip,
        "Starting kube-proxy (hakube) {}, userspace TCP proxy, node ports on {node_port_addresses:?}",
        env!("CARGO_PKG_VERSION")
    );
    let proxier = Proxier::new(node_name.clone(), node_port_addresses);
    let bound = proxier.bound();
    let (stop, stop_rx) = watch::channel(false);
    let event_client = client.clone();
    tokio::spawn(async move {
        if let Err(e) = event::record_starting(event_client, &node_name).await {
            warn!(target: TARGET, "Failed to record the Starting event: {e}");
        }
    });
    let task = tokio::spawn(informer::run(client, proxier, stop_rx));
    Ok(Proxy { stop, task, bound })
}

impl Proxy {
    /// The addresses this proxy has bound right now (cluster IPs it holds and node ports).
    pub fn listening(&self) -> Vec<SocketAddr> {
        self.bound.list()
    }

    /// Stops watching and closes every listener, so another node's proxy can take the cluster
    /// IPs over at its next retry. Connections already proxied are left to finish.
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        if let Err(e) = self.task.await {
            warn!(target: TARGET, "kube-proxy task failed: {e}");
        }
        info!(target: TARGET, "kube-proxy stopped");
    }
}

/// Resolves once `stop` is set, or its sender is gone (the [`Proxy`] was dropped).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopping| *stopping).await;
}
