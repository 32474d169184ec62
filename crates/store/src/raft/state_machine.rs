//! The Raft state machine: applies committed commands to the in-memory [`State`], feeds the watch
//! hub, and keeps its snapshots durable in redb.
//!
//! The state itself is not written on every apply. What makes it durable is the pair (snapshot in
//! redb, log in redb): after a crash the member loads its last snapshot and openraft re-applies the
//! committed log after it. Logs are only purged behind a snapshot that is already on disk.

use std::io::Cursor;
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    EntryPayload, ErrorSubject, ErrorVerb, RaftSnapshotBuilder, SnapshotMeta, StoredMembership,
};
use redb::{Database, Durability, ReadableDatabase, TableDefinition};
use tokio::sync::watch;

use super::{Entry, LogId, MemberNode, StorageError, TypeConfig, storage_error};
use crate::command::Reply;
use crate::state::State;
use crate::watch::WatchHub;

/// The newest snapshot: its meta and its data.
const SNAPSHOT: TableDefinition<&str, &[u8]> = TableDefinition::new("snapshot");

/// Membership as openraft stores it for the store.
pub type Membership = StoredMembership<u64, MemberNode>;

/// What the state machine guards with one lock.
pub struct Applied {
    pub state: State,
    pub hub: WatchHub,
    pub last_applied: Option<LogId>,
    pub membership: Membership,
}

/// The state shared between the state machine (writer) and the API services (readers).
pub struct Shared {
    inner: Mutex<Applied>,
    /// The applied membership, for the member to notice its own removal.
    membership_tx: watch::Sender<Membership>,
    /// Bumped when a snapshot replaces the state, so watch streams know history jumped.
    pub reset_tx: watch::Sender<u64>,
}

impl Shared {
    /// Locks the applied state.
    pub fn lock(&self) -> MutexGuard<'_, Applied> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Follows the applied membership.
    pub fn membership(&self) -> watch::Receiver<Membership> {
        self.membership_tx.subscribe()
    }
}

/// openraft's handle on the state machine.
#[derive(Clone)]
pub struct StateMachine {
    shared: Arc<Shared>,
    db: Arc<Database>,
}

fn sm_err(verb: ErrorVerb, e: impl std::fmt::Display) -> StorageError {
    storage_error(ErrorSubject::StateMachine, verb, e)
}

impl StateMachine {
    /// Opens the state machine, starting from the snapshot in `db` if there is one.
    pub fn open(db: Arc<Database>, min_lease_ttl: i64) -> Result<StateMachine, StorageError> {
        let mut applied = Applied {
            state: State::new(min_lease_ttl),
            hub: WatchHub::default(),
            last_applied: None,
            membership: Membership::default(),
        };
        if let Some(snapshot) = read_snapshot(&db)? {
            let state: State = postcard::from_bytes(snapshot.snapshot.get_ref())
                .map_err(|e| sm_err(ErrorVerb::Read, e))?;
            applied.state = state;
            applied.state.min_lease_ttl = min_lease_ttl;
            applied.last_applied = snapshot.meta.last_log_id;
            applied.membership = snapshot.meta.last_membership.clone();
        }
        let (membership_tx, _) = watch::channel(applied.membership.clone());
        let (reset_tx, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            inner: Mutex::new(applied),
            membership_tx,
            reset_tx,
        });
        Ok(StateMachine { shared, db })
    }

    /// The shared state, for readers.
    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }
}

fn read_snapshot(db: &Database) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
    let r = db.begin_read().map_err(|e| sm_err(ErrorVerb::Read, e))?;
    let table = match r.open_table(SNAPSHOT) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(sm_err(ErrorVerb::Read, e)),
    };
    let (Some(meta), Some(data)) = (
        table.get("meta").map_err(|e| sm_err(ErrorVerb::Read, e))?,
        table.get("data").map_err(|e| sm_err(ErrorVerb::Read, e))?,
    ) else {
        return Ok(None);
    };
    let meta: SnapshotMeta<u64, MemberNode> =
        postcard::from_bytes(meta.value()).map_err(|e| sm_err(ErrorVerb::Read, e))?;
    Ok(Some(Snapshot {
        meta,
        snapshot: Box::new(Cursor::new(data.value().to_vec())),
    }))
}

