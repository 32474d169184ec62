//! The Raft log, durable in redb, with group commit.
//!
//! openraft 0.9 hands the log one append per client write. Fsyncing each on its own would cap
//! writes at one per disk flush, so appends go to a single writer thread that takes everything
//! queued, writes it in one redb transaction and fsyncs once, then acknowledges the whole group.
//! A copy of the unpurged log stays in memory, so reads (replication, apply) never wait for disk.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::{Arc, Mutex, mpsc};

use std::thread;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{ErrorSubject, ErrorVerb, RaftLogReader, Vote};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};

use super::{Entry, LogId, StorageError, TypeConfig, storage_error};

/// Log entries by index, postcard-encoded.
const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("raft_log");
/// Small records: the vote, the committed log ID and the last purged log ID.
pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("raft_meta");

const VOTE: &str = "vote";
const COMMITTED: &str = "committed";
const PURGED: &str = "purged";

/// The in-memory view every reader shares.
#[derive(Default)]
struct Cache {
    entries: BTreeMap<u64, Entry>,
    last_purged: Option<LogId>,
    vote: Option<Vote<u64>>,
    committed: Option<LogId>,
}

/// Work for the writer thread, in the order openraft issued it.
enum Job {
    Append(Vec<(u64, Vec<u8>)>, LogFlushed<TypeConfig>),
    Truncate(u64),
    Purge(LogId),
    Meta(&'static str, Vec<u8>, mpsc::SyncSender<Result<(), String>>),
    /// Rewrites the file without its free pages (etcd's defragment).
    Compact(mpsc::SyncSender<Result<(), String>>),
}

/// The log storage openraft drives; cheap to clone (readers share the cache).
#[derive(Clone)]
pub struct LogStore {
    cache: Arc<Mutex<Cache>>,
    jobs: mpsc::Sender<Job>,
}

impl LogStore {
    /// Opens the log kept in `db`, loading it into memory and starting the writer thread.
    pub fn open(db: Database) -> Result<LogStore, StorageError> {
        let read_err =
            |e: &dyn std::fmt::Display| storage_error(ErrorSubject::Logs, ErrorVerb::Read, e);
        let mut cache = Cache::default();
        {
            let w = db.begin_write().map_err(|e| read_err(&e))?;
            w.open_table(LOG).map_err(|e| read_err(&e))?;
            w.open_table(META).map_err(|e| read_err(&e))?;
            w.commit().map_err(|e| read_err(&e))?;
        }
        let r = db.begin_read().map_err(|e| read_err(&e))?;
        let log = r.open_table(LOG).map_err(|e| read_err(&e))?;
        for item in log.iter().map_err(|e| read_err(&e))? {
            let (k, v) = item.map_err(|e| read_err(&e))?;
            let entry: Entry = postcard::from_bytes(v.value()).map_err(|e| read_err(&e))?;
            cache.entries.insert(k.value(), entry);
        }
        let meta = r.open_table(META).map_err(|e| read_err(&e))?;
        let get = |key: &str| -> Result<Option<Vec<u8>>, StorageError> {
            Ok(meta
                .get(key)
                .map_err(|e| read_err(&e))?
                .map(|v| v.value().to_vec()))
        };
        if let Some(v) = get(VOTE)? {
            cache.vote = Some(postcard::from_bytes(&v).map_err(|e| read_err(&e))?);
        }
        if let Some(v) = get(COMMITTED)? {
            cache.committed = postcard::from_bytes(&v).map_err(|e| read_err(&e))?;
        }
        if let Some(v) = get(PURGED)? {
            cache.last_purged = postcard::from_bytes(&v).map_err(|e| read_err(&e))?;
        }
        drop((meta, log, r));

        let (jobs, rx) = mpsc::channel();
        thread::Builder::new()
            .name("raft-log-writer".into())
            .spawn(move || writer(db, rx))
            .map_err(|e| read_err(&e))?;
        Ok(LogStore {
            cache: Arc::new(Mutex::new(cache)),
            jobs,
        })
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn send(&self, job: Job) -> Result<(), StorageError> {
        self.jobs.send(job).map_err(|_| {
            storage_error(
                ErrorSubject::Logs,
                ErrorVerb::Write,
                "the log writer has stopped",
            )
        })
    }

    /// Compacts the database file; blocks until done.
    pub fn defragment(&self) -> Result<(), String> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.jobs
            .send(Job::Compact(tx))
            .map_err(|_| "the log writer has stopped".to_string())?;
        rx.recv().map_err(|e| e.to_string())?
    }

