//! The leader's lease clock. Leases themselves are replicated; when each one expires is not, as in
//! etcd: a new leader gives every lease a full TTL again, then revokes those that run out.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use crate::state::Lease;

/// Expiry times, kept only while this member leads.
#[derive(Debug, Default)]
pub struct Lessor {
    /// The term in which this member started leading; `None` when it does not lead.
    term: Option<u64>,
    expiry: HashMap<i64, Instant>,
}

impl Lessor {
    /// Brings the clock in line with the replicated leases, and returns the leases that expired.
    /// `leader_term` is the current term if this member leads.
    pub fn tick(
        &mut self,
        leader_term: Option<u64>,
        leases: &BTreeMap<i64, Lease>,
        now: Instant,
    ) -> Vec<i64> {
        if leader_term != self.term {
            // Leadership began, ended or changed terms: start every clock afresh.
            self.expiry.clear();
            self.term = leader_term;
        }
        if self.term.is_none() {
            return Vec::new();
        }
        self.expiry.retain(|id, _| leases.contains_key(id));
        for (id, lease) in leases {
            self.expiry
                .entry(*id)
                .or_insert_with(|| now + ttl(lease.ttl));
        }
        let mut expired: Vec<i64> = self
            .expiry
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(id, _)| *id)
            .collect();
        expired.sort_unstable();
        expired
    }

    /// Renews a lease; returns its TTL, or 0 if it does not exist (etcd's answer for that case).
    pub fn keep_alive(&mut self, id: i64, leases: &BTreeMap<i64, Lease>, now: Instant) -> i64 {
        match leases.get(&id) {
            Some(lease) => {
                self.expiry.insert(id, now + ttl(lease.ttl));
                lease.ttl
            }
            None => 0,
        }
    }

    /// Seconds left on a lease, rounded up as etcd rounds; `None` if the lease does not exist.
    pub fn remaining(&self, id: i64, leases: &BTreeMap<i64, Lease>, now: Instant) -> Option<i64> {
        let lease = leases.get(&id)?;
        let left = match self.expiry.get(&id) {
            Some(at) => at.saturating_duration_since(now),
            None => ttl(lease.ttl),
        };
        let secs = left.as_millis().div_ceil(1000) as i64;
        Some(secs.min(lease.ttl))
    }
}

fn ttl(secs: i64) -> Duration {
    Duration::from_secs(secs.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leases(entries: &[(i64, i64)]) -> BTreeMap<i64, Lease> {
        entries
            .iter()
            .map(|(id, ttl)| {
                (
                    *id,
                    Lease {
                        ttl: *ttl,
                        keys: Default::default(),
                    },
                )
            })
            .collect()
    }

    #[test]
    fn leases_expire_only_while_leading() {
        let t0 = Instant::now();
        let ls = leases(&[(1, 5), (2, 10)]);
        let mut lessor = Lessor::default();
        assert!(
            lessor
                .tick(None, &ls, t0 + Duration::from_secs(60))
                .is_empty()
        );
        assert!(lessor.tick(Some(3), &ls, t0).is_empty());
        assert_eq!(
            lessor.tick(Some(3), &ls, t0 + Duration::from_secs(6)),
            vec![1]
        );
        assert_eq!(
            lessor.tick(Some(3), &ls, t0 + Duration::from_secs(11)),
            vec![1, 2]
        );
    }

    #[test]
    fn a_new_term_restarts_every_clock() {
        let t0 = Instant::now();
        let ls = leases(&[(1, 5)]);
        let mut lessor = Lessor::default();
        lessor.tick(Some(1), &ls, t0);
        assert!(
            lessor
                .tick(Some(2), &ls, t0 + Duration::from_secs(6))
                .is_empty()
        );
        assert_eq!(
            lessor.remaining(1, &ls, t0 + Duration::from_secs(6)),
            Some(5)
        );
    }

    #[test]
    fn keep_alive_renews_and_reports_missing_leases() {
        let t0 = Instant::now();
        let ls = leases(&[(1, 5)]);
        let mut lessor = Lessor::default();
        lessor.tick(Some(1), &ls, t0);
        assert_eq!(lessor.keep_alive(1, &ls, t0 + Duration::from_secs(4)), 5);
        assert!(
            lessor
                .tick(Some(1), &ls, t0 + Duration::from_secs(6))
                .is_empty()
        );
        assert_eq!(
            lessor.remaining(1, &ls, t0 + Duration::from_millis(6500)),
            Some(3)
        );
        assert_eq!(lessor.keep_alive(9, &ls, t0), 0);
        assert_eq!(lessor.remaining(9, &ls, t0), None);
    }
}
