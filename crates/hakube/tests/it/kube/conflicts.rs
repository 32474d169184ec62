//! Acceptance 4: optimistic concurrency. Two replacements that start from the same
//! resourceVersion race; exactly one wins and the other gets 409 Conflict.

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};

use super::harness::ApiCluster;
use crate::etcdctl::Output;
use crate::flavor::Flavor;

on_both_stores!(one_of_two_stale_replaces_conflicts);

fn one_of_two_stale_replaces_conflicts(flavor: Flavor) -> Result<()> {
    let cluster = ApiCluster::start(flavor)?;
    let admin = cluster.admin();
    admin.ok(&["create", "configmap", "race", "--from-literal=winner=none"])?;
    let out = admin.ok(&["get", "configmap", "race", "-o", "json"])?;
    let original: Value = serde_json::from_str(&out.stdout)?;
    let version = original["metadata"]["resourceVersion"]
        .as_str()
        .with_context(|| format!("no resourceVersion: {original:#}"))?
        .to_string();

    // Both bodies carry the resourceVersion read above, so each PUT is conditional on it.
    let body = |winner: &str| {
        let mut body = original.clone();
        body["data"] = json!({ "winner": winner });
        body.to_string()
    };
    let (a, b) = (body("a"), body("b"));
    let (out_a, out_b): (Output, Output) = std::thread::scope(|s| -> Result<_> {
        let first = s.spawn(|| admin.run_with_stdin(&["replace", "-f", "-"], Some(&a)));
        let second = s.spawn(|| admin.run_with_stdin(&["replace", "-f", "-"], Some(&b)));
        Ok((
            first.join().expect("replace thread")?,
            second.join().expect("replace thread")?,
        ))
    })?;
    let ((winner, won), lost) = match (out_a.success(), out_b.success()) {
        (true, false) => (("a", out_a), out_b),
        (false, true) => (("b", out_b), out_a),
        _ => anyhow::bail!(
            "exactly one replace should succeed;\nfirst: {out_a}\nsecond: {out_b}{}",
            admin.server_log_tail()
        ),
    };
    ensure!(
        won.stdout == "configmap/race replaced\n",
        "the winning replace: {won}"
    );
    conflicted(&lost)?;

    let out = admin.ok(&[
        "get",
        "configmap",
        "race",
        "-o",
        "jsonpath={.data.winner} {.metadata.resourceVersion}",
    ])?;
    let (stored, now) = out.stdout.split_once(' ').unwrap_or_default();
    ensure!(
        stored == winner && now != version,
        "the stored value should be the winner's ({winner}), at a version after {version}: {out}"
    );

    // The same stale body, sent again after the race, conflicts as well.
    let out = admin.run_with_stdin(&["replace", "-f", "-"], Some(&a))?;
    conflicted(&out)
}

fn conflicted(out: &Output) -> Result<()> {
    ensure!(
        !out.success()
            && out.stderr.contains("Error from server (Conflict)")
            && out.stderr.contains(
                "Operation cannot be fulfilled on configmaps \"race\": the object has been \
                 modified; please apply your changes to the latest version and try again"
            ),
        "a stale replace should fail with 409 Conflict: {out}"
    );
    Ok(())
}
