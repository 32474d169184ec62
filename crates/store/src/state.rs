//! The replicated state: MVCC keys, leases, alarms and member attributes, and how a command
//! changes them. Pure: the same log applied anywhere gives the same state and the same replies.

use std::collections::{BTreeMap, BTreeSet};

use etcd_api::etcdserverpb::{
    AlarmMember, AlarmRequest, AlarmResponse, CompactionResponse, Compare, DeleteRangeRequest,
    DeleteRangeResponse, LeaseGrantResponse, LeaseRevokeResponse, PutRequest, PutResponse,
    RangeRequest, RangeResponse, RequestOp, ResponseHeader, ResponseOp, TxnRequest, TxnResponse,
    alarm_request::AlarmAction, compare, request_op, response_op,
};
use etcd_api::mvccpb::{Event, KeyValue};
use serde::{Deserialize, Serialize};

use crate::command::{Command, Op, Outcome, Publish, Reply, ReplyBatch};
use crate::error::{Error, Result};
use crate::mvcc::{KeyRange, KvStore, RangeOptions, SortOrder, SortTarget, WriteTxn};

/// etcd's largest lease TTL, in seconds.
pub const MAX_LEASE_TTL: i64 = 9_000_000_000;

/// A lease as every member knows it. When it expires is not replicated: only the leader keeps
/// time, as in etcd.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Lease {
    /// The TTL granted, in seconds.
    pub ttl: i64,
    /// The keys attached to it.
    pub keys: BTreeSet<Vec<u8>>,
}

/// A member's published attributes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemberAttrs {
    pub name: String,
    pub client_urls: Vec<String>,
}

/// Everything the log builds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    pub kv: KvStore,
    pub leases: BTreeMap<i64, Lease>,
    /// Raised alarms: (member ID, alarm type).
    pub alarms: BTreeSet<(u64, i32)>,
    /// Attributes published by each member.
    pub members: BTreeMap<u64, MemberAttrs>,
    /// The smallest TTL a grant gets, from the election timeout (same flags on every member).
    pub min_lease_ttl: i64,
}

/// What applying a command did: the reply for the proposer and the events for watchers.
#[derive(Debug, Default)]
pub struct Applied {
    pub reply: Reply,
    pub events: Vec<Event>,
}

impl State {
    /// A fresh state, as a new cluster starts.
    pub fn new(min_lease_ttl: i64) -> Self {
        State {
            kv: KvStore::new(),
            min_lease_ttl,
            ..Default::default()
        }
    }

    /// A response header carrying the store revision; the serving member fills in the rest.
    pub fn header(&self) -> Option<ResponseHeader> {
        Some(ResponseHeader {
            revision: self.kv.revision(),
            ..Default::default()
        })
    }

    /// Whether the NOSPACE alarm is raised anywhere in the cluster.
    pub fn no_space(&self) -> bool {
        self.alarms
            .iter()
            .any(|(_, kind)| *kind == etcd_api::etcdserverpb::AlarmType::Nospace as i32)
    }

    /// Applies one command.
    pub fn apply(&mut self, cmd: Command) -> Applied {
        let Some(op) = cmd.op else {
            return Applied {
                reply: Reply::error(Error::Internal("empty command".into())),
                events: vec![],
            };
        };
        let mut events = Vec::new();
        let outcome = match op {
            Op::Put(req) => self.apply_put(req, &mut events).map(Outcome::Put),
            Op::DeleteRange(req) => self
                .apply_delete(req, &mut events)
                .map(Outcome::DeleteRange),
            Op::Txn(req) => self.apply_txn(req, &mut events).map(Outcome::Txn),
            Op::Compact(req) => self.kv.compact(req.revision).map(|()| {
                Outcome::Compact(CompactionResponse {
                    header: self.header(),
                })
            }),
            Op::LeaseGrant(req) => self
                .apply_lease_grant(req.id, req.ttl)
                .map(Outcome::LeaseGrant),
            Op::LeaseRevoke(req) => self
                .apply_lease_revoke(req.id, &mut events)
                .map(Outcome::LeaseRevoke),
            Op::Alarm(req) => Ok(Outcome::Alarm(self.apply_alarm(req))),
            Op::Publish(p) => Ok(self.apply_publish(p)),
            Op::Batch(batch) => {
                let replies = batch
                    .commands
                    .into_iter()
                    .map(|cmd| {
                        let applied = self.apply(cmd);
                        events.extend(applied.events);
                        applied.reply
                    })
                    .collect();
                Ok(Outcome::Batch(ReplyBatch { replies }))
            }
        };
        let reply = match outcome {
            Ok(outcome) => Reply {
                outcome: Some(outcome),
            },
            Err(e) => {
                events.clear();
                Reply::error(e)
            }
        };
        Applied { reply, events }
    }

