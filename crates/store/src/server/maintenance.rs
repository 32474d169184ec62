//! The Maintenance service: status, alarms, defragment, hashes, snapshot streaming and
//! move-leader.

use std::pin::Pin;
use std::sync::Arc;

use etcd_api::etcdserverpb::maintenance_server::Maintenance;
use etcd_api::etcdserverpb::{
    AlarmMember, AlarmRequest, AlarmResponse, AlarmType, DefragmentRequest, DefragmentResponse,
    DowngradeRequest, DowngradeResponse, HashKvRequest, HashKvResponse, HashRequest, HashResponse,
    MoveLeaderRequest, MoveLeaderResponse, SnapshotRequest, SnapshotResponse, StatusRequest,
    StatusResponse, alarm_request::AlarmAction,
};
use futures::Stream;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::command::{Command, Op, Outcome};
use crate::error::Error;
use crate::member::{LeaderAnswer, LeaderCall, Member};

/// The version this store reports: the etcd API level it implements.
pub const ETCD_VERSION: &str = "3.4.0";

/// Snapshot streams go out in chunks of this size, as etcd's do.
const SNAPSHOT_CHUNK: usize = 32 * 1024;

/// The Maintenance service of one member.
pub struct MaintenanceService {
    pub member: Arc<Member>,
}

type SnapshotStream = Pin<Box<dyn Stream<Item = Result<SnapshotResponse, Status>> + Send>>;

fn alarm_text(kind: i32) -> String {
    match AlarmType::try_from(kind) {
        Ok(AlarmType::Nospace) => "NOSPACE".into(),
        Ok(AlarmType::Corrupt) => "CORRUPT".into(),
        _ => "NONE".into(),
    }
}

#[tonic::async_trait]
impl Maintenance for MaintenanceService {
    async fn alarm(&self, req: Request<AlarmRequest>) -> Result<Response<AlarmResponse>, Status> {
        let req = req.into_inner();
        if req.action == AlarmAction::Get as i32 {
            self.member.linearize().await?;
            let applied = self.member.shared.lock();
            let alarms = applied
                .state
                .alarms
                .iter()
                .filter(|(_, kind)| req.alarm == AlarmType::None as i32 || *kind == req.alarm)
                .filter(|(member, _)| req.member_id == 0 || *member == req.member_id)
                .map(|(member_id, alarm)| AlarmMember {
                    member_id: *member_id,
                    alarm: *alarm,
                })
                .collect();
            return Ok(Response::new(AlarmResponse {
                header: None,
                alarms,
            }));
        }
        match self
            .member
            .propose(Command {
                op: Some(Op::Alarm(req)),
            })
            .await?
        {
            Outcome::Alarm(resp) => Ok(Response::new(resp)),
            other => Err(Status::internal(format!("unexpected outcome {other:?}"))),
        }
    }

    async fn status(
        &self,
        _req: Request<StatusRequest>,
    ) -> Result<Response<StatusResponse>, Status> {
        let metrics = self.member.raft.metrics().borrow().clone();
        let (revision, in_use, errors) = {
            let applied = self.member.shared.lock();
            let errors = applied
                .state
                .alarms
                .iter()
                .map(|(m, kind)| format!("memberID:{m} alarm:{} ", alarm_text(*kind)))
                .collect();
            (applied.state.kv.revision(), applied.state.kv.size(), errors)
        };
        let db_size = std::fs::metadata(&self.member.wal_path)
            .map(|m| m.len())
            .unwrap_or(0);
        Ok(Response::new(StatusResponse {
            header: self.member.header(revision),
            version: ETCD_VERSION.into(),
            db_size: db_size as i64,
            leader: metrics.current_leader.unwrap_or(0),
            raft_index: metrics.last_log_index.unwrap_or(0),
            raft_term: metrics.current_term,
            raft_applied_index: metrics.last_applied.map(|l| l.index).unwrap_or(0),
            errors,
            db_size_in_use: in_use as i64,
            is_learner: self.member.is_learner(),
            ..Default::default()
        }))
    }

