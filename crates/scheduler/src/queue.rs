//! The scheduling queue, without IO (time is passed in): pending pods wait in `active` (highest
//! priority first, then first come), in `backoff` after a failed attempt (1 s doubling to 10 s,
//! as kube's defaults), or among the `unschedulable` until a cluster change that could help
//! them, or a periodic flush, sends them back.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use tokio::time::Instant;

use crate::pod_info::PodInfo;
use crate::status::PluginSet;

pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// How long a pod stays unschedulable without any helpful cluster change before it is tried
/// again anyway. kube waits up to 5 minutes; a small cluster can afford to look more often.
pub const UNSCHEDULABLE_FLUSH: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Active,
    Backoff(Instant),
    Unschedulable(Instant),
    /// Popped for a scheduling attempt (and, on success, while its binding is written).
    InFlight,
}

#[derive(Debug)]
struct Entry {
    pod: Arc<Pod>,
    info: Arc<PodInfo>,
    /// A hash of what scheduling reads (spec and labels); other updates, such as the status
    /// the scheduler itself writes, do not make an unschedulable pod worth retrying.
    fingerprint: u64,
    state: State,
    attempts: u32,
    rejected_by: PluginSet,
    seq: u64,
}

/// A pod handed out for a scheduling attempt.
#[derive(Debug, Clone)]
pub struct Popped {
    pub key: String,
    pub pod: Arc<Pod>,
    pub info: Arc<PodInfo>,
}

/// Pending pods waiting for a scheduling attempt.
#[derive(Debug, Default)]
pub struct SchedulingQueue {
    pods: HashMap<String, Entry>,
    active: BTreeSet<(Reverse<i32>, u64, String)>,
    backoff: BTreeSet<(Instant, String)>,
    unschedulable: BTreeSet<(Instant, String)>,
    next_seq: u64,
}

fn fingerprint(pod: &Pod) -> u64 {
    let mut h = DefaultHasher::new();
    serde_json::to_string(&pod.spec)
        .unwrap_or_default()
        .hash(&mut h);
    pod.metadata.labels.hash(&mut h);
    h.finish()
}

/// The backoff after `attempts` failed attempts: 1 s, 2 s, 4 s, 8 s, then 10 s.
pub fn backoff(attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(8);
    (INITIAL_BACKOFF * 2u32.pow(doublings)).min(MAX_BACKOFF)
}

/// Whether an unbound pod waits for the scheduler named `scheduler_name`: it names that
/// scheduler (no name means `default-scheduler`), is not being deleted, has not finished, and
/// no scheduling gate holds it back.
pub fn waits_for(pod: &Pod, scheduler_name: &str) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return false;
    };
    let name = spec
        .scheduler_name
        .as_deref()
        .filter(|n| !n.is_empty())
        .unwrap_or("default-scheduler");
    name == scheduler_name
        && spec.node_name.as_deref().is_none_or(str::is_empty)
        && pod.metadata.deletion_timestamp.is_none()
        && spec.scheduling_gates.as_ref().is_none_or(|g| g.is_empty())
        && !matches!(
            pod.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        )
}

impl SchedulingQueue {
    pub fn new() -> SchedulingQueue {
        SchedulingQueue::default()
    }

    pub fn len(&self) -> usize {
        self.pods.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pods.is_empty()
    }

    pub fn contains(&self, key: &str) -> bool {
        self.pods.contains_key(key)
    }

    /// How many pods wait for a helpful cluster change.
    pub fn unschedulable_count(&self) -> usize {
        self.unschedulable.len()
    }

    fn unlink(&mut self, key: &str) {
        let Some(e) = self.pods.get(key) else { return };
        match e.state {
            State::Active => {
                self.active
                    .remove(&(Reverse(e.info.priority), e.seq, key.to_string()));
            }
            State::Backoff(until) => {
                self.backoff.remove(&(until, key.to_string()));
            }
            State::Unschedulable(since) => {
                self.unschedulable.remove(&(since, key.to_string()));
            }
            State::InFlight => {}
        }
    }

    fn set_state(&mut self, key: &str, state: State) {
        self.unlink(key);
        let seq = self.next_seq;
        let Some(e) = self.pods.get_mut(key) else {
            return;
        };
        e.state = state;
        match state {
            State::Active => {
                // A pod going back to active queues behind those already waiting.
                e.seq = seq;
                self.next_seq += 1;
                self.active
                    .insert((Reverse(e.info.priority), e.seq, key.to_string()));
            }
            State::Backoff(until) => {
                self.backoff.insert((until, key.to_string()));
            }
            State::Unschedulable(since) => {
                self.unschedulable.insert((since, key.to_string()));
            }
            State::InFlight => {}
        }
    }

    /// Back to active, or to backoff while the pod's backoff since its last failure runs.
    fn requeue(&mut self, key: &str, last_failure: Instant, now: Instant) {
        let Some(e) = self.pods.get(key) else { return };
        let until = last_failure + backoff(e.attempts);
        let state = if until > now {
            State::Backoff(until)
        } else {
            State::Active
        };
        self.set_state(key, state);
    }

