//! The leader election loop: reads and writes the Lease through the local API server, following
//! the rule in `lease.rs`, and publishes whether this agent leads.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use kube::api::{ObjectMeta, PostParams};
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::error::{Error, Result};
use crate::lease::{Action, LOCK_NAME, LOCK_NAMESPACE, LeaseView, decide, take_over_if_vacant};
use crate::{LeaseTimings, stopped};

/// One agent's side of the election.
pub(crate) struct Election {
    api: Api<Lease>,
    identity: String,
    timings: LeaseTimings,
    leader: watch::Sender<bool>,
    /// The last holder we logged, so the takeover line is written once per change.
    observed: Option<String>,
    /// Whether the last attempt failed, so a down API server is logged once, not every period.
    failing: bool,
    /// Whether an acquire attempt is under way, whose write may land even if we stop waiting.
    in_flight: bool,
    /// The VIP, probed while following to notice a holder that died.
    vip: std::net::SocketAddr,
    /// How many rounds in a row the VIP refused connections while another agent held the claim.
    vacant_rounds: u32,
}

impl Election {
    pub(crate) fn new(
        client: kube::Client,
        identity: String,
        timings: LeaseTimings,
        leader: watch::Sender<bool>,
        vip: std::net::SocketAddr,
    ) -> Election {
        Election {
            api: Api::namespaced(client, LOCK_NAMESPACE),
            identity,
            timings,
            leader,
            observed: None,
            failing: false,
            in_flight: false,
            vip,
            vacant_rounds: 0,
        }
    }

    /// Campaigns, leads and campaigns again until `stop` fires; then releases the Lease if held.
    pub(crate) async fn run(mut self, mut stop: watch::Receiver<bool>) {
        info!(
            "Beginning cluster membership, namespace [{LOCK_NAMESPACE}], lock name \
             [{LOCK_NAME}], id [{}]",
            self.identity
        );
        loop {
            info!("attempting to acquire leader lease {LOCK_NAMESPACE}/{LOCK_NAME}...");
            let Some(renewed) = self.campaign(&mut stop).await else {
                // Stopped mid-attempt, a write may have made us the holder unseen; release
                // checks the holder first, so it is harmless otherwise.
                if self.in_flight {
                    self.release().await;
                }
                return;
            };
            info!("successfully acquired lease {LOCK_NAMESPACE}/{LOCK_NAME}");
            self.leader.send_replace(true);
            let stopping = self.lead(renewed, &mut stop).await;
            self.leader.send_replace(false);
            if stopping {
                self.release().await;
                return;
            }
            warn!(
                "lost leadership of lease {LOCK_NAMESPACE}/{LOCK_NAME}, stepping down as [{}]",
                self.identity
            );
        }
    }

    /// Tries every retry period until the Lease is ours. Returns when the successful attempt
    /// started, or `None` when told to stop.
    async fn campaign(&mut self, stop: &mut watch::Receiver<bool>) -> Option<Instant> {
        loop {
            let started = Instant::now();
            // Bounded, so a hung API call does not hold up the next attempt.
            self.in_flight = true;
            let attempt = tokio::time::timeout(self.timings.renew_deadline, self.try_acquire());
            let result = tokio::select! {
                biased;
                () = stopped(stop) => return None,
                result = attempt => result.unwrap_or(Err(Error::Timeout)),
            };
            self.in_flight = false;
            match result {
                Ok(true) => return Some(started),
                Ok(false) => {}
                Err(e) => self.failed(&e),
            }
            tokio::select! {
                biased;
                () = stopped(stop) => return None,
                () = tokio::time::sleep_until(started + self.timings.retry_period) => {}
            }
        }
    }

