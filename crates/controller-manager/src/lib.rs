//! hakube's kube-controller-manager: one candidate per node campaigns on the Lease
//! `kube-system/kube-controller-manager`, and the leader runs every controller, each acting as
//! its own ServiceAccount in kube-system (as `--use-service-account-credentials` does). When
//! leadership is lost every controller stops and the manager campaigns again.
//!
//! Each controller decides in pure code (e.g. `apps::deployment::rollout`) and acts at the
//! edge: shared informer caches (`informer.rs`, `cache.rs`) feed a work queue per controller
//! (`queue.rs`), workers sync one object at a time with the controller's own client
//! (`credentials.rs`), and Events go through a recorder (`events.rs`). `apps/` holds the
//! Deployment and ReplicaSet controllers, `cluster/` the others.

mod apps;
mod cache;
mod cluster;
mod context;
mod credentials;
mod error;
mod events;
mod informer;
mod queue;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

pub use error::{Error, Result};

use context::{Context, ControllerFn};
use credentials::Credentials;

/// The tracing target of every line the controller manager logs.
const TARGET: &str = "kube-controller-manager";
/// The Lease the controller managers campaign on.
const LEASE: &str = "kube-controller-manager";
/// How long stopped controllers get to wind down before they are aborted.
const STOP_GRACE: Duration = Duration::from_secs(1);

/// The controller manager's tunables, with kube-controller-manager's meaning.
#[derive(Clone, Debug)]
pub struct Settings {
    /// How often the node lifecycle controller checks node health (`--node-monitor-period`).
    pub node_monitor_period: Duration,
    /// How long a node may go without a heartbeat before it is marked unhealthy
    /// (`--node-monitor-grace-period`; 40 s in kube 1.32).
    pub node_monitor_grace_period: Duration,
    /// How long a node that never reported may take before it is marked unhealthy
    /// (`--node-startup-grace-period`).
    pub node_startup_grace_period: Duration,
    /// How many terminated pods the pod GC keeps before deleting the oldest
    /// (`--terminated-pod-gc-threshold`).
    pub terminated_pod_gc_threshold: usize,
    /// The cluster CA (PEM), published as the `kube-root-ca.crt` ConfigMap in every namespace.
    pub root_ca_pem: String,
    /// How many objects each controller syncs at once (`--concurrent-*-syncs`).
    pub concurrent_syncs: usize,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            node_monitor_period: Duration::from_secs(5),
            node_monitor_grace_period: Duration::from_secs(40),
            node_startup_grace_period: Duration::from_secs(60),
            terminated_pod_gc_threshold: 12_500,
            root_ca_pem: String::new(),
            concurrent_syncs: 5,
        }
    }
}

/// How to start a controller manager.
pub struct ControllerManagerConfig {
    /// The node this manager runs on; the leader identity is `<identity>_<random>`.
    pub identity: String,
    /// The manager's own identity (system:kube-controller-manager, certificate auth); it
    /// campaigns for the Lease and mints the controllers' ServiceAccount tokens.
    pub kube_config: kube::Config,
    pub settings: Settings,
}

/// A running controller manager.
pub struct ControllerManager {
    elector: leader::Elector,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// Starts campaigning; controllers run while this candidate leads. Returns at once.
pub async fn start(config: ControllerManagerConfig) -> Result<ControllerManager> {
    let credentials = Arc::new(Credentials::new(config.kube_config)?);
    let identity = leader::candidate_identity(&config.identity);
    let options = leader::Options {
        timings: leader::LeaseTimings::components(),
        observer: Arc::new(leader::client_go_observer!("kube-controller-manager")),
        vacancy: None,
    };
    let elector = leader::start_with(
        credentials.root(),
        leader::Lock::kube_system(LEASE),
        identity,
        options,
    )
    .map_err(Error::Leader)?;
    let (shutdown, shutdown_rx) = watch::channel(false);
    let task = tokio::spawn(lead(
        elector.subscribe(),
        shutdown_rx,
        Arc::new(config.settings),
        credentials,
    ));
    Ok(ControllerManager {
        elector,
        shutdown,
        task,
    })
}

impl ControllerManager {
    /// Whether this manager leads (and so runs the controllers) now.
    pub fn is_leader(&self) -> bool {
        self.elector.is_leader()
    }

    /// Stops every controller, then releases the Lease so another manager takes over at once.
    pub async fn shutdown(self) {
        self.shutdown.send_replace(true);
        if let Err(e) = self.task.await {
            tracing::warn!(target: TARGET, "controller manager task failed: {e}");
        }
        self.elector.shutdown().await;
    }
}

/// Every controller this manager runs, under kube-controller-manager's `--controllers` names.
fn controllers() -> Vec<(&'static str, ControllerFn)> {
    let mut all = apps::controllers();
    all.extend(cluster::controllers());
    all
}

/// Follows leadership: runs the controllers for each term, until shutdown.
async fn lead(
    mut leading: watch::Receiver<bool>,
    mut shutdown: watch::Receiver<bool>,
    settings: Arc<Settings>,
    credentials: Arc<Credentials>,
) {
    loop {
        tokio::select! {
            led = leading.wait_for(|leads| *leads) => if led.is_err() { return },
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        tracing::info!(target: TARGET, "started leading; starting controllers");
        let (term, term_rx) = watch::channel(false);
        let context = Context::new(settings.clone(), credentials.clone(), term_rx);
        let mut running = JoinSet::new();
        for (name, controller) in controllers() {
            tracing::info!(target: TARGET, "Starting \"{name}\"");
            running.spawn(controller(context.clone()));
        }
        // Any change while leading ends the term: the value can only leave `true` by losing
        // the Lease, even if it is back to `true` by the time this task looks.
        let stopping = tokio::select! {
            _ = leading.changed() => {
                tracing::warn!(target: TARGET, "leaderelection lost; stopping controllers");
                false
            }
            _ = shutdown.wait_for(|stop| *stop) => true,
        };
        term.send_replace(true);
        stop_all(running).await;
        if stopping {
            tracing::info!(target: TARGET, "controllers stopped");
            return;
        }
    }
}

/// Waits briefly for stopped controllers to return, then aborts the rest: work must not go on
/// once another manager may lead.
async fn stop_all(mut running: JoinSet<()>) {
    let drained = tokio::time::timeout(STOP_GRACE, async {
        while running.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        running.abort_all();
        while running.join_next().await.is_some() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controllers_have_unique_names() {
        let names: Vec<&str> = controllers().iter().map(|(name, _)| *name).collect();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        assert!(names.contains(&"deployment") && names.contains(&"replicaset"));
    }
}