    /// Adds a pending pod, or takes an update to one. An unschedulable pod whose spec or
    /// labels changed is tried again.
    pub fn upsert(&mut self, pod: Pod, now: Instant) {
        let key = format!(
            "{}/{}",
            pod.metadata.namespace.as_deref().unwrap_or_default(),
            pod.metadata.name.as_deref().unwrap_or_default()
        );
        let print = fingerprint(&pod);
        let info = Arc::new(PodInfo::new(&pod));
        let pod = Arc::new(pod);
        match self.pods.get_mut(&key) {
            None => {
                self.pods.insert(
                    key.clone(),
                    Entry {
                        pod,
                        info,
                        fingerprint: print,
                        state: State::InFlight,
                        attempts: 0,
                        rejected_by: PluginSet::default(),
                        seq: 0,
                    },
                );
                self.set_state(&key, State::Active);
            }
            Some(e) => {
                let changed = e.fingerprint != print;
                let state = e.state;
                // Unlink under the old priority before the info changes.
                self.unlink(&key);
                let e = self.pods.get_mut(&key).expect("entry");
                e.pod = pod;
                e.info = info;
                e.fingerprint = print;
                match state {
                    State::Unschedulable(since) if changed => self.requeue(&key, since, now),
                    other => self.set_state(&key, other),
                }
            }
        }
    }

    /// Forgets a pod: deleted, bound elsewhere, or no longer ours to schedule.
    pub fn remove(&mut self, key: &str) {
        self.unlink(key);
        self.pods.remove(key);
    }

    /// Whether a pod is being scheduled or bound right now.
    pub fn in_flight(&self, key: &str) -> bool {
        self.pods
            .get(key)
            .is_some_and(|e| e.state == State::InFlight)
    }

    /// Moves pods whose backoff ended to active.
    fn promote(&mut self, now: Instant) {
        while let Some((until, key)) = self.backoff.first().cloned() {
            if until > now {
                break;
            }
            self.set_state(&key, State::Active);
        }
    }

    /// Whether a pod is ready for an attempt now.
    pub fn has_ready(&mut self, now: Instant) -> bool {
        self.promote(now);
        !self.active.is_empty()
    }

    /// The next pod to try: highest priority, then longest waiting.
    pub fn pop(&mut self, now: Instant) -> Option<Popped> {
        self.promote(now);
        let (_, _, key) = self.active.pop_first()?;
        let e = self.pods.get_mut(&key)?;
        e.state = State::InFlight;
        e.attempts += 1;
        Some(Popped {
            key,
            pod: e.pod.clone(),
            info: e.info.clone(),
        })
    }

    /// The attempt found no node: wait for a change that concerns one of `rejected_by`.
    pub fn unschedulable(&mut self, key: &str, rejected_by: PluginSet, now: Instant) {
        if let Some(e) = self.pods.get_mut(key) {
            e.rejected_by = rejected_by;
            self.set_state(key, State::Unschedulable(now));
        }
    }

    /// The attempt failed for another reason (the binding was refused): retry after backoff.
    pub fn retry_later(&mut self, key: &str, now: Instant) {
        if self.pods.contains_key(key) {
            self.requeue(key, now, now);
        }
    }

    /// A cluster change that could help pods rejected by any of `plugins` happened: those
    /// pods go back to active (or backoff). Returns how many moved.
    pub fn cluster_changed(&mut self, plugins: PluginSet, now: Instant) -> usize {
        let moving: Vec<(Instant, String)> = self
            .unschedulable
            .iter()
            .filter(|(_, key)| self.pods[key].rejected_by.intersects(plugins))
            .cloned()
            .collect();
        for (since, key) in &moving {
            self.requeue(key, *since, now);
        }
        moving.len()
    }

    /// Sends pods that have been unschedulable for [`UNSCHEDULABLE_FLUSH`] back to active.
    pub fn flush_unschedulable(&mut self, now: Instant) -> usize {
        let mut moved = 0;
        while let Some((since, key)) = self.unschedulable.first().cloned() {
            if since + UNSCHEDULABLE_FLUSH > now {
                break;
            }
            self.requeue(&key, since, now);
            moved += 1;
        }
        moved
    }

