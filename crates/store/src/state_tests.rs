//! Table tests for applying commands: puts, leases, transactions and alarms.

use etcd_api::etcdserverpb::{
    AlarmType, DeleteRangeRequest, LeaseGrantRequest, LeaseRevokeRequest, RangeRequest,
    compare::{CompareResult, CompareTarget, TargetUnion},
};

use super::*;

fn cmd(op: Op) -> Command {
    Command { op: Some(op) }
}

fn put_req(key: &str, value: &str, lease: i64) -> PutRequest {
    PutRequest {
        key: key.into(),
        value: value.into(),
        lease,
        ..Default::default()
    }
}

fn apply_ok(state: &mut State, op: Op) -> Outcome {
    state.apply(cmd(op)).reply.into_result().expect("apply")
}

fn get(state: &State, key: &str) -> Option<KeyValue> {
    state
        .range(&RangeRequest {
            key: key.into(),
            ..Default::default()
        })
        .unwrap()
        .kvs
        .pop()
}

fn compare(key: &str, target: CompareTarget, result: CompareResult, union: TargetUnion) -> Compare {
    Compare {
        key: key.into(),
        target: target as i32,
        result: result as i32,
        target_union: Some(union),
        range_end: vec![],
    }
}

fn put_op(key: &str, value: &str, lease: i64) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestPut(put_req(key, value, lease))),
    }
}

#[test]
fn lease_keys_vanish_together_on_revoke() {
    let mut s = State::new(2);
    apply_ok(&mut s, Op::LeaseGrant(LeaseGrantRequest { id: 7, ttl: 1 }));
    assert_eq!(s.leases[&7].ttl, 2, "TTL is raised to the minimum");
    apply_ok(&mut s, Op::Put(put_req("a", "1", 7)));
    apply_ok(&mut s, Op::Put(put_req("b", "1", 7)));
    apply_ok(&mut s, Op::Put(put_req("c", "1", 0)));
    let applied = s.apply(cmd(Op::LeaseRevoke(LeaseRevokeRequest { id: 7 })));
    assert_eq!(applied.events.len(), 2);
    assert!(
        applied
            .events
            .iter()
            .all(|e| e.kv.as_ref().unwrap().mod_revision == 5)
    );
    assert!(get(&s, "a").is_none() && get(&s, "b").is_none() && get(&s, "c").is_some());
    assert_eq!(
        s.apply(cmd(Op::LeaseRevoke(LeaseRevokeRequest { id: 7 })))
            .reply
            .into_result(),
        Err(Error::LeaseNotFound)
    );
}

#[test]
fn moving_a_key_to_another_lease_detaches_it() {
    let mut s = State::new(1);
    apply_ok(&mut s, Op::LeaseGrant(LeaseGrantRequest { id: 1, ttl: 10 }));
    apply_ok(&mut s, Op::LeaseGrant(LeaseGrantRequest { id: 2, ttl: 10 }));
    apply_ok(&mut s, Op::Put(put_req("k", "v", 1)));
    apply_ok(&mut s, Op::Put(put_req("k", "v", 2)));
    assert!(s.leases[&1].keys.is_empty());
    apply_ok(&mut s, Op::LeaseRevoke(LeaseRevokeRequest { id: 1 }));
    assert!(get(&s, "k").is_some());
}

#[test]
fn put_errors_write_nothing() {
    let cases: Vec<(PutRequest, Error)> = vec![
        (put_req("k", "v", 99), Error::LeaseNotFound),
        (
            PutRequest {
                key: "missing".into(),
                ignore_value: true,
                ..Default::default()
            },
            Error::KeyNotFound,
        ),
        (
            PutRequest {
                key: "missing".into(),
                ignore_lease: true,
                ..Default::default()
            },
            Error::KeyNotFound,
        ),
    ];
    for (req, want) in cases {
        let mut s = State::new(1);
        let applied = s.apply(cmd(Op::Put(req.clone())));
        assert_eq!(applied.reply.into_result(), Err(want), "{req:?}");
        assert!(applied.events.is_empty());
        assert_eq!(s.kv.revision(), 1);
    }
}

#[test]
fn ignore_value_and_ignore_lease_keep_the_old_ones() {
    let mut s = State::new(1);
    apply_ok(&mut s, Op::LeaseGrant(LeaseGrantRequest { id: 3, ttl: 10 }));
    apply_ok(&mut s, Op::Put(put_req("k", "old", 3)));
    apply_ok(
        &mut s,
        Op::Put(PutRequest {
            key: "k".into(),
            ignore_value: true,
            ignore_lease: true,
            ..Default::default()
        }),
    );
    let kv = get(&s, "k").unwrap();
    assert_eq!(
        (kv.value.as_slice(), kv.lease, kv.version),
        (&b"old"[..], 3, 2)
    );
}

