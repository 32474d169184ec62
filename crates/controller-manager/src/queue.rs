//! The work queue of one controller, with client-go's workqueue rules: a key waits at most once,
//! a key being synced is not handed to a second worker (it is queued again once the first is
//! done), and failures come back after a per-key exponential backoff.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::Notify;

/// An object's `namespace/name` (or `name` when cluster-scoped), as client-go's keys.
#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ObjectKey {
    pub(crate) namespace: String,
    pub(crate) name: String,
}

impl ObjectKey {
    pub(crate) fn new(namespace: &str, name: &str) -> ObjectKey {
        ObjectKey {
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }

    pub(crate) fn of<K: kube::Resource>(object: &K) -> ObjectKey {
        let meta = object.meta();
        ObjectKey::new(
            meta.namespace.as_deref().unwrap_or(""),
            meta.name.as_deref().unwrap_or(""),
        )
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{}/{}", self.namespace, self.name)
        }
    }
}

/// The first retry delay after a failure, doubled per consecutive failure (client-go: 5 ms).
const FIRST_BACKOFF: Duration = Duration::from_millis(5);
/// The longest retry delay. client-go allows 1000 s; a minute keeps a stuck object visible.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The queue's bookkeeping. Pure.
#[derive(Default)]
struct State {
    waiting: VecDeque<ObjectKey>,
    queued: HashSet<ObjectKey>,
    processing: HashSet<ObjectKey>,
    /// Keys added while being processed: queued again once done.
    again: HashSet<ObjectKey>,
    failures: HashMap<ObjectKey, u32>,
}

impl State {
    /// Whether a worker should be woken.
    fn add(&mut self, key: ObjectKey) -> bool {
        if self.processing.contains(&key) {
            self.again.insert(key);
            return false;
        }
        if !self.queued.insert(key.clone()) {
            return false;
        }
        self.waiting.push_back(key);
        true
    }

    fn take(&mut self) -> Option<ObjectKey> {
        let key = self.waiting.pop_front()?;
        self.queued.remove(&key);
        self.processing.insert(key.clone());
        Some(key)
    }

    /// Whether a worker should be woken.
    fn done(&mut self, key: &ObjectKey) -> bool {
        self.processing.remove(key);
        if self.again.remove(key) {
            return self.add(key.clone());
        }
        false
    }

    /// The delay before retrying `key` after one more failure.
    fn fail(&mut self, key: &ObjectKey) -> Duration {
        let failures = self.failures.entry(key.clone()).or_insert(0);
        let delay = FIRST_BACKOFF
            .saturating_mul(1u32 << (*failures).min(20))
            .min(MAX_BACKOFF);
        *failures += 1;
        delay
    }

    fn forget(&mut self, key: &ObjectKey) {
        self.failures.remove(key);
    }
}

/// A controller's queue. Shared by its event handlers and workers.
pub(crate) struct Queue {
    state: Mutex<State>,
    ready: Notify,
}

impl Queue {
    pub(crate) fn new() -> Arc<Queue> {
        Arc::new(Queue {
            state: Mutex::new(State::default()),
            ready: Notify::new(),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn add(&self, key: ObjectKey) {
        if self.state().add(key) {
            self.ready.notify_waiters();
        }
    }

    /// Adds `key` after `delay` (while the queue lives).
    pub(crate) fn add_after(self: &Arc<Self>, key: ObjectKey, delay: Duration) {
        if delay.is_zero() {
            self.add(key);
            return;
        }
        let queue: Weak<Queue> = Arc::downgrade(self);
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            if let Some(queue) = queue.upgrade() {
                queue.add(key);
            }
        });
    }

    /// The next key to sync; the caller must call [`Queue::done`] with it.
    pub(crate) async fn next(&self) -> ObjectKey {
        loop {
            let ready = self.ready.notified();
            if let Some(key) = self.state().take() {
                return key;
            }
            ready.await;
        }
    }

    pub(crate) fn done(&self, key: &ObjectKey) {
        if self.state().done(key) {
            self.ready.notify_waiters();
        }
    }

    /// Queues `key` again after its backoff.
    pub(crate) fn retry(self: &Arc<Self>, key: ObjectKey) {
        let delay = self.state().fail(&key);
        self.add_after(key, delay);
    }

    /// Clears `key`'s failure count after a successful sync.
    pub(crate) fn forget(&self, key: &ObjectKey) {
        self.state().forget(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(name: &str) -> ObjectKey {
        ObjectKey::new("default", name)
    }

    #[test]
    fn a_key_waits_once_and_is_never_synced_twice_at_once() {
        let mut s = State::default();
        assert!(s.add(k("a")));
        assert!(!s.add(k("a")), "already waiting");
        assert!(s.add(k("b")));
        assert_eq!(s.take(), Some(k("a")));
        // Added while being processed: held back, not handed to a second worker.
        assert!(!s.add(k("a")));
        assert_eq!(s.take(), Some(k("b")));
        assert_eq!(s.take(), None);
        assert!(s.done(&k("a")), "queued again once done");
        assert_eq!(s.take(), Some(k("a")));
        assert!(!s.done(&k("a")));
        assert!(!s.done(&k("b")));
        assert_eq!(s.take(), None);
    }

    #[test]
    fn failures_back_off_exponentially_up_to_a_cap() {
        let mut s = State::default();
        let delays: Vec<u128> = (0..5).map(|_| s.fail(&k("a")).as_millis()).collect();
        assert_eq!(delays, [5, 10, 20, 40, 80]);
        for _ in 0..30 {
            s.fail(&k("a"));
        }
        assert_eq!(s.fail(&k("a")), MAX_BACKOFF);
        s.forget(&k("a"));
        assert_eq!(s.fail(&k("a")), FIRST_BACKOFF);
    }

    #[test]
    fn keys_print_like_client_go() {
        assert_eq!(k("web").to_string(), "default/web");
        assert_eq!(ObjectKey::new("", "node-1").to_string(), "node-1");
    }

    #[tokio::test]
    async fn workers_wake_for_new_keys() {
        let queue = Queue::new();
        let worker = {
            let queue = queue.clone();
            tokio::spawn(async move { queue.next().await })
        };
        tokio::task::yield_now().await;
        queue.add(k("a"));
        let key = tokio::time::timeout(Duration::from_secs(5), worker)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(key, k("a"));
        queue.add_after(k("b"), Duration::from_millis(10));
        let key = tokio::time::timeout(Duration::from_secs(5), queue.next())
            .await
            .unwrap();
        assert_eq!(key, k("b"));
    }
}
