//! Controller expectations, as kube's: after asking for creations or deletions, a controller
//! waits to see them in its informer before it counts pods again, so a slow watch cannot make
//! it create (or delete) twice. Pure: time is passed in.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::queue::ObjectKey;

/// How long unmet expectations hold a controller back before it trusts its cache again
/// (kube's ExpectationsTimeout).
pub(crate) const TIMEOUT: Duration = Duration::from_secs(5 * 60);

#[derive(Default)]
pub(crate) struct Expectations {
    by_owner: HashMap<ObjectKey, Expected>,
}

struct Expected {
    /// Creations asked for and not yet seen.
    adds: i64,
    /// Pods (`namespace/name`) asked to be deleted and not yet seen going.
    deletes: HashSet<String>,
    set_at: Instant,
}

impl Expectations {
    /// Whether `owner` may manage its replicas now: nothing pending, or pending for too long.
    pub(crate) fn satisfied(&self, owner: &ObjectKey, now: Instant) -> bool {
        match self.by_owner.get(owner) {
            None => true,
            Some(e) => {
                (e.adds <= 0 && e.deletes.is_empty())
                    || now.saturating_duration_since(e.set_at) > TIMEOUT
            }
        }
    }

    pub(crate) fn expect_creations(&mut self, owner: &ObjectKey, count: usize, now: Instant) {
        self.by_owner.insert(
            owner.clone(),
            Expected {
                adds: count as i64,
                deletes: HashSet::new(),
                set_at: now,
            },
        );
    }

    pub(crate) fn expect_deletions(&mut self, owner: &ObjectKey, pods: Vec<String>, now: Instant) {
        self.by_owner.insert(
            owner.clone(),
            Expected {
                adds: 0,
                deletes: pods.into_iter().collect(),
                set_at: now,
            },
        );
    }

    /// A pod of `owner` appeared (or a creation was given up on).
    pub(crate) fn creation_observed(&mut self, owner: &ObjectKey) {
        if let Some(e) = self.by_owner.get_mut(owner) {
            e.adds -= 1;
        }
    }

    /// `pod` of `owner` is going or gone (or its deletion was given up on).
    pub(crate) fn deletion_observed(&mut self, owner: &ObjectKey, pod: &str) {
        if let Some(e) = self.by_owner.get_mut(owner) {
            e.deletes.remove(pod);
        }
    }

    /// Drops what `owner` waited for (it was deleted).
    pub(crate) fn forget(&mut self, owner: &ObjectKey) {
        self.by_owner.remove(owner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_for_every_creation_and_deletion_or_the_timeout() {
        let rs = ObjectKey::new("default", "web");
        let t0 = Instant::now();
        let mut e = Expectations::default();
        assert!(e.satisfied(&rs, t0), "nothing expected");
        e.expect_creations(&rs, 2, t0);
        assert!(!e.satisfied(&rs, t0));
        e.creation_observed(&rs);
        assert!(!e.satisfied(&rs, t0));
        e.creation_observed(&rs);
        assert!(e.satisfied(&rs, t0));
        // A relist may show more pods than were asked for; that still counts as met.
        e.creation_observed(&rs);
        assert!(e.satisfied(&rs, t0));

        e.expect_deletions(&rs, vec!["default/a".into(), "default/b".into()], t0);
        assert!(!e.satisfied(&rs, t0));
        e.deletion_observed(&rs, "default/a");
        e.deletion_observed(&rs, "default/a");
        assert!(!e.satisfied(&rs, t0), "one pod seen twice is still one");
        e.deletion_observed(&rs, "default/b");
        assert!(e.satisfied(&rs, t0));

        e.expect_creations(&rs, 1, t0);
        assert!(!e.satisfied(&rs, t0 + TIMEOUT));
        assert!(
            e.satisfied(&rs, t0 + TIMEOUT + Duration::from_secs(1)),
            "expired"
        );
        e.forget(&rs);
        assert!(e.satisfied(&rs, t0));
    }
}