#[test]
fn compares_follow_etcd() {
    let mut s = State::new(1);
    apply_ok(&mut s, Op::Put(put_req("k", "b", 0))); // rev 2
    use CompareResult as R;
    use CompareTarget as T;
    let cases = vec![
        (
            compare("k", T::Value, R::Equal, TargetUnion::Value(b"b".to_vec())),
            true,
        ),
        (
            compare("k", T::Value, R::Greater, TargetUnion::Value(b"a".to_vec())),
            true,
        ),
        (
            compare("k", T::Value, R::Less, TargetUnion::Value(b"a".to_vec())),
            false,
        ),
        (
            compare("k", T::Version, R::Equal, TargetUnion::Version(1)),
            true,
        ),
        (
            compare("k", T::Mod, R::Equal, TargetUnion::ModRevision(2)),
            true,
        ),
        (
            compare("k", T::Create, R::NotEqual, TargetUnion::CreateRevision(2)),
            false,
        ),
        (
            compare("k", T::Lease, R::Equal, TargetUnion::Lease(0)),
            true,
        ),
        // A missing key: a value compare fails, other targets compare against zero.
        (
            compare(
                "nope",
                T::Value,
                R::NotEqual,
                TargetUnion::Value(b"x".to_vec()),
            ),
            false,
        ),
        (
            compare("nope", T::Version, R::Equal, TargetUnion::Version(0)),
            true,
        ),
        (
            compare("nope", T::Create, R::Equal, TargetUnion::CreateRevision(0)),
            true,
        ),
    ];
    for (c, want) in cases {
        let txn = s.kv.write();
        assert_eq!(compare_holds(&txn, &c), want, "{c:?}");
    }
}

#[test]
fn a_txn_picks_a_branch_and_shares_one_revision() {
    let mut s = State::new(1);
    apply_ok(&mut s, Op::Put(put_req("k", "1", 0)));
    let req = TxnRequest {
        compare: vec![compare(
            "k",
            CompareTarget::Value,
            CompareResult::Equal,
            TargetUnion::Value(b"1".to_vec()),
        )],
        success: vec![put_op("k", "2", 0), put_op("j", "2", 0)],
        failure: vec![put_op("f", "x", 0)],
    };
    let Outcome::Txn(resp) = apply_ok(&mut s, Op::Txn(req.clone())) else {
        panic!("not a txn")
    };
    assert!(resp.succeeded);
    assert_eq!(resp.responses.len(), 2);
    assert_eq!(s.kv.revision(), 3);
    assert_eq!(get(&s, "j").unwrap().mod_revision, 3);
    let Outcome::Txn(resp) = apply_ok(&mut s, Op::Txn(req)) else {
        panic!("not a txn")
    };
    assert!(!resp.succeeded);
    assert!(get(&s, "f").is_some());
}

#[test]
fn a_failing_txn_leaves_nothing_half_written() {
    let mut s = State::new(1);
    let req = TxnRequest {
        compare: vec![],
        success: vec![put_op("a", "1", 0), put_op("b", "1", 42)],
        failure: vec![],
    };
    let applied = s.apply(cmd(Op::Txn(req)));
    assert_eq!(applied.reply.into_result(), Err(Error::LeaseNotFound));
    assert!(get(&s, "a").is_none());
    assert_eq!(s.kv.revision(), 1);
}

#[test]
fn duplicate_keys_in_a_txn_are_refused() {
    let del = |k: &str, end: &str| RequestOp {
        request: Some(request_op::Request::RequestDeleteRange(
            DeleteRangeRequest {
                key: k.into(),
                range_end: end.into(),
                ..Default::default()
            },
        )),
    };
    let nested = |success: Vec<RequestOp>, failure: Vec<RequestOp>| RequestOp {
        request: Some(request_op::Request::RequestTxn(TxnRequest {
            compare: vec![],
            success,
            failure,
        })),
    };
    let cases: Vec<(Vec<RequestOp>, bool)> = vec![
        (vec![put_op("a", "", 0), put_op("b", "", 0)], true),
        (vec![put_op("a", "", 0), put_op("a", "", 0)], false),
        (vec![put_op("b", "", 0), del("a", "c")], false),
        (vec![put_op("c", "", 0), del("a", "c")], true),
        (
            vec![nested(vec![put_op("a", "", 0)], vec![put_op("a", "", 0)])],
            true,
        ),
        (
            vec![put_op("a", "", 0), nested(vec![put_op("a", "", 0)], vec![])],
            false,
        ),
    ];
    for (ops, ok) in cases {
        let req = TxnRequest {
            compare: vec![],
            success: ops.clone(),
            failure: vec![],
        };
        assert_eq!(check_txn_intervals(&req).is_ok(), ok, "{ops:?}");
    }
}

#[test]
fn the_nospace_alarm_stops_puts_but_not_deletes() {
    let mut s = State::new(1);
    apply_ok(&mut s, Op::Put(put_req("k", "v", 0)));
    let alarm = AlarmRequest {
        action: AlarmAction::Activate as i32,
        member_id: 1,
        alarm: AlarmType::Nospace as i32,
    };
    apply_ok(&mut s, Op::Alarm(alarm));
    assert_eq!(
        s.apply(cmd(Op::Put(put_req("k", "w", 0))))
            .reply
            .into_result(),
        Err(Error::NoSpace)
    );
    let del = DeleteRangeRequest {
        key: "k".into(),
        ..Default::default()
    };
    assert!(
        s.apply(cmd(Op::DeleteRange(del)))
            .reply
            .into_result()
            .is_ok()
    );
    let disarm = AlarmRequest {
        action: AlarmAction::Deactivate as i32,
        member_id: 1,
        alarm: AlarmType::Nospace as i32,
    };
    apply_ok(&mut s, Op::Alarm(disarm));
    assert!(
        s.apply(cmd(Op::Put(put_req("k", "w", 0))))
            .reply
            .into_result()
            .is_ok()
    );
}
