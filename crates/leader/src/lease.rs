//! The leader-election rule, as pure functions: whether this agent may hold the Lease now, and what
//! the Lease says after it acquires, renews or releases it. The IO lives in `election.rs`.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::LeaseSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;

/// The election-relevant part of a Lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseView {
    /// Who holds it; empty when nobody does (never held, or released).
    pub holder: String,
    /// How long after `renew_time` the holder's claim lasts.
    pub lease_duration: Duration,
    /// When the current holder took it.
    pub acquire_time: Option<Timestamp>,
    /// When the current holder last renewed it; none means the claim is void.
    pub renew_time: Option<Timestamp>,
    /// How many times the holder changed.
    pub transitions: i32,
}

/// What an agent should do after reading the Lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// There is no Lease: create one naming us.
    Create,
    /// We hold it: write a new renew time.
    Renew,
    /// Nobody holds it (released, or the holder's claim expired): take it over.
    Acquire {
        /// The previous holder, empty if it had released the Lease.
        previous: String,
    },
    /// Somebody else holds a live claim: wait and read again.
    Follow {
        /// The holder.
        holder: String,
    },
}

/// Decides what `me` may do with `lease` at `now`.
///
/// A claim lives while `renew_time + lease_duration` is after `now`, exactly at the boundary it has
/// ended (client-go's rule too). Comparing timestamps written by other agents is sound only because
/// every hakube node runs on one machine and so reads one clock; client-go instead times the claim
/// from when it first saw the record, which tolerates skew at the cost of a slower takeover.
pub fn decide(lease: Option<&LeaseView>, me: &str, now: Timestamp) -> Action {
    let Some(lease) = lease else {
        return Action::Create;
    };
    if lease.holder == me {
        return Action::Renew;
    }
    if lease.holder.is_empty() || !lease.is_live(now) {
        return Action::Acquire {
            previous: lease.holder.clone(),
        };
    }
    Action::Follow {
        holder: lease.holder.clone(),
    }
}

/// How many consecutive rounds the vacancy probe must report the holder gone before a follower
/// takes a live claim over.
pub const VACANT_ROUNDS: u32 = 2;

/// A follower's fast path: when the caller can prove the holder is not serving (the VIP agent: the
/// VIP refuses connections, so nobody listens there, on one machine), after [`VACANT_ROUNDS`] such
/// rounds in a row `Follow` becomes `Acquire`. This is safe only where the holder's work is
/// exclusive by itself (the VIP's socket is): should the old holder still live, it loses its next
/// renewal (a 409).
pub fn take_over_if_vacant(action: Action, vacant_rounds: u32) -> Action {
    match action {
        Action::Follow { holder } if vacant_rounds >= VACANT_ROUNDS => {
            Action::Acquire { previous: holder }
        }
        other => other,
    }
}

impl LeaseView {
    /// Reads the election fields of a Lease's spec. A missing duration is taken as `fallback`
    /// (our own), since a claim with no length cannot be timed otherwise.
    pub fn from_spec(spec: Option<&LeaseSpec>, fallback: Duration) -> LeaseView {
        let spec = spec.cloned().unwrap_or_default();
        LeaseView {
            holder: spec.holder_identity.unwrap_or_default(),
            lease_duration: spec
                .lease_duration_seconds
                .and_then(|s| u64::try_from(s).ok())
                .map_or(fallback, Duration::from_secs),
            acquire_time: spec.acquire_time.map(|t| t.0),
            renew_time: spec.renew_time.map(|t| t.0),
            transitions: spec.lease_transitions.unwrap_or(0),
        }
    }

    /// Whether the holder's claim still stands at `now`.
    pub fn is_live(&self, now: Timestamp) -> bool {
        let Some(renewed) = self.renew_time else {
            return false;
        };
        match renewed.checked_add(self.lease_duration) {
            Ok(expiry) => expiry > now,
            // Past the end of time: the claim outlives any `now` we can be given.
            Err(_) => true,
        }
    }