    /// A read, at the newest revision unless the request names one.
    pub fn range(&self, req: &RangeRequest) -> Result<RangeResponse> {
        let (range, opts) = range_args(req);
        let result = self.kv.range(&range, &opts)?;
        Ok(RangeResponse {
            header: self.header(),
            kvs: result.kvs,
            more: result.more,
            count: result.count,
        })
    }

    fn apply_put(&mut self, req: PutRequest, events: &mut Vec<Event>) -> Result<PutResponse> {
        if self.no_space() {
            return Err(Error::NoSpace);
        }
        let mut txn = self.kv.write();
        check_put(&txn, &self.leases, &req)?;
        let resp = put_in(&mut txn, &mut self.leases, req);
        events.extend(txn.commit());
        Ok(PutResponse {
            header: self.header(),
            ..resp
        })
    }

    fn apply_delete(
        &mut self,
        req: DeleteRangeRequest,
        events: &mut Vec<Event>,
    ) -> Result<DeleteRangeResponse> {
        let mut txn = self.kv.write();
        let resp = delete_in(&mut txn, &mut self.leases, req);
        events.extend(txn.commit());
        Ok(DeleteRangeResponse {
            header: self.header(),
            ..resp
        })
    }

    fn apply_txn(&mut self, req: TxnRequest, events: &mut Vec<Event>) -> Result<TxnResponse> {
        if self.no_space() && txn_has_put(&req) {
            return Err(Error::NoSpace);
        }
        let mut txn = self.kv.write();
        // Check every operation on the chosen path first, so a failing one leaves nothing
        // half-written.
        check_txn(&txn, &self.leases, &req)?;
        let resp = txn_in(&mut txn, &mut self.leases, req)?;
        events.extend(txn.commit());
        Ok(TxnResponse {
            header: self.header(),
            ..resp
        })
    }

    /// Answers a txn whose operations only read, without the log. Nothing is written, so the
    /// revision does not move.
    pub fn read_only_txn(&mut self, req: TxnRequest) -> Result<TxnResponse> {
        let mut txn = self.kv.write();
        check_txn(&txn, &self.leases, &req)?;
        let resp = txn_in(&mut txn, &mut self.leases, req)?;
        let events = txn.commit();
        debug_assert!(events.is_empty(), "a read-only txn wrote");
        Ok(TxnResponse {
            header: self.header(),
            ..resp
        })
    }

    fn apply_lease_grant(&mut self, id: i64, ttl: i64) -> Result<LeaseGrantResponse> {
        if id <= 0 {
            return Err(Error::InvalidArgument(
                "etcdserver: lease ID must be positive".into(),
            ));
        }
        if ttl > MAX_LEASE_TTL {
            return Err(Error::LeaseTtlTooLarge);
        }
        if self.leases.contains_key(&id) {
            return Err(Error::LeaseExists);
        }
        if self.no_space() {
            return Err(Error::NoSpace);
        }
        let ttl = ttl.max(self.min_lease_ttl);
        self.leases.insert(
            id,
            Lease {
                ttl,
                keys: BTreeSet::new(),
            },
        );
        Ok(LeaseGrantResponse {
            header: self.header(),
            id,
            ttl,
            error: String::new(),
        })
    }

