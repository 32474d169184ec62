//! Starting and stopping the scheduler: campaign for the Lease `kube-system/kube-scheduler`,
//! run the scheduling loop only while leading, stop it the moment leadership is lost, and give
//! the Lease up on shutdown.

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::error::{Error, Result};
use crate::leading::{Context, lead};

/// How to run the scheduler.
pub struct SchedulerConfig {
    /// This candidate's identity in the election, `<node name>_<random suffix>`.
    pub identity: String,
    /// A client authenticated as `system:kube-scheduler`.
    pub client: kube::Client,
    /// The `spec.schedulerName` this scheduler serves, normally `default-scheduler`; pods that
    /// name no scheduler count as `default-scheduler`'s.
    pub scheduler_name: String,
}

/// A running scheduler.
pub struct Scheduler {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    elector: leader::Elector,
}

/// Starts campaigning and returns at once; scheduling begins when this instance leads. Must be
/// called inside a Tokio runtime.
pub fn start(config: SchedulerConfig) -> Result<Scheduler> {
    if config.identity.is_empty() {
        return Err(Error::Config("the identity is empty".into()));
    }
    if config.scheduler_name.is_empty() {
        return Err(Error::Config("the scheduler name is empty".into()));
    }
    info!(target: "kube-scheduler", identity = %config.identity, "Starting Kubernetes Scheduler");
    let options = leader::Options {
        timings: leader::LeaseTimings::components(),
        observer: Arc::new(leader::client_go_observer!("kube-scheduler")),
        vacancy: None,
    };
    let elector = leader::start_with(
        config.client.clone(),
        leader::Lock::kube_system("kube-scheduler"),
        config.identity.clone(),
        options,
    )
    .map_err(Error::Leader)?;
    let ctx = Arc::new(Context {
        client: config.client,
        scheduler_name: config.scheduler_name,
        identity: config.identity,
    });
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn(supervise(ctx, elector.subscribe(), stop_rx));
    Ok(Scheduler {
        stop,
        task,
        elector,
    })
}

impl Scheduler {
    /// Whether this instance leads (and so schedules) right now.
    pub fn is_leader(&self) -> bool {
        self.elector.is_leader()
    }

    /// Stops scheduling, then releases the Lease so another instance takes over at once.
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        if let Err(e) = self.task.await {
            warn!(target: "kube-scheduler", err = %e, "scheduler task failed");
        }
        self.elector.shutdown().await;
    }
}

/// Runs a leadership term's loop each time this instance leads.
async fn supervise(
    ctx: Arc<Context>,
    mut leading: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        // Wait to lead (or to be stopped).
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            r = leading.wait_for(|l| *l) => if r.is_err() { return },
        }
        info!(target: "kube-scheduler", "Leading: starting to schedule pods");
        let (term_stop, term_stop_rx) = watch::channel(false);
        let mut term = tokio::spawn(lead(ctx.clone(), term_stop_rx));
        let stopping = tokio::select! {
            _ = stop.wait_for(|s| *s) => true,
            _ = leading.wait_for(|l| !*l) => {
                warn!(target: "kube-scheduler", "Leaderelection lost: stopped scheduling");
                false
            }
            _ = &mut term => false,
        };
        term_stop.send_replace(true);
        if !term.is_finished() {
            let _ = term.await;
        }
        if stopping {
            return;
        }
    }
}