    /// The Lease after `me` carries out `action` at `now`, claiming it for `duration`; `None` for
    /// [`Action::Follow`], which writes nothing. A renewal keeps the acquire time and the count of
    /// transitions; a change of holder stamps both.
    pub fn after(
        lease: Option<&LeaseView>,
        action: &Action,
        me: &str,
        now: Timestamp,
        duration: Duration,
    ) -> Option<LeaseView> {
        let (acquire_time, transitions) = match (action, lease) {
            (Action::Follow { .. }, _) => return None,
            (Action::Renew, Some(old)) => (old.acquire_time.or(Some(now)), old.transitions),
            (Action::Acquire { .. }, Some(old)) => (Some(now), old.transitions.saturating_add(1)),
            (_, _) => (Some(now), 0),
        };
        Some(LeaseView {
            holder: me.to_owned(),
            lease_duration: duration,
            acquire_time,
            renew_time: Some(now),
            transitions,
        })
    }

    /// The Lease once its holder lets go at `now`: no holder and a renew time of now, so the next
    /// agent to read it takes it at once instead of waiting out the claim.
    pub fn released(&self, now: Timestamp) -> LeaseView {
        LeaseView {
            holder: String::new(),
            lease_duration: Duration::from_secs(1),
            acquire_time: Some(now),
            renew_time: Some(now),
            transitions: self.transitions,
        }
    }

    /// Writes these fields into `spec`, keeping the fields the election does not own.
    pub fn apply_to(&self, spec: &mut LeaseSpec) {
        spec.holder_identity = Some(self.holder.clone());
        spec.lease_duration_seconds = Some(whole_seconds(self.lease_duration));
        spec.acquire_time = self.acquire_time.map(MicroTime);
        spec.renew_time = self.renew_time.map(MicroTime);
        spec.lease_transitions = Some(self.transitions);
    }
}