    fn apply_lease_revoke(
        &mut self,
        id: i64,
        events: &mut Vec<Event>,
    ) -> Result<LeaseRevokeResponse> {
        let lease = self.leases.remove(&id).ok_or(Error::LeaseNotFound)?;
        // All of the lease's keys go in one revision, as etcd deletes them in one transaction.
        let mut txn = self.kv.write();
        for key in &lease.keys {
            txn.delete_range(&KeyRange::Single(key.clone()));
        }
        events.extend(txn.commit());
        Ok(LeaseRevokeResponse {
            header: self.header(),
        })
    }

    fn apply_alarm(&mut self, req: AlarmRequest) -> AlarmResponse {
        let key = (req.member_id, req.alarm);
        let mut changed = Vec::new();
        match AlarmAction::try_from(req.action).unwrap_or(AlarmAction::Get) {
            AlarmAction::Get => {}
            AlarmAction::Activate => {
                if self.alarms.insert(key) {
                    changed.push(key);
                }
            }
            AlarmAction::Deactivate => {
                if self.alarms.remove(&key) {
                    changed.push(key);
                }
            }
        }
        let list = if req.action == AlarmAction::Get as i32 {
            self.alarms.iter().copied().collect()
        } else {
            changed
        };
        // etcd answers alarm requests without a header (`alarm list -w json` prints `{}`).
        AlarmResponse {
            header: None,
            alarms: list
                .into_iter()
                .map(|(member_id, alarm)| AlarmMember { member_id, alarm })
                .collect(),
        }
    }

    fn apply_publish(&mut self, p: Publish) -> Outcome {
        self.members.insert(
            p.member_id,
            MemberAttrs {
                name: p.name,
                client_urls: p.client_urls,
            },
        );
        Outcome::Alarm(AlarmResponse {
            header: self.header(),
            alarms: vec![],
        })
    }
}

/// Reads a RangeRequest's key range and options.
pub fn range_args(req: &RangeRequest) -> (KeyRange, RangeOptions) {
    use etcd_api::etcdserverpb::range_request::{SortOrder as O, SortTarget as T};
    let sort_order = match O::try_from(req.sort_order).unwrap_or(O::None) {
        O::None => SortOrder::None,
        O::Ascend => SortOrder::Ascend,
        O::Descend => SortOrder::Descend,
    };
    let sort_target = match T::try_from(req.sort_target).unwrap_or(T::Key) {
        T::Key => SortTarget::Key,
        T::Version => SortTarget::Version,
        T::Create => SortTarget::Create,
        T::Mod => SortTarget::Mod,
        T::Value => SortTarget::Value,
    };
    let opts = RangeOptions {
        limit: req.limit,
        revision: req.revision,
        sort_order,
        sort_target,
        keys_only: req.keys_only,
        count_only: req.count_only,
        min_mod_revision: req.min_mod_revision,
        max_mod_revision: req.max_mod_revision,
        min_create_revision: req.min_create_revision,
        max_create_revision: req.max_create_revision,
    };
    (KeyRange::new(&req.key, &req.range_end), opts)
}

fn check_put(txn: &WriteTxn<'_>, leases: &BTreeMap<i64, Lease>, req: &PutRequest) -> Result<()> {
    if (req.ignore_value || req.ignore_lease) && txn.get(&req.key).is_none() {
        return Err(Error::KeyNotFound);
    }
    if req.lease != 0 && !leases.contains_key(&req.lease) {
        return Err(Error::LeaseNotFound);
    }
    Ok(())
}

fn put_in(
    txn: &mut WriteTxn<'_>,
    leases: &mut BTreeMap<i64, Lease>,
    req: PutRequest,
) -> PutResponse {
    let existing = txn.get(&req.key);
    let value = match (&existing, req.ignore_value) {
        (Some(prev), true) => prev.value.clone(),
        _ => req.value,
    };
    let lease = match (&existing, req.ignore_lease) {
        (Some(prev), true) => prev.lease,
        _ => req.lease,
    };
    let prev = txn.put(&req.key, value, lease);
    let old_lease = prev.as_ref().map_or(0, |p| p.lease);
    if old_lease != 0
        && old_lease != lease
        && let Some(l) = leases.get_mut(&old_lease)
    {
        l.keys.remove(&req.key);
    }
    if let Some(l) = leases.get_mut(&lease) {
        l.keys.insert(req.key.clone());
    }
    PutResponse {
        header: revision_header(txn.end_revision()),
        prev_kv: prev.filter(|_| req.prev_kv),
    }
}

