//! The Cluster service: member list, add (as voter or learner), remove, update and promote.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use etcd_api::etcdserverpb::cluster_server::Cluster;
use etcd_api::etcdserverpb::{
    Member as PbMember, MemberAddRequest, MemberAddResponse, MemberListRequest, MemberListResponse,
    MemberPromoteRequest, MemberPromoteResponse, MemberRemoveRequest, MemberRemoveResponse,
    MemberUpdateRequest, MemberUpdateResponse,
};
use tonic::{Request, Response, Status};

use crate::config::check_url;
use crate::error::Error;
use crate::ids::member_id;
use crate::member::{LeaderAnswer, LeaderCall, Member};
use crate::raft::MemberNode;

/// The Cluster service of one member.
pub struct ClusterService {
    pub member: Arc<Member>,
}

impl ClusterService {
    async fn change(&self, call: LeaderCall) -> Result<(), Status> {
        match self.member.call_leader(call).await? {
            LeaderAnswer::Done => Ok(()),
            other => Err(Status::internal(format!("unexpected answer {other:?}"))),
        }
    }

    /// Waits until this member has applied the change it just made, so the list it returns
    /// shows it.
    async fn settle(&self) -> Result<Vec<PbMember>, Status> {
        self.member.linearize().await?;
        Ok(self.member.members())
    }

    /// etcd's cluster responses carry no revision.
    fn header(&self) -> Option<etcd_api::etcdserverpb::ResponseHeader> {
        self.member.header(0)
    }
}

fn check_peer_urls(urls: &[String]) -> Result<(), Error> {
    if urls.is_empty() {
        return Err(Error::BadMemberUrls);
    }
    for u in urls {
        check_url(u, "peer URL").map_err(|_| Error::BadMemberUrls)?;
    }
    Ok(())
}

#[tonic::async_trait]
impl Cluster for ClusterService {
    async fn member_add(
        &self,
        req: Request<MemberAddRequest>,
    ) -> Result<Response<MemberAddResponse>, Status> {
        let req = req.into_inner();
        check_peer_urls(&req.peer_ur_ls)?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let id = member_id(
            &req.peer_ur_ls,
            &self.member.config.initial_cluster_token,
            Some(now),
        );
        let node = MemberNode {
            name: String::new(),
            peer_urls: req.peer_ur_ls.clone(),
        };
        self.change(LeaderCall::AddMember {
            id,
            node,
            learner: req.is_learner,
        })
        .await?;
        let members = self.settle().await?;
        let member = members.iter().find(|m| m.id == id).cloned();
        Ok(Response::new(MemberAddResponse {
            header: self.header(),
            member,
            members,
        }))
    }

    async fn member_remove(
        &self,
        req: Request<MemberRemoveRequest>,
    ) -> Result<Response<MemberRemoveResponse>, Status> {
        self.change(LeaderCall::RemoveMember(req.into_inner().id))
            .await?;
        let members = self.settle().await?;
        Ok(Response::new(MemberRemoveResponse {
            header: self.header(),
            members,
        }))
    }

    async fn member_update(
        &self,
        req: Request<MemberUpdateRequest>,
    ) -> Result<Response<MemberUpdateResponse>, Status> {
        let req = req.into_inner();
        check_peer_urls(&req.peer_ur_ls)?;
        self.change(LeaderCall::UpdateMember {
            id: req.id,
            peer_urls: req.peer_ur_ls,
        })
        .await?;
        let members = self.settle().await?;
        Ok(Response::new(MemberUpdateResponse {
            header: self.header(),
            members,
        }))
    }

    async fn member_list(
        &self,
        _req: Request<MemberListRequest>,
    ) -> Result<Response<MemberListResponse>, Status> {
        Ok(Response::new(MemberListResponse {
            header: self.header(),
            members: self.member.members(),
        }))
    }

    async fn member_promote(
        &self,
        req: Request<MemberPromoteRequest>,
    ) -> Result<Response<MemberPromoteResponse>, Status> {
        self.change(LeaderCall::PromoteMember(req.into_inner().id))
            .await?;
        let members = self.settle().await?;
        Ok(Response::new(MemberPromoteResponse {
            header: self.header(),
            members,
        }))
    }
}
