//! Range reads over the multi-version store: etcd's key/range_end rules, filters, sort and limit.

use std::ops::Bound;

use etcd_api::mvccpb::KeyValue;

use super::{KvStore, latest_at};
use crate::error::{Error, Result};

/// A key or a key range as etcd encodes it in `key` and `range_end`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRange {
    /// Exactly one key (`range_end` empty).
    Single(Vec<u8>),
    /// Every key in `[start, end)`; `end` of `None` means no upper bound (`range_end` = "\0").
    Span {
        start: Vec<u8>,
        end: Option<Vec<u8>>,
    },
}

impl KeyRange {
    /// Reads etcd's `key`/`range_end` pair.
    pub fn new(key: &[u8], range_end: &[u8]) -> KeyRange {
        match range_end {
            [] => KeyRange::Single(key.to_vec()),
            [0] => KeyRange::Span {
                start: key.to_vec(),
                end: None,
            },
            end => KeyRange::Span {
                start: key.to_vec(),
                end: Some(end.to_vec()),
            },
        }
    }

    /// Whether `key` falls in the range.
    pub fn contains(&self, key: &[u8]) -> bool {
        match self {
            KeyRange::Single(k) => k == key,
            KeyRange::Span { start, end } => {
                key >= start.as_slice() && end.as_ref().is_none_or(|e| key < e.as_slice())
            }
        }
    }

    fn btree_bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        match self {
            KeyRange::Single(k) => (Bound::Included(k.as_slice()), Bound::Included(k.as_slice())),
            KeyRange::Span { start, end } => (
                Bound::Included(start.as_slice()),
                end.as_ref()
                    .map_or(Bound::Unbounded, |e| Bound::Excluded(e.as_slice())),
            ),
        }
    }

    /// An inverted span (`start >= end`) holds no key.
    fn is_empty(&self) -> bool {
        matches!(self, KeyRange::Span { start, end: Some(end) } if start >= end)
    }
}

/// Which field a range sorts on (etcd's `SortTarget`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortTarget {
    #[default]
    Key,
    Version,
    Create,
    Mod,
    Value,
}

/// Sort direction (etcd's `SortOrder`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    #[default]
    None,
    Ascend,
    Descend,
}

/// The options of a range request, already read from the wire.
#[derive(Debug, Clone, Default)]
pub struct RangeOptions {
    pub limit: i64,
    pub revision: i64,
    pub sort_order: SortOrder,
    pub sort_target: SortTarget,
    pub keys_only: bool,
    pub count_only: bool,
    pub min_mod_revision: i64,
    pub max_mod_revision: i64,
    pub min_create_revision: i64,
    pub max_create_revision: i64,
}

/// What a range returns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RangeResult {
    pub kvs: Vec<KeyValue>,
    /// Whether `limit` cut the result short.
    pub more: bool,
    /// Number of keys in the range at the revision, before filters and limit.
    pub count: i64,
}

impl KvStore {
    /// Reads a range at `opts.revision` (0: newest), following etcd's rules for sorting,
    /// filtering and limits.
    pub fn range(&self, range: &KeyRange, opts: &RangeOptions) -> Result<RangeResult> {
        let at = self.check_read_revision(opts.revision)?;
        self.range_at(range, opts, at)
    }

    /// Like [`KvStore::range`] at an already resolved revision.
    pub(crate) fn range_at(
        &self,
        range: &KeyRange,
        opts: &RangeOptions,
        at: i64,
    ) -> Result<RangeResult> {
        if opts.limit < 0 {
            return Err(Error::InvalidArgument(
                "etcdserver: limit must not be negative".into(),
            ));
        }
        let mut live: Vec<KeyValue> = Vec::new();
        if !range.is_empty() {
            for (_, revs) in self.index.range::<[u8], _>(range.btree_bounds()) {
                if let Some(rev) = latest_at(revs, at) {
                    let record = &self.history[&rev];
                    if !record.tombstone {
                        live.push(record.to_key_value(rev));
                    }
                }
            }
        }
        let count = live.len() as i64;
        if opts.count_only {
            return Ok(RangeResult {
                kvs: Vec::new(),
                more: false,
                count,
            });
        }
        live.retain(|kv| passes_filters(kv, opts));

        // As in etcd: a non-key target with no order sorts ascending; key ascending is the
        // natural order already.
        let order = match (opts.sort_order, opts.sort_target) {
            (SortOrder::None, SortTarget::Key) => SortOrder::None,
            (SortOrder::None, _) => SortOrder::Ascend,
            (order, _) => order,
        };
        if order != SortOrder::None {
            sort_kvs(&mut live, opts.sort_target, order);
        }
        let mut more = false;
        if opts.limit > 0 && live.len() > opts.limit as usize {
            live.truncate(opts.limit as usize);
            more = true;
        }
        if opts.keys_only {
            for kv in &mut live {
                kv.value.clear();
            }
        }
        Ok(RangeResult {
            kvs: live,
            more,
            count,
        })
    }
}

fn passes_filters(kv: &KeyValue, o: &RangeOptions) -> bool {
    (o.min_mod_revision == 0 || kv.mod_revision >= o.min_mod_revision)
        && (o.max_mod_revision == 0 || kv.mod_revision <= o.max_mod_revision)
        && (o.min_create_revision == 0 || kv.create_revision >= o.min_create_revision)
        && (o.max_create_revision == 0 || kv.create_revision <= o.max_create_revision)
}

fn sort_kvs(kvs: &mut [KeyValue], target: SortTarget, order: SortOrder) {
    // Stable sorts keep key order among equal targets, as etcd's sort.Stable does.
    match target {
        SortTarget::Key => kvs.sort_by(|a, b| a.key.cmp(&b.key)),
        SortTarget::Version => kvs.sort_by_key(|kv| kv.version),
        SortTarget::Create => kvs.sort_by_key(|kv| kv.create_revision),
        SortTarget::Mod => kvs.sort_by_key(|kv| kv.mod_revision),
        SortTarget::Value => kvs.sort_by(|a, b| a.value.cmp(&b.value)),
    }
    if order == SortOrder::Descend {
        kvs.reverse();
    }
}
