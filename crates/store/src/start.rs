//! Starting a member: bind the listeners, open the disk, find out who we are, start Raft, serve,
//! and run the background duties (publishing attributes, expiring leases, noticing removal).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use etcd_api::etcdserverpb::LeaseRevokeRequest;
use openraft::{ServerState, SnapshotPolicy};
use redb::{Database, ReadableDatabase};

use crate::command::{Command, Op, Publish};
use crate::config::{ClusterState, StoreConfig};
use crate::error::{Error, Result};
use crate::ids;
use crate::lessor::Lessor;
use crate::member::{LeaderAnswer, LeaderCall, Member};
use crate::peer::ClusterInfo;
use crate::raft::log_store::{LogStore, META};
use crate::raft::network::{Network, Peers};
use crate::raft::state_machine::StateMachine;
use crate::raft::{MemberNode, Raft};
use crate::server;

/// Where a member's identity is kept: (member ID, cluster ID).
const IDENTITY: &str = "identity";

fn io_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("{what}: {e}"))
}

/// Starts a member and returns it once it serves. It keeps running until `member.stop` is set.
pub async fn start(config: StoreConfig) -> Result<Arc<Member>> {
    config.validate()?;
    let member_dir = config.data_dir.join("member");
    std::fs::create_dir_all(&member_dir).map_err(|e| {
        Error::InvalidArgument(format!(
            "cannot create data dir {}: {e}",
            member_dir.display()
        ))
    })?;
    let wal_path = member_dir.join("wal.redb");
    let client_listeners = server::bind(&config.listen_client_urls, "--listen-client-urls").await?;
    let peer_listeners = server::bind(&config.listen_peer_urls, "--listen-peer-urls").await?;

    let wal = Database::create(&wal_path).map_err(|e| {
        Error::InvalidArgument(format!(
            "cannot open {} (is another member using this data dir?): {e}",
            wal_path.display()
        ))
    })?;
    let peer_client_tls = crate::tls::peer_client_config(&config.peer_tls)?;
    let (restarted, id, cluster_id) = match read_identity(&wal)? {
        Some((id, cluster_id)) => (true, id, cluster_id),
        None => {
            let (id, cluster_id) = match config.initial_cluster_state {
                ClusterState::New => founding_identity(&config),
                ClusterState::Existing => {
                    joining_identity(&config, peer_client_tls.clone()).await?
                }
            };
            (false, id, cluster_id)
        }
    };
    write_identity(&wal, id, cluster_id)?;

    let log = LogStore::open(wal).map_err(|e| io_err("opening the raft log", e))?;
    let snap_db = Database::create(member_dir.join("snap.redb"))
        .map_err(|e| io_err("opening the snapshot store", e))?;
    let sm = StateMachine::open(Arc::new(snap_db), config.min_lease_ttl())
        .map_err(|e| io_err("loading the snapshot", e))?;
    let shared = sm.shared();

    let election_ms = config.election_timeout.as_millis() as u64;
    let raft_config = openraft::Config {
        cluster_name: config.initial_cluster_token.clone(),
        heartbeat_interval: config.heartbeat_interval.as_millis() as u64,
        election_timeout_min: election_ms,
        election_timeout_max: election_ms * 3 / 2,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(config.snapshot_count),
        // Entries kept behind a snapshot so that a briefly lagging follower catches up from the
        // log instead of a whole snapshot (etcd keeps 5000).
        max_in_snapshot_log_to_keep: config.snapshot_count.min(5000),
        install_snapshot_timeout: 10_000,
        // openraft counts the payload of an AppendEntries in entries and gives the call one
        // heartbeat interval to finish. Our entries are batches of up to 512 KiB, so fewer per
        // call than its default of 300 keep each call small enough to answer in time under load.
        max_payload_entries: 32,
        ..Default::default()
    }
    .validate()
    .map_err(|e| Error::InvalidArgument(format!("raft timing: {e}")))?;
    let peers = Peers::new(id, peer_client_tls);
    let network = Network {
        peers: peers.clone(),
    };
    let raft = Raft::new(id, Arc::new(raft_config), network, log.clone(), sm)
        .await
        .map_err(|e| io_err("starting raft", e))?;

    let (stop, _) = tokio::sync::watch::channel(false);
    let proposer = crate::proposer::Proposer::start(raft.clone());
    let (forwarder, forward_queue) = crate::forwarder::Forwarder::new();
    let member = Arc::new(Member {
        id,
        cluster_id,
        config: config.clone(),
        raft,
        shared,
        peers,
        lessor: Mutex::new(Lessor::default()),
        wal_path,
        log,
        stop,
        reads: Default::default(),
        proposer,
        forwarder,
    });
    server::serve_peers(
        member.clone(),
        peer_listeners,
        crate::tls::server_config(&config.peer_tls)?,
    )?;
    server::serve_clients(
        member.clone(),
        client_listeners,
        crate::tls::server_config(&config.client_tls)?,
    )?;

    if !restarted && config.initial_cluster_state == ClusterState::New {
        let nodes: BTreeMap<u64, MemberNode> = config
            .initial_members()
            .into_iter()
            .map(|(name, urls)| {
                (
                    ids::member_id(&urls, &config.initial_cluster_token, None),
                    MemberNode {
                        name,
                        peer_urls: urls,
                    },
                )
            })
            .collect();
        // Every founding member initializes with the same membership; openraft accepts that.
        if let Err(e) = member.raft.initialize(nodes).await {
            tracing::debug!(error = %e, "raft already initialized");
        }
    }
    tracing::info!(member = %format!("{id:x}"), cluster = %format!("{cluster_id:x}"), restarted, "store member started");

    tokio::spawn(crate::forwarder::run(member.clone(), forward_queue));
    tokio::spawn(publish(member.clone()));
    tokio::spawn(expire_leases(member.clone()));
    tokio::spawn(watch_for_removal(member.clone()));
    Ok(member)
}

