//! Joining a running cluster, as `kubeadm join` does: discovery with a bootstrap token (the
//! node reads `kube-public/cluster-info` through the VIP with the token and checks the CA in it
//! against the expected hash), then, for a control-plane node, its store member is added as a
//! learner and promoted once it has caught up.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;

use crate::error::{Error, Result};
use crate::etcd::Etcd;
use crate::token;

/// Reads cluster-info with `token` and checks its CA against `expected_hash`.
pub async fn discover(client: kube::Client, expected_hash: &str) -> Result<()> {
    let api: Api<ConfigMap> = Api::namespaced(client, "kube-public");
    let deadline = Instant::now() + Duration::from_secs(60);
    let forbidden_deadline = Instant::now() + Duration::from_secs(10);
    let info = loop {
        match api.get("cluster-info").await {
            Ok(info) => break info,
            // A 403 may only mean the API server's RBAC cache has not seen the binding yet.
            Err(kube::Error::Api(status))
                if status.code == 401
                    || (status.code == 403 && Instant::now() > forbidden_deadline) =>
            {
                return Err(Error::Invalid(format!(
                    "the API refused the bootstrap token ({} {}): it is wrong or expired, or may not read cluster-info",
                    status.code, status.reason
                )));
            }
            Err(e) if Instant::now() > deadline => {
                return Err(Error::Timeout(format!(
                    "cannot read kube-public/cluster-info through the VIP: {e}"
                )));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    };
    let kubeconfig = info
        .data
        .as_ref()
        .and_then(|d| d.get("kubeconfig"))
        .ok_or_else(|| Error::Invalid("cluster-info has no kubeconfig".into()))?;
    let ca_pem = ca_from_cluster_info(kubeconfig)?;
    let hash = token::ca_cert_hash(&ca_pem)?;
    if hash != expected_hash {
        return Err(Error::Invalid(format!(
            "the cluster's CA does not match --discovery-token-ca-cert-hash (it is {hash}); refusing to join"
        )));
    }
    Ok(())
}

/// The CA certificate (PEM) in cluster-info's kubeconfig.
fn ca_from_cluster_info(kubeconfig: &str) -> Result<String> {
    use base64::Engine;
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(kubeconfig)
        .map_err(|e| Error::Invalid(format!("cluster-info's kubeconfig: {e}")))?;
    let data = doc["clusters"][0]["cluster"]["certificate-authority-data"]
        .as_str()
        .ok_or_else(|| Error::Invalid("cluster-info's kubeconfig has no CA".into()))?;
    let pem = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| Error::Invalid(format!("cluster-info's CA is not base64: {e}")))?;
    String::from_utf8(pem).map_err(|e| Error::Invalid(format!("cluster-info's CA: {e}")))
}

/// Adds this node's member as a learner (or finds it, after a crash between the add and the
/// first start). Returns its ID and the `name=peer-url` list to start it with.
pub async fn add_learner(
    etcd: &Etcd,
    name: &str,
    peer_url: &str,
) -> Result<(u64, Vec<(String, String)>)> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let (id, members) = loop {
        let attempt = async {
            let members = etcd.members().await?;
            if let Some(me) = members
                .iter()
                .find(|m| m.peer_ur_ls.iter().any(|u| u == peer_url))
            {
                return Ok((me.id, members));
            }
            etcd.add_learner(peer_url).await
        };
        match attempt.await {
            Ok(found) => break found,
            Err(e) if Instant::now() > deadline => return Err(e),
            // The store allows one learner at a time and refuses changes while it has no
            // leader: both pass.
            Err(e) => {
                tracing::info!("adding the store learner: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    };
    let mut cluster = Vec::new();
    for member in &members {
        let member_name = if member.id == id {
            name.to_string()
        } else if member.name.is_empty() {
            format!("member-{:x}", member.id)
        } else {
            member.name.clone()
        };
        for url in &member.peer_ur_ls {
            cluster.push((member_name.clone(), url.clone()));
        }
    }
    Ok((id, cluster))
}

/// Promotes learner `id`, retrying while the store says it has not caught up.
pub async fn promote(etcd: &Etcd, id: u64) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        match etcd.promote(id).await {
            Ok(()) => return Ok(()),
            // Already a voter: a restart after the promotion landed.
            Err(Error::Etcd(message)) if message.ends_with("can only promote a learner member") => {
                return Ok(());
            }
            Err(e) if Instant::now() > deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_ca_of_cluster_info() {
        use base64::Engine;
        let pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let data = base64::engine::general_purpose::STANDARD.encode(pem);
        let kubeconfig = format!(
            "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {data}\n    server: https://127.0.49.254:8443\n  name: \"\"\n"
        );
        assert_eq!(ca_from_cluster_info(&kubeconfig).unwrap(), pem);
        assert!(ca_from_cluster_info("clusters: []").is_err());
    }
}
