//! The etcd v3 wire types and gRPC service stubs, and hakube's Raft peer protocol, generated at
//! build time from `proto/`.
//!
//! The modules mirror the protobuf packages. They sit side by side at the crate root because the
//! generated `etcdserverpb` code names its dependencies as `super::mvccpb` and `super::authpb`.
//! Each service has a `<name>_client` and a `<name>_server` module, for example
//! [`etcdserverpb::kv_server::KvServer`] and [`raftpeer::raft_peer_client::RaftPeerClient`].

/// etcd's key-value and event records (`mvccpb`).
#[allow(clippy::all, missing_docs, rustdoc::all)]
pub mod mvccpb {
    tonic::include_proto!("mvccpb");
}

/// etcd's user, role and permission records (`authpb`).
#[allow(clippy::all, missing_docs, rustdoc::all)]
pub mod authpb {
    tonic::include_proto!("authpb");
}

/// The etcd v3 services and their messages (`etcdserverpb`).
#[allow(clippy::all, missing_docs, rustdoc::all)]
pub mod etcdserverpb {
    tonic::include_proto!("etcdserverpb");
}

/// hakube's member-to-member protocol (`hakube.raftpeer.v1`).
#[allow(clippy::all, missing_docs, rustdoc::all)]
pub mod raftpeer {
    tonic::include_proto!("hakube.raftpeer.v1");
}
