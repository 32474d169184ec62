//! The watch hub: the applied events of every revision, fanned out to the watchers whose range
//! they touch. It lives beside the state under one lock, so a watcher registered at revision R
//! gets exactly the events after R, with no gap and no repeat.

use std::collections::HashMap;

use etcd_api::mvccpb::Event;
use tokio::sync::mpsc;

use crate::mvcc::KeyRange;

/// The events of one revision (or of a replayed stretch of history) for one watcher.
#[derive(Debug, Clone)]
pub struct WatchBatch {
    /// The watch ID the stream gave the watcher.
    pub tag: i64,
    pub events: Vec<Event>,
}

/// A handle the hub gives back; dropping the receiver is enough to stop delivery.
pub type WatcherId = u64;

struct Watcher {
    tag: i64,
    range: KeyRange,
    tx: mpsc::UnboundedSender<WatchBatch>,
}

/// All watchers of one member.
#[derive(Default)]
pub struct WatchHub {
    next: WatcherId,
    watchers: HashMap<WatcherId, Watcher>,
}

impl WatchHub {
    /// Registers a watcher on `range`; events are sent on `tx`, tagged `tag`, from the next
    /// applied revision.
    pub fn add(
        &mut self,
        range: KeyRange,
        tag: i64,
        tx: mpsc::UnboundedSender<WatchBatch>,
    ) -> WatcherId {
        self.next += 1;
        self.watchers.insert(self.next, Watcher { tag, range, tx });
        self.next
    }

    /// Stops delivering to a watcher.
    pub fn remove(&mut self, id: WatcherId) {
        self.watchers.remove(&id);
    }

    /// Number of live watchers.
    pub fn len(&self) -> usize {
        self.watchers.len()
    }

    /// Whether no watcher is registered.
    pub fn is_empty(&self) -> bool {
        self.watchers.is_empty()
    }

    /// Delivers the events one applied command produced (all of one revision).
    pub fn publish(&mut self, events: &[Event]) {
        if events.is_empty() || self.watchers.is_empty() {
            return;
        }
        self.watchers.retain(|_, w| {
            let mine: Vec<Event> = events
                .iter()
                .filter(|e| e.kv.as_ref().is_some_and(|kv| w.range.contains(&kv.key)))
                .cloned()
                .collect();
            // A closed receiver means the stream went away; forget the watcher.
            mine.is_empty()
                || w.tx
                    .send(WatchBatch {
                        tag: w.tag,
                        events: mine,
                    })
                    .is_ok()
        });
    }
}

#[cfg(test)]
mod tests {
    use etcd_api::mvccpb::KeyValue;

    use super::*;

    fn put(key: &str) -> Event {
        Event {
            kv: Some(KeyValue {
                key: key.as_bytes().to_vec(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn each_watcher_gets_only_its_range() {
        let mut hub = WatchHub::default();
        let (tx_a, mut rx_a) = mpsc::unbounded_channel();
        let (tx_b, mut rx_b) = mpsc::unbounded_channel();
        hub.add(KeyRange::new(b"a", b"b"), 0, tx_a);
        hub.add(KeyRange::Single(b"zz".to_vec()), 1, tx_b);
        hub.publish(&[put("a1"), put("a2"), put("c")]);
        assert_eq!(rx_a.try_recv().unwrap().events.len(), 2);
        assert!(rx_b.try_recv().is_err());
    }

    #[test]
    fn closed_watchers_are_forgotten() {
        let mut hub = WatchHub::default();
        let (tx, rx) = mpsc::unbounded_channel();
        hub.add(KeyRange::Single(b"k".to_vec()), 0, tx);
        drop(rx);
        hub.publish(&[put("k")]);
        assert!(hub.is_empty());
    }
}