    /// When something next becomes due: a backoff ending or an unschedulable flush.
    pub fn next_deadline(&self) -> Option<Instant> {
        let backoff = self.backoff.first().map(|(t, _)| *t);
        let flush = self
            .unschedulable
            .first()
            .map(|(t, _)| *t + UNSCHEDULABLE_FLUSH);
        match (backoff, flush) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::Plugin;
    use crate::testing::pod;

    fn keys(q: &mut SchedulingQueue, now: Instant) -> Vec<String> {
        std::iter::from_fn(|| q.pop(now).map(|p| p.key)).collect()
    }

    #[test]
    fn which_pods_wait_for_this_scheduler() {
        use serde_json::json;
        let with = |spec: serde_json::Value| {
            let mut p = pod("p");
            for (k, v) in spec.as_object().unwrap() {
                p.0["spec"][k] = v.clone();
            }
            p
        };
        let cases: Vec<(&str, crate::testing::P, bool)> = vec![
            ("no scheduler named", pod("p"), true),
            (
                "named default-scheduler",
                with(json!({"schedulerName": "default-scheduler"})),
                true,
            ),
            (
                "another scheduler's",
                with(json!({"schedulerName": "volcano"})),
                false,
            ),
            ("already bound", pod("p").on("n1"), false),
            ("being deleted", pod("p").terminating(), false),
            ("finished", pod("p").phase("Failed"), false),
            (
                "gated",
                with(json!({"schedulingGates": [{"name": "example.com/quota"}]})),
                false,
            ),
            (
                "empty gate list",
                with(json!({"schedulingGates": []})),
                true,
            ),
        ];
        for (name, p, want) in cases {
            assert_eq!(waits_for(&p.build(), "default-scheduler"), want, "{name}");
        }
    }

    #[test]
    fn backoff_doubles_to_ten_seconds() {
        let table = [(1, 1), (2, 2), (3, 4), (4, 8), (5, 10), (12, 10), (100, 10)];
        for (attempts, secs) in table {
            assert_eq!(
                backoff(attempts),
                Duration::from_secs(secs),
                "attempt {attempts}"
            );
        }
    }

    #[test]
    fn higher_priority_first_then_first_come() {
        let now = Instant::now();
        let mut q = SchedulingQueue::new();
        q.upsert(pod("a").build(), now);
        q.upsert(pod("b").priority(10).build(), now);
        q.upsert(pod("c").build(), now);
        q.upsert(pod("d").priority(10).build(), now);
        assert_eq!(
            keys(&mut q, now),
            ["default/b", "default/d", "default/a", "default/c"]
        );
    }

    #[test]
    fn unschedulable_pods_wait_for_a_helpful_change() {
        let start = Instant::now();
        let mut q = SchedulingQueue::new();
        q.upsert(pod("cpu").build(), start);
        q.upsert(pod("taint").build(), start);
        let mut fit = PluginSet::default();
        fit.insert(Plugin::NodeResourcesFit);
        let mut taint = PluginSet::default();
        taint.insert(Plugin::TaintToleration);
        for p in keys(&mut q, start) {
            let plugins = if p.ends_with("cpu") { fit } else { taint };
            q.unschedulable(&p, plugins, start);
        }
        assert_eq!(q.unschedulable_count(), 2);
        assert!(!q.has_ready(start));

        // A pod deletion frees resources: only the pod rejected for resources moves, into
        // backoff first since it failed a moment ago.
        let soon = start + Duration::from_millis(100);
        assert_eq!(q.cluster_changed(fit, soon), 1);
        assert!(!q.has_ready(soon));
        assert_eq!(q.next_deadline(), Some(start + INITIAL_BACKOFF));
        assert_eq!(keys(&mut q, start + INITIAL_BACKOFF), ["default/cpu"]);

        // Our own status update does not change spec or labels: the pod keeps waiting.
        let mut updated = pod("taint").build();
        updated.status = Some(Default::default());
        q.upsert(updated, soon);
        assert!(!q.has_ready(start + INITIAL_BACKOFF));
        // A new toleration does.
        q.upsert(
            pod("taint")
                .toleration(serde_json::json!({"operator": "Exists"}))
                .build(),
            soon,
        );
        assert_eq!(keys(&mut q, start + INITIAL_BACKOFF), ["default/taint"]);
    }

    #[test]
    fn unschedulable_pods_are_flushed_periodically() {
        let start = Instant::now();
        let mut q = SchedulingQueue::new();
        q.upsert(pod("p").build(), start);
        let p = q.pop(start).unwrap();
        q.unschedulable(&p.key, PluginSet::default(), start);
        assert_eq!(q.next_deadline(), Some(start + UNSCHEDULABLE_FLUSH));
        assert_eq!(q.flush_unschedulable(start + Duration::from_secs(29)), 0);
        assert_eq!(q.flush_unschedulable(start + UNSCHEDULABLE_FLUSH), 1);
        assert_eq!(keys(&mut q, start + UNSCHEDULABLE_FLUSH), ["default/p"]);
    }

    #[test]
    fn failed_bindings_back_off_and_removed_pods_vanish() {
        let start = Instant::now();
        let mut q = SchedulingQueue::new();
        q.upsert(pod("p").build(), start);
        q.upsert(pod("gone").build(), start);
        let p = q.pop(start).unwrap();
        assert!(q.in_flight(&p.key));
        q.retry_later(&p.key, start);
        q.remove("default/gone");
        assert!(!q.has_ready(start));
        assert_eq!(keys(&mut q, start + INITIAL_BACKOFF), ["default/p"]);
        // The second failure backs off twice as long.
        q.retry_later("default/p", start);
        assert_eq!(q.next_deadline(), Some(start + 2 * INITIAL_BACKOFF));
        q.remove("default/p");
        assert!(q.is_empty());
        assert_eq!(q.next_deadline(), None);
    }
}
