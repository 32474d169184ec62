//! Acceptance 1: three members on loopback, started the way etcd's docs start three, list
//! three started voters and report one leader with equal raft indexes.

use std::time::Duration;

use anyhow::{Result, ensure};

use crate::cluster::Cluster;
use crate::flavor::Flavor;
use crate::machine::machine_shared;
use crate::table::Table;

#[test]
fn three_members_start_list_and_agree_on_a_leader() -> Result<()> {
    let _machine = machine_shared();
    let cluster = Cluster::start(Flavor::under_test(), 3)?;
    let ctl = cluster.etcdctl();

    let out = ctl
        .run(&["member", "list", "-w", "table"])?
        .ok("member list")?;
    let table = Table::parse(&out.stdout)
        .ok_or_else(|| anyhow::anyhow!("member list -w table is not a table:\n{}", out.stdout))?;
    let mut names = table.values("NAME");
    names.sort();
    ensure!(
        names == ["m1", "m2", "m3"],
        "member names: {names:?}\n{}",
        out.stdout
    );
    ensure!(
        table.values("STATUS").iter().all(|s| *s == "started"),
        "every member should be started:\n{}",
        out.stdout
    );
    ensure!(
        table.values("IS LEARNER").iter().all(|s| *s == "false"),
        "no member should be a learner:\n{}",
        out.stdout
    );
    for i in 0..3 {
        let row = table
            .rows
            .iter()
            .find(|r| r[table.column("NAME").unwrap()] == cluster.name(i))
            .unwrap();
        ensure!(
            row[table.column("PEER ADDRS").unwrap()] == cluster.peer_url(i)
                && row[table.column("CLIENT ADDRS").unwrap()] == cluster.client_url(i),
            "{} should advertise its own URLs:\n{}",
            cluster.name(i),
            out.stdout
        );
    }

    // Right after start-up a member may still be applying the last entry, so the indexes are
    // compared until they settle, within a deadline.
    let out = ctl.poll_until(
        &["endpoint", "status", "-w", "table"],
        Duration::from_secs(10),
        |out| {
            Table::parse(&out.stdout).is_some_and(|t| {
                let indexes = t.values("RAFT INDEX");
                indexes.len() == 3 && indexes.iter().all(|i| *i == indexes[0])
            })
        },
    )?;
    let table = Table::parse(&out.stdout).unwrap();
    let leaders = table.values("IS LEADER");
    ensure!(
        leaders.iter().filter(|l| **l == "true").count() == 1
            && leaders.iter().filter(|l| **l == "false").count() == 2,
        "exactly one member should lead:\n{}",
        out.stdout
    );
    let terms = table.values("RAFT TERM");
    ensure!(
        terms.iter().all(|t| *t == terms[0]),
        "members should share one term:\n{}",
        out.stdout
    );
    Ok(())
}
