//! The API server's connection to its store: etcd v3 gRPC clients over one balanced channel to
//! every `--etcd-servers` endpoint, with the store's client certificate when it has TLS.

use std::path::PathBuf;
use std::time::Duration;

use etcd_api::etcdserverpb::kv_client::KvClient;
use etcd_api::etcdserverpb::lease_client::LeaseClient;
use etcd_api::etcdserverpb::maintenance_client::MaintenanceClient;
use etcd_api::etcdserverpb::watch_client::WatchClient;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::error::{Error, Result};

/// How long one etcd call may take before the API server gives up on it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// `--etcd-servers` and the `--etcd-*file` flags.
#[derive(Debug, Clone, Default)]
pub struct EtcdConfig {
    pub servers: Vec<String>,
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
}

/// Clients of one etcd cluster. Cloning is cheap: all share one channel.
#[derive(Debug, Clone)]
pub struct Etcd {
    pub kv: KvClient<Channel>,
    pub watch: WatchClient<Channel>,
    pub maintenance: MaintenanceClient<Channel>,
    /// Leases keep this API server's `/registry/masterleases/<ip>` key alive.
    pub lease: LeaseClient<Channel>,
}

impl Etcd {
    /// Builds the clients. Connections are made lazily, so a store that is still starting is
    /// not an error here; calls fail until an endpoint answers.
    pub fn connect(config: &EtcdConfig) -> Result<Self> {
        if config.servers.is_empty() {
            return Err(Error::Config(
                "--etcd-servers must name at least one etcd endpoint".into(),
            ));
        }
        let tls = tls_config(config)?;
        let mut endpoints = Vec::new();
        for server in &config.servers {
            let uri = if server.contains("://") {
                server.clone()
            } else if tls.is_some() {
                format!("https://{server}")
            } else {
                format!("http://{server}")
            };
            let mut endpoint = Endpoint::from_shared(uri.clone())
                .map_err(|e| Error::Config(format!("--etcd-servers: {server} is not a URL: {e}")))?
                .connect_timeout(CONNECT_TIMEOUT)
                .timeout(REQUEST_TIMEOUT)
                .tcp_nodelay(true)
                .http2_keep_alive_interval(Duration::from_secs(10))
                .keep_alive_while_idle(true);
            if uri.starts_with("https://") {
                let tls = tls.clone().ok_or_else(|| {
                    Error::Config(format!(
                        "{server} is an https endpoint: --etcd-cafile is needed to trust it"
                    ))
                })?;
                endpoint = endpoint
                    .tls_config(tls)
                    .map_err(|e| Error::Config(format!("TLS for {server}: {e}")))?;
            }
            endpoints.push(endpoint);
        }
        let channel = Channel::balance_list(endpoints.into_iter());
        Ok(Etcd {
            kv: KvClient::new(channel.clone()).max_decoding_message_size(usize::MAX),
            watch: WatchClient::new(channel.clone()).max_decoding_message_size(usize::MAX),
            maintenance: MaintenanceClient::new(channel.clone()),
            lease: LeaseClient::new(channel),
        })
    }
}

fn tls_config(config: &EtcdConfig) -> Result<Option<ClientTlsConfig>> {
    let Some(ca) = &config.ca_file else {
        if config.cert_file.is_some() || config.key_file.is_some() {
            return Err(Error::Config(
                "--etcd-certfile and --etcd-keyfile need --etcd-cafile".into(),
            ));
        }
        return Ok(None);
    };
    let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read(ca)?));
    match (&config.cert_file, &config.key_file) {
        (Some(cert), Some(key)) => tls = tls.identity(Identity::from_pem(read(cert)?, read(key)?)),
        (None, None) => {}
        _ => {
            return Err(Error::Config(
                "--etcd-certfile and --etcd-keyfile go together".into(),
            ));
        }
    }
    Ok(Some(tls))
}

fn read(path: &PathBuf) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Read {
        path: path.clone(),
        source,
    })
}
