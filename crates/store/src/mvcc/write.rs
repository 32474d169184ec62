//! A write transaction: puts and deletes that share one main revision, and reads that see them.

use etcd_api::mvccpb::{Event, KeyValue, event::EventType};

use super::{KeyRange, KvStore, RangeOptions, RangeResult, Record, Revision};
use crate::error::Result;

/// Writes applied at the store's next revision. The revision only advances if something was
/// written, so a transaction of reads (or a delete that matched nothing) leaves it unchanged.
pub struct WriteTxn<'a> {
    store: &'a mut KvStore,
    main: i64,
    sub: i64,
    events: Vec<Event>,
}

impl<'a> WriteTxn<'a> {
    pub(super) fn new(store: &'a mut KvStore) -> Self {
        let main = store.revision + 1;
        WriteTxn {
            store,
            main,
            sub: 0,
            events: Vec::new(),
        }
    }

    /// The revision a read inside this transaction sees: its own writes included.
    pub fn read_revision(&self) -> i64 {
        if self.events.is_empty() {
            self.store.revision
        } else {
            self.main
        }
    }

    /// The revision the store will have once this transaction ends.
    pub fn end_revision(&self) -> i64 {
        self.read_revision()
    }

    /// The live value of `key`, this transaction's writes included.
    pub fn get(&self, key: &[u8]) -> Option<KeyValue> {
        self.store.get_at(key, self.read_revision())
    }

    /// A range read; revision 0 reads this transaction's own view.
    pub fn range(&self, range: &KeyRange, opts: &RangeOptions) -> Result<RangeResult> {
        if opts.revision > 0 {
            // An explicit revision must already exist outside this transaction.
            return self.store.range(range, opts);
        }
        self.store.range_at(range, opts, self.read_revision())
    }

    /// Writes `value` to `key`, attached to `lease` (0 for none). Returns the previous value.
    pub fn put(&mut self, key: &[u8], value: Vec<u8>, lease: i64) -> Option<KeyValue> {
        let prev = self.get(key);
        let (create_revision, version) = match &prev {
            Some(p) => (p.create_revision, p.version + 1),
            None => (self.main, 1),
        };
        let record = Record {
            key: key.to_vec(),
            value,
            create_revision,
            version,
            lease,
            tombstone: false,
        };
        self.push(record, prev.clone(), EventType::Put);
        prev
    }

    /// Deletes every live key in `range`, returning what was deleted.
    pub fn delete_range(&mut self, range: &KeyRange) -> Vec<KeyValue> {
        let opts = RangeOptions::default();
        let doomed = match self.store.range_at(range, &opts, self.read_revision()) {
            Ok(result) => result.kvs,
            Err(_) => Vec::new(),
        };
        for kv in &doomed {
            let record = Record {
                key: kv.key.clone(),
                value: Vec::new(),
                create_revision: 0,
                version: 0,
                lease: 0,
                tombstone: true,
            };
            self.push(record, Some(kv.clone()), EventType::Delete);
        }
        doomed
    }

    fn push(&mut self, record: Record, prev_kv: Option<KeyValue>, kind: EventType) {
        let rev = Revision {
            main: self.main,
            sub: self.sub,
        };
        self.sub += 1;
        let kv = record.to_key_value(rev);
        self.store.insert(rev, record);
        self.events.push(Event {
            r#type: kind as i32,
            kv: Some(kv),
            prev_kv,
        });
    }

    /// Ends the transaction: advances the store's revision if anything was written and returns
    /// the events, in order, for watchers.
    pub fn commit(self) -> Vec<Event> {
        if !self.events.is_empty() {
            self.store.revision = self.main;
        }
        self.events
    }
}
