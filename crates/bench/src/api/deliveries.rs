//! Event delivery latency: the time from a write's acknowledgement to the arrival of its watch
//! event, for every watcher.
//!
//! A writer notes each measured write before sending it and again when the server acknowledges
//! it; each watcher looks the write up when its event arrives. The write is identified by the
//! object's name and the nanosecond timestamp annotation the writer put on it, so events of
//! objects the run did not write, or wrote before the measurement began, are ignored.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A measured write: the object's name and the time written into its annotation.
pub type WriteId = (String, u128);

/// A write whose event not every watcher has received yet.
#[derive(Debug)]
struct Pending {
    /// When the writer learnt the write had succeeded; `None` while the request is in flight.
    acknowledged: Option<Instant>,
    /// Which watchers received the event already.
    seen_by: Vec<bool>,
    /// How many of `seen_by` are true.
    seen: usize,
}

/// The writes of a run whose events are still due, shared by the writers and the watchers.
#[derive(Debug)]
pub struct Deliveries {
    watchers: usize,
    pending: Mutex<HashMap<WriteId, Pending>>,
}

impl Deliveries {
    /// A book for `watchers` watchers, each of which receives every write's event.
    pub fn new(watchers: usize) -> Deliveries {
        Deliveries {
            watchers,
            pending: Mutex::new(HashMap::new()),
        }
    }

    /// Whether there is anyone to deliver to; without watchers the writers skip the book.
    pub fn enabled(&self) -> bool {
        self.watchers > 0
    }

    /// Notes a write that is about to be sent. Registering before sending matters: the event may
    /// reach a watcher before the writer has processed the response.
    pub fn sending(&self, id: WriteId) {
        if !self.enabled() {
            return;
        }
        self.lock().insert(
            id,
            Pending {
                acknowledged: None,
                seen_by: vec![false; self.watchers],
                seen: 0,
            },
        );
    }

    /// Notes that a write succeeded at `at`.
    pub fn acknowledged(&self, id: &WriteId, at: Instant) {
        if !self.enabled() {
            return;
        }
        if let Some(pending) = self.lock().get_mut(id) {
            pending.acknowledged = Some(at);
        }
    }

    /// Forgets a write that failed (or was abandoned), so no event is expected for it.
    pub fn abandoned(&self, id: &WriteId) {
        if !self.enabled() {
            return;
        }
        self.lock().remove(id);
    }

    /// Notes that `watcher` received the event of `id` at `at`, and returns its delivery latency,
    /// or `None` if the write is not one the run measures (or this watcher already saw it). An
    /// event that arrives before the writer has noted the acknowledgement counts as delivered at
    /// once: it cannot have come later than the acknowledgement.
    pub fn arrived(&self, watcher: usize, id: &WriteId, at: Instant) -> Option<Duration> {
        let mut pending = self.lock();
        let entry = pending.get_mut(id)?;
        let seen = entry.seen_by.get_mut(watcher)?;
        if *seen {
            return None;
        }
        *seen = true;
        entry.seen += 1;
        let latency = entry.acknowledged.map_or(Duration::ZERO, |acknowledged| {
            at.saturating_duration_since(acknowledged)
        });
        if entry.seen == self.watchers {
            pending.remove(id);
        }
        Some(latency)
    }

    /// Events of acknowledged writes that have not reached every watcher yet.
    pub fn outstanding(&self) -> u64 {
        self.lock()
            .values()
            .filter(|pending| pending.acknowledged.is_some())
            .map(|pending| (self.watchers - pending.seen) as u64)
            .sum()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<WriteId, Pending>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str, nanos: u128) -> WriteId {
        (name.to_owned(), nanos)
    }

    #[test]
    fn latency_runs_from_acknowledgement_to_arrival() {
        let start = Instant::now();
        let ms = |n| start + Duration::from_millis(n);
        let book = Deliveries::new(2);
        book.sending(id("a", 1));
        book.acknowledged(&id("a", 1), ms(10));
        // (watcher, write, arrival) -> latency
        let cases = [
            ((0, id("a", 1), ms(13)), Some(Duration::from_millis(3))),
            // The same watcher again (a re-watch replaying an event) is not counted twice.
            ((0, id("a", 1), ms(14)), None),
            // A write the run did not note, such as a pre-created object or another tool's.
            ((0, id("b", 1), ms(14)), None),
            ((0, id("a", 2), ms(14)), None),
            // Watchers out of range are ignored rather than panicking.
            ((5, id("a", 1), ms(14)), None),
            ((1, id("a", 1), ms(20)), Some(Duration::from_millis(10))),
            // Every watcher has it now, so it is forgotten.
            ((1, id("a", 1), ms(21)), None),
        ];
        for ((watcher, write, at), expected) in cases {
            assert_eq!(
                book.arrived(watcher, &write, at),
                expected,
                "watcher {watcher} {write:?}"
            );
        }
        assert_eq!(book.outstanding(), 0);
    }

    #[test]
    fn an_event_ahead_of_the_acknowledgement_counts_as_immediate() {
        let start = Instant::now();
        let book = Deliveries::new(1);
        book.sending(id("a", 1));
        assert_eq!(book.arrived(0, &id("a", 1), start), Some(Duration::ZERO));
        // The acknowledgement after that finds nothing left to wait for.
        book.acknowledged(&id("a", 1), start + Duration::from_millis(5));
        assert_eq!(book.outstanding(), 0);
    }

    #[test]
    fn counts_what_is_still_due() {
        let now = Instant::now();
        let book = Deliveries::new(3);
        for name in ["a", "b", "c"] {
            book.sending(id(name, 1));
        }
        book.acknowledged(&id("a", 1), now);
        book.acknowledged(&id("b", 1), now);
        // "c" is in flight: its event is not due yet.
        assert_eq!(book.outstanding(), 6);
        book.arrived(2, &id("a", 1), now);
        assert_eq!(book.outstanding(), 5);
        book.abandoned(&id("b", 1));
        assert_eq!(book.outstanding(), 2);
    }

    #[test]
    fn without_watchers_nothing_is_kept() {
        let book = Deliveries::new(0);
        assert!(!book.enabled());
        book.sending(id("a", 1));
        book.acknowledged(&id("a", 1), Instant::now());
        assert_eq!(book.outstanding(), 0);
    }
}
