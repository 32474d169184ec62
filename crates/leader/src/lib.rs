//! Leader election on a `coordination.k8s.io/v1` Lease, with client-go's meaning of the three
//! timings: one candidate per component and node campaigns, the winner renews, and the others take
//! over once its claim runs out. The VIP agent, the controller manager and the scheduler each run
//! one election, on their own Lease.
//!
//! The rule is pure (`lease.rs`); the loop (`election.rs`) reads and writes the Lease and reports
//! what happens through an [`Observer`], so each component logs in its own words and to its own
//! tracing target.

mod election;
mod error;
mod lease;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use error::{Error, Result};
pub use lease::{Action, LeaseView, VACANT_ROUNDS, decide, take_over_if_vacant};

/// Which Lease elects the leader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lock {
    pub namespace: String,
    pub name: String,
}

impl Lock {
    /// The Lease `kube-system/<name>`, where Kubernetes' control-plane components keep theirs.
    pub fn kube_system(name: &str) -> Lock {
        Lock {
            namespace: "kube-system".into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// The election's timing, with client-go's meaning: the holder renews every `retry_period`, steps
/// down if no renewal succeeds within `renew_deadline`, and others may take over once
/// `lease_duration` has passed since the last renewal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseTimings {
    /// How long a renewal's claim lasts; whole seconds, since the Lease records seconds.
    pub lease_duration: Duration,
    /// How long the holder keeps leading without a successful renewal; shorter than the lease,
    /// so it stops working before anyone else can start.
    pub renew_deadline: Duration,
    /// How often to try to acquire or renew.
    pub retry_period: Duration,
}

impl LeaseTimings {
    /// The VIP agent's: 2 s / 1.5 s / 250 ms, so a crashed holder is replaced in about two
    /// seconds. kube-vip defaults to 5 s / 3 s / 1 s, which suits hosts across a network; ours
    /// share one machine and one clock, so the margins can be tight.
    pub fn vip() -> LeaseTimings {
        LeaseTimings {
            lease_duration: Duration::from_secs(2),
            renew_deadline: Duration::from_millis(1_500),
            retry_period: Duration::from_millis(250),
        }
    }

    /// The controller manager's and the scheduler's: 5 s / 4 s / 1 s. Kubernetes defaults to
    /// 15 s / 10 s / 2 s; a third of that still leaves a busy two-core machine a few missed
    /// renewals before a healthy leader steps down, and replaces a dead one in about five seconds.
    pub fn components() -> LeaseTimings {
        LeaseTimings {
            lease_duration: Duration::from_secs(5),
            renew_deadline: Duration::from_secs(4),
            retry_period: Duration::from_secs(1),
        }
    }

    /// Whether these timings give a safe election: a renew deadline at or past the lease would
    /// let a leader keep working after another candidate may have taken over.
    pub fn validate(&self) -> Result<()> {
        election::validate(self)
    }
}

/// A candidate's identity as Kubernetes' components write it: `<host>_<uuid>`, so a restarted
/// component is a new candidate and `kubectl get lease` still shows which node leads.
pub fn candidate_identity(host: &str) -> String {
    let bytes: [u8; 16] = rand::random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{host}_{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// What happened in an election, for the component to log in its own words.
#[derive(Debug)]
pub enum Event<'a> {
    /// Starting (or restarting, after losing it) the campaign for the Lease.
    Campaigning { lock: &'a Lock },
    /// This candidate now holds the Lease.
    Acquired { lock: &'a Lock },
    /// Another candidate holds it, or no renewal succeeded in time: this one stepped down.
    Lost { lock: &'a Lock, identity: &'a str },
    /// No renewal succeeded within the renew deadline (followed by [`Event::Lost`]).
    RenewFailed { lock: &'a Lock, deadline: Duration },
    /// A different holder was seen for the first time (including this candidate).
    NewLeader { lock: &'a Lock, holder: &'a str },
    /// The vacancy probe showed the holder gone, so its live claim is taken over.
    TakingOverVacant { lock: &'a Lock, holder: &'a str },
    /// A clean stop gave the Lease up.
    Released { lock: &'a Lock },
    /// Giving the Lease up failed; it will expire instead.
    ReleaseFailed { lock: &'a Lock, error: &'a Error },
    /// Reading or writing the Lease failed (reported once until it works again).
    Unreachable { lock: &'a Lock, error: &'a Error },
    /// The Lease can be read and written again.
    Reachable { lock: &'a Lock },
}

/// Told every [`Event`].
pub type Observer = Arc<dyn Fn(&Event<'_>) + Send + Sync>;

/// Asked, while another candidate holds a live claim, whether that holder provably stopped
/// serving; see [`take_over_if_vacant`] for when that is safe.
pub type VacancyProbe = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

/// How a campaign is run, beyond the Lease and the identity.
#[derive(Clone)]
pub struct Options {
    pub timings: LeaseTimings,
    pub observer: Observer,
    pub vacancy: Option<VacancyProbe>,
}

impl Options {
    /// The given timings, events logged with client-go's wording under the `leader` target, and
    /// no vacancy probe.
    pub fn new(timings: LeaseTimings) -> Options {
        Options {
            timings,
            observer: Arc::new(log_like_client_go),
            vacancy: None,
        }
    }
}

/// A running campaign.
pub struct Elector {
    leader: watch::Receiver<bool>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// Starts campaigning for `lock` as `identity`, logging with client-go's wording. Returns at once.
pub fn start(
    client: kube::Client,
    lock: Lock,
    identity: String,
    timings: LeaseTimings,
) -> Result<Elector> {
    start_with(client, lock, identity, Options::new(timings))
}

/// [`start`] with an observer of one's own and, optionally, a vacancy probe.
pub fn start_with(
    client: kube::Client,
    lock: Lock,
    identity: String,
    options: Options,
) -> Result<Elector> {
    options.timings.validate()?;
    let (leader_tx, leader) = watch::channel(false);
    let (stop, stop_rx) = watch::channel(false);
    let election = election::Election::new(
        client,
        lock,
        identity,
        options.timings,
        leader_tx,
        options.observer,
        options.vacancy,
    );
    let task = tokio::spawn(election.run(stop_rx));
    Ok(Elector { leader, stop, task })
}

impl Elector {
    /// Whether this candidate holds the Lease now.
    pub fn is_leader(&self) -> bool {
        *self.leader.borrow()
    }

    /// Follows leadership: `true` while this candidate leads.
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.leader.clone()
    }

    /// Stops campaigning and releases the Lease if held, so another candidate takes over at once.
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        if let Err(e) = self.task.await {
            tracing::warn!(target: "leader", "leader election task failed: {e}");
        }
    }
}

/// The default observer: client-go's leaderelection lines, under the `leader` target.
pub fn log_like_client_go(event: &Event<'_>) {
    (client_go_observer!("leader"))(event);
}

/// An observer that logs client-go's leaderelection lines under a tracing target of the
/// caller's (a target must be a constant, so each component expands its own), e.g.
/// `Arc::new(leader::client_go_observer!("kube-scheduler"))`.
#[macro_export]
macro_rules! client_go_observer {
    ($target:expr) => {
        |event: &$crate::Event<'_>| {
            use $crate::Event;
            use $crate::__tracing::{info, warn};
            match event {
                Event::Campaigning { lock } => {
                    info!(target: $target, "attempting to acquire leader lease {lock}...");
                }
                Event::Acquired { lock } => {
                    info!(target: $target, "successfully acquired lease {lock}");
                }
                Event::Lost { lock, identity } => {
                    warn!(target: $target, "leaderelection lost: {lock} no longer held by {identity}");
                }
                Event::RenewFailed { lock, deadline } => {
                    warn!(target: $target, "failed to renew lease {lock}: timed out after {deadline:?}");
                }
                Event::NewLeader { lock, holder } => {
                    info!(target: $target, "new leader elected for {lock}: {holder}");
                }
                Event::TakingOverVacant { lock, holder } => {
                    info!(target: $target, "{lock}: holder {holder} is gone; taking over");
                }
                Event::Released { lock } => info!(target: $target, "released lease {lock}"),
                Event::ReleaseFailed { lock, error } => {
                    warn!(target: $target, "could not release lease {lock}: {error}");
                }
                Event::Unreachable { lock, error } => {
                    warn!(target: $target, "error retrieving resource lock {lock}: {error}");
                }
                Event::Reachable { lock } => info!(target: $target, "lease {lock} reachable again"),
            }
        }
    };
}

#[doc(hidden)]
pub use tracing as __tracing;

/// Resolves once `stop` is set, or its sender is gone.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopping| *stopping).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_look_like_kube_uuids() {
        let identity = candidate_identity("n1");
        let (host, suffix) = identity.split_once('_').expect("host_uuid");
        assert_eq!(host, "n1");
        let parts: Vec<usize> = suffix.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12], "{suffix}");
        assert_ne!(candidate_identity("n1"), identity);
    }
}