    /// Renews every retry period while leading. Returns `true` when told to stop, `false` when
    /// leadership is lost: another agent holds the Lease, or no renewal succeeded within the
    /// renew deadline, which is shorter than the lease so we stop serving before anyone may take
    /// over.
    async fn lead(&mut self, mut renewed: Instant, stop: &mut watch::Receiver<bool>) -> bool {
        loop {
            tokio::select! {
                biased;
                () = stopped(stop) => return true,
                () = tokio::time::sleep_until(renewed + self.timings.retry_period) => {}
            }
            let deadline = renewed + self.timings.renew_deadline;
            while Instant::now() < deadline {
                let started = Instant::now();
                let attempt = tokio::time::timeout_at(deadline, self.try_acquire());
                let result = tokio::select! {
                    biased;
                    () = stopped(stop) => return true,
                    result = attempt => result.unwrap_or(Err(Error::Timeout)),
                };
                match result {
                    Ok(true) => {
                        renewed = started;
                        break;
                    }
                    Ok(false) => return false,
                    Err(e) => self.failed(&e),
                }
                tokio::select! {
                    biased;
                    () = stopped(stop) => return true,
                    () = tokio::time::sleep_until(
                        (started + self.timings.retry_period).min(deadline),
                    ) => {}
                }
            }
            if Instant::now() >= deadline {
                warn!(
                    "failed to renew lease {LOCK_NAMESPACE}/{LOCK_NAME} within {:?}",
                    self.timings.renew_deadline
                );
                return false;
            }
        }
    }

