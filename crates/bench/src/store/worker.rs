//! The request loops: each client picks an operation and a key, sends it and records the outcome.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use etcd_api::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use etcd_api::etcdserverpb::kv_client::KvClient;
use etcd_api::etcdserverpb::request_op::Request;
use etcd_api::etcdserverpb::response_op::Response;
use etcd_api::etcdserverpb::{Compare, PutRequest, RangeRequest, RequestOp, TxnRequest};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::sync::watch;
use tokio::time::Instant;
use tonic::transport::Channel;

use super::config::{Config, Consistency};
use super::keys::KeySpace;
use super::mix::{Mix, OpKind};
use crate::recorder::Recorder;
use crate::{Error, Result};

/// Recorders shared by the clients. Sharded because one histogram set per client would cost
/// hundreds of megabytes with the check-perf preset's 500 clients, and a single one would make
/// every client wait on one lock.
const MAX_SHARDS: usize = 32;

/// Responses up to this size are accepted, so that ranges over large values do not fail in the
/// client (tonic's default is 4 MiB).
const MAX_RESPONSE_BYTES: usize = 64 << 20;

/// What a finished run measured.
pub(super) struct Measured {
    pub recorder: Recorder,
    pub elapsed: Duration,
}

/// Runs `config.clients` request loops over `channels` until the request or time limit, or until
/// `stop` resolves (then requests in flight are abandoned and not counted).
pub(super) async fn drive(
    config: &Config,
    channels: &[Channel],
    stop: impl Future<Output = ()>,
) -> Result<Measured> {
    let shard_count = config.clients.clamp(1, MAX_SHARDS);
    let started = Instant::now();
    let shared = Arc::new(Shared {
        mix: config.mix,
        keys: config.keys.clone(),
        value: vec![b'v'; config.val_size],
        serializable: config.consistency == Consistency::Serializable,
        total: config.total,
        deadline: config.duration.map(|duration| started + duration),
        issued: AtomicU64::new(0),
        key_counter: AtomicU64::new(0),
        pacer: config.rate.map(Pacer::new),
        revisions: (config.mix.weight(OpKind::Txn) > 0).then(RevisionCache::default),
        shards: (0..shard_count)
            .map(|_| Mutex::new(Recorder::new()))
            .collect(),
    });
    let (stop_sender, stop_receiver) = watch::channel(false);
    let handles: Vec<_> = (0..config.clients)
        .map(|client| {
            let channel = channels[client % channels.len()].clone();
            let kv = KvClient::new(channel).max_decoding_message_size(MAX_RESPONSE_BYTES);
            tokio::spawn(client_loop(
                shared.clone(),
                kv,
                client % shard_count,
                stop_receiver.clone(),
            ))
        })
        .collect();
    let mut all = std::pin::pin!(futures::future::try_join_all(handles));
    let mut stop = std::pin::pin!(stop);
    let joined = tokio::select! {
        joined = &mut all => joined,
        () = &mut stop => {
            let _ = stop_sender.send(true);
            all.await
        }
    };
    joined.map_err(Error::Worker)?;
    let elapsed = started.elapsed();

    let mut recorder = Recorder::new();
    for shard in &shared.shards {
        recorder.merge(&shard.lock().unwrap_or_else(PoisonError::into_inner));
    }
    Ok(Measured { recorder, elapsed })
}

/// What all clients of a run share.
struct Shared {
    mix: Mix,
    keys: KeySpace,
    value: Vec<u8>,
    serializable: bool,
    total: Option<u64>,
    deadline: Option<Instant>,
    /// Requests started so far, counted against `total`.
    issued: AtomicU64,
    /// The next key for --sequential-keys.
    key_counter: AtomicU64,
    pacer: Option<Pacer>,
    /// Only kept when the mix has transactions, which are the only reader.
    revisions: Option<RevisionCache>,
    shards: Vec<Mutex<Recorder>>,
}

impl Shared {
    fn past_deadline(&self) -> bool {
        self.deadline
            .is_some_and(|deadline| Instant::now() >= deadline)
    }

