//! Table tests for the multi-version store's revision rules.

use etcd_api::mvccpb::event::EventType;

use super::*;

fn put(store: &mut KvStore, key: &str, value: &str) -> i64 {
    let mut w = store.write();
    w.put(key.as_bytes(), value.as_bytes().to_vec(), 0);
    w.commit();
    store.revision()
}

fn del(store: &mut KvStore, key: &str, end: &str) -> usize {
    let mut w = store.write();
    let n = w
        .delete_range(&KeyRange::new(key.as_bytes(), end.as_bytes()))
        .len();
    w.commit();
    n
}

fn keys(result: &RangeResult) -> Vec<String> {
    result
        .kvs
        .iter()
        .map(|kv| String::from_utf8_lossy(&kv.key).into_owned())
        .collect()
}

#[test]
fn revisions_versions_and_create_revisions() {
    let mut s = KvStore::new();
    assert_eq!(s.revision(), 1);
    assert_eq!(put(&mut s, "a", "1"), 2);
    assert_eq!(put(&mut s, "a", "2"), 3);
    let kv = s.get_at(b"a", 3).unwrap();
    assert_eq!((kv.create_revision, kv.mod_revision, kv.version), (2, 3, 2));
    assert_eq!(del(&mut s, "a", ""), 1);
    assert_eq!(s.revision(), 4);
    assert!(s.get_at(b"a", 4).is_none());
    // A new generation starts its version over.
    put(&mut s, "a", "3");
    let kv = s.get_at(b"a", 5).unwrap();
    assert_eq!((kv.create_revision, kv.version), (5, 1));
    // History stays readable.
    assert_eq!(s.get_at(b"a", 2).unwrap().value, b"1");
}

#[test]
fn a_delete_that_matches_nothing_keeps_the_revision() {
    let mut s = KvStore::new();
    put(&mut s, "a", "1");
    assert_eq!(del(&mut s, "zzz", ""), 0);
    assert_eq!(s.revision(), 2);
}

#[test]
fn ranges_follow_etcd_rules() {
    let mut s = KvStore::new();
    for k in ["a", "b", "ba", "bb", "c"] {
        put(&mut s, k, k);
    }
    let opts = RangeOptions::default();
    let cases: &[(&str, &str, &[&str])] = &[
        ("b", "", &["b"]),
        ("b", "c", &["b", "ba", "bb"]),
        ("b", "\0", &["b", "ba", "bb", "c"]),
        ("\0", "\0", &["a", "b", "ba", "bb", "c"]),
        ("c", "b", &[]),
        ("x", "", &[]),
    ];
    for (key, end, want) in cases {
        let r = s
            .range(&KeyRange::new(key.as_bytes(), end.as_bytes()), &opts)
            .unwrap();
        assert_eq!(keys(&r), *want, "range {key:?}..{end:?}");
        assert_eq!(r.count as usize, want.len());
    }
}

#[test]
fn limit_sort_and_filters() {
    let mut s = KvStore::new();
    put(&mut s, "a", "3");
    put(&mut s, "b", "1");
    put(&mut s, "c", "2");
    put(&mut s, "a", "4");
    let all = KeyRange::new(b"a", b"z");
    let cases: Vec<(RangeOptions, Vec<&str>, bool)> = vec![
        (
            RangeOptions {
                limit: 2,
                ..Default::default()
            },
            vec!["a", "b"],
            true,
        ),
        (
            RangeOptions {
                sort_order: SortOrder::Descend,
                ..Default::default()
            },
            vec!["c", "b", "a"],
            false,
        ),
        (
            RangeOptions {
                sort_target: SortTarget::Value,
                ..Default::default()
            },
            vec!["b", "c", "a"],
            false,
        ),
        (
            RangeOptions {
                sort_target: SortTarget::Mod,
                sort_order: SortOrder::Descend,
                limit: 1,
                ..Default::default()
            },
            vec!["a"],
            true,
        ),
        (
            RangeOptions {
                min_mod_revision: 4,
                ..Default::default()
            },
            vec!["c", "a"]
                .into_iter()
                .filter(|_| false)
                .chain(["a", "c"])
                .collect(),
            false,
        ),
        (
            RangeOptions {
                max_create_revision: 3,
                ..Default::default()
            },
            vec!["a", "b"],
            false,
        ),
        (
            RangeOptions {
                revision: 3,
                ..Default::default()
            },
            vec!["a", "b"],
            false,
        ),
    ];
    for (opts, want, more) in cases {
        let r = s.range(&all, &opts).unwrap();
        assert_eq!(keys(&r), want, "{opts:?}");
        assert_eq!(r.more, more, "{opts:?}");
        assert_eq!(r.count, if opts.revision == 3 { 2 } else { 3 }, "{opts:?}");
    }
    let r = s
        .range(
            &all,
            &RangeOptions {
                count_only: true,
                ..Default::default()
            },
        )
        .unwrap();
    assert!(r.kvs.is_empty());
    assert_eq!(r.count, 3);
    let r = s
        .range(
            &all,
            &RangeOptions {
                keys_only: true,
                ..Default::default()
            },
        )
        .unwrap();
    assert!(r.kvs.iter().all(|kv| kv.value.is_empty()));
}

#[test]
fn compaction_keeps_what_later_reads_need() {
    let mut s = KvStore::new();
    put(&mut s, "a", "1"); // 2
    put(&mut s, "a", "2"); // 3
    put(&mut s, "b", "1"); // 4
    del(&mut s, "b", ""); // 5
    put(&mut s, "c", "1"); // 6
    s.compact(5).unwrap();
    assert_eq!(s.compacted_revision(), 5);
    assert_eq!(
        s.range(
            &KeyRange::new(b"a", b""),
            &RangeOptions {
                revision: 4,
                ..Default::default()
            }
        ),
        Err(Error::Compacted)
    );
    assert_eq!(s.get_at(b"a", 5).unwrap().value, b"2");
    assert!(s.get_at(b"b", 6).is_none());
    assert_eq!(s.compact(5), Err(Error::Compacted));
    assert_eq!(s.compact(99), Err(Error::FutureRevision));
    assert_eq!(s.check_read_revision(7), Err(Error::FutureRevision));
    // Only the live value of "a", and "c", remain.
    assert_eq!(s.history_len(), 2);
}

#[test]
fn events_replay_history_with_previous_values() {
    let mut s = KvStore::new();
    put(&mut s, "k", "1"); // 2
    put(&mut s, "k", "2"); // 3
    put(&mut s, "other", "x"); // 4
    del(&mut s, "k", ""); // 5
    let events = s.events_after(2, &KeyRange::new(b"k", b""));
    let kinds: Vec<i32> = events.iter().map(|e| e.r#type).collect();
    assert_eq!(kinds, vec![EventType::Put as i32, EventType::Delete as i32]);
    assert_eq!(events[0].prev_kv.as_ref().unwrap().value, b"1");
    assert_eq!(events[1].prev_kv.as_ref().unwrap().value, b"2");
    assert_eq!(events[1].kv.as_ref().unwrap().mod_revision, 5);
}

#[test]
fn writes_in_one_transaction_share_a_revision_and_see_each_other() {
    let mut s = KvStore::new();
    let mut w = s.write();
    w.put(b"a", b"1".to_vec(), 0);
    assert_eq!(w.get(b"a").unwrap().value, b"1");
    w.put(b"b", b"2".to_vec(), 0);
    let events = w.commit();
    assert_eq!(events.len(), 2);
    assert!(
        events
            .iter()
            .all(|e| e.kv.as_ref().unwrap().mod_revision == 2)
    );
    assert_eq!(s.revision(), 2);
}