    /// One read-decide-write round. `Ok(true)` when the Lease is ours afterwards, `Ok(false)`
    /// when another agent holds it or won a race for it (a 409 on create or replace).
    async fn try_acquire(&mut self) -> Result<bool> {
        let current = self.api.get_opt(LOCK_NAME).await?;
        let fallback = self.timings.lease_duration;
        let view = current
            .as_ref()
            .map(|lease| LeaseView::from_spec(lease.spec.as_ref(), fallback));
        if let Some(view) = &view {
            self.observe(&view.holder);
        }
        let now = Timestamp::now();
        let mut action = decide(view.as_ref(), &self.identity, now);
        if matches!(action, Action::Follow { .. }) {
            self.vacant_rounds = if vip_refuses(self.vip).await {
                self.vacant_rounds + 1
            } else {
                0
            };
            action = take_over_if_vacant(action, self.vacant_rounds);
            if matches!(action, Action::Acquire { .. }) {
                info!(
                    "VIP [{}] has no listener; taking over from the silent holder",
                    self.vip
                );
            }
        } else {
            self.vacant_rounds = 0;
        }
        let Some(next) = LeaseView::after(view.as_ref(), &action, &self.identity, now, fallback)
        else {
            self.succeeded();
            return Ok(false);
        };
        let mut lease = current.unwrap_or_else(|| Lease {
            metadata: ObjectMeta {
                name: Some(LOCK_NAME.to_owned()),
                namespace: Some(LOCK_NAMESPACE.to_owned()),
                ..ObjectMeta::default()
            },
            spec: None,
        });
        next.apply_to(lease.spec.get_or_insert_with(Default::default));
        // The replace carries the resourceVersion we read, so of two agents acting on the same
        // read only one succeeds; the other gets a 409 and reads again.
        let written = match action {
            Action::Create => self.api.create(&PostParams::default(), &lease).await,
            _ => {
                self.api
                    .replace(LOCK_NAME, &PostParams::default(), &lease)
                    .await
            }
        };
        match written {
            Ok(_) => {
                self.succeeded();
                if let Action::Acquire { previous } = &action {
                    debug!(%previous, "took over lease {LOCK_NAMESPACE}/{LOCK_NAME}");
                }
                let me = self.identity.clone();
                self.observe(&me);
                Ok(true)
            }
            Err(kube::Error::Api(status)) if status.code == 409 => {
                self.succeeded();
                debug!("lost the race for lease {LOCK_NAMESPACE}/{LOCK_NAME}: {status}");
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Gives the Lease up, as a clean stop does, so the next agent takes it at once instead of
    /// waiting for it to expire. Bounded by the renew deadline: if the API server is gone the
    /// Lease will expire anyway.
    async fn release(&mut self) {
        let attempt = tokio::time::timeout(self.timings.renew_deadline, async {
            let Some(mut lease) = self.api.get_opt(LOCK_NAME).await? else {
                return Ok(false);
            };
            let view = LeaseView::from_spec(lease.spec.as_ref(), self.timings.lease_duration);
            if view.holder != self.identity {
                return Ok(false);
            }
            view.released(Timestamp::now())
                .apply_to(lease.spec.get_or_insert_with(Default::default));
            self.api
                .replace(LOCK_NAME, &PostParams::default(), &lease)
                .await?;
            Ok::<_, Error>(true)
        });
        match attempt.await.unwrap_or(Err(Error::Timeout)) {
            Ok(true) => info!("released lease {LOCK_NAMESPACE}/{LOCK_NAME}"),
            Ok(false) => {}
            Err(e) => warn!("could not release lease {LOCK_NAMESPACE}/{LOCK_NAME}: {e}"),
        }
    }

    fn observe(&mut self, holder: &str) {
        if holder.is_empty() || self.observed.as_deref() == Some(holder) {
            return;
        }
        info!("Node [{holder}] is assuming leadership of the cluster");
        self.observed = Some(holder.to_owned());
    }

    fn failed(&mut self, error: &Error) {
        if self.failing {
            debug!("error retrieving or updating lease {LOCK_NAMESPACE}/{LOCK_NAME}: {error}");
        } else {
            warn!("error retrieving or updating lease {LOCK_NAMESPACE}/{LOCK_NAME}: {error}");
        }
        self.failing = true;
    }

    fn succeeded(&mut self) {
        if self.failing {
            info!("lease {LOCK_NAMESPACE}/{LOCK_NAME} reachable again");
        }
        self.failing = false;
    }
}

/// Checked at start: a renew deadline at or past the lease would let a leader keep serving after
/// another agent may have taken over.
pub(crate) fn validate(timings: &LeaseTimings) -> Result<()> {
    let LeaseTimings {
        lease_duration,
        renew_deadline,
        retry_period,
    } = *timings;
    if retry_period.is_zero() {
        return Err(Error::Config("retry period must be positive".into()));
    }
    if renew_deadline >= lease_duration {
        return Err(Error::Config(format!(
            "renew deadline {renew_deadline:?} must be shorter than lease duration \
             {lease_duration:?}"
        )));
    }
    if retry_period >= renew_deadline {
        return Err(Error::Config(format!(
            "retry period {retry_period:?} must be shorter than renew deadline \
             {renew_deadline:?}"
        )));
    }
    if lease_duration < Duration::from_secs(1) || lease_duration.subsec_nanos() != 0 {
        // The Lease records whole seconds; a shorter or fractional duration would be rounded up
        // on the wire and other agents would wait longer than this one expects.
        return Err(Error::Config(format!(
            "lease duration {lease_duration:?} must be a whole number of seconds"
        )));
    }
    Ok(())
}

/// Whether a connection to the VIP is refused outright: nobody listens there. A timeout or any
/// other error proves nothing and counts as not refused.
async fn vip_refuses(vip: std::net::SocketAddr) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timings_are_validated() {
        let t = |l: u64, r: u64, p: u64| LeaseTimings {
            lease_duration: Duration::from_millis(l),
            renew_deadline: Duration::from_millis(r),
            retry_period: Duration::from_millis(p),
        };
        let cases = [
            ("defaults", LeaseTimings::default(), true),
            ("kube-vip's defaults", t(5_000, 3_000, 1_000), true),
            (
                "deadline not shorter than lease",
                t(2_000, 2_000, 250),
                false,
            ),
            (
                "retry not shorter than deadline",
                t(2_000, 1_500, 1_500),
                false,
            ),
            ("zero retry", t(2_000, 1_500, 0), false),
            ("fractional lease", t(1_500, 1_000, 250), false),
        ];
        for (name, timings, ok) in cases {
            assert_eq!(validate(&timings).is_ok(), ok, "{name}");
        }
    }
}
