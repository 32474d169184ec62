//! Acceptance 3: objects live in the store under Kubernetes' own keys, and Secrets are stored
//! encrypted with the configured AES-GCM key while other resources are not.

use anyhow::{Result, ensure};
use base64::Engine;

use super::harness::ApiCluster;
use super::seed::HELLO_HA;
use crate::flavor::Flavor;

/// A value that must never reach the store in the clear.
const PLAINTEXT: &str = "correct-horse-battery-staple";

/// The prefix of a value the `aesgcm` provider wrote with the key named `key1`.
const AESGCM_KEY1: &str = "k8s:enc:aesgcm:v1:key1:";

on_both_stores!(secrets_are_encrypted_at_rest);

fn secrets_are_encrypted_at_rest(flavor: Flavor) -> Result<()> {
    let cluster = ApiCluster::start(flavor)?;
    let admin = cluster.admin();
    admin.ok(&["create", "namespace", "demo"])?;
    admin.ok(&[
        "create",
        "secret",
        "generic",
        "creds",
        "-n",
        "demo",
        &format!("--from-literal=password={PLAINTEXT}"),
    ])?;
    admin.ok(&[
        "create",
        "configmap",
        "settings",
        "-n",
        "demo",
        "--from-literal=color=ultramarine",
    ])?;
    admin.ok_with_stdin(&["apply", "-f", "-"], Some(HELLO_HA))?;

    let etcdctl = cluster.etcdctl();
    let out = etcdctl
        .run(&["get", "/registry", "--prefix", "--keys-only"])?
        .ok("listing the keys under /registry")?;
    let keys: Vec<&str> = out.stdout.lines().filter(|l| !l.is_empty()).collect();
    for key in [
        "/registry/namespaces/demo",
        "/registry/secrets/demo/creds",
        "/registry/configmaps/demo/settings",
        "/registry/deployments/default/hello",
        "/registry/services/specs/default/hello",
    ] {
        ensure!(keys.contains(&key), "the store should hold {key}: {out}");
    }

    let encoded = base64::engine::general_purpose::STANDARD.encode(PLAINTEXT);
    let out = etcdctl
        .run(&["get", "/registry/secrets/demo/creds", "--print-value-only"])?
        .ok("reading the stored Secret")?;
    let stored = out.stdout.trim_end_matches('\n');
    ensure!(
        stored.starts_with(AESGCM_KEY1),
        "the stored Secret should start with {AESGCM_KEY1}: {stored:?}"
    );
    // A 12-byte nonce and a 16-byte tag follow the prefix at the least.
    ensure!(
        stored.len() > AESGCM_KEY1.len() + 12 + 16,
        "the stored Secret is too short to hold a ciphertext: {stored:?}"
    );
    ensure!(
        !stored.contains(PLAINTEXT) && !stored.contains(&encoded) && !stored.contains("creds"),
        "the stored Secret leaks its content: {stored:?}"
    );

    // Only Secrets are configured for encryption, so a ConfigMap's value is readable as stored;
    // this also shows that looking for the plaintext above could have found it.
    let out = etcdctl
        .run(&[
            "get",
            "/registry/configmaps/demo/settings",
            "--print-value-only",
        ])?
        .ok("reading the stored ConfigMap")?;
    ensure!(
        !out.stdout.starts_with("k8s:enc:") && out.stdout.contains("ultramarine"),
        "a ConfigMap is stored unencrypted: {out}"
    );

    // And the API decrypts what it stored.
    let out = admin.ok(&[
        "get",
        "secret",
        "creds",
        "-n",
        "demo",
        "-o",
        "jsonpath={.data.password}",
    ])?;
    ensure!(out.stdout == encoded, "the Secret read back: {out}");
    Ok(())
}
