//! Issue 3, writes that are not quite writes: `--dry-run=server` creates and deletes that the
//! server checks but does not keep, and `metadata.generateName`, for which the server picks
//! the rest of the name.

use anyhow::{Context, Result, ensure};

use super::harness::ApiCluster;
use super::objects::{absent, must_get};
use crate::flavor::Flavor;

/// The letters Kubernetes draws generated name suffixes from (apimachinery's `util/rand`):
/// no vowels, and no digits or letters that are easily confused.
const SUFFIX_ALPHABET: &str = "bcdfghjklmnpqrstvwxz2456789";

/// How many of them a generated name adds to its prefix.
const SUFFIX_LEN: usize = 5;

on_both_stores!(server_dry_runs_and_generated_names);

fn server_dry_runs_and_generated_names(flavor: Flavor) -> Result<()> {
    let cluster = ApiCluster::start(flavor)?;
    let admin = cluster.admin();

    admin.expect(
        &[
            "create",
            "configmap",
            "dry",
            "--from-literal=k=v",
            "--dry-run=server",
        ],
        "configmap/dry created (server dry run)\n",
    )?;
    absent(&admin, &["configmap", "dry"])?;

    admin.ok(&["create", "configmap", "kept", "--from-literal=k=v"])?;
    let out = admin.ok(&["delete", "configmap", "kept", "--dry-run=server"])?;
    ensure!(
        out.stdout.starts_with("configmap \"kept\" deleted")
            && out.stdout.trim_end().ends_with("(server dry run)"),
        "delete --dry-run=server: {out}"
    );
    let kept = must_get(&admin, &["configmap", "kept"])?;
    ensure!(
        kept["metadata"].get("deletionTimestamp").is_none() && kept["data"]["k"] == "v",
        "a dry-run delete should leave the ConfigMap as it was: {kept:#}"
    );

    let first = generated(&cluster)?;
    let second = generated(&cluster)?;
    ensure!(
        first != second,
        "two objects created from one generateName should get different names: {first}"
    );

    // A dry run is checked like a real create: one that would fail, fails, and changes
    // nothing either.
    let out = admin.fails(&[
        "create",
        "configmap",
        "kept",
        "--from-literal=k=other",
        "--dry-run=server",
    ])?;
    ensure!(
        out.stderr == "error: failed to create configmap: configmaps \"kept\" already exists\n",
        "a dry-run create of an existing name should fail with 409 AlreadyExists: {out}"
    );
    admin.expect(
        &["get", "configmap", "kept", "-o", "jsonpath={.data.k}"],
        "v",
    )?;
    Ok(())
}

/// Creates a ConfigMap from `generateName: gen-` and returns the name the server gave it.
fn generated(cluster: &ApiCluster) -> Result<String> {
    let admin = cluster.admin();
    let out = admin.ok_with_stdin(
        &["create", "-f", "-"],
        Some(
            "\
apiVersion: v1
kind: ConfigMap
metadata:
  generateName: gen-
data:
  k: v
",
        ),
    )?;
    let name = out
        .stdout
        .strip_prefix("configmap/")
        .and_then(|rest| rest.strip_suffix(" created\n"))
        .with_context(|| format!("create from generateName: {out}"))?
        .to_string();
    let suffix = name.strip_prefix("gen-").unwrap_or_default();
    ensure!(
        suffix.len() == SUFFIX_LEN && suffix.chars().all(|c| SUFFIX_ALPHABET.contains(c)),
        "a generated name is the prefix and {SUFFIX_LEN} characters of {SUFFIX_ALPHABET:?}: \
         {name:?}"
    );
    let stored = must_get(&admin, &["configmap", &name])?;
    ensure!(
        stored["metadata"]["generateName"] == "gen-",
        "the object keeps its generateName: {:#}",
        stored["metadata"]
    );
    Ok(name)
}
