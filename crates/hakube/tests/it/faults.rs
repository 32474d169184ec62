//! Acceptance 3: under a steady write load, kill -9 the leader or every member at once; writes
//! resume, the killed members rejoin, and every acknowledged write is still there.

use std::time::{Duration, Instant};

use anyhow::{Result, bail, ensure};

use crate::cluster::Cluster;
use crate::flavor::Flavor;
use crate::load::{Load, check_acked_writes_present};
use crate::machine::machine_alone;

const WRITERS: usize = 3;
const ACK_LIMIT: Duration = Duration::from_secs(30);

/// Slack on top of two election timeouts for the client's side of a fail-over: starting
/// etcdctl, finding a live endpoint, and a request that was waiting on the dead leader.
const CLIENT_SLACK: Duration = Duration::from_millis(1500);

#[test]
fn killing_the_leader_loses_no_acknowledged_write() -> Result<()> {
    let _machine = machine_alone();
    let mut cluster = Cluster::start(Flavor::under_test(), 3)?;
    let load = Load::start(cluster.etcdctl(), "fault/leader", WRITERS);
    load.wait_for_more_acks(30, ACK_LIMIT)?;

    let old_leader = cluster.leader()?;
    let killed_at = Instant::now();
    cluster.kill(old_leader);

    // The first acknowledged write that was sent after the kill shows when writes resumed.
    let deadline = killed_at + ACK_LIMIT;
    let resumed = loop {
        let first = load
            .writes()
            .into_iter()
            .filter(|w| w.acked && w.started > killed_at)
            .map(|w| w.finished)
            .min();
        if let Some(finished) = first {
            break finished - killed_at;
        }
        if Instant::now() > deadline {
            bail!("no write was acknowledged within {ACK_LIMIT:?} of killing the leader");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let limit = cluster.election_timeout() * 2 + CLIENT_SLACK;
    eprintln!("writes resumed {resumed:?} after the leader was killed (limit {limit:?})");
    ensure!(
        resumed <= limit,
        "writes resumed only {resumed:?} after the leader was killed; expected about two \
         election timeouts ({limit:?} with client slack)"
    );
    let new_leader = cluster.leader()?;
    ensure!(new_leader != old_leader, "the killed member cannot lead");

    cluster.restart(old_leader)?;
    cluster.wait_healthy(old_leader)?;
    load.wait_for_more_acks(20, ACK_LIMIT)?;
    let writes = load.stop();

    check_acked_writes_present(&cluster.etcdctl(), "fault/leader/", &writes)?;
    // A read through the restarted member alone shows it caught up after rejoining.
    check_acked_writes_present(
        &cluster.etcdctl_for(&[old_leader]),
        "fault/leader/",
        &writes,
    )?;
    ensure!(
        cluster.statuses()?.len() == 3,
        "all three members should answer endpoint status after the restart"
    );
    Ok(())
}

#[test]
fn killing_every_member_at_once_loses_no_acknowledged_write() -> Result<()> {
    let _machine = machine_alone();
    let mut cluster = Cluster::start(Flavor::under_test(), 3)?;
    let load = Load::start(cluster.etcdctl(), "fault/all", WRITERS);
    load.wait_for_more_acks(30, ACK_LIMIT)?;

    cluster.kill_all_at_once();
    let writes = load.stop();

    // All start before any is waited for: one member alone has no quorum to be healthy with.
    for i in 0..cluster.len() {
        cluster.restart(i)?;
    }
    for i in 0..cluster.len() {
        cluster.wait_healthy(i)?;
    }
    check_acked_writes_present(&cluster.etcdctl(), "fault/all/", &writes)?;
    for i in 0..cluster.len() {
        check_acked_writes_present(&cluster.etcdctl_for(&[i]), "fault/all/", &writes)?;
    }
    let out = cluster.etcdctl().run(&["put", "fault/after", "restart"])?;
    out.ok("a write after the restart")?;
    Ok(())
}
