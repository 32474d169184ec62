//! Issue 3, pods on nodes: a pod is bound to a node once through its `binding` subresource,
//! and a bound pod's deletion is graceful (it stays `Terminating` for its grace period, for the
//! kubelet to stop it) unless forced, while an unbound pod, which nothing runs, goes at once.

use anyhow::{Result, ensure};
use serde_json::json;

use super::columns::Columns;
use super::harness::ApiCluster;
use super::kubectl::Kubectl;
use super::objects::{absent, must_get, post_raw};
use crate::etcdctl::Output;
use crate::flavor::Flavor;

on_both_stores!(bound_pods_terminate_gracefully);

fn bound_pods_terminate_gracefully(flavor: Flavor) -> Result<()> {
    let cluster = ApiCluster::start(flavor)?;
    let admin = cluster.admin();
    for name in ["p", "q"] {
        admin.expect_with_stdin(
            &["create", "-f", "-"],
            Some(&pod(name, name)),
            &format!("pod/{name} created\n"),
        )?;
    }

    bind(&admin, "p", "n1")?.ok("binding p to n1")?;
    let out = admin.ok(&["get", "pod", "p", "-o", "wide"])?;
    let table = Columns::parse(&out.stdout)?;
    let row = table.row("p")?;
    ensure!(
        row.contains(&("NODE", "n1")) && row.contains(&("STATUS", "Pending")),
        "the bound pod should show NODE n1 (and stay Pending with no kubelet): {row:?}\n{out}"
    );
    let out = bind(&admin, "p", "n2")?;
    ensure!(
        !out.success()
            && out.stderr
                == "Error from server (Conflict): Operation cannot be fulfilled on pods/binding \
                    \"p\": pod p is already assigned to node \"n1\"\n",
        "a second binding should be refused with 409: {out}"
    );
    ensure!(
        must_get(&admin, &["pod", "p"])?["spec"]["nodeName"] == "n1",
        "the refused binding should leave the pod on n1"
    );

    // --wait=false: kubectl would otherwise wait out the grace period for a kubelet.
    let out = admin.ok(&["delete", "pod", "p", "--wait=false"])?;
    ensure!(out.stdout.starts_with("pod \"p\" deleted"), "delete: {out}");
    let pod = must_get(&admin, &["pod", "p"])?;
    ensure!(
        pod["metadata"]["deletionTimestamp"].is_string()
            && pod["metadata"]["deletionGracePeriodSeconds"] == 30,
        "a bound pod is deleted gracefully, over its 30s grace period: {:#}",
        pod["metadata"]
    );
    let out = admin.ok(&["get", "pod", "p"])?;
    let table = Columns::parse(&out.stdout)?;
    let row = table.row("p")?;
    ensure!(
        row.contains(&("STATUS", "Terminating")),
        "a pod marked for deletion shows Terminating: {row:?}\n{out}"
    );

    let out = admin.ok(&["delete", "pod", "p", "--grace-period=0", "--force"])?;
    ensure!(
        out.stdout.starts_with("pod \"p\" force deleted"),
        "force delete: {out}"
    );
    absent(&admin, &["pod", "p"])?;

    // No node, so nothing to wait for.
    let out = admin.ok(&["delete", "pod", "q", "--wait=false"])?;
    ensure!(out.stdout.starts_with("pod \"q\" deleted"), "delete: {out}");
    absent(&admin, &["pod", "q"])
}

/// A pod with one container and the label `app: <app>`, as YAML.
pub fn pod(name: &str, app: &str) -> String {
    format!(
        "\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels:
    app: {app}
spec:
  containers:
    - name: pause
      image: hakube/pause
"
    )
}

/// Posts a Binding of pod `name` to `node`, as the scheduler does.
pub fn bind(kubectl: &Kubectl, name: &str, node: &str) -> Result<Output> {
    let binding = json!({
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": { "name": name },
        "target": { "apiVersion": "v1", "kind": "Node", "name": node },
    });
    post_raw(
        kubectl,
        &format!("/api/v1/namespaces/default/pods/{name}/binding"),
        &binding.to_string(),
    )
}
