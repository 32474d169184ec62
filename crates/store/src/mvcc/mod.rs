//! Multi-version key-value store with etcd's revision rules, kept in memory and free of IO.
//!
//! Every write bumps one global main revision; the writes inside one transaction share it and are
//! told apart by a sub revision. Each key keeps the revisions at which it was written (tombstones
//! included), and the record of every revision is kept until a compaction removes it. That is
//! etcd's model (a revision-keyed backend plus a key index), which lets a range be answered at any
//! uncompacted revision and a watch replay history from any uncompacted revision.

mod range;
#[cfg(test)]
mod tests;
mod write;

use std::collections::BTreeMap;

use etcd_api::mvccpb::{Event, KeyValue, event::EventType};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub use range::{KeyRange, RangeOptions, RangeResult, SortOrder, SortTarget};
pub use write::WriteTxn;

/// A point in the store's history: the main revision of a write and its place inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Revision {
    /// The store revision the write created.
    pub main: i64,
    /// The write's position inside its transaction.
    pub sub: i64,
}

/// What was stored at one revision: a value, or the tombstone of a deletion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The key.
    pub key: Vec<u8>,
    /// The value; empty for a tombstone.
    pub value: Vec<u8>,
    /// Revision at which the key's current generation was created.
    pub create_revision: i64,
    /// Number of writes in the key's current generation.
    pub version: i64,
    /// The lease the key is attached to, or 0.
    pub lease: i64,
    /// Whether this revision deleted the key.
    pub tombstone: bool,
}

impl Record {
    fn to_key_value(&self, rev: Revision) -> KeyValue {
        if self.tombstone {
            // etcd's delete events carry only the key and the deleting revision.
            return KeyValue {
                key: self.key.clone(),
                mod_revision: rev.main,
                ..Default::default()
            };
        }
        KeyValue {
            key: self.key.clone(),
            create_revision: self.create_revision,
            mod_revision: rev.main,
            version: self.version,
            value: self.value.clone(),
            lease: self.lease,
        }
    }

    /// Bytes this record occupies, for the space quota.
    fn footprint(&self) -> u64 {
        // Key, value and a fixed allowance for the revision and metadata, as a bolt page would hold.
        (self.key.len() + self.value.len() + 48) as u64
    }
}

/// The multi-version store.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KvStore {
    /// The newest main revision; 1 on a fresh store, as in etcd.
    revision: i64,
    /// The revision of the last compaction; 0 if none.
    compacted: i64,
    /// Every key's revisions, oldest first, tombstones included.
    index: BTreeMap<Vec<u8>, Vec<Revision>>,
    /// The record behind every revision still kept.
    history: BTreeMap<Revision, Record>,
    /// Sum of the records' footprints.
    size: u64,
}

impl KvStore {
    /// A fresh store at revision 1, as a new etcd cluster starts.
    pub fn new() -> Self {
        KvStore {
            revision: 1,
            ..Default::default()
        }
    }

    /// The newest revision.
    pub fn revision(&self) -> i64 {
        self.revision
    }

    /// The revision of the last compaction (0 when none).
    pub fn compacted_revision(&self) -> i64 {
        self.compacted
    }

    /// The logical size of everything kept, history included.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Number of revisions kept in history.
    pub fn history_len(&self) -> usize {
        self.history.len()
    }

    /// Resolves a requested revision (0 or less means newest) and checks that it can be read.
    pub fn check_read_revision(&self, requested: i64) -> Result<i64> {
        if requested <= 0 {
            return Ok(self.revision);
        }
        if requested > self.revision {
            return Err(Error::FutureRevision);
        }
        if requested < self.compacted {
            return Err(Error::Compacted);
        }
        Ok(requested)
    }

    /// The live value of `key` at revision `at` (a resolved revision), with its mod revision.
    pub fn get_at(&self, key: &[u8], at: i64) -> Option<KeyValue> {
        let revs = self.index.get(key)?;
        let rev = latest_at(revs, at)?;
        let record = &self.history[&rev];
        (!record.tombstone).then(|| record.to_key_value(rev))
    }

    /// Starts a write transaction; its writes share the next main revision.
    pub fn write(&mut self) -> WriteTxn<'_> {
        WriteTxn::new(self)
    }

    /// Drops every revision older than `rev` that a read at `rev` or later cannot see.
    pub fn compact(&mut self, rev: i64) -> Result<()> {
        if rev <= self.compacted {
            return Err(Error::Compacted);
        }
        if rev > self.revision {
            return Err(Error::FutureRevision);
        }
        let mut emptied = Vec::new();
        for (key, revs) in self.index.iter_mut() {
            // Keep the newest revision at or below `rev` unless it is a tombstone: a read at
            // `rev` still needs it.
            let visible = revs.partition_point(|r| r.main <= rev);
            if visible == 0 {
                continue;
            }
            let newest = revs[visible - 1];
            let keep_from = if self.history[&newest].tombstone {
                visible
            } else {
                visible - 1
            };
            for r in revs.drain(..keep_from) {
                if let Some(record) = self.history.remove(&r) {
                    self.size -= record.footprint();
                }
            }
            if revs.is_empty() {
                emptied.push(key.clone());
            }
        }
        for key in emptied {
            self.index.remove(&key);
        }
        self.compacted = rev;
        Ok(())
    }

    /// The events of every write after `after` (exclusive), oldest first, with previous values.
    /// The caller has checked that `after + 1` is not compacted.
    pub fn events_after(&self, after: i64, range: &KeyRange) -> Vec<Event> {
        let from = Revision {
            main: after + 1,
            sub: 0,
        };
        self.history
            .range(from..)
            .filter(|(_, record)| range.contains(&record.key))
            .map(|(rev, record)| self.event_for(*rev, record))
            .collect()
    }

    /// The event that revision `rev` produced, with the value the key had before it.
    fn event_for(&self, rev: Revision, record: &Record) -> Event {
        let prev_kv = self.index.get(&record.key).and_then(|revs| {
            let pos = revs.partition_point(|r| *r < rev);
            let prev = *revs.get(pos.checked_sub(1)?)?;
            let prev_record = self.history.get(&prev)?;
            (!prev_record.tombstone).then(|| prev_record.to_key_value(prev))
        });
        let kind = if record.tombstone {
            EventType::Delete
        } else {
            EventType::Put
        };
        Event {
            r#type: kind as i32,
            kv: Some(record.to_key_value(rev)),
            prev_kv,
        }
    }

    /// A CRC-32 over every record at or below `rev`, so members can be compared for divergence.
    pub fn hash_kv(&self, rev: i64) -> u32 {
        let mut hasher = crc32fast::Hasher::new();
        for (r, record) in self.history.range(
            ..=Revision {
                main: rev,
                sub: i64::MAX,
            },
        ) {
            hasher.update(&r.main.to_be_bytes());
            hasher.update(&r.sub.to_be_bytes());
            hasher.update(&record.key);
            hasher.update(&record.value);
            hasher.update(&[u8::from(record.tombstone)]);
        }
        hasher.finalize()
    }

    fn insert(&mut self, rev: Revision, record: Record) {
        self.size += record.footprint();
        self.index.entry(record.key.clone()).or_default().push(rev);
        self.history.insert(rev, record);
    }
}

/// The newest revision in `revs` (ascending) whose main revision is at most `at`.
fn latest_at(revs: &[Revision], at: i64) -> Option<Revision> {
    let pos = revs.partition_point(|r| r.main <= at);
    pos.checked_sub(1).map(|i| revs[i])
}
