//! The KV service: Range, Put, DeleteRange, Txn and Compact, checked as etcd checks them.

use std::sync::Arc;

use etcd_api::etcdserverpb::kv_server::Kv;
use etcd_api::etcdserverpb::{
    AlarmRequest, CompactionRequest, CompactionResponse, DeleteRangeRequest, DeleteRangeResponse,
    PutRequest, PutResponse, RangeRequest, RangeResponse, TxnRequest, TxnResponse, alarm_request,
    request_op,
};
use tonic::{Request, Response, Status};

use crate::command::{Command, Op, Outcome};
use crate::error::Error;
use crate::member::Member;
use crate::state::check_txn_intervals;

/// The KV service of one member.
pub struct KvService {
    pub member: Arc<Member>,
}

impl KvService {
    async fn write(&self, op: Op, footprint: u64) -> Result<Outcome, Status> {
        if footprint > 0 {
            self.check_quota(footprint).await?;
        }
        Ok(self.member.propose(Command { op: Some(op) }).await?)
    }

    /// Raises the NOSPACE alarm and refuses the write if it would pass the backend quota, as
    /// etcd's quota check does before proposing.
    async fn check_quota(&self, footprint: u64) -> Result<(), Status> {
        let (size, no_space) = {
            let applied = self.member.shared.lock();
            (applied.state.kv.size(), applied.state.no_space())
        };
        if no_space {
            return Err(Error::NoSpace.into());
        }
        if size + footprint > self.member.config.quota_backend_bytes {
            let alarm = AlarmRequest {
                action: alarm_request::AlarmAction::Activate as i32,
                member_id: self.member.id,
                alarm: etcd_api::etcdserverpb::AlarmType::Nospace as i32,
            };
            self.member
                .propose(Command {
                    op: Some(Op::Alarm(alarm)),
                })
                .await?;
            return Err(Error::NoSpace.into());
        }
        Ok(())
    }

    /// Learners answer only serializable reads, as in etcd.
    fn refuse_learner(&self) -> Result<(), Status> {
        if self.member.is_learner() {
            return Err(Error::NotSupportedForLearner.into());
        }
        Ok(())
    }

    fn fill(&self, header: &mut Option<etcd_api::etcdserverpb::ResponseHeader>) {
        let revision = header
            .as_ref()
            .map(|h| h.revision)
            .unwrap_or_else(|| self.member.revision());
        *header = self.member.header(revision);
    }
}

fn unexpected(outcome: Outcome) -> Status {
    Status::internal(format!("etcdserver: unexpected apply outcome {outcome:?}"))
}

#[tonic::async_trait]
impl Kv for KvService {
    async fn range(&self, req: Request<RangeRequest>) -> Result<Response<RangeResponse>, Status> {
        let req = req.into_inner();
        if !req.serializable {
            self.refuse_learner()?;
            self.member.linearize().await?;
        }
        let mut resp = self.member.shared.lock().state.range(&req)?;
        self.fill(&mut resp.header);
        Ok(Response::new(resp))
    }

    async fn put(&self, req: Request<PutRequest>) -> Result<Response<PutResponse>, Status> {
        self.refuse_learner()?;
        let req = req.into_inner();
        check_put_request(&req)?;
        let footprint = (req.key.len() + req.value.len()) as u64;
        match self.write(Op::Put(req), footprint).await? {
            Outcome::Put(mut resp) => {
                self.fill(&mut resp.header);
                Ok(Response::new(resp))
            }
            other => Err(unexpected(other)),
        }
    }

    async fn delete_range(
        &self,
        req: Request<DeleteRangeRequest>,
    ) -> Result<Response<DeleteRangeResponse>, Status> {
        self.refuse_learner()?;
        let req = req.into_inner();
        if req.key.is_empty() {
            return Err(Error::EmptyKey.into());
        }
        match self.write(Op::DeleteRange(req), 0).await? {
            Outcome::DeleteRange(mut resp) => {
                self.fill(&mut resp.header);
                Ok(Response::new(resp))
            }
            other => Err(unexpected(other)),
        }
    }

    async fn txn(&self, req: Request<TxnRequest>) -> Result<Response<TxnResponse>, Status> {
        self.refuse_learner()?;
        let req = req.into_inner();
        check_txn_request(&req, self.member.config.max_txn_ops)?;
        if txn_is_read_only(&req) {
            // etcd answers read-only transactions without the log, after a read barrier.
            self.member.linearize().await?;
            let mut resp = self.member.shared.lock().state.read_only_txn(req)?;
            self.fill(&mut resp.header);
            return Ok(Response::new(resp));
        }
        let footprint = txn_footprint(&req);
        match self.write(Op::Txn(req), footprint).await? {
            Outcome::Txn(mut resp) => {
                self.fill(&mut resp.header);
                Ok(Response::new(resp))
            }
            other => Err(unexpected(other)),
        }
    }

    async fn compact(
        &self,
        req: Request<CompactionRequest>,
    ) -> Result<Response<CompactionResponse>, Status> {
        self.refuse_learner()?;
        match self.write(Op::Compact(req.into_inner()), 0).await? {
            Outcome::Compact(mut resp) => {
                self.fill(&mut resp.header);
                Ok(Response::new(resp))
            }
            other => Err(unexpected(other)),
        }
    }
}

/// etcd's checks on a put before it is proposed.
pub fn check_put_request(req: &PutRequest) -> Result<(), Error> {
    if req.key.is_empty() {
        return Err(Error::EmptyKey);
    }
    if req.ignore_value && !req.value.is_empty() {
        return Err(Error::ValueProvided);
    }
    if req.ignore_lease && req.lease != 0 {
        return Err(Error::LeaseProvided);
    }
    Ok(())
}

/// etcd's checks on a txn before it is proposed.
pub fn check_txn_request(req: &TxnRequest, max_ops: usize) -> Result<(), Error> {
    if req.compare.len() > max_ops || req.success.len() > max_ops || req.failure.len() > max_ops {
        return Err(Error::TooManyOps);
    }
    for c in &req.compare {
        if c.key.is_empty() {
            return Err(Error::EmptyKey);
        }
    }
    for op in req.success.iter().chain(&req.failure) {
        match &op.request {
            Some(request_op::Request::RequestPut(p)) => check_put_request(p)?,
            Some(request_op::Request::RequestRange(r)) if r.key.is_empty() => {
                return Err(Error::EmptyKey);
            }
            Some(request_op::Request::RequestDeleteRange(d)) if d.key.is_empty() => {
                return Err(Error::EmptyKey);
            }
            Some(request_op::Request::RequestTxn(t)) => check_txn_request(t, max_ops)?,
            _ => {}
        }
    }
    check_txn_intervals(req)
}

fn txn_is_read_only(req: &TxnRequest) -> bool {
    req.success
        .iter()
        .chain(&req.failure)
        .all(|op| match &op.request {
            Some(request_op::Request::RequestRange(_)) => true,
            Some(request_op::Request::RequestTxn(t)) => txn_is_read_only(t),
            _ => false,
        })
}

fn txn_footprint(req: &TxnRequest) -> u64 {
    req.success
        .iter()
        .chain(&req.failure)
        .map(|op| match &op.request {
            Some(request_op::Request::RequestPut(p)) => (p.key.len() + p.value.len()) as u64,
            Some(request_op::Request::RequestTxn(t)) => txn_footprint(t),
            _ => 0,
        })
        .sum()
}
