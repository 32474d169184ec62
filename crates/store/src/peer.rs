//! The peer service: what one member answers another on its peer URLs.

use std::sync::Arc;

use etcd_api::raftpeer::Frame;
use etcd_api::raftpeer::raft_peer_server::RaftPeer;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tonic::{Request, Response, Status};

use crate::member::{LeaderAnswer, LeaderCall, Member};
use crate::raft::network::{MEMBER_HEADER, REMOVED_MESSAGE};

/// What a joining member learns about the cluster it joins.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterInfo {
    pub cluster_id: u64,
    /// Every member's ID and peer URLs.
    pub members: Vec<(u64, Vec<String>)>,
}

/// The peer service of one member.
pub struct PeerService {
    pub member: Arc<Member>,
    /// Every member ID seen in a membership this member applied (while it answered peers).
    /// Only a sender seen before and absent now was removed: a member that joins replays old
    /// memberships that predate today's leader, and must not call that leader removed.
    pub seen: std::sync::Mutex<std::collections::HashSet<u64>>,
}

fn decode<T: DeserializeOwned>(req: &Request<Frame>) -> Result<T, Status> {
    postcard::from_bytes(&req.get_ref().payload)
        .map_err(|e| Status::invalid_argument(format!("undecodable peer message: {e}")))
}

fn encode<T: Serialize>(value: &T) -> Result<Response<Frame>, Status> {
    let payload = postcard::to_stdvec(value).map_err(|e| Status::internal(e.to_string()))?;
    Ok(Response::new(Frame { payload }))
}

impl PeerService {
    /// Refuses a caller that is no longer a member, telling it so.
    fn check_sender(&self, req: &Request<Frame>) -> Result<(), Status> {
        let Some(from) = req
            .metadata()
            .get(MEMBER_HEADER)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        else {
            return Ok(());
        };
        let membership = self.member.membership();
        let known = membership.membership().get_node(&from).is_some();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.extend(membership.membership().nodes().map(|(id, _)| *id));
        if !known && seen.contains(&from) {
            return Err(Status::permission_denied(REMOVED_MESSAGE));
        }
        Ok(())
    }
}

#[tonic::async_trait]
impl RaftPeer for PeerService {
    async fn append_entries(&self, req: Request<Frame>) -> Result<Response<Frame>, Status> {
        self.check_sender(&req)?;
        let rpc = decode(&req)?;
        encode(&self.member.raft.append_entries(rpc).await)
    }

    async fn vote(&self, req: Request<Frame>) -> Result<Response<Frame>, Status> {
        self.check_sender(&req)?;
        let rpc = decode(&req)?;
        encode(&self.member.raft.vote(rpc).await)
    }

    async fn install_snapshot(&self, req: Request<Frame>) -> Result<Response<Frame>, Status> {
        self.check_sender(&req)?;
        let rpc = decode(&req)?;
        encode(&self.member.raft.install_snapshot(rpc).await)
    }

    async fn leader(&self, req: Request<Frame>) -> Result<Response<Frame>, Status> {
        let call: LeaderCall = decode(&req)?;
        let answer = match self.member.answer_as_leader(call).await {
            Ok(a) => a,
            Err(e) => {
                let (k, m) = e.to_wire();
                LeaderAnswer::Failed(k, m)
            }
        };
        encode(&answer)
    }

    async fn timeout_now(&self, _req: Request<Frame>) -> Result<Response<Frame>, Status> {
        self.member
            .raft
            .trigger()
            .elect()
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        encode(&())
    }

    async fn removed(&self, req: Request<Frame>) -> Result<Response<Frame>, Status> {
        // Only a current member (the leader that removed us) may say so.
        let from = req
            .metadata()
            .get(MEMBER_HEADER)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        let trusted = from.is_some_and(|f| {
            f != self.member.id
                && self
                    .member
                    .raft
                    .metrics()
                    .borrow()
                    .membership_config
                    .membership()
                    .get_node(&f)
                    .is_some()
        });
        if !trusted {
            return Err(Status::permission_denied(
                "only a cluster member can announce a removal",
            ));
        }
        self.member.peers.removed.send_replace(true);
        encode(&())
    }

    async fn cluster_info(&self, _req: Request<Frame>) -> Result<Response<Frame>, Status> {
        let membership = self.member.membership();
        let members = membership
            .membership()
            .nodes()
            .map(|(id, n)| (*id, n.peer_urls.clone()))
            .collect();
        encode(&ClusterInfo {
            cluster_id: self.member.cluster_id,
            members,
        })
    }
}