fn read_identity(db: &Database) -> Result<Option<(u64, u64)>> {
    let r = db.begin_read().map_err(|e| io_err("reading identity", e))?;
    let table = match r.open_table(META) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(io_err("reading identity", e)),
    };
    let Some(v) = table
        .get(IDENTITY)
        .map_err(|e| io_err("reading identity", e))?
    else {
        return Ok(None);
    };
    postcard::from_bytes(v.value())
        .map(Some)
        .map_err(|e| io_err("decoding identity", e))
}

fn write_identity(db: &Database, id: u64, cluster_id: u64) -> Result<()> {
    let bytes =
        postcard::to_stdvec(&(id, cluster_id)).map_err(|e| io_err("encoding identity", e))?;
    let w = db
        .begin_write()
        .map_err(|e| io_err("writing identity", e))?;
    {
        let mut t = w
            .open_table(META)
            .map_err(|e| io_err("writing identity", e))?;
        t.insert(IDENTITY, bytes.as_slice())
            .map_err(|e| io_err("writing identity", e))?;
    }
    w.commit().map_err(|e| io_err("writing identity", e))
}

/// IDs for a founding member: derived from the initial cluster, so all founders agree.
fn founding_identity(config: &StoreConfig) -> (u64, u64) {
    let token = &config.initial_cluster_token;
    let id = ids::member_id(&config.initial_advertise_peer_urls, token, None);
    let all: Vec<u64> = config
        .initial_members()
        .iter()
        .map(|(_, urls)| ids::member_id(urls, token, None))
        .collect();
    (id, ids::cluster_id(&all, token))
}

