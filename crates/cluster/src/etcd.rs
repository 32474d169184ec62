//! The lifecycle's etcd v3 client: membership changes (learner add, promote, remove) and
//! member health, over the same gRPC API etcdctl uses, with the etcd CA's client certificate.

use std::path::Path;
use std::time::Duration;

use etcd_api::etcdserverpb::cluster_client::ClusterClient;
use etcd_api::etcdserverpb::maintenance_client::MaintenanceClient;
use etcd_api::etcdserverpb::{
    Member, MemberAddRequest, MemberListRequest, MemberPromoteRequest, MemberRemoveRequest,
    StatusRequest,
};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::error::{Error, Result};

/// Client TLS files for the store (the etcd CA and a client certificate it signed).
#[derive(Debug, Clone)]
pub struct EtcdTls<'a> {
    pub ca: &'a Path,
    pub cert: &'a Path,
    pub key: &'a Path,
}

fn tls(files: &EtcdTls<'_>) -> Result<ClientTlsConfig> {
    let read = |p: &Path| std::fs::read(p).map_err(Error::io(p));
    Ok(ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read(files.ca)?))
        .identity(Identity::from_pem(read(files.cert)?, read(files.key)?)))
}

fn endpoint(url: &str, files: Option<&EtcdTls<'_>>, timeout: Duration) -> Result<Endpoint> {
    let mut endpoint = Endpoint::from_shared(url.to_string())
        .map_err(|e| Error::Etcd(format!("{url} is not a URL: {e}")))?
        .connect_timeout(timeout)
        .timeout(timeout);
    if let (true, Some(files)) = (url.starts_with("https://"), files) {
        endpoint = endpoint
            .tls_config(tls(files)?)
            .map_err(|e| Error::Etcd(format!("TLS for {url}: {e}")))?;
    }
    Ok(endpoint)
}

/// A client of one store cluster, through any of its members.
#[derive(Debug, Clone)]
pub struct Etcd {
    channel: Channel,
}

impl Etcd {
    /// Connects lazily to `urls` (a call fails over to another member when one is down).
    pub fn connect(urls: &[String], files: Option<&EtcdTls<'_>>) -> Result<Etcd> {
        let endpoints = urls
            .iter()
            .map(|u| endpoint(u, files, Duration::from_secs(5)))
            .collect::<Result<Vec<_>>>()?;
        if endpoints.is_empty() {
            return Err(Error::Etcd("no store endpoint to reach".into()));
        }
        Ok(Etcd {
            channel: Channel::balance_list(endpoints.into_iter()),
        })
    }

    fn cluster(&self) -> ClusterClient<Channel> {
        ClusterClient::new(self.channel.clone())
    }

    /// Every member.
    pub async fn members(&self) -> Result<Vec<Member>> {
        let reply = self
            .cluster()
            .member_list(MemberListRequest { linearizable: true })
            .await
            .map_err(status)?;
        Ok(reply.into_inner().members)
    }

    /// Adds a learner with `peer_url`; returns its ID and every member, itself included.
    pub async fn add_learner(&self, peer_url: &str) -> Result<(u64, Vec<Member>)> {
        let reply = self
            .cluster()
            .member_add(MemberAddRequest {
                peer_ur_ls: vec![peer_url.to_string()],
                is_learner: true,
            })
            .await
            .map_err(status)?
            .into_inner();
        let id = reply.member.map(|m| m.id).unwrap_or_default();
        Ok((id, reply.members))
    }

    /// Promotes learner `id` to a voter. The store refuses while the learner lags behind.
    pub async fn promote(&self, id: u64) -> Result<()> {
        self.cluster()
            .member_promote(MemberPromoteRequest { id })
            .await
            .map_err(status)?;
        Ok(())
    }

    /// Removes member `id`.
    pub async fn remove(&self, id: u64) -> Result<()> {
        self.cluster()
            .member_remove(MemberRemoveRequest { id })
            .await
            .map_err(status)?;
        Ok(())
    }
}

/// Whether the member at `url` answers a status call within `timeout` and knows a leader.
pub async fn member_healthy(url: &str, files: Option<&EtcdTls<'_>>, timeout: Duration) -> bool {
    let Ok(endpoint) = endpoint(url, files, timeout) else {
        return false;
    };
    let Ok(channel) = endpoint.connect().await else {
        return false;
    };
    match MaintenanceClient::new(channel)
        .status(StatusRequest {})
        .await
    {
        Ok(reply) => reply.into_inner().leader != 0,
        Err(_) => false,
    }
}

fn status(s: tonic::Status) -> Error {
    Error::Etcd(s.message().to_string())
}
