//! minikube's HA tutorial, step by step, on `hakube`: start three control-plane nodes behind a
//! VIP, look at them every way the tutorial does, delete and add nodes, lose the first node and
//! the VIP's holder (in `failover`), restart the whole cluster cold, and delete it.

use std::time::Instant;

use anyhow::{Result, ensure};

use super::PROFILE;
use super::checks::{self, SETTLE, cp, worker};
use super::failover;
use super::harness::{Ha, NODE_LIMIT, SHORT_LIMIT, START_LIMIT, poll_until};

#[test]
fn minikube_ha_tutorial() -> Result<()> {
    // Six node processes and failover timings: the machine is this test's alone.
    let _machine = crate::machine::machine_alone();
    let ha = Ha::new()?;
    let steps = || -> Result<()> {
        start_three_control_planes(&ha)?;
        delete_and_add_nodes(&ha)?;
        failover::delete_first_node(&ha)?;
        let written = failover::kill_vip_holder(&ha)?;
        cold_restart(&ha, &written)?;
        delete_profile(&ha)
    };
    ha.outcome(steps())
}

/// Step 1: `hakube start --ha`, and the cluster as kubectl, `profile list`, `status`, the
/// kubeconfig, kube-vip's log and etcdctl show it.
fn start_three_control_planes(ha: &Ha) -> Result<()> {
    let started = Instant::now();
    let subnet = ha.subnet();
    ha.hakube_ok(
        &["start", "--ha", "-p", PROFILE, "--subnet", &subnet],
        START_LIMIT,
    )?;
    eprintln!(
        "ha: `hakube start --ha` took {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let three = [cp(1), cp(2), cp(3)];
    checks::nodes(ha, &three)?;
    checks::profile(ha, "HAppy", 3)?;
    checks::status(ha, &three)?;
    kubeconfig_points_at_the_vip(ha)?;
    let kubectl = ha.kubectl();
    poll_until("kube-vip's log shows a leader", SETTLE, || {
        let out = kubectl.ok(&["logs", "-n", "kube-system", &format!("kube-vip-{PROFILE}")])?;
        ensure!(
            out.stdout.contains("is assuming leadership")
                || out.stdout.contains("successfully acquired lease"),
            "no leadership line in kube-vip's log: {out}"
        );
        Ok(())
    })?;
    checks::members(ha, &[1, 2, 3])?;
    checks::control_plane_pods(ha, &[1, 2, 3])?;
    Ok(())
}

/// The user's kubeconfig has the profile's context, current, with its cluster at the VIP.
fn kubeconfig_points_at_the_vip(ha: &Ha) -> Result<()> {
    let kubectl = ha.kubectl();
    let server = format!("https://{}:8443", ha.vip());
    let view = kubectl.ok(&["config", "view"])?;
    ensure!(
        view.stdout.contains(&format!("server: {server}")),
        "kubectl config view should show server: {server}: {view}"
    );
    let current = kubectl.ok(&["config", "current-context"])?;
    ensure!(
        current.stdout.trim() == PROFILE,
        "current context: {current}"
    );
    let cluster = kubectl.ok(&[
        "config",
        "view",
        "-o",
        &format!("jsonpath={{.contexts[?(@.name==\"{PROFILE}\")].context.cluster}}"),
    ])?;
    let cluster = cluster.stdout.trim().to_string();
    let of_context = kubectl.ok(&[
        "config",
        "view",
        "-o",
        &format!("jsonpath={{.clusters[?(@.name==\"{cluster}\")].cluster.server}}"),
    ])?;
    ensure!(
        of_context.stdout.trim() == server,
        "context {PROFILE} (cluster {cluster:?}) should point at {server}: {of_context}"
    );
    Ok(())
}

/// Step 2: delete a secondary control-plane node (Degraded), add a control-plane node back
/// (HAppy again) and a worker.
fn delete_and_add_nodes(ha: &Ha) -> Result<()> {
    ha.hakube_ok(&["node", "delete", "m02", "-p", PROFILE], NODE_LIMIT)?;
    checks::nodes(ha, &[cp(1), cp(3)])?;
    checks::profile(ha, "Degraded", 2)?;
    let m02 = ha
        .profile_dir(PROFILE)
        .join("nodes")
        .join(checks::node_name(2));
    ensure!(
        !m02.exists(),
        "{} should be gone with the node",
        m02.display()
    );

    let added = ha.hakube_ok(
        &["node", "add", "--control-plane", "-p", PROFILE],
        NODE_LIMIT,
    )?;
    ensure!(
        added.stdout.contains(&checks::node_name(4)),
        "node add should name the new node {}: {added}",
        checks::node_name(4)
    );
    checks::nodes(ha, &[cp(1), cp(3), cp(4)])?;
    checks::profile(ha, "HAppy", 3)?;
    checks::members(ha, &[1, 3, 4])?;

    ha.hakube_ok(&["node", "add", "-p", PROFILE], NODE_LIMIT)?;
    let nodes = [cp(1), cp(3), cp(4), worker(5)];
    checks::nodes(ha, &nodes)?;
    checks::profile(ha, "HAppy", 4)?;
    checks::status(ha, &nodes)?;
    Ok(())
}

/// Step 5: stop every node, start the profile again from its data; every write acknowledged
/// before the stop is still there.
fn cold_restart(ha: &Ha, written: &[String]) -> Result<()> {
    ensure!(!written.is_empty(), "the write loop acknowledged no write");
    ha.hakube_ok(&["stop", "-p", PROFILE], SHORT_LIMIT)?;
    checks::profile(ha, "Stopped", 4)?;
    let started = Instant::now();
    ha.hakube_ok(&["start", "-p", PROFILE], START_LIMIT)?;
    eprintln!(
        "ha: cold restart (`hakube start` of the stopped profile) took {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let kubectl = ha.kubectl();
    poll_until(
        "every acknowledged write survives the cold restart",
        SETTLE,
        || {
            let out = kubectl.ok(&["get", "configmap", "-n", "default", "-o", "name"])?;
            let missing: Vec<&String> = written
                .iter()
                .filter(|name| {
                    !out.stdout
                        .lines()
                        .any(|l| l.trim() == format!("configmap/{name}"))
                })
                .collect();
            ensure!(missing.is_empty(), "acknowledged but missing: {missing:?}");
            Ok(())
        },
    )?;
    eprintln!(
        "ha: all {} acknowledged writes survived the cold restart",
        written.len()
    );
    checks::profile(ha, "HAppy", 4)?;
    checks::nodes(ha, &[cp(3), cp(4), worker(5), cp(6)])?;
    Ok(())
}

/// Step 6: `hakube delete` removes the profile's directory, its processes and its context.
fn delete_profile(ha: &Ha) -> Result<()> {
    ha.hakube_ok(&["delete", "-p", PROFILE], SHORT_LIMIT)?;
    let dir = ha.profile_dir(PROFILE);
    ensure!(!dir.exists(), "{} should be gone", dir.display());
    let contexts = ha.kubectl().ok(&["config", "get-contexts", "-o", "name"])?;
    ensure!(
        !contexts.stdout.lines().any(|l| l.trim() == PROFILE),
        "the {PROFILE} context should be gone: {contexts}"
    );
    let clusters = ha.kubectl().ok(&["config", "get-clusters"])?;
    ensure!(
        !clusters.stdout.lines().any(|l| l.trim() == PROFILE),
        "the {PROFILE} cluster entry should be gone: {clusters}"
    );
    let left = ha.node_processes();
    ensure!(
        left.is_empty(),
        "node processes still running after delete: {left:?}"
    );
    let listed = ha.hakube_ok(&["profile", "list"], SHORT_LIMIT)?;
    ensure!(
        !listed.stdout.contains(PROFILE),
        "profile list should not show {PROFILE}: {listed}"
    );
    Ok(())
}
