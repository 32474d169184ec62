//! Snapshots and log compaction: a member that missed more writes than the log keeps catches up
//! from a snapshot, and every member restarts from its snapshot plus the log after it.

use std::time::Duration;

use anyhow::{Result, ensure};

use crate::cluster::{Cluster, Options};
use crate::flavor::Flavor;

const WRITES: usize = 120;

fn key_count(stdout: &str) -> usize {
    stdout.lines().filter(|l| l.starts_with("snap/")).count()
}

fn keys_on(cluster: &Cluster, i: usize) -> Result<usize> {
    let out = cluster
        .etcdctl_for(&[i])
        .run(&["get", "snap/", "--prefix", "--keys-only", "--consistency=s"])?
        .ok("serializable get on one member")?;
    Ok(key_count(&out.stdout))
}

#[test]
fn a_lagging_member_catches_up_from_a_snapshot_and_all_restart_from_disk() -> Result<()> {
    let options = Options {
        // Snapshot every 20 entries and keep as few behind it, so the lagging member's entries
        // are long purged from the leader's log when it comes back.
        extra_args: vec!["--snapshot-count".into(), "20".into()],
        ..Options::default()
    };
    let mut cluster = Cluster::start_with(Flavor::under_test(), options)?;
    let lagging = (cluster.leader()? + 1) % cluster.len();
    cluster.kill(lagging);

    let client = cluster.etcdctl();
    for n in 0..WRITES {
        client
            .run(&["put", &format!("snap/{n:04}"), &format!("v{n}")])?
            .ok("put")?;
    }

    cluster.restart(lagging)?;
    cluster.wait_healthy(lagging)?;
    let caught_up = cluster.etcdctl_for(&[lagging]).poll_until(
        &["get", "snap/", "--prefix", "--keys-only", "--consistency=s"],
        Duration::from_secs(30),
        |out| key_count(&out.stdout) == WRITES,
    );
    ensure!(
        caught_up.is_ok(),
        "the lagging member did not catch up: {caught_up:?}"
    );

    cluster.kill_all_at_once();
    for i in 0..cluster.len() {
        cluster.restart(i)?;
    }
    for i in 0..cluster.len() {
        cluster.wait_healthy(i)?;
    }
    for i in 0..cluster.len() {
        let seen = keys_on(&cluster, i)?;
        ensure!(
            seen == WRITES,
            "member {i} holds {seen} of {WRITES} keys after a restart"
        );
    }
    Ok(())
}