fn delete_in(
    txn: &mut WriteTxn<'_>,
    leases: &mut BTreeMap<i64, Lease>,
    req: DeleteRangeRequest,
) -> DeleteRangeResponse {
    let deleted = txn.delete_range(&KeyRange::new(&req.key, &req.range_end));
    for kv in deleted.iter().filter(|kv| kv.lease != 0) {
        if let Some(l) = leases.get_mut(&kv.lease) {
            l.keys.remove(&kv.key);
        }
    }
    DeleteRangeResponse {
        header: revision_header(txn.end_revision()),
        deleted: deleted.len() as i64,
        prev_kvs: if req.prev_kv { deleted } else { Vec::new() },
    }
}

fn txn_has_put(req: &TxnRequest) -> bool {
    req.success
        .iter()
        .chain(&req.failure)
        .any(|op| match &op.request {
            Some(request_op::Request::RequestPut(_)) => true,
            Some(request_op::Request::RequestTxn(t)) => txn_has_put(t),
            _ => false,
        })
}

/// Evaluates one compare against the current view, as etcd does: a value compare on a missing
/// key fails; other targets compare against zeroes.
pub fn compare_holds(txn: &WriteTxn<'_>, c: &Compare) -> bool {
    let range = KeyRange::new(&c.key, &c.range_end);
    let kvs = match txn.range(&range, &RangeOptions::default()) {
        Ok(r) => r.kvs,
        Err(_) => return false,
    };
    let target =
        compare::CompareTarget::try_from(c.target).unwrap_or(compare::CompareTarget::Version);
    if kvs.is_empty() {
        if target == compare::CompareTarget::Value {
            return false;
        }
        return compare_kv(c, target, &KeyValue::default());
    }
    kvs.iter().all(|kv| compare_kv(c, target, kv))
}

fn compare_kv(c: &Compare, target: compare::CompareTarget, kv: &KeyValue) -> bool {
    use compare::{CompareResult as R, CompareTarget as T, TargetUnion as U};
    let ord = match (target, &c.target_union) {
        (T::Value, Some(U::Value(v))) => kv.value.as_slice().cmp(v.as_slice()),
        (T::Value, _) => kv.value.as_slice().cmp(&[][..]),
        (T::Version, u) => kv.version.cmp(&int_target(u)),
        (T::Create, u) => kv.create_revision.cmp(&int_target(u)),
        (T::Mod, u) => kv.mod_revision.cmp(&int_target(u)),
        (T::Lease, u) => kv.lease.cmp(&int_target(u)),
    };
    match R::try_from(c.result).unwrap_or(R::Equal) {
        R::Equal => ord.is_eq(),
        R::NotEqual => ord.is_ne(),
        R::Greater => ord.is_gt(),
        R::Less => ord.is_lt(),
    }
}

fn int_target(u: &Option<compare::TargetUnion>) -> i64 {
    use compare::TargetUnion as U;
    match u {
        Some(U::Version(v))
        | Some(U::CreateRevision(v))
        | Some(U::ModRevision(v))
        | Some(U::Lease(v)) => *v,
        _ => 0,
    }
}

fn txn_path<'r>(txn: &WriteTxn<'_>, req: &'r TxnRequest) -> (bool, &'r [RequestOp]) {
    let succeeded = req.compare.iter().all(|c| compare_holds(txn, c));
    (
        succeeded,
        if succeeded {
            &req.success
        } else {
            &req.failure
        },
    )
}

