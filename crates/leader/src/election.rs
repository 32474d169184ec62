//! The leader election loop: reads and writes the Lease through the API, following the rule in
//! `lease.rs`, publishes whether this candidate leads, and tells the observer what happens.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use kube::api::{ObjectMeta, PostParams};
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::debug;

use crate::error::{Error, Result};
use crate::lease::{Action, LeaseView, decide, take_over_if_vacant};
use crate::{Event, LeaseTimings, Lock, Observer, VacancyProbe, stopped};

/// One candidate's side of the election.
pub(crate) struct Election {
    api: Api<Lease>,
    lock: Lock,
    identity: String,
    timings: LeaseTimings,
    leader: watch::Sender<bool>,
    observer: Observer,
    /// The last holder reported, so a new leader is announced once per change.
    observed: Option<String>,
    /// Whether the last attempt failed, so a down API server is reported once, not every period.
    failing: bool,
    /// Whether an acquire attempt is under way, whose write may land even if we stop waiting.
    in_flight: bool,
    /// Asked while following whether the holder provably stopped serving.
    vacancy: Option<VacancyProbe>,
    /// How many rounds in a row the probe found the holder gone while its claim still stood.
    vacant_rounds: u32,
}

impl Election {
    pub(crate) fn new(
        client: kube::Client,
        lock: Lock,
        identity: String,
        timings: LeaseTimings,
        leader: watch::Sender<bool>,
        observer: Observer,
        vacancy: Option<VacancyProbe>,
    ) -> Election {
        Election {
            api: Api::namespaced(client, &lock.namespace),
            lock,
            identity,
            timings,
            leader,
            observer,
            observed: None,
            failing: false,
            in_flight: false,
            vacancy,
            vacant_rounds: 0,
        }
    }

    /// Campaigns, leads and campaigns again until `stop` fires; then releases the Lease if held.
    pub(crate) async fn run(mut self, mut stop: watch::Receiver<bool>) {
        loop {
            (self.observer)(&Event::Campaigning { lock: &self.lock });
            let Some(renewed) = self.campaign(&mut stop).await else {
                // Stopped mid-attempt, a write may have made us the holder unseen; release
                // checks the holder first, so it is harmless otherwise.
                if self.in_flight {
                    self.release().await;
                }
                return;
            };
            (self.observer)(&Event::Acquired { lock: &self.lock });
            self.leader.send_replace(true);
            let stopping = self.lead(renewed, &mut stop).await;
            self.leader.send_replace(false);
            if stopping {
                self.release().await;
                return;
            }
            (self.observer)(&Event::Lost {
                lock: &self.lock,
                identity: &self.identity,
            });
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
                (self.observer)(&Event::RenewFailed {
                    lock: &self.lock,
                    deadline: self.timings.renew_deadline,
                });
                return false;
            }
        }
    }

    /// One read-decide-write round. `Ok(true)` when the Lease is ours afterwards, `Ok(false)`
    /// when another agent holds it or won a race for it (a 409 on create or replace).
    async fn try_acquire(&mut self) -> Result<bool> {
        let current = self.api.get_opt(&self.lock.name).await?;
        let fallback = self.timings.lease_duration;
        let view = current
            .as_ref()
            .map(|lease| LeaseView::from_spec(lease.spec.as_ref(), fallback));
        if let Some(view) = &view {
            self.observe(&view.holder);
        }
        let now = Timestamp::now();
        let mut action = decide(view.as_ref(), &self.identity, now);
        if let (Action::Follow { holder }, Some(probe)) = (&action, &self.vacancy) {
            let holder = holder.clone();
            self.vacant_rounds = if probe().await {
                self.vacant_rounds + 1
            } else {
                0
            };
            action = take_over_if_vacant(action, self.vacant_rounds);
            if matches!(action, Action::Acquire { .. }) {
                (self.observer)(&Event::TakingOverVacant {
                    lock: &self.lock,
                    holder: &holder,
                });
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
                name: Some(self.lock.name.clone()),
                namespace: Some(self.lock.namespace.clone()),
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
                    .replace(&self.lock.name, &PostParams::default(), &lease)
                    .await
            }
        };
        match written {
            Ok(_) => {
                self.succeeded();
                if let Action::Acquire { previous } = &action {
                    debug!(%previous, "took over lease {}", self.lock);
                }
                let me = self.identity.clone();
                self.observe(&me);
                Ok(true)
            }
            Err(kube::Error::Api(status)) if status.code == 409 => {
                self.succeeded();
                debug!("lost the race for lease {}: {status}", self.lock);
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
            let Some(mut lease) = self.api.get_opt(&self.lock.name).await? else {
                return Ok(false);
            };
            let view = LeaseView::from_spec(lease.spec.as_ref(), self.timings.lease_duration);
            if view.holder != self.identity {
                return Ok(false);
            }
            view.released(Timestamp::now())
                .apply_to(lease.spec.get_or_insert_with(Default::default));
            self.api
                .replace(&self.lock.name, &PostParams::default(), &lease)
                .await?;
            Ok::<_, Error>(true)
        });
        match attempt.await.unwrap_or(Err(Error::Timeout)) {
            Ok(true) => (self.observer)(&Event::Released { lock: &self.lock }),
            Ok(false) => {}
            Err(e) => (self.observer)(&Event::ReleaseFailed {
                lock: &self.lock,
                error: &e,
            }),
        }
    }

    fn observe(&mut self, holder: &str) {
        if holder.is_empty() || self.observed.as_deref() == Some(holder) {
            return;
        }
        (self.observer)(&Event::NewLeader {
            lock: &self.lock,
            holder,
        });
        self.observed = Some(holder.to_owned());
    }

    fn failed(&mut self, error: &Error) {
        if self.failing {
            debug!("error retrieving or updating lease {}: {error}", self.lock);
        } else {
            (self.observer)(&Event::Unreachable {
                lock: &self.lock,
                error,
            });
        }
        self.failing = true;
    }

    fn succeeded(&mut self) {
        if self.failing {
            (self.observer)(&Event::Reachable { lock: &self.lock });
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
            ("the VIP agent's", LeaseTimings::vip(), true),
            ("the components'", LeaseTimings::components(), true),
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
