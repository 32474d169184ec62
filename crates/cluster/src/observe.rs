//! Looking at a profile from outside, as `status` and `profile list` do: the node processes,
//! direct probes of each role, and the store's member count. The verdict is `status`'s pure
//! function.

use std::time::Duration;

use crate::etcd::{Etcd, EtcdTls, member_healthy};
use crate::profile::Profile;
use crate::status::{NodeHealth, ProfileStatus, profile_status};
use crate::{driver, health, kubeconfig, ports};

/// What `status` shows for a profile.
#[derive(Debug, Clone)]
pub struct Observed {
    pub nodes: Vec<NodeHealth>,
    pub status: ProfileStatus,
    /// Whether the user's kubeconfig points the profile's context at the VIP.
    pub kubeconfig_configured: bool,
}

/// Probes every node of the profile.
pub async fn observe(profile: &Profile) -> Observed {
    let pki_dir = profile.pki_dir();
    let api = health::ApiProbe::new(&pki_dir.join("ca.crt")).ok();
    let ca = pki_dir.join("etcd/ca.crt");
    let cert = pki_dir.join("etcd/healthcheck-client.crt");
    let key = pki_dir.join("etcd/healthcheck-client.key");
    let files = EtcdTls {
        ca: &ca,
        cert: &cert,
        key: &key,
    };
    let probes = profile.config.nodes.iter().map(|node| {
        let api = api.clone();
        let files = files.clone();
        async move {
            let running = driver::running_pid(profile, &node.name).is_some();
            let ip = node.ip.into();
            let (kubelet, apiserver, etcd) = if running {
                let apiserver = async {
                    match (&api, node.control_plane) {
                        (Some(api), true) => api.ready(ip).await,
                        _ => false,
                    }
                };
                let etcd = async {
                    if node.control_plane && profile.config.stacked() {
                        let url = format!("https://{}:{}", node.ip, ports::ETCD_CLIENT);
                        member_healthy(&url, Some(&files), Duration::from_secs(2)).await
                    } else {
                        false
                    }
                };
                tokio::join!(health::kubelet_healthy(ip), apiserver, etcd)
            } else {
                (false, false, false)
            };
            NodeHealth {
                name: node.name.clone(),
                control_plane: node.control_plane,
                running,
                kubelet,
                apiserver,
                etcd,
                joined: node.joined,
            }
        }
    });
    let nodes = futures::future::join_all(probes).await;
    let members = if profile.config.stacked() {
        member_count(profile, &nodes, &files).await
    } else {
        None
    };
    let status = profile_status(profile.config.ha, profile.config.stacked(), &nodes, members);
    let kubeconfig_configured = kubeconfig::path()
        .ok()
        .and_then(|p| kubeconfig::read(&p).ok())
        .and_then(|text| kubeconfig::context_server(&text, &profile.config.name))
        .is_some_and(|server| server == profile.config.server());
    Observed {
        nodes,
        status,
        kubeconfig_configured,
    }
}

/// The store's voting members, asked of a healthy member.
async fn member_count(
    profile: &Profile,
    nodes: &[NodeHealth],
    files: &EtcdTls<'_>,
) -> Option<usize> {
    let urls: Vec<String> = profile
        .config
        .control_plane()
        .filter(|n| nodes.iter().any(|h| h.name == n.name && h.etcd))
        .map(|n| format!("https://{}:{}", n.ip, ports::ETCD_CLIENT))
        .collect();
    if urls.is_empty() {
        return None;
    }
    let etcd = Etcd::connect(&urls, Some(files)).ok()?;
    let members = tokio::time::timeout(Duration::from_secs(3), etcd.members())
        .await
        .ok()?
        .ok()?;
    Some(members.iter().filter(|m| !m.is_learner).count())
}
