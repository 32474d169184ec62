//! Acceptance 1, the changing half: `label`, `edit` (with a script for an editor), the three
//! kinds of `patch`, `annotate`, `scale`, and `delete` with each cascade policy.

use std::os::unix::fs::PermissionsExt;

use anyhow::{Result, ensure};
use serde_json::Value;

use super::harness::ApiCluster;
use super::kubectl::Kubectl;
use super::seed::HELLO_HA;
use crate::flavor::Flavor;

on_both_stores!(label_edit_patch_scale_and_delete);

fn label_edit_patch_scale_and_delete(flavor: Flavor) -> Result<()> {
    let cluster = ApiCluster::start(flavor)?;
    let admin = cluster.admin();
    admin.ok_with_stdin(&["apply", "-f", "-"], Some(HELLO_HA))?;

    admin.expect(
        &["label", "deployment", "hello", "tier=web"],
        "deployment.apps/hello labeled\n",
    )?;
    admin.expect(
        &["get", "deployments", "-l", "tier=web", "-o", "name"],
        "deployment.apps/hello\n",
    )?;
    let out = admin.ok(&["get", "deployments", "-l", "tier!=web"])?;
    ensure!(
        out.stdout.is_empty() && out.stderr == "No resources found in default namespace.\n",
        "a selector that excludes the only deployment: {out}"
    );

    edit(&cluster)?;
    patches(&admin)?;

    admin.expect(
        &["annotate", "deployment", "hello", "owner=team-a"],
        "deployment.apps/hello annotated\n",
    )?;
    expect_field(&admin, "{.metadata.annotations.owner}", "team-a")?;

    admin.expect(
        &["scale", "deployment", "hello", "--replicas=5"],
        "deployment.apps/hello scaled\n",
    )?;
    expect_field(&admin, "{.spec.replicas}", "5")?;

    deletes(&admin)
}

/// `kubectl edit` with an editor that renames the label value the test set.
fn edit(cluster: &ApiCluster) -> Result<()> {
    let editor = cluster.dir().join("editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\n\
         # Stands in for a person: changes one label in the file kubectl opens, and saves.\n\
         exec sed -i 's/^    tier: web$/    tier: edited/' \"$1\"\n",
    )?;
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755))?;
    cluster
        .admin()
        .with_env("EDITOR", &editor.display().to_string())
        .expect(
            &["edit", "deployment", "hello"],
            "deployment.apps/hello edited\n",
        )?;
    expect_field(&cluster.admin(), "{.metadata.labels.tier}", "edited")
}

fn patches(admin: &Kubectl) -> Result<()> {
    let patched = "deployment.apps/hello patched\n";
    admin.expect(
        &[
            "patch",
            "deployment",
            "hello",
            "--type=json",
            "-p",
            r#"[{"op":"replace","path":"/spec/replicas","value":2}]"#,
        ],
        patched,
    )?;
    expect_field(admin, "{.spec.replicas}", "2")?;

    let merge = [
        "patch",
        "deployment",
        "hello",
        "--type=merge",
        "-p",
        r#"{"metadata":{"annotations":{"patchedBy":"merge"}}}"#,
    ];
    admin.expect(&merge, patched)?;
    expect_field(admin, "{.metadata.annotations.patchedBy}", "merge")?;
    // The same patch again changes nothing, and kubectl says so: it compares the object
    // before and after, so the server must not have touched it (not even its resourceVersion).
    admin.expect(&merge, "deployment.apps/hello patched (no change)\n")?;

    // A strategic merge patch merges the containers list by name, so the port survives; a
    // JSON merge patch would have replaced the list.
    admin.expect(
        &[
            "patch",
            "deployment",
            "hello",
            "--type=strategic",
            "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"hello-from","image":"pbitty/hello-from:v2"}]}}}}"#,
        ],
        patched,
    )?;
    let deployment = get_json(admin, &["deployment", "hello"])?.unwrap_or_default();
    let containers = &deployment["spec"]["template"]["spec"]["containers"];
    ensure!(
        containers.as_array().map(Vec::len) == Some(1)
            && containers[0]["image"] == "pbitty/hello-from:v2"
            && containers[0]["ports"][0]["containerPort"] == 80,
        "the strategic merge patch should change the image and keep the port: {containers:#}"
    );
    Ok(())
}

fn deletes(admin: &Kubectl) -> Result<()> {
    let out = admin.ok(&["delete", "service", "hello"])?;
    ensure!(
        out.stdout.starts_with("service \"hello\" deleted"),
        "delete service: {out}"
    );
    let out = admin.fails(&["get", "service", "hello"])?;
    ensure!(
        out.stderr == "Error from server (NotFound): services \"hello\" not found\n",
        "a deleted Service is not found: {out}"
    );

    // The default, background cascade: the object goes at once (its dependents would go later).
    let out = admin.ok(&["delete", "deployment", "hello"])?;
    ensure!(
        out.stdout.starts_with("deployment.apps \"hello\" deleted"),
        "delete deployment: {out}"
    );
    ensure!(
        get_json(admin, &["deployment", "hello"])?.is_none(),
        "a background delete removes the object"
    );

    // Orphan and foreground deletes leave the object behind with a finalizer for the garbage
    // collector, which this cluster does not run yet, so only what the API shows is checked:
    // the object is gone, or it is marked for deletion and carries the policy's finalizer.
    for (cascade, finalizer) in [("orphan", "orphan"), ("foreground", "foregroundDeletion")] {
        let name = format!("cascade-{cascade}");
        admin.expect(
            &[
                "create",
                "deployment",
                &name,
                "--image=pbitty/hello-from:latest",
            ],
            &format!("deployment.apps/{name} created\n"),
        )?;
        // --wait=false: kubectl would otherwise wait for a garbage collector that never comes.
        let out = admin.ok(&[
            "delete",
            "deployment",
            &name,
            &format!("--cascade={cascade}"),
            "--wait=false",
        ])?;
        ensure!(
            out.stdout
                .starts_with(&format!("deployment.apps \"{name}\" deleted")),
            "delete --cascade={cascade}: {out}"
        );
        if let Some(left) = get_json(admin, &["deployment", &name])? {
            let meta = &left["metadata"];
            ensure!(
                meta["deletionTimestamp"].is_string()
                    && meta["finalizers"]
                        .as_array()
                        .is_some_and(|f| f.iter().any(|f| f == finalizer)),
                "after --cascade={cascade} the deployment should be gone or carry the \
                 {finalizer} finalizer and a deletionTimestamp: {meta:#}"
            );
        }
    }
    Ok(())
}

/// One object as JSON, or `None` when the server says it is not found.
fn get_json(admin: &Kubectl, what: &[&str]) -> Result<Option<Value>> {
    let mut args = vec!["get"];
    args.extend_from_slice(what);
    args.extend(["-o", "json"]);
    let out = admin.run(&args)?;
    if out.success() {
        return Ok(Some(serde_json::from_str(&out.stdout)?));
    }
    ensure!(
        out.stderr.starts_with("Error from server (NotFound)"),
        "kubectl {} failed: {out}",
        args.join(" ")
    );
    Ok(None)
}

/// Checks one field of the `hello` Deployment through `-o jsonpath`.
fn expect_field(admin: &Kubectl, path: &str, want: &str) -> Result<()> {
    admin.expect(
        &["get", "deployment/hello", "-o", &format!("jsonpath={path}")],
        want,
    )?;
    Ok(())
}
