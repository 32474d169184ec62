//! The Raft side of the store: openraft's type configuration, the durable log, the state
//! machine and the peer network.

// openraft's traits fix the error type (`StorageError`, over 200 bytes); boxing it here would only
// add conversions at every trait boundary.
#![allow(clippy::result_large_err)]

pub mod log_store;
pub mod network;
pub mod state_machine;

use std::io::Cursor;

use serde::{Deserialize, Serialize};

use crate::command::{Command, Reply};

/// A member as the Raft membership records it: enough to reach it and to name it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberNode {
    /// The name from `--initial-cluster`; empty for a member added but not yet started.
    pub name: String,
    /// Where its Raft traffic goes.
    pub peer_urls: Vec<String>,
}

openraft::declare_raft_types!(
    /// openraft's types for the store.
    pub TypeConfig:
        D = Command,
        R = Reply,
        NodeId = u64,
        Node = MemberNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// The Raft handle the store uses.
pub type Raft = openraft::Raft<TypeConfig>;
/// A log ID in the store's Raft.
pub type LogId = openraft::LogId<u64>;
/// A log entry in the store's Raft.
pub type Entry = openraft::Entry<TypeConfig>;
/// openraft's storage error for the store.
pub type StorageError = openraft::StorageError<u64>;

/// Turns any error into openraft's storage error, naming what was being done.
pub(crate) fn storage_error(
    subject: openraft::ErrorSubject<u64>,
    verb: openraft::ErrorVerb,
    e: impl std::fmt::Display,
) -> StorageError {
    StorageError::from(openraft::StorageIOError::new(
        subject,
        verb,
        openraft::AnyError::error(e.to_string()),
    ))
}
