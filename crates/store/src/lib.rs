//! hakube's replicated store: a drop-in etcd v3 server built on openraft, embeddable as a library.
//!
//! Requests enter through the gRPC services in [`server`], reach the leader through [`member`],
//! travel the Raft log as [`command`]s and change the [`state`], whose keys live in the
//! multi-version store in [`mvcc`].

pub mod command;
pub mod config;
pub mod error;
pub mod forwarder;
pub mod ids;
pub mod lessor;
pub mod member;
pub mod mvcc;
pub mod peer;
pub mod proposer;
pub mod raft;
pub mod server;
pub mod start;
pub mod state;
pub mod tls;
pub mod watch;

pub use config::{ClusterState, StoreConfig, TlsFiles};
pub use error::{Error, Result};
pub use member::Member;
pub use start::{shutdown, start};
