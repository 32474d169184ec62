//! The peer network: openraft's RPCs, and the store's forwarding calls, as gRPC on the peer URLs.
//!
//! Every call names its sender in the `x-hakube-member` header, so a member can tell a peer that it
//! has been removed from the cluster; the peer then stops, as a removed etcd member does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use etcd_api::raftpeer::Frame;
use etcd_api::raftpeer::raft_peer_client::RaftPeerClient;
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

use super::{MemberNode, TypeConfig};

/// Header carrying the calling member's ID.
pub const MEMBER_HEADER: &str = "x-hakube-member";
/// Message a member answers a removed peer with.
pub const REMOVED_MESSAGE: &str =
    "etcdserver: the member has been permanently removed from the cluster";

/// gRPC clients to the other members, by peer URL.
pub struct Peers {
    self_id: u64,
    tls: Option<ClientTlsConfig>,
    clients: Mutex<HashMap<String, RaftPeerClient<Channel>>>,
    /// Set when a peer tells us we were removed.
    pub removed: watch::Sender<bool>,
}

impl Peers {
    /// A pool for member `self_id`, with TLS for https peer URLs when `tls` is given.
    pub fn new(self_id: u64, tls: Option<ClientTlsConfig>) -> Arc<Peers> {
        let (removed, _) = watch::channel(false);
        Arc::new(Peers {
            self_id,
            tls,
            clients: Mutex::new(HashMap::new()),
            removed,
        })
    }

    /// A client for `url`, connecting lazily.
    pub fn client(&self, url: &str) -> Result<RaftPeerClient<Channel>, String> {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = clients.get(url) {
            return Ok(c.clone());
        }
        let mut endpoint = Endpoint::from_shared(url.to_string())
            .map_err(|e| format!("bad peer URL {url}: {e}"))?
            .connect_timeout(std::time::Duration::from_secs(1))
            .tcp_nodelay(true);
        if url.starts_with("https://") {
            let tls = self
                .tls
                .clone()
                .ok_or_else(|| format!("peer URL {url} is https but no peer TLS is configured"))?;
            endpoint = endpoint
                .tls_config(tls)
                .map_err(|e| format!("peer TLS for {url}: {e}"))?;
        }
        let client =
            RaftPeerClient::new(endpoint.connect_lazy()).max_decoding_message_size(usize::MAX);
        clients.insert(url.to_string(), client.clone());
        Ok(client)
    }

    /// Wraps a payload in a request that names this member.
    pub fn request(&self, payload: Vec<u8>) -> tonic::Request<Frame> {
        let mut req = tonic::Request::new(Frame { payload });
        if let Ok(v) = self.self_id.to_string().parse() {
            req.metadata_mut().insert(MEMBER_HEADER, v);
        }
        req
    }

    /// Notes a peer's answer that we are no longer a member.
    pub fn check_removed(&self, status: &tonic::Status) {
        if status.code() == tonic::Code::PermissionDenied && status.message() == REMOVED_MESSAGE {
            self.removed.send_replace(true);
        }
    }
}

/// openraft's network factory.
#[derive(Clone)]
pub struct Network {
    pub peers: Arc<Peers>,
}

/// The connection to one target member.
pub struct PeerConnection {
    peers: Arc<Peers>,
    target: u64,
    url: String,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = PeerConnection;

    async fn new_client(&mut self, target: u64, node: &MemberNode) -> PeerConnection {
        let url = node.peer_urls.first().cloned().unwrap_or_default();
        PeerConnection {
            peers: self.peers.clone(),
            target,
            url,
        }
    }
}

type Rpc<T, E> = Result<T, RPCError<u64, MemberNode, RaftError<u64, E>>>;

impl PeerConnection {
    async fn call<Req, Resp, E>(
        &self,
        method: Method,
        req: &Req,
        option: &RPCOption,
    ) -> Rpc<Resp, E>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let payload =
            postcard::to_stdvec(req).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let mut client = self
            .peers
            .client(&self.url)
            .map_err(|e| RPCError::Unreachable(Unreachable::new(&AnyErr(e))))?;
        let request = self.peers.request(payload);
        let call = async {
            match method {
                Method::Append => client.append_entries(request).await,
                Method::Vote => client.vote(request).await,
                Method::Snapshot => client.install_snapshot(request).await,
            }
        };
        let reply = match tokio::time::timeout(option.hard_ttl(), call).await {
            Err(_) => {
                return Err(RPCError::Network(NetworkError::new(&AnyErr(format!(
                    "peer {:x} timed out",
                    self.target
                )))));
            }
            Ok(Err(status)) => {
                self.peers.check_removed(&status);
                return Err(RPCError::Unreachable(Unreachable::new(&status)));
            }
            Ok(Ok(reply)) => reply.into_inner(),
        };
        let result: Result<Resp, RaftError<u64, E>> = postcard::from_bytes(&reply.payload)
            .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        result.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

#[derive(Clone, Copy)]
enum Method {
    Append,
    Vote,
    Snapshot,
}

/// A plain message as an error, for openraft's error wrappers.
#[derive(Debug)]
struct AnyErr(String);

impl std::fmt::Display for AnyErr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AnyErr {}

impl RaftNetwork<TypeConfig> for PeerConnection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Rpc<AppendEntriesResponse<u64>, openraft::error::Infallible> {
        self.call(Method::Append, &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Rpc<InstallSnapshotResponse<u64>, InstallSnapshotError> {
        self.call(Method::Snapshot, &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> Rpc<VoteResponse<u64>, openraft::error::Infallible> {
        self.call(Method::Vote, &rpc, &option).await
    }
}
