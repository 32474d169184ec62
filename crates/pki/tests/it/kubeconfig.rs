//! The kubeconfig and the EncryptionConfiguration, parsed back as YAML.

use anyhow::{Context, Result};
use base64::Engine as _;
use serde_yaml_ng::Value;

use crate::generate;

fn decode(value: &Value) -> Result<Vec<u8>> {
    let text = value.as_str().context("not a string")?;
    Ok(base64::engine::general_purpose::STANDARD.decode(text)?)
}

#[test]
fn kubeconfig_embeds_the_files() -> Result<()> {
    let (_dir, pki) = generate()?;
    let text = pki::kubeconfig(
        "https://192.168.49.254:8443",
        &pki.ca_cert,
        &pki.admin_cert,
        &pki.admin_key,
        "hakube",
        "kubernetes-admin",
    )?;
    let doc: Value = serde_yaml_ng::from_str(&text)?;
    assert_eq!(doc["apiVersion"], "v1");
    assert_eq!(doc["kind"], "Config");
    assert_eq!(doc["current-context"], "hakube");

    let cluster = &doc["clusters"][0];
    assert_eq!(cluster["name"], "hakube");
    assert_eq!(cluster["cluster"]["server"], "https://192.168.49.254:8443");
    assert_eq!(
        decode(&cluster["cluster"]["certificate-authority-data"])?,
        std::fs::read(&pki.ca_cert)?
    );

    let context = &doc["contexts"][0];
    assert_eq!(context["name"], "hakube");
    assert_eq!(context["context"]["cluster"], "hakube");
    assert_eq!(context["context"]["user"], "kubernetes-admin");

    let user = &doc["users"][0];
    assert_eq!(user["name"], "kubernetes-admin");
    assert_eq!(
        decode(&user["user"]["client-certificate-data"])?,
        std::fs::read(&pki.admin_cert)?
    );
    assert_eq!(
        decode(&user["user"]["client-key-data"])?,
        std::fs::read(&pki.admin_key)?
    );
    for list in ["clusters", "contexts", "users"] {
        assert_eq!(doc[list].as_sequence().map(Vec::len), Some(1), "{list}");
    }
    Ok(())
}

#[test]
fn kubeconfig_reports_a_missing_file() -> Result<()> {
    let (dir, pki) = generate()?;
    let missing = dir.path().join("nope.crt");
    match pki::kubeconfig(
        "https://x",
        &pki.ca_cert,
        &missing,
        &pki.admin_key,
        "c",
        "u",
    ) {
        Err(pki::Error::Missing(path)) => assert_eq!(path, missing),
        other => panic!("expected Missing, got {other:?}"),
    }
    Ok(())
}

#[test]
fn encryption_config_has_a_fresh_aesgcm_key() -> Result<()> {
    let (_dir, pki) = generate()?;
    let (_dir2, other) = generate()?;
    let key = |path: &std::path::Path| -> Result<Vec<u8>> {
        let doc: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(path)?)?;
        assert_eq!(doc["apiVersion"], "apiserver.config.k8s.io/v1");
        assert_eq!(doc["kind"], "EncryptionConfiguration");
        let entry = &doc["resources"][0];
        assert_eq!(entry["resources"][0], "secrets");
        let providers = entry["providers"].as_sequence().context("providers")?;
        assert_eq!(providers.len(), 2);
        let keys = &providers[0]["aesgcm"]["keys"];
        assert_eq!(keys[0]["name"], "key1");
        assert!(
            providers[1]["identity"]
                .as_mapping()
                .is_some_and(|m| m.is_empty())
        );
        decode(&keys[0]["secret"])
    };
    let first = key(&pki.encryption_config)?;
    assert_eq!(first.len(), 32);
    assert_ne!(
        first,
        key(&other.encryption_config)?,
        "each PKI gets its own key"
    );
    Ok(())
}
