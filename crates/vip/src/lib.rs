//! The virtual-IP agent (hakube's kube-vip): elects one holder per cluster on a Lease and, on the
//! holder, balances TCP connections on the VIP across the API servers that pass a health check.
//!
//! [`start`] runs three tasks: the election (`election.rs`, rule in `lease.rs`), the backend
//! discovery with one health checker per API server (`backends.rs`, `health.rs`), and the VIP
//! listener that exists only while this agent leads (`listener.rs`, `balancer.rs`,
//! `rotation.rs`). Logs go to the `vip` tracing target.

mod backends;
mod balancer;
mod election;
mod error;
mod health;
mod lease;
mod listener;
mod rotation;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::info;

pub use backends::CONTROL_PLANE_LABEL;
pub use balancer::Balancer;
pub use error::{Error, Result};
pub use health::{CHECK_INTERVAL, CHECK_TIMEOUT, HealthCheck, Unhealthy, status_code};
pub use lease::{Action, LOCK_NAME, LOCK_NAMESPACE, LeaseView, decide};
pub use rotation::{Change, Rotation};

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

/// The election's timing, with client-go's meaning: the holder renews every `retry_period`, steps
/// down if no renewal succeeds within `renew_deadline`, and others may take over once
/// `lease_duration` has passed since the last renewal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseTimings {
    /// How long a renewal's claim lasts; whole seconds, since the Lease records seconds.
    pub lease_duration: Duration,
    /// How long the holder keeps leading without a successful renewal; shorter than the lease,
    /// so it stops serving before anyone else can start.
    pub renew_deadline: Duration,
    /// How often to try to acquire or renew.
    pub retry_period: Duration,
}

impl Default for LeaseTimings {
    /// 2 s / 1.5 s / 250 ms: a crashed holder is replaced in about two seconds and a failed API
    /// server leaves the rotation in under one. kube-vip defaults to 5 s / 3 s / 1 s, which suits
    /// hosts across a network; ours share one machine and one clock, so the margins can be tight.
    fn default() -> LeaseTimings {
        LeaseTimings {
            lease_duration: Duration::from_secs(2),
            renew_deadline: Duration::from_millis(1_500),
            retry_period: Duration::from_millis(250),
        }
    }
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
    election: JoinHandle<()>,
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
    election::validate(&timings)?;
    let health = HealthCheck::from_ca_file(&ca_cert, CHECK_TIMEOUT)?;
    info!(
        "Starting kube-vip (hakube) {}, VIP [{vip}], backends on port {backend_port}, \
         local backend [{local_backend}]",
        env!("CARGO_PKG_VERSION"),
    );
    let (leader_tx, leader) = watch::channel(false);
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
    let election = election::Election::new(client, identity, timings, leader_tx, vip);
    let election = tokio::spawn(election.run(stop_rx));
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
        for (name, task) in [("election", self.election), ("discovery", self.discovery)] {
            if let Err(e) = task.await {
                tracing::warn!("VIP {name} task failed: {e}");
            }
        }
        info!("kube-vip (hakube) stopped");
    }
}

/// Resolves once `stop` is set, or its sender is gone (the [`Agent`] was dropped).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopping| *stopping).await;
}
