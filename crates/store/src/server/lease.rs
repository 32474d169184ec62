//! The Lease service: grant, revoke, keep-alive, time-to-live and the lease list.

use std::pin::Pin;
use std::sync::Arc;

use etcd_api::etcdserverpb::lease_server::Lease;
use etcd_api::etcdserverpb::{
    LeaseGrantRequest, LeaseGrantResponse, LeaseKeepAliveRequest, LeaseKeepAliveResponse,
    LeaseLeasesRequest, LeaseLeasesResponse, LeaseRevokeRequest, LeaseRevokeResponse, LeaseStatus,
    LeaseTimeToLiveRequest, LeaseTimeToLiveResponse,
};
use futures::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::command::{Command, Op, Outcome};
use crate::error::Error;
use crate::member::{LeaderAnswer, LeaderCall, Member};

/// The Lease service of one member.
pub struct LeaseService {
    pub member: Arc<Member>,
}

type KeepAliveStream = Pin<Box<dyn Stream<Item = Result<LeaseKeepAliveResponse, Status>> + Send>>;

/// Renews a lease through the leader; returns its TTL, or 0 if it does not exist.
async fn keep_alive(member: &Member, id: i64) -> Result<i64, Error> {
    match member.call_leader(LeaderCall::KeepAlive(id)).await? {
        LeaderAnswer::Ttl(ttl) => Ok(ttl),
        other => Err(Error::Internal(format!(
            "unexpected answer to a keep-alive: {other:?}"
        ))),
    }
}

#[tonic::async_trait]
impl Lease for LeaseService {
    async fn lease_grant(
        &self,
        req: Request<LeaseGrantRequest>,
    ) -> Result<Response<LeaseGrantResponse>, Status> {
        let req = req.into_inner();
        let chosen = req.id != 0;
        loop {
            // The proposing member picks the ID, so the log entry is the same on every member.
            let id = if chosen {
                req.id
            } else {
                rand::random::<i64>() & i64::MAX
            };
            if id == 0 {
                continue;
            }
            let cmd = Command {
                op: Some(Op::LeaseGrant(LeaseGrantRequest { ttl: req.ttl, id })),
            };
            match self.member.propose(cmd).await {
                Ok(Outcome::LeaseGrant(mut resp)) => {
                    resp.header = self
                        .member
                        .header(resp.header.map(|h| h.revision).unwrap_or_default());
                    return Ok(Response::new(resp));
                }
                Ok(other) => return Err(Status::internal(format!("unexpected outcome {other:?}"))),
                Err(Error::LeaseExists) if !chosen => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    async fn lease_revoke(
        &self,
        req: Request<LeaseRevokeRequest>,
    ) -> Result<Response<LeaseRevokeResponse>, Status> {
        let cmd = Command {
            op: Some(Op::LeaseRevoke(req.into_inner())),
        };
        match self.member.propose(cmd).await? {
            Outcome::LeaseRevoke(mut resp) => {
                resp.header = self
                    .member
                    .header(resp.header.map(|h| h.revision).unwrap_or_default());
                Ok(Response::new(resp))
            }
            other => Err(Status::internal(format!("unexpected outcome {other:?}"))),
        }
    }

    type LeaseKeepAliveStream = KeepAliveStream;

    async fn lease_keep_alive(
        &self,
        req: Request<Streaming<LeaseKeepAliveRequest>>,
    ) -> Result<Response<KeepAliveStream>, Status> {
        let mut inbound = req.into_inner();
        let (tx, rx) = mpsc::channel(16);
        let member = self.member.clone();
        tokio::spawn(async move {
            while let Ok(Some(req)) = inbound.message().await {
                let reply = keep_alive(&member, req.id)
                    .await
                    .map(|ttl| LeaseKeepAliveResponse {
                        header: member.header(member.revision()),
                        id: req.id,
                        ttl,
                    });
                if tx.send(reply.map_err(Status::from)).await.is_err() {
                    break;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn lease_time_to_live(
        &self,
        req: Request<LeaseTimeToLiveRequest>,
    ) -> Result<Response<LeaseTimeToLiveResponse>, Status> {
        let req = req.into_inner();
        let answer = self
            .member
            .call_leader(LeaderCall::TimeToLive(req.id))
            .await?;
        let LeaderAnswer::TimeToLive(found) = answer else {
            return Err(Status::internal(format!("unexpected answer {answer:?}")));
        };
        let header = self.member.header(self.member.revision());
        let Some((granted_ttl, ttl)) = found else {
            // etcd answers a missing lease with TTL -1 rather than an error.
            return Ok(Response::new(LeaseTimeToLiveResponse {
                header,
                id: req.id,
                ttl: -1,
                granted_ttl: 0,
                keys: vec![],
            }));
        };
        let keys = if req.keys {
            self.member.linearize().await?;
            let applied = self.member.shared.lock();
            applied
                .state
                .leases
                .get(&req.id)
                .map(|l| l.keys.iter().cloned().collect())
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        Ok(Response::new(LeaseTimeToLiveResponse {
            header,
            id: req.id,
            ttl,
            granted_ttl,
            keys,
        }))
    }

    async fn lease_leases(
        &self,
        _req: Request<LeaseLeasesRequest>,
    ) -> Result<Response<LeaseLeasesResponse>, Status> {
        self.member.linearize().await?;
        let leases = self
            .member
            .shared
            .lock()
            .state
            .leases
            .keys()
            .map(|id| LeaseStatus { id: *id })
            .collect();
        Ok(Response::new(LeaseLeasesResponse {
            header: self.member.header(self.member.revision()),
            leases,
        }))
    }
}