fn write_snapshot(
    db: &Database,
    meta: &SnapshotMeta<u64, MemberNode>,
    data: &[u8],
) -> Result<(), StorageError> {
    let meta_bytes = postcard::to_stdvec(meta).map_err(|e| sm_err(ErrorVerb::Write, e))?;
    let mut w = db.begin_write().map_err(|e| sm_err(ErrorVerb::Write, e))?;
    w.set_durability(Durability::Immediate)
        .map_err(|e| sm_err(ErrorVerb::Write, e))?;
    {
        let mut table = w
            .open_table(SNAPSHOT)
            .map_err(|e| sm_err(ErrorVerb::Write, e))?;
        table
            .insert("meta", meta_bytes.as_slice())
            .map_err(|e| sm_err(ErrorVerb::Write, e))?;
        table
            .insert("data", data)
            .map_err(|e| sm_err(ErrorVerb::Write, e))?;
    }
    w.commit().map_err(|e| sm_err(ErrorVerb::Write, e))
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let (state, last_applied, membership) = {
            let inner = self.shared.lock();
            (
                inner.state.clone(),
                inner.last_applied,
                inner.membership.clone(),
            )
        };
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let data = postcard::to_stdvec(&state).map_err(|e| sm_err(ErrorVerb::Write, e))?;
            let snapshot_id = match last_applied {
                Some(id) => format!("{}-{}-{}", id.leader_id.term, id.index, state.kv.revision()),
                None => "empty".to_string(),
            };
            let meta = SnapshotMeta {
                last_log_id: last_applied,
                last_membership: membership,
                snapshot_id,
            };
            write_snapshot(&db, &meta, &data)?;
            Ok(Snapshot {
                meta,
                snapshot: Box::new(Cursor::new(data)),
            })
        })
        .await
        .map_err(|e| sm_err(ErrorVerb::Write, e))?
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = StateMachine;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, Membership), StorageError> {
        let inner = self.shared.lock();
        Ok((inner.last_applied, inner.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Reply>, StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut replies = Vec::new();
        let mut new_membership = None;
        {
            let mut inner = self.shared.lock();
            for entry in entries {
                inner.last_applied = Some(entry.log_id);
                let reply = match entry.payload {
                    EntryPayload::Blank => Reply::default(),
                    EntryPayload::Normal(cmd) => {
                        let applied = inner.state.apply(cmd);
                        inner.hub.publish(&applied.events);
                        applied.reply
                    }
                    EntryPayload::Membership(m) => {
                        inner.membership = StoredMembership::new(Some(entry.log_id), m);
                        new_membership = Some(inner.membership.clone());
                        Reply::default()
                    }
                };
                replies.push(reply);
            }
        }
        if let Some(m) = new_membership {
            self.shared.membership_tx.send_replace(m);
        }
        Ok(replies)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, MemberNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        let mut state: State =
            postcard::from_bytes(&data).map_err(|e| sm_err(ErrorVerb::Read, e))?;
        let db = self.db.clone();
        let meta_copy = meta.clone();
        let data_copy = data.clone();
        tokio::task::spawn_blocking(move || write_snapshot(&db, &meta_copy, &data_copy))
            .await
            .map_err(|e| sm_err(ErrorVerb::Write, e))??;
        {
            let mut inner = self.shared.lock();
            state.min_lease_ttl = inner.state.min_lease_ttl;
            inner.state = state;
            inner.last_applied = meta.last_log_id;
            inner.membership = meta.last_membership.clone();
            // History jumped: watchers cannot be served a gapless stream any more, so they are
            // dropped and their streams cancel them; clients re-watch from their last revision.
            inner.hub = WatchHub::default();
        }
        self.shared
            .membership_tx
            .send_replace(meta.last_membership.clone());
        self.shared.reset_tx.send_modify(|n| *n += 1);
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || read_snapshot(&db))
            .await
            .map_err(|e| sm_err(ErrorVerb::Read, e))?
    }
}