    async fn defragment(
        &self,
        _req: Request<DefragmentRequest>,
    ) -> Result<Response<DefragmentResponse>, Status> {
        let log = self.member.log.clone();
        tokio::task::spawn_blocking(move || log.defragment())
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(|e| Status::internal(format!("etcdserver: defragment failed: {e}")))?;
        Ok(Response::new(DefragmentResponse {
            header: self.member.header(self.member.revision()),
        }))
    }

    async fn hash(&self, _req: Request<HashRequest>) -> Result<Response<HashResponse>, Status> {
        let applied = self.member.shared.lock();
        let revision = applied.state.kv.revision();
        let hash = applied.state.kv.hash_kv(revision);
        Ok(Response::new(HashResponse {
            header: self.member.header(revision),
            hash,
        }))
    }

    async fn hash_kv(
        &self,
        req: Request<HashKvRequest>,
    ) -> Result<Response<HashKvResponse>, Status> {
        let applied = self.member.shared.lock();
        let kv = &applied.state.kv;
        let at = kv.check_read_revision(req.into_inner().revision)?;
        Ok(Response::new(HashKvResponse {
            header: self.member.header(kv.revision()),
            hash: kv.hash_kv(at),
            compact_revision: kv.compacted_revision(),
            ..Default::default()
        }))
    }

    type SnapshotStream = SnapshotStream;

    async fn snapshot(
        &self,
        _req: Request<SnapshotRequest>,
    ) -> Result<Response<SnapshotStream>, Status> {
        let state = self.member.shared.lock().state.clone();
        let mut data = tokio::task::spawn_blocking(move || postcard::to_stdvec(&state))
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(|e| Status::internal(e.to_string()))?;
        // etcdctl finds the checksum by the file's size, which for etcd's bolt files is a multiple
        // of 512; pad ours the same way (postcard ignores what follows the encoded state).
        data.resize(data.len().div_ceil(512) * 512, 0);
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            // As etcd does: the data in chunks, each saying how much is left, then its SHA-256.
            let mut hasher = Sha256::new();
            let total = data.len();
            let mut sent = 0;
            for chunk in data.chunks(SNAPSHOT_CHUNK) {
                hasher.update(chunk);
                sent += chunk.len();
                let resp = SnapshotResponse {
                    remaining_bytes: (total - sent) as u64,
                    blob: chunk.to_vec(),
                    ..Default::default()
                };
                if tx.send(Ok(resp)).await.is_err() {
                    return;
                }
            }
            let digest = hasher.finalize().to_vec();
            let _ = tx
                .send(Ok(SnapshotResponse {
                    remaining_bytes: 0,
                    blob: digest,
                    ..Default::default()
                }))
                .await;
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn move_leader(
        &self,
        req: Request<MoveLeaderRequest>,
    ) -> Result<Response<MoveLeaderResponse>, Status> {
        let target = req.into_inner().target_id;
        // etcd only lets the leader itself hand leadership over.
        if self.member.raft.metrics().borrow().current_leader != Some(self.member.id) {
            return Err(Status::failed_precondition("etcdserver: not leader"));
        }
        match self
            .member
            .answer_as_leader(LeaderCall::MoveLeader(target))
            .await?
        {
            LeaderAnswer::Done => Ok(Response::new(MoveLeaderResponse {
                header: self.member.header(self.member.revision()),
            })),
            LeaderAnswer::Failed(k, m) => Err(Error::from_wire(k, m).into()),
            other => Err(Status::internal(format!("unexpected answer {other:?}"))),
        }
    }

    async fn downgrade(
        &self,
        _req: Request<DowngradeRequest>,
    ) -> Result<Response<DowngradeResponse>, Status> {
        Err(
            Error::Unimplemented("hakube: cluster version downgrade is not implemented".into())
                .into(),
        )
    }
}