    fn observe(&self, index: u64, mod_revision: i64) {
        if let Some(revisions) = &self.revisions {
            revisions.observe(index, mod_revision);
        }
    }
}

async fn client_loop(
    shared: Arc<Shared>,
    mut kv: KvClient<Channel>,
    shard: usize,
    mut stop: watch::Receiver<bool>,
) {
    let mut rng = SmallRng::from_os_rng();
    loop {
        if *stop.borrow() || shared.past_deadline() {
            break;
        }
        if let Some(total) = shared.total
            && shared.issued.fetch_add(1, Ordering::Relaxed) >= total
        {
            break;
        }
        if let Some(pacer) = &shared.pacer {
            let slot = pacer.reserve(Instant::now());
            let wake = shared.deadline.map_or(slot, |deadline| slot.min(deadline));
            tokio::select! {
                () = tokio::time::sleep_until(wake) => {},
                () = stopped(&mut stop) => break,
            }
            if shared.past_deadline() {
                break;
            }
        }
        let kind = shared
            .mix
            .pick(rng.random_range(0..shared.mix.total_weight()));
        let index = shared.keys.next_index(&mut rng, &shared.key_counter);
        let started = Instant::now();
        let outcome = tokio::select! {
            outcome = send(&shared, &mut kv, kind, index) => outcome,
            () = stopped(&mut stop) => break,
        };
        let latency = started.elapsed();
        let mut recorder = shared.shards[shard]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match outcome {
            Ok(conflict) => recorder.success(kind, latency, conflict),
            Err(status) => recorder.failure(kind, &crate::error::status_line(&status)),
        }
    }
}

/// Resolves once the run is stopped (or its stop sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// Sends one request. Returns whether it was a transaction whose compare failed.
async fn send(
    shared: &Shared,
    kv: &mut KvClient<Channel>,
    kind: OpKind,
    index: u64,
) -> Result<bool, tonic::Status> {
    let key = shared.keys.key(index);
    match kind {
        OpKind::Put => {
            let response = kv
                .put(PutRequest {
                    key,
                    value: shared.value.clone(),
                    ..PutRequest::default()
                })
                .await?;
            // A put's header revision is the revision it wrote, so the key's new mod revision.
            if let Some(header) = response.into_inner().header {
                shared.observe(index, header.revision);
            }
            Ok(false)
        }
        OpKind::Range => {
            let request = RangeRequest {
                key,
                serializable: shared.serializable,
                ..RangeRequest::default()
            };
            let response = kv.range(request).await?.into_inner();
            if let Some(kv) = response.kvs.first() {
                shared.observe(index, kv.mod_revision);
            }
            Ok(false)
        }
        OpKind::Txn => {
            let expected = shared
                .revisions
                .as_ref()
                .map_or(0, |revisions| revisions.last_seen(index));
            let response = kv
                .txn(optimistic_update(key, shared.value.clone(), expected))
                .await?
                .into_inner();
            if response.succeeded {
                if let Some(header) = response.header {
                    shared.observe(index, header.revision);
                }
            } else if let Some(Response::ResponseRange(range)) = response
                .responses
                .first()
                .and_then(|op| op.response.as_ref())
                && let Some(kv) = range.kvs.first()
            {
                shared.observe(index, kv.mod_revision);
            }
            Ok(!response.succeeded)
        }
    }
}

/// The transaction the Kubernetes API server sends to update an object: write the key only if
/// its mod revision is still the one last read (0: the key does not exist yet), and otherwise
/// read it back so that the next attempt starts from the current revision.
pub(super) fn optimistic_update(
    key: Vec<u8>,
    value: Vec<u8>,
    expected_mod_revision: i64,
) -> TxnRequest {
    TxnRequest {
        compare: vec![Compare {
            result: CompareResult::Equal as i32,
            target: CompareTarget::Mod as i32,
            key: key.clone(),
            range_end: Vec::new(),
            target_union: Some(TargetUnion::ModRevision(expected_mod_revision)),
        }],
        success: vec![RequestOp {
            request: Some(Request::RequestPut(PutRequest {
                key: key.clone(),
                value,
                ..PutRequest::default()
            })),
        }],
        failure: vec![RequestOp {
            request: Some(Request::RequestRange(RangeRequest {
                key,
                ..RangeRequest::default()
            })),
        }],
    }
}

