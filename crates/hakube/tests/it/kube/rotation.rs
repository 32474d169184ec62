//! Issue 3, rotating the encryption key the way the Kubernetes docs do it: put a new key first
//! (keeping the old one to read with) and restart, rewrite every Secret with
//! `kubectl get secrets --all-namespaces -o json | kubectl replace -f -`, then drop the old key
//! and restart again. Secrets end up stored under the new key and read back unchanged.

use anyhow::{Context, Result, ensure};
use base64::Engine;

use super::harness::ApiCluster;
use super::kubectl::Kubectl;
use crate::etcdctl::Etcdctl;
use crate::flavor::Flavor;

/// The prefix of a value the `aesgcm` provider wrote with the key named `name`.
fn aesgcm_prefix(name: &str) -> String {
    format!("k8s:enc:aesgcm:v1:{name}:")
}

on_both_stores!(rotated_keys_rewrite_secrets_on_replace);

fn rotated_keys_rewrite_secrets_on_replace(flavor: Flavor) -> Result<()> {
    let mut cluster = ApiCluster::start(flavor)?;
    cluster.admin().ok(&[
        "create",
        "secret",
        "generic",
        "old",
        "--from-literal=password=written-under-key1",
    ])?;
    let etcdctl = cluster.etcdctl();
    stored_under(&etcdctl, "old", "key1")?;

    let config_path = cluster.pki().encryption_config.clone();
    let config = std::fs::read_to_string(&config_path)?;
    let key1 = key_secret(&config, "key1")?;
    let key2 = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>());
    std::fs::write(
        &config_path,
        encryption_config(&[("key2", &key2), ("key1", &key1)]),
    )?;
    cluster.restart_apiserver()?;
    let admin = cluster.admin();
    // key1 still decrypts what it wrote; new writes use key2.
    read_back(&admin, "old", "written-under-key1")?;
    admin.ok(&[
        "create",
        "secret",
        "generic",
        "new",
        "--from-literal=password=written-under-key2",
    ])?;
    stored_under(&etcdctl, "new", "key2")?;

    let secrets = admin.ok(&["get", "secrets", "--all-namespaces", "-o", "json"])?;
    let out = admin.ok_with_stdin(&["replace", "-f", "-"], Some(&secrets.stdout))?;
    ensure!(
        out.stdout.lines().any(|l| l == "secret/old replaced"),
        "replace should rewrite the Secret: {out}"
    );
    stored_under(&etcdctl, "old", "key2")?;

    // With key1 gone, only what was rewritten can still be read.
    std::fs::write(&config_path, encryption_config(&[("key2", &key2)]))?;
    cluster.restart_apiserver()?;
    let admin = cluster.admin();
    read_back(&admin, "old", "written-under-key1")?;
    read_back(&admin, "new", "written-under-key2")
}

/// Requires the Secret `default/<name>` to be stored encrypted under the key named `key`.
fn stored_under(etcdctl: &Etcdctl, name: &str, key: &str) -> Result<()> {
    let out = etcdctl
        .run(&[
            "get",
            &format!("/registry/secrets/default/{name}"),
            "--print-value-only",
        ])?
        .ok("reading the stored Secret")?;
    let prefix = aesgcm_prefix(key);
    ensure!(
        out.stdout.starts_with(&prefix),
        "the Secret {name} should be stored under {prefix}: {:?}",
        out.stdout
    );
    Ok(())
}

fn read_back(admin: &Kubectl, name: &str, password: &str) -> Result<()> {
    admin.expect(
        &["get", "secret", name, "-o", "jsonpath={.data.password}"],
        &base64::engine::general_purpose::STANDARD.encode(password),
    )?;
    Ok(())
}

/// The base64 secret of the aesgcm key called `name` in an EncryptionConfiguration: the
/// `secret:` line after its `name:` line.
fn key_secret(config: &str, name: &str) -> Result<String> {
    let mut lines = config.lines().map(str::trim);
    lines
        .find(|l| l.trim_start_matches("- ") == format!("name: {name}"))
        .with_context(|| format!("no key {name} in:\n{config}"))?;
    lines
        .next()
        .and_then(|l| l.strip_prefix("secret: "))
        .map(str::to_string)
        .with_context(|| format!("no secret for key {name} in:\n{config}"))
}

/// An EncryptionConfiguration for Secrets with `keys` (name, base64 secret) for AES-GCM, the
/// first of which encrypts, and `identity` last to read what was stored in the clear.
fn encryption_config(keys: &[(&str, &str)]) -> String {
    let keys: String = keys
        .iter()
        .map(|(name, secret)| {
            format!("            - name: {name}\n              secret: {secret}\n")
        })
        .collect();
    format!(
        "\
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources:
      - secrets
    providers:
      - aesgcm:
          keys:
{keys}      - identity: {{}}
"
    )
}
