//! Kubernetes clients for the node's roles and the CLI, built from kubeconfig files written
//! next to them (as kubeadm writes admin.conf and kubelet.conf), so a person can use the same
//! file with kubectl.

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::error::{Error, Result};

/// Writes a kubeconfig with client certificate credentials and returns a client built from it.
pub async fn cert_client(
    file: &Path,
    server: &str,
    ca: &Path,
    cert: &Path,
    key: &Path,
    user: &str,
) -> Result<kube::Client> {
    let text = pki::kubeconfig(server, ca, cert, key, "hakube", user)?;
    std::fs::write(file, &text).map_err(Error::io(file))?;
    client_from_text(&text).await
}

/// Like [`cert_client`], but the client config itself, for a role that derives more clients from
/// it (the controller manager's per-controller ServiceAccounts).
pub async fn cert_config(
    file: &Path,
    server: &str,
    ca: &Path,
    cert: &Path,
    key: &Path,
    user: &str,
) -> Result<kube::Config> {
    let text = pki::kubeconfig(server, ca, cert, key, "hakube", user)?;
    std::fs::write(file, &text).map_err(Error::io(file))?;
    config_from_text(&text).await
}

/// A client that authenticates with a bearer token (a joining node's bootstrap token).
pub async fn token_client(server: &str, ca: &Path, token: &str) -> Result<kube::Client> {
    let ca_pem = std::fs::read(ca).map_err(Error::io(ca))?;
    let ca_data = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: hakube\n  cluster:\n    certificate-authority-data: {ca_data}\n    server: {server:?}\nusers:\n- name: bootstrap\n  user:\n    token: {token:?}\ncontexts:\n- name: bootstrap\n  context:\n    cluster: hakube\n    user: bootstrap\ncurrent-context: bootstrap\n"
    );
    client_from_text(&text).await
}

/// A client from a kubeconfig file on disk (the profile's admin kubeconfig).
pub async fn file_client(file: &Path) -> Result<kube::Client> {
    let text = std::fs::read_to_string(file).map_err(Error::io(file))?;
    client_from_text(&text).await
}

async fn client_from_text(text: &str) -> Result<kube::Client> {
    Ok(kube::Client::try_from(config_from_text(text).await?)?)
}

async fn config_from_text(text: &str) -> Result<kube::Config> {
    let kubeconfig =
        Kubeconfig::from_yaml(text).map_err(|e| Error::Invalid(format!("kubeconfig: {e}")))?;
    let mut config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(|e| Error::Invalid(format!("kubeconfig: {e}")))?;
    // A short connect timeout: a dead API server must not hold a role's loop for long. The read
    // timeout stays kube-rs's (295 s), above a watch's 290 s: the roles' watches stay open for
    // minutes without a byte when nothing changes, and single calls bound themselves.
    config.connect_timeout = Some(Duration::from_secs(2));
    Ok(config)
}