/// Checks the operations a txn will run (recursively), before anything is written.
fn check_txn(txn: &WriteTxn<'_>, leases: &BTreeMap<i64, Lease>, req: &TxnRequest) -> Result<()> {
    let (_, ops) = txn_path(txn, req);
    for op in ops {
        match &op.request {
            Some(request_op::Request::RequestPut(p)) => check_put(txn, leases, p)?,
            Some(request_op::Request::RequestRange(r)) if r.revision > 0 => {
                txn.range(&KeyRange::new(&r.key, &r.range_end), &range_args(r).1)
                    .map(|_| ())?;
            }
            Some(request_op::Request::RequestTxn(t)) => check_txn(txn, leases, t)?,
            _ => {}
        }
    }
    Ok(())
}

fn txn_in(
    txn: &mut WriteTxn<'_>,
    leases: &mut BTreeMap<i64, Lease>,
    req: TxnRequest,
) -> Result<TxnResponse> {
    let (succeeded, _) = txn_path(txn, &req);
    let ops = if succeeded { req.success } else { req.failure };
    let mut responses = Vec::with_capacity(ops.len());
    for op in ops {
        let response = match op.request {
            Some(request_op::Request::RequestRange(r)) => {
                let (range, opts) = range_args(&r);
                let read_at = txn.read_revision();
                let res = txn.range(&range, &opts)?;
                response_op::Response::ResponseRange(RangeResponse {
                    header: revision_header(read_at),
                    kvs: res.kvs,
                    more: res.more,
                    count: res.count,
                })
            }
            Some(request_op::Request::RequestPut(p)) => {
                response_op::Response::ResponsePut(put_in(txn, leases, p))
            }
            Some(request_op::Request::RequestDeleteRange(d)) => {
                response_op::Response::ResponseDeleteRange(delete_in(txn, leases, d))
            }
            Some(request_op::Request::RequestTxn(t)) => {
                response_op::Response::ResponseTxn(txn_in(txn, leases, t)?)
            }
            None => {
                return Err(Error::InvalidArgument(
                    "etcdserver: empty operation in txn".into(),
                ));
            }
        };
        responses.push(ResponseOp {
            response: Some(response),
        });
    }
    Ok(TxnResponse {
        header: revision_header(txn.end_revision()),
        succeeded,
        responses,
    })
}

/// The header etcd puts on the responses nested in a txn: the revision alone.
fn revision_header(revision: i64) -> Option<ResponseHeader> {
    Some(ResponseHeader {
        revision,
        ..Default::default()
    })
}

/// Rejects a txn that writes one key twice on either path, as etcd does before proposing.
pub fn check_txn_intervals(req: &TxnRequest) -> Result<()> {
    write_set(&req.success)?;
    write_set(&req.failure)?;
    Ok(())
}

/// The keys a branch puts and the ranges it deletes. A nested txn contributes both of its
/// branches, but only one of them runs, so a key may repeat between them.
fn write_set(ops: &[RequestOp]) -> Result<(BTreeSet<Vec<u8>>, Vec<KeyRange>)> {
    let mut puts = BTreeSet::new();
    let mut deletes = Vec::new();
    for op in ops {
        match &op.request {
            Some(request_op::Request::RequestPut(p)) if !puts.insert(p.key.clone()) => {
                return Err(Error::DuplicateKey);
            }
            Some(request_op::Request::RequestDeleteRange(d)) => {
                deletes.push(KeyRange::new(&d.key, &d.range_end))
            }
            Some(request_op::Request::RequestTxn(t)) => {
                let (success_puts, success_deletes) = write_set(&t.success)?;
                let (failure_puts, failure_deletes) = write_set(&t.failure)?;
                for key in success_puts.union(&failure_puts) {
                    if !puts.insert(key.clone()) {
                        return Err(Error::DuplicateKey);
                    }
                }
                deletes.extend(success_deletes);
                deletes.extend(failure_deletes);
            }
            _ => {}
        }
    }
    if puts.iter().any(|k| deletes.iter().any(|d| d.contains(k))) {
        return Err(Error::DuplicateKey);
    }
    Ok((puts, deletes))
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
