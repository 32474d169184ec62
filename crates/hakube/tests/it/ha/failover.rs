//! Steps 3 and 4 of the tutorial: delete the first (primary) control-plane node while reads go
//! through the VIP, then `kill -9` the VIP's holder while writes go through it. Both measure the
//! outage the loop saw (printed as figures, never asserted) and assert that the API came back.

use std::time::{Duration, Instant};

use anyhow::{Result, ensure};

use super::PROFILE;
use super::checks::{self, SETTLE, cp, worker};
use super::harness::{Ha, NODE_LIMIT, alive, kill9, poll_until};
use super::probe::{Attempt, Probe, summary};

/// How long the API may take to answer through the VIP again after its holder dies.
const FAILOVER_LIMIT: Duration = Duration::from_secs(60);

/// How many writes the new holder acknowledges before the write loop stops.
const RESUMED_WRITES: usize = 10;

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

/// Step 3: `node delete ha-demo` while a loop reads `/readyz` through the VIP; the API keeps
/// answering, the profile is Degraded, and a new control-plane node makes it HAppy again.
pub fn delete_first_node(ha: &Ha) -> Result<()> {
    let probe = Probe::start(ha.kubectl(), |_| {
        strings(&["get", "--raw", "/readyz", "--request-timeout=5s"])
    });
    poll_until("the read loop gets through the VIP", SETTLE, || {
        ensure!(
            probe.succeeded_since(probe.began),
            "{:?}",
            probe.attempts().last()
        );
        Ok(())
    })?;
    let started = Instant::now();
    ha.hakube_ok(&["node", "delete", PROFILE, "-p", PROFILE], NODE_LIMIT)?;
    eprintln!(
        "ha: `hakube node delete {PROFILE}` took {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let deleted = Instant::now();
    poll_until(
        "reads through the VIP work after the first node is deleted",
        FAILOVER_LIMIT,
        || {
            ensure!(
                probe.succeeded_since(deleted),
                "{:?}",
                probe.attempts().last()
            );
            Ok(())
        },
    )?;
    let began = probe.began;
    let attempts = probe.finish();
    let (line, _) = summary(
        "ha: reads through the VIP during `node delete ha-demo`",
        &attempts,
        began,
    );
    eprintln!("{line}");

    ha.kubectl().ok(&["get", "ns", "default"])?;
    checks::nodes(ha, &[cp(3), cp(4), worker(5)])?;
    checks::profile(ha, "Degraded", 3)?;
    checks::members(ha, &[3, 4])?;
    let kubectl = ha.kubectl();
    poll_until(
        "the first node's control-plane pods are gone",
        SETTLE,
        || {
            let out = kubectl.ok(&["get", "pods", "-n", "kube-system", "-o", "name"])?;
            let left: Vec<&str> = out
                .stdout
                .lines()
                .filter(|l| {
                    ["etcd", "kube-apiserver", "kube-vip"]
                        .iter()
                        .any(|role| l.trim() == format!("pod/{role}-{PROFILE}"))
                })
                .collect();
            ensure!(left.is_empty(), "still listed: {left:?}");
            Ok(())
        },
    )?;

    ha.hakube_ok(
        &["node", "add", "--control-plane", "-p", PROFILE],
        NODE_LIMIT,
    )?;
    checks::nodes(ha, &[cp(3), cp(4), worker(5), cp(6)])?;
    checks::profile(ha, "HAppy", 4)?;
    checks::members(ha, &[3, 4, 6])?;
    checks::control_plane_pods(ha, &[3, 4, 6])?;
    Ok(())
}

/// Step 4: `kill -9` the node holding the VIP while a loop creates ConfigMaps through it;
/// writes resume on another holder, and `node start` brings the killed node back. Returns the
/// names of the ConfigMaps whose creation was acknowledged.
pub fn kill_vip_holder(ha: &Ha) -> Result<Vec<String>> {
    let control_planes: Vec<String> = [3, 4, 6].iter().map(|n| checks::node_name(*n)).collect();
    let holder = poll_until("a control-plane node holds the VIP", SETTLE, || {
        let holder = checks::vip_holder(ha)?;
        ensure!(control_planes.contains(&holder), "held by {holder:?}");
        Ok(holder)
    })?;
    let pid = ha.node_pid(PROFILE, &holder)?;
    ensure!(alive(pid), "{holder}'s pid {pid} is not running");

    let probe = Probe::start(ha.kubectl(), |i| {
        strings(&[
            "create",
            "configmap",
            &format!("w-{i}"),
            "-n",
            "default",
            "--request-timeout=5s",
        ])
    });
    poll_until("writes go through the VIP", SETTLE, || {
        ensure!(
            probe.succeeded_since(probe.began),
            "{:?}",
            probe.attempts().last()
        );
        Ok(())
    })?;
    let killed = Instant::now();
    kill9(pid);
    poll_until(
        "the VIP holder's process is gone",
        Duration::from_secs(10),
        || {
            ensure!(!alive(pid), "pid {pid} still alive");
            Ok(())
        },
    )?;
    let dead = Instant::now();
    let resumed = poll_until(
        "writes through the VIP succeed again",
        FAILOVER_LIMIT,
        || {
            let attempts = probe.attempts();
            let resumed = attempts.iter().find(|a| a.ok && a.started >= dead).cloned();
            ensure!(resumed.is_some(), "last write: {:?}", attempts.last());
            Ok(resumed)
        },
    )
    .and_then(|resumed| {
        // More acknowledged writes on the new holder, for the cold restart to keep.
        poll_until(
            "writes keep succeeding on the new holder",
            FAILOVER_LIMIT,
            || {
                let attempts = probe.attempts();
                let after = attempts
                    .iter()
                    .filter(|a| a.ok && a.started >= dead)
                    .count();
                ensure!(
                    after >= RESUMED_WRITES,
                    "{after} acknowledged writes since the kill"
                );
                Ok(resumed.clone())
            },
        )
    });
    let began = probe.began;
    let attempts = probe.finish();
    let resumed = resumed?.expect("found");
    report_write_failover(&attempts, killed, &resumed, began);
    let written: Vec<String> = attempts
        .iter()
        .filter(|a| a.ok)
        .map(|a| format!("w-{}", a.index))
        .collect();

    let moved = poll_until(
        "another control-plane node holds the VIP",
        FAILOVER_LIMIT,
        || {
            let now = checks::vip_holder(ha)?;
            ensure!(
                now != holder && control_planes.contains(&now),
                "held by {now:?}"
            );
            Ok(now)
        },
    )?;
    eprintln!("ha: the VIP moved from {holder} to {moved}");
    checks::profile(ha, "Degraded", 4)?;

    ha.hakube_ok(&["node", "start", &holder, "-p", PROFILE], NODE_LIMIT)?;
    checks::profile(ha, "HAppy", 4)?;
    checks::status(ha, &[cp(3), cp(4), worker(5), cp(6)])?;
    Ok(written)
}

/// Prints the write failover window: from the first write that failed after the kill to the
/// first that succeeded after it, and from the kill to the first acknowledged write after it.
fn report_write_failover(attempts: &[Attempt], killed: Instant, resumed: &Attempt, began: Instant) {
    let after: Vec<&Attempt> = attempts.iter().filter(|a| a.ended >= killed).collect();
    let first_failure = after.iter().position(|a| !a.ok);
    let window = first_failure.and_then(|i| {
        let failed = after[i];
        let success = after[i + 1..].iter().find(|a| a.ok)?;
        Some((success.started - failed.started, failed.error.clone()))
    });
    let failures = after.iter().filter(|a| !a.ok).count();
    match window {
        Some((window, error)) => eprintln!(
            "ha: write failover after kill -9 of the VIP holder: {:.2}s from the first failed \
             write to the first acknowledged one ({failures} failed writes; first error: {error})",
            window.as_secs_f64()
        ),
        None => eprintln!("ha: write failover after kill -9 of the VIP holder: no write failed"),
    }
    eprintln!(
        "ha: first write acknowledged {:.2}s after the kill ({} writes in all, loop ran {:.1}s)",
        (resumed.ended - killed).as_secs_f64(),
        attempts.len(),
        attempts
            .last()
            .map_or(Duration::ZERO, |a| a.ended - began)
            .as_secs_f64()
    );
}
