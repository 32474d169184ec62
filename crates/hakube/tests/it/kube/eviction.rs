//! Issue 3, eviction, the API `kubectl drain` uses: a running, ready pod that a
//! PodDisruptionBudget guards is not evicted (429), a pod that is not running yet is, whatever
//! the budget, and without a budget an eviction deletes the pod gracefully.

use anyhow::{Result, ensure};
use serde_json::json;

use super::harness::ApiCluster;
use super::kubectl::Kubectl;
use super::objects::{must_get, post_raw};
use super::pods::{bind, pod};
use crate::etcdctl::Output;
use crate::flavor::Flavor;

on_both_stores!(disruption_budgets_hold_evictions);

fn disruption_budgets_hold_evictions(flavor: Flavor) -> Result<()> {
    let cluster = ApiCluster::start(flavor)?;
    let admin = cluster.admin();
    for name in ["guarded", "waiting"] {
        admin.ok_with_stdin(&["create", "-f", "-"], Some(&pod(name, "guarded")))?;
        bind(&admin, name, "n1")?.ok("binding a pod")?;
    }
    // What the kubelet would report for `guarded` once its container runs. Kubernetes only
    // holds a pod to its budget while it runs: a Pending pod disrupts nothing.
    admin.expect(
        &[
            "patch",
            "pod",
            "guarded",
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}"#,
        ],
        "pod/guarded patched\n",
    )?;
    admin.expect(
        &[
            "create",
            "poddisruptionbudget",
            "guard",
            "--selector=app=guarded",
            "--min-available=1",
        ],
        "poddisruptionbudget.policy/guard created\n",
    )?;

    let out = evict(&admin, "guarded")?;
    ensure!(
        !out.success()
            && out.stderr.starts_with(
                "Error from server (TooManyRequests): Cannot evict pod as it would violate the \
                 pod's disruption budget."
            ),
        "evicting the only ready pod under minAvailable: 1 should be refused with 429: {out}"
    );
    let guarded = must_get(&admin, &["pod", "guarded"])?;
    ensure!(
        guarded["metadata"].get("deletionTimestamp").is_none(),
        "a refused eviction leaves the pod alone: {:#}",
        guarded["metadata"]
    );

    evict(&admin, "waiting")?.ok("evicting a Pending pod, which its budget does not guard")?;
    terminating(&admin, "waiting")?;

    admin.ok(&["delete", "poddisruptionbudget", "guard"])?;
    evict(&admin, "guarded")?.ok("evicting a pod without a budget")?;
    terminating(&admin, "guarded")
}

/// Posts an Eviction of pod `name`, as `kubectl drain` does.
fn evict(kubectl: &Kubectl, name: &str) -> Result<Output> {
    let eviction = json!({
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": { "name": name, "namespace": "default" },
    });
    post_raw(
        kubectl,
        &format!("/api/v1/namespaces/default/pods/{name}/eviction"),
        &eviction.to_string(),
    )
}

/// An evicted pod is deleted like any other: a bound one gracefully, so it is still there,
/// marked for deletion after its grace period.
fn terminating(kubectl: &Kubectl, name: &str) -> Result<()> {
    let pod = must_get(kubectl, &["pod", name])?;
    ensure!(
        pod["metadata"]["deletionTimestamp"].is_string()
            && pod["metadata"]["deletionGracePeriodSeconds"] == 30,
        "the evicted pod {name} should be terminating: {:#}",
        pod["metadata"]
    );
    Ok(())
}
