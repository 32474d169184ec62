//! A running store member: its Raft, its state, and the path every request takes to the leader.
//!
//! Writes, membership changes, read indexes and lease renewals can only be answered by the leader.
//! A member that is not the leader forwards them over the peer channel, as an etcd follower
//! forwards proposals, so a client may talk to any member.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use etcd_api::etcdserverpb::{Member as PbMember, ResponseHeader};
use openraft::error::{CheckIsLeaderError, ClientWriteError, RaftError};
use openraft::{ChangeMembers, ServerState};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::command::{Command, Outcome, Reply};
use crate::config::StoreConfig;
use crate::error::{Error, Result};
use crate::lessor::Lessor;
use crate::raft::network::Peers;
use crate::raft::state_machine::{Membership, Shared};
use crate::raft::{MemberNode, Raft};

/// A call only the leader can answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum LeaderCall {
    /// Commands proposed together; answered one by one, in order, with [`LeaderAnswer::Many`].
    ProposeMany(Vec<Command>),
    ReadIndex,
    KeepAlive(i64),
    TimeToLive(i64),
    AddMember {
        id: u64,
        node: MemberNode,
        learner: bool,
    },
    RemoveMember(u64),
    PromoteMember(u64),
    UpdateMember {
        id: u64,
        peer_urls: Vec<String>,
    },
    MoveLeader(u64),
}

/// The leader's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum LeaderAnswer {
    Reply(Reply),
    Many(Vec<LeaderAnswer>),
    ReadIndex(u64),
    Ttl(i64),
    /// Granted TTL and seconds left; `None` if the lease does not exist.
    TimeToLive(Option<(i64, i64)>),
    Done,
    /// The callee does not lead (any more); ask again.
    NotLeader,
    Failed(u32, String),
}

impl LeaderAnswer {
    fn failed(e: Error) -> LeaderAnswer {
        let (k, m) = e.to_wire();
        LeaderAnswer::Failed(k, m)
    }
}

/// One member of the store.
pub struct Member {
    pub id: u64,
    pub cluster_id: u64,
    pub config: StoreConfig,
    pub raft: Raft,
    pub shared: Arc<Shared>,
    pub peers: Arc<Peers>,
    pub(crate) lessor: Mutex<Lessor>,
    /// Where the Raft log lives, for the db size in status.
    pub wal_path: std::path::PathBuf,
    pub(crate) log: crate::raft::log_store::LogStore,
    /// Set to stop the member's servers and loops.
    pub stop: watch::Sender<bool>,
    /// Groups this member's proposals on their way to the leader.
    pub(crate) forwarder: crate::forwarder::Forwarder,
    /// Batches the proposals this member makes while it leads.
    pub(crate) proposer: crate::proposer::Proposer,
    /// Coalesces concurrent linearizable reads into shared read-index rounds.
    pub(crate) reads: ReadIndexRounds,
}

/// One read-index round at a time, shared by every read that arrived before it started. A round
/// costs a heartbeat to a quorum; under load, thousands of reads share one, as etcd batches its
/// ReadIndex requests.
#[derive(Default)]
pub(crate) struct ReadIndexRounds {
    /// Arrival tickets of reads.
    arrivals: std::sync::atomic::AtomicU64,
    /// Held while a round runs.
    running: tokio::sync::Mutex<()>,
    /// The last round: the highest ticket it covers and the index it got.
    last: Mutex<Option<(u64, u64)>>,
}

impl Member {
    /// A response header from this member at revision `revision`.
    pub fn header(&self, revision: i64) -> Option<ResponseHeader> {
        Some(ResponseHeader {
            cluster_id: self.cluster_id,
            member_id: self.id,
            revision,
            raft_term: self.raft.metrics().borrow().current_term,
        })
    }

    /// The current store revision.
    pub fn revision(&self) -> i64 {
        self.shared.lock().state.kv.revision()
    }

    /// The applied membership.
    pub fn membership(&self) -> Membership {
        self.shared.lock().membership.clone()
    }

    /// Whether this member is a learner.
    pub fn is_learner(&self) -> bool {
        let m = self.membership();
        m.membership().get_node(&self.id).is_some()
            && !m.membership().voter_ids().any(|v| v == self.id)
    }