/// The newest mod revision any client has seen per key, as the API server's watch cache would
/// know it. Shared, so that a transaction benefits from what other clients wrote or read.
#[derive(Default)]
struct RevisionCache {
    revisions: Mutex<HashMap<u64, i64>>,
}

impl RevisionCache {
    fn last_seen(&self, index: u64) -> i64 {
        self.revisions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&index)
            .copied()
            .unwrap_or(0)
    }

    fn observe(&self, index: u64, mod_revision: i64) {
        let mut revisions = self
            .revisions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let seen = revisions.entry(index).or_insert(mod_revision);
        // Responses arrive out of order; an older one must not replace a newer revision.
        *seen = (*seen).max(mod_revision);
    }
}

/// Spaces request starts evenly to hold --rate over all clients.
struct Pacer {
    interval: Duration,
    next: Mutex<Instant>,
}

impl Pacer {
    fn new(rate: u64) -> Pacer {
        Pacer {
            interval: Duration::from_secs(1) / u32::try_from(rate).unwrap_or(u32::MAX),
            next: Mutex::new(Instant::now()),
        }
    }

    /// Reserves the next start time.
    fn reserve(&self, now: Instant) -> Instant {
        let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
        let (slot, following) = next_slot(*next, now, self.interval);
        *next = following;
        slot
    }
}

/// The start time for a request and the one after it. A pacer that fell behind starts from now
/// instead of bursting to catch up, as a token bucket holding a single token would.
fn next_slot<T: Ord + Copy + std::ops::Add<Duration, Output = T>>(
    next: T,
    now: T,
    interval: Duration,
) -> (T, T) {
    let slot = next.max(now);
    (slot, slot + interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paces_without_bursts() {
        let ms = Duration::from_millis;
        let interval = ms(10);
        // (next, now) -> (slot, following), on a clock that starts at zero.
        let cases = [
            ((ms(0), ms(0)), (ms(0), ms(10))),
            ((ms(10), ms(2)), (ms(10), ms(20))),
            ((ms(20), ms(95)), (ms(95), ms(105))),
        ];
        for ((next, now), expected) in cases {
            assert_eq!(
                next_slot(next, now, interval),
                expected,
                "next {next:?} now {now:?}"
            );
        }
    }

    #[test]
    fn a_rate_of_one_per_millisecond_spaces_by_a_millisecond() {
        let pacer = Pacer::new(1000);
        assert_eq!(pacer.interval, Duration::from_millis(1));
        let now = Instant::now();
        let first = pacer.reserve(now);
        let second = pacer.reserve(now);
        assert_eq!(second - first, Duration::from_millis(1));
    }

    #[test]
    fn the_revision_cache_keeps_the_newest() {
        let cache = RevisionCache::default();
        assert_eq!(cache.last_seen(7), 0);
        for (revision, expected) in [(5, 5), (3, 5), (9, 9)] {
            cache.observe(7, revision);
            assert_eq!(cache.last_seen(7), expected);
        }
    }

    #[test]
    fn the_update_compares_mod_revision_then_puts_or_reads() {
        let txn = optimistic_update(b"k".to_vec(), b"v".to_vec(), 42);
        assert_eq!(txn.compare.len(), 1);
        let compare = &txn.compare[0];
        assert_eq!(
            (compare.target, compare.result),
            (CompareTarget::Mod as i32, CompareResult::Equal as i32)
        );
        assert_eq!(compare.target_union, Some(TargetUnion::ModRevision(42)));
        assert!(
            matches!(&txn.success[..], [RequestOp { request: Some(Request::RequestPut(put)) }] if put.key == b"k" && put.value == b"v")
        );
        assert!(
            matches!(&txn.failure[..], [RequestOp { request: Some(Request::RequestRange(range)) }] if range.key == b"k")
        );
    }
}
