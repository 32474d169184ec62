//! Issue 3, server-side apply: `kubectl apply --server-side` creates an object and updates it
//! when applied again changed, the server records kubectl as the manager of the fields it
//! applied, and another manager that changes them without forcing conflicts.

use anyhow::{Result, ensure};

use super::harness::ApiCluster;
use super::objects::must_get;
use crate::flavor::Flavor;

on_both_stores!(server_side_apply_creates_updates_and_owns_fields);

fn server_side_apply_creates_updates_and_owns_fields(flavor: Flavor) -> Result<()> {
    let cluster = ApiCluster::start(flavor)?;
    let admin = cluster.admin();
    let apply = ["apply", "--server-side", "-f", "-"];
    admin.expect_with_stdin(
        &apply,
        Some(&config_map("blue")),
        "configmap/ssa serverside-applied\n",
    )?;
    admin.expect_with_stdin(
        &apply,
        Some(&config_map("red")),
        "configmap/ssa serverside-applied\n",
    )?;

    let stored = must_get(&admin, &["configmap", "ssa", "--show-managed-fields"])?;
    let meta = &stored["metadata"];
    let managers = meta["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    ensure!(
        stored["data"]["color"] == "red"
            && managers.len() == 1
            && managers[0]["manager"] == "kubectl"
            && managers[0]["operation"] == "Apply"
            && managers[0]["fieldsType"] == "FieldsV1"
            && managers[0]["fieldsV1"]["f:data"]["f:color"].is_object(),
        "the applied value, with kubectl managing data.color: {stored:#}"
    );
    ensure!(
        meta["annotations"]
            .get("kubectl.kubernetes.io/last-applied-configuration")
            .is_none(),
        "server-side apply keeps no last-applied annotation: {meta:#}"
    );

    // Another manager may not take the field over without --force-conflicts.
    let out = admin.run_with_stdin(
        &[
            "apply",
            "--server-side",
            "--field-manager=intruder",
            "-f",
            "-",
        ],
        Some(&config_map("green")),
    )?;
    ensure!(
        out.code == Some(1)
            && out.stderr.starts_with(
                "error: Apply failed with 1 conflict: conflict with \"kubectl\": .data.color\n"
            ),
        "applying a field another manager owns should conflict: {out}"
    );
    admin.expect(
        &["get", "configmap", "ssa", "-o", "jsonpath={.data.color}"],
        "red",
    )?;
    admin.expect_with_stdin(
        &[
            "apply",
            "--server-side",
            "--field-manager=intruder",
            "--force-conflicts",
            "-f",
            "-",
        ],
        Some(&config_map("green")),
        "configmap/ssa serverside-applied\n",
    )?;
    admin.expect(
        &["get", "configmap", "ssa", "-o", "jsonpath={.data.color}"],
        "green",
    )?;
    Ok(())
}

fn config_map(color: &str) -> String {
    format!(
        "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: ssa
data:
  color: {color}
"
    )
}