    /// Proposes a command and returns what applying it produced.
    pub async fn propose(&self, cmd: Command) -> Result<Outcome> {
        let size = prost::Message::encoded_len(&cmd);
        if size > self.config.max_request_bytes {
            return Err(Error::RequestTooLarge);
        }
        let deadline = Instant::now() + self.config.request_timeout();
        match self.forwarder.propose(cmd, deadline).await? {
            LeaderAnswer::Reply(reply) => reply.into_result(),
            LeaderAnswer::Failed(k, m) => Err(Error::from_wire(k, m)),
            other => Err(Error::Internal(format!(
                "unexpected answer to a proposal: {other:?}"
            ))),
        }
    }

    /// Waits until this member's state reflects every write committed before the call: etcd's
    /// linearizable read, done with a read index from the leader.
    pub async fn linearize(&self) -> Result<()> {
        let index = self.read_index().await?;
        self.raft
            .wait(Some(self.config.request_timeout()))
            .applied_index_at_least(Some(index), "linearizable read")
            .await
            .map(|_| ())
            .map_err(|_| Error::Timeout)
    }

    /// A read index from a round that started after this call arrived.
    async fn read_index(&self) -> Result<u64> {
        use std::sync::atomic::Ordering;
        let rounds = &self.reads;
        let ticket = rounds.arrivals.fetch_add(1, Ordering::SeqCst) + 1;
        let _running = rounds.running.lock().await;
        let last = *rounds.last.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((covered, index)) = last
            && covered >= ticket
        {
            return Ok(index);
        }
        // Every read that has a ticket by now arrived before this round starts.
        let covered = rounds.arrivals.load(Ordering::SeqCst);
        let index = match self.call_leader(LeaderCall::ReadIndex).await? {
            LeaderAnswer::ReadIndex(i) => i,
            other => {
                return Err(Error::Internal(format!(
                    "unexpected answer to a read index: {other:?}"
                )));
            }
        };
        *rounds.last.lock().unwrap_or_else(|p| p.into_inner()) = Some((covered, index));
        Ok(index)
    }