/// `leaseDurationSeconds` is whole seconds, so a duration is rounded up (never down, which would
/// let another agent take over while we still think we lead), and is at least one second.
fn whole_seconds(duration: Duration) -> i32 {
    let secs = duration
        .as_secs()
        .saturating_add(u64::from(duration.subsec_nanos() > 0));
    i32::try_from(secs.max(1)).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vacant_vip_lets_a_follower_take_over() {
        let follow = || Action::Follow {
            holder: "n1".into(),
        };
        let cases = [
            (follow(), 0, follow()),
            (follow(), 1, follow()),
            (
                follow(),
                2,
                Action::Acquire {
                    previous: "n1".into(),
                },
            ),
            (Action::Renew, 5, Action::Renew),
            (Action::Create, 5, Action::Create),
        ];
        for (action, rounds, want) in cases {
            assert_eq!(take_over_if_vacant(action, rounds), want, "{rounds}");
        }
    }

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_millisecond(1_700_000_000_000 + ms).expect("valid timestamp")
    }

    fn held(holder: &str, renewed_ms: Option<i64>) -> LeaseView {
        LeaseView {
            holder: holder.to_owned(),
            lease_duration: Duration::from_secs(2),
            acquire_time: Some(at(0)),
            renew_time: renewed_ms.map(at),
            transitions: 3,
        }
    }

    #[test]
    fn decide_table() {
        let acquire = |p: &str| Action::Acquire {
            previous: p.to_owned(),
        };
        let follow = |h: &str| Action::Follow {
            holder: h.to_owned(),
        };
        #[rustfmt::skip]
        let cases: Vec<(&str, Option<LeaseView>, i64, Action)> = vec![
            ("no lease yet", None, 0, Action::Create),
            ("ours and live", Some(held("me", Some(0))), 500, Action::Renew),
            ("ours but expired", Some(held("me", Some(0))), 5_000, Action::Renew),
            ("released", Some(held("", Some(0))), 100, acquire("")),
            ("other, live", Some(held("n2", Some(0))), 1_999, follow("n2")),
            ("other, expires exactly now", Some(held("n2", Some(0))), 2_000, acquire("n2")),
            ("other, expired", Some(held("n2", Some(0))), 2_001, acquire("n2")),
            ("other, never renewed", Some(held("n2", None)), 0, acquire("n2")),
            ("other, renewed in our future", Some(held("n2", Some(1_000))), 0, follow("n2")),
        ];
        for (name, lease, now, want) in cases {
            assert_eq!(decide(lease.as_ref(), "me", at(now)), want, "{name}");
        }
    }

    #[test]
    fn from_spec_reads_fields_and_defaults() {
        let spec = LeaseSpec {
            holder_identity: Some("n1".into()),
            lease_duration_seconds: Some(5),
            renew_time: Some(MicroTime(at(7))),
            lease_transitions: Some(2),
            ..LeaseSpec::default()
        };
        let view = LeaseView::from_spec(Some(&spec), Duration::from_secs(2));
        assert_eq!(view.holder, "n1");
        assert_eq!(view.lease_duration, Duration::from_secs(5));
        assert_eq!(view.renew_time, Some(at(7)));
        assert_eq!(view.acquire_time, None);
        assert_eq!(view.transitions, 2);

        let empty = LeaseView::from_spec(None, Duration::from_secs(2));
        assert_eq!(empty.holder, "");
        assert_eq!(empty.lease_duration, Duration::from_secs(2));
        assert!(!empty.is_live(at(0)));
    }

    #[test]
    fn after_table() {
        let d = Duration::from_secs(2);
        let now = at(9_000);
        // (case, lease, action, expected acquire time, expected transitions)
        #[rustfmt::skip]
        let cases: Vec<(&str, Option<LeaseView>, Action, Timestamp, i32)> = vec![
            ("create", None, Action::Create, now, 0),
            ("renew keeps acquire and count", Some(held("me", Some(0))), Action::Renew, at(0), 3),
            ("take over counts a transition", Some(held("n2", Some(0))),
                Action::Acquire { previous: "n2".into() }, now, 4),
            ("take a released lease", Some(held("", Some(0))),
                Action::Acquire { previous: String::new() }, now, 4),
        ];
        for (name, lease, action, acquired, transitions) in cases {
            let next = LeaseView::after(lease.as_ref(), &action, "me", now, d).expect(name);
            assert_eq!(next.holder, "me", "{name}");
            assert_eq!(next.renew_time, Some(now), "{name}");
            assert_eq!(next.acquire_time, Some(acquired), "{name}");
            assert_eq!(next.transitions, transitions, "{name}");
            assert_eq!(next.lease_duration, d, "{name}");
        }
        let follow = Action::Follow {
            holder: "n2".into(),
        };
        assert_eq!(LeaseView::after(None, &follow, "me", now, d), None);
    }

    #[test]
    fn released_lease_is_free_at_once() {
        let mine = held("me", Some(0));
        let released = mine.released(at(10));
        assert_eq!(released.transitions, 3);
        assert_eq!(
            decide(Some(&released), "n2", at(10)),
            Action::Acquire {
                previous: String::new()
            }
        );
    }

    #[test]
    fn durations_round_up_to_whole_seconds() {
        let cases = [
            (Duration::ZERO, 1),
            (Duration::from_millis(250), 1),
            (Duration::from_secs(2), 2),
            (Duration::from_millis(2_001), 3),
            (Duration::from_secs(u64::MAX), i32::MAX),
        ];
        for (duration, want) in cases {
            assert_eq!(whole_seconds(duration), want, "{duration:?}");
        }
    }

    #[test]
    fn apply_to_keeps_foreign_fields() {
        let mut spec = LeaseSpec {
            strategy: Some("OldestEmulationVersion".into()),
            ..LeaseSpec::default()
        };
        held("me", Some(0)).apply_to(&mut spec);
        assert_eq!(spec.strategy.as_deref(), Some("OldestEmulationVersion"));
        assert_eq!(spec.holder_identity.as_deref(), Some("me"));
        assert_eq!(spec.lease_duration_seconds, Some(2));
        assert_eq!(spec.lease_transitions, Some(3));
        assert_eq!(spec.renew_time, Some(MicroTime(at(0))));
    }
}
