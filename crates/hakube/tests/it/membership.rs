//! Acceptance 4: add a fourth member as a learner, promote it, and remove an original member
//! (the leader, the hardest case), while a client keeps writing without errors beyond the
//! one leader change.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};

use crate::cluster::Cluster;
use crate::flavor::Flavor;
use crate::load::{Load, check_acked_writes_present};
use crate::machine::machine_alone;
use crate::status::parse_member_list;

const ACK_LIMIT: Duration = Duration::from_secs(30);

#[test]
fn learner_joins_is_promoted_and_the_leader_is_removed_under_load() -> Result<()> {
    let _machine = machine_alone();
    let mut cluster = Cluster::start(Flavor::under_test(), 3)?;
    let load = Load::start(cluster.etcdctl(), "membership", 2);
    load.wait_for_more_acks(20, ACK_LIMIT)?;

    // Add m4 as a learner and start it.
    let m4 = cluster.plan_member()?;
    // Real etcd refuses reconfiguration until every member has been connected for five
    // seconds ("unhealthy cluster"), so the add is retried.
    let peer_urls = format!("--peer-urls={}", cluster.peer_url(m4));
    let out = cluster.etcdctl().poll_until(
        &["member", "add", "m4", "--learner", &peer_urls],
        ACK_LIMIT,
        |out| out.success(),
    )?;
    // etcdctl prints the ID with `%16x`, so a short one comes with leading spaces.
    let id = out
        .stdout
        .strip_prefix("Member ")
        .and_then(|rest| rest.split_whitespace().next())
        .with_context(|| format!("member add printed no ID: {out}"))?
        .to_string();
    cluster.start_member(m4)?;

    // Real etcd refuses until the learner has caught up, so promotion is retried.
    cluster
        .etcdctl()
        .poll_until(&["member", "promote", &id], ACK_LIMIT, |out| out.success())?;
    load.retarget(cluster.etcdctl());
    load.wait_for_more_acks(20, ACK_LIMIT)?;

    // Remove the current leader, unless m4 leads by now: then an original follower goes. The
    // client is told first, as an operator would tell theirs.
    let removed = match cluster.leader()? {
        founder if founder < 3 => founder,
        _ => 0,
    };
    let removed_id = member_id(&cluster, removed)?;
    let others: Vec<usize> = cluster
        .live()
        .into_iter()
        .filter(|&i| i != removed)
        .collect();
    load.retarget(cluster.etcdctl_for(&others));
    let change_started = Instant::now();
    // Real etcd refuses while too few members have been connected for five seconds
    // ("unhealthy cluster"). "member not found" means an earlier attempt, reported as timed
    // out, did go through.
    cluster.etcdctl_for(&others).poll_until(
        &["member", "remove", &removed_id],
        ACK_LIMIT,
        |out| out.success() || out.stderr.contains("member not found"),
    )?;
    cluster.forget(removed);
    cluster.leader()?;
    let change_ended = Instant::now() + cluster.election_timeout();
    load.wait_for_more_acks(20, ACK_LIMIT)?;
    let writes = load.stop();

    let outside: Vec<String> = writes
        .iter()
        .filter(|w| !w.acked && (w.finished < change_started || w.started > change_ended))
        .map(|w| format!("{}: {}", w.key, w.error))
        .collect();
    ensure!(
        outside.is_empty(),
        "{} write(s) failed outside the leader change ({:?} long):\n{}",
        outside.len(),
        change_ended - change_started,
        outside.join("\n")
    );
    let failed: Vec<&str> = writes
        .iter()
        .filter(|w| !w.acked)
        .map(|w| w.error.as_str())
        .collect();
    eprintln!(
        "{} of {} writes failed during the leader change: {failed:#?}",
        failed.len(),
        writes.len()
    );
    check_acked_writes_present(&cluster.etcdctl(), "membership/", &writes)?;

    let out = cluster
        .etcdctl()
        .run(&["member", "list", "-w", "json"])?
        .ok("member list")?;
    let (_, members) = parse_member_list(&out.stdout)?;
    let mut names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
    names.sort();
    let mut want: Vec<&str> = others.iter().map(|&i| cluster.name(i)).collect();
    want.sort();
    ensure!(
        names == want,
        "members after the change: {names:?}, want {want:?}"
    );
    ensure!(
        members.iter().all(|m| !m.is_learner),
        "m4 should be a voter now: {}",
        out.stdout
    );
    Ok(())
}

fn member_id(cluster: &Cluster, i: usize) -> Result<String> {
    let (_, members) = cluster.member_list()?;
    members
        .iter()
        .find(|m| m.name == cluster.name(i))
        .map(|m| format!("{:x}", m.id))
        .with_context(|| format!("{} is not in the member list", cluster.name(i)))
}
