//! The virtual-IP agent (hakube's kube-vip): elects one holder per cluster on a Lease and, on the
//! holder, balances TCP connections on the VIP across the API servers that pass a health check.
//!
//! [`start`] runs three tasks: the election (the `leader` crate, on kube-vip's Lease), the backend
//! discovery with one health checker per API server (`backends.rs`, `health.rs`), and the VIP
//! listener that exists only while this agent leads (`listener.rs`, `balancer.rs`,
//! `rotation.rs`). Logs go to the `vip` tracing target.

mod backends;
mod balancer;
mod error;
mod health;
mod listener;
mod rotation;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::info;

pub use backends::CONTROL_PLANE_LABEL;
pub use balancer::Balancer;
pub use error::{Error, Result};
pub use health::{CHECK_INTERVAL, CHECK_TIMEOUT, HealthCheck, Unhealthy, status_code};
pub use leader::LeaseTimings;
pub use rotation::{Change, Rotation};

/// The namespace of the Lease that elects the VIP holder.
pub const LOCK_NAMESPACE: &str = "kube-system";
/// The name of that Lease; kube-vip's control-plane lock name, so tools that know it find it.
pub const LOCK_NAME: &str = "plndr-cp-lock";

/// What one node's agent needs.
pub struct VipConfig {
    /// The node name, written as the Lease's holderIdentity.
    pub identity: String,
    /// Where to listen while leading, e.g. `127.0.49.254:8443`.
    pub vip: SocketAddr,
    /// A client of this node's own API server, not of the VIP: the election must not depend on
    /// the listener it decides about.
    pub client: kube::Client,
    /// The port of the API servers on the Nodes' InternalIPs.
    pub backend_port: u16,
    /// This node's API server, always a candidate, so the first node's VIP serves before any Node
    /// object exists.
    pub local_backend: SocketAddr,
    /// The PEM CA that signed the API servers' serving certificates.
    pub ca_cert: PathBuf,
    /// The election's clock.
    pub timings: LeaseTimings,
}

/// A running agent. Dropping it stops the tasks too, but only [`Agent::shutdown`] waits for the
/// Lease to be released.
pub struct Agent {
    leader: watch::Receiver<bool>,
    /// Stops the listener; sent first so the VIP is free before the Lease is.
    stop_listener: watch::Sender<bool>,
    /// Stops the election and the discovery.
    stop: watch::Sender<bool>,
    listener: JoinHandle<()>,
    discovery: JoinHandle<()>,
    election: leader::Elector,
    balancer: Balancer,
}

/// Starts the agent's tasks and returns at once. Fails only on a bad config or CA file.
pub async fn start(config: VipConfig) -> Result<Agent> {
    let VipConfig {
        identity,
        vip,
        client,
        backend_port,
        local_backend,
        ca_cert,
        timings,
    } = config;
    timings
        .validate()
        .map_err(|e| Error::Config(e.to_string()))?;
    let health = HealthCheck::from_ca_file(&ca_cert, CHECK_TIMEOUT)?;
    info!(
        "Starting kube-vip (hakube) {}, VIP [{vip}], backends on port {backend_port}, \
         local backend [{local_backend}]",
        env!("CARGO_PKG_VERSION"),
    );
    info!(
        "Beginning cluster membership, namespace [{LOCK_NAMESPACE}], lock name [{LOCK_NAME}], \
         id [{identity}]"
    );
    let election = leader::start_with(
        client.clone(),
        leader::Lock {
            namespace: LOCK_NAMESPACE.into(),
            name: LOCK_NAME.into(),
        },
        identity,
        leader::Options {
            timings,
            observer: Arc::new(log_like_kube_vip),
            vacancy: Some(Arc::new(move || Box::pin(vip_refuses(vip)))),
        },
    )
    .map_err(|e| Error::Config(e.to_string()))?;
    let leader = election.subscribe();
    let (stop_listener, stop_listener_rx) = watch::channel(false);
    let (stop, stop_rx) = watch::channel(false);
    let balancer = Balancer::new(vip);

    let discovery = backends::Discovery::new(
        client.clone(),
        backend_port,
        local_backend,
        balancer.clone(),
        health,
    );
    let discovery = tokio::spawn(discovery.run(stop_rx.clone()));
    let listener = tokio::spawn(listener::run(
        balancer.clone(),
        leader.clone(),
        stop_listener_rx,
        timings.retry_period,
    ));
    Ok(Agent {
        leader,
        stop_listener,
        stop,
        listener,
        discovery,
        election,
        balancer,
    })
}

impl Agent {
    /// Whether this agent holds the Lease (and so serves, or is about to serve, the VIP).
    pub fn is_leader(&self) -> bool {
        *self.leader.borrow()
    }

    /// The backends currently in rotation.
    pub fn healthy_backends(&self) -> Vec<SocketAddr> {
        self.balancer.healthy()
    }

    /// Stops the agent: closes the VIP listener, then releases the Lease if held, so another
    /// agent takes over at once. Connections already proxied are left to finish.
    pub async fn shutdown(self) {
        self.stop_listener.send_replace(true);
        if let Err(e) = self.listener.await {
            tracing::warn!("VIP listener task failed: {e}");
        }
        self.stop.send_replace(true);
        self.election.shutdown().await;
        if let Err(e) = self.discovery.await {
            tracing::warn!("VIP discovery task failed: {e}");
        }
        info!("kube-vip (hakube) stopped");
    }
}

/// Resolves once `stop` is set, or its sender is gone (the [`Agent`] was dropped).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopping| *stopping).await;
}

/// The election's events in kube-vip's words, which its users grep for.
fn log_like_kube_vip(event: &leader::Event<'_>) {
    use leader::Event;
    use tracing::warn;
    match event {
        Event::Campaigning { lock } => info!("attempting to acquire leader lease {lock}..."),
        Event::Acquired { lock } => info!("successfully acquired lease {lock}"),
        Event::Lost { lock, identity } => {
            warn!("lost leadership of lease {lock}, stepping down as [{identity}]");
        }
        Event::RenewFailed { lock, deadline } => {
            warn!("failed to renew lease {lock} within {deadline:?}");
        }
        Event::NewLeader { holder, .. } => {
            info!("Node [{holder}] is assuming leadership of the cluster");
        }
        Event::TakingOverVacant { holder, .. } => {
            info!("the VIP has no listener; taking over from the silent holder [{holder}]");
        }
        Event::Released { lock } => info!("released lease {lock}"),
        Event::ReleaseFailed { lock, error } => warn!("could not release lease {lock}: {error}"),
        Event::Unreachable { lock, error } => {
            warn!("error retrieving or updating lease {lock}: {error}");
        }
        Event::Reachable { lock } => info!("lease {lock} reachable again"),
    }
}

/// Whether a connection to the VIP is refused outright: nobody listens there. A timeout or any
/// other error proves nothing and counts as not refused.
async fn vip_refuses(vip: SocketAddr) -> bool {
    match tokio::time::timeout(
        Duration::from_millis(100),
        tokio::net::TcpStream::connect(vip),
    )
    .await
    {
        Ok(Err(e)) => e.kind() == std::io::ErrorKind::ConnectionRefused,
        _ => false,
    }
}