/// IDs for a member joining an existing cluster: asked of the members already there, which
/// recorded this member's ID when `member add` ran.
async fn joining_identity(
    config: &StoreConfig,
    tls: Option<tonic::transport::ClientTlsConfig>,
) -> Result<(u64, u64)> {
    let peers = Peers::new(0, tls);
    let mine = &config.initial_advertise_peer_urls;
    let others: Vec<&String> = config
        .initial_cluster
        .iter()
        .map(|(_, u)| u)
        .filter(|u| !mine.contains(u))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last_error = String::from("no other member in --initial-cluster");
    while Instant::now() < deadline {
        for url in &others {
            let info = async {
                let mut client = peers.client(url)?;
                let reply = client
                    .cluster_info(peers.request(Vec::new()))
                    .await
                    .map_err(|s| s.message().to_string())?;
                postcard::from_bytes::<ClusterInfo>(&reply.into_inner().payload)
                    .map_err(|e| e.to_string())
            };
            match info.await {
                Ok(info) => {
                    let found = info
                        .members
                        .iter()
                        .find(|(_, urls)| urls.iter().any(|u| mine.contains(u)));
                    return match found {
                        Some((id, _)) => Ok((*id, info.cluster_id)),
                        None => Err(Error::InvalidArgument(format!(
                            "this member ({}) is not in the cluster; run `etcdctl member add {} --peer-urls={}` first",
                            mine.join(","),
                            config.name,
                            mine.join(",")
                        ))),
                    };
                }
                Err(e) => last_error = format!("{url}: {e}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(Error::InvalidArgument(format!(
        "cannot reach the existing cluster to join it ({last_error})"
    )))
}

/// Publishes this member's name and client URLs through the log, retrying until it lands.
async fn publish(member: Arc<Member>) {
    let cmd = Command {
        op: Some(Op::Publish(Publish {
            member_id: member.id,
            name: member.config.name.clone(),
            client_urls: member.config.advertise_client_urls.clone(),
        })),
    };
    while !*member.stop.borrow() {
        match member.propose(cmd.clone()).await {
            Ok(_) => return,
            Err(e) => tracing::debug!(error = %e, "publishing member attributes; will retry"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// While this member leads, revokes leases whose TTL ran out.
async fn expire_leases(member: Arc<Member>) {
    let tick = (member.config.heartbeat_interval * 2).max(Duration::from_millis(100));
    while !*member.stop.borrow() {
        tokio::time::sleep(tick).await;
        let (state, term) = {
            let m = member.raft.metrics();
            let m = m.borrow();
            (m.state, m.current_term)
        };
        let leader_term = (state == ServerState::Leader).then_some(term);
        let expired = {
            let applied = member.shared.lock();
            member
                .lessor()
                .tick(leader_term, &applied.state.leases, Instant::now())
        };
        for id in expired {
            let cmd = Command {
                op: Some(Op::LeaseRevoke(LeaseRevokeRequest { id })),
            };
            match member.propose(cmd).await {
                Ok(_) | Err(Error::LeaseNotFound) => {}
                Err(e) => {
                    tracing::warn!(lease = id, error = %e, "revoking an expired lease failed; will retry")
                }
            }
        }
    }
}

/// Stops the member once it learns it was removed from the cluster.
async fn watch_for_removal(member: Arc<Member>) {
    let mut membership = member.shared.membership();
    let mut removed = member.peers.removed.subscribe();
    // A joining member replays memberships from before it was added; only a membership without
    // it that comes after one with it means it was removed.
    let mut seen_self = false;
    loop {
        let gone = {
            let m = membership.borrow_and_update();
            let present = m.membership().get_node(&member.id).is_some();
            seen_self |= present;
            seen_self && !present
        };
        if gone || *removed.borrow_and_update() {
            tracing::error!("the member has been permanently removed from the cluster; stopping");
            member.stop.send_replace(true);
            let _ = member.raft.shutdown().await;
            return;
        }
        tokio::select! {
            r = membership.changed() => if r.is_err() { return },
            r = removed.changed() => if r.is_err() { return },
            _ = server::stopped(member.stop.subscribe()) => return,
        }
    }
}

/// Stops a member: its servers, its loops and its Raft.
pub async fn shutdown(member: &Member) {
    hand_over_leadership(member).await;
    member.stop.send_replace(true);
    let _ = member.raft.shutdown().await;
}

/// As etcd does on a clean stop: a leader first hands leadership to the most caught-up other
/// voter, so the cluster does not sit out an election timeout without a leader.
async fn hand_over_leadership(member: &Member) {
    let metrics = member.raft.metrics().borrow().clone();
    if metrics.current_leader != Some(member.id) {
        return;
    }
    let matched = |id: &u64| {
        metrics
            .replication
            .as_ref()
            .and_then(|r| r.get(id).cloned().flatten())
            .map(|log| log.index)
    };
    let target = metrics
        .membership_config
        .membership()
        .voter_ids()
        .filter(|v| *v != member.id)
        .max_by_key(|v| matched(v));
    let Some(target) = target else {
        return;
    };
    let handover = member.answer_as_leader(LeaderCall::MoveLeader(target));
    match tokio::time::timeout(member.config.election_timeout * 2, handover).await {
        Ok(Ok(LeaderAnswer::Done)) => {
            tracing::info!(
                to = format!("{target:x}"),
                "handed leadership over before stopping"
            );
        }
        _ => tracing::warn!("could not hand leadership over before stopping"),
    }
}