    /// Sends `call` to whoever leads, waiting for a leader and following leader changes.
    pub async fn call_leader(&self, call: LeaderCall) -> Result<LeaderAnswer> {
        let deadline = Instant::now() + self.config.request_timeout();
        loop {
            let leader = self.wait_for_leader(deadline).await?;
            let answer = if leader == self.id {
                self.answer_as_leader(call.clone()).await
            } else {
                self.forward(leader, &call).await
            };
            match answer {
                Ok(LeaderAnswer::NotLeader) | Err(Error::NoLeader) => {}
                Ok(LeaderAnswer::Failed(k, m)) => return Err(Error::from_wire(k, m)),
                Ok(a) => return Ok(a),
                Err(e) => return Err(e),
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn wait_for_leader(&self, deadline: Instant) -> Result<u64> {
        let mut metrics = self.raft.metrics();
        loop {
            if *self.stop.borrow() {
                return Err(Error::Stopped);
            }
            if let Some(leader) = metrics.borrow_and_update().current_leader {
                return Ok(leader);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::NoLeader);
            }
            let _ = tokio::time::timeout(left, metrics.changed()).await;
        }
    }

    async fn forward(&self, leader: u64, call: &LeaderCall) -> Result<LeaderAnswer> {
        let url = self
            .raft
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .get_node(&leader)
            .and_then(|n| n.peer_urls.first().cloned())
            .ok_or(Error::NoLeader)?;
        let mut client = self.peers.client(&url).map_err(Error::Internal)?;
        let payload = postcard::to_stdvec(call).map_err(|e| Error::Internal(e.to_string()))?;
        match client.leader(self.peers.request(payload)).await {
            Ok(reply) => postcard::from_bytes(&reply.into_inner().payload)
                .map_err(|e| Error::Internal(e.to_string())),
            // The leader could not be reached: nothing was proposed, so asking again is safe.
            Err(status) if status.code() == tonic::Code::Unavailable => Ok(LeaderAnswer::NotLeader),
            Err(status) => Err(Error::Internal(format!(
                "forwarding to the leader failed: {}",
                status.message()
            ))),
        }
    }

    /// Answers a leader call on this member, which believes it leads.
    pub async fn answer_as_leader(&self, call: LeaderCall) -> Result<LeaderAnswer> {
        Ok(match call {
            LeaderCall::ProposeMany(cmds) => LeaderAnswer::Many(
                futures::future::join_all(cmds.into_iter().map(|c| self.proposer.propose(c))).await,
            ),
            LeaderCall::ReadIndex => match self.raft.get_read_log_id().await {
                Ok((read, _)) => LeaderAnswer::ReadIndex(read.map(|l| l.index).unwrap_or(0)),
                Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(_))) => {
                    LeaderAnswer::NotLeader
                }
                Err(RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(_))) => {
                    LeaderAnswer::failed(Error::Timeout)
                }
                Err(RaftError::Fatal(_)) => LeaderAnswer::failed(Error::Stopped),
            },
            LeaderCall::KeepAlive(id) => {
                if !self.leads() {
                    return Ok(LeaderAnswer::NotLeader);
                }
                let ttl = {
                    let applied = self.shared.lock();
                    self.lessor()
                        .keep_alive(id, &applied.state.leases, Instant::now())
                };
                LeaderAnswer::Ttl(ttl)
            }
            LeaderCall::TimeToLive(id) => {
                if !self.leads() {
                    return Ok(LeaderAnswer::NotLeader);
                }
                let applied = self.shared.lock();
                let left = self
                    .lessor()
                    .remaining(id, &applied.state.leases, Instant::now());
                LeaderAnswer::TimeToLive(left.map(|l| (applied.state.leases[&id].ttl, l)))
            }
            LeaderCall::AddMember { id, node, learner } => self.add_member(id, node, learner).await,
            LeaderCall::RemoveMember(id) => self.remove_member(id).await,
            LeaderCall::PromoteMember(id) => self.promote_member(id).await,
            LeaderCall::UpdateMember { id, peer_urls } => self.update_member(id, peer_urls).await,
            LeaderCall::MoveLeader(target) => self.move_leader(target).await,
        })
    }

    fn leads(&self) -> bool {
        self.raft.metrics().borrow().state == ServerState::Leader
    }

    pub(crate) fn lessor(&self) -> std::sync::MutexGuard<'_, Lessor> {
        self.lessor.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn add_member(&self, id: u64, node: MemberNode, learner: bool) -> LeaderAnswer {
        let membership = self.raft.metrics().borrow().membership_config.clone();
        if membership.membership().get_node(&id).is_some() {
            return LeaderAnswer::failed(Error::MemberExists);
        }
        let taken = membership
            .membership()
            .nodes()
            .any(|(_, n)| n.peer_urls.iter().any(|u| node.peer_urls.contains(u)));
        if taken {
            return LeaderAnswer::failed(Error::PeerUrlExists);
        }
        if let Err(e) = self.raft.add_learner(id, node, false).await {
            return write_error(e);
        }
        if learner {
            return LeaderAnswer::Done;
        }
        self.change(ChangeMembers::AddVoterIds(BTreeSet::from([id])))
            .await
    }

    async fn remove_member(&self, id: u64) -> LeaderAnswer {
        let membership = self.raft.metrics().borrow().membership_config.clone();
        if membership.membership().get_node(&id).is_none() {
            return LeaderAnswer::failed(Error::MemberNotFound);
        }
        let is_voter = membership.membership().voter_ids().any(|v| v == id);
        if is_voter {
            let voters: Vec<u64> = membership.membership().voter_ids().collect();
            if voters.len() == 1 {
                return LeaderAnswer::failed(Error::NotEnoughStartedMembers);
            }
            let answer = self
                .change(ChangeMembers::RemoveVoters(BTreeSet::from([id])))
                .await;
            self.tell_removed(membership.membership().get_node(&id))
                .await;
            return answer;
        }
        let answer = self
            .change(ChangeMembers::RemoveNodes(BTreeSet::from([id])))
            .await;
        self.tell_removed(membership.membership().get_node(&id))
            .await;
        answer
    }

    /// Tells a removed member so, since the log no longer reaches it. Best effort: a member that
    /// is down learns it from the first peer it calls when it comes back.
    async fn tell_removed(&self, node: Option<&MemberNode>) {
        let Some(url) = node.and_then(|n| n.peer_urls.first()) else {
            return;
        };
        if let Ok(mut client) = self.peers.client(url) {
            let call = client.removed(self.peers.request(Vec::new()));
            let _ = tokio::time::timeout(self.config.election_timeout, call).await;
        }
    }

    async fn promote_member(&self, id: u64) -> LeaderAnswer {
        let metrics = self.raft.metrics().borrow().clone();
        let membership = metrics.membership_config.membership();
        if membership.get_node(&id).is_none() {
            return LeaderAnswer::failed(Error::MemberNotFound);
        }
        if membership.voter_ids().any(|v| v == id) {
            return LeaderAnswer::failed(Error::MemberNotLearner);
        }
        // etcd promotes a learner only once it has 90% of the leader's log.
        let last = metrics.last_log_index.unwrap_or(0);
        let matched = metrics
            .replication
            .as_ref()
            .and_then(|r| r.get(&id).cloned().flatten())
            .map(|l| l.index)
            .unwrap_or(0);
        if (matched as f64) < last as f64 * 0.9 {
            return LeaderAnswer::failed(Error::LearnerNotReady);
        }
        self.change(ChangeMembers::AddVoterIds(BTreeSet::from([id])))
            .await
    }

    async fn update_member(&self, id: u64, peer_urls: Vec<String>) -> LeaderAnswer {
        let membership = self.raft.metrics().borrow().membership_config.clone();
        let Some(node) = membership.membership().get_node(&id) else {
            return LeaderAnswer::failed(Error::MemberNotFound);
        };
        let taken = membership
            .membership()
            .nodes()
            .any(|(other, n)| *other != id && n.peer_urls.iter().any(|u| peer_urls.contains(u)));
        if taken {
            return LeaderAnswer::failed(Error::PeerUrlExists);
        }
        let node = MemberNode {
            name: node.name.clone(),
            peer_urls,
        };
        self.change(ChangeMembers::SetNodes(BTreeMap::from([(id, node)])))
            .await
    }

    async fn move_leader(&self, target: u64) -> LeaderAnswer {
        let membership = self.raft.metrics().borrow().membership_config.clone();
        if !membership.membership().voter_ids().any(|v| v == target) {
            return LeaderAnswer::failed(Error::BadLeaderTransferee);
        }
        if target == self.id {
            return LeaderAnswer::Done;
        }
        let Some(url) = membership
            .membership()
            .get_node(&target)
            .and_then(|n| n.peer_urls.first().cloned())
        else {
            return LeaderAnswer::failed(Error::BadLeaderTransferee);
        };
        // The transferee starts an election at once; this member stops sending heartbeats so that
        // the followers' leader lease lapses and they grant it their votes.
        let Ok(mut client) = self.peers.client(&url) else {
            return LeaderAnswer::failed(Error::BadLeaderTransferee);
        };
        self.raft.runtime_config().heartbeat(false);
        let deadline = Instant::now() + self.config.election_timeout * 4;
        let mut outcome = LeaderAnswer::failed(Error::Timeout);
        while Instant::now() < deadline {
            let _ = client.timeout_now(self.peers.request(Vec::new())).await;
            let leader = self.raft.metrics().borrow().current_leader;
            if leader == Some(target) {
                outcome = LeaderAnswer::Done;
                break;
            }
            tokio::time::sleep(self.config.heartbeat_interval).await;
        }
        self.raft.runtime_config().heartbeat(true);
        outcome
    }

    async fn change(&self, changes: ChangeMembers<u64, MemberNode>) -> LeaderAnswer {
        match self.raft.change_membership(changes, false).await {
            Ok(_) => LeaderAnswer::Done,
            Err(e) => write_error(e),
        }
    }

    /// The members as etcd's API shows them.
    pub fn members(&self) -> Vec<PbMember> {
        let applied = self.shared.lock();
        let membership = applied.membership.membership();
        let voters: BTreeSet<u64> = membership.voter_ids().collect();
        membership
            .nodes()
            .map(|(id, node)| {
                let attrs = applied.state.members.get(id);
                PbMember {
                    id: *id,
                    name: attrs.map_or_else(|| node.name.clone(), |a| a.name.clone()),
                    peer_ur_ls: node.peer_urls.clone(),
                    client_ur_ls: attrs.map(|a| a.client_urls.clone()).unwrap_or_default(),
                    is_learner: !voters.contains(id),
                }
            })
            .collect()
    }
}

pub(crate) fn write_error(e: RaftError<u64, ClientWriteError<u64, MemberNode>>) -> LeaderAnswer {
    match e {
        RaftError::APIError(ClientWriteError::ForwardToLeader(_)) => LeaderAnswer::NotLeader,
        RaftError::APIError(ClientWriteError::ChangeMembershipError(c)) => {
            LeaderAnswer::failed(Error::InvalidArgument(format!("etcdserver: {c}")))
        }
        RaftError::Fatal(_) => LeaderAnswer::failed(Error::Stopped),
    }
}