    /// Writes a small record durably and waits for it.
    fn save_meta(&self, key: &'static str, bytes: Vec<u8>) -> Result<(), StorageError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(Job::Meta(key, bytes, tx))?;
        let werr =
            |e: &dyn std::fmt::Display| storage_error(ErrorSubject::Store, ErrorVerb::Write, e);
        rx.recv().map_err(|e| werr(&e))?.map_err(|e| werr(&e))
    }
}

/// The writer thread: group commits until the store is dropped.
fn writer(mut db: Database, rx: mpsc::Receiver<Job>) {
    let mut next = None;
    loop {
        let Some(first) = next.take().or_else(|| rx.recv().ok()) else {
            return;
        };
        if let Job::Compact(done) = first {
            let _ = done.send(db.compact().map(|_| ()).map_err(|e| e.to_string()));
            continue;
        }
        // Take what is queued, stopping before a compaction so it runs on its own.
        let mut group = vec![first];
        while let Ok(job) = rx.try_recv() {
            if matches!(job, Job::Compact(_)) {
                next = Some(job);
                break;
            }
            group.push(job);
        }
        let result = write_group(&db, &mut group);
        for job in group {
            match job {
                Job::Append(_, cb) => {
                    cb.log_io_completed(result.clone().map_err(std::io::Error::other))
                }
                Job::Meta(_, _, done) => {
                    let _ = done.send(result.clone());
                }
                Job::Truncate(_) | Job::Purge(_) | Job::Compact(_) => {}
            }
        }
    }
}

fn write_group(db: &Database, group: &mut [Job]) -> Result<(), String> {
    let mut w = db.begin_write().map_err(|e| e.to_string())?;
    w.set_durability(Durability::Immediate)
        .map_err(|e| e.to_string())?;
    {
        let mut log = w.open_table(LOG).map_err(|e| e.to_string())?;
        let mut meta = w.open_table(META).map_err(|e| e.to_string())?;
        for job in group.iter_mut() {
            match job {
                Job::Append(entries, _) => {
                    for (index, bytes) in entries.drain(..) {
                        log.insert(index, bytes.as_slice())
                            .map_err(|e| e.to_string())?;
                    }
                }
                Job::Truncate(from) => {
                    log.retain_in(*from.., |_, _| false)
                        .map_err(|e| e.to_string())?;
                }
                Job::Purge(upto) => {
                    log.retain_in(..=upto.index, |_, _| false)
                        .map_err(|e| e.to_string())?;
                    let bytes = postcard::to_stdvec(&Some(*upto)).map_err(|e| e.to_string())?;
                    meta.insert(PURGED, bytes.as_slice())
                        .map_err(|e| e.to_string())?;
                }
                Job::Meta(key, bytes, _) => {
                    meta.insert(*key, bytes.as_slice())
                        .map_err(|e| e.to_string())?;
                }
                Job::Compact(_) => {}
            }
        }
    }
    w.commit().map_err(|e| e.to_string())
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let cache = self.cache();
        let bounds = (
            clone_bound(range.start_bound()),
            clone_bound(range.end_bound()),
        );
        Ok(cache
            .entries
            .range(bounds)
            .map(|(_, e)| e.clone())
            .collect())
    }
}

fn clone_bound(b: Bound<&u64>) -> Bound<u64> {
    match b {
        Bound::Included(v) => Bound::Included(*v),
        Bound::Excluded(v) => Bound::Excluded(*v),
        Bound::Unbounded => Bound::Unbounded,
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let cache = self.cache();
        let last = cache
            .entries
            .values()
            .next_back()
            .map(|e| e.log_id)
            .or(cache.last_purged);
        Ok(LogState {
            last_purged_log_id: cache.last_purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<(), StorageError> {
        let bytes = postcard::to_stdvec(vote)
            .map_err(|e| storage_error(ErrorSubject::Vote, ErrorVerb::Write, e))?;
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.save_meta(VOTE, bytes))
            .await
            .map_err(|e| storage_error(ErrorSubject::Vote, ErrorVerb::Write, e))??;
        self.cache().vote = Some(*vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>, StorageError> {
        Ok(self.cache().vote)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        // Not fsynced on its own: it rides along with the next group, and losing it only means
        // re-learning the commit index from the leader.
        let bytes = postcard::to_stdvec(&committed)
            .map_err(|e| storage_error(ErrorSubject::Store, ErrorVerb::Write, e))?;
        let (tx, _rx) = mpsc::sync_channel(1);
        self.send(Job::Meta(COMMITTED, bytes, tx))?;
        self.cache().committed = committed;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(self.cache().committed)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut encoded = Vec::new();
        {
            let mut cache = self.cache();
            for entry in entries {
                let bytes = postcard::to_stdvec(&entry)
                    .map_err(|e| storage_error(ErrorSubject::Logs, ErrorVerb::Write, e))?;
                encoded.push((entry.log_id.index, bytes));
                cache.entries.insert(entry.log_id.index, entry);
            }
        }
        self.send(Job::Append(encoded, callback))
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.cache().entries.split_off(&log_id.index);
        self.send(Job::Truncate(log_id.index))
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        {
            let mut cache = self.cache();
            let keep = cache.entries.split_off(&(log_id.index + 1));
            cache.entries = keep;
            cache.last_purged = Some(log_id);
        }
        self.send(Job::Purge(log_id))
    }
}
