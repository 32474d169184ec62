//! Issue 3, deletion that waits: a finalizer holds a deleted object until it is removed, a
//! deleted namespace stays `Terminating` (no namespace controller empties it yet) and takes no
//! new objects, and the namespaces the cluster needs may not be deleted at all.

use anyhow::{Result, ensure};

use super::columns::Columns;
use super::harness::ApiCluster;
use super::objects::{absent, must_get};
use crate::flavor::Flavor;

on_both_stores!(
    finalizers_hold_deletion,
    terminating_namespaces_take_nothing_new
);

fn finalizers_hold_deletion(flavor: Flavor) -> Result<()> {
    let cluster = ApiCluster::start(flavor)?;
    let admin = cluster.admin();
    admin.expect_with_stdin(
        &["create", "-f", "-"],
        Some(
            "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: held
  finalizers: [example.com/hold]
data:
  k: v
",
        ),
        "configmap/held created\n",
    )?;

    // --wait=false: kubectl would otherwise wait for a finalizer nobody removes.
    let out = admin.ok(&["delete", "configmap", "held", "--wait=false"])?;
    ensure!(
        out.stdout.starts_with("configmap \"held\" deleted"),
        "delete: {out}"
    );
    let held = must_get(&admin, &["configmap", "held"])?;
    let meta = &held["metadata"];
    ensure!(
        meta["deletionTimestamp"].is_string()
            && meta["deletionGracePeriodSeconds"] == 0
            && meta["finalizers"] == serde_json::json!(["example.com/hold"])
            && held["data"]["k"] == "v",
        "a deleted object with a finalizer stays, marked for deletion: {held:#}"
    );

    // Removing the last finalizer of an object marked for deletion deletes it, in that write.
    admin.expect(
        &[
            "patch",
            "configmap",
            "held",
            "--type=json",
            "-p",
            r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
        ],
        "configmap/held patched\n",
    )?;
    absent(&admin, &["configmap", "held"])
}

fn terminating_namespaces_take_nothing_new(flavor: Flavor) -> Result<()> {
    let cluster = ApiCluster::start(flavor)?;
    let admin = cluster.admin();
    admin.ok(&["create", "namespace", "doomed"])?;
    admin.ok(&[
        "create",
        "configmap",
        "before",
        "-n",
        "doomed",
        "--from-literal=k=v",
    ])?;

    let out = admin.ok(&["delete", "namespace", "doomed", "--wait=false"])?;
    ensure!(
        out.stdout.starts_with("namespace \"doomed\" deleted"),
        "delete namespace: {out}"
    );
    let out = admin.ok(&["get", "namespace", "doomed"])?;
    let table = Columns::parse(&out.stdout)?;
    ensure!(
        table.row("doomed")?[1] == ("STATUS", "Terminating"),
        "a deleted namespace is Terminating: {out}"
    );
    // The `kubernetes` finalizer, which the namespace controller would remove once the
    // namespace is empty, holds it.
    let namespace = must_get(&admin, &["namespace", "doomed"])?;
    ensure!(
        namespace["metadata"]["deletionTimestamp"].is_string()
            && namespace["spec"]["finalizers"] == serde_json::json!(["kubernetes"])
            && namespace["status"]["phase"] == "Terminating",
        "the terminating namespace: {namespace:#}"
    );

    let out = admin.fails(&["create", "configmap", "y", "-n", "doomed"])?;
    ensure!(
        out.stderr.contains(
            "configmaps \"y\" is forbidden: unable to create new content in namespace doomed \
             because it is being terminated"
        ),
        "creating in a terminating namespace should be forbidden: {out}"
    );
    absent(&admin, &["configmap", "y", "-n", "doomed"])?;
    // What was there before stays readable until the namespace is emptied.
    must_get(&admin, &["configmap", "before", "-n", "doomed"])?;

    // kube-apiserver's NamespaceLifecycle admission keeps these three.
    for name in ["default", "kube-system", "kube-public"] {
        let out = admin.fails(&["delete", "namespace", name, "--wait=false"])?;
        ensure!(
            out.stderr
                == format!(
                    "Error from server (Forbidden): namespaces \"{name}\" is forbidden: this \
                     namespace may not be deleted\n"
                ),
            "deleting {name} should be forbidden: {out}"
        );
        let namespace = must_get(&admin, &["namespace", name])?;
        ensure!(
            namespace["metadata"].get("deletionTimestamp").is_none()
                && namespace["status"]["phase"] == "Active",
            "{name} should be untouched: {namespace:#}"
        );
    }
    Ok(())
}
